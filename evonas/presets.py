"""Named settings per genome kind: ``smoke`` (seconds), ``cpu`` (the default, ~10 minutes on 2 cores), ``paper``."""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "amoeba": {
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
    },
    "bitstring": {
        "smoke": {"population": 10, "sample": 3, "cycles": 100, "batch": 1, "checkpoint_every": 50, "task_options": {}},
        "cpu": {"population": 100, "sample": 10, "cycles": 1000, "batch": 1, "checkpoint_every": 1000, "task_options": {}},
        # The [RE-colab] toy: P=100, S=10, C=1000, noise 0.01 on 100 bits.
        "paper": {"population": 100, "sample": 10, "cycles": 1000, "batch": 1, "checkpoint_every": 1000, "task_options": {"noise": 0.01}},
    },
}
