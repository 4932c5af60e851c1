"""A finished or stopped run, read from its folder for Python users (``evonas.open_run``): config, lineage,
best architectures, ancestry, genomes, population and Pareto front. Reading never changes the folder and never
imports code the folder names."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from evonas.config import RunConfig
from evonas.errors import UserError
from evonas.families.automl_zero import protocol
from evonas.registry import GENOMES
from evonas.run_folder import ancestry, best_rows, load_config, read_run_lineage
from evonas.store import read_checkpoint

CHECKPOINT = "checkpoint.arrow"


@dataclass
class RunView:
    """One run folder, read on demand. For an AutoML-Zero protocol folder, ``path`` is the experiment that holds
    the protocol's best candidate and ``protocol`` the protocol's state (history, best, final scores)."""

    path: Path
    protocol: dict[str, Any] | None = None
    _lineage: pa.Table | None = field(default=None, repr=False)

    @classmethod
    def open(cls, path: str | Path) -> RunView:
        """Open a run folder (or a protocol folder); a one-line ``UserError`` if it is not one."""
        folder = Path(path)
        if protocol.is_protocol_folder(folder):
            return cls(protocol.best_experiment(folder), protocol.load(folder))
        load_config(folder)  # refuses a missing or damaged folder in one line
        return cls(folder)

    @property
    def config(self) -> RunConfig:
        """The run's recorded settings (``config.json``)."""
        return load_config(self.path)

    @property
    def lineage(self) -> pa.Table:
        """Every evaluated individual, one row each (see docs/run-folder.md for the columns); a torn last part is
        read up to its last complete batch."""
        if self._lineage is None:
            self._lineage = read_run_lineage(self.path)[0]
        return self._lineage

    def top(self, k: int = 10) -> list[dict[str, Any]]:
        """The k best architectures, ranked by the mean of their evaluations (``mean_fitness``, ``evaluations``,
        ``fitness_sd``), as ``evonas lineage RUN --top k`` lists them."""
        if k < 1:
            raise UserError(f"top needs k of at least 1, got {k}")
        return best_rows(self.lineage, k)

    @property
    def best(self) -> dict[str, Any] | None:
        """The best architecture (``top(1)``) with its genome; None when no evaluation succeeded."""
        rows = self.top(1)
        return {**rows[0], "genome": self.genome(rows[0]["id"])} if rows else None

    def genome(self, ident: int) -> Any:
        """The genome of one individual (rebuilt by replaying the search when the lineage is compact)."""
        from evonas.replay import replay_genomes

        return replay_genomes(self.path, {int(ident)})[int(ident)]

    def ancestry(self, ident: int) -> list[dict[str, Any]]:
        """The chain of parents from ``ident`` back to the initial population, each with its mutation."""
        return ancestry(self.lineage, int(ident))

    @property
    def population(self) -> list[dict[str, Any]]:
        """The members held at the last checkpoint (id, fitness, genome)."""
        checkpoint = read_checkpoint(self.path / CHECKPOINT)
        return [{"id": i, "fitness": f, "genome": _genome(g)} for i, f, g in checkpoint.members]

    def pareto_front(self) -> list[dict[str, Any]]:
        """The Pareto front of a run searched with several objectives (as ``evonas lineage RUN --pareto``)."""
        from evonas.lineage_front import front_rows

        return front_rows(self.path)

    def report(self, out: str | Path | None = None) -> Path:
        """Write this run's report (PNGs and one HTML page, as ``evonas report``); returns the page."""
        from evonas.report import write_report

        return write_report([self.path], Path(out) if out is not None else None)

    def export(self, ident: int | None = None, fmt: str | None = None, out: str | Path | None = None) -> Path:
        """Export one individual (default: the best) in one of its family's formats, as ``evonas export``;
        returns the file written."""
        from evonas.export import export_individual

        return export_individual(self.path, ident, fmt, Path(out) if out is not None else None, {}, lambda line: None)

    @property
    def final_report(self) -> dict[str, Any] | None:
        """``best.json``: the best individual's final report (validation and test figures), once the run ended."""
        best = self.path / "best.json"
        return json.loads(best.read_text()) if best.exists() else None


def _genome(text: str) -> Any:
    data = json.loads(text)
    return GENOMES[data["kind"]].from_dict(data)
