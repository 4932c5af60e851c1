"""The NAS-Bench-Graph macro space (Qin et al., NeurIPS 2022): GNNs of four computing nodes.

Node i (1..4) reads one earlier result, chosen for all four at once by one of 9 link patterns (0 is the input
features, j > 0 node j's output), and applies one of 9 operations. A genome is that link pattern and the four
ops. Many genomes compute the same network (a skip node, nodes in another order); the benchmark keys its
table by a canonical hash of each class, and so does ``fingerprint``: two genomes share a fingerprint exactly
when the benchmark treats them as one architecture. The hash of every genome is shipped as data
(``evonas/data/graph_macro_classes.npz``, made from the benchmark's own function and checked against it by
the tests), so genomes need not import the benchmark package.

A mutation changes one op or the link pattern, uniformly, to another allowed value; the all-skip network is
not in the benchmark and is never made.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, ClassVar

import numpy as np

from .base import InvalidGenome, Mutation, canonical_hash, expect
from .choices import ChoiceLayout, ChoiceRowSpace, ChoiceRules, MutationTexts

#: The benchmark's operations, in its order (the canonical hash counts in it).
GRAPH_OPS: tuple[str, ...] = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
#: The benchmark's 9 link patterns: the input of nodes 1-4 (0: the input features, j: node j).
LINKS: tuple[tuple[int, int, int, int], ...] = (
    (0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 1), (0, 0, 1, 2), (0, 0, 1, 3), (0, 1, 1, 1), (0, 1, 1, 2), (0, 1, 2, 2), (0, 1, 2, 3),
)
SKIP = GRAPH_OPS.index("skip")
LAYOUT = ChoiceLayout(("link", "node 1", "node 2", "node 3", "node 4"), (len(LINKS),) + (len(GRAPH_OPS),) * 4)


@cache
def benchmark_classes() -> np.ndarray:
    """The benchmark's canonical hash of every code (-1 for the all-skip rows it leaves out)."""
    with resources.files("evonas.data").joinpath("graph_macro_classes.npz").open("rb") as f:
        return np.load(f)["classes"]  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class GraphMacroGenome:
    """A link pattern (index into ``LINKS``) and the four nodes' ops (indices into ``GRAPH_OPS``)."""

    link: int
    ops: tuple[int, int, int, int]
    kind: ClassVar[str] = "graph-macro"

    @property
    def code(self) -> int:
        """The packed row (``LAYOUT``): the key the benchmark tables and the compiled loop use."""
        return LAYOUT.encode((self.link, *self.ops))

    @classmethod
    def from_code(cls, code: int) -> GraphMacroGenome:
        """The genome of a packed row."""
        link, *ops = LAYOUT.decode(int(code))
        return cls(link, tuple(ops))  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the link pattern as the four nodes' inputs, and the op names, as the benchmark writes them."""
        return {"kind": self.kind, "link": list(LINKS[self.link]), "ops": [GRAPH_OPS[o] for o in self.ops]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraphMacroGenome:
        """Parse and validate the JSON form; ``InvalidGenome`` names what is wrong."""
        if not isinstance(data, dict) or data.get("kind") != cls.kind:
            raise InvalidGenome(f"not a {cls.kind} genome: expected kind {cls.kind!r}")
        link, ops = data.get("link"), data.get("ops")
        expect(isinstance(link, list) and tuple(link) in LINKS, f"link must be one of the 9 patterns {[list(p) for p in LINKS]}, got {link!r}")
        expect(isinstance(ops, list) and len(ops) == 4, f"ops must list 4 op names, got {ops!r}")
        unknown = [o for o in ops if o not in GRAPH_OPS]  # type: ignore[union-attr]
        expect(not unknown, f"unknown op {unknown[0]!r}; ops are {', '.join(GRAPH_OPS)}" if unknown else "")
        genome = cls(LINKS.index(tuple(link)), tuple(GRAPH_OPS.index(o) for o in ops))  # type: ignore[arg-type]
        genome.validate()
        return genome

    def validate(self) -> None:
        """A known link pattern, four known ops, not all of them skip (the benchmark has no such network)."""
        # Messages are built only on failure: a controller validates every child it samples.
        if not 0 <= self.link < len(LINKS):
            raise InvalidGenome(f"link pattern index {self.link} is not in 0..{len(LINKS) - 1}")
        if len(self.ops) != 4 or not all(0 <= o < len(GRAPH_OPS) for o in self.ops):
            raise InvalidGenome(f"ops must be 4 indices into {GRAPH_OPS}")
        expect(any(o != SKIP for o in self.ops), "all four ops are skip: that network computes nothing and is not in the benchmark")

    def canonical(self) -> int:
        """The benchmark's hash of this genome's class (its table key)."""
        return int(benchmark_classes()[self.code])

    def fingerprint(self) -> str:
        """Equal exactly for the genomes the benchmark treats as one architecture."""
        return canonical_hash([self.kind, self.canonical()])

    def lower(self) -> int:
        """The packed row (what a benchmark lookup reads)."""
        return self.code

    def describe(self) -> str:
        """Each node's op and input, one per line."""
        link = LINKS[self.link]
        lines = [f"node {i + 1}: {GRAPH_OPS[op]}({'x' if src == 0 else f'node {src}'})" for i, (op, src) in enumerate(zip(self.ops, link))]
        return "\n".join(lines)


@dataclass(frozen=True)
class GraphMacroSpace(ChoiceRowSpace):
    """NAS-Bench-Graph genomes over ``ops`` (all 9 by default; the ``proteins`` table has 5)."""

    ops: tuple[str, ...] = GRAPH_OPS
    kind: ClassVar[str] = "graph-macro"
    genome_type: ClassVar[type] = GraphMacroGenome
    vocabulary: ClassVar[tuple[str, ...]] = GRAPH_OPS

    def __post_init__(self) -> None:
        if not set(self._check_ops()) - {"skip"}:
            raise ValueError(f"ops must include one besides skip (all-skip networks compute nothing), got {list(self.ops)}")

    @property
    def rules(self) -> ChoiceRules:
        """The allowed rows as the kernels read them (made once per space)."""
        return _rules(self.ops)

    def mutation_texts(self) -> MutationTexts:
        """The mutation column's text of each change."""
        return _texts()

    # -- as a sequence of decisions (a controller samples them in order) ------------------------------------
    def decision_types(self) -> list[tuple[str, int]]:
        """The link pattern, then each node's op."""
        return [("link", len(LINKS))] + [("op", len(self.ops))] * 4

    def _op_values(self, prefix: list[int]) -> list[int]:
        """The op indices (into ``GRAPH_OPS``) the next op decision may take: not skip after three skips."""
        values, without_skip = _op_indices(self.ops)
        if len(prefix) == 4 and prefix[1] == prefix[2] == prefix[3] and values[prefix[1]] == SKIP:
            return without_skip
        return values

    def choices_allowed(self, prefix: list[int]) -> int:
        """How many values the next decision may take after ``prefix``."""
        return len(LINKS) if not prefix else len(self._op_values(prefix))

    def to_choices(self, genome: GraphMacroGenome) -> list[int]:
        """The decisions that make ``genome``."""
        choices = [genome.link]
        for op in genome.ops:
            choices.append(self._op_values(choices).index(op))
        return choices

    def from_choices(self, choices: list[int]) -> GraphMacroGenome:
        """The genome a full sequence of decisions makes."""
        values = _op_indices(self.ops)[0]
        ops = [values[c] for c in choices[1:4]]
        ops.append(self._op_values(list(choices[:4]))[choices[4]])
        genome = GraphMacroGenome(int(choices[0]), tuple(ops))  # type: ignore[arg-type]
        genome.validate()
        return genome


def _mutation(position: int, old: int, new: int) -> Mutation:
    if position == 0:
        return Mutation("link", f"{list(LINKS[old])} -> {list(LINKS[new])}")
    return Mutation("op", f"node {position}: {GRAPH_OPS[old]} -> {GRAPH_OPS[new]}")


@cache
def _texts() -> MutationTexts:
    return MutationTexts(LAYOUT, _mutation)


@cache
@cache  # asked once per decision of every sampled child
def _op_indices(ops: tuple[str, ...]) -> tuple[list[int], list[int]]:
    """A space's ops as indices into ``GRAPH_OPS``, with and without skip."""
    values = [GRAPH_OPS.index(o) for o in ops]
    return values, [v for v in values if v != SKIP]


@cache
def _rules(ops: tuple[str, ...]) -> ChoiceRules:
    op_values = [GRAPH_OPS.index(o) for o in ops]

    def all_skip(rows: np.ndarray) -> np.ndarray:
        return (rows[:, 1:] == SKIP).all(axis=1)  # type: ignore[no-any-return]

    return ChoiceRules.build(LAYOUT, [list(range(len(LINKS)))] + [op_values] * 4, all_skip)
