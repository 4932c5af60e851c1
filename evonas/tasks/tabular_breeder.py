"""The Python side of the tabular benchmarks' compiled aging loop (``kernels/choice_search.py``).

``ChoiceBreeder`` stands in for ask -> evaluate -> tell of whole batches, as ``BreedsCompiled`` describes: it
reads the strategy's random stream and per-id mutation seeds as the batch path does, so the lineage is the batch
path's, and hands the run a ``Brood`` and a ``ResultBatch`` (columns; no object per child)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from evonas.core import Brood, Member, ResultBatch
from evonas.rng import MUTATE, derive_seeds
from evonas.tables.table import BenchmarkTable

#: Children per kernel call: a call then takes a few milliseconds, so progress and stops are seen often.
CHILDREN_PER_CALL = 20_000


class ChoiceBreeder:
    """Runs batches of aging evolution over a choice space scored by a table (see module docstring)."""

    def __init__(self, table: BenchmarkTable, strategy: Any, batch: int, worker: str = "") -> None:
        self.table, self.strategy, self.batch, self.worker = table, strategy, batch, worker
        self.space = strategy.space
        size = strategy.population_size
        self.ring_codes = np.zeros(size, dtype=np.int64)
        self.ring_fitness = np.zeros(size)
        self.ring_ids = np.zeros(size, dtype=np.int64)
        self.ring_head = np.zeros(1, dtype=np.int64)
        self.batches_per_call = max(1, CHILDREN_PER_CALL // batch)
        self._told: int | None = None  # the strategy's told count when the ring last matched its population
        self._tables = self.space.rules.kernel_tables()

    def _load_ring(self) -> None:
        members = list(self.strategy.population)
        self.ring_codes[:] = [m.genome.code for m in members]
        self.ring_fitness[:] = [m.fitness for m in members]
        self.ring_ids[:] = [m.id for m in members]
        self.ring_head[0] = 0

    def members(self) -> list[Member]:
        """The ring's members in age order."""
        size = len(self.ring_ids)
        order = (self.ring_head[0] + np.arange(size)) % size
        genome = self.space.genome_of_code
        return [Member(i, f, genome(c)) for i, f, c in zip(self.ring_ids[order].tolist(), self.ring_fitness[order].tolist(),
                                                          self.ring_codes[order].tolist())]

    def breed(self, max_train_steps: int | None = None) -> tuple[Brood, ResultBatch] | None:
        """Up to ``CHILDREN_PER_CALL`` children in whole batches, told; None where only the batch path applies (the
        initial population, a partial last batch, a population that is not full)."""
        from evonas.kernels.choice_search import breed

        strategy, batch = self.strategy, self.batch
        size = strategy.population_size
        batches = strategy.compiled_batches(batch, self.batches_per_call)
        if not batches:
            return None
        if self._told != strategy.told:  # something else told since the last call: read the population again
            if len(strategy.population) != size:
                return None
            self._load_ring()
        started = time.perf_counter()
        count = batches * batch
        draws, _ = strategy.draw_tournaments(count)
        ids = np.arange(strategy.next_id, strategy.next_id + count, dtype=np.int64)
        seeds = derive_seeds(strategy.seed, MUTATE, ids)
        children = np.empty(count, dtype=np.int64)
        parents = np.empty(count, dtype=np.int64)
        fitness = np.empty(count)
        changes = np.empty((count, 3), dtype=np.int64)
        breed(batches, batch, draws, self.ring_codes, self.ring_fitness, self.ring_ids, self.ring_head, self.table.fitness, seeds,
              strategy.next_id, *self._tables, children, parents, fitness, changes)
        _, metrics = self.table.lookup(children)
        results = ResultBatch(ids.tolist(), fitness, metrics, (time.perf_counter() - started) / count, self.worker)
        index, mutations = self.space.mutation_texts().coded(changes)
        genome = self.space.genome_of_code
        brood = Brood(ids, parents, index, mutations, lambda k: genome(int(children[k])))
        strategy.tell_bred(brood, results, self.members)
        self._told = strategy.told
        return brood, results
