"""``evonas report``: real PNGs for every genome kind, overlaid curves, and a page that loads cleanly in Chromium."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli

RUNS = {
    "bitstring": ["--genome", "bitstring", "--cycles", "300", "--population", "20", "--sample", "5"],
    "neat": ["--genome", "neat", "--task", "xor", "--cycles", "600"],
    "automl-zero": ["--genome", "automl-zero", "--preset", "smoke", "--experiments", "1", "--cycles", "3000"],
    "amoeba": ["--genome", "amoeba", "--preset", "smoke", "--train-images", "64", "--workers", "1"],
    "motifs": ["--genome", "motifs", "--preset", "smoke", "--train-images", "64", "--workers", "1", "--cycles", "6"],
}
PLOTS = ["fitness.png", "population.png", "mutations.png", "ancestry.png", "best-genome.png"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report-runs")
    out = {}
    for kind, args in RUNS.items():
        folder = root / kind
        result = run_cli("evolve", *args, "--seed", "1", "-q", "--out", str(folder))
        assert result.returncode == 0, result.stderr
        out[kind] = folder
    return out


def assert_real_png(path: Path) -> None:
    """A PNG of a sensible size whose pixels are not all one colour."""
    import matplotlib.image

    image = matplotlib.image.imread(path)
    height, width = image.shape[:2]
    assert width >= 300 and height >= 150, (path, image.shape)
    rgb = image[..., :3]
    background = np.median(rgb.reshape(-1, 3), axis=0)
    inked = np.abs(rgb - background).sum(axis=-1) > 0.1
    assert inked.mean() > 0.005, f"{path} is (almost) blank"


@pytest.mark.parametrize("kind", list(RUNS))
def test_report_draws_every_plot_for_every_genome_kind(runs: dict[str, Path], kind: str) -> None:
    result = run_cli("report", str(runs[kind]))
    assert result.returncode == 0, result.stderr
    folder = runs[kind] / "report"
    for name in PLOTS:
        assert_real_png(folder / name)
    page = (folder / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(PLOTS)
    assert "<pre>" in page  # the best genome as text (AutoML-Zero: its code)


def test_report_overlays_several_runs(runs: dict[str, Path], tmp_path: Path) -> None:
    """Aging vs random search on one task: one curve plot for both, a section per run."""
    random_run = tmp_path / "random"
    assert run_cli("evolve", *RUNS["bitstring"][:4], "--strategy", "random", "--seed", "1", "-q", "--out", str(random_run)).returncode == 0
    out = tmp_path / "compare"
    result = run_cli("report", str(runs["bitstring"]), str(random_run), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert_real_png(out / "fitness.png")
    for k in (1, 2):
        assert_real_png(out / f"run{k}-ancestry.png")
    page = (out / "report.html").read_text()
    assert "bitstring" in page and "random" in page


def test_report_page_loads_in_headless_chromium_without_console_messages(runs: dict[str, Path]) -> None:
    """The page's own script marks the body once every image has decoded; Chromium logs any console message."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is missing: .ci/run installs Debian's chromium (apt-get install chromium)"
    page = runs["amoeba"] / "report" / "report.html"
    if not page.exists():
        assert run_cli("report", str(runs["amoeba"])).returncode == 0
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000", "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'data-loaded="ok"' in result.stdout
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console


def test_report_of_a_folder_that_is_not_a_run_is_one_line(tmp_path: Path) -> None:
    result = run_cli("report", str(tmp_path))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1


def test_cells_are_drawn_by_graphviz_and_without_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With Graphviz's dot a genome's diagrams become one layered drawing (every node and edge label in the DOT
    text); without it the fallback drawing is written instead."""
    from PIL import Image

    import evonas.report as report
    from evonas.diagram_render import diagrams_dot, graphviz_available
    from evonas.registry import SPACES

    genome = SPACES["amoeba"]().random(np.random.default_rng(0))
    diagrams = genome.diagrams()
    text = diagrams_dot(diagrams, "title")
    assert text.count("subgraph cluster_") == len(diagrams)
    for diagram in diagrams:
        assert all(f'label="{label}"' in text for _, _, label in diagram.edges if label)
    if shutil.which("dot"):  # CI installs Debian's graphviz
        assert graphviz_available()
        drawn = report.plot_genome(genome, "title", tmp_path / "dot.png")
        assert Image.open(drawn).size[0] > 300
    monkeypatch.setattr(report, "graphviz_available", lambda: False)
    fallback = report.plot_genome(genome, "title", tmp_path / "fallback.png")
    assert Image.open(fallback).size[0] > 300


def test_fitness_bands_stay_cheap_and_bounded_at_a_million_evaluations() -> None:
    from evonas.report import window_quantiles

    fitness = np.random.default_rng(1).random(1_000_000)
    fitness[::7] = np.nan  # failures
    centres, low, median, high = window_quantiles(fitness)
    assert len(centres) == 100 and np.all(low <= median) and np.all(median <= high)
    assert np.allclose(median, 0.5, atol=0.02) and np.allclose(high - low, 0.5, atol=0.03)
