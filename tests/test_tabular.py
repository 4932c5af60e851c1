"""The tabular benchmarks: figures equal the packages' own readers, fingerprints equal the benchmark's classes,
files are read safely and checked, the compiled loop logs what ask/tell would, and bad input is one line."""

from __future__ import annotations

import importlib
import io
import itertools
import json
import math
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli

from evonas.config import RunOptions, build_strategy
from evonas.core import ResultBatch
from evonas.errors import UserError
from evonas.genomes.graph_macro import GRAPH_OPS, LAYOUT, LINKS, GraphMacroGenome, GraphMacroSpace, benchmark_classes
from evonas.genomes.nb201 import EDGES, Nb201Genome, Nb201Space, live_edges
from evonas.registry import make_task
from evonas.tables import analog_nasbench, cache, nas_bench_graph
from evonas.tables.safe_pickle import NUMPY_SCALARS, restricted_load
from evonas.tasks.tabular import NasBenchGraph, Nb201Analog

nbg = pytest.importorskip("nas_bench_graph")


# -- NAS-Bench-Graph ---------------------------------------------------------------------------------------


def test_the_shipped_class_table_is_the_benchmarks_own_hash_of_every_genome() -> None:
    assert np.array_equal(benchmark_classes(), nas_bench_graph.package_classes())


def test_fingerprints_are_equal_exactly_when_the_benchmark_hashes_are() -> None:
    rng = np.random.default_rng(0)
    space = GraphMacroSpace()
    genomes = [space.random(rng) for _ in range(3000)]
    by_print: dict[str, set[int]] = {}
    by_hash: dict[int, set[str]] = {}
    for g in genomes:
        h = nbg.Arch(list(LINKS[g.link]), [GRAPH_OPS[o] for o in g.ops]).valid_hash()
        by_print.setdefault(g.fingerprint(), set()).add(h)
        by_hash.setdefault(h, set()).add(g.fingerprint())
    assert all(len(v) == 1 for v in by_print.values()) and all(len(v) == 1 for v in by_hash.values())
    # and classes with several members exist, so the test can fail
    assert len(by_hash) < len({g.code for g in genomes})


@pytest.mark.parametrize("dataset", list(nas_bench_graph.DATASETS))
def test_looked_up_figures_equal_the_packages_own_api(dataset: str) -> None:
    task = NasBenchGraph(dataset=dataset)
    space = GraphMacroSpace.from_dict(RunOptions(genome="graph-macro", options={"dataset": dataset}).resolve().space)
    bench = nbg.light_read(dataset)
    rng = np.random.default_rng(len(dataset))
    genomes = [space.random(rng) for _ in range(300)]
    fitness, metrics = task.evaluate_columns(genomes, [0] * len(genomes))
    for k, g in enumerate(genomes):
        entry = bench[nbg.Arch(list(LINKS[g.link]), [GRAPH_OPS[o] for o in g.ops]).valid_hash()]
        assert fitness[k] == float(entry["valid_perf"])
        assert (metrics["test"][k], metrics["latency"][k], metrics["params"][k]) == (float(entry["perf"]), float(entry["latency"]), float(entry["para"]))
    assert not np.isnan(fitness).any()


def test_proteins_runs_search_only_its_five_ops() -> None:
    config = RunOptions(genome="graph-macro", options={"dataset": "proteins"}).resolve()
    assert config.space["ops"] == ["gcn", "sage", "arma", "fc", "skip"]
    space = build_strategy(config).space
    rng = np.random.default_rng(3)
    genome = space.random(rng)
    for _ in range(300):
        genome, _ = space.mutate(genome, rng)
        assert {GRAPH_OPS[o] for o in genome.ops} <= set(space.ops)
        assert not math.isnan(NasBenchGraph(dataset="proteins").evaluate(genome, 0)[0])


# -- AnalogNAS-Bench ---------------------------------------------------------------------------------------


def _package_reader(monkeypatch: pytest.MonkeyPatch) -> object:
    """The package's own reader. It imports ``pkg_resources``, which setuptools 81 removed; where that is gone a
    stand-in with the one function it calls (the package file's path) lets the real reader load the real file."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        shim = types.ModuleType("pkg_resources")

        def resource_filename(package: str, name: str) -> str:
            spec = importlib.util.find_spec(package)
            return str(Path(list(spec.submodule_search_locations)[0]) / name)

        shim.resource_filename = resource_filename  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "pkg_resources", shim)
    analog = pytest.importorskip("analognasbench.data")
    return analog.AnalogNASBench()


def test_analog_figures_equal_the_packages_own_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = _package_reader(monkeypatch)
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 5**6, size=400)
    for metric, attribute in analog_nasbench.METRICS.items():
        table = Nb201Analog(metric=metric).table
        for code in codes.tolist():
            value = bench.query_metric(analog_nasbench.package_key(code), attribute)  # type: ignore[attr-defined]
            expected = value.value if hasattr(value, "value") else float(value)
            assert table.fitness[code] == expected, (metric, code)


def test_the_inferred_edge_and_op_layout_matches_the_data_on_every_cell() -> None:
    """A cell with no live input-to-output path computes nothing: exactly those score the chance level, 10 %."""
    table = Nb201Analog(metric="baseline").table
    for code in range(5**6):
        connected = any(live_edges(Nb201Genome.from_code(code).ops))
        assert (table.fitness[code] == 10.0) == (not connected), Nb201Genome.from_code(code).cell_string()


# -- safe loading ------------------------------------------------------------------------------------------


class _Hostile:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (Path.touch, (Path(self.path),))


def test_the_restricted_unpickler_refuses_a_file_naming_any_other_global(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    data = pickle.dumps({1: {"valid_perf": _Hostile(str(marker))}})
    pickle.loads(data)  # the pickle is live: plain pickle runs it
    assert marker.exists()
    marker.unlink()
    with pytest.raises(UserError, match=r"pathlib.*Path.touch|names global"):
        restricted_load(data, NUMPY_SCALARS, "the test file")
    assert not marker.exists()


def _fake_package(root: Path, name: str, files: dict[str, bytes]) -> None:
    folder = root / name
    for relative, content in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(content)
    (folder / "__init__.py").write_text("")


def test_an_edited_package_file_is_one_line_naming_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = Path(list(importlib.util.find_spec("nas_bench_graph").submodule_search_locations)[0]) / "light" / "citeseer.bench"
    data = bytearray(source.read_bytes())
    data[1000] ^= 1  # one flipped bit: the checksum must catch it
    _fake_package(tmp_path, "nas_bench_graph", {"light/citeseer.bench": bytes(data)})
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "nas_bench_graph" or m.startswith("nas_bench_graph.")]:
        monkeypatch.delitem(sys.modules, name)  # find_spec answers from sys.modules first
    importlib.invalidate_caches()
    monkeypatch.setenv("EVONAS_CACHE_DIR", str(tmp_path / "cache"))
    nas_bench_graph.load.cache_clear()
    try:
        with pytest.raises(UserError, match=r"SHA-256 differs.*pip install --force-reinstall 'nas-bench-graph==1.4.0'"):
            nas_bench_graph.load("citeseer")
    finally:
        nas_bench_graph.load.cache_clear()


def test_a_damaged_cache_is_converted_again_never_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVONAS_CACHE_DIR", str(tmp_path))
    nas_bench_graph.load.cache_clear()
    try:
        good = nas_bench_graph.load("cora").fitness.copy()
        path = tmp_path / "tables" / "nas-bench-graph-cora.npz"
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
        arrays["valid"][np.flatnonzero(~np.isnan(arrays["valid"]))[:10]] = 0.99  # an edited figure
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        path.write_bytes(buffer.getvalue())
        nas_bench_graph.load.cache_clear()
        again = nas_bench_graph.load("cora").fitness
        assert np.array_equal(again, good, equal_nan=True)
        record = json.loads((tmp_path / "tables" / "nas-bench-graph-cora.json").read_text())
        assert record["npz_sha256"] == cache.sha256(path.read_bytes())
    finally:
        nas_bench_graph.load.cache_clear()


def test_a_missing_package_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    """Run in a fresh interpreter whose import system cannot see the package."""
    code = ("import importlib.util, sys\nfind = importlib.util.find_spec\n"
            "importlib.util.find_spec = lambda name, *a: None if name == 'nas_bench_graph' else find(name, *a)\n"
            "sys.argv = ['evonas', 'evolve', '--genome', 'graph-macro', '--out', sys.argv[1]]\n"
            "from evonas.cli import main; main()")
    import subprocess

    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "evonas: error: this benchmark needs the nas-bench-graph package, which is not installed; pip install 'evonas[tabular]'"]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args, message", [
    (["--genome", "graph-macro", "-o", "dataset=coral"], "unknown NAS-Bench-Graph dataset 'coral'; choose one of cora"),
    (["--genome", "nb201-cell", "-o", "metric=accuracy"], "unknown AnalogNAS-Bench metric 'accuracy'; choose one of baseline"),
    (["--genome", "bitstring", "--task", "nasbench-graph"], "task 'nasbench-graph' scores graph-macro genomes, not 'bitstring'"),
    (["--genome", "nb201-cell", "--task", "nasbench-graph"], "task 'nasbench-graph' scores graph-macro genomes, not 'nb201-cell'"),
])
def test_bad_input_is_one_line_and_creates_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli("evolve", *args, "--out", str(tmp_path / "run"), "-q")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "run").exists()


def test_a_failed_start_leaves_an_existing_run_as_it_was(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert run_cli("evolve", "--genome", "graph-macro", "--preset", "smoke", "--out", str(run), "-q").returncode == 0
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = run_cli("evolve", "--genome", "graph-macro", "-o", "dataset=nope", "--out", str(run), "-q")
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


# -- genomes -----------------------------------------------------------------------------------------------


def test_nb201_cell_strings_round_trip_and_bad_ones_say_why() -> None:
    for code in range(0, 5**6, 97):
        genome = Nb201Genome.from_code(code)
        assert Nb201Genome.from_dict(json.loads(json.dumps(genome.to_dict()))) == genome
    assert Nb201Genome.from_code(0).cell_string() == "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    space = Nb201Space()
    for bad, reason in [("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv'"),
                        ("|none~0|+|none~0|none~1|", "3 nodes"), ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "op~0")]:
        with pytest.raises(ValueError, match=reason):
            space.genome_from_dict({"kind": "nb201-cell", "cell": bad})


def test_nb201_dead_edges_do_not_change_the_fingerprint() -> None:
    conv, skip = 3, 1
    # 3<-0 conv alone, then with edges into node 1 that never reach the output (3<-1 and 2<-1 are none)
    alone = Nb201Genome((0, 0, 0, conv, 0, 0))
    dead = Nb201Genome((conv, 0, 0, conv, 0, 0))
    live = Nb201Genome((conv, 0, 0, conv, skip, 0))
    assert alone.fingerprint() == dead.fingerprint() != live.fingerprint()
    assert live_edges(live.ops) == (True, False, False, True, True, False)
    assert [f"{j}<-{i}" for i, j in EDGES] == ["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"]


def test_graph_genomes_refuse_the_all_skip_network_and_unknown_names() -> None:
    space = GraphMacroSpace()
    with pytest.raises(ValueError, match="all four ops are skip"):
        space.genome_from_dict({"kind": "graph-macro", "link": [0, 0, 0, 0], "ops": ["skip"] * 4})
    with pytest.raises(ValueError, match="unknown op 'gnn'"):
        space.genome_from_dict({"kind": "graph-macro", "link": [0, 0, 0, 0], "ops": ["gnn", "gcn", "gcn", "gcn"]})
    with pytest.raises(ValueError, match="link must be one of"):
        space.genome_from_dict({"kind": "graph-macro", "link": [0, 0, 0, 2], "ops": ["gcn"] * 4})
    with pytest.raises(ValueError, match="not in this space's ops"):
        GraphMacroSpace(ops=("gcn", "skip")).genome_from_dict({"kind": "graph-macro", "link": [0, 0, 0, 0], "ops": ["gat"] * 4})


@pytest.mark.parametrize("space", [GraphMacroSpace(), GraphMacroSpace(ops=("gcn", "sage", "arma", "fc", "skip")), Nb201Space()])
def test_a_mutation_changes_exactly_one_choice_to_another_allowed_value(space: object) -> None:
    rng = np.random.default_rng(11)
    genome = space.random(rng)  # type: ignore[attr-defined]
    seen = set()
    for _ in range(2000):
        child, mutation = space.mutate(genome, rng)  # type: ignore[attr-defined]
        before, after = LAYOUT_OF[type(genome)].decode(genome.code), LAYOUT_OF[type(genome)].decode(child.code)
        changed = [p for p in range(len(before)) if before[p] != after[p]]
        assert len(changed) == 1 and mutation.kind in ("link", "op", "edge")
        seen.add((changed[0], after[changed[0]]))
        child.validate()
        genome = child
    # every position and value is reached (uniform choice, no value stuck)
    rules = space.rules  # type: ignore[attr-defined]
    assert seen == {(p, v) for p in range(rules.allowed.shape[0]) for v in np.flatnonzero(rules.allowed[p]).tolist()}


LAYOUT_OF = {GraphMacroGenome: LAYOUT, Nb201Genome: __import__("evonas.genomes.nb201", fromlist=["LAYOUT"]).LAYOUT}


# -- the compiled loop -------------------------------------------------------------------------------------


@pytest.mark.parametrize("genome, batch", list(itertools.product(["graph-macro", "nb201-cell"], [1, 3, 8])))
def test_the_compiled_loop_logs_what_ask_evaluate_tell_would(genome: str, batch: int) -> None:
    config = RunOptions(genome=genome, cycles=3000, seed=4, batch=batch, population=12, sample=4).resolve()
    task = make_task(config.task, config.task_options)
    plain, fast = build_strategy(config), build_strategy(config)
    rows = []
    while not plain.done:
        asked = plain.ask(config.batch)
        fitness, metrics = task.evaluate_columns([c.genome for c in asked], [0] * len(asked))
        plain.tell(ResultBatch([c.id for c in asked], fitness, metrics, 0.0, ""), asked)
        rows += [(c.id, c.parent_id, c.genome.code, str(c.mutation), f) for c, f in zip(asked, fitness.tolist())]
    breeder = fast.breeder(task, config.batch, config.seed)
    assert breeder is not None
    got = []
    calls = 0
    while not fast.done:
        bred = breeder.breed()
        if bred is None:
            asked = fast.ask(config.batch)
            fitness, metrics = task.evaluate_columns([c.genome for c in asked], [0] * len(asked))
            results = ResultBatch([c.id for c in asked], fitness, metrics, 0.0, "")
            fast.tell(results, asked)
        else:
            asked, results = bred
            calls += 1
        got += [(c.id, c.parent_id, c.genome.code, str(c.mutation), f) for c, f in zip(asked, results.fitness.tolist())]
    assert calls >= 1 and got == rows
    assert [m.id for m in fast.population] == [m.id for m in plain.population]
    assert fast.best.id == plain.best.id  # type: ignore[union-attr]


def test_bench_tabular_reports_every_budget_with_intervals() -> None:
    from evonas.bench_tabular import bench_tabular

    result = bench_tabular(quick=True, seeds=4, datasets="cora", metrics="baseline", budgets="20,60", strategies="aging,random,neat")
    for label in ("nasbench-graph/cora", "nb201-analog/baseline"):
        entry = result["results"][label]
        assert set(entry["strategies"]) == {"aging", "random"}  # neat cannot search these spaces
        for summary in entry["strategies"].values():
            assert set(summary["budgets"]) == {"20", "60"}
            at = summary["budgets"]["60"]
            assert at["test"]["ci95"] > 0 and 0 <= at["found_best"]["low"] <= at["found_best"]["share"] <= at["found_best"]["high"] <= 1
            assert math.isclose(at["regret"]["mean"], entry["optimum"]["test"] - at["test"]["mean"], abs_tol=1e-9)
    assert result["throughput"][0]["evaluations_per_s"] > 0


# -- reports -----------------------------------------------------------------------------------------------


def test_the_pick_after_each_evaluation_is_the_first_fittest_so_far() -> None:
    from evonas.report_regret import picked_index

    fitness = np.array([0.5, math.nan, 0.7, 0.7, 0.6, 0.9, math.nan])
    assert picked_index(fitness).tolist() == [0, 0, 2, 2, 2, 5, 5]


def test_a_report_on_several_tabular_runs_draws_anytime_regret_with_intervals(tmp_path: Path) -> None:
    from evonas.report import write_report
    from evonas.report_regret import regret_groups

    runs = []
    for strategy in ("aging", "random"):
        for seed in (1, 2, 3):
            folder = tmp_path / f"{strategy}-{seed}"
            result = run_cli("evolve", "--genome", "nb201-cell", "--strategy", strategy, "--cycles", "120", "--seed", str(seed),
                             "--out", str(folder), "-q")
            assert result.returncode == 0, result.stderr
            runs.append(folder)
    groups = regret_groups(runs)
    assert list(groups) == ["aging on nb201-analog (metric=baseline)", "random on nb201-analog (metric=baseline)"]
    optimum = Nb201Analog().optimum(Nb201Space())
    for k, curves in enumerate(groups.values()):
        # the fitness is the test figure here, so regret never rises and ends at the best found
        assert len(curves) == 3 and all(len(c) == 120 and (c >= 0).all() and np.all(np.diff(c) <= 0) for c in curves)
        for curve, folder in zip(curves, runs[3 * k : 3 * k + 3]):
            assert curve[-1] == pytest.approx(optimum["test"] - max_figure(folder))
    page = write_report(runs, tmp_path / "report")
    assert (tmp_path / "report" / "regret.png").stat().st_size > 0
    assert "Anytime regret" in page.read_text() and "random on nb201-analog (metric=baseline)</td><td>3</td><td>120" in page.read_text()


def max_figure(folder: Path) -> float:
    """The highest fitness in a run's lineage (for nb201-analog the fitness is the test figure)."""
    from evonas.store import read_lineage

    return float(max(f for f in read_lineage(folder / "lineage")[0].column("fitness").to_pylist() if f is not None))


# -- a strategy plug-in ------------------------------------------------------------------------------------

HILL_CLIMBER = '''
from evonas.core import Candidate
from evonas.strategies import Strategy


class HillClimber(Strategy):
    """Mutates the best so far (a plug-in strategy for the tests)."""

    name = "hill"

    def __init__(self, space, seed, budget, restarts: int = 0):
        super().__init__(space, seed, budget)
        self.restarts = restarts

    def options(self):
        return {"restarts": self.restarts}

    def _propose(self, ident):
        if self.best is None:
            return self._random_candidate(ident)
        [(child, mutation)] = self._mutate_children([self.best.genome], [ident])
        return Candidate(ident, self.best.id, None, ident, child, mutation)
'''


def test_a_plug_in_strategy_runs_resumes_and_is_benchmarked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_strategies.py").write_text(HILL_CLIMBER)
    monkeypatch.syspath_prepend(str(tmp_path))
    env = {"PYTHONPATH": str(tmp_path)}
    run = tmp_path / "run"
    result = run_cli("evolve", "--genome", "nb201-cell", "--strategy", "my_strategies:HillClimber", "--cycles", "50", "-o", "restarts=2",
                     "--out", str(run), "-q", env=env)
    assert result.returncode == 0, result.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["strategy"] == "my_strategies:HillClimber" and config["strategy_options"] == {"restarts": 2}
    refused = run_cli("resume", str(run), "--cycles", "80", "-q", env=env)  # a run folder's code loads only when vouched for
    assert refused.returncode == 1 and "add --trust-task" in refused.stderr
    wrong = run_cli("resume", str(run), "--cycles", "80", "--strategy", "my_strategies:Other", "-q", env=env)
    assert wrong.returncode == 1 and "was run with --strategy my_strategies:HillClimber" in wrong.stderr
    assert run_cli("resume", str(run), "--cycles", "65", "--strategy", "my_strategies:HillClimber", "-q", env=env).returncode == 0
    assert run_cli("resume", str(run), "--cycles", "80", "--trust-task", "-q", env=env).returncode == 0
    from evonas.bench_tabular import bench_tabular

    result_json = bench_tabular(quick=True, seeds=3, datasets="", metrics="baseline", budgets="30", strategies="aging,my_strategies:HillClimber")
    assert set(result_json["results"]["nb201-analog/baseline"]["strategies"]) == {"aging", "my_strategies:HillClimber"}
    bad = run_cli("evolve", "--genome", "nb201-cell", "--strategy", "my_strategies:Nope", "--out", str(tmp_path / "x"), env=env)
    assert bad.returncode == 1 and "cannot import strategy 'my_strategies:Nope'" in bad.stderr


@pytest.mark.parametrize("genome", ["graph-macro", "nb201-cell"])
def test_one_worker_or_two_give_the_same_lineage(tmp_path: Path, genome: str) -> None:
    import pyarrow.dataset as ds

    tables = []
    for workers in ("1", "2"):
        folder = tmp_path / workers
        result = run_cli("evolve", "--genome", genome, "--cycles", "30000", "--batch", "5", "--seed", "8", "--workers", workers,
                         "--lineage", "full", "--out", str(folder), "-q")
        assert result.returncode == 0, result.stderr
        columns = ["id", "parent_id", "mutation", "genome", "fingerprint", "fitness", "metrics"]
        tables.append(ds.dataset(folder / "lineage", format="arrow").to_table(columns=columns).sort_by("id").to_pylist())
    assert tables[0] == tables[1] and len(tables[0]) == 30000
