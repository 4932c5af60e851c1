"""GPU kernels against the CPU kernels under numba's CUDA simulator.

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

from evonas.genomes.automl_zero import ProgramGenome, ProgramSpace, to_batch
from evonas.genomes.program_ir import OP_ID
from evonas.kernels.program_cpu import run_programs
from evonas.kernels.program_cuda import run_programs_cuda
from evonas.tasks.programs import ProgramTaskSet

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
