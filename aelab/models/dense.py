"""Dense autoencoders: one layer (Vincent et al. 2008, sec. 2) and deep stacks (Zhou et al., eqs. 4-8).

One layer, with x~ ~ q_D(x~ | x) the corruption process (identity when there is no noise):

    h   = s_e(W x~ + b)                 encoder            (Vincent eq. 1: y = f(x~))
    x_r = s_d(W' h + b'),  W' = W^T      decoder, tied      (Vincent eq. 2: z = g(y))
    L_H(x, x_r) = -sum_i [x_i log x_r_i + (1 - x_i) log(1 - x_r_i)]   cross-entropy
    L_2(x, x_r) = sum_i (x_i - x_r_i)^2                                  squared error

Regularisers R(Theta) of the general objective (Zhou eq. 7), each a named loss term:

    contraction  lambda ||J_f(x)||_F^2 = lambda sum_j s_e'(a_j)^2 sum_i W_ji^2,
                 for sigmoid units s_e'(a_j) = h_j (1 - h_j)
    sparsity_l1  lambda sum_j |h_j|
    sparsity_kl  lambda sum_j KL(rho || rho^_j),  rho^_j = mean over the batch of h_j
    weight_decay lambda ||W||^2 (and ||W'||^2 when untied)

A deep autoencoder of N layers (Zhou eqs. 4-6):

    h^i   = f_e^i(h^{i-1}) = s_e^i(W_e^i h^{i-1} + b_e^i)      (4)
    h^i_r = f_d^i(h^{i+1}_r) = s_d^i(W_d^i h^{i+1}_r + b_d^i)   (5)
    h^0 = x                                                     (6)

and its joint objective (eq. 8): corrupt the input of every encoder, h^{i-1}_c ~ Q^i(.|h^{i-1}),
reconstruct x_r = f_d^1 o ... o f_d^N (h^N) and pay one loss L(x, x_r) plus sum_i lambda_i R_i.
Losses are sums over components, averaged over the examples of a batch.

Configs: `AutoencoderConfig` (one layer; registered as `ae`, `dae`, `cae`, `sparse`, which
differ only in their preset defaults) and `DeepAutoencoderConfig` (`deep`). There is no
hidden default noise: a plain `ae` has none, `dae` presets masking 25%.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from aelab.data.corruption import check_noise, corrupt, parse_noise
from aelab.models.registry import register

UNITS = ("sigmoid", "tanh", "relu", "linear")
LOSSES = ("cross-entropy", "squared")

_ACTIVATION = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "linear": lambda a: a}


def _derivative(unit: str, h: torch.Tensor) -> torch.Tensor:
    """s'(a) written with the unit's output h = s(a)."""
    if unit == "sigmoid":
        return h * (1 - h)
    if unit == "tanh":
        return 1 - h * h
    if unit == "relu":
        return (h > 0).to(h.dtype)
    return torch.ones_like(h)


def _noise(noise: str | tuple[str, float] | None) -> tuple[str, float]:
    """Accept ('masking', 0.25), 'masking:0.25', 'none' or None; check the level's range."""
    if noise is None:
        return "none", 0.0
    if isinstance(noise, str):
        return parse_noise(noise)
    if not (isinstance(noise, (tuple, list)) and len(noise) == 2):
        raise ValueError(f"noise must be (kind, level), 'kind:level' or None, got {noise!r}")
    kind, level = noise[0], float(noise[1])
    check_noise(kind, level)
    return kind, level


def noise_string(noise: tuple[str, float]) -> str:
    """('masking', 0.25) -> 'masking:0.25'; no noise -> 'none' (the config's form)."""
    kind, level = noise
    return "none" if kind == "none" or level == 0 else f"{kind}:{level:g}"


@dataclass
class LayerSettings:
    """What every layer of the dense family is made of (units, loss, regulariser weights)."""

    tied: bool = True
    encoder: str = "sigmoid"
    decoder: str = "sigmoid"
    loss: str = "cross-entropy"
    contractive: float = 0.0
    sparsity_l1: float = 0.0
    sparsity_kl: float = 0.0
    sparsity_target: float = 0.05
    l2: float = 0.0


@dataclass
class AutoencoderConfig(LayerSettings):
    """One autoencoder layer (see `Autoencoder`); JSON-friendly: noise is 'kind:level' or 'none'."""

    n_visible: int = 784
    n_hidden: int = 1000
    noise: str = "none"


@dataclass
class DeepAutoencoderConfig(LayerSettings):
    """A stack of layers (see `DeepAutoencoder`): `noise` is one 'kind:level' for every layer or
    a list with one per layer; the other fields are given to every layer."""

    sizes: list[int] = field(default_factory=lambda: [784, 1000, 1000])
    noise: str | list[str] = "none"


def _check_weight(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"regulariser weight {name} must be a finite number >= 0, got {value}")
    return value


def flat(x: torch.Tensor) -> torch.Tensor:
    """N x C x H x W (or N x d) -> N x d."""
    return x.reshape(x.shape[0], -1)


@register("ae", "dae", "cae", "sparse", "linear", defaults={
    "dae": {"noise": "masking:0.25"}, "cae": {"contractive": 0.1}, "sparse": {"sparsity_kl": 0.1},
    "linear": {"tied": False, "encoder": "linear", "decoder": "linear", "loss": "squared"}})
class Autoencoder(nn.Module):
    """One autoencoder layer: h = s_e(W x~ + b), x_r = s_d(W' h + b'), with named loss terms.

    `noise` is q_D (kind, level) of `aelab.data.corrupt`, used only in `loss` (training);
    `encode`, `decode`, `reconstruct` and `forward` are deterministic. No noise unless asked.
    """

    Config = AutoencoderConfig

    def __init__(self, n_visible: int, n_hidden: int, *, tied: bool = True, encoder: str = "sigmoid",
                 decoder: str = "sigmoid", loss: str = "cross-entropy",
                 noise: str | tuple[str, float] | None = None, contractive: float = 0.0,
                 sparsity_l1: float = 0.0, sparsity_kl: float = 0.0, sparsity_target: float = 0.05,
                 l2: float = 0.0, generator: torch.Generator | None = None):
        super().__init__()
        if int(n_visible) != n_visible or int(n_hidden) != n_hidden or n_visible < 1 or n_hidden < 1:
            raise ValueError(f"layer sizes must be positive integers, got {n_visible} -> {n_hidden}")
        for name, unit in (("encoder", encoder), ("decoder", decoder)):
            if unit not in UNITS:
                raise ValueError(f"{name} unit {unit!r} is unknown; choose one of {', '.join(UNITS)}")
        if loss not in LOSSES:
            raise ValueError(f"loss {loss!r} is unknown; choose one of {', '.join(LOSSES)}")
        if loss == "cross-entropy" and decoder != "sigmoid":
            raise ValueError("the cross-entropy loss needs reconstructions in (0, 1): use decoder='sigmoid' "
                             "or loss='squared'")
        if not 0.0 < sparsity_target < 1.0:
            raise ValueError(f"sparsity_target is a mean activation rate in (0, 1), got {sparsity_target}")
        if sparsity_kl > 0 and encoder != "sigmoid":
            raise ValueError("the KL sparsity penalty needs hidden rates in (0, 1): use encoder='sigmoid'")
        self.n_visible, self.n_hidden, self.tied = int(n_visible), int(n_hidden), bool(tied)
        self.encoder_unit, self.decoder_unit, self.loss_kind = encoder, decoder, loss
        self.noise = _noise(noise)
        self.contractive = _check_weight("contractive", contractive)
        self.sparsity_l1 = _check_weight("sparsity_l1", sparsity_l1)
        self.sparsity_kl = _check_weight("sparsity_kl", sparsity_kl)
        self.sparsity_target = float(sparsity_target)
        self.l2 = _check_weight("l2", l2)
        # W ~ U(-r, r), r = sqrt(6 / (n_in + n_out)), times 4 for sigmoid units (Glorot & Bengio 2010)
        r = math.sqrt(6.0 / (n_visible + n_hidden)) * (4.0 if encoder == "sigmoid" else 1.0)
        self.W = nn.Parameter(torch.empty(n_hidden, n_visible).uniform_(-r, r, generator=generator))
        self.b = nn.Parameter(torch.zeros(n_hidden))
        self.W_prime = None if tied else nn.Parameter(
            torch.empty(n_visible, n_hidden).uniform_(-r, r, generator=generator))
        self.b_prime = nn.Parameter(torch.zeros(n_visible))

    @classmethod
    def from_config(cls, config: AutoencoderConfig, generator: torch.Generator | None = None) -> "Autoencoder":
        fields = dataclasses.asdict(config)
        return cls(fields.pop("n_visible"), fields.pop("n_hidden"), generator=generator, **fields)

    @property
    def config(self) -> AutoencoderConfig:
        return AutoencoderConfig(n_visible=self.n_visible, n_hidden=self.n_hidden, noise=noise_string(self.noise),
                                 tied=self.tied, encoder=self.encoder_unit, decoder=self.decoder_unit,
                                 loss=self.loss_kind, contractive=self.contractive, sparsity_l1=self.sparsity_l1,
                                 sparsity_kl=self.sparsity_kl, sparsity_target=self.sparsity_target, l2=self.l2)

    def extra_repr(self) -> str:
        return (f"{self.n_visible} -> {self.n_hidden}, tied={self.tied}, encoder={self.encoder_unit}, "
                f"decoder={self.decoder_unit}, loss={self.loss_kind}, noise={self.noise}")

    @property
    def decoder_weight(self) -> torch.Tensor:
        """W' (n_visible x n_hidden): W^T when tied."""
        return self.W.t() if self.W_prime is None else self.W_prime

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """x~ ~ q_D(x~ | x)."""
        kind, level = self.noise
        return x if kind == "none" or level == 0 else corrupt(x, kind, level, generator)

    # --- the equations -------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """h = s_e(W x + b)."""
        x = flat(x)
        if x.shape[1] != self.n_visible:
            raise ValueError(f"input has {x.shape[1]} features, this layer expects {self.n_visible}")
        return _ACTIVATION[self.encoder_unit](F.linear(x, self.W, self.b))

    def decode_preactivation(self, h: torch.Tensor) -> torch.Tensor:
        """W' h + b'."""
        return F.linear(h, self.decoder_weight, self.b_prime)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """x_r = s_d(W' h + b')."""
        return _ACTIVATION[self.decoder_unit](self.decode_preactivation(h))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction x_r = g(f(x)) of a clean x, in the shape of x."""
        return self.decode(self.encode(x)).reshape(x.shape)

    forward = reconstruct

    def reconstruction_loss(self, x: torch.Tensor, a_r: torch.Tensor) -> torch.Tensor:
        """L(x, x_r) per example, from the decoder pre-activation a_r (x_r = s_d(a_r))."""
        if self.loss_kind == "cross-entropy":  # L_H, computed stably from the logits
            return F.binary_cross_entropy_with_logits(a_r, x, reduction="none").sum(1)
        return (_ACTIVATION[self.decoder_unit](a_r) - x).pow(2).sum(1)

    def contraction(self, h: torch.Tensor) -> torch.Tensor:
        """||J_f(x)||_F^2 per example = sum_j s_e'(a_j)^2 sum_i W_ji^2 (closed form)."""
        return _derivative(self.encoder_unit, h).pow(2) @ self.W.pow(2).sum(1)

    def penalties(self, h: torch.Tensor) -> dict[str, torch.Tensor]:
        """The weighted regularisers lambda R(Theta) that are switched on, given the codes h."""
        terms: dict[str, torch.Tensor] = {}
        if self.contractive > 0:
            terms["contraction"] = self.contractive * self.contraction(h).mean()
        if self.sparsity_l1 > 0:
            terms["sparsity_l1"] = self.sparsity_l1 * h.abs().sum(1).mean()
        if self.sparsity_kl > 0:
            rho, rate = self.sparsity_target, h.mean(0).clamp(1e-6, 1 - 1e-6)
            kl = rho * torch.log(rho / rate) + (1 - rho) * torch.log((1 - rho) / (1 - rate))
            terms["sparsity_kl"] = self.sparsity_kl * kl.sum()
        if self.l2 > 0:
            norm = self.W.pow(2).sum() + (0 if self.W_prime is None else self.W_prime.pow(2).sum())
            terms["weight_decay"] = self.l2 * norm
        return terms

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Named terms of the training objective: reconstruction of the clean x from x~, the
        regularisers that are on, and their sum `total`. Scalars (means over the batch)."""
        x = flat(x)
        h = self.encode(self.corrupt(x, generator))
        terms = {"reconstruction": self.reconstruction_loss(x, self.decode_preactivation(h)).mean()}
        terms.update(self.penalties(h))
        terms["total"] = sum(terms.values())
        return terms

    @torch.no_grad()
    def reconstruction_error(self, x: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
        """Mean L(x, x_r) over a set of clean x, as a 0-d tensor on x's device (no host sync)."""
        x = flat(x)
        total = torch.zeros((), device=x.device)
        for start in range(0, x.shape[0], batch_size):
            xb = x[start:start + batch_size]
            total += self.reconstruction_loss(xb, self.decode_preactivation(self.encode(xb))).sum()
        return total / max(1, x.shape[0])


@register("deep")
class DeepAutoencoder(nn.Module):
    """A stack of `Autoencoder` layers (Zhou eqs. 4-6): encoders bottom-up, decoders top-down.

    `sizes` = [n_visible, n_1, ..., n_N]; the layer keyword arguments are given to every layer,
    except `noise`, which may also be a list with one entry per layer. `layers[i]` is the
    one-layer autoencoder that maps h^i to h^{i+1} and back, so greedy layer-wise training
    trains `layers[i]` alone on the clean codes of the layers below.
    """

    Config = DeepAutoencoderConfig

    def __init__(self, sizes: Sequence[int] = (784, 1000, 1000), *, noise=None,
                 generator: torch.Generator | None = None, **layer: object):
        super().__init__()
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"a deep autoencoder needs at least [n_visible, n_hidden], got sizes={sizes}")
        noises = list(noise) if isinstance(noise, list) else [noise] * (len(sizes) - 1)
        if len(noises) != len(sizes) - 1:
            raise ValueError(f"noise has {len(noises)} entries for {len(sizes) - 1} layers")
        self.sizes = sizes
        self.layers = nn.ModuleList(
            Autoencoder(n_in, n_out, noise=q, generator=generator, **layer)  # type: ignore[arg-type]
            for n_in, n_out, q in zip(sizes[:-1], sizes[1:], noises))

    @classmethod
    def from_config(cls, config: DeepAutoencoderConfig, generator: torch.Generator | None = None) -> "DeepAutoencoder":
        fields = dataclasses.asdict(config)
        return cls(fields.pop("sizes"), generator=generator, **fields)

    @property
    def config(self) -> DeepAutoencoderConfig:
        first = self.layers[0].config
        noises = [layer.config.noise for layer in self.layers]
        shared = {f.name: getattr(first, f.name) for f in dataclasses.fields(LayerSettings)}
        return DeepAutoencoderConfig(sizes=list(self.sizes), noise=noises[0] if len(set(noises)) == 1 else noises,
                                     **shared)

    @classmethod
    def from_layers(cls, layers: Sequence[Autoencoder]) -> "DeepAutoencoder":
        """Stack existing layers; their sizes must chain (n_hidden of one = n_visible of the next)."""
        for lower, upper in zip(layers[:-1], layers[1:]):
            if lower.n_hidden != upper.n_visible:
                raise ValueError(f"layer sizes do not chain: a layer with {lower.n_hidden} hidden units "
                                 f"is followed by one expecting {upper.n_visible} inputs")
        model = cls.__new__(cls)
        nn.Module.__init__(model)
        model.sizes = [layers[0].n_visible] + [layer.n_hidden for layer in layers]
        model.layers = nn.ModuleList(layers)
        return model

    @property
    def depth(self) -> int:
        return len(self.layers)

    def _depth(self, depth: int | None) -> int:
        depth = self.depth if depth is None else depth
        if not 1 <= depth <= self.depth:
            raise ValueError(f"depth must lie in 1..{self.depth}, got {depth}")
        return depth

    def encode(self, x: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        """h^N = f_e^N o ... o f_e^1 (x)   (eqs. 4, 6); `depth` stops at h^depth."""
        h = flat(x)
        for layer in self.layers[:self._depth(depth)]:
            h = layer.encode(h)
        return h

    def codes(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[h^1, ..., h^N] of a clean x."""
        out, h = [], flat(x)
        for layer in self.layers:
            h = layer.encode(h)
            out.append(h)
        return out

    def decode_preactivation(self, h: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        """The pre-activation of x_r = f_d^1 o ... o f_d^N (h^N)   (eq. 5), from h^depth."""
        layers = list(self.layers[:self._depth(depth)])
        for layer in reversed(layers[1:]):
            h = layer.decode(h)
        return layers[0].decode_preactivation(h)

    def decode(self, h: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        return _ACTIVATION[self.layers[0].decoder_unit](self.decode_preactivation(h, depth))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """x_r of a clean x through every layer, in the shape of x."""
        return self.decode(self.encode(x)).reshape(x.shape)

    forward = reconstruct

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None,
             regularised: bool = True) -> dict[str, torch.Tensor]:
        """Zhou eq. 8: h^{i-1}_c ~ Q^i(.|h^{i-1}) at every encoder input, one reconstruction loss
        L(x, x_r) against the input, plus each layer's regularisers on its codes.
        With `regularised=False` (scheme U) there is neither corruption nor regulariser."""
        x = flat(x)
        terms: dict[str, torch.Tensor] = {}
        h = x
        for i, layer in enumerate(self.layers, start=1):
            h = layer.encode(layer.corrupt(h, generator) if regularised else h)
            if regularised:
                for name, value in layer.penalties(h).items():
                    terms[f"{name}_{i}"] = value
        a_r = self.decode_preactivation(h)
        out = {"reconstruction": self.layers[0].reconstruction_loss(x, a_r).mean(), **terms}
        out["total"] = sum(out.values())
        return out

    @torch.no_grad()
    def reconstruction_error(self, x: torch.Tensor, depth: int | None = None,
                             batch_size: int = 2000) -> torch.Tensor:
        """Mean L(x, x_r) in input space through the first `depth` layers (0-d tensor, no sync)."""
        x = flat(x)
        total = torch.zeros((), device=x.device)
        for start in range(0, x.shape[0], batch_size):
            xb = x[start:start + batch_size]
            a_r = self.decode_preactivation(self.encode(xb, depth), depth)
            total += self.layers[0].reconstruction_loss(xb, a_r).sum()
        return total / max(1, x.shape[0])
