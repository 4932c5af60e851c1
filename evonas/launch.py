"""Starting, running and finishing a search: what ``evonas evolve`` / ``evonas resume`` and the Python API
(``evonas.evolve``) share. Nothing here prints to stdout; notices go to a callback, so the command line and a
notebook each show them their own way."""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evonas.capabilities import DrawsDot, TrainsModels, task_declarations
from evonas.config import RunConfig, RunOptions, check_positive
from evonas.errors import UserError
from evonas.plugins import trust
from evonas.progress import Progress
from evonas.registry import make_task, strategy_class, task_class

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Execution:
    """How this invocation runs evaluations; none of it is part of the run's identity (a resume may change it)."""

    workers: int = 1
    executor: str = "auto"
    address: str | None = None
    eval_timeout: float | None = None
    retries: int = 1
    asynchronous: bool = False
    cpus_per_eval: float = 1.0
    gpus_per_eval: float = 0.0
    verbose: bool = False


def checked_execution(execution: Execution, quiet: bool) -> Execution:
    """The execution settings, checked on their own (before any run is opened)."""
    check_positive("--workers", execution.workers)
    if execution.verbose and quiet:
        raise UserError("-v and -q contradict each other; drop one")
    return execution


def check_execution(config: RunConfig, execution: Execution) -> None:
    """Refuse scheduling settings that cannot work for this run, before any folder is made or evaluation starts."""
    from evonas.executors import check_executor_settings

    task = check_executor_settings(config.task, config.task_options, execution.executor, execution.address,
                                   execution.eval_timeout, execution.retries, execution.cpus_per_eval, execution.gpus_per_eval)
    if not execution.asynchronous:
        return
    if not strategy_class(config.strategy).supports_async:
        raise UserError(f"the {config.strategy} strategy folds whole generations in order; drop --async")
    if task.in_process:
        raise UserError(f"--async needs evaluations in worker processes, but {config.task!r} is scored in bulk in this process; drop --async")
    from evonas.objectives import ObjectiveSet

    objectives = ObjectiveSet.from_config(config.objectives, config.constraints)
    if objectives is not None and set(objectives.metrics) & set(task.cheap_metric_names(config.task_options)):
        raise UserError("--async cannot measure cheap metrics before evaluation (objectives or constraints name them); drop --async")
    if config.lineage == "compact":
        raise UserError("--async needs full lineage (compact rows are rebuilt by replaying results in the order they were told); "
                        "start the run with --lineage full")


@dataclass
class Plan:
    """A resolved, checked search, not started yet: its config and the notices to show once its folder exists."""

    config: RunConfig
    notes: list[str] = field(default_factory=list)


def plan_search(options: RunOptions, until_solved: bool | None = None, lineage: str | None = None, experiments: int = 0) -> Plan:
    """Resolve and check everything about a new search before any folder is made: options, the task, the device."""
    from evonas.kernels.cuda_support import check_device, resolve_device
    from evonas.run import check_task

    if lineage not in (None, "full", "compact"):
        raise UserError(f"unknown --lineage {lineage!r}; choose full or compact")
    if experiments < 0:
        raise UserError("--experiments must be 0 (until solved) or a positive count")
    check_device(options.device)
    trust(options.task)  # named by the caller: this process may load them from the run folder it writes
    trust(options.strategy)
    config = options.resolve()
    if until_solved is not None:
        config.until_solved = until_solved
    plan = Plan(config)
    declared = task_declarations(task_class(config.task)[0])
    if declared.kernel_devices:
        # resolved here, once, and recorded in the config: experiments in other processes and resumes keep it
        config.task_options["device"] = resolve_device(config.task_options.get("device", "cpu"), plan.notes.append)
    elif declared.torch_device:
        from evonas.kernels.torchnet import check_torch_device

        check_torch_device(config.task_options.get("device", "auto"), plan.notes.append)
    check_task(config)  # before any folder is made (the protocol path creates one before its first run)
    return plan


def default_folder(config: RunConfig) -> Path:
    """Where a run goes when no folder is named: runs/<genome>-<strategy>-s<seed>-<time>."""
    return Path("runs") / f"{config.genome}-{config.strategy}-s{config.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def search(run: Any, execution: Execution, quiet: bool, echo: Echo) -> None:
    """Run one search to its budget with a progress display (on stderr unless ``quiet``). A KeyboardInterrupt
    arrives after the run has written its checkpoint."""
    from evonas.executors import make_executor

    config = run.config
    workers = execution.workers
    if not execution.asynchronous and workers > config.batch and not make_task(config.task, config.task_options).in_process:
        echo(f"note: only {config.batch} evaluations run at once (--batch); {workers - config.batch} worker(s) will idle")
        workers = config.batch
    executor = make_executor(config.task, config.task_options, config.seed, workers, executor=execution.executor,
                             address=execution.address, eval_timeout=execution.eval_timeout, retries=execution.retries,
                             cpus_per_eval=execution.cpus_per_eval, gpus_per_eval=execution.gpus_per_eval)
    progress = Progress(config.cycles, run.strategy.told, enabled=not quiet)
    run.verbose = execution.verbose
    try:
        run.execute(executor, progress, asynchronous=execution.asynchronous)
    finally:
        executor.close()


@dataclass
class Opened:
    """A folder taken to be written by this process: a run, or an AutoML-Zero protocol (its state, with the
    folder's lock held as long as this object lives)."""

    run: Any = None
    protocol_state: dict[str, Any] | None = None
    lock: Any = None


def start_protocol(folder: Path, config: RunConfig, experiments: int) -> Opened:
    """Create an AutoML-Zero protocol folder (the lock first: two starts cannot both pass the folder check)."""
    from evonas.families.automl_zero import protocol
    from evonas.run_lock import lock_run

    lock = lock_run(folder)
    return Opened(protocol_state=protocol.start(folder, config, max(0, experiments)), lock=lock)


def reopen(folder: Path, execution: Execution, cycles: int | None, echo: Echo) -> Opened:
    """Open a run or protocol folder to continue it, after checking the execution settings and the recorded device
    against this machine (before ``Run.open``, which may set rows aside); says once when its lineage parts
    predate checksums."""
    from evonas.families.automl_zero import protocol
    from evonas.run import Run
    from evonas.run_folder import load_config
    from evonas.run_lock import lock_run
    from evonas.store import unsealed_notice

    check_positive("--cycles", cycles)
    if protocol.is_protocol_folder(folder):
        lock = lock_run(folder)
        state = protocol.load(folder)
        _check_continuable(folder, RunConfig(**state["config"]), execution)
        return Opened(protocol_state=state, lock=lock)
    _check_continuable(folder, load_config(folder), execution)
    notice = unsealed_notice(folder)
    if notice:
        echo(notice)
    return Opened(run=Run.open(folder, cycles))


def _check_continuable(folder: Path, config: RunConfig, execution: Execution) -> None:
    """Execution settings that fit the run, and a GPU here if the run was recorded on one (its scores depend on
    the device)."""
    from evonas.kernels.cuda_support import cuda_problem

    check_execution(config, execution)
    problem = cuda_problem() if config.task_options.get("device") == "cuda" else None
    if problem:
        raise UserError(f"{folder} was started with --device cuda but here {problem}; resume it where a GPU and "
                        "'evonas[cuda]' are installed")


def run_protocol(folder: Path, state: dict[str, Any], execution: Execution, quiet: bool, echo: Echo) -> dict[str, Any]:
    """Run an AutoML-Zero protocol's experiments (``--workers`` of them at once; the outcome does not change)."""
    from evonas.families.automl_zero import protocol

    return protocol.run(folder, state, lambda run: search(run, execution, quiet, echo), echo, parallel=execution.workers,  # type: ignore[no-any-return]
                        progress=not quiet)


#: Seeds of the final re-check's trainings (a stream of their own: never an evaluation's seed).
FINAL_CHECK = 31


@dataclass(frozen=True)
class FinalCheck:
    """How the final report of a search that trains networks re-checks its result: the ``top`` distinct
    architectures (by the mean of their evaluations) each trained again on ``seeds`` seeds; 1 x 1 scores the best
    once, as a plain report does."""

    top: int
    seeds: int

    @classmethod
    def default_for(cls, config: RunConfig) -> FinalCheck:
        """3 x 3 for the cpu and paper presets of a task that trains networks, else 1 x 1 (smoke stays quick)."""
        trains = isinstance(make_task(config.task, config.task_options), TrainsModels)
        return cls(3, 3) if trains and config.preset in ("cpu", "paper") else cls(1, 1)


@dataclass
class Retrained:
    """One architecture of the final re-check: its id, evaluations in the search, and the validation and test
    accuracy of each retraining."""

    id: int
    fitness: float  # its logged fitness (the fittest evaluation of the architecture)
    evaluations: int
    validation: list[float]
    test: list[float]


@dataclass
class Outcome:
    """How a finished (or stopped) search ended: counts, the best individual and its final report."""

    evaluated: int
    budget: int
    failed: int
    rejected_free: int = 0  # rejected by a constraint before evaluation, without using budget
    best: Any = None  # a Member, or None when no evaluation succeeded
    solved: bool | None = None  # None: the run does not stop when solved
    report: dict[str, float] = field(default_factory=dict)
    retrained: list[Retrained] = field(default_factory=list)  # the final re-check, best by mean validation first


def finish(run: Any, echo: Echo, check: FinalCheck | None = None) -> Outcome:
    """Score the best individual for the final report and write ``best.json`` (and ``best.dot`` for genomes that
    draw themselves) into the run folder. With a final check wider than 1 x 1 the top architectures are trained
    again on several seeds and the one with the best mean validation accuracy is reported (test accuracy never
    chooses)."""
    from evonas.core import Member
    from evonas.run_folder import nan_to_none

    strategy = run.strategy
    free = strategy.free_rejections
    outcome = Outcome(strategy.told - free, run.config.cycles, run.failed - free, free)
    best = strategy.best
    if best is None:
        return outcome
    if run.config.until_solved:
        outcome.solved = run.solved_id is not None  # the solving individual, not the fittest, is reported
        if outcome.solved:
            genome = run.solved.genome if run.solved is not None else _replayed(run, run.solved_id)
            best = Member(run.solved_id, float(run.solved_fitness) if run.solved is not None else _logged_fitness(run, run.solved_id), genome)
    check = check or FinalCheck.default_for(run.config)
    task = make_task(run.config.task, run.config.task_options)
    if check.top * check.seeds > 1 and not outcome.solved:
        outcome.retrained = _recheck(run, task, check, echo)
        if outcome.retrained:
            chosen = outcome.retrained[0]
            if chosen.id != best.id:
                best = Member(chosen.id, chosen.fitness, _replayed(run, chosen.id))
    echo(f"scoring the best individual (id {best.id}) for the final report ...")
    outcome.best, outcome.report = best, task.report(best.genome, run.seed_of(best.id))
    if isinstance(best.genome, DrawsDot):
        (run.run_dir / "best.dot").write_text(best.genome.to_dot())
    summary = {"id": best.id, "fitness": best.fitness, "genome": best.genome.to_dict(),
               "report": {k: nan_to_none(v) for k, v in outcome.report.items()}}
    if outcome.retrained:
        summary["final_check"] = [{"id": r.id, "evaluations": r.evaluations, "validation": r.validation, "test": r.test}
                                  for r in outcome.retrained]
    (run.run_dir / "best.json").write_text(json.dumps(summary, indent=2))
    return outcome


def _recheck(run: Any, task: Any, check: FinalCheck, echo: Echo) -> list[Retrained]:
    """Train the ``check.top`` best distinct architectures again on ``check.seeds`` seeds each; best mean
    validation accuracy first."""
    from evonas.replay import replay_genomes
    from evonas.rng import derive_seed
    from evonas.run_folder import best_rows, read_run_lineage

    rows = best_rows(read_run_lineage(run.run_dir)[0], check.top)
    genomes = replay_genomes(run.run_dir, {row["id"] for row in rows})  # one replay for all of them (compact lineages)
    out = []
    for k, row in enumerate(rows):
        genome = genomes[row["id"]]
        entry = Retrained(row["id"], row["fitness"], row["evaluations"], [], [])
        for s in range(check.seeds):
            echo(f"final check: training id {row['id']} again, seed {s + 1} of {check.seeds} (architecture {k + 1} of {len(rows)}) ...")
            figures = task.report(genome, derive_seed(run.config.seed, FINAL_CHECK, k * check.seeds + s))
            entry.validation.append(float(figures.get("val_accuracy", math.nan)))
            entry.test.append(float(figures.get("test_accuracy", math.nan)))
        out.append(entry)
    out.sort(key=lambda r: (-_mean(r.validation), r.id))
    return out


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.fmean(finite) if finite else -math.inf


def _replayed(run: Any, ident: int) -> Any:
    from evonas.replay import replay_genomes

    return replay_genomes(run.run_dir, {ident})[ident]


def _logged_fitness(run: Any, ident: int) -> float:
    """An individual's fitness as its lineage row has it."""
    from evonas.run_folder import read_run_lineage

    rows = [r for r in read_run_lineage(run.run_dir)[0].select(["id", "fitness"]).to_pylist() if r["id"] == ident]
    if not rows or rows[0]["fitness"] is None:
        raise UserError(f"the lineage of {run.run_dir} lacks the fitness of id {ident}; the run folder is damaged")
    return float(rows[0]["fitness"])
