"""NSGA-II (Deb, Pratap, Agarwal & Meyarivan 2002) in ask/tell form: generational, elitist, multi-objective.

A generation of ``population`` children is bred from the current parents: each child mutates the winner of a
binary tournament (two draws with replacement; lower Pareto front wins, then larger crowding distance, then
the first drawn). Once the whole generation is told, parents and children together are sorted into fronts
under constrained domination and the next parents are the best ``population`` by front, then crowding
distance (ties by id). The first generation is random. Families offer no crossover outside NEAT, so
variation is mutation alone. With one objective and no constraint it is a (mu + mu) elitist GA on fitness.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evonas.core import Candidate, Member, Result
from evonas.genomes.base import Space
from evonas.objectives import ObjectiveSet
from evonas.pareto import crowded_keys, crowded_winners, decode_row, encode_row

from .base import Strategy


class Nsga2(Strategy):
    """Generations of ``population`` children; parents are the best of parents and children by front and crowding."""

    name = "nsga2"
    multi_objective = True
    supports_async = False  # a generation is selected only once all of it is told

    def __init__(self, space: Space, seed: int, budget: int, population: int = 100) -> None:
        super().__init__(space, seed, budget)
        if population < 2:
            raise ValueError(f"population must be at least 2, got {population}")
        self.population_size = population
        self.parents: list[Member] = []  # the current parents, in selection order
        self.children: list[Member] = []  # this generation's told children, in id order
        self._rows: dict[int, tuple[np.ndarray, float]] = {}  # objective row and violation of parents and children
        self._keys: tuple[np.ndarray, np.ndarray] | None = None  # the parents' front and crowding, made once per generation

    def options(self) -> dict[str, Any]:
        """The population (and generation) size."""
        return {"population": self.population_size}

    def _objective_set(self) -> ObjectiveSet:
        from evonas.objectives import FITNESS, Objective

        return self.objectives or ObjectiveSet((Objective(FITNESS, True),))

    def _generation_end(self) -> int:
        """The id after the last child of the generation now being bred."""
        size = self.population_size
        return (self.told // size + 1) * size

    def ask(self, n: int) -> list[Candidate]:
        """Up to ``n`` children, never past the generation now being bred (nor the budget)."""
        n = min(n, self._generation_end() - self.next_id)
        return super().ask(n)

    def _propose(self, ident: int) -> Candidate:
        if ident < self.population_size:
            return self._random_candidate(ident)
        if self._keys is None:
            rows = np.array([self._rows[m.id][0] for m in self.parents])
            violation = np.array([self._rows[m.id][1] for m in self.parents])
            self._keys = crowded_keys(rows, violation)
        draws = (self.rng.random((1, 2)) * len(self.parents)).astype(np.int64)
        parent = self.parents[int(crowded_winners(*self._keys, draws)[0])]
        [(child, mutation)] = self._mutate_children([parent.genome], [ident])
        return Candidate(ident, parent.id, None, ident, child, mutation)

    def tell(self, results: list[Result], candidates: list[Candidate]) -> None:
        """Record the children; once the generation is complete, select the next parents."""
        self._note_best(results, candidates)
        rows, violation = self._objective_set().rows(results)
        fitness = [r.fitness for r in results]
        for c, f, row, v in zip(candidates, fitness, rows, violation.tolist()):
            self.children.append(Member(c.id, f, c.genome))
            self._rows[c.id] = (row, v)
        self.told += len(results)
        if self.told % self.population_size == 0:
            self._select()

    def _select(self) -> None:
        pool = self.parents + self.children
        rows = np.array([self._rows[m.id][0] for m in pool])
        violation = np.array([self._rows[m.id][1] for m in pool])
        ranks, crowding = crowded_keys(rows, violation)
        order = np.lexsort((np.array([m.id for m in pool]), -crowding, ranks))  # front, then crowding, then id
        self.parents = [pool[i] for i in order[: self.population_size].tolist()]
        self.children = []
        self._rows = {m.id: self._rows[m.id] for m in self.parents}
        self._keys = None

    def state_dict(self) -> dict[str, Any]:
        """Base state plus parent and told-children ids and their objective rows."""
        return {
            **super().state_dict(),
            "parents": [m.id for m in self.parents],
            "children": [m.id for m in self.children],
            "objective_rows": {str(i): encode_row(np.append(*r)) for i, r in self._rows.items()},
        }

    def load_state_dict(self, state: dict[str, Any], members: dict[int, Member]) -> None:
        """Restore parents, told children and their rows."""
        super().load_state_dict(state, members)
        self.parents = [members[int(i)] for i in state["parents"]]
        self.children = [members[int(i)] for i in state["children"]]
        rows = {int(k): decode_row(v) for k, v in state["objective_rows"].items()}
        self._rows = {k: (v[:-1], float(v[-1])) for k, v in rows.items()}
        self._keys = None

    def population_members(self) -> list[Member]:
        """The current parents."""
        return list(self.parents)

    def members(self) -> list[Member]:
        """Parents, told children and the best."""
        return self.parents + self.children + super().members()
