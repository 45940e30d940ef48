"""The examples an experiment or a dashboard works on: `images` (one split as tensors) and
`splits` (train, valid and test as `Dataset`s).

    >>> from aelab import data
    >>> x, y = data.images("mnist", "test", 500, size=32, device="cpu")   # 500 x 1 x 32 x 32
    >>> x, y = data.images("digits", "train", 300, flat=True, shuffle=0)  # 300 random, 300 x 64
    >>> train, valid, test = data.splits("mnist-rot", "cpu", n_train=2000)
"""

from __future__ import annotations

import torch

from aelab.data.datasets import Dataset, load
from aelab.data.subsets import pad_to


def images(name: str, split: str = "train", n: int | None = None, *, size: int | None = None, flat: bool = False,
           shuffle: int | None = None, device: torch.device | str = "cpu",
           seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) of one split on `device`: x float32 N x C x H x W in [0, 1], y int64 labels.

    n : how many examples: the first n (all when None); more than the split holds, or
        fewer than one, is an error.
    size : zero-pad the images symmetrically to size x size (MNIST 28 -> 32 for the conv nets).
    flat : x as N x (C H W) instead of N x C x H x W.
    shuffle : a seed: take n examples drawn at random with it instead of the first n.
    seed : the dataset's own seed (generated sets, the `digits` split), as for `load`.
    """
    ds = load(name, split, seed=seed)
    if n is not None and not 0 < n <= len(ds):
        raise ValueError(f"{name}/{split} has {len(ds)} examples; ask for 1 to {len(ds)}, not {n}")
    index: torch.Tensor | slice = slice(0, n)
    if shuffle is not None:
        index = torch.randperm(len(ds), generator=torch.Generator().manual_seed(shuffle))[:n]
    x, y = ds.x[index], ds.y[index]
    if size is not None:
        x = pad_to(x, size)
    if flat:
        x = x.reshape(len(x), -1)
    return x.to(device), y.to(device)


def splits(name: str, device: torch.device | str = "cpu", n_train: int | None = None, n_valid: int | None = None,
           n_test: int | None = None, seed: int = 0) -> tuple[Dataset, Dataset, Dataset]:
    """train, valid, test of dataset `name` on `device`, each cut to at most its first n
    examples (0 or None = the whole split; a split with fewer keeps all of them)."""
    out = []
    for split, n in (("train", n_train), ("valid", n_valid), ("test", n_test)):
        d = load(name, split, seed=seed)
        out.append((d.subset(slice(0, n)) if n else d).to(device))
    return tuple(out)  # type: ignore[return-value]
