"""A user task written as docs/tasks.md says, in a folder outside the repo, runs with every genome kind it declares."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_helpers import run_cli

DOC = Path(__file__).resolve().parents[1] / "docs" / "tasks.md"


def readme_example() -> tuple[str, list[list[str]]]:
    """The example task file and the commands that run it, exactly as docs/tasks.md prints them."""
    section = DOC.read_text()
    source = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    commands = re.search(r"```bash\n(.*?)```", section, re.S).group(1).strip().splitlines()
    return source, [line.split()[2:] for line in commands]  # drop "PYTHONPATH=. evonas"


@pytest.mark.parametrize("index", [0, 1])
def test_readme_task_runs_with_each_genome_kind_it_declares(tmp_path: Path, index: int) -> None:
    source, commands = readme_example()
    folder = tmp_path / "user-code"
    folder.mkdir()
    (folder / "boolean_tasks.py").write_text(source)
    args = commands[index]
    assert args[0] == "evolve"
    out = tmp_path / "run"
    result = run_cli(*args, "--seed", "1", "-q", "--out", str(out), cwd=folder, env={"PYTHONPATH": str(folder)})
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "boolean_tasks:BooleanFunction"
    assert config["genome"] == args[args.index("--genome") + 1]
    best = json.loads((out / "best.json").read_text())
    assert best["report"]["solved"] == 1.0  # every pattern within 0.5 of its target


def test_a_task_for_other_genome_kinds_is_refused(tmp_path: Path) -> None:
    source, _ = readme_example()
    (tmp_path / "boolean_tasks.py").write_text(source)
    result = run_cli("evolve", "--genome", "amoeba", "--task", "boolean_tasks:BooleanFunction", "-q", "--out", str(tmp_path / "r"),
                     cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode != 0 and "scores neat, bitstring genomes, not 'amoeba'" in result.stderr
