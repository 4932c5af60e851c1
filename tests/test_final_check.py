"""The final report of a search that trains networks re-checks its result: the best distinct architectures are
trained again on several seeds, shown with mean and spread, and the one with the best mean validation accuracy
is reported; test accuracy never chooses."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import run_cli

FAST = ["evolve", "--genome", "amoeba", "--preset", "smoke", "--train-images", "64", "--cycles", "6", "--workers", "1", "-q"]


def test_the_top_architectures_are_retrained_and_chosen_by_validation(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run_cli(*FAST, "--final-check", "2x2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "final check: the 2 best architectures" in result.stdout and "chosen by validation, never by test" in result.stdout
    best = json.loads((out / "best.json").read_text())
    check = best["final_check"]
    assert len(check) == 2 and all(len(r["validation"]) == 2 and len(r["test"]) == 2 for r in check)
    means = [sum(r["validation"]) / 2 for r in check]
    assert means == sorted(means, reverse=True) and best["id"] == check[0]["id"]


def test_smoke_keeps_the_single_report_and_a_bad_flag_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert run_cli(*FAST, "--out", str(out)).returncode == 0
    assert "final_check" not in json.loads((out / "best.json").read_text())
    result = run_cli(*FAST, "--final-check", "3by3", "--out", str(tmp_path / "bad"))
    assert result.returncode != 0 and "--final-check takes TOPxSEEDS" in result.stderr and not (tmp_path / "bad").exists()
