"""AutoML-Zero programs (Real et al. 2020): Setup / Predict / Learn instruction lists over typed memory.

An instruction is ``(op, in1, in2, out, d0, d1, d2)``; unused fields are 0. Memory roles: ``s0`` label
(0 during Predict), ``s1`` prediction, ``v0`` features. Random output addresses never target s0 or v0.
Semantics, mutation rules and data draws follow ../shared/specs/automl_zero.md (the [C] code by default).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .base import InvalidGenome, Mutation, canonical_hash, expect
from .program_ir import (
    ALTER_FIELDS,
    COMPONENTS,
    COPY,
    DATA_OPS,
    GAUSSIAN_OPS,
    IN_KIND,
    MUTATION_TYPES,
    N_OPS,
    NO_COMPONENT,
    OP_ID,
    OP_NAMES,
    OUT_KIND,
    PARTIAL_WRITE_OPS,
    RANDOM_OPS,
    REFUSED,
    UNIFORM_OPS,
    ProgramBatch,
    op_inputs,
    op_output,
)

Instruction = tuple[int, int, int, int, float, float, float]
Component = tuple[Instruction, ...]

NOP: Instruction = (0, 0, 0, 0, 0.0, 0.0, 0.0)


class ProgramGenome:
    """An AutoML-Zero algorithm: three components plus the memory sizes it runs with.

    Immutable. A genome made by batched mutation starts as a row of the batch's arrays and builds its
    instruction tuples only when asked for them (most children are scored and dropped without that).
    """

    __slots__ = ("_components", "_packed", "scalars", "vectors", "matrices", "features")
    kind: ClassVar[str] = "automl-zero"

    def __init__(self, setup: Component, predict: Component, learn: Component, scalars: int = 4, vectors: int = 3,
                 matrices: int = 1, features: int = 4) -> None:
        self._components: tuple[Component, Component, Component] | None = (tuple(setup), tuple(predict), tuple(learn))
        self._packed: tuple[ProgramBatch, int] | None = None
        self.scalars, self.vectors, self.matrices, self.features = scalars, vectors, matrices, features

    @classmethod
    def packed_rows(cls, batch: ProgramBatch, start: int, end: int, features: int) -> list[ProgramGenome]:
        """Rows ``start..end-1`` of a batch as genomes, no copy until their instructions are read."""
        new, scalars, vectors, matrices = cls.__new__, batch.scalars, batch.vectors, batch.matrices
        out = []
        for row in range(start, end):
            genome = new(cls)
            genome._components = None
            genome._packed = (batch, row)
            genome.scalars, genome.vectors, genome.matrices, genome.features = scalars, vectors, matrices, features
            out.append(genome)
        return out

    @property
    def setup(self) -> Component:
        """Setup instructions."""
        return self.components()[0]

    @property
    def predict(self) -> Component:
        """Predict instructions."""
        return self.components()[1]

    @property
    def learn(self) -> Component:
        """Learn instructions."""
        return self.components()[2]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProgramGenome):
            return NotImplemented
        return self._memory() == other._memory() and self.components() == other.components()

    def __hash__(self) -> int:
        return hash((self._memory(), self.components()))

    def __repr__(self) -> str:
        return f"ProgramGenome(setup={self.setup!r}, predict={self.predict!r}, learn={self.learn!r}, memory={self._memory()})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (ProgramGenome, (*self.components(), *self._memory()))

    def _memory(self) -> tuple[int, int, int, int]:
        return (self.scalars, self.vectors, self.matrices, self.features)

    def components(self) -> tuple[Component, Component, Component]:
        """(setup, predict, learn)."""
        if self._components is None:
            assert self._packed is not None
            self._components = _unpack(*self._packed)
        return self._components  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        """JSON form: memory sizes and, per component, ``[op_name, in1, in2, out, d0, d1, d2]`` rows."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "memory": {"scalars": self.scalars, "vectors": self.vectors, "matrices": self.matrices, "features": self.features},
        }
        for name, component in zip(COMPONENTS, self.components()):
            out[name] = [[OP_NAMES[i[0]], i[1], i[2], i[3], i[4], i[5], i[6]] for i in component]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProgramGenome:
        """Parse and validate the JSON form."""
        if not isinstance(data, dict) or data.get("kind") != cls.kind:
            raise InvalidGenome("not an automl-zero genome: expected kind 'automl-zero'")
        memory = data.get("memory")
        expect(isinstance(memory, dict), "missing 'memory' sizes")
        components = []
        for name in COMPONENTS:
            rows = data.get(name)
            expect(isinstance(rows, list), f"{name} must be a list of instructions")
            parsed = []
            for k, row in enumerate(rows):
                expect(isinstance(row, list) and len(row) == 7, f"{name}[{k}] must be [op, in1, in2, out, d0, d1, d2]")
                expect(row[0] in OP_ID, f"{name}[{k}]: unknown op {row[0]!r}")
                expect(all(isinstance(x, int) and not isinstance(x, bool) for x in row[1:4]), f"{name}[{k}]: addresses must be integers")
                expect(all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in row[4:]), f"{name}[{k}]: data must be numbers")
                parsed.append((OP_ID[row[0]], row[1], row[2], row[3], float(row[4]), float(row[5]), float(row[6])))
            components.append(tuple(parsed))
        try:
            genome = cls(*components, int(memory["scalars"]), int(memory["vectors"]), int(memory["matrices"]), int(memory["features"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidGenome(f"bad memory sizes: {exc}") from None
        genome.validate()
        return genome

    def validate(self) -> None:
        """Every address inside its kind's range, outputs never s0/v0, fields unused by an op zero."""
        expect(self.scalars >= 2 and self.vectors >= 1 and self.matrices >= 0 and self.features >= 1, "memory too small: need s0, s1, v0 and F >= 1")
        counts = {"s": self.scalars, "v": self.vectors, "m": self.matrices}
        for name, component in zip(COMPONENTS, self.components()):
            for k, (op, a, b, o, *_data) in enumerate(component):
                where = f"{name}[{k}] {OP_NAMES[op] if 0 <= op < N_OPS else op}"
                expect(isinstance(op, int) and 0 <= op < N_OPS, f"{where}: op id outside 0..{N_OPS - 1}")
                kinds = op_inputs(op)
                for value, kind in zip((a, b), kinds):
                    expect(0 <= value < counts[kind], f"{where}: input {kind}{value} outside {kind}0..{kind}{counts[kind] - 1}")
                for value in (a, b)[len(kinds):]:
                    expect(value == 0, f"{where}: unused input address must be 0")
                if op in (57, 58):
                    fractions = _data[:1] if op == 57 else _data[:2]
                    expect(all(0.0 <= x < 1.0 for x in fractions), f"{where}: index fractions must lie in [0, 1)")
                kind = op_output(op)
                if kind is None:
                    expect(o == 0, f"{where}: no_op has no output")
                else:
                    low = 1 if kind in "sv" else 0
                    expect(low <= o < counts[kind], f"{where}: output {kind}{o} outside {kind}{low}..{kind}{counts[kind] - 1}")

    def live_mask(self) -> tuple[tuple[bool, ...], tuple[bool, ...], tuple[bool, ...]]:
        """Which instructions can affect the prediction s1 (dead-code analysis over the training loop).

        Random ops are kept whenever any live random op exists, because dropping one would shift the random
        stream of the others.
        """
        return live_instructions(self.components())

    def pruned(self) -> ProgramGenome:
        """The same algorithm with dead instructions removed (for display and to skip work)."""
        masks = self.live_mask()
        kept = [tuple(i for i, live in zip(c, m) if live) for c, m in zip(self.components(), masks)]
        return ProgramGenome(*kept, self.scalars, self.vectors, self.matrices, self.features)

    def fingerprint(self) -> str:
        """Hash of the live program: genomes differing only in dead code share it."""
        pruned = self.pruned()
        return canonical_hash([[list(i) for i in c] for c in pruned.components()] + [self.scalars, self.vectors, self.matrices, self.features])

    def lower(self, eliminate_dead: bool = True) -> ProgramBatch:
        """A one-program ProgramBatch (dead code removed unless asked not to)."""
        return to_batch([self], eliminate_dead)

    def describe(self, eliminate_dead: bool = True) -> str:
        """Readable Setup / Predict / Learn code (dead instructions removed by default)."""
        genome = self.pruned() if eliminate_dead else self
        lines = []
        for name, component in zip(COMPONENTS, genome.components()):
            lines.append(f"def {name}():")
            body = [format_instruction(i) for i in component if i[0] != 0]
            lines += [f"    {text}" for text in body] or ["    pass"]
        return "\n".join(lines)


def live_instructions(components: tuple[Component, Component, Component]) -> tuple[tuple[bool, ...], ...]:
    """Liveness fixpoint over Setup -> (Predict -> Learn)* -> Predict; see ``ProgramGenome.live_mask``."""
    setup, predict, learn = components
    harness_written = {("s", 0), ("v", 0)}

    def backward(component: Component, live_out: set[tuple[str, int]]) -> tuple[set[tuple[str, int]], list[bool]]:
        live = set(live_out)
        mask = [False] * len(component)
        for k in range(len(component) - 1, -1, -1):
            op, a, b, o = component[k][:4]
            kind = op_output(op)
            if kind is None or (kind, o) not in live:
                continue
            mask[k] = True
            if op not in PARTIAL_WRITE_OPS:
                live.discard((kind, o))
            live.update(zip(op_inputs(op), (a, b)))
        return live, mask

    # Edges: Setup -> Predict; Predict -> Learn (training); Learn -> Predict; Predict -> Predict (validation).
    predict_out: set[tuple[str, int]] = {("s", 1)}
    learn_out: set[tuple[str, int]] = set()
    while True:
        predict_in, _ = backward(predict, predict_out)
        learn_out_new = predict_in - harness_written
        learn_in, _ = backward(learn, learn_out_new)
        predict_out_new = {("s", 1)} | (learn_in - harness_written) | (predict_in - harness_written)
        if predict_out_new == predict_out and learn_out_new == learn_out:
            break
        predict_out, learn_out = predict_out_new, learn_out_new
    predict_in, predict_mask = backward(predict, predict_out)
    _, learn_mask = backward(learn, learn_out)
    _, setup_mask = backward(setup, predict_in - harness_written)
    masks = [setup_mask, predict_mask, learn_mask]
    if any(m and c[k][0] in RANDOM_OPS for c, mask in zip(components, masks) for k, m in enumerate(mask)):
        for c, mask in zip(components, masks):
            for k, instruction in enumerate(c):
                if instruction[0] in RANDOM_OPS:
                    mask[k] = True
    return tuple(tuple(m) for m in masks)


_TEMPLATES: dict[str, str] = {
    "scalar_sum": "{o} = {a} + {b}", "scalar_diff": "{o} = {a} - {b}", "scalar_product": "{o} = {a} * {b}",
    "scalar_division": "{o} = {a} / {b}", "scalar_abs": "{o} = abs({a})", "scalar_reciprocal": "{o} = 1 / {a}",
    "scalar_sin": "{o} = sin({a})", "scalar_cos": "{o} = cos({a})", "scalar_tan": "{o} = tan({a})",
    "scalar_arcsin": "{o} = arcsin({a})", "scalar_arccos": "{o} = arccos({a})", "scalar_arctan": "{o} = arctan({a})",
    "scalar_exp": "{o} = exp({a})", "scalar_log": "{o} = log({a})", "scalar_heaviside": "{o} = heaviside({a})  # 1 if >= 0",
    "vector_heaviside": "{o} = heaviside({a})  # 1 where > 0", "matrix_heaviside": "{o} = heaviside({a})  # 1 where > 0",
    "scalar_vector_product": "{o} = {a} * {b}", "scalar_broadcast": "{o} = broadcast({a})",
    "vector_reciprocal": "{o} = 1 / {a}", "vector_norm": "{o} = norm({a})", "vector_abs": "{o} = abs({a})",
    "vector_sum": "{o} = {a} + {b}", "vector_diff": "{o} = {a} - {b}", "vector_product": "{o} = {a} * {b}",
    "vector_division": "{o} = {a} / {b}", "vector_inner_product": "{o} = dot({a}, {b})",
    "vector_outer_product": "{o} = outer({a}, {b})", "scalar_matrix_product": "{o} = {a} * {b}",
    "matrix_reciprocal": "{o} = 1 / {a}", "matrix_vector_product": "{o} = matmul({a}, {b})",
    "vector_column_broadcast": "{o} = column_broadcast({a})", "vector_row_broadcast": "{o} = row_broadcast({a})",
    "matrix_norm": "{o} = norm({a})", "matrix_column_norm": "{o} = column_norms({a})", "matrix_row_norm": "{o} = row_norms({a})",
    "matrix_transpose": "{o} = transpose({a})", "matrix_abs": "{o} = abs({a})", "matrix_sum": "{o} = {a} + {b}",
    "matrix_diff": "{o} = {a} - {b}", "matrix_product": "{o} = {a} * {b}", "matrix_division": "{o} = {a} / {b}",
    "matrix_matrix_product": "{o} = matmul({a}, {b})", "scalar_min": "{o} = min({a}, {b})", "vector_min": "{o} = minimum({a}, {b})",
    "matrix_min": "{o} = minimum({a}, {b})", "scalar_max": "{o} = max({a}, {b})", "vector_max": "{o} = maximum({a}, {b})",
    "matrix_max": "{o} = maximum({a}, {b})", "vector_mean": "{o} = mean({a})", "matrix_mean": "{o} = mean({a})",
    "matrix_row_mean": "{o} = row_means({a})", "matrix_row_st_dev": "{o} = row_stds({a})", "vector_st_dev": "{o} = std({a})",
    "matrix_st_dev": "{o} = std({a})",
}


def format_instruction(instruction: Instruction) -> str:
    """One instruction as a line of Python-like code."""
    op, a, b, o, d0, d1, d2 = instruction
    name = OP_NAMES[op]
    kinds = op_inputs(op)
    out = f"{op_output(op)}{o}"
    if op == 56:
        return f"{out} = {d0:.6g}"
    if op == 57:
        return f"{out}[frac {d0:.4g}] = {d1:.6g}"
    if op == 58:
        return f"{out}[frac {d0:.4g}, frac {d1:.4g}] = {d2:.6g}"
    if op in UNIFORM_OPS:
        return f"{out} = uniform({min(d0, d1):.6g}, {max(d0, d1):.6g})"
    if op in GAUSSIAN_OPS:
        return f"{out} = gaussian({d0:.6g}, {d1:.6g})"
    names = [f"{k}{v}" for k, v in zip(kinds, (a, b))]
    return _TEMPLATES[name].format(o=out, a=names[0] if names else "", b=names[1] if len(names) > 1 else "")


def _unpack(batch: ProgramBatch, row: int) -> tuple[Component, Component, Component]:
    """Row ``row`` of a batch as instruction tuples (each array's row listed once: numpy slicing per component
    cost more than building the tuples)."""
    ops, in1s, in2s, outs = batch.op[row].tolist(), batch.in1[row].tolist(), batch.in2[row].tolist(), batch.out[row].tolist()
    datas = batch.data[row].tolist()
    setup, predict, learn = (
        tuple((o, a, b, d, x[0], x[1], x[2]) for o, a, b, d, x in zip(ops[c][:n], in1s[c][:n], in2s[c][:n], outs[c][:n], datas[c][:n]))
        for c, n in enumerate(batch.length[row].tolist())
    )
    return setup, predict, learn


_FEATURES = operator.attrgetter("features")
MAX_COMPONENT = (1 << 16) - 2  # positions and other codes must fit 16 bits once offset by 2
_CODE_OFFSETS = np.array([1, 1, 2, 1], dtype=np.int64)  # the least each code can be is -1, -1, -2, -1
_CODE_SCALES = np.array([1 << 48, 1 << 32, 1 << 16, 1], dtype=np.int64)


def gather(genomes: list[ProgramGenome], width: int = 0) -> ProgramBatch | None:
    """The genomes as one batch by indexing the batches they are rows of (None unless every one is such a
    row), padded to at least ``width`` instructions per component."""
    packs = [g._packed for g in genomes]
    if not packs or None in packs:
        return None
    # Grouping by source batch with C-level map/zip/dict calls: a Python loop over the genomes cost more than the copy.
    batches, row_list = zip(*packs)  # type: ignore[misc]
    ids = list(map(id, batches))
    by_id = dict(zip(ids, batches))  # first-seen order
    sources: list[ProgramBatch] = list(by_id.values())
    rows_all = np.array(row_list, dtype=np.int64)
    first = sources[0]
    width = max(width, *(b.op.shape[2] for b in sources))
    checked = all(b.checked for b in sources)
    if len(sources) == 1 and first.op.shape[2] == width:
        start, count = int(rows_all[0]), len(rows_all)
        if int(rows_all[-1]) - start == count - 1 and bool((np.diff(rows_all) == 1).all()):  # consecutive rows: views, no copy
            if count == len(first):
                return first
            end = start + count
            out = ProgramBatch(first.op[start:end], first.in1[start:end], first.in2[start:end], first.out[start:end],
                               first.data[start:end], first.length[start:end], first.scalars, first.vectors, first.matrices)
            return out.mark_checked() if checked else out
        out = ProgramBatch(first.op[rows_all], first.in1[rows_all], first.in2[rows_all], first.out[rows_all], first.data[rows_all],
                           first.length[rows_all], first.scalars, first.vectors, first.matrices)
        return out.mark_checked() if checked else out
    slot_of = {ident: k for k, ident in enumerate(by_id)}
    slots = np.fromiter(map(slot_of.__getitem__, ids), dtype=np.int64, count=len(ids))
    from evonas.kernels.program_mutate import copy_rows

    shape = (len(genomes), 3, width)
    out = ProgramBatch(np.zeros(shape, np.int32), np.zeros(shape, np.int32), np.zeros(shape, np.int32), np.zeros(shape, np.int32),
                       np.zeros((*shape, 3)), np.zeros(shape[:2], np.int32), first.scalars, first.vectors, first.matrices)
    if len({(b.scalars, b.vectors, b.matrices) for b in sources}) > 1:
        raise ValueError("all programs of a batch must share memory sizes")
    order = np.argsort(slots, kind="stable")  # positions grouped by source, each group in position order
    source_rows = rows_all[order]
    ends = np.cumsum(np.bincount(slots, minlength=len(sources))).tolist()
    for batch, start, end in zip(sources, [0, *ends[:-1]], ends):
        copy_rows(batch.op, batch.in1, batch.in2, batch.out, batch.data, batch.length, source_rows[start:end],
                  out.op, out.in1, out.in2, out.out, out.data, out.length, order[start:end])
    return out.mark_checked() if checked else out


def to_batch(genomes: list[ProgramGenome], eliminate_dead: bool = True, width: int = 0) -> ProgramBatch:
    """Pack genomes (same memory sizes) into padded arrays for the kernels, at least ``width`` instructions wide."""
    if not genomes:
        raise ValueError("empty batch")
    first = genomes[0]
    gathered = gather(genomes, width)
    if gathered is not None:
        if eliminate_dead:
            from evonas.kernels.program_cpu import prune_batch

            return prune_batch(gathered)
        return gathered
    programs = [g.pruned() if eliminate_dead else g for g in genomes]
    memory = (first.scalars, first.vectors, first.matrices, first.features)
    lengths = [[len(c) for c in (p.setup, p.predict, p.learn)] for p in programs]
    width = max(1, width, max(max(row) for row in lengths))
    shape = (len(programs), 3, width)
    # One array built from every instruction of the batch, then scattered into place: per-genome numpy calls
    # cost more than the kernel for small programs.
    rows: list[Instruction] = []
    for p in programs:
        if (p.scalars, p.vectors, p.matrices, p.features) != memory:
            raise ValueError("all programs of a batch must share memory sizes")
        rows.extend(p.setup)
        rows.extend(p.predict)
        rows.extend(p.learn)
    length = np.array(lengths, dtype=np.int32).reshape(shape[:2])
    op = np.zeros(shape, np.int32)
    in1 = np.zeros(shape, np.int32)
    in2 = np.zeros(shape, np.int32)
    out = np.zeros(shape, np.int32)
    data = np.zeros((*shape, 3), np.float64)
    if rows:
        table = np.array(rows, dtype=np.float64)
        flat_length = length.ravel()
        slot = np.repeat(np.arange(flat_length.size), flat_length)
        position = np.arange(len(rows)) - np.repeat(np.cumsum(flat_length) - flat_length, flat_length)
        program, component = np.divmod(slot, 3)
        op[program, component, position] = table[:, 0]
        in1[program, component, position] = table[:, 1]
        in2[program, component, position] = table[:, 2]
        out[program, component, position] = table[:, 3]
        data[program, component, position] = table[:, 4:]
    batch = ProgramBatch(op, in1, in2, out, data, length, first.scalars, first.vectors, first.matrices)
    return batch


class ChildArena:
    """Where mutation children live: consecutive rows of one large batch, handed out in order.

    Parents are drawn from the last P children, so with every child in one arena a batch of parents is read in
    place by the mutation kernel; before, children were separate batches of 100 and a batch of parents had to
    be gathered from ten of them first. A full arena is never overwritten: a new one is started and the old one
    lives on for as long as some genome is one of its rows. Zero-filled, so rows never handed out are valid (empty)
    programs. Not pickled (a copy of a space starts with no arena)."""

    BYTES = 32 << 20

    def __init__(self) -> None:
        self.batch: ProgramBatch | None = None
        self.used = 0

    def __reduce__(self) -> tuple[Any, ...]:
        return (ChildArena, ())

    def rows(self, count: int, width: int, scalars: int, vectors: int, matrices: int) -> tuple[ProgramBatch, int]:
        """The arena batch and the first of ``count`` fresh rows in it ``width`` instructions wide."""
        batch = self.batch
        if batch is None or batch.op.shape[2] != width or self.used + count > len(batch):
            row_bytes = 3 * width * (4 * 4 + 3 * 8) + 3 * 4
            capacity = max(4 * count, self.BYTES // row_bytes)
            shape = (capacity, 3, width)
            batch = ProgramBatch(np.zeros(shape, np.int32), np.zeros(shape, np.int32), np.zeros(shape, np.int32), np.zeros(shape, np.int32),
                                 np.zeros((*shape, 3)), np.zeros(shape[:2], np.int32), scalars, vectors, matrices).mark_checked()
            self.batch, self.used = batch, 0
        first = self.used
        self.used += count
        return batch, first


@dataclass(frozen=True)
class ProgramSpace:
    """Memory sizes, allowed ops and size limits per component, and the mutation mix ([C] demo by default)."""

    scalars: int = 4
    vectors: int = 3
    matrices: int = 1
    features: int = 4
    setup_ops: tuple[str, ...] = ("scalar_const_set", "vector_inner_product", "scalar_diff", "scalar_product", "scalar_vector_product", "vector_sum")
    predict_ops: tuple[str, ...] = ("scalar_const_set", "vector_inner_product", "scalar_diff", "scalar_product", "scalar_vector_product", "vector_sum")
    learn_ops: tuple[str, ...] = ("scalar_const_set", "vector_inner_product", "scalar_diff", "scalar_product", "scalar_vector_product", "vector_sum")
    init_sizes: tuple[int, int, int] = (10, 2, 8)
    min_sizes: tuple[int, int, int] = (10, 2, 8)
    max_sizes: tuple[int, int, int] = (10, 2, 8)  # inclusive
    initial_program: str = "random"  # or "empty" (no_op programs)
    mutation_weights: dict[str, float] = field(default_factory=lambda: {"alter_param": 1.0, "randomize_instruction": 1.0, "randomize_component": 1.0})
    mutate_prob: float = 0.9  # U: otherwise the child is an exact copy
    constant_step: str = "log_normal"  # [C]; or "paper" (x U[0.5, 2], flip with p 0.1)
    kind: ClassVar[str] = "automl-zero"

    def __post_init__(self) -> None:
        for name in ("setup_ops", "predict_ops", "learn_ops", "init_sizes", "min_sizes", "max_sizes"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "mutation_weights", dict(self.mutation_weights))
        if self.scalars < 2 or self.vectors < 1 or self.matrices < 0 or self.features < 1:
            raise ValueError("memory needs at least 2 scalars, 1 vector and F >= 1")
        for ops in (self.setup_ops, self.predict_ops, self.learn_ops):
            unknown = [o for o in ops if o not in OP_ID]
            if unknown:
                raise ValueError(f"unknown op(s) {unknown}")
            if self.matrices == 0 and any("m" in op_inputs(OP_ID[o]) or op_output(OP_ID[o]) == "m" for o in ops):
                raise ValueError("matrix ops need at least one matrix address")
        for lo, init, hi in zip(self.min_sizes, self.init_sizes, self.max_sizes):
            if not 0 <= lo <= init <= hi:
                raise ValueError(f"sizes need 0 <= min <= init <= max, got {lo}, {init}, {hi}")
        if max(self.max_sizes) >= MAX_COMPONENT:  # a mutation's position codes are packed into 16 bits each
            raise ValueError(f"components hold at most {MAX_COMPONENT - 1} instructions, got max sizes {self.max_sizes}")
        unknown = set(self.mutation_weights) - set(MUTATION_TYPES)
        if unknown or not self.mutation_weights or any(w < 0 for w in self.mutation_weights.values()) or sum(self.mutation_weights.values()) <= 0:
            raise ValueError(f"mutation_weights must give non-negative weights to {', '.join(MUTATION_TYPES)}")
        if not 0.0 <= self.mutate_prob <= 1.0:
            raise ValueError("mutate_prob must lie in [0, 1]")
        if self.initial_program not in ("random", "empty") or self.constant_step not in ("log_normal", "paper"):
            raise ValueError("initial_program is 'random' or 'empty'; constant_step is 'log_normal' or 'paper'")
        # Derived lookups, computed once: mutation is on the hot path of the search loop.
        object.__setattr__(self, "_allowed_ids", tuple(tuple(OP_ID[o] for o in ops) for ops in (self.setup_ops, self.predict_ops, self.learn_ops)))
        names = tuple(n for n in MUTATION_TYPES if n in self.mutation_weights)  # fixed order: JSON may reorder the dict
        weights = np.cumsum([self.mutation_weights[n] for n in names])
        object.__setattr__(self, "_mutation_names", names)
        object.__setattr__(self, "_mutation_cumulative", tuple(float(w) for w in weights))
        object.__setattr__(self, "_counts", {"s": self.scalars, "v": self.vectors, "m": self.matrices})
        object.__setattr__(self, "_tables", self._mutation_tables())
        object.__setattr__(self, "_mutation_texts", {})
        object.__setattr__(self, "_described", (np.zeros(0, dtype=np.int64), []))  # see ``mutation_codes``
        object.__setattr__(self, "_arena", ChildArena())

    def _mutation_tables(self) -> tuple[Any, ...]:
        """The compiled mutation's arguments that depend only on the space."""
        allowed_ids = self._allowed_ids  # type: ignore[attr-defined]
        allowed = np.zeros((3, max(1, max(len(a) for a in allowed_ids))), dtype=np.int64)
        for c, ids in enumerate(allowed_ids):
            allowed[c, : len(ids)] = ids
        type_ids = np.array([MUTATION_TYPES.index(n) for n in self._mutation_names], dtype=np.int64)  # type: ignore[attr-defined]
        return (
            allowed, np.array([len(a) for a in allowed_ids], dtype=np.int64), np.array([self.scalars, self.vectors, self.matrices], dtype=np.int64),
            IN_KIND, OUT_KIND, np.array(self.min_sizes, dtype=np.int64), np.array(self.max_sizes, dtype=np.int64), float(self.mutate_prob),
            np.array(self._mutation_cumulative, dtype=np.float64), type_ids, self.constant_step == "paper",  # type: ignore[attr-defined]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe config."""
        return {
            "scalars": self.scalars, "vectors": self.vectors, "matrices": self.matrices, "features": self.features,
            "setup_ops": list(self.setup_ops), "predict_ops": list(self.predict_ops), "learn_ops": list(self.learn_ops),
            "init_sizes": list(self.init_sizes), "min_sizes": list(self.min_sizes), "max_sizes": list(self.max_sizes),
            "initial_program": self.initial_program, "mutation_weights": dict(self.mutation_weights), "mutate_prob": self.mutate_prob,
            "constant_step": self.constant_step,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProgramSpace:
        """Inverse of ``to_dict``."""
        return cls(**data)

    def genome_from_dict(self, data: dict[str, Any]) -> ProgramGenome:
        """Parse a genome and check it fits this space's memory."""
        genome = ProgramGenome.from_dict(data)
        expect(
            (genome.scalars, genome.vectors, genome.matrices, genome.features) == (self.scalars, self.vectors, self.matrices, self.features),
            "genome memory sizes differ from the space's",
        )
        return genome

    # -- drawing ------------------------------------------------------------------------------------
    def _allowed(self, component: int) -> tuple[int, ...]:
        return self._allowed_ids[component]  # type: ignore[attr-defined,no-any-return]

    def random_instructions(self, component: int, count: int, rng: np.random.Generator) -> list[Instruction]:
        """``count`` random instructions, reading the generator exactly as ``count`` draws of one instruction each.

        Each instruction takes seven uniforms (op, in1, in2, out, three data values) and, for a data op, one
        more for each of its three data uniforms that is exactly 0 (redrawn, p = 2^-53). The uniforms are drawn
        in one call: one generator call costs about what one scalar draw does, and this runs for every
        randomized instruction and component.
        """
        allowed = self._allowed(component)
        if not allowed or count <= 0:
            return [NOP] * max(count, 0)
        drawn = rng.random(7 * count).tolist()
        if 0.0 in drawn:  # a redraw shifts the later instructions: follow the stream value by value
            stream = iter(drawn)

            def take() -> float:
                value = next(stream, None)
                return rng.random() if value is None else value

            return [self._instruction(allowed, [take() for _ in range(7)], take) for _ in range(count)]
        return [self._instruction(allowed, drawn[7 * k : 7 * k + 7], None) for k in range(count)]

    def _instruction(self, allowed: tuple[int, ...], u: list[float], take: Any) -> Instruction:
        op = allowed[int(u[0] * len(allowed))]
        kinds = op_inputs(op)
        counts = self._counts  # type: ignore[attr-defined]
        a = int(u[1] * counts[kinds[0]]) if len(kinds) > 0 else 0
        b = int(u[2] * counts[kinds[1]]) if len(kinds) > 1 else 0
        kind = op_output(op)
        o = 0
        if kind:
            low = 1 if kind in "sv" else 0
            o = low + int(u[3] * (counts[kind] - low))
        if op not in DATA_OPS:
            return (op, a, b, o, 0.0, 0.0, 0.0)
        # U(-1, 1) on the open interval: 2u - 1 with u in [0, 1); the one value u = 0 (p = 2^-53) is redrawn.
        sym = [2.0 * x - 1.0 if x > 0.0 else _open_uniform_from(take, -1.0, 1.0) for x in u[4:7]]
        if op == 56:
            data = (sym[0], 0.0, 0.0)
        elif op == 57:
            data = (u[4], sym[1], 0.0)
        elif op == 58:
            data = (u[4], u[5], sym[2])
        elif op in UNIFORM_OPS:
            data = (sym[0], sym[1], 0.0)
        else:  # Gaussian: mean in (-1, 1), standard deviation in [0, 1)
            data = (sym[0], u[5], 0.0)
        return (op, a, b, o, *data)

    def _make(self, components: list[Component]) -> ProgramGenome:
        return ProgramGenome(components[0], components[1], components[2], self.scalars, self.vectors, self.matrices, self.features)

    def random(self, rng: np.random.Generator) -> ProgramGenome:
        """Random algorithm: every component at its initial size, every instruction drawn at random."""
        return self._make([tuple(self.random_instructions(c, self.init_sizes[c], rng)) for c in range(3)])

    def initial(self, rng: np.random.Generator) -> ProgramGenome:
        """Random algorithms, or no_op-filled ones when ``initial_program == 'empty'``."""
        if self.initial_program == "empty":
            return self._make([(NOP,) * n for n in self.init_sizes])
        return self.random(rng)

    # -- mutation -----------------------------------------------------------------------------------
    def mutate(self, genome: ProgramGenome, rng: np.random.Generator) -> tuple[ProgramGenome, Mutation]:  # type: ignore[override]
        """With probability ``mutate_prob`` one weighted mutation, otherwise an exact copy; the parent is unchanged.
        The child's own stream is seeded by one draw from ``rng``."""
        return self.mutate_seeded(genome, int(rng.integers(0, 2**63)))

    def mutate_seeded(self, genome: ProgramGenome, seed: int) -> tuple[ProgramGenome, Mutation]:
        """The child of ``genome`` whose random stream starts at ``seed`` (what the search calls per child)."""
        return self.mutate_many([genome], np.array([seed], dtype=np.uint64))[0]

    def mutate_many(self, parents: list[ProgramGenome], seeds: np.ndarray) -> list[tuple[ProgramGenome, Mutation]]:
        """``mutate_seeded`` of every (parent, seed) pair in one compiled call; children are consecutive rows of
        the space's child arena (``ChildArena``), so the next generation's parents are read where they lie."""
        from evonas.kernels.program_mutate import mutate_programs

        if not parents:
            return []
        if set(map(_FEATURES, parents)) != {self.features}:
            raise InvalidGenome("genome memory sizes differ from the space's")
        width = self.width
        packs = [g._packed for g in parents]
        source: ProgramBatch | None = None
        if None not in packs:
            batches, rows = zip(*packs)  # type: ignore[misc]
            if len(set(map(id, batches))) == 1 and batches[0].op.shape[2] == width:
                source, parent_rows = batches[0], np.array(rows, dtype=np.int64)  # one source (the arena): no gather
        if source is None:
            for g in parents:
                if g._packed is None:
                    width = max(width, max(len(c) for c in g.components()) + 1)
            source, parent_rows = to_batch(parents, eliminate_dead=False, width=width), np.arange(len(parents), dtype=np.int64)
        if (source.scalars, source.vectors, source.matrices) != (self.scalars, self.vectors, self.matrices):
            raise InvalidGenome("genome memory sizes differ from the space's")
        source.check()  # children copy their parents' addresses, so children are valid when their parents are
        count = len(parents)
        arena, first = self._arena.rows(count, width, self.scalars, self.vectors, self.matrices)  # type: ignore[attr-defined]
        end = first + count
        codes = np.empty((count, 4), dtype=np.int64)
        t = self._tables  # type: ignore[attr-defined]
        mutate_programs(source.op, source.in1, source.in2, source.out, source.data, source.length, parent_rows,
                        np.asarray(seeds, dtype=np.uint64), *t, arena.op[first:end], arena.in1[first:end], arena.in2[first:end],
                        arena.out[first:end], arena.data[first:end], arena.length[first:end], codes)
        # unmutated copies are arena rows like the rest, so every child reads the same way
        return list(zip(ProgramGenome.packed_rows(arena, first, end, self.features), self.mutation_texts(codes)))

    def mutation_texts(self, codes: np.ndarray) -> list[Mutation]:
        """The lineage text of each row of the compiled mutation's codes (n, 4)."""
        # One integer per child's four codes (each field shifted to be >= 0, 16 bits apart): looking texts up by
        # int costs a fraction of building a tuple per child.
        keys = ((codes + _CODE_OFFSETS) @ _CODE_SCALES).tolist()
        texts = self._texts_for(codes, keys)
        return list(map(texts.__getitem__, keys))

    def mutation_codes(self, codes: np.ndarray) -> tuple[np.ndarray, list[Mutation]]:
        """The mutations of the compiled mutation's codes (n, 4) as (row -> position, mutations): positions into
        every mutation this space has described so far, kept sorted by key (a search meets a few hundred)."""
        keys = (codes + _CODE_OFFSETS) @ _CODE_SCALES
        known, described = self._described  # type: ignore[attr-defined]
        index = np.searchsorted(known, keys)
        if not (index < len(known)).all() or not (known[np.minimum(index, len(known) - 1)] == keys).all():
            texts = self._texts_for(codes, keys.tolist())
            known = np.array(sorted(texts), dtype=np.int64)
            described = [texts[k] for k in known.tolist()]
            object.__setattr__(self, "_described", (known, described))
            index = np.searchsorted(known, keys)
        return index, described

    def _texts_for(self, codes: np.ndarray, keys: list[int]) -> dict[int, Mutation]:
        texts: dict[int, Mutation] = self._mutation_texts  # type: ignore[attr-defined]
        for key in set(keys).difference(texts):
            texts[key] = describe_mutation(tuple(codes[keys.index(key)].tolist()))  # type: ignore[arg-type]
        return texts

    @property
    def width(self) -> int:
        """Padded component width of mutation batches: one past the largest size, so trade always fits."""
        return max(max(self.max_sizes), max(self.init_sizes)) + 1

    @property
    def kernel_tables(self) -> tuple[Any, ...]:
        """The compiled mutation's arguments that depend only on the space (allowed ops, sizes, weights)."""
        return self._tables  # type: ignore[attr-defined,no-any-return]




def describe_mutation(codes: tuple[int, int, int, int]) -> Mutation:
    """The lineage's Mutation for the compiled mutation's codes (type, component, position, other)."""
    kind, c, k, other = codes
    if kind == COPY:
        return Mutation("identity", "copy")
    if kind == NO_COMPONENT:
        return Mutation(MUTATION_TYPES[c], "no mutable component")
    name = MUTATION_TYPES[kind]
    if name in ("identity", "randomize_algorithm"):
        return Mutation(name)
    where = COMPONENTS[c]
    if name == "alter_param":
        return Mutation(name, f"{where}[{k}] {ALTER_FIELDS[other]}" if k >= 0 else f"{where} empty")
    if name == "randomize_instruction":
        return Mutation(name, f"{where}[{k}]" if k >= 0 else where)
    if name == "randomize_component":
        return Mutation(name, where)
    if name == "insert":
        return Mutation(name, f"{where} full (refused)" if k == REFUSED else f"{where}[{k}]")
    if name == "remove":
        return Mutation(name, f"{where} at minimum (refused)" if k == REFUSED else f"{where}[{k}]")
    return Mutation(name, f"{where} +{k} -{other}")


def _open_uniform_from(take: Any, low: float, high: float) -> float:
    """U(low, high) on the open interval from a source of [0, 1) uniforms (zeros are redrawn)."""
    u = take()
    while u == 0.0:
        u = take()
    return low + (high - low) * u
