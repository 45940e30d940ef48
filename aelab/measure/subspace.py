"""Linear undercomplete autoencoder vs PCA (lecture: "undercomplete autoencoder with linear
transformations projects data on the subspace of the first K principal components").

A linear AE x_r = W' (W x + b) + b' trained with squared error spans, with its decoder
columns W', the same subspace as the top-K principal directions; the principal angles
between the two subspaces measure how close training came.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import subspace_angles


def _numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def pca_basis(x, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(top-k principal directions as a d x k orthonormal matrix, the data mean)."""
    x = _numpy(x).reshape(len(_numpy(x)), -1)
    if not 1 <= k <= min(x.shape):
        raise ValueError(f"k must lie in 1..{min(x.shape)}, got {k}")
    mean = x.mean(0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return vt[:k].T, mean


def pca_reconstruction_error(x, k: int) -> float:
    """Mean squared error per example (summed over components) of the rank-k PCA reconstruction."""
    x = _numpy(x).reshape(len(_numpy(x)), -1)
    basis, mean = pca_basis(x, k)
    centred = x - mean
    return float(((centred - centred @ basis @ basis.T) ** 2).sum(1).mean())


def principal_angles(a, b) -> np.ndarray:
    """Principal angles in degrees (ascending) between the column spans of a and b (d x k each)."""
    a, b = _numpy(a), _numpy(b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"subspaces live in different spaces: {a.shape[0]} vs {b.shape[0]} dimensions")
    return np.sort(np.degrees(subspace_angles(a, b)))
