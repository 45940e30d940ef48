"""Stacked what-where auto-encoders (Zhao, Mathieu, Goroshin, LeCun 2016), and the what-where
stage that they and the augmented classifiers of Zhang et al. (`aelab.models.augmented`) share.

A what-where stage (`WhatWhereStage`) is convolutions closed by a pool. Every pool splits
its input into the "what" (passed up) and the "where" (kept for the decoder); the stage's
decoder mirrors it, walking the encoder backwards: every pool becomes an unpooling (at the
encoder's "where", at fixed switches, or by upsampling), every convolution a deconvolution
from its output channels back to its input channels, ReLU after each except the one that
produces the image.

An SWWAE is a Convnet of such stages cut from one spec string (see `aelab.models.spec`) at
its pools: stage m maps the "what" x_{m-1} to the "what" x_m, keeping the pool's "where"
w_m. The decoder runs the stages backwards: x~_M = x_M (the top is copied, section 1), and

    x~_{m-1} = deconv_m( unpool(x~_m, w_m) )            (each stage a what-where AE)

with the decoder's convs mirrored (maps in <-> out, same kernels, ReLU except the very
last, which gives the reconstruction x~ = x~_0). Fully connected layers sit on top of x_M
and give the class scores. The loss is eqs. 1-2:

    L = lambda_NLL L_NLL + lambda_L2rec ||x - x~||^2 + lambda_L2M sum_m ||x_m - x~_m||^2

with squared errors averaged over elements (as Torch's MSECriterion), m = 1..M-1 the
intermediate stages. In the lab's vocabulary of loss terms (`aelab.models.registry.TERMS`)
L_NLL is `classification`, L2rec `reconstruction` and L2M `reconstruction_middle`. The three
modes of section 3.2 are settings of the lambdas: supervised (lambda_L2* = 0: the decoder is
not even run), unsupervised (lambda_NLL = 0: the fc layers are not run), semi-supervised
(all three; in a batch, unlabelled examples add only the reconstruction terms).

    >>> model = build_model("swwae", spec="(16)5c-(32)3c-2p-10fc", generator=torch.Generator().manual_seed(0))
    >>> terms = model.loss(x, y, labelled)  # {'classification', 'reconstruction', 'reconstruction_middle', 'total'}
    >>> x_tilde = model.reconstruct(x)      # also model(x): an autoencoder's forward is its reconstruction
    >>> scores = model.classify(x)          # class scores from the fc layers
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from aelab.models import spec as specs
from aelab.models.pooling import WhatWherePool, WhatWhereUnpool, hard_pool
from aelab.models.registry import register

POOLS = (nn.MaxPool2d, WhatWherePool)


# ----------------------------------------------------------------------------- explicit seeding

def init_parameters(module: nn.Module, generator: torch.Generator | None) -> nn.Module:
    """Draw the weights and biases of every convolution, deconvolution and linear layer in
    `module` from `generator`, with PyTorch's own default distributions: its
    kaiming_uniform_(a=sqrt(5)) weights and its biases are both U(-1/sqrt(fan_in),
    1/sqrt(fan_in)). Without a generator the draws PyTorch made at construction (from its
    global RNG) are kept."""
    if generator is None:
        return module
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)):
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(m.weight)
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                m.weight.uniform_(-bound, bound, generator=generator)
                if m.bias is not None:
                    m.bias.uniform_(-bound, bound, generator=generator)
    return module


# ----------------------------------------------------------------------------- the stage

def pool_geometry(pool: nn.Module) -> tuple[int, int]:
    """(size, stride) of a square pool that can be unpooled: a WhatWherePool, or an
    nn.MaxPool2d without padding, dilation or ceil_mode. ValueError otherwise."""
    if isinstance(pool, WhatWherePool):
        return pool.size, pool.stride

    def one(value, what):
        if isinstance(value, (tuple, list)):
            if len(set(value)) != 1:
                raise ValueError(f"only square pools are supported, got {what}={tuple(value)}")
            value = value[0]
        return int(value)

    size, stride = one(pool.kernel_size, "kernel_size"), one(pool.stride or pool.kernel_size, "stride")
    if one(pool.padding, "padding") != 0 or one(pool.dilation, "dilation") != 1 or pool.ceil_mode:
        raise ValueError(f"max pools with padding, dilation or ceil_mode cannot be unpooled here ({pool})")
    return size, stride


def _padding(conv: nn.Conv2d) -> tuple[int, int] | str:
    return (0, 0) if conv.padding == "valid" else conv.padding


def keeps_size(conv: nn.Conv2d) -> bool:
    """Whether a convolution maps an H x W map to H x W (stride 1, 'same' padding)."""
    if tuple(conv.stride) != (1, 1):
        return False
    padding = _padding(conv)
    if padding == "same":
        return True
    return all(d * (k - 1) == 2 * p for k, d, p in zip(conv.kernel_size, conv.dilation, padding))


def mirror_conv(conv: nn.Conv2d) -> nn.Module:
    """The deconvolution of `conv`: from its output channels back to its input channels, at
    its input size. A size-preserving convolution is mirrored by a same-padded Conv2d (a
    stride-1 deconvolution is a convolution), a resizing one by its ConvTranspose2d."""
    if keeps_size(conv):
        return nn.Conv2d(conv.out_channels, conv.in_channels, conv.kernel_size, padding=_padding(conv),
                         dilation=conv.dilation, groups=conv.groups)
    padding = _padding(conv)
    if padding == "same":  # torch refuses 'same' with a stride, so this is only for safety
        raise ValueError(f"{conv}: 'same' padding with a stride cannot be mirrored; use explicit padding")
    return nn.ConvTranspose2d(conv.out_channels, conv.in_channels, conv.kernel_size, stride=conv.stride,
                              padding=padding, dilation=conv.dilation, groups=conv.groups)


def tap_padding(conv: nn.Conv2d) -> tuple[int, int] | None:
    """The padding for `conv_by_taps` of a size-keeping stride-1 convolution with few output
    channels (at most 4 and fewer than its inputs: the one that gives the image), or None
    where that form does not apply (even kernels, which 'same' pads unevenly; dilation;
    groups; a padding mode other than zeros)."""
    if not (conv.out_channels <= 4 and conv.out_channels < conv.in_channels and conv.groups == 1
            and tuple(conv.dilation) == (1, 1) and keeps_size(conv) and conv.padding_mode == "zeros"):
        return None
    if any(k % 2 == 0 for k in conv.kernel_size):
        return None
    return conv.kernel_size[0] // 2, conv.kernel_size[1] // 2


def conv_by_taps(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                 padding: tuple[int, int]) -> torch.Tensor:
    """F.conv2d(x, weight, bias, padding=padding) for a stride-1 'same' convolution, computed
    as one matrix product and a fold: every input pixel's C values are multiplied by the
    O x kh x kw kernel taps (z = x W, an (N H W) x C by C x (O kh kw) product), and `F.fold`
    adds each tap's product into the output pixel it reaches (flipped kernel: fold places
    tap (a, b) of position (i, j) at (i - p + a, j - p + b), the convolution reads
    x(i + a - p) into y(i)). The same sums in another order; on the CPU 2.5x faster than
    F.conv2d for 64 maps -> 1 channel, whose single output channel oneDNN handles poorly
    (`benchmarks/swwae_epoch.py` has the profile)."""
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    taps = weight.flip(-2, -1).permute(1, 0, 2, 3).reshape(c, o * kh * kw)   # C x (O kh kw), O slowest
    z = x.permute(0, 2, 3, 1).reshape(n, h * w, c) @ taps                  # a view for channels-last x
    y = F.fold(z.transpose(1, 2), (h, w), (kh, kw), padding=padding)
    return y if bias is None else y + bias.view(1, o, 1, 1)


class MirrorDecoder(nn.Module):
    """The decoding half of a what-where stage: the encoder's modules mirrored in reverse.

    Every pool becomes an unpooling (`unpool`: 'where' at the encoder's switches or soft
    positions, 'fixed' at the top-left of every region, 'upsample' over the whole region),
    every convolution its `mirror_conv`, followed by batch normalisation (`batchnorm`) and
    ReLU, except the mirror of the stage's first convolution when it gives the image
    (`to_image`): that one is linear. Elementwise encoder modules are not mirrored.
    `deconvs[i]` mirrors the i-th convolution of the encoder; where `tap_padding` allows, it
    runs as `conv_by_taps` (the same map and parameters, computed faster)."""

    def __init__(self, encoder: Sequence[nn.Module], *, unpool: str = "where", to_image: bool = False,
                 batchnorm: bool = False):
        super().__init__()
        if unpool not in WhatWhereUnpool.MODES:
            raise ValueError(f"unpool mode {unpool!r}: choose one of {', '.join(WhatWhereUnpool.MODES)}")
        modules = list(encoder)
        first_conv = next((i for i, m in enumerate(modules) if isinstance(m, nn.Conv2d)), None)
        if first_conv is None:
            raise ValueError("a what-where stage needs at least one convolution")
        deconvs, norms, unpools = [], [], []
        # (is_pool, index into deconvs/unpools, position in the encoder, relu, transpose)
        steps: list[tuple[bool, int, int, bool, bool]] = []
        for position, module in enumerate(modules):
            if isinstance(module, nn.Conv2d):
                output = to_image and position == first_conv
                deconv = mirror_conv(module)
                deconvs.append(deconv)
                norms.append(nn.BatchNorm2d(module.in_channels) if batchnorm and not output else nn.Identity())
                steps.append((False, len(deconvs) - 1, position, not output, isinstance(deconv, nn.ConvTranspose2d)))
            elif isinstance(module, POOLS):
                size, stride = pool_geometry(module)
                unpools.append(WhatWhereUnpool(size, stride, mode=unpool))
                steps.append((True, len(unpools) - 1, position, False, False))
        self.deconvs = nn.ModuleList(deconvs)
        # deconvs run as `conv_by_taps`: index -> padding
        self._by_taps = {i: pad for i, d in enumerate(deconvs) if isinstance(d, nn.Conv2d)
                         and (pad := tap_padding(d)) is not None}
        self.norms = nn.ModuleList(norms)
        self.unpools = nn.ModuleList(unpools)
        self.steps = steps
        self.mode, self.to_image = unpool, to_image

    def forward(self, what: torch.Tensor, wheres: Sequence[torch.Tensor | None] | None,
                sizes: Sequence[torch.Size]) -> torch.Tensor:
        """The stage's input reconstructed from its "what"; `wheres` (one per pool, ignored by
        'fixed' and 'upsample') and `sizes` (the input size of every encoder module) come
        from `WhatWhereStage.encode`."""
        a = what
        for is_pool, index, position, relu, transpose in reversed(self.steps):
            size = sizes[position]
            if is_pool:
                a = self.unpools[index](a, None if wheres is None else wheres[index], size)
            else:
                deconv = self.deconvs[index]
                if transpose:
                    a = deconv(a, output_size=list(size[-2:]))
                elif index in self._by_taps:
                    a = conv_by_taps(a, deconv.weight, deconv.bias, self._by_taps[index])
                else:
                    a = deconv(a)
                a = self.norms[index](a)
                if relu:
                    a = F.relu(a)
        return a


class WhatWhereStage(nn.Module):
    """One what-where auto-encoder stage: the building block of the SWWAE (Zhao et al.
    section 3) and of the decoding pathways of augmented classifiers (Zhang et al. Fig. 1).

        encode:  what, wheres = pools(convs(x))          each pool keeps its "where"
        decode:  x~ = mirror(what~, wheres)              see `MirrorDecoder`

    `encoder`: the stage's modules in the order they run: convolutions, elementwise modules
    (ReLU, batch norm, dropout) and pools (nn.MaxPool2d, hard; or WhatWherePool, hard or
    soft). An nn.Sequential is used as it is (an existing classifier's modules are shared,
    not copied). `generator` draws the decoder's initial weights (the encoder's are left as
    they are). `unpool`, `to_image`, `batchnorm`: see `MirrorDecoder`.

    `channels_last` (an attribute, default False): keep the encoder's convolution outputs
    channels-last (N H W C in memory) on the CPU and CUDA; the SWWAE sets it, with its weights
    channels-last too. The values are the same; on the CPU max pooling with switches runs about
    3.5x faster so and the 64-map convolutions 1.1-1.5x (`benchmarks/swwae_epoch.py`).
    """

    channels_last = False

    def __init__(self, encoder: nn.Sequential | Sequence[nn.Module], *, unpool: str = "where",
                 to_image: bool = False, batchnorm: bool = False, generator: torch.Generator | None = None):
        super().__init__()
        self.encoder = encoder if isinstance(encoder, nn.Sequential) else nn.Sequential(*encoder)
        # per module: None (no pool), "what-where" (a WhatWherePool) or (size, stride) of an nn.MaxPool2d
        self._pools = [pool_geometry(m) if isinstance(m, nn.MaxPool2d) else
                       "what-where" if isinstance(m, WhatWherePool) else None for m in self.encoder]
        self.decoder = init_parameters(MirrorDecoder(self.encoder, unpool=unpool, to_image=to_image,
                                                     batchnorm=batchnorm), generator)

    @property
    def pool(self) -> nn.Module | None:
        """The pool that closes the stage (None when it has none)."""
        pools = [m for m in self.encoder if isinstance(m, POOLS)]
        return pools[-1] if pools else None

    @property
    def out_channels(self) -> int:
        return [m for m in self.encoder if isinstance(m, nn.Conv2d)][-1].out_channels

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Size]]:
        """(what, wheres: one per pool, sizes: the input size of every encoder module)."""
        wheres, sizes = [], []
        a = x
        for module, pool in zip(self.encoder, self._pools):
            sizes.append(a.shape)
            if pool is None:
                a = module(a)
                if self.channels_last and isinstance(module, nn.Conv2d) and a.device.type in ("cpu", "cuda"):
                    a = a.contiguous(memory_format=torch.channels_last)  # a no-op unless the input had one map
            else:
                a, where = module(a) if pool == "what-where" else hard_pool(a, *pool)
                wheres.append(where)
        return a, wheres, sizes

    def decode(self, what: torch.Tensor, wheres: Sequence[torch.Tensor | None] | None,
               sizes: Sequence[torch.Size]) -> torch.Tensor:
        """The stage's input reconstructed from (what, wheres) at the encoder's `sizes`."""
        return self.decoder(what, wheres, sizes)


# ----------------------------------------------------------------------------- the SWWAE

@dataclass
class Code:
    """What the encoder produces: the "what" of every stage (x_0 = x, ..., x_M), the "where"
    of every stage's pool (None for a stage without a pool), the input sizes of every
    stage's modules, and the class scores (None when not asked for or without fc layers)."""

    whats: list[torch.Tensor]
    wheres: list[torch.Tensor | None]
    sizes: list[list[torch.Size]]
    logits: torch.Tensor | None


@dataclass
class SWWAEConfig:
    """An SWWAE (see `SWWAE`); the default is Zhao et al.'s MNIST architecture."""

    spec: str = "(64)5c-2p-(64)3c-2p-(64)3c-2p-10fc"
    in_channels: int = 1
    input_size: int = 32
    pooling: str = "hard"
    beta: float = 100.0
    unpool: str = "where"
    dropout: float = 0.0
    batchnorm: bool = False
    lambda_nll: float = 1.0
    lambda_rec: float = 1.0
    lambda_mid: float = 1.0
    conv_dropout: float = 0.0
    lambda_l1: float = 0.0


def _mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared error over elements (F.mse_loss's value), written as a sum over n so that
    its gradients keep the maps' memory layout (the backward of F.mse_loss and of mean()
    returns N C H W gradients of channels-last maps, which later backward steps then copy)."""
    return (a - b).square().sum() / a.numel()


@register("swwae")
class SWWAE(nn.Module):
    """Stacked what-where auto-encoder built from one architecture string.

    Parameters
    ----------
    spec : e.g. '(64)5c-2p-(64)3c-2p-(64)3c-2p-10fc' (Zhao et al.'s notation).
    in_channels, input_size : the square input (checked against the spec at construction).
    pooling : 'hard' (max + switches) or 'soft' (eqs. 3-4 with temperature `beta` > 0).
    unpool : 'where' (unpool with the encoder's "where"), 'upsample' (the no-where baseline)
        or 'fixed' (top-left switches).
    dropout : dropout probability on the inputs of the fully connected layers.
    conv_dropout : dropout probability on the inputs of the convolution stages above the first
        (the "what" x_1 .. x_{M-1}, as the next stage and the L2M term see it): Table 4's
        "dropout on convolution" regulariser.
    batchnorm : spatial batch normalisation after every conv, in both pathways.
    lambda_nll, lambda_rec, lambda_mid : the weights of eq. 1 (lambda_NLL, lambda_L2rec, lambda_L2M).
    lambda_l1 : weight of an L1 penalty on the hidden layers, sum_m mean |x_m| over the "what"
        of every stage (Table 4's "L1" regulariser; loss term `sparsity_l1`).
    generator : draws every initial weight (PyTorch's default distributions); without it
        PyTorch's global RNG is used.

    The protocol: `encode(x) -> Code`, `decode(code) -> x~`, `reconstruct(x) -> x~` (also
    `forward`), `classify(x) -> class scores`, `loss(x, y=None, labelled=None, generator=None)`;
    `decode_stages(code)` gives every stage's reconstruction [x~_0, ..., x~_M].
    """

    Config = SWWAEConfig

    def __init__(self, spec: str = SWWAEConfig.spec, *, in_channels: int = 1, input_size: int = 32,
                 pooling: str = "hard", beta: float = 100.0, unpool: str = "where", dropout: float = 0.0,
                 batchnorm: bool = False, lambda_nll: float = 1.0, lambda_rec: float = 1.0, lambda_mid: float = 1.0,
                 conv_dropout: float = 0.0, lambda_l1: float = 0.0, generator: torch.Generator | None = None):
        super().__init__()
        if pooling not in ("hard", "soft"):
            raise ValueError(f"pooling {pooling!r}: choose 'hard' or 'soft'")
        if pooling == "soft" and not beta > 0:
            raise ValueError(f"beta must be > 0 for soft pooling, got {beta}")
        if unpool not in WhatWhereUnpool.MODES:
            raise ValueError(f"unpool mode {unpool!r}: choose one of {', '.join(WhatWhereUnpool.MODES)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if not 0.0 <= conv_dropout < 1.0:
            raise ValueError(f"conv_dropout must be in [0, 1), got {conv_dropout}")
        if min(lambda_nll, lambda_rec, lambda_mid, lambda_l1) < 0:
            raise ValueError("the loss weights lambda_nll, lambda_rec, lambda_mid, lambda_l1 must be >= 0")
        self.spec = spec
        self.layers = specs.parse(spec)
        shapes = specs.check(self.layers, input_size, in_channels)
        self.in_channels, self.input_size = int(in_channels), int(input_size)
        self.pooling, self.beta, self.unpool_mode = pooling, float(beta), unpool
        self.dropout, self.batchnorm = float(dropout), bool(batchnorm)
        self.lambda_nll, self.lambda_rec, self.lambda_mid = float(lambda_nll), float(lambda_rec), float(lambda_mid)
        self.conv_dropout, self.lambda_l1 = float(conv_dropout), float(lambda_l1)

        conv_part = [layer for layer in self.layers if not isinstance(layer, specs.FC)]
        fcs = [layer for layer in self.layers if isinstance(layer, specs.FC)]
        if not any(isinstance(layer, specs.Conv) for layer in conv_part):
            raise specs.SpecError(f"{spec!r}: an SWWAE needs at least one convolution")
        groups: list[tuple[list[specs.Conv], specs.Pool | None]] = []
        convs: list[specs.Conv] = []
        for layer in conv_part:
            if isinstance(layer, specs.Conv):
                convs.append(layer)
            else:
                if not convs:
                    raise specs.SpecError(f"{spec!r}: pool {layer} has no convolution before it in its stage; "
                                          "each stage is convolutions followed by one pool")
                groups.append((convs, layer))
                convs = []
        if convs:
            groups.append((convs, None))
        self.stages = nn.ModuleList()
        channels = in_channels
        for i, (stage_convs, pool) in enumerate(groups):
            modules: list[nn.Module] = []
            for conv in stage_convs:
                modules.append(nn.Conv2d(channels, conv.maps, conv.kernel, padding="same"))
                if batchnorm:
                    modules.append(nn.BatchNorm2d(conv.maps))
                modules.append(nn.ReLU())
                channels = conv.maps
            if pool is not None:
                modules.append(WhatWherePool(pool.size, soft=pooling == "soft", beta=beta))
            encoder = init_parameters(nn.Sequential(*modules), generator)
            self.stages.append(WhatWhereStage(encoder, unpool=unpool, to_image=i == 0, batchnorm=batchnorm,
                                              generator=generator))
        top = shapes[len(conv_part) - 1]
        self.top_shape = (top.channels, top.size, top.size)
        # channels-last maps and kernels: the same values, faster on the CPU (see WhatWhereStage)
        for stage in self.stages:
            stage.channels_last = True
        self.stages.to(memory_format=torch.channels_last)
        self.classifier = None
        if fcs:
            layers: list[nn.Module] = [nn.Flatten()]
            width = top.channels * top.size * top.size
            for j, fc in enumerate(fcs):
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
                layers.append(nn.Linear(width, fc.units))
                if j < len(fcs) - 1:
                    layers.append(nn.ReLU())
                width = fc.units
            self.classifier = init_parameters(nn.Sequential(*layers), generator)
            self.n_classes = fcs[-1].units
        else:
            self.n_classes = 0

    @classmethod
    def from_config(cls, config: SWWAEConfig, generator: torch.Generator | None = None) -> "SWWAE":
        return cls(config.spec, in_channels=config.in_channels, input_size=config.input_size,
                   pooling=config.pooling, beta=config.beta, unpool=config.unpool, dropout=config.dropout,
                   batchnorm=config.batchnorm, lambda_nll=config.lambda_nll, lambda_rec=config.lambda_rec,
                   lambda_mid=config.lambda_mid, conv_dropout=config.conv_dropout, lambda_l1=config.lambda_l1,
                   generator=generator)

    @property
    def config(self) -> SWWAEConfig:
        return SWWAEConfig(self.spec, self.in_channels, self.input_size, self.pooling, self.beta, self.unpool_mode,
                           self.dropout, self.batchnorm, self.lambda_nll, self.lambda_rec, self.lambda_mid,
                           self.conv_dropout, self.lambda_l1)

    # ------------------------------------------------------------------ the two pathways

    def _check_input(self, x: torch.Tensor) -> None:
        expected = (self.in_channels, self.input_size, self.input_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"SWWAE({self.spec!r}) expects N x {' x '.join(map(str, expected))} input, "
                             f"got {tuple(x.shape)}")

    def _scores(self, top: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """The fc layers on x_M; in training, dropout masks come from `generator` when given."""
        h = top
        for module in self.classifier:
            if isinstance(module, nn.Dropout) and generator is not None:
                h = self._drop(h, module.p, generator)
            else:
                h = module(h)
        return h

    def _drop(self, a: torch.Tensor, p: float, generator: torch.Generator | None) -> torch.Tensor:
        """Dropout (in training) with masks from `generator` when given, else torch's RNG."""
        if not (self.training and p > 0):
            return a
        if generator is None:
            return F.dropout(a, p, training=True)
        keep = 1.0 - p
        return a * torch.empty_like(a).bernoulli_(keep, generator=generator) * (1.0 / keep)

    def _encode(self, x: torch.Tensor, logits: bool, generator: torch.Generator | None) -> Code:
        self._check_input(x)
        whats, wheres, sizes = [x], [], []
        for m, stage in enumerate(self.stages):
            if m > 0 and self.conv_dropout > 0:
                whats[-1] = self._drop(whats[-1], self.conv_dropout, generator)
            what, stage_wheres, stage_sizes = stage.encode(whats[-1])
            whats.append(what)
            wheres.append(stage_wheres[-1] if stage_wheres else None)
            sizes.append(stage_sizes)
        scores = self._scores(whats[-1], generator) if (logits and self.classifier is not None) else None
        return Code(whats, wheres, sizes, scores)

    def encode(self, x: torch.Tensor, logits: bool = True) -> Code:
        """Convnet: x_0 = x; x_m, w_m = pool(convs(x_{m-1})); class scores from x_M (unless
        `logits=False`, or the spec has no fc layer)."""
        return self._encode(x, logits, None)

    def decode_stages(self, code: Code) -> list[torch.Tensor]:
        """Deconvnet: x~_M = x_M, x~_{m-1} = deconv_m(unpool(x~_m, w_m)); returns [x~_0 .. x~_M]
        (the L2M term compares x~_m with x_m)."""
        if len(code.wheres) != len(self.stages):
            raise ValueError(f"the code has {len(code.wheres)} 'where' tensors; this SWWAE has {len(self.stages)} stages")
        tilde = [code.whats[-1]]
        for stage, where, sizes in zip(reversed(self.stages), reversed(code.wheres), reversed(code.sizes)):
            tilde.insert(0, stage.decode(tilde[0], [where], sizes))
        return tilde

    def decode(self, code: Code) -> torch.Tensor:
        """The reconstruction x~ = x~_0 of the input the code came from."""
        return self.decode_stages(code)[0]

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """x~ of x (the fc layers are not run)."""
        return self.decode(self.encode(x, logits=False))

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores (N x n_classes) from the fc layers on x_M."""
        if self.classifier is None:
            raise ValueError(f"SWWAE({self.spec!r}) has no fully connected layer to give class scores; "
                             "end its spec with e.g. '-10fc'")
        return self.encode(x).logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction x~, as every autoencoder's forward (class scores: `classify`)."""
        return self.reconstruct(x)

    # ------------------------------------------------------------------ eqs. 1-2

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, labelled: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Named terms of eq. 1 and their weighted sum 'total':
        'classification' (L_NLL), 'reconstruction' (L2rec), 'reconstruction_middle' (L2M).

        y : class labels (N); entries of unlabelled examples are ignored (may be -1).
        labelled : bool mask (N) of examples whose label counts; default all when y is
            given (or y >= 0 where y has -1 entries). Unlabelled examples contribute only
            the reconstruction terms. Without any y the classification term is 0 (unsupervised).
        generator : draws the dropout masks (in training mode).
        """
        use_nll = self.lambda_nll > 0 and y is not None and self.classifier is not None
        use_rec = self.lambda_rec > 0 or self.lambda_mid > 0
        if not use_nll and not use_rec:
            raise ValueError("nothing to learn: lambda_nll > 0 needs labels y and an fc layer, "
                             "or lambda_rec / lambda_mid must be > 0")
        code = self._encode(x, use_nll, generator)
        zero = x.new_zeros(())
        terms = {"classification": zero, "reconstruction": zero, "reconstruction_middle": zero}
        if use_nll:
            if y.shape != (x.shape[0],):
                raise ValueError(f"y must hold one label per example ({x.shape[0]}), got shape {tuple(y.shape)}")
            mask = (y >= 0) if labelled is None else labelled.to(torch.bool)
            per_example = F.cross_entropy(code.logits, y.clamp(min=0), reduction="none")
            weight = mask.to(per_example.dtype)
            terms["classification"] = (per_example * weight).sum() / weight.sum().clamp(min=1.0)
        if use_rec:
            tilde = self.decode_stages(code)
            terms["reconstruction"] = _mse(tilde[0], x)
            mids = [_mse(t, w) for t, w in zip(tilde[1:-1], code.whats[1:-1])]
            if mids:
                terms["reconstruction_middle"] = torch.stack(mids).sum()
        terms["total"] = (self.lambda_nll * terms["classification"] + self.lambda_rec * terms["reconstruction"]
                          + self.lambda_mid * terms["reconstruction_middle"])
        if self.lambda_l1 > 0:
            terms["sparsity_l1"] = torch.stack([w.abs().mean() for w in code.whats[1:]]).sum()
            terms["total"] = terms["total"] + self.lambda_l1 * terms["sparsity_l1"]
        return terms
