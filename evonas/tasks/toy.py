"""Noisy OneMax on bit strings ([RE] Supplement C): fitness = fraction of ones + N(0, noise^2)."""

from __future__ import annotations

import numpy as np

from evonas.genomes import BitGenome

from .base import Task


class OneMax(Task):
    """Fraction of set bits plus Gaussian noise drawn from the evaluation seed."""

    name = "onemax"
    genome_kinds = ("bitstring",)

    def __init__(self, noise: float = 0.01) -> None:
        super().__init__(noise=noise)
        self.noise = noise

    def evaluate(self, genome: BitGenome, seed: int) -> tuple[float, dict[str, float]]:  # type: ignore[override]
        """Score one bit string."""
        clean = genome.ones() / genome.length
        noise = float(np.random.Generator(np.random.Philox(key=seed)).normal(0.0, self.noise)) if self.noise else 0.0
        return clean + noise, {"clean_fitness": clean}
