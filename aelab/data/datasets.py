"""`load(name, split)`: every dataset of the lab as float32 N x C x H x W in [0, 1]."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aelab.data import amat, mnist, store
from aelab.data.catalog import DATASETS, check_split, info
from aelab.data.errors import CorruptFile
from aelab.data.root import data_root, generated_dir


@dataclass
class Dataset:
    """One split of a dataset: images `x` (float32, N x C x H x W, in [0, 1]) and labels `y`."""

    x: torch.Tensor
    y: torch.Tensor
    name: str
    split: str
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, split={self.split!r}, x={tuple(self.x.shape)}, classes={len(self.classes)})"

    @property
    def n_features(self) -> int:
        return int(np.prod(self.x.shape[1:]))

    def to(self, device: torch.device | str) -> "Dataset":
        return Dataset(self.x.to(device), self.y.to(device), self.name, self.split, self.classes)

    def subset(self, index: torch.Tensor | slice) -> "Dataset":
        return Dataset(self.x[index], self.y[index], self.name, self.split, self.classes)


def _images(x: np.ndarray) -> torch.Tensor:
    """uint8 (N x H x W) or float -> float32 N x 1 x H x W in [0, 1]."""
    x = np.asarray(x)
    t = torch.from_numpy(x.astype(np.float32) / np.float32(255.0) if x.dtype == np.uint8 else x.astype(np.float32))
    return t.reshape(t.shape[0], 1, *t.shape[-2:]) if t.dim() == 3 else t


def _mnist_split(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    arrays = mnist.load_arrays(root)
    if split == "train":
        return arrays["train_x"][:50000], arrays["train_y"][:50000]
    if split == "valid":
        return arrays["train_x"][50000:], arrays["train_y"][50000:]
    return arrays["test_x"], arrays["test_y"]


def _digits_split(split: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(x))
    sizes = DATASETS["digits"].sizes
    start = {"train": 0, "valid": sizes[0], "test": sizes[0] + sizes[1]}[split]
    index = order[start: start + sizes[("train", "valid", "test").index(split)]]
    return x[index], bunch.target[index].astype(np.int64)


def generated_path(name: str, *, root: str | os.PathLike | None = None, seed: int = 0) -> Path:
    return store.cache_file(generated_dir(), name, seed)


def prepare(name: str, *, root: str | os.PathLike | None = None, seed: int = 0, progress: bool = False) -> Path | None:
    """Make sure a dataset is available on disk (download MNIST, generate and cache a set).

    Returns the cache file of a generated set, the MNIST folder, or None for `digits`.
    """
    meta = info(name)
    base = data_root(root)
    if meta.source == "digits":
        return None
    if meta.source == "mnist":
        mnist.ensure_files(base)
        return mnist.mnist_folder(base)
    if amat.find_originals(base, name) is not None:
        return amat.find_originals(base, name)[0].parent
    path = store.cache_file(generated_dir(), name, seed)
    if not path.exists():
        from aelab.data import benchmarks2007

        store.probe(path.parent)  # a cache that cannot be written fails now, not after generating

        pool = None
        if name.startswith("mnist"):
            arrays = mnist.load_arrays(base)
            pool = (np.concatenate([arrays["train_x"], arrays["test_x"]]),
                    np.concatenate([arrays["train_y"], arrays["test_y"]]).astype(np.int64))
        splits = benchmarks2007.generate(name, pool, seed=seed, progress=progress)
        for split, (x, _) in splits.items():
            if len(x) != meta.size(split):
                raise RuntimeError(f"generator for {name} made {len(x)} {split} examples, expected {meta.size(split)}")
        store.save_splits(path, splits)
    return path


def load(name: str, split: str = "train", *, root: str | os.PathLike | None = None, seed: int = 0) -> Dataset:
    """Load one split of a dataset by name.

    Parameters
    ----------
    name : one of `aelab.data.DATASETS` (mnist, mnist-basic, mnist-rot, mnist-bg-rand,
        mnist-bg-img, mnist-rot-bg-img, rectangles, rectangles-img, convex, digits).
    split : 'train', 'valid' or 'test'.
    root : data folder; default `$AELAB_DATA`, else `~/.cache/aelab` (see `aelab.settings`).
    seed : for generated sets and the `digits` split; the same seed gives the same data.
    """
    meta = info(name)
    check_split(split)
    base = data_root(root)
    if meta.source == "mnist":
        x, y = _mnist_split(base, split)
    elif meta.source == "digits":
        x, y = _digits_split(split, seed)
    elif (originals := amat.find_originals(base, name)) is not None:
        x, y = amat.load_split(originals, name, split)
    else:
        path = prepare(name, root=root, seed=seed)
        try:
            x, y = store.load_split(path, split)
        except CorruptFile:  # a damaged cache file is a miss: generate the set again
            path.unlink(missing_ok=True)
            x, y = store.load_split(prepare(name, root=root, seed=seed), split)
    return Dataset(_images(x), torch.from_numpy(np.asarray(y, dtype=np.int64)), name, split, meta.classes)


def status(name: str, *, root: str | os.PathLike | None = None, seed: int = 0) -> tuple[str, str]:
    """(state, location) for `aelab data list`: state is present/generated/missing/embedded/original."""
    meta = info(name)
    base = data_root(root)
    if meta.source == "digits":
        return "embedded", "scikit-learn"
    if meta.source == "mnist":
        return mnist.status(base), str(mnist.mnist_folder(base))
    originals = amat.find_originals(base, name)
    if originals is not None:
        return "original", str(originals[0].parent)
    path = store.cache_file(generated_dir(), name, seed)
    return ("generated" if path.exists() else "missing"), str(path)
