"""The front a multi-objective search has found: every evaluated candidate that meets the constraints and that
no other such candidate dominates, kept as results are told (and in the checkpoint), with the hypervolume the
progress line shows."""

from __future__ import annotations

from typing import Any

import numpy as np

from .pareto import decode_row, encode_row, hypervolume


class ParetoArchive:
    """Ids and objective rows (to minimise) of the non-dominated feasible candidates told so far; ``nadir`` is the
    worst value of each objective over every successful evaluation (the hypervolume's reference point)."""

    def __init__(self, objectives: int) -> None:
        self.ids: list[int] = []
        self.rows = np.empty((0, objectives))
        self.nadir = np.full(objectives, -np.inf)

    def add(self, ids: list[int], rows: np.ndarray, violation: np.ndarray) -> None:
        """Fold in told candidates (rows with a NaN or a violation never join; a row equal to one already in the
        front adds nothing to it and stays out, so the front holds the first of equal candidates)."""
        finite = ~np.isnan(rows).any(axis=1)
        if finite.any():
            self.nadir = np.maximum(self.nadir, rows[finite].max(axis=0))
        for k in np.flatnonzero(finite & (violation == 0)).tolist():
            row = rows[k]
            if len(self.ids):
                no_better = np.all(self.rows <= row, axis=1)  # archive rows at least as good everywhere
                if no_better.any():
                    continue  # dominated by, or equal to, a member
                dominated = np.all(row <= self.rows, axis=1)
                if dominated.any():
                    keep = ~dominated
                    self.ids = [i for i, kept in zip(self.ids, keep.tolist()) if kept]
                    self.rows = self.rows[keep]
            self.ids.append(ids[k])
            self.rows = np.vstack((self.rows, row))

    def hypervolume(self) -> float:
        """Volume the front dominates up to the nadir of everything evaluated (0 while the front is one point)."""
        return hypervolume(self.rows, self.nadir) if len(self.ids) else 0.0

    def state_dict(self) -> dict[str, Any]:
        """JSON-safe state."""
        return {"ids": list(self.ids), "rows": [encode_row(r) for r in self.rows], "nadir": encode_row(self.nadir)}

    @classmethod
    def from_state(cls, state: dict[str, Any], objectives: int) -> ParetoArchive:
        """Inverse of ``state_dict``."""
        archive = cls(objectives)
        archive.ids = [int(i) for i in state["ids"]]
        archive.rows = np.array([decode_row(r) for r in state["rows"]], dtype=np.float64).reshape(len(archive.ids), objectives)
        archive.nadir = decode_row(state["nadir"])
        return archive
