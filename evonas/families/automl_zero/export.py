"""AutoML-Zero programs as standalone Python: Setup / Predict / Learn over list memory, nothing but ``math``.

The generated module does the evonas kernel's arithmetic in the kernel's order (sums left to right, the same
min/max and division rules, the same SplitMix64 stream per task for the random-init ops), so run on a task it
gives the kernel's predictions. Dead instructions are left out, as the kernel leaves them out.
"""

from __future__ import annotations

from typing import Any

from evonas.genomes.program_ir import GAUSSIAN_OPS, OP_NAMES, UNIFORM_OPS, op_inputs, op_output
from evonas.kernels.program_cpu import fraction_index  # the kernel's own rule for a const-set op's position

# Op id -> Python expression for the value written; {a}/{b} are the operands' memory slots.
_EXPRESSIONS: dict[int, str] = {
    1: "{a} + {b}", 2: "{a} - {b}", 3: "{a} * {b}", 4: "div({a}, {b})", 5: "abs({a})", 6: "div(1.0, {a})",
    7: "sin_({a})", 8: "cos_({a})", 9: "tan_({a})", 10: "asin_({a})", 11: "acos_({a})", 12: "math.atan({a})",
    13: "exp_({a})", 14: "log_({a})", 15: "1.0 if {a} >= 0.0 else 0.0",
    16: "vec(positive, {a})", 17: "mat(positive, {a})", 18: "[{a} * x for x in {b}]", 19: "[{a}] * F",
    20: "vec(reciprocal, {a})", 21: "norm({a})", 22: "vec(abs, {a})", 23: "vec2(add, {a}, {b})", 24: "vec2(sub, {a}, {b})",
    25: "vec2(mul, {a}, {b})", 26: "vec2(div, {a}, {b})", 27: "dot({a}, {b})", 28: "outer({a}, {b})",
    29: "[[{a} * x for x in row] for row in {b}]", 30: "mat(reciprocal, {a})", 31: "matvec({a}, {b})",
    32: "[[x] * F for x in {a}]", 33: "[list({a}) for _ in range(F)]", 34: "matrix_norm({a})", 35: "column_norms({a})",
    36: "row_norms({a})", 37: "transpose({a})", 38: "mat(abs, {a})", 39: "mat2(add, {a}, {b})", 40: "mat2(sub, {a}, {b})",
    41: "mat2(mul, {a}, {b})", 42: "mat2(div, {a}, {b})", 43: "matmul({a}, {b})", 44: "minimum({a}, {b})",
    45: "vec2(minimum, {a}, {b})", 46: "mat2(minimum, {a}, {b})", 47: "maximum({a}, {b})", 48: "vec2(maximum, {a}, {b})",
    49: "mat2(maximum, {a}, {b})", 50: "mean({a})", 51: "matrix_mean({a})", 52: "row_means({a})", 53: "row_stds({a})",
    54: "std({a})", 55: "matrix_std({a})",
}

_RUNTIME = '''
import math

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def _mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


class Stream:
    """SplitMix64 random stream of one (evaluation seed, task) pair, as the evonas kernel draws it."""

    def __init__(self, seed, task=0):
        self.state = _mix((seed & MASK) ^ _mix((task + GOLDEN) & MASK))

    def uniform(self):
        self.state = (self.state + GOLDEN) & MASK
        return ((_mix(self.state) >> 11) + 0.5) * (1.0 / 9007199254740992.0)

    def gaussian(self):
        u1 = self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def div(a, b):
    if b == 0.0:  # IEEE division, as compiled code does it (Python would raise)
        if a == 0.0 or a != a:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def reciprocal(x):
    return div(1.0, x)


def sin_(x):
    return math.nan if math.isinf(x) else math.sin(x)


def cos_(x):
    return math.nan if math.isinf(x) else math.cos(x)


def tan_(x):
    return math.nan if math.isinf(x) else math.tan(x)


def asin_(x):
    return math.asin(x) if -1.0 <= x <= 1.0 else math.nan


def acos_(x):
    return math.acos(x) if -1.0 <= x <= 1.0 else math.nan


def exp_(x):
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def log_(x):
    if x > 0.0:
        return math.log(x)
    return -math.inf if x == 0.0 else math.nan


def positive(x):
    return 1.0 if x > 0.0 else 0.0


def add(x, y):
    return x + y


def sub(x, y):
    return x - y


def mul(x, y):
    return x * y


def minimum(x, y):
    return y if y < x else x


def maximum(x, y):
    return y if x < y else x


def vec(f, a):
    return [f(x) for x in a]


def vec2(f, a, b):
    return [f(x, y) for x, y in zip(a, b)]


def mat(f, a):
    return [[f(x) for x in row] for row in a]


def mat2(f, a, b):
    return [[f(x, y) for x, y in zip(ra, rb)] for ra, rb in zip(a, b)]


def dot(a, b):
    acc = 0.0
    for x, y in zip(a, b):
        acc += x * y
    return acc


def norm(a):
    return math.sqrt(dot(a, a))


def outer(a, b):
    return [[x * y for y in b] for x in a]


def matvec(m, v):
    return [dot(row, v) for row in m]


def transpose(m):
    return [[m[j][i] for j in range(F)] for i in range(F)]


def matmul(a, b):
    out = []
    for i in range(F):
        row = []
        for j in range(F):
            acc = 0.0
            for q in range(F):
                acc += a[i][q] * b[q][j]
            row.append(acc)
        out.append(row)
    return out


def matrix_norm(m):
    acc = 0.0
    for row in m:
        for x in row:
            acc += x * x
    return math.sqrt(acc)


def column_norms(m):
    out = []
    for j in range(F):
        acc = 0.0
        for i in range(F):
            acc += m[i][j] * m[i][j]
        out.append(math.sqrt(acc))
    return out


def row_norms(m):
    return [norm(row) for row in m]


def mean(a):
    acc = 0.0
    for x in a:
        acc += x
    return acc / F


def std(a):
    centre = mean(a)
    acc = 0.0
    for x in a:
        acc += (x - centre) * (x - centre)
    return math.sqrt(acc / F)


def matrix_mean(m):
    acc = 0.0
    for row in m:
        for x in row:
            acc += x
    return acc / (F * F)


def matrix_std(m):
    centre = matrix_mean(m)
    acc = 0.0
    for row in m:
        for x in row:
            acc += (x - centre) * (x - centre)
    return math.sqrt(acc / (F * F))


def row_means(m):
    return [mean(row) for row in m]


def row_stds(m):
    return [std(row) for row in m]
'''

_HARNESS = '''

class Algorithm:
    """The learning algorithm on one task: memory, its random stream, and the evaluation harness's rules.

    ``train_step(x, y)`` predicts with the label hidden (s0 = 0), then learns with s0 = y; ``predict(x)`` only
    predicts. For classification the prediction is sigmoid(s1), written back to s1 during training as in evonas.
    """

    def __init__(self, seed=0, task=0, classification=False):
        self.s = [0.0] * SCALARS
        self.v = [[0.0] * F for _ in range(VECTORS)]
        self.m = [[[0.0] * F for _ in range(F)] for _ in range(MATRICES)]
        self.rng = Stream(seed, task)
        self.classification = classification
        setup(self.s, self.v, self.m, self.rng)

    def _load(self, x, label):
        if len(x) != F:
            raise ValueError(f"expected {F} features, got {len(x)}")
        self.v[0] = [float(value) for value in x]
        self.s[0] = float(label)

    def _output(self):
        value = self.s[1]
        if not self.classification:
            return value
        try:
            return 1.0 / (1.0 + math.exp(-value))
        except OverflowError:
            return 0.0

    def predict(self, x):
        self._load(x, 0.0)
        predict(self.s, self.v, self.m, self.rng)
        return self._output()

    def train_step(self, x, y):
        self._load(x, 0.0)
        predict(self.s, self.v, self.m, self.rng)
        prediction = self._output()
        self.s[1] = prediction
        self._load(x, y)
        learn(self.s, self.v, self.m, self.rng)
        return prediction
'''


def instruction_line(instruction: tuple[Any, ...], f: int) -> str:
    """One instruction as a Python statement over the memory lists ``s``, ``v``, ``m`` and the stream ``rng``."""
    op, a, b, o, d0, d1, d2 = instruction
    out = f"{op_output(op)}[{o}]"
    if op == 56:
        return f"{out} = {float(d0)!r}"
    if op == 57:
        return f"{out}[{fraction_index(d0, f)}] = {float(d1)!r}"
    if op == 58:
        return f"{out}[{fraction_index(d0, f)}][{fraction_index(d1, f)}] = {float(d2)!r}"
    if op in UNIFORM_OPS:
        lo, hi = min(d0, d1), max(d0, d1)
        draw = f"{float(lo)!r} + {float(hi - lo)!r} * rng.uniform()"
    elif op in GAUSSIAN_OPS:
        draw = f"{float(d0)!r} + {float(d1)!r} * rng.gaussian()"
    else:
        names = [f"{kind}[{slot}]" for kind, slot in zip(op_inputs(op), (a, b))]
        return f"{out} = " + _EXPRESSIONS[op].format(a=names[0] if names else "", b=names[1] if len(names) > 1 else "")
    kind = op_output(op)
    if kind == "s":
        return f"{out} = {draw}"
    if kind == "v":
        return f"{out} = [{draw} for _ in range(F)]"
    return f"{out} = [[{draw} for _ in range(F)] for _ in range(F)]"


def program_python(genome: Any, title: str) -> str:
    """Standalone Python source of a program's three components plus the ``Algorithm`` harness."""
    pruned = genome.pruned()
    f = genome.features
    lines = [
        f'"""{title}: an AutoML-Zero algorithm exported by evonas (standalone: needs only the Python standard library).',
        "",
        "Memory: scalars s, vectors v and matrices m (lists). Harness: v[0] holds the features, s[0] the label (0 while",
        "predicting), s[1] the prediction. Use Algorithm(seed, task).train_step(x, y) and .predict(x).",
        '"""',
        _RUNTIME,
        f"F = {f}",
        f"SCALARS = {genome.scalars}",
        f"VECTORS = {genome.vectors}",
        f"MATRICES = {max(genome.matrices, 1)}",
        "",
    ]
    for name, component in zip(("setup", "predict", "learn"), pruned.components()):
        body = [instruction_line(tuple(i), f) for i in component if i[0] != 0]
        lines += ["", f"def {name}(s, v, m, rng):"]
        lines += [f"    {line}  # {OP_NAMES[i[0]]}" for line, i in zip(body, [i for i in component if i[0] != 0])] or ["    pass"]
        lines.append("")
    lines.append(_HARNESS)
    source = "\n".join(lines)
    compile(source, "<exported program>", "exec")  # a generator bug fails here, not in the user's hands
    return source

