"""``evonas bench scheduling``: what the pool and Ray executors cost per evaluation, and what ``--async`` buys."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from evonas import __version__
from evonas.bench_common import log, machine_info


def _candidates(count: int, start: int) -> list[Any]:
    from evonas.core import Candidate
    from evonas.genomes.bitstring import BitSpace
    from evonas.rng import new_generator

    space, rng = BitSpace(), new_generator(start)
    return [Candidate(start + i, None, None, start + i, space.random(rng), None) for i in range(count)]


def executor_overhead(kind: str, workers: int, evaluations: int) -> dict[str, float]:
    """Wall time per evaluation of a trivial task (noisy OneMax, about 10 us) through one executor, after a
    warm-up batch; ``overhead`` is the worker time per evaluation not spent inside the task."""
    from evonas.executors import make_executor

    executor = make_executor("onemax", {}, 0, workers, executor=kind)
    try:
        executor.evaluate(_candidates(4 * workers, 10**6))  # start the workers, import, build the task
        batch = 100
        started = time.perf_counter()
        inside = 0.0
        for first in range(0, evaluations, batch):
            inside += sum(r.eval_seconds for r in executor.evaluate(_candidates(min(batch, evaluations - first), first)))
        wall = time.perf_counter() - started
    finally:
        executor.close()
    return {
        "ms_per_eval": 1e3 * wall / evaluations,
        "overhead_ms_per_eval": 1e3 * (wall * workers - inside) / evaluations,
        "evals_per_s": evaluations / wall,
    }


def async_speedup(workers: int, cycles: int, sleep: float, spread: float, executor: str = "pool") -> dict[str, float]:
    """Search wall time in reproducible mode (batches of ``workers``, each waiting for its slowest member) vs
    ``--async``, when evaluation times spread over ``spread``x (``sleep`` to ``sleep * spread`` seconds)."""
    from evonas.config import RunOptions
    from evonas.executors import make_executor
    from evonas.run import Run

    seconds = {}
    for asynchronous in (False, True):
        config = RunOptions("bitstring", "onemax", "aging", 20, 5, cycles, workers, 0, "cpu", None, None, None, None, None, "cpu",
                              {"sleep": sleep, "sleep_spread": spread}, "full").resolve()
        config.checkpoint_every = 100
        with tempfile.TemporaryDirectory() as tmp:
            run = Run.create(Path(tmp) / "run", config)
            pool = make_executor(config.task, config.task_options, config.seed, workers, executor=executor)
            try:
                pool.evaluate(_candidates(2 * workers, 10**6))  # workers started before the clock
                started = time.perf_counter()
                run.execute(pool, asynchronous=asynchronous)
                seconds["async" if asynchronous else "reproducible"] = time.perf_counter() - started
            finally:
                pool.close()
    return {
        "reproducible_seconds": seconds["reproducible"],
        "async_seconds": seconds["async"],
        "async_speedup": seconds["reproducible"] / seconds["async"],
    }


def bench_scheduling(quick: bool = False, workers: int = 2) -> dict[str, Any]:
    """Executor overhead per evaluation (in-process, pool, Ray when installed) and the --async speed-up."""

    evaluations = 1000 if quick else 5000
    results: dict[str, Any] = {}
    kinds = ["local", "pool"]
    try:
        import ray  # noqa: F401

        kinds.append("ray")
    except ImportError:
        results["ray"] = "not installed (pip install 'evonas[ray]')"
    for kind in kinds:
        log(f"{kind} executor, {evaluations} trivial evaluations on {1 if kind == 'local' else workers} worker(s) ...")
        figures = executor_overhead(kind, 1 if kind == "local" else workers, evaluations)
        results.update({f"{kind}_{k}": round(v, 1 if k == "evals_per_s" else 4) for k, v in figures.items()})
    cycles = 60 if quick else 300
    log(f"aging evolution, {cycles} evaluations of 0.02-0.2 s on {workers} pool workers, reproducible vs --async ...")
    results.update({k: round(v, 3) for k, v in async_speedup(workers, cycles, 0.02, 10.0).items()})
    return {
        "benchmark": "scheduling",
        "evonas": __version__,
        "machine": machine_info(),
        "config": {"quick": quick, "workers": workers, "evaluations": evaluations, "async_cycles": cycles,
                   "async_eval_seconds": [0.02, 0.2], "task": "onemax"},
        "results": results,
    }
