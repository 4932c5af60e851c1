"""Evaluation faults never stop a run; asynchronous mode; Ctrl-C; killing the driver and resuming elsewhere."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
from cli_helpers import EVONAS, run_cli

from evonas.core import Candidate
from evonas.executors import PoolExecutor
from evonas.genomes.bitstring import BitGenome
from evonas.run import Run

LOGGED = ["id", "parent_id", "birth", "mutation", "genome", "fitness", "status", "error", "metrics"]
BITS = ["--genome", "bitstring", "--task", "onemax", "--population", "10", "--sample", "3", "-q"]
FAULTS = ["-o", "fail_rate=0.05", "-o", "nan_rate=0.05", "-o", "hang_rate=0.05", "-o", "die_rate=0.05"]


def rows(run_dir: Path, columns: list[str] = LOGGED) -> list[dict]:
    return ds.dataset(run_dir / "lineage", format="arrow").to_table(columns=columns).sort_by("id").to_pylist()


def _default_sigint() -> None:
    # A child inherits an ignored SIGINT (pytest started with nohup or in the background), and Python then keeps
    # ignoring it: the Ctrl-C tests need the handler a terminal's process has.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    return subprocess.Popen([*EVONAS, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_default_sigint)


def start_running(args: list[str], out: Path, settle: float) -> subprocess.Popen:
    """Start ``evonas ARGS`` and return once its run folder exists and it has run ``settle`` seconds more."""
    proc = start(args)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out / "lineage").exists():
        time.sleep(0.05)
    time.sleep(settle)
    assert proc.poll() is None, "the run finished before it could be interrupted; lengthen it"
    return proc


def kill_driver(proc: subprocess.Popen) -> None:
    """SIGKILL a run and its workers (its whole process group)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def wait_for_pid(folder: Path, timeout: float = 60.0) -> int:
    """The pid of a process that is running an evaluation right now (it left a marker file)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for marker in folder.iterdir():
            return int(marker.name)
        time.sleep(0.01)
    raise AssertionError("no evaluation started")


def test_every_kind_of_fault_is_logged_and_the_run_goes_on(tmp_path: Path) -> None:
    """Exceptions, NaN, hangs (cut at --eval-timeout) and workers that kill themselves (retried once, then failed)."""
    out = tmp_path / "faults"
    result = run_cli("evolve", *BITS, *FAULTS, "--cycles", "60", "--batch", "4", "--workers", "2", "--eval-timeout", "1.5", "--out", str(out))
    assert result.returncode == 0, result.stderr
    table = rows(out)
    assert [r["id"] for r in table] == list(range(60))
    errors = [r["error"] or "" for r in table]
    assert any("injected fault" in e for e in errors)
    assert any("fitness is nan" in e for e in errors)
    timeouts = [r for r in table if r["status"] == "timeout"]
    assert timeouts and all("--eval-timeout 1.5 s" in r["error"] and r["fitness"] is None for r in timeouts)
    died = [r for r in table if "worker process died" in (r["error"] or "")]
    assert died and all("SIGKILL" in r["error"] and dict(r["metrics"])["attempts"] == 2.0 for r in died)
    assert all(r["fitness"] is not None for r in table if r["status"] == "ok")
    assert "failed: " in result.stdout


def test_faults_are_a_function_of_the_seed_not_of_the_worker_count(tmp_path: Path) -> None:
    """Reproducible mode: one pool worker or two, the same lineage, faults included."""
    args = [*BITS, *FAULTS, "--cycles", "40", "--batch", "4", "--eval-timeout", "1", "--seed", "4"]
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_cli("evolve", *args, "--workers", "1", "--out", str(one)).returncode == 0
    assert run_cli("evolve", *args, "--workers", "2", "--out", str(two)).returncode == 0
    assert rows(one) == rows(two)
    assert any(r["status"] != "ok" for r in rows(one))


def run_with_a_killed_worker(tmp_path: Path, retries: str) -> list[dict]:
    markers = tmp_path / f"pids-{retries}"
    markers.mkdir()
    out = tmp_path / f"run-{retries}"
    proc = start(["evolve", *BITS, "--cycles", "8", "--batch", "2", "--workers", "2", "--retries", retries,
                  "-o", "sleep=0.6", "-o", f"pid_dir={markers}", "--out", str(out)])
    os.kill(wait_for_pid(markers), signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    table = rows(out)
    assert [r["id"] for r in table] == list(range(8))
    return table


def test_a_pool_worker_killed_mid_evaluation_fails_only_its_own_candidate(tmp_path: Path) -> None:
    """With --retries 0 the killed evaluation is a logged failure and every other candidate scores normally."""
    table = run_with_a_killed_worker(tmp_path, "0")
    failed = [r for r in table if r["status"] != "ok"]
    assert len(failed) == 1 and "killed by SIGKILL" in failed[0]["error"]
    assert all(r["fitness"] is not None for r in table if r is not failed[0])


def test_a_pool_worker_killed_mid_evaluation_is_retried(tmp_path: Path) -> None:
    """With a retry left the candidate runs again in a fresh worker and scores; the lineage notes two attempts."""
    table = run_with_a_killed_worker(tmp_path, "1")
    assert all(r["status"] == "ok" for r in table)
    assert sum(dict(r["metrics"]).get("attempts") == 2.0 for r in table) == 1


def test_a_hanging_evaluation_is_cut_at_the_timeout_while_others_finish() -> None:
    """The pool kills the hung worker at --eval-timeout and keeps the other worker's result."""
    pool = PoolExecutor("onemax", {"hang_rate": 0.5}, 0, workers=2, eval_timeout=1.0)
    genome = BitGenome.from_dict({"kind": "bitstring", "bits": "10" * 50})
    candidates = [Candidate(i, None, None, i, genome, None) for i in range(6)]
    try:
        started = time.perf_counter()
        results = pool.evaluate(candidates)
        seconds = time.perf_counter() - started
    finally:
        pool.close()
    statuses = [r.status for r in results]
    assert "timeout" in statuses and "ok" in statuses, statuses
    assert [r.id for r in results] == list(range(6))
    assert seconds < 60  # nothing waited for a hung evaluation to end by itself


def test_async_mode_tells_in_completion_order_and_survives_a_driver_kill(tmp_path: Path) -> None:
    """--async: every id evaluated once; SIGKILL the driver, resume in reproducible mode with one worker:
    in-flight candidates run again, rows newer than the checkpoint are set aside, nothing is told twice."""
    out = tmp_path / "async"
    args = ["evolve", *BITS, "--cycles", "400", "--workers", "2", "--async", "--checkpoint-every", "1",
            "-o", "sleep=0.01", "-o", "sleep_spread=10", "--out", str(out)]
    kill_driver(start_running(args, out, 3.0))
    run = Run.open(out)
    told_before = run.strategy.told
    run.close()  # an opened run holds the folder's writer lock until closed (or executed)
    assert 0 < told_before < 400
    result = run_cli("resume", str(out), "-q", "--workers", "1")
    assert result.returncode == 0, result.stderr
    table = rows(out, ["id", "status", "birth"])
    assert sorted(r["id"] for r in table) == list(range(400))
    finished = rows(out, ["id", "status"])
    assert all(r["status"] == "ok" for r in finished)
    order = ds.dataset(out / "lineage", format="arrow").to_table(columns=["id"]).column("id").to_pylist()
    assert order != sorted(order)  # told as they finished, not in id order


def test_ctrl_c_checkpoints_and_resume_gives_the_uninterrupted_lineage(tmp_path: Path) -> None:
    """First Ctrl-C: checkpoint, exit 130. A second one while stopping exits at once; no file is torn."""
    args = [*BITS, "--cycles", "300", "--batch", "2", "--workers", "2", "--seed", "9", "-o", "sleep=0.02"]
    reference = tmp_path / "reference"
    assert run_cli("evolve", *args, "--out", str(reference)).returncode == 0
    for presses in (1, 2):
        out = tmp_path / f"interrupted-{presses}"
        proc = start_running(["evolve", *args, "--out", str(out)], out, 2.0)
        for _ in range(presses):
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
            time.sleep(0.05)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode != 0
        if presses == 1:
            assert proc.returncode == 130 and "checkpoint written" in err
        Run.open(out).close()  # readable (closed: an opened run holds the writer lock)
        result = run_cli("resume", str(out), "-q", "--workers", "2")
        assert result.returncode == 0, result.stderr
        assert rows(out) == rows(reference)


def test_scheduling_flags_that_cannot_work_are_refused_with_one_line(tmp_path: Path) -> None:
    """Bad executor settings fail before any folder is made, naming the problem and the fix."""
    cases = [
        (["--genome", "automl-zero", "--async", "--lineage", "full"], "--async needs evaluations in worker processes"),
        (["--genome", "bitstring", "--async", "--lineage", "compact"], "--async needs full lineage"),
        (["--genome", "neat", "--eval-timeout", "5"], "--eval-timeout does not apply"),
        (["--genome", "neat", "--async"], "folds whole generations"),
        (["--genome", "bitstring", "--executor", "grid"], "unknown --executor"),
        (["--genome", "bitstring", "--address", "10.0.0.1:6379"], "--address is for --executor ray"),
        (["--genome", "bitstring", "--retries", "-1"], "--retries must be 0 or more"),
        (["--genome", "bitstring", "--eval-timeout", "0"], "--eval-timeout must be a positive"),
        (["--genome", "bitstring", "--cpus-per-eval", "0"], "--cpus-per-eval must be positive"),
    ]
    for i, (flags, fragment) in enumerate(cases):
        result = run_cli("evolve", *flags, "--cycles", "20", "-q", "--out", str(tmp_path / f"r{i}"))
        assert result.returncode != 0, flags
        assert not (tmp_path / f"r{i}").exists(), flags
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and fragment in lines[0], (flags, result.stderr)


def test_verbose_prints_each_failure_and_each_new_best_as_it_happens(tmp_path: Path) -> None:
    """-v: one line per failed evaluation (with its error) and per new best; -q with -v is refused."""
    result = run_cli("evolve", *[a for a in BITS if a != "-q"], "--cycles", "60", "--workers", "1", "-v", "-o", "fail_rate=0.1",
                     "--out", str(tmp_path / "v"))
    assert result.returncode == 0, result.stderr
    failures = [line for line in result.stderr.splitlines() if ": failed: RuntimeError: injected fault" in line]
    assert len(failures) == sum(r["status"] == "failed" for r in rows(tmp_path / "v")) > 0
    assert "id 0: new best" in result.stderr
    clash = run_cli("evolve", *BITS, "-v", "--out", str(tmp_path / "clash"))
    assert clash.returncode != 0 and "-v and -q" in clash.stderr and not (tmp_path / "clash").exists()


@pytest.mark.parametrize("where", ["ask", "evaluate", "tell", "flush"])
def test_a_stop_at_any_step_of_a_batch_resumes_to_the_uninterrupted_lineage(tmp_path: Path, where: str, default_sigint: None) -> None:
    """Ctrl-C inside ask (after its random draws), as the results come back, inside tell (held until the batch
    is logged) or between writing a lineage part and forgetting its rows (held until the checkpoint is whole):
    the checkpoint describes the state after a whole tell and no row is written twice, so resuming gives the
    same lineage."""
    from evonas.config import RunOptions
    from evonas.executors import InProcessExecutor

    def fresh_run(name: str) -> tuple[Run, InProcessExecutor]:
        config = RunOptions("bitstring", "onemax", "aging", 10, 3, 300, 2, 9, "cpu", None, None, None, None, 40, "cpu").resolve()
        return Run.create(tmp_path / name, config), InProcessExecutor(config.task, config.task_options, config.seed)

    reference, executor = fresh_run("reference")
    reference.execute(executor)
    run, executor = fresh_run("stopped")
    calls = {"n": 0}

    def stop_on_the_seventh(step: Any) -> Any:
        def wrapped(*args: Any) -> Any:
            out = step(*args)
            calls["n"] += 1
            if calls["n"] == 7:
                if where == "tell":
                    os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, arriving while the batch is being recorded
                else:
                    raise KeyboardInterrupt
            return out
        return wrapped

    if where == "evaluate":
        executor.evaluate = stop_on_the_seventh(executor.evaluate)  # type: ignore[method-assign]
    elif where == "flush":
        clear = run.buffer.clear

        def interrupted_clear() -> None:
            if calls["n"] == 0:
                calls["n"] = 1
                os.kill(os.getpid(), signal.SIGINT)  # lands before the rows are forgotten, unless held
            clear()

        run.buffer.clear = interrupted_clear  # type: ignore[method-assign]
    else:
        setattr(run.strategy, where, stop_on_the_seventh(getattr(run.strategy, where)))
    with pytest.raises(KeyboardInterrupt):
        run.execute(executor)
    assert 0 < run.strategy.told < 300
    resumed = Run.open(tmp_path / "stopped")
    resumed.execute(InProcessExecutor(resumed.config.task, resumed.config.task_options, resumed.config.seed))
    assert rows(tmp_path / "stopped") == rows(tmp_path / "reference")


def test_the_eval_timeout_counts_from_the_evaluation_not_the_workers_start_up(tmp_path: Path) -> None:
    """10 ms evaluations under a 0.2 s timeout all succeed, though starting a worker takes longer than that."""
    out = tmp_path / "run"
    result = run_cli("evolve", "--genome", "bitstring", "--preset", "smoke", "-o", "sleep=0.01", "--cycles", "40", "--batch", "4",
                     "--workers", "2", "--eval-timeout", "0.2", "-q", "--out", str(out))
    assert result.returncode == 0, result.stderr
    statuses = ds.dataset(out / "lineage", format="arrow").to_table().column("status").to_pylist()
    assert len(statuses) == 40 and set(statuses) == {"ok"}
