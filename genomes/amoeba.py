"""AmoebaNet / NASNet cells (Real et al. 2019): a normal and a reduction cell of B pairwise combinations.

State 0 is ``prev`` (h_{i-1}), state 1 is ``prev_prev`` (h_{i-2}); block b produces state b+2 as
``op_a(state in_a) + op_b(state in_b)`` with ``in_a, in_b < b+2``. The cell output concatenates every
state no block reads (including an unread cell input).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .base import Diagram, InvalidGenome, Mutation, canonical_hash, expect
from .ir import CellIR, Edge, NetIR, Node

NASNET_OPS: tuple[str, ...] = (
    "identity",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "sep_conv_7x7",
    "avg_pool_3x3",
    "max_pool_3x3",
    "dil_sep_conv_3x3",
    "conv_1x7_7x1",
)
INPUT_NAMES: tuple[str, str] = ("prev", "prev_prev")
CELL_NAMES: tuple[str, str] = ("normal", "reduction")

# A block is ((input_a, op_a), (input_b, op_b)) with op as an index into the space's op list.
Element = tuple[int, int]
Block = tuple[Element, Element]
Cell = tuple[Block, ...]


def state_name(index: int) -> str:
    """Name a hidden state as written in JSON: ``prev``, ``prev_prev`` or ``s2``..``s6``."""
    return INPUT_NAMES[index] if index < 2 else f"s{index}"


def parse_state(name: Any) -> int:
    """Inverse of ``state_name``; raises ``InvalidGenome`` on anything else."""
    if name in INPUT_NAMES:
        return INPUT_NAMES.index(name)
    if isinstance(name, str) and name.startswith("s") and name[1:].isdigit() and int(name[1:]) >= 2:
        return int(name[1:])
    raise InvalidGenome(f"unknown hidden state {name!r}: use 'prev', 'prev_prev' or 's2', 's3', ...")


def unused_states(cell: Cell) -> tuple[int, ...]:
    """States no block reads, in index order: the cell's concatenated output."""
    used = {element[0] for block in cell for element in block}
    return tuple(s for s in range(len(cell) + 2) if s not in used)


@dataclass(frozen=True, slots=True)
class AmoebaGenome:
    """A NASNet-space genotype: normal and reduction cells over the op names in ``ops``."""

    normal: Cell
    reduction: Cell
    ops: tuple[str, ...] = NASNET_OPS
    kind: ClassVar[str] = "amoeba"

    def cell(self, name: str) -> Cell:
        """The cell called ``name`` ("normal" or "reduction")."""
        return self.normal if name == "normal" else self.reduction

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form with named inputs and ops; ``from_dict`` inverts it exactly."""
        out: dict[str, Any] = {"kind": self.kind}
        for name in CELL_NAMES:
            out[name] = [[[state_name(i), self.ops[o]] for i, o in block] for block in self.cell(name)]
        if self.ops != NASNET_OPS:
            out["ops"] = list(self.ops)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AmoebaGenome:
        """Parse and validate the JSON form; raises ``InvalidGenome`` naming the first problem."""
        if not isinstance(data, dict) or data.get("kind") != cls.kind:
            raise InvalidGenome(f"not an amoeba genome: expected kind 'amoeba', got {_kind_of(data)!r}")
        ops = tuple(data.get("ops", NASNET_OPS))
        cells = []
        for name in CELL_NAMES:
            raw = data.get(name)
            expect(isinstance(raw, list) and len(raw) > 0, f"{name} cell must be a non-empty list of blocks")
            blocks = []
            for b, block in enumerate(raw):
                expect(
                    isinstance(block, list) and len(block) == 2,
                    f"{name} block {b} must be two [input, op] pairs",
                )
                elements = []
                for element in block:
                    expect(
                        isinstance(element, list) and len(element) == 2,
                        f"{name} block {b}: each element must be [input, op]",
                    )
                    source, op = element
                    expect(op in ops, f"{name} block {b}: unknown op {op!r}; known ops: {', '.join(ops)}")
                    elements.append((parse_state(source), ops.index(op)))
                blocks.append((elements[0], elements[1]))
            cells.append(tuple(blocks))
        genome = cls(cells[0], cells[1], ops)
        genome.validate()
        return genome

    def validate(self) -> None:
        """Check shape, op indices and acyclicity (block b reads only states < b+2)."""
        expect(len(set(self.ops)) == len(self.ops) and len(self.ops) > 0, "op list is empty or repeats an op")
        expect(len(self.normal) == len(self.reduction), "normal and reduction cells have different block counts")
        for name in CELL_NAMES:
            cell = self.cell(name)
            expect(len(cell) >= 1, f"{name} cell has no blocks")
            for b, block in enumerate(cell):
                expect(len(block) == 2, f"{name} block {b} must have exactly two elements")
                for source, op in block:
                    expect(
                        isinstance(source, int) and 0 <= source < b + 2,
                        f"{name} block {b} reads state {source!r}, but only states 0..{b + 1} exist before it",
                    )
                    expect(isinstance(op, int) and 0 <= op < len(self.ops), f"{name} block {b}: bad op index {op!r}")

    def canonical(self) -> dict[str, Any]:
        """The genotype with each block's two (commutative) elements in sorted order."""
        return {
            name: [sorted([[i, self.ops[o]] for i, o in block]) for block in self.cell(name)]
            for name in CELL_NAMES
        }

    def fingerprint(self) -> str:
        """Hash shared by genotypes equal up to the order of the two elements of a block."""
        return canonical_hash(self.canonical())

    def lower(self) -> NetIR:
        """The normal and reduction cells as edge-labelled DAGs (add merge, unused-states concat)."""
        return NetIR(*(self._lower_cell(self.cell(name)) for name in CELL_NAMES))

    def _lower_cell(self, cell: Cell) -> CellIR:
        nodes = tuple(Node(tuple(Edge(i, self.ops[o]) for i, o in block), "add") for block in cell)
        return CellIR(n_inputs=2, nodes=nodes, outputs=unused_states(cell))

    def diagrams(self) -> list[Diagram]:
        """The two cells as graphs: hidden states joined by their ops, unused states into the concat."""
        return [_cell_diagram(self, name) for name in CELL_NAMES]

    def describe(self) -> str:
        """Human-readable two-cell listing, as printed at the end of a run."""
        lines = []
        for name in CELL_NAMES:
            cell = self.cell(name)
            lines.append(f"{name} cell:")
            for b, ((ia, oa), (ib, ob)) in enumerate(cell):
                lines.append(
                    f"  s{b + 2} = {self.ops[oa]}({state_name(ia)}) + {self.ops[ob]}({state_name(ib)})"
                )
            lines.append(f"  output = concat({', '.join(state_name(s) for s in unused_states(cell))})")
        return "\n".join(lines)


def _cell_diagram(genome: AmoebaGenome, name: str) -> Diagram:
    cell = genome.cell(name)
    nodes = tuple(state_name(i) for i in range(len(cell) + 2)) + ("concat",)
    edges = [(i, b + 2, genome.ops[o]) for b, block in enumerate(cell) for i, o in block]
    edges += [(s, len(nodes) - 1, "") for s in unused_states(cell)]
    return Diagram(f"{name} cell", nodes, tuple(edges))


def _kind_of(data: Any) -> Any:
    return data.get("kind") if isinstance(data, dict) else type(data).__name__


@dataclass(frozen=True)
class AmoebaSpace:
    """The NASNet search space with [RE]'s mutations: identity (p_identity), hidden-state and op (the rest, halved)."""

    num_blocks: int = 5
    ops: tuple[str, ...] = field(default=NASNET_OPS)
    p_identity: float = 0.05
    op_mutation_allow_same: bool = False
    kind: ClassVar[str] = "amoeba"

    def __post_init__(self) -> None:
        if self.num_blocks < 1:
            raise ValueError("num_blocks must be at least 1")
        if not 0.0 <= self.p_identity <= 1.0:
            raise ValueError("p_identity must lie in [0, 1]")
        if len(self.ops) < 2 and not self.op_mutation_allow_same:
            raise ValueError("op mutation needs at least two ops (or op_mutation_allow_same)")
        object.__setattr__(self, "ops", tuple(self.ops))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe config, stored in the run's config.json."""
        return {
            "num_blocks": self.num_blocks,
            "ops": list(self.ops),
            "p_identity": self.p_identity,
            "op_mutation_allow_same": self.op_mutation_allow_same,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AmoebaSpace:
        """Inverse of ``to_dict``."""
        return cls(**{**data, "ops": tuple(data.get("ops", NASNET_OPS))})

    def genome_from_dict(self, data: dict[str, Any]) -> AmoebaGenome:
        """Parse a genome of this space and check it matches the space's block count."""
        genome = AmoebaGenome.from_dict(data)
        expect(len(genome.normal) == self.num_blocks, f"genome has {len(genome.normal)} blocks, space has {self.num_blocks}")
        return genome

    # -- as a sequence of decisions (a controller samples them in order) ------------------------------------
    def decision_types(self) -> list[tuple[str, int]]:
        """Per cell (normal, then reduction), per block, per element: its input state, then its op."""
        return [("input", self.num_blocks + 1), ("op", len(self.ops))] * (2 * self.num_blocks * 2)

    def choices_allowed(self, prefix: list[int]) -> int:
        """An input of block b may be any of the b + 2 states before it; an op any op."""
        step = len(prefix)
        block = (step % (4 * self.num_blocks)) // 4
        return block + 2 if step % 2 == 0 else len(self.ops)

    def to_choices(self, genome: AmoebaGenome) -> list[int]:
        """The decisions that make ``genome``."""
        return [v for name in CELL_NAMES for block in genome.cell(name) for element in block for v in element]

    def from_choices(self, choices: list[int]) -> AmoebaGenome:
        """The genome a full sequence of decisions makes."""
        values = [int(c) for c in choices]
        cells = []
        for c in range(2):
            base = c * 4 * self.num_blocks
            cells.append(tuple(((values[base + 4 * b], values[base + 4 * b + 1]), (values[base + 4 * b + 2], values[base + 4 * b + 3]))
                               for b in range(self.num_blocks)))
        genome = AmoebaGenome(cells[0], cells[1], self.ops)  # type: ignore[arg-type]
        genome.validate()
        return genome

    def random(self, rng: np.random.Generator) -> AmoebaGenome:
        """Every element's input and op drawn uniformly and independently (uniform over encodings)."""
        n_ops = len(self.ops)
        draws = rng.random((2, self.num_blocks, 2, 2))
        cells = []
        for c in range(2):
            cells.append(
                tuple(
                    tuple((int(draws[c, b, e, 0] * (b + 2)), int(draws[c, b, e, 1] * n_ops)) for e in range(2))
                    for b in range(self.num_blocks)
                )
            )
        return AmoebaGenome(cells[0], cells[1], self.ops)  # type: ignore[arg-type]

    def initial(self, rng: np.random.Generator) -> AmoebaGenome:
        """[RE] seeds the population with random architectures."""
        return self.random(rng)

    def mutate(self, genome: AmoebaGenome, rng: np.random.Generator) -> tuple[AmoebaGenome, Mutation]:  # type: ignore[override]
        """Apply exactly one of [RE]'s mutations; the parent is left unchanged."""
        u_kind, u_cell, u_block, u_elem, u_value = rng.random(5)
        if u_kind < self.p_identity:
            return genome, Mutation("identity")
        kind = "hidden_state" if (u_kind - self.p_identity) < (1.0 - self.p_identity) / 2 else "op"
        cell_name = CELL_NAMES[int(u_cell * 2)]
        cell = genome.cell(cell_name)
        b = int(u_block * len(cell))
        e = int(u_elem * 2)
        source, op = cell[b][e]
        if kind == "hidden_state":
            choices = [s for s in range(b + 2) if s != source]
            new_source = choices[int(u_value * len(choices))]
            new_element = (new_source, op)
            detail = f"{cell_name} block {b} element {e}: {state_name(source)} -> {state_name(new_source)}"
        else:
            n_ops = len(genome.ops)
            if self.op_mutation_allow_same:
                new_op = int(u_value * n_ops)
            else:
                new_op = int(u_value * (n_ops - 1))
                new_op += new_op >= op
            new_element = (source, new_op)
            detail = f"{cell_name} block {b} element {e}: {genome.ops[op]} -> {genome.ops[new_op]}"
        block = (new_element, cell[b][1]) if e == 0 else (cell[b][0], new_element)
        new_cell = cell[:b] + (block,) + cell[b + 1 :]
        if cell_name == "normal":
            child = AmoebaGenome(new_cell, genome.reduction, genome.ops)
        else:
            child = AmoebaGenome(genome.normal, new_cell, genome.ops)
        return child, Mutation(kind, detail)


def amoebanet_a() -> AmoebaGenome:
    """AmoebaNet-A as released in tensorflow/tpu ``model_specs.py`` (input 0 = h_{i-1})."""
    ops = NASNET_OPS
    p, pp = 0, 1

    def blk(a: tuple[int, str], b: tuple[int, str]) -> Block:
        return ((a[0], ops.index(a[1])), (b[0], ops.index(b[1])))

    normal = (
        blk((p, "avg_pool_3x3"), (p, "max_pool_3x3")),
        blk((pp, "sep_conv_3x3"), (pp, "identity")),
        blk((p, "identity"), (pp, "avg_pool_3x3")),
        blk((p, "sep_conv_3x3"), (2, "sep_conv_5x5")),
        blk((5, "avg_pool_3x3"), (p, "sep_conv_3x3")),
    )
    reduction = (
        blk((pp, "sep_conv_3x3"), (p, "avg_pool_3x3")),
        blk((p, "max_pool_3x3"), (2, "sep_conv_7x7")),
        blk((pp, "max_pool_3x3"), (p, "max_pool_3x3")),
        blk((4, "sep_conv_3x3"), (p, "conv_1x7_7x1")),
        blk((pp, "avg_pool_3x3"), (p, "sep_conv_7x7")),
    )
    return AmoebaGenome(normal, reduction, ops)
