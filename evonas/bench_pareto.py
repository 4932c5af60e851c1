"""``evonas bench pareto``: how much of NAS-Bench-Graph's exact Pareto front (validation performance up, latency
down, computed from the whole table) a multi-objective search recovers, as the hypervolume of the front it found
over the exact front's, per budget, over seeds, for NSGA-II, Pareto aging evolution and random search."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from evonas import __version__
from evonas.bench_common import log, machine_info
from evonas.bench_tabular import _interval
from evonas.config import RunOptions, build_strategy, strategy_option_keys
from evonas.core import ResultBatch
from evonas.errors import UserError
from evonas.objectives import ObjectiveSet
from evonas.pareto import hypervolume, nondominated
from evonas.registry import make_task
from evonas.tasks.tabular import TabularTask

OBJECTIVES = ["fitness:max", "latency:min"]


def exact_front(task: TabularTask, space: Any, objectives: ObjectiveSet) -> tuple[np.ndarray, np.ndarray]:
    """The table's exact front (rows to minimise) and its nadir, over every valid genome of the space."""
    codes = space.rules.candidates
    fitness, metrics = task.table.lookup(codes)
    rows, _ = objectives.rows(ResultBatch(codes.tolist(), fitness, metrics, 0.0, ""))
    rows = rows[~np.isnan(rows).any(axis=1)]
    return rows[nondominated(rows)], rows.max(axis=0)


def trace_rows(options: RunOptions) -> tuple[np.ndarray, TabularTask, Any, ObjectiveSet]:
    """One multi-objective search in memory: the objective rows of every evaluation in id order."""
    config = options.resolve()
    strategy = build_strategy(config)
    objectives = strategy.objectives
    assert objectives is not None
    task = make_task(config.task, config.task_options)
    if not isinstance(task, TabularTask):
        raise UserError(f"task {config.task!r} is not a tabular benchmark")
    rows = np.full((config.cycles, len(objectives.objectives)), np.nan)
    while not strategy.done:
        candidates = strategy.ask(config.batch)
        values, metrics = task.evaluate_columns([c.genome for c in candidates], [0] * len(candidates))
        results = ResultBatch([c.id for c in candidates], values, metrics, 0.0, "")
        strategy.tell(results, candidates)
        rows[[c.id for c in candidates]] = objectives.rows(results)[0]
    return rows, task, strategy.space, objectives


def bench_pareto(quick: bool = False, workers: int = 1, seeds: int | None = None, datasets: str = "cora,citeseer,pubmed",
                 budgets: str = "100,200,500", strategies: str = "nsga2,aging,random", population: int = 20, sample: int = 5) -> dict[str, Any]:
    """Hypervolume fraction of the exact front per budget (mean and 95 % interval over seeds). ``--quick``: 5 seeds.
    Options (``-o``): seeds, datasets, budgets, strategies, population, sample."""
    budget_list = tuple(sorted({int(b) for b in str(budgets).split(",") if b}))
    names = [s for s in str(strategies).split(",") if s]
    seeds = seeds if seeds is not None else (5 if quick else 20)
    results: dict[str, Any] = {}
    for dataset in [d for d in str(datasets).split(",") if d]:
        entry: dict[str, Any] = {"strategies": {}}
        for name in names:
            started = time.perf_counter()
            fractions: dict[int, list[float]] = {b: [] for b in budget_list}
            for seed in range(seeds):
                options = RunOptions(genome="graph-macro", strategy=name, cycles=max(budget_list), batch=1, seed=seed, preset="paper",
                                     population=population if "population" in strategy_option_keys(name) else None,
                                     sample=sample if "sample" in strategy_option_keys(name) else None,
                                     objectives=list(OBJECTIVES), options={"dataset": dataset})
                rows, task, space, objectives = trace_rows(options)
                if "front_points" not in entry:
                    front, nadir = exact_front(task, space, objectives)
                    entry.update({"front_points": len(front), "nadir": nadir.tolist(), "exact_hypervolume": hypervolume(front, nadir)})
                nadir = np.array(entry["nadir"])
                for budget in budget_list:
                    seen = rows[:budget]
                    seen = seen[~np.isnan(seen).any(axis=1)]
                    fractions[budget].append(hypervolume(seen[nondominated(seen)], nadir) / entry["exact_hypervolume"])
            entry["strategies"][name] = {str(b): _interval(np.array(v)) for b, v in fractions.items()}
            last = entry["strategies"][name][str(budget_list[-1])]
            log(f"{dataset}: {name}: {seeds} seeds in {time.perf_counter() - started:.1f} s; hypervolume fraction at {budget_list[-1]}: "
                f"{last['mean']:.4f} +/- {last['ci95']:.4f}")
        results[dataset] = entry
    return {
        "benchmark": "pareto",
        "evonas": __version__,
        "machine": machine_info(),
        "config": {"quick": quick, "seeds": seeds, "budgets": list(budget_list), "datasets": datasets, "objectives": OBJECTIVES,
                   "strategies": names, "population": population, "sample": sample, "batch": 1,
                   "reference_point": "the table's nadir (worst validation and latency over the space)"},
        "results": results,
    }
