"""NAS-Bench-201 cells (Dong & Yang, ICLR 2020): 4 nodes, one op on each of the 6 edges j <- i (i < j).

Node 0 is the cell input and node 3 its output; node j sums its incoming edges. There are 5 ops, ``none``
(the edge is absent) included, so 5**6 = 15,625 cells. The JSON form is the benchmark's own cell string,
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (edges into node 1, then 2, then 3, each naming its source).

An edge is *dead* when no path of present edges runs from the input through it to the output; the cell
computes the same function without it, so ``fingerprint`` is taken on the cell with dead edges set to
``none``. A mutation changes one edge's op to another, uniformly (the benchmark paper's REA baseline).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

from .base import InvalidGenome, Mutation, canonical_hash, expect
from .choices import ChoiceLayout, ChoiceRowSpace, ChoiceRules, MutationTexts

#: The benchmark's ops, in its order.
NB201_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NONE = 0
#: Edges (source, target) in the order of the cell string.
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
LAYOUT = ChoiceLayout(tuple(f"edge {j}<-{i}" for i, j in EDGES), (len(NB201_OPS),) * len(EDGES))


def live_edges(ops: tuple[int, ...]) -> tuple[bool, ...]:
    """Which edges lie on a path of present edges from the input (node 0) to the output (node 3)."""
    reached = [True, False, False, False]  # from the input
    for (i, j), op in zip(EDGES, ops):  # edges are in target order, so one pass sees every source settled
        if op != NONE and reached[i]:
            reached[j] = True
    reaches = [False, False, False, True]  # to the output
    for (i, j), op in reversed(list(zip(EDGES, ops))):
        if op != NONE and reaches[j]:
            reaches[i] = True
    return tuple(op != NONE and reached[i] and reaches[j] for (i, j), op in zip(EDGES, ops))


@dataclass(frozen=True, slots=True)
class Nb201Genome:
    """The op (index into ``NB201_OPS``) of each edge, in ``EDGES`` order."""

    ops: tuple[int, ...]
    kind: ClassVar[str] = "nb201-cell"

    @property
    def code(self) -> int:
        """The packed row (``LAYOUT``): the key the benchmark tables and the compiled loop use."""
        return LAYOUT.encode(self.ops)

    @classmethod
    def from_code(cls, code: int) -> Nb201Genome:
        """The genome of a packed row."""
        return cls(LAYOUT.decode(int(code)))

    def cell_string(self) -> str:
        """The benchmark's cell string."""
        nodes = []
        for j in (1, 2, 3):
            nodes.append("|".join(f"{NB201_OPS[op]}~{i}" for (i, t), op in zip(EDGES, self.ops) if t == j))
        return "|" + "|+|".join(nodes) + "|"

    @classmethod
    def from_cell_string(cls, text: Any) -> Nb201Genome:
        """Parse a cell string; ``InvalidGenome`` says what is wrong with it."""
        example = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
        expect(isinstance(text, str) and text.startswith("|") and text.endswith("|"), f"a cell is written like {example}, got {text!r}")
        nodes = text[1:-1].split("|+|")
        expect(len(nodes) == 3, f"a cell string has 3 nodes separated by '|+|', like {example}")
        ops: list[int] = []
        for j, node in enumerate(nodes, start=1):
            edges = node.split("|")
            expect(len(edges) == j, f"node {j} must list {j} incoming edges, got {len(edges)} in {node!r}")
            for i, edge in enumerate(edges):
                name, sep, source = edge.partition("~")
                expect(bool(sep) and source == str(i), f"edge {edge!r} of node {j} must be written op~{i}")
                expect(name in NB201_OPS, f"unknown op {name!r}; ops are {', '.join(NB201_OPS)}")
                ops.append(NB201_OPS.index(name))
        return cls(tuple(ops))

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the benchmark's cell string."""
        return {"kind": self.kind, "cell": self.cell_string()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Nb201Genome:
        """Parse and validate the JSON form."""
        if not isinstance(data, dict) or data.get("kind") != cls.kind:
            raise InvalidGenome(f"not a {cls.kind} genome: expected kind {cls.kind!r}")
        genome = cls.from_cell_string(data.get("cell"))
        genome.validate()
        return genome

    def validate(self) -> None:
        """Six edges, each a known op."""
        # Messages are built only on failure: a controller validates every child it samples.
        if len(self.ops) != len(EDGES):
            raise InvalidGenome(f"a cell has {len(EDGES)} edges, got {len(self.ops)}")
        if not all(isinstance(o, int) and 0 <= o < len(NB201_OPS) for o in self.ops):
            raise InvalidGenome(f"edge ops must be indices into {NB201_OPS}")

    def canonical(self) -> tuple[int, ...]:
        """The cell with dead edges set to ``none``."""
        return tuple(op if live else NONE for op, live in zip(self.ops, live_edges(self.ops)))

    def fingerprint(self) -> str:
        """Equal for cells that differ only in dead edges."""
        return canonical_hash([self.kind, list(self.canonical())])

    def lower(self) -> int:
        """The packed row (what a benchmark lookup reads)."""
        return self.code

    def describe(self) -> str:
        """The cell string, and the edges that are dead."""
        dead = [f"{j}<-{i}" for (i, j), op, live in zip(EDGES, self.ops, live_edges(self.ops)) if op != NONE and not live]
        return self.cell_string() + (f"\ndead edges: {', '.join(dead)}" if dead else "")


@dataclass(frozen=True)
class Nb201Space(ChoiceRowSpace):
    """All NAS-Bench-201 cells over ``ops`` (all 5 by default)."""

    ops: tuple[str, ...] = NB201_OPS
    kind: ClassVar[str] = "nb201-cell"
    genome_type: ClassVar[type] = Nb201Genome
    vocabulary: ClassVar[tuple[str, ...]] = NB201_OPS

    def __post_init__(self) -> None:
        if len(self._check_ops()) < 2:
            raise ValueError(f"ops must be at least two names (a mutation changes an edge's op), got {list(self.ops)}")

    @property
    def rules(self) -> ChoiceRules:
        """The allowed rows as the kernels read them (made once per space)."""
        return _rules(self.ops)

    def mutation_texts(self) -> MutationTexts:
        """The mutation column's text of each change."""
        return _texts()

    # -- as a sequence of decisions (a controller samples them in order) ------------------------------------
    def decision_types(self) -> list[tuple[str, int]]:
        """Each edge's op, in cell-string order."""
        return [("op", len(self.ops))] * len(EDGES)

    def choices_allowed(self, prefix: list[int]) -> int:
        """Every edge may take any of the space's ops."""
        return len(self.ops)

    def to_choices(self, genome: Nb201Genome) -> list[int]:
        """The decisions that make ``genome``."""
        return [self.ops.index(NB201_OPS[o]) for o in genome.ops]

    def from_choices(self, choices: list[int]) -> Nb201Genome:
        """The cell a full sequence of decisions makes."""
        values = _op_values(self.ops)
        genome = Nb201Genome(tuple(values[c] for c in choices))
        genome.validate()
        return genome


def _mutation(position: int, old: int, new: int) -> Mutation:
    i, j = EDGES[position]
    return Mutation("edge", f"{j}<-{i}: {NB201_OPS[old]} -> {NB201_OPS[new]}")


@cache
def _texts() -> MutationTexts:
    return MutationTexts(LAYOUT, _mutation)


@cache
def _rules(ops: tuple[str, ...]) -> ChoiceRules:
    values = [NB201_OPS.index(o) for o in ops]
    return ChoiceRules.build(LAYOUT, [values] * len(EDGES))


@cache
def _op_values(ops: tuple[str, ...]) -> tuple[int, ...]:
    """A space's ops as indices into ``NB201_OPS`` (asked for every sampled child)."""
    return tuple(NB201_OPS.index(o) for o in ops)
