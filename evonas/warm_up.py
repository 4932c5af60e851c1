"""Compile a search's kernels once, in this process, before other processes start the same search: a short
search of the same configuration in a scratch folder goes through every compiled path (mutation, the compiled
search loop, evaluation, the fingerprint cache), so that numba writes its cache and the processes started next
load it instead of each compiling the same code at once (which made a first run of the AutoML-Zero demo on two
cores take minutes).

Where the search has a compiled loop that can be compiled apart from evaluation (``CompilesLoopAhead``), the two
compile at once: a spawned process evaluates the initial population (compiling the interpreter), while this one
compiles the loop; the short search then loads both from the cache.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from evonas.capabilities import CompilesLoopAhead
from evonas.config import RunConfig


def warm_up(config: RunConfig, echo: Callable[[str], None]) -> float:
    """Run a few batches past the initial population of ``config`` in a scratch folder, in this process, on one
    thread; says what it does and how long it took. Returns the seconds spent."""
    from evonas.executors import make_executor
    from evonas.run import Run

    started = time.perf_counter()
    echo("preparing compiled kernels (compiled once per machine on a first run, loaded from the cache after) ...")
    population = int(config.strategy_options.get("population", 0) or 0)
    small = replace(config, cycles=population + 2 * config.batch, max_seconds=None, checkpoint_every=10**9, protocol=None)
    with tempfile.TemporaryDirectory(prefix="evonas-warm-up-") as scratch:
        run = Run.create(Path(scratch) / "run", small)
        executor = make_executor(small.task, small.task_options, small.seed, 1)
        try:
            breeder = run.breeder(executor)
            if isinstance(breeder, CompilesLoopAhead):
                evaluation = _start_evaluation(replace(small, cycles=max(population, 1)), Path(scratch) / "evaluation")
                try:
                    breeder.compile_loop()
                except BaseException:
                    evaluation.terminate()  # a stop (Ctrl-C) or a failure here need not wait for the other process
                    raise
                finally:
                    evaluation.join()
            run.execute(executor)
        finally:
            executor.close()
            run.close()
    seconds = time.perf_counter() - started
    echo(f"kernels ready in {seconds:.1f} s")
    return seconds


def _start_evaluation(config: RunConfig, folder: Path) -> multiprocessing.process.BaseProcess:
    """A spawned process that runs ``config`` (its initial population only) in ``folder``, compiling the
    evaluation kernels into numba's cache. Its failure costs nothing but time: the short search that follows
    compiles whatever it did not, and reports any real error itself."""
    process = multiprocessing.get_context("spawn").Process(target=_evaluate, args=(config.to_json(), str(folder)), daemon=True)
    process.start()
    return process


def _evaluate(config_json: str, folder: str) -> None:
    """The spawned side of ``_start_evaluation``: one thread, no progress, no output."""
    from evonas.executors import make_executor
    from evonas.run import Run

    config = RunConfig.from_json(config_json)
    run = Run.create(Path(folder), config)
    executor = make_executor(config.task, config.task_options, config.seed, 1)
    try:
        run.execute(executor)
    finally:
        executor.close()
        run.close()
