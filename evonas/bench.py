"""Benchmarks behind ``evonas bench NAME``: each returns one JSON-safe dict (DESIGN.md, "Benchmarks")."""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from evonas import __version__
from evonas.bench_common import log, machine_info
from evonas.bench_neat import bench_neat, bench_neat_dpnv
from evonas.bench_pareto import bench_pareto
from evonas.bench_scheduling import bench_scheduling
from evonas.bench_tabular import bench_tabular


def plain_training_loop(ir: Any, macro: Any, data: Any, images: int, batch_size: int, seed: int) -> float:
    """The reference: a textbook single-process torch loop (NCHW, default settings) on the same net; returns images/s."""
    import torch
    import torch.nn.functional as F

    from evonas.kernels.torchnet import build_module

    torch.manual_seed(seed)
    model = build_module(ir, macro)
    steps = max(1, images // batch_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=3e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=steps)
    model.train()
    started = time.perf_counter()
    for step in range(steps):
        idx = torch.arange(step * batch_size, (step + 1) * batch_size) % len(data.train_x)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(data.train_x[idx]), data.train_y[idx])
        loss.backward()
        optimizer.step()
        schedule.step()
    return steps * batch_size / (time.perf_counter() - started)


def proxy_throughput(quick: bool) -> dict[str, Any]:
    """Training images/s per worker (one thread) for the default preset, ours vs the plain loop, same architectures."""
    import torch

    from evonas.families.amoeba import PRESETS
    from evonas.genomes.amoeba import AmoebaSpace, amoebanet_a
    from evonas.kernels.torchnet import configure_worker_threads, train_proxy
    from evonas.registry import make_task

    configure_worker_threads()
    torch.set_num_threads(1)
    task = make_task("fashion-mnist", PRESETS["cpu"]["task_options"])
    data = task.splits()
    images = 512 if quick else 1536
    rng = np.random.default_rng(2024)
    genomes = [amoebanet_a()] + [AmoebaSpace().random(rng) for _ in range(2 if quick else 5)]
    ours_seconds = ref_seconds = 0.0
    ours_images = ref_images = 0
    budget = task.budget(len(data.train_x))
    budget = type(budget)(**{**budget.to_dict(), "train_images": images})
    # Warm both paths once so that one-off allocator and oneDNN setup cost is not charged to either.
    train_proxy(genomes[0].lower(), task.macro, data, type(budget)(**{**budget.to_dict(), "train_images": 128}), 0)
    plain_training_loop(genomes[0].lower(), task.macro, data, 256, 128, 0)
    for i, genome in enumerate(genomes):
        ir = genome.lower()
        metrics = train_proxy(ir, task.macro, data, budget, seed=i)
        ours_seconds += metrics["train_seconds"]
        ours_images += budget.train_images
        rate = plain_training_loop(ir, task.macro, data, images, 128, seed=i)
        ref_seconds += images / rate
        ref_images += images
        log(f"  arch {i}: ours {metrics['train_images_per_s']:.0f} img/s, plain loop {rate:.0f} img/s")
    ours = ours_images / ours_seconds
    ref = ref_images / ref_seconds
    return {
        "images_per_s": round(ours, 1),
        "images_per_s_reference": round(ref, 1),
        "images_per_s_ratio": round(ours / ref, 3),
        "architectures": len(genomes),
        "images_per_architecture": images,
    }


def search_throughput(quick: bool, workers: int, genome: str = "amoeba") -> dict[str, Any]:
    """Architectures/hour of a real default-preset search (proxy training + validation) on ``workers`` processes."""
    from evonas.config import RunOptions
    from evonas.executors import make_executor
    from evonas.run import Run

    cycles = 8 if quick else 24
    config = RunOptions(genome, None, None, None, None, cycles, max(4, workers), 0, "cpu", None, None, None, None, None, "cpu").resolve()
    with tempfile.TemporaryDirectory() as tmp:
        run = Run.create(Path(tmp) / "run", config)
        executor = make_executor(config.task, config.task_options, config.seed, workers)
        try:
            started = time.perf_counter()
            run.execute(executor)
            elapsed = time.perf_counter() - started
        finally:
            executor.close()
    return {"archs_per_hour": round(cycles / elapsed * 3600, 1), "workers": workers, "architectures_evaluated": cycles, "search_seconds": round(elapsed, 1)}


def engine_overhead(quick: bool) -> dict[str, Any]:
    """Children/s through ask -> evaluate -> tell -> lineage -> checkpoint with a trivial evaluation (noisy OneMax)."""
    from evonas.config import RunOptions
    from evonas.executors import make_executor
    from evonas.run import Run

    out: dict[str, Any] = {}
    cycles = 20_000 if quick else 200_000
    for batch in (1, 100):
        config = RunOptions("bitstring", "onemax", "aging", 100, 25, cycles, batch, 0, "cpu", None, None, None, None, 10_000, "cpu").resolve()
        with tempfile.TemporaryDirectory() as tmp:
            run = Run.create(Path(tmp) / "run", config)
            executor = make_executor(config.task, config.task_options, config.seed, 1)
            started = time.perf_counter()
            run.execute(executor)
            elapsed = time.perf_counter() - started
            rows = sum(1 for _ in (Path(tmp) / "run" / "lineage").glob("part-*.arrow"))
        out[f"children_per_s_batch_{batch}"] = round(cycles / elapsed, 1)
        log(f"  batch {batch}: {cycles / elapsed:,.0f} children/s ({rows} lineage parts)")
    out["children_per_s"] = max(out["children_per_s_batch_1"], out["children_per_s_batch_100"])
    out["children"] = cycles
    return out


def bench_amoeba(quick: bool = False, workers: int = 2) -> dict[str, Any]:
    """Proxy throughput vs a plain loop, architectures/hour, and engine overhead."""
    log("engine overhead (noisy OneMax, in-process) ...")
    engine = engine_overhead(quick)
    log("proxy training throughput, one thread, ours vs plain loop ...")
    proxy = proxy_throughput(quick)
    log(f"default-preset search on {workers} worker(s) ...")
    search = search_throughput(quick, workers)
    results = {**proxy, **search, **engine}
    return {
        "benchmark": "amoeba",
        "evonas": __version__,
        "machine": machine_info(),
        "config": {"preset": "cpu", "quick": quick, "workers": workers},
        "results": {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in results.items()},
    }


def bench_search_quality(quick: bool = False, workers: int = 2, seeds: int = 5, cycles: int | None = None,
                         population: int | None = None, sample: int | None = None, train_images: int | None = None,
                         genome: str = "amoeba", strategies: tuple[str, ...] = ("aging", "random")) -> dict[str, Any]:
    """Strategies at equal budget on the default task (aging vs random for amoeba): best validation accuracy and
    that model's test accuracy, mean and sd over seeds. Slow: ``seeds`` default-preset searches per strategy (``--quick``: smoke)."""
    from evonas.config import RunOptions
    from evonas.executors import make_executor
    from evonas.registry import make_task
    from evonas.run import Run

    preset = "smoke" if quick else "cpu"
    results: dict[str, Any] = {}
    from evonas.config import strategy_option_keys

    for strategy in strategies:
        val, test = [], []
        keys = strategy_option_keys(strategy)  # random search has no population or sample: only the budget is shared
        own_population = population if "population" in keys else None
        own_sample = sample if "sample" in keys else None
        for seed in range(seeds):
            config = RunOptions(genome, None, strategy, own_population, own_sample, cycles, None, seed, preset, None, None, train_images, None, None, "cpu").resolve()
            with tempfile.TemporaryDirectory() as tmp:
                run = Run.create(Path(tmp) / "run", config)
                executor = make_executor(config.task, config.task_options, config.seed, min(workers, config.batch))
                try:
                    best = run.execute(executor)
                finally:
                    executor.close()
            assert best is not None
            report = make_task(config.task, config.task_options).report(best.genome, run.seed_of(best.id))
            val.append(best.fitness)
            test.append(report["test_accuracy"])
            log(f"  {strategy} seed {seed}: val {best.fitness:.4f} test {report['test_accuracy']:.4f}")
        results[f"{strategy}_val_accuracy_mean"] = round(float(np.mean(val)), 4)
        results[f"{strategy}_val_accuracy_sd"] = round(float(np.std(val, ddof=1)), 4)
        results[f"{strategy}_test_accuracy_mean"] = round(float(np.mean(test)), 4)
        results[f"{strategy}_test_accuracy_sd"] = round(float(np.std(test, ddof=1)), 4)
        results[f"{strategy}_val_accuracy_per_seed"] = val
        results[f"{strategy}_test_accuracy_per_seed"] = test
    return {
        "benchmark": "search-quality" if genome == "amoeba" else f"{genome}-search-quality",
        "evonas": __version__,
        "machine": machine_info(),
        "config": {"genome": genome, "strategies": list(strategies), "preset": preset, "seeds": seeds, "workers": workers, "cycles": cycles, "population": population,
                   "sample": sample, "train_images": train_images},
        "results": results,
    }


class _ConstantTask:
    """A task that scores every program 0.5 without running it: isolates the search loop's own cost."""

    name = "constant"
    train_steps = 0

    def evaluate_batch(self, genomes: list[Any], seeds: list[int]) -> list[tuple[float, dict[str, float]]]:
        return [(0.5, {})] * len(genomes)

    def evaluate_columns(self, genomes: list[Any], seeds: list[int]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return np.full(len(genomes), 0.5), {}


class _ConstantProgramTask(_ConstantTask):
    """``_ConstantTask`` that also offers the compiled search loop, run with evaluation switched off."""

    def breeder(self, strategy: Any, batch: int, run_seed: int, worker: str = "") -> Any:
        from evonas.families.automl_zero.search import ProgramBreeder
        from evonas.families.automl_zero.tasks import ProgramTaskSet

        return ProgramBreeder(ProgramTaskSet(fec=False), strategy, batch, run_seed, worker, evaluate=False)


def _random_batch(space_overrides: dict[str, Any], count: int, seed: int) -> Any:
    from evonas.genomes.automl_zero import ProgramSpace, to_batch
    from evonas.kernels.program_cpu import prune_batch

    space = ProgramSpace.from_dict({**ProgramSpace().to_dict(), **space_overrides})
    rng = np.random.default_rng(seed)
    return prune_batch(to_batch([space.random(rng) for _ in range(count)], eliminate_dead=False))


def _early_search_batch(space_overrides: dict[str, Any], count: int, mutations: int, seed: int) -> Any:
    """Programs as early in an S10 search: empty programs after a few mutations (what [M]'s 18.5M steps/s timed)."""
    from evonas.genomes.automl_zero import ProgramSpace, to_batch
    from evonas.kernels.program_cpu import prune_batch

    space = ProgramSpace.from_dict({**ProgramSpace().to_dict(), **space_overrides, "mutate_prob": 1.0})
    rng = np.random.default_rng(seed)
    genomes = []
    for _ in range(count):
        genome = space.initial(rng)
        for _ in range(mutations):
            genome, _ = space.mutate(genome, rng)
        genomes.append(genome)
    return prune_batch(to_batch(genomes, eliminate_dead=False))


def _kernel_rate(batch: Any, tasks: Any, repeats: int, run: Any = None) -> tuple[float, float]:
    """Best of ``repeats``: programs/s and train steps/s of one kernel call (``run``: the CPU kernel by default)."""
    from evonas.kernels.program_cpu import run_programs

    run = run or run_programs
    seeds = np.arange(len(batch), dtype=np.uint64)
    run(batch, tasks, seeds)  # warm (loads or compiles the kernel)
    best = math.inf
    steps = 0
    for _ in range(repeats):
        started = time.perf_counter()
        _, used, _ = run(batch, tasks, seeds)
        best = min(best, time.perf_counter() - started)
        steps = int(used.sum())
    return len(batch) / best, steps / best


def _gpu_kernel_rates(results: dict[str, Any], batches: dict[str, tuple[Any, Any]]) -> None:
    """The same kernel figures on the GPU (one launch per batch, transfers included) and the ratio to one core."""
    from evonas.kernels.cuda_support import gpu_name
    from evonas.kernels.program_cuda import run_programs_cuda

    results["gpu"] = gpu_name() or "CUDA simulator"
    for name, (batch, tasks) in batches.items():
        log(f"kernel on the GPU, {name} ...")
        rate, steps = _kernel_rate(batch, tasks, 3, run_programs_cuda)
        results[f"{name}_evals_per_s_gpu"] = round(rate, 1)
        results[f"{name}_train_steps_per_s_gpu"] = round(steps, 1)
        results[f"{name}_gpu_vs_one_core"] = round(steps / results[f"{name}_train_steps_per_s"], 2)


def bench_automl_zero(quick: bool = False, workers: int = 2, device: str = "cpu") -> dict[str, Any]:
    """Kernel evaluations/s and train steps/s on one core (and on the GPU with ``device`` cuda), the search loop
    without evaluation, and the demo search's individuals/s with FEC on one and on ``workers`` threads."""
    import numba

    from evonas.config import RunOptions
    from evonas.executors import make_executor
    from evonas.families.automl_zero import PROGRAM_TASKS
    from evonas.families.automl_zero.tasks import build_task_arrays
    from evonas.kernels.cuda_support import resolve_device
    from evonas.run import Run

    target = resolve_device(device, log)
    results: dict[str, Any] = {}
    numba.set_num_threads(1)
    demo_space = PROGRAM_TASKS["linear-regression"]["space"]
    log("kernel, demo configuration (10 tasks x 100/100, F=4, FEC off), one core ...")
    demo_tasks = build_task_arrays("linear", 10, 4, 100, 100, seed=1)
    # Programs drawn the way the search draws its children: mutants of random programs.
    demo_batch = _random_batch(demo_space, 2000 if quick else 20000, 0)
    rate, steps = _kernel_rate(demo_batch, demo_tasks, 3)
    results["demo_evals_per_s"] = round(rate, 1)
    results["demo_train_steps_per_s"] = round(steps, 1)
    results["demo_evals_per_s_reference"] = 40000.0  # [M] original C++ on this machine kind, one core
    results["demo_evals_per_s_ratio"] = round(rate / 40000.0, 3)
    log("kernel, F=16, 10 tasks x 8000/1000, S10-like programs, one core ...")
    big_tasks = build_task_arrays("linear", 10, 16, 8000 if not quick else 2000, 1000, seed=2)
    big_batch = _early_search_batch(PROGRAM_TASKS["binary-classification"]["space"], 200, 5, 1)
    rate16, steps16 = _kernel_rate(big_batch, big_tasks, 2)
    results["f16_evals_per_s"] = round(rate16, 2)
    results["f16_train_steps_per_s"] = round(steps16, 1)
    results["f16_train_steps_per_s_reference"] = 18.5e6  # [M] C++ S10-like space, no FEC
    results["f16_train_steps_per_s_ratio"] = round(steps16 / 18.5e6, 3)
    if target == "cuda":
        # a GPU needs tens of thousands of threads (one per program and task) to fill: 2000 programs x 10 tasks
        gpu_batch = _early_search_batch(PROGRAM_TASKS["binary-classification"]["space"], 200 if quick else 2000, 5, 1)
        _gpu_kernel_rates(results, {"demo": (demo_batch, demo_tasks), "f16": (gpu_batch, big_tasks)})
    from evonas.executors import InProcessExecutor

    # The demo preset's own checkpoint interval: a run's checkpoint (1000 member genomes as JSON, the lineage part
    # written) is part of the loop's cost, at the rate a run pays it. "compiled" is the loop a demo search runs
    # (tasks/program_search.py); "batch" the engine's generic ask -> evaluate -> tell, one batch at a time.
    cycles = 20_000 if quick else 400_000
    for name, task in (("compiled", _ConstantProgramTask()), ("batch", _ConstantTask())):
        log(f"search loop without evaluation, {name} (ask -> mutate -> tell -> compact lineage -> checkpoint) ...")
        config = RunOptions("automl-zero", "linear-regression", "aging", None, None, cycles, None, 0, "cpu", None, None, None, None, None, "cpu", {}, None).resolve()
        config.max_train_steps = None
        with tempfile.TemporaryDirectory() as tmp:
            run = Run.create(Path(tmp) / "run", config)
            started = time.perf_counter()
            run.execute(InProcessExecutor(config.task, config.task_options, config.seed, task=task))  # type: ignore[arg-type]
            key = "loop_children_per_s" if name == "compiled" else "loop_children_per_s_batch_path"
            results[key] = round(cycles / (time.perf_counter() - started), 1)
    results["loop_checkpoint_every"] = config.checkpoint_every
    for threads in sorted({1, workers}):
        log(f"demo search with FEC, {threads} thread(s) ...")
        config = RunOptions("automl-zero", "linear-regression", "aging", None, None, 60_000 if quick else 300_000, None, 0, "cpu",
                              None, None, None, None, 1_000_000, "cpu", {}, None).resolve()
        config.max_train_steps = None
        with tempfile.TemporaryDirectory() as tmp:
            run = Run.create(Path(tmp) / "run", config)
            executor = make_executor(config.task, config.task_options, config.seed, threads)
            executor.task.arrays()
            started = time.perf_counter()
            run.execute(executor)
            elapsed = time.perf_counter() - started
            results[f"search_individuals_per_s_{threads}_threads"] = round(run.strategy.told / elapsed, 1)
            results[f"search_fec_hit_rate_{threads}_threads"] = round(executor.task.metrics().get("fec_hit_rate", 0.0), 4)
    results["search_individuals_per_s_reference"] = 51500.0  # [M] C++ demo with FEC, one core
    return {
        "benchmark": "automl-zero",
        "evonas": __version__,
        "machine": machine_info(),
        "config": {"quick": quick, "workers": workers, "device": target},
        "results": results,
    }


def _solve_demo(seed: int, parallel: int = 1) -> dict[str, Any]:
    """One demo protocol run until an algorithm passes selection, on one core or with ``parallel`` experiments
    at once (one process each); wall time and counts."""
    import numba

    from evonas.config import RunOptions
    from evonas.executors import make_executor
    from evonas.families.automl_zero import protocol

    numba.set_num_threads(1)
    config = RunOptions("automl-zero", "linear-regression", "aging", None, None, None, None, seed, "cpu", None, None, None, None, None, "cpu", {}, None).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "demo"
        state = protocol.start(folder, config, 0)
        started = time.perf_counter()

        def execute(run: Any) -> None:
            executor = make_executor(run.config.task, run.config.task_options, run.config.seed, 1)
            try:
                run.execute(executor)
            finally:
                executor.close()

        state = protocol.run(folder, state, execute, lambda line: None, parallel=parallel)
        seconds = time.perf_counter() - started
    return {
        "seed": seed, "seconds": round(seconds, 1), "experiments": len(state["history"]),
        "individuals": sum(h["individuals"] for h in state["history"]), "final_fitness": state["final"]["final_fitness"],
        "solved": state["final"]["solved"],
    }


def bench_automl_zero_demo(quick: bool = False, workers: int = 2, seeds: int = 10) -> dict[str, Any]:
    """Time to rediscover linear regression with the demo protocol, one core per seed (``workers`` seeds at once)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    count = 2 if quick else seeds
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        runs = []
        for result in pool.map(_solve_demo, range(1, count + 1)):
            log(f"  seed {result['seed']}: {result['seconds']} s, {result['experiments']} experiment(s), final {result['final_fitness']:.6f}")
            runs.append(result)
    return _demo_summary("automl-zero-demo", runs, {"seeds": count, "parallel_seeds": workers, "threads_per_seed": 1})


def _demo_summary(benchmark: str, runs: list[dict[str, Any]], config: dict[str, Any]) -> dict[str, Any]:
    """The JSON of a time-to-solve benchmark from its per-seed results."""
    return {
        "benchmark": benchmark,
        "evonas": __version__,
        "machine": machine_info(),
        "config": config,
        "results": {
            "seconds_to_solve": [r["seconds"] for r in runs],
            "seconds_to_solve_median": float(np.median([r["seconds"] for r in runs])),
            "seconds_to_solve_median_reference": 55.0,  # [M] original C++, one core
            "solved": sum(r["solved"] for r in runs),
            "experiments": [r["experiments"] for r in runs],
            "individuals": [r["individuals"] for r in runs],
            "final_fitness": [r["final_fitness"] for r in runs],
        },
    }


def bench_automl_zero_demo_parallel(quick: bool = False, workers: int = 2, seeds: int = 10) -> dict[str, Any]:
    """Time to rediscover linear regression with ``workers`` experiments at once (``--workers`` of the demo
    command), seeds one after another; compare with ``automl-zero-demo`` (one core per seed)."""
    count = 2 if quick else seeds
    runs = []
    for seed in range(1, count + 1):
        result = _solve_demo(seed, parallel=workers)
        log(f"  seed {result['seed']}: {result['seconds']} s, {result['experiments']} experiment(s), final {result['final_fitness']:.6f}")
        runs.append(result)
    return _demo_summary("automl-zero-demo-parallel", runs, {"seeds": count, "parallel_experiments": workers, "threads_per_experiment": 1})




def bench_motifs(quick: bool = False, workers: int = 2) -> dict[str, Any]:
    """Hierarchical motifs: architectures/hour of a default-preset tournament search on ``workers`` processes."""
    log(f"default-preset motifs search on {workers} worker(s) ...")
    return {
        "benchmark": "motifs",
        "evonas": __version__,
        "machine": machine_info(),
        "config": {"preset": "cpu", "quick": quick, "workers": workers, "strategy": "tournament"},
        "results": search_throughput(quick, workers, genome="motifs"),
    }


def bench_motifs_search_quality(quick: bool = False, workers: int = 2, seeds: int = 5, cycles: int = 40, population: int = 10,
                                train_images: int = 1024) -> dict[str, Any]:
    """Tournament vs aging vs random search over hierarchical motifs at equal budget (reduced by default: 40
    evaluations, an initial population of 10, 1,024 training images per candidate)."""
    return bench_search_quality(quick, workers, seeds, cycles, population, 3, train_images, genome="motifs",
                                strategies=("tournament", "aging", "random"))

#: Benchmarks by name.
BENCHMARKS: dict[str, Callable[..., dict[str, Any]]] = {
    "amoeba": bench_amoeba, "search-quality": bench_search_quality, "automl-zero": bench_automl_zero,
    "automl-zero-demo": bench_automl_zero_demo, "automl-zero-demo-parallel": bench_automl_zero_demo_parallel, "neat": bench_neat, "neat-dpnv": bench_neat_dpnv,
    "motifs": bench_motifs, "motifs-search-quality": bench_motifs_search_quality, "scheduling": bench_scheduling,
    "tabular": bench_tabular, "pareto": bench_pareto,
}
GPU_BENCHMARKS = ("automl-zero", "neat")  # the ones that take --device and time CUDA kernels
