"""Rebuild genomes a compact lineage does not store, by replaying the search with the logged results.

A run is a pure function of its config and the results it was told: children derive from (run seed, id),
results are folded in submission order, and batches have the configured size. Replaying ask/tell with
the fitness, status and metrics read back from the lineage (no evaluation) therefore regenerates every
genome exactly, for every family. Stored genomes met on the way are compared with the replayed ones.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from evonas.config import build_strategy
from evonas.core import Result
from evonas.errors import UserError
from evonas.run_folder import load_config
from evonas.store import read_lineage


def replay_genomes(run_dir: Path, wanted: set[int]) -> dict[int, Any]:
    """Genomes of the ``wanted`` ids: read where stored, replayed from the run's start otherwise."""
    config = load_config(run_dir)
    table, _ = read_lineage(run_dir / "lineage")
    rows = {r["id"]: r for r in table.select(["id", "genome", "fitness", "status", "error", "metrics"]).to_pylist()}
    missing = sorted(i for i in wanted if i not in rows)
    if missing:
        raise UserError(f"no individual with id {missing[0]} in the lineage of {run_dir}; list ids with 'evonas lineage {run_dir}'")
    strategy = build_strategy(config)
    space = strategy.space
    found = {i: space.genome_from_dict(json.loads(rows[i]["genome"])) for i in wanted if rows[i]["genome"] is not None}
    target = max((i for i in wanted if i not in found), default=-1)
    while strategy.next_id <= target:
        candidates = strategy.ask(config.batch)
        if not candidates:
            break
        results = []
        for c in candidates:
            row = rows.get(c.id)
            if row is None:
                raise UserError(f"the lineage of {run_dir} lacks id {c.id}, which the replay needs; the lineage is damaged")
            stored = row["genome"]
            if stored is not None and json.loads(stored) != c.genome.to_dict():
                raise UserError(f"replaying {run_dir} gives a different genome for id {c.id} than the lineage holds; "
                                "the run was made by another evonas version or its files were edited")
            if c.id in wanted:
                found[c.id] = c.genome
            fitness = math.nan if row["fitness"] is None else float(row["fitness"])
            results.append(Result(c.id, fitness, row["status"], row["error"] or "", dict(row["metrics"] or [])))
        strategy.tell(results, candidates)
    return found
