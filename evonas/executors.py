"""Executors run evaluations and return results in submission order, so lineage never depends on worker count."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from evonas.genomes import GENOMES, Genome
from evonas.rng import EVALUATE, derive_seed
from evonas.strategies import Candidate, Result
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


def _as_result(ident: int, fitness: float, metrics: dict[str, float], seconds: float, worker: str) -> Result:
    if math.isfinite(fitness):
        return Result(ident, fitness, "ok", "", metrics, seconds, worker)
    return Result(ident, math.nan, "failed", f"fitness is {fitness}", metrics, seconds, worker)


def evaluation_seed(run_seed: int, ident: int) -> int:
    """The seed an individual is evaluated with: a function of (run seed, id) only."""
    return derive_seed(run_seed, EVALUATE, ident)


class InProcessExecutor:
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

    def evaluate(self, candidates: list[Candidate]) -> list[Result]:
        """Results in submission order; tasks with ``evaluate_batch`` score the whole batch in one call."""
        seeds = [evaluation_seed(self.run_seed, c.id) for c in candidates]
        batch = getattr(self.task, "evaluate_batch", None)
        if batch is not None and candidates:
            started = time.perf_counter()
            try:
                scored = batch([c.genome for c in candidates], seeds)
            except Exception:  # isolate the failing genome(s) one by one
                scored = None
            if scored is not None:
                each = (time.perf_counter() - started) / len(candidates)
                return [_as_result(c.id, fitness, metrics, each, self.name) for c, (fitness, metrics) in zip(candidates, scored)]
        return [evaluate_one(self.task, c.genome, c.id, seed, self.name) for c, seed in zip(candidates, seeds)]

    def close(self) -> None:
        """Nothing to release."""


def _init_worker() -> None:
    # Set before torch is first imported in the worker: OpenMP reads these at load time.
    os.environ.update(WORKER_ENV)


def _pool_job(task_name: str, task_options: dict[str, Any], kind: str, genome_json: str, ident: int, seed: int) -> Result:
    task = make_task(task_name, task_options)
    genome = GENOMES[kind].from_dict(json.loads(genome_json))
    return evaluate_one(task, genome, ident, seed, f"pool-{os.getpid()}")


def worker_environment() -> dict[str, str]:
    """The thread settings a pool worker sees (used by tests to check the one-thread rule)."""
    import torch

    return {**{k: os.environ.get(k, "") for k in WORKER_ENV}, "torch_threads": str(torch.get_num_threads())}


class PoolExecutor:
    """A local pool of spawned worker processes, one intra-op thread each; results folded in submission order."""

    def __init__(self, task_name: str, task_options: dict[str, Any], run_seed: int, workers: int) -> None:
        self.task_name = task_name
        self.task_options = task_options
        self.run_seed = run_seed
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker
            )
        return self._pool

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` in a worker (for tests and benchmarks)."""
        return self._get_pool().submit(fn, *args).result()

    def evaluate(self, candidates: list[Candidate]) -> list[Result]:
        """Results in submission order; a worker that dies fails its evaluations, and the pool is restarted."""
        pool = self._get_pool()
        futures = [
            pool.submit(
                _pool_job, self.task_name, self.task_options, c.genome.kind,
                json.dumps(c.genome.to_dict()), c.id, evaluation_seed(self.run_seed, c.id),
            )
            for c in candidates
        ]
        results = []
        broken = False
        for c, future in zip(candidates, futures):
            try:
                results.append(future.result())
            except BrokenProcessPool:
                broken = True
                results.append(Result(c.id, math.nan, "failed", "worker process died during evaluation"))
        if broken:
            self.close()
        return results

    def close(self) -> None:
        """Shut the workers down."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def make_executor(task_name: str, task_options: dict[str, Any], run_seed: int, workers: int) -> InProcessExecutor | PoolExecutor:
    """In-process for one worker or for bulk-kernel tasks (which use ``workers`` numba threads), a spawned pool otherwise."""
    task = make_task(task_name, task_options)
    if getattr(task, "in_process", False):
        import numba

        numba.set_num_threads(max(1, min(workers, numba.config.NUMBA_NUM_THREADS)))
        return InProcessExecutor(task_name, task_options, run_seed)
    if workers <= 1:
        return InProcessExecutor(task_name, task_options, run_seed)
    return PoolExecutor(task_name, task_options, run_seed, workers)
