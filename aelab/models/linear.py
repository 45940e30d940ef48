"""A tied linear autoencoder (lecture slides, "undercomplete autoencoder"):

    h   = W x + b                     encoder, k < d units
    x_r = W^T h + b'                  decoder, tied
    L   = ||x - x_r||^2               squared error per example, averaged over a batch

At its minimum the rows of W span the top-k principal subspace of the data, and tying
pushes them towards an orthonormal basis of it (W W^T -> I), which the untied `linear`
model (`aelab.models.dense`) does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from aelab.models.registry import register


@dataclass
class TiedLinearConfig:
    n_visible: int = 784
    n_hidden: int = 10


@register("tied-linear")
class TiedLinearAutoencoder(nn.Module):
    Config = TiedLinearConfig

    def __init__(self, config: TiedLinearConfig, generator: torch.Generator | None = None):
        super().__init__()
        if config.n_visible < 1 or config.n_hidden < 1:
            raise ValueError(f"layer sizes must be positive, got {config.n_visible} -> {config.n_hidden}")
        self.config = config
        r = math.sqrt(6.0 / (config.n_visible + config.n_hidden))
        self.W = nn.Parameter(torch.empty(config.n_hidden, config.n_visible).uniform_(-r, r, generator=generator))
        self.b = nn.Parameter(torch.zeros(config.n_hidden))
        self.b_prime = nn.Parameter(torch.zeros(config.n_visible))

    @classmethod
    def from_config(cls, config: TiedLinearConfig, generator: torch.Generator | None = None):
        return cls(config, generator)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """h = W x + b."""
        return x.reshape(x.shape[0], -1) @ self.W.t() + self.b

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """x_r = W^T h + b'."""
        return h @ self.W + self.b_prime

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)).reshape(x.shape)

    forward = reconstruct

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        error = (self.reconstruct(x) - x).reshape(x.shape[0], -1).pow(2).sum(1).mean()
        return {"reconstruction": error, "total": error}
