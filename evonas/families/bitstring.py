"""Bit strings scored by noisy OneMax: the engine's test and benchmark family, and the [RE] toy."""

from __future__ import annotations

from typing import Any

from evonas.genomes.bitstring import BitGenome, BitSpace
from evonas.tasks.toy import OneMax

from .common_exports import JSON
from .record import Family

PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {"population": 10, "sample": 3, "cycles": 100, "batch": 1, "checkpoint_every": 50, "task_options": {}},
    "cpu": {"population": 100, "sample": 10, "cycles": 1000, "batch": 1, "checkpoint_every": 1000, "task_options": {}},
    # The [RE-colab] toy: P=100, S=10, C=1000, noise 0.01 on 100 bits.
    "paper": {"population": 100, "sample": 10, "cycles": 1000, "batch": 1, "checkpoint_every": 1000, "task_options": {"noise": 0.01}},
}

FAMILY = Family(
    kind=BitGenome.kind, genome=BitGenome, space=BitSpace, default_task="onemax", tasks={"onemax": (OneMax, {})},
    presets=PRESETS, exports=(JSON,),
)
