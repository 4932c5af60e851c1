"""The run loop: ask -> evaluate -> tell -> lineage -> checkpoint, plus creating and resuming run folders."""

from __future__ import annotations

import gc
import json
import math
import operator
import os
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from evonas import __version__
from evonas.capabilities import CountsTrainSteps, KeepsState
from evonas.config import RunConfig
from evonas.core import Brood, Candidate, Member, Result, ResultBatch, first_solved, unusable_fitness
from evonas.errors import UserError
from evonas.executors import Executor, InProcessExecutor, evaluation_seed
from evonas.genomes.base import InvalidGenome, Mutation
from evonas.progress import Progress
from evonas.registry import SPACES, make_task
from evonas.store import (
    LINEAGE_SCHEMA,
    SMALL_BATCH,
    Checkpoint,
    Coded,
    LineageBuffer,
    MetricColumns,
    Repeat,
    atomic_write_bytes,
    lineage_parts,
    now_us,
    part_path,
    read_checkpoint,
    read_lineage,
    read_part,
    write_checkpoint,
    write_lineage_part,
)
from evonas.strategies import STRATEGIES, Strategy

CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.arrow"
LINEAGE_DIR = "lineage"
ASIDE_DIR = "set-aside"


def build_strategy(config: RunConfig) -> Strategy:
    """The configured strategy over the configured space."""
    if config.genome not in SPACES:
        raise UserError(f"unknown genome kind {config.genome!r}; choose one of {', '.join(SPACES)}")
    if config.strategy not in STRATEGIES:
        raise UserError(f"unknown strategy {config.strategy!r}; choose one of {', '.join(STRATEGIES)}")
    try:
        space = SPACES[config.genome].from_dict(config.space)
        return STRATEGIES[config.strategy](space, config.seed, config.cycles, **config.strategy_options)
    except (TypeError, ValueError) as exc:
        raise UserError(f"invalid {config.strategy} settings: {exc}") from None


def check_task(config: RunConfig) -> None:
    """Build the task once (bad options fail here) and check it scores this genome kind."""
    task = make_task(config.task, config.task_options)
    kinds = task.genome_kinds
    if kinds and config.genome not in kinds:
        raise UserError(f"task {config.task!r} scores {', '.join(kinds)} genomes, not {config.genome!r}; pick a matching --task")


def genome_json(genome: Any) -> str:
    """Compact JSON of a genome's ``to_dict()`` (the lineage and checkpoint form)."""
    return json.dumps(genome.to_dict(), separators=(",", ":"))


def _metadata(config_hash: str) -> dict[str, str]:
    return {"evonas_version": __version__, "config_hash": config_hash}


class Run:
    """A run folder and the live search in it."""

    def __init__(self, run_dir: Path, config: RunConfig, strategy: Strategy, next_part: int, elapsed: float, failed: int) -> None:
        self.run_dir = run_dir
        self.config = config
        self.strategy = strategy
        self.stop_event: Any = None  # an event (thread or process) whose setting stops the search as Ctrl-C does: checkpoint first
        self.next_part = next_part
        self.elapsed_before = elapsed
        self.failed = failed
        self.buffer = LineageBuffer()
        self.config_hash = config.identity_hash()
        self.executor: Any = None
        self._step_counter: CountsTrainSteps | None = None  # the task, when it counts train steps (set by execute)
        self.task_state: Any = None
        self.best_logged = -math.inf
        self.solved: Candidate | None = None  # the first candidate that met the task's success criterion
        self.solved_id: int | None = None
        self.solved_fitness = math.nan
        self.lineage_schema = LINEAGE_SCHEMA.with_metadata(_metadata(self.config_hash))
        self.pending: list[Candidate] = []  # asked and not yet told (asynchronous mode); kept in the checkpoint
        self.verbose = False  # -v: report each failure and each new best through the progress display

    # -- creation and resume ----------------------------------------------------------------------
    @classmethod
    def create(cls, run_dir: Path, config: RunConfig) -> Run:
        """Start a new run folder; refuses a folder that already holds a run."""
        if (run_dir / CONFIG_FILE).exists():
            raise UserError(f"{run_dir} already holds a run; continue it with 'evonas resume {run_dir}' or pick another --out")
        strategy = build_strategy(config)
        check_task(config)
        (run_dir / LINEAGE_DIR).mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(run_dir / CONFIG_FILE, config.to_json().encode())
        run = cls(run_dir, config, strategy, 1, 0.0, 0)
        run.checkpoint(time.perf_counter())
        return run

    @classmethod
    def open(cls, run_dir: Path, cycles: int | None = None) -> Run:
        """Reopen a run folder at its checkpoint, setting aside lineage rows newer than it."""
        config = load_config(run_dir)
        checkpoint = read_checkpoint(run_dir / CHECKPOINT_FILE)
        if checkpoint.config_hash != config.identity_hash():
            raise UserError(
                f"{run_dir / CONFIG_FILE} no longer matches the checkpoint (config hash {config.identity_hash()} != "
                f"{checkpoint.config_hash}); undo the edit or start a new run with 'evonas evolve'"
            )
        told = int(checkpoint.state["told"])
        if cycles is not None:
            if cycles < told:
                raise UserError(f"--cycles {cycles} is below the {told} evaluations already done; give at least {told}")
            config.cycles = cycles
        strategy = build_strategy(config)
        space = strategy.space
        members: dict[int, Member] = {}
        try:
            for ident, fitness, text in checkpoint.members:
                members[ident] = Member(ident, fitness, space.genome_from_dict(json.loads(text)))
            strategy.load_state_dict(checkpoint.state, members)
        except (InvalidGenome, KeyError, ValueError, TypeError) as exc:
            raise UserError(f"checkpoint in {run_dir} is corrupted ({exc}); restore it from a backup or start a new run") from None
        strategy.budget = config.cycles
        try:
            pending = [candidate_from_dict(item, space) for item in checkpoint.state.get("pending", [])]
        except (InvalidGenome, KeyError, ValueError, TypeError) as exc:
            raise UserError(f"checkpoint in {run_dir} is corrupted ({exc}); restore it from a backup or start a new run") from None
        next_id = int(checkpoint.state.get("next_id", told))
        next_part = reconcile_lineage(run_dir, told, [m.id for m in members.values()], next_id, {c.id for c in pending})
        if cycles is not None:  # written only once the checkpoint and the lineage have been accepted
            atomic_write_bytes(run_dir / CONFIG_FILE, config.to_json().encode())
        run = cls(run_dir, config, strategy, next_part, float(checkpoint.counters.get("elapsed_seconds", 0.0)), int(checkpoint.counters.get("failed", 0)))
        run.task_state = checkpoint.state.get("task")
        run.pending = pending
        logged = checkpoint.counters.get("best_logged")
        run.best_logged = -math.inf if logged is None else float(logged)
        solved = checkpoint.counters.get("solved_id")
        run.solved_id = None if solved is None else int(solved)
        return run

    # -- the loop ---------------------------------------------------------------------------------
    def execute(self, executor: Executor, progress: Progress | None = None, asynchronous: bool = False) -> Member | None:
        """Run until the budget (or ``max_seconds``) is spent or Ctrl-C; always leaves a checkpoint.

        Reproducible mode (the default) asks a batch, waits for all of it and folds results in submission
        order. ``asynchronous`` keeps every worker busy: each finished result is told at once and a new child
        asked in its place; in-flight candidates go into the checkpoint and are evaluated again on resume.
        """
        strategy = self.strategy
        self.executor = executor
        task = executor.task
        # asked once per run: the loop reads the step count after every batch
        self._step_counter: CountsTrainSteps | None = task if isinstance(task, CountsTrainSteps) else None
        if self.task_state is not None and isinstance(task, KeepsState):
            task.load_state_dict(self.task_state)
            self.task_state = None
        started = time.perf_counter()
        self._last_checkpoint = (strategy.told, started)
        self._progress = progress or Progress(self.config.cycles, strategy.told, enabled=False)
        interrupted = False
        # Ctrl-C / SIGTERM stop an evaluation at once, but never split tell from its lineage rows: while the
        # told batch is being recorded the stop is only noted, and taken right after.
        self._holding_stops = False
        self._stop_requested = False

        def on_signal(signum: int, frame: Any) -> None:
            if self._holding_stops:
                self._stop_requested = True
                return
            raise KeyboardInterrupt

        # A search allocates a few small objects per child; the default gen-0 threshold (700) then runs the
        # collector every few batches over everything numba and torch left alive: about 9 % of a fast search.
        thresholds = gc.get_threshold()
        gc.set_threshold(max(thresholds[0], 50_000), *thresholds[1:])
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            for signum, default in ((signal.SIGTERM, signal.SIG_DFL), (signal.SIGINT, signal.default_int_handler)):
                if signal.getsignal(signum) is default:
                    handlers[signum] = signal.signal(signum, on_signal)
        try:
            if asynchronous:
                self._loop_async(executor, started)
            else:
                self._loop_batches(executor, started)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            # The final checkpoint stays interruptible: a second Ctrl-C cannot tear it, its files are written atomically.
            self._holding_stops = False
            self.checkpoint(started)
            best = strategy.best.fitness if strategy.best else None
            self._progress.update(strategy.told, best, self.failed, force=True, fraction=self._budget_fraction(), extra=strategy.progress_fields())
            self._progress.close()
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            gc.set_threshold(*thresholds)
        if interrupted:
            raise KeyboardInterrupt
        return strategy.best

    def _stop_pending(self) -> bool:
        """A stop noted while held: Ctrl-C or SIGTERM, or ``stop_event`` (the search runs in a thread)."""
        return self._stop_requested or (self.stop_event is not None and self.stop_event.is_set())

    def _should_stop(self, started: float) -> bool:
        config = self.config
        if config.until_solved and self.solved_id is not None:
            return True
        if config.max_seconds is not None and self.elapsed_before + time.perf_counter() - started >= config.max_seconds:
            return True
        counter = self._step_counter
        return config.max_train_steps is not None and counter is not None and counter.train_steps >= config.max_train_steps

    def _breeder(self, executor: Executor) -> Any:
        """The strategy's compiled stand-in for whole batches on this task, if it has one (see
        ``AgingEvolution.breeder``); the single-process executor only, since the task must be here."""
        if executor.task is None or not isinstance(executor, InProcessExecutor) or self.config.until_solved:
            return None
        return self.strategy.breeder(executor.task, self.config.batch, self.config.seed, executor.name)

    def _loop_batches(self, executor: Executor, started: float) -> None:
        strategy = self.strategy
        if self.pending:  # left in flight by an asynchronous run: told first, as one batch
            pending = list(self.pending)
            self._absorb(pending, executor.evaluate(pending), started)
        breeder = self._breeder(executor)
        while not strategy.done and not self._should_stop(started):
            if breeder is not None:
                # Held throughout: the breeder tells as it goes, so a stop must wait until its rows are logged.
                self._holding_stops = True
                bred = breeder.breed(self.config.max_train_steps)
                if bred is not None:
                    self._absorb(*bred, started, bred=True)
                    continue
                self._holding_stops = False
                if self._stop_pending():
                    raise KeyboardInterrupt
            rng_before = strategy.rng.bit_generator.state
            # A stop anywhere from the ask until the results are in hand undoes the ask, so the checkpoint
            # describes the state right after the last tell; once they are in hand it waits for the tell.
            try:
                candidates = strategy.ask(self.config.batch)
                if not candidates:
                    break
                results = executor.evaluate(candidates)
                self._holding_stops = True
            except BaseException:
                self._holding_stops = True  # a second Ctrl-C must not cut the rewind short
                strategy.rewind(rng_before)
                self._holding_stops = False
                raise
            self._absorb(candidates, results, started)

    def _loop_async(self, executor: Executor, started: float) -> None:
        strategy = self.strategy
        for candidate in self.pending:
            executor.submit(candidate)
        while True:
            if not self._should_stop(started):
                while executor.in_flight < executor.workers:
                    self._holding_stops = True  # an asked child is pending (and so checkpointed) before a stop lands
                    asked = strategy.ask(1)
                    if asked:
                        self.pending.append(asked[0])
                    self._holding_stops = False
                    if self._stop_pending():
                        raise KeyboardInterrupt
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
        """Tell results (a breeder's ``bred`` batch is told already), log them, note a solution, update the display
        and checkpoint when due."""
        strategy = self.strategy
        self._holding_stops = True
        if not bred:
            strategy.tell(results, candidates)  # type: ignore[arg-type]
        if self.pending:
            told = {c.id for c in candidates}
            self.pending = [c for c in self.pending if c.id not in told]
        self.record(candidates, results)
        if self.solved_id is None:
            k = first_solved(results)
            if k is not None:
                self.solved, self.solved_id, self.solved_fitness = candidates[k], candidates[k].id, results[k].fitness
        self._holding_stops = False
        if self._stop_pending():
            raise KeyboardInterrupt
        best = strategy.best.fitness if strategy.best else None
        self._progress.update(strategy.told, best, self.failed, fraction=self._budget_fraction(), extra=strategy.progress_fields())
        now = time.perf_counter()
        told_at, time_at = self._last_checkpoint
        if strategy.told - told_at >= self.config.checkpoint_every or now - time_at >= self.config.checkpoint_seconds:
            # Held: a stop between writing a lineage part and forgetting its rows would have the final checkpoint
            # write those rows a second time.
            self._holding_stops = True
            self.checkpoint(started)
            self._last_checkpoint = (strategy.told, now)
            self._holding_stops = False
            if self._stop_pending():
                raise KeyboardInterrupt

    def _budget_fraction(self) -> float | None:
        """Share of the train-step budget spent, when that budget (not the evaluation count) ends the run."""
        if self.config.max_train_steps is None or self._step_counter is None:
            return None
        return min(1.0, self._step_counter.train_steps / self.config.max_train_steps)

    def record(self, candidates: list[Candidate], results: list[Result]) -> None:
        """Buffer the told batch's lineage rows (this runs for every child); a ``ResultBatch`` is read from its
        arrays, without making a ``Result`` per row. A large batch hands the buffer column pieces (arrays, runs of
        one value), a small one plain lists: building pieces costs more than it saves below a few dozen rows."""
        count = len(candidates)
        small = count < SMALL_BATCH
        columns: dict[str, Any]
        if isinstance(results, ResultBatch):
            ok_flags, fitness_values = (results.ok.tolist(), results.fitness.tolist()) if small else (results.ok, results.fitness)
            if results.ok.all():
                status, errors = _run("ok", count, small), _run(None, count, small)
            else:
                status = ["ok" if o else "failed" for o in results.ok.tolist()]
                errors = [None if o else unusable_fitness(f) for f, o in zip(results.raw.tolist(), results.ok.tolist())]
            metrics = MetricColumns(results.metrics, count)
            columns = {
                "status": status, "error": errors, "metrics": metrics.rows() if small else metrics,
                "eval_seconds": _run(results.eval_seconds, count, small), "worker": _run(results.worker, count, small),
            }
        else:
            ok_flags, fitness_values = [r.status == "ok" for r in results], [r.fitness for r in results]
            if not small:
                ok_flags, fitness_values = np.array(ok_flags, dtype=bool), np.array(fitness_values, dtype=np.float64)
            columns = {
                "status": [r.status for r in results], "error": [r.error or None for r in results],
                "metrics": [list(r.metrics.items()) for r in results], "eval_seconds": [r.eval_seconds for r in results],
                "worker": [r.worker for r in results],
            }
        # a new best beats every fitness logged before it, earlier rows of this batch included
        new_best = self._note_new_bests(ok_flags, fitness_values)
        if self.verbose:
            self._report_events(candidates, list(ok_flags), new_best, list(fitness_values), columns["status"], columns["error"])
        # Compact rows keep the genome only for the initial population and each new best: any other genome is
        # rebuilt by replaying mutations (each child's stream is keyed by run seed and id).
        if self.config.lineage == "compact":
            if isinstance(candidates, Brood):
                full = new_best  # bred children all have a parent
            else:
                full = [b or c.parent_id is None for c, b in zip(candidates, new_best)]
        else:
            full = [True] * count
        columns.update(self._candidate_columns(candidates, full, small))
        if small:
            columns["fitness"] = [f if o else None for f, o in zip(fitness_values, ok_flags)]
            self.buffer.append_rows(columns, count)
        else:
            columns["fitness"] = fitness_values  # failures are NaN, written as null
            self.buffer.append_columns(columns, count)

    def _note_new_bests(self, ok: Any, fitness: Any) -> Any:
        """Which rows beat every fitness logged before them, as a list (from lists for a small batch, arrays for a
        large one); counts the failures and moves the logged best."""
        if isinstance(ok, list):
            best, flags = self.best_logged, []
            for o, f in zip(ok, fitness):
                beats = o and f > best
                if beats:
                    best = f
                flags.append(beats)
            self.best_logged = best
            self.failed += len(ok) - sum(ok)
            return flags
        scores = np.where(ok, fitness, -math.inf)
        flags = ok & (scores > np.maximum.accumulate(np.concatenate(([self.best_logged], scores)))[:-1])
        if len(ok):
            self.best_logged = max(self.best_logged, float(scores.max()))
        self.failed += len(ok) - int(ok.sum())
        return flags.tolist()

    def _report_events(self, candidates: list[Candidate], ok: list[bool], new_best: list[bool], fitness: list[float],
                       status: Any, errors: Any) -> None:
        """-v: one line per failed evaluation and per new best."""
        status = [status.value] * status.count if isinstance(status, Repeat) else status
        errors = [errors.value] * errors.count if isinstance(errors, Repeat) else errors
        for k, (o, b, st, error, f) in enumerate(zip(ok, new_best, status, errors, fitness)):
            if o and not b:
                continue
            c = candidates[k]  # made only for the rows reported (a bred batch makes candidates on demand)
            if not o:
                self._progress.event(f"id {c.id}: {st}: {error or ''}")
            else:
                origin = "initial" if c.parent_id is None else f"{c.mutation} of id {c.parent_id}"
                self._progress.event(f"id {c.id}: new best {f:.6g} ({origin})")

    def _candidate_columns(self, candidates: list[Candidate], full: list[bool], small: bool) -> dict[str, Any]:
        """The candidate side of lineage rows: ids, parents, mutation, genome (where ``full``), time; plain lists
        for a small batch, column pieces for a large one."""
        count = len(candidates)
        mutation_column: Any
        if isinstance(candidates, Brood):  # children as columns: no object per row
            mutation_column = Coded(candidates.mutation_index, _mutation_texts(candidates.mutations))
            if small:
                ids, births = candidates.ids.tolist(), candidates.ids.tolist()
                parents, seconds = candidates.parent_ids.tolist(), [None] * count
                mutation_column = [mutation_column.values[i] for i in mutation_column.index.tolist()]
        else:
            ids, parents, seconds, births = (list(map(get, candidates)) for get in (_ID, _PARENT, _SECOND_PARENT, _BIRTH))
            mutation_column = _mutation_texts(list(map(_MUTATION, candidates)))
        if True in full:
            genomes: Any = [None] * count
            fingerprints: Any = [None] * count
            for k in [k for k, f in enumerate(full) if f]:
                genome = candidates[k].genome
                genomes[k], fingerprints[k] = genome_json(genome), genome.fingerprint()
        else:
            genomes = fingerprints = _run(None, count, small)
        columns = {
            "mutation": mutation_column, "genome_kind": _run(self.strategy.space.kind, count, small),
            "genome": genomes, "fingerprint": fingerprints, "wall_time": _run(now_us(), count, small),
        }
        if small:
            return {"id": ids, "parent_id": parents, "second_parent_id": seconds, "birth": births, **columns}
        if isinstance(candidates, Brood):  # the arrays as they are
            return {"id": candidates.ids, "parent_id": candidates.parent_ids, "second_parent_id": Repeat(None, count), "birth": candidates.ids,
                    **columns}
        return {"id": np.array(ids, dtype=np.int64), "parent_id": _int_piece(parents), "second_parent_id": _int_piece(seconds),
                "birth": np.array(births, dtype=np.int64), **columns}

    def checkpoint(self, started: float) -> None:
        """Flush buffered lineage as a new part file, then atomically write the checkpoint."""
        if len(self.buffer):
            table = self.buffer.table().replace_schema_metadata(self.lineage_schema.metadata)
            write_lineage_part(part_path(self.run_dir / LINEAGE_DIR, self.next_part), table)
            self.next_part += 1
            self.buffer.clear()
        counters = {
            "elapsed_seconds": self.elapsed_before + time.perf_counter() - started,
            "failed": self.failed,
            "next_part": self.next_part,
            "best_logged": self.best_logged if math.isfinite(self.best_logged) else None,
            "solved_id": self.solved_id,
        }
        members = {m.id: m for m in self.strategy.members()}
        rows = [(m.id, m.fitness, genome_json(m.genome)) for m in members.values()]
        state = self.strategy.state_dict()
        task = self.executor.task if self.executor is not None else None
        task_state = task.state_dict() if isinstance(task, KeepsState) else self.task_state
        if task_state is not None:
            state["task"] = task_state
        if self.pending:
            state["pending"] = [candidate_to_dict(c) for c in self.pending]
        write_checkpoint(self.run_dir / CHECKPOINT_FILE, Checkpoint(state, counters, rows, self.config_hash), __version__)

    def seed_of(self, ident: int) -> int:
        """Evaluation seed of an individual of this run."""
        return evaluation_seed(self.config.seed, ident)


# C-level field readers: a lineage reads five fields of every child
_ID, _PARENT, _SECOND_PARENT, _BIRTH, _MUTATION, _TEXT = (
    operator.attrgetter(name) for name in ("id", "parent_id", "second_parent_id", "birth", "mutation", "text")
)


def _run(value: Any, count: int, small: bool) -> Any:
    """``count`` rows of one value: a plain list for a small batch, a ``Repeat`` piece for a large one."""
    return [value] * count if small else Repeat(value, count)


def _mutation_texts(mutations: list[Mutation | None]) -> list[str | None]:
    """The lineage's mutation column (``in``/``==`` would call each Mutation's Python-level ``__eq__``)."""
    try:
        return list(map(_TEXT, mutations))
    except AttributeError:  # an initial individual (no mutation) among them
        return [None if m is None else m.text for m in mutations]


def _int_piece(values: list[int | None]) -> Any:
    """A lineage id column piece: an int64 array, a run of nulls, or (ids mixed with nulls) the list itself."""
    nulls = values.count(None)
    if nulls == 0:
        return np.array(values, dtype=np.int64)
    return Repeat(None, len(values)) if nulls == len(values) else values


def candidate_to_dict(candidate: Candidate) -> dict[str, Any]:
    """JSON form of an in-flight candidate (for the checkpoint of an asynchronous run)."""
    mutation = candidate.mutation
    return {
        "id": candidate.id, "parent_id": candidate.parent_id, "second_parent_id": candidate.second_parent_id,
        "birth": candidate.birth, "genome": candidate.genome.to_dict(),
        "mutation": None if mutation is None else [mutation.kind, mutation.detail],
    }


def candidate_from_dict(data: dict[str, Any], space: Any) -> Candidate:
    """Inverse of ``candidate_to_dict``."""
    mutation = data["mutation"]
    return Candidate(
        int(data["id"]), data["parent_id"], data["second_parent_id"], int(data["birth"]), space.genome_from_dict(data["genome"]),
        None if mutation is None else Mutation(str(mutation[0]), str(mutation[1])),
    )


def load_config(run_dir: Path) -> RunConfig:
    """Read config.json of a run folder, with a clear error for anything that is not one."""
    if not run_dir.is_dir():
        raise UserError(f"run folder {run_dir} does not exist; check the path (runs live under runs/ by default)")
    path = run_dir / CONFIG_FILE
    if not path.exists() and (run_dir / "protocol.json").exists():
        raise UserError(f"{run_dir} holds an experiment protocol; its runs are the experiment-NNNN folders inside it")
    if not path.exists():
        raise UserError(f"{run_dir} is not an evonas run folder (no {CONFIG_FILE}); point at a folder made by 'evonas evolve'")
    try:
        return RunConfig.from_json(path.read_text())
    except (ValueError, TypeError) as exc:
        raise UserError(f"{path} is not a valid run config ({exc}); restore it or start a new run") from None


def reconcile_lineage(run_dir: Path, told: int, member_ids: list[int], next_id: int | None = None, pending: set[int] | None = None) -> int:
    """Make ``lineage/`` hold exactly the rows the checkpoint has told: ids below ``next_id`` (default ``told``)
    that were not in flight (``pending``); newer rows are moved to ``set-aside/``.

    Returns the next part number. Refuses a checkpoint whose individuals the lineage lacks.
    """
    next_id = told if next_id is None else next_id
    pending = pending or set()
    lineage_dir = run_dir / LINEAGE_DIR
    kept = 0
    ids_seen: set[int] = set()
    last_index = 0
    to_split: list[tuple[Path, pa.Table, list[int]]] = []
    for path in lineage_parts(lineage_dir):
        last_index = max(last_index, int(path.stem.split("-")[1]))
        table, complete = read_part(path)
        ids = table.column("id").to_pylist()
        covered = [i for i, ident in enumerate(ids) if ident < next_id and ident not in pending]
        kept += len(covered)
        ids_seen.update(ids[i] for i in covered)
        if not (complete and len(covered) == len(ids)):
            to_split.append((path, table, covered))
    missing = [i for i in member_ids if i not in ids_seen]
    if kept < told or missing:  # refuse before touching any file
        raise UserError(
            f"the checkpoint in {run_dir} names {told} evaluations but lineage/ holds {kept}"
            f"{' and lacks ids ' + str(missing[:5]) if missing else ''}; the lineage was damaged, so this run cannot be resumed exactly"
        )
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for path, table, covered in to_split:
        (run_dir / ASIDE_DIR).mkdir(exist_ok=True)
        os.replace(path, run_dir / ASIDE_DIR / f"{stamp}-{path.name}")  # the original bytes, untouched
        if covered:
            write_lineage_part(path, table.take(pa.array(covered)))
    return last_index + 1


def read_run_lineage(run_dir: Path) -> tuple[pa.Table, list[Path]]:
    """The lineage of a run folder (for ``evonas lineage``), readable even if its last file is torn."""
    load_config(run_dir)
    return read_lineage(run_dir / LINEAGE_DIR)


def best_rows(table: pa.Table, top: int) -> list[dict[str, Any]]:
    """The ``top`` rows by fitness (failures excluded), best first, ties by id."""
    rows = [r for r in table.select(["id", "parent_id", "second_parent_id", "fitness", "mutation", "status", "fingerprint"]).to_pylist() if r["fitness"] is not None]
    rows.sort(key=lambda r: (-r["fitness"], r["id"]))
    return rows[:top]


def ancestry(table: pa.Table, ident: int) -> list[dict[str, Any]]:
    """The chain from ``ident`` back to the initial population (first element is ``ident`` itself)."""
    by_id = {r["id"]: r for r in table.select(["id", "parent_id", "second_parent_id", "fitness", "mutation", "status"]).to_pylist()}
    if ident not in by_id:
        raise UserError(f"no individual with id {ident} in this run's lineage; list ids with 'evonas lineage RUN'")
    chain = []
    current: int | None = ident
    while current is not None and current in by_id:
        chain.append(by_id[current])
        current = by_id[current]["parent_id"]
    return chain


def nan_to_none(value: float) -> float | None:
    """JSON-friendly float."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value
