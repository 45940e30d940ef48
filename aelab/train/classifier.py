"""The lab's own small VGG-style classifier (Zhang et al.'s experiments start from it).

`pretrained_classifier(config)` trains it once per `ClassifierConfig` and keeps it as a
checkpoint under `<cache root>/models/classifiers/<key>` (`aelab.settings`), keyed by
`aelab.cache.cache_key` of its config; later calls read it back.
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
    lr: float = 2e-3
    optimizer: str = "adam"
    seed: int = 0

    def key(self) -> str:
        return cache_key(self)


def classifier_cache_folder(config: ClassifierConfig) -> Path:
    """Where the classifier trained with `config` is cached."""
    return cache_folder("models", "classifiers", config)


def pretrained_classifier(config: ClassifierConfig, device: torch.device | str = "cpu", *, cache: bool = True,
                          progress: Callable[[int, int, str], None] | None = None,
                          check_stop: Callable[[], None] | None = None) -> tuple[nn.Sequential, dict]:
    """(classifier in eval mode on `device`, info) — from the cache when this config was
    trained before, else trained now (and cached). info: seconds, cached, folder."""
    in_channels = data.load(config.dataset, "test").x.shape[1]
    classifier = vgg_classifier(config.spec, config.size, in_channels,
                                generator=torch.Generator().manual_seed(config.seed))
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


__all__ = ["ClassifierConfig", "classifier_cache_folder", "pretrained_classifier"]
