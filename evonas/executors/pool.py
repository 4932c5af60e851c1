"""The pool executor: spawned worker processes, each with its own pipe, one evaluation each at a time."""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing
import os
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from evonas.core import Candidate, Result
from evonas.registry import GENOMES, make_task
from evonas.stop_guard import ignore_ctrl_c
from evonas.tasks.base import Task

from .base import WORKER_ENV, Executor, died_result, evaluate_one, evaluation_seed, exit_description, timeout_result

#: What a pool worker sends when an evaluation itself begins (the task is built, the genome parsed).
STARTED = "started"


def _worker_main(conn: Connection, task_name: str, task_options: dict[str, Any]) -> None:
    """A pool worker: build the task once, then evaluate jobs until told to stop or the driver goes away."""
    os.environ.update(WORKER_ENV)  # before torch is first imported here: OpenMP reads these at load time
    ignore_ctrl_c()  # Ctrl-C reaches the whole process group; the driver decides
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
        genome = GENOMES[kind].from_dict(json.loads(genome_text))
        try:
            conn.send(STARTED)  # --eval-timeout counts from here, not from the worker's start-up
            conn.send(evaluate_one(task, genome, ident, seed, name))
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
    started: float | None = None  # when the worker began the evaluation (None: still starting up)
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
                slot.job, slot.started, slot.attempts = candidate, None, attempts + 1

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
            running = [slot.started for slot in busy if slot.started is not None]
            if self.eval_timeout is not None and running:
                wait_for = max(0.0, min(running) + self.eval_timeout - time.perf_counter())
            ready = set(wait([slot.conn for slot in busy] + [slot.process.sentinel for slot in busy], timeout=wait_for))
            finished: list[tuple[Candidate, Result]] = []
            now = time.perf_counter()
            for slot in busy:
                candidate = slot.job
                assert candidate is not None
                if slot.conn in ready or slot.process.sentinel in ready:
                    result = None
                    with contextlib.suppress(EOFError, OSError):
                        while result is None and slot.conn.poll():
                            message = slot.conn.recv()
                            if message == STARTED:
                                slot.started = now
                            else:
                                result = message
                    if result is None and slot.process.sentinel not in ready and slot.process.is_alive():
                        continue  # only the start notice: the evaluation runs on
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
                elif self.eval_timeout is not None and slot.started is not None and now - slot.started >= self.eval_timeout:
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
