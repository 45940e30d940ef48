"""Inverting a classifier layer by layer (Zhang et al. section 4.2, Figs. 4-5).

For a layer (a macro-layer pool_l, or a fully connected layer fc_k) we build the decoding
pathway that starts there and ends at the image ("SWWAE-first starting from every
layer"), train it with the classification pathway fixed, and measure how close the
reconstruction x̂ comes to the input: the squared L2 distance ||x̂ - x||^2 per image,
averaged over a test split. Unpooling uses either the encoder's switches ("known") or
the top-left of every pool window ("fixed", as in Dosovitskiy & Brox).

Training follows section 4.1: layer-wise decoders first (step 2, all layers at once),
then, for every starting layer, the stacked pathway initialised from them and trained
to the image (step 3).

The lab's own small VGG-style classifier (`ClassifierConfig`) is trained once per config
and cached as a checkpoint under `$AELAB_CACHE` (else `<data root>/generated`), keyed by
a hash of its config.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from aelab.data import load, pad_to
from aelab.data.root import cache_dir, data_root
from aelab.models.augmented import AugmentedNetwork, vgg_classifier
from aelab.train.augmented import StepConfig, pretrain_layerwise, train_classifier, train_decoders
from aelab.train.checkpoints import CheckpointError, load_config, load_into, save_checkpoint

SWITCH_MODES = ("fixed", "known")


# ----------------------------------------------------------------------------- data and classifier

def load_images(dataset: str, split: str, n: int | None, size: int, device: torch.device | str,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `n` images of a split (all if None), zero-padded to size x size, on `device`."""
    data = load(dataset, split, seed=seed)
    if n is not None and n > len(data):
        raise ValueError(f"{dataset}/{split} has {len(data)} examples, {n} were asked for")
    x, y = (data.x, data.y) if n is None else (data.x[:n], data.y[:n])
    return pad_to(x, size).to(device), y.to(device)


@dataclass(frozen=True)
class ClassifierConfig:
    """The lab's VGG-style classifier: architecture string, data, and its training."""

    spec: str = "(8)3c-(8)3c-2p-(16)3c-(16)3c-2p-(32)3c-2p-64fc-10fc"
    dataset: str = "mnist"
    size: int = 32
    n_train: int = 5000
    epochs: int = 2
    batch_size: int = 64
    lr: float = 2e-3
    optimizer: str = "adam"
    seed: int = 0

    def key(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def classifier_cache(config: ClassifierConfig) -> Path:
    return cache_dir(data_root()) / "classifiers" / config.key()


def pretrained_classifier(config: ClassifierConfig, device: torch.device | str = "cpu", *, cache: bool = True,
                          progress: Callable[[int, int, str], None] | None = None,
                          check_stop: Callable[[], None] | None = None) -> tuple[nn.Sequential, dict]:
    """(classifier in eval mode on `device`, info) — from the cache when this config was
    trained before, else trained now (and cached). info: seconds, cached, folder."""
    in_channels = load(config.dataset, "test").x.shape[1]
    torch.manual_seed(config.seed)
    classifier = vgg_classifier(config.spec, config.size, in_channels)
    folder = classifier_cache(config)
    started = time.perf_counter()
    if cache and (folder / "weights.safetensors").exists():
        try:
            if load_config(folder) == asdict(config):
                load_into(classifier, folder)
                return classifier.to(device).eval(), {"seconds": 0.0, "cached": True, "folder": str(folder)}
        except CheckpointError:
            pass  # stale or damaged: train again and overwrite
    x, y = load_images(config.dataset, "train", config.n_train, config.size, device)
    classifier = classifier.to(device)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    train_classifier(classifier, x, y, StepConfig(config.epochs, config.batch_size, config.lr, config.optimizer),
                     generator=generator, progress=progress, check_stop=check_stop, desc="classifier")
    seconds = time.perf_counter() - started
    if cache:
        save_checkpoint(folder, classifier, config)
    return classifier.eval(), {"seconds": seconds, "cached": False, "folder": str(folder)}


# ----------------------------------------------------------------------------- inversion

def reconstruction_error(xhat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Squared L2 distance ||x̂ - x||^2 per image (summed over pixels)."""
    return (xhat - x).pow(2).flatten(1).sum(1)


def train_inverters(classifier: nn.Module, input_shape: Sequence[int], x: torch.Tensor, switches: str,
                    layerwise: StepConfig, stacked: StepConfig, layers: Sequence[str] | None = None,
                    **kw) -> dict[str, AugmentedNetwork]:
    """One trained decoding pathway per layer, from that layer down to the image.

    Step 2 trains the layer-wise decoders (macro-layers and fc layers) once; step 3 copies
    them into one stacked pathway per starting layer and trains it on ||x̂ - x||^2."""
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
                return reconstruction_error(model.invert(enc, name), xb).mean()

            train_decoders(net, x, stacked, objective, desc=f"step 3: invert {name} ({switches})", **kw)
        inverters[name] = net.eval()
    return inverters


@torch.no_grad()
def inversion_errors(inverters: dict[str, AugmentedNetwork], x: torch.Tensor, batch_size: int = 500
                     ) -> dict[str, float]:
    """Mean ||x̂ - x||^2 per image on `x`, for every layer's pathway."""
    out = {}
    for name, net in inverters.items():
        total = torch.zeros((), device=x.device)
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            total += reconstruction_error(net.invert(xb, name), xb).sum()
        out[name] = float(total) / len(x)
    return out


@torch.no_grad()
def invert_images(inverters: dict[str, AugmentedNetwork], x: torch.Tensor) -> np.ndarray:
    """layers x N x H x W reconstructions of the (one-channel) images `x`, clipped to [0, 1]."""
    return np.stack([net.invert(x, name)[:, 0].clamp(0, 1).cpu().numpy() for name, net in inverters.items()])


__all__ = ["ClassifierConfig", "pretrained_classifier", "load_images", "train_inverters", "inversion_errors",
           "invert_images", "reconstruction_error", "SWITCH_MODES"]
