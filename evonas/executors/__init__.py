"""Executors run evaluations and return results in submission order, so lineage never depends on worker count:
in this process, in a pool of spawned processes, or as Ray tasks. ``make_executor`` picks one for a run."""

from __future__ import annotations

import math
from typing import Any

from evonas.errors import UserError
from evonas.registry import make_task
from evonas.tasks.base import Task

from .base import WORKER_ENV, Executor, died_result, evaluate_one, evaluation_seed, evaluation_seeds, timeout_result
from .in_process import InProcessExecutor
from .pool import PoolExecutor, worker_environment

EXECUTORS = ("auto", "local", "pool", "ray")


def check_executor_settings(
    task_name: str, task_options: dict[str, Any], executor: str = "auto", address: str | None = None,
    eval_timeout: float | None = None, retries: int = 1, cpus_per_eval: float = 1.0, gpus_per_eval: float = 0.0,
) -> Task:
    """Refuse executor settings that cannot work (with the fix in the message); returns the task."""
    if executor not in EXECUTORS:
        raise UserError(f"unknown --executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    if eval_timeout is not None and not (math.isfinite(eval_timeout) and eval_timeout > 0):
        raise UserError(f"--eval-timeout must be a positive number of seconds, got {eval_timeout}")
    if retries < 0:
        raise UserError(f"--retries must be 0 or more, got {retries}")
    if not (math.isfinite(cpus_per_eval) and math.isfinite(gpus_per_eval) and cpus_per_eval > 0 and gpus_per_eval >= 0):
        raise UserError(f"--cpus-per-eval must be positive and --gpus-per-eval at least 0, got {cpus_per_eval} and {gpus_per_eval}")
    if address is not None and executor != "ray":
        raise UserError("--address is for --executor ray; drop it or add --executor ray")
    if executor == "local" and eval_timeout is not None:
        raise UserError("--eval-timeout needs evaluations in worker processes; use --executor pool (or auto) with it")
    task = make_task(task_name, task_options)
    if task.in_process and (executor in ("pool", "ray") or eval_timeout is not None):
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
    if task.in_process:
        import numba

        numba.set_num_threads(max(1, min(workers, numba.config.NUMBA_NUM_THREADS)))
        return InProcessExecutor(task_name, task_options, run_seed)
    if executor == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(task_name, task_options, run_seed, workers, address=address, eval_timeout=eval_timeout,
                           retries=retries, cpus_per_eval=cpus_per_eval, gpus_per_eval=gpus_per_eval)
    if executor == "local":
        return InProcessExecutor(task_name, task_options, run_seed)
    if executor == "auto" and workers <= 1 and eval_timeout is None:
        return InProcessExecutor(task_name, task_options, run_seed)
    return PoolExecutor(task_name, task_options, run_seed, workers, eval_timeout=eval_timeout, retries=retries)


__all__ = ["EXECUTORS", "WORKER_ENV", "Executor", "InProcessExecutor", "PoolExecutor", "check_executor_settings", "died_result",
           "evaluate_one", "evaluation_seed", "evaluation_seeds", "make_executor", "timeout_result", "worker_environment"]
