"""The in-process executor: evaluations in the calling process, a whole batch in one call where the task can."""

from __future__ import annotations

import os
import time
from collections import deque
from typing import Any

from evonas.capabilities import KeepsState, ScoresBatches, ScoresColumns
from evonas.core import Candidate, Result, ResultBatch
from evonas.registry import make_task
from evonas.tasks.base import Task

from .base import Executor, evaluate_one, evaluation_seeds


class InProcessExecutor(Executor):
    """Evaluates in the calling process, one candidate after another."""

    workers = 1

    def __init__(self, task_name: str, task_options: dict[str, Any], run_seed: int, task: Task | None = None) -> None:
        if task is None:
            task = make_task(task_name, task_options)
            # A task with state (an FEC cache) gets a private instance, so runs in one process never share it.
            if isinstance(task, KeepsState):
                task = make_task(task_name, task_options, fresh=True)
        self.task = task
        # the bulk paths this task offers, asked once (the checks cost microseconds, evaluate runs per batch)
        self._columns = task if isinstance(task, ScoresColumns) else None
        self._batches = task if isinstance(task, ScoresBatches) else None
        self.run_seed = run_seed
        self.name = f"local-{os.getpid()}"
        self._queue: deque[Candidate] = deque()

    def evaluate(self, candidates: list[Candidate]) -> list[Result]:
        """Results in submission order; tasks with ``evaluate_columns`` or ``evaluate_batch`` score the whole
        batch in one call (the first as a ``ResultBatch``: columns, no object per individual)."""
        ids = [c.id for c in candidates]
        seeds = evaluation_seeds(self.run_seed, ids)
        columns, batch = self._columns, self._batches
        if columns is not None and candidates:
            started = time.perf_counter()
            try:
                fitness, metrics = columns.evaluate_columns([c.genome for c in candidates], seeds)
            except Exception:  # isolate the failing genome(s) one by one, below
                batch = None
            else:
                return ResultBatch(ids, fitness, metrics, (time.perf_counter() - started) / len(candidates), self.name)  # type: ignore[return-value]
        if batch is not None and candidates:
            started = time.perf_counter()
            try:
                scored = batch.evaluate_batch([c.genome for c in candidates], seeds)
            except Exception:  # isolate the failing genome(s) one by one
                scored = None
            if scored is not None:
                each = (time.perf_counter() - started) / len(candidates)
                return [Result.scored(c.id, fitness, metrics, each, self.name) for c, (fitness, metrics) in zip(candidates, scored)]
        return [evaluate_one(self.task, c.genome, c.id, seed, self.name) for c, seed in zip(candidates, seeds)]

    def submit(self, candidate: Candidate) -> None:
        """Queue one candidate; it runs inside ``collect``."""
        self._queue.append(candidate)

    @property
    def in_flight(self) -> int:
        """Queued candidates."""
        return len(self._queue)

    def collect(self) -> list[tuple[Candidate, Result]]:
        """Evaluate the oldest queued candidate here and now."""
        if not self._queue:
            return []
        candidate = self._queue.popleft()
        return [(candidate, self.evaluate([candidate])[0])]

    def close(self) -> None:
        """Nothing to release."""
        self._queue.clear()
