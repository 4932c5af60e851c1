"""The compiled search loop's Python side: batches of an AutoML-Zero aging search in one kernel call.

``ProgramBreeder`` stands in for ask -> evaluate -> tell of whole batches (``kernels/program_search.py``). It
reads the strategy's own random stream and the per-id seeds the batch path uses, and shares the task's FEC
cache and step counter, so the lineage is the batch path's; only the Python per child is gone. The run logs what
it returns like any batch: a ``Brood`` (the children as columns) and a ``ResultBatch``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from evonas.core import Brood, Member, ResultBatch
from evonas.genomes.automl_zero import ProgramGenome, ProgramSpace, to_batch
from evonas.genomes.program_ir import PARTIAL, RANDOM, ProgramBatch
from evonas.rng import EVALUATE, MUTATE, derive_seeds

#: Children per kernel call: enough that the call's fixed Python is small, few enough that progress, stops and
#: the train-step budget are seen often (a call takes about 10-20 ms on the demo).
CHILDREN_PER_CALL = 2000
#: The most threads a call uses (the calling one and its helpers): a batch of 100 demo children is about ten chunks
#: of each kind of work, so further threads would mostly wait (only two threads have been measured, on two cores).
LOOP_THREADS = 4


def _copy_rows(batch: ProgramBatch, rows: np.ndarray) -> ProgramBatch:
    """A standalone batch of the given rows (genomes made from it outlive the arrays it was cut from)."""
    out = ProgramBatch(batch.op[rows], batch.in1[rows], batch.in2[rows], batch.out[rows], batch.data[rows], batch.length[rows],
                       batch.scalars, batch.vectors, batch.matrices)
    return out.mark_checked()


class ProgramBreeder:
    """Runs batches of an aging search over AutoML-Zero programs in compiled code (see module docstring)."""

    def __init__(self, task: Any, strategy: Any, batch: int, run_seed: int, worker: str = "", evaluate: bool = True, helpers: int = 0) -> None:
        from evonas.kernels.fec_cache import new_lru

        space: ProgramSpace = strategy.space
        self.task, self.strategy, self.space, self.batch, self.run_seed = task, strategy, space, batch, run_seed
        self.worker = worker
        self.evaluate = evaluate  # False: every child scores 0.5 unrun (to time the loop alone)
        self.batches_per_call = max(1, CHILDREN_PER_CALL // batch)
        width = space.width
        size = strategy.population_size
        self.ring = self._empty(size, width, space)
        self.ring_fitness = np.zeros(size)
        self.ring_ids = np.zeros(size, dtype=np.int64)
        self.ring_head = np.zeros(1, dtype=np.int64)
        self.children = self._empty(self.batches_per_call * batch, width, space)
        self.codes = np.empty((self.batches_per_call * batch, 4), dtype=np.int64)
        self.memo = task.fingerprint_memo  # shared with the batch path: one table per task set
        self._no_lru = new_lru(0, 0)  # the kernel's FEC arrays when FEC is off
        self._told: int | None = None  # the strategy's told count when the ring last matched its population
        self.helpers = helpers  # threads that take shares of each batch's work beside the calling one
        self.helped = 0  # children and runs they did
        self._buffers: tuple[np.ndarray, ...] | None = None  # what the threads share, made at the first call
        self.wait_for_helpers = False  # tests: each call waits until its helpers run (a run never should)
        self._helpers_loaded = False  # whether ``assist`` has been called (and so loaded) with these arrays' types
        self._pointers: tuple[Any, Any] | None = None  # ``_work`` and the interpreter as pointers, typed at the first call
        self._entries: dict[Any, Any] = {}  # each kernel's compiled entry point: the arguments' types never change

    @staticmethod
    def _empty(rows: int, width: int, space: ProgramSpace) -> ProgramBatch:
        shape = (rows, 3, width)
        return ProgramBatch(np.zeros(shape, np.int32), np.zeros(shape, np.int32), np.zeros(shape, np.int32), np.zeros(shape, np.int32),
                            np.zeros((*shape, 3)), np.zeros(shape[:2], np.int32), space.scalars, space.vectors, space.matrices).mark_checked()

    def _load_ring(self) -> bool:
        """Copy the strategy's population into the ring (after the batch path or a resume changed it)."""
        members = list(self.strategy.population)
        width = self.ring.op.shape[2]
        source = to_batch([m.genome for m in members], eliminate_dead=False, width=width)
        if source.op.shape[2] != width or (source.scalars, source.vectors, source.matrices) != (self.ring.scalars, self.ring.vectors, self.ring.matrices):
            return False
        source.check()
        for name in ("op", "in1", "in2", "out", "data", "length"):
            getattr(self.ring, name)[:] = getattr(source, name)
        self.ring_fitness[:] = [m.fitness for m in members]
        self.ring_ids[:] = [m.id for m in members]
        self.ring_head[0] = 0
        return True

    def members(self) -> list[Member]:
        """The ring's members in age order, each genome a row of one fresh batch."""
        size = len(self.ring_ids)
        order = (self.ring_head[0] + np.arange(size)) % size
        rows = _copy_rows(self.ring, order)
        genomes = ProgramGenome.packed_rows(rows, 0, size, self.space.features)
        return list(map(Member, self.ring_ids[order].tolist(), self.ring_fitness[order].tolist(), genomes))

    def breed(self, max_train_steps: int | None) -> tuple[Brood, ResultBatch] | None:
        """Run up to ``CHILDREN_PER_CALL`` children (whole batches, stopping once the train steps reach
        ``max_train_steps``) and tell them; None where only the batch path applies (the initial population, a
        partial last batch, a population that is not full)."""
        from evonas.kernels.function_pointers import values
        from evonas.kernels.program_search import HELPED, assist, breed

        strategy, task, batch = self.strategy, self.task, self.batch
        size = strategy.population_size
        batches = strategy.compiled_batches(batch, self.batches_per_call)
        if not batches:
            return None
        # The ring is current when nothing else has told since the last call (reading the population would make
        # its member objects).
        if self._told != strategy.told and (len(strategy.population) != size or not self._load_ring()):
            return None
        started = time.perf_counter()
        count = batches * batch
        draws, rng_state = strategy.draw_tournaments(count)
        ids = np.arange(strategy.next_id, strategy.next_id + count, dtype=np.int64)
        counters = np.array([task.train_steps, 0], dtype=np.int64)
        fitness = np.empty(count)
        hits = np.empty(count)
        parents = np.empty(count, dtype=np.int64)
        control, shared, arguments = self._arguments(batches, draws, max_train_steps, counters, parents, fitness, hits,
                                                     derive_seeds(strategy.seed, MUTATE, ids), derive_seeds(self.run_seed, EVALUATE, ids))
        if self.helpers and not self._helpers_loaded:
            # The first call of ``assist`` in a process loads it from numba's cache (tens of milliseconds, longer
            # than a call of this loop): done here once, with QUIT already posted, so helpers join from the first call.
            from evonas.kernels.program_search import EPOCH, QUIT, new_control

            finished = new_control(0)
            finished[EPOCH] = QUIT
            self._entry(assist, (finished, *shared))(*values(finished, *shared))
            self._helpers_loaded = True
        with _helper_threads(self._entry(assist, (control, *shared)) if self.helpers else None, control, shared, self.helpers):
            done = self._entry(breed, arguments)(*values(*arguments))
        self.helped += int(control[HELPED])
        n = done * batch
        if done < batches:  # the budget ran out mid-call: the stream must stand where the batch path leaves it
            strategy.keep_draws(rng_state, n)
        task.train_steps = int(counters[0])
        if n == 0:
            return None
        ids = ids[:n]
        results = ResultBatch(ids.tolist(), fitness[:n].copy(), {"fec_hit": hits[:n].copy()} if task.fec is not None else {},
                              (time.perf_counter() - started) / n, self.worker)
        brood = Brood(ids, parents[:n].copy(), *self.space.mutation_codes(self.codes[:n]), _Rows(self.children, self.space.features))
        strategy.tell_bred(brood, results, self.members)
        self._told = strategy.told
        return brood, results

    def compile_loop(self) -> None:
        """Compile (or load from numba's cache) the search loop's kernels for this breeder's arrays, without running
        them: the loop, its helpers' entry and the per-child work with mutation and pruning. The interpreter is left
        to the evaluation path, which compiles it at the first evaluation, so that both can compile at once in two
        processes (``evonas.warm_up``)."""
        from evonas.kernels.program_search import assist, breed

        count = self.batches_per_call * self.batch
        seeds = np.zeros(count, dtype=np.uint64)
        control, shared, arguments = self._arguments(self.batches_per_call, np.zeros((count, self.strategy.sample_size)), None,
                                                     np.zeros(2, dtype=np.int64), np.empty(count, dtype=np.int64), np.empty(count),
                                                     np.empty(count), seeds, seeds)
        self._entry(breed, arguments)
        if self.helpers:
            self._entry(assist, (control, *shared))
        assert self._pointers is not None  # typed by ``_arguments``
        work, _ = self._pointers
        work.function.compile(work.type.signature.args)

    def _arguments(self, batches: int, draws: np.ndarray, max_train_steps: int | None, counters: np.ndarray, parents: np.ndarray,
                   fitness: np.ndarray, hits: np.ndarray, mutation_seeds: np.ndarray,
                   eval_seeds: np.ndarray) -> tuple[np.ndarray, tuple[Any, ...], tuple[Any, ...]]:
        """A ``breed`` call's control array, what it shares with its helpers (the arrays, then the work function and
        the interpreter as function pointers) and its whole argument list, which ends with that."""
        from evonas.kernels.program_search import loop_buffers, new_control

        task, batch, r, c = self.task, self.batch, self.ring, self.children
        tasks = task.arrays()
        xs, ys, xv, yv = tasks.lanes
        n_train, n_valid = tasks.x_train.shape[1], tasks.x_valid.shape[1]
        fec = task.fec
        lru = fec.arrays if fec is not None else self._no_lru
        fec_train, fec_valid = min(task.fec_train, n_train), min(task.fec_valid, n_valid)
        if self._buffers is None:
            self._buffers = loop_buffers(batch, r.op.shape[2], fec_train + fec_valid, ys.shape[1])
        task_arrays = (xs, ys, xv, yv, tasks.order.shape[1], n_train, n_valid, tasks.y_valid.shape[1], tasks.classification, task.max_abs_error,
                       fec_train, fec_valid, np.uint64(n_train * tasks.order.shape[1]))
        program = (r.scalars, r.vectors, r.matrices, PARTIAL, RANDOM, self.codes, mutation_seeds, eval_seeds)
        control = new_control(self.helpers, self.wait_for_helpers)
        shared = (self._buffers, (r.op, r.in1, r.in2, r.out, r.data, r.length), (c.op, c.in1, c.in2, c.out, c.data, c.length),
                  self.space.kernel_tables, task_arrays, program, tuple(self.memo))
        shared = (*shared, *self._loop_pointers(shared))
        arguments = (
            batches, batch, draws, -1 if max_train_steps is None else int(max_train_steps), counters, self.evaluate, self.ring_fitness,
            self.ring_ids, self.ring_head, parents, fitness, hits, self.strategy.next_id, fec is not None, task.count * task.fec_train,
            tuple(lru), control, *shared,
        )
        return control, shared, arguments

    def _loop_pointers(self, shared: tuple[Any, ...]) -> tuple[Any, Any]:
        """``_work`` and the interpreter as function pointers, typed once (see ``loop_pointers``)."""
        from evonas.kernels.program_search import loop_pointers

        if self._pointers is None:
            self._pointers = loop_pointers(*shared)
        return self._pointers

    def _entry(self, kernel: Any, arguments: tuple[Any, ...]) -> Any:
        """``kernel``'s compiled entry point for these arguments, found once (their types never change, and typing
        every argument of every call slowed the loop measurably)."""
        from evonas.kernels.function_pointers import entry_point

        if kernel not in self._entries:
            self._entries[kernel] = entry_point(kernel, *arguments)
        return self._entries[kernel]


@contextmanager
def _helper_threads(assist: Any, control: np.ndarray, shared: tuple[Any, ...], helpers: int) -> Iterator[None]:
    """``helpers`` threads running ``assist`` (its compiled entry point) on ``control`` for the duration of one
    ``breed`` call; they end when it posts QUIT (posted here too if the call raised, so that none is left spinning)."""
    from evonas.kernels.function_pointers import values
    from evonas.kernels.program_search import EPOCH, QUIT

    threads = [threading.Thread(target=assist, args=values(control, *shared), daemon=True) for _ in range(helpers)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        control[EPOCH] = QUIT
        for thread in threads:
            thread.join()


class _Rows:
    """Genome of a child row of the last call, copied out when asked for (the child arrays are reused by the next
    call, so a ``Brood`` is read before the next ``breed``)."""

    def __init__(self, children: ProgramBatch, features: int) -> None:
        self.children, self.features = children, features
        self.cache: dict[int, ProgramGenome] = {}

    def __call__(self, row: int) -> ProgramGenome:
        if row not in self.cache:
            self.cache[row] = ProgramGenome.packed_rows(_copy_rows(self.children, np.array([row])), 0, 1, self.features)[0]
        return self.cache[row]
