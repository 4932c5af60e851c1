"""Regularized (aging) evolution, Real et al. 2019, Algorithm 1."""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from itertools import repeat
from operator import attrgetter
from typing import Any

import numpy as np

from evonas.capabilities import BreedsCompiled
from evonas.core import Candidate, Member, Result, ResultBatch, rank_value
from evonas.genomes.base import Space
from evonas.pareto import crowded_keys, crowded_winners, decode_row, encode_row

from .base import Strategy

_ID, _GENOME = attrgetter("id"), attrgetter("genome")


def tournament_winners(fitness: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Positions (into ``fitness``, the population in age order) of the winners of tournaments whose sampled
    positions are the rows of ``draws``: the fittest drawn, the first drawn among ties; a failure (NaN) never
    wins, and a tournament of failures gives its first draw. The compiled AutoML-Zero loop
    (``kernels/program_search.py``) applies this same rule, tested equal."""
    sampled = np.where(np.isnan(fitness), -np.inf, fitness)[draws]
    return draws[np.arange(len(draws)), np.argmax(sampled, axis=1)]  # type: ignore[no-any-return]


def retire_oldest(population: deque[Member], size: int) -> None:
    """Aging: drop the oldest members until the population is back to ``size``."""
    for _ in range(len(population) - size):
        population.popleft()


class AgingEvolution(Strategy):
    """FIFO population of P; S draws pick the best as parent; the child joins, the oldest leaves."""

    name = "aging"
    multi_objective = True  # Pareto aging: tournaments by front, then crowding; the oldest still dies

    def __init__(
        self, space: Space, seed: int, budget: int, population: int = 100, sample: int = 25,
        replace: bool = True, on_failure: str = "worst", aging: bool = True,
    ) -> None:
        super().__init__(space, seed, budget)
        if population < 1:
            raise ValueError(f"population must be positive, got {population}")
        if not 1 <= sample <= population:
            raise ValueError(f"sample must lie in 1..population ({population}), got {sample}")
        if on_failure not in ("worst", "ignore"):
            raise ValueError("on_failure must be 'worst' or 'ignore'")
        self.population_size = population
        self.sample_size = sample
        self.replace = replace
        self.on_failure = on_failure
        self.aging = aging
        self._population: deque[Member] | None = deque()
        self._population_source: Any = None  # see ``defer_population``
        self._samples: dict[int, list[int]] = {}  # non-aging only: each in-flight child's tournament
        # Population fitness in age order for batched tournaments: the last array plus the values folded in
        # since (FIFO: appends at the end, removals at the front); None when it must be rebuilt.
        self._fitness: np.ndarray | None = None
        self._fitness_new: list[float] = []
        # Pareto aging: each living member's objective row (to minimise) and constraint violation, by id
        self._rows: dict[int, tuple[np.ndarray, float]] = {}

    def use_objectives(self, objectives: Any) -> None:
        """Pareto aging evolution: a tournament picks by Pareto front, then crowding distance (first drawn among
        equals); the oldest member still dies."""
        if not self.aging:
            raise ValueError("several objectives need aging (the non-aging ablation removes by fitness); drop -o aging=false")
        super().use_objectives(objectives)

    @property
    def population(self) -> deque[Member]:
        """The members in age order (oldest first); made on first use after a compiled breeder has run."""
        if self._population is None:
            self._population = deque(self._population_source())
            self._population_source = None
        return self._population

    @population.setter
    def population(self, members: deque[Member]) -> None:
        self._population, self._population_source = members, None

    def defer_population(self, source: Any) -> None:
        """Let ``source()`` (a list of members in age order) stand for the population until it is next read: a
        compiled breeder keeps the population in arrays and makes member objects only when they are asked for."""
        self._population, self._population_source = None, source
        self._fitness, self._fitness_new = None, []

    # -- a compiled stand-in for whole batches (``BreedsCompiled``) works on this public state -------------
    def draw_tournaments(self, count: int) -> tuple[np.ndarray, dict[str, Any]]:
        """The uniforms of the next ``count`` tournaments, drawn as the batch path draws them
        (``random((count, S))``: row k times the population size gives tournament k's positions), and the
        random stream's state before the draw."""
        state = self.rng.bit_generator.state
        return self.rng.random((count, self.sample_size)), state

    def compiled_batches(self, batch: int, most: int) -> int:
        """How many whole batches of ``batch`` a compiled breeder may run now (at most ``most``): 0 while only the batch
        path applies (asks in flight, the initial population, a partial last batch)."""
        if self.next_id != self.told or self.next_id < self.population_size:
            return 0
        return max(0, min(most, (self.budget - self.next_id) // batch))

    def keep_draws(self, state: dict[str, Any], used: int) -> None:
        """Put the random stream where ``used`` tournaments drawn from ``state`` leave it (a compiled call that
        stopped short of what it drew, at a budget)."""
        self.rng.bit_generator.state = state
        self.rng.random((used, self.sample_size))

    def tell_bred(self, brood: Any, results: ResultBatch, population: Any) -> None:
        """Account for a batch asked, evaluated and told in compiled code: the told and asked counts move past
        it, its best may become the best, and ``population()`` (members in age order, made on demand) stands
        for the population until it is next read."""
        self._note_best(results, brood)
        self.told += len(brood)
        self.next_id += len(brood)
        self.defer_population(population)

    def breeder(self, task: Any, batch: int, run_seed: int, worker: str = "") -> Any:
        """A compiled stand-in for ask -> evaluate -> tell of whole batches, when the task offers one for this
        space and these settings (``task.breeder``); None otherwise. It gives the same lineage as the batch path;
        ``worker`` names the evaluator in the lineage rows."""
        if not isinstance(task, BreedsCompiled) or not (self.aging and self.replace and self.on_failure == "worst") or self.objectives is not None:
            return None
        return task.breeder(self, batch, run_seed, worker)

    def options(self) -> dict[str, Any]:
        """P, S, sampling with replacement, and the failure rule."""
        return {
            "population": self.population_size, "sample": self.sample_size, "replace": self.replace,
            "on_failure": self.on_failure, "aging": self.aging,
        }

    def _propose(self, ident: int) -> Candidate:
        if ident < self.population_size or not self.population:
            return self._random_candidate(ident)
        parent, sample = self._tournament()
        if not self.aging:
            self._samples[ident] = sample
        return self._child(ident, parent)

    def _child(self, ident: int, parent: Member) -> Candidate:
        [(child, mutation)] = self._mutate_children([parent.genome], [ident])
        return Candidate(ident, parent.id, None, ident, child, mutation)

    def _propose_many(self, idents: list[int]) -> list[Candidate]:
        """The batch's tournaments in one draw: ``random((k, S))`` reads the generator exactly as k calls of
        ``random(S)`` do, so the children are those of the one-by-one path, for less Python per child."""
        if not (self.aging and self.replace) or not self.population:
            return [self._propose(ident) for ident in idents]
        population = self.population
        size = len(population)
        mutated = len(idents) - bisect_left(idents, self.population_size)  # ids ascend: the initial ones come first
        draws = (self.rng.random((mutated, self.sample_size)) * size).astype(np.int64)
        members = list(population)  # indexing a deque walks its blocks; a list snapshot is O(1) per pick
        parents = [members[i] for i in self._winners(members, draws).tolist()]
        # ids are consecutive, so the initial-population ids (below P) come first
        child_ids = idents[len(idents) - mutated :]
        made = self._mutate_children([p.genome for p in parents], child_ids)
        initial = [self._random_candidate(ident) for ident in idents[: len(idents) - mutated]]
        children, mutations = zip(*made) if made else ((), ())
        return initial + list(map(Candidate, child_ids, map(_ID, parents), repeat(None), child_ids, children, mutations))

    def _population_fitness(self) -> np.ndarray:
        """Fitness of the population in age order (oldest first)."""
        size = len(self.population)
        if self._fitness is None:
            fitness = np.fromiter((m.fitness for m in self.population), dtype=np.float64, count=size)
        elif self._fitness_new:
            fitness = np.concatenate((self._fitness, np.array(self._fitness_new)))[-size:] if size else np.empty(0)
        else:
            fitness = self._fitness[len(self._fitness) - size :]
        self._fitness, self._fitness_new = fitness, []
        return fitness

    def _tournament(self) -> tuple[Member, list[int]]:
        size = len(self.population)
        if self.replace:
            draws = (self.rng.random(self.sample_size) * size).astype(np.int64)  # uniform, with replacement
        else:
            draws = self.rng.choice(size, min(self.sample_size, size), replace=False)
        population = self.population
        best = population[int(self._winners(list(population), draws[None, :])[0])]
        sample = [population[i].id for i in draws.tolist()] if not self.aging else []
        return best, sample

    def _winners(self, members: list[Member], draws: np.ndarray) -> np.ndarray:
        """Tournament winners: by fitness, or (several objectives) by Pareto front and crowding."""
        if self.objectives is None:
            return tournament_winners(self._population_fitness(), draws)
        rows = np.array([self._rows[m.id][0] for m in members])
        violation = np.array([self._rows[m.id][1] for m in members])
        ranks, crowding = crowded_keys(rows, violation)
        return crowded_winners(ranks, crowding, draws)

    def tell(self, results: list[Result], candidates: list[Candidate]) -> None:
        """Fold results in, in submission order; with aging, a batch joins at once and the oldest leave."""
        if self.objectives is not None:
            rows, violation = self.objectives.rows(results)
            for c, row, v in zip(candidates, rows, violation.tolist()):
                self._rows[c.id] = (row, v)
        if not self.aging:
            super().tell(results, candidates)
            return
        self._note_best(results, candidates)
        keep_failures = self.on_failure != "ignore"
        if isinstance(results, ResultBatch):
            kept = candidates if keep_failures else [c for c, ok in zip(candidates, results.ok.tolist()) if ok]
            values = results.fitness.tolist() if keep_failures else results.fitness[results.ok].tolist()
            joining = list(map(Member, map(_ID, kept), values, map(_GENOME, kept)))
        else:
            joining = [Member(c.id, r.fitness, c.genome) for c, r in zip(candidates, results) if keep_failures or r.ok]
            values = [m.fitness for m in joining]
        self.told += len(results)
        population = self.population
        population.extend(joining)
        self._fitness_new.extend(values)
        retire_oldest(population, self.population_size)
        if len(self._rows) > 2 * self.population_size:  # forget the rows of members that died
            alive = {m.id for m in population}
            self._rows = {i: r for i, r in self._rows.items() if i in alive}

    def _fold(self, candidate: Candidate, result: Result) -> None:
        sample = self._samples.pop(candidate.id, None) if self._samples else None
        if result.status != "ok" and self.on_failure == "ignore":
            return
        population = self.population
        population.append(Member(candidate.id, result.fitness, candidate.genome))
        self._fitness_new.append(result.fitness)
        if len(population) <= self.population_size:
            return
        if self.aging or not sample:
            retire_oldest(population, self.population_size)
            return
        # Non-aging ablation ([RE]): drop the worst member of the child's tournament that is still alive
        # (the first such in age order among ties); the oldest if the whole sample has already gone.
        alive = set(sample)
        candidates = [m for m in self.population if m.id in alive and m.id != candidate.id]
        if not candidates:
            self.population.popleft()
            return
        worst = min(candidates, key=lambda m: rank_value(m.fitness))
        self.population.remove(worst)
        self._fitness = None  # not a FIFO step: rebuild the fitness array

    def rewind(self, rng_state: dict[str, Any]) -> None:
        """Forget children asked since the last tell (see ``Strategy.rewind``)."""
        super().rewind(rng_state)
        self._samples.clear()

    def state_dict(self) -> dict[str, Any]:
        """Base state plus the population ids in age order (oldest first), and with several objectives each
        member's objective row and violation."""
        state = {**super().state_dict(), "population": [m.id for m in self.population]}
        if self.objectives is not None:
            state["objective_rows"] = {str(m.id): encode_row(np.append(*self._rows[m.id])) for m in self.population}
        return state

    def load_state_dict(self, state: dict[str, Any], members: dict[int, Member]) -> None:
        """Restore the population from member ids."""
        super().load_state_dict(state, members)
        self.population = deque(members[int(i)] for i in state["population"])
        self._fitness, self._fitness_new = None, []
        rows = {int(k): decode_row(v) for k, v in state.get("objective_rows", {}).items()}
        self._rows = {k: (v[:-1], float(v[-1])) for k, v in rows.items()}

    def population_members(self) -> list[Member]:
        """The current population, oldest first."""
        return list(self.population)

    def members(self) -> list[Member]:
        """Population plus best in history."""
        return list(self.population) + super().members()
