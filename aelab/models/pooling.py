"""What-where pooling and unpooling (Zhao et al. 2016, section 3 and eqs. 3-4).

A pooling layer splits a feature map z into
    what  = the pooled value of each region N_k (fed up the encoder), and
    where = where in N_k that value came from (fed sideways to the decoder).

Hard version: what = max_{N_k} z, where = the argmax "switch", stored as torch's flat
per-plane index (h * W + w); `hard_unpool` puts each "what" back at its switch. Ties give
exactly one switch (max_pool2d picks one index per region). Overlapping pools (stride <
size) may send several switches to one pixel: we scatter-add and divide by the count.

Soft version (eqs. 3-4), with a temperature beta > 0:
    m_k = sum_{N_k} z(x, y) softmax_{N_k}(beta z)                     (3)  "what"
    p_k = sum_{N_k} [x, y] softmax_{N_k}(beta z),  x, y in [-1, 1]     (4)  "where"
The window max is subtracted before exp(beta z), so beta = 100 cannot overflow. `soft_unpool`
places m_k at the continuous position p_k by bilinear interpolation ("we use interpolation"),
so gradients flow into the "where" as well as the "what". Soft "where" has shape
N x C x H' x W' x 2 with (x, y) = (column, row) in the region's local frame.

`upsample` is the "no where" baseline of section 4.1: each "what" is copied onto every
position of its region. `fixed_switches` are the "where" of unpooling with fixed switches
(Zhang et al.'s SAE, after Dosovitskiy & Brox): every value goes to the top-left of its region.

Sizes that the pool does not divide are floored (the remainder rows/columns are not
pooled); every unpooling takes `output_size` to restore the full map, with zeros there.

Memory layout: `hard_unpool` of a channels-last "what" (as the SWWAE's maps are on the CPU,
where max pooling with switches is about 3.5x faster so) scatters in that layout and returns
a channels-last map; the values are the same in either layout. Regions side by side (stride
= size, the usual case) are pooled and unpooled by pooling kernels and reshapes instead of
F.unfold / F.fold, which walk the N x C planes one at a time: the same sums.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _pair(size: int, stride: int | None) -> tuple[int, int]:
    size = int(size)
    stride = size if stride is None else int(stride)
    if size <= 0 or stride <= 0:
        raise ValueError(f"pool size {size} and stride {stride} must be positive")
    if stride > size:
        raise ValueError(f"stride {stride} larger than the pool size {size} would skip pixels")
    return size, stride


def _check_map(z: torch.Tensor, size: int) -> None:
    if z.dim() != 4:
        raise ValueError(f"pooling expects N x C x H x W feature maps, got shape {tuple(z.shape)}")
    h, w = z.shape[-2:]
    if size > h or size > w:
        raise ValueError(f"a {size}x{size} pool does not fit a {h}x{w} feature map")


def _output_size(what: torch.Tensor, size: int, stride: int, output_size) -> tuple[int, int]:
    h_out, w_out = what.shape[2], what.shape[3]
    if output_size is None:
        return (h_out - 1) * stride + size, (w_out - 1) * stride + size
    h, w = (int(v) for v in tuple(output_size)[-2:])
    if (h - size) // stride + 1 != h_out or (w - size) // stride + 1 != w_out:
        raise ValueError(f"output_size {h}x{w} does not pool ({size}p, stride {stride}) to the "
                         f"{h_out}x{w_out} 'what' it is asked to unpool")
    return h, w


def _region_sums(t: torch.Tensor, size: int) -> torch.Tensor:
    """Sum over each non-overlapping size x size region (exact sums: no division)."""
    return F.avg_pool2d(t, size, divisor_override=1)


def _nearest(t: torch.Tensor, size: int) -> torch.Tensor:
    """Every value copied onto its size x size region."""
    return F.interpolate(t, scale_factor=size, mode="nearest") if size > 1 else t


def _untile(tiles: torch.Tensor, size: int, hw: tuple[int, int]) -> torch.Tensor:
    """N x C x H' x W' x size x size (a value for every position of every region) -> the
    N x C x H x W map, zeros in the remainder rows/columns."""
    n, c, h_out, w_out = tiles.shape[:4]
    out = tiles.transpose(3, 4).reshape(n, c, h_out * size, w_out * size)
    h, w = hw
    if (h, w) != (h_out * size, w_out * size):
        out = F.pad(out, (0, w - w_out * size, 0, h - h_out * size))
    return out


def _coverage(size: int, stride: int, hw: tuple[int, int], what: torch.Tensor) -> torch.Tensor:
    """How many pooling regions cover each output pixel (1 x 1 x H x W)."""
    h_out, w_out = what.shape[2], what.shape[3]
    ones = what.new_ones(1, size * size, h_out * w_out)
    return F.fold(ones, hw, size, stride=stride)


def channels_last(t: torch.Tensor) -> bool:
    """Whether a 4-d tensor is stored channels-last (N H W C) and not also plainly contiguous
    (a map with one channel or one pixel is both, and is treated as N C H W)."""
    return t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()


# ----------------------------------------------------------------------------- hard pooling

def hard_pool(z: torch.Tensor, size: int, stride: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(what, where) = (max over each region, flat index h * W + w of its argmax)."""
    size, stride = _pair(size, stride)
    _check_map(z, size)
    return F.max_pool2d(z, size, stride, return_indices=True)


def hard_unpool(what: torch.Tensor, where: torch.Tensor, size: int, stride: int | None = None,
                output_size=None) -> torch.Tensor:
    """Place every "what" at its switch; zeros elsewhere (Zhao Fig. 1a).

    Non-overlapping pools write each switch once; overlapping ones may hit a pixel more
    than once, so values are scatter-added and divided by the per-pixel count.
    """
    size, stride = _pair(size, stride)
    if where.shape != what.shape:
        raise ValueError(f"'where' of shape {tuple(where.shape)} does not match 'what' of shape {tuple(what.shape)}")
    if where.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"hard 'where' must be integer switch indices, got {where.dtype}; "
                         "soft 'where' is unpooled with soft_unpool")
    h, w = _output_size(what, size, stride, output_size)
    n, c = what.shape[:2]
    if channels_last(what):
        # the same scatter in the tensor's own memory order, N x (H W) x C, so that neither the
        # result nor its gradient (a gather) is copied between layouts
        flat_what, flat_where = what.permute(0, 2, 3, 1).reshape(n, -1, c), where.permute(0, 2, 3, 1).reshape(n, -1, c)
        out = what.new_zeros(n, h * w, c).scatter_add_(1, flat_where.long(), flat_what)
        if stride < size:
            count = what.new_zeros(n, h * w, c).scatter_add_(1, flat_where.long(), torch.ones_like(flat_what))
            out = out / count.clamp(min=1)
        return out.reshape(n, h, w, c).permute(0, 3, 1, 2)
    flat_what, flat_where = what.reshape(n, c, -1), where.reshape(n, c, -1).long()
    out = what.new_zeros(n, c, h * w).scatter_add_(2, flat_where, flat_what)
    if stride < size:
        count = what.new_zeros(n, c, h * w).scatter_add_(2, flat_where, torch.ones_like(flat_what))
        out = out / count.clamp(min=1)
    return out.reshape(n, c, h, w)


# ----------------------------------------------------------------------------- soft pooling

def _axis(size: int, z: torch.Tensor) -> torch.Tensor:
    """The normalised coordinates of a region's size positions along one axis, in [-1, 1]."""
    return torch.linspace(-1.0, 1.0, size, device=z.device, dtype=z.dtype) if size > 1 else z.new_zeros(1)


def _local_grid(size: int, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised (x, y) of the size*size positions of a region, row-major, in [-1, 1]."""
    axis = _axis(size, z)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    return xs.reshape(-1), ys.reshape(-1)


def soft_pool(z: torch.Tensor, size: int, beta: float, stride: int | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Eqs. 3-4: (what m_k, where p_k) with softmax weights exp(beta z) / sum exp(beta z) over N_k.

    what: N x C x H' x W'; where: N x C x H' x W' x 2, (x, y) in [-1, 1].
    """
    if not beta > 0:
        raise ValueError(f"beta must be > 0 (large beta -> max pooling, small -> mean pooling), got {beta}")
    size, stride = _pair(size, stride)
    _check_map(z, size)
    n, c, h, w = z.shape
    h_out, w_out = (h - size) // stride + 1, (w - size) // stride + 1
    if stride == size:
        # regions side by side: eqs. 3-4 as region sums of maps (pooling kernels, in the map's own
        # layout) instead of F.unfold, which walks the N C planes one by one
        z = z[:, :, : h_out * size, : w_out * size]
        # the window max only shifts the exponent (the softmax does not depend on it): no gradient
        weights = torch.exp(beta * (z - _nearest(F.max_pool2d(z.detach(), size), size)))
        total = _region_sums(weights, size)
        x_map = _axis(size, z).repeat(w_out).view(1, 1, 1, -1)             # x of every column in its region
        y_map = _axis(size, z).repeat(h_out).view(1, 1, -1, 1)             # y of every row in its region
        what = _region_sums(z * weights, size) / total                        # eq. 3
        where = torch.stack([_region_sums(weights * x_map, size) / total,    # eq. 4
                             _region_sums(weights * y_map, size) / total], dim=-1)
        return what, where
    xs, ys = _local_grid(size, z)
    regions = F.unfold(z.reshape(n * c, 1, h, w), size, stride=stride)       # (NC, size^2, H'W')
    shifted = regions - regions.amax(dim=1, keepdim=True)                     # no overflow in exp
    weights = torch.exp(beta * shifted)
    weights = weights / weights.sum(dim=1, keepdim=True)
    what = (regions * weights).sum(dim=1)                                     # eq. 3
    where = torch.stack([(xs[:, None] * weights).sum(dim=1),                  # eq. 4
                         (ys[:, None] * weights).sum(dim=1)], dim=-1)
    return what.reshape(n, c, h_out, w_out), where.reshape(n, c, h_out, w_out, 2)


def _tent(position: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear weights max(0, 1 - |u - j|) of a continuous pixel coordinate u on j = 0..size-1."""
    pixel = (position + 1.0) * 0.5 * (size - 1)
    grid = torch.arange(size, device=position.device, dtype=position.dtype)
    return torch.clamp(1.0 - (pixel.unsqueeze(-1) - grid).abs(), min=0.0)


def soft_unpool(what: torch.Tensor, where: torch.Tensor, size: int, stride: int | None = None,
                output_size=None) -> torch.Tensor:
    """Put each m_k at p_k inside its region by bilinear placement (differentiable in p_k)."""
    size, stride = _pair(size, stride)
    if where.shape != (*what.shape, 2):
        raise ValueError(f"soft 'where' of shape {tuple(where.shape)} does not match 'what' of shape "
                         f"{tuple(what.shape)} (expected {(*what.shape, 2)})")
    if not where.is_floating_point():
        raise ValueError("soft 'where' must hold continuous (x, y) positions; hard switches use hard_unpool")
    h, w = _output_size(what, size, stride, output_size)
    n, c, h_out, w_out = what.shape
    if size > 1:
        wx, wy = _tent(where[..., 0], size), _tent(where[..., 1], size)      # (..., size)
    else:
        wx = wy = where.new_ones(*where.shape[:-1], 1)
    placed = what[..., None, None] * wy[..., :, None] * wx[..., None, :]     # (N, C, H', W', size, size)
    if stride == size:
        return _untile(placed, size, (h, w))
    columns = placed.reshape(n * c, h_out * w_out, size * size).transpose(1, 2)
    out = F.fold(columns, (h, w), size, stride=stride)
    if stride < size:
        out = out / _coverage(size, stride, (h, w), what).clamp(min=1)
    return out.reshape(n, c, h, w)


# ----------------------------------------------------------------------------- no "where"

def fixed_switches(what: torch.Tensor, size: int, stride: int, output_size) -> torch.Tensor:
    """Switches that point every pooled value at the top-left corner of its window
    (flat per-plane index row * W + col), for unpooling with fixed switches."""
    h_out, w_out = what.shape[-2:]
    width = int(tuple(output_size)[-1])
    rows = torch.arange(h_out, device=what.device) * stride
    cols = torch.arange(w_out, device=what.device) * stride
    index = rows[:, None] * width + cols[None, :]
    return index.expand_as(what)


def upsample(what: torch.Tensor, size: int, stride: int | None = None, output_size=None) -> torch.Tensor:
    """Section 4.1 baseline: copy each "what" onto all positions of its region (no "where")."""
    size, stride = _pair(size, stride)
    h, w = _output_size(what, size, stride, output_size)
    n, c, h_out, w_out = what.shape
    if stride == size:
        return _untile(what[..., None, None].expand(n, c, h_out, w_out, size, size), size, (h, w))
    columns = what.reshape(n * c, 1, h_out * w_out).expand(n * c, size * size, h_out * w_out)
    out = F.fold(columns, (h, w), size, stride=stride)
    if stride < size:
        out = out / _coverage(size, stride, (h, w), what).clamp(min=1)
    return out.reshape(n, c, h, w)


# ----------------------------------------------------------------------------- modules

class WhatWherePool(nn.Module):
    """Pool z into (what, where). `soft=False`: max + switch; `soft=True`: eqs. 3-4 with beta."""

    def __init__(self, size: int, stride: int | None = None, *, soft: bool = False, beta: float = 100.0):
        super().__init__()
        self.size, self.stride = _pair(size, stride)
        if soft and not beta > 0:
            raise ValueError(f"beta must be > 0, got {beta}")
        self.soft, self.beta = bool(soft), float(beta)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.soft:
            return soft_pool(z, self.size, self.beta, self.stride)
        return hard_pool(z, self.size, self.stride)

    def extra_repr(self) -> str:
        return f"size={self.size}, stride={self.stride}, " + (f"soft, beta={self.beta}" if self.soft else "hard")


class WhatWhereUnpool(nn.Module):
    """Unpool a "what" with the matching "where" (`mode='where'`: hard switches or soft
    positions), at fixed switches (`'fixed'`: the top-left of every region, no "where"
    needed), or by copying it over its region (`'upsample'`: no "where" either)."""

    MODES = ("where", "fixed", "upsample")

    def __init__(self, size: int, stride: int | None = None, *, mode: str = "where"):
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f"unpool mode {mode!r}: choose one of {', '.join(self.MODES)}")
        self.size, self.stride = _pair(size, stride)
        self.mode = mode

    def forward(self, what: torch.Tensor, where: torch.Tensor | None, output_size) -> torch.Tensor:
        if self.mode == "upsample":
            return upsample(what, self.size, self.stride, output_size)
        if self.mode == "fixed":
            switches = fixed_switches(what, self.size, self.stride, _output_size(what, self.size, self.stride,
                                                                                 output_size))
            return hard_unpool(what, switches, self.size, self.stride, output_size)
        if where is None:
            raise ValueError("unpooling with 'where' needs the encoder's where; use mode='fixed' or "
                             "'upsample' for none")
        if where.is_floating_point():
            return soft_unpool(what, where, self.size, self.stride, output_size)
        return hard_unpool(what, where, self.size, self.stride, output_size)

    def extra_repr(self) -> str:
        return f"size={self.size}, stride={self.stride}, mode={self.mode}"
