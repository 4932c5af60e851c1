"""Lineage and checkpoint files: Arrow readability, torn tails, corruption."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from evonas.errors import UserError
from evonas.store import (
    LINEAGE_SCHEMA,
    Checkpoint,
    LineageBuffer,
    MetricColumns,
    Repeat,
    read_checkpoint,
    read_lineage,
    table_to_ipc_file,
    write_checkpoint,
)


def rows(n: int, start: int = 0) -> pa.Table:
    buffer = LineageBuffer()
    ids = list(range(start, start + n))
    nulls = [None] * n
    buffer.append_columns({
        "id": ids, "parent_id": nulls, "second_parent_id": nulls, "birth": ids, "mutation": nulls, "genome_kind": Repeat("bitstring", n),
        "genome": nulls, "fingerprint": nulls, "fitness": np.array(ids) / 10, "metrics": MetricColumns({"a": np.ones(n)}, n),
        "status": Repeat("ok", n), "error": nulls, "eval_seconds": nulls, "worker": nulls, "wall_time": Repeat(0, n),
    }, n)
    return buffer.table()


def expected_value(piece: object, r: int, metrics_rows: list) -> object:
    """Row ``r`` of a buffered piece as the plain value the table must hold."""
    if isinstance(piece, Repeat):
        return piece.value
    if isinstance(piece, MetricColumns):
        return metrics_rows[r]
    value = piece[r].item() if isinstance(piece, np.ndarray) else piece[r]  # type: ignore[index]
    return None if isinstance(value, float) and value != value else value


@pytest.mark.parametrize("layout", [(True, False, True, None, None, True), (True, True, True)])
def test_buffered_pieces_give_the_rows_they_stand_for(layout: tuple[bool | None, ...]) -> None:
    """Lists, arrays (NaN fitness: null), runs of one value and metric columns (NaN: absent), mixed across batches
    or all columns (metric names of several lengths, one not ASCII), make the same table as converting the plain rows."""
    buffer = LineageBuffer()
    expected: list[dict] = []
    for batch, columnar in enumerate(layout):  # None: a small batch given as plain lists
        n = 3 + batch
        ids = list(range(10 * batch, 10 * batch + n))
        fitness = np.array([0.5, math.nan, 2.0, 0.25, math.nan, 1.0] * 2)[:n]
        hits = np.array([1.0, math.nan, 0.0, 1.0, 1.0, math.nan] * 2)[:n]
        metrics_rows = [[("hit", h), ("größe", float(i))] if h == h else [("größe", float(i))] for h, i in zip(hits.tolist(), ids)]
        pieces = {
            "id": ids, "parent_id": [None] + ids[:-1], "second_parent_id": [None] * n, "birth": np.array(ids), "mutation": ["m"] * n,
            "genome_kind": Repeat("bits", n), "genome": [None] * n, "fingerprint": [None] * n,
            "fitness": fitness if columnar else [None if f != f else f for f in fitness.tolist()],
            "metrics": MetricColumns({"hit": hits, "größe": np.array(ids, dtype=float)}, n) if columnar else metrics_rows,
            "status": Repeat("ok", n) if batch % 2 else ["ok" if f == f else "failed" for f in fitness.tolist()],
            "error": Repeat(None, n), "eval_seconds": Repeat(0.5 * batch, n), "worker": Repeat(f"w{batch % 2}", n), "wall_time": Repeat(1000 + batch, n),
        }
        if columnar is None:
            buffer.append_rows({name: [expected_value(piece, r, metrics_rows) for r in range(n)] for name, piece in pieces.items()}, n)
        else:
            buffer.append_columns(pieces, n)
        for r in range(n):
            expected.append({name: expected_value(piece, r, metrics_rows) for name, piece in pieces.items()})
    assert len(buffer) == len(expected)
    assert buffer.table().equals(pa.Table.from_pylist(expected, schema=LINEAGE_SCHEMA))
    buffer.clear()
    assert len(buffer) == 0 and buffer.table().num_rows == 0


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


def test_runs_of_one_value_become_the_column_they_stand_for() -> None:
    """Columns given only as runs: several texts (one not ASCII), numbers, nulls, and nulls mixed with text."""
    buffer = LineageBuffer()
    expected: list[dict] = []
    for batch, (worker, error) in enumerate([("pool-1", None), ("pool-ü2", None), ("pool-1", "boom"), ("x", None)]):
        n = 2 + batch
        pieces = {
            "id": np.arange(n) + 10 * batch, "parent_id": Repeat(None, n), "second_parent_id": Repeat(None, n), "birth": Repeat(batch, n),
            "mutation": Repeat("flip: 3", n), "genome_kind": Repeat("bitstring", n), "genome": Repeat(None, n), "fingerprint": Repeat(None, n),
            "fitness": np.full(n, 0.25 * batch), "metrics": MetricColumns({}, n), "status": Repeat("ok" if error is None else "failed", n),
            "error": Repeat(error, n), "eval_seconds": Repeat(0.5 * batch, n), "worker": Repeat(worker, n), "wall_time": Repeat(1000 + batch, n),
        }
        buffer.append_columns(pieces, n)
        expected += [{name: expected_value(piece, r, [[]] * n) for name, piece in pieces.items()} for r in range(n)]
    assert buffer.table().equals(pa.Table.from_pylist(expected, schema=LINEAGE_SCHEMA))


def test_coded_string_pieces_read_back_with_plain_lists_runs_and_nulls() -> None:
    """A bred batch's mutation column (positions into its distinct texts) joins list and run pieces, nulls kept."""
    from evonas.store import Coded, Repeat, _column_array

    pieces = [["a", None], Coded(np.array([1, 0, 1]), ["b", "a"]), Repeat(None, 2), Repeat("c", 1), Coded(np.array([0]), ["c"])]
    column = _column_array(pieces, pa.string())
    assert column.to_pylist() == ["a", None, "a", "b", "a", None, None, "c", "c"]
    assert column.null_count == 3
