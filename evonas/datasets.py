"""Image datasets: the embedded Fashion-MNIST subset, and loaders for IDX (MNIST / Fashion-MNIST) and CIFAR-10 files.

Every loader returns uint8 arrays ``train_x, train_y, val_x, val_y, test_x, test_y`` (images NHW or NHWC).
"""

from __future__ import annotations

import gzip
import io
import pickle
from importlib import resources
from pathlib import Path

import numpy as np

from evonas.errors import UserError

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
VALIDATION_SIZE = 5000
SPLIT_SEED = 20171025  # fixed, so every run on the same files sees the same validation split


def load_embedded() -> dict[str, np.ndarray]:
    """The shipped stratified Fashion-MNIST subset: 6,000 train / 1,500 validation (both from the official
    training set, disjoint) / 1,500 test (from the official test set), 28x28 grayscale, MIT licence."""
    with resources.files("evonas.data").joinpath("fashion_mnist_subset.npz").open("rb") as f:
        with np.load(io.BytesIO(f.read())) as z:
            return {k: z[k] for k in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")}


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into a uint8 array, checking its magic and size."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0:2] != b"\0\0" or raw[2] != 0x08:
        raise UserError(f"{path} is not an unsigned-byte IDX file (bad magic number); check the file or re-download it")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise UserError(f"{path} has {len(raw)} bytes but its header promises {expected}; the file is truncated")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def _find(directory: Path, stem: str) -> Path:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.exists():
            return candidate
    raise UserError(f"{directory} has no {stem}[.gz]; point --data-dir at a folder holding the four IDX files")


def stratified_holdout(labels: np.ndarray, size: int, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (train, validation) with a class-stratified validation set of about ``size``."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    val = []
    for c in classes:
        members = np.flatnonzero(labels == c)
        take = round(size * len(members) / len(labels))
        val.append(rng.choice(members, take, replace=False))
    val_idx = np.sort(np.concatenate(val))
    mask = np.ones(len(labels), dtype=bool)
    mask[val_idx] = False
    return np.flatnonzero(mask), val_idx


def load_idx_dataset(directory: Path) -> dict[str, np.ndarray]:
    """Full MNIST or Fashion-MNIST from IDX files, with a stratified 5,000-image validation split held out of train."""
    if not directory.is_dir():
        raise UserError(f"data folder {directory} does not exist; pass --data-dir with the IDX files")
    train_x = read_idx(_find(directory, "train-images-idx3-ubyte"))
    train_y = read_idx(_find(directory, "train-labels-idx1-ubyte"))
    test_x = read_idx(_find(directory, "t10k-images-idx3-ubyte"))
    test_y = read_idx(_find(directory, "t10k-labels-idx1-ubyte"))
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise UserError(f"image and label counts differ in {directory}; the files do not belong together")
    train_idx, val_idx = stratified_holdout(train_y, min(VALIDATION_SIZE, len(train_y) // 6))
    return {
        "train_x": train_x[train_idx], "train_y": train_y[train_idx],
        "val_x": train_x[val_idx], "val_y": train_y[val_idx],
        "test_x": test_x, "test_y": test_y,
    }


def fashion_mnist_dir(data_dir: Path | None) -> Path:
    """Where full Fashion-MNIST lives: ``--data-dir`` first, then Debian's package location."""
    if data_dir is not None:
        return data_dir
    if DEBIAN_FASHION_MNIST.is_dir():
        return DEBIAN_FASHION_MNIST
    raise UserError(
        "full Fashion-MNIST not found: pass --data-dir, or install it with 'apt-get install dataset-fashion-mnist'"
    )


class _CifarUnpickler(pickle.Unpickler):
    """Unpickler that admits only what a CIFAR-10 batch holds, so a hostile file cannot run code."""

    ALLOWED = {
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"CIFAR batch refers to {module}.{name}, which a CIFAR-10 batch never holds")
        return super().find_class(module, name)


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch as (N, 32, 32, 3) uint8 images and labels."""
    try:
        with open(path, "rb") as f:
            batch = _CifarUnpickler(f, encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.uint8)
    except (OSError, pickle.UnpicklingError, KeyError, EOFError, ValueError, TypeError) as exc:
        raise UserError(f"{path} is not a readable CIFAR-10 python batch ({exc}); re-extract cifar-10-python.tar.gz") from None
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise UserError(f"{path} does not hold 3072-byte CIFAR-10 images with one label each")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def load_cifar10(directory: Path) -> dict[str, np.ndarray]:
    """CIFAR-10 from the python batches (data_batch_1..5, test_batch), 5,000 stratified training images held out for validation."""
    folder = directory / "cifar-10-batches-py" if (directory / "cifar-10-batches-py").is_dir() else directory
    if not (folder / "test_batch").exists():
        raise UserError(f"{directory} holds no CIFAR-10 python batches; extract cifar-10-python.tar.gz there")
    parts = [read_cifar_batch(p) for p in sorted(folder.glob("data_batch_*"))]
    if not parts:
        raise UserError(f"{folder} has test_batch but no data_batch_* files")
    train_x = np.concatenate([p[0] for p in parts])
    train_y = np.concatenate([p[1] for p in parts])
    test_x, test_y = read_cifar_batch(folder / "test_batch")
    train_idx, val_idx = stratified_holdout(train_y, min(VALIDATION_SIZE, len(train_y) // 10))
    return {
        "train_x": train_x[train_idx], "train_y": train_y[train_idx],
        "val_x": train_x[val_idx], "val_y": train_y[val_idx],
        "test_x": test_x, "test_y": test_y,
    }


def load_dataset(name: str, data_dir: Path | None) -> dict[str, np.ndarray]:
    """Load a named image dataset (see ``IMAGE_DATASETS``)."""
    if name == "fashion-mnist":
        return load_embedded()
    if name == "fashion-mnist-full":
        return load_idx_dataset(fashion_mnist_dir(data_dir))
    if name == "mnist":
        if data_dir is None:
            raise UserError("MNIST is not shipped: pass --data-dir with the four MNIST IDX files")
        return load_idx_dataset(data_dir)
    if name == "cifar10":
        if data_dir is None:
            raise UserError("CIFAR-10 is not shipped: pass --data-dir with the extracted python batches")
        return load_cifar10(data_dir)
    raise UserError(f"unknown image dataset {name!r}; choose one of {', '.join(IMAGE_DATASETS)}")


#: Image datasets by task name, with the shape of one image (H, W, C).
IMAGE_DATASETS: dict[str, tuple[int, int, int]] = {
    "fashion-mnist": (28, 28, 1),
    "fashion-mnist-full": (28, 28, 1),
    "mnist": (28, 28, 1),
    "cifar10": (32, 32, 3),
}
