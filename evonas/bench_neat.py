"""``evonas bench neat`` and ``neat-dpnv``: NEAT sample efficiency and speed, side by side with neat-python 2.0.0.

neat-python is a benchmark-only dependency (``pip install 'evonas[bench]'``); without it the reference
columns are null and ``reference_available`` says so.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from evonas import __version__
from evonas.bench_common import log, machine_info

XOR_PATTERNS = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0))
XOR_EXPECTED = (0.0, 1.0, 1.0, 0.0)

# neat-python's standard XOR setup (../shared/specs/neat.md §8.1), written out in its config format.
NEAT_PYTHON_XOR_CONFIG = """
[NEAT]
fitness_criterion = max
fitness_threshold = 3.9
pop_size = 150
reset_on_extinction = False
no_fitness_termination = False

[DefaultGenome]
activation_default = sigmoid
activation_mutate_rate = 0.0
activation_options = sigmoid
aggregation_default = sum
aggregation_mutate_rate = 0.0
aggregation_options = sum
bias_init_mean = 0.0
bias_init_stdev = 1.0
bias_max_value = 30.0
bias_min_value = -30.0
bias_mutate_power = 0.5
bias_mutate_rate = 0.7
bias_replace_rate = 0.1
compatibility_disjoint_coefficient = 1.0
compatibility_weight_coefficient = 0.5
conn_add_prob = 0.5
conn_delete_prob = 0.5
enabled_default = True
enabled_mutate_rate = 0.01
feed_forward = True
initial_connection = full
node_add_prob = 0.2
node_delete_prob = 0.2
num_hidden = 0
num_inputs = 2
num_outputs = 1
response_init_mean = 1.0
response_init_stdev = 0.0
response_max_value = 30.0
response_min_value = -30.0
response_mutate_power = 0.0
response_mutate_rate = 0.0
response_replace_rate = 0.0
weight_init_mean = 0.0
weight_init_stdev = 1.0
weight_max_value = 30
weight_min_value = -30
weight_mutate_power = 0.5
weight_mutate_rate = 0.8
weight_replace_rate = 0.1

[DefaultSpeciesSet]
compatibility_threshold = 3.0

[DefaultStagnation]
species_fitness_func = max
max_stagnation = 20
species_elitism = 2

[DefaultReproduction]
elitism = 2
survival_threshold = 0.2
"""


REPEATS = 3


def _one_thread() -> None:
    os.environ["NUMBA_NUM_THREADS"] = "1"


def neat_search(problem: str, seed: int, generations: int, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """One NEAT search with the CLI preset of ``problem`` (strategy, the in-process executor and the kernels, as a
    run has them, without the run folder), until solved."""
    from evonas.core import first_solved
    from evonas.executors import InProcessExecutor
    from evonas.families.neat import NEAT_TASKS
    from evonas.families.neat.tasks import NeatTask
    from evonas.genomes.neat import NeatSpace
    from evonas.strategies import NeatReproduction

    preset = NEAT_TASKS[problem]
    space = NeatSpace(**{**NeatSpace().to_dict(), **preset["space"]})
    population = preset["population"]
    options = {**preset["strategy_options"], **(overrides or {})}
    strategy = NeatReproduction(space, seed, population * generations, population=population, **options)
    task = NeatTask(problem)
    executor = InProcessExecutor(problem, {}, seed, task=task)
    started = time.process_time()
    evaluation = 0.0
    winner = None
    while not strategy.done and winner is None:
        batch = strategy.ask(population)
        tick = time.process_time()
        results = executor.evaluate(batch)
        evaluation += time.process_time() - tick
        solved = first_solved(results)
        if solved is not None:
            winner = (batch[solved], results[solved].metrics)
        else:
            strategy.tell(results, batch)
    total = time.process_time() - started
    generations_run = strategy.generation + 1 if winner is not None else strategy.generation
    out: dict[str, Any] = {
        "seed": seed, "solved": winner is not None, "generations": generations_run,
        "cpu_seconds": total, "cpu_ms_per_generation": 1000.0 * total / generations_run,
        "evaluation_share": evaluation / total if total else 0.0,
    }
    if winner is not None:
        candidate, metrics = winner
        ir = candidate.genome.lower()
        out.update({
            "evaluations": candidate.id + 1, "evaluations_whole_generations": generations_run * population,
            "hidden_nodes": len(ir.order) - ir.n_outputs, "enabled_connections": int(ir.start[-1]),
            "generalisation": metrics.get("generalisation"),
        })
    return out


def _neat_python_config(path: Path) -> Any:
    import neat

    path.write_text(NEAT_PYTHON_XOR_CONFIG)
    return neat.Config(neat.DefaultGenome, neat.DefaultReproduction, neat.DefaultSpeciesSet, neat.DefaultStagnation, str(path))


def neat_python_xor(seed: int, generations: int = 300) -> dict[str, Any]:
    """One neat-python 2.0.0 XOR run with its standard config; generations and CPU time per generation."""
    import neat

    random.seed(seed)
    with tempfile.TemporaryDirectory() as folder:
        config = _neat_python_config(Path(folder) / "config")
    state = {"generations": 0, "paper": None}

    def fitness(genomes: Any, cfg: Any) -> None:
        state["generations"] += 1
        for position, (_, genome) in enumerate(genomes):
            net = neat.nn.FeedForwardNetwork.create(genome, cfg)
            outputs = [net.activate(xi)[0] for xi in XOR_PATTERNS]
            genome.fitness = 4.0 - sum((o - t) ** 2 for o, t in zip(outputs, XOR_EXPECTED))
            if state["paper"] is None and all((o >= 0.5) == (t > 0.5) for o, t in zip(outputs, XOR_EXPECTED)):
                state["paper"] = (state["generations"] - 1) * 150 + position + 1

    population = neat.Population(config)
    started = time.process_time()
    winner = population.run(fitness, generations)
    total = time.process_time() - started
    solved = winner is not None and winner.fitness is not None and winner.fitness >= 3.9
    return {
        "seed": seed, "solved": solved, "generations": state["generations"], "evaluations": state["generations"] * 150 if solved else None,
        "evaluations_paper_criterion": state["paper"], "cpu_ms_per_generation": 1000.0 * total / max(1, state["generations"]),
    }


def _summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "sd": None, "median": None, "min": None, "max": None}
    array = np.array(values, dtype=float)
    return {"mean": float(array.mean()), "sd": float(array.std()), "median": float(np.median(array)), "min": float(array.min()), "max": float(array.max())}


def _neat_python_available() -> bool:
    try:
        import neat  # noqa: F401
    except ImportError:
        return False
    return True


def throughput(genomes: int = 1000, rows: int = 10_000, reference_genomes: int = 10, device: str = "cpu") -> dict[str, Any]:
    """Genome evaluations/s on ``rows`` input rows, for grown XOR-shaped genomes (5 add-node, 10 add-connection
    mutations): our lowering + kernel against neat-python's ``FeedForwardNetwork.create`` + ``activate`` per row;
    with ``device`` cuda also the GPU kernel's rate (wall time, transfers included) and its ratio to one core."""
    from evonas.genomes.neat import NeatSpace, population_ir
    from evonas.kernels.neat_cpu import activate_rows, lower_population

    space = NeatSpace(inputs=2, outputs=1)
    rng = np.random.default_rng(0)
    population = []
    for _ in range(genomes):
        tracker = space.new_tracker()
        genome = space.initial(rng)
        for _ in range(5):
            genome = space.grow(genome, rng, tracker, add_node=True)
        for _ in range(10):
            genome = space.grow(genome, rng, tracker, add_node=False)
        population.append(genome)
    import numba

    inputs = np.hstack([rng.random((rows, 2)), np.ones((rows, 1))])
    activate_rows(lower_population(population_ir(population[:2])), inputs[:10])  # compile outside the timing
    threads = numba.get_num_threads()
    numba.set_num_threads(1)  # a per-core figure, like the reference's
    try:
        ours = 0.0
        for _ in range(REPEATS):  # best of REPEATS, for both sides: the machine may be shared
            started = time.process_time()
            activate_rows(lower_population(population_ir(population)), inputs)
            ours = max(ours, genomes / (time.process_time() - started))
    finally:
        numba.set_num_threads(threads)
    out: dict[str, Any] = {"genome_evals_per_s": ours, "rows": rows, "genomes": genomes,
                           "hidden_nodes_mean": float(np.mean([len(g.hidden) for g in population])),
                           "enabled_connections_mean": float(np.mean([int(g.enabled.sum()) for g in population]))}
    if device == "cuda":
        from evonas.kernels.cuda_support import gpu_name
        from evonas.kernels.neat_cuda import activate_rows_cuda

        nets = lower_population(population_ir(population))
        activate_rows_cuda(nets, inputs[:10])  # compile outside the timing
        gpu = 0.0
        for _ in range(REPEATS):
            started = time.perf_counter()
            activate_rows_cuda(nets, inputs)
            gpu = max(gpu, genomes / (time.perf_counter() - started))
        out.update(gpu=gpu_name() or "CUDA simulator", genome_evals_per_s_gpu=gpu, gpu_vs_one_core=gpu / ours)
    if not _neat_python_available():
        return {**out, "genome_evals_per_s_reference": None, "genome_evals_per_s_ratio": None}
    import neat

    random.seed(0)
    with tempfile.TemporaryDirectory() as folder:
        config = _neat_python_config(Path(folder) / "config")
    reference = []
    initial = neat.Population(config).population  # sets up neat-python's innovation tracker
    for key in sorted(initial)[:reference_genomes]:
        genome = initial[key]
        for _ in range(5):
            genome.mutate_add_node(config.genome_config)
        for _ in range(10):
            genome.mutate_add_connection(config.genome_config)
        reference.append(genome)
    rows_list = [tuple(r) for r in inputs[:, :2].tolist()]
    theirs = 0.0
    for _ in range(REPEATS):
        started = time.process_time()
        for genome in reference:
            net = neat.nn.FeedForwardNetwork.create(genome, config)
            for row in rows_list:
                net.activate(row)
        theirs = max(theirs, reference_genomes / (time.process_time() - started))
    return {**out, "genome_evals_per_s_reference": theirs, "genome_evals_per_s_ratio": ours / theirs}


def _map(function: Any, items: list[Any], workers: int, warm_up: bool = False) -> list[Any]:
    initializer = _one_thread_warm if warm_up else _one_thread
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=initializer) as pool:
        return list(pool.map(function, items))


def _one_thread_warm() -> None:
    """One thread, and the compiled kernels loaded before any run is timed (loading them from numba's cache
    takes longer than a whole XOR run)."""
    _one_thread()
    neat_search("xor", 0, 2)


def _xor_ours(seed: int) -> dict[str, Any]:
    return neat_search("xor", seed, 500)


def _dpnv_ours(seed: int) -> dict[str, Any]:
    return neat_search("double-pole-novel", seed, 300)


def bench_neat(quick: bool = False, workers: int = 2, seeds: int = 100, device: str = "cpu") -> dict[str, Any]:
    """XOR over many seeds (evaluations, failures, CPU ms per generation) beside neat-python, and evaluation
    throughput (on the GPU too with ``device`` cuda, or auto with one visible)."""
    from evonas.kernels.cuda_support import resolve_device

    target = resolve_device(device, log)

    count = 10 if quick else seeds
    log(f"XOR, {count} seeds, evonas ...")
    ours = _map(_xor_ours, list(range(1, count + 1)), workers, warm_up=True)
    solved = [r for r in ours if r["solved"]]
    reference_available = _neat_python_available()
    theirs: list[dict[str, Any]] = []
    if reference_available:
        log(f"XOR, {count} seeds, neat-python 2.0.0 ...")
        theirs = _map(neat_python_xor, list(range(1, count + 1)), workers)
    else:
        log("neat-python is not installed (pip install 'evonas[bench]'); reference columns are null")
    # The same CPU time per generation with one run at a time: two single-threaded runs on this machine's two
    # vCPUs slow each other down (shared core resources), so both figures are given.
    alone = min(count, 20)
    log(f"XOR, CPU time per generation, one run at a time ({alone} seeds each) ...")
    ours_alone = _map(_xor_ours, list(range(1, alone + 1)), 1, warm_up=True)
    theirs_alone = _map(neat_python_xor, list(range(1, min(alone, 10) + 1)), 1) if reference_available else []
    log("evaluation throughput on 10,000 rows ...")
    rates = throughput(genomes=200 if quick else 1000, device=target)
    their_solved = [r for r in theirs if r["solved"]]
    ms_ours = float(np.mean([r["cpu_ms_per_generation"] for r in ours]))
    ms_theirs = float(np.mean([r["cpu_ms_per_generation"] for r in theirs])) if theirs else None
    return {
        "benchmark": "neat",
        "evonas": __version__,
        "machine": machine_info(),
        "config": {"task": "xor", "population": 150, "seeds": count, "generation_limit": 500, "reference_generation_limit": 300,
                   "reference": "neat-python 2.0.0, its standard XOR config" if reference_available else None, "reference_available": reference_available,
                   "cpu_time": "process CPU time, one thread per run, runs two at a time (ms_per_generation_alone: one at a time)",
                   "device": target},
        "results": {
            "xor_failures": count - len(solved),
            "xor_evaluations": _summary([r["evaluations"] for r in solved]),
            "xor_evaluations_whole_generations": _summary([r["evaluations_whole_generations"] for r in solved]),
            "xor_generations": _summary([r["generations"] for r in solved]),
            "xor_hidden_nodes": _summary([r["hidden_nodes"] for r in solved]),
            "xor_enabled_connections": _summary([r["enabled_connections"] for r in solved]),
            "xor_evaluations_reference_paper": {"mean": 4755.0, "sd": 2553.0},
            "xor_failures_reference": (count - len(their_solved)) if theirs else None,
            "xor_evaluations_reference": _summary([r["evaluations"] for r in their_solved]) if theirs else None,
            "ms_per_generation": ms_ours,
            "ms_per_generation_reference": ms_theirs,
            "ms_per_generation_ratio": (ms_theirs / ms_ours) if ms_theirs else None,
            "ms_per_generation_alone": float(np.mean([r["cpu_ms_per_generation"] for r in ours_alone])),
            "ms_per_generation_alone_reference": float(np.mean([r["cpu_ms_per_generation"] for r in theirs_alone])) if theirs_alone else None,
            "evaluation_share_of_generation": float(np.mean([r["evaluation_share"] for r in ours])),
            **rates,
        },
    }


def bench_neat_dpnv(quick: bool = False, workers: int = 2, seeds: int = 20) -> dict[str, Any]:
    """Double pole without velocities: evaluations to a solution (long test + generalisation >= 200/625), wall time."""

    count = 2 if quick else seeds
    log(f"double pole without velocities, {count} seeds, {workers} at a time ...")
    started = time.perf_counter()
    runs = _map(_dpnv_ours, list(range(1, count + 1)), workers)
    wall = time.perf_counter() - started
    for r in runs:
        log(f"  seed {r['seed']}: solved {r['solved']}, {r.get('evaluations')} evaluations, generalisation {r.get('generalisation')}, {r['cpu_seconds']:.1f} s CPU")
    solved = [r for r in runs if r["solved"]]
    return {
        "benchmark": "neat-dpnv",
        "evonas": __version__,
        "machine": machine_info(),
        "config": {"task": "double-pole-novel", "population": 1000, "seeds": count, "generation_limit": 300, "parallel_seeds": workers},
        "results": {
            "failures": count - len(solved),
            "evaluations": _summary([r["evaluations"] for r in solved]),
            "evaluations_reference": {"mean": 33184.0, "sd": 21790.0},
            "generalisation": _summary([r["generalisation"] for r in solved]),
            "generalisation_reference": 286.0,
            "cpu_seconds_to_solve": _summary([r["cpu_seconds"] for r in solved]),
            "wall_seconds_all_seeds": wall,
            "per_seed": runs,
        },
    }


__all__ = ["bench_neat", "bench_neat_dpnv", "neat_python_xor", "neat_search", "throughput"]
