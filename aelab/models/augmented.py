"""Classifiers augmented with decoding pathways (Zhang, Lee, Lee 2016, section 3).

A classification network of L convolution-pooling macro-layers (eq. 1):

    a_l = f_l(a_{l-1}; phi_l),   l = 1, ..., L + 1,   a_0 = x,

where f_l is a group of convolutions (+ ReLU) closed by a max pool, and f_{L+1} is the
rest of the network (inner-product layers and the classifier); C(x, y) = l(a_{L+1}, y)
is the softmax cross-entropy. We take f_1..f_L as the encoder and generate the mirrored
decoder: f_l^dec is an unpooling layer followed by the same number of deconvolutions
(Fig. 1), each deconvolution mapping a convolution's output channels back to its input
channels. Each pair (f_l, f_l^dec) is a what-where stage (`aelab.models.whatwhere.
WhatWhereStage`), the building block Zhang et al. take from Zhao et al.'s SWWAE.
Unpooling uses either

    known switches  -- the locations of the maxima recorded by the encoder ("SWWAE"), or
    fixed switches  -- every value goes to one fixed position (the top-left) of its pool
                       window, as in Dosovitskiy & Brox's inversion (the "SAE" of the paper).

The three pathways of Fig. 2 (all trained with the objective of eq. 2,
(1/N) sum_i C(x_i, y_i) + lambda U(x_i)):

    first      â_L = a_L,  â_{l-1} = f_l^dec(â_l; psi_l),  x̂ = â_0,
               U_first(x) = ||x̂ - x||^2                                           (3)
    all        the same pathway, U_all(x) = sum_{l=0}^{L-1} gamma_l ||â_l - a_l||^2
    layerwise  â_{l-1} = f_l^dec(a_l; psi_l)  (each decoder from the clean encoder
               activations), U_layerwise(x) = U_all(x)

gamma_l are balancing weights that keep every layer's term comparable; by default
gamma_l = 1 / dim(a_l), so each term is a mean squared error per element (Zhang et al.
tuned them by hand for VGG: 1e-4 on the image, 1e-10 and 1e-12 inside; see REFERENCES.md).
||.||^2 is summed over a sample and averaged over the batch. The targets a_l are the
encoder's own activations and, as with Caffe's Euclidean loss the paper used, receive
gradients too when everything is fine-tuned together (step 4 of section 4.1). Loss terms
(vocabulary of `aelab.models.registry.TERMS`): `classification` C(x, y), `reconstruction`
U(x), and its parts `reconstruction_<l>` = gamma_l ||â_l - a_l||^2 (l = 0 is the image);
the fc decoders' layer-wise terms are `reconstruction_fc<k>`.

Any classifier whose modules run in registration order can be augmented: an
`nn.Sequential` (nested ones are flattened), or a module laid out like torchvision's
VGG/AlexNet (`features`, `avgpool`, `classifier`). Macro-layers end at every max pool
unless `ends` names the modules that close them. The split is checked by running a probe
input through both the classifier and the split pathway.

For inversion (section 4.2) the fully connected layers get mirrored decoders too
(`fc_decoders`): inner product back to the layer's input, ReLU, and a reshape to the
pooled map; `invert(x, layer)` decodes from any macro-layer or fully connected layer
down to the image.

The lab's spec-built classifiers (`vgg_classifier`) give networks with a config
(`AugmentedConfig`, registered as "augmented"), so `save_model`/`load_model` rebuild them:

    net = build_model("augmented", classifier_spec="(4)3c-2p-(8)3c-2p-16fc-10fc", input_shape=[1, 16, 16],
                      generator=torch.Generator().manual_seed(0))

Any other classifier is wrapped directly: `AugmentedNetwork(classifier, input_shape, ...)`.
"""

from __future__ import annotations

import copy as copy_module
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from aelab.models.pooling import fixed_switches
from aelab.models.registry import register
from aelab.models.spec import FC, Conv, Pool, check, parse
from aelab.models.whatwhere import WhatWhereStage, init_parameters, pool_geometry

__all__ = ["VARIANTS", "SWITCHES", "AugmentError", "AugmentedConfig", "AugmentedNetwork", "Encoding", "FCDecoder",
           "Split", "check_state", "fixed_switches", "load_classifier_weights", "macro_names", "split_macro_layers",
           "vgg_classifier"]

VARIANTS = ("first", "all", "layerwise")
SWITCHES = ("known", "fixed")

# Modules that act elementwise (or are identities at test time): they may sit anywhere.
ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.Identity,
               nn.Dropout, nn.Dropout2d, nn.BatchNorm2d, nn.BatchNorm1d, nn.LocalResponseNorm)
FEATURE_TYPES = (nn.Conv2d, nn.MaxPool2d)
HEAD_TYPES = (nn.Linear, nn.Flatten, nn.AdaptiveAvgPool2d)


class AugmentError(ValueError):
    """A classifier that cannot be split into macro-layers, an unknown layer name, or
    weights that do not match: the message lists what is available."""


# ----------------------------------------------------------------------------- the split (eq. 1)

def _leaves(module: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    """Leaf modules in registration order, with their qualified names."""
    children = list(module.named_children())
    if not children:
        return [(prefix, module)]
    out: list[tuple[str, nn.Module]] = []
    for name, child in children:
        out += _leaves(child, f"{prefix}.{name}" if prefix else name)
    return out


def _pool_size(pool: nn.MaxPool2d, name: str) -> tuple[int, int]:
    try:
        return pool_geometry(pool)
    except ValueError as err:
        raise AugmentError(f"{name}: {err}") from None


def _listing(leaves: Sequence[tuple[str, nn.Module]]) -> str:
    return ", ".join(f"{n} ({type(m).__name__})" for n, m in leaves)


@dataclass
class Split:
    """A classifier cut into macro-layers f_1..f_L and the rest f_{L+1} (the head)."""

    macro: list[list[tuple[str, nn.Module]]]
    head: list[tuple[str, nn.Module]]

    @property
    def names(self) -> list[str]:
        """The names of the inversion points: pool1.., then fc1.."""
        return macro_names(self.macro) + [f"fc{k + 1}" for k in range(sum(isinstance(m, nn.Linear)
                                                                       for _, m in self.head))]


def macro_names(macro: list[list[tuple[str, nn.Module]]]) -> list[str]:
    """`pool{l}` for a macro-layer closed by a pool (paper's names), else `conv{l}`."""
    return [f"pool{l}" if any(isinstance(m, nn.MaxPool2d) for _, m in group) else f"conv{l}"
            for l, group in enumerate(macro, start=1)]


def split_macro_layers(classifier: nn.Module, ends: Sequence[str] | None = None) -> Split:
    """Cut `classifier` into convolution-pooling macro-layers and a head (eq. 1).

    `ends`: names of the modules that close each macro-layer (as in `named_modules()`);
    by default every max pool closes one. Raises AugmentError naming what is available.
    """
    if not isinstance(classifier, nn.Module):
        raise AugmentError(f"a torch.nn.Module classifier is needed, got {type(classifier).__name__}")
    leaves = _leaves(classifier)
    if len(leaves) == 1 and leaves[0][0] == "":
        raise AugmentError(f"{type(classifier).__name__} has no sub-modules to split into macro-layers; "
                           "give an nn.Sequential of conv/ReLU/pool blocks followed by a head")
    first_head = next((i for i, (_, m) in enumerate(leaves) if isinstance(m, HEAD_TYPES)), len(leaves))
    features, head = leaves[:first_head], leaves[first_head:]
    for name, module in features:
        if not isinstance(module, FEATURE_TYPES + ELEMENTWISE):
            raise AugmentError(f"module {name} ({type(module).__name__}) cannot sit in a convolution-pooling "
                               f"macro-layer (accepted: Conv2d, MaxPool2d, ReLU-like, dropout, batch norm); "
                               f"the classifier's modules: {_listing(leaves)}")
        if isinstance(module, nn.MaxPool2d):
            _pool_size(module, name)
    for name, module in head:
        if isinstance(module, FEATURE_TYPES) or not isinstance(module, HEAD_TYPES + ELEMENTWISE):
            raise AugmentError(f"module {name} ({type(module).__name__}) follows the first head layer "
                               f"({leaves[first_head][0]}); the head may hold only Linear, Flatten, "
                               f"AdaptiveAvgPool2d and elementwise layers. Modules: {_listing(leaves)}")
    if not any(isinstance(m, nn.Linear) for _, m in head):
        raise AugmentError(f"no inner-product (Linear) layer after the convolutions; modules: {_listing(leaves)}")
    feature_names = [n for n, _ in features]
    if ends is None:
        cut = [i for i, (_, m) in enumerate(features) if isinstance(m, nn.MaxPool2d)]
        if not cut:
            raise AugmentError("no max-pooling layer found, so no convolution-pooling macro-layer; pass ends=[...] "
                               f"naming the modules that close each macro-layer; modules: {_listing(leaves)}")
        last_conv = max(i for i, (_, m) in enumerate(features) if isinstance(m, nn.Conv2d))
        if last_conv > cut[-1]:
            cut.append(len(features) - 1)  # trailing convolutions form a last macro-layer
    else:
        ends = list(ends)
        unknown = [e for e in ends if e not in feature_names]
        if unknown:
            raise AugmentError(f"unknown macro-layer end(s) {', '.join(map(repr, unknown))}; the convolutional "
                               f"modules are: {', '.join(feature_names)}")
        cut = [feature_names.index(e) for e in ends]
        if cut != sorted(set(cut)):
            raise AugmentError(f"macro-layer ends must be distinct and in network order; got {ends}")
    cut[-1] = len(features) - 1  # elementwise modules after the last end belong to the last macro-layer
    macro, start = [], 0
    for end in cut:
        group = features[start:end + 1]
        if not any(isinstance(m, nn.Conv2d) for _, m in group):
            raise AugmentError(f"macro-layer {len(macro) + 1} ({', '.join(n for n, _ in group)}) holds no "
                               "convolution; a macro-layer is convolutions followed by a pool")
        macro.append(group)
        start = end + 1
    return Split(macro, head)


# ----------------------------------------------------------------------------- the encoder

@dataclass
class Encoding:
    """Everything the classification pathway computes that a decoder needs.

    a: [a_0 = x, a_1, ..., a_L]; h: fully connected activations [h_1, ..., h_K] (h_K = logits);
    switches[l-1] / sizes[l-1]: per macro-layer, the pool switches and the input size of
    every module, in order; flat_shape: the map that was flattened; flat_in: the input of the
    first inner product (h_0).
    """

    a: list[torch.Tensor]
    h: list[torch.Tensor] = field(default_factory=list)
    switches: list[list[torch.Tensor]] = field(default_factory=list)
    sizes: list[list[torch.Size]] = field(default_factory=list)
    flat_shape: torch.Size | None = None
    flat_in: torch.Tensor | None = None

    @property
    def logits(self) -> torch.Tensor:
        return self.h[-1]


class FCDecoder(nn.Module):
    """Mirror of one inner-product layer: h_{k-1} ≈ ReLU(W' h_k + b')."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.linear = nn.Linear(linear.out_features, linear.in_features)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.relu(self.linear(h))


@dataclass
class AugmentedConfig:
    """An augmented network on the lab's spec-built classifier (`vgg_classifier`), so that
    `load_model` can rebuild it; input_shape is (channels, size, size)."""

    classifier_spec: str = "(8)3c-(8)3c-2p-(16)3c-(16)3c-2p-(32)3c-2p-64fc-10fc"
    input_shape: list[int] = field(default_factory=lambda: [1, 32, 32])
    variant: str = "all"
    switches: str = "known"
    lam: float = 1.0
    gammas: list[float] | None = None  # None: 1 / dim(a_l) each
    invert_fc: bool = False


@register("augmented")
class AugmentedNetwork(nn.Module):
    """A classifier plus a mirrored decoding pathway (Zhang et al. Fig. 2).

    classifier   any module `split_macro_layers` accepts (deep-copied unless copy=False)
    input_shape  (C, H, W) of one input: used to check the split with a probe input
    variant      'first' | 'all' | 'layerwise'
    switches     'known' (SWWAE: the encoder's pool switches) | 'fixed' (SAE: top-left)
    lam          lambda of eq. 2;  gammas: balancing weights gamma_0..gamma_{L-1}
                 (None: 1 / dim(a_l) each; 'first' uses gamma_0 only)
    ends         names of the modules that close each macro-layer (default: every max pool)
    invert_fc    also build decoders for the fully connected layers (for `invert`)
    generator    draws the decoders' initial weights (PyTorch's default distributions;
                 without it PyTorch's global RNG); the classifier's weights are kept

    `stages[l - 1]` is the what-where stage (f_l, f_l^dec) of macro-layer l; `encoder` and
    `decoders` list their two halves. The protocol: `encode(x) -> Encoding`,
    `decode(enc) -> x̂`, `reconstruct(x)`, `classify(x)` and `loss(x, y=None)`;
    `decode_stages(enc)` gives [â_0, ..., â_{L-1}] and `invert(x, layer)` decodes from any
    layer. `forward(x)` is the classifier's: the class scores, so the network stands in for it.

    A network on a `vgg_classifier` (and default `ends`) has a `config` (`AugmentedConfig`)
    and is registered as "augmented": `build_model`, `save_model` and `load_model` handle it.
    """

    Config = AugmentedConfig

    def __init__(self, classifier: nn.Module, input_shape: Sequence[int], *, variant: str = "all",
                 switches: str = "known", lam: float = 1.0, gammas: Sequence[float] | None = None,
                 ends: Sequence[str] | None = None, invert_fc: bool = False, copy: bool = True,
                 generator: torch.Generator | None = None):
        super().__init__()
        if variant not in VARIANTS:
            raise AugmentError(f"variant {variant!r}: choose one of {', '.join(VARIANTS)}")
        if switches not in SWITCHES:
            raise AugmentError(f"switches {switches!r}: choose one of {', '.join(SWITCHES)}")
        if not lam >= 0:
            raise AugmentError(f"lambda must be >= 0, got {lam}")
        input_shape = tuple(int(s) for s in input_shape)
        if len(input_shape) != 3 or min(input_shape) <= 0:
            raise AugmentError(f"input_shape must be (channels, height, width), got {input_shape}")
        source = copy_module.deepcopy(classifier) if copy else classifier
        split = split_macro_layers(source, ends)
        self.variant, self.switches, self.lam, self.input_shape = variant, switches, float(lam), input_shape
        # the spec of a vgg_classifier, for the config (None for any other classifier)
        self.classifier_spec = getattr(classifier, "aelab_spec", None) if ends is None else None
        unpool = "where" if switches == "known" else "fixed"
        self.stages = nn.ModuleList(
            WhatWhereStage(nn.Sequential(*[m for _, m in group]), unpool=unpool, to_image=(l == 0),
                           generator=generator)
            for l, group in enumerate(split.macro))
        self.head = nn.ModuleList(m for _, m in split.head)
        linears = [m for _, m in split.head if isinstance(m, nn.Linear)]
        self.fc_decoders = init_parameters(nn.ModuleList(FCDecoder(m) for m in linears), generator) \
            if invert_fc else None
        self.layer_names = split.names
        modules = [group[-1][0] for group in split.macro] + [n for n, m in split.head if isinstance(m, nn.Linear)]
        self._aliases = dict(zip(modules, split.names))  # module name -> pool{l} / fc{k}
        self.to(self._device())  # decoders join the classifier's device
        self._check_against(classifier)
        L = len(self.stages)
        if gammas is None:
            with torch.no_grad():
                enc = self.encode(torch.zeros(1, *input_shape, device=self._device()))
            gammas = [1.0 / enc.a[l][0].numel() for l in range(L)]
        gammas = [float(g) for g in gammas]
        if len(gammas) != L or any(not g >= 0 for g in gammas):
            raise AugmentError(f"gammas must be {L} non-negative weights (one per layer a_0..a_{L - 1}), got {gammas}")
        self.register_buffer("gammas", torch.tensor(gammas), persistent=False)

    @classmethod
    def from_config(cls, config: AugmentedConfig, generator: torch.Generator | None = None) -> "AugmentedNetwork":
        """The network on a fresh `vgg_classifier(config.classifier_spec)`, every weight drawn from `generator`."""
        shape = [int(s) for s in config.input_shape]
        if len(shape) != 3 or shape[1] != shape[2]:
            raise AugmentError(f"input_shape must be (channels, size, size) for a spec-built classifier, got {shape}")
        classifier = vgg_classifier(config.classifier_spec, shape[1], shape[0], generator=generator)
        return cls(classifier, shape, variant=config.variant, switches=config.switches, lam=config.lam,
                   gammas=config.gammas, invert_fc=config.invert_fc, copy=False, generator=generator)

    @property
    def config(self) -> AugmentedConfig:
        if self.classifier_spec is None:
            raise AugmentError("this network wraps a classifier that was not built by vgg_classifier (or was split at "
                               "user-named ends), so it has no config to rebuild it from; save its state_dict with "
                               "the classifier's own code instead")
        return AugmentedConfig(self.classifier_spec, list(self.input_shape), self.variant, self.switches, self.lam,
                               [float(g) for g in self.gammas.tolist()], self.fc_decoders is not None)

    # -- helpers
    @property
    def encoder(self) -> nn.ModuleList:
        """The classification pathway's macro-layers f_1..f_L (a view of the stages' encoders)."""
        return nn.ModuleList(stage.encoder for stage in self.stages)

    @property
    def decoders(self) -> nn.ModuleList:
        """The decoders f_1^dec..f_L^dec (a view of the stages' decoders)."""
        return nn.ModuleList(stage.decoder for stage in self.stages)

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def _check_against(self, classifier: nn.Module) -> None:
        """A probe input must give the same class scores through the split as through the
        classifier's own forward (catches modules not applied in registration order)."""
        was_training = classifier.training
        classifier.eval()
        self.eval()
        probe = torch.rand(2, *self.input_shape, generator=torch.Generator().manual_seed(0)).to(self._device())
        try:
            with torch.no_grad():
                expected = classifier(probe)
                got = self.encode(probe).logits
        except RuntimeError as err:
            raise AugmentError(f"the split classifier fails on an input of shape {self.input_shape}: {err}") from err
        finally:
            classifier.train(was_training)
        self.train(was_training)
        if not isinstance(expected, torch.Tensor) or expected.shape != got.shape or not torch.allclose(
                expected, got, rtol=1e-4, atol=1e-5):
            raise AugmentError("running the classifier's modules in registration order does not reproduce its "
                               "forward(): give an nn.Sequential (or a features/avgpool/classifier module) "
                               f"whose modules run in order; found {', '.join(self.layer_names)}")

    def point(self, layer: str) -> str:
        """The canonical name (pool{l} / conv{l} / fc{k}) of `layer`, which may also be a module name."""
        if layer in self.layer_names:
            return layer
        if layer in self._aliases:
            return self._aliases[layer]
        raise AugmentError(f"unknown layer {layer!r}; available: {', '.join(self.layer_names)} "
                           f"(or the module names {', '.join(self._aliases)})")

    # -- the classification pathway, eq. 1
    def encode(self, x: torch.Tensor) -> Encoding:
        """a_l = f_l(a_{l-1}), recording pool switches and sizes; then the head f_{L+1}."""
        if x.dim() != 4 or tuple(x.shape[1:]) != self.input_shape:
            raise AugmentError(f"expected inputs of shape N x {' x '.join(map(str, self.input_shape))}, "
                               f"got {tuple(x.shape)}")
        enc = Encoding(a=[x])
        a = x
        for stage in self.stages:
            a, switches, sizes = stage.encode(a)
            enc.a.append(a)
            enc.switches.append(switches)
            enc.sizes.append(sizes)
        h = a
        for module in self.head:
            if isinstance(module, nn.Linear):
                if enc.flat_in is not None:
                    enc.h.append(h)  # h_k: after an inner product and its nonlinearity
                if h.dim() > 2:
                    enc.flat_shape, h = h.shape, torch.flatten(h, 1)
                if enc.flat_in is None:
                    enc.flat_in = h
            elif isinstance(module, nn.Flatten):
                enc.flat_shape = h.shape
            h = module(h)
        enc.h.append(h)
        return enc

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores a_{L+1} (the classification pathway; decoders are not run)."""
        return self.encode(x).logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores, as the classifier's own forward (the network stands in for it)."""
        return self.classify(x)

    # -- the decoding pathways
    def decode_macro(self, a: torch.Tensor, enc: Encoding, l: int) -> torch.Tensor:
        """â_{l-1} = f_l^dec(a) for macro-layer l (1-based), with this network's switches
        (the encoder's for 'known'; 'fixed' ignores them)."""
        return self.stages[l - 1].decode(a, enc.switches[l - 1], enc.sizes[l - 1])

    def decode_stages(self, enc: Encoding) -> list[torch.Tensor]:
        """[â_0, ..., â_{L-1}]: stacked from a_L ('first', 'all') or each from the clean
        a_l ('layerwise')."""
        L = len(self.stages)
        out: list[torch.Tensor] = [None] * L  # type: ignore[list-item]
        a = enc.a[L]
        for l in range(L, 0, -1):
            source = enc.a[l] if self.variant == "layerwise" else a
            a = self.decode_macro(source, enc, l)
            out[l - 1] = a
        return out

    def decode(self, enc: Encoding) -> torch.Tensor:
        """The reconstruction x̂ = â_0 of the input the encoding came from."""
        return self.decode_stages(enc)[0]

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """x̂ = â_0."""
        return self.decode(self.encode(x))

    def invert(self, x: torch.Tensor | Encoding, layer: str) -> torch.Tensor:
        """Reconstruct the image from the activations of `layer` (a macro-layer or, with
        invert_fc, a fully connected layer) through the stacked decoders below it."""
        name = self.point(layer)
        enc = x if isinstance(x, Encoding) else self.encode(x)
        L = len(self.stages)
        if name.startswith("fc"):
            if self.fc_decoders is None:
                raise AugmentError(f"inverting {name} needs decoders for the fully connected layers: "
                                   "build the network with invert_fc=True")
            k = int(name[2:])
            h = enc.h[k - 1]
            for j in range(k, 0, -1):
                h = self.fc_decoders[j - 1](h)
            a = h.reshape(enc.flat_shape)
            if a.shape[-2:] != enc.a[L].shape[-2:]:  # mirror an adaptive average pool
                a = F.interpolate(a, size=enc.a[L].shape[-2:], mode="nearest")
            start = L
        else:
            start = self.layer_names.index(name) + 1
            a = enc.a[start]
        for l in range(start, 0, -1):
            a = self.decode_macro(a, enc, l)
        return a

    # -- objectives, eqs. 2-3
    def reconstruction_terms(self, enc: Encoding) -> dict[str, torch.Tensor]:
        """`reconstruction_<l>` = gamma_l ||â_l - a_l||^2 per layer (summed over a sample,
        averaged over the batch)."""
        recon = self.decode_stages(enc)
        layers = [0] if self.variant == "first" else range(len(recon))
        return {f"reconstruction_{l}": self.gammas[l] * (recon[l] - enc.a[l]).pow(2).flatten(1).sum(1).mean()
                for l in layers}

    def fc_terms(self, enc: Encoding) -> dict[str, torch.Tensor]:
        """Layer-wise terms of the fc decoders, `reconstruction_fc<k>` =
        ||dec_k(h_k) - h_{k-1}||^2 / dim(h_{k-1}), h_0 = flat_in."""
        if self.fc_decoders is None:
            return {}
        inputs = [enc.flat_in] + enc.h[:-1]
        return {f"reconstruction_fc{k + 1}": (dec(enc.h[k]) - inputs[k]).pow(2).mean(1).mean()
                for k, dec in enumerate(self.fc_decoders)}

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Eq. 2: total = C(x, y) + lambda U(x); without labels, total = lambda U(x).

        Terms: 'classification' (with y), 'reconstruction' U(x), 'reconstruction_<l>' per layer.
        (`generator` is accepted for the protocol; the classifier's own dropout, if any,
        draws from PyTorch's global RNG.)"""
        enc = self.encode(x)
        terms = self.reconstruction_terms(enc)
        out: dict[str, torch.Tensor] = dict(terms)
        out["reconstruction"] = torch.stack(list(terms.values())).sum()
        total = self.lam * out["reconstruction"]
        if y is not None:
            out["classification"] = F.cross_entropy(enc.logits, y)
            total = out["classification"] + total
        out["total"] = total
        return out

    # -- parameters by role, for the steps of section 4.1
    def classifier_parameters(self) -> list[nn.Parameter]:
        return [p for stage in self.stages for p in stage.encoder.parameters()] + list(self.head.parameters())

    def decoder_parameters(self) -> list[nn.Parameter]:
        params = [p for stage in self.stages for p in stage.decoder.parameters()]
        return params + (list(self.fc_decoders.parameters()) if self.fc_decoders is not None else [])

    def init_decoders_from(self, other: "AugmentedNetwork") -> None:
        """Step 3: copy the macro-layer decoders psi_l of another network (e.g. the trained
        SAE-layerwise one); names and shapes must match."""
        mine, theirs = self.decoders, other.decoders
        check_state(mine, theirs.state_dict(), "decoders")
        mine.load_state_dict(theirs.state_dict())
        if self.fc_decoders is not None and other.fc_decoders is not None:
            check_state(self.fc_decoders, other.fc_decoders.state_dict(), "fc decoders")
            self.fc_decoders.load_state_dict(other.fc_decoders.state_dict())


def check_state(module: nn.Module, state: dict[str, torch.Tensor], what: str = "weights") -> None:
    """Raise AugmentError listing every missing, unexpected or mis-shaped tensor."""
    expected = module.state_dict()
    problems = [f"missing {k} {tuple(v.shape)}" for k, v in expected.items() if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in expected]
    problems += [f"{k}: given {tuple(state[k].shape)}, expected {tuple(v.shape)}"
                 for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if problems:
        raise AugmentError(f"{what} do not match: " + "; ".join(problems)
                           + f". Available: {', '.join(f'{k} {tuple(v.shape)}' for k, v in expected.items())}")


def load_classifier_weights(classifier: nn.Module, state: dict[str, torch.Tensor]) -> nn.Module:
    """Load a state dict into a classifier after checking every name and shape."""
    check_state(classifier, state, "classifier weights")
    classifier.load_state_dict(state)
    return classifier


# ----------------------------------------------------------------------------- the lab's classifier

def vgg_classifier(spec: str, input_size: int = 32, in_channels: int = 1,
                   generator: torch.Generator | None = None) -> nn.Sequential:
    """A small VGG-style classifier from an architecture string, e.g.
    `(32)3c-(32)3c-2p-(64)3c-2p-(128)3c-2p-256fc-10fc`: same-padded 3x3 convolutions + ReLU,
    2x2 max pools, then inner-product layers (ReLU between them, none after the last).
    `generator` draws every initial weight (PyTorch's default distributions; without it
    PyTorch's global RNG). The result carries its spec (`aelab_spec`), so that an
    `AugmentedNetwork` on it has a config."""
    layers = parse(spec)
    check(layers, input_size, in_channels)
    if not isinstance(layers[-1], FC):
        raise AugmentError(f"{spec!r}: a classifier must end with a fully connected layer ('10fc')")
    if not any(isinstance(layer, Pool) for layer in layers):
        raise AugmentError(f"{spec!r}: needs at least one pool to form a convolution-pooling macro-layer")
    modules: list[nn.Module] = []
    channels, size, flat = in_channels, input_size, False
    fcs = [layer for layer in layers if isinstance(layer, FC)]
    for layer in layers:
        if isinstance(layer, Conv):
            modules += [nn.Conv2d(channels, layer.maps, layer.kernel, padding=(layer.kernel - 1) // 2
                                  if layer.kernel % 2 else "same"), nn.ReLU()]
            channels = layer.maps
        elif isinstance(layer, Pool):
            modules.append(nn.MaxPool2d(layer.size))
            size //= layer.size
        else:
            if not flat:
                modules.append(nn.Flatten())
                channels, flat = channels * size * size, True
            modules.append(nn.Linear(channels, layer.units))
            channels = layer.units
            if layer is not fcs[-1]:
                modules.append(nn.ReLU())
    classifier = init_parameters(nn.Sequential(*modules), generator)
    classifier.aelab_spec = spec
    return classifier
