"""NAS-Bench-Graph's macro space of GNNs, scored by the benchmark's table (``evonas.tables.nas_bench_graph``)."""

from __future__ import annotations

from typing import Any

from evonas.genomes.graph_macro import GraphMacroGenome, GraphMacroSpace
from evonas.tasks.tabular import NasBenchGraph

from .common_exports import JSON
from .record import Family

PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {"population": 20, "sample": 5, "cycles": 200, "batch": 1, "checkpoint_every": 100, "task_options": {}},
    # P=20, S=5: the setting of the project's measurement on cora (../shared/specs/amoeba.md 4.3).
    "cpu": {"population": 20, "sample": 5, "cycles": 1000, "batch": 1, "checkpoint_every": 100_000, "task_options": {}},
    "paper": {"population": 20, "sample": 5, "cycles": 200, "batch": 1, "checkpoint_every": 100_000, "task_options": {}},
}

FAMILY = Family(
    kind=GraphMacroGenome.kind, genome=GraphMacroGenome, space=GraphMacroSpace, default_task="nasbench-graph",
    tasks={"nasbench-graph": (NasBenchGraph, {})}, presets=PRESETS, lineage="compact", exports=(JSON,),
)
