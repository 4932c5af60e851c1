"""Cheap metrics before evaluation: a multi-objective run whose objectives or constraints name metrics the task
measures without evaluating (``MeasuresCheaply``) measures them for every asked candidate, merges them into its
row, and does not evaluate a candidate that breaks a constraint on one of them: it is logged with status
``rejected``, the reason and its cheap metrics."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from evonas.capabilities import MeasuresCheaply
from evonas.core import Candidate, Result, metric_rows
from evonas.objectives import ObjectiveSet

REJECTED = "rejected"


class Screen:
    """The cheap metrics a run needs and the constraints it can check before evaluating."""

    def __init__(self, objectives: ObjectiveSet, task: MeasuresCheaply, cheap_names: tuple[str, ...]) -> None:
        self.task = task
        self.names = [m for m in objectives.metrics if m in cheap_names]
        self.constraints = [c for c in objectives.constraints if c.metric in cheap_names]

    @classmethod
    def for_run(cls, objectives: ObjectiveSet | None, task: Any, cheap_names: tuple[str, ...]) -> Screen | None:
        """A screen when the run names a cheap metric and the task measures them; else None."""
        if objectives is None or not isinstance(task, MeasuresCheaply) or not any(m in cheap_names for m in objectives.metrics):
            return None
        return cls(objectives, task, cheap_names)

    def measure(self, candidates: list[Candidate]) -> tuple[list[dict[str, float]], list[str | None]]:
        """Each candidate's cheap metrics, and why it is rejected (None: evaluate it)."""
        columns = self.task.cheap_metrics([c.genome for c in candidates], self.names)
        rows = metric_rows({k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}, len(candidates))
        reasons: list[str | None] = []
        for row in rows:
            broken = []
            for c in self.constraints:
                value = row.get(c.metric, math.nan)
                if math.isnan(value) or (value > c.bound if c.at_most else value < c.bound):
                    broken.append(f"{c.metric} {value:.6g} breaks {c.to_text()}")
            reasons.append("; ".join(broken) or None)
        return rows, reasons

    def evaluate(self, candidates: list[Candidate], evaluate: Any) -> list[Result]:
        """Results for ``candidates`` in order: rejected ones made here, the others from ``evaluate(subset)``, each
        with the cheap metrics merged in (an evaluation's own figure wins where both have one)."""
        cheap, reasons = self.measure(candidates)
        chosen = [c for c, r in zip(candidates, reasons) if r is None]
        evaluated = iter(list(evaluate(chosen)) if chosen else [])
        out = []
        for candidate, metrics, reason in zip(candidates, cheap, reasons):
            if reason is not None:
                out.append(Result(candidate.id, math.nan, REJECTED, reason, dict(metrics)))
                continue
            result = next(evaluated)
            out.append(Result(result.id, result.fitness, result.status, result.error, {**metrics, **result.metrics},
                              result.eval_seconds, result.worker))
        return out
