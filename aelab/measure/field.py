"""Measures of a reconstruction field in the plane (the lecture's tour on a 2-D toy set).

A model sends each point x of a grid to its reconstruction r(x); the arrows r(x) - x say
what it learnt about where the data lie:

- `mean_arrow_length`: how strongly the model pulls points, mean |r(x) - x|;
- `pull_towards_data`: mean cosine between r(x) - x and the direction from x to its nearest
  training point (1: every arrow points at the data; 0: no relation) — the lecture's
  "a denoising autoencoder pulls points back onto the manifold";
- `line_residual`: how far a set of points is from lying on one straight line (0 for the
  reconstructions of an undercomplete linear autoencoder with one unit: PCA's projection).
"""

from __future__ import annotations

import numpy as np


def mean_arrow_length(grid: np.ndarray, grid_reconstructed: np.ndarray) -> float:
    """Average |r(x) - x| over the grid: how strongly the model pulls points."""
    d = np.asarray(grid_reconstructed, np.float64) - np.asarray(grid, np.float64)
    return float(np.linalg.norm(d, axis=1).mean())


def pull_towards_data(grid: np.ndarray, grid_reconstructed: np.ndarray, data: np.ndarray,
                      min_distance: float = 0.1) -> float:
    """Mean cosine between each arrow r(x) - x and x's direction to its nearest data point,
    over the grid points at least `min_distance` from the data (nearer ones have no clear
    direction to the data) and with a non-zero arrow; NaN when no grid point qualifies."""
    grid = np.asarray(grid, np.float64)
    arrows = np.asarray(grid_reconstructed, np.float64) - grid
    data = np.asarray(data, np.float64)
    gaps = data[None, :, :] - grid[:, None, :]  # grid x data x 2
    distances = np.linalg.norm(gaps, axis=2)
    nearest = gaps[np.arange(len(grid)), distances.argmin(1)]
    far = distances.min(1) >= min_distance
    length = np.linalg.norm(arrows, axis=1)
    keep = far & (length > 1e-12)
    if not keep.any():
        return float("nan")
    cosines = (arrows[keep] * nearest[keep]).sum(1) / (length[keep] * np.linalg.norm(nearest[keep], axis=1))
    return float(cosines.mean())


def line_residual(points: np.ndarray) -> float:
    """The second singular value of the centred points over the first: 0 when they lie on a line."""
    points = np.asarray(points, np.float64)
    singular = np.linalg.svd(points - points.mean(0), compute_uv=False)
    return float(singular[1] / singular[0]) if singular.size > 1 and singular[0] > 0 else 0.0
