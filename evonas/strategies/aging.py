"""Regularized (aging) evolution, Real et al. 2019, Algorithm 1."""

from __future__ import annotations

from collections import deque
from typing import Any

from evonas.genomes import Space
from evonas.rng import MUTATE

from .base import Candidate, Member, Result, Strategy, rank_value


class AgingEvolution(Strategy):
    """FIFO population of P; S draws pick the best as parent; the child joins, the oldest leaves."""

    name = "aging"

    def __init__(
        self, space: Space, seed: int, budget: int, population: int = 100, sample: int = 25,
        replace: bool = True, on_failure: str = "worst",
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
        self.population: deque[Member] = deque()

    def options(self) -> dict[str, Any]:
        """P, S, sampling with replacement, and the failure rule."""
        return {"population": self.population_size, "sample": self.sample_size, "replace": self.replace, "on_failure": self.on_failure}

    def _propose(self, ident: int) -> Candidate:
        if ident < self.population_size or not self.population:
            return self._random_candidate(ident)
        parent = self._tournament()
        child, mutation = self.space.mutate(parent.genome, self.keyed.at(MUTATE, ident))
        return Candidate(ident, parent.id, None, ident, child, mutation)

    def _tournament(self) -> Member:
        size = len(self.population)
        if self.replace:
            draws = self.rng.integers(0, size, self.sample_size)
        else:
            draws = self.rng.choice(size, min(self.sample_size, size), replace=False)
        best = None
        for i in draws.tolist():  # strict '>' keeps the first drawn among ties
            member = self.population[i]
            if best is None or rank_value(member.fitness) > rank_value(best.fitness):
                best = member
        assert best is not None
        return best

    def _fold(self, candidate: Candidate, result: Result) -> None:
        if not result.ok and self.on_failure == "ignore":
            return
        self.population.append(Member(candidate.id, result.fitness, candidate.genome))
        if len(self.population) > self.population_size:
            self.population.popleft()

    def state_dict(self) -> dict[str, Any]:
        """Base state plus the population ids in age order (oldest first)."""
        return {**super().state_dict(), "population": [m.id for m in self.population]}

    def load_state_dict(self, state: dict[str, Any], members: dict[int, Member]) -> None:
        """Restore the population from member ids."""
        super().load_state_dict(state, members)
        self.population = deque(members[int(i)] for i in state["population"])

    def members(self) -> list[Member]:
        """Population plus best in history."""
        return list(self.population) + super().members()
