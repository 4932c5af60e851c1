"""NEAT: genome validity under mutation and crossover, kernels == reference, physics, tasks and the strategy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from neat_reference import episode, forward, rk4

from evonas.families.neat.tasks import STANDARD_START, NeatTask, generalisation_starts
from evonas.genomes.base import InvalidGenome
from evonas.genomes.neat import NeatGenome, NeatSpace
from evonas.kernels.neat_cpu import THIRTY_SIX_DEGREES, activate_rows, pack, pole_episodes, rk4_step
from evonas.strategies import NeatReproduction, Result

FEED_FORWARD = NeatSpace(inputs=3, outputs=2, prob_add_node=0.3, prob_add_connection=0.5, prob_toggle_enable=0.1, prob_reenable=0.1)
RECURRENT = NeatSpace(inputs=3, outputs=2, feed_forward=False, prob_add_node=0.3, prob_add_connection=0.5, prob_toggle_enable=0.1, prob_reenable=0.1,
                      exclusive_structural=True, split_bias_links=True, split_older_first=False)


def grown(space: NeatSpace, seed: int, steps: int) -> NeatGenome:
    rng = np.random.default_rng(seed)
    tracker = space.new_tracker()
    genome = space.initial(rng)
    for _ in range(steps):
        genome, _ = space.mutate(genome, rng, tracker)
    return genome


def check_invariants(genome: NeatGenome) -> None:
    genome.validate()
    assert len(set(genome.innovation.tolist())) == len(genome)
    nodes = set(genome.node_ids())
    assert set(genome.source.tolist()) <= nodes and set(genome.target.tolist()) <= nodes
    assert NeatGenome.from_dict(json.loads(json.dumps(genome.to_dict()))) == genome


@settings(max_examples=60)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(0, 40), recurrent=st.booleans())
def test_mutation_and_crossover_chains_stay_valid_round_trip_and_evaluate_finite(seed: int, steps: int, recurrent: bool) -> None:
    """Any chain of mutations and crossovers (equal and unequal fitness) keeps every invariant."""
    space = RECURRENT if recurrent else FEED_FORWARD
    rng = np.random.default_rng(seed)
    tracker = space.new_tracker()
    pool = [space.initial(rng) for _ in range(4)]
    for step in range(steps):
        a, b = pool[int(rng.integers(len(pool)))], pool[int(rng.integers(len(pool)))]
        if rng.random() < 0.3:
            child = space.crossover(a, b, rng, equal=bool(rng.random() < 0.5))
        else:
            child, _ = space.mutate(a, rng, tracker)
        check_invariants(child)
        pool[step % len(pool)] = child
        if step % 7 == 0:
            tracker.new_generation()
    rows = np.random.default_rng(seed).uniform(-3, 3, (5, space.n_inputs))
    out = activate_rows(pack([g.lower() for g in pool]), rows)
    assert np.all(np.isfinite(out)) and np.all((out >= 0) & (out <= 1))


@settings(max_examples=40)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(0, 30), recurrent=st.booleans())
def test_bulk_kernel_matches_the_reference_forward_pass(seed: int, steps: int, recurrent: bool) -> None:
    space = RECURRENT if recurrent else FEED_FORWARD
    genomes = [grown(space, seed + k, steps) for k in range(3)]
    rows = np.random.default_rng(seed).normal(0, 2, (6, space.n_inputs))
    out = activate_rows(pack([g.lower() for g in genomes]), rows)
    for g, genome in enumerate(genomes):
        np.testing.assert_allclose(out[g], forward(genome, rows), rtol=1e-12, atol=1e-15)


def test_crossover_disables_an_inherited_gene_disabled_in_either_parent_with_probability_075() -> None:
    space = NeatSpace(inputs=2, outputs=1)
    a = space.initial(np.random.default_rng(0))
    b = NeatGenome.build(a.inputs, a.outputs, a.bias, a.feed_forward, a.hidden, a.innovation, a.source, a.target, a.weight, [False, True, True])
    rng = np.random.default_rng(1)
    draws = 20000
    disabled = sum(not space.crossover(a, b, rng).enabled[0] for _ in range(draws))
    assert abs(disabled / draws - 0.75) < 0.015  # binomial sd 0.003
    both_enabled = sum(not space.crossover(a, a, rng).enabled[1] for _ in range(2000))
    assert both_enabled == 0


def test_crossover_takes_disjoint_and_excess_genes_from_the_fitter_parent_only() -> None:
    space = NeatSpace(inputs=2, outputs=1, prob_add_node=1.0, prob_add_connection=0.0)
    rng = np.random.default_rng(3)
    tracker = space.new_tracker()
    base = space.initial(rng)
    fitter, _ = space.mutate(base, rng, tracker)
    other, _ = space.mutate(base, rng, tracker)
    child = space.crossover(fitter, other, rng)
    assert child.innovation.tolist() == fitter.innovation.tolist()
    union = space.crossover(fitter, other, rng, equal=True)
    assert set(union.innovation.tolist()) == set(fitter.innovation.tolist()) | set(other.innovation.tolist())


def test_compatibility_distance_by_hand() -> None:
    space = NeatSpace(inputs=2, outputs=1, c1=1.0, c2=2.0, c3=0.5)
    build = NeatGenome.build
    a = build(2, 1, True, True, [4], [0, 1, 2, 3, 4], [0, 1, 2, 0, 4], [3, 3, 3, 4, 3], [1.0, 2.0, 3.0, 1.0, 1.0], [True] * 5)
    b = build(2, 1, True, True, [], [0, 1, 2], [0, 1, 2], [3, 3, 3], [1.5, 2.0, 2.0], [True, False, True])
    # matching 0,1,2 (|dw| = 0.5, 0, 1 -> mean 0.5); a's 3, 4 lie beyond b's last (2): two excess genes; N = 1 (small genomes)
    assert space.distance(a, b) == pytest.approx(1.0 * 2 + 0.5 * 0.5)
    c = build(2, 1, True, True, [], [0, 2, 9], [0, 2, 1], [3, 3, 3], [1.0, 3.0, 0.0], [True, True, True])
    # vs a: matching 0, 2 (dw 0); disjoint: a's 1, 3, 4 (below c's max 9); excess: c's 9 is beyond a's max 4
    assert space.distance(a, c) == pytest.approx(1.0 * 1 + 2.0 * 3)


def test_innovations_are_shared_within_a_generation_and_new_in_the_next() -> None:
    space = NeatSpace(inputs=2, outputs=1, prob_mutate_weights=0.0, prob_add_node=1.0, prob_add_connection=0.0, split_bias_links=True, split_older_first=False)
    base = space.initial(np.random.default_rng(0))
    tracker = space.new_tracker()
    seen = {}
    for seed in range(40):  # the first split of each link gets numbers; later ones in the same generation reuse them
        child, _ = space.mutate(base, np.random.default_rng(seed), tracker)
        split = int(np.flatnonzero(~child.enabled)[0])
        key = int(child.innovation[split])
        numbers = (child.hidden[0], *child.innovation[-2:].tolist())
        assert seen.setdefault(key, numbers) == numbers
    assert len(seen) == 3
    tracker.new_generation()
    child, _ = space.mutate(base, np.random.default_rng(0), tracker)
    assert child.hidden[0] not in {n[0] for n in seen.values()}


@pytest.mark.parametrize(
    "data, reason",
    [
        ({"kind": "amoeba"}, "not a NEAT genome"),
        ({"kind": "neat", "inputs": 2, "outputs": 1, "bias": True, "feed_forward": True, "hidden": [], "connections": [[0, 0, 3, 1.0, True], [0, 1, 3, 1.0, True]]}, "must be unique"),
        ({"kind": "neat", "inputs": 2, "outputs": 1, "bias": True, "feed_forward": True, "hidden": [], "connections": [[1, 0, 3, 1.0, True], [0, 1, 3, 1.0, True]]}, "listed by increasing innovation"),
        ({"kind": "neat", "inputs": 2, "outputs": 1, "bias": True, "feed_forward": True, "hidden": [], "connections": [[0, 0, 9, 1.0, True]]}, "missing node"),
        ({"kind": "neat", "inputs": 2, "outputs": 1, "bias": True, "feed_forward": True, "hidden": [], "connections": [[0, 3, 0, 1.0, True]]}, "ends at an input"),
        ({"kind": "neat", "inputs": 2, "outputs": 1, "bias": True, "feed_forward": True, "hidden": [4, 5], "connections": [[0, 0, 4, 1.0, True], [1, 4, 5, 1.0, False], [2, 5, 4, 1.0, True], [3, 5, 3, 1.0, True]]}, "cycle"),
        ({"kind": "neat", "inputs": 2, "outputs": 1, "bias": True, "feed_forward": True, "hidden": [], "connections": [[0, 0, 3, "x", True]]}, "malformed"),
        ({"kind": "neat", "inputs": 2, "outputs": 1, "bias": True, "feed_forward": True, "hidden": [], "connections": [[0, 0, 3, 1.0, True], [1, 0, 3, 2.0, True]]}, "same pair"),
    ],
)
def test_invalid_genomes_are_refused_with_a_reason(data: dict, reason: str) -> None:
    with pytest.raises(InvalidGenome, match=reason):
        NeatGenome.from_dict(data)


def test_rk4_step_matches_the_spec_equations_and_a_hand_computed_derivative() -> None:
    # Hand check at the standard start with zero force: only gravity acts. For pole i,
    # F_i = 0.75 m_i cos(th) g sin(th) (velocities 0), m~_i = m_i (1 - 0.75 cos^2 th); x'' = sum F_i / (M + sum m~_i).
    th = 0.07
    fi = 0.75 * 0.1 * math.cos(th) * (-9.8 * math.sin(th))
    mi = 0.1 * (1 - 0.75 * math.cos(th) ** 2) + 0.01 * 0.25
    xdd = fi / (1.0 + mi)
    thdd = -0.75 * (xdd * math.cos(th) - 9.8 * math.sin(th)) / 0.5
    assert xdd == pytest.approx(-0.04989, abs=1e-5) and thdd == pytest.approx(1.10282, abs=1e-5)  # worked on paper
    state = STANDARD_START.copy()
    scratch = [np.empty(6) for _ in range(4)]
    for force in (0.0, 7.5, -10.0):
        ours = STANDARD_START.copy()
        reference = STANDARD_START.copy()
        for _ in range(500):
            rk4_step(force, ours, 2, *scratch)
            reference = rk4(reference, force, 2)
        np.testing.assert_allclose(ours, reference, rtol=1e-11, atol=1e-12)
    # one small step follows the hand-computed accelerations: x ~ x'' h^2 / 2, th ~ th0 + th'' h^2 / 2
    rk4_step(0.0, state, 2, *scratch)
    assert state[0] == pytest.approx(xdd * 0.01**2 / 2, rel=1e-3)
    assert state[2] == pytest.approx(th + thdd * 0.01**2 / 2, rel=1e-6)


def test_unforced_poles_fall_at_the_reference_decision() -> None:
    """With the output stuck at 0.5 (no force) the long pole falls past 36 degrees; kernel and reference agree on when."""
    space = NeatSpace(inputs=6, outputs=1)
    genome = space.initial(np.random.default_rng(0))
    silent = NeatGenome.build(6, 1, True, True, (), genome.innovation, genome.source, genome.target, np.zeros(len(genome)), genome.enabled)
    balanced, _ = pole_episodes(pack([silent.lower()]), STANDARD_START[None, :], 2, True, True, 0.5, 100_000)
    steps, _ = episode(silent, STANDARD_START, 2, True, 100_000, THIRTY_SIX_DEGREES, False)
    assert balanced[0, 0] == steps and 10 < steps < 200


@settings(max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(0, 25), variant=st.sampled_from(["dpv", "dpnv", "single"]), synchronous=st.booleans())
def test_pole_kernel_matches_the_reference_episode(seed: int, steps: int, variant: str, synchronous: bool) -> None:
    poles, velocities, inputs, gruau = {"dpv": (2, True, 6, False), "dpnv": (2, False, 3, True), "single": (1, True, 4, False)}[variant]
    space = NeatSpace(inputs=inputs, outputs=1, feed_forward=variant != "dpnv", prob_add_node=0.3, prob_add_connection=0.5)
    genome = grown(space, seed, steps)
    rng = np.random.default_rng(seed)
    starts = np.vstack([STANDARD_START, rng.uniform(-0.05, 0.05, 6)])
    if poles == 1:
        starts[:, 4:] = 0.0
    angle = 0.2094395 if poles == 1 else THIRTY_SIX_DEGREES
    balanced, fitness = pole_episodes(pack([genome.lower()]), starts, poles, velocities, True, 0.5, 400, angle, gruau, synchronous)
    for s, start in enumerate(starts):
        ref_steps, ref_fitness = episode(genome, start, poles, velocities, 400, angle, gruau, synchronous)
        assert balanced[0, s] == ref_steps
        assert fitness[0, s] == pytest.approx(ref_fitness, rel=1e-9)


def test_generalisation_starts_follow_the_spec_table() -> None:
    starts = generalisation_starts()
    assert starts.shape == (625, 6) and not starts[:, 4:].any()
    np.testing.assert_allclose(sorted(set(np.round(starts[:, 0], 6))), [-1.944, -1.08, 0.0, 1.08, 1.944], atol=1e-9)
    np.testing.assert_allclose(sorted(set(np.round(starts[:, 3], 5))), [-0.13510, -0.07505, 0.0, 0.07505, 0.13510], atol=1e-5)


def hand_xor() -> NeatGenome:
    """x1 XOR x2 = AND(OR(x1, x2), NAND(x1, x2)) with steep weights: nodes 4 = OR, 5 = NAND; bias is node 2."""
    conns = [(0, 0, 4, 5.0), (1, 1, 4, 5.0), (2, 2, 4, -2.5), (3, 0, 5, -5.0), (4, 1, 5, -5.0), (5, 2, 5, 7.5),
             (6, 4, 3, 5.0), (7, 5, 3, 5.0), (8, 2, 3, -7.5)]
    return NeatGenome.build(2, 1, True, True, [4, 5], [c[0] for c in conns], [c[1] for c in conns], [c[2] for c in conns],
                            [c[3] for c in conns], [True] * len(conns))


def test_hand_written_xor_network_solves_xor_and_a_minimal_net_does_not() -> None:
    task = NeatTask("xor")
    fitness, metrics = task.evaluate(hand_xor(), 0)
    assert metrics["solved"] == 1.0 and fitness > 15.0
    minimal = NeatSpace().initial(np.random.default_rng(0))
    assert task.evaluate(minimal, 0)[1]["solved"] == 0.0  # XOR is not linearly separable


def test_task_refuses_a_genome_with_the_wrong_layout() -> None:
    with pytest.raises(ValueError, match="needs 6 inputs"):
        NeatTask("double-pole").evaluate(NeatSpace(inputs=2).initial(np.random.default_rng(0)), 0)


def test_task_refuses_a_population_with_a_stranger_in_it() -> None:
    good = NeatSpace(inputs=6).initial(np.random.default_rng(0))
    with pytest.raises(ValueError, match="double-pole task: every genome of a population needs the same inputs, bias and outputs"):
        NeatTask("double-pole").evaluate_batch([good, NeatSpace(inputs=2).initial(np.random.default_rng(0))], [0, 0])
    with pytest.raises(TypeError, match="holds NEAT genomes, not str"):
        NeatTask("double-pole").evaluate_batch([good, "not a genome"], [0, 0])  # type: ignore[list-item]


def test_dpnv_champion_faces_the_long_and_generalisation_tests() -> None:
    space = NeatSpace(inputs=3, outputs=1, feed_forward=False)
    genomes = [space.initial(np.random.default_rng(s)) for s in range(5)]
    scored = NeatTask("double-pole-novel").evaluate_batch(genomes, [0] * 5)
    tested = [m for _, m in scored if "long_test_steps" in m]
    assert len(tested) == 1 and tested[0]["solved"] == 0.0
    best = max(range(5), key=lambda i: scored[i][0])
    assert "long_test_steps" in scored[best][1]
    assert all(0.0 <= f <= 1.0 for f, _ in scored)
    task = NeatTask("double-pole-novel")
    task.evaluate_batch(genomes, [0] * 5)
    again = task.evaluate_batch(genomes, [0] * 5)  # the best was tested already: the runner-up faces the tests
    order = sorted(range(5), key=lambda i: (-again[i][0], i))
    assert "long_test_steps" not in again[order[0]][1] and "long_test_steps" in again[order[1]][1]


def drive(strategy: NeatReproduction, task: NeatTask, evaluations: int) -> list[tuple]:
    rows = []
    while strategy.told < evaluations:
        batch = strategy.ask(37)  # batches that straddle generations
        scored = task.evaluate_batch([c.genome for c in batch], [0] * len(batch))
        strategy.tell([Result(c.id, f, metrics=m) for c, (f, m) in zip(batch, scored)], batch)
        rows += [(c.id, c.parent_id, c.second_parent_id, str(c.mutation), c.genome.fingerprint(), f) for c, (f, _) in zip(batch, scored)]
    return rows


def test_generations_keep_their_size_and_the_state_round_trip_retraces_the_run() -> None:
    space = NeatSpace(inputs=2, outputs=1)
    task = NeatTask("xor")
    full = NeatReproduction(space, 7, 3000, population=50)
    rows = drive(full, task, 3000)
    assert len(rows) == 3000 and full.generation == 60
    assert any(r[2] is not None for r in rows) and any(r[3] == "elite" for r in rows)
    first = NeatReproduction(space, 7, 3000, population=50)
    head = drive(first, task, 1221)  # stop mid-generation
    state = json.loads(json.dumps(first.state_dict()))
    members = {m.id: m for m in first.members()}
    members = {i: type(m)(m.id, m.fitness, space.genome_from_dict(json.loads(json.dumps(m.genome.to_dict())))) for i, m in members.items()}
    second = NeatReproduction(space, 7, 3000, population=50)
    second.load_state_dict(state, members)
    tail = drive(second, task, 3000)
    assert head + tail == rows


def test_neat_genome_also_runs_under_aging_evolution() -> None:
    from evonas.strategies import AgingEvolution

    space = NeatSpace(inputs=2, outputs=1, prob_add_node=0.2, prob_add_connection=0.3)
    strategy = AgingEvolution(space, 1, 400, population=20, sample=5)
    task = NeatTask("xor")
    while not strategy.done:
        batch = strategy.ask(10)
        scored = task.evaluate_batch([c.genome for c in batch], [0] * len(batch))
        strategy.tell([Result(c.id, f, metrics=m) for c, (f, m) in zip(batch, scored)], batch)
    assert strategy.best is not None and strategy.best.fitness > 4.0
    assert strategy.state_dict()["tracker"]["next_innovation"] > 3


def python_first_fit(space: NeatSpace, genomes: list[NeatGenome], reps: list[NeatGenome], threshold: float) -> list[int]:
    slots = list(reps)
    out = []
    for g in genomes:
        for k, rep in enumerate(slots):
            if space.distance(g, rep) < threshold:
                out.append(k)
                break
        else:
            slots.append(g)
            out.append(len(slots) - 1)
    return out


@settings(max_examples=25)
@given(seed=st.integers(0, 2**32 - 1), recurrent=st.booleans(), threshold=st.floats(0.5, 4.0))
def test_compiled_lowering_and_speciation_match_the_genome_methods(seed: int, recurrent: bool, threshold: float) -> None:
    from evonas.genomes.neat import population_ir
    from evonas.kernels.neat_cpu import first_fit_species, lower_population

    space = RECURRENT if recurrent else FEED_FORWARD
    rng = np.random.default_rng(seed)
    genomes = [grown(space, int(s), int(rng.integers(0, 25))) for s in rng.integers(0, 2**31, 12)]
    fast, slow = lower_population(population_ir(genomes)), pack([g.lower() for g in genomes])
    for name in ("order_offset", "order", "begin", "end", "source", "weight", "n_nodes", "activated"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)
    reps = genomes[:3]
    slots, founders = first_fit_species(population_ir(genomes[3:]), population_ir(reps), threshold, space.c1, space.c2, space.c3, space.normalize_below)
    assert slots.tolist() == python_first_fit(space, genomes[3:], reps, threshold)
    assert founders.tolist() == [slots.tolist().index(k) for k in range(len(reps), int(slots.max()) + 1)]


def test_a_generation_is_packed_rows_that_behave_like_plain_genomes() -> None:
    """The compiled reproduction's children (rows of one population) equal, hash, pickle, round-trip and
    gather like genomes built gene by gene; elites copy their champion; crossover children inherit only
    their parents' genes plus this generation's new ones."""
    import pickle

    from evonas.genomes.neat import population_ir

    space = NeatSpace(inputs=2, outputs=1, prob_add_node=0.2, prob_add_connection=0.3)
    strategy = NeatReproduction(space, 5, 150 * 4, population=150)
    task = NeatTask("xor")
    for _ in range(3):
        batch = strategy.ask(150)
        parents = {c.id: c.genome for c in batch}
        scored = task.evaluate_batch([c.genome for c in batch], [0] * len(batch))
        numbered = strategy.tracker.next_innovation
        strategy.tell([Result(c.id, f, metrics=m) for c, (f, m) in zip(batch, scored)], batch)
    children = strategy.ask(150)
    assert all(c.genome._batch is children[0].genome._batch for c in children)
    plain = [NeatGenome.from_dict(c.genome.to_dict()) for c in children]
    for child, copy in zip(children, plain):
        check_invariants(child.genome)
        assert child.genome == copy and hash(child.genome) == hash(copy) and pickle.loads(pickle.dumps(child.genome)) == copy
        known = set(parents[child.parent_id].innovation.tolist())
        if child.second_parent_id is not None:
            known |= set(parents[child.second_parent_id].innovation.tolist())
        new = set(child.genome.innovation.tolist()) - known
        assert all(numbered <= n < strategy.tracker.next_innovation for n in new)
        if child.mutation.kind == "elite":
            assert child.genome == parents[child.parent_id]
        if child.mutation.kind == "crossover":  # no mutation after crossover: nothing new
            assert not new
    rows = [children[k].genome for k in (5, 2, 99, 2)]
    gathered, concatenated = population_ir(rows), population_ir([NeatGenome.from_dict(g.to_dict()) for g in rows])
    for name in ("conn_offset", "innovation", "source", "target", "weight", "enabled", "hidden_offset", "hidden"):
        np.testing.assert_array_equal(getattr(gathered, name), getattr(concatenated, name), err_msg=name)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), recurrent=st.booleans(), population=st.integers(2, 40), threshold=st.floats(0.3, 4.0),
       survival=st.floats(0.0, 1.0), mutation_only=st.floats(0.0, 1.0), failures=st.floats(0.0, 0.5))
def test_compiled_generations_stay_valid_under_any_settings(seed: int, recurrent: bool, population: int, threshold: float,
                                                           survival: float, mutation_only: float, failures: float) -> None:
    """Whole generations made by the compiled reproduction, under random fitness (some failures) and settings:
    every child validates, round-trips, keeps unique innovation numbers and evaluates to finite outputs."""
    space = RECURRENT if recurrent else FEED_FORWARD
    strategy = NeatReproduction(space, seed, population * 6, population=population, threshold=threshold, survival=survival,
                                mutation_only=mutation_only, interspecies=0.2, elitism_min_size=2)
    rng = np.random.default_rng(seed)
    while not strategy.done:
        batch = strategy.ask(population)
        for c in batch:
            check_invariants(c.genome)
        rows = rng.uniform(-2, 2, (3, space.n_inputs))
        out = activate_rows(pack([c.genome.lower() for c in batch]), rows)
        assert np.all(np.isfinite(out))
        fitness = rng.uniform(0, 10, len(batch))
        strategy.tell([Result(c.id, float(f), "ok") if rng.random() >= failures else Result(c.id, math.nan, "failed")
                       for c, f in zip(batch, fitness)], batch)
    assert strategy.generation == 6


def test_the_kernel_reads_each_setting_from_its_own_slot() -> None:
    from evonas.kernels import neat_reproduce as k

    space = NeatSpace(inputs=4, outputs=2, bias=True, feed_forward=False, prob_mutate_weights=0.11, prob_perturb=0.12, perturb_power=0.13,
                      replace_range=0.14, new_weight_range=0.15, weight_cap=0.16, prob_add_node=0.17, prob_add_connection=0.18,
                      prob_toggle_enable=0.19, prob_reenable=0.21, disable_inherited=0.22, exclusive_structural=True,
                      split_bias_links=True, split_older_first=False)
    prm = space.parameters(mutation_only=0.23, interspecies=0.24, mutate_after_crossover=0.25)
    expected = {
        k.P_N_IN: 5, k.P_N_OUT: 2, k.P_BIAS_NODE: 4, k.P_FEED_FORWARD: 0, k.P_WEIGHTS: 0.11, k.P_PERTURB: 0.12, k.P_PERTURB_POWER: 0.13,
        k.P_REPLACE_RANGE: 0.14, k.P_NEW_WEIGHT_RANGE: 0.15, k.P_WEIGHT_CAP: 0.16, k.P_ADD_NODE: 0.17, k.P_ADD_CONNECTION: 0.18,
        k.P_TOGGLE: 0.19, k.P_REENABLE: 0.21, k.P_DISABLE_INHERITED: 0.22, k.P_EXCLUSIVE: 1, k.P_SPLIT_BIAS: 1, k.P_SPLIT_OLDER: 0,
        k.P_MUTATION_ONLY: 0.23, k.P_INTERSPECIES: 0.24, k.P_MUTATE_AFTER_CROSSOVER: 0.25,
    }
    assert len(prm) == len(expected) and all(prm[slot] == value for slot, value in expected.items())


def test_add_node_can_be_kept_off_bias_links() -> None:
    space = NeatSpace(inputs=2, outputs=1, split_bias_links=False)
    base = space.initial(np.random.default_rng(0))
    for seed in range(200):
        child = space.grow(base, np.random.default_rng(seed), space.new_tracker(), add_node=True)
        split = int(np.flatnonzero(~child.enabled)[0])
        assert child.source[split] != base.inputs  # the bias node's id
