"""GPU kernels (AutoML-Zero programs, NEAT networks) against the CPU kernels under numba's CUDA simulator.

Not collected by the suite itself (no ``test_`` prefix): ``test_gpu.py`` runs this file in a subprocess with
``NUMBA_ENABLE_CUDASIM=1``, which numba reads at import, so it must be set before numba is loaded.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import config
from test_automl_zero import random_program, sgd_linear_regression, small_tasks
from test_neat import FEED_FORWARD, RECURRENT, grown

from evonas.families.automl_zero.tasks import ProgramTaskSet
from evonas.families.neat.tasks import STANDARD_START, NeatTask
from evonas.genomes.automl_zero import ProgramGenome, ProgramSpace, to_batch
from evonas.genomes.neat import NeatSpace
from evonas.genomes.program_ir import OP_ID
from evonas.kernels.neat_cpu import THIRTY_SIX_DEGREES, activate_rows, pack, pole_episodes
from evonas.kernels.neat_cuda import activate_rows_cuda, pole_episodes_cuda
from evonas.kernels.program_cpu import run_programs
from evonas.kernels.program_cuda import run_programs_cuda

pytestmark = [
    pytest.mark.skipif(not config.ENABLE_CUDASIM, reason="run by test_gpu.py with NUMBA_ENABLE_CUDASIM=1"),
    # NumPy scalars warn where the GPU silently overflows (uint64 hashing wraps by design, floats go to inf)
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
]


@settings(max_examples=12)
@given(data=st.data(), classification=st.booleans(), scale=st.sampled_from([1.0, 30.0]), record=st.booleans())
def test_random_programs_score_the_same_on_the_gpu(data: st.DataObject, classification: bool, scale: float, record: bool) -> None:
    """Any ops, addresses and constants (overflow, NaN, out-of-range fractions): the same per-task fitness
    (1e-9 relative, NaN equal to NaN), training steps and recorded errors as the CPU kernel."""
    genomes = [random_program(data) for _ in range(8)]
    tasks = small_tasks(data.draw(st.integers(0, 1000)), classification, scale)
    seeds = np.arange(8, dtype=np.uint64) + np.uint64(data.draw(st.integers(0, 2**40)))
    batch = to_batch(genomes, eliminate_dead=False)
    lengths = {"n_train": 5, "n_valid": 3, "epochs": 1, "record_errors": True} if record else {}
    cpu_fitness, cpu_steps, cpu_errors = run_programs(batch, tasks, seeds, **lengths)
    gpu_fitness, gpu_steps, gpu_errors = run_programs_cuda(batch, tasks, seeds, **lengths)
    assert np.allclose(gpu_fitness, cpu_fitness, rtol=1e-9, atol=0.0, equal_nan=True), (gpu_fitness, cpu_fitness)
    assert np.array_equal(gpu_steps, cpu_steps)
    assert np.allclose(gpu_errors, cpu_errors, rtol=1e-9, atol=0.0, equal_nan=True)


def test_each_task_draws_its_own_random_stream_as_on_the_cpu() -> None:
    """A prediction drawn in Setup from a random op differs per task; every task's draw matches the CPU's."""
    gaussian = (OP_ID["scalar_gaussian_set"], 0, 0, 2, 0.0, 1.0, 0.0)
    copy = (OP_ID["scalar_sum"], 2, 0, 1, 0.0, 0.0, 0.0)  # s1 = s2 + s0, and s0 is 0 during Predict
    genome = ProgramGenome((gaussian,), (copy,), (), 4, 3, 1, 3)
    tasks = small_tasks(4, False)
    batch = to_batch([genome] * 3)
    seeds = np.array([1, 2, 3], dtype=np.uint64)
    gpu, _, _ = run_programs_cuda(batch, tasks, seeds)
    cpu, _, _ = run_programs(batch, tasks, seeds)
    assert np.array_equal(gpu, cpu) and len(set(gpu.ravel().tolist())) == gpu.size


def test_a_task_on_the_cuda_device_scores_like_the_cpu_with_fec() -> None:
    """ProgramTaskSet(device="cuda"): FEC fingerprints and full runs on the GPU give the CPU's scores, hits and
    steps; the hand-written SGD regressor is solved there too."""
    options = {"kind": "linear", "tasks": 2, "features": 4, "train": 300, "valid": 20, "task_seed": 5, "fec": True}
    gpu, cpu = ProgramTaskSet(**options, device="cuda"), ProgramTaskSet(**options, device="cpu")
    genomes = [sgd_linear_regression(lr=0.2), sgd_linear_regression(lr=0.2), random_space_genome(1), random_space_genome(2)]
    assert gpu.evaluate_batch(genomes, [1, 2, 3, 4]) == cpu.evaluate_batch(genomes, [1, 2, 3, 4])
    assert gpu.metrics() == cpu.metrics() and gpu.metrics()["fec_hit_rate"] == 0.25
    assert gpu.evaluate(genomes[0], 9)[0] > 0.999


def random_space_genome(seed: int) -> ProgramGenome:
    return ProgramSpace().random(np.random.default_rng(seed))


@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(0, 30), recurrent=st.booleans())
def test_neat_populations_give_the_cpu_outputs_on_the_gpu(seed: int, steps: int, recurrent: bool) -> None:
    """Grown populations (feed-forward or recurrent, hidden nodes, disabled genes): the same outputs per input row."""
    space = RECURRENT if recurrent else FEED_FORWARD
    nets = pack([grown(space, seed + k, steps).lower() for k in range(4)])
    rows = np.random.default_rng(seed).normal(0, 2, (5, space.n_inputs))
    assert np.allclose(activate_rows_cuda(nets, rows), activate_rows(nets, rows), rtol=1e-12, atol=1e-15)


@settings(max_examples=6)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(0, 25), variant=st.sampled_from(["dpv", "dpnv", "single"]), synchronous=st.booleans())
def test_neat_pole_episodes_balance_as_long_as_on_the_cpu(seed: int, steps: int, variant: str, synchronous: bool) -> None:
    """Every (network, start state): the same balanced decisions and fitness (Gruau's for DPNV) as the CPU."""
    poles, velocities, inputs, gruau = {"dpv": (2, True, 6, False), "dpnv": (2, False, 3, True), "single": (1, True, 4, False)}[variant]
    space = NeatSpace(inputs=inputs, outputs=1, feed_forward=variant != "dpnv", prob_add_node=0.3, prob_add_connection=0.5)
    nets = pack([grown(space, seed + k, steps).lower() for k in range(3)])
    starts = np.vstack([STANDARD_START, np.random.default_rng(seed).uniform(-0.05, 0.05, (2, 6))])
    if poles == 1:
        starts[:, 4:] = 0.0
    angle = 0.2094395 if poles == 1 else THIRTY_SIX_DEGREES
    args = (starts, poles, velocities, True, 0.5, 150, angle, gruau, synchronous)
    gpu_balanced, gpu_fitness = pole_episodes_cuda(nets, *args)
    cpu_balanced, cpu_fitness = pole_episodes(nets, *args)
    assert np.array_equal(gpu_balanced, cpu_balanced)
    assert np.allclose(gpu_fitness, cpu_fitness, rtol=1e-9)


def test_a_neat_task_on_the_cuda_device_scores_like_the_cpu() -> None:
    """NeatTask(device="cuda") on XOR and on DPNV (with the champion tests) gives the CPU's fitness and metrics."""
    for problem, inputs, steps in (("xor", 2, 20), ("double-pole-novel", 3, 10)):
        space = NeatSpace(inputs=inputs, outputs=1, feed_forward=problem == "xor", prob_add_node=0.3, prob_add_connection=0.5)
        genomes = [grown(space, k, steps) for k in range(5)]
        options = {"problem": problem, "max_steps": 120, "long_test_steps": 150, "generalisation_steps": 40} if problem != "xor" else {"problem": "xor"}
        gpu = NeatTask(**options, device="cuda").evaluate_batch(genomes, list(range(5)))
        cpu = NeatTask(**options, device="cpu").evaluate_batch(genomes, list(range(5)))
        assert [f for f, _ in gpu] == pytest.approx([f for f, _ in cpu], rel=1e-9)
        for (_, gpu_metrics), (_, cpu_metrics) in zip(gpu, cpu):
            assert sorted(gpu_metrics) == sorted(cpu_metrics)
            assert np.allclose([gpu_metrics[k] for k in sorted(cpu_metrics)], [cpu_metrics[k] for k in sorted(cpu_metrics)], equal_nan=True)
