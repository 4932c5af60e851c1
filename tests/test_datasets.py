"""Dataset loaders on files the tests write in the real formats (IDX, CIFAR-10 python batches)."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from evonas.datasets import load_cifar10, load_dataset, load_embedded, load_idx_dataset, read_idx
from evonas.errors import UserError


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> None:
    header = b"\0\0\x08" + bytes([array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def fake_mnist(folder: Path, n_train: int = 600, n_test: int = 100, compress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    labels = np.arange(n_train, dtype=np.uint8) % 10
    suffix = ".gz" if compress else ""
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", images, compress)
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", labels, compress)
    write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", images[:n_test], compress)
    write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", labels[:n_test], compress)
    return images, labels


@pytest.mark.parametrize("compress", [True, False])
def test_idx_dataset_loads_with_a_stratified_validation_split(tmp_path: Path, compress: bool) -> None:
    """Gzip or raw IDX files load; validation is held out of train, class-balanced and disjoint."""
    images, labels = fake_mnist(tmp_path, compress=compress)
    data = load_idx_dataset(tmp_path)
    assert data["train_x"].shape[1:] == (28, 28) and len(data["train_x"]) + len(data["val_x"]) == 600
    assert np.bincount(data["val_y"]).tolist() == [10] * 10
    assert len(data["test_x"]) == 100
    train_rows = {row.tobytes() for row in data["train_x"]}
    assert not any(row.tobytes() in train_rows for row in data["val_x"])


def test_idx_rejects_bad_magic_and_truncation(tmp_path: Path) -> None:
    """A wrong type byte or a short file is a UserError naming the file."""
    path = tmp_path / "x.idx"
    path.write_bytes(b"\0\0\x09\x01\0\0\0\x02ab")
    with pytest.raises(UserError, match="bad magic"):
        read_idx(path)
    write_idx(path, np.zeros((4, 2, 2)), compress=False)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(UserError, match="truncated"):
        read_idx(path)


def test_cifar10_python_batches_load(tmp_path: Path) -> None:
    """CIFAR-10 batches (pickled dicts of bytes keys) load as NHWC uint8 with held-out validation."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for name, n in [("data_batch_1", 200), ("data_batch_2", 200), ("test_batch", 50)]:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": [i % 10 for i in range(n)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    data = load_cifar10(tmp_path)
    assert data["train_x"].shape[1:] == (32, 32, 3)
    assert len(data["train_x"]) + len(data["val_x"]) == 400 and len(data["test_x"]) == 50
    raw = pickle.loads((folder / "test_batch").read_bytes())[b"data"][0]
    assert np.array_equal(data["test_x"][0][..., 0].ravel(), raw[:1024])


def test_cifar_loader_refuses_pickles_that_could_run_code(tmp_path: Path) -> None:
    """Only numpy arrays and plain containers are admitted, so a hostile batch cannot execute anything."""
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": Path("/etc/passwd")}))
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({b"data": Path("/etc/passwd")}))
    with pytest.raises(UserError, match="not a readable CIFAR-10"):
        load_cifar10(tmp_path)


def test_embedded_subset_is_stratified_with_fixed_splits() -> None:
    """6,000 / 1,500 / 1,500 images, equal per class, 28x28 uint8."""
    data = load_embedded()
    assert [len(data[k]) for k in ("train_x", "val_x", "test_x")] == [6000, 1500, 1500]
    assert np.bincount(data["train_y"]).tolist() == [600] * 10
    assert np.bincount(data["val_y"]).tolist() == [150] * 10
    assert data["train_x"].dtype == np.uint8 and data["train_x"].shape[1:] == (28, 28)


def test_missing_dataset_folders_say_what_to_pass(tmp_path: Path) -> None:
    """Not-shipped datasets without --data-dir, or an empty folder, give a UserError with the fix."""
    with pytest.raises(UserError, match="--data-dir"):
        load_dataset("mnist", None)
    with pytest.raises(UserError, match="--data-dir"):
        load_dataset("mnist", tmp_path)
    with pytest.raises(UserError, match="CIFAR-10"):
        load_dataset("cifar10", tmp_path)
