"""First-layer filters and how they change with the training noise (Vincent et al. Fig. 3).

A filter is one row of W (the incoming weights of one hidden unit) shown as an image.
Vincent et al. observe that without noise many filters stay "undistinctive almost uniform
grey patches" (they look like their random initialisation), and that more noise makes
filters more distinctive and less local. Measures, per filter w (energy e_i = w_i^2):

- concentration: share of the energy held by the 10% strongest pixels (random init: ~0.27);
- spread: energy-weighted standard deviation of the pixel positions, in pixels (locality);
- near-uniform: concentration below `uniform_threshold` (looks like noise);
- change: 1 - cos(w, w_init), how far training moved the filter from its initialisation;
- like-start: share of filters with cos(w, w_init) >= `like_start_cos` (0.8): filters that
  still look like their random start, the paper's "uninteresting" ones (needs w_init).
"""

from __future__ import annotations

import numpy as np


def filters(layer, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Rows of a layer's W (or of a weight array) as images: n_hidden x H x W."""
    w = getattr(layer, "W", layer)
    w = w.detach().cpu().numpy() if hasattr(w, "detach") else np.asarray(w)
    d = w.shape[1]
    if shape is None:
        side = int(round(np.sqrt(d)))
        if side * side != d:
            raise ValueError(f"cannot show {d} inputs as a square image: give shape=(H, W)")
        shape = (side, side)
    return w.reshape(w.shape[0], *shape).astype(np.float32)


def filter_stats(images: np.ndarray, initial: np.ndarray | None = None, top: float = 0.1,
                 uniform_threshold: float = 0.35, like_start_cos: float = 0.8) -> dict[str, float]:
    """Mean concentration, mean spread (px), share of near-uniform filters and, given the
    initial filters, mean change from the initialisation and the share still like it."""
    images = np.asarray(images, dtype=np.float64)
    n, h, w = images.shape
    energy = images.reshape(n, -1) ** 2
    total = energy.sum(1) + 1e-12
    k = max(1, int(round(top * h * w)))
    concentration = np.sort(energy, axis=1)[:, -k:].sum(1) / total
    rows, cols = np.mgrid[0:h, 0:w]
    p = energy / total[:, None]
    mr, mc = p @ rows.ravel(), p @ cols.ravel()
    var = p @ (rows.ravel() ** 2) - mr ** 2 + p @ (cols.ravel() ** 2) - mc ** 2
    stats = {"concentration": float(concentration.mean()), "spread": float(np.sqrt(np.maximum(var, 0)).mean()),
             "near_uniform_share": float((concentration < uniform_threshold).mean())}
    if initial is not None:
        cos = cos_to_start(images, initial)
        stats["change"] = float((1 - cos).mean())
        stats["like_start_share"] = float((cos >= like_start_cos).mean())
        stats["cos_to_start_median"] = float(np.median(cos))
    return stats


def cos_to_start(images: np.ndarray, initial: np.ndarray) -> np.ndarray:
    """cos(w, w_init) per filter (the distribution behind `like_start_share`)."""
    a = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    b = np.asarray(initial, dtype=np.float64).reshape(len(images), -1)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
