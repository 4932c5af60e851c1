"""Regularized evolution of AutoML-Zero programs in one compiled call per many batches.

The batch path of the engine (ask a batch, mutate, evaluate, tell, log) costs about as much Python per child as
the kernels cost: Candidate and genome objects, FEC lookups, population bookkeeping. Here whole batches run in
compiled code: tournaments (from the strategy's own uniforms), mutation, dead-code pruning, the fingerprint
memo, FEC lookups and full runs, and the aging population, in exactly the order the batch path takes, so the
lineage is the same. What comes back is columns (parents, mutation codes, fitness, FEC hits) and the children's
programs; the engine logs them.

The population is a ring of P program slots: slot ``(head + i) % P`` holds the i-th oldest member, and a told
child takes the oldest member's slot.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .fec_cache import HIT, MISS, lru_put, lru_round, memo_find, memo_store_many
from .program_cpu import FEC_SEED, MAX_ABS_ERROR, _code_hashes, _prune, _run_rows, interpreter_workspace
from .program_mutate import _copy_program, _mutate_one
from .splitmix import mix

_NAN_BITS = np.uint64(0x7FF8000000000000)  # numpy's NaN: every NaN error hashes alike
MAX_TASKS = 128  # ``pairwise_mean`` follows numpy's summation up to one block


@njit(cache=True, inline="always")
def pairwise_mean(a):
    """Mean of ``a`` (at most 128 values) summed in numpy's pairwise order, so it equals ``a.mean()`` bit for bit."""
    n = a.shape[0]
    if n < 8:
        total = 0.0
        for i in range(n):
            total += a[i]
        return total / n
    r0, r1, r2, r3, r4, r5, r6, r7 = a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
    i = 8
    while i < n - n % 8:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        total += a[i]
        i += 1
    return total / n


@njit(cache=True)
def _error_hash(errors, salt):
    """The FEC key of one program's recorded errors (K, T: example-major, as ``_run_program`` records them), as
    ``program_cpu.fec_keys`` computes it (task by task)."""
    h = np.uint64(42) ^ salt
    bits = errors.view(np.uint64)
    for t in range(errors.shape[1]):
        for k in range(errors.shape[0]):
            value = _NAN_BITS if errors[k, t] != errors[k, t] else bits[k, t]
            h = mix(h ^ value) + np.uint64(t)
    return h


@njit(cache=True, error_model="numpy")
def breed(
    batches, batch, draws, mutation_seeds, eval_seeds, max_train_steps, counters, evaluate,
    r_op, r_in1, r_in2, r_out, r_data, r_length, r_fitness, r_id, ring_meta,
    allowed, n_allowed, counts, in_kind, out_kind, min_sizes, max_sizes, mutate_prob, cumulative, type_ids, paper,
    c_op, c_in1, c_in2, c_out, c_data, c_length, codes, parent_ids, fitness, hits, first_id,
    xs, ys, xv, yv, epochs, n_train, n_valid, n_full, classification, max_abs_error, scalars, vectors, matrices,
    partial, random_op,
    fec, fec_steps, fec_train, fec_valid, fec_salt,
    l_keys, l_fitness, l_counts, l_links, l_free, l_table, l_meta, m_keys, m_values, m_meta,
):
    """Up to ``batches`` batches of ``batch`` children; returns the number run (fewer once ``counters[0]``, the
    train steps, reaches ``max_train_steps``; -1 for no limit). Child ``row`` of the call has id
    ``first_id + row`` and uses ``draws[row]`` (its tournament's uniforms), ``mutation_seeds[row]`` and
    ``eval_seeds[row]``; its program goes to row ``row`` of the ``c_`` arrays, its columns to ``codes``,
    ``parent_ids``, ``fitness`` and ``hits`` (FEC hit, 1.0 or 0.0). With ``evaluate`` false every child scores
    0.5 unrun: what the loop costs on its own (a benchmark)."""
    population = r_fitness.shape[0]
    sample = draws.shape[1]
    n_lanes = ys.shape[1]
    f = xs.shape[1] // n_lanes
    n_per_epoch = n_train
    width = c_op.shape[2]
    state = np.empty(1, dtype=np.uint64)
    s, v, m, vf, mf, tmpv, tmpm, rng, lanes, flags = interpreter_workspace(scalars, vectors, matrices, f, n_lanes)
    # Per child of a batch (row i): the interpreter's outputs, and the rows each of its calls runs.
    task_fitness = np.empty((batch, n_lanes))
    run_steps = np.zeros(batch, dtype=np.int64)
    no_errors = np.empty((batch, 1, n_lanes))
    errors = np.empty((batch, fec_train + fec_valid, n_lanes))
    fingerprint_seeds = np.full(batch, FEC_SEED, dtype=np.uint64)
    rows = np.empty(batch, dtype=np.int64)
    every_row = np.arange(batch)
    p_op = np.zeros((batch, 3, width), dtype=np.int32)
    p_in1 = np.zeros_like(p_op)
    p_in2 = np.zeros_like(p_op)
    p_out = np.zeros_like(p_op)
    p_data = np.zeros((batch, 3, width, 3))
    p_length = np.zeros((batch, 3), dtype=np.int32)
    code = np.empty(batch, dtype=np.uint64)
    key = np.empty(batch, dtype=np.uint64)
    remaining = np.empty(batch, dtype=np.int64)
    waiting = np.empty(batch, dtype=np.int64)
    missed = np.empty(batch, dtype=np.int64)
    wanted = np.empty(batch, dtype=np.uint64)
    status = np.empty(batch, dtype=np.int64)
    values = np.empty(batch)
    done = 0
    for b in range(batches):
        if max_train_steps >= 0 and counters[0] >= max_train_steps:
            break
        base = b * batch
        head = ring_meta[0]
        # Tournaments on the population as it stands before this batch: with replacement, strict '>' keeps the
        # first drawn among equals, and a failure (NaN) never wins (a sample of failures gives its first draw).
        for i in range(batch):
            row = base + i
            best_slot = -1
            best = -math.inf
            for j in range(sample):
                slot = head + int(draws[row, j] * population)
                if slot >= population:
                    slot -= population
                value = r_fitness[slot]
                if value != value:
                    value = -math.inf
                if j == 0 or value > best:
                    best = value
                    best_slot = slot
            parent_ids[row] = r_id[best_slot]
            _copy_program(r_op, r_in1, r_in2, r_out, r_data, r_length, best_slot, c_op, c_in1, c_in2, c_out, c_data, c_length, row)
            _mutate_one(state, mutation_seeds[row], allowed, n_allowed, counts, in_kind, out_kind, min_sizes, max_sizes, mutate_prob,
                        cumulative, type_ids, paper, c_op[row], c_in1[row], c_in2[row], c_out[row], c_data[row], c_length[row], codes[row])
        end = base + batch
        if not evaluate:
            for i in range(base, end):
                fitness[i] = 0.5
                hits[i] = math.nan
        else:
            _prune(c_op[base:end], c_in1[base:end], c_in2[base:end], c_out[base:end], c_data[base:end], c_length[base:end],
                   scalars, vectors, matrices, in_kind, out_kind, partial, random_op, p_op, p_in1, p_in2, p_out, p_data, p_length)
            seeds = eval_seeds[base:end]
            if not fec:
                _run_rows(every_row, p_op, p_in1, p_in2, p_out, p_data, p_length, xs, ys, xv, yv, epochs, n_per_epoch, n_train, n_valid, n_full,
                          classification, max_abs_error, seeds, out_kind, task_fitness, run_steps, no_errors, False, s, v, m, vf, mf,
                          tmpv, tmpm, rng, lanes, flags, 0)
                for i in range(batch):
                    counters[0] += run_steps[i]
                    fitness[base + i] = pairwise_mean(task_fitness[i])
                    hits[base + i] = math.nan
            else:
                # FEC keys: the fingerprint run is a pure function of the live code, so known code reuses its key;
                # the rest are fingerprinted in one call and then remembered.
                _code_hashes(p_op, p_in1, p_in2, p_out, p_data, p_length, code)
                n_new = 0
                for i in range(batch):
                    position, found = memo_find(m_keys, m_meta, code[i])
                    if found:
                        key[i] = m_values[position]
                    else:
                        rows[n_new] = i
                        n_new += 1
                        errors[i] = math.nan
                _run_rows(rows[:n_new], p_op, p_in1, p_in2, p_out, p_data, p_length, xs, ys, xv, yv, 1, n_per_epoch, fec_train, fec_valid,
                          n_full, classification, MAX_ABS_ERROR, fingerprint_seeds, out_kind, task_fitness, run_steps, errors, True, s, v, m,
                          vf, mf, tmpv, tmpm, rng, lanes, flags, 0)
                for k in range(n_new):
                    key[rows[k]] = _error_hash(errors[rows[k]], fec_salt)
                memo_store_many(m_keys, m_values, m_meta, code[rows[:n_new]], key[rows[:n_new]])  # an equal code is stored once
                counters[0] += batch * fec_steps
                n_remaining = batch
                for i in range(batch):
                    remaining[i] = i
                # Rounds as the batch path takes them: lookups in order, then the misses' full runs, then their puts;
                # a key missed earlier in the round waits and is looked up in the next.
                while n_remaining > 0:
                    for k in range(n_remaining):
                        wanted[k] = key[remaining[k]]
                    lru_round(l_keys, l_fitness, l_counts, l_links, l_free, l_table, l_meta, wanted[:n_remaining], status[:n_remaining],
                              values[:n_remaining])
                    n_missed = 0
                    n_waiting = 0
                    for k in range(n_remaining):
                        i = remaining[k]
                        if status[k] == HIT:
                            fitness[base + i] = values[k]
                            hits[base + i] = 1.0
                        elif status[k] == MISS:
                            missed[n_missed] = i
                            n_missed += 1
                        else:
                            waiting[n_waiting] = i
                            n_waiting += 1
                    _run_rows(missed[:n_missed], p_op, p_in1, p_in2, p_out, p_data, p_length, xs, ys, xv, yv, epochs, n_per_epoch, n_train,
                              n_valid, n_full, classification, max_abs_error, seeds, out_kind, task_fitness, run_steps, no_errors, False, s,
                              v, m, vf, mf, tmpv, tmpm, rng, lanes, flags, 0)
                    for k in range(n_missed):
                        i = missed[k]
                        counters[0] += run_steps[i]
                        fitness[base + i] = pairwise_mean(task_fitness[i])
                        hits[base + i] = 0.0
                    for k in range(n_missed):
                        i = missed[k]
                        lru_put(l_keys, l_fitness, l_counts, l_links, l_free, l_table, l_meta, key[i], fitness[base + i], 1)
                    for k in range(n_waiting):
                        remaining[k] = waiting[k]
                    n_remaining = n_waiting
        # Tell: each child takes the oldest member's slot, in order.
        for i in range(batch):
            row = base + i
            _copy_program(c_op, c_in1, c_in2, c_out, c_data, c_length, row, r_op, r_in1, r_in2, r_out, r_data, r_length, head)
            value = fitness[row]
            r_fitness[head] = value if math.isfinite(value) else math.nan
            r_id[head] = first_id + row
            head += 1
            if head == population:
                head = 0
        ring_meta[0] = head
        done += 1
    return done
