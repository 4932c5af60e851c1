"""What every executor shares: the ``Executor`` protocol, one guarded evaluation, evaluation seeds and the
results of evaluations that failed outside the task (a dead worker, a timeout)."""

from __future__ import annotations

import math
import os
import signal
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Mapping

import numpy as np

from evonas.core import Candidate, Result, unusable_fitness
from evonas.genomes.base import Genome
from evonas.rng import EVALUATE, derive_seed, derive_seeds
from evonas.stop_guard import StopRequested, owns_ctrl_c
from evonas.tasks.base import Task

WORKER_ENV = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def evaluate_one(task: Task, genome: Genome, ident: int, seed: int, worker: str) -> Result:
    """Evaluate one genome; an exception (``SystemExit`` included, and a ``KeyboardInterrupt`` the task raised
    itself while the run's stop guard holds Ctrl-C), a fitness that is not a finite real number or
    metrics that are not a mapping of names to real numbers become a ``failed`` result with the reason, so nothing
    the lineage cannot store reaches it."""
    started = time.perf_counter()
    metrics: dict[str, float] = {}
    try:
        raw_fitness, raw_metrics = task.evaluate(genome, seed)
        fitness, status, error = _checked_fitness(raw_fitness)
        metrics, problem = _checked_metrics(raw_metrics)
        if problem:
            fitness, status, error = math.nan, "failed", problem
    except (Exception, SystemExit, KeyboardInterrupt) as exc:  # a crashing evaluation (even sys.exit) must not stop the run
        if isinstance(exc, KeyboardInterrupt) and (isinstance(exc, StopRequested) or not owns_ctrl_c()):
            raise  # the run's own stop, or a Ctrl-C that cannot be told apart from one (no guard holds SIGINT)
        fitness, metrics, status = math.nan, {}, "failed"
        error = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:500]
        tb = traceback.extract_tb(exc.__traceback__)
        if tb:
            error += f" (at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno})"
    return Result(ident, fitness, status, error, metrics, time.perf_counter() - started, worker)


def _checked_fitness(value: object) -> tuple[float, str, str]:
    """(fitness, status, error) for what ``evaluate`` returned as fitness: a real number (not a bool or a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return math.nan, "failed", f"fitness must be a real number, got {type(value).__name__} {str(value)[:40]!r}"
    fitness = float(value)
    if not math.isfinite(fitness):
        return math.nan, "failed", unusable_fitness(fitness)
    return fitness, "ok", ""


def _checked_metrics(value: object) -> tuple[dict[str, float], str]:
    """Metrics as str -> float (booleans as 0/1), and the reason they cannot be stored ("" when they can)."""
    if value is None:
        return {}, ""
    if not isinstance(value, Mapping):
        return {}, f"metrics must be a mapping of names to numbers, got {type(value).__name__}"
    out = {}
    for key, item in value.items():
        if not isinstance(key, str):
            return {}, f"metric names must be strings, got {type(key).__name__} {key!r}"
        if not isinstance(item, (int, float, np.integer, np.floating)):
            return {}, f"metric {key!r} must be a real number, got {type(item).__name__}"
        out[key] = float(item)
    return out, ""


def evaluation_seed(run_seed: int, ident: int) -> int:
    """The seed an individual is evaluated with: a function of (run seed, id) only."""
    return derive_seed(run_seed, EVALUATE, ident)


def evaluation_seeds(run_seed: int, idents: list[int]) -> list[int]:
    """``evaluation_seed`` of many individuals in one numpy call."""
    return derive_seeds(run_seed, EVALUATE, np.array(idents, dtype=np.int64)).tolist()  # type: ignore[no-any-return]


class Executor(ABC):
    """Runs evaluations in the background: ``submit`` hands a candidate over, ``collect`` returns finished ones.

    ``evaluate`` is the reproducible path (a batch, results in submission order); ``collect`` in completion
    order is what ``--async`` uses. A failing, hanging or dying evaluation becomes a failed or timed-out result,
    never an exception out of the executor.
    """

    workers = 1
    name = "executor"
    #: The task object, when evaluations run in this process (the run then reads its state and counters); None otherwise.
    task: Task | None = None

    @abstractmethod
    def submit(self, candidate: Candidate) -> None:
        """Queue one candidate for evaluation."""

    @abstractmethod
    def collect(self) -> list[tuple[Candidate, Result]]:
        """Block until at least one queued evaluation finishes; [] when none is queued or running."""

    @property
    @abstractmethod
    def in_flight(self) -> int:
        """Candidates submitted and not yet collected."""

    def evaluate(self, candidates: list[Candidate]) -> list[Result]:
        """Results in submission order."""
        for c in candidates:
            self.submit(c)
        done: dict[int, Result] = {}
        while len(done) < len(candidates):
            finished = self.collect()
            if not finished:
                raise RuntimeError("executor lost submitted candidates")  # a bug, not a user error
            done.update((c.id, r) for c, r in finished)
        return [done[c.id] for c in candidates]

    @abstractmethod
    def close(self) -> None:
        """Release workers at once (evaluations still running are abandoned)."""


def died_result(ident: int, how: str, attempts: int, worker: str) -> Result:
    """The failed result of an evaluation whose worker died, after its retries."""
    tried = f" (tried {attempts} times)" if attempts > 1 else ""
    return Result(ident, math.nan, "failed", f"worker process died during evaluation: {how}{tried}", {"attempts": float(attempts)}, 0.0, worker)


def timeout_result(ident: int, limit: float, seconds: float, worker: str) -> Result:
    """The result of an evaluation cut at ``--eval-timeout``."""
    return Result(ident, math.nan, "timeout", f"evaluation ran past --eval-timeout {limit:g} s and was stopped", {}, seconds, worker)


def exit_description(exitcode: int | None) -> str:
    """Words for a dead process's exit code."""
    if exitcode is None:
        return "lost contact with it"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (killed, or out of memory)" if -exitcode == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exited with code {exitcode}"
