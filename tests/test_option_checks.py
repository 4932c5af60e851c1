"""Every option is checked before a run folder is made, and a bad one is one line naming it (the hardening
issue's list of nonsense once accepted silently, or answered with a traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli

BITS = ["evolve", "--genome", "bitstring", "-q", "--workers", "1"]

BAD_EVOLVE = [
    (["--out", ""], "--out is empty"),
    (["--max-seconds", "-5"], "--max-seconds must be a positive number"),
    (["--max-seconds", "nan"], "--max-seconds must be a positive number"),
    (["-o", "aging=maybe"], "-o aging (the aging strategy) must be true or false"),
    (["-o", "replace=bogus"], "-o replace (the aging strategy) must be true or false"),
    (["-o", "noise=abc"], "-o noise (task onemax) must be a finite number"),
    (["-o", "noise=-1"], "noise is a standard deviation"),
    (["-o", "fail_rate=2"], "must lie in [0, 1]"),
    (["-o", "nosuchkey=1"], "has no option 'nosuchkey'; its options are noise"),
    (["--task", ":"], "is not package.module:factory"),
    (["--strategy", "x:"], "is not package.module:Class"),
    (["--eval-timeout", "inf"], "--eval-timeout must be a positive number"),
    (["--data-dir", "/nonexistent-folder"], "--data-dir /nonexistent-folder does not exist"),
    (["--population", "0"], "--population must be a positive integer"),
    (["--population", "10000000000"], "--population 10000000000 would need at least"),
]


@pytest.mark.parametrize("args, fragment", BAD_EVOLVE, ids=[" ".join(a) for a, _ in BAD_EVOLVE])
def test_bad_evolve_options_are_one_line_and_make_no_folder(tmp_path: Path, args: list[str], fragment: str) -> None:
    out = tmp_path / "run"
    command = [*BITS, *args] if "--out" in args else [*BITS, "--out", str(out), *args]
    result = run_cli(*command, cwd=tmp_path)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0 and len(lines) == 1 and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr and not out.exists() and not list(tmp_path.iterdir())


def test_booleans_are_read_from_the_usual_words(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert run_cli(*BITS, "--cycles", "120", "-o", "aging=no", "-o", "replace=1", "--out", str(out)).returncode == 0
    options = json.loads((out / "config.json").read_text())["strategy_options"]
    assert options["aging"] is False and options["replace"] is True


PLUGINS = {
    "raises_on_import.py": "raise RuntimeError('broken at import')\n",
    "bad_syntax.py": "def (:\n",
    "bad_constructor.py": "from evonas.tasks import Task\nclass T(Task):\n    def __init__(self):\n        raise ValueError('no data')\n"
                          "    def evaluate(self, genome, seed):\n        return 0.0, {}\n",
}


@pytest.mark.parametrize("task, fragment", [("raises_on_import:T", "RuntimeError: broken at import"),
                                            ("bad_syntax:T", "SyntaxError"), ("bad_constructor:T", "ValueError: no data")])
def test_a_plug_in_that_fails_to_load_is_one_line(tmp_path: Path, task: str, fragment: str) -> None:
    for name, text in PLUGINS.items():
        (tmp_path / name).write_text(text)
    result = run_cli(*BITS, "--task", task, "--out", str(tmp_path / "run"), cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0 and len(lines) == 1 and fragment in lines[0], result.stderr
    assert not (tmp_path / "run").exists()


def test_other_commands_check_their_numbers(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert run_cli(*BITS, "--cycles", "100", "--out", str(run)).returncode == 0
    for args, fragment in ((["lineage", str(run), "--top", "0"], "--top"), (["export", str(run), "--train", "--epochs", "-2"], "--epochs"),
                           (["bench", "amoeba", "--workers", "-1"], "--workers must be a positive integer"),
                           (["bench", "scheduling", "--workers", "0"], "--workers must be a positive integer"),
                           (["report", str(run), "--out", ""], "--out is empty")):
        result = run_cli(*args)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode != 0 and len(lines) == 1 and fragment in lines[0], (args, result.stderr)


def test_an_edited_config_with_a_wrong_type_is_refused_and_nothing_is_rewritten(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert run_cli(*BITS, "--cycles", "100", "--out", str(run)).returncode == 0
    config = json.loads((run / "config.json").read_text())
    config["cycles"] = "many"
    (run / "config.json").write_text(json.dumps(config))
    before = (run / "checkpoint.arrow").read_bytes()
    for args in (["resume", str(run)], ["resume", str(run), "--cycles", "200"], ["lineage", str(run)], ["report", str(run)]):
        result = run_cli(*args)
        assert result.returncode != 0 and "cycles must be a positive integer, got 'many'" in result.stderr, result.stderr
    assert (run / "checkpoint.arrow").read_bytes() == before


def test_an_os_error_is_one_line_naming_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli(*BITS, "--out", str(blocker / "run"))
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0 and len(lines) == 1 and "Not a directory" in lines[0] and str(blocker) in lines[0], result.stderr
