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

from evonas.genomes import Mutation, Space
from evonas.rng import MUTATE

from .base import Candidate, Member, Result, Strategy


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

    name = "neat"

    def __init__(
        self, space: Space, seed: int, budget: int, population: int = 150, threshold: float = 3.0, stagnation: int = 15,
        population_stagnation: int = 20, elitism_min_size: int = 6, survival: float = 0.4, mutation_only: float = 0.25,
        interspecies: float = 0.001, mutate_after_crossover: float = 0.8,
    ) -> None:
        super().__init__(space, seed, budget)
        if self.tracker is None or not hasattr(space, "crossover") or not hasattr(space, "distance"):
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
        self.fitness: dict[int, float] = {}
        self.species: list[Species] = []
        self.next_species = 0
        self.best_fitness = -math.inf
        self.best_improved = 0
        self.last_species_count = 0

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
            self.current = [self._random_candidate(i) for i in range(self.population_size)]
        end = min(self.generation_start + len(self.current), self.budget, self.next_id + max(0, n))
        out = self.current[self.next_id - self.generation_start : end - self.generation_start]
        self.next_id += len(out)
        return out

    def tell(self, results: list[Result], candidates: list[Candidate]) -> None:
        """Fold results in; the last result of a generation triggers reproduction."""
        super().tell(results, candidates)
        if self.current and self.told == self.generation_start + len(self.current):
            self._reproduce()

    def _propose(self, ident: int) -> Candidate:  # pragma: no cover - ask is overridden
        raise NotImplementedError

    def _fold(self, candidate: Candidate, result: Result) -> None:
        self.fitness[candidate.id] = result.fitness if result.ok else math.nan

    # -- one generation ----------------------------------------------------------------------------
    def _scores(self) -> dict[int, float]:
        """Fitness for selection: failures count as the worst value; shifted so that all are >= 0 for sharing."""
        raw = {c.id: self.fitness[c.id] for c in self.current}
        finite = [f for f in raw.values() if not math.isnan(f)]
        floor = min(finite) if finite else 0.0
        shift = -floor if floor < 0 else 0.0
        return {i: (shift + (floor if math.isnan(f) else f)) for i, f in raw.items()}

    def _speciate(self, members: list[Member]) -> list[tuple[Species, list[Member]]]:
        """First-fit speciation against last generation's representatives ([EC02] 3.3), in one compiled call."""
        from evonas.genomes.neat import population_ir
        from evonas.kernels.neat_cpu import first_fit_species

        space: Any = self.space
        reps = population_ir([s.representative.genome for s in self.species]) if self.species else None
        slots = first_fit_species(population_ir([m.genome for m in members]), reps, self.threshold, space.c1, space.c2, space.c3, space.normalize_below)
        groups: list[tuple[Species, list[Member]]] = [(s, []) for s in self.species]
        for member, slot in zip(members, slots.tolist()):
            if slot == len(groups):  # founds a new species, with itself as the representative
                groups.append((Species(self.next_species, member, -math.inf, self.generation), []))
                self.next_species += 1
            groups[slot][1].append(member)
        return [(s, g) for s, g in groups if g]

    def _reproduce(self) -> None:
        scores = self._scores()
        members = [Member(c.id, scores[c.id], c.genome) for c in self.current]
        groups = self._speciate(members)
        for species, group in groups:
            top = max(m.fitness for m in group)
            if top > species.best:
                species.best, species.improved = top, self.generation
        top = max(m.fitness for m in members)
        if top > self.best_fitness:
            self.best_fitness, self.best_improved = top, self.generation
        # Stagnant species may not reproduce; a flat population restricts reproduction to the two best species.
        by_best = sorted(range(len(groups)), key=lambda i: -max(m.fitness for m in groups[i][1]))
        if self.generation - self.best_improved > self.population_stagnation:
            allowed = set(by_best[:2])
            for i in allowed:
                groups[i][0].improved = self.generation
            self.best_improved = self.generation
        else:
            allowed = {i for i, (s, _) in enumerate(groups) if self.generation - s.improved < self.stagnation}
            if not allowed:
                allowed = {by_best[0]}
        shares = np.array([np.mean([m.fitness for m in g]) if i in allowed else 0.0 for i, (_, g) in enumerate(groups)])
        quotas = _allot(shares, np.array([i in allowed for i in range(len(groups))]), self.population_size)
        self.tracker.new_generation()
        children: list[Candidate] = []
        survivors_of: dict[int, list[Member]] = {}
        for i, (_, group) in enumerate(groups):
            ranked = sorted(group, key=lambda m: (-m.fitness, m.id))
            survivors_of[i] = ranked[: max(1, math.ceil(self.survival * len(ranked)))]
        next_id = self.generation_start + len(self.current)
        breeders = [i for i in range(len(groups)) if quotas[i] > 0]
        for i in breeders:
            others = [survivors_of[j] for j in breeders if j != i]
            quota = int(quotas[i])
            group = groups[i][1]
            survivors = survivors_of[i]
            if len(group) >= self.elitism_min_size:  # [EC02]: champions of species with more than five networks
                champion = survivors[0]
                children.append(Candidate(next_id, champion.id, None, next_id, champion.genome, Mutation("elite")))
                next_id += 1
                quota -= 1
            for _ in range(quota):
                children.append(self._offspring(next_id, survivors, others))
                next_id += 1
        # Next generation's representatives: a random member of each species that lives on.
        self.species = []
        for i in breeders:
            species, group = groups[i]
            species.representative = group[int(self.rng.integers(len(group)))]
            self.species.append(species)
        self.last_species_count = len(groups)
        self.generation += 1
        self.generation_start += len(self.current)
        self.current = children
        self.fitness = {}

    def _offspring(self, ident: int, survivors: list[Member], others: list[list[Member]]) -> Candidate:
        rng = self.keyed.at(MUTATE, ident)
        mom = survivors[int(rng.random() * len(survivors))]
        if rng.random() < self.mutation_only or len(survivors) == 1 and not (others and rng.random() < self.interspecies):
            child, mutation = self._mutate(mom.genome, rng)
            return Candidate(ident, mom.id, None, ident, child, mutation)
        if others and rng.random() < self.interspecies:
            pool = others[int(rng.random() * len(others))]
        else:
            pool = survivors
        dad = pool[int(rng.random() * len(pool))]
        fitter, other = (mom, dad) if mom.fitness >= dad.fitness else (dad, mom)
        child = self.space.crossover(fitter.genome, other.genome, rng, equal=mom.fitness == dad.fitness)  # type: ignore[attr-defined]
        kind = "crossover"
        if rng.random() < self.mutate_after_crossover:
            child, mutation = self._mutate(child, rng)
            kind = "crossover" if mutation.kind == "clone" else f"crossover+{mutation.kind}"
        return Candidate(ident, fitter.id, other.id, ident, child, Mutation(kind))

    # -- state -------------------------------------------------------------------------------------
    def rewind(self, rng_state: dict[str, Any]) -> None:
        """Hand the interrupted members out again; a generation is only made in ``tell``."""
        super().rewind(rng_state)
        for ident in [i for i in self.fitness if i >= self.told]:
            del self.fitness[ident]

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
        for ident, parent, second, kind in state["told_members"]:
            m = members[int(ident)]
            current.append(Candidate(m.id, parent, second, m.id, m.genome, None if kind is None else Mutation(kind)))
            self.fitness[m.id] = m.fitness
        for ident, parent, second, kind, genome in state["untold_members"]:
            current.append(Candidate(int(ident), parent, second, int(ident), self.space.genome_from_dict(genome), None if kind is None else Mutation(kind)))
        self.current = current
        self.species = [Species(int(i), members[int(rep)], _none_to_minus_inf(best), int(improved)) for i, rep, best, improved in state["species"]]
        self.next_species = int(state["next_species"])
        self.best_fitness = _none_to_minus_inf(state["best_fitness"])
        self.best_improved = int(state["best_improved"])
        self.last_species_count = int(state["last_species_count"])

    def members(self) -> list[Member]:
        """Told members of the current generation, species representatives and the best in history."""
        told = [Member(c.id, self.fitness[c.id], c.genome) for c in self.current if c.id < self.told]
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
