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

import pyarrow as pa
import pyarrow.ipc as ipc

from evonas.errors import UserError

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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a fsynced temp file and a rename, so readers never see half a file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def table_to_ipc_file(table: pa.Table, max_rows: int = BATCH_ROWS) -> bytes:
    """Serialise a table as an Arrow IPC file of record batches of at most ``max_rows`` rows."""
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=max_rows):
            writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


class LineageBuffer:
    """Column-wise buffer of lineage rows, flushed as one part file per checkpoint."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in LINEAGE_SCHEMA.names}

    def __len__(self) -> int:
        return len(self.columns["id"])

    def append(self, row: dict[str, Any]) -> None:
        """Add one row (keys are the schema's column names)."""
        for name, column in self.columns.items():
            column.append(row.get(name))

    def table(self) -> pa.Table:
        """The buffered rows as a table with the lineage schema."""
        return pa.table(self.columns, schema=LINEAGE_SCHEMA)

    def clear(self) -> None:
        """Forget the buffered rows (after a successful flush)."""
        for column in self.columns.values():
            column.clear()


def part_path(lineage_dir: Path, index: int) -> Path:
    """Path of lineage part number ``index``."""
    return lineage_dir / f"part-{index:06d}.arrow"


def lineage_parts(lineage_dir: Path) -> list[Path]:
    """Part files in write order."""
    return sorted(p for p in lineage_dir.glob("part-*.arrow"))


def read_part(path: Path) -> tuple[pa.Table, bool]:
    """Read one part file; a torn file yields the rows of its complete batches and ``False``."""
    raw = path.read_bytes()
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


def read_lineage(lineage_dir: Path) -> tuple[pa.Table, list[Path]]:
    """All readable lineage rows in order, and the list of torn part files (read up to their last complete batch)."""
    tables, torn = [], []
    for path in lineage_parts(lineage_dir):
        table, complete = read_part(path)
        if not complete:
            torn.append(path)
        tables.append(table.cast(LINEAGE_SCHEMA))
    if not tables:
        return LINEAGE_SCHEMA.empty_table(), torn
    return pa.concat_tables(tables), torn


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
