"""Training classifiers augmented with decoding pathways: Zhang et al. section 4.1.

    1. the encoding pathway is the pretrained classifier; decoders start from Gaussian
       random initialisation (torch's default init here, drawn from the network's generator);
    2. with the classification pathway fixed, train the layer-wise decoders of
       SAE-layerwise (every macro-layer in parallel: one summed loss, detached inputs);
    3. for SAE-first/all, initialise the stacked decoders with the layer-wise ones and
       train them, the classification pathway still fixed (skipped for SAE-layerwise);
    4. fine-tune everything together on C(x, y) + lambda U(x) with a reduced learning rate.

Every step trains through the one loop, `aelab.train.loop.fit`, configured by a `FitConfig`:
"for all the four steps, we trained the networks by mini-batch SGD with the momentum 0.9"
is `step_config()`'s default and what every default here uses. Fixing the classification
pathway is `fit(..., parameters=the decoders')` with the classifier's parameters frozen.
Every trainer returns the loop's history (one metrics dict per epoch) and hears from the
caller through `Callbacks`.

Learning rates of the decoder steps (2 and 3) follow Appendix A1's rule: "the learning rates
that lead to the largest decrease in the reconstruction loss in the first 2000 iterations"
(`LrSearch`: a short trial per candidate from the step's starting weights, the weights put
back after each; the choice is recorded).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from aelab.models.augmented import AugmentedNetwork
from aelab.train.loop import Callbacks, FitConfig, TrainingDiverged, fit

Objective = Callable[[AugmentedNetwork, torch.Tensor], "torch.Tensor | dict[str, torch.Tensor]"]


def step_config(epochs: int = 1, batch_size: int = 64, lr: float = 0.01, optimizer: str = "sgd",
                momentum: float = 0.9) -> FitConfig:
    """One optimisation step of the procedure as a `FitConfig`, with section 4.1's defaults
    (mini-batch SGD, momentum 0.9; momentum applies to SGD only). Checked at once."""
    config = FitConfig(epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
                       momentum=momentum if optimizer == "sgd" else 0.0)
    config.check()
    return config


@dataclass
class LrSearch:
    """Appendix A1: a decoder step's learning rate is the candidate in `lrs` whose trial of
    `batches` SGD iterations (on the step's first `batches x batch size` images, from the
    step's starting weights) lowers the loss most, measured as the mean loss of the trial's
    second half (a trial that diverges loses). The weights are put back after every trial and
    the trials draw from their own generator, so the step itself is untouched by them.
    `chosen` records {step description: {"lr": chosen, "trial_loss": {lr: loss}}}."""

    lrs: tuple[float, ...]
    batches: int = 200
    seed: int = 0
    chosen: dict = field(default_factory=dict)

    def pick(self, module: nn.Module, config: FitConfig, x: torch.Tensor,
             trial: Callable[[FitConfig, torch.Tensor, torch.Generator], list[dict[str, float]]],
             description: str) -> FitConfig:
        """`config` with the chosen learning rate; `trial(config, x, generator)` trains `module`."""
        if not self.lrs or self.batches < 2:
            raise ValueError(f"a learning-rate search needs candidates and >= 2 batches, got {self.lrs}, "
                             f"{self.batches}")
        n = min(len(x), max(1, self.batches // 2) * config.batch_size)
        start = {k: v.detach().clone() for k, v in module.state_dict().items()}
        losses: dict[str, float] = {}
        for lr in self.lrs:
            trial_config = replace(config, epochs=2, lr=lr)
            generator = torch.Generator(device=x.device).manual_seed(self.seed)
            try:
                losses[f"{lr:g}"] = float(trial(trial_config, x[:n], generator)[-1]["train_loss"])
            except TrainingDiverged:
                losses[f"{lr:g}"] = math.inf
            finally:
                module.load_state_dict(start)
        best = min(self.lrs, key=lambda lr: losses[f"{lr:g}"])
        if not math.isfinite(losses[f"{best:g}"]):
            raise TrainingDiverged(f"{description}: every learning rate tried diverged ({', '.join(losses)})")
        self.chosen[description] = {"lr": best, "trial_loss": {k: (v if math.isfinite(v) else None)
                                                               for k, v in losses.items()}}
        return replace(config, lr=best)


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


def train_classifier(classifier: nn.Module, x: torch.Tensor, y: torch.Tensor, config: FitConfig, *,
                     generator: torch.Generator | None = None, callbacks: Callbacks | None = None,
                     description: str = "classifier") -> list[dict[str, float]]:
    """Train (or fine-tune: the baseline of step 4) a classifier on cross-entropy C(x, y)."""

    def loss(xb: torch.Tensor, yb: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        c = F.cross_entropy(classifier(xb), yb)
        return {"classification": c, "total": c}

    return fit(classifier, loss, (x, y), config, generator=generator, callbacks=callbacks, description=description)


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


def decoder_terms(net: AugmentedNetwork, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """U(x) of the decoders alone, on the fixed encoder's activations: the network's
    reconstruction terms plus the fc decoders' layer-wise terms (when it has them)."""
    with torch.no_grad():
        enc = net.encode(x)
    terms = {**net.reconstruction_terms(enc), **net.fc_terms(enc)}
    total = torch.stack(list(terms.values())).sum()
    return {**terms, "reconstruction": total, "total": total}


def train_decoders(net: AugmentedNetwork, x: torch.Tensor, config: FitConfig, objective: Objective | None = None, *,
                   generator: torch.Generator | None = None, callbacks: Callbacks | None = None,
                   description: str = "decoders", search: LrSearch | None = None) -> list[dict[str, float]]:
    """Train the decoders only, the classification pathway fixed (steps 2 and 3).

    `objective(net, x_batch)` defaults to `decoder_terms`; it may return a dict of named
    terms with a 'total', or one tensor (the total). `search`: choose the learning rate first
    (Appendix A1's rule, see `LrSearch`)."""
    objective = objective or decoder_terms

    def loss(xb: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        out = objective(net, xb)
        return out if isinstance(out, dict) else {"total": out}

    def run(cfg: FitConfig, xs: torch.Tensor, gen: torch.Generator | None, cbs: Callbacks | None = None,
            desc: str = description) -> list[dict[str, float]]:
        with _Frozen(net):
            return fit(net, loss, xs, cfg, parameters=net.decoder_parameters(), generator=gen, callbacks=cbs,
                       description=desc)

    if search is not None and config.epochs:
        # a trial hears stop requests and reports progress; it keeps a journal phase of its own, so a
        # run stopped after (or during) its search does not repeat the trials; its epochs are not the step's
        trial_callbacks = None if callbacks is None else Callbacks(
            progress=callbacks.progress, check_stop=callbacks.check_stop, journal=callbacks.journal)
        config = search.pick(net, config, x, lambda cfg, xs, gen: run(cfg, xs, gen, trial_callbacks,
                                                                      desc=f"trial: {description}"), description)
    return run(config, x, generator, callbacks)


def finetune(net: AugmentedNetwork, x: torch.Tensor, y: torch.Tensor, config: FitConfig, *,
             generator: torch.Generator | None = None, callbacks: Callbacks | None = None,
             description: str = "fine-tune") -> list[dict[str, float]]:
    """Step 4: all pathways together on eq. 2, C(x, y) + lambda U(x)."""
    return fit(net, net.loss, (x, y), config, generator=generator, callbacks=callbacks, description=description)


@dataclass(frozen=True)
class ProcedureConfig:
    """Steps 2-4 of section 4.1 (step 1 is the trained classifier itself)."""

    layerwise: FitConfig = field(default_factory=lambda: step_config(epochs=1, lr=0.01, batch_size=16))
    stacked: FitConfig = field(default_factory=lambda: step_config(epochs=1, lr=0.01, batch_size=16))
    finetune: FitConfig = field(default_factory=lambda: step_config(epochs=1, lr=1e-3, batch_size=64))
    lam: float = 1.0
    search: LrSearch | None = None  # choose the learning rates of steps 2 and 3 (Appendix A1)


def pretrain_layerwise(classifier: nn.Module, input_shape: Sequence[int], x: torch.Tensor, switches: str,
                       config: FitConfig, *, invert_fc: bool = False, generator: torch.Generator | None = None,
                       callbacks: Callbacks | None = None, description: str | None = None,
                       search: LrSearch | None = None) -> AugmentedNetwork:
    """Steps 1-2: an SAE/SWWAE-layerwise network on `classifier` whose decoders are trained
    with the classifier fixed. `generator` draws the batches and seeds the CPU generator the
    decoders' initial weights are drawn from (without it, PyTorch's global RNG); `search`
    chooses the step's learning rate first."""
    net = AugmentedNetwork(classifier, input_shape, variant="layerwise", switches=switches, invert_fc=invert_fc,
                           generator=_init_generator(generator)).to(x.device)
    train_decoders(net, x, config, generator=generator, callbacks=callbacks, search=search,
                   description=description or f"step 2: layer-wise decoders ({switches} switches)")
    return net


def _init_generator(generator: torch.Generator | None) -> torch.Generator | None:
    """A generator for initial weights (made on the CPU): a CPU generator seeded from
    `generator` (which it advances), or None."""
    if generator is None:
        return None
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
    return torch.Generator().manual_seed(seed)


def augment(classifier: nn.Module, input_shape: Sequence[int], x: torch.Tensor, y: torch.Tensor, *,
            variant: str, switches: str, procedure: ProcedureConfig,
            layerwise: AugmentedNetwork | None = None, gammas: Sequence[float] | None = None,
            generator: torch.Generator | None = None, callbacks: Callbacks | None = None) -> AugmentedNetwork:
    """Steps 1-4 for one variant; pass an already trained `layerwise` network (step 2, same
    switches) to share it between variants. The classifier is copied, never changed."""
    if layerwise is None:
        layerwise = pretrain_layerwise(classifier, input_shape, x, switches, procedure.layerwise,
                                       generator=generator, callbacks=callbacks, search=procedure.search)
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
        train_decoders(net, x, procedure.stacked, generator=generator, callbacks=callbacks,
                       description=f"step 3: {variant} decoders ({switches})", search=procedure.search)
    finetune(net, x, y, procedure.finetune, generator=generator, callbacks=callbacks,           # step 4
             description=f"step 4: fine-tune {variant} ({switches})")
    return net
