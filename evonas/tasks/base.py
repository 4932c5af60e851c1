"""The task protocol: turn a genome and a seed into a fitness (higher is better) and metrics.

A task may offer more (bulk scoring, state, a compiled search path, trained models): those optional
capabilities are declared in ``evonas.capabilities``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from evonas.genomes.base import Genome


class Task(ABC):
    """A fitness function over genomes of the kinds in ``genome_kinds``; options are JSON-safe keyword arguments."""

    name: ClassVar[str]
    #: The genome kinds this task scores (empty: any).
    genome_kinds: ClassVar[tuple[str, ...]] = ()
    #: Per genome kind, the settings a run of this task needs: ``space`` (the space layout), ``task_options``
    #: and preset keys (population, cycles, ...). How a plug-in task brings a family whose space depends on the task.
    genome_presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: Scores whole batches in this process with its own threads (a bulk kernel): never in worker processes.
    in_process: ClassVar[bool] = False
    #: Takes a ``device`` option (cpu, cuda, auto) for its compiled kernels, resolved once when the run starts.
    kernel_devices: ClassVar[bool] = False
    #: Trains torch networks and takes a ``device`` option for them (--device).
    torch_device: ClassVar[bool] = False

    @classmethod
    def space_settings(cls, genome_kind: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """Space settings that follow from these task options (NAS-Bench-Graph's proteins table has fewer ops);
        a run applies them where the user set none. Raises ``UserError`` for an option no run could use."""
        return {}

    @classmethod
    def metric_names(cls, options: Mapping[str, Any]) -> tuple[str, ...] | None:
        """The metrics an evaluation with these options logs (what ``--objective`` and ``--constraint`` may name
        besides ``fitness``); None: not declared, so no objective beyond fitness can be checked."""
        return None

    @classmethod
    def cheap_metric_names(cls, options: Mapping[str, Any]) -> tuple[str, ...]:
        """The metrics ``cheap_metrics`` measures without an evaluation (``MeasuresCheaply``); () for none."""
        return ()

    def __init__(self, **options: Any) -> None:
        self._options = options

    def options(self) -> dict[str, Any]:
        """The options this task was built with (written to config.json)."""
        return dict(self._options)

    @abstractmethod
    def evaluate(self, genome: Genome, seed: int) -> tuple[float, dict[str, float]]:
        """Fitness and metrics for one genome; deterministic for a given seed."""

    def report(self, genome: Genome, seed: int) -> dict[str, float]:
        """Final figures for the best genome (e.g. test accuracy); never used by search."""
        return self.evaluate(genome, seed)[1]
