"""The one training loop: every model, scheme and dashboard trains through `fit`.

The data stay resident on the device; a `Sampler` turns them into the batches of an epoch
(`Shuffle`: a `torch.randperm` on the data's device sliced into index batches; the
semi-supervised labelled/unlabelled mix is another sampler). Loss terms are summed on the
device and read back once per epoch, so no batch waits on the host.

    history = fit(model, model.loss, x_train, FitConfig(epochs=5, lr=1e-3),
                  evaluate=lambda: {"test_reconstruction": model.reconstruction_error(x_test)},
                  callbacks=Callbacks(on_epoch=lambda epoch, metrics: print(epoch, metrics)))

`loss_fn(*batch, generator=g)` returns a dict of 0-d tensors with a `total` (the model
protocol's `loss`). One `Callbacks` object carries what the caller wants to hear: epoch
ends, progress, a stop check and a checkpoint hook that receives the loop's full state
(`LoopState`: optimizer, generator and sampler states, history), so that `fit(...,
resume=state)` continues a run exactly where it stopped.

Divergence: an epoch whose mean loss is not finite, or exceeds `FitConfig.divergence`
times the first batch's loss, stops training with `TrainingDiverged`, naming the epoch, the
likely causes and the learning rate, after putting back the weights of the last good epoch
(so the last checkpoint on disk, written after that epoch, is good too).
Early stopping: `monitor` names an `evaluate` metric (lower is better); after `patience`
epochs without improvement training stops, and the best epoch's weights are put back.
"""

from __future__ import annotations

import abc
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import torch
from torch import nn

from aelab.errors import UsageError
from aelab.train.fast import FusedRMSprop, GraphedStep, fused_loss

OPTIMIZERS = ("sgd", "rmsprop", "adam")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or inf, or grew far past its start."""


@dataclass
class FitConfig:
    """How to optimise: `epochs` is the total for this phase (a resumed run does the rest)."""

    epochs: int = 10
    batch_size: int = 100
    optimizer: str = "rmsprop"  # "sgd", "rmsprop" (decay 0.9, Zhou et al.) or "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    divergence: float = 100.0  # stop when an epoch's mean loss exceeds this times the first batch's
    # dense models: the hand-derived step of `aelab.train.fast` (same gradients); every model: the
    # optimizers' fused updates (torch's fused SGD/Adam, `fast.FusedRMSprop`) on cpu and cuda
    fused: bool = True
    # on cuda, the fused step and the update captured in a CUDA graph and replayed per batch
    # (`fast.GraphedStep`: one launch a step instead of ~40)
    cuda_graph: bool = True

    def check(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise UsageError(f"optimizer {self.optimizer!r} is unknown; choose one of {', '.join(OPTIMIZERS)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise UsageError(f"learning rate must be a positive number, got {self.lr}")
        if self.epochs < 0 or self.batch_size < 1:
            raise UsageError(f"need epochs >= 0 and batch_size >= 1, got {self.epochs} and {self.batch_size}")
        if not (self.momentum >= 0 and math.isfinite(self.momentum)):
            raise UsageError(f"momentum must be >= 0, got {self.momentum}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise UsageError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if not self.divergence > 1:
            raise UsageError(f"divergence is a growth factor > 1, got {self.divergence}")


def make_optimizer(parameters: Iterable[nn.Parameter], config: FitConfig) -> torch.optim.Optimizer:
    config.check()
    params = [p for p in parameters if p.requires_grad]
    if not params:
        raise ValueError("nothing to train: no parameter requires a gradient")
    device = params[0].device
    fused = config.fused and all(p.device == device for p in params) and FusedRMSprop.available(device)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
                               fused=fused or None)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=fused or None)
    if fused and config.momentum == 0:  # one pass per tensor instead of five (see FusedRMSprop)
        return FusedRMSprop(params, lr=config.lr, alpha=0.9, weight_decay=config.weight_decay)
    return torch.optim.RMSprop(params, lr=config.lr, alpha=0.9, momentum=config.momentum,
                               weight_decay=config.weight_decay)


# --- batch sampling strategies -------------------------------------------------------------------

class Sampler(abc.ABC):
    """Yields the batches of one epoch as tuples of tensors on the data's device.

    `n_batches` is the number of batches per epoch; `state_dict`/`load_state_dict` carry
    any state that lives across epochs (none for plain shuffling), for exact resume."""

    n_batches: int = 0
    device: torch.device = torch.device("cpu")

    @abc.abstractmethod
    def epoch(self, generator: torch.Generator | None) -> Iterator[tuple[torch.Tensor, ...]]:
        """The batches of one epoch, drawn with `generator`."""

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        pass


class Shuffle(Sampler):
    """Every example once per epoch, in a fresh random order, `batch_size` at a time."""

    def __init__(self, data: torch.Tensor | Sequence[torch.Tensor], batch_size: int):
        self.tensors = (data,) if isinstance(data, torch.Tensor) else tuple(data)
        if not self.tensors:
            raise ValueError("no training data")
        self.n = self.tensors[0].shape[0]
        if self.n == 0:
            raise ValueError("no training examples")
        if any(t.shape[0] != self.n for t in self.tensors):
            raise ValueError("all data tensors need the same number of examples")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.device = self.tensors[0].device
        self.n_batches = -(-self.n // self.batch_size)

    def epoch(self, generator: torch.Generator | None) -> Iterator[tuple[torch.Tensor, ...]]:
        order = torch.randperm(self.n, device=self.device, generator=generator)
        size = self.batch_size
        for b in range(self.n_batches):
            idx = order[b * size:(b + 1) * size]
            yield tuple(t.index_select(0, idx) for t in self.tensors)


# --- callbacks and state -----------------------------------------------------------------------

@dataclass
class Callbacks:
    """What the caller hears from the loop (every field optional).

    on_epoch(epoch, metrics)     after each good epoch (metrics include train_* terms,
                                 the `evaluate` values, `train_seconds` (the steps),
                                 `seconds` (steps + evaluation) and `epoch`)
    progress(done, total, text)  about 20 times an epoch, in batches
    check_stop()                 as often as progress; raise (e.g. `Stopped`) to stop
    checkpoint(epoch, state)     after each good epoch, with the `LoopState` to save
    journal                      where a long run keeps each phase (`aelab.train.checkpoints.Journal`,
                                 scoped to a label): `journal.phase(description)` gives the phase's
                                 `restore(model, parameters)` and `save(model, state)`. A restarted
                                 run continues where its phase stopped, and a phase that had finished
                                 is restored without training (its epochs are replayed to `on_epoch`).
    """

    on_epoch: Callable[[int, dict[str, float]], None] | None = None
    progress: Callable[[int, int, str], None] | None = None
    check_stop: Callable[[], None] | None = None
    checkpoint: Callable[[int, "LoopState"], None] | None = None
    journal: Any = None

    def tagged(self, **tags: Any) -> "Callbacks":
        """The same callbacks, with `tags` added to every epoch's metrics first."""
        on_epoch = self.on_epoch

        def tag(epoch: int, metrics: dict[str, float]) -> None:
            metrics.update(tags)
            if on_epoch is not None:
                on_epoch(epoch, metrics)

        return Callbacks(tag, self.progress, self.check_stop, self.checkpoint, self.journal)


@dataclass
class LoopState:
    """Everything `fit` needs to continue a run exactly: epochs done in this phase, the
    optimizer's state, the generator's state, the sampler's state, the history so far, the
    first batch's loss (the divergence reference) and the best monitored epoch."""

    epoch: int = 0
    optimizer: dict[str, Any] = field(default_factory=dict)
    generator: torch.Tensor | None = None
    sampler: dict[str, torch.Tensor] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    start_loss: float | None = None
    best_value: float | None = None
    best_epoch: int | None = None
    best_weights: dict[str, torch.Tensor] | None = None
    finished: bool = False  # the phase ended (all epochs, or early stopping): resuming trains no more


def _capture(state: LoopState, optimizer: torch.optim.Optimizer, generator: torch.Generator | None,
             sampler: "Sampler") -> None:
    """Put the optimizer's, generator's and sampler's states into `state` (to be saved)."""
    state.optimizer = optimizer.state_dict()
    state.generator = generator.get_state() if generator is not None else None
    state.sampler = sampler.state_dict()


def _eager_step(loss_fn: Callable[..., dict[str, torch.Tensor]], batch: tuple[torch.Tensor, ...],
                generator: torch.Generator | None, optimizer: torch.optim.Optimizer, grads_ready: bool,
                sums: torch.Tensor | None, state: LoopState) -> tuple[torch.Tensor, list[str]]:
    """One step run op by op; returns `sums` plus the batch's size times its loss terms, and the
    terms' names (in the order of the sums)."""
    if grads_ready:  # the fused step fills .grad itself
        optimizer.zero_grad(set_to_none=True)
        terms = loss_fn(*batch, generator=generator)
    else:
        terms = loss_fn(*batch, generator=generator)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
    optimizer.step()
    names = list(terms)
    values = torch.stack([terms[k].detach() for k in names]) * batch[0].shape[0]
    if state.start_loss is None:  # one host read per fit: the divergence reference
        state.start_loss = abs(float(terms["total"].detach())) or 1e-12
    return (values if sums is None else sums + values), names


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _diverged(description: str, epoch: int, value: float, start: float | None, config: FitConfig) -> TrainingDiverged:
    grown = "" if not math.isfinite(value) or start is None else \
        f" ({value / start:.3g} times its start {start:.4g}, past the limit of {config.divergence:g}x)"
    return TrainingDiverged(
        f"{description}: the loss became {value:.6g} in epoch {epoch}{grown}. Likely causes: a learning rate "
        f"too high ({config.optimizer}, lr={config.lr:g}) — try a smaller one — or inputs outside the "
        f"model's range. The weights of the last good epoch ({epoch - 1}) were put back.")


def fit(model: nn.Module, loss_fn: Callable[..., dict[str, torch.Tensor]],
        data: torch.Tensor | Sequence[torch.Tensor] | Sampler, config: FitConfig, *,
        parameters: Iterable[nn.Parameter] | None = None, generator: torch.Generator | None = None,
        evaluate: Callable[[], dict[str, torch.Tensor | float]] | None = None,
        callbacks: Callbacks | None = None, monitor: str | None = None, patience: int | None = None,
        first_epoch: int = 1, description: str = "training",
        resume: LoopState | None = None) -> list[dict[str, float]]:
    """Train `model` by minimising `loss_fn(*batch)["total"]`; return one metrics dict per epoch.

    data: one tensor, a tuple of tensors with the same first dimension (shuffled in batches
        of `config.batch_size`), or any `Sampler`; on the model's device.
    parameters: what the optimizer moves (default all of the model's that require a gradient).
    evaluate: called after each epoch; its values (tensors are fine) join the epoch's metrics.
    first_epoch: the number of this phase's first epoch (schemes chain phases).
    resume: a `LoopState` from a checkpoint: the run continues after its epoch, with the
        optimizer, generator and sampler states restored; the returned history is whole.
    """
    config.check()
    callbacks = callbacks or Callbacks()
    sampler = data if isinstance(data, Sampler) else Shuffle(data, config.batch_size)
    if config.fused and parameters is None and getattr(loss_fn, "__self__", None) is model \
            and getattr(loss_fn, "__func__", None) is getattr(type(model), "loss", None):
        loss_fn = fused_loss(model) or loss_fn
    grads_ready = getattr(loss_fn, "computes_gradients", False)  # a fused step fills .grad itself
    params = list(parameters if parameters is not None else model.parameters())
    optimizer = make_optimizer(params, config)
    graph = GraphedStep.create(loss_fn, optimizer, generator, params[0].device) \
        if config.cuda_graph and grads_ready and params else None
    phase = callbacks.journal.phase(description) if callbacks.journal is not None else None
    replay = False
    if resume is None and phase is not None:
        resume = phase.restore(model, params)
        replay = resume is not None
    state = LoopState()
    if resume is not None:
        optimizer.load_state_dict(resume.optimizer)
        if resume.generator is not None and generator is not None:
            generator.set_state(resume.generator)
        sampler.load_state_dict(resume.sampler)
        state = LoopState(epoch=resume.epoch, history=list(resume.history), start_loss=resume.start_loss,
                          best_value=resume.best_value, best_epoch=resume.best_epoch,
                          best_weights=resume.best_weights, finished=resume.finished)
        if replay and callbacks.on_epoch is not None:  # the restored epochs, as if they had just run
            for metrics in state.history:
                callbacks.on_epoch(metrics["epoch"], metrics)
    n_batches = sampler.n_batches
    every = max(1, n_batches // 20)
    total_steps = max(1, config.epochs * n_batches)
    good = _snapshot(model)
    names: list[str] | None = None
    for e in range(state.epoch, 0 if state.finished else config.epochs):
        epoch = first_epoch + e
        started = time.perf_counter()
        model.train()
        sums = None
        count = 0
        if graph is not None:
            graph.begin_epoch()
        for b, batch in enumerate(sampler.epoch(generator)):
            count += batch[0].shape[0]
            if graph is None or not graph(batch):  # a replayed step sums its terms in the graph
                sums, names = _eager_step(loss_fn, batch, generator, optimizer, grads_ready, sums, state)
                if graph is not None:
                    graph.ran_eagerly(names)
            if b % every == 0:
                if callbacks.check_stop is not None:
                    callbacks.check_stop()
                if callbacks.progress is not None:
                    callbacks.progress(e * n_batches + b, total_steps, description)
        if graph is not None and graph.replayed:
            sums = graph.sums if sums is None else sums + graph.sums
            graph.settle()
        means = (sums / max(count, 1)).tolist()  # the epoch's one host sync
        total = means[names.index("total")]
        if not math.isfinite(total) or not all(math.isfinite(v) for v in means) \
                or abs(total) > config.divergence * state.start_loss:
            model.load_state_dict(good)
            raise _diverged(description, epoch, total, state.start_loss, config)
        metrics = {f"train_{k}" if k != "total" else "train_loss": v for k, v in zip(names, means)}
        metrics["train_seconds"] = time.perf_counter() - started  # the steps alone
        model.eval()
        if evaluate is not None:
            metrics.update({k: float(v) for k, v in evaluate().items()})
        metrics["seconds"] = time.perf_counter() - started
        metrics["epoch"] = epoch
        good = _snapshot(model)
        state.history.append(metrics)
        state.epoch = e + 1
        stop = False
        if monitor is not None:
            if monitor not in metrics:
                raise ValueError(f"monitor {monitor!r} is not a metric of the epoch; metrics: {', '.join(metrics)}")
            value = metrics[monitor]
            if state.best_value is None or value < state.best_value:
                state.best_value, state.best_epoch, state.best_weights = value, epoch, good
            elif patience is not None and epoch - state.best_epoch >= patience:
                stop = True
        if callbacks.checkpoint is not None or phase is not None:
            _capture(state, optimizer, generator, sampler)
        if callbacks.checkpoint is not None:
            callbacks.checkpoint(epoch, state)
        if callbacks.on_epoch is not None:
            callbacks.on_epoch(epoch, metrics)
        if phase is not None and e + 1 < config.epochs and not stop:
            phase.save(model, state)  # after on_epoch: its tags are part of the history
        if callbacks.progress is not None:
            callbacks.progress((e + 1) * n_batches, total_steps, description)
        if stop:
            break
    if phase is not None and not state.finished:
        state.finished = True
        _capture(state, optimizer, generator, sampler)
        phase.save(model, state, final=True)
    if state.best_weights is not None:
        model.load_state_dict(state.best_weights)
    model.eval()
    return state.history
