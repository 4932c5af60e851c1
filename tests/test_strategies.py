"""Aging evolution and random search semantics, and exact state round trips."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from evonas.genomes.bitstring import BitSpace
from evonas.strategies import AgingEvolution, Member, RandomSearch, Result, Strategy


def score(candidates, fail_ids=()):  # type: ignore[no-untyped-def]
    return [
        Result(c.id, math.nan, "failed", "boom") if c.id in fail_ids else Result(c.id, c.genome.ones() / c.genome.length)
        for c in candidates
    ]


def drive(strategy: Strategy, batch: int, fail_ids=()) -> list[tuple]:  # type: ignore[no-untyped-def]
    log = []
    while not strategy.done:
        candidates = strategy.ask(batch)
        strategy.tell(score(candidates, fail_ids), candidates)
        log += [(c.id, c.parent_id, c.genome.value) for c in candidates]
    return log


def test_budget_counts_the_initial_population_and_ask_never_passes_it() -> None:
    """C includes the initial P; once C are submitted, ask returns nothing."""
    strategy = AgingEvolution(BitSpace(32), seed=1, budget=37, population=10, sample=3)
    log = drive(strategy, batch=4)
    assert len(log) == 37 and strategy.ask(5) == []
    assert [parent for _, parent, _ in log[:10]] == [None] * 10
    assert all(parent is not None for _, parent, _ in log[10:])


def test_oldest_member_leaves_whatever_its_fitness() -> None:
    """Removal is by age only: after each tell the population is the P most recent children."""
    strategy = AgingEvolution(BitSpace(16), seed=2, budget=60, population=8, sample=4)
    drive(strategy, batch=1)
    assert [m.id for m in strategy.population] == list(range(52, 60))


def test_parent_is_the_best_of_the_sample_and_ties_go_to_the_first_drawn() -> None:
    """Replaying the tournament draws from the saved RNG state picks the same parent."""
    strategy = AgingEvolution(BitSpace(8), seed=3, budget=200, population=6, sample=3)
    while strategy.told < 50:
        state = strategy.rng.bit_generator.state
        population = list(strategy.population)
        candidates = strategy.ask(1)
        if candidates[0].parent_id is not None:
            rng = np.random.Generator(np.random.PCG64())
            rng.bit_generator.state = state
            draws = (rng.random(3) * len(population)).astype(int).tolist()
            best = max(range(3), key=lambda k: (population[draws[k]].fitness, -k))
            assert candidates[0].parent_id == population[draws[best]].id
        strategy.tell(score(candidates), candidates)


def test_failures_rank_worst_and_enter_the_queue_by_default() -> None:
    """on_failure='worst' appends failed children; 'ignore' skips them; both count toward C."""
    fails = set(range(0, 40, 3))
    worst = AgingEvolution(BitSpace(16), seed=4, budget=40, population=5, sample=2)
    drive(worst, 1, fails)
    assert worst.told == 40 and any(math.isnan(m.fitness) for m in worst.population) is (39 in fails or 36 in fails)
    ignore = AgingEvolution(BitSpace(16), seed=4, budget=40, population=5, sample=2, on_failure="ignore")
    drive(ignore, 1, fails)
    assert ignore.told == 40 and not any(math.isnan(m.fitness) for m in ignore.population)
    assert worst.best is not None and not math.isnan(worst.best.fitness)


def test_best_is_the_best_in_history_not_in_the_final_population() -> None:
    """The result is the highest-fitness model ever evaluated."""
    strategy = AgingEvolution(BitSpace(64), seed=5, budget=300, population=10, sample=2)
    drive(strategy, 3)
    assert strategy.best is not None
    assert strategy.best.fitness >= max(m.fitness for m in strategy.population)


def test_random_search_has_no_parents_and_the_same_budget() -> None:
    """The baseline draws independent random genomes."""
    strategy = RandomSearch(BitSpace(16), seed=6, budget=25)
    log = drive(strategy, 4)
    assert len(log) == 25 and all(parent is None for _, parent, _ in log)


@pytest.mark.parametrize("cls", [AgingEvolution, RandomSearch])
def test_state_round_trip_continues_identically(cls) -> None:  # type: ignore[no-untyped-def]
    """Saving state (as JSON) after a tell and loading it into a fresh strategy gives the same continuation."""
    kwargs = {"population": 7, "sample": 3} if cls is AgingEvolution else {}
    a = cls(BitSpace(24), seed=9, budget=90, **kwargs)
    b = cls(BitSpace(24), seed=9, budget=90, **kwargs)
    for _ in range(9):
        c = a.ask(3)
        a.tell(score(c), c)
    state = json.loads(json.dumps(a.state_dict()))
    members = {m.id: Member(m.id, m.fitness, m.genome) for m in a.members()}
    b.load_state_dict(state, members)
    assert drive(a, 3) == drive(b, 3)


def test_bad_settings_are_refused() -> None:
    """Non-positive population and sample larger than population raise ValueError."""
    with pytest.raises(ValueError, match="population"):
        AgingEvolution(BitSpace(4), 0, 10, population=0, sample=1)
    with pytest.raises(ValueError, match="sample"):
        AgingEvolution(BitSpace(4), 0, 10, population=3, sample=4)


def test_aging_evolution_beats_random_search_on_noisy_onemax() -> None:
    """[RE] Supplement C's toy: with equal budgets, evolution climbs far above what random bit strings reach."""
    from evonas.executors import evaluation_seed
    from evonas.tasks.toy import OneMax

    task = OneMax(noise=0.01)

    def best_clean(strategy: Strategy) -> float:
        while not strategy.done:
            candidates = strategy.ask(1)
            results = [Result(c.id, task.evaluate(c.genome, evaluation_seed(strategy.seed, c.id))[0]) for c in candidates]
            strategy.tell(results, candidates)
        assert strategy.best is not None
        return strategy.best.genome.ones() / 100

    aging = [best_clean(AgingEvolution(BitSpace(100), seed, 1000, population=100, sample=10)) for seed in range(5)]
    rand = [best_clean(RandomSearch(BitSpace(100), seed, 1000)) for seed in range(5)]
    assert min(aging) > max(rand) + 0.1


def test_non_aging_variant_removes_the_worst_of_the_sample() -> None:
    """The [RE] ablation: the population keeps its best members instead of its youngest."""
    strategy = AgingEvolution(BitSpace(32), seed=8, budget=400, population=10, sample=10, aging=False)
    drive(strategy, 1)
    aging = AgingEvolution(BitSpace(32), seed=8, budget=400, population=10, sample=10)
    drive(aging, 1)
    assert len(strategy.population) == 10
    assert [m.id for m in aging.population] == list(range(390, 400))
    assert [m.id for m in strategy.population] != list(range(390, 400))
    assert min(m.fitness for m in strategy.population) >= min(m.fitness for m in aging.population)
