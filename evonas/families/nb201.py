"""NAS-Bench-201 cells, scored by AnalogNAS-Bench's table (``evonas.tables.analog_nasbench``)."""

from __future__ import annotations

from typing import Any

from evonas.genomes.nb201 import Nb201Genome, Nb201Space
from evonas.tasks.tabular import Nb201Analog

from .common_exports import JSON
from .record import Family

PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {"population": 10, "sample": 3, "cycles": 200, "batch": 1, "checkpoint_every": 100, "task_options": {}},
    "cpu": {"population": 10, "sample": 3, "cycles": 1000, "batch": 1, "checkpoint_every": 100_000, "task_options": {}},
    # NAS-Bench-201's REA (scripts-search/algos/R-EA.sh, NATS-Bench's 200 cycles): P=10, S=3.
    "paper": {"population": 10, "sample": 3, "cycles": 200, "batch": 1, "checkpoint_every": 100_000, "task_options": {}},
}

FAMILY = Family(
    kind=Nb201Genome.kind, genome=Nb201Genome, space=Nb201Space, default_task="nb201-analog",
    tasks={"nb201-analog": (Nb201Analog, {})}, presets=PRESETS, lineage="compact", exports=(JSON,),
)
