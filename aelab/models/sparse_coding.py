"""Sparse coding (lecture slides "Sparse coding: definition / estimation / encoder & decoder"):

    min_{D, W}  ||X - W D||^2 + lambda ||W||_1          X: N x d data, D: K x d atoms (rows), W: N x K codes

    encoder  x -> w = argmin_w ||x^T - w^T D||^2 + lambda ||w||_1      one LASSO problem per input
    decoder  w -> x_hat^T = w^T D

`lasso_fista` solves a batch of such LASSO problems at once on the device (FISTA: proximal
gradient with Nesterov momentum; optionally with the PSD prediction term gamma ||w - p||^2).
The atoms start at unit norm and stay in the unit ball (as scikit-learn's `||d_k|| <= 1`):
without it the L1 term could be shrunk for free by growing D. The dictionary is learnt by the slides' alternation in
`aelab.train.dictionary.learn_dictionary`; `loss` gives the same objective per example, with
the codes solved (and held fixed) so the gradient reaches the dictionary.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from aelab.models.registry import register


def soft_threshold(v: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    return torch.sign(v) * torch.clamp(v.abs() - t, min=0.0)


@torch.no_grad()
def lasso_fista(X: torch.Tensor, D: torch.Tensor, lam: float, *, n_iter: int = 200, tol: float = 1e-6,
                w0: torch.Tensor | None = None, gamma: float = 0.0, prior: torch.Tensor | None = None,
                lipschitz: float | None = None) -> tuple[torch.Tensor, int]:
    """Codes W (N x K) minimising, row by row, ||x - w D||^2 + lam ||w||_1 (+ gamma ||w - p||^2).

    FISTA with step 1/L, L = 2 (sigma_max(D)^2 + gamma); stops after `n_iter` iterations or
    when no code entry moved by more than `tol` (times the largest entry). Returns (W, iterations)."""
    X = X.reshape(X.shape[0], -1)
    if gamma and prior is None:
        raise ValueError("the prediction term gamma ||w - p||^2 needs the prediction p (prior=)")
    gram = D @ D.T  # K x K
    if lipschitz is None:
        lipschitz = 2.0 * (float(torch.linalg.matrix_norm(D, ord=2)) ** 2 + gamma)
    step = 1.0 / lipschitz
    xd = X @ D.T  # N x K
    if gamma:
        xd = xd + gamma * prior
    w = torch.zeros(X.shape[0], D.shape[0], dtype=X.dtype, device=X.device) if w0 is None else w0.clone()
    y, t, it = w.clone(), 1.0, 0
    for it in range(1, n_iter + 1):
        grad = 2.0 * (y @ gram - xd)
        if gamma:
            grad = grad + 2.0 * gamma * y
        w_next = soft_threshold(y - step * grad, lam * step)
        t_next = (1.0 + (1.0 + 4.0 * t * t) ** 0.5) / 2.0
        y = w_next + ((t - 1.0) / t_next) * (w_next - w)
        moved = float((w_next - w).abs().max()) if w.numel() else 0.0
        scale = max(float(w_next.abs().max()) if w.numel() else 0.0, 1e-12)
        w, t = w_next, t_next
        if tol and moved <= tol * scale:
            break
    return w, it


def objective(X: torch.Tensor, W: torch.Tensor, D: torch.Tensor, lam: float) -> float:
    """The slides' objective per example: (||X - W D||^2 + lam ||W||_1) / N."""
    X = X.reshape(X.shape[0], -1)
    return float(((X - W @ D).pow(2).sum() + lam * W.abs().sum()) / X.shape[0])


def unit_rows(D: torch.Tensor) -> torch.Tensor:
    return D / D.norm(dim=1, keepdim=True).clamp_min(1e-12)


@dataclass
class SparseCodingConfig:
    n_visible: int = 784
    n_hidden: int = 64  # atoms K
    lam: float = 0.5  # lambda of the slides' objective (scikit-learn's alpha = lambda / 2)
    n_iter: int = 200  # FISTA iterations of one encoding (at most)
    tol: float = 1e-5


@register("sparse-coding")
class SparseCoding(nn.Module):
    """A dictionary D (K x d, unit rows); encode = one LASSO solve per input, decode = w D."""

    Config = SparseCodingConfig

    def __init__(self, config: SparseCodingConfig, generator: torch.Generator | None = None):
        super().__init__()
        if config.n_visible < 1 or config.n_hidden < 1 or config.lam < 0:
            raise ValueError(f"bad sparse-coding settings: {config}")
        self.config = config
        init = torch.randn(config.n_hidden, config.n_visible, generator=generator)
        self.D = nn.Parameter(unit_rows(init))

    @classmethod
    def from_config(cls, config: SparseCodingConfig, generator: torch.Generator | None = None):
        return cls(config, generator)

    def encode(self, x: torch.Tensor, w0: torch.Tensor | None = None) -> torch.Tensor:
        return lasso_fista(x.reshape(x.shape[0], -1), self.D.detach(), self.config.lam, n_iter=self.config.n_iter,
                           tol=self.config.tol, w0=w0)[0]

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return code @ self.D

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)).reshape(x.shape)

    forward = reconstruct

    def loss(self, x: torch.Tensor, *rest, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        flat = x.reshape(x.shape[0], -1)
        w = self.encode(flat)
        reconstruction = (flat - self.decode(w)).pow(2).sum(1).mean()
        sparsity = self.config.lam * w.abs().sum(1).mean()
        return {"reconstruction": reconstruction, "sparsity_l1": sparsity, "total": reconstruction + sparsity}
