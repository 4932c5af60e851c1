"""Ray executor: evaluations as Ray tasks on a local instance or a cluster (the optional ``evonas[ray]`` extra).

The task (datasets included) is put in the object store once; every evaluation gets a reference to it, so
a cluster node fetches the data once, not with every candidate. Ray's own task retries are switched off:
this executor retries a candidate whose worker died itself, so that pool and Ray follow one rule and the
lineage records the attempts.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from evonas.core import Candidate, Result
from evonas.errors import UserError
from evonas.registry import GENOMES, make_task
from evonas.tasks.base import Task

from .base import WORKER_ENV, Executor, died_result, evaluate_one, evaluation_seed, timeout_result


def _ray_module() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError("--executor ray needs Ray: pip install 'evonas[ray]' (or pick --executor pool)") from None
    return ray


#: How long past ``--eval-timeout`` the driver waits before it cancels a Ray task itself: the task's own timer
#: (which starts once the worker has started and fetched the task) ends a hang in Python code; the driver's
#: only ends what that timer cannot interrupt (a hang inside compiled code) or a worker that never starts.
START_GRACE_SECONDS = 60.0


class _EvaluationTimeout(BaseException):
    """Raised in a Ray task by its own timer (a BaseException, so the task's ``except Exception`` passes it on)."""


def ray_evaluate(task: Task, kind: str, genome_text: str, ident: int, seed: int, eval_timeout: float | None = None) -> Result:
    """Body of one Ray task: evaluate a genome against the task fetched from the object store, cut at
    ``eval_timeout`` seconds of evaluation (the worker's start-up and the task's fetch are not counted)."""
    import signal
    import socket

    worker = f"ray-{socket.gethostname()}-{os.getpid()}"
    genome = GENOMES[kind].from_dict(json.loads(genome_text))
    if eval_timeout is None or threading.current_thread() is not threading.main_thread():
        # a timer needs the worker's main thread (where Ray runs plain tasks); elsewhere the driver's backstop applies
        return evaluate_one(task, genome, ident, seed, worker)

    def expire(signum: int, frame: Any) -> None:
        raise _EvaluationTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    started = time.perf_counter()
    try:
        signal.setitimer(signal.ITIMER_REAL, eval_timeout)
        try:
            return evaluate_one(task, genome, ident, seed, worker)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _EvaluationTimeout:
        return timeout_result(ident, eval_timeout, time.perf_counter() - started, worker)
    finally:
        signal.signal(signal.SIGALRM, previous)


@dataclass
class _Job:
    """A candidate's running Ray task."""

    candidate: Candidate
    started: float
    attempts: int


class RayExecutor(Executor):
    """Evaluations as Ray tasks: ``workers`` at a time, each asking ``cpus_per_eval`` CPUs and ``gpus_per_eval`` GPUs."""

    def __init__(
        self, task_name: str, task_options: dict[str, Any], run_seed: int, workers: int, address: str | None = None,
        eval_timeout: float | None = None, retries: int = 1, cpus_per_eval: float = 1.0, gpus_per_eval: float = 0.0,
    ) -> None:
        ray = _ray_module()
        self.ray = ray
        self.run_seed = run_seed
        self.workers = workers
        self.eval_timeout = eval_timeout
        self.retries = retries
        self._hard_limit = math.inf if eval_timeout is None else eval_timeout + START_GRACE_SECONDS
        self._started_ray = False
        if not ray.is_initialized():
            try:
                if address is None:  # a private local instance sized to --workers
                    ray.init(num_cpus=max(workers, int(cpus_per_eval * workers + 0.999)), include_dashboard=False,
                             log_to_driver=False, logging_level=logging.ERROR, runtime_env={"env_vars": dict(WORKER_ENV)})
                else:
                    ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR,
                             runtime_env={"env_vars": dict(WORKER_ENV)})
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = f"the Ray cluster at {address}" if address else "a local Ray instance"
                raise UserError(f"cannot start or reach {where} ({str(exc).splitlines()[0]}); check --address or run 'ray start --head'") from None
            self._started_ray = True
        self.name = f"ray x{workers}" + (f" at {address}" if address else "")
        self._task_ref = ray.put(make_task(task_name, task_options))  # once: every evaluation shares this copy
        self._remote = ray.remote(ray_evaluate).options(num_cpus=cpus_per_eval, num_gpus=gpus_per_eval, max_retries=0)
        self._queue: list[tuple[Candidate, int]] = []
        self._running: dict[Any, _Job] = {}

    def _dispatch(self) -> None:
        while self._queue and len(self._running) < self.workers:
            candidate, attempts = self._queue.pop(0)
            ref = self._remote.remote(self._task_ref, candidate.genome.kind, json.dumps(candidate.genome.to_dict()),
                                      candidate.id, evaluation_seed(self.run_seed, candidate.id), self.eval_timeout)
            self._running[ref] = _Job(candidate, time.perf_counter(), attempts + 1)

    def submit(self, candidate: Candidate) -> None:
        """Queue one candidate; at most ``workers`` Ray tasks run at once."""
        self._queue.append((candidate, 0))
        self._dispatch()

    @property
    def in_flight(self) -> int:
        """Queued plus running candidates."""
        return len(self._queue) + len(self._running)

    def collect(self) -> list[tuple[Candidate, Result]]:
        """Wait for finished Ray tasks; a lost worker's candidate is retried or failed, a late one is cancelled."""
        ray = self.ray
        while True:
            self._dispatch()
            if not self._running:
                return []
            wait_for = None
            if self.eval_timeout is not None:
                now = time.perf_counter()
                wait_for = max(0.0, min(job.started + self._hard_limit - now for job in self._running.values()))
            ready, _ = ray.wait(list(self._running), num_returns=1, timeout=wait_for)
            if ready:  # take every other finished one too, without waiting
                ready, _ = ray.wait(list(self._running), num_returns=len(self._running), timeout=0)
            finished: list[tuple[Candidate, Result]] = []
            for ref in ready:
                job = self._running.pop(ref)
                try:
                    result = ray.get(ref)
                except (ray.exceptions.WorkerCrashedError, ray.exceptions.OutOfMemoryError, ray.exceptions.NodeDiedError,
                        ray.exceptions.ObjectLostError) as exc:
                    if job.attempts <= self.retries:
                        self._queue.insert(0, (job.candidate, job.attempts))
                        continue
                    how = type(exc).__name__ + (": out of memory" if isinstance(exc, ray.exceptions.OutOfMemoryError) else "")
                    result = died_result(job.candidate.id, how, job.attempts, "ray")
                except ray.exceptions.RayError as exc:  # e.g. the genome or task could not be sent
                    first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
                    result = Result(job.candidate.id, float("nan"), "failed", f"Ray could not run the evaluation: {first}", {}, 0.0, "ray")
                if job.attempts > 1:
                    result.metrics["attempts"] = float(job.attempts)
                finished.append((job.candidate, result))
            if self.eval_timeout is not None:
                now = time.perf_counter()
                for ref, job in list(self._running.items()):
                    if now - job.started >= self._hard_limit:
                        ray.cancel(ref, force=True)  # kills the worker process that runs it
                        del self._running[ref]
                        finished.append((job.candidate, timeout_result(job.candidate.id, self.eval_timeout, now - job.started, "ray")))
            if finished:
                self._dispatch()
                return finished

    def close(self) -> None:
        """Cancel what still runs; shut Ray down if this executor started it."""
        for ref in list(self._running):
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # noqa: S110 - already finished or gone: nothing to cancel
                pass
        self._running.clear()
        self._queue.clear()
        if self._started_ray:
            self.ray.shutdown()
            self._started_ray = False
