"""Objectives and constraints of a multi-objective run (``--objective METRIC[:max|min]``, ``--constraint
"METRIC<=VALUE"``), and how they are read off evaluation results.

An objective names ``fitness`` or a metric the task logs. Values are turned into rows to *minimise*
(maximised objectives negated) for ``evonas.pareto``; a constraint's violation is how far a row is past its
bound (0 when it holds), summed over constraints, infinite when the metric is missing (a failed evaluation).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evonas.core import Result, ResultBatch
from evonas.errors import UserError

FITNESS = "fitness"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class Objective:
    """A metric and whether it is maximised."""

    metric: str
    maximise: bool = True

    def to_text(self) -> str:
        """The ``--objective`` form."""
        return f"{self.metric}:{'max' if self.maximise else 'min'}"


@dataclass(frozen=True)
class Constraint:
    """``metric <= bound`` or ``metric >= bound``."""

    metric: str
    at_most: bool
    bound: float

    def to_text(self) -> str:
        """The ``--constraint`` form."""
        return f"{self.metric}{'<=' if self.at_most else '>='}{self.bound:g}"


def parse_objective(text: str) -> Objective:
    """``METRIC``, ``METRIC:max`` or ``METRIC:min``; a UserError names the form."""
    metric, _, sense = str(text).strip().partition(":")
    sense = sense or "max"
    if not _NAME.match(metric) or sense not in ("max", "min"):
        raise UserError(f"--objective {text!r} is not METRIC[:max|min]; write e.g. --objective latency:min")
    return Objective(metric, sense == "max")


def parse_constraint(text: str) -> Constraint:
    """``METRIC<=VALUE`` or ``METRIC>=VALUE`` with a finite VALUE; a UserError names the form."""
    match = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(<=|>=)\s*(\S+)\s*", str(text))
    if match is None:
        raise UserError(f"--constraint {text!r} is not METRIC<=VALUE or METRIC>=VALUE; write e.g. --constraint 'params<=2.0'")
    try:
        bound = float(match.group(3))
    except ValueError:
        bound = math.nan
    if not math.isfinite(bound):
        raise UserError(f"--constraint {text!r} needs a finite number after {match.group(2)}; write e.g. --constraint 'params<=2.0'")
    return Constraint(match.group(1), match.group(2) == "<=", bound)


@dataclass(frozen=True)
class ObjectiveSet:
    """A run's objectives and constraints, and their values for told results."""

    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...] = ()
    #: Whether a candidate rejected before evaluation (a constraint broken on a cheap metric) uses up budget.
    count_rejected: bool = False

    @classmethod
    def from_config(cls, objectives: Sequence[str] | None, constraints: Sequence[str] | None, count_rejected: bool = False) -> ObjectiveSet | None:
        """The set a config's text lists describe; None for a single-objective run (fitness only, no constraint)."""
        parsed = tuple(parse_objective(o) for o in objectives or ())
        bounds = tuple(parse_constraint(c) for c in constraints or ())
        if not bounds and (not parsed or parsed == (Objective(FITNESS, True),)):
            return None
        return cls(parsed or (Objective(FITNESS, True),), bounds, bool(count_rejected))

    @property
    def metrics(self) -> list[str]:
        """Every metric the set reads (objectives first)."""
        names = [o.metric for o in self.objectives]
        return names + [c.metric for c in self.constraints if c.metric not in names]

    def check_metrics(self, logged: Sequence[str] | None, task: str) -> None:
        """A UserError unless every metric is ``fitness`` or one the task declares it logs."""
        unknown = [m for m in self.metrics if m != FITNESS and (logged is None or m not in logged)]
        if not unknown:
            return
        if logged is None:
            raise UserError(f"task {task!r} does not declare the metrics it logs, so {unknown[0]!r} cannot be checked; "
                            "give its class a metric_names classmethod (see docs/pareto.md)")
        raise UserError(f"task {task!r} logs no metric {unknown[0]!r}; objectives and constraints can use fitness, {', '.join(logged)}")

    def rows(self, results: Sequence[Result]) -> tuple[np.ndarray, np.ndarray]:
        """Objective rows to minimise (n x objectives; NaN for a failure or a missing metric) and each row's
        constraint violation."""
        n = len(results)
        columns = {m: self._column(results, m) for m in self.metrics}
        rows = np.empty((n, len(self.objectives)))
        for k, objective in enumerate(self.objectives):
            values = columns[objective.metric]
            rows[:, k] = -values if objective.maximise else values
        violation = np.zeros(n)
        for c in self.constraints:
            values = columns[c.metric]
            past = values - c.bound if c.at_most else c.bound - values
            violation += np.where(np.isnan(values), np.inf, np.maximum(past, 0.0))
        failed = np.isnan(rows).any(axis=1)
        rows[failed] = np.nan
        return rows, violation

    @staticmethod
    def _column(results: Sequence[Result], metric: str) -> np.ndarray:
        if isinstance(results, ResultBatch):
            if metric == FITNESS:
                return np.asarray(results.fitness, dtype=np.float64)
            column = results.metrics.get(metric)
            values = np.full(len(results), np.nan) if column is None else np.asarray(column, dtype=np.float64)
            return np.where(results.ok, values, np.nan)
        if metric == FITNESS:
            return np.array([r.fitness if r.ok else math.nan for r in results], dtype=np.float64)
        # a rejected row keeps its cheap metrics: a constraint on them is what rejected it
        return np.array([float(r.metrics.get(metric, math.nan)) if r.ok or r.status == "rejected" else math.nan for r in results],
                        dtype=np.float64)

    def rows_of_metrics(self, fitness: Sequence[float | None], metrics: Sequence[Mapping[str, Any] | None],
                        statuses: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``rows`` for lineage columns: fitness (None for a failure), each row's metrics mapping and status."""
        results = [Result(0, math.nan if f is None else float(f), s if f is None else "ok", "", dict(m or {}))
                   for f, m, s in zip(fitness, metrics, statuses or ["failed"] * len(fitness))]
        return self.rows(results)
