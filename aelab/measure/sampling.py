"""Sampling from a denoising autoencoder by running its Markov chain (GSN view).

A denoising autoencoder learns the stochastic operator p(X | X~) (Vincent et al. 2008,
sec. 4.2); with the corruption process C(X~ | X) it defines the chain (Zhou et al. eqs. 14-15)

    X~(t+1) ~ C(X~ | X(t))           corrupt the current state, as in training     (14)
    X(t+1)  ~ P(X | X~(t+1))         decode, and sample the decoder's output        (15)

whose stationary distribution approximates the data distribution (Bengio et al.'s GSNs).
For a deep autoencoder P(X | X~) is the whole stack: x_r = f_d^1 o ... o f_d^N o f_e^N o
... o f_e^1 (X~). The decoder's output is read as a distribution: Bernoulli(x_r) for
sigmoid units trained with cross-entropy, N(x_r, output_std^2) for the squared loss.

Many chains run side by side as the rows of one batch, on the model's device, and every
`every`-th state is kept in a preallocated tensor (no host round trip per step). What is
kept is, as in the GSN code, the decoder's mean x_r (`record="mean"`) or the sampled
state itself (`record="state"`). `nearest_training` finds, for each kept sample, the
closest training example (squared Euclidean distance through matrix products, batched),
the last column of Zhou et al.'s Fig. 2 that shows the model is not copying its data.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from aelab.data.corruption import check_noise, corrupt

OUTPUTS = ("sample", "mean")
RECORDS = ("mean", "state")
STARTS = ("data", "noise")


@dataclass
class ChainSettings:
    """How to run the chain. `noise=None` uses the corruption the bottom layer was trained
    with; `corrupt_hidden` also corrupts the input of every higher encoder (the joint
    objective's path, Zhou eq. 8) instead of only X (eq. 14)."""

    n_steps: int = 100
    every: int = 1
    burn_in: int = 0
    noise: tuple[str, float] | None = None
    output: str = "sample"
    output_std: float | None = None
    record: str = "mean"
    corrupt_hidden: bool = False

    def check(self) -> None:
        if self.n_steps < 1 or self.every < 1 or self.burn_in < 0:
            raise ValueError(f"need n_steps >= 1, every >= 1 and burn_in >= 0, got {self.n_steps}, "
                             f"{self.every} and {self.burn_in}")
        if self.output not in OUTPUTS:
            raise ValueError(f"output {self.output!r} is unknown; choose one of {', '.join(OUTPUTS)}")
        if self.record not in RECORDS:
            raise ValueError(f"record {self.record!r} is unknown; choose one of {', '.join(RECORDS)}")
        if self.noise is not None:
            check_noise(self.noise[0], float(self.noise[1]))
        if self.output_std is not None and not self.output_std > 0:
            raise ValueError(f"output_std must be > 0, got {self.output_std}")


def _layers(model: torch.nn.Module) -> list:
    """The one-layer autoencoders of `model`, bottom first (a single Autoencoder is a stack of one)."""
    layers = list(getattr(model, "layers", [model]))
    for layer in layers:
        if not all(hasattr(layer, name) for name in ("encode", "decode", "decode_preactivation", "noise")):
            raise TypeError(f"{type(layer).__name__} is not a dense autoencoder layer "
                            "(needs encode, decode, decode_preactivation and noise)")
    return layers


def denoise_step(model: torch.nn.Module, x: torch.Tensor, settings: ChainSettings,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One transition X(t) -> X(t+1); returns (the decoder mean x_r, the new state X(t+1))."""
    layers = _layers(model)
    bottom = layers[0]
    kind, level = settings.noise if settings.noise is not None else bottom.noise
    h = corrupt(x, kind, level, generator) if level > 0 and kind != "none" else x      # eq. 14
    for i, layer in enumerate(layers):
        if i > 0 and settings.corrupt_hidden:
            h = layer.corrupt(h, generator)
        h = layer.encode(h)
    for layer in reversed(layers[1:]):
        h = layer.decode(h)
    mean = bottom.decode(h)                                                                # E[X | X~]
    if settings.output == "mean":
        return mean, mean
    if bottom.loss_kind == "cross-entropy":                                                # eq. 15
        return mean, torch.bernoulli(mean, generator=generator)
    if settings.output_std is None:
        raise ValueError("sampling a Gaussian decoder (squared loss) needs output_std; "
                         "or set output='mean'")
    noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    return mean, mean + settings.output_std * noise


@torch.no_grad()
def run_chains(model: torch.nn.Module, start: torch.Tensor, settings: ChainSettings | None = None, *,
               generator: torch.Generator | None = None, progress=None, check_stop=None,
               **overrides) -> torch.Tensor:
    """Run len(start) chains in parallel from the rows of `start` (shape n_chains x ...).

    After `burn_in` transitions, every `every`-th of the next `n_steps` states is kept:
    returns a tensor n_kept x n_chains x d on the model's device, n_kept = n_steps // every,
    chain c's consecutive samples being out[:, c]. `overrides` replace fields of `settings`.
    progress(done, total, desc) and check_stop() (either may be None) are called about 1000
    times over the run, never per step of a long chain.
    """
    settings = settings or ChainSettings()
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(ChainSettings)})
    if unknown:
        raise ValueError(f"unknown chain setting(s) {', '.join(unknown)}")
    settings = dataclasses.replace(settings, **overrides)
    settings.check()
    layers = _layers(model)
    device = next(model.parameters()).device
    if start.ndim < 2 or start.shape[0] == 0:
        raise ValueError(f"start holds no states (shape {tuple(start.shape)}): give one row per chain")
    x = start.flatten(1).to(device=device, dtype=next(model.parameters()).dtype)
    if x.shape[1] != layers[0].n_visible:
        raise ValueError(f"start has {x.shape[1]} features, the model expects {layers[0].n_visible}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("start holds non-finite values")
    was_training = model.training
    model.eval()
    n_kept = settings.n_steps // settings.every
    if n_kept == 0:
        raise ValueError(f"n_steps={settings.n_steps} keeps no state when every={settings.every}")
    out = torch.empty(n_kept, x.shape[0], x.shape[1], device=device, dtype=x.dtype)
    total = settings.burn_in + n_kept * settings.every
    report = max(1, total // 1000)
    try:
        kept = 0
        for step in range(1, total + 1):
            mean, x = denoise_step(model, x, settings, generator)
            after = step - settings.burn_in
            if after > 0 and after % settings.every == 0:
                out[kept] = mean if settings.record == "mean" else x
                kept += 1
            if step % report == 0 or step == total:
                if check_stop is not None:
                    check_stop()
                if progress is not None:
                    progress(step, total, "sampling chains")
    finally:
        model.train(was_training)
    return out


def consecutive(chains: torch.Tensor) -> torch.Tensor:
    """n_kept x n_chains x d -> (n_chains * n_kept) x d, each chain's samples in order."""
    return chains.transpose(0, 1).reshape(-1, chains.shape[-1])


def start_states(kind: str, n_chains: int, data: torch.Tensor,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Starting states: `data` picks random rows of `data` (training examples), `noise`
    draws uniform [0, 1) images of the same size. On data's device."""
    if kind not in STARTS:
        raise ValueError(f"start {kind!r} is unknown; choose one of {', '.join(STARTS)}")
    if n_chains < 1:
        raise ValueError(f"n_chains must be >= 1, got {n_chains}")
    flat = data.reshape(data.shape[0], -1)
    if kind == "noise":
        return torch.rand((n_chains, flat.shape[1]), generator=generator, device=flat.device, dtype=flat.dtype)
    if flat.shape[0] == 0:
        raise ValueError("no data to start the chains from")
    rows = torch.randint(0, flat.shape[0], (n_chains,), generator=generator, device=flat.device)
    return flat[rows].clone()


@torch.no_grad()
def nearest_training(samples: torch.Tensor, train: torch.Tensor, *, batch_size: int = 1024,
                     train_batch: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """For each sample row, the index of the closest training row and that squared distance.

    argmin_i ||s - t_i||^2 = argmin_i (||t_i||^2 - 2 s.t_i): one matrix product per block of
    samples x training rows, a running minimum across blocks; the returned distance is then
    re-measured by explicit differences (exact, not the float32 expansion).
    """
    if samples.ndim < 2 or train.ndim < 2 or samples.shape[0] == 0 or train.shape[0] == 0:
        raise ValueError("nearest_training needs at least one sample and one training example, one per row")
    s = samples.flatten(1)
    t = train.flatten(1).to(s.device, s.dtype)
    if s.shape[1] != t.shape[1]:
        raise ValueError(f"samples have {s.shape[1]} dimensions but training examples have {t.shape[1]}")
    t_sq = (t * t).sum(1)
    index = torch.empty(s.shape[0], dtype=torch.long, device=s.device)
    for a in range(0, s.shape[0], batch_size):
        sb = s[a:a + batch_size]
        best = torch.full((sb.shape[0],), float("inf"), device=s.device, dtype=s.dtype)
        arg = torch.zeros(sb.shape[0], dtype=torch.long, device=s.device)
        for b in range(0, t.shape[0], train_batch):
            score = torch.addmm(t_sq[None, b:b + train_batch], sb, t[b:b + train_batch].T, alpha=-2.0)
            value, where = score.min(1)
            better = value < best
            best = torch.where(better, value, best)
            arg = torch.where(better, where + b, arg)
        index[a:a + sb.shape[0]] = arg
    distance = ((s - t[index]) ** 2).sum(1)
    return index, distance
