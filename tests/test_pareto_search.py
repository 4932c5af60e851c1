"""Multi-objective search: Pareto aging evolution and NSGA-II on NAS-Bench-Graph find fronts that are part of the
exact front of what they evaluated, resume exactly after SIGKILL, and leave single-objective runs as they were."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli
from test_contracts import kill_at_a_random_moment, lineage

from evonas.config import RunOptions
from evonas.executors import InProcessExecutor
from evonas.lineage_front import front_rows, read_objectives
from evonas.pareto import nondominated
from evonas.run import Run

pytest.importorskip("nas_bench_graph")

OBJECTIVES = ["fitness:max", "latency:min"]


def run_in_process(folder: Path, strategy: str, cycles: int, constraints: list[str] | None = None, **options: object) -> Run:
    config = RunOptions(genome="graph-macro", strategy=strategy, cycles=cycles, seed=2, objectives=OBJECTIVES,
                        constraints=constraints or [], **options).resolve()  # type: ignore[arg-type]
    run = Run.create(folder, config)
    run.execute(InProcessExecutor(config.task, config.task_options, config.seed))
    return run


@pytest.mark.parametrize("strategy, options", [("aging", {"population": 30, "sample": 6}), ("nsga2", {"population": 40})])
def test_the_front_found_is_part_of_the_exact_front_of_the_lineage(tmp_path: Path, strategy: str, options: dict) -> None:
    run = run_in_process(tmp_path / "run", strategy, 1200, **options)
    data = read_objectives(tmp_path / "run")
    assert len(data.ids) == 1200
    exact = set(data.ids[data.front()].tolist())
    archive = run.strategy.archive
    assert archive is not None and set(archive.ids) <= exact
    # every point of the exact front is in the archive (the archive keeps the first of equal points)
    exact_points = {tuple(r) for r in data.rows[data.front()].tolist()}
    assert {tuple(r) for r in archive.rows.tolist()} == exact_points
    # and the exact front really is non-dominated among everything evaluated, by brute force
    rows = data.rows
    for k in data.front().tolist():
        assert not any(np.all(rows[j] <= rows[k]) and np.any(rows[j] < rows[k]) for j in range(len(rows)))
    assert [r["id"] for r in front_rows(tmp_path / "run")] == sorted(
        {tuple(rows[k]): int(data.ids[k]) for k in sorted(data.front().tolist(), reverse=True)}.values(),
        key=lambda i: (rows[np.flatnonzero(data.ids == i)[0], 0], i))


def test_pareto_search_beats_random_search_on_the_front(tmp_path: Path) -> None:
    from evonas.pareto import hypervolume

    volumes = {}
    nadir = np.array([0.0, 0.01])  # minimisation rows: (-validation, latency)
    for strategy in ("aging", "nsga2", "random"):
        total = 0.0
        for seed in range(3):
            config = RunOptions(genome="graph-macro", strategy=strategy, cycles=500, seed=seed, objectives=OBJECTIVES).resolve()
            run = Run.create(tmp_path / f"{strategy}-{seed}", config)
            run.execute(InProcessExecutor(config.task, config.task_options, config.seed))
            archive = run.strategy.archive
            total += hypervolume(archive.rows, nadir)  # type: ignore[union-attr]
        volumes[strategy] = total / 3
    assert volumes["aging"] > volumes["random"] and volumes["nsga2"] > volumes["random"], volumes


def test_constraints_keep_violators_out_of_the_front(tmp_path: Path) -> None:
    run_in_process(tmp_path / "run", "aging", 800, constraints=["latency<=0.002"], population=20, sample=5)
    data = read_objectives(tmp_path / "run")
    assert (data.violation > 0).any()  # the bound bites
    front = data.front()
    assert len(front) and (data.values[front, 1] <= 0.002).all()
    assert (data.violation[front] == 0).all()


def test_one_fitness_objective_is_todays_run(tmp_path: Path) -> None:
    args = ["--genome", "graph-macro", "--cycles", "3000", "--seed", "4", "-q", "--lineage", "full"]
    assert run_cli("evolve", *args, "--out", str(tmp_path / "plain")).returncode == 0
    assert run_cli("evolve", *args, "--objective", "fitness:max", "--out", str(tmp_path / "explicit")).returncode == 0
    assert lineage(tmp_path / "plain") == lineage(tmp_path / "explicit")
    plain = json.loads((tmp_path / "plain" / "config.json").read_text())
    assert plain["objectives"] is None and plain["constraints"] is None


@pytest.mark.parametrize("args, message", [
    (["--genome", "graph-macro", "--objective", "fitness", "--objective", "speed:min"], "task 'nasbench-graph' logs no metric 'speed'"),
    (["--genome", "graph-macro", "--objective", "fitness", "--objective", "latency:lowest"], "is not METRIC[:max|min]"),
    (["--genome", "graph-macro", "--constraint", "latency<0.1"], "is not METRIC<=VALUE or METRIC>=VALUE"),
    (["--genome", "graph-macro", "--constraint", "latency<=abc"], "needs a finite number"),
    (["--genome", "neat", "--objective", "fitness", "--objective", "x"], "the neat strategy searches for one fitness"),
    (["--genome", "graph-macro", "--strategy", "tournament", "--objective", "fitness", "--objective", "latency:min"],
     "the tournament strategy searches for one fitness"),
])
def test_bad_objectives_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli("evolve", *args, "--out", str(tmp_path / "run"), "-q")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("strategy, extra", [("aging", ["--population", "30", "--sample", "6", "--batch", "3"]),
                                             ("nsga2", ["--population", "40", "--batch", "16"])])
def test_sigkill_then_resume_gives_the_uninterrupted_lineage(tmp_path: Path, strategy: str, extra: list[str]) -> None:
    args = ["--genome", "graph-macro", "--strategy", strategy, *extra, "--objective", "fitness", "--objective", "latency:min",
            "--constraint", "params<=1.5", "--cycles", "20000", "--checkpoint-every", "1000", "--seed", "6", "-q"]
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    assert run_cli("evolve", *args, "--out", str(reference)).returncode == 0
    kill_at_a_random_moment(args, killed, 2.0, seed=len(strategy))
    result = run_cli("resume", str(killed), "-q")
    assert result.returncode == 0, result.stderr
    assert lineage(killed) == lineage(reference)
    assert run_cli("lineage", str(killed), "--pareto", "--json").stdout == run_cli("lineage", str(reference), "--pareto", "--json").stdout


def test_lineage_and_export_of_the_front(tmp_path: Path) -> None:
    run_in_process(tmp_path / "run", "nsga2", 400, population=20)
    result = run_cli("lineage", str(tmp_path / "run"), "--pareto", "--json")
    front = json.loads(result.stdout)
    assert front and all(set(r) == {"id", "status", "fitness:max", "latency:min", "copies"} for r in front)
    values = np.array([[-r["fitness:max"], r["latency:min"]] for r in front])
    assert nondominated(values).all()
    result = run_cli("export", str(tmp_path / "run"), "--pareto")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "run" / "export" / "pareto").iterdir()) == sorted(f"graph_macro_{r['id']}.json" for r in front)
    single = run_cli("lineage", str(tmp_path / "run"), "--pareto")
    assert "Pareto front:" in single.stdout


def test_bench_pareto_reports_hypervolume_fractions() -> None:
    from evonas.bench_pareto import bench_pareto

    result = bench_pareto(quick=True, seeds=2, datasets="cora", budgets="40,80", strategies="nsga2,random", population=10)
    entry = result["results"]["cora"]
    assert entry["front_points"] > 10 and entry["exact_hypervolume"] > 0
    for summary in entry["strategies"].values():
        assert 0 < summary["40"]["mean"] <= summary["80"]["mean"] <= 1  # the front only grows


# -- cheap objectives before evaluation ---------------------------------------------------------------------


def test_multiply_accumulates_match_a_hand_count() -> None:
    import torch
    from torch import nn

    from evonas.kernels.model_cost import multiply_accumulates

    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.Conv2d(4, 6, 1, stride=2),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 10))
    # 8x8 input: conv 8*8*4 outputs x 3*3*3; depthwise 8*8*4 x 1*3*3; pointwise stride 2: 4*4*6 x 4; linear 6*10
    assert multiply_accumulates(net, (3, 8, 8)) == 8 * 8 * 4 * 27 + 8 * 8 * 4 * 9 + 4 * 4 * 6 * 4 + 60
    assert net.training  # left as it was
    del torch


def test_image_cheap_metrics_agree_with_training(tmp_path: Path) -> None:
    from evonas.registry import make_task

    config = RunOptions(genome="amoeba", preset="smoke").resolve()
    task = make_task(config.task, config.task_options, fresh=True)
    genome = build_strategy_space(config).random(np.random.default_rng(0))
    cheap = task.cheap_metrics([genome], ["params", "macs", "latency_ms"])
    trained = task.evaluate(genome, 1)[1]
    assert cheap["params"][0] == trained["params"] and cheap["macs"][0] > cheap["params"][0] > 0 and cheap["latency_ms"][0] > 0


def build_strategy_space(config: object) -> object:
    from evonas.config import build_strategy

    return build_strategy(config).space  # type: ignore[arg-type]


def test_program_size_counts_live_instructions() -> None:
    from evonas.registry import make_task

    config = RunOptions(genome="automl-zero", preset="smoke").resolve()
    task = make_task(config.task, config.task_options, fresh=True)
    space = build_strategy_space(config)
    rng = np.random.default_rng(2)
    genomes = [space.random(rng) for _ in range(5)]  # type: ignore[attr-defined]
    sizes = task.cheap_metrics(genomes, ["program_size"])["program_size"]
    assert sizes.tolist() == [float(sum(sum(m) for m in g.live_mask())) for g in genomes]


@pytest.mark.parametrize("count", [False, True])
def test_a_cheap_constraint_rejects_untrained_and_the_budget_says_how(tmp_path: Path, count: bool) -> None:
    from evonas.store import read_lineage

    options = {"count_rejected": True} if count else {}
    config = RunOptions(genome="graph-macro", strategy="nsga2", population=20, cycles=300, seed=1, objectives=OBJECTIVES,
                        constraints=["params<=1.0"], options=options).resolve()
    assert config.count_rejected is count
    run = Run.create(tmp_path / "run", config)
    run.execute(InProcessExecutor(config.task, config.task_options, config.seed))
    rows = read_lineage(tmp_path / "run" / "lineage")[0].to_pylist()
    rejected = [r for r in rows if r["status"] == "rejected"]
    evaluated = [r for r in rows if r["status"] == "ok"]
    assert rejected and all(r["fitness"] is None and "breaks params<=1" in r["error"] and dict(r["metrics"])["params"] > 1.0 for r in rejected)
    assert all(dict(r["metrics"])["params"] <= 1.0 for r in evaluated)
    assert len(evaluated) == (300 - len(rejected) if count else 300)


@pytest.mark.parametrize("strategy", ["aging", "nsga2"])
def test_one_worker_or_two_give_the_same_multi_objective_lineage(tmp_path: Path, strategy: str) -> None:
    args = ["--genome", "bitstring", "--strategy", strategy, "--population", "12", "--batch", "6", "--cycles", "240", "--seed", "3",
            "-o", "noise=0.05", "--objective", "fitness", "--objective", "clean_fitness:min", "-q"]
    for workers in ("1", "2"):
        result = run_cli("evolve", *args, "--workers", workers, "--out", str(tmp_path / workers))
        assert result.returncode == 0, result.stderr
    assert lineage(tmp_path / "1") == lineage(tmp_path / "2")


def test_a_small_cell_network_costs_what_a_hand_count_gives() -> None:
    """One stack of one normal cell, F=4, on 28x28x1 images; every block adds identity(prev) and
    avg_pool(prev_prev), so the cells' ops cost nothing and all five block outputs are concatenated."""
    from evonas.genomes.amoeba import AmoebaSpace
    from evonas.genomes.ir import Macro
    from evonas.kernels import torchnet
    from evonas.kernels.model_cost import multiply_accumulates

    block = [["prev", "identity"], ["prev_prev", "avg_pool_3x3"]]
    genome = AmoebaSpace().genome_from_dict({"kind": "amoeba", "normal": [block] * 5, "reduction": [block] * 5})
    f = 4
    module = torchnet.build_module(genome.lower(), Macro(cells_per_stack=1, stacks=1, filters=f, in_channels=1, num_classes=10))
    stem = 28 * 28 * (3 * f) * (1 * 3 * 3)  # 3x3 conv, 1 -> 3F channels
    preprocess = 2 * 28 * 28 * f * (3 * f)  # two 1x1 convs, 3F -> F
    classifier = 5 * f * 10
    assert multiply_accumulates(module, (1, 28, 28)) == stem + preprocess + classifier
    params = (3 * f * 9 + 2 * 3 * f) + 2 * (3 * f * f + 2 * f) + (5 * f * 10 + 10)  # convs, batch norms, linear with bias
    assert torchnet.count_parameters(module) == params
