"""AutoML-Zero task sets: regression teachers and projected binary classification, scored by the Numba kernel.

A task set is D tasks of equal shape built from seeds; a genome's fitness is the mean of its task
fitnesses ([C]'s default). Whole batches of genomes are scored in one kernel call (``evaluate_batch``), with
optional functional-equivalence caching (FEC) keyed by a short run's exact errors.
"""

from __future__ import annotations

import base64
import math
from collections import OrderedDict
from collections.abc import Mapping
from itertools import combinations
from typing import Any

import numpy as np

from evonas.core import metric_rows
from evonas.errors import UserError
from evonas.genomes.automl_zero import ProgramGenome, to_batch
from evonas.rng import derive_seed
from evonas.tasks.base import Task

#: Held-out class pairs of [P] §4.2 (used for selection / final evaluation, never for search).
HELD_OUT_PAIRS: tuple[tuple[int, int], ...] = ((4, 6), (3, 5), (8, 9), (3, 8), (0, 9), (2, 9), (1, 8), (3, 6), (0, 5))
SEARCH_PAIRS: tuple[tuple[int, int], ...] = tuple(p for p in combinations(range(10), 2) if p not in HELD_OUT_PAIRS)
PURPOSE_TASK_DATA, PURPOSE_TASK_PARAMS = 11, 12
KINDS = ("linear", "affine", "teacher", "binary")

_BINARY_SOURCE: dict[str, np.ndarray] = {}


def _rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def regression_task(kind: str, features: int, n_train: int, n_valid: int, data_seed: int, param_seed: int) -> tuple[np.ndarray, ...]:
    """One regression task: x ~ N(0, 1)^F from the data seed; the teacher's weights from the parameter seed.

    linear y = w.x; affine y = w.x + a (a ~ N(0, 1), evonas's reading); teacher y = u.relu(Mx) with rows 0, 2
    of M and entries 0, 2 of u zeroed ([C] scalar_2layer_nn_regression_task)."""
    data = _rng(data_seed)
    x = data.standard_normal((n_train + n_valid, features))
    params = _rng(param_seed)
    if kind in ("linear", "affine"):
        w = params.standard_normal(features)
        y = x @ w + (params.standard_normal() if kind == "affine" else 0.0)
    elif kind == "teacher":
        hidden = params.standard_normal((features, features))
        u = params.standard_normal(features)
        for row in (0, 2):
            if row < features:
                hidden[row] = 0.0
                u[row] = 0.0
        y = np.maximum(x @ hidden.T, 0.0) @ u
    else:
        raise ValueError(kind)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def _binary_source() -> dict[str, np.ndarray]:
    if not _BINARY_SOURCE:
        from evonas.datasets import load_embedded

        data = load_embedded()
        _BINARY_SOURCE.update({k: v.reshape(len(v), -1).astype(np.float64) if k.endswith("_x") else v for k, v in data.items()})
    return _BINARY_SOURCE


def binary_task(pairs: tuple[tuple[int, int], ...], features: int, n_train: int, n_valid: int, data_seed: int, param_seed: int) -> tuple[np.ndarray, ...]:
    """Projected binary classification on the embedded Fashion-MNIST: a class pair picked by the data seed,
    lower class = label 1, a Gaussian projection 784 -> F from the parameter seed, standardised on train."""
    source = _binary_source()
    data = _rng(data_seed)
    lo, hi = pairs[int(data.integers(len(pairs)))]

    def pick(split: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = source[f"{split}_x"], source[f"{split}_y"]
        index = np.flatnonzero((y == lo) | (y == hi))
        index = data.permutation(index)[: min(n, len(index))]
        return x[index], (y[index] == lo).astype(np.float64)

    x_train, y_train = pick("train", n_train)
    x_valid, y_valid = pick("val", n_valid)
    projection = _rng(param_seed).standard_normal((x_train.shape[1], features))
    x_train, x_valid = x_train @ projection, x_valid @ projection
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-12
    return (x_train - mean) / std, y_train, (x_valid - mean) / std, y_valid


def build_task_arrays(kind: str, count: int, features: int, n_train: int, n_valid: int, seed: int, epochs: int = 1,
                      pairs: tuple[tuple[int, int], ...] = SEARCH_PAIRS) -> Any:
    """``count`` tasks of one kind, every seed derived from ``seed``, as kernel TaskArrays."""
    from evonas.kernels.program_cpu import TaskArrays

    if kind not in KINDS:
        raise UserError(f"unknown program task kind {kind!r}; choose one of {', '.join(KINDS)}")
    parts = []
    for t in range(count):
        data_seed, param_seed = derive_seed(seed, PURPOSE_TASK_DATA, t), derive_seed(seed, PURPOSE_TASK_PARAMS, t)
        if kind == "binary":
            parts.append(binary_task(pairs, features, n_train, n_valid, data_seed, param_seed))
        else:
            parts.append(regression_task(kind, features, n_train, n_valid, data_seed, param_seed))
    n_train = min(len(p[1]) for p in parts)
    n_valid = min(len(p[3]) for p in parts)
    x_train = np.stack([p[0][:n_train] for p in parts])
    order = np.empty((count, epochs, n_train), dtype=np.int32)
    for t in range(count):
        shuffle = _rng(derive_seed(seed, PURPOSE_TASK_DATA + 100, t))
        order[t, 0] = np.arange(n_train)
        for e in range(1, epochs):
            order[t, e] = shuffle.permutation(n_train)
    return TaskArrays(
        np.ascontiguousarray(x_train), np.stack([p[1][:n_train] for p in parts]),
        np.ascontiguousarray(np.stack([p[2][:n_valid] for p in parts])), np.stack([p[3][:n_valid] for p in parts]),
        order, kind == "binary",
    )


def _kernel() -> Any:
    """``kernels.fec_cache``, imported on first use (so importing this module does not load numba)."""
    from evonas.kernels import fec_cache

    return fec_cache


class FecCache:
    """LRU map from FEC key to fitness with [C]'s ``forget_every`` refresh, in compiled arrays
    (``kernels/fec_cache.py``) that the batch path and the compiled search loop share; its state is plain data."""

    def __init__(self, size: int = 100_000, forget_every: int = 100) -> None:
        self.size = size
        self.forget_every = forget_every
        self.arrays = _kernel().new_lru(size, forget_every)
        self._out = np.empty(1)

    @property
    def hits(self) -> int:
        """Lookups that found their key."""
        return _kernel().lru_sizes(self.arrays[-1])[1]

    @property
    def lookups(self) -> int:
        """Lookups made."""
        return _kernel().lru_sizes(self.arrays[-1])[2]

    @property
    def entries(self) -> OrderedDict[int, tuple[float, int]]:
        """The entries, oldest first, as key -> (fitness, hit count) (for inspection; the cache keeps arrays)."""
        keys, fitness, counts = self._items()
        return OrderedDict(zip(keys.tolist(), zip(fitness.tolist(), counts.tolist())))

    def get(self, key: int) -> float | None:
        """Fitness for a key (and count the hit), or None."""
        return float(self._out[0]) if _kernel().lru_get(*self.arrays, np.uint64(key), self._out) else None

    def put(self, key: int, fitness: float) -> None:
        """Insert a freshly evaluated fitness, evicting the least recently used entry when full."""
        _kernel().lru_put(*self.arrays, np.uint64(key), float(fitness), 1)

    def lookup_round(self, keys: np.ndarray, status: np.ndarray, values: np.ndarray) -> int:
        """One batch round of lookups in compiled code (see ``kernels.fec_cache.lru_round``); returns the misses."""
        return int(_kernel().lru_round(*self.arrays, keys, status, values))

    def put_many(self, keys: np.ndarray, fitness: np.ndarray) -> None:
        """``put`` of each (key, fitness) in order, in one compiled call."""
        _kernel().lru_put_many(*self.arrays, keys, fitness, np.ones(len(keys), dtype=np.int64))

    def _items(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The entries' keys, fitness and counts, oldest first."""
        n = _kernel().lru_sizes(self.arrays[-1])[0]
        keys, fitness, counts = np.empty(n, np.uint64), np.empty(n), np.empty(n, np.int64)
        keys_a, fitness_a, counts_a, links, _, _, meta = self.arrays
        _kernel().lru_items(keys_a, fitness_a, counts_a, links, meta, keys, fitness, counts)
        return keys, fitness, counts

    def state(self) -> dict[str, Any]:
        """JSON-safe state, oldest entry first, so a resumed run sees the same hits. Entries go as base64 of
        little-endian arrays: a full cache as JSON lists of numbers took longer to write than 40,000 children."""
        keys, fitness, counts = self._items()
        encode = lambda a, dtype: base64.b64encode(a.astype(dtype).tobytes()).decode()  # noqa: E731
        return {"keys": encode(keys, "<u8"), "fitness": encode(fitness, "<f8"), "counts": encode(counts, "<i8"),
                "hits": self.hits, "lookups": self.lookups}

    def load(self, state: dict[str, Any]) -> None:
        """Inverse of ``state``; also reads the older form, a list of [hex key, fitness, count]."""
        if "entries" in state:
            entries = state["entries"]
            keys = np.array([int(k, 16) for k, _, _ in entries], dtype=np.uint64)
            fitness = np.array([float(f) for _, f, _ in entries], dtype=np.float64)
            counts = np.array([int(c) for _, _, c in entries], dtype=np.int64)
        else:
            keys, fitness, counts = (np.frombuffer(base64.b64decode(state[name]), dtype=dtype)
                                     for name, dtype in (("keys", "<u8"), ("fitness", "<f8"), ("counts", "<i8")))
            if not len(keys) == len(fitness) == len(counts):
                raise ValueError("FEC cache state arrays differ in length")
        self.arrays = _kernel().new_lru(self.size, self.forget_every)
        _kernel().lru_put_many(*self.arrays, np.ascontiguousarray(keys, dtype=np.uint64), np.ascontiguousarray(fitness, dtype=np.float64),
                     np.ascontiguousarray(counts, dtype=np.int64))
        _kernel().set_lru_counters(self.arrays[-1], int(state["hits"]), int(state["lookups"]))


class ProgramTaskSet(Task):
    """Score AutoML-Zero programs on D tasks of one kind; fitness is the mean task fitness."""

    name = "programs"
    genome_kinds = ("automl-zero",)

    @classmethod
    def metric_names(cls, options: Mapping[str, Any]) -> tuple[str, ...]:
        """Whether the fitness came from the FEC cache, and the program's live instruction count."""
        return ("fec_hit", "program_size")

    @classmethod
    def cheap_metric_names(cls, options: Mapping[str, Any]) -> tuple[str, ...]:
        """The live instruction count needs no evaluation."""
        return ("program_size",)

    def cheap_metrics(self, genomes: list[Any], names: list[str]) -> dict[str, np.ndarray]:
        """Live instructions of each program (Setup, Predict and Learn together; dead code excluded)."""
        if "program_size" not in names:
            return {}
        return {"program_size": np.array([sum(sum(mask) for mask in g.live_mask()) for g in genomes], dtype=np.float64)}
    in_process = True  # the kernel parallelises with numba threads, and the FEC cache must stay in one place
    kernel_devices = True  # takes ``device``: cpu, cuda (kernels/program_cuda.py) or auto
    fingerprint_memo_size = 1_000_000  # entries (a 32 MB table); 0 turns the memo off
    PARALLEL_WORK = 50_000  # see ``breeder``

    def __init__(self, kind: str = "linear", tasks: int = 10, features: int = 4, train: int = 100, valid: int = 100,
                 epochs: int = 1, task_seed: int = 0, fec: bool = False, fec_train: int = 10, fec_valid: int = 10,
                 fec_cache_size: int = 100_000, fec_forget_every: int = 100, fec_hashing: str = "exact",
                 hurdle: bool = False, hurdle_tasks: int = 0, hurdle_percentile: float = 75.0, hurdle_window: int = 1000,
                 max_abs_error: float = 100.0, device: str = "cpu") -> None:
        if kind not in KINDS:
            raise UserError(f"unknown program task kind {kind!r}; choose one of {', '.join(KINDS)}")
        if min(tasks, features, train, valid, epochs) < 1:
            raise UserError("tasks, features, train, valid and epochs must all be at least 1")
        if fec_hashing not in ("exact", "truncated"):
            raise UserError(f"fec_hashing must be 'exact' ([C]) or 'truncated' ([P]), got {fec_hashing!r}")
        if hurdle and not (0 < hurdle_percentile < 100 and hurdle_window >= 10 and 0 <= hurdle_tasks < tasks):
            raise UserError("hurdles need 0 < hurdle_percentile < 100, hurdle_window >= 10 and hurdle_tasks below tasks")
        super().__init__(kind=kind, tasks=tasks, features=features, train=train, valid=valid, epochs=epochs,
                         task_seed=task_seed, fec=fec, fec_train=fec_train, fec_valid=fec_valid,
                         fec_cache_size=fec_cache_size, fec_forget_every=fec_forget_every, fec_hashing=fec_hashing,
                         hurdle=hurdle, hurdle_tasks=hurdle_tasks, hurdle_percentile=hurdle_percentile,
                         hurdle_window=hurdle_window, max_abs_error=max_abs_error, device=device)
        self.kind, self.count, self.features = kind, tasks, features
        self.train, self.valid, self.epochs, self.task_seed = train, valid, epochs, task_seed
        self.fec = FecCache(fec_cache_size, fec_forget_every) if fec else None
        self.fec_train, self.fec_valid, self.max_abs_error = fec_train, fec_valid, max_abs_error
        self.fec_hashing = fec_hashing
        self.hurdle = hurdle
        self.hurdle_tasks = hurdle_tasks or max(1, tasks // 5)
        self.hurdle_percentile, self.hurdle_window = hurdle_percentile, hurdle_window
        self.hurdle_scores: list[float] = []  # rolling window of first-stage scores
        self.hurdle_stops = 0
        self._arrays: Any = None
        self.train_steps = 0
        self._memo: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # see fingerprint_memo
        self.device = device
        self._runner: Any = None

    def _run(self, *args: Any, **kwargs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The interpreter of this task's device (resolved at first use, so building a task never loads CUDA)."""
        if self._runner is None:
            from evonas.kernels.cuda_support import device_functions

            (self._runner,) = device_functions(self.device, "program", ("run_programs",))
        return self._runner(*args, **kwargs)

    def arrays(self) -> Any:
        """The task set's kernel arrays, built once."""
        if self._arrays is None:
            self._arrays = build_task_arrays(self.kind, self.count, self.features, self.train, self.valid, self.task_seed, self.epochs)
        return self._arrays

    def _check(self, genomes: list[ProgramGenome]) -> None:
        for g in genomes:
            if g.features != self.features:
                raise UserError(f"genome feature size F={g.features} differs from the task's F={self.features}")

    def evaluate_batch(self, genomes: list[ProgramGenome], seeds: list[int]) -> list[tuple[float, dict[str, float]]]:
        """Fitness and metrics of many genomes in one kernel call (FEC hits skip the full run)."""
        fitness, metrics = self.evaluate_columns(genomes, seeds)
        return list(zip(fitness.tolist(), metric_rows(metrics, len(genomes))))

    def evaluate_columns(self, genomes: list[ProgramGenome], seeds: list[int]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The fitness column and metric columns (``fec_hit`` with FEC on) of many genomes in one kernel call."""
        from evonas.kernels.fec_cache import HIT, MISS, WAIT
        from evonas.kernels.program_cpu import prune_batch

        self._check(genomes)
        tasks = self.arrays()
        batch = prune_batch(to_batch(genomes, eliminate_dead=False))
        seeds_arr = np.asarray(seeds, dtype=np.uint64)
        if self.fec is None:
            return self._full(batch, np.arange(len(genomes)), seeds_arr, tasks), {}
        keys = self._fec_keys(batch, tasks)
        self.train_steps += len(genomes) * self.count * self.fec_train
        fitness = np.full(len(genomes), math.nan)
        hit = np.zeros(len(genomes))
        status, values = np.empty(len(genomes), dtype=np.int64), np.empty(len(genomes))
        remaining = np.arange(len(genomes))
        # A key seen twice in one batch is evaluated once: later copies wait for the first and then hit.
        while len(remaining):
            n = len(remaining)
            self.fec.lookup_round(keys[remaining], status[:n], values[:n])
            found = status[:n] == HIT
            fitness[remaining[found]] = values[:n][found]
            hit[remaining[found]] = 1.0
            misses = remaining[status[:n] == MISS]
            if len(misses):
                scored = self._full(batch, misses, seeds_arr, tasks)
                fitness[misses] = scored
                self.fec.put_many(keys[misses], np.ascontiguousarray(scored, dtype=np.float64))
            remaining = remaining[status[:n] == WAIT]
        return fitness, {"fec_hit": hit}

    @property
    def fingerprint_memo(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The compiled table (``kernels/fec_cache`` memo) from live-code hash to FEC key, made at first use with
        ``fingerprint_memo_size`` entries; the batch path and the compiled search loop share it."""
        if self._memo is None:
            from evonas.kernels.fec_cache import new_memo

            self._memo = new_memo(self.fingerprint_memo_size)
        return self._memo

    def _fec_keys(self, batch: Any, tasks: Any) -> np.ndarray:
        """FEC keys of a pruned batch. The fingerprint run is a pure function of a program's live code on this
        task set, so it is run only for live code not met before: a mutation of dead code, or an unmutated
        copy, reuses its parent's key (about half of the demo's children). The train steps it would have
        taken are still counted, as the budget is part of the protocol, and the LRU lookup is unchanged. A memo
        at its size limit is emptied (a cache of pure results: that costs time, never changes a score)."""
        from evonas.kernels.fec_cache import memo_find_many, memo_store_many
        from evonas.kernels.program_cpu import code_hashes, fec_keys

        codes = code_hashes(batch)
        keys = np.zeros(len(codes), dtype=np.uint64)
        found = np.zeros(len(codes), dtype=np.bool_)
        memo = self.fingerprint_memo
        memo_find_many(*memo, codes, found, keys)
        unknown = np.flatnonzero(~found)
        if len(unknown):
            sub = batch if len(unknown) == len(keys) else _take(batch, unknown)
            keys[unknown] = fec_keys(sub, tasks, self.fec_train, self.fec_valid, self.fec_hashing == "truncated", self._run)
            memo_store_many(*memo, codes[unknown], keys[unknown])
        return keys

    def _full(self, batch: Any, index: np.ndarray, seeds: np.ndarray, tasks: Any) -> np.ndarray:
        """Full evaluations of the programs at ``index``: mean task fitness each.

        With hurdles ([P] S3, after So et al. 2019), programs first run on ``hurdle_tasks`` tasks; those scoring
        below the rolling ``hurdle_percentile`` of recent first-stage scores stop there with that score.
        """
        run_programs = self._run
        sub = batch if len(index) == len(batch) else _take(batch, index)
        if not self.hurdle:
            task_fitness, steps, _ = run_programs(sub, tasks, seeds[index], max_abs_error=self.max_abs_error)
            self.train_steps += int(steps.sum())
            return task_fitness.mean(axis=1)
        first, rest = _split_tasks(tasks, self.hurdle_tasks)
        stage1, steps, _ = run_programs(sub, first, seeds[index], max_abs_error=self.max_abs_error)
        self.train_steps += int(steps.sum())
        score1 = stage1.mean(axis=1)
        fitness = score1.copy()
        active = len(self.hurdle_scores) >= self.hurdle_window // 10
        bar = float(np.percentile(self.hurdle_scores, self.hurdle_percentile)) if active else -np.inf
        passed = np.flatnonzero(score1 >= bar)
        self.hurdle_stops += len(index) - len(passed)
        self.hurdle_scores = (self.hurdle_scores + score1.tolist())[-self.hurdle_window :]
        if len(passed):
            stage2, steps, _ = run_programs(_take(sub, passed), rest, seeds[index][passed], max_abs_error=self.max_abs_error)
            self.train_steps += int(steps.sum())
            fitness[passed] = (stage1[passed].sum(axis=1) + stage2.sum(axis=1)) / tasks.count
        return fitness

    def breeder(self, strategy: Any, batch: int, run_seed: int, worker: str = "") -> Any:
        """The compiled search loop for an aging search of this task (``tasks/program_search.py``), or None where
        it does not apply: another space, hurdles, truncated FEC hashing, a GPU device, over 128 tasks, or several
        threads on heavy tasks.

        With several threads, the loop's extra threads are helpers that claim chunks of each batch's children and
        runs (``kernels/program_search.py``); a task whose full evaluation is heavy (task-examples x F at least
        ``PARALLEL_WORK``) takes the batch path instead, whose evaluations of a batch run in parallel: for such tasks
        the two measured equally fast (binary classification, 2 threads: 640-665 individuals/s either way)."""
        from numba import get_num_threads

        from evonas.genomes.automl_zero import ProgramSpace
        from evonas.kernels.program_search import MAX_TASKS

        from .search import LOOP_THREADS, ProgramBreeder

        space = strategy.space
        if not isinstance(space, ProgramSpace) or space.features != self.features or batch < 1:
            return None
        if self.hurdle or self.fec_hashing != "exact" or self.device != "cpu" or self.count > MAX_TASKS:
            return None
        threads = get_num_threads()
        if threads > 1 and self.count * self.epochs * (self.train + self.valid) * self.features >= self.PARALLEL_WORK:
            return None
        return ProgramBreeder(self, strategy, batch, run_seed, worker, helpers=min(threads, LOOP_THREADS) - 1)

    def evaluate(self, genome: ProgramGenome, seed: int) -> tuple[float, dict[str, float]]:  # type: ignore[override]
        """Mean task fitness of one genome."""
        return self.evaluate_batch([genome], [seed])[0]

    def state_dict(self) -> dict[str, Any] | None:
        """FEC cache and step counter, saved in checkpoints so a resumed run scores exactly as before."""
        return {"train_steps": self.train_steps, "fec": self.fec.state() if self.fec else None,
                "hurdle_scores": self.hurdle_scores, "hurdle_stops": self.hurdle_stops}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """Inverse of ``state_dict``."""
        if not state:
            return
        self.train_steps = int(state["train_steps"])
        self.hurdle_scores = [float(x) for x in state.get("hurdle_scores", [])]
        self.hurdle_stops = int(state.get("hurdle_stops", 0))
        if self.fec is not None and state.get("fec"):
            self.fec.load(state["fec"])

    def metrics(self) -> dict[str, float]:
        """Run-level figures: training steps and the FEC hit rate."""
        out = {"train_steps": float(self.train_steps)}
        if self.fec is not None and self.fec.lookups:
            out["fec_hit_rate"] = self.fec.hits / self.fec.lookups
        if self.hurdle:
            out["hurdle_stops"] = float(self.hurdle_stops)
        return out


def _split_tasks(tasks: Any, k: int) -> tuple[Any, Any]:
    """The first ``k`` tasks and the rest, as two TaskArrays."""
    from evonas.kernels.program_cpu import TaskArrays

    def part(sl: slice) -> Any:
        return TaskArrays(tasks.x_train[sl], tasks.y_train[sl], tasks.x_valid[sl], tasks.y_valid[sl], tasks.order[sl], tasks.classification)

    return part(slice(0, k)), part(slice(k, None))


def _take(batch: Any, index: np.ndarray) -> Any:
    from evonas.genomes.program_ir import ProgramBatch

    taken = ProgramBatch(batch.op[index], batch.in1[index], batch.in2[index], batch.out[index], batch.data[index],
                         batch.length[index], batch.scalars, batch.vectors, batch.matrices)
    return taken.mark_checked() if batch.checked else taken
