"""Stacked what-where auto-encoders (Zhao, Mathieu, Goroshin, LeCun 2016).

A Convnet encodes x; a mirrored Deconvnet decodes it. The spec string (see
`aelab.models.spec`) is cut into stages at its pools: stage m is convs + one pool and maps
the "what" x_{m-1} to the "what" x_m, keeping the pool's "where" w_m. The decoder runs the
stages backwards: x~_M = x_M (the top is copied, section 1), and

    x~_{m-1} = deconv_m( unpool(x~_m, w_m) )            (each stage a what-where AE)

with the decoder's convs mirrored (maps in <-> out, same kernels, ReLU except the very
last, which gives the reconstruction x~ = x~_0). Fully connected layers sit on top of x_M
and give the class scores. The loss is eqs. 1-2:

    L = lambda_NLL L_NLL + lambda_L2rec ||x - x~||^2 + lambda_L2M sum_m ||x_m - x~_m||^2

with squared errors averaged over elements (as Torch's MSECriterion), m = 1..M-1 the
intermediate stages. The three modes of section 3.2 are settings of the lambdas:
supervised (lambda_L2* = 0: the decoder is not even run), unsupervised (lambda_NLL = 0:
the fc layers are not run), semi-supervised (all three; in a batch, unlabelled examples
add only the reconstruction terms).

    >>> model = SWWAE("(16)5c-(32)3c-2p-10fc", input_size=32)
    >>> terms = model.loss(x, y, labelled)      # {'nll', 'l2rec', 'l2m', 'total'}
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aelab.models import spec as specs
from aelab.models.pooling import WhatWherePool, WhatWhereUnpool


@dataclass
class Code:
    """What the encoder produces: the "what" of every stage (x_0 = x, ..., x_M), the "where"
    of every pool (None for a stage without a pool), the pre-pool sizes, and class scores."""

    whats: list[torch.Tensor]
    wheres: list[torch.Tensor | None]
    sizes: list[tuple[int, int]]
    logits: torch.Tensor | None


class _Stage(nn.Module):
    """One encoder stage (convs + pool) and its decoder mirror (unpool + deconvs)."""

    def __init__(self, in_channels: int, convs: list[specs.Conv], pool: specs.Pool | None, *, soft: bool,
                 beta: float, unpool: str, batchnorm: bool, last: bool):
        super().__init__()
        channels = [in_channels] + [c.maps for c in convs]
        self.encoder = nn.ModuleList()
        for c_in, conv in zip(channels[:-1], convs):
            self.encoder.append(_conv(c_in, conv.maps, conv.kernel, batchnorm, relu=True))
        self.pool = WhatWherePool(pool.size, soft=soft, beta=beta) if pool is not None else None
        self.unpool = WhatWhereUnpool(pool.size, mode=unpool) if pool is not None else None
        self.decoder = nn.ModuleList()
        for i, conv in reversed(list(enumerate(convs))):
            output_layer = last and i == 0
            self.decoder.append(_conv(conv.maps, channels[i], conv.kernel, batchnorm and not output_layer,
                                      relu=not output_layer))
        self.out_channels = channels[-1]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, tuple[int, int]]:
        z = x
        for layer in self.encoder:
            z = layer(z)
        size = (z.shape[-2], z.shape[-1])
        if self.pool is None:
            return z, None, size
        what, where = self.pool(z)
        return what, where, size

    def decode(self, what: torch.Tensor, where: torch.Tensor | None, size: tuple[int, int]) -> torch.Tensor:
        z = what if self.unpool is None else self.unpool(what, where, size)
        for layer in self.decoder:
            z = layer(z)
        return z


def _conv(c_in: int, c_out: int, kernel: int, batchnorm: bool, relu: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel, padding="same")]
    if batchnorm:
        layers.append(nn.BatchNorm2d(c_out))
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class SWWAE(nn.Module):
    """Stacked what-where auto-encoder built from one architecture string.

    Parameters
    ----------
    spec : e.g. '(64)5c-2p-(64)3c-2p-(64)3c-2p-10fc' (Zhao et al.'s notation).
    in_channels, input_size : the square input (checked against the spec at construction).
    pooling : 'hard' (max + switches) or 'soft' (eqs. 3-4 with temperature `beta` > 0).
    unpool : 'where' (unpool with the encoder's "where") or 'upsample' (the no-where baseline).
    dropout : dropout probability on the inputs of the fully connected layers.
    batchnorm : spatial batch normalisation after every conv, in both pathways.
    lambda_nll, lambda_rec, lambda_mid : the weights of eq. 1 (lambda_NLL, lambda_L2rec, lambda_L2M).
    """

    def __init__(self, spec: str, *, in_channels: int = 1, input_size: int = 32, pooling: str = "hard",
                 beta: float = 100.0, unpool: str = "where", dropout: float = 0.0, batchnorm: bool = False,
                 lambda_nll: float = 1.0, lambda_rec: float = 1.0, lambda_mid: float = 1.0):
        super().__init__()
        if pooling not in ("hard", "soft"):
            raise ValueError(f"pooling {pooling!r}: choose 'hard' or 'soft'")
        if pooling == "soft" and not beta > 0:
            raise ValueError(f"beta must be > 0 for soft pooling, got {beta}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if min(lambda_nll, lambda_rec, lambda_mid) < 0:
            raise ValueError("the loss weights lambda_nll, lambda_rec, lambda_mid must be >= 0")
        self.spec = spec
        self.layers = specs.parse(spec)
        shapes = specs.check(self.layers, input_size, in_channels)
        self.in_channels, self.input_size = in_channels, input_size
        self.pooling, self.beta, self.unpool_mode = pooling, float(beta), unpool
        self.lambda_nll, self.lambda_rec, self.lambda_mid = float(lambda_nll), float(lambda_rec), float(lambda_mid)

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
            stage = _Stage(channels, stage_convs, pool, soft=pooling == "soft", beta=beta, unpool=unpool,
                           batchnorm=batchnorm, last=i == 0)
            self.stages.append(stage)
            channels = stage.out_channels
        top = shapes[len(conv_part) - 1] if conv_part else None
        self.top_shape = (top.channels, top.size, top.size)
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
            self.classifier = nn.Sequential(*layers)
            self.n_classes = fcs[-1].units
        else:
            self.n_classes = 0

    # ------------------------------------------------------------------ the two pathways

    def _check_input(self, x: torch.Tensor) -> None:
        expected = (self.in_channels, self.input_size, self.input_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"SWWAE({self.spec!r}) expects N x {' x '.join(map(str, expected))} input, "
                             f"got {tuple(x.shape)}")

    def encode(self, x: torch.Tensor, classify: bool = True) -> Code:
        """Convnet: x_0 = x; x_m, w_m = pool(convs(x_{m-1})); class scores from x_M."""
        self._check_input(x)
        whats, wheres, sizes = [x], [], []
        for stage in self.stages:
            what, where, size = stage.encode(whats[-1])
            whats.append(what)
            wheres.append(where)
            sizes.append(size)
        logits = self.classifier(whats[-1]) if (classify and self.classifier is not None) else None
        return Code(whats, wheres, sizes, logits)

    def decode(self, code: Code) -> list[torch.Tensor]:
        """Deconvnet: x~_M = x_M, x~_{m-1} = deconv_m(unpool(x~_m, w_m)); returns [x~_0 .. x~_M]."""
        if len(code.wheres) != len(self.stages):
            raise ValueError(f"the code has {len(code.wheres)} 'where' tensors; this SWWAE has {len(self.stages)} stages")
        tilde = [code.whats[-1]]
        for stage, where, size in zip(reversed(self.stages), reversed(code.wheres), reversed(code.sizes)):
            tilde.insert(0, stage.decode(tilde[0], where, size))
        return tilde

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """(class scores or None, reconstruction x~)."""
        code = self.encode(x)
        return code.logits, self.decode(code)[0]

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x, classify=False))[0]

    # ------------------------------------------------------------------ eqs. 1-2

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None,
             labelled: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Named terms of eq. 1 and their weighted sum 'total'.

        y : class labels (N); entries of unlabelled examples are ignored (may be -1).
        labelled : bool mask (N) of examples whose label counts; default all when y is
            given (or y >= 0 where y has -1 entries). Unlabelled examples contribute only
            the reconstruction terms. Without any y the NLL term is 0 (unsupervised).
        """
        use_nll = self.lambda_nll > 0 and y is not None and self.classifier is not None
        use_rec = self.lambda_rec > 0 or self.lambda_mid > 0
        if not use_nll and not use_rec:
            raise ValueError("nothing to learn: lambda_nll > 0 needs labels y and an fc layer, "
                             "or lambda_rec / lambda_mid must be > 0")
        code = self.encode(x, classify=use_nll)
        zero = x.new_zeros(())
        terms = {"nll": zero, "l2rec": zero, "l2m": zero}
        if use_nll:
            if y.shape != (x.shape[0],):
                raise ValueError(f"y must hold one label per example ({x.shape[0]}), got shape {tuple(y.shape)}")
            mask = (y >= 0) if labelled is None else labelled.to(torch.bool)
            per_example = F.cross_entropy(code.logits, y.clamp(min=0), reduction="none")
            weight = mask.to(per_example.dtype)
            terms["nll"] = (per_example * weight).sum() / weight.sum().clamp(min=1.0)
        if use_rec:
            tilde = self.decode(code)
            terms["l2rec"] = F.mse_loss(tilde[0], x)
            mids = [F.mse_loss(t, w) for t, w in zip(tilde[1:-1], code.whats[1:-1])]
            if mids:
                terms["l2m"] = torch.stack(mids).sum()
        terms["total"] = (self.lambda_nll * terms["nll"] + self.lambda_rec * terms["l2rec"]
                          + self.lambda_mid * terms["l2m"])
        return terms
