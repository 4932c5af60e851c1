"""What a network costs before it is trained: multiply-accumulate operations of one forward pass and the
latency of one at batch 1 (the cheap objectives of a multi-objective search)."""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn


def multiply_accumulates(module: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass of one sample of ``input_shape`` (channels, height, width): every
    convolution (output elements x input channels per group x kernel area) and linear layer (in x out features).
    Additions of cell sums, pooling, batch norm and activations are not counted, as is the convention."""
    total = 0

    def conv_hook(layer: nn.Conv2d, inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = layer.kernel_size
        total += int(output[0].numel()) * (layer.in_channels // layer.groups) * kh * kw

    def linear_hook(layer: nn.Linear, inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        total += layer.in_features * layer.out_features

    handles = []
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            handles.append(layer.register_forward_hook(conv_hook))
        elif isinstance(layer, nn.Linear):
            handles.append(layer.register_forward_hook(linear_hook))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(torch.zeros((1, *input_shape)))
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training)
    return total


def latency_ms(module: nn.Module, input_shape: tuple[int, ...], device: torch.device, warmup: int = 3, repeats: int = 10) -> float:
    """Median wall time in milliseconds of a forward pass at batch 1 on ``device``, after ``warmup`` passes."""
    module = module.to(device).eval()
    sample = torch.zeros((1, *input_shape), device=device)
    times = []
    with torch.no_grad():
        for k in range(warmup + repeats):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            started = time.perf_counter()
            module(sample)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if k >= warmup:
                times.append((time.perf_counter() - started) * 1000.0)
    times.sort()
    mid = len(times) // 2
    return times[mid] if len(times) % 2 else (times[mid - 1] + times[mid]) / 2
