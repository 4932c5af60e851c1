"""Mutation of choice rows (tabular benchmark spaces, ``genomes/choices.py``) from a 64-bit stream per child.

A child changes one position to another allowed value, both uniform; a row the space forbids is redrawn from
the same stream. The Python path (``ChoiceRules.mutate_codes``) and the compiled search loop
(``kernels/choice_search.py``) both call ``mutate_one``, so a child is the same pure function of parent and seed.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .splitmix import index

#: Redraws before giving up on a parent with no valid neighbour (none of the built-in spaces has one).
MAX_TRIES = 64


@njit(cache=True, inline="always")
def _allowed_count(allowed: np.ndarray, radices: np.ndarray, p: int) -> int:
    count = 0
    for v in range(radices[p]):
        if allowed[p, v]:
            count += 1
    return count


@njit(cache=True)
def mutate_one(code: int, seed: np.uint64, radices: np.ndarray, places: np.ndarray, allowed: np.ndarray, valid: np.ndarray,
               change: np.ndarray) -> int:
    """The child of ``code`` from stream ``seed``; writes (position, old, new) to ``change`` ((-1, 0, 0): no valid neighbour, unchanged)."""
    state = np.empty(1, dtype=np.uint64)
    state[0] = seed
    positions = len(radices)
    for _ in range(MAX_TRIES):
        # positions with a second allowed value
        movable = 0
        for p in range(positions):
            if _allowed_count(allowed, radices, p) >= 2:
                movable += 1
        if movable == 0:
            break
        pick = index(state, movable)
        p = 0
        for q in range(positions):
            if _allowed_count(allowed, radices, q) >= 2:
                if pick == 0:
                    p = q
                    break
                pick -= 1
        old = (code // places[p]) % radices[p]
        others = 0
        for v in range(radices[p]):
            if allowed[p, v] and v != old:
                others += 1
        pick = index(state, others)
        new = old
        for v in range(radices[p]):
            if allowed[p, v] and v != old:
                if pick == 0:
                    new = v
                    break
                pick -= 1
        child = code + (new - old) * places[p]
        if valid[child]:
            change[0], change[1], change[2] = p, old, new
            return child
    change[0], change[1], change[2] = -1, 0, 0
    return code


@njit(cache=True)
def mutate_codes(codes: np.ndarray, seeds: np.ndarray, radices: np.ndarray, places: np.ndarray, allowed: np.ndarray,
                 valid: np.ndarray, children: np.ndarray, changes: np.ndarray) -> None:
    """``mutate_one`` of every (code, seed) pair into ``children`` and the rows of ``changes``."""
    for k in range(len(codes)):
        children[k] = mutate_one(codes[k], seeds[k], radices, places, allowed, valid, changes[k])
