"""A 2-D toy set for the lecture's tour: points near a curve (a 1-D manifold in the plane),
and a regular grid of points around it on which a model's reconstruction field is drawn.

    >>> from aelab.data.toy import toy_curve, grid_2d
    >>> points = toy_curve(400, seed=0)               # 400 x 2 float32, near a sine arc
    >>> grid = grid_2d((-1.6, 1.6, -1.6, 1.6), 17)    # 289 x 2 float32
"""

from __future__ import annotations

import numpy as np


def toy_curve(n: int, seed: int = 0, noise: float = 0.05) -> np.ndarray:
    """n points near an arc of a sine curve in [-1.4, 1.4]^2 (float32, n x 2)."""
    if n < 1:
        raise ValueError(f"the toy curve needs at least one point, got n={n}")
    rng = np.random.default_rng(seed)
    t = rng.uniform(-1.0, 1.0, n)
    points = np.stack([1.3 * t, 0.9 * np.sin(2.4 * t)], axis=1)
    return (points + noise * rng.normal(size=points.shape)).astype(np.float32)


def grid_2d(bounds: tuple[float, float, float, float], n: int = 15) -> np.ndarray:
    """n*n points (float32, n^2 x 2) evenly covering (x_min, x_max, y_min, y_max)."""
    x_min, x_max, y_min, y_max = bounds
    xs, ys = np.meshgrid(np.linspace(x_min, x_max, n), np.linspace(y_min, y_max, n))
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
