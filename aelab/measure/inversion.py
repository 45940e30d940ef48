"""Measuring how well a classifier's layers can be inverted (Zhang et al. section 4.2, Figs. 4-5).

Given the decoding pathways that `aelab.train.inversion.train_inverters` trained from every
layer to the image, measure how close the reconstruction x̂ comes to the input: the squared
L2 distance ||x̂ - x||^2 per image (`squared_l2_per_image`), averaged over a test split,
and the reconstructions themselves for the figures.
"""

from __future__ import annotations

import numpy as np
import torch

from aelab.models.augmented import AugmentedNetwork
from aelab.train.inversion import squared_l2_per_image


@torch.no_grad()
def inversion_errors(inverters: dict[str, AugmentedNetwork], x: torch.Tensor, batch_size: int = 500
                     ) -> dict[str, float]:
    """Mean ||x̂ - x||^2 per image on `x`, for every layer's pathway."""
    out = {}
    for name, net in inverters.items():
        total = torch.zeros((), device=x.device)
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            total += squared_l2_per_image(net.invert(xb, name), xb).sum()
        out[name] = float(total) / len(x)
    return out


@torch.no_grad()
def invert_images(inverters: dict[str, AugmentedNetwork], x: torch.Tensor) -> np.ndarray:
    """layers x N x H x W reconstructions of the (one-channel) images `x`, clipped to [0, 1]."""
    return np.stack([net.invert(x, name)[:, 0].clamp(0, 1).cpu().numpy() for name, net in inverters.items()])


__all__ = ["inversion_errors", "invert_images", "squared_l2_per_image"]
