"""The record a genome family registers: everything the engine, the CLI, export and reports need to know about
it, in one place (see ``evonas.registry`` for the list, docs/architecture.md for how to add one)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evonas.errors import UserError


@dataclass(frozen=True)
class ExportRequest:
    """One ``evonas export``: the individual, where it came from, and where its file goes."""

    config: Any  # the run's RunConfig
    genome: Any
    ident: int
    seed: int  # the individual's evaluation seed
    title: str  # a line naming the run, the id and its fitness (for file headers)
    out: Path
    overrides: dict[str, Any]  # --train sizes (torch only)
    echo: Callable[[str], None]  # progress lines for stderr
    #: A fresh instance of the run's task with these options added (``evonas.registry.make_task``; passed in,
    #: since the registry imports every family).
    build_task: Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class ExportFormat:
    """An ``evonas export --format`` a family offers: the file suffix and the function that writes the file."""

    name: str
    suffix: str
    write: Callable[[ExportRequest], None]
    #: Whether ``--train`` and the sizes apply (formats that retrain a network).
    trains: bool = False


@dataclass(frozen=True)
class Family:
    """A genome family: its classes, defaults, presets, tasks and export formats."""

    kind: str  # the --genome name, and the genome_kind column of the lineage
    genome: type
    space: type
    default_task: str
    #: The tasks this family brings, by --task name: (task class, fixed options).
    tasks: Mapping[str, tuple[type, dict[str, Any]]]
    #: Named settings: smoke, cpu, paper (population, sample, cycles, batch, checkpoint_every, task_options, ...).
    presets: Mapping[str, Mapping[str, Any]]
    default_strategy: str = "aging"
    #: Default --lineage: "compact" for families whose children cost microseconds (rows of tens of bytes).
    lineage: str = "full"
    #: Export formats, the default first.
    exports: tuple[ExportFormat, ...] = ()
    #: Per-task settings for families whose space layout depends on the task (AutoML-Zero, NEAT): a task not
    #: listed needs its own ``genome_presets`` entry. None: any task of the family's kind fits the default space.
    task_presets: Mapping[str, Mapping[str, Any]] | None = None

    def export_format(self, name: str | None) -> ExportFormat:
        """The export format named ``name`` (the default when None); a UserError names the formats there are."""
        if not self.exports:
            raise UserError(f"{self.kind} individuals have no export format yet")
        if name is None:
            return self.exports[0]
        for fmt in self.exports:
            if fmt.name == name:
                return fmt
        names = ", ".join(f.name for f in self.exports)
        raise UserError(f"{self.kind} individuals export as {names}, not {name!r}; pick --format {self.exports[0].name}")
