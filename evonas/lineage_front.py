"""The Pareto front of a multi-objective run, read from its lineage: every evaluated candidate that meets the
run's constraints and that no other such candidate dominates (``evonas lineage --pareto``, ``export
--pareto``, reports), and the front's hypervolume after each evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evonas.errors import UserError
from evonas.objectives import ObjectiveSet
from evonas.pareto import hypervolume, nondominated
from evonas.run_folder import LINEAGE_DIR, load_config
from evonas.store import read_lineage


@dataclass
class LineageObjectives:
    """Every evaluation of a run as objective values: ``rows`` to minimise, ``values`` as the user reads them
    (maximised objectives not negated), ``violation`` (0: every constraint met), in id order."""

    objectives: ObjectiveSet
    ids: np.ndarray
    status: list[str]
    rows: np.ndarray
    values: np.ndarray
    violation: np.ndarray

    def front(self) -> np.ndarray:
        """Positions of the front: the non-dominated feasible evaluations, in id order."""
        feasible = np.flatnonzero(self.violation == 0)
        mask = nondominated(self.rows[feasible])
        return feasible[mask]  # type: ignore[no-any-return]

    def hypervolume_curve(self, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
        """The front's hypervolume after evaluation counts spread over the run (at most ``points`` of them), against
        the nadir of the whole run (the worst value of each objective over every successful evaluation)."""
        finite = ~np.isnan(self.rows).any(axis=1)
        if not finite.any():
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        nadir = self.rows[finite].max(axis=0)
        counts = np.unique(np.linspace(1, len(self.ids), min(points, len(self.ids))).astype(np.int64))
        volumes = []
        for n in counts.tolist():
            feasible = np.flatnonzero((self.violation[:n] == 0) & finite[:n])
            rows = self.rows[feasible]
            volumes.append(hypervolume(rows[nondominated(rows)], nadir) if len(rows) else 0.0)
        return counts, np.array(volumes)


def read_objectives(run_dir: Path) -> LineageObjectives:
    """The objective values of every evaluation of a multi-objective run; a UserError for a single-objective run."""
    config = load_config(run_dir)
    objectives = ObjectiveSet.from_config(config.objectives, config.constraints, config.count_rejected)
    if objectives is None:
        raise UserError(f"{run_dir} searched one fitness; start a run with --objective METRIC (twice or more) to search a front")
    table, _ = read_lineage(run_dir / LINEAGE_DIR)
    table = table.select(["id", "fitness", "status", "metrics"]).sort_by("id")
    columns = table.to_pydict()
    rows, violation = objectives.rows_of_metrics(columns["fitness"], columns["metrics"], columns["status"])
    signs = np.array([-1.0 if o.maximise else 1.0 for o in objectives.objectives])
    return LineageObjectives(objectives, np.array(columns["id"], dtype=np.int64), columns["status"], rows, rows * signs, violation)


def front_rows(run_dir: Path) -> list[dict[str, Any]]:
    """The front as rows (id, status, each objective by name, and ``copies``: how many evaluations share those
    values, the row naming the first), best first by the first objective, ties by id."""
    data = read_objectives(run_dir)
    names = [o.to_text() for o in data.objectives.objectives]
    out: dict[tuple[float, ...], dict[str, Any]] = {}
    for k in data.front().tolist():
        key = tuple(data.values[k].tolist())
        if key in out:
            out[key]["copies"] += 1
            continue
        row: dict[str, Any] = {"id": int(data.ids[k]), "status": data.status[k]}
        row.update({name: float(v) for name, v in zip(names, key)})
        row["copies"] = 1
        out[key] = row
    first = names[0]
    sign = -1.0 if data.objectives.objectives[0].maximise else 1.0
    return sorted(out.values(), key=lambda r: (sign * r[first], r["id"]))
