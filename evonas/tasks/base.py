"""The task protocol: turn a genome and a seed into a fitness (higher is better) and metrics."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from evonas.genomes import Genome


class Task(ABC):
    """A fitness function over genomes of the kinds in ``genome_kinds``; options are JSON-safe keyword arguments."""

    name: ClassVar[str]
    genome_kinds: ClassVar[tuple[str, ...]]

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
