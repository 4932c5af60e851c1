"""Aging evolution over choice rows scored by a table lookup, whole batches per call (the tabular benchmarks'
compiled loop, driven by ``evonas.tasks.tabular_breeder``).

It does what ask -> evaluate -> tell does for a batch, in the same order: every tournament of a batch reads the
population as the batch began (positions are ``floor(u * P)`` of the strategy's uniforms, the fittest wins, the
first drawn among equals, NaN never), child k mutates from stream ``seeds[k]`` (``mutate_one``, as the Python
path), its fitness is ``table[child]``, and after the batch its children join and the oldest leave.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .choice_mutate import mutate_one


@njit(cache=True)
def breed(batches: int, batch: int, draws: np.ndarray, ring_codes: np.ndarray, ring_fitness: np.ndarray, ring_ids: np.ndarray,
          ring_head: np.ndarray, table: np.ndarray, seeds: np.ndarray, first_id: int, radices: np.ndarray, places: np.ndarray,
          allowed: np.ndarray, valid: np.ndarray, children: np.ndarray, parents: np.ndarray, fitness: np.ndarray,
          changes: np.ndarray) -> None:
    """``batches`` batches of ``batch`` children; the ring (codes, fitness, ids; ``ring_head`` the oldest) is the
    population in age order and is updated in place; children, parent ids, fitness and (position, old, new) go out."""
    size = len(ring_codes)
    samples = draws.shape[1]
    for b in range(batches):
        head = ring_head[0]
        start = b * batch
        for k in range(start, start + batch):
            best_pos = -1
            best_value = -math.inf
            for s in range(samples):
                pos = int(draws[k, s] * size)
                value = ring_fitness[(head + pos) % size]
                if value != value:  # NaN: a failure never wins
                    value = -math.inf
                if best_pos < 0 or value > best_value:
                    best_pos, best_value = pos, value
            slot = (head + best_pos) % size
            parents[k] = ring_ids[slot]
            child = mutate_one(ring_codes[slot], seeds[k], radices, places, allowed, valid, changes[k])
            children[k] = child
            fitness[k] = table[child]
        for k in range(start, start + batch):  # the batch joins; the oldest leave
            slot = ring_head[0]
            ring_codes[slot] = children[k]
            ring_fitness[slot] = fitness[k]
            ring_ids[slot] = first_id + k
            ring_head[0] = (slot + 1) % size
