"""What a task, a space or a genome may offer beyond the required protocol, in one place.

A plug-in author reads this module to learn every optional capability the engine uses. Each is a
``typing.Protocol``: a class offers it by having the methods (no registration, no base class), and the
engine asks with ``isinstance``, here or where the capability is used, never by probing attribute names.
The required protocols are ``evonas.tasks.base.Task`` and ``evonas.genomes.base.Genome`` / ``Space``; the
declarations a task class makes about itself (genome kinds, presets, where it must run) are class attributes
of ``Task``, read through ``task_declarations``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from evonas.genomes.base import Diagram, Genome, Mutation
from evonas.tasks.base import Task

# -- tasks --------------------------------------------------------------------------------------------------


@runtime_checkable
class ScoresColumns(Protocol):
    """Scores a whole batch in one call and returns columns: fitness (NaN or inf for a failure) and metric
    arrays (NaN: the row lacks that metric). The fastest path; the lineage never makes a row object."""

    def evaluate_columns(self, genomes: list[Any], seeds: list[int]) -> tuple[np.ndarray, dict[str, np.ndarray]]: ...


@runtime_checkable
class ScoresBatches(Protocol):
    """Scores a whole batch in one call and returns ``(fitness, metrics)`` per genome, in order."""

    def evaluate_batch(self, genomes: list[Any], seeds: list[int]) -> list[tuple[float, dict[str, float]]]: ...


@runtime_checkable
class KeepsState(Protocol):
    """Carries state across evaluations (an FEC cache, train-step counters) that goes into the checkpoint, so a
    resumed run continues exactly. The state is JSON-safe (None for no state)."""

    def state_dict(self) -> dict[str, Any] | None: ...

    def load_state_dict(self, state: dict[str, Any] | None) -> None: ...


@runtime_checkable
class CountsTrainSteps(Protocol):
    """Counts the training steps its evaluations ran, so ``max_train_steps`` (AutoML-Zero's budget) can stop a run."""

    train_steps: int


@runtime_checkable
class BreedsCompiled(Protocol):
    """Offers a compiled stand-in for whole batches of aging evolution (selection, mutation, evaluation and
    the tell in one call) that logs exactly what ask -> evaluate -> tell would. Returns None where it cannot
    serve this strategy; see ``evonas.families.automl_zero.search``."""

    def breeder(self, strategy: Any, batch: int, run_seed: int, worker: str = "") -> Any: ...


@runtime_checkable
class CompilesLoopAhead(Protocol):
    """A compiled breeder (what ``BreedsCompiled.breeder`` returns) that can compile its search loop before its
    first call and apart from the evaluation kernels, so that a first run compiles both at once in two processes
    (``evonas.warm_up``)."""

    def compile_loop(self) -> None: ...


@runtime_checkable
class TrainsModels(Protocol):
    """Trains a torch network for a genome and hands it over (``evonas export --format torch``)."""

    def trained_model(self, genome: Any, seed: int) -> tuple[Any, dict[str, float]]: ...

    def splits(self) -> Any: ...


@runtime_checkable
class MeasuresCheaply(Protocol):
    """Measures some metrics of a genome without evaluating it (a network's parameters, multiply-accumulates and
    latency before training; a benchmark's latency): the names are declared by ``Task.cheap_metric_names``. A
    multi-objective run merges them into every row and rejects, untrained, a candidate that breaks a constraint
    on one of them."""

    def cheap_metrics(self, genomes: list[Any], names: list[str]) -> dict[str, np.ndarray]: ...


@runtime_checkable
class KnowsOptimum(Protocol):
    """A benchmark whose every architecture is known (a tabular task): what a perfect search of a space finds
    (``fitness``, that architecture's ``test`` figure, the ``best_test`` of any), and the metric column holding
    each evaluation's test figure. Reports and ``bench tabular`` measure regret with it."""

    test_metric: str

    def optimum(self, space: Any) -> dict[str, float]: ...


@dataclass(frozen=True)
class TaskDeclarations:
    """What a task class says about itself before it is built (see the class attributes of ``Task``)."""

    genome_kinds: tuple[str, ...]
    genome_presets: Mapping[str, Mapping[str, Any]]
    in_process: bool
    kernel_devices: bool
    torch_device: bool


def task_declarations(factory: Any) -> TaskDeclarations:
    """The declarations of a task class; a plug-in factory that is not a ``Task`` subclass declares nothing
    (any genome kind, no presets, any executor)."""
    source = factory if isinstance(factory, type) and issubclass(factory, Task) else Task
    return TaskDeclarations(source.genome_kinds, source.genome_presets, source.in_process, source.kernel_devices, source.torch_device)


# -- spaces -------------------------------------------------------------------------------------------------


@runtime_checkable
class MutatesInBulk(Protocol):
    """Mutates a whole batch of parents in one compiled call, child ``k`` from the 64-bit stream seed
    ``seeds[k]``; must give what ``mutate`` would with that stream's generator in spirit (a pure function of
    parent and seed), so that compact lineage replays."""

    def mutate_many(self, parents: list[Any], seeds: np.ndarray) -> list[tuple[Genome, Mutation]]: ...


@runtime_checkable
class TracksInnovations(Protocol):
    """Numbers new genes through historical markings (NEAT): the strategy owns the tracker, checkpoints it and
    passes it to ``mutate(genome, rng, tracker)``. A tracker has ``new_generation()`` (the same structural
    change gets the same number within a generation only), ``copy()``, ``state_dict()`` and ``from_state()``."""

    def new_tracker(self) -> Any: ...


@runtime_checkable
class Speciates(Protocol):
    """What NEAT's speciated reproduction needs of a space: crossover by gene alignment, a compatibility
    distance, and its variation settings as one parameter array for the compiled breeder."""

    def crossover(self, fitter: Any, other: Any, rng: np.random.Generator, equal: bool = False) -> Any: ...

    def distance(self, a: Any, b: Any) -> float: ...

    def parameters(self, mutation_only: float = 0.0, interspecies: float = 0.0, mutate_after_crossover: float = 0.0) -> np.ndarray: ...


@runtime_checkable
class ChoiceSpace(Protocol):
    """A space whose genomes are a fixed-length sequence of categorical decisions (what a controller samples):
    ``decision_types()`` gives each decision's type name and the most values it takes, ``choices_allowed(prefix)``
    how many the next decision may take after ``prefix`` (values 0..n-1; it may depend on earlier decisions), and
    ``to_choices`` / ``from_choices`` convert exactly both ways. Every sequence in range is a valid genome."""

    def decision_types(self) -> list[tuple[str, int]]: ...

    def choices_allowed(self, prefix: list[int]) -> int: ...

    def to_choices(self, genome: Any) -> list[int]: ...

    def from_choices(self, choices: list[int]) -> Any: ...


# -- genomes ------------------------------------------------------------------------------------------------


@runtime_checkable
class Describes(Protocol):
    """A readable multi-line text of the genome (printed for the best individual, shown in reports)."""

    def describe(self) -> str: ...


@runtime_checkable
class DrawsDot(Protocol):
    """A Graphviz drawing of the genome (``best.dot`` beside a finished run, ``--format dot``)."""

    def to_dot(self) -> str: ...


@runtime_checkable
class HasDiagrams(Protocol):
    """Graph drawings of the genome's parts for the HTML report."""

    def diagrams(self) -> list[Diagram]: ...


def genome_text(genome: Any) -> str | None:
    """The genome's ``describe()`` text where it has one, else None."""
    return genome.describe() if isinstance(genome, Describes) else None
