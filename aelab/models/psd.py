"""Predictive sparse decomposition (lecture slide "Non-linear analogue"; Kavukcuoglu, Ranzato,
LeCun 2008):

    min_theta  ||x - g(h)||^2 + lambda ||h||_1 + gamma ||h - f(x)||^2

g(h) = h D is a linear dictionary (unit-norm rows, as in sparse coding); the fast encoder is
f(x) = shrink_theta(W x + b), a soft threshold with a learnt threshold per unit, so its
codes have exact zeros like the sparse codes. For a batch, `loss` first infers the optimal
codes h* (FISTA on the whole objective, started at f(x), held fixed), then returns the three
terms: `reconstruction` ||x - h* D||^2, `sparsity_l1` lambda ||h*||_1 (a constant for the
gradient) and `reconstruction_middle` gamma ||h* - f(x)||^2, the encoder predicting the code
(the vocabulary's term for reconstructing an intermediate representation).
`encode(x)` is the fast encoder f(x); `sparse_codes(x)` the iterative solver (gamma = 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from aelab.models.registry import register
from aelab.models.sparse_coding import lasso_fista, unit_rows


@dataclass
class PSDConfig:
    n_visible: int = 784
    n_hidden: int = 64
    lam: float = 0.5
    gamma: float = 1.0
    n_iter: int = 100  # FISTA iterations of the code inference during training
    tol: float = 1e-4


@register("psd")
class PredictiveSparseDecomposition(nn.Module):
    Config = PSDConfig

    def __init__(self, config: PSDConfig, generator: torch.Generator | None = None):
        super().__init__()
        if config.n_visible < 1 or config.n_hidden < 1 or config.lam < 0 or config.gamma < 0:
            raise ValueError(f"bad PSD settings: {config}")
        self.config = config
        r = math.sqrt(6.0 / (config.n_visible + config.n_hidden))
        self.W = nn.Parameter(torch.empty(config.n_hidden, config.n_visible).uniform_(-r, r, generator=generator))
        self.b = nn.Parameter(torch.zeros(config.n_hidden))
        self.threshold = nn.Parameter(torch.full((config.n_hidden,), 0.01))
        self.V = nn.Parameter(torch.randn(config.n_hidden, config.n_visible, generator=generator))

    @classmethod
    def from_config(cls, config: PSDConfig, generator: torch.Generator | None = None):
        return cls(config, generator)

    @property
    def dictionary(self) -> torch.Tensor:
        return unit_rows(self.V)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The fast encoder f(x) = sign(u) max(|u| - theta, 0), u = W x + b."""
        u = x.reshape(x.shape[0], -1) @ self.W.t() + self.b
        return torch.sign(u) * torch.relu(u.abs() - self.threshold.abs())

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return code @ self.dictionary

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)).reshape(x.shape)

    forward = reconstruct

    def sparse_codes(self, x: torch.Tensor, n_iter: int | None = None, tol: float | None = None) -> torch.Tensor:
        """The optimal sparse codes of the dictionary (one LASSO solve per input, no encoder)."""
        return lasso_fista(x.reshape(x.shape[0], -1), self.dictionary.detach(), self.config.lam,
                           n_iter=n_iter or self.config.n_iter, tol=self.config.tol if tol is None else tol)[0]

    def loss(self, x: torch.Tensor, *rest, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        flat = x.reshape(x.shape[0], -1)
        prediction = self.encode(flat)
        h, _ = lasso_fista(flat, self.dictionary.detach(), self.config.lam, n_iter=self.config.n_iter,
                           tol=self.config.tol, w0=prediction.detach(), gamma=self.config.gamma,
                           prior=prediction.detach())
        reconstruction = (flat - self.decode(h)).pow(2).sum(1).mean()
        sparsity = self.config.lam * h.abs().sum(1).mean()
        middle = self.config.gamma * (h - prediction).pow(2).sum(1).mean()
        return {"reconstruction": reconstruction, "sparsity_l1": sparsity, "reconstruction_middle": middle,
                "total": reconstruction + sparsity + middle}
