"""The Python API: what the command line does, from a script or a notebook (``evonas.evolve``,
``evonas.open_run``, ``evonas.resume``, ``evonas.write_report``; a run's own ``report`` and ``export``). Settings are the command line's,
as keyword arguments; a task may be a ``Task`` object and a strategy a ``Strategy`` class. Examples:
docs/python-api.md."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evonas.config import RunOptions
from evonas.errors import UserError
from evonas.launch import (
    Execution,
    FinalCheck,
    check_execution,
    checked_execution,
    default_folder,
    finish,
    plan_search,
    reopen,
    run_protocol,
    search,
    start_protocol,
)
from evonas.plugins import trust_folder
from evonas.registry import TASKS
from evonas.run_view import RunView
from evonas.strategies import STRATEGIES, Strategy
from evonas.tasks import Task


def evolve(genome: str = "amoeba", task: str | Task | None = None, strategy: str | type[Strategy] | None = None, *, seed: int = 0,
           out: str | Path | None = None, cycles: int | None = None, population: int | None = None, sample: int | None = None,
           batch: int | None = None, preset: str = "cpu", options: Mapping[str, Any] | None = None, objectives: Sequence[str] = (),
           constraints: Sequence[str] = (), lineage: str | None = None, until_solved: bool | None = None, experiments: int = 100,
           max_seconds: float | None = None, checkpoint_every: int | None = None, data_dir: str | Path | None = None,
           filters: int | None = None, train_images: int | None = None, device: str = "auto", workers: int = 1,
           executor: str = "auto", eval_timeout: float | None = None, retries: int = 1, asynchronous: bool = False,
           final_check: tuple[int, int] | None = None, progress: bool = False) -> RunView:
    """Run a search to its budget, as ``evonas evolve`` does, and return the run (``RunView``). ``options`` are
    the ``-o KEY=VALUE`` settings; a ``Task`` object brings its own options (its class must be importable by
    worker processes when ``workers`` > 1); ``final_check`` is ``--final-check TOPxSEEDS`` as a pair;
    ``progress`` shows the progress line on stderr."""
    task_name, task_options = _task_reference(task)
    settings = {**task_options, **dict(options or {})}
    plan = plan_search(RunOptions(genome, task_name, _strategy_reference(strategy), population, sample, cycles, batch, seed, preset,
                                  Path(data_dir) if data_dir is not None else None, filters, train_images, max_seconds,
                                  checkpoint_every, device, settings, lineage, list(objectives), list(constraints)),
                       until_solved, lineage, experiments)
    execution = checked_execution(Execution(workers, executor, None, eval_timeout, retries, asynchronous), quiet=not progress)
    config = plan.config
    check_execution(config, execution)
    if out is not None and not str(out).strip():
        raise UserError("out is empty; give a folder path (or None for runs/<genome>-<strategy>-s<seed>-<time>)")
    folder = Path(out) if out is not None else default_folder(config)
    for note in plan.notes if progress else ():
        _echo(note)
    if config.protocol is not None and experiments != 1:
        opened = start_protocol(folder, config, experiments)  # holds the folder's lock while the protocol runs
        run_protocol(folder, opened.protocol_state, execution, not progress, _echo if progress else _silent)  # type: ignore[arg-type]
        return RunView.open(folder)
    from evonas.run import Run

    run = Run.create(folder, config)
    search(run, execution, not progress, _echo)
    finish(run, _echo if progress else _silent, _final_check(final_check))
    return RunView.open(folder)


def resume(path: str | Path, cycles: int | None = None, *, workers: int = 1, executor: str = "auto", eval_timeout: float | None = None,
           retries: int = 1, asynchronous: bool = False, trust_task: bool = False, final_check: tuple[int, int] | None = None,
           progress: bool = False) -> RunView:
    """Continue a stopped or finished run from its checkpoint (``cycles``: a new total budget), as ``evonas
    resume`` does; ``trust_task`` loads a plug-in task or strategy the folder names (never without it)."""
    folder = Path(path)
    if trust_task:
        trust_folder(folder)
    execution = checked_execution(Execution(workers, executor, None, eval_timeout, retries, asynchronous), quiet=not progress)
    opened = reopen(folder, execution, cycles, _echo if progress else _silent)  # holds the folder's lock while it runs
    if opened.protocol_state is not None:
        run_protocol(folder, opened.protocol_state, execution, not progress, _echo if progress else _silent)
        return RunView.open(folder)
    run = opened.run
    search(run, execution, not progress, _echo)
    finish(run, _echo if progress else _silent, _final_check(final_check))
    return RunView.open(folder)


def open_run(path: str | Path) -> RunView:
    """Open a run folder for reading: config, lineage (a ``pyarrow.Table``), best, top architectures, ancestry,
    genomes, population, Pareto front."""
    return RunView.open(path)


def write_report(*paths: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of one or more runs (PNGs and one HTML page, curves overlaid, as ``evonas report``);
    returns the page. One run's report is also ``open_run(path).report()``."""
    from evonas.report import write_report as write

    if not paths:
        raise UserError("write_report needs at least one run folder")
    return write([Path(p) for p in paths], Path(out) if out is not None else None)


def _final_check(pair: tuple[int, int] | None) -> FinalCheck | None:
    if pair is None:
        return None
    top, seeds = pair
    if min(int(top), int(seeds)) < 1:
        raise UserError(f"final_check takes (top, seeds), two positive integers; got {pair!r}")
    return FinalCheck(int(top), int(seeds))


def _task_reference(task: str | Task | None) -> tuple[str | None, dict[str, Any]]:
    """A task name for the config and the options it was built with: a name as given, a built-in task object by
    its registered name, any other task object as ``module:Class``."""
    if task is None or isinstance(task, str):
        return task, {}
    if not isinstance(task, Task):
        raise UserError(f"task must be a name, 'package.module:factory' or an evonas.tasks.Task, not a {type(task).__name__}")
    cls, options = type(task), task.options()
    for name, (registered, fixed) in TASKS.items():  # a built-in task: its name, less the options the name fixes
        if registered is cls and all(options.get(k) == v for k, v in fixed.items()):
            return name, {k: v for k, v in options.items() if k not in fixed}
    return _importable_name(cls, "task"), options


def _strategy_reference(strategy: str | type[Strategy] | None) -> str | None:
    if strategy is None or isinstance(strategy, str):
        return strategy
    if not (isinstance(strategy, type) and issubclass(strategy, Strategy)):
        raise UserError(f"strategy must be a name, 'package.module:Class' or a Strategy subclass, not {strategy!r}")
    builtin = [name for name, cls in STRATEGIES.items() if cls is strategy]
    return builtin[0] if builtin else _importable_name(strategy, "strategy")


def _importable_name(cls: type, what: str) -> str:
    """``module:Class`` for a class that can be imported again by that name (run folders record names, not objects)."""
    if "<locals>" in cls.__qualname__:
        raise UserError(f"the {what} class {cls.__qualname__} is defined inside a function; define it at module level so that "
                        "a run (and a resume) can import it by name")
    return f"{cls.__module__}:{cls.__qualname__}"


def _echo(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _silent(line: str) -> None:
    """Drops a notice (``progress=False``)."""
