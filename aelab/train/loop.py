"""The one fast training loop every scheme uses.

The data stay resident on the device; each epoch draws a permutation with `torch.randperm`
on that device and slices index batches from it (no DataLoader, no host copies). Loss terms
are summed on the device and read back once per epoch, so no batch waits on the host.

    history = fit(model, model.loss, x_train, FitConfig(epochs=5, lr=1e-3),
                  evaluate=lambda: {"test_reconstruction": model.reconstruction_error(x_test)},
                  on_epoch=lambda epoch, metrics: print(epoch, metrics))

`loss_fn(*batch, generator=g)` returns a dict of 0-d tensors with a `total`. Training that
produces NaN or inf stops with `TrainingDiverged`, naming the epoch and the learning rate,
after putting back the weights of the last good epoch (and, where a `checkpoint` callback
was given, the last good checkpoint on disk is the one written after that epoch).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import torch
from torch import nn

OPTIMIZERS = ("sgd", "rmsprop")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or inf."""


@dataclass
class FitConfig:
    epochs: int = 10
    batch_size: int = 100
    optimizer: str = "rmsprop"  # "sgd" or "rmsprop" (decay 0.9, Zhou et al.)
    lr: float = 1e-3
    momentum: float = 0.0

    def check(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {self.optimizer!r} is unknown; choose one of {', '.join(OPTIMIZERS)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"learning rate must be a positive number, got {self.lr}")
        if self.epochs < 0 or self.batch_size < 1:
            raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {self.epochs} and {self.batch_size}")
        if self.momentum < 0:
            raise ValueError(f"momentum must be >= 0, got {self.momentum}")


def make_optimizer(parameters: Iterable[nn.Parameter], config: FitConfig) -> torch.optim.Optimizer:
    config.check()
    if config.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=config.lr, momentum=config.momentum)
    return torch.optim.RMSprop(parameters, lr=config.lr, alpha=0.9, momentum=config.momentum)


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def fit(model: nn.Module, loss_fn: Callable[..., dict[str, torch.Tensor]],
        data: torch.Tensor | Sequence[torch.Tensor], config: FitConfig, *,
        parameters: Iterable[nn.Parameter] | None = None, generator: torch.Generator | None = None,
        evaluate: Callable[[], dict[str, torch.Tensor | float]] | None = None,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None,
        progress: Callable[[int, int, str], None] | None = None,
        check_stop: Callable[[], None] | None = None,
        checkpoint: Callable[[int], None] | None = None,
        monitor: str | None = None, patience: int | None = None,
        first_epoch: int = 1, description: str = "training") -> list[dict[str, float]]:
    """Train `model` by minimising `loss_fn(*batch)["total"]`; return one metrics dict per epoch.

    data: one tensor or a tuple of tensors with the same first dimension, on the model's device.
    evaluate: called after each epoch; its values (tensors are fine) join the epoch's metrics.
    monitor/patience: early stopping on an `evaluate` metric (lower is better); the best
    epoch's weights are put back at the end.
    checkpoint(epoch): called after each good epoch (e.g. to save the model to disk).
    """
    config.check()
    tensors = (data,) if isinstance(data, torch.Tensor) else tuple(data)
    n = tensors[0].shape[0]
    if n == 0:
        raise ValueError("no training examples")
    if any(t.shape[0] != n for t in tensors):
        raise ValueError("all data tensors need the same number of examples")
    device = tensors[0].device
    optimizer = make_optimizer(parameters if parameters is not None else model.parameters(), config)
    n_batches = -(-n // config.batch_size)
    every = max(1, n_batches // 20)
    total_steps = max(1, config.epochs * n_batches)
    good = _snapshot(model)
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    history: list[dict[str, float]] = []
    names: list[str] | None = None
    for e in range(config.epochs):
        epoch = first_epoch + e
        started = time.perf_counter()
        model.train()
        sums = None
        order = torch.randperm(n, device=device, generator=generator)
        for b in range(n_batches):
            idx = order[b * config.batch_size:(b + 1) * config.batch_size]
            batch = [t.index_select(0, idx) for t in tensors]
            terms = loss_fn(*batch, generator=generator)
            optimizer.zero_grad(set_to_none=True)
            terms["total"].backward()
            optimizer.step()
            if names is None:
                names = list(terms)
            values = torch.stack([terms[k].detach() for k in names]) * idx.shape[0]
            sums = values if sums is None else sums + values
            if b % every == 0:
                if check_stop is not None:
                    check_stop()
                if progress is not None:
                    progress(e * n_batches + b, total_steps, description)
        means = (sums / n).tolist()  # the epoch's one host sync
        metrics = {f"train_{k}" if k != "total" else "train_loss": v for k, v in zip(names, means)}
        if not all(math.isfinite(v) for v in means):
            model.load_state_dict(good)
            raise TrainingDiverged(
                f"{description}: the loss became {means[names.index('total')]} in epoch {epoch}; the likely "
                f"cause is a learning rate too high ({config.optimizer}, lr={config.lr:g}): try a smaller one. "
                f"The weights of the last good epoch ({epoch - 1}) were put back.")
        model.eval()
        if evaluate is not None:
            metrics.update({k: float(v) for k, v in evaluate().items()})
        metrics["seconds"] = time.perf_counter() - started
        metrics["epoch"] = epoch
        good = _snapshot(model)
        history.append(metrics)
        if checkpoint is not None:
            checkpoint(epoch)
        if on_epoch is not None:
            on_epoch(epoch, metrics)
        if progress is not None:
            progress((e + 1) * n_batches, total_steps, description)
        if monitor is not None:
            value = metrics[monitor]
            if best is None or value < best[0]:
                best = (value, epoch, good)
            elif patience is not None and epoch - best[1] >= patience:
                break
    if best is not None:
        model.load_state_dict(best[2])
    model.eval()
    return history
