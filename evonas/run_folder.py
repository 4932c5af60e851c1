"""A run folder on disk: its file names, its config, and its lineage as the checkpoint sees it (rows newer
than the checkpoint are set aside, never deleted) or as a reader sees it (``evonas lineage``, reports)."""

from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from evonas.config import RunConfig
from evonas.errors import UserError
from evonas.lineage_seal import seal_path
from evonas.plugins import check_trusted
from evonas.store import (
    atomic_write_bytes,
    foreign_part,
    held_twice,
    lineage_parts,
    part_config_hash,
    read_lineage,
    read_part,
    write_lineage_part,
)

CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.arrow"
LINEAGE_DIR = "lineage"
ASIDE_DIR = "set-aside"


def refuse_existing(run_dir: Path) -> None:
    """A UserError if ``run_dir`` already holds a run."""
    if (run_dir / CONFIG_FILE).exists():
        raise UserError(f"{run_dir} already holds a run; continue it with 'evonas resume {run_dir}' or pick another --out")


def create_folder(run_dir: Path, config: RunConfig) -> None:
    """Make a new run folder with its config.json; refuses a folder that already holds a run."""
    refuse_existing(run_dir)
    (run_dir / LINEAGE_DIR).mkdir(parents=True, exist_ok=True)
    write_config(run_dir, config)


def write_config(run_dir: Path, config: RunConfig) -> None:
    """config.json, written atomically."""
    atomic_write_bytes(run_dir / CONFIG_FILE, config.to_json().encode())


def load_config(run_dir: Path) -> RunConfig:
    """Read config.json of a run folder, with a clear error for anything that is not one."""
    if not run_dir.is_dir():
        raise UserError(f"run folder {run_dir} does not exist; check the path (runs live under runs/ by default)")
    path = run_dir / CONFIG_FILE
    if not path.exists() and (run_dir / "protocol.json").exists():
        raise UserError(f"{run_dir} holds an experiment protocol; its runs are the experiment-NNNN folders inside it")
    if not path.exists():
        raise UserError(f"{run_dir} is not an evonas run folder (no {CONFIG_FILE}); point at a folder made by 'evonas evolve'")
    try:
        config = RunConfig.from_json(path.read_text())
    except (ValueError, TypeError) as exc:
        raise UserError(f"{path} is not a valid run config ({exc}); restore it or start a new run") from None
    check_trusted([config.task, config.strategy], path)  # before anything could import them
    return config


def reconcile_lineage(run_dir: Path, told: int, member_ids: list[int], next_id: int | None = None, pending: set[int] | None = None,
                      config_hash: str | None = None) -> int:
    """Make ``lineage/`` hold exactly the rows the checkpoint has told: ids below ``next_id`` (default ``told``)
    that were not in flight (``pending``); newer rows are moved to ``set-aside/``.

    Returns the next part number. Refuses a checkpoint whose individuals the lineage lacks, a damaged part, a part
    of another run (its config hash is not ``config_hash``) and an id held twice.
    """
    next_id = told if next_id is None else next_id
    pending = pending or set()
    lineage_dir = run_dir / LINEAGE_DIR
    kept = 0
    parts_of: dict[int, str] = {}  # the part holding each id kept so far
    last_index = 0
    to_split: list[tuple[Path, pa.Table, list[int]]] = []
    for path in lineage_parts(lineage_dir):
        last_index = max(last_index, int(path.stem.split("-")[1]))
        table, complete = read_part(path)
        recorded = part_config_hash(table)
        if config_hash is not None and recorded is not None and recorded != config_hash:
            raise UserError(foreign_part(path))
        ids = table.column("id").to_pylist()
        covered = [i for i, ident in enumerate(ids) if ident < next_id and ident not in pending]
        twice = next((ids[i] for i in covered if ids[i] in parts_of), None)
        if twice is not None:
            raise UserError(held_twice(twice, [parts_of[twice], path.name]))
        kept += len(covered)
        parts_of.update((ids[i], path.name) for i in covered)
        if not (complete and len(covered) == len(ids)):
            to_split.append((path, table, covered))
    missing = [i for i in member_ids if i not in parts_of]
    if kept < told or missing:  # refuse before touching any file
        raise UserError(
            f"the checkpoint in {run_dir} names {told} evaluations but lineage/ holds {kept}"
            f"{' and lacks ids ' + str(missing[:5]) if missing else ''}; the lineage was damaged, so this run cannot be resumed exactly"
        )
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for path, table, covered in to_split:
        (run_dir / ASIDE_DIR).mkdir(exist_ok=True)
        os.replace(path, run_dir / ASIDE_DIR / f"{stamp}-{path.name}")  # the original bytes, untouched
        if seal_path(path).exists():
            os.replace(seal_path(path), run_dir / ASIDE_DIR / f"{stamp}-{seal_path(path).name}")
        if covered:
            write_lineage_part(path, table.take(pa.array(covered)))
    return last_index + 1


def read_run_lineage(run_dir: Path) -> tuple[pa.Table, list[Path]]:
    """The lineage of a run folder (for ``evonas lineage``), readable even if its last file is torn."""
    return read_lineage(run_dir / LINEAGE_DIR, load_config(run_dir).identity_hash())


def best_rows(table: pa.Table, top: int) -> list[dict[str, Any]]:
    """The ``top`` best architectures, best first: evaluations that share a fingerprint (identity copies,
    re-discoveries) are one architecture, ranked by the mean of its evaluations, so that one lucky evaluation
    seed does not make a winner. Each row is the architecture's fittest evaluation (its id, parents and
    mutation) with ``mean_fitness``, ``evaluations`` and ``fitness_sd`` (None for a single evaluation) added;
    failures are left out; ties go to the lower id."""
    columns = ["id", "parent_id", "second_parent_id", "fitness", "mutation", "status", "fingerprint"]
    groups: dict[Any, list[dict[str, Any]]] = {}
    for r in table.select(columns).to_pylist():
        if r["fitness"] is not None:
            groups.setdefault(r["fingerprint"] if r["fingerprint"] is not None else ("row", r["id"]), []).append(r)
    ranked = []
    for rows in groups.values():
        fitness = [r["fitness"] for r in rows]
        mean = statistics.fmean(fitness)
        sd = statistics.stdev(fitness) if len(fitness) > 1 else None
        fittest = min(rows, key=lambda r: (-r["fitness"], r["id"]))
        ranked.append({**fittest, "mean_fitness": mean, "evaluations": len(rows), "fitness_sd": sd})
    ranked.sort(key=lambda r: (-r["mean_fitness"], r["id"]))
    return ranked[:top]


def ancestry(table: pa.Table, ident: int) -> list[dict[str, Any]]:
    """The chain from ``ident`` back to the initial population (first element is ``ident`` itself)."""
    by_id = {r["id"]: r for r in table.select(["id", "parent_id", "second_parent_id", "fitness", "mutation", "status"]).to_pylist()}
    if ident not in by_id:
        raise UserError(f"no individual with id {ident} in this run's lineage; list ids with 'evonas lineage RUN'")
    chain = []
    current: int | None = ident
    while current is not None and current in by_id:
        chain.append(by_id[current])
        current = by_id[current]["parent_id"]
    return chain


def nan_to_none(value: float) -> float | None:
    """JSON-friendly float."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


@dataclass
class Verification:
    """What ``evonas lineage RUN --verify`` found: parts and rows checked, parts without checksums, problems."""

    parts: int = 0
    rows: int = 0
    unsealed: list[Path] = field(default_factory=list)
    torn: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def verify_run(run_dir: Path) -> Verification:
    """Check every lineage part against its checksum and the run's config hash, ids held once, and the
    checkpoint's own checksum and config hash; every problem found, not only the first."""
    from evonas.store import read_checkpoint, unsealed_parts

    config_hash = load_config(run_dir).identity_hash()
    out = Verification(unsealed=unsealed_parts(run_dir / LINEAGE_DIR))
    seen: dict[int, str] = {}
    for path in lineage_parts(run_dir / LINEAGE_DIR):
        out.parts += 1
        try:
            table, complete = read_part(path)
        except UserError as exc:
            out.problems.append(str(exc))
            continue
        if not complete:
            out.torn.append(path)
        recorded = part_config_hash(table)
        if recorded is not None and recorded != config_hash:
            out.problems.append(foreign_part(path))
        for ident in table.column("id").to_pylist():
            if ident in seen:
                out.problems.append(held_twice(ident, [seen[ident], path.name]))
                break
            seen[ident] = path.name
        out.rows += table.num_rows
    try:
        checkpoint = read_checkpoint(run_dir / "checkpoint.arrow")
        if checkpoint.config_hash != config_hash:
            out.problems.append(f"{run_dir / 'checkpoint.arrow'} belongs to another run (its config hash differs from config.json's)")
    except UserError as exc:
        out.problems.append(str(exc))
    return out
