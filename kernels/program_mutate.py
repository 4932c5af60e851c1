"""Compiled AutoML-Zero mutation: a batch of children from a batch of parents in one call.

Each child's randomness is a SplitMix64 stream started from its own 64-bit seed (the run derives it from
run seed and child id), so a child depends only on its parent and its seed, never on the batch it was made
in. The one-genome API (``ProgramSpace.mutate``) calls this same code with a batch of one, so there is a
single implementation of the mutation rules (../shared/specs/automl_zero.md, section 7; [C] by default).

Codes returned per child: ``(type, component, position, other)`` where ``type`` indexes ``MUTATION_TYPES``
(``COPY`` for the unmutated copy, ``NO_COMPONENT`` when no component may change), ``position`` is the
instruction touched (``REFUSED`` when insert/remove hit a size limit, -1 when the component is empty) and
``other`` is the alter-param field code or trade's removed position.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from evonas.genomes.program_ir import (
    ALTER_FIELDS,
    COPY,
    MATRIX_CONST_SET,
    MATRIX_GAUSSIAN_SET,
    MATRIX_UNIFORM_SET,
    MUTATION_TYPES,
    NO_COMPONENT,
    NO_OP,
    REFUSED,
    SCALAR_CONST_SET,
    SCALAR_GAUSSIAN_SET,
    SCALAR_UNIFORM_SET,
    VECTOR_CONST_SET,
)

from .program_cpu import copy_instruction
from .splitmix import index as _index
from .splitmix import uniform as _uniform

_TWO_PI = 2.0 * math.pi

# The genome module owns the mutation vocabulary; the kernel's codes are read from it.
ALTER, RANDOMIZE_INSTRUCTION, RANDOMIZE_COMPONENT, INSERT, REMOVE, TRADE, RANDOMIZE_ALGORITHM, IDENTITY = (
    MUTATION_TYPES.index(name) for name in ("alter_param", "randomize_instruction", "randomize_component", "insert", "remove",
                                            "trade", "randomize_algorithm", "identity")
)
(F_NOOP, F_OUT, F_CONSTANT, F_INDEX, F_VALUE, F_ROW, F_COLUMN, F_MEAN, F_STDDEV, F_BOUNDS, F_IN1, F_IN2) = (
    ALTER_FIELDS.index(name) for name in ("no_op unchanged", "out", "constant", "index", "value", "row", "column", "mean", "stddev",
                                          "bounds", "in1", "in2")
)


@njit(cache=True)
def _open_symmetric(state: np.ndarray) -> float:
    """U(-1, 1) on the open interval (a draw of exactly 0, p = 2^-53, is drawn again)."""
    u = _uniform(state)
    while u == 0.0:
        u = _uniform(state)
    return 2.0 * u - 1.0


@njit(cache=True)
def _normal(state: np.ndarray) -> float:
    """Standard normal by Box-Muller (one value per two uniforms; 1 - u keeps the log finite)."""
    u1 = 1.0 - _uniform(state)
    u2 = _uniform(state)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)


@njit(cache=True)
def _address(state: np.ndarray, kind: int, counts: np.ndarray, output: bool) -> int:
    low = 1 if output and kind < 2 else 0  # outputs never target s0 (label) or v0 (features)
    return low + _index(state, counts[kind] - low)


@njit(cache=True)
def _random_instruction(state, allowed, n_allowed, counts, in_kind, out_kind, k, c_op, c_in1, c_in2, c_out, c_data):
    """Write a random instruction of the component's allowed ops at position ``k`` of the child arrays."""
    o = allowed[_index(state, n_allowed)]
    a = 0
    b = 0
    if in_kind[o, 0] >= 0:
        a = _address(state, in_kind[o, 0], counts, False)
    if in_kind[o, 1] >= 0:
        b = _address(state, in_kind[o, 1], counts, False)
    d = 0
    if out_kind[o] >= 0:
        d = _address(state, out_kind[o], counts, True)
    c_op[k] = o
    c_in1[k] = a
    c_in2[k] = b
    c_out[k] = d
    d0 = 0.0
    d1 = 0.0
    d2 = 0.0
    if o == SCALAR_CONST_SET:
        d0 = _open_symmetric(state)
    elif o == VECTOR_CONST_SET:
        d0 = _uniform(state)
        d1 = _open_symmetric(state)
    elif o == MATRIX_CONST_SET:
        d0 = _uniform(state)
        d1 = _uniform(state)
        d2 = _open_symmetric(state)
    elif SCALAR_UNIFORM_SET <= o <= MATRIX_UNIFORM_SET:
        lo = _open_symmetric(state)
        hi = _open_symmetric(state)
        d0 = min(lo, hi)
        d1 = max(lo, hi)
    elif SCALAR_GAUSSIAN_SET <= o <= MATRIX_GAUSSIAN_SET:
        d0 = _open_symmetric(state)  # mean in (-1, 1)
        d1 = _uniform(state)  # standard deviation in [0, 1)
    c_data[k, 0] = d0
    c_data[k, 1] = d1
    c_data[k, 2] = d2


@njit(cache=True)
def _step(state: np.ndarray, value: float, flip: bool, paper: bool) -> float:
    """[C]'s log-normal scaling or sign flip (p 0.1), or [P]'s x U[0.5, 2]."""
    if flip and _uniform(state) < 0.1:
        return -value
    if paper:
        return value * (0.5 + 1.5 * _uniform(state))
    return value * math.exp(_normal(state))


@njit(cache=True)
def _alter(state, k, counts, in_kind, out_kind, paper, c_op, c_in1, c_in2, c_out, c_data) -> int:
    """Change one field of instruction ``k`` in place; returns the field code."""
    o = c_op[k]
    if o == NO_OP:
        return F_NOOP
    if o >= SCALAR_CONST_SET:  # data ops (the last nine): the output or the data
        if _uniform(state) < 0.5:
            c_out[k] = _address(state, out_kind[o], counts, True)
            return F_OUT
        if o == SCALAR_CONST_SET:
            c_data[k, 0] = _step(state, c_data[k, 0], True, paper)
            return F_CONSTANT
        if o == VECTOR_CONST_SET:
            if _uniform(state) < 0.5:
                c_data[k, 0] = _uniform(state)
                return F_INDEX
            c_data[k, 1] = _step(state, c_data[k, 1], True, paper)
            return F_VALUE
        if o == MATRIX_CONST_SET:
            r = _uniform(state)
            if r < 1.0 / 3.0:
                c_data[k, 0] = _uniform(state)
                return F_ROW
            if r < 2.0 / 3.0:
                c_data[k, 1] = _uniform(state)
                return F_COLUMN
            c_data[k, 2] = _step(state, c_data[k, 2], True, paper)
            return F_VALUE
        if o >= SCALAR_GAUSSIAN_SET:
            if _uniform(state) < 0.5:
                c_data[k, 0] = _step(state, c_data[k, 0], True, paper)
                return F_MEAN
            c_data[k, 1] = _step(state, c_data[k, 1], False, paper)
            return F_STDDEV
        lo = c_data[k, 0]
        hi = c_data[k, 1]
        if _uniform(state) < 0.5:
            lo = _step(state, lo, True, paper)
        else:
            hi = _step(state, hi, True, paper)
        c_data[k, 0] = min(lo, hi)
        c_data[k, 1] = max(lo, hi)
        return F_BOUNDS
    inputs = 0
    if in_kind[o, 0] >= 0:
        inputs += 1
    if in_kind[o, 1] >= 0:
        inputs += 1
    pick = _index(state, inputs + 1)
    if pick == 0 and inputs > 0:
        c_in1[k] = _address(state, in_kind[o, 0], counts, False)
        return F_IN1
    if pick == 1 and inputs > 1:
        c_in2[k] = _address(state, in_kind[o, 1], counts, False)
        return F_IN2
    c_out[k] = _address(state, out_kind[o], counts, True)
    return F_OUT


@njit(cache=True)
def _shift_insert(c_op, c_in1, c_in2, c_out, c_data, n, k):
    """Open a slot at ``k`` in a component of ``n`` instructions."""
    for q in range(n, k, -1):
        c_op[q] = c_op[q - 1]
        c_in1[q] = c_in1[q - 1]
        c_in2[q] = c_in2[q - 1]
        c_out[q] = c_out[q - 1]
        for r in range(3):
            c_data[q, r] = c_data[q - 1, r]


@njit(cache=True)
def _shift_remove(c_op, c_in1, c_in2, c_out, c_data, n, k):
    """Close the slot at ``k`` in a component of ``n`` instructions (the freed last slot is zeroed)."""
    for q in range(k, n - 1):
        c_op[q] = c_op[q + 1]
        c_in1[q] = c_in1[q + 1]
        c_in2[q] = c_in2[q + 1]
        c_out[q] = c_out[q + 1]
        for r in range(3):
            c_data[q, r] = c_data[q + 1, r]
    c_op[n - 1] = 0
    c_in1[n - 1] = 0
    c_in2[n - 1] = 0
    c_out[n - 1] = 0
    for r in range(3):
        c_data[n - 1, r] = 0.0


@njit(cache=True)
def _randomize_component(state, c, allowed, n_allowed, counts, in_kind, out_kind, c_op, c_in1, c_in2, c_out, c_data, c_length):
    for k in range(c_length[c]):
        _random_instruction(state, allowed[c], n_allowed[c], counts, in_kind, out_kind, k,
                            c_op[c], c_in1[c], c_in2[c], c_out[c], c_data[c])


@njit(cache=True)
def _mutate_one(state, seed, allowed, n_allowed, counts, in_kind, out_kind, min_sizes, max_sizes, mutate_prob, cumulative, type_ids,
                paper, c_op, c_in1, c_in2, c_out, c_data, c_length, codes):
    """Mutate the child arrays (a copy of the parent) in place and fill its four codes; ``state`` is scratch
    for the child's stream (one array for the whole batch: an allocation per child cost more than the mutation)."""
    state[0] = seed
    codes[1] = -1
    codes[2] = -1
    codes[3] = -1
    if _uniform(state) >= mutate_prob:
        codes[0] = COPY
        return
    u = _uniform(state) * cumulative[cumulative.shape[0] - 1]
    kind = type_ids[type_ids.shape[0] - 1]
    for i in range(cumulative.shape[0]):
        if u < cumulative[i]:
            kind = type_ids[i]
            break
    codes[0] = kind
    if kind == IDENTITY:
        return
    if kind == RANDOMIZE_ALGORITHM:
        for c in range(3):
            if n_allowed[c] > 0:
                _randomize_component(state, c, allowed, n_allowed, counts, in_kind, out_kind, c_op, c_in1, c_in2, c_out, c_data, c_length)
        return
    mutable = 0
    for c in range(3):
        if n_allowed[c] > 0:
            mutable += 1
    if mutable == 0:
        codes[0] = NO_COMPONENT
        codes[1] = kind
        return
    pick = _index(state, mutable)
    c = 0
    for q in range(3):
        if n_allowed[q] > 0:
            if pick == 0:
                c = q
                break
            pick -= 1
    codes[1] = c
    n = c_length[c]
    if kind == ALTER:
        if n > 0:
            k = _index(state, n)
            codes[2] = k
            codes[3] = _alter(state, k, counts, in_kind, out_kind, paper, c_op[c], c_in1[c], c_in2[c], c_out[c], c_data[c])
    elif kind == RANDOMIZE_INSTRUCTION:
        if n > 0:
            k = _index(state, n)
            codes[2] = k
            _random_instruction(state, allowed[c], n_allowed[c], counts, in_kind, out_kind, k, c_op[c], c_in1[c], c_in2[c], c_out[c], c_data[c])
    elif kind == RANDOMIZE_COMPONENT:
        _randomize_component(state, c, allowed, n_allowed, counts, in_kind, out_kind, c_op, c_in1, c_in2, c_out, c_data, c_length)
    elif kind == INSERT:
        if n >= max_sizes[c]:
            codes[2] = REFUSED
        else:
            k = _index(state, n + 1)
            codes[2] = k
            _shift_insert(c_op[c], c_in1[c], c_in2[c], c_out[c], c_data[c], n, k)
            _random_instruction(state, allowed[c], n_allowed[c], counts, in_kind, out_kind, k, c_op[c], c_in1[c], c_in2[c], c_out[c], c_data[c])
            c_length[c] = n + 1
    elif kind == REMOVE:
        if n <= min_sizes[c]:
            codes[2] = REFUSED
        else:
            k = _index(state, n)
            codes[2] = k
            _shift_remove(c_op[c], c_in1[c], c_in2[c], c_out[c], c_data[c], n, k)
            c_length[c] = n - 1
    elif kind == TRADE:
        k = _index(state, n + 1)
        _shift_insert(c_op[c], c_in1[c], c_in2[c], c_out[c], c_data[c], n, k)
        _random_instruction(state, allowed[c], n_allowed[c], counts, in_kind, out_kind, k, c_op[c], c_in1[c], c_in2[c], c_out[c], c_data[c])
        j = _index(state, n + 1)
        _shift_remove(c_op[c], c_in1[c], c_in2[c], c_out[c], c_data[c], n + 1, j)
        codes[2] = k
        codes[3] = j


@njit(cache=True)
def mutate_programs(op, in1, in2, out, data, length, parents, seeds, allowed, n_allowed, counts, in_kind, out_kind,
                    min_sizes, max_sizes, mutate_prob, cumulative, type_ids, paper,
                    c_op, c_in1, c_in2, c_out, c_data, c_length, codes):
    """Child i = mutation of program ``parents[i]`` with seed ``seeds[i]``; the child arrays are zero-filled and
    one wider than any component may grow, so trade's insert-then-remove always fits."""
    state = np.empty(1, dtype=np.uint64)
    for i in range(parents.shape[0]):
        _copy_program(op, in1, in2, out, data, length, parents[i], c_op, c_in1, c_in2, c_out, c_data, c_length, i)
        _mutate_one(state, seeds[i], allowed, n_allowed, counts, in_kind, out_kind, min_sizes, max_sizes, mutate_prob, cumulative,
                    type_ids, paper, c_op[i], c_in1[i], c_in2[i], c_out[i], c_data[i], c_length[i], codes[i])


@njit(cache=True)
def _copy_program(op, in1, in2, out, data, length, p, d_op, d_in1, d_in2, d_out, d_data, d_length, q):
    """Program ``p`` of the source arrays into slot ``q`` of the destination (at least as wide, zero-filled: only
    the instructions in use are copied, the padding is already zero)."""
    for c in range(3):
        d_length[q, c] = length[p, c]
        for k in range(length[p, c]):
            copy_instruction(op, in1, in2, out, data, p, c, k, d_op, d_in1, d_in2, d_out, d_data, q, k)


@njit(cache=True)
def copy_rows(op, in1, in2, out, data, length, rows, d_op, d_in1, d_in2, d_out, d_data, d_length, at):
    """Program ``rows[i]`` of the source arrays into slot ``at[i]`` of the (possibly wider, zero-filled) destination."""
    for i in range(rows.shape[0]):
        _copy_program(op, in1, in2, out, data, length, rows[i], d_op, d_in1, d_in2, d_out, d_data, d_length, at[i])
