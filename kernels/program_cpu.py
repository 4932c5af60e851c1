"""Numba bulk interpreter for AutoML-Zero programs: a batch of programs x a batch of tasks per call.

Tasks run in lockstep: memory is laid out with the task ("lane") as the last, runtime-sized axis
(``s[S, T]``, ``v[V, F, T]``, ``m[M, F, F, T]``), so one dispatch of an instruction updates every task's
memory and LLVM vectorises the lane loop. Threads run chunks of the programs in parallel (``_evaluate``). Addresses
are bounds-checked once by ``ProgramBatch.check`` before the call, never inside the loop.

Semantics (../shared/specs/automl_zero.md): Setup once; per training example load x into v0 with s0 = 0,
Predict, (sigmoid of s1 for classification), stop on a NaN or |error| > max_abs_error, load x again with
s0 = y, Learn; after each epoch Predict on the validation set. Two documented choices: standard deviations
use the two-pass formula (no negative variance from rounding), and min/max follow C++ ``std::min``/``std::max``
(``b < a ? b : a`` and ``a < b ? b : a``), which fixes their NaN behaviour.
"""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import numpy as np
from numba import get_num_threads, njit

from evonas.genomes.program_ir import (
    IN_KIND,
    MATRIX_ABS,
    MATRIX_COLUMN_NORM,
    MATRIX_CONST_SET,
    MATRIX_DIFF,
    MATRIX_DIVISION,
    MATRIX_GAUSSIAN_SET,
    MATRIX_HEAVISIDE,
    MATRIX_MATRIX_PRODUCT,
    MATRIX_MAX,
    MATRIX_MEAN,
    MATRIX_MIN,
    MATRIX_NORM,
    MATRIX_PRODUCT,
    MATRIX_RECIPROCAL,
    MATRIX_ROW_MEAN,
    MATRIX_ROW_NORM,
    MATRIX_ROW_ST_DEV,
    MATRIX_ST_DEV,
    MATRIX_SUM,
    MATRIX_TRANSPOSE,
    MATRIX_UNIFORM_SET,
    MATRIX_VECTOR_PRODUCT,
    NO_OP,
    OUT_KIND,
    PARTIAL,
    RANDOM,
    SCALAR_ABS,
    SCALAR_ARCCOS,
    SCALAR_ARCSIN,
    SCALAR_ARCTAN,
    SCALAR_BROADCAST,
    SCALAR_CONST_SET,
    SCALAR_COS,
    SCALAR_DIFF,
    SCALAR_DIVISION,
    SCALAR_EXP,
    SCALAR_GAUSSIAN_SET,
    SCALAR_HEAVISIDE,
    SCALAR_LOG,
    SCALAR_MATRIX_PRODUCT,
    SCALAR_MAX,
    SCALAR_MIN,
    SCALAR_PRODUCT,
    SCALAR_RECIPROCAL,
    SCALAR_SIN,
    SCALAR_SUM,
    SCALAR_TAN,
    SCALAR_UNIFORM_SET,
    SCALAR_VECTOR_PRODUCT,
    VECTOR_ABS,
    VECTOR_COLUMN_BROADCAST,
    VECTOR_CONST_SET,
    VECTOR_DIFF,
    VECTOR_DIVISION,
    VECTOR_GAUSSIAN_SET,
    VECTOR_HEAVISIDE,
    VECTOR_INNER_PRODUCT,
    VECTOR_MAX,
    VECTOR_MEAN,
    VECTOR_MIN,
    VECTOR_NORM,
    VECTOR_OUTER_PRODUCT,
    VECTOR_PRODUCT,
    VECTOR_RECIPROCAL,
    VECTOR_ROW_BROADCAST,
    VECTOR_ST_DEV,
    VECTOR_SUM,
    VECTOR_UNIFORM_SET,
    ProgramBatch,
)

from .splitmix import GOLDEN as _GOLDEN
from .splitmix import S11 as _S11
from .splitmix import mix as _mix

MAX_ABS_ERROR = 100.0
FEC_SEED = 235732282
_TWO_PI = 2.0 * math.pi


@dataclass(frozen=True)
class TaskArrays:
    """T tasks of equal shape: features (T, N, F), labels (T, N), validation likewise, and the training
    order (T, epochs, N) (epoch 0 in dataset order)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    order: np.ndarray
    classification: bool

    @property
    def count(self) -> int:
        """Number of tasks T."""
        return int(self.x_train.shape[0])

    @property
    def features(self) -> int:
        """Feature size F."""
        return int(self.x_train.shape[2])

    @cached_property
    def lanes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The kernel's lane-major copies, built once: training examples in visiting order (E*N, F*T) with
        labels (E*N, T), and the validation set (Nv, F*T) with labels (Nv, T). An example's row is its (F, T) block
        flattened, so loading it into v0 is one contiguous copy."""
        t, n, f = self.x_train.shape
        if self.x_valid.shape[0] != t or self.x_valid.shape[2] != f:
            raise ValueError("train and validation sets differ in task count or feature size")
        order = np.asarray(self.order)
        if order.ndim != 3 or order.shape[0] != t or order.shape[2] != n or (order.size and (order.min() < 0 or order.max() >= n)):
            raise ValueError("training order out of range")
        lane = np.arange(t)[:, None, None]
        xs = self.x_train[lane, order]  # (T, E, N, F)
        ys = self.y_train[lane, order]  # (T, E, N)
        epochs = order.shape[1]
        return (
            np.ascontiguousarray(xs.reshape(t, epochs * n, f).transpose(1, 2, 0), dtype=np.float64).reshape(epochs * n, f * t),
            np.ascontiguousarray(ys.reshape(t, epochs * n).T, dtype=np.float64),
            np.ascontiguousarray(self.x_valid.transpose(1, 2, 0), dtype=np.float64).reshape(self.x_valid.shape[1], f * t),
            np.ascontiguousarray(self.y_valid.T, dtype=np.float64),
        )


@njit(cache=True)
def _uniform(rng: np.ndarray, t: int) -> float:
    """Open-interval U(0, 1) from lane t's SplitMix64 stream."""
    rng[t] = rng[t] + _GOLDEN
    return (float(_mix(rng[t]) >> _S11) + 0.5) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _gaussian(rng: np.ndarray, t: int) -> float:
    u1 = _uniform(rng, t)
    u2 = _uniform(rng, t)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)


@njit(cache=True)
def lane_seed(seed: np.uint64, task: int) -> np.uint64:
    """Initial RNG state of one (evaluation, task) lane."""
    return _mix(seed ^ _mix(np.uint64(task) + _GOLDEN))


@njit(cache=True)
def fraction_index(fraction: float, f: int) -> int:
    """floor(F * fraction), clamped to 0..F-1 whatever the float (NaN, negative, huge)."""
    if not fraction > 0.0:
        return 0
    if fraction >= 1.0:
        return f - 1
    return min(int(fraction * f), f - 1)


# Inlined into the one call site in _run_rows: a call per component run costs more than most components
# (it passes a dozen array structs), and a single site keeps compile time that of one copy. LLVM inlines it
# (forceinline): numba's own inlining (inline="always") deep-copies the function's IR, a third of the interpreter's
# compile time, for the same machine code.
@njit(cache=True, error_model="numpy", forceinline=True)
def _exec(op, in1, in2, out, data, p, c, n, s, v, m, vf, mf, rng, tmpv, tmpm):  # noqa: C901 - one flat dispatch is the point
    # vf (V, F*T) and mf (M, F*F*T) are flat views of v and m: an element-wise op is one loop over the whole
    # vector or matrix, which LLVM vectorises better than F loops of T lanes each.
    n_lanes = s.shape[1]
    f = v.shape[1]
    n_v = vf.shape[1]
    n_m = mf.shape[1]
    lane_acc = tmpm[0, 0]  # per-lane accumulators: reductions keep the lane loop innermost (contiguous)
    for k in range(n):
        o = op[p, c, k]
        a = in1[p, c, k]
        b = in2[p, c, k]
        d = out[p, c, k]
        if o == NO_OP:
            continue
        elif o == SCALAR_SUM:
            for t in range(n_lanes):
                s[d, t] = s[a, t] + s[b, t]
        elif o == SCALAR_DIFF:
            for t in range(n_lanes):
                s[d, t] = s[a, t] - s[b, t]
        elif o == SCALAR_PRODUCT:
            for t in range(n_lanes):
                s[d, t] = s[a, t] * s[b, t]
        elif o == SCALAR_DIVISION:
            for t in range(n_lanes):
                s[d, t] = s[a, t] / s[b, t]
        elif o == SCALAR_ABS:
            for t in range(n_lanes):
                s[d, t] = abs(s[a, t])
        elif o == SCALAR_RECIPROCAL:
            for t in range(n_lanes):
                s[d, t] = 1.0 / s[a, t]
        elif o == SCALAR_SIN:
            for t in range(n_lanes):
                s[d, t] = math.sin(s[a, t])
        elif o == SCALAR_COS:
            for t in range(n_lanes):
                s[d, t] = math.cos(s[a, t])
        elif o == SCALAR_TAN:
            for t in range(n_lanes):
                s[d, t] = math.tan(s[a, t])
        elif o == SCALAR_ARCSIN:
            for t in range(n_lanes):
                x = s[a, t]
                s[d, t] = math.asin(x) if -1.0 <= x <= 1.0 else np.nan
        elif o == SCALAR_ARCCOS:
            for t in range(n_lanes):
                x = s[a, t]
                s[d, t] = math.acos(x) if -1.0 <= x <= 1.0 else np.nan
        elif o == SCALAR_ARCTAN:
            for t in range(n_lanes):
                s[d, t] = math.atan(s[a, t])
        elif o == SCALAR_EXP:
            for t in range(n_lanes):
                s[d, t] = math.exp(s[a, t])
        elif o == SCALAR_LOG:
            for t in range(n_lanes):
                x = s[a, t]
                s[d, t] = math.log(x) if x > 0.0 else (-np.inf if x == 0.0 else np.nan)
        elif o == SCALAR_HEAVISIDE:
            for t in range(n_lanes):
                s[d, t] = 1.0 if s[a, t] >= 0.0 else 0.0
        elif o == VECTOR_HEAVISIDE:
            for q in range(n_v):
                vf[d, q] = 1.0 if vf[a, q] > 0.0 else 0.0
        elif o == MATRIX_HEAVISIDE:
            for q in range(n_m):
                mf[d, q] = 1.0 if mf[a, q] > 0.0 else 0.0
        elif o == SCALAR_VECTOR_PRODUCT:
            for i in range(f):
                for t in range(n_lanes):
                    v[d, i, t] = s[a, t] * v[b, i, t]
        elif o == SCALAR_BROADCAST:
            for i in range(f):
                for t in range(n_lanes):
                    v[d, i, t] = s[a, t]
        elif o == VECTOR_RECIPROCAL:
            for q in range(n_v):
                vf[d, q] = 1.0 / vf[a, q]
        elif o == VECTOR_NORM:
            for t in range(n_lanes):
                lane_acc[t] = 0.0
            for i in range(f):
                for t in range(n_lanes):
                    lane_acc[t] += v[a, i, t] * v[a, i, t]
            for t in range(n_lanes):
                s[d, t] = math.sqrt(lane_acc[t])
        elif o == VECTOR_ABS:
            for q in range(n_v):
                vf[d, q] = abs(vf[a, q])
        elif o == VECTOR_SUM:
            for q in range(n_v):
                vf[d, q] = vf[a, q] + vf[b, q]
        elif o == VECTOR_DIFF:
            for q in range(n_v):
                vf[d, q] = vf[a, q] - vf[b, q]
        elif o == VECTOR_PRODUCT:
            for q in range(n_v):
                vf[d, q] = vf[a, q] * vf[b, q]
        elif o == VECTOR_DIVISION:
            for q in range(n_v):
                vf[d, q] = vf[a, q] / vf[b, q]
        elif o == VECTOR_INNER_PRODUCT:
            for t in range(n_lanes):
                lane_acc[t] = 0.0
            for i in range(f):
                for t in range(n_lanes):
                    lane_acc[t] += v[a, i, t] * v[b, i, t]
            for t in range(n_lanes):
                s[d, t] = lane_acc[t]
        elif o == VECTOR_OUTER_PRODUCT:
            for i in range(f):
                for j in range(f):
                    for t in range(n_lanes):
                        m[d, i, j, t] = v[a, i, t] * v[b, j, t]
        elif o == SCALAR_MATRIX_PRODUCT:
            for i in range(f):
                for j in range(f):
                    for t in range(n_lanes):
                        m[d, i, j, t] = s[a, t] * m[b, i, j, t]
        elif o == MATRIX_RECIPROCAL:
            for q in range(n_m):
                mf[d, q] = 1.0 / mf[a, q]
        elif o == MATRIX_VECTOR_PRODUCT:
            for i in range(f):
                for t in range(n_lanes):
                    tmpv[i, t] = 0.0
                for j in range(f):
                    for t in range(n_lanes):
                        tmpv[i, t] += m[a, i, j, t] * v[b, j, t]
            for i in range(f):
                for t in range(n_lanes):
                    v[d, i, t] = tmpv[i, t]
        elif o == VECTOR_COLUMN_BROADCAST:
            for i in range(f):
                for j in range(f):
                    for t in range(n_lanes):
                        m[d, i, j, t] = v[a, i, t]
        elif o == VECTOR_ROW_BROADCAST:
            for i in range(f):
                for j in range(f):
                    for t in range(n_lanes):
                        m[d, i, j, t] = v[a, j, t]
        elif o == MATRIX_NORM:
            for t in range(n_lanes):
                acc = 0.0
                for i in range(f):
                    for j in range(f):
                        acc += m[a, i, j, t] * m[a, i, j, t]
                s[d, t] = math.sqrt(acc)
        elif o == MATRIX_COLUMN_NORM:
            for t in range(n_lanes):
                for j in range(f):
                    acc = 0.0
                    for i in range(f):
                        acc += m[a, i, j, t] * m[a, i, j, t]
                    v[d, j, t] = math.sqrt(acc)
        elif o == MATRIX_ROW_NORM:
            for t in range(n_lanes):
                for i in range(f):
                    acc = 0.0
                    for j in range(f):
                        acc += m[a, i, j, t] * m[a, i, j, t]
                    v[d, i, t] = math.sqrt(acc)
        elif o == MATRIX_TRANSPOSE:
            for i in range(f):
                for j in range(f):
                    for t in range(n_lanes):
                        tmpm[i, j, t] = m[a, j, i, t]
            for i in range(f):
                for j in range(f):
                    for t in range(n_lanes):
                        m[d, i, j, t] = tmpm[i, j, t]
        elif o == MATRIX_ABS:
            for q in range(n_m):
                mf[d, q] = abs(mf[a, q])
        elif o == MATRIX_SUM:
            for q in range(n_m):
                mf[d, q] = mf[a, q] + mf[b, q]
        elif o == MATRIX_DIFF:
            for q in range(n_m):
                mf[d, q] = mf[a, q] - mf[b, q]
        elif o == MATRIX_PRODUCT:
            for q in range(n_m):
                mf[d, q] = mf[a, q] * mf[b, q]
        elif o == MATRIX_DIVISION:
            for q in range(n_m):
                mf[d, q] = mf[a, q] / mf[b, q]
        elif o == MATRIX_MATRIX_PRODUCT:
            for t in range(n_lanes):
                for i in range(f):
                    for j in range(f):
                        acc = 0.0
                        for q in range(f):
                            acc += m[a, i, q, t] * m[b, q, j, t]
                        tmpm[i, j, t] = acc
            for i in range(f):
                for j in range(f):
                    for t in range(n_lanes):
                        m[d, i, j, t] = tmpm[i, j, t]
        elif o == SCALAR_MIN:
            for t in range(n_lanes):
                x = s[a, t]
                y = s[b, t]
                s[d, t] = y if y < x else x
        elif o == VECTOR_MIN:
            for q in range(n_v):
                x = vf[a, q]
                y = vf[b, q]
                vf[d, q] = y if y < x else x
        elif o == MATRIX_MIN:
            for q in range(n_m):
                x = mf[a, q]
                y = mf[b, q]
                mf[d, q] = y if y < x else x
        elif o == SCALAR_MAX:
            for t in range(n_lanes):
                x = s[a, t]
                y = s[b, t]
                s[d, t] = y if x < y else x
        elif o == VECTOR_MAX:
            for q in range(n_v):
                x = vf[a, q]
                y = vf[b, q]
                vf[d, q] = y if x < y else x
        elif o == MATRIX_MAX:
            for q in range(n_m):
                x = mf[a, q]
                y = mf[b, q]
                mf[d, q] = y if x < y else x
        elif o == VECTOR_MEAN:
            for t in range(n_lanes):
                lane_acc[t] = 0.0
            for i in range(f):
                for t in range(n_lanes):
                    lane_acc[t] += v[a, i, t]
            for t in range(n_lanes):
                s[d, t] = lane_acc[t] / f
        elif o == MATRIX_MEAN:
            for t in range(n_lanes):
                acc = 0.0
                for i in range(f):
                    for j in range(f):
                        acc += m[a, i, j, t]
                s[d, t] = acc / (f * f)
        elif o == MATRIX_ROW_MEAN:
            for t in range(n_lanes):
                for i in range(f):
                    acc = 0.0
                    for j in range(f):
                        acc += m[a, i, j, t]
                    v[d, i, t] = acc / f
        elif o == MATRIX_ROW_ST_DEV:
            for t in range(n_lanes):
                for i in range(f):
                    mean = 0.0
                    for j in range(f):
                        mean += m[a, i, j, t]
                    mean /= f
                    acc = 0.0
                    for j in range(f):
                        dev = m[a, i, j, t] - mean
                        acc += dev * dev
                    v[d, i, t] = math.sqrt(acc / f)
        elif o == VECTOR_ST_DEV:
            for t in range(n_lanes):
                mean = 0.0
                for i in range(f):
                    mean += v[a, i, t]
                mean /= f
                acc = 0.0
                for i in range(f):
                    dev = v[a, i, t] - mean
                    acc += dev * dev
                s[d, t] = math.sqrt(acc / f)
        elif o == MATRIX_ST_DEV:
            for t in range(n_lanes):
                mean = 0.0
                for i in range(f):
                    for j in range(f):
                        mean += m[a, i, j, t]
                mean /= f * f
                acc = 0.0
                for i in range(f):
                    for j in range(f):
                        dev = m[a, i, j, t] - mean
                        acc += dev * dev
                s[d, t] = math.sqrt(acc / (f * f))
        elif o == SCALAR_CONST_SET:
            value = data[p, c, k, 0]
            for t in range(n_lanes):
                s[d, t] = value
        elif o == VECTOR_CONST_SET:
            i = fraction_index(data[p, c, k, 0], f)
            value = data[p, c, k, 1]
            for t in range(n_lanes):
                v[d, i, t] = value
        elif o == MATRIX_CONST_SET:
            i = fraction_index(data[p, c, k, 0], f)
            j = fraction_index(data[p, c, k, 1], f)
            value = data[p, c, k, 2]
            for t in range(n_lanes):
                m[d, i, j, t] = value
        elif o == SCALAR_UNIFORM_SET:
            lo = min(data[p, c, k, 0], data[p, c, k, 1])
            hi = max(data[p, c, k, 0], data[p, c, k, 1])
            for t in range(n_lanes):
                s[d, t] = lo + (hi - lo) * _uniform(rng, t)
        elif o == VECTOR_UNIFORM_SET:
            lo = min(data[p, c, k, 0], data[p, c, k, 1])
            hi = max(data[p, c, k, 0], data[p, c, k, 1])
            for i in range(f):
                for t in range(n_lanes):
                    v[d, i, t] = lo + (hi - lo) * _uniform(rng, t)
        elif o == MATRIX_UNIFORM_SET:
            lo = min(data[p, c, k, 0], data[p, c, k, 1])
            hi = max(data[p, c, k, 0], data[p, c, k, 1])
            for i in range(f):
                for j in range(f):
                    for t in range(n_lanes):
                        m[d, i, j, t] = lo + (hi - lo) * _uniform(rng, t)
        elif o == SCALAR_GAUSSIAN_SET:
            for t in range(n_lanes):
                s[d, t] = data[p, c, k, 0] + data[p, c, k, 1] * _gaussian(rng, t)
        elif o == VECTOR_GAUSSIAN_SET:
            for i in range(f):
                for t in range(n_lanes):
                    v[d, i, t] = data[p, c, k, 0] + data[p, c, k, 1] * _gaussian(rng, t)
        elif o == MATRIX_GAUSSIAN_SET:
            for i in range(f):
                for j in range(f):
                    for t in range(n_lanes):
                        m[d, i, j, t] = data[p, c, k, 0] + data[p, c, k, 1] * _gaussian(rng, t)


@njit(cache=True)
def copy_instruction(op, in1, in2, out, data, p, c, k, d_op, d_in1, d_in2, d_out, d_data, q, j):
    """Instruction ``k`` of component ``c`` of program ``p`` into slot ``j`` of program ``q`` of the destination."""
    d_op[q, c, j] = op[p, c, k]
    d_in1[q, c, j] = in1[p, c, k]
    d_in2[q, c, j] = in2[p, c, k]
    d_out[q, c, j] = out[p, c, k]
    for r in range(3):
        d_data[q, c, j, r] = data[p, c, k, r]


@njit(cache=True, inline="always")
def _writes_features(op, out, p, n, out_kind):
    """Whether program ``p``'s Predict can overwrite v0 (only then must the features be loaded again before Learn)."""
    for k in range(n):
        if out_kind[op[p, 1, k]] == 1 and out[p, 1, k] == 0:
            return True
    return False




@njit(cache=True, inline="always")
def _score_epoch(alive, best, task_fitness, p, sq, wrong, failed, n_full, classification, n_alive):
    """Fold one epoch's validation into each live task's best fitness (a failed validation ends the task at 0);
    returns the number of tasks still live."""
    for t in range(alive.shape[0]):
        if not alive[t]:
            continue
        if classification:
            fit = 1.0 - wrong[t] / n_full
        elif failed[t]:
            fit = 0.0
        else:
            rms = math.sqrt(sq[t] / n_full)
            fit = 1.0 - (2.0 / math.pi) * math.atan(rms) if math.isfinite(rms) else 0.0
        if failed[t]:
            alive[t] = False
            n_alive -= 1
            task_fitness[p, t] = 0.0
            continue
        if fit > best[t]:
            best[t] = fit
    return n_alive


@njit(cache=True, error_model="numpy", nogil=True)
def _run_rows(rows, op, in1, in2, out, data, length, xs, ys, xv, yv, epochs, n_per_epoch, n_train, n_valid, n_full, classification,
              max_abs_error, seeds, out_kind, task_fitness, steps, errors, record, s, v, m, vf, mf, tmpv, tmpm, rng, lanes, flags,
              first_task):
    """Evaluate programs ``rows[0], rows[1], ...`` of the batch arrays, one after another, each on all tasks in
    lockstep: program ``p`` fills ``task_fitness[p]`` (T,) and ``steps[p]`` (training steps run), and with
    ``record`` its first epoch's errors of live lanes go to ``errors[p]`` (K, T), example by example (dead lanes
    get NaN). ``first_task`` numbers the lanes' random streams (the GPU twin runs one task per thread).

    ``xs`` (E*N, F*T) and ``ys`` (E*N, T) hold the training examples in visiting order, epoch after epoch;
    ``xv`` (Nv, F*T) and ``yv`` (Nv, T) the validation set. ``vf`` and ``mf`` are flat views of ``v`` and ``m``
    (see ``_exec``). Dead lanes keep computing (their memory is theirs alone) so that the per-step checks stay
    branch-free; only live lanes count and score. Programs are indexed, never sliced, and the workspace is reused:
    a call per program paid for about 60 reference-count updates of its array arguments (the function is too
    large for numba's refcount pruning), a large part of a short fingerprint run.
    """
    n_lanes = ys.shape[1]
    fn = xs.shape[1]
    v0 = vf[0]
    best, err, sq, wrong = lanes[0], lanes[1], lanes[2], lanes[3]
    alive, failed = flags[0], flags[1]
    for j in range(rows.shape[0]):
        p = rows[j]
        # The workspace is reused from program to program: memory starts at zero for each; the scratch arrays
        # (tmpv, tmpm, err) are always written before they are read.
        for q in range(s.shape[0]):
            for t in range(n_lanes):
                s[q, t] = 0.0
        for q in range(vf.shape[0]):
            for i in range(vf.shape[1]):
                vf[q, i] = 0.0
        for q in range(mf.shape[0]):
            for i in range(mf.shape[1]):
                mf[q, i] = 0.0
        for t in range(n_lanes):
            rng[t] = lane_seed(seeds[p], first_task + t)
        for t in range(n_lanes):
            best[t] = 0.0
            alive[t] = True
            task_fitness[p, t] = 0.0
        n_alive = n_lanes
        n_steps = 0
        reload = _writes_features(op, out, p, length[p, 1], out_kind)
        # One loop around a single _exec site (a second inlined copy doubles the compile time). Iteration k of an
        # epoch: k < 2N alternates Predict and Learn of training example k // 2, then N validation Predicts; the
        # first epoch starts at k = -1, which runs Setup.
        n_half = 2 * n_train
        start = -1
        for epoch in range(epochs):
            keep = record and epoch == 0
            base = epoch * n_per_epoch
            for t in range(n_lanes):
                sq[t] = 0.0
                wrong[t] = 0.0
                failed[t] = False
            for k in range(start, n_half + n_valid):
                row = base + (k >> 1)
                if k < 0:
                    component = 0
                elif k >= n_half:
                    for q in range(fn):
                        v0[q] = xv[k - n_half, q]
                    for t in range(n_lanes):
                        s[0, t] = 0.0
                    component = 1
                elif k & 1 == 0:
                    for q in range(fn):
                        v0[q] = xs[row, q]
                    for t in range(n_lanes):
                        s[0, t] = 0.0
                    component = 1
                else:
                    if reload:
                        for q in range(fn):
                            v0[q] = xs[row, q]
                    for t in range(n_lanes):
                        s[0, t] = ys[row, t]
                    component = 2
                n = length[p, component]
                if n > 0:
                    _exec(op, in1, in2, out, data, p, component, n, s, v, m, vf, mf, rng, tmpv, tmpm)
                if k < 0 or (k < n_half and k & 1 == 1):
                    continue
                if k >= n_half:
                    step = k - n_half
                    if classification:
                        for t in range(n_lanes):
                            prob = 1.0 / (1.0 + math.exp(-s[1, t]))
                            miss = 0.0 if (yv[step, t] > 0.5) == (prob > 0.5) else 1.0  # a NaN logit reads as class 0
                            wrong[t] += miss
                            err[t] = miss
                    else:
                        for t in range(n_lanes):
                            e = yv[step, t] - s[1, t]
                            err[t] = abs(e)
                            failed[t] |= not (abs(e) <= max_abs_error)
                            sq[t] += e * e
                    if keep:
                        for t in range(n_lanes):
                            errors[p, n_train + step, t] = err[t] if alive[t] else np.nan
                    continue
                if classification:
                    for t in range(n_lanes):
                        s[1, t] = 1.0 / (1.0 + math.exp(-s[1, t]))
                bad = False
                for t in range(n_lanes):
                    e = abs(ys[row, t] - s[1, t])
                    err[t] = e
                    bad |= alive[t] & (not (e <= max_abs_error))  # NaN or too large: this task stops
                if keep:
                    for t in range(n_lanes):
                        errors[p, k >> 1, t] = err[t] if alive[t] else np.nan
                n_steps += n_alive
                if bad:
                    for t in range(n_lanes):
                        if alive[t] and not (err[t] <= max_abs_error):
                            alive[t] = False
                            n_alive -= 1
                            task_fitness[p, t] = best[t] if epoch > 0 else 0.0
                    if n_alive == 0:
                        break
            start = 0
            if n_alive == 0:
                break
            n_alive = _score_epoch(alive, best, task_fitness, p, sq, wrong, failed, n_full, classification, n_alive)
            if n_alive == 0:
                break
        for t in range(n_lanes):
            if alive[t]:
                task_fitness[p, t] = best[t]
        steps[p] = n_steps


@njit(cache=True)
def interpreter_workspace(scalars, vectors, matrices, f, n_lanes):
    """One program run's memory and scratch for ``n_lanes`` tasks: (s, v, m, vf, mf, tmpv, tmpm, rng, lanes, flags),
    where ``vf`` and ``mf`` are flat views of ``v`` and ``m``; reused from program to program (``_run_rows``
    zeroes what it must)."""
    v = np.empty((vectors, f, n_lanes))
    m = np.empty((max(matrices, 1), f, f, n_lanes))
    return (np.empty((scalars, n_lanes)), v, m, v.reshape(vectors, f * n_lanes), m.reshape(max(matrices, 1), f * f * n_lanes),
            np.zeros((f, n_lanes)), np.zeros((f, f, n_lanes)), np.empty(n_lanes, dtype=np.uint64), np.zeros((4, n_lanes)),
            np.zeros((2, n_lanes), dtype=np.bool_))


def _evaluate(op, in1, in2, out, data, length, xs, ys, xv, yv, epochs, n_per_epoch, n_train, n_valid, n_full, classification,  # type: ignore[no-untyped-def]
              max_abs_error, scalars, vectors, matrices, seeds, out_kind, task_fitness, steps, errors, record, threads):
    """Every program of the batch on ``threads`` threads: each claims chunks of consecutive programs and runs them
    with one workspace of its own (allocating memory per program cost about as much as a fingerprint run),
    calling the interpreter from Python, which releases the GIL while it runs. A compiled caller (numba's parallel
    wrapper was one) would link the interpreter in and compile it again on a first run; this way the batch path,
    the compiled search loop (through a pointer) and every thread count share one compiled interpreter."""
    n_programs = op.shape[0]
    n_lanes = ys.shape[1]
    chunks = min(n_programs, 4 * threads if threads > 1 else 1)
    bounds = [c * n_programs // chunks for c in range(chunks + 1)]
    claims = itertools.count()  # next() on it is one step under the GIL: each chunk is claimed once
    plain = (int(epochs), int(n_per_epoch), int(n_train), int(n_valid), int(n_full), bool(classification), float(max_abs_error))

    def work() -> None:
        workspace = interpreter_workspace(scalars, vectors, matrices, xs.shape[1] // n_lanes, n_lanes)
        while (chunk := next(claims)) < chunks:
            _run_rows(np.arange(bounds[chunk], bounds[chunk + 1]), op, in1, in2, out, data, length, xs, ys, xv, yv, *plain, seeds, out_kind,
                      task_fitness, steps, errors, bool(record), *workspace, 0)

    helpers = [_helper_pool(threads - 1).submit(work) for _ in range(min(threads, chunks) - 1)]
    try:
        work()
    finally:
        wait(helpers)  # none is left writing into the caller's arrays, whatever happened here
    for helper in helpers:
        helper.result()


@cache
def _helper_pool(threads: int) -> ThreadPoolExecutor:
    """The threads that help ``_evaluate`` at this thread count, started once."""
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="evonas-interpreter")


def run_lengths(tasks: TaskArrays, n_train: int | None, n_valid: int | None, epochs: int | None) -> tuple[int, int, int]:
    """Training and validation examples and epochs of a call: the task set's own, or fewer where asked."""
    return (
        tasks.x_train.shape[1] if n_train is None else min(n_train, tasks.x_train.shape[1]),
        tasks.x_valid.shape[1] if n_valid is None else min(n_valid, tasks.x_valid.shape[1]),
        tasks.order.shape[1] if epochs is None else min(epochs, tasks.order.shape[1]),
    )


def run_programs(
    batch: ProgramBatch,
    tasks: TaskArrays,
    seeds: np.ndarray,
    n_train: int | None = None,
    n_valid: int | None = None,
    epochs: int | None = None,
    record_errors: bool = False,
    max_abs_error: float = MAX_ABS_ERROR,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate every program on every task: returns per-task fitness (B, T), training steps (B,) and, when
    ``record_errors``, the first epoch's per-example errors (B, T, n_train + n_valid; NaN where not reached)."""
    batch.check()
    n_train, n_valid, epochs = run_lengths(tasks, n_train, n_valid, epochs)
    xs, ys, xv, yv = tasks.lanes
    b, t = len(batch), tasks.count
    task_fitness = np.zeros((b, t))
    steps = np.zeros(b, dtype=np.int64)
    errors = np.full((b, n_train + n_valid, t) if record_errors else (b, 1, t), np.nan)  # example-major: see _run_rows
    arguments = (batch.op, batch.in1, batch.in2, batch.out, batch.data, batch.length, xs, ys, xv, yv, epochs, tasks.x_train.shape[1], n_train,
                 n_valid, tasks.y_valid.shape[1], tasks.classification, max_abs_error, batch.scalars, batch.vectors, batch.matrices,
                 np.asarray(seeds, dtype=np.uint64), OUT_KIND, task_fitness, steps, errors, record_errors)
    _evaluate(*arguments, get_num_threads())
    return task_fitness, steps, errors.transpose(0, 2, 1)


@njit(cache=True)
def _hash_errors(errors: np.ndarray, salt: np.uint64) -> np.ndarray:
    out = np.empty(errors.shape[0], dtype=np.uint64)
    bits = errors.view(np.uint64)
    for p in range(errors.shape[0]):
        h = np.uint64(42) ^ salt
        for t in range(errors.shape[1]):
            for k in range(errors.shape[2]):
                h = _mix(h ^ bits[p, t, k]) + np.uint64(t)
        out[p] = h
    return out


def fec_keys(batch: ProgramBatch, tasks: TaskArrays, n_train: int = 10, n_valid: int = 10, truncated: bool = False,
             run: Any = None) -> np.ndarray:
    """Functional-equivalence fingerprints: a hash of the per-example errors of a short run with a fixed
    random seed (NaN where a run stopped early), salted with the full training length. ``truncated`` hashes
    floor(1e8 * (1 - (2/pi) atan(error))) as [P] describes; the default hashes the exact doubles as [C] does.
    ``run`` is the interpreter (``run_programs``, or its GPU twin)."""
    seeds = np.full(len(batch), FEC_SEED, dtype=np.uint64)
    _, _, errors = (run or run_programs)(batch, tasks, seeds, n_train, n_valid, epochs=1, record_errors=True)
    if truncated:
        with np.errstate(invalid="ignore"):
            errors = np.floor((1.0 - (2.0 / np.pi) * np.arctan(errors)) * 1e8)
    errors = np.where(np.isnan(errors), np.nan, errors)  # one NaN bit pattern
    return _hash_errors(np.ascontiguousarray(errors), np.uint64(tasks.x_train.shape[1] * tasks.order.shape[1]))




@njit(cache=True)
def _code_hashes(op, in1, in2, out, data, length, hashes):
    bits = data.view(np.uint64)
    for p in range(op.shape[0]):
        h = _GOLDEN
        for c in range(3):
            h = _mix(h ^ np.uint64(length[p, c] + 1 + (c << 16)))
            for k in range(length[p, c]):
                # injective packings: op < 2**16 and addresses are checked non-negative int32
                h = _mix(h ^ (np.uint64(op[p, c, k]) | (np.uint64(out[p, c, k]) << np.uint64(16))))
                h = _mix(h ^ (np.uint64(in1[p, c, k]) | (np.uint64(in2[p, c, k]) << np.uint64(32))))
                for d in range(bits.shape[3]):
                    h = _mix(h ^ bits[p, c, k, d])
        hashes[p] = h


def code_hashes(batch: ProgramBatch) -> np.ndarray:
    """A 64-bit hash of each program's instructions as they stand (a pruned batch: of its live code), so that
    programs with equal code, which behave identically on any task, can share work keyed by it."""
    batch.check()
    hashes = np.empty(len(batch), dtype=np.uint64)
    _code_hashes(batch.op, batch.in1, batch.in2, batch.out, batch.data, batch.length, hashes)
    return hashes


# Liveness sets are bitsets of memory slots (scalars, then vectors, then matrices) in a row of uint64 words,
# all rows allocated once per batch: a program's analysis then allocates nothing, which had been most of its cost.
_ONE = np.uint64(1)
_P_OUT, _L_OUT, _P_IN, _L_IN, _P_OUT_NEW, _L_OUT_NEW = range(6)


@njit(cache=True, inline="always")
def _has(bits, slot):
    return (bits[slot >> 6] >> np.uint64(slot & 63)) & _ONE != 0


@njit(cache=True, inline="always")
def _add(bits, slot):
    bits[slot >> 6] |= _ONE << np.uint64(slot & 63)


@njit(cache=True, inline="always")
def _drop(bits, slot):
    bits[slot >> 6] &= ~(_ONE << np.uint64(slot & 63))


@njit(cache=True)
def _backward(op, in1, in2, out, n, live, mask, base, in_kind, out_kind, partial):
    """Liveness through one component: updates the bitset ``live`` in place and marks live instructions in ``mask``."""
    for k in range(n - 1, -1, -1):
        o = op[k]
        kind = out_kind[o]
        if kind < 0:
            continue
        slot = base[kind] + out[k]
        if not _has(live, slot):
            continue
        mask[k] = True
        if not partial[o]:
            _drop(live, slot)
        if in_kind[o, 0] >= 0:
            _add(live, base[in_kind[o, 0]] + in1[k])
        if in_kind[o, 1] >= 0:
            _add(live, base[in_kind[o, 1]] + in2[k])


@njit(cache=True, inline="always")
def _assign(sets, dst, a, b):
    """sets[dst] = sets[a] | sets[b], word by word (array expressions would allocate temporaries)."""
    for w in range(sets.shape[1]):
        sets[dst, w] = sets[a, w] | sets[b, w]


@njit(cache=True, inline="always")
def _same(sets, a, b):
    for w in range(sets.shape[1]):
        if sets[a, w] != sets[b, w]:
            return False
    return True


@njit(cache=True)
def _live_masks(op, in1, in2, out, length, base, in_kind, out_kind, partial, random_op, sets, scratch, masks):
    """Dead-code analysis of one program (same rules as ``genomes.automl_zero.live_instructions``)."""
    label, features, prediction = 0, base[1], 1
    sets[:] = 0
    _add(sets[_P_OUT], prediction)
    while True:
        _assign(sets, _P_IN, _P_OUT, _P_OUT)
        _backward(op[1], in1[1], in2[1], out[1], length[1], sets[_P_IN], scratch, base, in_kind, out_kind, partial)
        _assign(sets, _L_OUT_NEW, _P_IN, _P_IN)
        _drop(sets[_L_OUT_NEW], label)
        _drop(sets[_L_OUT_NEW], features)
        _assign(sets, _L_IN, _L_OUT_NEW, _L_OUT_NEW)
        _backward(op[2], in1[2], in2[2], out[2], length[2], sets[_L_IN], scratch, base, in_kind, out_kind, partial)
        _assign(sets, _P_OUT_NEW, _L_IN, _L_OUT_NEW)
        _add(sets[_P_OUT_NEW], prediction)
        _drop(sets[_P_OUT_NEW], label)
        _drop(sets[_P_OUT_NEW], features)
        if _same(sets, _P_OUT_NEW, _P_OUT) and _same(sets, _L_OUT_NEW, _L_OUT):
            break
        _assign(sets, _P_OUT, _P_OUT_NEW, _P_OUT_NEW)
        _assign(sets, _L_OUT, _L_OUT_NEW, _L_OUT_NEW)
    masks[:] = False
    _assign(sets, _P_IN, _P_OUT, _P_OUT)
    _backward(op[1], in1[1], in2[1], out[1], length[1], sets[_P_IN], masks[1], base, in_kind, out_kind, partial)
    _backward(op[2], in1[2], in2[2], out[2], length[2], sets[_L_OUT], masks[2], base, in_kind, out_kind, partial)
    _drop(sets[_P_IN], label)
    _drop(sets[_P_IN], features)
    _backward(op[0], in1[0], in2[0], out[0], length[0], sets[_P_IN], masks[0], base, in_kind, out_kind, partial)
    any_random = False
    for c in range(3):
        for k in range(length[c]):
            if masks[c, k] and random_op[op[c, k]]:
                any_random = True
    if any_random:
        for c in range(3):
            for k in range(length[c]):
                if random_op[op[c, k]]:
                    masks[c, k] = True


@njit(cache=True)
def _prune(op, in1, in2, out, data, length, scalars, vectors, matrices, in_kind, out_kind, partial, random_op,
           p_op, p_in1, p_in2, p_out, p_data, p_length):
    base = np.array([0, scalars, scalars + vectors])
    sets = np.zeros((6, (scalars + vectors + max(matrices, 1) + 63) // 64), dtype=np.uint64)
    scratch = np.zeros(op.shape[2], dtype=np.bool_)
    masks = np.zeros((3, op.shape[2]), dtype=np.bool_)
    for p in range(op.shape[0]):
        _live_masks(op[p], in1[p], in2[p], out[p], length[p], base, in_kind, out_kind, partial, random_op, sets, scratch, masks)
        for c in range(3):
            j = 0
            for k in range(length[p, c]):
                if masks[c, k]:
                    copy_instruction(op, in1, in2, out, data, p, c, k, p_op, p_in1, p_in2, p_out, p_data, p, j)
                    j += 1
            p_length[p, c] = j


def prune_batch(batch: ProgramBatch) -> ProgramBatch:
    """The batch with dead instructions removed, in compiled code (the genome's ``pruned()`` is the slow twin)."""
    batch.check()
    arrays = [np.zeros_like(a) for a in (batch.op, batch.in1, batch.in2, batch.out, batch.data)]
    length = np.zeros_like(batch.length)
    _prune(batch.op, batch.in1, batch.in2, batch.out, batch.data, batch.length, batch.scalars, batch.vectors, batch.matrices,
           IN_KIND, OUT_KIND, PARTIAL, RANDOM, *arrays, length)
    return ProgramBatch(*arrays, length, batch.scalars, batch.vectors, batch.matrices).mark_checked()
