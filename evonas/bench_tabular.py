"""``evonas bench tabular``: search strategies compared on the tabular benchmarks over many seeds, and the
throughput of a whole aging-evolution run (lineage written) on NAS-Bench-Graph.

Each seed runs every strategy once to the largest budget; the figures at a smaller budget are read from the same
run's first evaluations (the anytime view: a search stopped there would have made exactly those). Per budget it
reports, over seeds, the mean and 95 % interval of the test figure of the best architecture found (best by the
fitness the search saw), its regret to what a perfect search finds, and the share of seeds that found that best.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from evonas import __version__
from evonas.bench_common import log, machine_info
from evonas.config import RunOptions, build_strategy, strategy_option_keys
from evonas.core import ResultBatch
from evonas.errors import UserError
from evonas.registry import family, make_task, strategy_class
from evonas.strategies import STRATEGIES
from evonas.tasks.tabular import TabularTask

DEFAULT_BUDGETS = (50, 100, 200, 500, 1000)
#: Seconds spent inside strategies by ``search_trace`` (a one-element list: reset per strategy by ``compare``).
STRATEGY_SECONDS = [0.0]
Z95 = 1.959964


def _interval(values: np.ndarray) -> dict[str, float]:
    """Mean and the half-width of its normal 95 % interval."""
    n = len(values)
    sd = float(np.std(values, ddof=1)) if n > 1 else math.nan
    return {"mean": float(np.mean(values)), "ci95": Z95 * sd / math.sqrt(n) if n > 1 else math.nan, "sd": sd}


def _share(hits: np.ndarray) -> dict[str, float]:
    """A proportion and its Wilson 95 % interval."""
    n, p = len(hits), float(np.mean(hits))
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return {"share": p, "low": max(0.0, centre - half), "high": min(1.0, centre + half)}


def search_trace(options: RunOptions) -> tuple[np.ndarray, np.ndarray, TabularTask, Any]:
    """One search in memory, as a run does it (the compiled loop where the strategy has one): the fitness and test
    figure of every evaluation in id order, the task and the space. ``STRATEGY_SECONDS`` accumulates the time spent
    in the strategy itself (ask and tell, or the compiled loop), not in lookups."""
    config = options.resolve()
    strategy = build_strategy(config)
    task = make_task(config.task, config.task_options)
    if not isinstance(task, TabularTask):
        raise UserError(f"task {config.task!r} is not a tabular benchmark")
    fitness, test = np.empty(config.cycles), np.empty(config.cycles)
    breeder = strategy.breeder(task, config.batch, config.seed)
    clock = time.perf_counter
    while not strategy.done:
        started = clock()
        bred = breeder.breed() if breeder is not None else None
        if bred is not None:
            results = bred[1]
            STRATEGY_SECONDS[0] += clock() - started
        else:
            candidates = strategy.ask(config.batch)
            asked = clock()
            values, metrics = task.evaluate_columns([c.genome for c in candidates], [0] * len(candidates))
            results = ResultBatch([c.id for c in candidates], values, metrics, 0.0, "")
            looked_up = clock()
            strategy.tell(results, candidates)
            STRATEGY_SECONDS[0] += (asked - started) + (clock() - looked_up)
        ids = np.asarray(results.ids)
        fitness[ids] = results.fitness
        test[ids] = results.metrics[task.test_metric]
    return fitness, test, task, strategy.space


def anytime(fitness: np.ndarray, test: np.ndarray, budgets: tuple[int, ...], optimum: dict[str, float]) -> dict[int, tuple[float, float, bool]]:
    """Per budget: the test figure of the fittest of the first ``budget`` evaluations (the first among equals; a failure
    never counts), its regret to the optimum's test figure, and whether it is as fit as the optimum."""
    scores = np.where(np.isnan(fitness), -np.inf, fitness)
    out = {}
    for budget in budgets:
        k = int(np.argmax(scores[:budget]))
        out[budget] = (float(test[k]), optimum["test"] - float(test[k]), bool(scores[k] >= optimum["fitness"]))
    return out


def _benchmarks(datasets: str, metrics: str) -> list[tuple[str, str, dict[str, Any]]]:
    out = [(f"nasbench-graph/{d}", "graph-macro", {"dataset": d}) for d in datasets.split(",") if d]
    out += [(f"nb201-analog/{m}", "nb201-cell", {"metric": m}) for m in metrics.split(",") if m]
    if not out:
        raise UserError("no benchmark chosen; give -o datasets=cora,... and/or -o metrics=baseline,...")
    return out


def compare(benchmarks: list[tuple[str, str, dict[str, Any]]], strategies: list[str] | None, seeds: int, budgets: tuple[int, ...],
            population: int | None, sample: int | None, batch: int = 1, controller_batch: int = 10) -> dict[str, Any]:
    """Every strategy that can search each benchmark's space, ``seeds`` runs each (seeds 0..seeds-1) to the largest
    budget, summarised per budget."""
    out: dict[str, Any] = {}
    for label, genome, task_options in benchmarks:
        entry: dict[str, Any] = {"strategies": {}}
        for name in strategies or list(STRATEGIES):
            if not strategy_class(name).searches(family(genome).space.from_dict(RunOptions(genome=genome, options=dict(task_options)).resolve().space)):
                log(f"{label}: {name} cannot search {genome} genomes; skipped")
                continue
            keys = strategy_option_keys(name)
            options = RunOptions(genome=genome, strategy=name, preset="paper", cycles=max(budgets),
                                 batch=controller_batch if name == "reinforce" else batch,
                                 population=population if "population" in keys else None,
                                 sample=sample if "sample" in keys else None, options=dict(task_options))
            config = options.resolve()
            # One short search first, so that compiling or loading the strategy's kernels is not timed as its cost.
            search_trace(dataclasses.replace(options, cycles=2 * options.batch))
            started = time.perf_counter()
            STRATEGY_SECONDS[0] = 0.0
            rows: dict[int, list[tuple[float, float, bool]]] = {b: [] for b in budgets}
            optimum: dict[str, float] = {}
            for seed in range(seeds):
                options.seed = seed
                fitness, test, task, space = search_trace(options)
                optimum = optimum or task.optimum(space)
                for budget, row in anytime(fitness, test, budgets, optimum).items():
                    rows[budget].append(row)
            entry["optimum"] = optimum
            summary = {}
            for budget, values in rows.items():
                tests, regrets, found = (np.array(column) for column in zip(*values))
                summary[str(budget)] = {"test": _interval(tests), "regret": _interval(regrets), "found_best": _share(found)}
            per_child = STRATEGY_SECONDS[0] / (seeds * max(budgets)) * 1e6
            entry["strategies"][name] = {"options": config.strategy_options, "batch": config.batch, "budgets": summary,
                                         "strategy_us_per_child": round(per_child, 2)}
            at = summary[str(budgets[-1])]["test"]
            log(f"{label}: {name}: {seeds} seeds in {time.perf_counter() - started:.1f} s ({per_child:.1f} us per child in the "
                f"strategy); at {budgets[-1]}: test {at['mean']:.4f} +/- {at['ci95']:.4f}")
        out[label] = entry
    return out


def run_throughput(strategy: str, cycles: int) -> dict[str, Any]:
    """Evaluations per second of a whole run on NAS-Bench-Graph cora (one process, compact lineage written)."""
    from evonas.executors import InProcessExecutor
    from evonas.run import Run

    config = RunOptions(genome="graph-macro", strategy=strategy, cycles=cycles, preset="cpu", seed=0).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        run = Run.create(Path(tmp) / "run", config)
        executor = InProcessExecutor(config.task, config.task_options, config.seed)
        started = time.perf_counter()
        run.execute(executor)
        seconds = time.perf_counter() - started
        lineage_bytes = sum(p.stat().st_size for p in (Path(tmp) / "run" / "lineage").iterdir())
    log(f"throughput: {strategy}: {cycles} evaluations in {seconds:.2f} s ({cycles / seconds:,.0f}/s)")
    return {"strategy": strategy, "evaluations": cycles, "seconds": round(seconds, 3), "evaluations_per_s": round(cycles / seconds),
            "lineage": config.lineage, "lineage_bytes": lineage_bytes}


def bench_tabular(quick: bool = False, workers: int = 1, seeds: int | None = None, datasets: str = "cora,citeseer,pubmed",
                  metrics: str = "baseline", budgets: str = "50,100,200,500,1000", strategies: str = "",
                  population: int | None = None, sample: int | None = None, controller_batch: int = 10) -> dict[str, Any]:
    """Strategies on the tabular benchmarks (see the module docstring) plus whole-run throughput. ``--quick``: 20 seeds
    and a shorter throughput run. Options (``-o``): seeds, datasets, metrics, budgets, strategies, population, sample."""
    try:
        budget_list = tuple(sorted({int(b) for b in str(budgets).split(",") if b}))
    except ValueError:
        raise UserError(f"budgets must be comma-separated integers, got {budgets!r}") from None
    if not budget_list or budget_list[0] < 1:
        raise UserError(f"budgets must be positive integers, got {budgets!r}")
    chosen = [s for s in str(strategies).split(",") if s] or None
    for name in chosen or []:
        strategy_class(name)  # a UserError now, not after the first benchmark
    seeds = seeds if seeds is not None else (20 if quick else 100)
    if seeds < 2:
        raise UserError(f"seeds must be at least 2 (an interval needs two), got {seeds}")
    results = compare(_benchmarks(str(datasets), str(metrics)), chosen, seeds, budget_list, population, sample,
                      controller_batch=int(controller_batch))
    cycles = 200_000 if quick else 1_000_000
    throughput = [run_throughput("aging", cycles), run_throughput("random", cycles // 10)]
    return {
        "benchmark": "tabular",
        "evonas": __version__,
        "machine": machine_info(),
        "config": {"quick": quick, "seeds": seeds, "budgets": list(budget_list), "datasets": datasets, "metrics": metrics,
                   "population": population, "sample": sample, "preset": "paper", "batch": 1, "reinforce_batch": int(controller_batch)},
        "results": results,
        "throughput": throughput,
    }
