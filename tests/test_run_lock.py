"""One writer per run folder: a second evolve or resume of a folder another process writes is refused in one
line naming that process, the first goes on to the uninterrupted lineage, and a folder stopped before its first
checkpoint is started again rather than left a dead end."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from cli_helpers import EVONAS, run_cli
from test_contracts import lineage

from evonas.config import RunOptions
from evonas.run_folder import create_folder

ARGS = ["--genome", "bitstring", "--preset", "cpu", "--cycles", "60000", "--checkpoint-every", "1000", "--seed", "2", "--workers", "1", "-q"]


def start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    return subprocess.Popen([*EVONAS, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for_parts(folder: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not any((folder / "lineage").glob("part-*.arrow")):
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before the test could reach it; lengthen it"


def test_a_second_writer_is_refused_and_the_first_finishes_as_if_alone(tmp_path: Path) -> None:
    reference, shared = tmp_path / "reference", tmp_path / "shared"
    assert run_cli("evolve", *ARGS, "--out", str(reference)).returncode == 0
    first = start("evolve", *ARGS, "--out", str(shared))
    wait_for_parts(shared, first)
    second = run_cli("resume", str(shared), "-q")
    third = run_cli("evolve", *ARGS, "--out", str(shared))
    assert first.wait(timeout=300) == 0, first.stderr.read() if first.stderr else ""
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and f"is being written by process {first.pid} (evonas evolve" in lines[0], second.stderr
    assert third.returncode == 1 and len(third.stderr.strip().splitlines()) == 1
    assert lineage(shared) == lineage(reference)


def test_two_resumes_at_once_give_one_refusal_and_the_uninterrupted_lineage(tmp_path: Path) -> None:
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    assert run_cli("evolve", *ARGS, "--out", str(reference)).returncode == 0
    victim = start("evolve", *ARGS, "--out", str(killed))
    wait_for_parts(killed, victim)
    victim.kill()
    victim.wait()
    a = start("resume", str(killed), "-q")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and f"process {a.pid}" not in (killed / ".lock").read_text():
        time.sleep(0.02)
    b = run_cli("resume", str(killed), "-q")
    assert a.wait(timeout=300) == 0
    assert b.returncode == 1 and f"is being written by process {a.pid}" in b.stderr
    assert lineage(killed) == lineage(reference)


def test_a_folder_stopped_before_its_first_checkpoint_is_started_again(tmp_path: Path) -> None:
    args = ["--genome", "bitstring", "--preset", "smoke", "--seed", "4", "-q"]
    assert run_cli("evolve", *args, "--out", str(tmp_path / "reference")).returncode == 0
    config = RunOptions(genome="bitstring", preset="smoke", seed=4).resolve()
    create_folder(tmp_path / "stopped", config)  # what a kill between config.json and the first checkpoint leaves
    result = run_cli("resume", str(tmp_path / "stopped"), "-q")
    assert result.returncode == 0, result.stderr
    assert "never reached its first checkpoint (nothing was evaluated); starting it from the beginning" in result.stderr
    assert lineage(tmp_path / "stopped") == lineage(tmp_path / "reference")


def test_a_temp_file_a_killed_writer_left_is_invisible_and_swept_on_resume(tmp_path: Path) -> None:
    import shutil

    import pyarrow.dataset as ds

    run = tmp_path / "run"
    assert run_cli("evolve", "--genome", "bitstring", "--preset", "smoke", "--out", str(run), "-q").returncode == 0
    before = lineage(run)
    stray = run / "lineage" / ".part-000009.arrow.4242.tmp"  # a part written in full, never renamed into place
    shutil.copy(run / "lineage" / "part-000001.arrow", stray)
    assert ds.dataset(run / "lineage", format="arrow").count_rows() == len(before)  # readers skip it
    assert run_cli("resume", str(run), "--cycles", "150", "-q").returncode == 0
    assert not stray.exists()
    assert len(lineage(run)) == 150


def test_a_run_folder_never_runs_the_code_it_names(tmp_path: Path) -> None:
    """A config.json edited to name subprocess:run as its task: resume, lineage, report and export refuse in one line
    and run nothing; --trust-task is the user's explicit consent."""
    import json

    run = tmp_path / "run"
    assert run_cli("evolve", "--genome", "bitstring", "--preset", "smoke", "--out", str(run), "-q").returncode == 0
    marker = tmp_path / "ran"
    config = json.loads((run / "config.json").read_text())
    config.update({"task": "subprocess:run", "task_options": {"args": ["touch", str(marker)]}})
    (run / "config.json").write_text(json.dumps(config))
    for args in (["resume", str(run)], ["lineage", str(run)], ["report", str(run)], ["export", str(run)], ["lineage", str(run), "--genome", "3"]):
        result = run_cli(*args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1, (args, result.stderr)
        assert "names the plug-in 'subprocess:run', and loading it would run its code" in lines[0]
        assert not marker.exists()
