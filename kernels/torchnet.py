"""Net IR -> ``torch.nn.Module`` (NASNet/AmoebaNet macro architecture) and the fixed-budget proxy trainer.

Op layers follow ../shared/specs/amoeba.md §2.2-2.4: the [TF-amoeba] cell preprocessing (``prev`` through
ReLU-1x1-BN; ``prev_prev`` through factorized reduce after a reduction cell, 1x1 only when channels differ),
stride 2 in a reduction cell only on edges that read a cell input, and unused states concatenated after
shape matching.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from evonas.errors import UserError
from evonas.genomes.ir import CellIR, Macro, NetIR


def relu_conv_bn(c_in: int, c_out: int, kernel: int = 1, stride: int = 1) -> nn.Sequential:
    """ReLU -> conv (no bias) -> BN, the NASNet building block."""
    return nn.Sequential(
        nn.ReLU(inplace=False),
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
    )


class FactorizedReduce(nn.Module):
    """Halve H and W with two offset 1x1 stride-2 paths concatenated to ``c_out`` channels, then BN."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        if c_out % 2:
            raise ValueError(f"factorized reduce needs an even channel count, got {c_out}")
        self.path1 = nn.Conv2d(c_in, c_out // 2, 1, bias=False)
        self.path2 = nn.Conv2d(c_in, c_out // 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.path1(x[:, :, ::2, ::2]), self.path2(shifted[:, :, ::2, ::2])], dim=1))


class SepConv(nn.Module):
    """Two layers of ReLU -> depthwise kxk -> pointwise 1x1 -> BN; the stride sits on the first layer."""

    def __init__(self, channels: int, kernel: int, stride: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for s in (stride, 1):
            layers += [
                nn.ReLU(inplace=False),
                nn.Conv2d(channels, channels, kernel, stride=s, padding=kernel // 2, groups=channels, bias=False),
                nn.Conv2d(channels, channels, 1, bias=False),
                nn.BatchNorm2d(channels),
            ]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def dil_sep_conv(channels: int, stride: int) -> nn.Sequential:
    """ReLU -> depthwise 3x3 dilation 2 -> pointwise -> BN, once (the [DARTS] form)."""
    return nn.Sequential(
        nn.ReLU(inplace=False),
        nn.Conv2d(channels, channels, 3, stride=stride, padding=2, dilation=2, groups=channels, bias=False),
        nn.Conv2d(channels, channels, 1, bias=False),
        nn.BatchNorm2d(channels),
    )


def conv_1x7_7x1(channels: int, stride: int, bottleneck: bool) -> nn.Sequential:
    """1x7 then 7x1 convolution; [TF-amoeba] form with a C/4 bottleneck, else the [DARTS] short form."""
    inner = channels // 4 if bottleneck and channels >= 4 else channels
    layers: list[nn.Module] = []
    if inner != channels:
        layers += [nn.ReLU(), nn.Conv2d(channels, inner, 1, bias=False), nn.BatchNorm2d(inner)]
    layers += [
        nn.ReLU(),
        nn.Conv2d(inner, inner, (1, 7), stride=(1, stride), padding=(0, 3), bias=False),
        nn.BatchNorm2d(inner),
        nn.ReLU(),
        nn.Conv2d(inner, inner, (7, 1), stride=(stride, 1), padding=(3, 0), bias=False),
        nn.BatchNorm2d(inner),
    ]
    if inner != channels:
        layers += [nn.ReLU(), nn.Conv2d(inner, channels, 1, bias=False), nn.BatchNorm2d(channels)]
    return nn.Sequential(*layers)


def make_op(name: str, channels: int, stride: int, bottleneck_1x7: bool = True) -> nn.Module:
    """One NASNet op at ``channels`` in and out, with the given stride."""
    if name == "identity":
        return nn.Identity() if stride == 1 else relu_conv_bn(channels, channels, 1, stride)
    if name.startswith("sep_conv_"):
        return SepConv(channels, int(name[-1]), stride)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == "dil_sep_conv_3x3":
        return dil_sep_conv(channels, stride)
    if name == "conv_1x7_7x1":
        return conv_1x7_7x1(channels, stride, bottleneck_1x7)
    raise ValueError(f"unknown op {name!r}")


class CellModule(nn.Module):
    """One cell: preprocess both inputs to C channels, evaluate the DAG, concatenate the output nodes."""

    def __init__(
        self, cell: CellIR, c_prev_prev: int, c_prev: int, channels: int, reduction: bool, prev_reduced: bool, bottleneck_1x7: bool
    ) -> None:
        super().__init__()
        if cell.n_inputs != 2:
            raise ValueError("NASNet cells take exactly two inputs")
        self.pre_prev = relu_conv_bn(c_prev, channels)
        if prev_reduced:
            self.pre_prev_prev: nn.Module = nn.Sequential(nn.ReLU(), FactorizedReduce(c_prev_prev, channels))
        elif c_prev_prev != channels:
            self.pre_prev_prev = relu_conv_bn(c_prev_prev, channels)
        else:
            self.pre_prev_prev = nn.Identity()
        self.sources = [[edge.source for edge in node.edges] for node in cell.nodes]
        self.merges = [node.merge for node in cell.nodes]
        if any(m != "add" for m in self.merges):
            raise ValueError("NASNet cells combine with 'add'")
        self.edge_ops = nn.ModuleList(
            nn.ModuleList(
                make_op(edge.op, channels, 2 if reduction and edge.source < cell.n_inputs else 1, bottleneck_1x7)
                for edge in node.edges
            )
            for node in cell.nodes
        )
        self.outputs = list(cell.outputs)
        # An unread cell input of a reduction cell is still full size: reduce it to match the blocks.
        self.match = nn.ModuleList(
            FactorizedReduce(channels, channels) if reduction and out < cell.n_inputs else nn.Identity()
            for out in self.outputs
        )
        self.out_channels = channels * len(self.outputs)

    def forward(self, prev_prev: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        states = [self.pre_prev(prev), self.pre_prev_prev(prev_prev)]
        for sources, ops in zip(self.sources, self.edge_ops):
            total = ops[0](states[sources[0]])
            for source, op in zip(sources[1:], ops[1:]):
                total = total + op(states[source])
            states.append(total)
        return torch.cat([m(states[i]) for i, m in zip(self.outputs, self.match)], dim=1)


class NASNet(nn.Module):
    """Stem -> stacks of normal cells with reduction cells between them -> ReLU, global pool, linear."""

    def __init__(self, ir: NetIR, macro: Macro) -> None:
        super().__init__()
        if macro.cells_per_stack < 1 or macro.stacks < 1 or macro.filters < 2 or macro.filters % 2:
            raise ValueError("macro needs cells_per_stack >= 1, stacks >= 1 and an even filters >= 2")
        c_stem = macro.stem_multiplier * macro.filters
        self.stem = nn.Sequential(
            nn.Conv2d(macro.in_channels, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem)
        )
        c_prev_prev, c_prev, prev_reduced = c_stem, c_stem, False
        cells: list[CellModule] = []
        for stack in range(macro.stacks):
            channels = macro.filters * 2**stack
            kinds = ([True] if stack > 0 else []) + [False] * macro.cells_per_stack
            for reduction in kinds:
                cell = CellModule(
                    ir.reduction if reduction else ir.normal,
                    c_prev_prev, c_prev, channels, reduction, prev_reduced, macro.bottleneck_1x7,
                )
                cells.append(cell)
                c_prev_prev, c_prev, prev_reduced = c_prev, cell.out_channels, reduction
        self.cells = nn.ModuleList(cells)
        self.classifier = nn.Linear(c_prev, macro.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prev_prev = prev = self.stem(x)
        for cell in self.cells:
            prev_prev, prev = prev, cell(prev_prev, prev)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(F.relu(prev), 1), 1))


def build_module(ir: Any, macro: Macro) -> nn.Module:
    """Build the network an IR describes at the given macro scale: NASNet cells (NetIR) or hierarchical motifs (MotifIR)."""
    from evonas.genomes.ir import MotifIR

    if isinstance(ir, MotifIR):
        from .motifnet import HierarchicalNet

        return HierarchicalNet(ir, macro)
    return NASNet(ir, macro)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@dataclass(frozen=True)
class ProxyBudget:
    """A fixed proxy-training budget: ``train_images`` images seen (SGD, Nesterov, OneCycle) then a validation pass."""

    train_images: int = 4096
    batch_size: int = 64
    max_lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 3e-4
    channels_last: bool = True
    eval_batch_size: int = 500
    recalibration_images: int = 512
    mixed_precision: bool = True  # on a GPU only (see ``autocast_dtype``); the CPU always trains in float32

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, stored in the run config."""
        return asdict(self)


@dataclass
class ImageSplits:
    """Float32 NCHW image tensors, normalised, with int64 labels, for train / validation / test."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    mean: tuple[float, ...] = ()  # per channel, of the raw [0, 1] training images (what a user must subtract)
    std: tuple[float, ...] = ()


def splits_from_arrays(arrays: dict[str, np.ndarray], num_classes: int) -> ImageSplits:
    """Turn uint8 NHWC/NHW arrays into normalised float tensors (train mean/std)."""

    def tensor(x: np.ndarray) -> torch.Tensor:
        x = x[..., None] if x.ndim == 3 else x
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).float().div_(255.0)

    train_x = tensor(arrays["train_x"])
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
    std = train_x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)

    def norm(x: np.ndarray) -> torch.Tensor:
        return (tensor(x) - mean) / std

    return ImageSplits(
        (train_x - mean) / std,
        torch.from_numpy(arrays["train_y"].astype(np.int64)),
        norm(arrays["val_x"]),
        torch.from_numpy(arrays["val_y"].astype(np.int64)),
        norm(arrays["test_x"]),
        torch.from_numpy(arrays["test_y"].astype(np.int64)),
        num_classes,
        tuple(float(v) for v in mean.flatten()),
        tuple(float(v) for v in std.flatten()),
    )


def configure_worker_threads() -> None:
    """One intra-op thread per evaluation worker: 2 threads on a busy 2-core box ran 30x slower (data.md §3.3)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def check_torch_device(requested: str, note: Callable[[str], None]) -> None:
    """Refuse ``--device cuda`` in one line when torch sees no GPU; for ``auto`` say (through ``note``) that
    training runs on the CPU."""
    if torch.cuda.is_available() or requested == "cpu":
        return
    if requested == "cuda":
        raise UserError(f"--device cuda: torch {torch.__version__} sees no CUDA GPU; install a CUDA build of torch on a GPU machine, or use --device cpu")
    note("--device auto: torch sees no CUDA GPU; training on the CPU")


def pick_device(requested: str = "auto") -> torch.device:
    """CUDA when asked or, for ``auto``, when torch sees a GPU; otherwise the CPU."""
    if requested == "cuda" or (requested == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The reduced precision for training on ``device``: bfloat16 on GPUs that have it (float32's range, so no
    loss scaling), float16 with loss scaling on older GPUs, None (float32) on the CPU, where it would only
    change results. Autocast keeps batch norm and the loss in float32."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def evaluate_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int, device: torch.device, channels_last: bool) -> float:
    """Top-1 accuracy of ``model`` on ``(x, y)``, in eval mode without gradients."""
    model.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            xb = x[start : start + batch_size].to(device)
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            correct += int((model(xb).argmax(dim=1) == y[start : start + batch_size].to(device)).sum())
    return correct / max(1, len(x))


def recalibrate_batchnorm(model: nn.Module, x: torch.Tensor, batch_size: int, device: torch.device, channels_last: bool) -> None:
    """Re-estimate BN running statistics with the final weights.

    A proxy run takes only tens of steps, too few for BN's exponential running average (momentum 0.1) to
    forget the untrained network; evaluating with those stale statistics scores every net near chance.
    """
    if len(x) == 0:
        return
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the recalibration batches
    model.train()
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb = x[start : start + batch_size].to(device)
            model(xb.contiguous(memory_format=torch.channels_last) if channels_last else xb)
    for m, momentum in zip(norms, saved):
        m.momentum = momentum


def train_model(
    ir: Any,
    macro: Macro,
    data: ImageSplits,
    budget: ProxyBudget,
    seed: int,
    device: torch.device | None = None,
) -> tuple[nn.Module, dict[str, float]]:
    """Train a fresh network for the fixed budget (batch-norm statistics recalibrated); returns it with its
    training metrics. ``train_loss`` is NaN when the loss diverged (the network is then returned as it was at that step).

    Deterministic for a given ``seed`` on a given device and thread count: it seeds weight init and the
    shuffle order, and nothing else is random.
    """
    device = device or pick_device()
    torch.manual_seed(seed)
    model = build_module(ir, macro).to(device)
    if budget.channels_last:
        model = model.to(memory_format=torch.channels_last)
    steps = max(1, math.ceil(budget.train_images / budget.batch_size))
    optimizer = torch.optim.SGD(
        model.parameters(), lr=budget.max_lr, momentum=budget.momentum, nesterov=True,
        weight_decay=budget.weight_decay, foreach=True,
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=budget.max_lr, total_steps=steps)
    shuffle = torch.Generator().manual_seed(seed)
    n_train = len(data.train_x)
    order = torch.cat([torch.randperm(n_train, generator=shuffle) for _ in range(math.ceil(steps * budget.batch_size / n_train))])
    model.train()
    reduced = autocast_dtype(device) if budget.mixed_precision else None
    scaler = torch.amp.GradScaler(device.type, enabled=reduced is torch.float16)  # a no-op unless float16
    loss_sum = 0.0
    finite = True
    started = time.perf_counter()
    for step in range(steps):
        idx = order[step * budget.batch_size : (step + 1) * budget.batch_size]
        xb, yb = data.train_x[idx].to(device), data.train_y[idx].to(device)
        if budget.channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=reduced or torch.float32, enabled=reduced is not None):
            loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        schedule.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            finite = False
            break
        loss_sum += value
    train_seconds = time.perf_counter() - started
    images = steps * budget.batch_size
    metrics = {
        "train_loss": loss_sum / steps if finite else math.nan,
        "train_seconds": train_seconds,
        "train_images_per_s": images / train_seconds if train_seconds > 0 else math.nan,
        "params": float(count_parameters(model)),
    }
    if finite:
        recalibrate_batchnorm(model, data.train_x[order[: budget.recalibration_images]], budget.eval_batch_size, device, budget.channels_last)
    return model, metrics


def train_proxy(
    ir: NetIR,
    macro: Macro,
    data: ImageSplits,
    budget: ProxyBudget,
    seed: int,
    device: torch.device | None = None,
    with_test: bool = False,
) -> dict[str, float]:
    """Train a fresh network for the fixed budget and return validation accuracy and timing metrics (see ``train_model``)."""
    device = device or pick_device()
    model, metrics = train_model(ir, macro, data, budget, seed, device)
    if not math.isfinite(metrics["train_loss"]):
        metrics["val_accuracy"] = math.nan
        return metrics
    metrics["val_accuracy"] = evaluate_accuracy(model, data.val_x, data.val_y, budget.eval_batch_size, device, budget.channels_last)
    if with_test:
        metrics["test_accuracy"] = evaluate_accuracy(model, data.test_x, data.test_y, budget.eval_batch_size, device, budget.channels_last)
    return metrics
