"""``evonas report``: PNG plots and one self-contained HTML page from run folders.

Everything is read from the run folder (lineage, checkpoint, config); nothing is re-evaluated. Genomes a
compact lineage left out are rebuilt by replay. Plots use matplotlib's Agg backend, so no display is needed.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evonas.capabilities import HasDiagrams
from evonas.capabilities import genome_text as described
from evonas.config import RunConfig
from evonas.diagram_render import diagrams_dot, graphviz_available, render_png
from evonas.errors import UserError
from evonas.genomes.base import Diagram
from evonas.run_folder import CHECKPOINT_FILE, LINEAGE_DIR, load_config
from evonas.store import read_checkpoint, read_lineage


@dataclass
class RunData:
    """What a report needs from one run folder, rows in the order they were told."""

    path: Path
    label: str
    config: RunConfig
    ids: np.ndarray
    parent: list[int | None]
    second_parent: list[int | None]
    mutation: list[str | None]
    fitness: np.ndarray  # NaN for failures
    status: list[str]
    seconds: np.ndarray  # wall time since the first row
    members: list[tuple[int, float]]  # the checkpoint's population (and best)
    told: int


def load_run(path: Path, label: str | None = None) -> RunData:
    """Read one run folder; a clear error when it is not one or holds no evaluation."""
    config = load_config(path)
    table, _ = read_lineage(path / LINEAGE_DIR, config.identity_hash())
    if table.num_rows == 0:
        raise UserError(f"{path} has no evaluated individual yet; run or resume it first")
    columns = table.select(["id", "parent_id", "second_parent_id", "mutation", "fitness", "status", "wall_time"]).to_pydict()
    wall = np.array([t.timestamp() for t in columns["wall_time"]], dtype=np.float64)
    checkpoint = read_checkpoint(path / CHECKPOINT_FILE)
    if checkpoint.config_hash != config.identity_hash():
        raise UserError(f"{path / CHECKPOINT_FILE} belongs to another run (its config hash differs from config.json's); "
                        "restore this run's checkpoint")
    return RunData(
        path=path, label=label or path.name, config=config, ids=np.array(columns["id"], dtype=np.int64),
        parent=columns["parent_id"], second_parent=columns["second_parent_id"], mutation=columns["mutation"],
        fitness=np.array([math.nan if f is None else f for f in columns["fitness"]], dtype=np.float64),
        status=columns["status"], seconds=wall - wall[0], members=[(i, f) for i, f, _ in checkpoint.members],
        told=int(checkpoint.state["told"]),
    )


# -- figures ----------------------------------------------------------------------------------------
def _figure(width: float = 8.0, height: float = 4.5) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.figure(figsize=(width, height), dpi=100)


def _save(fig: Any, path: Path, tight: bool = True) -> Path:
    import matplotlib.pyplot as plt

    if tight:  # a figure holding only text has no axes to lay out
        fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def genome_text(genome: Any) -> str:
    """The genome as the run prints it (its code for AutoML-Zero), or its JSON where a family has no text form."""
    return described(genome) or json.dumps(genome.to_dict(), indent=1)


def _finish_fitness_axes(ax: Any, xlabel: str, title: str) -> None:
    """Labels, grid and legend shared by the plots of fitness against some x."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fitness")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def running_best(fitness: np.ndarray) -> np.ndarray:
    """Best fitness so far after each evaluation (NaN until the first success)."""
    filled = np.where(np.isnan(fitness), -np.inf, fitness)
    best = np.maximum.accumulate(filled)
    return np.where(np.isfinite(best), best, np.nan)


def window_quantiles(fitness: np.ndarray, windows: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Evaluations cut into at most ``windows`` consecutive windows; per window its centre and the quartiles of
    its successful evaluations (NaN where none succeeded). Cheap at millions of rows."""
    n = len(fitness)
    size = max(1, math.ceil(n / windows))
    count = math.ceil(n / size)
    padded = np.full(count * size, np.nan)
    padded[:n] = fitness
    blocks = padded.reshape(count, size)
    centres = np.minimum(np.arange(count) * size + (size + 1) / 2, n)
    scored = ~np.isnan(blocks).all(axis=1)
    q = np.full((3, count), np.nan)
    if scored.any():
        q[:, scored] = np.nanquantile(blocks[scored], [0.25, 0.5, 0.75], axis=1)
    return centres, q[0], q[1], q[2]


def plot_curves(runs: list[RunData], path: Path) -> Path:
    """Best-so-far fitness against evaluations and wall time, with the spread of each window of evaluations (the
    quartile band and its median), which stays readable at millions of evaluations; runs overlaid."""
    fig = _figure(11.0, 4.5)
    by_evals, by_time = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    many = len(runs) > DETAILED_RUNS  # then best-so-far lines only, unlabelled: a legend of every run would hide the plot
    for k, run in enumerate(runs):
        colour = f"C{k % 10}"
        best = running_best(run.fitness)
        x = np.arange(1, len(run.fitness) + 1)
        by_evals.plot(x, best, color=colour, label=None if many else f"{run.label}: best so far", linewidth=0.6 if many else 1.6)
        by_time.plot(run.seconds, best, color=colour, linewidth=0.6 if many else 1.6)
        if many:
            continue
        centres, low, median, high = window_quantiles(run.fitness)
        size = math.ceil(len(run.fitness) / len(centres))
        by_evals.fill_between(centres, low, high, color=colour, alpha=0.18, linewidth=0,
                              label=f"{run.label}: middle half of each {size} evaluation{'s' if size > 1 else ''}")
        by_evals.plot(centres, median, color=colour, alpha=0.7, linewidth=0.9, linestyle="--", label=f"{run.label}: their median")
        seconds = np.interp(centres, x, run.seconds)
        by_time.fill_between(seconds, low, high, color=colour, alpha=0.18, linewidth=0)
    by_evals.set_xlabel("evaluations")
    by_time.set_xlabel("wall time since the first evaluation (s)")
    for ax in (by_evals, by_time):
        ax.set_ylabel("fitness")
        ax.grid(alpha=0.3)
    if not many:
        by_evals.legend(fontsize=7, loc="lower right")
    else:
        by_evals.set_title(f"best so far, {len(runs)} runs", fontsize=9)
    return _save(fig, path)


def plot_regret(groups: dict[str, list[np.ndarray]], path: Path) -> tuple[Path, list[tuple[str, int, int, float, float]]]:
    """Mean anytime regret with a 95 % band per group of runs (``evonas.report_regret``), and per group its label,
    run count, evaluations and final mean and half-width."""
    from evonas.report_regret import mean_and_interval

    fig = _figure(8.0, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    rows = []
    for k, (label, curves) in enumerate(groups.items()):
        mean, half = mean_and_interval(curves)
        x = np.arange(1, len(mean) + 1)
        ax.plot(x, mean, color=f"C{k}", label=f"{label}: {len(curves)} run(s)")
        if len(curves) > 1:
            ax.fill_between(x, mean - half, mean + half, color=f"C{k}", alpha=0.2, linewidth=0)
        rows.append((label, len(curves), len(mean), float(mean[-1]), float(half[-1])))
    ax.set_xscale("log")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("regret: test figure below a perfect search's")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    return _save(fig, path), rows


def plot_front(data: Any, label: str, path: Path) -> Path:
    """A multi-objective run (``evonas.lineage_front.LineageObjectives``): every evaluation and the front found
    (two objectives: a scatter; three or more: parallel coordinates, each axis scaled to its range), beside the
    front's hypervolume against evaluations."""
    fig = _figure(11.0, 4.5)
    ax, hv = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    names = [o.to_text() for o in data.objectives.objectives]
    front = data.front()
    finite = ~np.isnan(data.values).any(axis=1)
    if len(names) == 2:
        ax.scatter(data.values[finite, 0], data.values[finite, 1], s=6, color="0.75", label=f"evaluated ({int(finite.sum())})")
        infeasible = finite & (data.violation > 0)
        if infeasible.any():
            ax.scatter(data.values[infeasible, 0], data.values[infeasible, 1], s=6, color="C3", alpha=0.4, label="violates a constraint")
        order = front[np.argsort(data.values[front, 0], kind="stable")]
        ax.plot(data.values[order, 0], data.values[order, 1], "o-", color="C0", markersize=4, label=f"front ({len(front)})")
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        ax.legend(fontsize=7)
    else:
        values = data.values[finite]
        low, high = values.min(axis=0), values.max(axis=0)
        scale = np.where(high > low, high - low, 1.0)
        x = np.arange(len(names))
        for row in values[:: max(1, len(values) // 500)]:  # a sample of the evaluated, for the picture's sake
            ax.plot(x, (row - low) / scale, color="0.8", linewidth=0.4)
        for k in front.tolist():
            ax.plot(x, (data.values[k] - low) / scale, color="C0", linewidth=1.0)
        ax.set_xticks(x, [f"{n}\n[{lo:.3g}, {hi:.3g}]" for n, lo, hi in zip(names, low, high)], fontsize=7)
        ax.set_ylabel("scaled to the range evaluated")
    ax.set_title(f"{label}: Pareto front", fontsize=9)
    ax.grid(alpha=0.3)
    counts, volumes = data.hypervolume_curve()
    hv.plot(counts, volumes, color="C0")
    hv.set_xlabel("evaluations")
    hv.set_ylabel("hypervolume of the front (to the run's nadir)")
    hv.grid(alpha=0.3)
    return _save(fig, path)


def plot_population(run: RunData, path: Path) -> Path:
    """The checkpoint's population: fitness against age (evaluations since each member was told)."""
    fig = _figure(6.0, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    position = {int(i): n for n, i in enumerate(run.ids.tolist())}
    members = [(i, f) for i, f in run.members if i in position]
    ages = np.array([len(run.ids) - 1 - position[i] for i, _ in members], dtype=float)
    fitness = np.array([f for _, f in members], dtype=float)
    ok = ~np.isnan(fitness)
    ax.scatter(ages[ok], fitness[ok], s=18, color="C0", label="member")
    if (~ok).any():
        floor = np.nanmin(fitness) if ok.any() else 0.0
        ax.scatter(ages[~ok], np.full((~ok).sum(), floor), marker="x", color="C3", label="failed member")
    size = run.config.strategy_options.get("population")
    held = f"{len(members)} individuals the {run.config.strategy} strategy kept at its last checkpoint"
    note = f"\n(its population size is {size}; the checkpoint holds what the strategy keeps)" if isinstance(size, int) and size != len(members) else ""
    _finish_fitness_axes(ax, "age (evaluations since it was told)", f"{run.label}: {held}{note}")
    return _save(fig, path)


def mutation_success(run: RunData) -> dict[str, tuple[int, int]]:
    """Per mutation kind: (children fitter than their first parent, children with a scored parent)."""
    fitness_of = dict(zip(run.ids.tolist(), run.fitness.tolist()))
    out: dict[str, list[int]] = {}
    for parent, mutation, fitness in zip(run.parent, run.mutation, run.fitness.tolist()):
        if parent is None or mutation is None:
            continue
        parent_fitness = fitness_of.get(parent, math.nan)
        if math.isnan(parent_fitness):
            continue
        kind = mutation.split(":", 1)[0].strip() or "(none)"
        counts = out.setdefault(kind, [0, 0])
        counts[1] += 1
        counts[0] += int(not math.isnan(fitness) and fitness > parent_fitness)
    return {k: (v[0], v[1]) for k, v in sorted(out.items())}


def plot_mutations(run: RunData, path: Path) -> Path:
    """Share of children that beat their parent, per mutation kind (with counts)."""
    stats = mutation_success(run)
    fig = _figure(7.0, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    if stats:
        kinds = list(stats)
        rates = [s / n for s, n in stats.values()]
        bars = ax.bar(range(len(kinds)), rates, color="C2")
        for bar, (s, n) in zip(bars, stats.values()):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{s}/{n}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(kinds)), kinds, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, max(rates) * 1.2 + 0.01)
    else:
        ax.text(0.5, 0.5, "no mutated child with a scored parent yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel("children fitter than their parent")
    ax.set_title(f"{run.label}: success rate of each mutation kind", fontsize=9)
    return _save(fig, path)


def best_id(run: RunData) -> int | None:
    """The fittest individual (lowest id among ties); None when every evaluation failed."""
    if np.isnan(run.fitness).all():
        return None
    top = np.nanmax(run.fitness)
    return int(run.ids[np.flatnonzero(run.fitness == top)].min())


def ancestry_tree(run: RunData, ident: int, limit: int = 400) -> tuple[list[int], list[tuple[int, int]]]:
    """Ancestors of ``ident`` through both parents (breadth first, at most ``limit``) and the parent->child edges."""
    parents = {int(i): (p, q) for i, p, q in zip(run.ids.tolist(), run.parent, run.second_parent)}
    seen, edges, queue = {ident}, [], [ident]
    while queue and len(seen) < limit:
        child = queue.pop(0)
        for parent in parents.get(child, (None, None)):
            if parent is None:
                continue
            edges.append((int(parent), child))
            if parent not in seen:
                seen.add(int(parent))
                queue.append(int(parent))
    return sorted(seen), edges


LABELLED_STEPS = 12  # mutation labels on the best individual's line of ancestors


def plot_ancestry(run: RunData, path: Path) -> Path:
    """The best individual's ancestry as a tree: each ancestor at (id, fitness), lines from parent to child; and,
    beside it, the line of first parents from the best back, each step with its mutation and fitness."""
    fig = _figure(12.0, 4.8)
    ax = fig.add_axes((0.06, 0.11, 0.52, 0.8))
    ident = best_id(run)
    if ident is None:
        ax.text(0.5, 0.5, "no successful evaluation", ha="center", va="center", transform=ax.transAxes)
        return _save(fig, path)
    nodes, edges = ancestry_tree(run, ident)
    fitness_of = dict(zip(run.ids.tolist(), run.fitness.tolist()))
    floor = np.nanmin(run.fitness)
    y = {n: (fitness_of.get(n, math.nan)) for n in nodes}
    y = {n: (floor if math.isnan(v) else v) for n, v in y.items()}
    for parent, child in edges:
        ax.plot([parent, child], [y[parent], y[child]], color="0.6", linewidth=0.8, zorder=1)
    ax.scatter(nodes, [y[n] for n in nodes], s=14, color="C0", zorder=2)
    mutation_of = dict(zip(run.ids.tolist(), run.mutation))
    parent_of = {int(i): p for i, p in zip(run.ids.tolist(), run.parent)}
    line, current = [], ident
    while current is not None and current in y:
        line.append(current)
        current = parent_of.get(current)
    ax.plot(line, [y[n] for n in line], color="C3", linewidth=1.2, zorder=2, alpha=0.8, label="line of first parents")
    ax.scatter([ident], [y[ident]], s=60, color="C3", zorder=3, label=f"best: id {ident}")
    _finish_fitness_axes(ax, "id (birth order)", f"{run.label}: ancestry of the best individual ({len(nodes)} individuals)")
    # The steps that changed fitness tell the story; the neutral ones in between are counted, not listed.
    changed = [n for n in line if parent_of.get(n) not in y or y[parent_of[n]] != y[n]]
    shown = changed[:LABELLED_STEPS]
    rows = [f"{n:>9}  {y[n]:.4g}  {(mutation_of.get(n) or '(initial)')[:44]}" for n in shown]
    if len(changed) > len(shown):
        rows.append(f"... {len(changed) - len(shown)} earlier step(s) that changed fitness")
    rows.append(f"({len(line) - len(changed)} more step(s) on the line left fitness as it was)")
    panel = fig.add_axes((0.61, 0.11, 0.38, 0.8))
    panel.axis("off")
    panel.set_title("the best's line of first parents: the steps that changed fitness", fontsize=9)
    panel.text(0.0, 1.0, f"{'id':>9}  fitness  mutation that made it\n" + "\n".join(rows), family="monospace", fontsize=7,
               va="top", ha="left", transform=panel.transAxes)
    return _save(fig, path, tight=False)


def layered_layout(diagram: Diagram) -> dict[int, tuple[float, float]]:
    """Node positions: x by longest path from a source (back edges of cycles ignored), y spread per layer."""
    n = len(diagram.nodes)
    succ: dict[int, list[int]] = {i: [] for i in range(n)}
    for s, t, _ in diagram.edges:
        succ[s].append(t)
    order, state = [], [0] * n  # 0 new, 1 on the stack, 2 done: a depth-first topological order skipping back edges
    for root in range(n):
        if state[root]:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            nxt = next((c for c in children if state[c] == 0), None)
            if nxt is None:
                state[node] = 2
                order.append(node)
                stack.pop()
            else:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    order.reverse()
    rank = {node: i for i, node in enumerate(order)}
    depth = [0] * n
    for node in order:
        for child in succ[node]:
            if rank[child] > rank[node]:
                depth[child] = max(depth[child], depth[node] + 1)
    layers: dict[int, list[int]] = {}
    for node in range(n):
        layers.setdefault(depth[node], []).append(node)
    width = max(1, max(layers))
    pos = {}
    for d, members in layers.items():
        stagger = 0.07 if d % 2 else 0.0  # keeps a long edge from running straight through a node in between
        for k, node in enumerate(members):
            pos[node] = (d / width, min(0.97, (k + 1) / (len(members) + 1) + stagger))
    return pos


def draw_diagram(ax: Any, diagram: Diagram) -> None:
    """Draw one genome graph: boxes for nodes, curved arrows with labels for edges (parallel edges bent apart)."""
    pos = layered_layout(diagram)
    seen: dict[tuple[int, int], int] = {}
    t = np.linspace(0.0, 1.0, 30)[:, None]
    for s, target, label in diagram.edges:
        j = seen.get((s, target), 0)
        seen[(s, target)] = j + 1
        p0, p2 = np.array(pos[s]), np.array(pos[target])
        if s == target:  # a self-loop (recurrent NEAT)
            p2 = p0 + np.array([0.001, 0.0])
        d = p2 - p0
        bend = 0.12 * (1 + j) * (-1) ** j
        control = (p0 + p2) / 2 + bend * np.array([d[1], -d[0]]) + (np.array([0.0, 0.12]) if s == target else 0.0)
        curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * control + t**2 * p2
        ax.plot(curve[:, 0], curve[:, 1], color="0.5", linewidth=0.9, zorder=1)
        ax.annotate("", xy=tuple(curve[-1]), xytext=tuple(curve[-4]), arrowprops={"arrowstyle": "-|>", "color": "0.4", "shrinkA": 0, "shrinkB": 9}, zorder=2)
        if label:
            mid = curve[len(curve) // 2]
            ax.text(mid[0], mid[1], label, fontsize=6, ha="center", va="center", color="C0", zorder=3,
                    bbox={"boxstyle": "round,pad=0.12", "fc": "white", "ec": "none", "alpha": 0.85})
    for node, (x, y) in pos.items():
        ax.text(x, y, diagram.nodes[node], fontsize=8, ha="center", va="center", zorder=4,
                bbox={"boxstyle": "round,pad=0.3", "fc": "#fdf3d8", "ec": "0.3"})
    ax.set_xlim(-0.1, 1.1)
    ax.set_ylim(0, 1.05)
    ax.set_title(diagram.title, fontsize=9)
    ax.axis("off")


def plot_genome(genome: Any, title: str, path: Path) -> Path:
    """A drawing of a genome: its graphs where the family has them (cells, motifs, NEAT), else its code or text."""
    diagrams = genome.diagrams() if isinstance(genome, HasDiagrams) else []
    if diagrams and graphviz_available():  # layered, with routed edges and non-overlapping labels
        return render_png(diagrams_dot(diagrams, title), path)
    if diagrams:  # the fallback drawing, without Graphviz
        fig = _figure(6.0 * min(len(diagrams), 2), 4.5 * math.ceil(len(diagrams) / 2))
        for k, diagram in enumerate(diagrams):
            draw_diagram(fig.add_subplot(math.ceil(len(diagrams) / 2), min(len(diagrams), 2), k + 1), diagram)
        fig.suptitle(title, fontsize=10)
        return _save(fig, path)
    text = genome_text(genome)
    lines = text.splitlines() or [""]
    height = max(2.0, 0.2 * len(lines) + 1.0)
    fig = _figure(max(6.0, 0.075 * max(len(line) for line in lines)), height)
    fig.suptitle(title, fontsize=10)
    fig.text(0.02, 1.0 - 0.6 / height, text, family="monospace", fontsize=8, va="top", ha="left")  # below the title
    return _save(fig, path, tight=False)


# -- the page ---------------------------------------------------------------------------------------
def best_genome(run: RunData) -> tuple[int, Any] | None:
    """The best individual's id and genome (replayed when a compact lineage did not store it)."""
    from evonas.replay import replay_genomes

    ident = best_id(run)
    if ident is None:
        return None
    return ident, replay_genomes(run.path, {ident})[ident]


_PAGE_SCRIPT = """
window.addEventListener('load', function () {
  var broken = Array.prototype.filter.call(document.images, function (img) { return !(img.complete && img.naturalWidth > 0); });
  if (broken.length) { console.error('evonas report: ' + broken.length + ' image(s) failed to load'); }
  document.body.setAttribute('data-loaded', broken.length ? 'broken' : 'ok');
});
"""


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}"><figcaption>{html.escape(alt)}</figcaption></figure>'


def _facts(run: RunData) -> list[tuple[str, str]]:
    c = run.config
    failed = sum(s == "failed" for s in run.status)
    timeouts = sum(s == "timeout" for s in run.status)
    ident = best_id(run)
    best = "none" if ident is None else f"id {ident}, fitness {np.nanmax(run.fitness):.6g}"
    return [
        ("folder", str(run.path)), ("genome", c.genome), ("task", c.task), ("strategy", c.strategy),
        ("strategy options", json.dumps(c.strategy_options)), ("seed", str(c.seed)),
        ("evaluations", f"{len(run.ids)} logged of {c.cycles} planned"), ("failed / timed out", f"{failed} / {timeouts}"),
        ("best", best), ("wall time covered", f"{run.seconds[-1]:.1f} s"),
    ]


#: Runs that get their own section (population, mutations, ancestry, best genome); a report on more draws the
#: shared figures for all and these sections for the first ones.
DETAILED_RUNS = 8


def write_report(paths: list[Path], out: Path | None = None) -> Path:
    """Write the PNGs and ``report.html`` for one or more runs (curves overlaid); returns the HTML path.

    A protocol folder stands for its best experiment."""
    from evonas.families.automl_zero import protocol
    from evonas.report_regret import regret_groups

    if not paths:
        raise UserError("give at least one run folder")
    out = out or paths[0] / "report"
    paths = [protocol.best_experiment(p) if protocol.is_protocol_folder(p) else p for p in paths]
    labels = [p.name for p in paths]
    if len(set(labels)) < len(labels):
        labels = [str(p) for p in paths]
    runs = [load_run(p, label) for p, label in zip(paths, labels)]
    out.mkdir(parents=True, exist_ok=True)
    sections = []
    curves = plot_curves(runs, out / "fitness.png")
    sections.append("<h2>Fitness</h2>" + _img(curves, "best and median fitness against evaluations and wall time"))
    groups = regret_groups(paths)
    if groups:
        figure, rows = plot_regret(groups, out / "regret.png")
        cells = "".join(f"<tr><td>{html.escape(label)}</td><td>{n}</td><td>{length}</td><td>{mean:.4g}</td><td>{'' if math.isnan(half) else f'{half:.2g}'}</td></tr>"
                        for label, n, length, mean, half in rows)
        sections.append("<h2>Anytime regret</h2>" + _img(figure, "mean regret of the architecture picked so far, 95 % band over runs")
                        + f"<table><tr><th>runs of</th><th>runs</th><th>evaluations</th><th>final regret</th><th>+/- (95 %)</th></tr>{cells}</table>")
    detailed = runs[:DETAILED_RUNS]
    if len(runs) > DETAILED_RUNS:
        sections.append(f"<p>Per-run sections are drawn for the first {DETAILED_RUNS} of the {len(runs)} runs; report on fewer "
                        "folders for the others.</p>")
    for k, run in enumerate(detailed):
        prefix = "" if len(runs) == 1 else f"run{k + 1}-"
        rows = "".join(f"<tr><th>{html.escape(a)}</th><td>{html.escape(b)}</td></tr>" for a, b in _facts(run))
        parts = [f"<h2>{html.escape(run.label)}</h2><table>{rows}</table>"]
        if run.config.objectives is not None or run.config.constraints is not None:
            from evonas.lineage_front import read_objectives

            parts.append(_img(plot_front(read_objectives(run.path), run.label, out / f"{prefix}front.png"),
                              "the Pareto front found, and its hypervolume against evaluations"))
        parts.append(_img(plot_population(run, out / f"{prefix}population.png"), "population: fitness against age"))
        parts.append(_img(plot_mutations(run, out / f"{prefix}mutations.png"), "success rate of each mutation kind"))
        parts.append(_img(plot_ancestry(run, out / f"{prefix}ancestry.png"), "ancestry of the best individual"))
        best = best_genome(run)
        if best is not None:
            ident, genome = best
            parts.append(_img(plot_genome(genome, f"{run.label}: best individual, id {ident}", out / f"{prefix}best-genome.png"), "the best genome"))
            parts.append(f"<pre>{html.escape(genome_text(genome))}</pre>")
        sections.append("\n".join(parts))
    title = "evonas report: " + ", ".join(r.label for r in runs)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1200px; color: #222; }}
img {{ max-width: 100%; border: 1px solid #ddd; }}
table {{ border-collapse: collapse; margin: 1em 0; }} th, td {{ text-align: left; padding: 2px 10px; border-bottom: 1px solid #eee; }}
pre {{ background: #f6f6f6; padding: 1em; overflow-x: auto; }} figcaption {{ font-size: 0.85em; color: #666; }}
</style>
<script>{_PAGE_SCRIPT}</script></head>
<body><h1>{html.escape(title)}</h1>
{"".join(sections)}
</body></html>
"""
    page_path = out / "report.html"
    page_path.write_text(page)
    return page_path
