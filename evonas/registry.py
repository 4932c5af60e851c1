"""The registries: every genome family, every task name, and how a task is built. Adding a family is one
genome module in ``genomes/``, its engine side in ``evonas/families/`` and one line in ``FAMILIES`` here."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from evonas.errors import UserError
from evonas.families import amoeba, automl_zero, bitstring, graph_macro, motifs, nb201, neat
from evonas.families.record import Family
from evonas.strategies import STRATEGIES, Strategy
from evonas.tasks.base import Task

#: Every genome family by its --genome name (the order of --help and the docs).
FAMILIES: dict[str, Family] = {f.kind: f for f in (
    amoeba.FAMILY, bitstring.FAMILY, automl_zero.FAMILY, neat.FAMILY, motifs.FAMILY, graph_macro.FAMILY, nb201.FAMILY,
)}

#: Genome class of every family, for parsing lineage and checkpoint rows.
GENOMES: dict[str, Any] = {kind: family.genome for kind, family in FAMILIES.items()}

#: Space class of every family.
SPACES: dict[str, Any] = {kind: family.space for kind, family in FAMILIES.items()}


def _all_tasks() -> dict[str, tuple[type[Task], dict[str, Any]]]:
    tasks: dict[str, tuple[type[Task], dict[str, Any]]] = {}
    for family in FAMILIES.values():
        for name, entry in family.tasks.items():
            if tasks.setdefault(name, entry) != entry:  # two families may share a task, never a name for two
                raise RuntimeError(f"task name {name!r} is registered twice with different meanings")
    return tasks


#: Task names accepted by ``--task``: (task class, fixed options).
TASKS: dict[str, tuple[type[Task], dict[str, Any]]] = _all_tasks()


def family(kind: str) -> Family:
    """The family registered as ``kind``; a UserError names the families there are."""
    try:
        return FAMILIES[kind]
    except KeyError:
        raise UserError(f"unknown genome {kind!r}; choose one of {', '.join(FAMILIES)}") from None


def task_class(name: str) -> tuple[type[Task], dict[str, Any]]:
    """Resolve a task name or ``module:factory`` path to its class and fixed options."""
    if name in TASKS:
        return TASKS[name]
    if ":" in name:
        return _plugin(name, "task", "the class or function"), {}
    raise UserError(f"unknown task {name!r}; choose one of {', '.join(TASKS)} or give package.module:factory")


def strategy_class(name: str) -> type[Strategy]:
    """A registered strategy by name, or a plug-in given as ``package.module:Class`` (a ``Strategy`` subclass)."""
    if name in STRATEGIES:
        return STRATEGIES[name]
    if ":" not in name:
        raise UserError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)} or give package.module:Class")
    found = _plugin(name, "strategy", "the class")
    if not (isinstance(found, type) and issubclass(found, Strategy)):
        raise UserError(f"strategy {name!r} is not an evonas.strategies.Strategy subclass; subclass it (see docs/tabular.md)")
    return found


def _plugin(name: str, what: str, attribute: str) -> Any:
    """The attribute a ``package.module:attr`` name points at, every way of failing one line."""
    module_name, _, attr = name.partition(":")
    if not module_name or not attr:
        raise UserError(f"{what} {name!r} is not package.module:{'factory' if what == 'task' else 'Class'}; name both the module and {attribute}")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise UserError(f"cannot import {what} {name!r} ({exc}); check the module is on PYTHONPATH") from None
    except Exception as exc:  # noqa: BLE001 - the plug-in's own code failed while importing (a syntax error, a raise)
        raise UserError(f"importing {what} {name!r} failed ({type(exc).__name__}: {exc}); fix the module") from None


_CACHE: dict[str, Task] = {}


def make_task(name: str, options: dict[str, Any], fresh: bool = False) -> Task:
    """Build a task from its name and options, cached per process (workers build each task once);
    ``fresh`` builds a private instance (for tasks that keep state, such as an FEC cache)."""
    key = repr((name, sorted(options.items())))
    if fresh or key not in _CACHE:
        cls, fixed = task_class(name)
        try:
            task = cls(**{**options, **fixed})
        except TypeError as exc:
            accepted = keyword_options(cls)
            unknown = [k for k in {**options, **fixed} if accepted is not None and k not in accepted]
            if unknown:
                raise UserError(f"task {name!r} has no option {unknown[0]!r}; its options are {', '.join(accepted or ()) or 'none'}") from None
            raise UserError(f"bad option for task {name!r}: {exc}") from None
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - a task's own check of its options (ValueError) or a bug in its constructor
            raise UserError(f"task {name!r} could not be built with options {options}: {type(exc).__name__}: {exc}") from None
        if not isinstance(task, Task):  # the engine reads a task's declarations from the base class
            raise UserError(f"task {name!r} built a {type(task).__name__}, not an evonas.tasks.Task; subclass Task (see docs/tasks.md)")
        if fresh:
            return task
        _CACHE[key] = task
    return _CACHE[key]


def keyword_options(factory: Any) -> list[str] | None:
    """The keyword arguments a task class or factory accepts (None: it takes any, or cannot be inspected)."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return [p.name for p in parameters if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
