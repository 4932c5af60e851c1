"""Slow pure-Python reference interpreter for AutoML-Zero programs: the oracle the Numba kernel must match.

One task at a time, one example at a time, scalar Python floats and the ``math`` module (the same libm the
kernel calls), with the same summation orders, the same RNG (SplitMix64 per lane) and the same rules.
"""

from __future__ import annotations

import math

import numpy as np

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


class Lane:
    def __init__(self, seed: int, task: int) -> None:
        self.state = mix(seed ^ mix((task + GOLDEN) & MASK))

    def uniform(self) -> float:
        self.state = (self.state + GOLDEN) & MASK
        return ((mix(self.state) >> 11) + 0.5) * (1.0 / 9007199254740992.0)

    def gaussian(self) -> float:
        u1 = self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def div(a: float, b: float) -> float:
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def tan(x: float) -> float:
    return math.nan if math.isinf(x) else math.tan(x)


def sin(x: float) -> float:
    return math.nan if math.isinf(x) else math.sin(x)


def cos(x: float) -> float:
    return math.nan if math.isinf(x) else math.cos(x)


def exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def log(x: float) -> float:
    if math.isnan(x):
        return math.nan
    if x > 0:
        return math.log(x)
    return -math.inf if x == 0.0 else math.nan


def mul(a: float, b: float) -> float:
    return a * b


def cmin(a: float, b: float) -> float:
    return b if b < a else a


def cmax(a: float, b: float) -> float:
    return b if a < b else a


def std(xs: list[float]) -> float:
    mean = 0.0
    for x in xs:
        mean += x
    mean /= len(xs)
    acc = 0.0
    for x in xs:
        acc += (x - mean) * (x - mean)
    return math.sqrt(acc / len(xs))


def execute(component: list[tuple], s: list[float], v: list[list[float]], m: list[list[list[float]]], lane: Lane, f: int) -> None:  # noqa: C901
    for op, a, b, o, d0, d1, d2 in component:
        if op == 0:
            continue
        if op in (1, 2, 3, 4, 44, 47):
            fn = {1: lambda x, y: x + y, 2: lambda x, y: x - y, 3: mul, 4: div, 44: cmin, 47: cmax}[op]
            s[o] = fn(s[a], s[b])
        elif op in (5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15):
            x = s[a]
            s[o] = {
                5: abs, 6: lambda y: div(1.0, y), 7: sin, 8: cos, 9: tan,
                10: lambda y: math.asin(y) if -1.0 <= y <= 1.0 else math.nan,
                11: lambda y: math.acos(y) if -1.0 <= y <= 1.0 else math.nan,
                12: math.atan, 13: exp, 14: log, 15: lambda y: 1.0 if y >= 0.0 else 0.0,
            }[op](x)
        elif op == 16:
            v[o] = [1.0 if x > 0.0 else 0.0 for x in v[a]]
        elif op == 17:
            m[o] = [[1.0 if x > 0.0 else 0.0 for x in row] for row in m[a]]
        elif op == 18:
            v[o] = [s[a] * x for x in v[b]]
        elif op == 19:
            v[o] = [s[a]] * f
        elif op == 20:
            v[o] = [div(1.0, x) for x in v[a]]
        elif op == 21:
            acc = 0.0
            for x in v[a]:
                acc += x * x
            s[o] = math.sqrt(acc) if acc == acc else math.nan
        elif op == 22:
            v[o] = [abs(x) for x in v[a]]
        elif op in (23, 24, 25, 26, 45, 48):
            fn = {23: lambda x, y: x + y, 24: lambda x, y: x - y, 25: mul, 26: div, 45: cmin, 48: cmax}[op]
            v[o] = [fn(x, y) for x, y in zip(v[a], v[b])]
        elif op == 27:
            acc = 0.0
            for x, y in zip(v[a], v[b]):
                acc += x * y
            s[o] = acc
        elif op == 28:
            m[o] = [[x * y for y in v[b]] for x in v[a]]
        elif op == 29:
            m[o] = [[s[a] * x for x in row] for row in m[b]]
        elif op == 30:
            m[o] = [[div(1.0, x) for x in row] for row in m[a]]
        elif op == 31:
            out = []
            for i in range(f):
                acc = 0.0
                for j in range(f):
                    acc += m[a][i][j] * v[b][j]
                out.append(acc)
            v[o] = out
        elif op == 32:
            v_a = list(v[a])
            m[o] = [[v_a[i]] * f for i in range(f)]
        elif op == 33:
            m[o] = [list(v[a]) for _ in range(f)]
        elif op == 34:
            acc = 0.0
            for row in m[a]:
                for x in row:
                    acc += x * x
            s[o] = math.sqrt(acc) if acc == acc else math.nan
        elif op == 35:
            out = []
            for j in range(f):
                acc = 0.0
                for i in range(f):
                    acc += m[a][i][j] * m[a][i][j]
                out.append(math.sqrt(acc) if acc == acc else math.nan)
            v[o] = out
        elif op == 36:
            out = []
            for i in range(f):
                acc = 0.0
                for j in range(f):
                    acc += m[a][i][j] * m[a][i][j]
                out.append(math.sqrt(acc) if acc == acc else math.nan)
            v[o] = out
        elif op == 37:
            m[o] = [[m[a][j][i] for j in range(f)] for i in range(f)]
        elif op == 38:
            m[o] = [[abs(x) for x in row] for row in m[a]]
        elif op in (39, 40, 41, 42, 46, 49):
            fn = {39: lambda x, y: x + y, 40: lambda x, y: x - y, 41: mul, 42: div, 46: cmin, 49: cmax}[op]
            m[o] = [[fn(x, y) for x, y in zip(ra, rb)] for ra, rb in zip(m[a], m[b])]
        elif op == 43:
            out = []
            for i in range(f):
                row = []
                for j in range(f):
                    acc = 0.0
                    for q in range(f):
                        acc += m[a][i][q] * m[b][q][j]
                    row.append(acc)
                out.append(row)
            m[o] = out
        elif op == 50:
            acc = 0.0
            for x in v[a]:
                acc += x
            s[o] = acc / f
        elif op == 51:
            acc = 0.0
            for row in m[a]:
                for x in row:
                    acc += x
            s[o] = acc / (f * f)
        elif op == 52:
            out = []
            for row in m[a]:
                acc = 0.0
                for x in row:
                    acc += x
                out.append(acc / f)
            v[o] = out
        elif op == 53:
            v[o] = [std(row) for row in m[a]]
        elif op == 54:
            s[o] = std(list(v[a]))
        elif op == 55:
            s[o] = std([x for row in m[a] for x in row])
        elif op == 56:
            s[o] = d0
        elif op == 57:
            v[o] = list(v[o])
            v[o][fraction_index(d0, f)] = d1
        elif op == 58:
            m[o] = [list(row) for row in m[o]]
            m[o][fraction_index(d0, f)][fraction_index(d1, f)] = d2
        elif op in (59, 60, 61):
            lo, hi = min(d0, d1), max(d0, d1)
            if op == 59:
                s[o] = lo + (hi - lo) * lane.uniform()
            elif op == 60:
                v[o] = [lo + (hi - lo) * lane.uniform() for _ in range(f)]
            else:
                m[o] = [[lo + (hi - lo) * lane.uniform() for _ in range(f)] for _ in range(f)]
        elif op == 62:
            s[o] = d0 + d1 * lane.gaussian()
        elif op == 63:
            v[o] = [d0 + d1 * lane.gaussian() for _ in range(f)]
        elif op == 64:
            m[o] = [[d0 + d1 * lane.gaussian() for _ in range(f)] for _ in range(f)]
        else:
            raise ValueError(op)


def fraction_index(fraction: float, f: int) -> int:
    if not fraction > 0.0:
        return 0
    if fraction >= 1.0:
        return f - 1
    return min(int(fraction * f), f - 1)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + exp(-x))


def task_fitness(components, scalars, vectors, matrices, x_train, y_train, x_valid, y_valid, order, classification, seed, task, max_abs_error=100.0):  # type: ignore[no-untyped-def]
    f = x_train.shape[1]
    s = [0.0] * scalars
    v = [[0.0] * f for _ in range(vectors)]
    m = [[[0.0] * f for _ in range(f)] for _ in range(max(matrices, 1))]
    lane = Lane(seed, task)
    setup, predict, learn = components
    execute(setup, s, v, m, lane, f)
    best = 0.0
    for epoch in range(order.shape[0]):
        for step in range(order.shape[1]):
            row = int(order[epoch, step])
            v[0] = [float(x) for x in x_train[row]]
            s[0] = 0.0
            execute(predict, s, v, m, lane, f)
            if classification:
                s[1] = sigmoid(s[1])
            err = abs(float(y_train[row]) - s[1])
            if not (err <= max_abs_error):
                return best if epoch > 0 else 0.0
            v[0] = [float(x) for x in x_train[row]]
            s[0] = float(y_train[row])
            execute(learn, s, v, m, lane, f)
        sq = 0.0
        wrong = 0
        failed = False
        for step in range(len(x_valid)):
            v[0] = [float(x) for x in x_valid[step]]
            s[0] = 0.0
            execute(predict, s, v, m, lane, f)
            y = float(y_valid[step])
            if classification:
                p = sigmoid(s[1])
                wrong += (y > 0.5) != (p > 0.5)
            else:
                e = y - s[1]
                if not (abs(e) <= max_abs_error):
                    failed = True
                sq += e * e
        if failed:
            return 0.0
        if classification:
            fit = 1.0 - wrong / len(x_valid)
        else:
            rms = math.sqrt(sq / len(x_valid)) if sq == sq else math.nan
            fit = 1.0 - (2.0 / math.pi) * math.atan(rms) if math.isfinite(rms) else 0.0
        best = max(best, fit)
    return best


def reference_fitness(genome, tasks, seed: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Per-task fitness of one ProgramGenome (no dead-code elimination) on a TaskArrays."""
    components = [list(c) for c in genome.components()]
    return np.array([
        task_fitness(components, genome.scalars, genome.vectors, genome.matrices, tasks.x_train[t], tasks.y_train[t],
                     tasks.x_valid[t], tasks.y_valid[t], tasks.order[t], tasks.classification, seed, t)
        for t in range(tasks.count)
    ])
