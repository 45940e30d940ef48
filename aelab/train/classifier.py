"""The lab's own small VGG-style classifier: the MNIST analogue of the VGG-16 that Zhang et
al.'s experiments start from.

`pretrained_classifier(config)` trains it once per `ClassifierConfig` and keeps it as a
checkpoint under `<cache root>/models/classifiers/<key>` (`aelab.settings`), keyed by
`aelab.cache.cache_key` of its config; later calls read it back.

Training is step 1 of Zhang et al. section 4.1 ("for all the four steps ... mini-batch SGD with
the momentum 0.9"). The weights are He-initialised (`he_init`: normal with variance 2 / fan-in,
zero biases), as plain ReLU networks without batch normalisation need for SGD: from PyTorch's
default initialisation, SGD with momentum (batch 64) left the teach-size network at chance
level (loss 2.30, 88% test error) after 2 epochs on 5000 MNIST images at every learning rate
tried (0.01, 0.03, 0.1); from He initialisation it reached 9.5% error on 2000 test images
(lr 0.01; 0.003: 13.0%, 0.03: 17.4%).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from aelab import data, settings
from aelab.cache import cache_folder, cache_key
from aelab.fileio import probe_writable
from aelab.models.augmented import vgg_classifier
from aelab.train.augmented import step_config, train_classifier
from aelab.train.checkpoints import CheckpointError, load_config, load_into, save_checkpoint
from aelab.train.loop import Callbacks


@dataclass(frozen=True)
class ClassifierConfig:
    """The lab's VGG-style classifier: architecture string, data, and its training."""

    spec: str = "(8)3c-(8)3c-2p-(16)3c-(16)3c-2p-(32)3c-2p-64fc-10fc"
    dataset: str = "mnist"
    size: int = 32
    n_train: int = 5000
    epochs: int = 2
    batch_size: int = 64
    lr: float = 0.01
    optimizer: str = "sgd"  # with momentum 0.9 (`step_config`), as in Zhang et al.
    seed: int = 0

    def key(self) -> str:
        return cache_key(self)


@torch.no_grad()
def he_init(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Every convolution and linear layer's weights drawn from N(0, 2 / fan-in) (He et al. 2015,
    for ReLU), biases zero; drawn from `generator` in module order."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            fan_in = layer.weight[0].numel()
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
            if layer.bias is not None:
                layer.bias.zero_()
    return module


def classifier_cache_folder(config: ClassifierConfig) -> Path:
    """Where the classifier trained with `config` is cached."""
    return cache_folder("models", "classifiers", config)


def pretrained_classifier(config: ClassifierConfig, device: torch.device | str = "cpu", *, cache: bool = True,
                          progress: Callable[[int, int, str], None] | None = None,
                          check_stop: Callable[[], None] | None = None) -> tuple[nn.Sequential, dict]:
    """(classifier in eval mode on `device`, info) — from the cache when this config was
    trained before, else trained now (and cached). info: seconds, cached, folder."""
    in_channels = data.load(config.dataset, "test").x.shape[1]
    classifier = he_init(vgg_classifier(config.spec, config.size, in_channels,
                                        generator=torch.Generator().manual_seed(config.seed)),
                         torch.Generator().manual_seed(config.seed))
    folder = classifier_cache_folder(config)
    started = time.perf_counter()
    if cache and (folder / "weights.safetensors").exists():
        try:
            if load_config(folder) == asdict(config):
                load_into(classifier, folder)
                return classifier.to(device).eval(), {"seconds": 0.0, "cached": True, "folder": str(folder)}
        except CheckpointError:
            pass  # stale or damaged: train again and overwrite
    if cache:  # a cache that cannot be written fails now, not after training
        probe_writable(folder.parent, f"the cache folder {folder.parent} (set {settings.CACHE} to a writable folder)")
    x, y = data.images(config.dataset, "train", config.n_train, size=config.size, device=device)
    classifier = classifier.to(device)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    train_classifier(classifier, x, y, step_config(config.epochs, config.batch_size, config.lr, config.optimizer),
                     generator=generator, callbacks=Callbacks(progress=progress, check_stop=check_stop),
                     description="classifier")
    seconds = time.perf_counter() - started
    if cache:
        save_checkpoint(folder, classifier, config)
    return classifier.eval(), {"seconds": seconds, "cached": False, "folder": str(folder)}


__all__ = ["ClassifierConfig", "classifier_cache_folder", "he_init", "pretrained_classifier"]
