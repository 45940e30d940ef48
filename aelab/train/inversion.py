"""Training decoders that invert a classifier layer by layer (Zhang et al. section 4.2).

For a layer (a macro-layer pool_l, or a fully connected layer fc_k) we build the decoding
pathway that starts there and ends at the image ("SWWAE-first starting from every
layer") and train it with the classification pathway fixed. Unpooling uses either the
encoder's switches ("known") or the top-left of every pool window ("fixed", as in
Dosovitskiy & Brox).

Training follows section 4.1: layer-wise decoders first (step 2, all layers at once),
then, for every starting layer, the stacked pathway initialised from them and trained
to the image on ||x̂ - x||^2 (step 3), both by SGD with momentum 0.9 as in the paper. The
step-3 objective is weighted by gamma_0 = 1 / (pixels of an image), the weight of the image
term in the network's own loss, so that one learning rate suits steps 2 and 3 (a constant
factor: for SGD the same as dividing the learning rate by it). `search=LrSearch(...)` chooses
each step's learning rate by Appendix A1's rule. `aelab.measure.inversion` measures the
result (the unweighted ||x̂ - x||^2 per image).
"""

from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import nn

from aelab.models.augmented import AugmentedNetwork
from aelab.train.augmented import pretrain_layerwise, train_decoders
from aelab.train.loop import FitConfig

SWITCH_MODES = ("fixed", "known")


def squared_l2_per_image(xhat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Squared L2 distance ||x̂ - x||^2 per image (summed over its pixels): a vector of N."""
    return (xhat - x).pow(2).flatten(1).sum(1)


def train_inverters(classifier: nn.Module, input_shape: Sequence[int], x: torch.Tensor, switches: str,
                    layerwise: FitConfig, stacked: FitConfig, layers: Sequence[str] | None = None,
                    **kw) -> dict[str, AugmentedNetwork]:
    """One trained decoding pathway per layer, from that layer down to the image.

    Step 2 trains the layer-wise decoders (macro-layers and fc layers) once; step 3 copies
    them into one stacked pathway per starting layer and trains it on gamma_0 ||x̂ - x||^2.
    `kw`: generator, callbacks, search (`aelab.train.augmented.LrSearch`), passed to every step."""
    if switches not in SWITCH_MODES:
        raise ValueError(f"switches {switches!r}: choose one of {', '.join(SWITCH_MODES)}")
    base = pretrain_layerwise(classifier, input_shape, x, switches, layerwise, invert_fc=True, **kw)
    names = base.layer_names if layers is None else [base.point(name) for name in layers]
    inverters = {}
    for name in names:
        net = copy.deepcopy(base)
        if stacked.epochs:
            def objective(model: AugmentedNetwork, xb: torch.Tensor, name=name) -> torch.Tensor:
                with torch.no_grad():
                    enc = model.encode(xb)
                return model.gammas[0] * squared_l2_per_image(model.invert(enc, name), xb).mean()

            train_decoders(net, x, stacked, objective, description=f"step 3: invert {name} ({switches})", **kw)
        inverters[name] = net.eval()
    return inverters


__all__ = ["SWITCH_MODES", "squared_l2_per_image", "train_inverters"]
