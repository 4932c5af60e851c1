"""Compile a search's kernels once, in this process, before other processes start the same search: a short
search of the same configuration in a scratch folder goes through every compiled path (mutation, the compiled
search loop, evaluation, the fingerprint cache), so that numba writes its cache and the processes started next
load it instead of each compiling the same code at once (which made a first run of the AutoML-Zero demo on two
cores take minutes)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

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
            run.execute(executor)
        finally:
            executor.close()
            run.close()
    seconds = time.perf_counter() - started
    echo(f"kernels ready in {seconds:.1f} s")
    return seconds
