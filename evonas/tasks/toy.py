"""Noisy OneMax on bit strings ([RE] Supplement C): fitness = fraction of ones + N(0, noise^2).

It doubles as the engine's test and benchmark bench for scheduling and faults: optional sleeps (evaluation
times spread over a chosen factor) and injected faults (an exception, a NaN, a hang, the worker process
killing itself), each drawn from the evaluation seed, so the same run meets the same faults on any executor.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from evonas.genomes.bitstring import BitGenome

from .base import Task

_FAULTS = ("fail_rate", "nan_rate", "hang_rate", "die_rate")


class OneMax(Task):
    """Fraction of set bits plus Gaussian noise drawn from the evaluation seed; optional sleeps and faults."""

    name = "onemax"
    genome_kinds = ("bitstring",)

    @classmethod
    def metric_names(cls, options: Mapping[str, Any]) -> tuple[str, ...]:
        """The noise-free fraction of ones, and the seconds slept when ``sleep`` is set."""
        return ("clean_fitness", "slept_seconds")

    def __init__(
        self, noise: float = 0.01, sleep: float = 0.0, sleep_spread: float = 1.0, fail_rate: float = 0.0,
        nan_rate: float = 0.0, hang_rate: float = 0.0, die_rate: float = 0.0, pid_dir: str | None = None,
    ) -> None:
        super().__init__(noise=noise, sleep=sleep, sleep_spread=sleep_spread, fail_rate=fail_rate, nan_rate=nan_rate,
                         hang_rate=hang_rate, die_rate=die_rate, pid_dir=pid_dir)
        if not noise >= 0:
            raise ValueError(f"noise is a standard deviation: give a number of at least 0, got {noise}")
        if sleep < 0 or sleep_spread < 1:
            raise ValueError(f"sleep must be >= 0 and sleep_spread >= 1, got {sleep} and {sleep_spread}")
        rates = [fail_rate, nan_rate, hang_rate, die_rate]
        if any(not 0.0 <= r <= 1.0 for r in rates) or sum(rates) > 1.0:
            raise ValueError(f"{', '.join(_FAULTS)} must lie in [0, 1] and sum to at most 1")
        self.noise = noise
        self.sleep = sleep
        self.sleep_spread = sleep_spread
        self.rates = np.cumsum(rates)
        self.pid_dir = pid_dir

    def evaluate(self, genome: BitGenome, seed: int) -> tuple[float, dict[str, float]]:  # type: ignore[override]
        """Score one bit string (after the configured sleep, unless a fault strikes)."""
        clean = genome.ones() / genome.length
        noise = float(np.random.Generator(np.random.Philox(key=seed)).normal(0.0, self.noise)) if self.noise else 0.0
        if not (self.sleep or self.rates[-1] or self.pid_dir):
            return clean + noise, {"clean_fitness": clean}
        # A second stream of the same seed: faults and sleeps never shift the noise draw.
        draw = np.random.Generator(np.random.Philox(key=seed + (1 << 64))).random(2)
        marker = None
        if self.pid_dir is not None:  # lets tests find, and kill, the process running an evaluation
            marker = Path(self.pid_dir) / str(os.getpid())
            marker.write_text(str(seed))
        try:
            fault = int(np.searchsorted(self.rates, draw[0], side="right"))
            if fault == 0:
                raise RuntimeError("injected fault (fail_rate)")
            if fault == 2:
                while True:  # a hang: only --eval-timeout ends it
                    time.sleep(3600)
            if fault == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            seconds = self.sleep * math.exp(draw[1] * math.log(self.sleep_spread))
            if seconds:
                time.sleep(seconds)
            if fault == 1:
                return math.nan, {"clean_fitness": clean}
            return clean + noise, {"clean_fitness": clean, "slept_seconds": seconds}
        finally:
            if marker is not None:
                marker.unlink(missing_ok=True)
