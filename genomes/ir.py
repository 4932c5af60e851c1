"""Intermediate representations that genomes lower to and kernels consume.

Only plain data lives here, so that ``kernels/`` can import it without importing any genome class.
"""

from __future__ import annotations

from dataclasses import dataclass


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
