"""The ask/tell strategy protocol."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from evonas.capabilities import MutatesInBulk, TracksInnovations
from evonas.core import Brood, Candidate, Member, Result, ResultBatch, best_row
from evonas.genomes.base import Genome, Mutation, Space
from evonas.objectives import ObjectiveSet
from evonas.pareto_archive import ParetoArchive
from evonas.rng import INIT, MUTATE, KeyedRng, derive_seeds, generator_state, new_generator, restore_generator


class Strategy(ABC):
    """Ask/tell search strategy with a JSON-safe state; ``budget`` counts every evaluation, initial ones included."""

    name: ClassVar[str]
    #: Whether results may be told in any order, one at a time (``--async``).
    supports_async: ClassVar[bool] = True
    #: Space capabilities (``evonas.capabilities`` protocols) this strategy needs; empty: it searches any space.
    space_needs: ClassVar[tuple[type, ...]] = ()
    #: Whether it searches for a Pareto front when given several objectives or constraints (``use_objectives``).
    multi_objective: ClassVar[bool] = False

    @classmethod
    def searches(cls, space: Space) -> bool:
        """Whether this strategy can search ``space`` (it has every capability in ``space_needs``)."""
        return all(isinstance(space, need) for need in cls.space_needs)

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
        self.tracker: Any = space.new_tracker() if isinstance(space, TracksInnovations) else None
        self._mutates_in_bulk = isinstance(space, MutatesInBulk)  # asked once: the check costs microseconds per child
        self._tracker_before: Any = None
        self.objectives: ObjectiveSet | None = None  # set by ``use_objectives``; None: fitness alone
        self.archive: ParetoArchive | None = None  # the front found, with several objectives
        self.free_rejections = 0  # rejected candidates that did not use up budget (the budget grew by as many)

    def use_objectives(self, objectives: ObjectiveSet) -> None:
        """Search for the Pareto front of these objectives under these constraints (before the first ask)."""
        if not self.multi_objective:
            raise ValueError(f"the {self.name} strategy searches for one fitness")
        self.objectives = objectives
        self.archive = ParetoArchive(len(objectives.objectives))

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
        """Keep the best told individual (the first of a batch's best, if it beats the best so far) and, with several
        objectives, the front found. Every tell calls it once per batch."""
        if self.objectives is not None and not self.objectives.count_rejected and not isinstance(results, ResultBatch):
            rejected = sum(1 for r in results if r.status == "rejected")
            self.budget += rejected
            self.free_rejections += rejected
        if self.archive is not None and self.objectives is not None:
            rows, violation = self.objectives.rows(results)
            ids = candidates.ids.tolist() if isinstance(candidates, Brood) else [c.id for c in candidates]
            self.archive.add(ids, rows, violation)
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

    def breeder(self, task: Any, batch: int, run_seed: int, worker: str = "") -> Any:
        """A compiled stand-in for ask -> evaluate -> tell of whole batches on ``task`` (see
        ``evonas.capabilities.BreedsCompiled``), or None: the run then asks, evaluates and tells batch by batch."""
        return None

    def progress_fields(self) -> dict[str, Any] | None:
        """Extra figures for the progress line (NEAT: generation, species; several objectives: the front's size
        and hypervolume), or None."""
        if self.archive is None:
            return None
        return {"front": len(self.archive.ids), "hv": f"{self.archive.hypervolume():.4g}"}

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
            **({"archive": self.archive.state_dict()} if self.archive is not None else {}),
            **({"free_rejections": self.free_rejections} if self.free_rejections else {}),
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
        self.free_rejections = int(state.get("free_rejections", 0))
        if self.archive is not None and "archive" in state:
            self.archive = ParetoArchive.from_state(state["archive"], self.archive.rows.shape[1])

    def population_members(self) -> list[Member]:
        """The current population in age order (the best alone for strategies that keep none)."""
        return [self.best] if self.best is not None else []

    def members(self) -> list[Member]:
        """Every individual the state refers to (for the checkpoint table)."""
        return [self.best] if self.best is not None else []

    def _mutate_children(self, parents: list[Genome], idents: list[int]) -> list[tuple[Genome, Mutation]]:
        """Children of ``parents`` (one per id), each from its own stream keyed by (run seed, id).

        Families with compiled batch mutation (``mutate_many``) take 64-bit stream seeds and do the whole
        batch in one call; the others get a keyed generator per child.
        """
        if self._mutates_in_bulk and self.tracker is None:
            seeds = derive_seeds(self.seed, MUTATE, np.array(idents, dtype=np.int64))
            return self.space.mutate_many(parents, seeds)  # type: ignore[attr-defined,no-any-return]
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
