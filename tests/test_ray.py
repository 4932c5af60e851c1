"""The Ray executor on a local Ray instance: same lineage as in-process, faults logged, resume across executors."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from cli_helpers import run_cli
from test_faults import BITS, kill_driver, rows, start, start_running, wait_for_pid

SAME = ["id", "parent_id", "birth", "mutation", "genome", "fitness", "status", "metrics"]


def test_ray_gives_the_in_process_lineage_and_resumes_a_killed_pool_run(tmp_path: Path) -> None:
    """Reproducible mode: in-process, pool and Ray runs of one seed log the same lineage, and a pool run killed
    mid-way resumes under Ray to that same lineage."""
    args = [*BITS, "--cycles", "200", "--batch", "4", "--seed", "2", "-o", "sleep=0.05", "--checkpoint-every", "4"]
    reference, on_ray, switched = tmp_path / "local", tmp_path / "ray", tmp_path / "switched"
    assert run_cli("evolve", *args, "--workers", "1", "--out", str(reference)).returncode == 0
    result = run_cli("evolve", *args, "--workers", "2", "--executor", "ray", "--out", str(on_ray))
    assert result.returncode == 0, result.stderr
    assert rows(on_ray, SAME) == rows(reference, SAME)
    kill_driver(start_running(["evolve", *args, "--workers", "2", "--executor", "pool", "--out", str(switched)], switched, 3.0))
    result = run_cli("resume", str(switched), "-q", "--workers", "2", "--executor", "ray")
    assert result.returncode == 0, result.stderr
    assert rows(switched, SAME) == rows(reference, SAME)
    workers = {r["worker"] for r in rows(switched, ["id", "worker"])}
    assert any(w.startswith("pool-") for w in workers) and any(w.startswith("ray-") for w in workers)


def test_a_ray_worker_killed_mid_evaluation_is_logged_and_the_run_goes_on(tmp_path: Path) -> None:
    """--retries 0: the killed Ray worker's candidate is a failed row; the others score."""
    markers = tmp_path / "pids"
    markers.mkdir()
    out = tmp_path / "killed-worker"
    proc = start(["evolve", *BITS, "--cycles", "6", "--batch", "2", "--workers", "2", "--executor", "ray", "--retries", "0",
                  "-o", "sleep=1.0", "-o", f"pid_dir={markers}", "--out", str(out)])
    os.kill(wait_for_pid(markers, timeout=120), signal.SIGKILL)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    table = rows(out)
    assert [r["id"] for r in table] == list(range(6))
    failed = [r for r in table if r["status"] != "ok"]
    assert len(failed) == 1 and "worker process died" in failed[0]["error"]


def test_ray_cuts_hanging_evaluations_and_retries_dead_workers_a_bounded_number_of_times(tmp_path: Path) -> None:
    """Hangs end at --eval-timeout as 'timeout' rows; a worker that dies on every attempt fails after 1 + 1 tries
    (seed 2 meets two hangs and two deaths in its 12 evaluations)."""
    out = tmp_path / "faults"
    result = run_cli("evolve", *BITS, "--cycles", "12", "--batch", "4", "--workers", "2", "--executor", "ray", "--retries", "1",
                     "--eval-timeout", "2", "-o", "hang_rate=0.2", "-o", "die_rate=0.2", "--seed", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    table = rows(out)
    assert [r["id"] for r in table] == list(range(12))
    assert any(r["status"] == "timeout" and "--eval-timeout 2 s" in r["error"] for r in table)
    died = [r for r in table if "worker process died" in (r["error"] or "")]
    assert died and all(dict(r["metrics"])["attempts"] == 2.0 for r in died)
