"""Export formats several families share: the genome as JSON, a Graphviz drawing, a trained torch network."""

from __future__ import annotations

import json
import math
import time

from evonas.errors import UserError

from .record import ExportFormat, ExportRequest


def write_json(request: ExportRequest) -> None:
    """The genome's exact JSON form (``to_dict``)."""
    request.out.write_text(json.dumps(request.genome.to_dict()))


def write_dot(request: ExportRequest) -> None:
    """The genome's Graphviz drawing (``to_dot``)."""
    request.out.write_text(request.genome.to_dot())


def write_torch(request: ExportRequest) -> None:
    """Train the network (as its evaluation did, or with the overrides from scratch) and save a torch.export
    program (``.pt2``, loads with torch alone) with a JSON spec of its input beside it."""
    import torch

    from evonas.capabilities import TrainsModels
    from evonas.kernels.torchnet import evaluate_accuracy

    config, overrides, echo = request.config, request.overrides, request.echo
    options = {**config.task_options, **overrides}
    task = request.build_task(overrides)
    if not isinstance(task, TrainsModels):
        raise UserError(f"task {config.task!r} does not train a torch network, so there is nothing to export as torch")
    echo(f"training the network of id {request.ident} ({'as in the run' if not overrides else 'from scratch with ' + json.dumps(overrides)}) ...")
    started = time.perf_counter()
    model, metrics = task.trained_model(request.genome, request.seed)
    if not math.isfinite(metrics["train_loss"]):
        raise UserError("training diverged (NaN loss), so there is no model to export; pick another individual with --id")
    model = model.to("cpu").to(memory_format=torch.contiguous_format).eval()
    data = task.splits()
    val = evaluate_accuracy(model, data.val_x, data.val_y, 256, torch.device("cpu"), False)
    test = evaluate_accuracy(model, data.test_x, data.test_y, 256, torch.device("cpu"), False)
    example = data.val_x[:2].contiguous()
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(request.out))
    spec = {
        "format": "torch.export (load: torch.export.load(path).module())",
        "input": {"shape": ["batch", *example.shape[1:]], "dtype": "float32", "layout": "NCHW",
                  "preprocessing": "pixels / 255, then (x - mean) / std per channel", "mean": list(data.mean), "std": list(data.std)},
        "output": {"shape": ["batch", data.num_classes], "meaning": "class logits"},
        "dataset": config.task, "task_options": options, "seed": request.seed,
        "val_accuracy": val, "test_accuracy": test, "train_seconds": time.perf_counter() - started,
        "params": metrics["params"],
    }
    request.out.with_suffix(".json").write_text(json.dumps(spec, indent=2))


JSON = ExportFormat("json", ".json", write_json)
DOT = ExportFormat("dot", ".dot", write_dot)
TORCH = ExportFormat("torch", ".pt2", write_torch, trains=True)
