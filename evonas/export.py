"""``evonas export``: a run's individual as something usable without evonas, in a format its family offers
(``Family.exports``):

* cells and motifs: the trained network as a ``torch.export`` program (``.pt2``, loads with torch alone) plus
  a JSON input spec; trained exactly as its evaluation trained it, or retrained from scratch at a larger size;
* NEAT: a standalone Python module (``activate`` for one feed-forward pass, ``Network.step`` for the
  synchronous recurrent scheme) and a Graphviz dot file;
* AutoML-Zero: standalone Python source of Setup / Predict / Learn over numpy memory (see ``program_export``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from evonas.errors import UserError
from evonas.families.record import ExportRequest
from evonas.registry import GENOMES, family, make_task
from evonas.run_folder import load_config, read_run_lineage


def pick_individual(run_dir: Path, ident: int | None) -> tuple[int, float]:
    """The id to export (the best when ``ident`` is None) and its logged fitness."""
    table, _ = read_run_lineage(run_dir)
    rows = table.select(["id", "fitness"]).to_pylist()
    if ident is None:
        scored = [r for r in rows if r["fitness"] is not None]
        if not scored:
            raise UserError(f"no evaluation in {run_dir} succeeded, so there is no best individual to export; pick one with --id")
        best = max(scored, key=lambda r: (r["fitness"], -r["id"]))
        return int(best["id"]), float(best["fitness"])
    for r in rows:
        if r["id"] == ident:
            return ident, math.nan if r["fitness"] is None else float(r["fitness"])
    raise UserError(f"no individual with id {ident} in {run_dir}; list ids with 'evonas lineage {run_dir}'")


def export_protocol_best(folder: Path, ident: int | None, fmt: str | None, out: Path | None) -> Path:
    """Export the candidate an AutoML-Zero protocol kept (its best by selection fitness) as Python."""
    from evonas.families.automl_zero import protocol
    from evonas.families.automl_zero.export import program_python

    state = protocol.load(folder)
    best = state.get("best")
    if best is None:
        raise UserError(f"{folder} holds an experiment protocol with no finished experiment yet; export from one of its experiment-NNNN folders")
    if ident is not None:
        raise UserError(f"{folder} is a protocol folder, which exports the candidate it kept; for another id, export from its experiment-NNNN folder")
    if fmt not in (None, "python"):
        raise UserError(f"automl-zero individuals export as python, not {fmt!r}")
    genome = GENOMES[best["genome"]["kind"]].from_dict(best["genome"])
    title = (f"the candidate of {folder} (experiment {best['experiment']}, id {best['candidate_id']}, "
             f"selection fitness {best['select_fitness']:.6g})")
    out = out or folder / "export" / f"automl_zero_experiment{best['experiment']}_{best['candidate_id']}.py"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(program_python(genome, title))
    return out


def export_individual(run_dir: Path, ident: int | None, fmt: str | None, out: Path | None, overrides: dict[str, Any], echo: Any,
                      keep_name: bool = False) -> Path:
    """Export one individual of a run in one of its family's formats (see ``Family.exports``); returns the file.
    ``keep_name``: ``out`` is a folder, and the file gets its usual name inside it."""
    from evonas.executors import evaluation_seed
    from evonas.families.automl_zero import protocol
    from evonas.replay import replay_genomes

    if protocol.is_protocol_folder(run_dir):
        return export_protocol_best(run_dir, ident, fmt, out)
    config = load_config(run_dir)
    kind = config.genome
    chosen = family(kind).export_format(fmt)
    if overrides and not chosen.trains:
        trains = ", ".join(f.name for f in family(kind).exports if f.trains) or "none of this family's formats"
        raise UserError(f"--train, --epochs, --filters and --cells only apply to formats that retrain a network ({trains})")
    ident, fitness = pick_individual(run_dir, ident)
    genome = replay_genomes(run_dir, {ident})[ident]
    title = f"id {ident} of {run_dir} (fitness {fitness:.6g})"
    name = f"{kind.replace('-', '_')}_{ident}{chosen.suffix}"
    out = (out or run_dir / "export") / name if keep_name else out or run_dir / "export" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    def build_task(extra: dict[str, Any]) -> Any:
        return make_task(config.task, {**config.task_options, **extra}, fresh=True)

    chosen.write(ExportRequest(config, genome, ident, evaluation_seed(config.seed, ident), title, out, overrides, echo, build_task))
    return out
