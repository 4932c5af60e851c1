"""The engine's value types: what a strategy asks (``Candidate``, ``Brood``), what an evaluation gives
(``Result``, ``ResultBatch``) and what a strategy keeps (``Member``). Executors, the store, tasks and
strategies all speak these; this module imports nothing of the engine."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evonas.genomes.base import Genome, Mutation


@dataclass(slots=True, eq=False)
class Candidate:
    """An individual to evaluate: its id, parents, birth (evaluation order), genome and the mutation that made it.

    Treat as read-only. Not frozen: a frozen dataclass sets each field through ``object.__setattr__``, which
    made building one cost 1.4 us instead of 0.3 us, a fifth of a NEAT generation's Python."""

    id: int
    parent_id: int | None
    second_parent_id: int | None
    birth: int
    genome: Genome
    mutation: Mutation | None


def unusable_fitness(fitness: float) -> str:
    """The error of an evaluation whose fitness is not a finite number."""
    return f"fitness is {fitness}"


@dataclass(slots=True)
class Result:
    """The outcome of one evaluation; ``fitness`` is NaN unless ``status == "ok"``."""

    id: int
    fitness: float
    status: str = "ok"
    error: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    eval_seconds: float = 0.0
    worker: str = ""

    @property
    def ok(self) -> bool:
        """True when the evaluation gave a finite fitness."""
        return self.status == "ok"

    @classmethod
    def scored(cls, ident: int, fitness: float, metrics: dict[str, float], seconds: float, worker: str) -> Result:
        """A task's score as a result: a non-finite fitness is a failed evaluation that says what it got."""
        if math.isfinite(fitness):
            return cls(ident, fitness, "ok", "", metrics, seconds, worker)
        return cls(ident, math.nan, "failed", unusable_fitness(fitness), metrics, seconds, worker)


def metric_rows(metrics: dict[str, np.ndarray], count: int) -> list[dict[str, float]]:
    """Per-row metric dicts from metric columns of ``count`` rows (a NaN entry means the row lacks that metric)."""
    keys = list(metrics)
    if not keys:
        return [{} for _ in range(count)]
    return [{k: v for k, v in zip(keys, values) if v == v} for values in zip(*(metrics[k].tolist() for k in keys))]


class ResultBatch(Sequence[Result]):
    """The results of one evaluated batch as columns, in submission order (what a bulk task's
    ``evaluate_columns`` gives): it reads as a list of ``Result`` (each made on first access) for code that
    wants objects, while the strategies' ``tell`` and the lineage read the arrays and never make one.

    A non-finite fitness is a failed evaluation, as in ``Result``; a NaN in a metrics column means the row has
    no such metric."""

    __slots__ = ("ids", "raw", "fitness", "ok", "metrics", "eval_seconds", "worker", "_items")

    def __init__(self, ids: list[int], fitness: np.ndarray, metrics: dict[str, np.ndarray], eval_seconds: float, worker: str) -> None:
        self.ids = ids
        self.raw = np.asarray(fitness, dtype=np.float64)
        self.ok = np.isfinite(self.raw)
        self.fitness = np.where(self.ok, self.raw, math.nan)  # failures as NaN, as ``Result.fitness``
        self.metrics = metrics
        self.eval_seconds = eval_seconds
        self.worker = worker
        self._items: list[Result] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: Any) -> Any:
        return self.results()[index]

    def __iter__(self) -> Any:
        return iter(self.results())

    def results(self) -> list[Result]:
        """The rows as ``Result`` objects (made once)."""
        if self._items is None:
            rows = metric_rows(self.metrics, len(self.ids))
            scored = Result.scored
            self._items = [scored(i, f, m, self.eval_seconds, self.worker) for i, f, m in zip(self.ids, self.raw.tolist(), rows)]
        return self._items


class Brood(Sequence[Candidate]):
    """Children made in compiled code, as columns: ids, parents, and mutations as positions into their distinct
    values; a ``Candidate`` with its genome is made only for the rows asked for (the lineage keeps few whole)."""

    def __init__(self, ids: np.ndarray, parent_ids: np.ndarray, mutation_index: np.ndarray, mutations: list[Mutation],
                 genome_at: Any) -> None:
        self.ids = ids
        self.parent_ids = parent_ids
        self.mutation_index = mutation_index
        self.mutations = mutations
        self._genome_at = genome_at

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        ident = int(self.ids[k])
        return Candidate(ident, int(self.parent_ids[k]), None, ident, self._genome_at(k), self.mutations[self.mutation_index[k]])


def best_row(results: Sequence[Result]) -> int | None:
    """Position of the first of the best successful results of a batch (None when all failed)."""
    if isinstance(results, ResultBatch):
        if not results.ok.any():
            return None
        return int(np.argmax(np.where(results.ok, results.fitness, -math.inf)))  # argmax: the first of equals
    best = None
    for k, r in enumerate(results):
        if r.ok and (best is None or r.fitness > results[best].fitness):
            best = k
    return best


def first_solved(results: Sequence[Result]) -> int | None:
    """Position of the first successful result whose ``solved`` metric is at least 1 (None when there is none)."""
    if isinstance(results, ResultBatch):
        solved = results.metrics.get("solved")
        hits = np.flatnonzero(results.ok & (solved >= 1.0)) if solved is not None else ()
        return int(hits[0]) if len(hits) else None
    return next((k for k, r in enumerate(results) if r.ok and r.metrics.get("solved", 0.0) >= 1.0), None)


def rank_value(fitness: float) -> float:
    """Fitness for ranking: NaN (a failure) ranks below every finite value."""
    return -math.inf if math.isnan(fitness) else fitness


@dataclass(slots=True)
class Member:
    """A told individual kept by a strategy (population or best-so-far)."""

    id: int
    fitness: float
    genome: Genome
