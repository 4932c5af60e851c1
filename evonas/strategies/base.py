"""Ask/tell strategy protocol, candidates and evaluation results."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from evonas.genomes import Genome, Mutation, Space
from evonas.rng import INIT, MUTATE, KeyedRng, derive_seeds, generator_state, new_generator, restore_generator


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


class Strategy(ABC):
    """Ask/tell search strategy with a JSON-safe state; ``budget`` counts every evaluation, initial ones included."""

    name: ClassVar[str]
    #: Whether results may be told in any order, one at a time (``--async``).
    supports_async: ClassVar[bool] = True

    def __init__(self, space: Space, seed: int, budget: int) -> None:
        self.space = space
        self.seed = seed
        self.budget = budget
        self.rng = new_generator(seed)
        self.keyed = KeyedRng(seed)
        self.next_id = 0
        self.told = 0
        self.best: Member | None = None
        # Families with historical markings (NEAT) number new genes through a tracker the strategy owns.
        new_tracker = getattr(space, "new_tracker", None)
        self.tracker: Any = new_tracker() if new_tracker is not None else None
        self._tracker_before: Any = None

    # -- protocol -------------------------------------------------------------------------------
    def ask(self, n: int) -> list[Candidate]:
        """Up to ``n`` new candidates, never past the budget."""
        if self.tracker is not None and self.next_id == self.told:
            self._tracker_before = self.tracker.copy()
        count = max(0, min(n, self.budget - self.next_id))
        out = self._propose_many(list(range(self.next_id, self.next_id + count)))
        self.next_id += count
        return out

    def _propose_many(self, idents: list[int]) -> list[Candidate]:
        """Candidates for consecutive ids, all from the current state (strategies may batch the work)."""
        return [self._propose(ident) for ident in idents]

    def tell(self, results: list[Result], candidates: list[Candidate]) -> None:
        """Fold results in, in submission order."""
        self._note_best(results, candidates)
        for candidate, result in zip(candidates, results):
            self.told += 1
            self._fold(candidate, result)

    def _note_best(self, results: Sequence[Result], candidates: list[Candidate]) -> None:
        """Keep the best told individual: the first of a batch's best, if it beats the best so far."""
        k = best_row(results)
        if k is None:
            return
        fitness = float(results.fitness[k]) if isinstance(results, ResultBatch) else results[k].fitness
        if self.best is None or fitness > self.best.fitness:
            self.best = Member(candidates[k].id, fitness, candidates[k].genome)

    def rewind(self, rng_state: dict[str, Any]) -> None:
        """Undo the asks since the last tell (an interrupted batch), so a checkpoint describes the state after it."""
        self.rng.bit_generator.state = rng_state
        self.next_id = self.told
        if self._tracker_before is not None:
            self.tracker = self._tracker_before.copy()

    @property
    def done(self) -> bool:
        """True once the whole budget has been told."""
        return self.told >= self.budget

    def options(self) -> dict[str, Any]:
        """The strategy's own settings, written to config.json."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """JSON-safe state; genomes are referenced by id (see ``members``)."""
        return {
            "name": self.name,
            "rng": generator_state(self.rng),
            "next_id": self.next_id,
            "told": self.told,
            "budget": self.budget,
            "best": None if self.best is None else self.best.id,
            **({"tracker": self.tracker.state_dict()} if self.tracker is not None else {}),
        }

    def load_state_dict(self, state: dict[str, Any], members: dict[int, Member]) -> None:
        """Restore from ``state_dict`` output and the members stored beside it in the checkpoint."""
        self.rng = restore_generator(state["rng"])
        self.told = int(state["told"])
        # Reproducible mode checkpoints with nothing in flight (next_id == told); an asynchronous run's in-flight
        # candidates are kept by the run and evaluated again on resume, so asking goes on after them.
        self.next_id = int(state.get("next_id", self.told))
        self.best = None if state["best"] is None else members[int(state["best"])]
        if self.tracker is not None:
            self.tracker = type(self.tracker).from_state(state["tracker"])

    def members(self) -> list[Member]:
        """Every individual the state refers to (for the checkpoint table)."""
        return [self.best] if self.best is not None else []

    def _mutate_children(self, parents: list[Genome], idents: list[int]) -> list[tuple[Genome, Mutation]]:
        """Children of ``parents`` (one per id), each from its own stream keyed by (run seed, id).

        Families with compiled batch mutation (``mutate_many``) take 64-bit stream seeds and do the whole
        batch in one call; the others get a keyed generator per child.
        """
        many = getattr(self.space, "mutate_many", None)
        if many is not None and self.tracker is None:
            return many(parents, derive_seeds(self.seed, MUTATE, np.array(idents, dtype=np.int64)))  # type: ignore[no-any-return]
        return [self._mutate(genome, self.keyed.at(MUTATE, ident)) for genome, ident in zip(parents, idents)]

    def _mutate(self, genome: Genome, rng: Any) -> tuple[Genome, Mutation]:
        """Mutate through the space, passing the innovation tracker to families that use one."""
        if self.tracker is not None:
            return self.space.mutate(genome, rng, self.tracker)  # type: ignore[call-arg]
        return self.space.mutate(genome, rng)

    # -- hooks --------------------------------------------------------------------------------------
    def _random_candidate(self, ident: int, initial: bool = True) -> Candidate:
        rng = self.keyed.at(INIT, ident)
        genome = self.space.initial(rng) if initial else self.space.random(rng)
        return Candidate(ident, None, None, ident, genome, None)

    @abstractmethod
    def _propose(self, ident: int) -> Candidate: ...

    def _fold(self, candidate: Candidate, result: Result) -> None:  # noqa: B027 - optional hook, no-op by default
        """Strategy-specific bookkeeping for one told result."""
