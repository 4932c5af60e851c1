"""Hierarchical motifs (Liu et al. 2018, [HIER]): level-l motifs are DAGs whose edges apply level-(l-1) motifs.

Level 1 holds the primitives. A level-l motif (l >= 2) on n nodes is the strict upper triangle of a label
matrix, stored row by row: entry (j, i), j < i, is 0 for "no edge" or k >= 1 for "apply the k-th motif of
level l - 1" (the k-th primitive at level 2). Node 0 is the source, node n - 1 the sink; a node's incoming
results are concatenated channel-wise. The top level has one motif: the cell.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from .base import Diagram, InvalidGenome, Mutation, canonical_hash, expect
from .ir import MotifGraph, MotifIR

PRIMITIVES: tuple[str, ...] = ("conv_1x1", "dw_conv_3x3", "sep_conv_3x3", "max_pool_3x3", "avg_pool_3x3", "identity")
IDENTITY = PRIMITIVES.index("identity") + 1  # label of the identity primitive


def edge_index(j: int, i: int, nodes: int) -> int:
    """Position of edge j -> i (j < i) in a motif's row-major strict upper triangle."""
    return j * (2 * nodes - j - 1) // 2 + (i - j - 1)


def edges_of(nodes: int) -> list[tuple[int, int]]:
    """Every candidate edge (j, i), j < i, in storage order."""
    return [(j, i) for j in range(nodes) for i in range(j + 1, nodes)]


def active_edges(labels: tuple[int, ...], nodes: int) -> list[tuple[int, int, int]]:
    """Edges (j, i, label) that leave a node reachable from the source (edges out of unreachable nodes are ignored)."""
    reached = [False] * nodes
    reached[0] = True
    out = []
    for j, i in edges_of(nodes):  # row-major order visits every edge out of j after all edges into j
        label = labels[edge_index(j, i, nodes)]
        if label and reached[j]:
            reached[i] = True
            out.append((j, i, label))
    return out


def connected(labels: tuple[int, ...], nodes: int) -> bool:
    """True when the sink is reachable from the source."""
    return any(i == nodes - 1 for _, i, _ in active_edges(labels, nodes))


@dataclass(frozen=True)
class MotifGenome:
    """A hierarchical genotype: ``levels[k]`` holds the motifs of level k + 2, each a tuple of edge labels."""

    primitives: tuple[str, ...]
    nodes: tuple[int, ...]  # nodes per motif at levels 2..L
    levels: tuple[tuple[tuple[int, ...], ...], ...]
    kind: ClassVar[str] = "motifs"

    def to_dict(self) -> dict[str, Any]:
        """JSON form: primitives, nodes per level, and per level a list of label lists."""
        return {"kind": self.kind, "primitives": list(self.primitives), "nodes": list(self.nodes),
                "levels": [[list(m) for m in level] for level in self.levels]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MotifGenome:
        """Parse and validate the JSON form."""
        if not isinstance(data, dict) or data.get("kind") != cls.kind:
            raise InvalidGenome("not a motifs genome: expected kind 'motifs'")
        try:
            levels = data["levels"]
            expect(isinstance(levels, list) and all(isinstance(level, list) for level in levels), "levels must be a list of lists of motifs")
            expect(all(isinstance(m, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in m) for level in levels for m in level),
                   "each motif is a list of integer labels")
            genome = cls(tuple(str(p) for p in data["primitives"]), tuple(int(n) for n in data["nodes"]),
                         tuple(tuple(tuple(m) for m in level) for level in levels))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InvalidGenome):
                raise
            raise InvalidGenome(f"malformed motifs genome: {exc!r}") from None
        genome.validate()
        return genome

    def alphabet(self, level_index: int) -> int:
        """How many motifs level ``level_index + 2`` can apply on an edge (labels 1..alphabet)."""
        return len(self.primitives) if level_index == 0 else len(self.levels[level_index - 1])

    def validate(self) -> None:
        """Check sizes and label ranges, and that the cell and every motif it uses connect source to sink."""
        expect(len(self.primitives) >= 1 and len(set(self.primitives)) == len(self.primitives), "primitives must be distinct and non-empty")
        expect(all(p in PRIMITIVES for p in self.primitives), f"unknown primitive; known: {', '.join(PRIMITIVES)}")
        expect(len(self.levels) >= 1 and len(self.nodes) == len(self.levels), "one node count per level above the primitives")
        expect(len(self.levels[-1]) == 1, "the top level holds exactly one motif (the cell)")
        for k, (level, n) in enumerate(zip(self.levels, self.nodes)):
            expect(n >= 2, "a motif needs at least 2 nodes")
            expect(len(level) >= 1, f"level {k + 2} has no motif")
            size = n * (n - 1) // 2
            for m, labels in enumerate(level):
                expect(len(labels) == size, f"level-{k + 2} motif {m + 1} needs {size} labels, has {len(labels)}")
                expect(all(0 <= v <= self.alphabet(k) for v in labels), f"level-{k + 2} motif {m + 1} has a label outside 0..{self.alphabet(k)}")
        for k, m in self.used_motifs():
            expect(connected(self.levels[k][m], self.nodes[k]), f"level-{k + 2} motif {m + 1} is used but its output is unreachable from its input")

    def used_motifs(self) -> list[tuple[int, int]]:
        """(level index, motif index) of the cell and of every motif reachable from it through active edges."""
        top = len(self.levels) - 1
        seen = {(top, 0)}
        stack = [(top, 0)]
        while stack:
            k, m = stack.pop()
            if k == 0:
                continue
            for _, _, label in active_edges(self.levels[k][m], self.nodes[k]):
                key = (k - 1, label - 1)
                if key not in seen:
                    seen.add(key)
                    stack.append(key)
        return sorted(seen)

    def _phenotype(self, k: int, m: int) -> Any:
        edges = active_edges(self.levels[k][m], self.nodes[k])
        if k == 0:
            return [[j, i, self.primitives[label - 1]] for j, i, label in edges]
        return [[j, i, self._phenotype(k - 1, label - 1)] for j, i, label in edges]

    def fingerprint(self) -> str:
        """Hash of the phenotype: the cell with each used motif expanded; dormant motifs and dead edges do not count."""
        return canonical_hash(self._phenotype(len(self.levels) - 1, 0))

    def lower(self) -> MotifIR:
        """The used motifs as graphs of active edges (the module builder instantiates them recursively)."""
        graphs = tuple(
            tuple(MotifGraph(n, tuple(active_edges(labels, n)), connected(labels, n)) for labels in level)
            for level, n in zip(self.levels, self.nodes)
        )
        return MotifIR(self.primitives, graphs)

    def diagrams(self) -> list[Diagram]:
        """Every used motif as a graph of its active edges, the cell first."""
        out = []
        for k, m in reversed(self.used_motifs()):
            name = "cell" if k == len(self.levels) - 1 else f"level-{k + 2} motif {m + 1}"
            below = (lambda label: self.primitives[label - 1]) if k == 0 else (lambda label, k=k: f"motif {k + 1}.{label}")
            nodes = tuple(str(i) for i in range(self.nodes[k]))
            out.append(Diagram(name, nodes, tuple((j, i, below(label)) for j, i, label in active_edges(self.levels[k][m], self.nodes[k]))))
        return out

    def describe(self) -> str:
        """The used motifs, level by level, as edge lists."""
        lines = []
        for k, m in reversed(self.used_motifs()):
            name = "cell" if k == len(self.levels) - 1 else f"level-{k + 2} motif {m + 1}"
            below = (lambda label: self.primitives[label - 1]) if k == 0 else (lambda label, k=k: f"motif{k + 1}.{label}")
            edges = ", ".join(f"{j}->{i}: {below(label)}" for j, i, label in active_edges(self.levels[k][m], self.nodes[k]))
            lines.append(f"{name}: {edges}")
        return "\n".join(lines)


@dataclass(frozen=True)
class MotifSpace:
    """[HIER]'s space: six primitives, six 4-node level-2 motifs, one 5-node cell; mutation of one edge label."""

    primitives: tuple[str, ...] = PRIMITIVES
    motifs_per_level: tuple[int, ...] = (6, 1)  # levels 2..L; the last must be 1
    nodes_per_level: tuple[int, ...] = (4, 5)
    init_mutations: int = 1000
    disconnected: str = "reject"  # or "allow": a disconnected motif outputs zeros
    allow_same: bool = False
    max_redraws: int = 1000
    kind: ClassVar[str] = "motifs"

    def __post_init__(self) -> None:
        object.__setattr__(self, "primitives", tuple(self.primitives))
        object.__setattr__(self, "motifs_per_level", tuple(int(m) for m in self.motifs_per_level))
        object.__setattr__(self, "nodes_per_level", tuple(int(n) for n in self.nodes_per_level))
        if len(self.motifs_per_level) != len(self.nodes_per_level) or not self.motifs_per_level or self.motifs_per_level[-1] != 1:
            raise ValueError("motifs_per_level and nodes_per_level need one entry per level 2..L, and the top level one motif")
        if any(m < 1 for m in self.motifs_per_level) or any(n < 2 for n in self.nodes_per_level):
            raise ValueError("every level needs at least one motif of at least 2 nodes")
        if not self.primitives or any(p not in PRIMITIVES for p in self.primitives) or "identity" not in self.primitives:
            raise ValueError(f"primitives are a subset of {', '.join(PRIMITIVES)} that includes identity")
        if self.disconnected not in ("reject", "allow") or self.init_mutations < 0 or self.max_redraws < 1:
            raise ValueError("disconnected is 'reject' or 'allow'; init_mutations >= 0; max_redraws >= 1")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe config."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MotifSpace:
        """Inverse of ``to_dict``."""
        return cls(**data)

    def genome_from_dict(self, data: dict[str, Any]) -> MotifGenome:
        """Parse a genome and check it has this space's shape."""
        genome = MotifGenome.from_dict(data)
        expect(genome.primitives == self.primitives and genome.nodes == self.nodes_per_level
               and tuple(len(level) for level in genome.levels) == self.motifs_per_level, "genome shape differs from the space's")
        return genome

    def trivial(self) -> MotifGenome:
        """Every motif a chain of identities (level 2) or of motif 1 of the level below ([HIER] initialisation)."""
        identity = self.primitives.index("identity") + 1
        levels = []
        for k, (count, n) in enumerate(zip(self.motifs_per_level, self.nodes_per_level)):
            labels = [0] * (n * (n - 1) // 2)
            for node in range(n - 1):
                labels[edge_index(node, node + 1, n)] = identity if k == 0 else 1
            levels.append(tuple(tuple(labels) for _ in range(count)))
        return MotifGenome(self.primitives, self.nodes_per_level, tuple(levels))

    def initial(self, rng: np.random.Generator) -> MotifGenome:
        """The trivial genotype diversified by ``init_mutations`` random mutations."""
        genome = self.trivial()
        for _ in range(self.init_mutations):
            genome, _ = self.mutate(genome, rng)
        return genome

    def random(self, rng: np.random.Generator) -> MotifGenome:
        """Random search's sampler: the initialisation procedure."""
        return self.initial(rng)

    # -- as a sequence of decisions (a controller samples them in order) ------------------------------------
    def _edges(self) -> list[tuple[int, int, int]]:
        """(level index, motif, edge position) of every label, level by level, motif by motif, in storage order."""
        out = []
        for k, (count, n) in enumerate(zip(self.motifs_per_level, self.nodes_per_level)):
            for m in range(count):
                out += [(k, m, edge_index(j, i, n)) for j, i in edges_of(n)]
        return out

    def _is_chain(self, k: int, position: int) -> bool:
        n = self.nodes_per_level[k]
        return any(edge_index(node, node + 1, n) == position for node in range(n - 1))

    def decision_types(self) -> list[tuple[str, int]]:
        """Every edge label of every motif; the chain edges j -> j+1 take a motif (never none), so every sequence of
        decisions is connected (the choice space is the part of [HIER]'s space with the chain present)."""
        return [(f"level {k + 2}", self._alphabet(k) + (0 if self._is_chain(k, p) else 1)) for k, _, p in self._edges()]

    def choices_allowed(self, prefix: list[int]) -> int:
        """The next label's count: the alphabet, plus 'none' off the chain."""
        return self.decision_types()[len(prefix)][1]

    def to_choices(self, genome: MotifGenome) -> list[int]:
        """The decisions that make ``genome``; a ValueError for a genome with a chain edge absent (outside the choice space)."""
        out = []
        for k, m, p in self._edges():
            label = genome.levels[k][m][p]
            if self._is_chain(k, p):
                if label == 0:
                    raise ValueError("this genome lacks a chain edge j -> j+1, which the choice space always has")
                label -= 1
            out.append(label)
        return out

    def from_choices(self, choices: list[int]) -> MotifGenome:
        """The genome a full sequence of decisions makes."""
        levels = [[[0] * (n * (n - 1) // 2) for _ in range(count)] for count, n in zip(self.motifs_per_level, self.nodes_per_level)]
        for (k, m, p), choice in zip(self._edges(), choices):
            levels[k][m][p] = int(choice) + (1 if self._is_chain(k, p) else 0)
        genome = MotifGenome(self.primitives, self.nodes_per_level, tuple(tuple(tuple(m) for m in level) for level in levels))
        genome.validate()
        return genome

    def _alphabet(self, k: int) -> int:
        return len(self.primitives) if k == 0 else self.motifs_per_level[k - 1]

    def mutate(self, genome: MotifGenome, rng: np.random.Generator) -> tuple[MotifGenome, Mutation]:  # type: ignore[override]
        """[HIER]: a level, a motif, a successor i, a predecessor j < i, a new label (0 = none included);
        with ``disconnected='reject'`` redrawn until every used motif stays connected."""
        for redraw in range(self.max_redraws):
            k = int(rng.integers(len(genome.levels)))
            m = int(rng.integers(len(genome.levels[k])))
            n = genome.nodes[k]
            i = int(rng.integers(1, n))
            j = int(rng.integers(0, i))
            position = edge_index(j, i, n)
            old = genome.levels[k][m][position]
            alphabet = self._alphabet(k)
            if self.allow_same:
                new = int(rng.integers(0, alphabet + 1))
            else:
                new = int(rng.integers(0, alphabet))
                new += new >= old  # uniform over the other labels
            labels = list(genome.levels[k][m])
            labels[position] = new
            level = list(genome.levels[k])
            level[m] = tuple(labels)
            levels = list(genome.levels)
            levels[k] = tuple(level)
            child = MotifGenome(genome.primitives, genome.nodes, tuple(levels))
            if self.disconnected == "allow" or all(connected(child.levels[a][b], child.nodes[a]) for a, b in child.used_motifs()):
                return child, Mutation("motif_edge", f"level {k + 2} motif {m + 1} edge {j}->{i}: {old}->{new}, redraws {redraw}")
        raise RuntimeError(f"no connected mutation found in {self.max_redraws} draws")
