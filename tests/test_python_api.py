"""The Python API: every example of docs/python-api.md runs as written, and the API's errors are one line."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import evonas
from evonas.errors import UserError

DOC = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"


def snippets(path: Path) -> list[str]:
    """The ```python blocks of a page, in order."""
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


@pytest.mark.parametrize("index", range(len(snippets(DOC))))
def test_each_documented_example_runs_as_written(tmp_path: Path, index: int) -> None:
    script = tmp_path / "example.py"
    script.write_text(snippets(DOC)[index])
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for line in snippets(DOC)[index].splitlines():  # what a comment says a print shows, it shows
        printed = re.match(r"print\(.*\)\s+# (.+)$", line.strip())
        if printed and not printed.group(1).startswith(("the ", "a ", "its ")) and ":" not in printed.group(1):
            assert printed.group(1).split(" (")[0] in result.stdout, (line, result.stdout)


def test_the_api_is_loaded_lazily_and_lists_its_functions() -> None:
    code = "import sys, evonas; assert 'evonas.api' not in sys.modules; evonas.open_run; assert 'evonas.api' in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
    assert {"evolve", "resume", "open_run", "write_report"} <= set(evonas.__all__)
    importlib.import_module("evonas.export")  # the submodules must not shadow the API (they once could)
    importlib.import_module("evonas.report")

    assert callable(evonas.write_report) and callable(evonas.open_run)


def test_errors_are_user_errors_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown genome 'nope'"):
        evonas.evolve(genome="nope", out=tmp_path / "a")
    with pytest.raises(UserError, match="not a run folder|no config|does not exist|not found"):
        evonas.open_run(tmp_path / "missing")
    with pytest.raises(UserError, match="must be a name"):
        evonas.evolve(genome="bitstring", task=42, out=tmp_path / "b")  # type: ignore[arg-type]


def test_a_task_class_defined_in_a_function_is_refused(tmp_path: Path) -> None:
    from evonas.tasks import Task

    class Local(Task):
        name = "local"

        def evaluate(self, genome, seed):  # type: ignore[no-untyped-def]
            return 0.0, {}

    with pytest.raises(UserError, match="defined inside a function"):
        evonas.evolve(genome="bitstring", task=Local(), out=tmp_path / "c")


def test_api_and_command_line_give_the_same_lineage(tmp_path: Path) -> None:
    from cli_helpers import run_cli

    api = evonas.evolve(genome="bitstring", cycles=300, batch=4, seed=7, out=tmp_path / "api")
    assert run_cli("evolve", "--genome", "bitstring", "--cycles", "300", "--batch", "4", "--seed", "7", "-q", "--workers", "1",
                   "--out", str(tmp_path / "cli")).returncode == 0
    cli = evonas.open_run(tmp_path / "cli")
    columns = ["id", "parent_id", "genome", "fitness", "mutation"]
    assert api.lineage.select(columns).equals(cli.lineage.select(columns))
    assert api.final_report == cli.final_report
