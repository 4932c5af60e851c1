"""Tasks that score a tabular benchmark's genomes by looking them up: ``nasbench-graph`` (graph-macro genomes,
``-o dataset=NAME``) and ``nb201-analog`` (nb201-cell genomes, ``-o metric=NAME``).

A batch is scored in one array lookup (``evaluate_columns``), and aging evolution runs whole batches in compiled
code (``breeder``), so a search costs microseconds per child. The fitness is the table's validation figure where
it has one; test figures, latency and parameters go to the lineage as metrics and never reach the search.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from evonas.errors import UserError
from evonas.genomes.graph_macro import GraphMacroGenome, GraphMacroSpace
from evonas.genomes.nb201 import Nb201Genome, Nb201Space
from evonas.tables import analog_nasbench, nas_bench_graph
from evonas.tables.table import BenchmarkTable

from .base import Task


class TabularTask(Task):
    """A lookup in a ``BenchmarkTable`` by genome code; bulk scoring, a compiled aging loop and the table's optimum."""

    genome_type: ClassVar[type]
    space_type: ClassVar[type]
    # A lookup costs less than sending the genome to another process: batches are scored here, in one call.
    in_process = True
    table: BenchmarkTable
    #: The metric column holding the figure a comparison reports (``BenchmarkTable.test``).
    test_metric: str

    def _codes(self, genomes: list[Any]) -> np.ndarray:
        kind = self.genome_type
        for genome in genomes:
            if not isinstance(genome, kind):
                raise UserError(f"task {self.name!r} scores {kind.kind} genomes, not a {type(genome).__name__}")
        return np.fromiter((g.code for g in genomes), dtype=np.int64, count=len(genomes))

    def evaluate(self, genome: Any, seed: int) -> tuple[float, dict[str, float]]:
        """The table's figures of one genome (NaN fitness: the benchmark lacks it, a failed evaluation)."""
        fitness, metrics = self.evaluate_columns([genome], [seed])
        return float(fitness[0]), {k: float(v[0]) for k, v in metrics.items() if v[0] == v[0]}

    def evaluate_columns(self, genomes: list[Any], seeds: list[int]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Fitness and metric columns of a batch in one lookup."""
        return self.table.lookup(self._codes(genomes))

    def breeder(self, strategy: Any, batch: int, run_seed: int, worker: str = "") -> Any:
        """The compiled aging loop over this table when the strategy searches this task's space; else None."""
        if not isinstance(strategy.space, self.space_type):
            return None
        from .tabular_breeder import ChoiceBreeder

        return ChoiceBreeder(self.table, strategy, batch, worker)

    def optimum(self, space: Any) -> dict[str, float]:
        """What a perfect search of ``space`` finds: the best fitness, the test figure of that architecture, and the best
        test figure of any architecture (for regret)."""
        candidates = space.rules.candidates
        best = self.table.best_code(candidates)
        return {"fitness": float(self.table.fitness[best]), "test": float(self.table.test[best]),
                "best_test": float(np.nanmax(self.table.test[candidates]))}


class NasBenchGraph(TabularTask):
    """NAS-Bench-Graph: fitness is the validation performance on ``dataset``; test, latency and params are metrics."""

    name = "nasbench-graph"
    genome_kinds = ("graph-macro",)
    genome_type = GraphMacroGenome
    space_type = GraphMacroSpace

    def __init__(self, dataset: str = "cora") -> None:
        super().__init__(dataset=dataset)
        self.dataset = dataset
        self.test_metric = "test"
        self.table = nas_bench_graph.load(dataset)

    @classmethod
    def metric_names(cls, options: Mapping[str, Any]) -> tuple[str, ...]:
        """Test performance, latency (seconds) and parameters (millions)."""
        return ("test", "latency", "params")

    @classmethod
    def cheap_metric_names(cls, options: Mapping[str, Any]) -> tuple[str, ...]:
        """Latency and parameters need no evaluation (the test figure is never read before one)."""
        return ("latency", "params")

    def cheap_metrics(self, genomes: list[Any], names: list[str]) -> dict[str, np.ndarray]:
        """The table's latency and parameters of each genome."""
        codes = self._codes(genomes)
        return {name: self.table.metrics[name][codes] for name in names if name in ("latency", "params")}

    @classmethod
    def space_settings(cls, genome_kind: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """The ops the chosen dataset was benchmarked with (proteins has five)."""
        dataset = str(options.get("dataset", "cora"))
        nas_bench_graph.check_dataset(dataset)
        return {"ops": list(nas_bench_graph.DATASET_OPS[dataset])}


class Nb201Analog(TabularTask):
    """AnalogNAS-Bench's NAS-Bench-201 cells on CIFAR-10: fitness is ``metric`` (in percent); every figure is a metric.
    The table has no validation split, so the search sees the figure it is scored on (see docs/tabular.md)."""

    name = "nb201-analog"
    genome_kinds = ("nb201-cell",)
    genome_type = Nb201Genome
    space_type = Nb201Space

    @classmethod
    def metric_names(cls, options: Mapping[str, Any]) -> tuple[str, ...]:
        """Every figure of the table (see ``evonas.tables.analog_nasbench.METRICS``)."""
        return tuple(analog_nasbench.METRICS)

    def __init__(self, metric: str = "baseline") -> None:
        super().__init__(metric=metric)
        analog_nasbench.check_metric(metric)
        self.metric = metric
        self.test_metric = metric
        self.table = analog_nasbench.load(metric)
