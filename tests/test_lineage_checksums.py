"""Checksummed lineage: every part is sealed, every reader verifies it, a damaged, duplicated or foreign part is
refused in one line, older folders read as unverified, and a full disk loses nothing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli

from evonas.lineage_seal import seal_path
from evonas.run_folder import read_run_lineage, verify_run
from evonas.store import lineage_parts, read_checkpoint

BITS = ["--genome", "bitstring", "--cycles", "1200", "--checkpoint-every", "300", "-q", "--workers", "1"]


@pytest.fixture(scope="module")
def sealed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sealed") / "run"
    assert run_cli("evolve", *BITS, "--seed", "4", "--out", str(out)).returncode == 0
    return out


def copy_of(run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(run, target)
    return target


def one_line(result: subprocess.CompletedProcess, fragment: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("note:")]
    assert result.returncode != 0 and len(lines) == 1 and fragment in lines[0], result.stderr


def test_every_part_has_a_seal_and_verifies(sealed_run: Path) -> None:
    parts = lineage_parts(sealed_run / "lineage")
    assert len(parts) == 4 and all(seal_path(p).exists() for p in parts)
    found = verify_run(sealed_run)
    assert not found.problems and not found.unsealed and found.rows == 1200
    result = run_cli("lineage", str(sealed_run), "--verify")
    assert result.returncode == 0 and result.stdout.startswith("ok: 4 lineage part(s), 1200 rows")


def test_any_single_bit_flip_is_refused_or_harmless(sealed_run: Path, tmp_path: Path) -> None:
    """400 random single-bit flips over every part, seal and the checkpoint: each is reported by --verify's
    checks, or the folder's parsed content is exactly what it was."""
    run = copy_of(sealed_run, tmp_path)
    files = [*lineage_parts(run / "lineage"), *(seal_path(p) for p in lineage_parts(run / "lineage")), run / "checkpoint.arrow"]
    table, _ = read_run_lineage(run)
    checkpoint = read_checkpoint(run / "checkpoint.arrow")
    rng = np.random.default_rng(0)
    harmless = 0
    for _ in range(400):
        path = files[rng.integers(len(files))]
        original = path.read_bytes()
        flipped = bytearray(original)
        position = int(rng.integers(len(flipped) * 8))
        flipped[position // 8] ^= 1 << (position % 8)
        path.write_bytes(bytes(flipped))
        try:
            found = verify_run(run)
            if not found.problems:
                harmless += 1
                assert read_run_lineage(run)[0].equals(table) and read_checkpoint(run / "checkpoint.arrow") == checkpoint, path
        finally:
            path.write_bytes(original)
    assert harmless < 40  # nearly every flip is caught; the rest provably changed nothing


def test_a_damaged_part_is_refused_by_every_reader(sealed_run: Path, tmp_path: Path) -> None:
    run = copy_of(sealed_run, tmp_path)
    part = lineage_parts(run / "lineage")[1]
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0x10
    part.write_bytes(bytes(data))
    before = {p.name: p.read_bytes() for p in (run / "lineage").iterdir()}
    for args in (["lineage", str(run)], ["resume", str(run), "-q", "--workers", "1"], ["report", str(run)],
                 ["export", str(run), "--id", "700"]):
        one_line(run_cli(*args), "is damaged")
    assert run_cli("lineage", str(run), "--verify").returncode == 1
    assert {p.name: p.read_bytes() for p in (run / "lineage").iterdir()} == before  # nothing logged was touched


def test_a_duplicated_part_or_one_from_another_run_is_refused(sealed_run: Path, tmp_path: Path) -> None:
    run = copy_of(sealed_run, tmp_path)
    first = lineage_parts(run / "lineage")[0]
    shutil.copy(first, run / "lineage" / "part-000009.arrow")
    shutil.copy(seal_path(first), run / "lineage" / "_part-000009.arrow.json")
    for args in (["lineage", str(run)], ["resume", str(run), "--cycles", "1500", "-q", "--workers", "1"], ["report", str(run)]):
        one_line(run_cli(*args), "more than once")
    for stray in (run / "lineage").glob("*000009*"):
        stray.unlink()
    other = tmp_path / "other"
    assert run_cli("evolve", *BITS, "--seed", "5", "--cycles", "300", "--out", str(other)).returncode == 0
    foreign = lineage_parts(other / "lineage")[0]
    shutil.copy(foreign, run / "lineage" / "part-000009.arrow")
    shutil.copy(seal_path(foreign), run / "lineage" / "_part-000009.arrow.json")
    for args in (["lineage", str(run)], ["resume", str(run), "--cycles", "1500", "-q", "--workers", "1"]):
        one_line(run_cli(*args), "belongs to another run")


def test_report_refuses_a_checkpoint_from_another_run(sealed_run: Path, tmp_path: Path) -> None:
    run = copy_of(sealed_run, tmp_path)
    other = tmp_path / "other"
    assert run_cli("evolve", *BITS, "--seed", "6", "--cycles", "300", "--out", str(other)).returncode == 0
    shutil.copy(other / "checkpoint.arrow", run / "checkpoint.arrow")
    one_line(run_cli("report", str(run)), "belongs to another run")


def test_an_older_folder_without_seals_opens_unverified(sealed_run: Path, tmp_path: Path) -> None:
    run = copy_of(sealed_run, tmp_path)
    for seal in (run / "lineage").glob("_part-*.json"):
        seal.unlink()
    result = run_cli("lineage", str(run), "--top", "3")
    assert result.returncode == 0 and "no checksums" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert len(verify_run(run).unsealed) == 4


def test_the_lineage_folder_still_opens_as_an_arrow_dataset(sealed_run: Path) -> None:
    import pyarrow.dataset as ds

    assert ds.dataset(sealed_run / "lineage", format="arrow").to_table().num_rows == 1200  # seals are skipped


FULL_DISK = """
import errno, sys
import {module} as target
calls = [0]
real = target.{name}
def failing(path, *args, **kwargs):
    calls[0] += 1
    if calls[0] == {when}:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))
    return real(path, *args, **kwargs)
target.{name} = failing
sys.argv = ["evonas", *sys.argv[1:]]
from evonas.cli import main
main()
"""


@pytest.mark.parametrize("module, name, when", [("evonas.run", "write_lineage_part", 1), ("evonas.run", "write_lineage_part", 3),
                                                ("evonas.checkpointing", "write_checkpoint", 2)])
def test_a_full_disk_is_one_line_and_resume_loses_nothing(sealed_run: Path, tmp_path: Path, module: str, name: str, when: int) -> None:
    """No space left during a lineage flush or a checkpoint write: one line naming the fix, no temp file left,
    and once there is space, resume gives the lineage of the run never interrupted."""
    run = tmp_path / "run"
    script = tmp_path / "full_disk.py"
    script.write_text(FULL_DISK.format(module=module, name=name, when=when))
    result = subprocess.run([sys.executable, str(script), "evolve", *BITS, "--seed", "4", "--out", str(run)], capture_output=True, text=True,
                            timeout=300)
    one_line(result, "No space left on device")
    assert "evonas resume" in result.stderr and not list(run.rglob(".*.tmp"))
    resumed = run_cli("resume", str(run), "-q", "--workers", "1")
    assert resumed.returncode == 0, resumed.stderr
    columns = ["id", "genome", "fitness"]
    assert read_run_lineage(run)[0].sort_by("id").select(columns).equals(read_run_lineage(sealed_run)[0].sort_by("id").select(columns))
