"""numba.cuda twin of the AutoML-Zero interpreter (``kernels/program_cpu.py``), one launch per batch.

The device functions are compiled from the CPU kernel's own Python source (each njit function's ``py_func``)
with its callees rebound to their device twins, so the op table, the early-stop rules and the fitness formulas
exist once and the two targets cannot drift apart. One thread runs one (program, task) pair: its memory is a
one-lane view of workspace arrays whose last axis is the thread, and the examples are stored task-last as on
the CPU, so the threads of a warp touch neighbouring addresses (coalesced loads) and every example stays on the
device (no host round trip per example). Under ``NUMBA_ENABLE_CUDASIM=1`` (numba's simulator, for tests
without a GPU) the kernel runs as Python, where ``math.sin(inf)`` raises; there the math functions are
NumPy's, which follow IEEE 754 as the compiled kernels do.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from evonas.genomes.program_ir import OUT_KIND, ProgramBatch

from . import program_cpu as cpu
from . import splitmix
from .cuda_support import cuda_module, device_twins, launch_shape, rebind, twin_namespace

# callees first: each twin's globals must hold its callees' twins when numba compiles it
_TWINS = ("_uniform", "_gaussian", "lane_seed", "fraction_index", "_exec", "_writes_features", "_score_epoch",
          "_run_rows")


def _kernel_source(rows, op, in1, in2, out, data, length, xs, ys, xv, yv, epochs, n_per_epoch, n_train, n_valid,  # pragma: no cover
                   n_full, classification, max_abs_error, seeds, out_kind, task_fitness, steps, errors, record,
                   s, v, m, vf, mf, tmpv, tmpm, rng, lanes, flags):
    """One thread: program ``p`` on task ``t``, with one-lane views of the inputs and the workspace (a flat
    row's lane ``t`` is every T-th element from ``t``)."""
    n_tasks = ys.shape[1]
    threads = rng.shape[0]
    tid, p, t = thread_pair(op.shape[0], n_tasks)  # noqa: F821 - bound in the kernel's namespace
    if tid < 0:
        return
    _run_rows(  # noqa: F821 - bound in the kernel's namespace
        rows[p : p + 1], op, in1, in2, out, data, length, xs[:, t::n_tasks], ys[:, t : t + 1], xv[:, t::n_tasks], yv[:, t : t + 1],
        epochs, n_per_epoch, n_train, n_valid, n_full, classification, max_abs_error, seeds, out_kind, task_fitness[:, t : t + 1],
        steps[:, t], errors[:, :, t : t + 1], record, s[:, tid : tid + 1], v[:, :, tid : tid + 1], m[:, :, :, tid : tid + 1],
        vf[:, tid::threads], mf[:, tid::threads], tmpv[:, tid : tid + 1], tmpm[:, :, tid : tid + 1], rng[tid : tid + 1],
        lanes[:, tid : tid + 1], flags[:, tid : tid + 1], t,
    )


@cache
def _kernel() -> Any:
    """The compiled kernel (built once per process: numba compiles it at its first launch)."""
    namespace = twin_namespace(cpu)
    splitmix_namespace = twin_namespace(splitmix)
    device_twins(splitmix_namespace, ("mix",))
    namespace["_mix"] = splitmix_namespace["mix"]
    device_twins(namespace, _TWINS)
    return namespace["cuda"].jit(rebind(_kernel_source, namespace))


def run_programs_cuda(
    batch: ProgramBatch,
    tasks: cpu.TaskArrays,
    seeds: np.ndarray,
    n_train: int | None = None,
    n_valid: int | None = None,
    epochs: int | None = None,
    record_errors: bool = False,
    max_abs_error: float = cpu.MAX_ABS_ERROR,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``program_cpu.run_programs`` on the GPU: the same arguments and the same results (per-task fitness,
    training steps per program, recorded errors)."""
    cuda = cuda_module()
    batch.check()
    n_train, n_valid, epochs = cpu.run_lengths(tasks, n_train, n_valid, epochs)
    b, t, f = len(batch), tasks.count, tasks.features
    threads = b * t
    errors = np.full((b, n_train + n_valid, t) if record_errors else (b, 1, t), np.nan)  # example-major, as on the CPU
    device = _device_tasks(tasks)
    task_fitness = cuda.device_array((b, t), dtype=np.float64)
    steps = cuda.device_array((b, t), dtype=np.int64)
    errors_device = cuda.to_device(errors)
    v = cuda.device_array((batch.vectors, f, threads))
    m = cuda.device_array((max(batch.matrices, 1), f, f, threads))
    workspace = (
        cuda.device_array((batch.scalars, threads)), v, m, v.reshape(batch.vectors, f * threads),
        m.reshape(max(batch.matrices, 1), f * f * threads), cuda.device_array((f, threads)), cuda.device_array((f, f, threads)),
        cuda.device_array(threads, dtype=np.uint64), cuda.device_array((4, threads)), cuda.device_array((2, threads), dtype=np.bool_),
    )
    program = [cuda.to_device(np.ascontiguousarray(a)) for a in (batch.op, batch.in1, batch.in2, batch.out, batch.data, batch.length)]
    _kernel()[launch_shape(threads)](
        cuda.to_device(np.arange(b, dtype=np.int64)), *program, *device, epochs, tasks.x_train.shape[1], n_train, n_valid, tasks.y_valid.shape[1], tasks.classification,
        max_abs_error, cuda.to_device(np.asarray(seeds, dtype=np.uint64)), _device_out_kind(), task_fitness, steps,
        errors_device, record_errors, *workspace,
    )
    return task_fitness.copy_to_host(), steps.copy_to_host().sum(axis=1), errors_device.copy_to_host().transpose(0, 2, 1)


_DEVICE_TASKS: dict[int, tuple[Any, tuple[Any, ...]]] = {}


def _device_tasks(tasks: cpu.TaskArrays) -> tuple[Any, ...]:
    """The task set's lane-major examples on the device, copied once per task set (a search reuses one)."""
    cuda = cuda_module()
    held = _DEVICE_TASKS.get(id(tasks))
    if held is None or held[0] is not tasks:
        if len(_DEVICE_TASKS) >= 4:  # a protocol makes new task sets per experiment: keep the recent few
            _DEVICE_TASKS.pop(next(iter(_DEVICE_TASKS)))
        held = (tasks, tuple(cuda.to_device(a) for a in tasks.lanes))
        _DEVICE_TASKS[id(tasks)] = held
    return held[1]


@cache
def _device_out_kind() -> Any:
    return cuda_module().to_device(OUT_KIND)
