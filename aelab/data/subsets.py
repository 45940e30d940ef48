"""Helpers the experiments share: balanced labelled subsets and pixel translations."""

from __future__ import annotations

import torch


def balanced_subset(y: torch.Tensor, n_labels: int, *, n_classes: int | None = None, seed: int = 0) -> torch.Tensor:
    """Indices of `n_labels` examples, n_labels / n_classes of each class, drawn with `seed`.

    Used for semi-supervised runs (e.g. 100 MNIST labels = 10 per digit); the rest of the
    training set is the unlabelled part.
    """
    n_classes = int(y.max()) + 1 if n_classes is None else n_classes
    if n_labels <= 0 or n_labels % n_classes:
        raise ValueError(f"n_labels={n_labels} must be a positive multiple of the {n_classes} classes")
    per_class = n_labels // n_classes
    gen = torch.Generator().manual_seed(seed)
    chosen = []
    y_cpu = y.cpu()
    for c in range(n_classes):
        members = torch.nonzero(y_cpu == c).flatten()
        if len(members) < per_class:
            raise ValueError(f"class {c} has {len(members)} examples, fewer than the {per_class} asked for")
        chosen.append(members[torch.randperm(len(members), generator=gen)[:per_class]])
    return torch.sort(torch.cat(chosen)).values


def translate(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Shift images (N x C x H x W) by integer pixels, dx to the right and dy down, filling with 0.

    Content pushed past the border is lost (no wrap-around), as for a digit moved inside a
    fixed frame.
    """
    if x.dim() != 4:
        raise ValueError(f"translate expects N x C x H x W images, got shape {tuple(x.shape)}")
    dx, dy = int(dx), int(dy)
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    if abs(dx) >= w or abs(dy) >= h:
        return out
    src_y = slice(max(0, -dy), h - max(0, dy))
    dst_y = slice(max(0, dy), h - max(0, -dy))
    src_x = slice(max(0, -dx), w - max(0, dx))
    dst_x = slice(max(0, dx), w - max(0, -dx))
    out[..., dst_y, dst_x] = x[..., src_y, src_x]
    return out


def pad_to(x: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad images symmetrically to size x size (e.g. MNIST 28 -> 32 as in Zhao et al.)."""
    h, w = x.shape[-2:]
    if size < h or size < w:
        raise ValueError(f"cannot pad {h}x{w} images down to {size}x{size}")
    top, left = (size - h) // 2, (size - w) // 2
    return torch.nn.functional.pad(x, (left, size - w - left, top, size - h - top))
