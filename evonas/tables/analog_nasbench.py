"""AnalogNAS-Bench (IBM; PyPI ``analog-nasbench`` 0.1.3): all 15,625 NAS-Bench-201 cells trained on CIFAR-10 and
measured as trained (baseline), quantized (PTQ, QAT), on simulated analog in-memory hardware (noisy: the baseline
weights; analog: hardware-aware training) and after that hardware's conductance drift (1 minute to 1 month).

The wheel states no licence: evonas reads the installed package's ``data.anb`` and never redistributes it. The
file pickles the package's own classes; the restricted unpickler maps them to plain records, so the package (and
its pandas dependency) is never imported.

Its keys are not NAS-Bench-201's layout. They list the edges by source node, (1<-0, 2<-0, 3<-0, 2<-1, 3<-1,
3<-2), with ops numbered 0 skip, 1 none, 2 conv 3x3, 3 conv 1x1, 4 avg pool, which the data itself shows (the
package documents neither): exactly the cells whose edges 1 leave no input-to-output path score 10.0 %, the
chance level; a lone edge 3<-0 scores 86.6 % (op 0), 91.7 % (op 2), 89.2 % (op 3) and 75.1 % (op 4), the order of
skip, 3x3 conv, 1x1 conv and pooling in NAS-Bench-201. The tests check the first of these facts on every cell.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from evonas.errors import UserError
from evonas.genomes.nb201 import EDGES, LAYOUT, NB201_OPS

from .cache import cached_arrays
from .safe_pickle import Record, restricted_load
from .table import BenchmarkTable, package_file

VERSION = "0.1.3"
SHA256 = "85f3435b877aa2d36268d55ce07f6ff6d73643d17a840f1941745da5eb80db32"

#: The package's edge order (source, target) and op numbering (see the module docstring).
PACKAGE_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
PACKAGE_OPS: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")

#: evonas's figure names -> the package's attribute names. Accuracies are in percent.
METRICS: dict[str, str] = {
    "baseline": "baseline_accuracy", "ptq": "ptq_accuracy", "qat": "qat_accuracy", "noisy": "noisy_accuracy",
    "analog": "analog_accuracy",
    "drift_1m": "analog_drift_60", "drift_1h": "analog_drift_3600", "drift_1d": "analog_drift_86400", "drift_1mo": "analog_drift_2592000",
    "noisy_drift_1m": "baseline_drift_60", "noisy_drift_1h": "baseline_drift_3600", "noisy_drift_1d": "baseline_drift_86400",
    "noisy_drift_1mo": "baseline_drift_2592000",
}


class _Architecture(Record):
    """Stands in for ``analognasbench.data.Architecture``."""


class _Drift(Record):
    """Stands in for ``analognasbench.data.DriftMeasurement`` (value, uncertainty)."""


ALLOWED = {("analognasbench.data", "Architecture"): _Architecture, ("analognasbench.data", "DriftMeasurement"): _Drift}


def check_metric(metric: str) -> None:
    """A UserError naming the metrics unless ``metric`` is one."""
    if metric not in METRICS:
        raise UserError(f"unknown AnalogNAS-Bench metric {metric!r}; choose one of {', '.join(METRICS)} (-o metric=NAME)")


def package_key(code: int) -> tuple[int, ...]:
    """The package's key of an nb201-cell genome code."""
    ops = LAYOUT.decode(code)
    by_edge = dict(zip(EDGES, ops))
    return tuple(PACKAGE_OPS.index(NB201_OPS[by_edge[edge]]) for edge in PACKAGE_EDGES)


def _figure(value: object) -> float:
    if isinstance(value, _Drift):
        value = vars(value).get("value")
    if not isinstance(value, (int, float)):
        raise UserError(f"analog-nasbench's data.anb holds a figure of type {type(value).__name__}; "
                        f"pip install --force-reinstall 'analog-nasbench=={VERSION}'")
    return float(value)


def _convert(data: bytes) -> dict[str, np.ndarray]:
    entries = restricted_load(data, ALLOWED, "analog-nasbench's data.anb")
    if not isinstance(entries, dict):
        raise UserError(f"analog-nasbench's data.anb is not a table of cells; pip install --force-reinstall 'analog-nasbench=={VERSION}'")
    out = {name: np.full(LAYOUT.size, np.nan) for name in METRICS}
    for code in range(LAYOUT.size):
        entry = entries.get(package_key(code))
        if entry is None:
            continue
        fields = vars(entry)
        for name, attribute in METRICS.items():
            out[name][code] = _figure(fields.get(attribute))
    return out


@cache
def load(metric: str = "baseline") -> BenchmarkTable:
    """The table over every nb201-cell code with ``metric`` as fitness and every other figure as metrics."""
    check_metric(metric)
    data, _ = package_file("analognasbench", "data.anb", "analog-nasbench", VERSION, SHA256)
    arrays = cached_arrays("analog-nasbench", SHA256, lambda: _convert(data))
    return BenchmarkTable(f"AnalogNAS-Bench {metric}", arrays[metric], dict(arrays), arrays[metric])
