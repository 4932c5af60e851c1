"""Seed derivation: every random stream is a pure function of (run seed, purpose, individual id).

That makes a child's genome and its evaluation independent of batching, worker count and device.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

MASK64 = (1 << 64) - 1

#: Purposes keep the streams of one individual apart.
INIT, MUTATE, EVALUATE = 1, 2, 3


def splitmix64(x: int) -> int:
    """One round of SplitMix64: a cheap, well-mixed 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def derive_seed(seed: int, purpose: int, ident: int) -> int:
    """A 63-bit seed (fits torch.manual_seed) for one individual's stream."""
    return splitmix64(splitmix64((seed & MASK64) ^ (purpose << 56)) ^ (ident & MASK64)) >> 1


@lru_cache(maxsize=64)
def _stream_base(seed: int, purpose: int) -> np.uint64:
    return np.uint64(splitmix64((seed & MASK64) ^ (purpose << 56)))


_GOLDEN, _M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S1, _S27, _S30, _S31 = np.uint64(1), np.uint64(27), np.uint64(30), np.uint64(31)


def derive_seeds(seed: int, purpose: int, idents: np.ndarray) -> np.ndarray:
    """``derive_seed`` of many ids at once (uint64 array)."""
    # at least one dimension: integer arrays wrap on overflow silently, where numpy scalars would warn
    x = _stream_base(seed, purpose) ^ np.atleast_1d(np.asarray(idents, dtype=np.uint64))
    x = x + _GOLDEN
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return (x ^ (x >> _S31)) >> _S1


class KeyedRng:
    """A reusable Philox generator re-keyed per (purpose, id); re-keying costs ~2 us against ~10 us for a new Generator."""

    def __init__(self, seed: int) -> None:
        self.seed = seed & MASK64
        self._generator = np.random.Generator(np.random.Philox(key=[self.seed, 0]))
        self._zeros = np.zeros(4, dtype=np.uint64)

    def at(self, purpose: int, ident: int) -> np.random.Generator:
        """The generator positioned at the start of the (purpose, id) stream; valid until the next call."""
        self._generator.bit_generator.state = {
            "bit_generator": "Philox",
            "state": {"counter": self._zeros.copy(), "key": np.array([self.seed, (purpose << 56) ^ ident], dtype=np.uint64)},
            "buffer": self._zeros.copy(),
            "buffer_pos": 4,
            "has_uint32": 0,
            "uinteger": 0,
        }
        return self._generator


def new_generator(seed: int) -> np.random.Generator:
    """The strategy's own selection generator for a run seed."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))


def generator_state(generator: np.random.Generator) -> dict[str, Any]:
    """JSON-safe state of a PCG64 generator."""
    return generator.bit_generator.state


def restore_generator(state: dict[str, Any]) -> np.random.Generator:
    """Rebuild a generator from ``generator_state`` output."""
    generator = np.random.Generator(np.random.PCG64())
    generator.bit_generator.state = state
    return generator
