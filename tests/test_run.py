"""End-to-end runs: worker-count independence, failures logged, bad input handled (SIGKILL and resume: test_contracts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from cli_helpers import run_cli

from evonas.executors import PoolExecutor, worker_environment

COMPARED = ["id", "parent_id", "birth", "mutation", "genome", "fingerprint", "fitness", "status"]
AMOEBA_FAST = ["--genome", "amoeba", "--preset", "smoke", "--train-images", "64", "-q"]
BITS_FAST = ["--genome", "bitstring", "--preset", "cpu", "--checkpoint-every", "1500", "-q"]


def lineage_rows(run_dir: Path) -> list[dict]:
    table = ds.dataset(run_dir / "lineage", format="arrow").to_table(columns=COMPARED).sort_by("id")
    return table.to_pylist()


def test_one_and_two_workers_give_the_same_lineage(tmp_path: Path) -> None:
    """Results are folded in submission order and seeds depend only on (run seed, id)."""
    args = [*AMOEBA_FAST, "--cycles", "8", "--seed", "3"]
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_cli("evolve", *args, "--workers", "1", "--out", str(one)).returncode == 0
    assert run_cli("evolve", *args, "--workers", "2", "--out", str(two)).returncode == 0
    rows = lineage_rows(one)
    assert rows == lineage_rows(two)
    assert len(rows) == 8 and all(r["status"] == "ok" for r in rows)
    assert {json.loads(r["genome"])["kind"] for r in rows} == {"amoeba"}


def test_evolve_prints_best_architecture_validation_and_test_accuracy(tmp_path: Path) -> None:
    """The flagship command's summary, and best.json beside the lineage."""
    result = run_cli("evolve", *AMOEBA_FAST, "--cycles", "4", "--population", "2", "--workers", "1", "--out", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    for text in ("normal cell:", "reduction cell:", "validation accuracy:", "test accuracy:"):
        assert text in result.stdout
    best = json.loads((tmp_path / "r" / "best.json").read_text())
    assert 0.0 <= best["report"]["test_accuracy"] <= 1.0
    assert best["report"]["val_accuracy"] == pytest.approx(best["fitness"])


FLAKY_TASK = '''
import math
from evonas.tasks.base import Task

class Flaky(Task):
    name = "flaky"
    genome_kinds = ("bitstring",)

    def evaluate(self, genome, seed):
        if genome.value % 5 == 0:
            raise RuntimeError("simulated crash in the evaluation")
        if genome.value % 5 == 1:
            return math.nan, {}
        return genome.ones() / genome.length, {}

def make(**options):
    return Flaky(**options)
'''


@pytest.mark.parametrize("workers", ["1", "2"])
def test_raising_or_nan_evaluations_are_logged_as_failed_and_the_run_goes_on(tmp_path: Path, workers: str) -> None:
    """A user task (by import path) that raises or returns NaN: failures logged with their error, run completes."""
    (tmp_path / "flaky_task.py").write_text(FLAKY_TASK)
    out = tmp_path / "run"
    result = run_cli(
        "evolve", "--genome", "bitstring", "--task", "flaky_task:make", "--preset", "smoke", "--cycles", "60",
        "--batch", "2", "--workers", workers, "--out", str(out), "-q", env={"PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    table = ds.dataset(out / "lineage", format="arrow").to_table().to_pylist()
    assert len(table) == 60
    failed = [r for r in table if r["status"] == "failed"]
    assert failed and all(r["fitness"] is None for r in failed)
    assert any("simulated crash" in r["error"] for r in failed)
    assert any("nan" in r["error"] for r in failed)
    assert all(r["fitness"] is not None for r in table if r["status"] == "ok")


def test_pool_workers_run_one_intra_op_thread() -> None:
    """data.md §3.3: OMP_NUM_THREADS=1, OMP_WAIT_POLICY=PASSIVE and torch at one thread in every worker."""
    pool = PoolExecutor("onemax", {}, 0, workers=2)
    try:
        env = pool.call(worker_environment)
    finally:
        pool.close()
    assert env["OMP_NUM_THREADS"] == "1" and env["OMP_WAIT_POLICY"] == "PASSIVE" and env["torch_threads"] == "1"


def test_wall_clock_budget_stops_the_run_and_resume_extends_cycles(tmp_path: Path) -> None:
    """--max-seconds stops early with a checkpoint; resume --cycles N raises the budget to N in total."""
    out = tmp_path / "r"
    assert run_cli("evolve", *BITS_FAST, "--cycles", "50", "--out", str(out), "--workers", "1").returncode == 0
    assert len(lineage_rows(out)) == 50
    result = run_cli("resume", str(out), "--cycles", "80", "-q", "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert [r["id"] for r in lineage_rows(out)] == list(range(80))
    timed = tmp_path / "timed"
    result = run_cli("evolve", *BITS_FAST, "--cycles", "10000000", "--max-seconds", "1", "--out", str(timed), "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert 0 < len(lineage_rows(timed)) < 10_000_000


def one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["evolve", "--genome", "lstm"], ["unknown genome 'lstm'"]),
        (["evolve", "--task", "imagenet"], ["unknown task 'imagenet'"]),
        (["evolve", "--population", "0"], ["--population must be a positive integer"]),
        (["evolve", "--population", "5", "--sample", "9"], ["--sample 9 is larger than --population 5"]),
        (["evolve", "--strategy", "bayes"], ["unknown strategy"]),
        (["evolve", "--genome", "bitstring", "--task", "fashion-mnist"], ["scores amoeba, motifs genomes"]),
        (["evolve", "--workers", "many"], ["'many' is not a valid integer"]),
        (["resume", "no/such/run"], ["does not exist"]),
        (["lineage", "no/such/run"], ["does not exist"]),
        (["bench", "nothing"], ["unknown benchmark"]),
        (["evolve", "--genome", "neat", "--task", "fashion-mnist"], ["not 'neat'; pick a matching --task"]),
        (["evolve", "--genome", "neat", "--task", "xor", "-o", "sample=3"], ["applies to the aging strategy"]),
        (["evolve", "--genome", "neat", "--task", "xor", "-o", "threshold=-1"], ["invalid neat settings"]),
        (["evolve", "--genome", "bitstring", "--strategy", "neat"], ["the neat strategy cannot search bitstring genomes; it searches neat"]),
        (["evolve", "--genome", "motifs", "--task", "xor"], ["scores neat genomes"]),
        (["evolve", "--genome", "neat", "--sample", "5"], ["--sample does not apply to the neat strategy"]),
        (["evolve", "--genome", "motifs", "-o", "fraction=2"], ["invalid tournament settings"]),
        (["evolve", "--genome", "motifs", "-o", "disconnected=maybe"], ["invalid motifs space option"]),
    ],
)
def test_bad_input_gives_one_line_error(args: list[str], fragments: list[str], tmp_path: Path) -> None:
    """Bad flags and folders: one line naming the problem, non-zero exit, no traceback."""
    one_line_error(run_cli(*args, cwd=tmp_path), *fragments)


@pytest.fixture()
def finished_run(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    assert run_cli("evolve", *BITS_FAST, "--cycles", "3000", "--checkpoint-every", "1000", "--out", str(out), "--workers", "1").returncode == 0
    return out


def snapshot(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}


def test_not_a_run_folder(tmp_path: Path) -> None:
    """A folder without config.json is named as not a run folder."""
    one_line_error(run_cli("resume", str(tmp_path)), "not an evonas run folder")


def test_evolve_refuses_to_overwrite_a_run(finished_run: Path) -> None:
    """--out pointing at an existing run is refused and the run is untouched."""
    before = snapshot(finished_run)
    one_line_error(run_cli("evolve", *BITS_FAST, "--out", str(finished_run)), "already holds a run", "evonas resume")
    assert snapshot(finished_run) == before


def test_truncated_and_corrupted_checkpoint(finished_run: Path) -> None:
    """Resume refuses a damaged checkpoint and leaves every file as it was."""
    cp = finished_run / "checkpoint.arrow"
    raw = cp.read_bytes()
    at = raw.index(b'"bits"')  # inside a stored genome: real content, not padding
    for damaged in (raw[: len(raw) // 3], raw[:at] + b"\x00" * 16 + raw[at + 16 :]):
        cp.write_bytes(damaged)
        before = snapshot(finished_run)
        one_line_error(run_cli("resume", str(finished_run)), "checkpoint")
        assert snapshot(finished_run) == before


def test_incompatible_config_is_refused(finished_run: Path) -> None:
    """Editing config.json (here the seed) after the checkpoint makes resume refuse."""
    path = finished_run / "config.json"
    config = json.loads(path.read_text())
    config["seed"] = 99
    path.write_text(json.dumps(config))
    before = snapshot(finished_run)
    one_line_error(run_cli("resume", str(finished_run)), "no longer matches the checkpoint")
    assert snapshot(finished_run) == before


def test_torn_last_lineage_file_is_read_up_to_its_last_complete_batch(finished_run: Path) -> None:
    """'evonas lineage' warns about a torn file and still lists what is readable."""
    parts = sorted((finished_run / "lineage").glob("part-*.arrow"))
    data = parts[-1].read_bytes()
    parts[-1].write_bytes(data[: len(data) // 2])
    result = run_cli("lineage", str(finished_run), "--top", "3")
    assert result.returncode == 0
    assert "torn" in result.stderr and "evaluations" in result.stdout


def test_resume_sets_aside_a_lineage_tail_newer_than_the_checkpoint(finished_run: Path, tmp_path: Path) -> None:
    """Rows past the checkpoint are moved to set-aside/ (never deleted) and the run re-creates them."""
    reference = lineage_rows(finished_run)
    # Put an older checkpoint back: what a SIGKILL between a lineage flush and its checkpoint leaves.
    old = tmp_path / "old"
    assert run_cli("evolve", *BITS_FAST, "--cycles", "2000", "--checkpoint-every", "1000", "--out", str(old), "--workers", "1").returncode == 0
    (finished_run / "checkpoint.arrow").write_bytes((old / "checkpoint.arrow").read_bytes())
    result = run_cli("resume", str(finished_run), "-q", "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert lineage_rows(finished_run) == reference
    assert list((finished_run / "set-aside").glob("*.arrow"))


def test_lineage_ancestry_walks_back_to_the_initial_population(finished_run: Path) -> None:
    """--ancestry prints the chain ending at an individual with no parent."""
    result = run_cli("lineage", str(finished_run), "--ancestry", "2999", "--json")
    assert result.returncode == 0, result.stderr
    chain = json.loads(result.stdout)
    assert chain[0]["id"] == 2999 and chain[-1]["parent_id"] is None
    assert all(a["parent_id"] == b["id"] for a, b in zip(chain, chain[1:]))
    one_line_error(run_cli("lineage", str(finished_run), "--ancestry", "123456"), "no individual with id 123456")


def test_no_pickle_in_a_run_folder(finished_run: Path) -> None:
    """Run folders hold JSON and Arrow only: reading one never executes code (and the writer's lock file, empty
    once the run has ended)."""
    assert (finished_run / ".lock").read_bytes() == b""
    for path in finished_run.rglob("*"):
        if path.is_file() and path.name != ".lock":
            head = path.read_bytes()[:8]
            assert head.startswith(b"ARROW1") or head.lstrip()[:1] in (b"{", b"["), path


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))


def test_options_reach_strategy_space_and_task_and_unknown_ones_are_refused(tmp_path: Path) -> None:
    """-o KEY=VALUE lands in config.json where it belongs; a misspelt key is an error, never dropped."""
    out = tmp_path / "r"
    result = run_cli("evolve", *BITS_FAST, "--cycles", "20", "--workers", "1", "--out", str(out),
                     "-o", "aging=false", "-o", "replace=false", "-o", "length=40", "-o", "noise=0.0")
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["strategy_options"]["aging"] is False and config["strategy_options"]["replace"] is False
    assert config["space"]["length"] == 40 and config["task_options"]["noise"] == 0.0
    one_line_error(run_cli("evolve", "--preset", "smoke", "-o", "filterz=8", cwd=tmp_path), "unknown image-task option(s) filterz")
    one_line_error(run_cli("evolve", "--preset", "smoke", "-o", "p_identity=2", cwd=tmp_path), "p_identity")
    one_line_error(run_cli("evolve", "--preset", "smoke", "-o", "novalue", cwd=tmp_path), "KEY=VALUE")


AZ_FAST = ["--genome", "automl-zero", "--preset", "smoke", "--experiments", "1", "--checkpoint-every", "2000", "-q"]
AZ_LONG = ["--genome", "automl-zero", "--preset", "cpu", "--experiments", "1", "--checkpoint-every", "20000", "-q"]


def test_automl_zero_protocol_scores_candidates_on_select_and_final_tasks(tmp_path: Path) -> None:
    """The demo protocol: experiments in their own run folders, select fitness, final fitness, readable code."""
    out = tmp_path / "demo"
    result = run_cli("evolve", "--genome", "automl-zero", "--preset", "smoke", "--experiments", "2", "--out", str(out), "-q")
    assert result.returncode == 0, result.stderr
    assert "Select fitness for candidate algorithm = " in result.stdout
    assert "Final evaluation fitness (on unseen data) = " in result.stdout
    assert "def predict():" in result.stdout
    state = json.loads((out / "protocol.json").read_text())
    assert [h["experiment"] for h in state["history"]] == [1, 2]
    assert (out / "experiment-0002" / "lineage").is_dir()
    shown = run_cli("lineage", str(out))  # as report and export do: the experiment that holds the kept candidate
    assert shown.returncode == 0 and "experiment protocol: showing experiment-000" in shown.stderr and "evaluations" in shown.stdout
    one_line_error(run_cli("evolve", "--genome", "automl-zero", "--task", "onemax", cwd=tmp_path), "not 'automl-zero'; pick a matching --task")


def test_resume_refuses_a_damaged_lineage_without_touching_any_file(finished_run: Path) -> None:
    """A missing lineage part is refused before config.json (--cycles) or any part file is changed."""
    sorted((finished_run / "lineage").glob("part-*.arrow"))[0].unlink()
    before = snapshot(finished_run)
    one_line_error(run_cli("resume", str(finished_run), "--cycles", "5000"), "lineage was damaged")
    assert snapshot(finished_run) == before


NEAT_FAST = ["--genome", "neat", "--task", "xor", "--no-until-solved", "--checkpoint-every", "1500", "-q"]


def test_neat_checkpointing_and_worker_count_leave_the_lineage_unchanged(tmp_path: Path) -> None:
    args = [*NEAT_FAST, "--cycles", "3000", "--seed", "9"]
    runs = {
        "often-1": ["--checkpoint-every", "1", "--workers", "1"],
        "rarely-2": ["--checkpoint-every", "100000", "--workers", "2"],
    }
    for name, extra in runs.items():
        assert run_cli("evolve", *args, *extra, "--out", str(tmp_path / name)).returncode == 0
    assert lineage_rows(tmp_path / "often-1") == lineage_rows(tmp_path / "rarely-2")


def test_neat_xor_run_prints_the_winning_network_and_writes_a_dot_file(tmp_path: Path) -> None:
    out = tmp_path / "xor"
    result = run_cli("evolve", "--genome", "neat", "--task", "xor", "--seed", "1", "-q", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "solved by id" in result.stdout and "NEAT network" in result.stdout and "enabled connection" in result.stdout
    dot = (out / "best.dot").read_text()
    assert dot.startswith("digraph") and "->" in dot
    config = json.loads((out / "config.json").read_text())
    assert config["strategy"] == "neat" and config["space"]["inputs"] == 2 and config["strategy_options"]["population"] == 150


@pytest.mark.parametrize("genome_args", [
    ["--genome", "neat", "--task", "xor", "--no-until-solved", "--cycles", "1500", "--batch", "100"],
    ["--genome", "automl-zero", "--preset", "smoke", "--experiments", "1", "--cycles", "1200", "--population", "100"],
    ["--genome", "bitstring", "--preset", "smoke", "--cycles", "300"],
])
def test_compact_lineage_genomes_are_rebuilt_exactly_by_replay(tmp_path: Path, genome_args: list[str]) -> None:
    """A compact lineage stores few genomes; replaying the search with the logged results rebuilds every one."""
    from evonas.replay import replay_genomes

    common = [*genome_args, "--seed", "2", "--workers", "1", "-q"]
    full, compact = tmp_path / "full", tmp_path / "compact"
    assert run_cli("evolve", *common, "--lineage", "full", "--out", str(full)).returncode == 0
    assert run_cli("evolve", *common, "--lineage", "compact", "--out", str(compact)).returncode == 0
    stored = {r["id"]: r["genome"] for r in lineage_rows(full)}
    sparse = {r["id"]: r["genome"] for r in lineage_rows(compact)}
    assert sum(g is None for g in sparse.values()) > len(sparse) // 2
    wanted = {i for i, g in sparse.items() if g is None}
    rebuilt = replay_genomes(compact, wanted)
    assert {i: json.dumps(g.to_dict(), separators=(",", ":")) for i, g in rebuilt.items()} == {i: stored[i] for i in wanted}
    last = max(wanted)
    shown = run_cli("lineage", str(compact), "--genome", str(last), "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout) == json.loads(stored[last])


def test_config_file_sets_evolve_options_and_flags_override_it(tmp_path: Path) -> None:
    config = tmp_path / "search.toml"
    config.write_text('genome = "neat"\ntask = "xor"\ncycles = 450\nseed = 3\nuntil-solved = false\n[options]\nthreshold = 2.5\nprob_add_node = 0.05\n')
    out = tmp_path / "run"
    result = run_cli("evolve", "--config", str(config), "--seed", "4", "-o", "prob_add_node=0.1", "-q", "--workers", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    saved = json.loads((out / "config.json").read_text())
    assert (saved["genome"], saved["cycles"], saved["seed"], saved["until_solved"]) == ("neat", 450, 4, False)
    assert saved["strategy_options"]["threshold"] == 2.5 and saved["space"]["prob_add_node"] == 0.1
    (tmp_path / "bad.toml").write_text("popsize = 3\n")
    one_line_error(run_cli("evolve", "--config", str(tmp_path / "bad.toml")), "unknown key(s) popsize")
    (tmp_path / "broken.toml").write_text("x = [\n")
    one_line_error(run_cli("evolve", "--config", str(tmp_path / "broken.toml")), "cannot read config file")


def test_parallel_protocol_experiments_give_the_sequential_outcome(tmp_path: Path) -> None:
    """--workers 2 on the protocol runs two experiments at once (one process each) and folds them in order:
    the same candidates, select fitness, kept best and final fitness as one at a time."""
    outcomes = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        result = run_cli("evolve", "--genome", "automl-zero", "--preset", "smoke", "--experiments", "3", "--workers", workers,
                         "--seed", "5", "--out", str(out), "-q")
        assert result.returncode == 0, result.stderr
        state = json.loads((out / "protocol.json").read_text())
        for h in state["history"]:
            h.pop("seconds")
        state["best"].pop("seconds")
        outcomes.append((state["history"], state["best"], state["final"], lineage_rows(out / "experiment-0003")))
    assert outcomes[0] == outcomes[1]


def test_parallel_protocol_stops_an_experiment_it_no_longer_needs(tmp_path: Path) -> None:
    """When experiment 1 passes selection, experiment 2 (already running) is stopped with a checkpoint and kept."""
    from evonas.config import RunOptions
    from evonas.families.automl_zero import protocol

    config = RunOptions("automl-zero", "linear-regression", "aging", None, None, None, None, 2, "smoke", None, None, None, None,
                          None, "cpu", {}, None).resolve()
    config.protocol = {**config.protocol, "threshold": -1.0}  # any candidate passes
    folder = tmp_path / "demo"
    lines: list[str] = []
    state = protocol.run(folder, protocol.start(folder, config, 0), None, lines.append, parallel=2)
    assert [h["experiment"] for h in state["history"]] == [1] and state["final"]["solved"]
    assert state["abandoned"] == [2] and (folder / "experiment-0002" / "checkpoint.arrow").exists()
    assert json.loads((folder / "protocol.json").read_text())["abandoned"] == [2]
    assert any("experiment 2: stopped" in line for line in lines)


def test_parallel_protocol_stops_an_unneeded_experiment_running_in_its_own_thread(tmp_path: Path) -> None:
    """One experiment at a time runs in a thread of the protocol's process: when experiment 2 (a process) passes
    selection, experiment 3 (the thread's, started after 1 failed) is stopped with a checkpoint and kept."""
    from evonas.config import RunOptions
    from evonas.families.automl_zero import protocol

    config = RunOptions("automl-zero", "linear-regression", "aging", None, None, None, None, 2, "smoke", None, None, None, None,
                          None, "cpu", {}, None).resolve()
    config.protocol = {**config.protocol, "threshold": 0.34}  # seed 2: experiment 1 selects at 0.3386, experiment 2 at 0.3451
    folder = tmp_path / "demo"
    lines: list[str] = []
    state = protocol.run(folder, protocol.start(folder, config, 0), None, lines.append, parallel=2)
    assert [h["experiment"] for h in state["history"]] == [1, 2] and state["final"]["solved"]
    assert state["abandoned"] == [3] and (folder / "experiment-0003" / "checkpoint.arrow").exists()
    assert "experiment 1: started (in this process)" in lines and "experiment 3: started (in this process)" in lines
    assert any(line.startswith("experiment 2: started (process ") for line in lines)
    assert any("experiment 3: stopped" in line for line in lines)


class _FailingXor:
    """NEAT XOR that fails every genome whose evaluation seed is a multiple of 5, scored one (fitness, metrics)
    per genome (``evaluate_batch``)."""

    name = "failing-xor"

    def __init__(self) -> None:
        from evonas.families.neat.tasks import NeatTask

        self.inner = NeatTask("xor")

    def evaluate_batch(self, genomes: list, seeds: list[int]) -> list:
        return [(float("nan") if s % 5 == 0 else f, m) for s, (f, m) in zip(seeds, self.inner.evaluate_batch(genomes, seeds))]


class _FailingXorColumns(_FailingXor):
    """The same task scored as columns (``evaluate_columns``), which the executor prefers."""

    def evaluate_columns(self, genomes: list, seeds: list[int]) -> tuple:
        import numpy as np

        fitness, metrics = self.inner.evaluate_columns(genomes, seeds)
        return np.where(np.array(seeds) % 5 == 0, np.nan, fitness), metrics


@pytest.mark.parametrize("lineage", ["full", "compact"])
def test_columnar_evaluation_logs_the_same_lineage_as_one_result_per_genome(tmp_path: Path, lineage: str) -> None:
    """A bulk task's columns (no Result objects) and its per-genome results give the same run: same lineage rows
    (failures included), same best, same solution."""
    from evonas.config import RunOptions
    from evonas.executors import InProcessExecutor
    from evonas.run import Run

    tables, bests = [], []
    for columns in (True, False):
        config = RunOptions("neat", "xor", None, None, None, 3000, None, 4, "cpu", None, None, None, None, 1000, "cpu", {}, lineage).resolve()
        config.until_solved = False
        run = Run.create(tmp_path / f"run-{columns}", config)
        best = run.execute(InProcessExecutor(config.task, config.task_options, config.seed, task=_FailingXorColumns() if columns else _FailingXor()))  # type: ignore[arg-type]
        bests.append((best.id, best.fitness, run.failed))
        tables.append(ds.dataset(str(tmp_path / f"run-{columns}" / "lineage"), format="arrow").to_table()
                      .drop_columns(["wall_time", "eval_seconds"]).sort_by("id"))
    assert tables[0].equals(tables[1])
    assert bests[0] == bests[1] and bests[0][2] > 0
    failed = tables[0].filter(ds.field("status") == "failed")
    assert failed.num_rows == bests[0][2] and set(failed.column("error").to_pylist()) == {"fitness is nan"}


class _OneBadGenome:
    """Columns fail as a whole when any genome is bad; ``evaluate`` fails only the bad one (seed divisible by 3)."""

    name = "one-bad"

    def evaluate_columns(self, genomes: list, seeds: list[int]) -> tuple:
        if any(s % 3 == 0 for s in seeds):
            raise ValueError("a bad genome in the batch")
        raise AssertionError("not reached in this test")

    def evaluate(self, genome: object, seed: int) -> tuple[float, dict]:
        if seed % 3 == 0:
            raise ValueError("this genome is bad")
        return 1.0, {"seed_mod": float(seed % 3)}


def test_a_failing_column_batch_is_scored_genome_by_genome() -> None:
    """When a bulk call raises, each genome is scored alone, so only the bad ones fail, with their own error."""
    from evonas.core import Candidate
    from evonas.executors import InProcessExecutor, evaluation_seed

    executor = InProcessExecutor("one-bad", {}, 11, task=_OneBadGenome())  # type: ignore[arg-type]
    candidates = [Candidate(i, None, None, i, object(), None) for i in range(12)]  # type: ignore[arg-type]
    results = executor.evaluate(candidates)
    bad = [evaluation_seed(11, i) % 3 == 0 for i in range(12)]
    assert any(bad) and not all(bad)
    assert [r.status for r in results] == ["failed" if b else "ok" for b in bad]
    assert all("this genome is bad" in r.error for r, b in zip(results, bad) if b)
