"""Speciated generational reproduction of NEAT ([EC02] 3.3 and 4.1), in ask/tell form.

A generation is fully made before it is handed out, so ``ask`` only deals out its members and ``tell``
reproduces once the whole generation has been told. Speciation, sharing, stagnation, elitism and mating
use the strategy's generator and each child's keyed generator (run seed, id), so the next generation is a
pure function of the state, which the checkpoint holds in full (counters, innovation registry, species).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from evonas.capabilities import Speciates, TracksInnovations
from evonas.core import Candidate, Member, Result, ResultBatch
from evonas.genomes.base import Mutation, Space
from evonas.genomes.ir import NeatPopulationIR
from evonas.genomes.neat import NeatGenome, mutation_of, population_ir
from evonas.rng import INIT, MUTATE, derive_seeds

from .base import Strategy


@dataclass
class Species:
    """A species: its representative (a member of the previous generation), best fitness and when it improved."""

    id: int
    representative: Member
    best: float
    improved: int  # generation of the last improvement of ``best``


class NeatReproduction(Strategy):
    """Generational NEAT: first-fit speciation, explicit fitness sharing, stagnation, elitism, crossover."""

    supports_async = False  # the checkpoint splits a generation into a told prefix and an untold rest
    space_needs = (TracksInnovations, Speciates)

    name = "neat"

    def __init__(
        self, space: Space, seed: int, budget: int, population: int = 150, threshold: float = 3.0, stagnation: int = 15,
        population_stagnation: int = 20, elitism_min_size: int = 6, survival: float = 0.4, mutation_only: float = 0.25,
        interspecies: float = 0.001, mutate_after_crossover: float = 0.8,
    ) -> None:
        super().__init__(space, seed, budget)
        if not self.searches(space):
            raise ValueError(f"the neat strategy needs a genome family with innovation numbers and crossover, not {space.kind!r}")
        if population < 2:
            raise ValueError(f"population must be at least 2, got {population}")
        for name, value in (("survival", survival), ("mutation_only", mutation_only), ("interspecies", interspecies),
                            ("mutate_after_crossover", mutate_after_crossover)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        if threshold <= 0 or stagnation < 1 or population_stagnation < 1 or elitism_min_size < 1:
            raise ValueError("threshold, stagnation, population_stagnation and elitism_min_size must be positive")
        self.population_size = population
        self.threshold = threshold
        self.stagnation = stagnation
        self.population_stagnation = population_stagnation
        self.elitism_min_size = elitism_min_size
        self.survival = survival
        self.mutation_only = mutation_only
        self.interspecies = interspecies
        self.mutate_after_crossover = mutate_after_crossover
        self.generation = 0
        self.generation_start = 0  # id of the generation's first member
        self.current: list[Candidate] = []
        self.fitness = np.zeros(0)  # raw fitness of the current generation by position (NaN: failed); told ones are valid
        self.species: list[Species] = []
        self.next_species = 0
        self.best_fitness = -math.inf
        self.best_improved = 0
        self.last_species_count = 0
        self._parameters: np.ndarray = space.parameters(mutation_only, interspecies, mutate_after_crossover)  # type: ignore[attr-defined]
        self._population: NeatPopulationIR | None = None  # the current generation's arrays (None after a resume)

    def options(self) -> dict[str, Any]:
        """The reproduction settings: [EC02] 4.1 values; ``survival`` (the share of each species, best first, that
        may parent offspring) is left open by the paper: 0.4 gave the fewest XOR evaluations in our sweep (0.2-0.6)."""
        return {
            "population": self.population_size, "threshold": self.threshold, "stagnation": self.stagnation,
            "population_stagnation": self.population_stagnation, "elitism_min_size": self.elitism_min_size,
            "survival": self.survival, "mutation_only": self.mutation_only, "interspecies": self.interspecies,
            "mutate_after_crossover": self.mutate_after_crossover,
        }

    # -- ask / tell -------------------------------------------------------------------------------
    def ask(self, n: int) -> list[Candidate]:
        """Up to ``n`` untold members of the current generation (never past the budget)."""
        if not self.current:
            self.current, self._population = self._initial_generation()
            self.fitness = np.full(len(self.current), math.nan)
        end = min(self.generation_start + len(self.current), self.budget, self.next_id + max(0, n))
        out = self.current[self.next_id - self.generation_start : end - self.generation_start]
        self.next_id += len(out)
        return out

    def tell(self, results: list[Result], candidates: list[Candidate]) -> None:
        """Fold results in (failures as NaN); the last result of a generation triggers reproduction."""
        self._note_best(results, candidates)
        values: Any = results.fitness if isinstance(results, ResultBatch) else [r.fitness if r.ok else math.nan for r in results]
        start = self.generation_start
        if candidates and candidates[-1].id - candidates[0].id == len(candidates) - 1:  # consecutive, as asked
            self.fitness[candidates[0].id - start : candidates[-1].id - start + 1] = values
        else:
            self.fitness[[c.id - start for c in candidates]] = values
        self.told += len(results)
        if self.current and self.told == self.generation_start + len(self.current):
            self._reproduce()

    def _initial_generation(self) -> tuple[list[Candidate], NeatPopulationIR]:
        """The minimal genomes of generation 0 as one population, weights from each id's own stream."""
        space: Any = self.space
        ids = np.arange(self.population_size, dtype=np.int64)
        batch = space.initial_population(derive_seeds(self.seed, INIT, ids))
        genomes = NeatGenome.packed_rows(batch, space.bias, space.feed_forward)
        return [Candidate(i, None, None, i, genome, None) for i, genome in zip(ids.tolist(), genomes)], batch

    def _propose(self, ident: int) -> Candidate:  # pragma: no cover - ask is overridden
        raise NotImplementedError

    # -- one generation ----------------------------------------------------------------------------
    def _scores(self) -> np.ndarray:
        """Fitness for selection, in generation order: failures count as the worst value; shifted so that all are >= 0 for sharing."""
        raw = self.fitness
        failed = np.isnan(raw)
        floor = float(raw[~failed].min()) if not failed.all() else 0.0
        shift = -floor if floor < 0 else 0.0
        return shift + np.where(failed, floor, raw)

    def _member(self, row: int, scores: np.ndarray) -> Member:
        return Member(self.generation_start + row, float(scores[row]), self.current[row].genome)

    def _speciate(self, population: NeatPopulationIR, scores: np.ndarray) -> tuple[list[Species], np.ndarray]:
        """First-fit speciation against last generation's representatives ([EC02] 3.3), in one compiled call:
        the species by slot (new ones founded by their first member) and each member's slot."""
        from evonas.kernels.neat_cpu import first_fit_species

        space: Any = self.space
        reps = population_ir([s.representative.genome for s in self.species]) if self.species else None
        slots, founders = first_fit_species(population, reps, self.threshold, space.c1, space.c2, space.c3, space.normalize_below)
        species = list(self.species)
        for row in founders.tolist():  # slots of new species count up from len(species), in founding order
            species.append(Species(self.next_species, self._member(row, scores), -math.inf, self.generation))
            self.next_species += 1
        return species, slots

    def _reproduce(self) -> None:
        from evonas.kernels.neat_reproduce import rank_groups

        scores = self._scores()
        population = self._population if self._population is not None else population_ir([c.genome for c in self.current])
        species, slots = self._speciate(population, scores)
        # Members grouped by species (slot order), best first, ties to the earlier member.
        order, live, starts, tops, means = rank_groups(slots, scores, len(species))
        groups = [species[slot] for slot in live.tolist()]
        for group, top in zip(groups, tops.tolist()):
            if top > group.best:
                group.best, group.improved = top, self.generation
        top = float(tops.max())
        if top > self.best_fitness:
            self.best_fitness, self.best_improved = top, self.generation
        # Stagnant species may not reproduce; a flat population restricts reproduction to the two best species.
        by_best = np.argsort(-tops, kind="stable")
        allowed = np.zeros(len(groups), dtype=bool)
        if self.generation - self.best_improved > self.population_stagnation:
            allowed[by_best[:2]] = True
            for i in by_best[:2].tolist():
                groups[i].improved = self.generation
            self.best_improved = self.generation
        else:
            allowed[:] = [self.generation - g.improved < self.stagnation for g in groups]
            if not allowed.any():
                allowed[by_best[0]] = True
        quotas = _allot(np.where(allowed, means, 0.0), allowed, self.population_size)
        self.tracker.new_generation()
        children = self._breed(population, scores, order, starts, quotas)
        # Next generation's representatives: a random member of each species that lives on.
        self.species = []
        breeders = np.flatnonzero(quotas).tolist()
        for i, u in zip(breeders, self.rng.random(len(breeders)).tolist()):
            size = int(starts[i + 1] - starts[i])
            groups[i].representative = self._member(int(order[starts[i] + min(int(u * size), size - 1)]), scores)
            self.species.append(groups[i])
        self.last_species_count = len(groups)
        self.generation += 1
        self.generation_start += len(self.current)
        self.current, self._population = children
        self.fitness = np.full(len(self.current), math.nan)

    def _breed(self, population: NeatPopulationIR, scores: np.ndarray, order: np.ndarray, starts: np.ndarray,
               quotas: np.ndarray) -> tuple[list[Candidate], NeatPopulationIR]:
        """The next generation in one compiled call (``kernels/neat_reproduce.breed``), and its population arrays."""
        from evonas.kernels.neat_reproduce import breed

        space: Any = self.space
        children = int(quotas.sum())
        first_id = self.generation_start + len(self.current)
        seeds = derive_seeds(self.seed, MUTATE, np.arange(first_id, first_id + children, dtype=np.int64))
        registry, counters = self.tracker.arrays(spare=2 * children + 1)
        p = population
        *arrays, first_parent, second_parent, codes = breed(
            p.conn_offset, p.innovation, p.source, p.target, p.weight, p.enabled, p.hidden_offset, p.hidden, scores, order, starts,
            quotas, self.survival, self.elitism_min_size, seeds, self._parameters, registry, counters)
        self.tracker.absorb(registry, counters)
        for array in arrays:
            array.setflags(write=False)
        offset, innovation, source, target, weight, enabled, hidden_offset, hidden = arrays
        batch = NeatPopulationIR(p.n_inputs, p.n_outputs, offset, innovation, source, target, weight, enabled, hidden_offset, hidden)
        start = self.generation_start
        codes_list = codes.tolist()
        mutations = {code: mutation_of(code) for code in set(codes_list)}
        genomes = NeatGenome.packed_rows(batch, space.bias, space.feed_forward)
        return [
            Candidate(first_id + c, start + mom, None if dad < 0 else start + dad, first_id + c, genome, mutations[code])
            for c, mom, dad, code, genome in zip(range(children), first_parent.tolist(), second_parent.tolist(), codes_list, genomes)
        ], batch

    # -- state -------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Counters, species, and the current generation (told members by id, untold ones in full)."""
        untold = [
            [c.id, c.parent_id, c.second_parent_id, None if c.mutation is None else c.mutation.kind, c.genome.to_dict()]
            for c in self.current if c.id >= self.told
        ]
        told = [[c.id, c.parent_id, c.second_parent_id, None if c.mutation is None else c.mutation.kind] for c in self.current if c.id < self.told]
        return {
            **super().state_dict(), "generation": self.generation, "generation_start": self.generation_start,
            "told_members": told, "untold_members": untold,
            "species": [[s.id, s.representative.id, _finite_or_none(s.best), s.improved] for s in self.species],
            "next_species": self.next_species, "best_fitness": _finite_or_none(self.best_fitness), "best_improved": self.best_improved,
            "last_species_count": self.last_species_count,
        }

    def load_state_dict(self, state: dict[str, Any], members: dict[int, Member]) -> None:
        """Restore counters, species and the current generation."""
        super().load_state_dict(state, members)
        self.generation = int(state["generation"])
        self.generation_start = int(state["generation_start"])
        current: list[Candidate] = []
        told_fitness = []
        for ident, parent, second, kind in state["told_members"]:
            m = members[int(ident)]
            current.append(Candidate(m.id, parent, second, m.id, m.genome, None if kind is None else Mutation(kind)))
            told_fitness.append(m.fitness)
        for ident, parent, second, kind, genome in state["untold_members"]:
            current.append(Candidate(int(ident), parent, second, int(ident), self.space.genome_from_dict(genome), None if kind is None else Mutation(kind)))
        self.current, self._population = current, None
        self.fitness = np.full(len(current), math.nan)
        self.fitness[: len(told_fitness)] = told_fitness
        self.species = [Species(int(i), members[int(rep)], _none_to_minus_inf(best), int(improved)) for i, rep, best, improved in state["species"]]
        self.next_species = int(state["next_species"])
        self.best_fitness = _none_to_minus_inf(state["best_fitness"])
        self.best_improved = int(state["best_improved"])
        self.last_species_count = int(state["last_species_count"])

    def members(self) -> list[Member]:
        """Told members of the current generation, species representatives and the best in history."""
        told = [Member(c.id, float(self.fitness[c.id - self.generation_start]), c.genome) for c in self.current if c.id < self.told]
        return told + [s.representative for s in self.species] + super().members()

    def progress_fields(self) -> dict[str, Any]:
        """Generation and species count for the live display."""
        return {"generation": self.generation, "species": self.last_species_count}


def _allot(shares: np.ndarray, allowed: np.ndarray, total: int) -> np.ndarray:
    """Offspring per species proportional to its share (largest remainder, ties to the earlier species)."""
    if not allowed.any():
        allowed = np.ones_like(allowed)
    weights = np.where(allowed, shares, 0.0)
    if weights.sum() <= 0:
        weights = allowed.astype(float)
    exact = weights / weights.sum() * total
    quotas = np.floor(exact).astype(np.int64)
    remainder = total - int(quotas.sum())
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - quotas[i]), i))
    for i in order[:remainder]:
        quotas[i] += 1
    return quotas


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _none_to_minus_inf(value: float | None) -> float:
    return -math.inf if value is None else float(value)


__all__ = ["NeatReproduction", "Species"]
