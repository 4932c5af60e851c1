"""``evonas export``: a run's individual as something usable without evonas.

* cells and motifs: the trained network as a ``torch.export`` program (``.pt2``, loads with torch alone) plus
  a JSON input spec; trained exactly as its evaluation trained it, or retrained from scratch at a larger size;
* NEAT: a standalone Python module (``activate`` for one feed-forward pass, ``Network.step`` for the
  synchronous recurrent scheme) and a Graphviz dot file;
* AutoML-Zero: standalone Python source of Setup / Predict / Learn over numpy memory (see ``program_export``).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from evonas.errors import UserError
from evonas.run import RunConfig, load_config, read_run_lineage

FORMATS: dict[str, tuple[str, ...]] = {
    "amoeba": ("torch",), "motifs": ("torch",), "neat": ("python", "dot"), "automl-zero": ("python",), "bitstring": ("json",),
}


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


# -- NEAT ---------------------------------------------------------------------------------------------
def neat_python(genome: Any, title: str) -> str:
    """Standalone Python for a NEAT network: the same arithmetic, in the same order, as the evonas kernels."""
    from evonas.kernels.neat_cpu import STEEPNESS

    ir = genome.lower()
    n_in, n_out = ir.n_inputs, ir.n_outputs
    names = [str(n) for n in ir.node_ids]
    lines = [
        f'"""{title}: a NEAT network exported by evonas (standalone: needs only the Python standard library).',
        "",
        f"Inputs: {n_in} values ({genome.inputs} sensor(s){' then the bias value' if genome.bias else ''}); outputs: {n_out}.",
        "activate(inputs): one pass from a zero state in evaluation order (feed-forward networks, XOR).",
        "Network().step(inputs): the synchronous scheme of the pole tasks (every node reads last step's values).",
        '"""',
        "",
        "import math",
        "",
        f"STEEPNESS = {STEEPNESS!r}",
        f"N_INPUTS = {n_in}",
        f"N_OUTPUTS = {n_out}",
        f"N_NODES = {ir.n_nodes}",
        f"NODE_IDS = {tuple(int(n) for n in ir.node_ids)!r}  # genome node id of each value slot",
        "",
        "",
        "def sigmoid(x):",
        "    try:",
        "        return 1.0 / (1.0 + math.exp(-STEEPNESS * x))",
        "    except OverflowError:  # exp of a huge argument: the float result is 0",
        "        return 0.0",
        "",
        "",
    ]
    sums = []
    for k, node in enumerate(ir.order.tolist()):
        terms = [f"{float(ir.weight[j])!r} * v[{int(ir.source[j])}]" for j in range(int(ir.start[k]), int(ir.start[k + 1]))]
        sums.append((int(node), " + ".join(["0.0", *terms])))  # left to right from 0.0, as the kernel accumulates
    lines += ["def _sums(v):", f"    return [{', '.join(expr for _, expr in sums)}]" if sums else "    return []", ""]
    lines += ["", "def activate(inputs):", f'    """Outputs for {n_in} inputs after one pass in evaluation order (state starts at zero)."""',
              "    if len(inputs) != N_INPUTS:", "        raise ValueError(f'expected {N_INPUTS} inputs, got {len(inputs)}')",
              "    v = [0.0] * N_NODES", "    v[:N_INPUTS] = [float(x) for x in inputs]"]
    for node, expr in sums:
        lines.append(f"    v[{node}] = sigmoid({expr})  # node {names[node]}")
    lines += ["    return v[N_INPUTS:N_INPUTS + N_OUTPUTS]", "", ""]
    lines += [
        "class Network:",
        '    """The network with state, advanced by the synchronous scheme: all sums from last step\'s values, then all updates."""',
        "",
        "    def __init__(self):",
        "        self.values = [0.0] * N_NODES",
        "",
        "    def reset(self):",
        "        self.values = [0.0] * N_NODES",
        "",
        "    def step(self, inputs):",
        "        if len(inputs) != N_INPUTS:",
        "            raise ValueError(f'expected {N_INPUTS} inputs, got {len(inputs)}')",
        "        v = self.values",
        "        v[:N_INPUTS] = [float(x) for x in inputs]",
        "        for node, total in zip(ORDER, _sums(v)):",
        "            v[node] = sigmoid(total)",
        "        return v[N_INPUTS:N_INPUTS + N_OUTPUTS]",
        "",
        "",
        f"ORDER = {tuple(node for node, _ in sums)!r}",
        "",
    ]
    return "\n".join(lines)


# -- cells and motifs --------------------------------------------------------------------------------
def torch_export(config: RunConfig, genome: Any, seed: int, out: Path, overrides: dict[str, Any], echo: Any) -> dict[str, Any]:
    """Train the network (as its evaluation did, or with ``overrides`` from scratch) and save a torch.export program."""
    import torch

    from evonas.kernels.torchnet import evaluate_accuracy
    from evonas.tasks import make_task

    options = {**config.task_options, **overrides}
    task = make_task(config.task, options, fresh=True)
    if not hasattr(task, "trained_model"):
        raise UserError(f"task {config.task!r} does not train a torch network, so there is nothing to export as torch")
    echo(f"training id's network ({'as in the run' if not overrides else 'from scratch with ' + json.dumps(overrides)}) ...")
    started = time.perf_counter()
    model, metrics = task.trained_model(genome, seed)
    if not math.isfinite(metrics["train_loss"]):
        raise UserError("training diverged (NaN loss), so there is no model to export; pick another individual with --id")
    model = model.to("cpu").to(memory_format=torch.contiguous_format).eval()
    data = task.splits()
    val = evaluate_accuracy(model, data.val_x, data.val_y, 256, torch.device("cpu"), False)
    test = evaluate_accuracy(model, data.test_x, data.test_y, 256, torch.device("cpu"), False)
    example = data.val_x[:2].contiguous()
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, str(out))
    spec = {
        "format": "torch.export (load: torch.export.load(path).module())",
        "input": {"shape": ["batch", *example.shape[1:]], "dtype": "float32", "layout": "NCHW",
                  "preprocessing": "pixels / 255, then (x - mean) / std per channel", "mean": list(data.mean), "std": list(data.std)},
        "output": {"shape": ["batch", data.num_classes], "meaning": "class logits"},
        "dataset": config.task, "task_options": options, "seed": seed,
        "val_accuracy": val, "test_accuracy": test, "train_seconds": time.perf_counter() - started,
        "params": metrics["params"],
    }
    out.with_suffix(".json").write_text(json.dumps(spec, indent=2))
    return spec


def export_protocol_best(folder: Path, ident: int | None, fmt: str | None, out: Path | None) -> Path:
    """Export the candidate an AutoML-Zero protocol kept (its best by selection fitness) as Python."""
    from evonas import protocol
    from evonas.genomes import GENOMES
    from evonas.program_export import program_python

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


def export_individual(run_dir: Path, ident: int | None, fmt: str | None, out: Path | None, overrides: dict[str, Any], echo: Any) -> Path:
    """Export one individual of a run; returns the file written."""
    from evonas import protocol
    from evonas.executors import evaluation_seed
    from evonas.replay import replay_genomes

    if protocol.is_protocol_folder(run_dir):
        return export_protocol_best(run_dir, ident, fmt, out)
    config = load_config(run_dir)
    kind = config.genome
    formats = FORMATS.get(kind, ())
    fmt = fmt or (formats[0] if formats else None)
    if fmt not in formats:
        raise UserError(f"{kind} individuals export as {', '.join(formats) or 'nothing yet'}, not {fmt!r}; pick --format {formats[0] if formats else ''}".rstrip())
    if overrides and fmt != "torch":
        raise UserError("--train, --epochs, --filters and --cells only apply to --format torch (cells and motifs)")
    ident, fitness = pick_individual(run_dir, ident)
    genome = replay_genomes(run_dir, {ident})[ident]
    title = f"id {ident} of {run_dir} (fitness {fitness:.6g})"
    suffix = {"torch": ".pt2", "python": ".py", "dot": ".dot", "json": ".json"}[fmt]
    out = out or run_dir / "export" / f"{kind.replace('-', '_')}_{ident}{suffix}"
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "torch":
        torch_export(config, genome, evaluation_seed(config.seed, ident), out, overrides, echo)
    elif fmt == "dot":
        out.write_text(genome.to_dot())
    elif fmt == "json":
        out.write_text(json.dumps(genome.to_dict()))
    elif kind == "neat":
        out.write_text(neat_python(genome, title))
    else:
        from evonas.program_export import program_python

        out.write_text(program_python(genome, title))
    return out
