"""NAS-Bench-Graph (Qin et al., NeurIPS 2022; PyPI ``nas-bench-graph`` 1.4.0, Apache-2.0): the bundled "light"
tables of 26,206 GNN architectures per dataset, with validation and test performance, latency and parameters.

Each ``light/<dataset>.bench`` file is a pickled dict from the benchmark's canonical hash to those four figures;
it is read with the restricted unpickler (numpy scalars only) and spread over every ``graph-macro`` genome code
through the shipped class table (``evonas.genomes.graph_macro.benchmark_classes``)."""

from __future__ import annotations

from functools import cache

import numpy as np

from evonas.errors import UserError
from evonas.genomes.graph_macro import GRAPH_OPS, LAYOUT, LINKS, benchmark_classes

from .cache import cached_arrays
from .safe_pickle import NUMPY_SCALARS, restricted_load
from .table import BenchmarkTable, package_file

VERSION = "1.4.0"
#: SHA-256 of each dataset's file in nas-bench-graph 1.4.0.
DATASETS: dict[str, str] = {
    "cora": "5e69b2f9bb08d8927d9ffd4921f8494a3cea349c9c3a461334cb9dc9e11701a8",
    "citeseer": "99c7f79b73372636305bf73fb32a58b63c57bd1871a152dd62ec72d984c8c50f",
    "pubmed": "10b4dcf6cfd3a24f6059f7d541a4a872960b4adac0b3dba26abed1bb9a3d904d",
    "cs": "71ae8469930517160b024f52db6000a4897f1aff5d765beb27bb60952ed5bd31",
    "physics": "1e309bafee0b832c8b84fa3c039c36992bc0a910238b128f26b7e9190d7f2aea",
    "photo": "5511b4dc3f63fa988792177227db7901290fb9b27fc6c02e3036b29e134ed6df",
    "computers": "fdb3dc0cf405d62322f0ab9614b2083c2a5e6576c2f43e4f2214be64bc62b1b3",
    "arxiv": "7ee21a7653297a806c0ed1be3efe6ecc06acc84e48e942da0bfde0e5d287debe",
    "proteins": "b9e7fb0902bda44fec32c948e5fde822fb22d38d674c52e43ace5197378f2d21",
}
#: The ops each dataset was benchmarked with (proteins: five).
DATASET_OPS: dict[str, tuple[str, ...]] = {name: GRAPH_OPS for name in DATASETS} | {"proteins": ("gcn", "sage", "arma", "fc", "skip")}
#: The figures of an entry: (the benchmark's key, the name evonas logs it under).
FIELDS = (("valid_perf", "valid"), ("perf", "test"), ("latency", "latency"), ("para", "params"))


def check_dataset(dataset: str) -> None:
    """A UserError naming the datasets unless ``dataset`` is one."""
    if dataset not in DATASETS:
        raise UserError(f"unknown NAS-Bench-Graph dataset {dataset!r}; choose one of {', '.join(DATASETS)} (-o dataset=NAME)")


def _source(dataset: str) -> bytes:
    check_dataset(dataset)
    return package_file("nas_bench_graph", f"light/{dataset}.bench", "nas-bench-graph", VERSION, DATASETS[dataset])[0]


def _parse(dataset: str, data: bytes) -> dict[int, dict[str, float]]:
    entries = restricted_load(data, NUMPY_SCALARS, f"nas-bench-graph's {dataset}.bench")
    if not isinstance(entries, dict) or not all(isinstance(k, int) and isinstance(v, dict) for k, v in entries.items()):
        raise UserError(f"nas-bench-graph's {dataset}.bench is not a table of architectures; "
                        f"pip install --force-reinstall 'nas-bench-graph=={VERSION}'")
    return entries


@cache
def load(dataset: str) -> BenchmarkTable:
    """The table of ``dataset`` over every graph-macro code (NaN for codes the dataset lacks)."""
    data = _source(dataset)  # checked against the pinned SHA-256 on every load: a few milliseconds

    def convert() -> dict[str, np.ndarray]:
        entries = _parse(dataset, data)
        classes = benchmark_classes()
        out = {}
        for key, name in FIELDS:
            by_hash = np.full(int(classes.max()) + 1, np.nan)
            for h, figures in entries.items():
                if 0 <= h < len(by_hash):
                    by_hash[h] = float(figures[key])
            out[name] = np.where(classes >= 0, by_hash[np.maximum(classes, 0)], np.nan)
        return out

    arrays = cached_arrays(f"nas-bench-graph-{dataset}", DATASETS[dataset], convert)
    return BenchmarkTable(f"NAS-Bench-Graph {dataset}", arrays["valid"], {k: arrays[k] for k in ("test", "latency", "params")},
                          arrays["test"])


def package_classes() -> np.ndarray:
    """The benchmark's own canonical hash of every graph-macro code, computed by the installed package (what
    ``evonas/data/graph_macro_classes.npz`` ships; -1 for all-skip rows). Needs ``nas_bench_graph`` importable."""
    from nas_bench_graph import Arch

    out = np.empty(LAYOUT.size, dtype=np.int32)
    for code in range(LAYOUT.size):
        link, *ops = LAYOUT.decode(code)
        names = [GRAPH_OPS[o] for o in ops]
        out[code] = -1 if all(n == "skip" for n in names) else Arch(list(LINKS[link]), names).valid_hash()
    return out


if __name__ == "__main__":  # regenerate the shipped class table: python -m evonas.tables.nas_bench_graph OUT.npz
    import sys

    np.savez_compressed(sys.argv[1], classes=package_classes())
