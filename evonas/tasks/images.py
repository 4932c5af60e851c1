"""Image classification by proxy training of a Net-IR network: fitness is validation accuracy."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from evonas.datasets import IMAGE_DATASETS, load_dataset
from evonas.errors import UserError
from evonas.genomes.base import Genome
from evonas.genomes.ir import Macro

from .base import Task

_SPLITS_CACHE: dict[tuple[str, str | None], Any] = {}


class ImageClassification(Task):
    """Train the genome's network for a fixed proxy budget on ``dataset`` and score validation accuracy.

    Test accuracy is computed only by ``report`` (for the best genome) and never reaches the search.
    """

    name = "image"
    genome_kinds = ("amoeba", "motifs")

    @classmethod
    def metric_names(cls, options: Mapping[str, Any]) -> tuple[str, ...]:
        """Proxy training's figures (validation accuracy, the fitness; loss, time, speed, parameter count) and the
        cheap ones."""
        return ("val_accuracy", "train_loss", "train_seconds", "train_images_per_s", "params", "macs", "latency_ms")

    @classmethod
    def cheap_metric_names(cls, options: Mapping[str, Any]) -> tuple[str, ...]:
        """Parameters and multiply-accumulates of the built network, and its latency at batch 1 on the run's device."""
        return ("params", "macs", "latency_ms")

    def cheap_metrics(self, genomes: list[Genome], names: list[str]) -> dict[str, Any]:
        """Build each network untrained and measure ``names`` (latency: median of 10 passes after 3 of warm-up)."""
        import numpy as np

        from evonas.kernels import torchnet
        from evonas.kernels.model_cost import latency_ms, multiply_accumulates

        h, w, c = IMAGE_DATASETS[self.dataset]
        device = torchnet.pick_device(self.device_name)
        out = {name: np.empty(len(genomes)) for name in names if name in ("params", "macs", "latency_ms")}
        for k, genome in enumerate(genomes):
            module = torchnet.build_module(genome.lower(), self.macro)
            if "params" in out:
                out["params"][k] = torchnet.count_parameters(module)
            if "macs" in out:
                out["macs"][k] = multiply_accumulates(module, (c, h, w))
            if "latency_ms" in out:
                out["latency_ms"][k] = latency_ms(module, (c, h, w), device)
        return out
    torch_device = True

    def __init__(
        self,
        dataset: str = "fashion-mnist",
        data_dir: str | None = None,
        cells_per_stack: int = 1,
        stacks: int = 2,
        filters: int = 8,
        train_images: int = 2048,
        epochs: float | None = None,
        batch_size: int = 64,
        max_lr: float = 0.1,
        val_images: int | None = None,
        device: str = "auto",
        **options: Any,
    ) -> None:
        if dataset not in IMAGE_DATASETS:
            raise UserError(f"unknown dataset {dataset!r}; choose one of {', '.join(IMAGE_DATASETS)}")
        if filters < 2 or filters % 2:
            raise UserError(f"filters must be an even number >= 2, got {filters}")
        if cells_per_stack < 1 or stacks < 1:
            raise UserError("cells_per_stack and stacks must be at least 1")
        if epochs is not None and not (isinstance(epochs, (int, float)) and math.isfinite(epochs) and epochs > 0):
            raise UserError(f"epochs must be a positive number of passes over the training split, got {epochs!r}")
        for name, value in (("train_images", train_images), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{name} must be a positive integer, got {value!r}")
        if not (isinstance(max_lr, (int, float)) and math.isfinite(max_lr) and max_lr > 0):
            raise UserError(f"max_lr must be a positive number, got {max_lr!r}")
        from evonas.kernels.torchnet import ProxyBudget

        allowed = {f.name for f in fields(ProxyBudget)} - {"train_images", "batch_size", "max_lr"}
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise UserError(f"unknown image-task option(s) {', '.join(unknown)}; known extra options: {', '.join(sorted(allowed))}")
        super().__init__(
            dataset=dataset, data_dir=data_dir, cells_per_stack=cells_per_stack, stacks=stacks, filters=filters,
            train_images=train_images, epochs=epochs, batch_size=batch_size, max_lr=max_lr, val_images=val_images,
            device=device, **options,
        )
        h, w, c = IMAGE_DATASETS[dataset]
        self.macro = Macro(cells_per_stack=cells_per_stack, stacks=stacks, filters=filters, in_channels=c, num_classes=10)
        self.dataset = dataset
        self.data_dir = data_dir
        self.epochs = epochs
        self.train_images = train_images
        self.batch_size = batch_size
        self.max_lr = max_lr
        self.val_images = val_images
        self.device_name = device
        self.extra = options

    def splits(self) -> Any:
        """The dataset as normalised tensors, loaded once per process."""
        from evonas.kernels.torchnet import splits_from_arrays

        key = (self.dataset, self.data_dir)
        if key not in _SPLITS_CACHE:
            arrays = load_dataset(self.dataset, Path(self.data_dir) if self.data_dir else None)
            _SPLITS_CACHE[key] = splits_from_arrays(arrays, 10)
        splits = _SPLITS_CACHE[key]
        if self.val_images is not None and self.val_images < len(splits.val_x):
            splits = type(splits)(**{**splits.__dict__, "val_x": splits.val_x[: self.val_images], "val_y": splits.val_y[: self.val_images]})
        return splits

    def budget(self, n_train: int) -> Any:
        """The proxy budget: ``epochs`` passes over the training split when given, else ``train_images`` images."""
        from evonas.kernels.torchnet import ProxyBudget

        images = int(round(self.epochs * n_train)) if self.epochs else self.train_images
        return ProxyBudget(train_images=images, batch_size=self.batch_size, max_lr=self.max_lr, **self.extra)

    def _train(self, genome: Genome, seed: int, with_test: bool) -> dict[str, float]:
        from evonas.kernels import torchnet

        torchnet.configure_worker_threads()
        data = self.splits()
        return torchnet.train_proxy(
            genome.lower(), self.macro, data, self.budget(len(data.train_x)), seed,
            torchnet.pick_device(self.device_name), with_test=with_test,
        )

    def trained_model(self, genome: Genome, seed: int) -> tuple[Any, dict[str, float]]:
        """The network exactly as an evaluation with ``seed`` trains it (for export), with its training metrics."""
        from evonas.kernels import torchnet

        torchnet.configure_worker_threads()
        data = self.splits()
        return torchnet.train_model(genome.lower(), self.macro, data, self.budget(len(data.train_x)), seed, torchnet.pick_device(self.device_name))

    def evaluate(self, genome: Genome, seed: int) -> tuple[float, dict[str, float]]:
        """Proxy-train and return validation accuracy."""
        metrics = self._train(genome, seed, with_test=False)
        return metrics["val_accuracy"], metrics

    def report(self, genome: Genome, seed: int) -> dict[str, float]:
        """Retrain with the same seed (hence the same validation accuracy) and add test accuracy."""
        return self._train(genome, seed, with_test=True)


#: The image tasks by --task name (the cell and motif families share them): (task class, fixed options).
IMAGE_TASKS: dict[str, tuple[type[Task], dict[str, Any]]] = {
    "fashion-mnist": (ImageClassification, {"dataset": "fashion-mnist"}),
    "fashion-mnist-full": (ImageClassification, {"dataset": "fashion-mnist-full"}),
    "mnist": (ImageClassification, {"dataset": "mnist"}),
    "cifar10": (ImageClassification, {"dataset": "cifar10"}),
}
