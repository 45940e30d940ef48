"""Training an SWWAE in any of its three modes through the one loop (Zhao et al. section 3.2).

Semi-supervised batches mix labelled and unlabelled examples (`SemiSupervised`, a sampler
of `aelab.train.loop`): each step takes `labelled_per_batch` examples from the labelled set
(cycled through shuffled orders) and fills the rest of the batch from the unlabelled set;
an epoch is one pass over the unlabelled set (or over the labelled set when there is no
unlabelled data). The model's `loss(x, y, labelled)` makes unlabelled examples (label -1)
count only in the reconstruction terms.

`train_swwae` steps the model with `aelab.train.loop.fit` (Adam unless the `FitConfig` names
another optimizer) and returns the loop's history, one metrics dict per epoch. Everything
stays on the data's device; losses are read back once per epoch.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import torch
from torch import nn

from aelab.train.loop import Callbacks, FitConfig, LoopState, Sampler, fit


def swwae_fit_config(epochs: int = 1, batch_size: int = 100, lr: float = 1e-3, weight_decay: float = 0.0,
                     optimizer: str = "adam") -> FitConfig:
    """The SWWAE's usual optimisation: Adam (as Zhao et al.'s Torch code), lr 1e-3, batches of 100."""
    return FitConfig(epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr, weight_decay=weight_decay)


class _Cycler:
    """Endless shuffled passes over n indices, on `device`. Each pass's order is drawn from
    the generator the loop hands to the sampler; (order, position) persist across epochs."""

    def __init__(self, n: int, device: torch.device):
        self.n, self.device = n, device
        self.order: torch.Tensor | None = None
        self.at = 0

    def _shuffle(self, generator: torch.Generator | None) -> torch.Tensor:
        device = generator.device if generator is not None else self.device
        return torch.randperm(self.n, generator=generator, device=device).to(self.device)

    def take(self, k: int, generator: torch.Generator | None) -> torch.Tensor:
        parts = []
        while k > 0:
            if self.order is None or self.at >= self.n:
                self.order, self.at = self._shuffle(generator), 0
            chunk = self.order[self.at: self.at + k]
            parts.append(chunk)
            self.at += len(chunk)
            k -= len(chunk)
        return torch.cat(parts) if len(parts) > 1 else parts[0]

    def state_dict(self, prefix: str) -> dict[str, torch.Tensor]:
        if self.order is None:
            return {}
        return {f"{prefix}order": self.order, f"{prefix}at": torch.tensor(self.at)}

    def load_state_dict(self, state: dict[str, torch.Tensor], prefix: str) -> None:
        if f"{prefix}order" in state:
            self.order, self.at = state[f"{prefix}order"].to(self.device), int(state[f"{prefix}at"])


class SemiSupervised(Sampler):
    """Batches for the three modes of an SWWAE.

    x_unlabelled : images without labels (None or empty for purely supervised training).
    x_labelled, y_labelled : the labelled part; with unlabelled data, `labelled_per_batch`
        of every batch come from it (their labels; the others get -1).
    steps_per_epoch : batches in an epoch (default one pass over the unlabelled set, else
        the labelled set); the data are cycled through, so it may be more or less than a pass.
    augment : a function applied to every batch of images (e.g. `random_shifts`).

    A batch is (x,) without labels, else (x, y). `state_dict` holds the cyclers' orders and
    positions, so a resumed run draws the same batches.
    """

    def __init__(self, x_unlabelled: torch.Tensor | None, x_labelled: torch.Tensor | None = None,
                 y_labelled: torch.Tensor | None = None, *, batch_size: int = 100, labelled_per_batch: int = 0,
                 steps_per_epoch: int | None = None, augment: Callable[[torch.Tensor], torch.Tensor] | None = None):
        has_unlabelled = x_unlabelled is not None and len(x_unlabelled) > 0
        has_labelled = x_labelled is not None and y_labelled is not None and len(x_labelled) > 0
        if not has_unlabelled and not has_labelled:
            raise ValueError("training an SWWAE needs labelled or unlabelled examples")
        if has_labelled and len(x_labelled) != len(y_labelled):
            raise ValueError(f"{len(x_labelled)} labelled images but {len(y_labelled)} labels")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if has_labelled and has_unlabelled and not 0 < labelled_per_batch < batch_size:
            raise ValueError(f"labelled_per_batch must be in 1..{batch_size - 1} when mixing labelled and "
                             f"unlabelled data, got {labelled_per_batch}")
        self.x_unlabelled = x_unlabelled if has_unlabelled else None
        self.x_labelled, self.y_labelled = (x_labelled, y_labelled) if has_labelled else (None, None)
        self.device = (x_unlabelled if has_unlabelled else x_labelled).device
        if has_unlabelled:
            n_base, self.n_lab = len(x_unlabelled), (labelled_per_batch if has_labelled else 0)
        else:
            n_base, self.n_lab = len(x_labelled), 0
        self.n_unl = batch_size - self.n_lab
        steps = max(1, n_base // self.n_unl) if steps_per_epoch is None else int(steps_per_epoch)
        if steps <= 0:
            raise ValueError(f"steps_per_epoch must be positive, got {steps_per_epoch}")
        self.n_batches = steps
        self.augment = augment
        self.base = _Cycler(n_base, self.device)
        self.labelled = _Cycler(len(x_labelled), self.device) if self.n_lab else None

    def epoch(self, generator: torch.Generator | None) -> Iterator[tuple[torch.Tensor, ...]]:
        for _ in range(self.n_batches):
            idx = self.base.take(self.n_unl, generator)
            if self.x_unlabelled is not None:
                x = self.x_unlabelled[idx]
                y = None
                if self.x_labelled is not None:
                    y = torch.full((len(idx),), -1, dtype=torch.long, device=self.device)
                    if self.labelled is not None:
                        lab = self.labelled.take(self.n_lab, generator)
                        x = torch.cat([x, self.x_labelled[lab]])
                        y = torch.cat([y, self.y_labelled[lab]])
            else:
                x, y = self.x_labelled[idx], self.y_labelled[idx]
            if self.augment is not None:
                x = self.augment(x)
            yield (x,) if y is None else (x, y)

    def state_dict(self) -> dict[str, torch.Tensor]:
        state = self.base.state_dict("base.")
        if self.labelled is not None:
            state.update(self.labelled.state_dict("labelled."))
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.base.load_state_dict(state, "base.")
        if self.labelled is not None:
            self.labelled.load_state_dict(state, "labelled.")


def train_swwae(model: nn.Module, x_unlabelled: torch.Tensor | None, x_labelled: torch.Tensor | None = None,
                y_labelled: torch.Tensor | None = None, config: FitConfig | None = None, *,
                labelled_per_batch: int = 0, steps_per_epoch: int | None = None,
                generator: torch.Generator | None = None, augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
                parameters: Iterable[nn.Parameter] | None = None, callbacks: Callbacks | None = None,
                evaluate: Callable[[], dict[str, torch.Tensor | float]] | None = None,
                description: str = "SWWAE", resume: LoopState | None = None) -> list[dict[str, float]]:
    """Train `model` (an SWWAE) on `SemiSupervised` batches with `aelab.train.loop.fit`; return
    the loop's history (per epoch: train_loss, train_<term>, seconds, ...).

    config : epochs, batch size and optimizer (default `swwae_fit_config()`: Adam, lr 1e-3, 100).
    parameters : what the optimizer moves (default every parameter that requires a gradient),
        e.g. only the fc layers to train the softmax on a fixed SWWAE.
    generator : draws the batches and the dropout masks (default one seeded with 0 on the
        data's device). See `SemiSupervised` for the data arguments.
    """
    config = config if config is not None else swwae_fit_config()
    sampler = SemiSupervised(x_unlabelled, x_labelled, y_labelled, batch_size=config.batch_size,
                             labelled_per_batch=labelled_per_batch, steps_per_epoch=steps_per_epoch, augment=augment)
    if generator is None:
        generator = torch.Generator(device=sampler.device).manual_seed(0)
    return fit(model, model.loss, sampler, config, parameters=parameters, generator=generator, evaluate=evaluate,
               callbacks=callbacks, description=description, resume=resume)


@torch.no_grad()
def classification_error_fraction(model, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Fraction of examples whose arg-max class score differs from the label."""
    model.eval()
    wrong = x.new_zeros((), dtype=torch.long)
    for start in range(0, len(x), batch_size):
        logits = model.encode(x[start: start + batch_size]).logits
        wrong += (logits.argmax(dim=1) != y[start: start + batch_size]).sum()
    return float(wrong) / max(len(x), 1)


@torch.no_grad()
def mean_squared_error_per_pixel(model, x: torch.Tensor, batch_size: int = 500) -> float:
    """Mean squared error per pixel between x and its reconstruction x~."""
    model.eval()
    total = x.new_zeros(())
    for start in range(0, len(x), batch_size):
        batch = x[start: start + batch_size]
        total += ((model.reconstruct(batch) - batch) ** 2).sum()
    return float(total) / max(x.numel(), 1)


def random_shifts(max_shift: int, generator: torch.Generator) -> Callable[[torch.Tensor], torch.Tensor]:
    """An `augment` function: shift each image by integers in [-max_shift, max_shift] in x and y
    (zero fill), drawn per image from `generator`, all on the images' device."""
    if max_shift < 0:
        raise ValueError("max_shift must be >= 0")

    def shift(x: torch.Tensor) -> torch.Tensor:
        if max_shift == 0:
            return x
        n, c, h, w = x.shape
        d = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator,
                          device=generator.device).to(x.device)
        rows = torch.arange(h, device=x.device).view(1, h, 1) - d[:, 1].view(n, 1, 1)
        cols = torch.arange(w, device=x.device).view(1, 1, w) - d[:, 0].view(n, 1, 1)
        valid = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).unsqueeze(1)
        flat = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).view(n, 1, h * w).expand(n, c, h * w)
        moved = x.reshape(n, c, h * w).gather(2, flat).view(n, c, h, w)
        return moved * valid.to(x.dtype)

    return shift
