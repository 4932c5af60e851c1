"""Compiled LRU cache for functional-equivalence checking (FEC), and a memo table of pure 64-bit results.

Both live in plain arrays so that compiled search loops use them without leaving compiled code, and so that
their state is numbers a checkpoint can hold. The LRU follows [C]'s ``fec_cache``: a hit counts, an entry hit
``forget_every`` times is dropped (so a lucky score cannot stay forever), a full cache evicts the least
recently used entry.

Layout of an LRU: entry arrays ``keys`` (uint64), ``fitness`` (float64), ``counts`` and ``links`` (prev, next)
(int64), a linear-probing ``table`` of entry numbers (-1 empty, power-of-two size) and ``meta`` (see the
``_SIZE`` .. ``_FORGET`` indices). Deletions shift later probes back, so no tombstones build up.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .splitmix import GOLDEN

_SIZE, _OLDEST, _NEWEST, _FREE, _HITS, _LOOKUPS, _CAPACITY, _FORGET, _SHIFT = range(9)
META_FIELDS = 9
HIT, MISS, WAIT = 0, 1, 2


def table_bits(entries: int) -> int:
    """log2 of a probe table holding ``entries`` at a load of at most one half."""
    return max(4, int(2 * max(entries, 1) - 1).bit_length())


def new_lru(capacity: int, forget_every: int) -> tuple[np.ndarray, ...]:
    """An empty LRU of ``capacity`` entries: (keys, fitness, counts, links, free, table, meta)."""
    size = max(capacity, 1)
    bits = table_bits(size)
    meta = np.zeros(META_FIELDS, dtype=np.int64)
    meta[_OLDEST] = meta[_NEWEST] = -1
    meta[_FREE] = size
    meta[_CAPACITY], meta[_FORGET], meta[_SHIFT] = capacity, forget_every, 64 - bits
    free = np.arange(size - 1, -1, -1, dtype=np.int64)  # popped from the end: entries fill 0, 1, 2, ...
    return (np.zeros(size, np.uint64), np.zeros(size), np.zeros(size, np.int64), np.full((2, size), -1, np.int64),
            free, np.full(1 << bits, -1, np.int64), meta)


@njit(cache=True, inline="always")
def _home(key, shift):
    return np.int64((key * GOLDEN) >> np.uint64(shift))


@njit(cache=True)
def _find(keys, table, meta, key):
    """Probe position of ``key``: (position, found); when not found, the empty position it would take."""
    mask = table.shape[0] - 1
    i = _home(key, meta[_SHIFT])
    while True:
        e = table[i]
        if e < 0:
            return i, False
        if keys[e] == key:
            return i, True
        i = (i + 1) & mask


@njit(cache=True)
def _unprobe(keys, table, meta, i):
    """Empty probe position ``i`` and shift later entries of its run back (linear probing without tombstones)."""
    mask = table.shape[0] - 1
    shift = meta[_SHIFT]
    j = i
    while True:
        j = (j + 1) & mask
        e = table[j]
        if e < 0:
            break
        home = _home(keys[e], shift)
        # the entry at j may move to i only if its home does not lie cyclically in (i, j]
        if (i < j and i < home <= j) or (i > j and (home > i or home <= j)):
            continue
        table[i] = e
        i = j
    table[i] = -1


@njit(cache=True, inline="always")
def _unlink(links, meta, e):
    prev, nxt = links[0, e], links[1, e]
    if prev >= 0:
        links[1, prev] = nxt
    else:
        meta[_OLDEST] = nxt
    if nxt >= 0:
        links[0, nxt] = prev
    else:
        meta[_NEWEST] = prev


@njit(cache=True, inline="always")
def _append(links, meta, e):
    last = meta[_NEWEST]
    links[0, e] = last
    links[1, e] = -1
    if last >= 0:
        links[1, last] = e
    else:
        meta[_OLDEST] = e
    meta[_NEWEST] = e


@njit(cache=True)
def _remove(keys, links, free, table, meta, position):
    e = table[position]
    _unprobe(keys, table, meta, position)
    _unlink(links, meta, e)
    free[meta[_FREE]] = e
    meta[_FREE] += 1
    meta[_SIZE] -= 1


@njit(cache=True)
def lru_get(keys, fitness, counts, links, free, table, meta, key, out):
    """Look ``key`` up (counted); on a hit writes its fitness to ``out[0]`` and returns True. The hit renews the
    entry, or drops it once it has been hit ``forget_every`` times."""
    meta[_LOOKUPS] += 1
    position, found = _find(keys, table, meta, key)
    if not found:
        return False
    e = table[position]
    meta[_HITS] += 1
    out[0] = fitness[e]
    count = counts[e] + 1
    if meta[_FORGET] > 0 and count >= meta[_FORGET]:
        _remove(keys, links, free, table, meta, position)
    else:
        counts[e] = count
        _unlink(links, meta, e)
        _append(links, meta, e)
    return True


@njit(cache=True)
def lru_put(keys, fitness, counts, links, free, table, meta, key, value, count):
    """Store ``key`` as the newest entry with ``value`` and hit count ``count``, evicting the oldest when full."""
    if meta[_CAPACITY] <= 0:
        return
    position, found = _find(keys, table, meta, key)
    if found:
        e = table[position]
        _unlink(links, meta, e)
    else:
        if meta[_SIZE] >= meta[_CAPACITY]:
            oldest = meta[_OLDEST]
            old_position, _ = _find(keys, table, meta, keys[oldest])
            _remove(keys, links, free, table, meta, old_position)
            position, _ = _find(keys, table, meta, key)  # the removal may have shifted the run it probes
        meta[_FREE] -= 1
        e = free[meta[_FREE]]
        keys[e] = key
        table[position] = e
        meta[_SIZE] += 1
    fitness[e] = value
    counts[e] = count
    _append(links, meta, e)


@njit(cache=True)
def lru_round(keys, fitness, counts, links, free, table, meta, wanted, status, values):
    """One lookup round of a batch, in order: a key already missed earlier in this round waits (``WAIT``: it
    is looked up again once the first copy's score is in); otherwise it is looked up, giving ``HIT`` (score in
    ``values``) or ``MISS``. Returns the number of misses."""
    out = np.empty(1)
    misses = 0
    missed = np.empty(wanted.shape[0], dtype=np.uint64)
    for i in range(wanted.shape[0]):
        key = wanted[i]
        waiting = False
        for j in range(misses):
            if missed[j] == key:
                waiting = True
                break
        if waiting:
            status[i] = WAIT
        elif lru_get(keys, fitness, counts, links, free, table, meta, key, out):
            status[i] = HIT
            values[i] = out[0]
        else:
            status[i] = MISS
            missed[misses] = key
            misses += 1
    return misses


@njit(cache=True)
def lru_items(keys, fitness, counts, links, meta, out_keys, out_fitness, out_counts):
    """The entries oldest first into the ``out`` arrays (of length ``meta[_SIZE]``)."""
    e = meta[_OLDEST]
    k = 0
    while e >= 0:
        out_keys[k] = keys[e]
        out_fitness[k] = fitness[e]
        out_counts[k] = counts[e]
        k += 1
        e = links[1, e]


@njit(cache=True)
def lru_put_many(keys, fitness, counts, links, free, table, meta, new_keys, values, new_counts):
    """``lru_put`` of each (key, value, count) in order."""
    for i in range(new_keys.shape[0]):
        lru_put(keys, fitness, counts, links, free, table, meta, new_keys[i], values[i], new_counts[i])


def lru_sizes(meta: np.ndarray) -> tuple[int, int, int]:
    """(entries, hits, lookups) of an LRU."""
    return int(meta[_SIZE]), int(meta[_HITS]), int(meta[_LOOKUPS])


def set_lru_counters(meta: np.ndarray, hits: int, lookups: int) -> None:
    """Restore the hit and lookup counters (from a checkpoint)."""
    meta[_HITS], meta[_LOOKUPS] = hits, lookups


# -- memo of pure results ---------------------------------------------------------------------------------

def new_memo(entries: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An empty memo for up to ``entries`` results: (keys, values, meta = [count, limit, shift])."""
    bits = table_bits(entries)
    return (np.zeros(1 << bits, np.uint64), np.zeros(1 << bits, np.uint64),
            np.array([0, entries, 64 - bits], dtype=np.int64))


@njit(cache=True)
def memo_find(keys, meta, key):
    """Probe position of ``key`` and whether it is there. Key 0 marks an empty slot, so 0 itself is never
    stored (it only costs a recomputation)."""
    mask = keys.shape[0] - 1
    i = _home(key, meta[2])
    while True:
        k = keys[i]
        if k == key and key != 0:
            return i, True
        if k == 0:
            return i, False
        i = (i + 1) & mask


@njit(cache=True)
def memo_store(keys, values, meta, position, key, value):
    """Store at the position ``memo_find`` gave; a memo at its limit is emptied first (a pure cache: that
    costs recomputation, never a different result)."""
    if key == 0 or meta[1] <= 0:
        return
    if meta[0] >= meta[1]:
        keys[:] = 0
        meta[0] = 0
        position, _ = memo_find(keys, meta, key)
    keys[position] = key
    values[position] = value
    meta[0] += 1


@njit(cache=True)
def memo_find_many(keys, values, meta, wanted, found, out):
    """``memo_find`` of each of ``wanted``: ``found[i]`` and, where found, ``out[i]`` (its value)."""
    for i in range(wanted.shape[0]):
        position, hit = memo_find(keys, meta, wanted[i])
        found[i] = hit
        if hit:
            out[i] = values[position]


@njit(cache=True)
def memo_store_many(keys, values, meta, new_keys, new_values):
    """``memo_store`` of each (key, value) pair not stored yet."""
    for i in range(new_keys.shape[0]):
        position, hit = memo_find(keys, meta, new_keys[i])
        if not hit:
            memo_store(keys, values, meta, position, new_keys[i], new_values[i])
