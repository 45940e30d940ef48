"""The encoder Jacobian J_f(x) = dh/dx and what it says about the manifold (lecture slides
"Contractive autoencoders and manifolds", "Contractive vs. denoising").

For a dense layer h = s(W x + b), J_f(x) = diag(s'(a)) W (n_hidden x n_visible), in closed
form (`encoder_jacobian`); `autograd_jacobian` is the same by automatic differentiation for
any model with `encode` (the tests check one against the other). Its singular values say in
how many directions the code moves with x: a contractive autoencoder keeps few large ones
(the directions along the data manifold) and squashes the rest; its top right-singular
vectors, drawn as images, are the tangent directions it learnt.

`score_field` is the exact score of the toy curve's density smoothed by N(0, s^2 I): the
curve's generating process (t ~ U(-1, 1), a point on the arc, Gaussian noise) makes p a
continuous mixture, approximated by many Gaussians along the arc.
"""

from __future__ import annotations

import numpy as np
import torch

from aelab.models.dense import _derivative, flat


def encoder_jacobian(model, x: torch.Tensor) -> torch.Tensor:
    """J_f(x) per example (N x n_hidden x n_visible) of a dense `Autoencoder`, in closed form."""
    x = flat(x)
    with torch.no_grad():
        h = model.encode(x)
        return _derivative(model.encoder_unit, h)[:, :, None] * model.W[None]


def autograd_jacobian(model, x: torch.Tensor) -> torch.Tensor:
    """J_f(x) per example by torch.func (any model with `encode` on one flat example)."""
    from torch.func import jacrev, vmap

    def one(v: torch.Tensor) -> torch.Tensor:
        return model.encode(v[None])[0]

    return vmap(jacrev(one))(flat(x).detach())


def singular_spectrum(jacobians: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(singular values N x r, top right-singular vectors N x r x n_visible) of each Jacobian."""
    _, s, vh = torch.linalg.svd(jacobians, full_matrices=False)
    return s.cpu().numpy(), vh.cpu().numpy()


def tangent_fraction(vectors: np.ndarray, tangent: np.ndarray) -> float:
    """The share of the tangent's squared norm inside the span of orthonormal `vectors` (k x d)."""
    t = tangent / (np.linalg.norm(tangent) or 1.0)
    return float(np.sum((vectors @ t) ** 2))


def curve_density_mixture(noise: float = 0.05, n: int = 2000) -> np.ndarray:
    """Centres (n x 2) of the Gaussians of width `noise` whose mixture is `aelab.data.toy.toy_curve`'s density."""
    t = np.linspace(-1.0, 1.0, n)
    return np.stack([1.3 * t, 0.9 * np.sin(2.4 * t)], axis=1)


def score_field(points: np.ndarray, std: float, centres: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(grad log p_s(x), log p_s(x)) at `points` for the mixture of N(c, std^2 I) over `centres`."""
    centres = curve_density_mixture() if centres is None else centres
    d = points[:, None, :] - centres[None]  # N x M x 2
    log_k = -0.5 * (d ** 2).sum(-1) / std ** 2
    top = log_k.max(1, keepdims=True)
    w = np.exp(log_k - top)
    z = w.sum(1, keepdims=True)
    log_p = (top + np.log(z))[:, 0] - np.log(len(centres)) - np.log(2 * np.pi * std ** 2)
    grad = -(w[:, :, None] * d).sum(1) / z / std ** 2
    return grad, log_p
