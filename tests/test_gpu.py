"""The GPU path without a GPU: the CUDA kernels under numba's simulator, and the --device rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import run_cli

from evonas.errors import UserError
from evonas.kernels import cuda_support

TESTS = Path(__file__).parent


def test_cuda_kernels_match_the_cpu_kernels_under_the_simulator(tmp_path: Path) -> None:
    """``cuda_sim_cases.py`` in a fresh interpreter with NUMBA_ENABLE_CUDASIM=1 (numba reads it at import)."""
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONSAFEPATH": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(TESTS / "cuda_sim_cases.py")],
        cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout, result.stdout[-2000:]


@pytest.mark.skipif(cuda_support.gpu_name() is not None, reason="this machine has a GPU")
def test_device_cuda_without_a_gpu_is_a_one_line_error(tmp_path: Path) -> None:
    """evolve and bench refuse --device cuda with one line naming the problem and the fix, and log nothing."""
    result = run_cli("evolve", "--genome", "automl-zero", "--task", "linear-regression", "--experiments", "1", "--cycles", "50",
                     "--device", "cuda", "--out", str(tmp_path / "run"))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--device cuda" in lines[0] and "evonas[cuda]" in lines[0], result.stderr
    assert not (tmp_path / "run" / "lineage").exists()
    bench = run_cli("bench", "automl-zero", "--quick", "--device", "cuda")
    assert bench.returncode != 0 and len(bench.stderr.strip().splitlines()) == 1 and "--device cuda" in bench.stderr


@pytest.mark.skipif(cuda_support.gpu_name() is not None, reason="this machine has a GPU")
def test_device_auto_falls_back_to_the_cpu_and_says_so_once(tmp_path: Path) -> None:
    """--device auto without a GPU runs on the CPU with one notice, even over several experiments."""
    result = run_cli("evolve", "--genome", "automl-zero", "--task", "linear-regression", "--experiments", "2", "--workers", "1",
                     "--cycles", "1200", "-o", "train=20", "-o", "valid=10", "--device", "auto", "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr[-2000:]
    notices = [line for line in (result.stdout + result.stderr).splitlines() if "--device auto" in line]
    assert len(notices) == 1 and "running on the CPU" in notices[0], notices


def test_unknown_device_and_the_resolution_rule(capsys: pytest.CaptureFixture[str]) -> None:
    """cpu is taken as asked; an unknown name is refused; auto says it fell back once per process, also when a
    task picks its kernels itself (the Python API, no CLI in between)."""
    from evonas.kernels import neat_cpu, program_cpu

    assert cuda_support.resolve_device("cpu") == "cpu"
    assert cuda_support.device_functions("cpu", "neat", ("activate_rows", "pole_episodes")) == (neat_cpu.activate_rows, neat_cpu.pole_episodes)
    with pytest.raises(UserError, match="unknown device"):
        cuda_support.resolve_device("tpu")
    if cuda_support.gpu_name() is None:
        said: list[str] = []
        cuda_support._told_fallback = False
        assert cuda_support.resolve_device("auto", said.append) == "cpu"
        assert cuda_support.resolve_device("auto", said.append) == "cpu"
        assert len(said) == 1
        with pytest.raises(UserError, match="--device cuda"):
            cuda_support.resolve_device("cuda")
        cuda_support._told_fallback = False
        capsys.readouterr()
        assert cuda_support.device_functions("auto", "program", ("run_programs",)) == (program_cpu.run_programs,)
        assert cuda_support.device_functions("auto", "program", ("run_programs",)) == (program_cpu.run_programs,)
        notices = capsys.readouterr().err.splitlines()
        assert len(notices) == 1 and notices[0].startswith("--device auto:") and "running on the CPU" in notices[0]


@pytest.mark.skipif(cuda_support.gpu_name() is not None, reason="this machine has a GPU")
def test_a_run_started_on_the_gpu_resumes_only_where_one_is(tmp_path: Path) -> None:
    """A NEAT run made with --device cuda (on the simulator) is refused by a resume without a GPU, in one line,
    with its lineage untouched; on the simulator it resumes."""
    run = tmp_path / "run"
    made = run_cli("evolve", "--genome", "neat", "--task", "xor", "--cycles", "300", "--device", "cuda", "--no-until-solved", "-q",
                   "--out", str(run), env={"NUMBA_ENABLE_CUDASIM": "1"})
    assert made.returncode == 0, made.stderr[-2000:]
    assert json.loads((run / "config.json").read_text())["task_options"]["device"] == "cuda"
    parts = {p.name: p.read_bytes() for p in (run / "lineage").iterdir()}
    refused = run_cli("resume", str(run), "--cycles", "450", "-q")
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "--device cuda" in refused.stderr and "evonas[cuda]" in refused.stderr
    assert {p.name: p.read_bytes() for p in (run / "lineage").iterdir()} == parts
    resumed = run_cli("resume", str(run), "--cycles", "450", "-q", env={"NUMBA_ENABLE_CUDASIM": "1"})
    assert resumed.returncode == 0, resumed.stderr[-2000:]


def test_reduced_precision_only_on_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CPU trains in float32; a GPU in bfloat16 where it has it, else in float16 (with loss scaling)."""
    import torch

    from evonas.kernels.torchnet import autocast_dtype

    assert autocast_dtype(torch.device("cpu")) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert autocast_dtype(torch.device("cuda")) is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert autocast_dtype(torch.device("cuda")) is torch.float16


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="torch sees a GPU here")
def test_torch_training_refuses_device_cuda_without_a_gpu_and_auto_says_it_uses_the_cpu(tmp_path: Path) -> None:
    """An AmoebaNet search: --device cuda is one line and no folder; --device auto runs on the CPU with one notice."""
    refused = run_cli("evolve", "--genome", "amoeba", "--preset", "smoke", "--device", "cuda", "--out", str(tmp_path / "no"))
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode != 0 and len(lines) == 1 and "torch" in lines[0] and "--device cpu" in lines[0], refused.stderr
    assert not (tmp_path / "no").exists()
    ran = run_cli("evolve", "--genome", "amoeba", "--preset", "smoke", "--train-images", "64", "--cycles", "4", "--workers", "1",
                  "--device", "auto", "--out", str(tmp_path / "yes"))
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert [line for line in ran.stderr.splitlines() if "--device auto" in line] == ["--device auto: torch sees no CUDA GPU; training on the CPU"]
