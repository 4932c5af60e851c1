"""Lineage and checkpoint files: Arrow readability, torn tails, corruption."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from evonas.errors import UserError
from evonas.store import (
    LINEAGE_SCHEMA,
    Checkpoint,
    LineageBuffer,
    read_checkpoint,
    read_lineage,
    table_to_ipc_file,
    write_checkpoint,
)


def rows(n: int, start: int = 0) -> pa.Table:
    buffer = LineageBuffer()
    for i in range(start, start + n):
        buffer.append({"id": i, "birth": i, "genome_kind": "bitstring", "fitness": i / 10, "status": "ok", "metrics": [("a", 1.0)], "wall_time": 0})
    return buffer.table()


def test_lineage_reads_with_pyarrow_dataset(tmp_path: Path) -> None:
    """Part files are Arrow IPC files that pyarrow.dataset opens with format='arrow'."""
    (tmp_path / "part-000001.arrow").write_bytes(table_to_ipc_file(rows(30), max_rows=8))
    (tmp_path / "part-000002.arrow").write_bytes(table_to_ipc_file(rows(5, 30)))
    table = ds.dataset(tmp_path, format="arrow").to_table()
    assert sorted(table.column("id").to_pylist()) == list(range(35))
    assert table.schema.equals(LINEAGE_SCHEMA)


def test_a_torn_last_file_is_read_up_to_its_last_complete_batch(tmp_path: Path) -> None:
    """Cutting bytes off the end loses only the batch they belonged to."""
    (tmp_path / "part-000001.arrow").write_bytes(table_to_ipc_file(rows(20)))
    data = table_to_ipc_file(rows(40, 20), max_rows=10)
    (tmp_path / "part-000002.arrow").write_bytes(data[: int(len(data) * 0.6)])
    table, torn = read_lineage(tmp_path)
    assert torn == [tmp_path / "part-000002.arrow"]
    ids = table.column("id").to_pylist()
    assert ids[:20] == list(range(20)) and len(ids) % 10 == 0 and 20 < len(ids) < 60
    assert ids == list(range(len(ids)))


def test_checkpoint_round_trip_and_corruption(tmp_path: Path) -> None:
    """A checkpoint reads back exactly; truncation or garbage gives a UserError naming the file."""
    path = tmp_path / "checkpoint.arrow"
    cp = Checkpoint({"told": 3, "rng": {"x": 1}}, {"elapsed_seconds": 1.5}, [(0, 0.5, "{}"), (2, math.nan, "{}")], "abc")
    write_checkpoint(path, cp, "0")
    back = read_checkpoint(path)
    assert back.state == cp.state and back.counters == cp.counters and back.config_hash == "abc"
    assert back.members[0] == (0, 0.5, "{}") and math.isnan(back.members[1][1])
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(UserError, match="truncated or corrupted"):
        read_checkpoint(path)
    path.write_bytes(b"not arrow at all")
    with pytest.raises(UserError, match="truncated or corrupted"):
        read_checkpoint(path)


def test_silent_damage_inside_a_checkpoint_is_caught_by_its_checksum(tmp_path: Path) -> None:
    """Flipping bytes anywhere (even where Arrow still parses) is reported, never loaded as a wrong state."""
    path = tmp_path / "checkpoint.arrow"
    write_checkpoint(path, Checkpoint({"told": 3}, {"n": 1}, [(0, 0.5, '{"a":1}'), (1, 0.25, '{"a":2}')], "abc"), "0")
    raw = path.read_bytes()
    caught = 0
    for offset in range(0, len(raw), 7):
        damaged = bytearray(raw)
        damaged[offset] ^= 0x55
        path.write_bytes(bytes(damaged))
        try:
            back = read_checkpoint(path)
        except UserError:
            caught += 1
            continue
        # Bytes that Arrow ignores (padding) may change without changing what is read.
        assert back.members == [(0, 0.5, '{"a":1}'), (1, 0.25, '{"a":2}')] and back.state == {"told": 3}
    assert caught > 0
