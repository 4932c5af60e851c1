"""AmoebaNet cells (Real et al. 2019): the family record."""

from __future__ import annotations

from typing import Any

from evonas.genomes.amoeba import AmoebaGenome, AmoebaSpace
from evonas.tasks.images import IMAGE_TASKS

from .common_exports import TORCH
from .record import Family

PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {
        "population": 4, "sample": 2, "cycles": 8, "batch": 2, "checkpoint_every": 1,
        "task_options": {"filters": 4, "cells_per_stack": 1, "stacks": 2, "train_images": 128, "batch_size": 32, "val_images": 200},
    },
    "cpu": {
        "population": 20, "sample": 5, "cycles": 120, "batch": 4, "checkpoint_every": 1,
        "task_options": {"filters": 8, "cells_per_stack": 1, "stacks": 2, "train_images": 2048, "batch_size": 64},
    },
    # [RE] §3.1: P=100, S=25, N=3, F=24, 25 epochs, 20,000 models.
    "paper": {
        "population": 100, "sample": 25, "cycles": 20000, "batch": 4, "checkpoint_every": 1,
        "task_options": {"filters": 24, "cells_per_stack": 3, "stacks": 3, "epochs": 25.0, "batch_size": 64},
    },
}

FAMILY = Family(
    kind=AmoebaGenome.kind, genome=AmoebaGenome, space=AmoebaSpace, default_task="fashion-mnist", tasks=IMAGE_TASKS,
    presets=PRESETS, exports=(TORCH,),
)
