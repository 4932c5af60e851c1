"""The AutoML-Zero op table and the Program IR: the single source of truth shared by genomes and kernels.

Op ids and names follow the original code's ``Op`` enum (OP0..OP64). Kinds: ``s`` scalar, ``v`` vector of
length F, ``m`` F x F matrix. Data slots per instruction (float64 x 3):
56 ``(gamma, -, -)``; 57 ``(index fraction, value, -)``; 58 ``(row fraction, column fraction, value)``;
59-61 ``(alpha, beta, -)``; 62-64 ``(mu, sigma, -)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The mutation kinds of [C]'s mutator, in the order of the ``mutation_weights`` table and the lineage texts.
MUTATION_TYPES: tuple[str, ...] = (
    "alter_param", "randomize_instruction", "randomize_component", "insert", "remove", "trade",
    "randomize_algorithm", "identity",
)
# Codes of the compiled mutation (kernels/program_mutate.py), beyond indices into MUTATION_TYPES: an unmutated
# copy, no component allowed to change, a size limit refusing insert/remove; the alter_param field names.
COPY = len(MUTATION_TYPES)
NO_COMPONENT = COPY + 1
REFUSED = -2
ALTER_FIELDS: tuple[str, ...] = ("no_op unchanged", "out", "constant", "index", "value", "row", "column", "mean", "stddev", "bounds", "in1", "in2")

# (name, input kinds, output kind)
OP_TABLE: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    ("no_op", (), None),
    ("scalar_sum", ("s", "s"), "s"),
    ("scalar_diff", ("s", "s"), "s"),
    ("scalar_product", ("s", "s"), "s"),
    ("scalar_division", ("s", "s"), "s"),
    ("scalar_abs", ("s",), "s"),
    ("scalar_reciprocal", ("s",), "s"),
    ("scalar_sin", ("s",), "s"),
    ("scalar_cos", ("s",), "s"),
    ("scalar_tan", ("s",), "s"),
    ("scalar_arcsin", ("s",), "s"),
    ("scalar_arccos", ("s",), "s"),
    ("scalar_arctan", ("s",), "s"),
    ("scalar_exp", ("s",), "s"),
    ("scalar_log", ("s",), "s"),
    ("scalar_heaviside", ("s",), "s"),
    ("vector_heaviside", ("v",), "v"),
    ("matrix_heaviside", ("m",), "m"),
    ("scalar_vector_product", ("s", "v"), "v"),
    ("scalar_broadcast", ("s",), "v"),
    ("vector_reciprocal", ("v",), "v"),
    ("vector_norm", ("v",), "s"),
    ("vector_abs", ("v",), "v"),
    ("vector_sum", ("v", "v"), "v"),
    ("vector_diff", ("v", "v"), "v"),
    ("vector_product", ("v", "v"), "v"),
    ("vector_division", ("v", "v"), "v"),
    ("vector_inner_product", ("v", "v"), "s"),
    ("vector_outer_product", ("v", "v"), "m"),
    ("scalar_matrix_product", ("s", "m"), "m"),
    ("matrix_reciprocal", ("m",), "m"),
    ("matrix_vector_product", ("m", "v"), "v"),
    ("vector_column_broadcast", ("v",), "m"),
    ("vector_row_broadcast", ("v",), "m"),
    ("matrix_norm", ("m",), "s"),
    ("matrix_column_norm", ("m",), "v"),
    ("matrix_row_norm", ("m",), "v"),
    ("matrix_transpose", ("m",), "m"),
    ("matrix_abs", ("m",), "m"),
    ("matrix_sum", ("m", "m"), "m"),
    ("matrix_diff", ("m", "m"), "m"),
    ("matrix_product", ("m", "m"), "m"),
    ("matrix_division", ("m", "m"), "m"),
    ("matrix_matrix_product", ("m", "m"), "m"),
    ("scalar_min", ("s", "s"), "s"),
    ("vector_min", ("v", "v"), "v"),
    ("matrix_min", ("m", "m"), "m"),
    ("scalar_max", ("s", "s"), "s"),
    ("vector_max", ("v", "v"), "v"),
    ("matrix_max", ("m", "m"), "m"),
    ("vector_mean", ("v",), "s"),
    ("matrix_mean", ("m",), "s"),
    ("matrix_row_mean", ("m",), "v"),
    ("matrix_row_st_dev", ("m",), "v"),
    ("vector_st_dev", ("v",), "s"),
    ("matrix_st_dev", ("m",), "s"),
    ("scalar_const_set", (), "s"),
    ("vector_const_set", (), "v"),
    ("matrix_const_set", (), "m"),
    ("scalar_uniform_set", (), "s"),
    ("vector_uniform_set", (), "v"),
    ("matrix_uniform_set", (), "m"),
    ("scalar_gaussian_set", (), "s"),
    ("vector_gaussian_set", (), "v"),
    ("matrix_gaussian_set", (), "m"),
)
# Each op's id by name, for the kernels' dispatch (numba folds module-level ints into constants, so a branch
# reads ``elif o == VECTOR_SUM:`` at no cost); tests check they match OP_TABLE.
NO_OP = 0
SCALAR_SUM = 1
SCALAR_DIFF = 2
SCALAR_PRODUCT = 3
SCALAR_DIVISION = 4
SCALAR_ABS = 5
SCALAR_RECIPROCAL = 6
SCALAR_SIN = 7
SCALAR_COS = 8
SCALAR_TAN = 9
SCALAR_ARCSIN = 10
SCALAR_ARCCOS = 11
SCALAR_ARCTAN = 12
SCALAR_EXP = 13
SCALAR_LOG = 14
SCALAR_HEAVISIDE = 15
VECTOR_HEAVISIDE = 16
MATRIX_HEAVISIDE = 17
SCALAR_VECTOR_PRODUCT = 18
SCALAR_BROADCAST = 19
VECTOR_RECIPROCAL = 20
VECTOR_NORM = 21
VECTOR_ABS = 22
VECTOR_SUM = 23
VECTOR_DIFF = 24
VECTOR_PRODUCT = 25
VECTOR_DIVISION = 26
VECTOR_INNER_PRODUCT = 27
VECTOR_OUTER_PRODUCT = 28
SCALAR_MATRIX_PRODUCT = 29
MATRIX_RECIPROCAL = 30
MATRIX_VECTOR_PRODUCT = 31
VECTOR_COLUMN_BROADCAST = 32
VECTOR_ROW_BROADCAST = 33
MATRIX_NORM = 34
MATRIX_COLUMN_NORM = 35
MATRIX_ROW_NORM = 36
MATRIX_TRANSPOSE = 37
MATRIX_ABS = 38
MATRIX_SUM = 39
MATRIX_DIFF = 40
MATRIX_PRODUCT = 41
MATRIX_DIVISION = 42
MATRIX_MATRIX_PRODUCT = 43
SCALAR_MIN = 44
VECTOR_MIN = 45
MATRIX_MIN = 46
SCALAR_MAX = 47
VECTOR_MAX = 48
MATRIX_MAX = 49
VECTOR_MEAN = 50
MATRIX_MEAN = 51
MATRIX_ROW_MEAN = 52
MATRIX_ROW_ST_DEV = 53
VECTOR_ST_DEV = 54
MATRIX_ST_DEV = 55
SCALAR_CONST_SET = 56
VECTOR_CONST_SET = 57
MATRIX_CONST_SET = 58
SCALAR_UNIFORM_SET = 59
VECTOR_UNIFORM_SET = 60
MATRIX_UNIFORM_SET = 61
SCALAR_GAUSSIAN_SET = 62
VECTOR_GAUSSIAN_SET = 63
MATRIX_GAUSSIAN_SET = 64

N_OPS = len(OP_TABLE)
OP_NAMES: tuple[str, ...] = tuple(name for name, _, _ in OP_TABLE)
OP_ID: dict[str, int] = {name: i for i, name in enumerate(OP_NAMES)}
CONST_OPS = frozenset({56, 57, 58})
UNIFORM_OPS = frozenset({59, 60, 61})
GAUSSIAN_OPS = frozenset({62, 63, 64})
RANDOM_OPS = UNIFORM_OPS | GAUSSIAN_OPS
DATA_OPS = CONST_OPS | RANDOM_OPS
PARTIAL_WRITE_OPS = frozenset({57, 58})  # write one entry: the rest of the output is read through
COMPONENTS: tuple[str, str, str] = ("setup", "predict", "learn")

# Fixed memory roles ([C] definitions.h): s0 label, s1 prediction, v0 features.
LABEL, PREDICTION, FEATURES = 0, 1, 0


def op_inputs(op: int) -> tuple[str, ...]:
    """Kinds of the op's inputs (``in1``, ``in2``)."""
    return OP_TABLE[op][1]


def op_output(op: int) -> str | None:
    """Kind of the op's output, or None for no_op."""
    return OP_TABLE[op][2]


KIND_INDEX: dict[str, int] = {"s": 0, "v": 1, "m": 2}


def _op_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    in_kind = np.full((N_OPS, 2), -1, dtype=np.int64)
    out_kind = np.full(N_OPS, -1, dtype=np.int64)
    partial = np.zeros(N_OPS, dtype=np.bool_)
    random_op = np.zeros(N_OPS, dtype=np.bool_)
    for o in range(N_OPS):
        for position, k in enumerate(op_inputs(o)):
            in_kind[o, position] = KIND_INDEX[k]
        out = op_output(o)
        out_kind[o] = -1 if out is None else KIND_INDEX[out]
        partial[o] = o in PARTIAL_WRITE_OPS
        random_op[o] = o in RANDOM_OPS
    return in_kind, out_kind, partial, random_op


#: The op table as arrays for compiled code: input kinds (N_OPS, 2) and output kind (N_OPS,) as KIND_INDEX
#: values (-1: none), whether an op writes one entry only, whether it draws random numbers.
IN_KIND, OUT_KIND, PARTIAL, RANDOM = _op_tables()


@dataclass(frozen=True)
class ProgramBatch:
    """A batch of programs as padded arrays: ``op/in1/in2/out`` int32 (B, 3, L), ``data`` float64 (B, 3, L, 3),
    ``length`` int32 (B, 3), with memory sizes. Components are setup, predict, learn."""

    op: np.ndarray
    in1: np.ndarray
    in2: np.ndarray
    out: np.ndarray
    data: np.ndarray
    length: np.ndarray
    scalars: int
    vectors: int
    matrices: int

    def __len__(self) -> int:
        return int(self.op.shape[0])

    def check(self) -> None:
        """Bounds-check every address against its kind's address count (done once per batch, never in the kernel)."""
        if self.checked:
            return
        self._check()
        self.__dict__["_checked"] = True  # batches are never written after they are made

    @property
    def checked(self) -> bool:
        """Whether this batch is known to be valid (checked, or made from checked batches by compiled code)."""
        return bool(self.__dict__.get("_checked"))

    def mark_checked(self) -> ProgramBatch:
        """Record that this batch is valid by construction (made from checked batches by compiled code)."""
        self.__dict__["_checked"] = True
        return self

    def _check(self) -> None:
        if self.op.ndim != 3 or self.op.shape[1] != 3:
            raise ValueError("program arrays must have shape (batch, 3, length)")
        for arr in (self.in1, self.in2, self.out):
            if arr.shape != self.op.shape or arr.dtype != np.int32:
                raise ValueError("address arrays must be int32 and match the op array")
        if self.data.shape != (*self.op.shape, 3) or self.length.shape != self.op.shape[:2]:
            raise ValueError("data must be (batch, 3, length, 3) and length (batch, 3)")
        if self.scalars < 2 or self.vectors < 1 or self.matrices < 0:
            raise ValueError("need at least 2 scalar addresses (label, prediction) and 1 vector (features)")
        if (self.length < 0).any() or (self.length > self.op.shape[2]).any():
            raise ValueError("component length outside 0..L")
        if ((self.op < 0) | (self.op >= N_OPS)).any():
            raise ValueError(f"op id outside 0..{N_OPS - 1}")
        live = np.arange(self.op.shape[2])[None, None, :] < self.length[:, :, None]
        limits = address_limits(self.scalars, self.vectors, self.matrices)
        for index, field in enumerate(("in1", "in2", "out")):
            addresses = getattr(self, field)
            bad = live & ((addresses < 0) | (addresses >= limits[index][self.op]))
            if bad.any():
                raise ValueError(f"{field} address out of range in {int(bad.sum())} instruction(s)")


_LIMITS: dict[tuple[int, int, int], np.ndarray] = {}


def address_limits(scalars: int, vectors: int, matrices: int) -> np.ndarray:
    """Per op, the exclusive upper bound of in1, in2 and out (huge where the op has no such field)."""
    key = (scalars, vectors, matrices)
    if key not in _LIMITS:
        counts = {"s": scalars, "v": vectors, "m": matrices}
        limits = np.full((3, N_OPS), 1 << 30, dtype=np.int64)
        for o in range(N_OPS):
            for position, kind in enumerate(op_inputs(o)):
                limits[position, o] = counts[kind]
            kind = op_output(o)
            if kind is not None:
                limits[2, o] = counts[kind]
        _LIMITS[key] = limits
    return _LIMITS[key]
