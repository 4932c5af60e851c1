"""A benchmark table as dense columns over a space's codes, and how the packages' files are found and checked."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evonas.errors import UserError

from .cache import sha256

INSTALL = "pip install 'evonas[tabular]'"


@dataclass(frozen=True)
class BenchmarkTable:
    """Figures of every genome code of a space (NaN where the benchmark has no entry): ``fitness`` is what a search
    sees, ``metrics`` go to the lineage only, ``test`` is the figure a comparison reports for the architecture a
    search picks (the test figure; the fitness itself where the table has no validation split); ``name`` says which
    benchmark, dataset and figure."""

    name: str
    fitness: np.ndarray
    metrics: dict[str, np.ndarray]
    test: np.ndarray

    def lookup(self, codes: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Fitness and metric columns of many codes at once."""
        return self.fitness[codes], {k: v[codes] for k, v in self.metrics.items()}

    def best_code(self, candidates: np.ndarray) -> int:
        """The code (among ``candidates``) with the highest fitness, the first among equals."""
        values = self.fitness[candidates]
        return int(candidates[int(np.nanargmax(values))])


def package_file(module: str, relative: str, pip_name: str, version: str, expected_sha: str) -> tuple[bytes, str]:
    """The bytes of a data file inside an installed package, checked against the SHA-256 evonas was built for, and
    that checksum. The package is located without importing it (importing may pull in its heavy dependencies)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"this benchmark needs the {pip_name} package, which is not installed; {INSTALL}")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path} ({exc.strerror}); reinstall: pip install --force-reinstall '{pip_name}=={version}'") from None
    digest = sha256(data)
    if digest != expected_sha:
        raise UserError(f"{path} is not the file of {pip_name} {version} (its SHA-256 differs: edited, damaged or another "
                        f"version); pip install --force-reinstall '{pip_name}=={version}'")
    return data, digest
