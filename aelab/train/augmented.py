"""Training classifiers augmented with decoding pathways: Zhang et al. section 4.1.

    1. the encoding pathway is the pretrained classifier; decoders start from Gaussian
       random initialisation (torch's default init here);
    2. with the classification pathway fixed, train the layer-wise decoders of
       SAE-layerwise (every macro-layer in parallel: one summed loss, detached inputs);
    3. for SAE-first/all, initialise the stacked decoders with the layer-wise ones and
       train them, the classification pathway still fixed (skipped for SAE-layerwise);
    4. fine-tune everything together on C(x, y) + lambda U(x) with a reduced learning rate.

All steps use mini-batch SGD with momentum 0.9 in the paper (`StepConfig.optimizer='sgd'`);
'adam' is offered for the lab's short runs. Data stay on their device; batches are
shuffled index sets drawn on that device; the loss is accumulated on the device and read
once per epoch (no per-batch host synchronisation).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from aelab.models.augmented import AugmentedNetwork

OPTIMIZERS = ("sgd", "adam")
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class StepConfig:
    """One optimisation step of the procedure: epochs over the data, batch size, learning rate."""

    epochs: int = 1
    batch_size: int = 64
    lr: float = 0.01
    optimizer: str = "sgd"
    momentum: float = 0.9

    def __post_init__(self):
        if self.epochs < 0 or self.batch_size <= 0 or not self.lr > 0:
            raise ValueError(f"epochs >= 0, batch_size > 0 and lr > 0 are needed, got {self}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")


def _optimizer(params: Iterable[nn.Parameter], step: StepConfig) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("nothing to train: no parameter requires a gradient")
    if step.optimizer == "adam":
        return torch.optim.Adam(params, lr=step.lr)
    return torch.optim.SGD(params, lr=step.lr, momentum=step.momentum)


def fit(params: Iterable[nn.Parameter], loss_fn: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
        x: torch.Tensor, y: torch.Tensor | None, step: StepConfig, *, generator: torch.Generator | None = None,
        progress: Progress | None = None, check_stop: Callable[[], None] | None = None,
        desc: str = "training") -> list[float]:
    """Minimise loss_fn(x_batch, y_batch) over shuffled mini-batches; return the mean loss per epoch."""
    if len(x) == 0:
        raise ValueError("no training examples")
    optimizer = _optimizer(params, step)
    n = len(x)
    batches = -(-n // step.batch_size)
    losses = []
    for epoch in range(step.epochs):
        order = torch.randperm(n, generator=generator, device=x.device) if generator is not None \
            else torch.randperm(n, device=x.device)
        running = torch.zeros((), device=x.device)
        for b in range(batches):
            index = order[b * step.batch_size:(b + 1) * step.batch_size]
            loss = loss_fn(x[index], None if y is None else y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += loss.detach() * len(index)
            if check_stop is not None and b % 20 == 0:
                check_stop()
        losses.append(float(running) / n)  # one host read per epoch
        if progress is not None:
            progress(epoch + 1, step.epochs, desc)
    return losses


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Class predictions in eval mode, batch by batch (on the data's device)."""
    was = model.training
    model.eval()
    out = torch.cat([model(x[i:i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])
    model.train(was)
    return out


def error_rate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Classification error in percent."""
    return 100.0 * float((predict(model, x, batch_size) != y).float().mean())


def train_classifier(classifier: nn.Module, x: torch.Tensor, y: torch.Tensor, step: StepConfig, **kw) -> list[float]:
    """Train (or fine-tune: the baseline of step 4) a classifier on cross-entropy C(x, y)."""
    classifier.train()
    return fit(classifier.parameters(), lambda xb, yb: F.cross_entropy(classifier(xb), yb), x, y, step, **kw)


class _Frozen:
    """Context: the classification pathway is fixed (no gradients into it)."""

    def __init__(self, net: AugmentedNetwork):
        self.params = net.classifier_parameters()

    def __enter__(self):
        self.flags = [p.requires_grad for p in self.params]
        for p in self.params:
            p.requires_grad_(False)

    def __exit__(self, *exc):
        for p, flag in zip(self.params, self.flags):
            p.requires_grad_(flag)


def train_decoders(net: AugmentedNetwork, x: torch.Tensor, step: StepConfig,
                   objective: Callable[[AugmentedNetwork, torch.Tensor], torch.Tensor] | None = None,
                   **kw) -> list[float]:
    """Train the decoders only, the classification pathway fixed (steps 2 and 3).

    `objective(net, x_batch)` defaults to the network's U(x) (its reconstruction terms,
    plus the fc decoders' layer-wise terms when it has them)."""

    def default(model: AugmentedNetwork, xb: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            enc = model.encode(xb)
        terms = {**model.reconstruction_terms(enc), **model.fc_terms(enc)}
        return torch.stack(list(terms.values())).sum()

    objective = objective or default
    net.train()
    with _Frozen(net):
        return fit(net.decoder_parameters(), lambda xb, _: objective(net, xb), x, None, step, **kw)


def finetune(net: AugmentedNetwork, x: torch.Tensor, y: torch.Tensor, step: StepConfig, **kw) -> list[float]:
    """Step 4: all pathways together on eq. 2, C(x, y) + lambda U(x)."""
    net.train()
    return fit(net.parameters(), lambda xb, yb: net.loss(xb, yb)["total"], x, y, step, **kw)


@dataclass(frozen=True)
class ProcedureConfig:
    """Steps 2-4 of section 4.1 (step 1 is the trained classifier itself)."""

    layerwise: StepConfig = StepConfig(epochs=1, lr=1e-3, optimizer="adam")
    stacked: StepConfig = StepConfig(epochs=1, lr=1e-3, optimizer="adam")
    finetune: StepConfig = StepConfig(epochs=1, lr=1e-3, batch_size=64)
    lam: float = 1.0


def pretrain_layerwise(classifier: nn.Module, input_shape: Sequence[int], x: torch.Tensor, switches: str,
                       step: StepConfig, *, invert_fc: bool = False, **kw) -> AugmentedNetwork:
    """Steps 1-2: an SAE/SWWAE-layerwise network on `classifier` whose decoders are trained
    with the classifier fixed."""
    net = AugmentedNetwork(classifier, input_shape, variant="layerwise", switches=switches,
                           invert_fc=invert_fc).to(x.device)
    train_decoders(net, x, step, desc=f"step 2: layer-wise decoders ({switches} switches)", **kw)
    return net


def augment(classifier: nn.Module, input_shape: Sequence[int], x: torch.Tensor, y: torch.Tensor, *,
            variant: str, switches: str, procedure: ProcedureConfig,
            layerwise: AugmentedNetwork | None = None, gammas: Sequence[float] | None = None,
            **kw) -> AugmentedNetwork:
    """Steps 1-4 for one variant; pass an already trained `layerwise` network (step 2, same
    switches) to share it between variants. The classifier is copied, never changed."""
    if layerwise is None:
        layerwise = pretrain_layerwise(classifier, input_shape, x, switches, procedure.layerwise, **kw)
    elif layerwise.switches != switches:
        raise ValueError(f"the layer-wise network uses {layerwise.switches} switches, not {switches}")
    if variant == "layerwise":
        net = copy.deepcopy(layerwise)
        net.lam = procedure.lam
        if gammas is not None:
            net.gammas.copy_(torch.tensor(list(gammas), dtype=net.gammas.dtype))
    else:
        net = AugmentedNetwork(classifier, input_shape, variant=variant, switches=switches, lam=procedure.lam,
                               gammas=gammas).to(x.device)
        net.init_decoders_from(layerwise)                                                      # step 3
        train_decoders(net, x, procedure.stacked, desc=f"step 3: {variant} decoders ({switches})", **kw)
    finetune(net, x, y, procedure.finetune, desc=f"step 4: fine-tune {variant} ({switches})", **kw)  # step 4
    return net
