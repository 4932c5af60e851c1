"""A plug-in task's faults stay in their row: sys.exit or a KeyboardInterrupt raised in evaluate, a string or boolean
fitness, metrics that are
not a mapping of names to numbers all become failed rows with the reason, in this process and in workers alike,
and the run goes on to its budget."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_cli

from evonas.store import read_lineage

PLUGIN = '''
import sys
from evonas.tasks import Task


class Misbehaving(Task):
    """Each genome does something wrong, by its count of ones modulo 7."""

    genome_kinds = ("bitstring",)

    def evaluate(self, genome, seed):
        case = genome.ones() % 7
        if case == 6:
            raise KeyboardInterrupt("raised by the task, not the user's Ctrl-C")
        if case == 0:
            sys.exit(0)
        if case == 1:
            return "0.5", {}
        if case == 2:
            return True, {}
        if case == 3:
            return 0.5, [1, 2]
        if case == 4:
            return 0.5, {1: 2.0}
        return 0.5, {"size": 3, "flag": True}
'''

REASONS = {0: "SystemExit: 0", 1: "fitness must be a real number, got str '0.5'", 2: "fitness must be a real number, got bool 'True'",
           3: "metrics must be a mapping of names to numbers, got list", 4: "metric names must be strings, got int 1",
           6: "KeyboardInterrupt: raised by the task"}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_faults_become_failed_rows_with_their_reason(tmp_path: Path, workers: str) -> None:
    (tmp_path / "misbehaving.py").write_text(PLUGIN)
    run = tmp_path / "run"
    result = run_cli("evolve", "--genome", "bitstring", "--task", "misbehaving:Misbehaving", "--preset", "smoke", "--cycles", "60",
                     "--batch", "4", "--workers", workers, "--out", str(run), "-q", env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    rows = read_lineage(run / "lineage")[0].to_pylist()
    assert len(rows) == 60
    seen = set()
    for row in rows:
        ones = row["genome"] and __import__("json").loads(row["genome"])["bits"].count("1")
        if ones is None:
            continue
        case = ones % 7
        seen.add(case)
        if case == 5:
            assert row["status"] == "ok" and dict(row["metrics"]) == {"size": 3.0, "flag": 1.0}
        else:
            assert row["status"] == "failed" and row["fitness"] is None and row["error"].startswith(REASONS[case]), row["error"]
    assert len(seen) >= 4  # the bit strings spread over the cases
