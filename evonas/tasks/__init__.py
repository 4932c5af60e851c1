"""Tasks by name, or by import path ``package.module:factory``."""

from __future__ import annotations

import importlib
from typing import Any

from evonas.errors import UserError

from .base import Task
from .images import ImageClassification
from .neat import NeatTask
from .programs import ProgramTaskSet
from .toy import OneMax

#: Task names accepted by ``--task``: (task class, fixed options). Image tasks differ only in dataset.
TASKS: dict[str, tuple[type[Task], dict[str, Any]]] = {
    "fashion-mnist": (ImageClassification, {"dataset": "fashion-mnist"}),
    "fashion-mnist-full": (ImageClassification, {"dataset": "fashion-mnist-full"}),
    "mnist": (ImageClassification, {"dataset": "mnist"}),
    "cifar10": (ImageClassification, {"dataset": "cifar10"}),
    "onemax": (OneMax, {}),
    "linear-regression": (ProgramTaskSet, {"kind": "linear"}),
    "affine-regression": (ProgramTaskSet, {"kind": "affine"}),
    "teacher": (ProgramTaskSet, {"kind": "teacher"}),
    "binary-classification": (ProgramTaskSet, {"kind": "binary"}),
    "xor": (NeatTask, {"problem": "xor"}),
    "single-pole": (NeatTask, {"problem": "single-pole"}),
    "double-pole": (NeatTask, {"problem": "double-pole"}),
    "double-pole-novel": (NeatTask, {"problem": "double-pole-novel"}),
}

#: The task ``evolve`` uses when ``--task`` is not given, per genome kind.
DEFAULT_TASKS: dict[str, str] = {"amoeba": "fashion-mnist", "bitstring": "onemax", "automl-zero": "linear-regression", "neat": "xor", "motifs": "fashion-mnist"}

_CACHE: dict[str, Task] = {}


def task_class(name: str) -> tuple[type[Task], dict[str, Any]]:
    """Resolve a task name or ``module:factory`` path to its class and fixed options."""
    if name in TASKS:
        return TASKS[name]
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise UserError(f"cannot import task {name!r} ({exc}); check the module is on PYTHONPATH") from None
        return factory, {}
    raise UserError(f"unknown task {name!r}; choose one of {', '.join(TASKS)} or give package.module:factory")


def make_task(name: str, options: dict[str, Any], fresh: bool = False) -> Task:
    """Build a task from its name and options, cached per process (workers build each task once);
    ``fresh`` builds a private instance (for tasks that keep state, such as an FEC cache)."""
    key = repr((name, sorted(options.items())))
    if fresh or key not in _CACHE:
        cls, fixed = task_class(name)
        try:
            task = cls(**{**options, **fixed})
        except TypeError as exc:
            raise UserError(f"bad option for task {name!r}: {exc}") from None
        if fresh:
            return task
        _CACHE[key] = task
    return _CACHE[key]


__all__ = ["DEFAULT_TASKS", "TASKS", "ImageClassification", "NeatTask", "OneMax", "ProgramTaskSet", "Task", "make_task", "task_class"]
