"""numba.cuda twins of the bulk NEAT kernels (``kernels/neat_cpu.py``): input rows and pole episodes.

As for programs (``kernels/program_cuda.py``), the device functions are compiled from the CPU kernels' own
Python source, so activation, the cart-pole physics and the fitness rules exist once. One thread runs one
(network, input row) or one (network, start state) pair over its column of workspace arrays whose last axis is
the thread (coalesced), and one launch evaluates the whole population.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from . import neat_cpu as cpu
from .cuda_support import cuda_module, device_twins, launch_shape, rebind, twin_namespace

# callees first: each twin's globals must hold its callees' twins when numba compiles it
_TWINS = ("_sigmoid", "_activate", "_activate_synchronous", "_activate_block", "_derivatives", "rk4_step", "_failed",
          "_set_inputs", "_pole_episode")


def _rows_source(order_offset, order, begin, end, source, weight, n_in, n_out, inputs, out, values, acc):  # pragma: no cover
    """One thread: network ``g`` on input row ``r``, through a one-row block."""
    tid, g, r = thread_pair(order_offset.shape[0] - 1, inputs.shape[0])  # noqa: F821 - bound in the kernel's namespace
    if tid < 0:
        return
    _activate_block(order, begin, end, source, weight, n_in, n_out, inputs, out, g, order_offset[g], order_offset[g + 1],  # noqa: F821
                    r, 1, values[:, tid : tid + 1], acc[tid : tid + 1])


def _poles_source(order_offset, order, begin, end, source, weight, n_nodes, activated, n_in, starts, poles, velocities,  # pragma: no cover
                  bias, bias_value, max_steps, angle, gruau, synchronous, balanced, fitness, values, scratch, jiggle, sums):
    """One thread: network ``g`` balancing from start state ``s``."""
    tid, g, s = thread_pair(n_nodes.shape[0], starts.shape[0])  # noqa: F821 - bound in the kernel's namespace
    if tid < 0:
        return
    balanced[g, s], fitness[g, s] = _pole_episode(  # noqa: F821
        order_offset, order, begin, end, source, weight, activated, n_in, starts[s], poles, velocities, bias, bias_value,
        max_steps, angle, gruau, synchronous, g, values[: n_nodes[g], tid], scratch[0, :, tid], scratch[1, :, tid],
        scratch[2, :, tid], scratch[3, :, tid], scratch[4, :, tid], jiggle[:, tid], sums[: order_offset[g + 1] - order_offset[g], tid],
    )


@cache
def _kernels() -> tuple[Any, Any]:
    """The compiled row and pole kernels (built once per process; numba compiles each at its first launch)."""
    namespace = twin_namespace(cpu)
    device_twins(namespace, _TWINS)
    cuda = namespace["cuda"]
    return cuda.jit(rebind(_rows_source, namespace)), cuda.jit(rebind(_poles_source, namespace))


def _network_arrays(nets: cpu.PackedNets) -> list[Any]:
    cuda = cuda_module()
    return [cuda.to_device(a) for a in (nets.order_offset, nets.order, nets.begin, nets.end, nets.source, nets.weight)]


def _most_nodes(nets: cpu.PackedNets) -> int:
    return max(1, int(nets.n_nodes.max()) if len(nets) else 1)


def activate_rows_cuda(nets: cpu.PackedNets, inputs: np.ndarray) -> np.ndarray:
    """``neat_cpu.activate_rows`` on the GPU: outputs ``[genome, row, output]``, one launch."""
    cuda = cuda_module()
    inputs = cpu.checked_rows(nets, inputs)
    threads = len(nets) * inputs.shape[0]
    out = cuda.device_array((len(nets), inputs.shape[0], nets.n_outputs))
    if threads:
        rows_kernel, _ = _kernels()
        rows_kernel[launch_shape(threads)](*_network_arrays(nets), nets.n_inputs, nets.n_outputs, cuda.to_device(inputs), out,
                                               cuda.device_array((_most_nodes(nets), threads)), cuda.device_array(threads))
    return out.copy_to_host()


def pole_episodes_cuda(
    nets: cpu.PackedNets, starts: np.ndarray, poles: int, velocities: bool, bias: bool, bias_value: float,
    max_steps: int, angle: float = cpu.THIRTY_SIX_DEGREES, gruau: bool = False, synchronous: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """``neat_cpu.pole_episodes`` on the GPU: balanced decisions and fitness ``[genome, start]``, one launch."""
    cuda = cuda_module()
    starts = cpu.checked_starts(nets, starts, poles, velocities, bias)
    threads = len(nets) * len(starts)
    balanced = cuda.device_array((len(nets), len(starts)), dtype=np.int64)
    fitness = cuda.device_array((len(nets), len(starts)))
    if threads:
        _, poles_kernel = _kernels()
        most = _most_nodes(nets)
        poles_kernel[launch_shape(threads)](
            *_network_arrays(nets), cuda.to_device(nets.n_nodes), cuda.to_device(nets.activated), nets.n_inputs, cuda.to_device(starts),
            poles, velocities, bias, bias_value, max_steps, angle, gruau, synchronous, balanced, fitness,
            cuda.device_array((most, threads)), cuda.device_array((5, 6, threads)),
            cuda.device_array((max_steps if gruau else 1, threads)), cuda.device_array((most, threads)),
        )
    return balanced.copy_to_host(), fitness.copy_to_host()
