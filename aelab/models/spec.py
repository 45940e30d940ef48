"""Architecture strings of Zhao et al. (2016), section 4: `(16)5c-(32)3c-2p-10fc`.

Notation (square kernels, ReLU omitted in the string):
    (N)Kc   convolution with N feature maps, K x K kernel, "same" padding, then ReLU
    Xp      X x X max pooling with stride X (non-overlapping)
    Nfc     fully connected layer with N units (the last one gives the class scores)

    >>> layers = parse("(32)5c-(32)3c-2p-(32)3c-16p")
    >>> [str(layer) for layer in layers]
    ['(32)5c', '(32)3c', '2p', '(32)3c', '16p']
    >>> [s.size for s in check(layers, 32)]           # 32 -> 32 -> 32 -> 16 -> 16 -> 1
    [32, 32, 16, 16, 1]

`parse` raises `SpecError` naming the offending token (its position and text); `check`
walks a spec over an input size and raises `SpecError` when a pool is larger than the map
or a size is not positive. Convolutions are "same" (size preserving): the papers'
architectures only fit that way (REFERENCES.md, "Shapes in the SWWAE paper").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from aelab.errors import UsageError


class SpecError(UsageError):
    """An architecture string that cannot be parsed, or does not fit an input size."""


@dataclass(frozen=True)
class Conv:
    """`(maps)kernel c`: conv with `maps` output maps, `kernel` x `kernel`, same padding, ReLU."""

    maps: int
    kernel: int

    def __str__(self) -> str:
        return f"({self.maps}){self.kernel}c"


@dataclass(frozen=True)
class Pool:
    """`size p`: size x size pooling with stride `size`."""

    size: int

    def __str__(self) -> str:
        return f"{self.size}p"


@dataclass(frozen=True)
class FC:
    """`units fc`: a fully connected layer."""

    units: int

    def __str__(self) -> str:
        return f"{self.units}fc"


Layer = Union[Conv, Pool, FC]

_TOKEN = re.compile(r"^\((?P<maps>[+-]?\d+)\)(?P<kernel>[+-]?\d+)c$|^(?P<pool>[+-]?\d+)p$|^(?P<fc>[+-]?\d+)fc$")


def _positive(value: str, what: str, token: str, position: int, start: int) -> int:
    number = int(value)
    if number <= 0:
        raise SpecError(f"token {position} {token!r} (at character {start}): {what} must be positive, got {number}")
    return number


def parse(spec: str) -> list[Layer]:
    """The layers of an architecture string, in order; `SpecError` points at a bad token."""
    if not isinstance(spec, str) or not spec.strip():
        raise SpecError(f"an architecture string is needed, e.g. '(16)5c-(32)3c-2p-10fc'; got {spec!r}")
    text = spec.replace(" ", "")
    layers: list[Layer] = []
    start = 0
    for position, token in enumerate(text.split("-"), start=1):
        match = _TOKEN.match(token)
        if match is None:
            raise SpecError(f"token {position} {token!r} (at character {start}) of {text!r} is not "
                            "'(N)Kc' (conv), 'Xp' (pool) or 'Nfc' (fully connected)")
        if match["maps"] is not None:
            layers.append(Conv(_positive(match["maps"], "the number of maps", token, position, start),
                               _positive(match["kernel"], "the kernel size", token, position, start)))
        elif match["pool"] is not None:
            layers.append(Pool(_positive(match["pool"], "the pool size", token, position, start)))
        else:
            layers.append(FC(_positive(match["fc"], "the number of units", token, position, start)))
        if isinstance(layers[-1], (Conv, Pool)) and any(isinstance(prev, FC) for prev in layers[:-1]):
            raise SpecError(f"token {position} {token!r} (at character {start}): convolutions and pools "
                            "must come before the fully connected layers")
        start += len(token) + 1
    return layers


def format_spec(layers: list[Layer]) -> str:
    """The architecture string of a layer list (inverse of `parse`)."""
    return "-".join(str(layer) for layer in layers)


@dataclass(frozen=True)
class Shape:
    """The activation after a layer: `channels` maps of `size` x `size` (or `units` after an fc)."""

    layer: Layer
    channels: int
    size: int


def check(layers: list[Layer] | str, input_size: int, in_channels: int = 1) -> list[Shape]:
    """Walk the spec over a square input of `input_size`; return the shape after each layer.

    Raises SpecError when the input size is not positive or a pool is larger than its map.
    A pool that does not divide its map floors (the remainder rows/columns are not pooled,
    as torch's max_pool2d does; unpooling restores the full size with zeros there).
    """
    if isinstance(layers, str):
        layers = parse(layers)
    if int(input_size) <= 0 or int(in_channels) <= 0:
        raise SpecError(f"input size {input_size} and channels {in_channels} must be positive")
    size, channels = int(input_size), int(in_channels)
    shapes = []
    for position, layer in enumerate(layers, start=1):
        if isinstance(layer, Conv):
            channels = layer.maps
        elif isinstance(layer, Pool):
            if layer.size > size:
                raise SpecError(f"token {position} {str(layer)!r}: a {layer.size}x{layer.size} pool does not fit "
                                f"the {size}x{size} map it receives (input {input_size}x{input_size}); "
                                "use a smaller pool or a larger input")
            size = size // layer.size
        else:
            channels, size = layer.units, 1
        shapes.append(Shape(layer, channels, size))
    return shapes
