"""Intermediate representations that genomes lower to and kernels consume.

Only plain data lives here, so that ``kernels/`` can import it without importing any genome class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Edge:
    """One operation applied to an earlier node of a cell."""

    source: int
    op: str


@dataclass(frozen=True, slots=True)
class Node:
    """A computed node of a cell: its incoming edges combined by ``merge`` ("add" or "concat")."""

    edges: tuple[Edge, ...]
    merge: str = "add"


@dataclass(frozen=True, slots=True)
class CellIR:
    """An edge-labelled DAG: nodes ``0..n_inputs-1`` are the cell inputs, ``nodes[k]`` is node ``n_inputs + k``.

    ``outputs`` lists the node ids concatenated channel-wise to form the cell output.
    """

    n_inputs: int
    nodes: tuple[Node, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NetIR:
    """A NASNet-style network body: a normal and a reduction cell genotype.

    Macro settings (cells per stack, filters, number of stacks) belong to the task that trains the net,
    so the same genome can be trained at proxy and at final scale.
    """

    normal: CellIR
    reduction: CellIR


@dataclass(frozen=True, slots=True)
class Macro:
    """How a NetIR is stacked into a network: ``stacks`` stacks of ``cells_per_stack`` normal cells,
    a reduction cell between consecutive stacks, ``filters`` in the first stack, doubled at each reduction."""

    cells_per_stack: int = 1
    stacks: int = 2
    filters: int = 8
    stem_multiplier: int = 3
    in_channels: int = 1
    num_classes: int = 10
    bottleneck_1x7: bool = True


@dataclass(frozen=True, eq=False)
class ActivationIR:
    """A NEAT network as straight-line code over dense node indices (inputs first, then outputs, then hidden).

    Node ``order[k]`` becomes ``sigmoid(4.9 * sum(weight[j] * value[source[j]] for j in start[k]..start[k+1]-1))``,
    updated in place in that order. ``activated`` is False when some output cannot be reached from any input.
    """

    n_nodes: int
    n_inputs: int
    n_outputs: int
    order: Any
    start: Any
    source: Any
    weight: Any
    activated: bool
    node_ids: tuple[int, ...]

    def evaluation_order_ids(self) -> list[int]:
        """The original node ids in evaluation order."""
        return [self.node_ids[int(i)] for i in self.order]


@dataclass(frozen=True, eq=False)
class NeatPopulationIR:
    """A population of NEAT genomes as flat arrays, the input of the compiled lowering and speciation kernels.

    Genome ``g`` owns connection genes ``conn_offset[g]:conn_offset[g+1]`` (sorted by innovation; node ids as in
    the genome) and hidden node ids ``hidden_offset[g]:hidden_offset[g+1]`` (increasing).
    """

    n_inputs: int  # bias included
    n_outputs: int
    conn_offset: Any
    innovation: Any
    source: Any
    target: Any
    weight: Any
    enabled: Any
    hidden_offset: Any
    hidden: Any


@dataclass(frozen=True)
class MotifGraph:
    """One motif as its active edges ``(j, i, label)``; ``connected`` is False when the sink gets no input."""

    nodes: int
    edges: tuple[tuple[int, int, int], ...]
    connected: bool


@dataclass(frozen=True)
class MotifIR:
    """A hierarchical genotype lowered for the module builder: ``levels[k][m]`` is motif m + 1 of level k + 2;
    an edge label at level 2 names ``primitives[label - 1]``, above it motif ``label`` of the level below."""

    primitives: tuple[str, ...]
    levels: tuple[tuple[MotifGraph, ...], ...]


# What NEAT's compiled variation did to a child (bits of its code); the names, in this order, make the lineage's
# mutation text ("weights+add_node", "crossover+weights", "elite", "clone").
WEIGHTS, ADD_NODE, ADD_CONNECTION, TOGGLE_ENABLE, REENABLE, CROSSOVER, ELITE = 1, 2, 4, 8, 16, 32, 64
MUTATION_NAMES = ("weights", "add_node", "add_connection", "toggle_enable", "reenable")
