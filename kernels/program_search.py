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

from .atomics import atomic_add, atomic_compare_swap, atomic_load, atomic_store, spin_pause
from .fec_cache import HIT, MISS, lru_put, lru_round, memo_find, memo_store_many
from .function_pointers import Pointer, pointer
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


# Work a batch shares out (see ``_share``), per child: its copy and mutation alone (MUTATE, the loop without
# evaluation); then its pruning too (CHILDREN); or then also the hash of its live code, the memo lookup and, for code
# not seen before, the fingerprint run and its FEC key (CHILDREN_FEC); and, per child the FEC did not score, its
# full run (FULL).
MUTATE, CHILDREN, CHILDREN_FEC, FULL = 1, 2, 3, 4
# The fewest items a thread claims at once, per kind (several microseconds of work); a claim takes 1/SPREAD of what is
# left when that is more, so claims stay few and the chunks a thread may wait for at the end of a job are small.
# (On the demo, fixed chunks of 2 children with fingerprints and 1 full run measured 15-20 % slower; of 8-12 and
# 2-3, the same as these.)
_CHUNKS = np.array([0, 8, 8, 4, 1], dtype=np.int64)
# The control array the calling thread and its helpers share: one 64-byte line per word that threads write. A job's
# parameters (items, kind, smallest chunk, first child row) go to one of two slots by the parity of its number: a
# slot is written again only two jobs later, after the claim word has moved on, so a thread that read a slot and
# then wins a claim of that job knows it read that job's parameters whole.
EPOCH, CLAIM, DONE = 0, 8, 16
PARAMETERS = 24  # two slots of N_ITEMS, KIND, CHUNK, BASE
N_ITEMS, KIND, CHUNK, BASE = 0, 1, 2, 3
HELPERS, SPREAD, WAIT = 32, 33, 34
HELPED, READY = 40, 41  # items the helpers did over the call; helpers running
CONTROL_SIZE = 48
QUIT = -1
_LOW = (1 << 32) - 1


def new_control(helpers: int, wait: bool = False) -> np.ndarray:
    """A control array for a ``breed`` call with ``helpers`` threads running ``assist`` beside it (0: none); with
    ``wait`` the call first waits until they all run, and each shared job until a helper has claimed a chunk of it
    (tests: then they surely take part; the calling thread could otherwise take every chunk first; a run never waits)."""
    control = np.zeros(CONTROL_SIZE, dtype=np.int64)
    control[HELPERS] = helpers
    control[SPREAD] = 2 * (helpers + 1)
    control[WAIT] = wait
    return control


def loop_buffers(batch: int, width: int, fec_examples: int, n_lanes: int) -> tuple[np.ndarray, ...]:
    """What the threads of a ``breed`` call share per batch: the pruned programs, the parents' ring slots, code
    hashes, FEC keys and which codes were new, the interpreter's outputs, and the row lists its runs take."""
    p_op = np.zeros((batch, 3, width), dtype=np.int32)
    return (
        p_op, np.zeros_like(p_op), np.zeros_like(p_op), np.zeros_like(p_op), np.zeros((batch, 3, width, 3)),
        np.zeros((batch, 3), dtype=np.int32), np.zeros(batch, dtype=np.int64), np.zeros(batch, dtype=np.uint64),
        np.zeros(batch, dtype=np.uint64), np.zeros(batch, dtype=np.bool_), np.zeros((batch, n_lanes)), np.zeros(batch, dtype=np.int64),
        np.zeros((batch, fec_examples, n_lanes)), np.zeros((batch, 1, n_lanes)), np.full(batch, FEC_SEED, dtype=np.uint64),
        np.zeros(batch, dtype=np.int64), np.zeros(batch, dtype=np.int64),
    )


def loop_pointers(buffers, ring, children, tables, task, program, memo) -> tuple[Pointer, Pointer]:  # type: ignore[no-untyped-def]
    """``_work`` and the interpreter ``_run_rows`` as the function pointers ``breed`` and ``assist`` take, typed
    for these arrays (the same ones they are then called with). Passed as pointers, neither is linked into its
    callers and compiled again there (see ``kernels/function_pointers.py``); the interpreter's type is the one
    Python's calls give it too, so every caller shares one compiled interpreter."""
    p_op, p_in1, p_in2, p_out, p_data, p_length, _slots, _code, _key, _fresh, task_fitness, run_steps, errors, _no, seeds, rows, _missed = buffers
    xs, ys, xv, yv, epochs, n_train, n_valid, n_full, classification, max_abs_error = task[:10]
    n_lanes = ys.shape[1]
    ws = (np.empty(1, dtype=np.uint64), *interpreter_workspace(program[0], program[1], program[2], xs.shape[1] // n_lanes, n_lanes))
    run_rows = pointer(_run_rows, rows, p_op, p_in1, p_in2, p_out, p_data, p_length, xs, ys, xv, yv, epochs, n_train, n_train, n_valid,
                       n_full, classification, max_abs_error, seeds, tables[4], task_fitness, run_steps, errors, True, *ws[1:], 0)
    work = pointer(_work, 0, 0, 0, 0, buffers, ring, children, tables, task, program, memo, ws, run_rows)
    return work, run_rows


@njit(cache=True, error_model="numpy")
def _work(kind, lo, hi, base, buffers, ring, children, tables, task, program, memo, ws, run_rows):
    """Items ``lo..hi-1`` of one kind of the batch starting at child row ``base``: children, or for FULL positions
    in the list ``missed``. Every item writes its own rows only, and the memo is only read. ``run_rows`` is the
    interpreter ``_run_rows`` as a function pointer (see ``loop_pointers``)."""
    p_op, p_in1, p_in2, p_out, p_data, p_length, slots, code, key, fresh, task_fitness, run_steps, errors, no_errors, fingerprint_seeds, rows, missed = buffers
    c_op, c_in1, c_in2, c_out, c_data, c_length = children
    allowed, n_allowed, counts, in_kind, out_kind, min_sizes, max_sizes, mutate_prob, cumulative, type_ids, paper = tables
    xs, ys, xv, yv, epochs, n_train, n_valid, n_full, classification, max_abs_error, fec_train, fec_valid, fec_salt = task
    scalars, vectors, matrices, partial, random_op, codes, mutation_seeds, eval_seeds = program
    state, s, v, m, vf, mf, tmpv, tmpm, rng, lanes, flags = ws
    record = kind == CHILDREN_FEC
    if kind == FULL:
        run_rows(missed[lo:hi], p_op, p_in1, p_in2, p_out, p_data, p_length, xs, ys, xv, yv, epochs, n_train, n_train, n_valid, n_full,
                 classification, max_abs_error, eval_seeds[base:], out_kind, task_fitness, run_steps, no_errors, record, s, v, m, vf, mf,
                 tmpv, tmpm, rng, lanes, flags, 0)
        return
    r_op, r_in1, r_in2, r_out, r_data, r_length = ring
    for row in range(base + lo, base + hi):
        _copy_program(r_op, r_in1, r_in2, r_out, r_data, r_length, slots[row - base], c_op, c_in1, c_in2, c_out, c_data, c_length, row)
        _mutate_one(state, mutation_seeds[row], allowed, n_allowed, counts, in_kind, out_kind, min_sizes, max_sizes, mutate_prob,
                    cumulative, type_ids, paper, c_op[row], c_in1[row], c_in2[row], c_out[row], c_data[row], c_length[row], codes[row])
    if kind == MUTATE:
        return
    a, b = base + lo, base + hi
    _prune(c_op[a:b], c_in1[a:b], c_in2[a:b], c_out[a:b], c_data[a:b], c_length[a:b], scalars, vectors, matrices, in_kind, out_kind,
           partial, random_op, p_op[lo:hi], p_in1[lo:hi], p_in2[lo:hi], p_out[lo:hi], p_data[lo:hi], p_length[lo:hi])
    if kind == CHILDREN:
        return
    # FEC keys: the fingerprint run is a pure function of the live code, so known code reuses its key; the rest are
    # fingerprinted here (and remembered by the calling thread once the batch's keys are all in).
    m_keys, m_values, m_meta = memo
    _code_hashes(p_op[lo:hi], p_in1[lo:hi], p_in2[lo:hi], p_out[lo:hi], p_data[lo:hi], p_length[lo:hi], code[lo:hi])
    n_new = 0
    for i in range(lo, hi):
        position, found = memo_find(m_keys, m_meta, code[i])
        fresh[i] = not found
        if found:
            key[i] = m_values[position]
        else:
            rows[lo + n_new] = i
            n_new += 1
            errors[i] = math.nan
    if n_new > 0:
        run_rows(rows[lo:lo + n_new], p_op, p_in1, p_in2, p_out, p_data, p_length, xs, ys, xv, yv, 1, n_train, fec_train, fec_valid,
                 n_full, classification, MAX_ABS_ERROR, fingerprint_seeds, out_kind, task_fitness, run_steps, errors, record, s, v, m, vf,
                 mf, tmpv, tmpm, rng, lanes, flags, 0)
        for k in range(lo, lo + n_new):
            key[rows[k]] = _error_hash(errors[rows[k]], fec_salt)


@njit(cache=True, inline="always")
def _claim_and_work(control, epoch, buffers, ring, children, tables, task, program, memo, ws, work, run_rows, helping):
    """Claim chunks of job ``epoch`` and do them until none is left (or the job is no longer current); a helper
    (``helping``) also counts what it did."""
    slot = PARAMETERS + 4 * (epoch & 1)
    n, kind, chunk, base = control[slot + N_ITEMS], control[slot + KIND], control[slot + CHUNK], control[slot + BASE]
    while True:
        word = atomic_load(control, CLAIM)
        lo = word & _LOW
        # A claim names its job, so a thread still holding an older job's parameters takes nothing from a newer one.
        if (word >> 32) != epoch or lo >= n:
            return
        hi = min(lo + max(chunk, (n - lo) // control[SPREAD]), n)
        if atomic_compare_swap(control, CLAIM, word, word + (hi - lo)):
            work(kind, lo, hi, base, buffers, ring, children, tables, task, program, memo, ws, run_rows)
            if helping:
                atomic_add(control, HELPED, hi - lo)
            atomic_add(control, DONE, hi - lo)


@njit(cache=True, inline="always")
def _share(control, epoch, kind, n, base, buffers, ring, children, tables, task, program, memo, ws, work, run_rows):
    """Do ``n`` items of ``kind`` with the helper threads (alone when there are none or too few items); returns the
    job count so far. Items are claimed in chunks as threads come free, so an idle or late helper costs nothing."""
    chunk = _CHUNKS[kind]
    if n <= chunk or control[HELPERS] == 0:
        if n > 0:
            work(kind, 0, n, base, buffers, ring, children, tables, task, program, memo, ws, run_rows)
        return epoch
    epoch += 1
    slot = PARAMETERS + 4 * (epoch & 1)
    control[slot + N_ITEMS] = n
    control[slot + KIND] = kind
    control[slot + CHUNK] = chunk
    control[slot + BASE] = base
    atomic_store(control, DONE, 0)
    atomic_store(control, CLAIM, epoch << 32)
    atomic_store(control, EPOCH, epoch)  # publishes the parameters above
    if control[WAIT]:  # tests: a helper claims the first chunk, so shared work is surely covered (a run never waits)
        while (atomic_load(control, CLAIM) & _LOW) == 0:
            spin_pause()
    _claim_and_work(control, epoch, buffers, ring, children, tables, task, program, memo, ws, work, run_rows, False)
    while atomic_load(control, DONE) < n:
        spin_pause()
    return epoch


@njit(cache=True, nogil=True)
def assist(control, buffers, ring, children, tables, task, program, memo, work, run_rows):
    """A helper thread of one ``breed`` call (with the same arrays and pointers): takes chunks of each job it
    posts, until ``breed`` posts QUIT."""
    n_lanes = task[1].shape[1]
    f = task[0].shape[1] // n_lanes
    ws = (np.empty(1, dtype=np.uint64), *interpreter_workspace(program[0], program[1], program[2], f, n_lanes))
    atomic_add(control, READY, 1)
    seen = 0
    while True:
        epoch = atomic_load(control, EPOCH)
        if epoch == QUIT:
            return
        if epoch == seen:
            spin_pause()
            continue
        seen = epoch
        _claim_and_work(control, epoch, buffers, ring, children, tables, task, program, memo, ws, work, run_rows, True)


@njit(cache=True, error_model="numpy", nogil=True)
def breed(
    batches, batch, draws, max_train_steps, counters, evaluate, r_fitness, r_id, ring_meta, parent_ids, fitness, hits, first_id,
    fec, fec_steps, lru, control, buffers, ring, children, tables, task, program, memo, work, run_rows,
):
    """Up to ``batches`` batches of ``batch`` children; returns the number run (fewer once ``counters[0]``, the
    train steps, reaches ``max_train_steps``; -1 for no limit). Child ``row`` of the call has id
    ``first_id + row`` and uses ``draws[row]`` (its tournament's uniforms) and its mutation and evaluation seeds
    (in ``program``); its program goes to row ``row`` of ``children``, its columns to the mutation codes,
    ``parent_ids``, ``fitness`` and ``hits`` (FEC hit, 1.0 or 0.0). With ``evaluate`` false every child scores
    0.5 unrun: what the loop costs on its own (a benchmark).

    Threads running ``assist`` on the same ``control`` take shares of each batch's children and full runs; every
    item writes its own rows, and everything that depends on order (tournaments, memo updates, FEC rounds, the
    tell) stays here, so the outcome does not depend on how many help. Ends by posting QUIT. ``work`` and
    ``run_rows`` are ``_work`` and the interpreter as function pointers (``loop_pointers``)."""
    r_op, r_in1, r_in2, r_out, r_data, r_length = ring
    c_op, c_in1, c_in2, c_out, c_data, c_length = children
    l_keys, l_fitness, l_counts, l_links, l_free, l_table, l_meta = lru
    m_keys, m_values, m_meta = memo
    p_op, p_in1, p_in2, p_out, p_data, p_length, slots, code, key, fresh, task_fitness, run_steps, errors, no_errors, fingerprint_seeds, rows, missed = buffers
    population = r_fitness.shape[0]
    sample = draws.shape[1]
    n_lanes = task[1].shape[1]
    f = task[0].shape[1] // n_lanes
    ws = (np.empty(1, dtype=np.uint64), *interpreter_workspace(program[0], program[1], program[2], f, n_lanes))
    remaining = np.empty(batch, dtype=np.int64)
    waiting = np.empty(batch, dtype=np.int64)
    wanted = np.empty(batch, dtype=np.uint64)
    status = np.empty(batch, dtype=np.int64)
    values = np.empty(batch)
    kind = MUTATE if not evaluate else (CHILDREN_FEC if fec else CHILDREN)
    if control[WAIT]:
        while atomic_load(control, READY) < control[HELPERS]:
            spin_pause()
    epoch = 0
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
            slots[i] = best_slot
        epoch = _share(control, epoch, kind, batch, base, buffers, ring, children, tables, task, program, memo, ws, work, run_rows)
        end = base + batch
        if not evaluate:
            for i in range(base, end):
                fitness[i] = 0.5
                hits[i] = math.nan
        elif not fec:
            for i in range(batch):
                missed[i] = i
            epoch = _share(control, epoch, FULL, batch, base, buffers, ring, children, tables, task, program, memo, ws, work, run_rows)
            for i in range(batch):
                counters[0] += run_steps[i]
                fitness[base + i] = pairwise_mean(task_fitness[i])
                hits[base + i] = math.nan
        else:
            n_new = 0
            for i in range(batch):
                if fresh[i]:
                    rows[n_new] = i
                    n_new += 1
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
                epoch = _share(control, epoch, FULL, n_missed, base, buffers, ring, children, tables, task, program, memo, ws, work, run_rows)
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
    atomic_store(control, EPOCH, QUIT)
    return done
