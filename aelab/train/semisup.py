"""Training an SWWAE in any of its three modes with one loop (Zhao et al. section 3.2).

Semi-supervised batches mix labelled and unlabelled examples: each step takes
`labelled_per_batch` examples from the labelled set (cycled through shuffled orders) and
fills the rest of the batch from the unlabelled set; an epoch is one pass over the
unlabelled set (or over the labelled set when there is no unlabelled data). The model's
`loss(x, y, labelled)` makes unlabelled examples count only in the reconstruction terms.

Everything stays on the data's device; the loop never reads a tensor back to the host
inside an epoch (losses are summed on the device and read once per epoch).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch

ProgressFn = Callable[[int, int, str], None]


@dataclass
class History:
    """Per-epoch means of every loss term, and seconds per epoch."""

    terms: dict[str, list[float]] = field(default_factory=dict)
    seconds_per_epoch: list[float] = field(default_factory=list)


class _Cycler:
    """Endless shuffled passes over n indices, drawn in chunks, on `device`."""

    def __init__(self, n: int, generator: torch.Generator, device: torch.device):
        self.n, self.generator, self.device = n, generator, device
        self.order = self._shuffle()
        self.at = 0

    def _shuffle(self) -> torch.Tensor:
        return torch.randperm(self.n, generator=self.generator, device=self.generator.device).to(self.device)

    def take(self, k: int) -> torch.Tensor:
        parts = []
        while k > 0:
            if self.at >= self.n:
                self.order, self.at = self._shuffle(), 0
            chunk = self.order[self.at: self.at + k]
            parts.append(chunk)
            self.at += len(chunk)
            k -= len(chunk)
        return torch.cat(parts)


def train_swwae(model, x_unlabelled: torch.Tensor | None, x_labelled: torch.Tensor | None = None,
                y_labelled: torch.Tensor | None = None, *, epochs: int = 1, batch_size: int = 100,
                labelled_per_batch: int = 0, lr: float = 1e-3, weight_decay: float = 0.0,
                generator: torch.Generator | None = None, augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
                progress: ProgressFn | None = None, check_stop: Callable[[], None] | None = None,
                steps_per_epoch: int | None = None) -> History:
    """Train `model` (an SWWAE) with Adam; return the per-epoch history.

    x_unlabelled : images without labels (may be None or empty for purely supervised runs).
    x_labelled, y_labelled : the labelled part; `labelled_per_batch` of each batch come from it.
    augment : a function applied to every batch of images (e.g. random shifts).
    steps_per_epoch : steps in an epoch (default one pass over the unlabelled set, else the
        labelled set); the data are cycled through, so it may be more or less than a pass.
    """
    has_unlabelled = x_unlabelled is not None and len(x_unlabelled) > 0
    has_labelled = x_labelled is not None and y_labelled is not None and len(x_labelled) > 0
    if not has_unlabelled and not has_labelled:
        raise ValueError("train_swwae needs labelled or unlabelled examples")
    if has_labelled and len(x_labelled) != len(y_labelled):
        raise ValueError(f"{len(x_labelled)} labelled images but {len(y_labelled)} labels")
    if epochs <= 0 or batch_size <= 0:
        raise ValueError("epochs and batch_size must be positive")
    if has_labelled and has_unlabelled and not 0 < labelled_per_batch < batch_size:
        raise ValueError(f"labelled_per_batch must be in 1..{batch_size - 1} when mixing labelled and "
                         f"unlabelled data, got {labelled_per_batch}")
    device = (x_unlabelled if has_unlabelled else x_labelled).device
    generator = generator if generator is not None else torch.Generator(device=device).manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    if has_unlabelled:
        n_base = len(x_unlabelled)
        n_lab = labelled_per_batch if has_labelled else 0
    else:
        n_base, n_lab = len(x_labelled), 0
    n_unl = batch_size - n_lab
    steps = max(1, n_base // n_unl) if steps_per_epoch is None else int(steps_per_epoch)
    if steps <= 0:
        raise ValueError(f"steps_per_epoch must be positive, got {steps_per_epoch}")
    base_cycle = _Cycler(n_base, generator, device)
    lab_cycle = _Cycler(len(x_labelled), generator, device) if (n_lab and has_labelled) else None
    history = History()
    model.train()
    for epoch in range(epochs):
        started = time.perf_counter()
        sums: dict[str, torch.Tensor] = {}
        for step in range(steps):
            if check_stop is not None:
                check_stop()
            idx = base_cycle.take(n_unl)
            if has_unlabelled:
                x = x_unlabelled[idx]
                y = torch.full((len(idx),), -1, dtype=torch.long, device=device) if has_labelled else None
                if lab_cycle is not None:
                    lab = lab_cycle.take(n_lab)
                    x = torch.cat([x, x_labelled[lab]])
                    y = torch.cat([y, y_labelled[lab]])
            else:
                x, y = x_labelled[idx], y_labelled[idx]
            if augment is not None:
                x = augment(x)
            terms = model.loss(x, y)
            optimizer.zero_grad(set_to_none=True)
            terms["total"].backward()
            optimizer.step()
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + value.detach()
            if progress is not None:
                progress(epoch * steps + step + 1, epochs * steps, f"epoch {epoch + 1}/{epochs}")
        for key, value in sums.items():
            history.terms.setdefault(key, []).append(float(value) / steps)
        history.seconds_per_epoch.append(time.perf_counter() - started)
    model.eval()
    return history


@torch.no_grad()
def classification_error(model, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Fraction of examples whose arg-max class score differs from the label."""
    model.eval()
    wrong = x.new_zeros((), dtype=torch.long)
    for start in range(0, len(x), batch_size):
        logits = model.encode(x[start: start + batch_size]).logits
        wrong += (logits.argmax(dim=1) != y[start: start + batch_size]).sum()
    return float(wrong) / max(len(x), 1)


@torch.no_grad()
def reconstruction_error(model, x: torch.Tensor, batch_size: int = 500) -> float:
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
