"""Lineage rows of told batches: one row per evaluated individual, built from a batch's candidates and results
(as columns where a batch is large or bred in compiled code) and buffered until the next checkpoint flushes
them as a lineage part."""

from __future__ import annotations

import json
import math
import operator
from typing import Any

import numpy as np

from evonas.core import Brood, Candidate, Result, ResultBatch, unusable_fitness
from evonas.genomes.base import Mutation
from evonas.progress import Progress
from evonas.store import SMALL_BATCH, Coded, LineageBuffer, MetricColumns, Repeat, now_us


def genome_json(genome: Any) -> str:
    """Compact JSON of a genome's ``to_dict()`` (the lineage and checkpoint form)."""
    return json.dumps(genome.to_dict(), separators=(",", ":"))


class LineageRecorder:
    """Buffers the lineage rows of a run's told batches and keeps the counts they imply: failures so far and the
    best fitness logged (a new best's row keeps its genome in compact lineage)."""

    def __init__(self, lineage: str, genome_kind: str, failed: int = 0, best_logged: float = -math.inf) -> None:
        self.lineage = lineage  # "full" or "compact"
        self.genome_kind = genome_kind
        self.buffer = LineageBuffer()
        self.failed = failed
        self.best_logged = best_logged
        self.verbose = False  # -v: report each failure and each new best through ``progress``
        self.progress: Progress = Progress(0, 0, enabled=False)

    def record(self, candidates: list[Candidate], results: list[Result]) -> None:
        """Buffer the told batch's lineage rows (this runs for every child); a ``ResultBatch`` is read from its
        arrays, without making a ``Result`` per row. A large batch hands the buffer column pieces (arrays, runs of
        one value), a small one plain lists: building pieces costs more than it saves below a few dozen rows."""
        count = len(candidates)
        small = count < SMALL_BATCH
        columns: dict[str, Any]
        if isinstance(results, ResultBatch):
            ok_flags, fitness_values = (results.ok.tolist(), results.fitness.tolist()) if small else (results.ok, results.fitness)
            if results.ok.all():
                status, errors = _run("ok", count, small), _run(None, count, small)
            else:
                status = ["ok" if o else "failed" for o in results.ok.tolist()]
                errors = [None if o else unusable_fitness(f) for f, o in zip(results.raw.tolist(), results.ok.tolist())]
            metrics = MetricColumns(results.metrics, count)
            columns = {
                "status": status, "error": errors, "metrics": metrics.rows() if small else metrics,
                "eval_seconds": _run(results.eval_seconds, count, small), "worker": _run(results.worker, count, small),
            }
        else:
            ok_flags, fitness_values = [r.status == "ok" for r in results], [r.fitness for r in results]
            if not small:
                ok_flags, fitness_values = np.array(ok_flags, dtype=bool), np.array(fitness_values, dtype=np.float64)
            columns = {
                "status": [r.status for r in results], "error": [r.error or None for r in results],
                "metrics": [list(r.metrics.items()) for r in results], "eval_seconds": [r.eval_seconds for r in results],
                "worker": [r.worker for r in results],
            }
        # a new best beats every fitness logged before it, earlier rows of this batch included
        new_best = self._note_new_bests(ok_flags, fitness_values)
        if self.verbose:
            self._report_events(candidates, list(ok_flags), new_best, list(fitness_values), columns["status"], columns["error"])
        # Compact rows keep the genome only for the initial population and each new best: any other genome is
        # rebuilt by replaying mutations (each child's stream is keyed by run seed and id).
        if self.lineage == "compact":
            if isinstance(candidates, Brood):
                full = new_best  # bred children all have a parent
            else:
                full = [b or c.parent_id is None for c, b in zip(candidates, new_best)]
        else:
            full = [True] * count
        columns.update(self._candidate_columns(candidates, full, small))
        if small:
            columns["fitness"] = [f if o else None for f, o in zip(fitness_values, ok_flags)]
            self.buffer.append_rows(columns, count)
        else:
            columns["fitness"] = fitness_values  # failures are NaN, written as null
            self.buffer.append_columns(columns, count)

    def _note_new_bests(self, ok: Any, fitness: Any) -> Any:
        """Which rows beat every fitness logged before them, as a list (from lists for a small batch, arrays for a
        large one); counts the failures and moves the logged best."""
        if isinstance(ok, list):
            best, flags = self.best_logged, []
            for o, f in zip(ok, fitness):
                beats = o and f > best
                if beats:
                    best = f
                flags.append(beats)
            self.best_logged = best
            self.failed += len(ok) - sum(ok)
            return flags
        scores = np.where(ok, fitness, -math.inf)
        flags = ok & (scores > np.maximum.accumulate(np.concatenate(([self.best_logged], scores)))[:-1])
        if len(ok):
            self.best_logged = max(self.best_logged, float(scores.max()))
        self.failed += len(ok) - int(ok.sum())
        return flags.tolist()

    def _report_events(self, candidates: list[Candidate], ok: list[bool], new_best: list[bool], fitness: list[float],
                       status: Any, errors: Any) -> None:
        """-v: one line per failed evaluation and per new best."""
        status = [status.value] * status.count if isinstance(status, Repeat) else status
        errors = [errors.value] * errors.count if isinstance(errors, Repeat) else errors
        for k, (o, b, st, error, f) in enumerate(zip(ok, new_best, status, errors, fitness)):
            if o and not b:
                continue
            c = candidates[k]  # made only for the rows reported (a bred batch makes candidates on demand)
            if not o:
                self.progress.event(f"id {c.id}: {st}: {error or ''}")
            else:
                origin = "initial" if c.parent_id is None else f"{c.mutation} of id {c.parent_id}"
                self.progress.event(f"id {c.id}: new best {f:.6g} ({origin})")

    def _candidate_columns(self, candidates: list[Candidate], full: list[bool], small: bool) -> dict[str, Any]:
        """The candidate side of lineage rows: ids, parents, mutation, genome (where ``full``), time; plain lists
        for a small batch, column pieces for a large one."""
        count = len(candidates)
        mutation_column: Any
        if isinstance(candidates, Brood):  # children as columns: no object per row
            mutation_column = Coded(candidates.mutation_index, _mutation_texts(candidates.mutations))
            if small:
                ids, births = candidates.ids.tolist(), candidates.ids.tolist()
                parents, seconds = candidates.parent_ids.tolist(), [None] * count
                mutation_column = [mutation_column.values[i] for i in mutation_column.index.tolist()]
        else:
            ids, parents, seconds, births = (list(map(get, candidates)) for get in (_ID, _PARENT, _SECOND_PARENT, _BIRTH))
            mutation_column = _mutation_texts(list(map(_MUTATION, candidates)))
        if True in full:
            genomes: Any = [None] * count
            fingerprints: Any = [None] * count
            for k in [k for k, f in enumerate(full) if f]:
                genome = candidates[k].genome
                genomes[k], fingerprints[k] = genome_json(genome), genome.fingerprint()
        else:
            genomes = fingerprints = _run(None, count, small)
        columns = {
            "mutation": mutation_column, "genome_kind": _run(self.genome_kind, count, small),
            "genome": genomes, "fingerprint": fingerprints, "wall_time": _run(now_us(), count, small),
        }
        if small:
            return {"id": ids, "parent_id": parents, "second_parent_id": seconds, "birth": births, **columns}
        if isinstance(candidates, Brood):  # the arrays as they are
            return {"id": candidates.ids, "parent_id": candidates.parent_ids, "second_parent_id": Repeat(None, count), "birth": candidates.ids,
                    **columns}
        return {"id": np.array(ids, dtype=np.int64), "parent_id": _int_piece(parents), "second_parent_id": _int_piece(seconds),
                "birth": np.array(births, dtype=np.int64), **columns}

# C-level field readers: a lineage reads five fields of every child
_ID, _PARENT, _SECOND_PARENT, _BIRTH, _MUTATION, _TEXT = (
    operator.attrgetter(name) for name in ("id", "parent_id", "second_parent_id", "birth", "mutation", "text")
)


def _run(value: Any, count: int, small: bool) -> Any:
    """``count`` rows of one value: a plain list for a small batch, a ``Repeat`` piece for a large one."""
    return [value] * count if small else Repeat(value, count)


def _mutation_texts(mutations: list[Mutation | None]) -> list[str | None]:
    """The lineage's mutation column (``in``/``==`` would call each Mutation's Python-level ``__eq__``)."""
    try:
        return list(map(_TEXT, mutations))
    except AttributeError:  # an initial individual (no mutation) among them
        return [None if m is None else m.text for m in mutations]


def _int_piece(values: list[int | None]) -> Any:
    """A lineage id column piece: an int64 array, a run of nulls, or (ids mixed with nulls) the list itself."""
    nulls = values.count(None)
    if nulls == 0:
        return np.array(values, dtype=np.int64)
    return Repeat(None, len(values)) if nulls == len(values) else values
