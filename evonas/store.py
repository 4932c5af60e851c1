"""Run-folder persistence: the Arrow lineage (append-only part files) and the atomic Arrow checkpoint.

Nothing here pickles: a run folder holds JSON and Arrow IPC only, so reading one never executes code.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from evonas.errors import UserError
from evonas.lineage_seal import damaged, holds_rows, read_seal, seal_bytes, seal_of, seal_path

LINEAGE_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("parent_id", pa.int64()),
        ("second_parent_id", pa.int64()),
        ("birth", pa.int64()),
        ("mutation", pa.string()),
        ("genome_kind", pa.string()),
        ("genome", pa.string()),
        ("fingerprint", pa.string()),
        ("fitness", pa.float64()),
        ("metrics", pa.map_(pa.string(), pa.float64())),
        ("status", pa.string()),
        ("error", pa.string()),
        ("eval_seconds", pa.float64()),
        ("worker", pa.string()),
        ("wall_time", pa.timestamp("us", tz="UTC")),
    ]
)
CHECKPOINT_SCHEMA = pa.schema([("id", pa.int64()), ("fitness", pa.float64()), ("genome", pa.string())])
SCHEMA_VERSION = "1"
BATCH_ROWS = 4096
ARROW_MAGIC_LEN = 8  # "ARROW1\0\0": the IPC file format is this magic, then an IPC stream, then a footer


# Lineage columns repeat themselves (mutation texts, worker, genome kind): zstd makes part files about 8x
# smaller for a few percent more write time, and every Arrow reader decompresses IPC buffers transparently.
LINEAGE_COMPRESSION = "zstd"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a fsynced temp file and a rename, so readers never see half a file."""
    tmp = temp_path(path)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    _replace_durably(tmp, path)


def temp_path(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place: hidden (Arrow dataset readers skip names starting
    with a dot) and unique to this process, so a stray second writer cannot rename ours."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def remove_stray_temps(folder: Path) -> None:
    """Delete temp files a killed writer left in ``folder`` (never renamed into place, so never part of the run)."""
    for stray in folder.glob(".*.tmp"):
        stray.unlink(missing_ok=True)


def _replace_durably(tmp: Path, path: Path) -> None:
    """Rename a written, fsynced temp file over ``path`` and fsync the folder, so the rename survives a crash."""
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _write_ipc(sink: Any, table: pa.Table, max_rows: int, compression: str | None) -> None:
    options = ipc.IpcWriteOptions(compression=compression)
    with ipc.new_file(sink, table.schema, options=options) as writer:
        for batch in table.to_batches(max_chunksize=max_rows):
            writer.write_batch(batch)


def table_to_ipc_file(table: pa.Table, max_rows: int = BATCH_ROWS) -> bytes:
    """Serialise a table as an uncompressed Arrow IPC file of record batches of at most ``max_rows`` rows."""
    sink = pa.BufferOutputStream()
    _write_ipc(sink, table, max_rows, None)
    return sink.getvalue().to_pybytes()


def write_lineage_part(path: Path, table: pa.Table, max_rows: int = BATCH_ROWS) -> None:
    """Lineage rows as a compressed Arrow IPC file at ``path``, streamed to a fsynced temp file, sealed
    (``evonas.lineage_seal``: the seal is in place before the part is), then renamed."""
    tmp = temp_path(path)
    try:
        with pa.OSFile(str(tmp), "wb") as f:
            _write_ipc(f, table, max_rows, LINEAGE_COMPRESSION)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        atomic_write_bytes(seal_path(path), seal_bytes(seal_of(tmp.read_bytes(), table.column("id").to_pylist())))
    except BaseException:
        tmp.unlink(missing_ok=True)  # a failed write (a full disk, say) leaves nothing behind
        raise
    _replace_durably(tmp, path)


SMALL_BATCH = 32  # below this many rows a told batch is buffered as plain lists (``LineageBuffer.append_rows``)


@dataclass(slots=True)
class Repeat:
    """One value for ``count`` consecutive rows of a buffered lineage column (a batch's worker, its time, ...)."""

    value: Any
    count: int


@dataclass(slots=True)
class Coded:
    """Rows of a buffered string column given as positions into a few distinct values (a bred batch's mutations)."""

    index: np.ndarray
    values: list[str]


@dataclass(slots=True)
class MetricColumns:
    """A batch's metrics as columns, one array per name; NaN means the row lacks that metric."""

    columns: dict[str, np.ndarray]
    count: int

    def rows(self) -> list[list[tuple[str, float]]]:
        """Per-row (name, value) pairs, absent metrics left out."""
        # the one NaN-means-absent rule, imported late: store sits below strategies
        from evonas.core import metric_rows

        return [list(m.items()) for m in metric_rows(self.columns, self.count)]


class LineageBuffer:
    """Lineage rows buffered column by column in the pieces each told batch hands over (lists, numpy arrays,
    ``Repeat`` runs, ``MetricColumns``), turned into Arrow once per flush: per-batch Arrow arrays would pay
    Arrow's fixed cost per call many times over, and per-row Python values would convert one at a time."""

    def __init__(self) -> None:
        self.pieces: dict[str, list[Any]] = {name: [] for name in LINEAGE_SCHEMA.names}
        self.open: dict[str, list[Any]] | None = None  # small batches' rows, column by column, not yet a piece
        self.rows = 0

    def __len__(self) -> int:
        return self.rows

    def append_columns(self, columns: dict[str, Any], count: int) -> None:
        """Add ``count`` rows given column by column as pieces; every schema column must be present."""
        self._close_open()
        for name, pieces in self.pieces.items():
            pieces.append(columns[name])
        self.rows += count

    def append_rows(self, columns: dict[str, list[Any]], count: int) -> None:
        """Add ``count`` rows given as one plain list per column (cheapest for a batch of a few rows)."""
        if self.open is None:
            self.open = {name: [] for name in self.pieces}
        for name, values in self.open.items():
            values.extend(columns[name])
        self.rows += count

    def _close_open(self) -> None:
        if self.open is not None:
            for name, values in self.open.items():
                self.pieces[name].append(values)
            self.open = None

    def table(self) -> pa.Table:
        """The buffered rows as a table with the lineage schema."""
        self._close_open()
        arrays = [_metrics_array(self.pieces[f.name]) if f.name == "metrics" else _column_array(self.pieces[f.name], f.type)
                  for f in LINEAGE_SCHEMA]
        return pa.Table.from_arrays(arrays, schema=LINEAGE_SCHEMA)

    def clear(self) -> None:
        """Forget the buffered rows (after a successful flush)."""
        for pieces in self.pieces.values():
            pieces.clear()
        self.open = None
        self.rows = 0


def _column_array(pieces: list[Any], type_: pa.DataType) -> pa.Array:
    """One lineage column from its pieces; NaN in a float column is null (a failed evaluation's fitness)."""
    timestamp = pa.types.is_timestamp(type_)
    storage = pa.int64() if timestamp else type_
    if pieces and pa.types.is_string(type_) and any(isinstance(p, Coded) for p in pieces):
        return _coded_strings(pieces)
    if pieces and all(isinstance(p, Repeat) for p in pieces):
        values = [p.value for p in pieces]
        counts = [p.count for p in pieces]
        if all(v is None for v in values):
            column = pa.nulls(sum(counts), storage)
        elif None in values:
            column = pa.array([v for v, n in zip(values, counts) for _ in range(n)], type=storage)
        elif pa.types.is_string(storage):
            column = _repeated_strings(values, counts)
        else:  # numbers: a numpy array Arrow takes as it is
            column = pa.array(np.repeat(np.array(values), counts), type=storage)
    elif pieces and all(isinstance(p, np.ndarray) for p in pieces):
        column = pa.array(np.concatenate(pieces), type=storage, from_pandas=True)
    elif pieces and pa.types.is_integer(storage) and all(isinstance(p, np.ndarray) or (isinstance(p, Repeat) and p.value is None) for p in pieces):
        # ids with runs of nulls (an initial population's parents): one array and a null mask, no Python int per row
        parts = [np.zeros(p.count, dtype=np.int64) if isinstance(p, Repeat) else np.asarray(p, dtype=np.int64) for p in pieces]
        mask = np.concatenate([np.full(len(part), isinstance(p, Repeat)) for p, part in zip(pieces, parts)])
        column = pa.array(np.concatenate(parts), type=storage, mask=mask)
    else:
        flat: list[Any] = []
        for p in pieces:
            flat.extend([p.value] * p.count if isinstance(p, Repeat) else p.tolist() if isinstance(p, np.ndarray) else p)
        column = pa.array(flat, type=storage, from_pandas=True)
    return column.view(type_) if timestamp else column


def _coded_strings(pieces: list[Any]) -> pa.Array:
    """A string column from pieces of which some are ``Coded`` (the only column kind that gets them): every row
    as a position into one table of the distinct values (-1 for null), gathered by ``_strings_at``."""
    table: dict[str, int] = {}
    positions = []
    for p in pieces:
        if isinstance(p, Coded):
            local = np.array([table.setdefault(v, len(table)) for v in p.values], dtype=np.int64)
            positions.append(local[np.asarray(p.index, dtype=np.int64)])
        elif isinstance(p, Repeat):
            positions.append(np.full(p.count, -1 if p.value is None else table.setdefault(p.value, len(table)), dtype=np.int64))
        else:
            positions.append(np.array([-1 if v is None else table.setdefault(v, len(table)) for v in p], dtype=np.int64))
    return _strings_at(list(table), np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64))


def _repeated_strings(values: list[str], counts: list[int]) -> pa.Array:
    """A string column of runs: ``counts[i]`` times ``values[i]``."""
    return _strings_at(values, np.repeat(np.arange(len(values)), counts))


def _strings_at(values: list[str], index: np.ndarray) -> pa.Array:
    """The string column whose row i is ``values[index[i]]`` (null where ``index[i]`` is -1), gathered by Arrow
    (a Python string per row costs about 40 times as much)."""
    nulls = index < 0
    if not values:
        return pa.nulls(len(index), pa.string())
    positions = pa.array(np.asarray(index, dtype=np.int64), type=pa.int64(), mask=nulls if nulls.any() else None)
    return pa.array(values, type=pa.string()).take(positions)


def _metrics_array(pieces: list[Any]) -> pa.Array:
    """The metrics map column: built from arrays when every piece is ``MetricColumns`` with the same names."""
    type_ = LINEAGE_SCHEMA.field("metrics").type
    if pieces and all(isinstance(p, MetricColumns) for p in pieces) and len({tuple(p.columns) for p in pieces}) == 1:
        keys = list(pieces[0].columns)
        count = sum(p.count for p in pieces)
        if not keys:
            return pa.MapArray.from_arrays(np.zeros(count + 1, dtype=np.int32), pa.array([], pa.string()), pa.array([], pa.float64()),
                                           type=type_)
        values = np.concatenate([np.column_stack([np.asarray(p.columns[k], dtype=np.float64) for k in keys]) for p in pieces])
        present = ~np.isnan(values)
        offsets = np.zeros(count + 1, dtype=np.int32)
        np.cumsum(present.sum(axis=1), out=offsets[1:])
        flat = np.flatnonzero(present.ravel())
        names = _strings_at(keys, flat % len(keys))
        return pa.MapArray.from_arrays(offsets, names, pa.array(values.ravel()[flat]), type=type_)
    rows: list[Any] = []
    for p in pieces:
        rows.extend(p.rows() if isinstance(p, MetricColumns) else p)
    return pa.array(rows, type=type_)


def part_path(lineage_dir: Path, index: int) -> Path:
    """Path of lineage part number ``index``."""
    return lineage_dir / f"part-{index:06d}.arrow"


def lineage_parts(lineage_dir: Path) -> list[Path]:
    """Part files in write order."""
    return sorted(p for p in lineage_dir.glob("part-*.arrow"))


def read_part(path: Path) -> tuple[pa.Table, bool]:
    """Read one part file, checked against its seal; a torn file (shorter than sealed, or unsealed and
    unparsable) yields the rows of its complete batches and ``False``; a damaged one is a one-line UserError."""
    raw = path.read_bytes()
    seal = read_seal(path)
    if seal is not None and len(raw) >= seal.size:
        if len(raw) != seal.size or hashlib.sha256(raw).hexdigest() != seal.sha256:
            raise damaged(path, "its bytes do not match its checksum")
        table = ipc.open_file(pa.BufferReader(raw)).read_all()
        if not holds_rows(seal, table.column("id").to_pylist()):  # the bytes were hashed just above: not again
            raise damaged(path, "its rows do not match its checksum file")
        return table, True
    try:
        table = ipc.open_file(pa.BufferReader(raw)).read_all()
        table.validate(full=True)
        return table, True
    except (pa.ArrowInvalid, OSError):
        pass
    batches = []
    try:
        reader = ipc.open_stream(pa.BufferReader(raw[ARROW_MAGIC_LEN:]))
        for batch in reader:
            batch.validate(full=True)
            batches.append(batch)
    except (pa.ArrowInvalid, OSError):
        pass
    return pa.Table.from_batches(batches, schema=LINEAGE_SCHEMA), False


def read_lineage(lineage_dir: Path, config_hash: str | None = None) -> tuple[pa.Table, list[Path]]:
    """All readable lineage rows in order, and the list of torn part files (read up to their last complete batch).
    Refuses, in one line, a damaged part, parts of more than one run (or of another run than ``config_hash``),
    and an id held twice (a part duplicated or copied in)."""
    tables, torn, hashes = [], [], {}
    for path in lineage_parts(lineage_dir):
        table, complete = read_part(path)
        if not complete:
            torn.append(path)
        recorded = part_config_hash(table)
        if recorded is not None:
            hashes.setdefault(recorded, path)
        tables.append(table.cast(LINEAGE_SCHEMA))
    expected = config_hash if config_hash is not None else next(iter(hashes), None)
    strangers = [path for h, path in hashes.items() if h != expected]
    if strangers:
        raise UserError(foreign_part(strangers[0]))
    if not tables:
        return LINEAGE_SCHEMA.empty_table(), torn
    table = pa.concat_tables(tables)
    ids = table.column("id")
    if pc.count_distinct(ids).as_py() != len(ids):
        counts = pc.value_counts(ids)
        twice = next(v["values"] for v in counts.to_pylist() if v["counts"] > 1)
        holders = [p.name for p, t in zip(lineage_parts(lineage_dir), tables) if twice in set(t.column("id").to_pylist())]
        raise UserError(held_twice(twice, holders))
    return table, torn


def part_config_hash(table: pa.Table) -> str | None:
    """The config hash of the run that wrote a lineage part (in its schema metadata); None if it names none."""
    recorded = (table.schema.metadata or {}).get(b"config_hash")
    return None if recorded is None else recorded.decode()


def foreign_part(path: Path) -> str:
    """The one-line problem of a part another run wrote."""
    return f"lineage part {path} belongs to another run (its config hash differs from this run's); move it out of lineage/"


def held_twice(ident: int, parts: list[str]) -> str:
    """The one-line problem of an id that more than one lineage row holds (``parts``: the files holding it)."""
    return f"lineage/ holds id {ident} more than once ({', '.join(parts)}): a part was duplicated or copied in; move the stray part out of lineage/"


def unsealed_notice(run_dir: Path) -> str | None:
    """The one line to say when a run folder's lineage parts predate checksums; None when all are sealed."""
    unsealed = unsealed_parts(run_dir / "lineage")
    if not unsealed:
        return None
    return f"note: {len(unsealed)} lineage part(s) of {run_dir} have no checksums (an older evonas wrote them); they are read unverified"


def unsealed_parts(lineage_dir: Path) -> list[Path]:
    """Parts without a checksum file (written before evonas sealed its parts): read, but not verified."""
    return [p for p in lineage_parts(lineage_dir) if not seal_path(p).exists()]


@dataclass
class Checkpoint:
    """What a checkpoint holds: the strategy state, run counters, and the members it refers to."""

    state: dict[str, Any]
    counters: dict[str, Any]
    members: list[tuple[int, float, str]]  # (id, fitness, genome JSON)
    config_hash: str


def checkpoint_digest(checkpoint: Checkpoint) -> str:
    """Checksum over everything a checkpoint holds, so that silent damage (not just truncation) is caught."""
    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps([checkpoint.state, checkpoint.counters, checkpoint.config_hash], sort_keys=True).encode())
    for ident, fitness, genome in checkpoint.members:
        h.update(f"{ident}\x1f{fitness!r}\x1f{genome}\x1e".encode())
    return h.hexdigest()


def write_checkpoint(path: Path, checkpoint: Checkpoint, version: str) -> None:
    """Atomically write the checkpoint as an Arrow IPC file; state and counters go in the schema metadata."""
    ids, fitness, genomes = zip(*checkpoint.members) if checkpoint.members else ((), (), ())
    metadata = {
        "evonas_version": version,
        "schema_version": SCHEMA_VERSION,
        "config_hash": checkpoint.config_hash,
        "state": json.dumps(checkpoint.state),
        "counters": json.dumps(checkpoint.counters),
        "digest": checkpoint_digest(checkpoint),
    }
    table = pa.table(
        {"id": list(ids), "fitness": [None if math.isnan(f) else f for f in fitness], "genome": list(genomes)},
        schema=CHECKPOINT_SCHEMA.with_metadata(metadata),
    )
    atomic_write_bytes(path, table_to_ipc_file(table))


def read_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint, turning any damage into a ``UserError`` that says what to do."""
    if not path.exists():
        raise UserError(f"no checkpoint at {path}: the run never reached its first checkpoint; start it again with 'evonas evolve'")
    try:
        table = ipc.open_file(pa.BufferReader(path.read_bytes())).read_all()
        table.validate(full=True)  # damaged offsets would otherwise crash the conversion below
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        state = json.loads(meta["state"])
        counters = json.loads(meta["counters"])
        config_hash = meta["config_hash"]
        rows = table.to_pydict()
        members = [
            (int(i), math.nan if f is None else float(f), g) for i, f, g in zip(rows["id"], rows["fitness"], rows["genome"])
        ]
        checkpoint = Checkpoint(state, counters, members, config_hash)
        if checkpoint_digest(checkpoint) != meta["digest"]:
            raise ValueError("checksum mismatch")
    except Exception as exc:  # any failure to parse untrusted bytes means the file is damaged
        raise UserError(
            f"checkpoint {path} is truncated or corrupted ({type(exc).__name__}: {exc}); restore it from a backup or start a new run"
        ) from None
    return checkpoint


def now_us() -> int:
    """Current UTC time in microseconds (the lineage's wall_time unit)."""
    return time.time_ns() // 1000
