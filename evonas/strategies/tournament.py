"""Tournament selection over a growing population (Liu et al. 2018, [HIER]): nothing is ever removed."""

from __future__ import annotations

import math
from typing import Any

from evonas.core import Candidate, Member, Result
from evonas.genomes.base import Space

from .base import Strategy


class Tournament(Strategy):
    """Each child mutates the fittest of a random subset (``fraction`` of the population, at least
    ``min_size``, without replacement) of every individual evaluated so far; the population only grows."""

    name = "tournament"

    def __init__(self, space: Space, seed: int, budget: int, population: int = 200, fraction: float = 0.05, min_size: int = 2) -> None:
        super().__init__(space, seed, budget)
        if population < 1:
            raise ValueError(f"population must be positive, got {population}")
        if not 0.0 < fraction <= 1.0 or min_size < 1:
            raise ValueError("fraction must lie in (0, 1] and min_size be at least 1")
        self.population_size = population
        self.fraction = fraction
        self.min_size = min_size
        self.population: list[Member] = []

    def options(self) -> dict[str, Any]:
        """Initial population, tournament fraction and minimum size."""
        return {"population": self.population_size, "fraction": self.fraction, "min_size": self.min_size}

    def tournament_size(self) -> int:
        """k = max(min_size, round(fraction * |population|)), at most the population."""
        size = len(self.population)
        return min(size, max(self.min_size, math.floor(self.fraction * size + 0.5)))

    def _propose(self, ident: int) -> Candidate:
        if ident < self.population_size or not self.population:
            return self._random_candidate(ident)
        draws = self.rng.choice(len(self.population), self.tournament_size(), replace=False).tolist()
        parent = self.population[draws[0]]
        for i in draws[1:]:  # strict '>' keeps the first drawn among ties; NaN (a failure) never wins
            if self.population[i].fitness > parent.fitness or math.isnan(parent.fitness):
                parent = self.population[i]
        [(child, mutation)] = self._mutate_children([parent.genome], [ident])
        return Candidate(ident, parent.id, None, ident, child, mutation)

    def _fold(self, candidate: Candidate, result: Result) -> None:
        self.population.append(Member(candidate.id, result.fitness if result.ok else math.nan, candidate.genome))

    def state_dict(self) -> dict[str, Any]:
        """Base state plus every member id, in evaluation order."""
        return {**super().state_dict(), "population": [m.id for m in self.population]}

    def load_state_dict(self, state: dict[str, Any], members: dict[int, Member]) -> None:
        """Restore the population from member ids."""
        super().load_state_dict(state, members)
        self.population = [members[int(i)] for i in state["population"]]

    def population_members(self) -> list[Member]:
        """The current population, oldest first."""
        return list(self.population)

    def members(self) -> list[Member]:
        """The whole population plus the best in history."""
        return self.population + super().members()
