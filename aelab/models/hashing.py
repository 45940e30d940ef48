"""Semantic hashing (lecture slides "Semantic hashing", "Binarization of representation"):

    u = W2 s(W1 x + b1) + b2              the code layer's input (n_hidden = bits), s = relu or sigmoid
    h = sigmoid(u + noise)                 noise ~ N(0, noise^2) during training only
    x_r = sigmoid(W4 s(W3 h + b3) + b4)    decoder; cross-entropy reconstruction

To get its message through the noise the model has to push u far from 0, so the sigmoid
saturates and h ~ 0/1: thresholding h at 1/2 (`binary`) then loses little. `encode(x)` gives
the noise-free activations h (before the threshold). `n_middle = 0` drops the middle layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aelab.models.registry import register


def _layer(n_in: int, n_out: int, generator: torch.Generator | None) -> tuple[nn.Parameter, nn.Parameter]:
    r = math.sqrt(6.0 / (n_in + n_out))
    return (nn.Parameter(torch.empty(n_out, n_in).uniform_(-r, r, generator=generator)),
            nn.Parameter(torch.zeros(n_out)))


@dataclass
class HashingConfig:
    n_visible: int = 784
    n_hidden: int = 32  # bits
    n_middle: int = 256  # units of the layer before and after the code (0: none)
    noise: float = 4.0  # std of the Gaussian noise added before the code's sigmoid in training
    middle: str = "relu"  # activation of the middle layers: "relu" or "sigmoid"


@register("hashing")
class SemanticHashing(nn.Module):
    Config = HashingConfig

    def __init__(self, config: HashingConfig, generator: torch.Generator | None = None):
        super().__init__()
        if config.n_visible < 1 or config.n_hidden < 1 or config.n_middle < 0 or config.noise < 0 or \
                config.middle not in ("relu", "sigmoid"):
            raise ValueError(f"bad hashing settings: {config}")
        self.config = config
        d, k, m = config.n_visible, config.n_hidden, config.n_middle
        sizes = [d, m, k] if m else [d, k]
        self.encoder = nn.ParameterList([p for a, b in zip(sizes, sizes[1:]) for p in _layer(a, b, generator)])
        back = sizes[::-1]
        self.decoder = nn.ParameterList([p for a, b in zip(back, back[1:]) for p in _layer(a, b, generator)])

    @classmethod
    def from_config(cls, config: HashingConfig, generator: torch.Generator | None = None):
        return cls(config, generator)

    def pre_code(self, x: torch.Tensor) -> torch.Tensor:
        """u: the input of the code's sigmoid."""
        return self._affine_stack(x.reshape(x.shape[0], -1), self.encoder)

    def _affine_stack(self, h: torch.Tensor, weights) -> torch.Tensor:
        """h -> W_1 h + b_1 -> s(.) -> ... -> W_L h + b_L (no unit after the last layer)."""
        layers = list(weights)
        for i in range(0, len(layers), 2):
            h = h @ layers[i].t() + layers[i + 1]
            if i + 2 < len(layers):
                h = torch.relu(h) if self.config.middle == "relu" else torch.sigmoid(h)
        return h

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.pre_code(x))

    def binary(self, x: torch.Tensor) -> torch.Tensor:
        """Binary codes: the activations thresholded at 1/2 (uint8, N x bits)."""
        return (self.pre_code(x) > 0).to(torch.uint8)

    def _decode_logits(self, code: torch.Tensor) -> torch.Tensor:
        return self._affine_stack(code, self.decoder)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self._decode_logits(code.float()))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)).reshape(x.shape)

    forward = reconstruct

    def loss(self, x: torch.Tensor, *rest, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        flat = x.reshape(x.shape[0], -1)
        u = self.pre_code(flat)
        if self.config.noise:
            u = u + self.config.noise * torch.randn(u.shape, generator=generator, device=u.device, dtype=u.dtype)
        logits = self._decode_logits(torch.sigmoid(u))
        error = F.binary_cross_entropy_with_logits(logits, flat, reduction="none").sum(1).mean()
        return {"reconstruction": error, "total": error}
