"""First-layer filters and how they change with the training noise (Vincent et al. Fig. 3).

A filter is one row of W (the incoming weights of one hidden unit) shown as an image.
Vincent et al. observe that without noise many filters stay "undistinctive almost uniform
grey patches" (they look like their random initialisation), and that more noise makes
filters more distinctive and less local. Measures, per filter w (energy e_i = w_i^2):

- concentration: share of the energy held by the 10% strongest pixels (random init: ~0.27);
- spread: energy-weighted standard deviation of the pixel positions, in pixels (locality);
- near-uniform: concentration below `uniform_threshold` (looks like noise);
- change: 1 - cos(w, w_init), how far training moved the filter from its initialisation;
- structure: the filter's spatial autocorrelation at a one-pixel shift (mean of horizontal
  and vertical), inside the image without its border (the border of MNIST is always blank,
  so its weights keep their initial noise): about 0 for random weights, 0.5-0.9 for blobs
  and strokes;
- like-start: share of filters whose structure is still below `like_start_structure` (0.2),
  i.e. that still look like their random start, spatially white noise: the paper's
  "uninteresting" filters. (How far a filter moved, `change`, is a different question: a
  filter can move a lot and stay noise-like.)
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


def structure(images: np.ndarray) -> np.ndarray:
    """Per filter, the lag-1 spatial autocorrelation (mean of the horizontal and vertical
    shifts) of its pixels inside the image less a border of 4/28 of its side."""
    images = np.asarray(images, dtype=np.float64)
    h, w = images.shape[-2:]
    bh, bw = int(round(h * 4 / 28)), int(round(w * 4 / 28))
    x = images[:, bh:h - bh, bw:w - bw]
    x = x - x.mean(axis=(1, 2), keepdims=True)

    def lag(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a * b).sum((1, 2)) / (np.sqrt((a * a).sum((1, 2)) * (b * b).sum((1, 2))) + 1e-12)

    return (lag(x[:, :-1, :], x[:, 1:, :]) + lag(x[:, :, :-1], x[:, :, 1:])) / 2


def filter_stats(images: np.ndarray, initial: np.ndarray | None = None, top: float = 0.1,
                 uniform_threshold: float = 0.35, like_start_structure: float = 0.2) -> dict[str, float]:
    """Mean concentration, mean spread (px), share of near-uniform filters, the median
    structure and the share of filters still noise-like (like their start); given the initial
    filters, the mean change from the initialisation and the median cos to it."""
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
    texture = structure(images)
    stats = {"concentration": float(concentration.mean()), "spread": float(np.sqrt(np.maximum(var, 0)).mean()),
             "near_uniform_share": float((concentration < uniform_threshold).mean()),
             "structure_median": float(np.median(texture)),
             "like_start_share": float((texture < like_start_structure).mean())}
    if initial is not None:
        cos = cos_to_start(images, initial)
        stats["change"] = float((1 - cos).mean())
        stats["cos_to_start_median"] = float(np.median(cos))
    return stats


def cos_to_start(images: np.ndarray, initial: np.ndarray) -> np.ndarray:
    """cos(w, w_init) per filter (the distribution behind `like_start_share`)."""
    a = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    b = np.asarray(initial, dtype=np.float64).reshape(len(images), -1)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
