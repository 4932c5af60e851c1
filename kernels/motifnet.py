"""Hierarchical-motif networks ([HIER]): MotifIR -> nn.Module, with depthwise-concatenation merges.

Channel rules (../shared/specs/hierarchical.md §1.4): ``conv_1x1`` and ``sep_conv_3x3`` output the stage's
C channels, the other primitives keep their input's count, a node concatenates its inputs, and every motif
above level 1 ends in a 1x1 conv -> BN -> ReLU back to its input's channel count, so motifs map c -> c.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from evonas.genomes.ir import Macro, MotifIR


def conv_bn_relu(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """Conv -> BN -> ReLU with 'same' padding."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=False)
    )


def separable(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """Depthwise 3x3 (optionally strided) -> pointwise 1x1 -> BN -> ReLU (one layer, as the spec decides)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False), nn.Conv2d(c_in, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out), nn.ReLU(inplace=False),
    )


def make_primitive(name: str, c_in: int, c_stage: int) -> tuple[nn.Module, int]:
    """A level-1 primitive and its output channel count (stride 1, spatial size kept)."""
    if name == "conv_1x1":
        return conv_bn_relu(c_in, c_stage, 1), c_stage
    if name == "dw_conv_3x3":
        return conv_bn_relu(c_in, c_in, 3, groups=c_in), c_in
    if name == "sep_conv_3x3":
        return separable(c_in, c_stage), c_stage
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, 1, 1), c_in
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, 1, 1, count_include_pad=False), c_in
    if name == "identity":
        return nn.Identity(), c_in
    raise ValueError(f"unknown primitive {name!r}")


class MotifModule(nn.Module):
    """One instance of motif ``m`` of level index ``k`` (its own weights), mapping c_in -> c_in channels."""

    def __init__(self, ir: MotifIR, k: int, m: int, c_in: int, c_stage: int) -> None:
        super().__init__()
        graph = ir.levels[k][m]
        self.nodes = graph.nodes
        self.connected = graph.connected
        self.c_in = c_in
        channels = [c_in] + [0] * (graph.nodes - 1)
        ops: list[nn.Module] = []
        self.edges: list[tuple[int, int]] = []
        for j, i, label in graph.edges:  # row-major: every edge into j comes before any edge out of j
            if k == 0:
                op, c_out = make_primitive(ir.primitives[label - 1], channels[j], c_stage)
            else:
                op, c_out = MotifModule(ir, k - 1, label - 1, channels[j], c_stage), channels[j]
            ops.append(op)
            self.edges.append((j, i))
            channels[i] += c_out
        self.ops = nn.ModuleList(ops)
        self.sink_channels = channels[-1]
        self.project = conv_bn_relu(self.sink_channels, c_in, 1) if self.connected else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.project is None:  # a disconnected motif (disconnected='allow') outputs zeros of the right shape
            return torch.zeros_like(x)
        parts: list[list[torch.Tensor]] = [[] for _ in range(self.nodes)]
        values: list[torch.Tensor | None] = [x] + [None] * (self.nodes - 1)
        current = 0
        for (j, i), op in zip(self.edges, self.ops):
            while current < j:  # finish every node up to j before its outgoing edges run
                current += 1
                if parts[current]:
                    values[current] = parts[current][0] if len(parts[current]) == 1 else torch.cat(parts[current], dim=1)
            parts[i].append(op(values[j]))
        sink = parts[-1]
        return self.project(sink[0] if len(sink) == 1 else torch.cat(sink, dim=1))


class HierarchicalNet(nn.Module):
    """[HIER]'s small network: 3x3 conv stem (c0) -> per stage N cells, a strided separable conv doubling the
    channels between stages, a separable conv after the last -> global average pool -> linear."""

    def __init__(self, ir: MotifIR, macro: Macro) -> None:
        super().__init__()
        if macro.cells_per_stack < 1 or macro.stacks < 1 or macro.filters < 1:
            raise ValueError("macro needs cells_per_stack >= 1, stacks >= 1 and filters >= 1")
        c = macro.filters
        layers: list[nn.Module] = [conv_bn_relu(macro.in_channels, c, 3)]
        top = len(ir.levels) - 1
        for stage in range(macro.stacks):
            layers += [MotifModule(ir, top, 0, c, c) for _ in range(macro.cells_per_stack)]
            if stage < macro.stacks - 1:
                layers.append(separable(c, 2 * c, stride=2))
                c *= 2
            else:
                layers.append(separable(c, c))
        self.body = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, macro.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.body(x), 1), 1))
