"""Anytime regret of runs on tabular benchmarks (``evonas report`` on several runs): for each group of runs of
one strategy on one benchmark, the mean regret of the architecture a search stopped after t evaluations would
pick (the fittest so far; its test figure against a perfect search's), with a 95 % interval over the runs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from evonas.capabilities import KnowsOptimum
from evonas.config import build_strategy
from evonas.registry import make_task
from evonas.run_folder import LINEAGE_DIR, load_config
from evonas.store import read_lineage

Z95 = 1.959964


def picked_index(fitness: np.ndarray) -> np.ndarray:
    """After each evaluation, the position of the fittest so far (the first among equals; failures never)."""
    scores = np.where(np.isnan(fitness), -np.inf, fitness)
    best_before = np.concatenate(([-np.inf], np.maximum.accumulate(scores)[:-1]))
    improves = scores > best_before
    return np.maximum.accumulate(np.where(improves, np.arange(len(scores)), 0))  # type: ignore[no-any-return]


def regret_curve(run_dir: Path) -> tuple[str, np.ndarray] | None:
    """The group label and the regret after each evaluation of one run, or None when its task knows no optimum."""
    config = load_config(run_dir)
    task = make_task(config.task, config.task_options)
    if not isinstance(task, KnowsOptimum):
        return None
    optimum = task.optimum(build_strategy(config).space)
    table, _ = read_lineage(run_dir / LINEAGE_DIR)
    table = table.select(["id", "fitness", "metrics"]).sort_by("id")
    fitness = np.array([math.nan if f is None else f for f in table.column("fitness").to_pylist()])
    tests = np.array([dict(m or []).get(task.test_metric, math.nan) for m in table.column("metrics").to_pylist()])
    regret = optimum["test"] - tests[picked_index(fitness)]
    options = ", ".join(f"{k}={v}" for k, v in sorted(task.options().items()))
    return f"{config.strategy} on {config.task}" + (f" ({options})" if options else ""), regret


def regret_groups(run_dirs: list[Path]) -> dict[str, list[np.ndarray]]:
    """The regret curves of the runs on tabular benchmarks, grouped by strategy and benchmark (sorted by label)."""
    groups: dict[str, list[np.ndarray]] = {}
    for run_dir in run_dirs:
        curve = regret_curve(run_dir)
        if curve is not None:
            groups.setdefault(curve[0], []).append(curve[1])
    return dict(sorted(groups.items()))


def mean_and_interval(curves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean regret after each evaluation (up to the shortest curve) and its 95 % half-width (NaN for one run)."""
    length = min(len(c) for c in curves)
    stacked = np.stack([c[:length] for c in curves])
    if len(curves) < 2:
        return stacked[0], np.full(length, math.nan)
    return stacked.mean(axis=0), Z95 * stacked.std(axis=0, ddof=1) / math.sqrt(len(curves))
