"""SplitMix64, the counter-based generator both program kernels draw from (interpreter random ops, mutation)."""

from __future__ import annotations

import numpy as np
from numba import njit

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
S11 = np.uint64(11)
INV53 = 1.0 / 9007199254740992.0


@njit(cache=True)
def mix(z: np.uint64) -> np.uint64:
    """SplitMix64's output function: a bijective 64-bit mix."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def uniform(state: np.ndarray) -> float:
    """U[0, 1) with 53 random bits from the stream whose state is ``state[0]`` (advanced by one step)."""
    state[0] = state[0] + GOLDEN
    return float(mix(state[0]) >> S11) * INV53


@njit(cache=True, inline="always")
def index(state: np.ndarray, n: int) -> int:
    """A uniform index in ``0..n-1`` (``n`` >= 1)."""
    return min(int(uniform(state) * n), n - 1)
