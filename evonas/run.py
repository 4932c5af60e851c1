"""The run loop: ask -> evaluate -> tell -> record -> checkpoint, until the budget is spent or a stop arrives.

The pieces it drives each have their own module: the run folder (``run_folder``), lineage rows
(``recording``), checkpoints (``checkpointing``) and stops (``stop_guard``).
"""

from __future__ import annotations

import gc
import math
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evonas import __version__
from evonas.capabilities import CountsTrainSteps, KeepsState
from evonas.checkpointing import Counters, restore, save
from evonas.config import RunConfig, build_strategy
from evonas.core import Candidate, Member, Result, first_solved
from evonas.errors import UserError
from evonas.executors import Executor, InProcessExecutor, evaluation_seed
from evonas.progress import Progress
from evonas.recording import LineageRecorder
from evonas.registry import make_task
from evonas.run_folder import CHECKPOINT_FILE, LINEAGE_DIR, create_folder, load_config, refuse_existing, write_config
from evonas.run_lock import RunLock, lock_run
from evonas.screening import Screen
from evonas.stop_guard import StopGuard
from evonas.store import LINEAGE_SCHEMA, LineageBuffer, part_path, remove_stray_temps, write_lineage_part
from evonas.strategies import Strategy


def check_task(config: RunConfig) -> None:
    """Build the task once (bad options fail here) and check it scores this genome kind."""
    task = make_task(config.task, config.task_options)
    kinds = task.genome_kinds
    if kinds and config.genome not in kinds:
        raise UserError(f"task {config.task!r} scores {', '.join(kinds)} genomes, not {config.genome!r}; pick a matching --task")


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """A search allocates a few small objects per child; the default gen-0 threshold (700) then runs the
    collector every few batches over everything numba and torch left alive: about 9 % of a fast search."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], 50_000), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


class Run:
    """A run folder and the live search in it."""

    def __init__(self, run_dir: Path, config: RunConfig, strategy: Strategy, counters: Counters) -> None:
        self.run_dir = run_dir
        self.config = config
        self.strategy = strategy
        self.counters = counters
        self.config_hash = config.identity_hash()
        self.lineage_schema = LINEAGE_SCHEMA.with_metadata({"evonas_version": __version__, "config_hash": self.config_hash})
        self.recorder = LineageRecorder(config.lineage, strategy.space.kind, counters.failed, counters.best_logged)
        self.stop_event: Any = None  # an event (thread or process) whose setting stops the search as Ctrl-C does
        self.executor: Any = None
        self.task_state: Any = None  # the task's state from the checkpoint, until a task takes it
        self.pending: list[Candidate] = []  # asked and not yet told (asynchronous mode); kept in the checkpoint
        self.solved: Candidate | None = None  # the first candidate that met the task's success criterion (this session)
        self.solved_fitness = math.nan
        self._step_counter: CountsTrainSteps | None = None  # the task, when it counts train steps (set by execute)
        self._screen: Screen | None = None  # cheap metrics and rejections of a multi-objective run (set by execute)
        self._guard = StopGuard()
        self._progress = Progress(config.cycles, strategy.told, enabled=False)
        self.lock: RunLock | None = None  # this process's hold on the folder (``evonas.run_lock``)

    # -- the run's figures --------------------------------------------------------------------------
    @property
    def failed(self) -> int:
        """Evaluations logged as failed so far."""
        return self.recorder.failed

    @property
    def solved_id(self) -> int | None:
        """The id of the first individual that met the task's success criterion, if one did."""
        return self.counters.solved_id

    @property
    def buffer(self) -> LineageBuffer:
        """Lineage rows not yet in a part file."""
        return self.recorder.buffer

    @property
    def verbose(self) -> bool:
        """-v: a line for each failed evaluation and each new best."""
        return self.recorder.verbose

    @verbose.setter
    def verbose(self, value: bool) -> None:
        self.recorder.verbose = value

    def seed_of(self, ident: int) -> int:
        """Evaluation seed of an individual of this run."""
        return evaluation_seed(self.config.seed, ident)

    # -- creation and resume ------------------------------------------------------------------------
    @classmethod
    def create(cls, run_dir: Path, config: RunConfig) -> Run:
        """Start a new run folder; refuses a folder that already holds a run, or that another process writes."""
        refuse_existing(run_dir)
        strategy = build_strategy(config)
        check_task(config)
        lock = lock_run(run_dir)
        try:
            create_folder(run_dir, config)
            run = cls(run_dir, config, strategy, Counters())
            run.lock = lock
            run.checkpoint(time.perf_counter())
        except BaseException:
            lock.release()
            raise
        return run

    @classmethod
    def open(cls, run_dir: Path, cycles: int | None = None) -> Run:
        """Reopen a run folder at its checkpoint, setting aside lineage rows newer than it; refuses a folder another
        process writes."""
        config = load_config(run_dir)
        lock = lock_run(run_dir)
        try:
            for folder in (run_dir, run_dir / LINEAGE_DIR):  # what a writer killed mid-write left behind
                remove_stray_temps(folder)
            if not (run_dir / CHECKPOINT_FILE).exists() and not any((run_dir / LINEAGE_DIR).glob("part-*.arrow")):
                return cls._restart(run_dir, config, cycles, lock)
            restored = restore(run_dir, config, cycles)
        except BaseException:
            lock.release()
            raise
        run = cls(run_dir, config, restored.strategy, restored.counters)
        run.lock = lock
        run.task_state = restored.task_state
        run.pending = restored.pending
        return run

    @classmethod
    def _restart(cls, run_dir: Path, config: RunConfig, cycles: int | None, lock: RunLock) -> Run:
        """A folder stopped between writing config.json and its first checkpoint has evaluated nothing: start it
        again from the beginning (the same config, so the same run), and say so."""
        print(f"note: {run_dir} never reached its first checkpoint (nothing was evaluated); starting it from the beginning",
              file=sys.stderr)
        if cycles is not None:
            config.cycles = cycles
            write_config(run_dir, config)
        run = cls(run_dir, config, build_strategy(config), Counters())
        run.lock = lock
        (run_dir / LINEAGE_DIR).mkdir(exist_ok=True)
        run.checkpoint(time.perf_counter())
        return run

    def close(self) -> None:
        """Let another process write the folder (the lock also goes when this process ends)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    # -- the loop -----------------------------------------------------------------------------------
    def execute(self, executor: Executor, progress: Progress | None = None, asynchronous: bool = False) -> Member | None:
        """Run until the budget (or ``max_seconds``) is spent or Ctrl-C; always leaves a checkpoint.

        Reproducible mode (the default) asks a batch, waits for all of it and folds results in submission
        order. ``asynchronous`` keeps every worker busy: each finished result is told at once and a new child
        asked in its place; in-flight candidates go into the checkpoint and are evaluated again on resume.
        """
        if self.lock is None:  # executed again after an earlier execute let the folder go
            self.lock = lock_run(self.run_dir)
        self._attach(executor)
        self._progress = progress or Progress(self.config.cycles, self.strategy.told, enabled=False)
        self.recorder.progress = self._progress
        started = time.perf_counter()
        self._last_checkpoint = (self.strategy.told, started)
        interrupted = False
        with StopGuard(self.stop_event) as self._guard, _fewer_collections():
            try:
                if asynchronous:
                    self._loop_async(executor, started)
                else:
                    self._loop_batches(executor, started)
            except KeyboardInterrupt:
                interrupted = True
            finally:
                # The final checkpoint stays interruptible: a second Ctrl-C cannot tear it, its files are written atomically.
                self._guard.let_go()
                self.checkpoint(started)
                self._show_progress(force=True)
                self._progress.close()
                self.close()  # the folder is consistent: another process (or Run object) may take it now
        if interrupted:
            raise KeyboardInterrupt
        return self.strategy.best

    def _attach(self, executor: Executor) -> None:
        """Use ``executor``; its task (when it runs in this process) takes the state the checkpoint kept."""
        self.executor = executor
        task = executor.task
        self._step_counter = task if isinstance(task, CountsTrainSteps) else None  # asked once: read after every batch
        if self.strategy.objectives is not None:  # cheap metrics are measured here, before any worker sees a candidate
            local = task if task is not None else make_task(self.config.task, self.config.task_options)
            self._screen = Screen.for_run(self.strategy.objectives, local, local.cheap_metric_names(self.config.task_options))
        if self.task_state is not None and isinstance(task, KeepsState):
            task.load_state_dict(self.task_state)
            self.task_state = None

    def _loop_batches(self, executor: Executor, started: float) -> None:
        """Reproducible mode: ask a batch, evaluate it, tell it in submission order, record, checkpoint."""
        strategy = self.strategy
        if self.pending:  # left in flight by an asynchronous run: told first, as one batch
            pending = list(self.pending)
            self._absorb(pending, self._evaluate(executor, pending), started)
        breeder = self.breeder(executor)
        while not strategy.done and not self._should_stop(started):
            if breeder is not None and self._breed(breeder, started):
                continue
            asked = self._ask_and_evaluate(executor)
            if asked is None:
                break
            self._absorb(*asked, started)

    def _breed(self, breeder: Any, started: float) -> bool:
        """One call of the compiled stand-in for whole batches; False where only the batch path applies."""
        self._guard.hold()  # the breeder tells as it goes, so a stop must wait until its rows are logged
        bred = breeder.breed(self.config.max_train_steps)
        if bred is None:
            self._guard.release()
            return False
        self._absorb(*bred, started, bred=True)
        return True

    def _ask_and_evaluate(self, executor: Executor) -> tuple[list[Candidate], list[Result]] | None:
        """A batch and its results, in hand and held (a stop then waits for the tell); None when nothing is left
        to ask. A stop from the ask until the results are in hand undoes the ask, so the checkpoint describes
        the state right after the last tell."""
        strategy = self.strategy
        rng_before = strategy.rng.bit_generator.state
        try:
            candidates = strategy.ask(self.config.batch)
            if not candidates:
                return None
            results = self._evaluate(executor, candidates)
            self._guard.hold()
        except BaseException:
            self._guard.hold()  # a second Ctrl-C must not cut the rewind short
            strategy.rewind(rng_before)
            self._guard.let_go()
            raise
        return candidates, results

    def _evaluate(self, executor: Executor, candidates: list[Candidate]) -> list[Result]:
        """The batch's results in order; with a screen, candidates that break a constraint on a cheap metric are
        rejected unevaluated and every row gets the cheap metrics."""
        if self._screen is None:
            return executor.evaluate(candidates)
        return self._screen.evaluate(candidates, executor.evaluate)

    def _loop_async(self, executor: Executor, started: float) -> None:
        """--async: keep every worker busy; tell each result as it arrives and ask a new child in its place."""
        strategy = self.strategy
        for candidate in self.pending:
            executor.submit(candidate)
        while True:
            if not self._should_stop(started):
                while executor.in_flight < executor.workers:
                    with self._guard.held():  # an asked child is pending (and so checkpointed) before a stop lands
                        asked = strategy.ask(1)
                        if asked:
                            self.pending.append(asked[0])
                    if not asked:
                        break
                    executor.submit(asked[0])
            if not self.pending:
                break
            finished = executor.collect()
            if not finished:
                raise RuntimeError("executor lost in-flight candidates")  # a bug, not a user error
            self._absorb([c for c, _ in finished], [r for _, r in finished], started)
            if self._should_stop(started) and self.pending:
                break  # the rest stay pending in the checkpoint and run again on resume

    def _absorb(self, candidates: Sequence[Candidate], results: list[Result], started: float, bred: bool = False) -> None:
        """Tell a batch (a breeder's is told already), record its rows and note a solution, all under the hold
        the caller took; then show progress and checkpoint when due."""
        strategy = self.strategy
        self._guard.hold()
        if not bred:
            strategy.tell(results, candidates)  # type: ignore[arg-type]
        if self.pending:
            told = {c.id for c in candidates}
            self.pending = [c for c in self.pending if c.id not in told]
        self.recorder.record(candidates, results)  # type: ignore[arg-type]
        if self.counters.solved_id is None:
            k = first_solved(results)
            if k is not None:
                self.solved, self.counters.solved_id, self.solved_fitness = candidates[k], candidates[k].id, results[k].fitness
        self._guard.release()
        self._show_progress()
        now = time.perf_counter()
        told_at, time_at = self._last_checkpoint
        if strategy.told - told_at >= self.config.checkpoint_every or now - time_at >= self.config.checkpoint_seconds:
            # Held: a stop between writing a lineage part and forgetting its rows would have the final checkpoint
            # write those rows a second time.
            with self._guard.held():
                self.checkpoint(started)
                self._last_checkpoint = (strategy.told, now)

    def breeder(self, executor: Executor) -> Any:
        """The strategy's compiled stand-in for whole batches on this task, if it has one (see
        ``AgingEvolution.breeder``); the single-process executor only, since the task must be here."""
        if executor.task is None or not isinstance(executor, InProcessExecutor) or self.config.until_solved:
            return None
        return self.strategy.breeder(executor.task, self.config.batch, self.config.seed, executor.name)

    def _should_stop(self, started: float) -> bool:
        """A solution (with --until-solved), the time budget, or the train-step budget ends the run."""
        config = self.config
        if config.until_solved and self.counters.solved_id is not None:
            return True
        if config.max_seconds is not None and self.counters.elapsed_seconds + time.perf_counter() - started >= config.max_seconds:
            return True
        counter = self._step_counter
        return config.max_train_steps is not None and counter is not None and counter.train_steps >= config.max_train_steps

    def _show_progress(self, force: bool = False) -> None:
        strategy = self.strategy
        best = strategy.best.fitness if strategy.best else None
        fraction = None  # the share of the budget spent: of train steps or of evaluations, whichever ends the run first
        if self.config.max_train_steps is not None and self._step_counter is not None:
            fraction = min(1.0, max(self._step_counter.train_steps / self.config.max_train_steps, strategy.told / max(1, self.config.cycles)))
        self._progress.update(strategy.told, best, self.recorder.failed, force=force, fraction=fraction, extra=strategy.progress_fields())

    # -- checkpoints ----------------------------------------------------------------------------------
    def checkpoint(self, started: float) -> None:
        """Flush buffered lineage as a new part file, then atomically write the checkpoint."""
        counters = self.counters
        buffer = self.recorder.buffer
        if len(buffer):
            table = buffer.table().replace_schema_metadata(self.lineage_schema.metadata)
            write_lineage_part(part_path(self.run_dir / LINEAGE_DIR, counters.next_part), table)
            counters.next_part += 1
            buffer.clear()
        snapshot = Counters(counters.elapsed_seconds + time.perf_counter() - started, self.recorder.failed, counters.next_part,
                            self.recorder.best_logged, counters.solved_id)
        task = self.executor.task if self.executor is not None else None
        task_state = task.state_dict() if isinstance(task, KeepsState) else self.task_state
        save(self.run_dir, self.strategy, snapshot, task_state, self.pending, self.config_hash)
