"""``evonas export``: exported artefacts run without evonas and reproduce what the run computed."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from cli_helpers import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from neat_reference import step_network
from test_automl_zero import random_program, small_tasks
from test_neat import FEED_FORWARD, RECURRENT, grown

from evonas.families.automl_zero.export import program_python
from evonas.families.neat.export import neat_python
from evonas.genomes.automl_zero import to_batch
from evonas.genomes.neat import population_ir
from evonas.kernels.neat_cpu import activate_rows, lower_population
from evonas.registry import GENOMES


def load_source(source: str, tmp_path: Path, name: str) -> ModuleType:
    """Import generated source as a module of its own (as a user would, from a file)."""
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@settings(max_examples=25)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(0, 30), recurrent=st.booleans())
def test_exported_neat_function_gives_the_kernel_outputs(tmp_path_factory: pytest.TempPathFactory, seed: int, steps: int, recurrent: bool) -> None:
    """activate(): bit-for-bit the bulk kernel's one-pass outputs; Network.step(): the synchronous scheme."""
    genome = grown(RECURRENT if recurrent else FEED_FORWARD, seed, steps)
    module = load_source(neat_python(genome, "test"), tmp_path_factory.mktemp("neat"), f"net_{seed}_{steps}")
    rows = np.random.default_rng(seed).uniform(-2, 2, (12, genome.n_inputs))
    if genome.bias:
        rows[:, genome.inputs] = 1.0
    kernel = activate_rows(lower_population(population_ir([genome])), rows)[0]
    exported = np.array([module.activate(list(row)) for row in rows])
    assert np.array_equal(exported, kernel)
    net, values = module.Network(), {}
    for row in rows[:5]:
        out = net.step(list(row))
        step_network(genome, values, list(row), synchronous=True)
        expected = [values.get(genome.n_inputs + o, 0.0) for o in range(genome.outputs)]
        assert np.allclose(out, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=40)
@given(data=st.data(), classification=st.booleans())
def test_exported_automl_zero_program_gives_the_kernel_predictions(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, classification: bool) -> None:
    """Per-example errors of the exported Algorithm (train then validation) equal the kernel's, where it ran."""
    from evonas.kernels.program_cpu import run_programs

    genome = random_program(data)
    tasks = small_tasks(data.draw(st.integers(0, 1000)), classification)
    seed = data.draw(st.integers(0, 2**40))
    module = load_source(program_python(genome, "test"), tmp_path_factory.mktemp("prog"), f"prog_{seed}")
    _, _, errors = run_programs(to_batch([genome]), tasks, np.array([seed], dtype=np.uint64), epochs=1, record_errors=True)
    n_train = tasks.x_train.shape[1]
    for t in range(tasks.count):
        algorithm = module.Algorithm(seed, t, classification)
        got = []
        for step in range(n_train):  # epoch 0 runs in dataset order
            y = float(tasks.y_train[t, step])
            got.append(abs(y - algorithm.train_step(list(tasks.x_train[t, step]), y)))
            if not got[-1] <= 100.0:
                break  # the kernel stops this task here
        else:
            for step in range(tasks.x_valid.shape[1]):
                p, y = algorithm.predict(list(tasks.x_valid[t, step])), float(tasks.y_valid[t, step])
                got.append((0.0 if (y > 0.5) == (p > 0.5) else 1.0) if classification else abs(y - p))
        kernel = errors[0, t]
        expected = kernel[: len(got)]
        assert np.allclose(got, expected, rtol=1e-9, atol=0.0, equal_nan=True), (t, got, expected, genome.describe())
        assert np.isnan(kernel[len(got):]).all() or len(got) == len(kernel)


@pytest.fixture(scope="module", params=["amoeba", "motifs"])
def cell_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    kind = request.param
    out = tmp_path_factory.mktemp("export") / kind
    cycles = ["--cycles", "4"] if kind == "motifs" else []
    result = run_cli("evolve", "--genome", kind, "--preset", "smoke", "--train-images", "64", "--workers", "1", "--seed", "2", "-q",
                     *cycles, "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


LOAD_IN_FRESH_PROCESS = """
import sys, torch
program = torch.export.load(sys.argv[1])
logits = program.module()(torch.load(sys.argv[2]))
torch.save(logits, sys.argv[3])
leaked = [m for m in sys.modules if m.split('.')[0] in ('evonas', 'numba', 'pyarrow')]
assert not leaked, leaked
"""


def test_exported_cell_network_loads_with_torch_alone_and_gives_the_run_logits(cell_run: Path, tmp_path: Path) -> None:
    """The best network, trained as its evaluation trained it: same validation accuracy as logged, same logits in a
    fresh process that imports only torch."""
    from evonas.executors import evaluation_seed
    from evonas.registry import make_task
    from evonas.run_folder import load_config

    result = run_cli("export", str(cell_run), "--best")
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip().split("exported: ")[1])
    spec = json.loads(path.with_suffix(".json").read_text())
    best = json.loads((cell_run / "best.json").read_text())
    assert spec["val_accuracy"] == pytest.approx(best["fitness"], abs=1e-12)
    config = load_config(cell_run)
    task = make_task(config.task, config.task_options, fresh=True)
    genome = GENOMES[config.genome].from_dict(best["genome"])
    model, _ = task.trained_model(genome, evaluation_seed(config.seed, best["id"]))
    model = model.to(memory_format=torch.contiguous_format).eval()
    x = task.splits().test_x[:32].contiguous()
    with torch.no_grad():
        expected = model(x)
    torch.save(x, tmp_path / "x.pt")
    done = subprocess.run([sys.executable, "-c", LOAD_IN_FRESH_PROCESS, str(path), str(tmp_path / "x.pt"), str(tmp_path / "y.pt")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert torch.allclose(torch.load(tmp_path / "y.pt"), expected, atol=1e-5, rtol=1e-5)


def test_export_can_retrain_at_a_larger_size(cell_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "bigger.pt2"
    result = run_cli("export", str(cell_run), "--train", "--filters", "12", "--epochs", "0.02", "--out", str(out))
    assert result.returncode == 0, result.stderr
    spec = json.loads(out.with_suffix(".json").read_text())
    small = json.loads((cell_run / "best.json").read_text())["report"]  # the run's own network, as trained in the run
    assert spec["task_options"]["filters"] == 12 and spec["task_options"]["epochs"] == 0.02
    assert spec["params"] > small["params"]
    program = torch.export.load(str(out))
    assert program.module()(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_export_errors_are_one_line(cell_run: Path, tmp_path: Path) -> None:
    for args, fragment in [
        (["--format", "python"], "export as torch"),
        (["--id", "999999"], "no individual with id 999999"),
        (["--filters", "16"], "add --train"),
        (["--train"], "--train needs"),
        (["--id", "0", "--best"], "not both"),
    ]:
        result = run_cli("export", str(cell_run), *args)
        assert result.returncode != 0 and "Traceback" not in result.stderr, args
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and fragment in lines[0], (args, result.stderr)


def test_exported_xor_winner_solves_xor_as_a_plain_python_function(tmp_path: Path) -> None:
    """End to end: evolve XOR, export the winner, import the file and run it on the four patterns."""
    out = tmp_path / "xor"
    assert run_cli("evolve", "--genome", "neat", "--task", "xor", "--cycles", "30000", "--seed", "3", "-q", "--out", str(out)).returncode == 0
    result = run_cli("export", str(out), "--format", "python", "--out", str(tmp_path / "xor_net.py"))
    assert result.returncode == 0, result.stderr
    assert run_cli("export", str(out), "--format", "dot", "--out", str(tmp_path / "xor.dot")).returncode == 0
    assert (tmp_path / "xor.dot").read_text().startswith("digraph")
    module = load_source((tmp_path / "xor_net.py").read_text(), tmp_path, "xor_net")
    for a in (0.0, 1.0):
        for b in (0.0, 1.0):
            (output,) = module.activate([a, b, 1.0])
            assert (output > 0.5) == (a != b)


def test_a_protocol_folder_reports_and_exports_the_candidate_it_kept(tmp_path: Path) -> None:
    """The AutoML-Zero demo makes a protocol folder: report shows its best experiment, export writes its kept candidate."""
    out = tmp_path / "demo"
    result = run_cli("evolve", "--genome", "automl-zero", "--preset", "smoke", "--experiments", "2", "-q", "--out", str(out))
    assert result.returncode == 0, result.stderr
    state = json.loads((out / "protocol.json").read_text())
    assert run_cli("report", str(out)).returncode == 0
    assert (out / "report" / "report.html").exists()
    result = run_cli("export", str(out))
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip().split("exported: ")[1])
    module = load_source(path.read_text(), tmp_path, "kept")
    assert f"experiment {state['best']['experiment']}" in module.__doc__
    algorithm = module.Algorithm(seed=0, task=0)
    for x in np.random.default_rng(0).standard_normal((5, module.F)):
        algorithm.train_step(list(x), float(x.sum()))
    assert isinstance(algorithm.predict([0.0] * module.F), float)
