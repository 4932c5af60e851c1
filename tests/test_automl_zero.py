"""AutoML-Zero programs: mutation validity, exact round trip, kernel == reference, dead code, hand-written algorithms."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from program_reference import reference_fitness

from evonas.families.automl_zero.tasks import ProgramTaskSet, build_task_arrays
from evonas.genomes.automl_zero import MUTATION_TYPES, ProgramGenome, ProgramSpace, to_batch
from evonas.genomes.base import InvalidGenome
from evonas.genomes.program_ir import OP_ID, OP_NAMES, ProgramBatch
from evonas.kernels.program_cpu import TaskArrays, run_programs

ALL_OPS = tuple(OP_NAMES[1:])
WIDE = ProgramSpace(
    scalars=5, vectors=4, matrices=2, features=3, setup_ops=ALL_OPS, predict_ops=ALL_OPS, learn_ops=ALL_OPS,
    init_sizes=(4, 4, 4), min_sizes=(0, 1, 0), max_sizes=(9, 9, 9), mutation_weights={k: 1.0 for k in MUTATION_TYPES},
)


def small_tasks(seed: int, classification: bool, scale: float = 1.0) -> TaskArrays:
    rng = np.random.default_rng(seed)
    t, n, nv, f = 2, 7, 4, 3
    x = rng.standard_normal((t, n, f)) * scale
    xv = rng.standard_normal((t, nv, f)) * scale
    w = rng.standard_normal((t, f))
    y, yv = np.einsum("tnf,tf->tn", x, w), np.einsum("tnf,tf->tn", xv, w)
    if classification:
        y, yv = (y > 0).astype(float), (yv > 0).astype(float)
    order = np.stack([np.stack([np.arange(n), rng.permutation(n)]) for _ in range(t)]).astype(np.int32)
    return TaskArrays(x, y, xv, yv, order, classification)


@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(0, 60))
def test_mutation_chains_stay_valid_within_limits_and_round_trip(seed: int, steps: int) -> None:
    """Every mutation type, every op: children validate, respect the size limits and round-trip exactly."""
    rng = np.random.default_rng(seed)
    genome = WIDE.random(rng)
    for _ in range(steps):
        parent = genome.to_dict()
        genome, mutation = WIDE.mutate(genome, rng)
        assert mutation.kind in MUTATION_TYPES
        genome.validate()
        for c, component in enumerate(genome.components()):
            assert WIDE.min_sizes[c] <= len(component) <= WIDE.max_sizes[c] or len(component) == WIDE.init_sizes[c]
        back = ProgramGenome.from_dict(json.loads(json.dumps(genome.to_dict())))
        assert back == genome and back.fingerprint() == genome.fingerprint()
        assert ProgramGenome.from_dict(parent).to_dict() == parent


def random_program(data: st.DataObject) -> ProgramGenome:
    seed = data.draw(st.integers(0, 2**32 - 1))
    genome = WIDE.random(np.random.default_rng(seed))
    # Extreme constants too: overflow to inf and NaN must be handled the same way by both interpreters.
    scale = data.draw(st.sampled_from([1.0, 1e3, 1e200]))
    # Index fractions outside [0, 1) too: the kernel must clamp whatever it is given.
    fraction = data.draw(st.sampled_from([None, -0.5, 1.0, 1e300, math.nan]))

    def extreme(i: tuple) -> tuple:
        op, a, b, o, d0, d1, d2 = i
        if op == 56:
            return (op, a, b, o, d0 * scale, d1, d2)
        if op == 57:
            return (op, a, b, o, d0 if fraction is None else fraction, d1 * scale, d2)
        if op == 58:
            return (op, a, b, o, d0, d1 if fraction is None else fraction, d2 * scale)
        return i

    components = [tuple(extreme(i) for i in c) for c in genome.components()]
    return ProgramGenome(*components, genome.scalars, genome.vectors, genome.matrices, genome.features)


@settings(max_examples=60)
@given(data=st.data(), classification=st.booleans(), scale=st.sampled_from([1.0, 30.0]))
def test_kernel_matches_reference_on_random_programs(data: st.DataObject, classification: bool, scale: float) -> None:
    """Same per-task fitness as the pure-Python interpreter (1e-9 relative, NaN equal to NaN), and never a crash."""
    genomes = [random_program(data) for _ in range(4)]
    tasks = small_tasks(data.draw(st.integers(0, 1000)), classification, scale)
    seeds = np.arange(4, dtype=np.uint64) + np.uint64(data.draw(st.integers(0, 2**40)))
    fitness, _, _ = run_programs(to_batch(genomes, eliminate_dead=False), tasks, seeds)
    for genome, got, seed in zip(genomes, fitness, seeds):
        expected = reference_fitness(genome, tasks, int(seed))
        assert np.allclose(got, expected, rtol=1e-9, atol=0.0, equal_nan=True), (got, expected, genome.describe(False))
    pruned, _, _ = run_programs(to_batch(genomes, eliminate_dead=True), tasks, seeds)
    assert np.array_equal(pruned, fitness, equal_nan=True)


def test_bounds_are_checked_once_before_the_kernel() -> None:
    """An address outside its kind's range never reaches the kernel."""
    genome = WIDE.random(np.random.default_rng(0))
    batch = to_batch([genome], eliminate_dead=False)
    bad = ProgramBatch(batch.op, batch.in1.copy(), batch.in2, batch.out, batch.data, batch.length, batch.scalars, batch.vectors, batch.matrices)
    bad.op[0, 1, 0], bad.in1[0, 1, 0] = OP_ID["scalar_abs"], 99
    with pytest.raises(ValueError, match="in1 address out of range"):
        run_programs(bad, small_tasks(0, False), np.zeros(1, dtype=np.uint64))
    with pytest.raises(InvalidGenome, match="outside"):
        ProgramGenome.from_dict({**genome.to_dict(), "predict": [["scalar_abs", 7, 0, 1, 0, 0, 0]]})
    with pytest.raises(InvalidGenome, match="output s0"):
        ProgramGenome.from_dict({**genome.to_dict(), "predict": [["scalar_abs", 1, 0, 0, 0, 0, 0]]})


@pytest.mark.skipif(__import__("numba").config.NUMBA_NUM_THREADS < 2, reason="needs two numba threads")
@pytest.mark.parametrize("classification", [False, True])
def test_evaluation_on_two_threads_gives_the_one_thread_results(classification: bool) -> None:
    """The batch path's evaluation split over threads (each claiming chunks of programs, with its own workspace)
    gives exactly one thread's fitness, train steps and recorded errors, and leaves numba's thread count alone."""
    import numba

    rng = np.random.default_rng(11)
    batch = to_batch([WIDE.random(rng) for _ in range(301)])
    tasks = small_tasks(3, classification, 5.0)
    seeds = np.arange(301, dtype=np.uint64)
    before = numba.get_num_threads()
    results = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        try:
            results.append(run_programs(batch, tasks, seeds, record_errors=True))
        finally:
            numba.set_num_threads(before)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)
    assert np.isfinite(results[0][0]).any() and results[0][1].sum() > 0


FUZZ = """
import numpy as np, sys
sys.path.insert(0, {tests!r})
from evonas.genomes.automl_zero import to_batch
from evonas.kernels.program_cpu import run_programs
from test_automl_zero import WIDE, small_tasks
rng = np.random.default_rng(123)
genomes = [WIDE.random(rng) for _ in range(200)]
for cls in (False, True):
    fit, _, _ = run_programs(to_batch(genomes), small_tasks(5, cls, 10.0), np.arange(200, dtype=np.uint64))
    assert fit.shape == (200, 2)
print("ok")
"""


def test_fuzz_under_numba_boundscheck(tmp_path: Path) -> None:
    """With NUMBA_BOUNDSCHECK=1 every array access is checked: random programs never index outside their arrays."""
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONSAFEPATH": "1"}
    code = FUZZ.format(tests=str(Path(__file__).parent))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]


def sgd_linear_regression(lr: float = 0.435, features: int = 4, scalars: int = 4, vectors: int = 3, bias: bool = False) -> ProgramGenome:
    """The demo's seed-2 solution (and an affine variant with a learned bias in s2)."""
    ids = OP_ID
    setup = [(ids["scalar_const_set"], 0, 0, 3 if bias else 2, lr, 0.0, 0.0)]
    if bias:
        predict = [(ids["vector_inner_product"], 1, 0, 4, 0.0, 0.0, 0.0), (ids["scalar_sum"], 4, 2, 1, 0.0, 0.0, 0.0)]
        learn = [
            (ids["scalar_diff"], 0, 1, 4, 0.0, 0.0, 0.0), (ids["scalar_product"], 4, 3, 4, 0.0, 0.0, 0.0),
            (ids["scalar_vector_product"], 4, 0, 2, 0.0, 0.0, 0.0), (ids["vector_sum"], 1, 2, 1, 0.0, 0.0, 0.0),
            (ids["scalar_sum"], 2, 4, 2, 0.0, 0.0, 0.0),
        ]
    else:
        predict = [(ids["scalar_vector_product"], 2, 0, 2, 0.0, 0.0, 0.0), (ids["vector_inner_product"], 2, 1, 1, 0.0, 0.0, 0.0)]
        learn = [
            (ids["scalar_diff"], 0, 1, 3, 0.0, 0.0, 0.0), (ids["scalar_vector_product"], 3, 0, 2, 0.0, 0.0, 0.0),
            (ids["vector_sum"], 1, 2, 1, 0.0, 0.0, 0.0),
        ]
    genome = ProgramGenome(tuple(setup), tuple(predict), tuple(learn), scalars, vectors, 1, features)
    genome.validate()
    return genome


def two_layer_network(features: int = 8, lr: float = 0.01) -> ProgramGenome:
    """A hand-written 2-layer ReLU network trained by backprop: h = relu(W v0), s1 = u.h; SGD on both layers.

    Memory: m0 = W, v1 = u, v2 = pre-activation, v3 = h, v4 = relu mask, s2 = lr, s3 = error * lr.
    """
    ids = OP_ID
    setup = (
        (ids["matrix_gaussian_set"], 0, 0, 0, 0.0, 0.5, 0.0),
        (ids["vector_gaussian_set"], 0, 0, 1, 0.0, 0.5, 0.0),
        (ids["scalar_const_set"], 0, 0, 2, lr, 0.0, 0.0),
    )
    predict = (
        (ids["matrix_vector_product"], 0, 0, 2, 0.0, 0.0, 0.0),
        (ids["vector_heaviside"], 2, 0, 4, 0.0, 0.0, 0.0),
        (ids["vector_product"], 2, 4, 3, 0.0, 0.0, 0.0),
        (ids["vector_inner_product"], 1, 3, 1, 0.0, 0.0, 0.0),
    )
    learn = (
        (ids["scalar_diff"], 0, 1, 3, 0.0, 0.0, 0.0),          # s3 = y - prediction
        (ids["scalar_product"], 3, 2, 3, 0.0, 0.0, 0.0),       # s3 = lr * error
        (ids["vector_product"], 1, 4, 5, 0.0, 0.0, 0.0),       # v5 = u * relu'(pre)
        (ids["scalar_vector_product"], 3, 3, 6, 0.0, 0.0, 0.0),  # v6 = lr * err * h
        (ids["vector_sum"], 1, 6, 1, 0.0, 0.0, 0.0),           # u += v6
        (ids["scalar_vector_product"], 3, 5, 5, 0.0, 0.0, 0.0),  # v5 = lr * err * u * relu'
        (ids["vector_outer_product"], 5, 0, 1, 0.0, 0.0, 0.0),  # m1 = v5 x^T
        (ids["matrix_sum"], 0, 1, 0, 0.0, 0.0, 0.0),           # W += m1
    )
    genome = ProgramGenome(setup, predict, learn, 4, 8, 2, features)
    genome.validate()
    return genome


@pytest.mark.parametrize(("kind", "bias"), [("linear", False), ("affine", True)])
def test_hand_written_sgd_regressor_solves_the_linear_tasks(kind: str, bias: bool) -> None:
    """>= 0.9999 on 100 tasks of 1000 train / 100 validation examples (the select setting)."""
    task = ProgramTaskSet(kind=kind, tasks=100, features=4, train=1000, valid=100, task_seed=7)
    genome = sgd_linear_regression(lr=0.1 if bias else 0.2, scalars=5 if bias else 4, bias=bias)
    fitness, _ = task.evaluate(genome, 0)
    assert fitness >= 0.9999


def test_hand_written_two_layer_network_beats_linear_regression_on_the_teacher() -> None:
    """Backprop through a hidden ReLU layer fits the 2-layer teacher better than the linear learner."""
    task = ProgramTaskSet(kind="teacher", tasks=20, features=8, train=1000, valid=100, task_seed=3)
    linear = sgd_linear_regression(lr=0.01, features=8, scalars=4, vectors=8)
    linear = ProgramGenome(linear.setup, linear.predict, linear.learn, 4, 8, 2, 8)
    network, _ = task.evaluate(two_layer_network(), 5)
    baseline, _ = task.evaluate(linear, 5)
    assert network > baseline + 0.02, (network, baseline)


def test_dead_code_is_removed_from_display_and_from_work() -> None:
    """Instructions that cannot reach s1 disappear; the pruned program scores the same."""
    genome = sgd_linear_regression()
    ids = OP_ID
    noisy = ProgramGenome(genome.setup + ((ids["scalar_const_set"], 0, 0, 3, 9.0, 0.0, 0.0),), genome.predict,
                          ((ids["scalar_product"], 1, 1, 3, 0.0, 0.0, 0.0),) + genome.learn, 4, 3, 1, 4)
    assert "9" not in noisy.describe() and "s3 = s1 * s1" not in noisy.describe()
    assert "s3 = s1 * s1" in noisy.describe(eliminate_dead=False)
    assert noisy.fingerprint() == genome.fingerprint()
    tasks = build_task_arrays("linear", 3, 4, 50, 20, seed=1)
    full, _, _ = run_programs(to_batch([noisy], False), tasks, np.zeros(1, dtype=np.uint64))
    pruned, _, _ = run_programs(to_batch([noisy], True), tasks, np.zeros(1, dtype=np.uint64))
    assert np.array_equal(full, pruned)


def test_early_stop_rules() -> None:
    """A NaN or |error| > 100 in the first epoch scores 0; the fitness formula is 1 - (2/pi) atan(RMS)."""
    ids = OP_ID
    blowup = ProgramGenome((), ((ids["scalar_const_set"], 0, 0, 1, 1e6, 0.0, 0.0),), (), 4, 3, 1, 4)
    tasks = build_task_arrays("linear", 2, 4, 10, 10, seed=2)
    fitness, steps, _ = run_programs(to_batch([blowup]), tasks, np.zeros(1, dtype=np.uint64))
    assert (fitness == 0).all() and steps[0] == 2
    zero = ProgramGenome((), ((ids["scalar_const_set"], 0, 0, 1, 0.0, 0.0, 0.0),), (), 4, 3, 1, 4)
    fitness, _, _ = run_programs(to_batch([zero]), tasks, np.zeros(1, dtype=np.uint64))
    rms = np.sqrt((tasks.y_valid**2).mean(axis=1))
    assert np.allclose(fitness[0], 1 - 2 / math.pi * np.arctan(rms))


def test_fec_cache_reuses_scores_of_functionally_equal_programs() -> None:
    """Programs with equal short-run errors share one full evaluation; the hit rate is reported."""
    task = ProgramTaskSet(kind="linear", tasks=3, features=4, train=50, valid=20, fec=True)
    genome = sgd_linear_regression()
    twin = ProgramGenome(genome.setup, genome.predict, genome.learn + ((OP_ID["scalar_product"], 1, 1, 3, 0.0, 0.0, 0.0),), 4, 3, 1, 4)
    results = task.evaluate_batch([genome, twin, genome], [1, 2, 3])
    assert [m["fec_hit"] for _, m in results] == [0.0, 1.0, 1.0]
    assert results[0][0] == results[1][0] == results[2][0]
    assert task.metrics()["fec_hit_rate"] == pytest.approx(2 / 3)


def test_fec_cache_state_round_trips_in_order_and_reads_the_older_list_form() -> None:
    """The checkpointed cache gives back the same entries in LRU order with their counts; the list form of
    earlier checkpoints still loads."""
    from evonas.families.automl_zero.tasks import FecCache

    cache = FecCache(size=5, forget_every=3)
    for key, fitness in ((2**64 - 1, 0.25), (7, -1.5), (0, 1.0), (2**63, 0.125), (9, 0.5), (11, 0.75)):
        cache.put(key, fitness)
    assert cache.get(7) == -1.5 and cache.get(2**64 - 1) is None and cache.get(123) is None
    restored = FecCache(size=5, forget_every=3)
    restored.load(json.loads(json.dumps(cache.state())))
    assert list(restored.entries.items()) == list(cache.entries.items()) and len(restored.entries) == 5
    assert (restored.hits, restored.lookups) == (cache.hits, cache.lookups) == (1, 3)
    older = {"entries": [[f"{k:016x}", f, c] for k, (f, c) in cache.entries.items()], "hits": 1, "lookups": 3}
    from_list = FecCache(size=5, forget_every=3)
    from_list.load(older)
    assert list(from_list.entries.items()) == list(cache.entries.items())
    assert [restored.get(7), restored.get(7)] == [-1.5, None]  # the count came back: the third hit forgets it


def test_fingerprint_memo_skips_runs_for_known_live_code_and_changes_no_score(monkeypatch: pytest.MonkeyPatch) -> None:
    """Children whose live code was fingerprinted before (dead-code mutations, plain copies) skip the short run
    and score exactly as with the memo off: same fitness, hits, train steps and hit rate."""
    import evonas.kernels.program_cpu as kernel

    fingerprinted: list[int] = []
    real = kernel.fec_keys
    monkeypatch.setattr(kernel, "fec_keys", lambda batch, *a, **k: (fingerprinted.append(len(batch)), real(batch, *a, **k))[1])
    space = ProgramSpace()  # the demo's space: many mutations land in dead code
    rng = np.random.default_rng(3)
    parents = [space.random(rng) for _ in range(5)] + [sgd_linear_regression()]
    options = {"kind": "linear", "tasks": 3, "features": 4, "train": 30, "valid": 10, "fec": True}
    memo, plain = ProgramTaskSet(**options), ProgramTaskSet(**options)
    plain.fingerprint_memo_size = 0
    runs = {"memo": 0, "plain": 0}
    for step in range(6):
        children = [space.mutate(parents[i % len(parents)], rng)[0] for i in range(50)]
        seeds = list(range(50 * step, 50 * step + 50))
        scored = {}
        for name, task in (("memo", memo), ("plain", plain)):
            before = sum(fingerprinted)
            scored[name] = task.evaluate_batch(children, seeds)
            runs[name] += sum(fingerprinted) - before
        assert scored["memo"] == scored["plain"]
        parents = children[:6]
    assert memo.train_steps == plain.train_steps and memo.metrics() == plain.metrics()
    assert runs["plain"] == 300 and runs["memo"] < 200


def test_space_config_round_trip_gives_the_same_mutations() -> None:
    """config.json is written with sorted keys; a reloaded space must mutate exactly like the original."""
    space = ProgramSpace(mutation_weights={"remove": 1.0, "alter_param": 2.0, "insert": 1.0}, min_sizes=(10, 1, 1), max_sizes=(12, 4, 10))
    back = ProgramSpace.from_dict(json.loads(json.dumps(space.to_dict(), sort_keys=True)))
    assert back == space
    genome = space.random(np.random.default_rng(0))
    for seed in range(200):
        assert space.mutate(genome, np.random.default_rng(seed)) == back.mutate(genome, np.random.default_rng(seed))


@given(seed=st.integers(0, 2**32 - 1))
def test_compiled_dead_code_pass_matches_the_genome_analysis(seed: int) -> None:
    """prune_batch (Numba, used for work) keeps exactly the instructions ProgramGenome.pruned (display) keeps."""
    from evonas.kernels.program_cpu import prune_batch

    rng = np.random.default_rng(seed)
    genomes = [WIDE.random(rng) for _ in range(8)]
    fast = prune_batch(to_batch(genomes, eliminate_dead=False))
    slow = to_batch(genomes, eliminate_dead=True)
    assert np.array_equal(fast.length, slow.length)
    for name in ("op", "in1", "in2", "out"):
        got, want = getattr(fast, name), getattr(slow, name)
        width = min(got.shape[2], want.shape[2])
        assert np.array_equal(got[:, :, :width], want[:, :, :width])


def test_hurdles_stop_programs_below_the_rolling_percentile_and_save_steps() -> None:
    """Below-hurdle programs keep their first-stage score; good ones are scored on every task; steps are saved."""
    rng = np.random.default_rng(4)
    space = ProgramSpace()
    genomes = [space.random(rng) for _ in range(300)] + [sgd_linear_regression(lr=0.2)] * 5
    plain = ProgramTaskSet(kind="linear", tasks=10, features=4, train=100, valid=100)
    hurdled = ProgramTaskSet(kind="linear", tasks=10, features=4, train=100, valid=100, hurdle=True, hurdle_tasks=2, hurdle_window=100)
    seeds = list(range(len(genomes)))
    full = [f for f, _ in plain.evaluate_batch(genomes, seeds)]
    got = []
    for start in range(0, len(genomes), 50):  # in batches, so the rolling window fills
        got += [f for f, _ in hurdled.evaluate_batch(genomes[start : start + 50], seeds[start : start + 50])]
    assert got[-5:] == pytest.approx(full[-5:])  # the good programs clear every hurdle
    assert sum(g == pytest.approx(f) for g, f in zip(got, full)) < len(genomes)  # some stopped early
    assert hurdled.hurdle_stops > 100 and hurdled.train_steps < plain.train_steps
    best = hurdled.evaluate_batch([sgd_linear_regression(lr=0.2)], [0])[0][0]
    assert best == pytest.approx(plain.evaluate_batch([sgd_linear_regression(lr=0.2)], [0])[0][0])
    state = json.loads(json.dumps(hurdled.state_dict()))
    clone = ProgramTaskSet(kind="linear", tasks=10, features=4, train=100, valid=100, hurdle=True, hurdle_tasks=2, hurdle_window=100)
    clone.load_state_dict(state)
    assert clone.evaluate_batch(genomes[:20], seeds[:20]) == hurdled.evaluate_batch(genomes[:20], seeds[:20])


def test_truncated_fec_hashing_merges_nearly_equal_errors() -> None:
    """[P]'s truncation maps errors equal to 1e-8 in the squashed scale to one key; [C]'s exact hashing does not."""
    from evonas.kernels.program_cpu import fec_keys

    tasks = build_task_arrays("linear", 3, 4, 20, 10, seed=0)
    a = sgd_linear_regression(lr=0.2)
    b = sgd_linear_regression(lr=0.2 + 1e-13)
    batch = to_batch([a, b])
    exact = fec_keys(batch, tasks)
    truncated = fec_keys(batch, tasks, truncated=True)
    assert exact[0] != exact[1] and truncated[0] == truncated[1]


class _ScriptedUniforms:
    """A generator stand-in serving [0, 1) uniforms from one fixed sequence, zeros included where asked."""

    def __init__(self, values: list[float]) -> None:
        self.values = values
        self.position = 0

    def random(self, size: int | None = None) -> float | np.ndarray:
        if size is None:
            self.position += 1
            return self.values[self.position - 1]
        self.position += size
        return np.array(self.values[self.position - size : self.position])


@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 12), zeros=st.lists(st.integers(0, 300), max_size=6))
def test_batched_random_instructions_read_the_stream_like_one_by_one_calls(seed: int, count: int, zeros: list[int]) -> None:
    """Drawing a component's uniforms in one call gives the instructions (and leaves the stream where) one
    call per instruction would, also when a data uniform is exactly 0 and must be redrawn."""
    values = np.random.default_rng(seed).random(3 * 7 * count + 40).tolist()
    for z in zeros:
        values[z % len(values)] = 0.0
    values += [0.5] * 20  # redraws past the end never run dry
    batched, single = _ScriptedUniforms(values), _ScriptedUniforms(values)
    for c in range(3):
        many = WIDE.random_instructions(c, count, batched)
        one_by_one = [sequential_random_instruction(WIDE, c, single) for _ in range(count)]
        assert many == one_by_one
        assert batched.position == single.position


def sequential_random_instruction(space: ProgramSpace, component: int, rng: _ScriptedUniforms) -> tuple:
    """The plain rule, one instruction at a time: seven uniforms, then a redraw for each data uniform that is 0."""
    from evonas.genomes.program_ir import DATA_OPS, UNIFORM_OPS, op_inputs, op_output

    allowed = [OP_ID[name] for name in (space.setup_ops, space.predict_ops, space.learn_ops)[component]]
    u = list(rng.random(7))
    op = allowed[int(u[0] * len(allowed))]
    counts = {"s": space.scalars, "v": space.vectors, "m": space.matrices}
    kinds, kind = op_inputs(op), op_output(op)
    a = int(u[1] * counts[kinds[0]]) if kinds else 0
    b = int(u[2] * counts[kinds[1]]) if len(kinds) > 1 else 0
    low = 1 if kind in ("s", "v") else 0
    o = low + int(u[3] * (counts[kind] - low)) if kind else 0
    if op not in DATA_OPS:
        return (op, a, b, o, 0.0, 0.0, 0.0)
    sym = []
    for x in u[4:7]:
        while x == 0.0:
            x = rng.random()
        sym.append(2.0 * x - 1.0)
    data = {56: (sym[0], 0.0, 0.0), 57: (u[4], sym[1], 0.0), 58: (u[4], u[5], sym[2])}.get(op)
    if data is None:
        data = (sym[0], sym[1], 0.0) if op in UNIFORM_OPS else (sym[0], u[5], 0.0)
    return (op, a, b, o, *data)


@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_batched_mutation_gives_each_child_as_if_made_alone(seed: int) -> None:
    """mutate_many over a mixed batch (plain and packed parents, every size) equals one mutate_seeded per
    child: a child depends on its parent and its seed only, never on its batch."""
    rng = np.random.default_rng(seed)
    parents = [WIDE.random(rng) for _ in range(6)]
    packed = [child for child, _ in WIDE.mutate_many(parents, rng.integers(0, 2**63, 6, dtype=np.uint64))]
    mixed = parents + packed + packed[:2]
    seeds = rng.integers(0, 2**63, len(mixed), dtype=np.uint64)
    before = [p.to_dict() for p in mixed]
    together = WIDE.mutate_many(mixed, seeds)
    alone = [WIDE.mutate_seeded(p, int(s)) for p, s in zip(mixed, seeds)]
    assert together == alone
    assert [p.to_dict() for p in mixed] == before  # parents untouched
    for child, mutation in together:
        child.validate()
        assert mutation.kind in MUTATION_TYPES


def test_packed_genomes_behave_like_plain_ones() -> None:
    """A child held as a row of its batch compares, hashes, pickles, round-trips and lowers like the same
    program built from tuples; batches gathered from several batches keep every row's instructions."""
    import pickle

    rng = np.random.default_rng(1)
    first = [c for c, _ in WIDE.mutate_many([WIDE.random(rng) for _ in range(5)], np.arange(5, dtype=np.uint64))]
    second = [c for c, _ in WIDE.mutate_many(first, np.arange(100, 105, dtype=np.uint64))]
    mixed = [second[3], first[0], second[1], first[4], first[0]]
    plain = [ProgramGenome(*g.components(), g.scalars, g.vectors, g.matrices, g.features) for g in mixed]
    assert mixed == plain and [hash(g) for g in mixed] == [hash(g) for g in plain]
    assert [ProgramGenome.from_dict(g.to_dict()) for g in mixed] == plain
    assert pickle.loads(pickle.dumps(mixed)) == plain
    assert [g.fingerprint() for g in mixed] == [g.fingerprint() for g in plain]
    for dead in (False, True):
        fast, slow = to_batch(mixed, dead), to_batch(plain, dead)
        assert np.array_equal(fast.length, slow.length)
        width = min(fast.op.shape[2], slow.op.shape[2])
        for name in ("op", "in1", "in2", "out", "data"):
            assert np.array_equal(getattr(fast, name)[:, :, :width], getattr(slow, name)[:, :, :width])


def test_children_live_in_arenas_that_are_never_overwritten(monkeypatch: pytest.MonkeyPatch) -> None:
    """With arenas of a few rows, generations of children roll over into new arenas: every child equals the same
    mutation of a plain copy of its parent, and genomes made earlier keep their instructions."""
    from evonas.genomes.automl_zero import ChildArena

    space = ProgramSpace.from_dict(WIDE.to_dict())  # its own arena
    row_bytes = 3 * space.width * (4 * 4 + 3 * 8) + 3 * 4
    monkeypatch.setattr(ChildArena, "BYTES", 7 * row_bytes)  # 7 rows, or 4 x the batch when that is more
    rng = np.random.default_rng(5)
    population = [space.random(rng) for _ in range(6)]
    def row_arrays(genome: ProgramGenome) -> list[np.ndarray]:
        batch, row = genome._packed
        return [getattr(batch, name)[row].copy() for name in ("op", "in1", "in2", "out", "data", "length")]

    made: list[tuple[ProgramGenome, list[np.ndarray]]] = []
    arenas = set()
    for generation in range(8):
        parents = [population[i] for i in rng.integers(0, len(population), 3 + generation % 3)]
        seeds = np.arange(len(parents), dtype=np.uint64) + 1000 * generation
        children = space.mutate_many(parents, seeds)
        for parent, seed, (child, mutation) in zip(parents, seeds.tolist(), children):
            plain_parent = ProgramGenome(*parent.components(), parent.scalars, parent.vectors, parent.matrices, parent.features)
            expected, expected_mutation = WIDE.mutate_seeded(plain_parent, seed)
            assert child == expected and mutation == expected_mutation
            made.append((child, row_arrays(child)))
            arenas.add(id(child._packed[0]))
        population = population[len(children):] + [c for c, _ in children]
    assert len(arenas) > 2
    for genome, snapshot in made:  # the rows themselves, not the instruction tuples a genome caches once read
        assert all(np.array_equal(a, b) for a, b in zip(row_arrays(genome), snapshot))


def test_mutation_mix_follows_the_weights_and_the_copy_probability() -> None:
    """The demo mix (U = 0.9; alter, randomize instruction, randomize component at 1/3 each): 10% copies and
    30% of each type over 6,000 children; an insert into a full component is refused and logged as such."""
    space = ProgramSpace()
    genome = space.random(np.random.default_rng(0))
    kinds = [m for _, m in space.mutate_many([genome] * 6000, np.arange(6000, dtype=np.uint64))]
    copies = sum(m.kind == "identity" for m in kinds) / len(kinds)
    assert copies == pytest.approx(0.1, abs=0.015)
    for name in ("alter_param", "randomize_instruction", "randomize_component"):
        assert sum(m.kind == name for m in kinds) / len(kinds) == pytest.approx(0.3, abs=0.025)
    full = ProgramSpace(mutation_weights={"insert": 1.0}, mutate_prob=1.0)
    child, mutation = full.mutate_seeded(genome, 7)
    assert child == genome and mutation.kind == "insert" and mutation.detail.endswith("full (refused)")


def test_log_normal_steps_use_standard_normal_draws() -> None:
    """The compiled mutation's normal draws (Box-Muller) have mean 0 and variance 1."""
    from evonas.kernels.program_mutate import _normal

    state = np.array([12345], dtype=np.uint64)
    draws = np.array([_normal(state) for _ in range(40_000)])
    assert abs(draws.mean()) < 0.02 and abs(draws.std() - 1.0) < 0.02


def test_shorter_runs_read_the_same_examples_as_smaller_task_sets() -> None:
    """Fewer epochs, training or validation examples (the FEC fingerprint run) score exactly as a task set cut
    to that size: the kernel's lane-major step data is indexed per epoch, not packed to the run's length."""
    rng = np.random.default_rng(3)
    genomes = [WIDE.random(rng) for _ in range(40)]
    tasks = small_tasks(2, False)
    seeds = np.arange(40, dtype=np.uint64)
    cut = TaskArrays(tasks.x_train[:, :5], tasks.y_train[:, :5], tasks.x_valid, tasks.y_valid,
                     np.ascontiguousarray(tasks.order[:, :1, :5]), False)
    short, steps, errors = run_programs(to_batch(genomes), tasks, seeds, n_train=5, epochs=1, record_errors=True)
    want, want_steps, want_errors = run_programs(to_batch(genomes), cut, seeds, record_errors=True)
    assert np.array_equal(short, want) and np.array_equal(steps, want_steps)
    assert np.array_equal(errors, want_errors, equal_nan=True)
    second_epoch_only = TaskArrays(tasks.x_train, tasks.y_train, tasks.x_valid, tasks.y_valid,
                                   np.ascontiguousarray(tasks.order[:, 1:]), False)
    fitness, _, _ = run_programs(to_batch(genomes), second_epoch_only, seeds)
    reference = [reference_fitness(g, second_epoch_only, int(s)) for g, s in zip(genomes, seeds)]
    assert np.allclose(fitness, reference, rtol=1e-9, equal_nan=True)


@given(seed=st.integers(0, 2**64 - 1), idents=st.lists(st.integers(0, 2**62), min_size=1, max_size=20))
def test_vectorised_seed_derivation_matches_the_scalar_rule(seed: int, idents: list[int]) -> None:
    """Batched mutation and evaluation seeds (numpy) are exactly the per-id seeds every other path uses."""
    from evonas.executors import evaluation_seed, evaluation_seeds
    from evonas.rng import MUTATE, derive_seed, derive_seeds

    assert derive_seeds(seed, MUTATE, np.array(idents)).tolist() == [derive_seed(seed, MUTATE, i) for i in idents]
    assert evaluation_seeds(seed, idents) == [evaluation_seed(seed, i) for i in idents]


def _search(folder: Path, options: dict, cycles: int, max_train_steps: int | None, compiled: bool, monkeypatch: pytest.MonkeyPatch,
            resume_at: int | None = None, helpers: int = 0, helped: list[int] | None = None, wait_for_helpers: bool = False) -> tuple:
    """An aging search of a small AutoML-Zero space run in this process, with or without the compiled loop (and
    its ``helpers`` threads); returns what must match: lineage rows, the strategy's stream and population, the
    task's state. ``helped`` gets the count of items the helpers did; ``wait_for_helpers`` makes each call wait
    until its helpers run, so that they take part even in calls shorter than a thread's start."""
    import pyarrow.dataset as ds

    from evonas.config import RunOptions
    from evonas.executors import InProcessExecutor
    from evonas.families.automl_zero.search import ProgramBreeder
    from evonas.run import Run

    bred: list[int] = []
    real_breed = ProgramBreeder.breed
    monkeypatch.setattr(ProgramBreeder, "breed", lambda self, *a: (out := real_breed(self, *a)) and (bred.append(len(out[0])) or out))
    breeders: list[ProgramBreeder] = []
    real_breeder = ProgramTaskSet.breeder

    def breeder_with_helpers(self: ProgramTaskSet, *args: Any) -> ProgramBreeder | None:
        made = real_breeder(self, *args)
        if made is not None:
            made.helpers, made.wait_for_helpers = helpers, wait_for_helpers
            breeders.append(made)
        return made

    monkeypatch.setattr(ProgramTaskSet, "breeder", breeder_with_helpers if compiled else (lambda self, *a: None))
    config = RunOptions("automl-zero", "linear-regression", "aging", 60, 6, cycles, 10, 5, "cpu", None, None, None, None, None,
                          "cpu", {"tasks": 3, "train": 20, "valid": 10, **options}, "full").resolve()
    config.max_train_steps = max_train_steps
    run = Run.create(folder, config)
    if resume_at is not None:  # stop part-way (a budget), then resume to the end as `evonas resume` does
        run.config.cycles = run.strategy.budget = resume_at
        executor = InProcessExecutor(config.task, config.task_options, config.seed)
        run.execute(executor)
        run = Run.open(folder, cycles)
    executor = InProcessExecutor(config.task, config.task_options, config.seed)
    run.execute(executor)
    table = ds.dataset(folder / "lineage", format="arrow").to_table().sort_by("id")
    rows = table.drop_columns(["wall_time", "eval_seconds"]).to_pylist()  # worker: this process on both paths
    strategy = run.strategy
    population = [(m.id, m.fitness, m.genome.to_dict()) for m in strategy.population]
    assert (sum(bred) >= strategy.told - 200) if compiled else not bred  # all but the first batches were bred
    if helped is not None:
        helped.append(sum(b.helped for b in breeders))
    return rows, strategy.rng.bit_generator.state, population, strategy.best.id, strategy.told, executor.task.state_dict()


@pytest.mark.parametrize("options, cycles, max_train_steps, resume_at, helpers", [
    ({"fec": True, "fec_cache_size": 40, "fec_forget_every": 3}, 905, None, None, 0),  # evictions, forgetting, a last batch of 5
    ({"fec": True, "fec_cache_size": 40, "fec_forget_every": 3}, 905, None, None, 1),  # the same with a helper thread
    ({"fec": True, "fec_cache_size": 40}, 905, None, None, 3),  # three helpers: more threads than cores
    ({"fec": False, "tasks": 10}, 500, None, None, 0),  # ten tasks: the mean sums in numpy's pairwise order
    ({"fec": False, "tasks": 10}, 500, None, None, 1),
    ({"fec": True, "epochs": 2}, 5000, 150_000, None, 0),  # the train-step budget ends the run part-way through a call
    ({"fec": True, "epochs": 2}, 5000, 150_000, None, 1),
    ({"fec": True}, 1200, None, 430, 0),  # stopped mid-call by the cycle budget, then resumed
    ({"fec": True}, 1200, None, 430, 1),
])
def test_compiled_search_loop_gives_the_batch_paths_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict, cycles: int,
                                                         max_train_steps: int | None, resume_at: int | None, helpers: int) -> None:
    """The compiled loop (tournaments, mutation, FEC, aging in one call; with helper threads taking shares of each
    batch) logs the same lineage as ask -> evaluate -> tell batch by batch, and leaves the same random stream,
    population, best, FEC cache and train steps."""
    helped: list[int] = []
    compiled = _search(tmp_path / "compiled", options, cycles, max_train_steps, True, monkeypatch, resume_at, helpers, helped, True)
    batch = _search(tmp_path / "batch", options, cycles, max_train_steps, False, monkeypatch, resume_at)
    assert (helped[0] > 0) == (helpers > 0)  # the helpers took part (so the equality below covers shared work)
    assert compiled[0] == batch[0]
    assert compiled[1:] == batch[1:]
    assert len(compiled[0]) == (cycles if max_train_steps is None else compiled[4]) and compiled[4] > 60


COMPILE_AHEAD = """
import sys
from pathlib import Path
from evonas.config import RunOptions
from evonas.executors import make_executor
from evonas.families.automl_zero.search import ProgramBreeder
from evonas.kernels.program_cpu import _run_rows
from evonas.kernels.program_search import _work, breed
from evonas.run import Run
config = RunOptions("automl-zero", "linear-regression", "aging", 60, 6, 600, 10, 5, "cpu", None, None, None, None, None, "cpu",
                    {"tasks": 3, "train": 20, "valid": 10}, "full").resolve()
run = Run.create(Path(sys.argv[1]), config)
executor = make_executor(config.task, config.task_options, config.seed, 1)
run.breeder(executor).compile_loop()
print(len(breed.signatures), len(_work.signatures), len(_run_rows.signatures))
bred = []
real_breed = ProgramBreeder.breed
ProgramBreeder.breed = lambda self, *a: (out := real_breed(self, *a)) and (bred.append(len(out[0])) or out)
run.execute(executor)
print(len(breed.signatures), len(_work.signatures), len(_run_rows.signatures), run.strategy.told, sum(bred))
"""


def test_the_loop_compiles_ahead_and_shares_one_compiled_interpreter_with_the_batch_path(tmp_path: Path) -> None:
    """``compile_loop`` readies the search loop and its work function without the interpreter (which another process
    can compile meanwhile: the warm-up); the run then uses those very signatures, and the initial population's
    evaluations (called from Python) and the loop's (through a pointer) share one compiled interpreter."""
    result = subprocess.run([sys.executable, "-c", COMPILE_AHEAD, str(tmp_path / "run")], capture_output=True, text=True, timeout=900,
                            env={**os.environ, "PYTHONSAFEPATH": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[:2] == ["1 1 0", "1 1 1 600 540"]  # all but the initial population bred


def test_helper_threads_take_shares_of_the_work_and_change_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the demo's task sizes (calls of 2,000 children, milliseconds each) a helper thread gets going within each
    call and does part of its children and runs; the run is the one-thread run all the same. (The small cases above
    may end a call before a helper starts.)"""
    options = {"fec": True, "tasks": 10, "train": 100, "valid": 100}
    alone = _search(tmp_path / "alone", options, 4100, None, True, monkeypatch)
    helped: list[int] = []
    shared = _search(tmp_path / "shared", options, 4100, None, True, monkeypatch, helpers=1, helped=helped)
    assert shared == alone and helped[0] > 0


def test_compiled_loop_does_all_the_work_itself_when_a_helper_never_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Work is claimed chunk by chunk, so a call whose helper thread never gets to run (a busy machine) still
    finishes, alone, with the same run; nothing waits for a helper that has not claimed anything."""
    import evonas.families.automl_zero.search as program_search

    class NeverRuns:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def start(self) -> None:
            pass

        def join(self) -> None:
            pass

    alone = _search(tmp_path / "alone", {"fec": True}, 700, None, True, monkeypatch)
    monkeypatch.setattr(program_search.threading, "Thread", NeverRuns)
    helped: list[int] = []
    stalled = _search(tmp_path / "stalled", {"fec": True}, 700, None, True, monkeypatch, helpers=1, helped=helped)
    assert stalled == alone and helped == [0]


def test_atomics_give_exact_counts_from_two_threads_at_once() -> None:
    """The helpers' atomics: load, store, add (returns the value before) and compare-swap (only from the expected
    value); two nogil threads adding at once lose no update, where a plain read-modify-write would."""
    import threading

    from numba import njit

    from evonas.kernels.atomics import atomic_add, atomic_compare_swap, atomic_load, atomic_store

    @njit(nogil=True)
    def add_many(counter, steps):
        for i in range(steps.shape[0]):  # (the same loop with `counter[0] += steps[i]` ends at 2,000,000 here)
            atomic_add(counter, 0, steps[i])

    @njit
    def single_thread(a):
        atomic_store(a, 1, 7)
        before = atomic_add(a, 1, 5)
        missed = atomic_compare_swap(a, 1, 7, 100)
        swapped = atomic_compare_swap(a, 1, 12, 3)
        return before, missed, swapped, atomic_load(a, 1)

    assert single_thread(np.zeros(2, dtype=np.int64)) == (7, False, True, 3)
    counter, steps = np.zeros(1, dtype=np.int64), np.ones(2_000_000, dtype=np.int64)
    add_many(counter, steps[:1])  # compiled before the threads start
    counter[0] = 0
    threads = [threading.Thread(target=add_many, args=(counter, steps)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter[0] == 4_000_000


def test_heavy_tasks_on_several_threads_keep_the_parallel_batch_path() -> None:
    """With several threads, tasks whose full evaluation is heavy keep the batch path (its batch's evaluations run in
    parallel); light tasks such as the demo's take the loop on any thread count, the extra threads as helpers."""
    import numba

    from evonas.strategies.aging import AgingEvolution

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two numba threads")
    strategy = AgingEvolution(ProgramSpace(), 1, 1000, population=50, sample=5)
    light = ProgramTaskSet(tasks=10, train=100, valid=100)
    heavy = ProgramTaskSet(tasks=10, train=1900, valid=100)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(2)
        assert light.breeder(strategy, 10, 1).helpers == 1 and heavy.breeder(strategy, 10, 1) is None
        numba.set_num_threads(1)
        assert heavy.breeder(strategy, 10, 1).helpers == 0
    finally:
        numba.set_num_threads(before)
    assert ProgramTaskSet(hurdle=True).breeder(strategy, 10, 1) is None  # hurdles: the batch path's own


def test_named_opcodes_are_the_op_tables_ids() -> None:
    """The kernels' dispatch names each op (``elif o == VECTOR_SUM:``); every name is the id of that op."""
    import evonas.genomes.program_ir as ir

    assert [getattr(ir, name.upper()) for name in ir.OP_NAMES] == list(range(ir.N_OPS))
