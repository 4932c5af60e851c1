"""NEAT benchmark tasks ([EC02] 4.2-4.3): XOR and cart-pole balancing, scored a whole population per kernel call."""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import numpy as np

from evonas.core import metric_rows
from evonas.genomes.neat import NeatGenome, population_ir
from evonas.tasks.base import Task

XOR_ROWS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_TARGETS = np.array([0.0, 1.0, 1.0, 0.0])
STANDARD_START = np.array([0.0, 0.0, 0.07, 0.0, 0.0, 0.0])  # [NEATC] CartPole::init: theta1 = 0.07 rad (about 4 degrees)

#: problem -> (sensor inputs, poles, velocities given)
PROBLEMS: dict[str, tuple[int, int, bool]] = {
    "xor": (2, 0, False),
    "single-pole": (4, 1, True),
    "double-pole": (6, 2, True),
    "double-pole-novel": (3, 2, False),
}


def generalisation_starts() -> np.ndarray:
    """The 625 start states of [EC02]'s generalisation test ([NEATC] scaling; theta2 = theta2' = 0)."""
    values = (0.05, 0.25, 0.5, 0.75, 0.95)
    rows = []
    for a, b, c, d in itertools.product(values, repeat=4):
        rows.append([4.32 * a - 2.16, 2.70 * b - 1.35, 0.12566304 * c - 0.06283152, 0.30019504 * d - 0.15009752, 0.0, 0.0])
    return np.array(rows)


class NeatTask(Task):
    """XOR, single pole, double pole with velocities (DPV) and without (DPNV, Gruau fitness plus the champion tests).

    Pole networks are stepped once per decision with [NEATC]'s synchronous propagation by default (each node
    reads its sources' values from the previous decision), which gives even a feed-forward net with hidden
    nodes a memory of earlier inputs; ``propagation="topological"`` uses the in-place scheme of XOR instead.
    """

    name = "neat"
    genome_kinds: ClassVar[tuple[str, ...]] = ("neat",)
    in_process = True  # the kernel is parallel over genomes; a process pool would only add copying
    kernel_devices = True  # takes ``device``: cpu, cuda (kernels/neat_cuda.py) or auto

    def __init__(self, problem: str = "xor", max_steps: int | None = None, long_test_steps: int = 100_000,
                 generalisation_steps: int = 1000, generalisation_needed: int = 200, propagation: str | None = None,
                 device: str = "cpu", **options: Any) -> None:
        if problem not in PROBLEMS:
            raise ValueError(f"problem must be one of {', '.join(PROBLEMS)}, got {problem!r}")
        if options:
            raise TypeError(f"unexpected option(s) {', '.join(sorted(options))}")
        default_steps = 1000 if problem == "double-pole-novel" else 100_000
        max_steps = default_steps if max_steps is None else int(max_steps)
        if max_steps < 1 or long_test_steps < 1 or not 0 <= generalisation_needed <= 625:
            raise ValueError("max_steps and long_test_steps must be positive; generalisation_needed lies in 0..625")
        propagation = propagation or ("topological" if problem == "xor" else "synchronous")
        if propagation not in ("topological", "synchronous") or (problem == "xor" and propagation != "topological"):
            raise ValueError("propagation is 'synchronous' ([NEATC], pole tasks) or 'topological'; xor is scored in one topological pass")
        super().__init__(problem=problem, max_steps=max_steps, long_test_steps=long_test_steps,
                         generalisation_steps=generalisation_steps, generalisation_needed=generalisation_needed, propagation=propagation,
                         device=device)
        self.device = device
        self._kernel_pair: tuple[Any, Any] | None = None
        self.synchronous = propagation == "synchronous"
        self.problem = problem
        self.sensors, self.poles, self.velocities = PROBLEMS[problem]
        self.max_steps = max_steps
        self.long_test_steps = int(long_test_steps)
        self.generalisation_steps = int(generalisation_steps)
        self.generalisation_needed = int(generalisation_needed)
        self.bias_value = 1.0 if problem == "xor" else 0.5
        self._xor_rows = np.hstack([XOR_ROWS, np.full((4, 1), self.bias_value)])
        self.tested: set[str] = set()  # DPNV: fingerprints of networks that already faced the champion tests

    # -- evaluation ---------------------------------------------------------------------------------
    def _kernels(self) -> tuple[Any, Any]:
        """(activate_rows, pole_episodes) of this task's device, resolved at first use (building a task never
        loads CUDA)."""
        if self._kernel_pair is None:
            from evonas.kernels.cuda_support import device_functions

            self._kernel_pair = device_functions(self.device, "neat", ("activate_rows", "pole_episodes"))  # type: ignore[assignment]
        return self._kernel_pair

    def _check(self, genome: NeatGenome) -> None:
        if not isinstance(genome, NeatGenome):
            raise TypeError(f"the {self.problem} task scores NEAT genomes, not {type(genome).__name__}")
        if genome.inputs != self.sensors or genome.outputs != 1 or not genome.bias:
            raise ValueError(f"the {self.problem} task needs {self.sensors} inputs + bias and 1 output; the genome has "
                             f"{genome.inputs} inputs{' + bias' if genome.bias else ''} and {genome.outputs} output(s)")

    def _pack(self, genomes: list[NeatGenome]) -> Any:
        from evonas.kernels.neat_cpu import lower_population

        self._check(genomes[0])
        try:
            population = population_ir(genomes)  # every genome of the same type and layout as the first
        except (TypeError, ValueError) as error:
            raise type(error)(f"the {self.problem} task: {error}") from None
        return lower_population(population)

    def evaluate(self, genome: NeatGenome, seed: int) -> tuple[float, dict[str, float]]:  # type: ignore[override]
        """Fitness and metrics of one network (deterministic; the seed is unused)."""
        return self.evaluate_batch([genome], [seed])[0]

    def evaluate_batch(self, genomes: list[NeatGenome], seeds: list[int]) -> list[tuple[float, dict[str, float]]]:
        """Score a population in one kernel call: (fitness, metrics) per genome."""
        fitness, metrics = self.evaluate_columns(genomes, seeds)
        return list(zip(fitness.tolist(), metric_rows(metrics, len(genomes))))

    def evaluate_columns(self, genomes: list[NeatGenome], seeds: list[int]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Score a population in one kernel call: the fitness column and metric columns (NaN: the genome has
        no such metric), with no object per genome."""
        nets = self._pack(genomes)
        if self.problem == "xor":
            return self._xor(nets)
        return self._poles(nets, genomes)

    def _xor(self, nets: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        out = self._kernels()[0](nets, self._xor_rows)[:, :, 0]
        error = np.abs(out - XOR_TARGETS).sum(axis=1)
        wrong = ((out >= 0.5) != (XOR_TARGETS > 0.5)).sum(axis=1)  # [NEATC] xor_evaluate: solved when none is wrong
        return (4.0 - error) ** 2, {"error": error, "solved": (wrong == 0).astype(np.float64)}

    def _episodes(self, nets: Any, starts: np.ndarray, steps: int, gruau: bool) -> tuple[np.ndarray, np.ndarray]:
        from evonas.kernels.neat_cpu import THIRTY_SIX_DEGREES, TWELVE_DEGREES

        angle = TWELVE_DEGREES if self.poles == 1 else THIRTY_SIX_DEGREES
        return self._kernels()[1](nets, starts, self.poles, self.velocities, True, self.bias_value, steps, angle, gruau, self.synchronous)

    def _poles(self, nets: Any, genomes: list[NeatGenome]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        gruau = self.problem == "double-pole-novel"
        balanced, fitness = self._episodes(nets, STANDARD_START[None, :], self.max_steps, gruau)
        steps = balanced[:, 0].astype(np.float64)
        if not gruau:
            return fitness[:, 0], {"steps": steps, "solved": (steps >= self.max_steps).astype(np.float64)}
        metrics = {"steps": steps, "solved": np.zeros(len(genomes)), "long_test_steps": np.full(len(genomes), np.nan),
                   "generalisation": np.full(len(genomes), np.nan)}
        # [EC02] p. 115: each generation one champion faces the long test and the generalisation test. Like
        # [NEATC], which takes the best species not yet checked, a network already tested (an elite copy) is
        # passed over for the best one not yet tested.
        for champion in sorted(range(len(genomes)), key=lambda i: (-fitness[i, 0], i)):
            fingerprint = genomes[champion].fingerprint()
            if fingerprint not in self.tested:
                self.tested.add(fingerprint)
                for key, value in self.champion_tests(genomes[champion]).items():
                    metrics[key][champion] = value
                break
        return fitness[:, 0], metrics

    def state_dict(self) -> dict[str, Any]:
        """Which networks already faced the champion tests (kept in checkpoints so resumes test the same ones)."""
        return {"tested": sorted(self.tested)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of ``state_dict``."""
        self.tested = set(state.get("tested", []))

    def champion_tests(self, genome: NeatGenome) -> dict[str, float]:
        """DPNV solution test: 100,000 steps from the standard start, then >= 200 of 625 starts balanced for 1,000 steps."""
        nets = self._pack([genome])
        long_balanced, _ = self._episodes(nets, STANDARD_START[None, :], self.long_test_steps, False)
        out = {"long_test_steps": float(long_balanced[0, 0]), "generalisation": -1.0, "solved": 0.0}
        if long_balanced[0, 0] >= self.long_test_steps:
            trials, _ = self._episodes(nets, generalisation_starts(), self.generalisation_steps, False)
            passed = int(np.count_nonzero(trials[0] >= self.generalisation_steps))
            out["generalisation"] = float(passed)
            out["solved"] = float(passed >= self.generalisation_needed)
        return out

    def report(self, genome: NeatGenome, seed: int) -> dict[str, float]:  # type: ignore[override]
        """Final figures: the search metrics, plus the champion tests on the pole tasks."""
        fitness, metrics = self.evaluate(genome, seed)
        if self.problem == "double-pole-novel":
            metrics.update(self.champion_tests(genome))
        return {"fitness": fitness, **metrics}
