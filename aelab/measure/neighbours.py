"""Do examples of one class gather? The leave-one-out nearest-neighbour error of a set of
points (codes or raw pixels): each point takes the label of its nearest other point."""

from __future__ import annotations

import numpy as np
import torch


def nearest_neighbour_error(points, labels, batch_size: int = 2048) -> float:
    """Fraction (in [0, 1]) of points whose nearest other point (Euclidean) has another label."""
    x = torch.as_tensor(np.asarray(points, dtype=np.float32)).reshape(len(points), -1)
    y = torch.as_tensor(np.asarray(labels)).reshape(-1)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} points but {len(y)} labels")
    if len(x) < 2:
        raise ValueError("the nearest-neighbour error needs at least two points")
    wrong = 0
    for start in range(0, len(x), batch_size):
        d = torch.cdist(x[start:start + batch_size], x)
        rows = torch.arange(d.shape[0])
        d[rows, rows + start] = float("inf")  # not its own neighbour
        wrong += int((y[d.argmin(1)] != y[start:start + batch_size]).sum())
    return wrong / len(x)
