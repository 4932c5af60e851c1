"""Executors run evaluations and return results in submission order, so lineage never depends on worker count."""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing
import os
import signal
import time
import traceback
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

import numpy as np

from evonas.errors import UserError
from evonas.genomes import GENOMES, Genome
from evonas.rng import EVALUATE, derive_seed, derive_seeds
from evonas.strategies import Candidate, Result, ResultBatch
from evonas.tasks import Task, make_task

WORKER_ENV = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def evaluate_one(task: Task, genome: Genome, ident: int, seed: int, worker: str) -> Result:
    """Evaluate one genome, turning an exception or a non-finite fitness into a ``failed`` result."""
    started = time.perf_counter()
    try:
        fitness, metrics = task.evaluate(genome, seed)
        fitness = float(fitness)
        status, error = "ok", ""
        if not math.isfinite(fitness):
            status, error = "failed", f"fitness is {fitness}"
            fitness = math.nan
    except Exception as exc:  # a crashing evaluation must not stop the run
        fitness, metrics, status = math.nan, {}, "failed"
        error = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:500]
        tb = traceback.extract_tb(exc.__traceback__)
        if tb:
            error += f" (at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno})"
    clean = {k: float(v) for k, v in (metrics or {}).items() if isinstance(v, (int, float))}
    return Result(ident, fitness, status, error, clean, time.perf_counter() - started, worker)


def evaluation_seed(run_seed: int, ident: int) -> int:
    """The seed an individual is evaluated with: a function of (run seed, id) only."""
    return derive_seed(run_seed, EVALUATE, ident)


def evaluation_seeds(run_seed: int, idents: list[int]) -> list[int]:
    """``evaluation_seed`` of many individuals in one numpy call."""
    return derive_seeds(run_seed, EVALUATE, np.array(idents, dtype=np.int64)).tolist()  # type: ignore[no-any-return]


class Executor(ABC):
    """Runs evaluations in the background: ``submit`` hands a candidate over, ``collect`` returns finished ones.

    ``evaluate`` is the reproducible path (a batch, results in submission order); ``collect`` in completion
    order is what ``--async`` uses. A failing, hanging or dying evaluation becomes a failed or timed-out result,
    never an exception out of the executor.
    """

    workers = 1
    name = "executor"

    @abstractmethod
    def submit(self, candidate: Candidate) -> None:
        """Queue one candidate for evaluation."""

    @abstractmethod
    def collect(self) -> list[tuple[Candidate, Result]]:
        """Block until at least one queued evaluation finishes; [] when none is queued or running."""

    @property
    @abstractmethod
    def in_flight(self) -> int:
        """Candidates submitted and not yet collected."""

    def evaluate(self, candidates: list[Candidate]) -> list[Result]:
        """Results in submission order."""
        for c in candidates:
            self.submit(c)
        done: dict[int, Result] = {}
        while len(done) < len(candidates):
            finished = self.collect()
            if not finished:
                raise RuntimeError("executor lost submitted candidates")  # a bug, not a user error
            done.update((c.id, r) for c, r in finished)
        return [done[c.id] for c in candidates]

    @abstractmethod
    def close(self) -> None:
        """Release workers at once (evaluations still running are abandoned)."""


def died_result(ident: int, how: str, attempts: int, worker: str) -> Result:
    """The failed result of an evaluation whose worker died, after its retries."""
    tried = f" (tried {attempts} times)" if attempts > 1 else ""
    return Result(ident, math.nan, "failed", f"worker process died during evaluation: {how}{tried}", {"attempts": float(attempts)}, 0.0, worker)


def timeout_result(ident: int, limit: float, seconds: float, worker: str) -> Result:
    """The result of an evaluation cut at ``--eval-timeout``."""
    return Result(ident, math.nan, "timeout", f"evaluation ran past --eval-timeout {limit:g} s and was stopped", {}, seconds, worker)


def exit_description(exitcode: int | None) -> str:
    """Words for a dead process's exit code."""
    if exitcode is None:
        return "lost contact with it"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (killed, or out of memory)" if -exitcode == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exited with code {exitcode}"


def _worker_main(conn: Connection, task_name: str, task_options: dict[str, Any]) -> None:
    """A pool worker: build the task once, then evaluate jobs until told to stop or the driver goes away."""
    os.environ.update(WORKER_ENV)  # before torch is first imported here: OpenMP reads these at load time
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the driver decides
    name = f"pool-{os.getpid()}"
    task: Task | None = None
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        if job[0] == "call":
            try:
                conn.send(("ok", job[1](*job[2])))
            except Exception as exc:  # reported to the caller
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
            continue
        _, ident, kind, genome_text, seed = job
        if task is None:
            try:
                task = make_task(task_name, task_options)
            except Exception as exc:  # every job of this worker fails with the reason
                conn.send(Result(ident, math.nan, "failed", f"task could not be built in the worker: {type(exc).__name__}: {exc}", {}, 0.0, name))
                continue
        result = evaluate_one(task, GENOMES[kind].from_dict(json.loads(genome_text)), ident, seed, name)
        try:
            conn.send(result)
        except OSError:  # the driver is gone (killed): nobody to report to
            return


def worker_environment() -> dict[str, str]:
    """The thread settings a pool worker sees (used by tests to check the one-thread rule)."""
    import torch

    return {**{k: os.environ.get(k, "") for k in WORKER_ENV}, "torch_threads": str(torch.get_num_threads())}


@dataclass
class _Slot:
    """One worker process of the pool and the job it is running."""

    process: Any = None
    conn: Connection | None = None
    job: Candidate | None = None
    started: float = 0.0
    attempts: int = 0


class PoolExecutor(Executor):
    """Spawned worker processes, one job each at a time and one intra-op thread each.

    Each worker has its own pipe, so the driver always knows which candidate a worker holds: a worker that
    dies fails (or, within ``retries``, re-runs) only its own candidate, and one past ``eval_timeout`` is
    killed and replaced. The others run on undisturbed.
    """

    def __init__(
        self, task_name: str, task_options: dict[str, Any], run_seed: int, workers: int,
        eval_timeout: float | None = None, retries: int = 1,
    ) -> None:
        self.task_name = task_name
        self.task_options = task_options
        self.run_seed = run_seed
        self.workers = workers
        self.eval_timeout = eval_timeout
        self.retries = retries
        self.name = f"pool x{workers}"
        self._context = multiprocessing.get_context("spawn")
        self._slots = [_Slot() for _ in range(workers)]
        self._queue: deque[tuple[Candidate, int]] = deque()  # (candidate, attempts so far)

    # -- workers --------------------------------------------------------------------------------
    def _start(self, slot: _Slot) -> None:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker_main, args=(child, self.task_name, self.task_options), daemon=True)
        process.start()
        child.close()
        slot.process, slot.conn, slot.job = process, parent, None

    def _stop(self, slot: _Slot, kill: bool) -> None:
        if slot.process is None:
            return
        if kill:
            slot.process.kill()
        else:
            with contextlib.suppress(OSError):
                slot.conn.send(None)  # type: ignore[union-attr]
        slot.process.join(timeout=5)
        if slot.process.is_alive():
            slot.process.kill()
            slot.process.join(timeout=5)
        with contextlib.suppress(OSError):
            slot.conn.close()  # type: ignore[union-attr]
        slot.process, slot.conn, slot.job = None, None, None

    def _send(self, slot: _Slot, message: Any) -> None:
        """Send to a worker, replacing it first if it has died while idle."""
        for _ in range(2):
            if slot.process is None or not slot.process.is_alive():
                self._stop(slot, kill=True)
                self._start(slot)
            try:
                slot.conn.send(message)  # type: ignore[union-attr]
                return
            except OSError:
                self._stop(slot, kill=True)
        raise RuntimeError("cannot start an evaluation worker process")

    def _dispatch(self) -> None:
        for slot in self._slots:
            if not self._queue:
                return
            if slot.job is None:
                candidate, attempts = self._queue.popleft()
                self._send(slot, ("eval", candidate.id, candidate.genome.kind, json.dumps(candidate.genome.to_dict()),
                                  evaluation_seed(self.run_seed, candidate.id)))
                slot.job, slot.started, slot.attempts = candidate, time.perf_counter(), attempts + 1

    # -- protocol ---------------------------------------------------------------------------------
    def submit(self, candidate: Candidate) -> None:
        """Queue one candidate; it starts as soon as a worker is free."""
        self._queue.append((candidate, 0))
        self._dispatch()

    @property
    def in_flight(self) -> int:
        """Queued plus running candidates."""
        return len(self._queue) + sum(slot.job is not None for slot in self._slots)

    def collect(self) -> list[tuple[Candidate, Result]]:
        """Wait for finished evaluations; a dead worker's job is retried or failed, a late one is cut."""
        while True:
            self._dispatch()
            busy = [slot for slot in self._slots if slot.job is not None]
            if not busy:
                return []
            wait_for: float | None = None
            if self.eval_timeout is not None:
                now = time.perf_counter()
                wait_for = max(0.0, min(slot.started + self.eval_timeout - now for slot in busy))
            ready = set(wait([slot.conn for slot in busy] + [slot.process.sentinel for slot in busy], timeout=wait_for))
            finished: list[tuple[Candidate, Result]] = []
            now = time.perf_counter()
            for slot in busy:
                candidate = slot.job
                assert candidate is not None
                if slot.conn in ready or slot.process.sentinel in ready:
                    result = None
                    with contextlib.suppress(EOFError, OSError):
                        if slot.conn.poll():
                            result = slot.conn.recv()
                    if isinstance(result, Result):
                        slot.job = None
                        if slot.attempts > 1:
                            result.metrics["attempts"] = float(slot.attempts)
                        finished.append((candidate, result))
                        continue
                    slot.process.join(timeout=5)
                    how = exit_description(slot.process.exitcode)
                    worker, attempts = f"pool-{slot.process.pid}", slot.attempts
                    self._stop(slot, kill=True)
                    if attempts <= self.retries:
                        self._queue.appendleft((candidate, attempts))
                    else:
                        finished.append((candidate, died_result(candidate.id, how, attempts, worker)))
                elif self.eval_timeout is not None and now - slot.started >= self.eval_timeout:
                    worker = f"pool-{slot.process.pid}"
                    self._stop(slot, kill=True)
                    finished.append((candidate, timeout_result(candidate.id, self.eval_timeout, now - slot.started, worker)))
            if finished:
                self._dispatch()
                return finished

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` in an idle worker (for tests and benchmarks)."""
        slot = next(slot for slot in self._slots if slot.job is None)
        self._send(slot, ("call", fn, args))
        status, value = slot.conn.recv()  # type: ignore[union-attr]
        if status != "ok":
            raise RuntimeError(value)
        return value

    def close(self) -> None:
        """Stop idle workers politely and running ones at once."""
        self._queue.clear()
        for slot in self._slots:
            self._stop(slot, kill=slot.job is not None)


class InProcessExecutor(Executor):
    """Evaluates in the calling process, one candidate after another."""

    workers = 1

    def __init__(self, task_name: str, task_options: dict[str, Any], run_seed: int, task: Task | None = None) -> None:
        if task is None:
            task = make_task(task_name, task_options)
            # A task with state (an FEC cache) gets a private instance, so runs in one process never share it.
            if hasattr(task, "state_dict"):
                task = make_task(task_name, task_options, fresh=True)
        self.task = task
        self.run_seed = run_seed
        self.name = f"local-{os.getpid()}"
        self._queue: deque[Candidate] = deque()

    def evaluate(self, candidates: list[Candidate]) -> list[Result]:
        """Results in submission order; tasks with ``evaluate_columns`` or ``evaluate_batch`` score the whole
        batch in one call (the first as a ``ResultBatch``: columns, no object per individual)."""
        ids = [c.id for c in candidates]
        seeds = evaluation_seeds(self.run_seed, ids)
        columns = getattr(self.task, "evaluate_columns", None)
        batch = getattr(self.task, "evaluate_batch", None)
        if columns is not None and candidates:
            started = time.perf_counter()
            try:
                fitness, metrics = columns([c.genome for c in candidates], seeds)
            except Exception:  # isolate the failing genome(s) one by one, below
                batch = None
            else:
                return ResultBatch(ids, fitness, metrics, (time.perf_counter() - started) / len(candidates), self.name)  # type: ignore[return-value]
        if batch is not None and candidates:
            started = time.perf_counter()
            try:
                scored = batch([c.genome for c in candidates], seeds)
            except Exception:  # isolate the failing genome(s) one by one
                scored = None
            if scored is not None:
                each = (time.perf_counter() - started) / len(candidates)
                return [Result.scored(c.id, fitness, metrics, each, self.name) for c, (fitness, metrics) in zip(candidates, scored)]
        return [evaluate_one(self.task, c.genome, c.id, seed, self.name) for c, seed in zip(candidates, seeds)]

    def submit(self, candidate: Candidate) -> None:
        """Queue one candidate; it runs inside ``collect``."""
        self._queue.append(candidate)

    @property
    def in_flight(self) -> int:
        """Queued candidates."""
        return len(self._queue)

    def collect(self) -> list[tuple[Candidate, Result]]:
        """Evaluate the oldest queued candidate here and now."""
        if not self._queue:
            return []
        candidate = self._queue.popleft()
        return [(candidate, self.evaluate([candidate])[0])]

    def close(self) -> None:
        """Nothing to release."""
        self._queue.clear()


EXECUTORS = ("auto", "local", "pool", "ray")


def check_executor_settings(
    task_name: str, task_options: dict[str, Any], executor: str = "auto", address: str | None = None,
    eval_timeout: float | None = None, retries: int = 1, cpus_per_eval: float = 1.0, gpus_per_eval: float = 0.0,
) -> Task:
    """Refuse executor settings that cannot work (with the fix in the message); returns the task."""
    if executor not in EXECUTORS:
        raise UserError(f"unknown --executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    if eval_timeout is not None and not eval_timeout > 0:
        raise UserError(f"--eval-timeout must be a positive number of seconds, got {eval_timeout}")
    if retries < 0:
        raise UserError(f"--retries must be 0 or more, got {retries}")
    if not (cpus_per_eval > 0 and gpus_per_eval >= 0):
        raise UserError(f"--cpus-per-eval must be positive and --gpus-per-eval at least 0, got {cpus_per_eval} and {gpus_per_eval}")
    if address is not None and executor != "ray":
        raise UserError("--address is for --executor ray; drop it or add --executor ray")
    if executor == "local" and eval_timeout is not None:
        raise UserError("--eval-timeout needs evaluations in worker processes; use --executor pool (or auto) with it")
    task = make_task(task_name, task_options)
    if getattr(task, "in_process", False) and (executor in ("pool", "ray") or eval_timeout is not None):
        what = f"--executor {executor}" if executor in ("pool", "ray") else "--eval-timeout"
        raise UserError(f"{what} does not apply to {task_name!r}: its bulk kernel scores whole batches in this process "
                        f"with numba threads; drop {what} and set the thread count with --workers")
    return task


def make_executor(
    task_name: str, task_options: dict[str, Any], run_seed: int, workers: int, *, executor: str = "auto",
    address: str | None = None, eval_timeout: float | None = None, retries: int = 1, cpus_per_eval: float = 1.0,
    gpus_per_eval: float = 0.0,
) -> Executor:
    """The executor a run asked for.

    ``auto``: in-process for one worker or for bulk-kernel tasks (which use ``workers`` numba threads), a pool
    of spawned processes otherwise (also for one worker when ``eval_timeout`` is set, since only a separate
    process can be stopped mid-evaluation); ``ray`` runs evaluations as Ray tasks.
    """
    task = check_executor_settings(task_name, task_options, executor, address, eval_timeout, retries, cpus_per_eval, gpus_per_eval)
    if getattr(task, "in_process", False):
        import numba

        numba.set_num_threads(max(1, min(workers, numba.config.NUMBA_NUM_THREADS)))
        return InProcessExecutor(task_name, task_options, run_seed)
    if executor == "ray":
        from evonas.ray_executor import RayExecutor

        return RayExecutor(task_name, task_options, run_seed, workers, address=address, eval_timeout=eval_timeout,
                           retries=retries, cpus_per_eval=cpus_per_eval, gpus_per_eval=gpus_per_eval)
    if executor == "local":
        return InProcessExecutor(task_name, task_options, run_seed)
    if executor == "auto" and workers <= 1 and eval_timeout is None:
        return InProcessExecutor(task_name, task_options, run_seed)
    return PoolExecutor(task_name, task_options, run_seed, workers, eval_timeout=eval_timeout, retries=retries)
