"""Hierarchical motifs (Liu et al. 2017): the family record."""

from __future__ import annotations

from typing import Any

from evonas.genomes.motifs import MotifGenome, MotifSpace
from evonas.tasks.images import IMAGE_TASKS

from .amoeba import PRESETS as AMOEBA_PRESETS
from .common_exports import TORCH
from .record import Family

# Hierarchical motifs ([HIER] §3.1 network: stem, N cells per stage, 3 stages; ../shared/specs/hierarchical.md).
# smoke and cpu are amoeba's budgets on [HIER]'s three-stage network.
PRESETS: dict[str, dict[str, Any]] = {
    **{name: {**AMOEBA_PRESETS[name], "task_options": {**AMOEBA_PRESETS[name]["task_options"], "stacks": 3}} for name in ("smoke", "cpu")},
    # [HIER]: 200 initial genotypes, 7,000 evolution steps, c0 = 16, N = 1, 5,000 steps of batch 256.
    "paper": {
        "population": 200, "sample": 10, "cycles": 7200, "batch": 4, "checkpoint_every": 1,
        "task_options": {"filters": 16, "cells_per_stack": 1, "stacks": 3, "train_images": 5000 * 256, "batch_size": 256},
    },
}

FAMILY = Family(
    kind=MotifGenome.kind, genome=MotifGenome, space=MotifSpace, default_task="fashion-mnist", tasks=IMAGE_TASKS,
    presets=PRESETS, default_strategy="tournament", exports=(TORCH,),
)
