"""Guards for the package-dir mapping of kernels/ and genomes/ (specs/engineering.md §1.3)."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

import evonas.genomes
import evonas.kernels

ROOT = Path(__file__).resolve().parents[1]
MAPPING = {"evonas": "evonas", "evonas.kernels": "kernels", "evonas.genomes": "genomes"}


def test_every_package_folder_is_listed_in_pyproject() -> None:
    """An unlisted subpackage silently vanishes from the wheel while the editable install still imports it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == MAPPING
    found = set()
    for package, folder in MAPPING.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *rel)))
    assert found == set(config["packages"])


def test_mapped_packages_import_from_their_folders() -> None:
    """evonas.kernels and evonas.genomes resolve to the top-level kernels/ and genomes/ folders."""
    assert Path(evonas.kernels.__file__).resolve().parent == ROOT / "kernels"
    assert Path(evonas.genomes.__file__).resolve().parent == ROOT / "genomes"


def test_bare_folder_names_do_not_shadow_as_top_level_packages() -> None:
    """Run as 'pytest' (not 'python -m pytest'): the repo root must not put 'kernels'/'genomes' on sys.path."""
    for name in ("kernels", "genomes"):
        spec = importlib.util.find_spec(name)
        assert spec is None or ROOT not in Path(spec.origin or "").resolve().parents, name


def test_genomes_layer_does_not_import_torch_or_numba() -> None:
    """genomes/ stays numpy-only so that property tests of many mutations stay fast."""
    for path in (ROOT / "genomes").glob("*.py"):
        text = path.read_text()
        assert "import torch" not in text and "import numba" not in text, path.name


def test_embedded_data_ships_with_its_licence() -> None:
    """The Fashion-MNIST subset is package data and keeps Zalando's MIT notice beside it."""
    data = ROOT / "evonas" / "data"
    assert (data / "fashion_mnist_subset.npz").stat().st_size < 5_000_000
    assert "Zalando" in (data / "FASHION_MNIST_LICENSE.txt").read_text()


def test_a_normal_wheel_ships_the_mapped_packages_and_the_data(tmp_path: Path) -> None:
    """A non-editable build holds evonas/kernels, evonas/genomes and the embedded data (the editable finder would
    hide a missing entry)."""
    import subprocess
    import sys
    import zipfile

    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("evonas-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("evonas/kernels/torchnet.py", "evonas/kernels/program_cpu.py", "evonas/genomes/amoeba.py",
                     "evonas/genomes/automl_zero.py", "evonas/data/fashion_mnist_subset.npz",
                     "evonas/data/FASHION_MNIST_LICENSE.txt", "evonas/strategies/aging.py", "evonas/families/automl_zero/tasks.py"):
        assert expected in names, expected
    assert not any(name.startswith(("kernels/", "genomes/")) for name in names)
