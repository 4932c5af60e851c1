"""The ``evonas`` command line (click)."""

from __future__ import annotations

import errno
import json
import math
import os
import statistics
import sys
from pathlib import Path
from typing import Any

import click

from evonas import __version__
from evonas.capabilities import DrawsDot, genome_text
from evonas.config import RunOptions, check_positive, parse_option_pairs
from evonas.errors import UserError
from evonas.launch import (
    Execution,
    FinalCheck,
    check_execution,
    checked_execution,
    default_folder,
    finish,
    plan_search,
    reopen,
    run_protocol,
    search,
    start_protocol,
)
from evonas.plugins import recorded_plugins, trust, trust_folder
from evonas.recording import genome_json
from evonas.registry import FAMILIES, GENOMES
from evonas.strategies import STRATEGIES

DEFAULT_WORKERS = os.cpu_count() or 1
#: The AutoML-Zero demo needs 1 to 8 experiments over seeds; a protocol that cannot be solved (a budget too small
#: for any experiment to pass selection) stops here instead of starting experiments forever.
DEFAULT_MAX_EXPERIMENTS = 100


@click.group()
@click.version_option(__version__, prog_name="evonas")
def cli() -> None:
    """evonas: evolutionary architecture and program search."""


def _path_flag(flag: str, value: str | None) -> Path | None:
    """A path flag's value; an empty one is an error (it would mean the current folder)."""
    if value is None:
        return None
    if not value.strip():
        raise UserError(f"{flag} is empty; give a folder or file path")
    return Path(value)


def execution_options(fn: Any) -> Any:
    """The options shared by ``evolve`` and ``resume`` that choose how evaluations run."""
    options = [
        click.option("--workers", type=int, default=DEFAULT_WORKERS, show_default=True, help="Evaluations at once (processes, Ray tasks, or numba threads for bulk tasks); never changes the lineage."),
        click.option("--executor", default="auto", show_default=True, help="auto (in-process for 1 worker or bulk tasks, else pool), local, pool (spawned processes) or ray."),
        click.option("--address", default=None, help="Ray cluster address for --executor ray (default: start a local Ray instance)."),
        click.option("--eval-timeout", type=float, default=None, help="Stop an evaluation after this many seconds and log it as 'timeout' (runs evaluations in worker processes)."),
        click.option("--retries", type=int, default=1, show_default=True, help="Times a candidate is run again when its worker process dies (killed, out of memory)."),
        click.option("--async", "asynchronous", is_flag=True, help="Tell each result as it arrives and ask a new child at once (no idle workers; the lineage then depends on timing)."),
        click.option("--cpus-per-eval", type=float, default=1.0, show_default=True, help="CPUs each Ray task asks for (--executor ray)."),
        click.option("--gpus-per-eval", type=float, default=0.0, show_default=True, help="GPUs each Ray task asks for (--executor ray)."),
        click.option("-v", "--verbose", is_flag=True, help="Also print a line for each failed evaluation and each new best."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def execution_from(flags: dict[str, Any], quiet: bool) -> Execution:
    """The ``execution_options`` flags of ``evolve`` or ``resume``, checked on their own."""
    return checked_execution(Execution(**flags), quiet)


def _echo(line: str) -> None:
    click.echo(line, err=True)


def _search(run: Any, execution: Execution, quiet: bool) -> None:
    """Run one search to its budget; Ctrl-C checkpoints and exits 130."""
    try:
        search(run, execution, quiet, _echo)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: checkpoint written; continue with 'evonas resume {run.run_dir}'", err=True)
        sys.exit(130)


def _execute(run: Any, execution: Execution, quiet: bool, check: FinalCheck | None = None) -> None:
    _search(run, execution, quiet)
    _summarise(run, quiet, check)


def _run_protocol(folder: Path, state: dict[str, Any], execution: Execution, quiet: bool) -> None:
    try:
        state = run_protocol(folder, state, execution, quiet, _echo)
    except KeyboardInterrupt:  # every running experiment has checkpointed
        click.echo(f"\ninterrupted: checkpoints written; continue with 'evonas resume {folder}'", err=True)
        sys.exit(130)
    best, final = state["best"], state["final"]
    genome = GENOMES[best["genome"]["kind"]].from_dict(best["genome"])
    click.echo(f"run folder: {folder}")
    click.echo(f"experiments: {len(state['history'])}, solved: {'yes' if final['solved'] else 'no'}")
    if not final["solved"]:
        click.echo(f"stopped without a solution: the cap of {state['max_experiments']} experiments was reached; raise --experiments, "
                   "or give each experiment more budget (--cycles, -o max_train_steps)")
    click.echo(f"Select fitness for candidate algorithm = {best['select_fitness']:.6f}")
    click.echo(f"Final evaluation fitness (on unseen data) = {final['final_fitness']:.6f}")
    click.echo(f"Algorithm found (experiment {best['experiment']}, id {best['candidate_id']}; dead code removed):")
    click.echo(genome_text(genome) or json.dumps(best["genome"]))


def _spread(values: list[float]) -> str:
    """Mean ± sample standard deviation of the finite values."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "-"
    return f"{statistics.fmean(finite):.4f} ± {statistics.stdev(finite) if len(finite) > 1 else 0.0:.4f}"


def _summarise(run: Any, quiet: bool, check: FinalCheck | None = None) -> None:
    """Print how the search ended and the best individual with its final report (written to best.json)."""
    outcome = finish(run, _echo if not quiet else (lambda line: None), check)
    click.echo(f"run folder: {run.run_dir}")
    if outcome.rejected_free:
        click.echo(f"evaluations: {outcome.evaluated} of {outcome.budget} (and {outcome.rejected_free} rejected untrained by a constraint), "
                   f"failed: {outcome.failed}")
    else:
        click.echo(f"evaluations: {outcome.evaluated} of {outcome.budget}, failed: {outcome.failed}")
    best, report = outcome.best, outcome.report
    if best is None:
        click.echo("no evaluation succeeded, so there is no best individual; see the 'error' column of the lineage")
        return
    if outcome.solved is False:
        click.echo("not solved within the budget; the best individual follows (raise --cycles and 'evonas resume' to go on)")
    elif outcome.solved:
        click.echo(f"solved by id {best.id} after {best.id + 1} evaluations ({run.strategy.told} evaluated, whole batches)")
    if outcome.retrained:
        seeds = len(outcome.retrained[0].validation)
        click.echo(f"final check: the {len(outcome.retrained)} best architectures (by the mean of their evaluations), each trained "
                   f"again on {seeds} seeds; chosen by validation, never by test:")
        click.echo(f"{'id':>8} {'evals':>6}  {'validation (mean ± sd)':>24}  {'test (mean ± sd)':>20}")
        for r in outcome.retrained:
            click.echo(f"{r.id:>8} {r.evaluations:>6}  {_spread(r.validation):>24}  {_spread(r.test):>20}")
    click.echo(f"best individual: id {best.id}, fitness {best.fitness:.4f}")
    click.echo(genome_text(best.genome) or genome_json(best.genome))
    if (run.run_dir / "best.dot").exists() and isinstance(best.genome, DrawsDot):
        click.echo(f"Graphviz drawing: {run.run_dir / 'best.dot'} (render with: dot -Tpng {run.run_dir / 'best.dot'} -o best.png)")
    for key in ("long_test_steps", "generalisation"):
        if key in report:
            click.echo(f"{key.replace('_', ' ')}: {report[key]:.0f}")
    if "val_accuracy" in report:
        click.echo(f"validation accuracy: {report['val_accuracy']:.4f}")
    if "test_accuracy" in report:
        click.echo(f"test accuracy: {report['test_accuracy']:.4f}")
    click.echo(f"next: evonas lineage {run.run_dir} --top 10 | evonas report {run.run_dir} | evonas export {run.run_dir}")


def load_config_file(ctx: click.Context, param: click.Parameter, path: Path | None) -> Path | None:
    """``--config FILE.toml``: its keys become this command's defaults, so flags given on the line override them."""
    if path is None:
        return None
    import tomllib

    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"cannot read config file {path} ({exc}); fix the TOML or drop --config") from None
    known = {p.name for p in ctx.command.params if p.name not in ("config",)}
    unknown = sorted(k.replace("-", "_") for k in data if k.replace("-", "_") not in known | {"options"})
    if unknown:
        raise UserError(f"unknown key(s) {', '.join(unknown)} in {path}; use evolve's option names (e.g. population, cycles) and an [options] table")
    defaults = {k.replace("-", "_"): v for k, v in data.items() if k != "options"}
    if "options" in data:
        if not isinstance(data["options"], dict):
            raise UserError(f"'options' in {path} must be a table of KEY = VALUE settings (what -o KEY=VALUE sets)")
        # kept apart from the defaults: -o on the line adds to (and per key overrides) the file's settings
        ctx.meta["config_options"] = tuple(f"{k}={json.dumps(v)}" for k, v in data["options"].items())
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return path


@cli.command()
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None, is_eager=True,
              expose_value=False, callback=load_config_file,
              help="TOML file with evolve's options as keys (and an [options] table for -o settings); flags on the line override it.")
@click.option("--genome", default="amoeba", show_default=True, help=f"Genome family to search: {', '.join(FAMILIES)}.")
@click.option("--task", default=None, help="Task name or package.module:factory (default per genome: "
              + ", ".join(f"{kind} {family.default_task}" for kind, family in FAMILIES.items()) + ").")
@click.option("--strategy", default=None, help=f"Search strategy: {', '.join(STRATEGIES)} or package.module:Class (default per genome: "
              + ", ".join(f"{kind} {family.default_strategy}" for kind, family in FAMILIES.items()) + ").")
@click.option("--population", type=int, default=None, help="Population size P (preset default).")
@click.option("--sample", type=int, default=None, help="Tournament sample size S, at most P (preset default).")
@click.option("--cycles", type=int, default=None, help="Total evaluations C, counting the initial population (preset default).")
@click.option("--batch", type=int, default=None, help="Children proposed per round; the most workers that can be busy. Changes the lineage; --workers does not.")
@click.option("--seed", type=int, default=0, show_default=True, help="Run seed: same seed and config give the same lineage.")
@click.option("--out", type=str, default=None, callback=lambda ctx, param, value: _path_flag("--out", value), help="Run folder (default runs/<genome>-<strategy>-s<seed>-<time>).")
@click.option("--preset", default="cpu", show_default=True, help="smoke (seconds), cpu (~10 min on 2 cores) or paper ([RE] settings).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Folder with dataset files for fashion-mnist-full, mnist or cifar10.")
@click.option("--filters", type=int, default=None, help="F, filters of the first stack (image tasks).")
@click.option("--train-images", type=int, default=None, help="Proxy budget: training images seen per candidate (image tasks).")
@click.option("--max-seconds", type=float, default=None, help="Also stop after this much search time.")
@click.option("--checkpoint-every", type=int, default=None, help="Checkpoint after this many evaluations (and every 30 s).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda, for torch proxy training.")
@click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Any other setting, routed to the strategy (replace, on_failure, aging), the genome space "
                   "(e.g. p_identity, op_mutation_allow_same) or the task (e.g. cells_per_stack, stacks, epochs). Repeatable.")
@click.option("--objective", "objectives", multiple=True, metavar="METRIC[:max|min]",
              help="Search for the Pareto front of these objectives (repeatable): fitness or a metric the task logs.")
@click.option("--constraint", "constraints", multiple=True, metavar="METRIC<=VALUE",
              help="Prefer candidates that meet this bound (repeatable; constrained domination), e.g. 'latency<=0.005'.")
@click.option("--lineage", "lineage_mode", default=None, help="full (every genome) or compact (genomes of initial and new-best rows; 'evonas lineage RUN --genome ID' replays the rest). Default per genome: "
              + ", ".join(f"{kind} {family.lineage}" for kind, family in FAMILIES.items()) + ".")
@click.option("--experiments", type=int, default=DEFAULT_MAX_EXPERIMENTS, show_default=True,
              help="AutoML-Zero protocol: the most experiments it starts, stopping earlier when one passes selection "
                   "(0 = no cap; 1 = a single plain run). --cycles is each experiment's budget.")
@click.option("--until-solved/--no-until-solved", default=None,
              help="Stop at the first individual that meets the task's success criterion (default: on for the NEAT tasks).")
@click.option("--final-check", default=None, metavar="TOPxSEEDS",
              help="Final report of a search that trains networks: retrain the TOP best distinct architectures on SEEDS seeds "
                   "each and choose by mean validation accuracy (default 3x3 on the cpu and paper presets, 1x1 otherwise).")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@execution_options
def evolve(genome: str, task: str | None, strategy: str | None, population: int | None, sample: int | None, cycles: int | None,
           batch: int | None, seed: int, out: Path | None, preset: str, data_dir: Path | None,
           filters: int | None, train_images: int | None, max_seconds: float | None, checkpoint_every: int | None,
           device: str, options: tuple[str, ...], objectives: tuple[str, ...], constraints: tuple[str, ...], lineage_mode: str | None,
           experiments: int, until_solved: bool | None, final_check: str | None, quiet: bool, **execution_flags: Any) -> None:
    """Run an evolutionary search and print the best individual."""
    check = _final_check(final_check)
    from evonas.run import Run

    execution = execution_from(execution_flags, quiet)
    workers = execution.workers
    options = click.get_current_context().meta.get("config_options", ()) + tuple(options)
    plan = plan_search(RunOptions(genome, task, strategy, population, sample, cycles, batch, seed, preset, data_dir, filters, train_images,
                                  max_seconds, checkpoint_every, device, parse_option_pairs(options), lineage_mode, list(objectives),
                                  list(constraints)), until_solved, lineage_mode, experiments)
    config = plan.config
    check_execution(config, execution)
    out = out or default_folder(config)
    if config.protocol is not None and experiments != 1:
        opened = start_protocol(out, config, experiments)  # holds the folder's lock until this process ends
        state = opened.protocol_state
        _say(plan.notes, quiet)
        if not quiet:
            cap = f"at most {experiments}" if experiments else "no cap on the number"
            click.echo(f"evolving {genome} on {config.task}: experiments of {config.cycles} evaluations each until selection fitness > "
                       f"{config.protocol['threshold']} ({cap} of experiments), folder {out}", err=True)
        _run_protocol(out, state, execution, quiet)
        return
    run = Run.create(out, config)
    _say(plan.notes, quiet)
    if not quiet:
        click.echo(f"evolving {genome} on {config.task} with {config.strategy}: {config.cycles} evaluations, {workers if execution.asynchronous else min(workers, config.batch)} worker(s){', asynchronous' if execution.asynchronous else ''}, run folder {out}", err=True)
    _execute(run, execution, quiet, check)


def _final_check(text: str | None) -> FinalCheck | None:
    """``--final-check TOPxSEEDS`` (None: the default for the run)."""
    if text is None:
        return None
    top, sep, seeds = text.lower().partition("x")
    if not (sep and top.isdigit() and seeds.isdigit() and int(top) >= 1 and int(seeds) >= 1):
        raise UserError(f"--final-check takes TOPxSEEDS with two positive integers, e.g. 3x3; got {text!r}")
    return FinalCheck(int(top), int(seeds))


def _say(lines: list[str], quiet: bool) -> None:
    """Notices for stderr, unless quiet."""
    for line in lines if not quiet else ():
        click.echo(line, err=True)


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--cycles", type=int, default=None, help="New total evaluation budget (default: the run's own).")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@click.option("--trust-task", is_flag=True, help="Load the plug-in task or strategy (package.module:attr) the run folder names; "
              "without it, evonas never imports code a run folder names.")
@click.option("--task", "task_name", default=None, help="The run's plug-in task (package.module:attr), named again: loads it (it "
              "must be the one the run recorded).")
@click.option("--strategy", "strategy_name", default=None, help="The run's plug-in strategy, named again (as --task).")
@click.option("--final-check", default=None, metavar="TOPxSEEDS", help="As for evolve: the final report's retraining of the best architectures.")
@execution_options
def resume(run_dir: Path, cycles: int | None, quiet: bool, trust_task: bool, task_name: str | None, strategy_name: str | None,
           final_check: str | None, **execution_flags: Any) -> None:
    """Continue a stopped or finished run from its checkpoint, with the same or another executor."""
    check = _final_check(final_check)
    if trust_task:
        trust_folder(run_dir)
    if task_name is not None or strategy_name is not None:
        recorded_names = recorded_plugins(run_dir)  # read as text: nothing is imported to compare names
        for flag, given, key in (("--task", task_name, "task"), ("--strategy", strategy_name, "strategy")):
            if given is not None and given != recorded_names.get(key):
                raise UserError(f"{run_dir} was run with {flag} {recorded_names.get(key)}, not {given}; name the recorded one (or drop {flag})")
            trust(given)
    execution = execution_from(execution_flags, quiet)
    opened = reopen(run_dir, execution, cycles, _echo)  # holds the folder's lock until this process ends
    if opened.protocol_state is not None:
        _run_protocol(run_dir, opened.protocol_state, execution, quiet)
        return
    run = opened.run
    if not quiet:
        click.echo(f"resuming {run_dir} at {run.strategy.told} of {run.config.cycles} evaluations", err=True)
    _execute(run, execution, quiet, check)


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many of the best architectures to list (evaluations of one architecture ranked by their mean).")
@click.option("--ancestry", "ancestry_id", type=int, default=None, help="Print the chain of this id back to the initial population.")
@click.option("--genome", "genome_id", type=int, default=None,
              help="Print this individual's genome (rebuilt by replaying the search when the lineage is compact).")
@click.option("--pareto", is_flag=True, help="Print the Pareto front found (a run with several --objective): ids, objectives, status.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--verify", is_flag=True, help="Check every lineage part against its checksum and the run's config hash, ids held "
              "once, and the checkpoint; exit 1 if anything is wrong.")
@click.option("--trust-task", is_flag=True, help="Load the plug-in task or strategy (package.module:attr) the run folder names; "
              "without it, evonas never imports code a run folder names.")
def lineage(run_dir: Path, top: int, ancestry_id: int | None, genome_id: int | None, pareto: bool, as_json: bool, verify: bool,
            trust_task: bool) -> None:
    """List a run's best individuals, its Pareto front, one individual's ancestry, or one genome; or verify it."""
    if trust_task:
        trust_folder(run_dir)
    from evonas.families.automl_zero import protocol
    from evonas.run_folder import ancestry, best_rows, read_run_lineage

    if protocol.is_protocol_folder(run_dir):  # as report and export do: the experiment holding the kept candidate
        run_dir = protocol.best_experiment(run_dir)
        click.echo(f"experiment protocol: showing {run_dir.name}, which holds its best candidate", err=True)
    if verify:
        _verify(run_dir)
        return
    _say_unverified(run_dir)

    if pareto:
        from evonas.lineage_front import front_rows

        front = front_rows(run_dir)
        if as_json:
            click.echo(json.dumps(front, indent=2))
            return
        names = [k for k in (front[0] if front else {}) if k not in ("id", "status", "copies")]
        click.echo(f"Pareto front: {len(front)} point(s), {sum(r['copies'] for r in front)} evaluation(s)")
        click.echo(f"{'id':>8}  " + "  ".join(f"{n:>16}" for n in names) + "  copies  status")
        for r in front:
            click.echo(f"{r['id']:>8}  " + "  ".join(f"{r[n]:>16.6g}" for n in names) + f"  {r['copies']:>6}  {r['status']}")
        return

    if genome_id is not None:
        from evonas.replay import replay_genomes

        genome = replay_genomes(run_dir, {genome_id})[genome_id]
        text = genome_text(genome)
        click.echo(json.dumps(genome.to_dict(), indent=2) if as_json or text is None else text)
        return
    table, torn = read_run_lineage(run_dir)
    for path in torn:
        click.echo(f"warning: {path} is torn; read up to its last complete batch", err=True)
    rows = ancestry(table, ancestry_id) if ancestry_id is not None else best_rows(table, top)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if ancestry_id is None:
        failed = sum(1 for s in table.column("status").to_pylist() if s != "ok")
        click.echo(f"{table.num_rows} evaluations, {failed} failed; best {len(rows)} architectures, ranked by the mean of their "
                   "evaluations (n: how many; sd: their spread):")
        click.echo(f"{'id':>8} {'parent(s)':>15} {'mean':>9} {'n':>4} {'sd':>8}  mutation")
    else:
        click.echo(f"{'id':>8} {'parent(s)':>15} {'fitness':>9}  mutation")
    for r in rows:
        fitness = "failed" if r["fitness"] is None else f"{r['fitness']:.4f}"
        parent = "-" if r["parent_id"] is None else str(r["parent_id"])
        if r.get("second_parent_id") is not None:  # a crossover child names both parents
            parent += f"+{r['second_parent_id']}"
        if ancestry_id is None:
            sd = "-" if r["fitness_sd"] is None else f"{r['fitness_sd']:.4f}"
            click.echo(f"{r['id']:>8} {parent:>15} {r['mean_fitness']:>9.4f} {r['evaluations']:>4} {sd:>8}  {r['mutation'] or '(initial)'}")
        else:
            click.echo(f"{r['id']:>8} {parent:>15} {fitness:>9}  {r['mutation'] or '(initial)'}")


def _verify(run_dir: Path) -> None:
    from evonas.run_folder import verify_run

    found = verify_run(run_dir)
    for problem in found.problems:
        click.echo(f"damaged: {problem}")
    for path in found.unsealed:
        click.echo(f"unverified: {path} has no checksum (written by an older evonas)")
    for path in found.torn:
        click.echo(f"torn: {path} is read up to its last complete batch")
    verdict = "problems found" if found.problems else "ok"
    click.echo(f"{verdict}: {found.parts} lineage part(s), {found.rows} rows, checkpoint {'checked' if not found.problems else 'see above'}")
    if found.problems:
        sys.exit(1)


def _say_unverified(run_dir: Path) -> None:
    """One line when a folder's lineage parts predate checksums."""
    from evonas.store import unsealed_notice

    notice = unsealed_notice(run_dir)
    if notice:
        _echo(notice)


@cli.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=str, default=None, callback=lambda ctx, param, value: _path_flag("--out", value), help="Folder for the PNGs and report.html (default: FIRST_RUN/report).")
@click.option("--trust-task", is_flag=True, help="Load the plug-in task or strategy (package.module:attr) the run folder names; "
              "without it, evonas never imports code a run folder names.")
def report(run_dirs: tuple[Path, ...], out: Path | None, trust_task: bool) -> None:
    """Plot one or more runs (curves overlaid) and write a self-contained HTML page."""
    for run_dir in run_dirs if trust_task else ():
        trust_folder(run_dir)
    from evonas.report import write_report

    page = write_report(list(run_dirs), out)
    click.echo(f"report: {page}")


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--id", "ident", type=int, default=None, help="The individual to export (default: the best, as with --best).")
@click.option("--best", is_flag=True, help="Export the best individual (the default).")
@click.option("--pareto", is_flag=True, help="Export every member of the Pareto front (a run with several --objective) into --out (a folder).")
@click.option("--format", "fmt", default=None, help="Per genome, the first is the default: "
              + "; ".join(f"{kind} {', '.join(f.name for f in family.exports)}" for kind, family in FAMILIES.items()) + ".")
@click.option("--out", type=str, default=None, callback=lambda ctx, param, value: _path_flag("--out", value), help="Output file (default: RUN/export/KIND_ID.EXT).")
@click.option("--train", is_flag=True, help="torch: retrain from scratch at the size given by --epochs, --filters and --cells instead of as in the run.")
@click.option("--epochs", type=float, default=None, help="With --train: passes over the training split.")
@click.option("--filters", type=int, default=None, help="With --train: F, filters of the first stack.")
@click.option("--cells", type=int, default=None, help="With --train: N, cells per stack.")
@click.option("--trust-task", is_flag=True, help="Load the plug-in task or strategy (package.module:attr) the run folder names; "
              "without it, evonas never imports code a run folder names.")
def export(run_dir: Path, ident: int | None, best: bool, pareto: bool, fmt: str | None, out: Path | None, train: bool,
           epochs: float | None, filters: int | None, cells: int | None, trust_task: bool) -> None:
    """Export one individual (a torch.export network, standalone Python, a dot graph), or every member of the front."""
    if trust_task:
        trust_folder(run_dir)
    from evonas.export import export_individual

    if best and ident is not None:
        raise UserError("give --id ID or --best, not both")
    if pareto and (best or ident is not None):
        raise UserError("--pareto exports every member of the front; drop --id / --best")
    if epochs is not None and not (math.isfinite(epochs) and epochs > 0):
        raise UserError(f"--epochs must be a positive number of passes, got {epochs}")
    check_positive("--filters", filters)
    check_positive("--cells", cells)
    sizes = {k: v for k, v in (("epochs", epochs), ("filters", filters), ("cells_per_stack", cells)) if v is not None}
    if sizes and not train:
        raise UserError("--epochs, --filters and --cells set the size of a retrained network; add --train")
    if train and not sizes:
        raise UserError("--train needs at least one of --epochs, --filters, --cells (otherwise the export already matches the run)")
    echo = lambda line: click.echo(line, err=True)  # noqa: E731
    if pareto:
        from evonas.lineage_front import front_rows

        folder = out or run_dir / "export" / "pareto"
        members = front_rows(run_dir)
        for row in members:
            path = export_individual(run_dir, row["id"], fmt, folder, sizes, echo, keep_name=True)
            click.echo(f"exported: {path}")
        click.echo(f"{len(members)} front member(s) in {folder}")
        return
    path = export_individual(run_dir, ident, fmt, out, sizes, echo)
    click.echo(f"exported: {path}")


@cli.command()
@click.argument("name", default="amoeba")
@click.option("--quick", is_flag=True, help="Fewer repetitions (seconds instead of minutes).")
@click.option("--workers", type=int, default=DEFAULT_WORKERS, show_default=True, help="Workers for the architectures/hour figure.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda: also time the GPU kernels (automl-zero).")
@click.option("-o", "--option", "option_pairs", multiple=True, metavar="KEY=VALUE",
              help="A benchmark's own setting, e.g. tabular: -o seeds=500 -o datasets=cora,arxiv.")
def bench(name: str, quick: bool, workers: int, device: str, option_pairs: tuple[str, ...]) -> None:
    """Run a benchmark and print one JSON object (progress on stderr)."""
    import inspect

    from evonas.bench import BENCHMARKS, GPU_BENCHMARKS
    from evonas.kernels.cuda_support import check_device

    if name not in BENCHMARKS:
        raise UserError(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}")
    check_positive("--workers", workers)
    check_device(device)
    extra = parse_option_pairs(option_pairs)
    own = [k for k in inspect.signature(BENCHMARKS[name]).parameters if k not in ("quick", "workers", "device")]
    for key in extra:
        if key not in own:
            raise UserError(f"benchmark {name!r} has no option {key!r}; its options are {', '.join(own) or 'none'}")
    if name in GPU_BENCHMARKS:
        result = BENCHMARKS[name](quick=quick, workers=workers, device=device, **extra)
    elif device == "cuda":
        raise UserError(f"benchmark {name!r} has no GPU kernels; use --device cpu, or one of {', '.join(GPU_BENCHMARKS)}")
    else:
        result = BENCHMARKS[name](quick=quick, workers=workers, **extra)
    click.echo(json.dumps(result, indent=2))


def main() -> None:
    """Console entry point: user errors become one line on stderr and a non-zero exit, never a traceback."""
    try:
        cli.main(standalone_mode=False)
    except UserError as exc:
        click.echo(f"evonas: error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"evonas: error: {exc.format_message()} (see --help)", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("evonas: aborted", err=True)
        sys.exit(130)
    except OSError as exc:  # the machine's refusals (a full disk, a read-only folder): one line, files as they were
        click.echo(f"evonas: error: {os_error_line(exc)}", err=True)
        sys.exit(1)


#: What to do about each operating-system refusal a run can meet.
OS_FIXES = {
    errno.ENOSPC: "free some space, then continue with 'evonas resume RUN' (everything logged so far is kept)",
    errno.EDQUOT: "free some of your quota, then continue with 'evonas resume RUN'",
    errno.EROFS: "the file system is read-only; pick a writable folder (--out) or copy the run folder to one",
    errno.EACCES: "you may not write there; pick a folder you own (--out) or fix its permissions",
    errno.EPERM: "you may not write there; pick a folder you own (--out) or fix its permissions",
    errno.ENOTDIR: "a file stands where a folder is expected; pick another path",
    errno.EISDIR: "a folder stands where a file is expected; move it away or pick another path",
    errno.ENOENT: "check the path",
}


def os_error_line(exc: OSError) -> str:
    """One line for an OSError: what the system said, about which path, and the fix."""
    where = f" ({exc.filename})" if exc.filename else ""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{reason}{where}; {OS_FIXES.get(exc.errno or 0, 'check the path and try again')}"
