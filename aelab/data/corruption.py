"""Corruption processes q_D(x~ | x) used by denoising autoencoders and GSN chains.

- masking (Vincent et al. 2008, sec. 2.3): for each example, exactly round(level * d)
  components chosen at random are set to 0; the others are left untouched.
- gaussian: x~ = x + e, e ~ N(0, level^2), per component.
- salt-pepper: each component, with probability `level`, is set to 0 or 1 (fair coin).

All run on the tensor's device; pass a `torch.Generator` on that device for repeatability.
"""

from __future__ import annotations

import math

import torch

from aelab.errors import UsageError

KINDS = ("masking", "gaussian", "salt-pepper", "none")


def check_noise(kind: str, level: float) -> None:
    """Raise UsageError (a ValueError) for an unknown kind or a level outside its range."""
    if kind not in KINDS:
        raise UsageError(f"unknown corruption kind {kind!r}; choose one of {', '.join(KINDS)}")
    if not isinstance(level, (int, float)) or not math.isfinite(level):
        raise UsageError(f"corruption level must be a finite number, got {level!r}")
    if kind in ("masking", "salt-pepper") and not 0.0 <= level <= 1.0:
        raise UsageError(f"{kind} level is a fraction of components and must lie in [0, 1], got {level}")
    if kind == "gaussian" and level < 0:
        raise UsageError(f"gaussian level is a standard deviation and must be >= 0, got {level}")


def parse_noise(spec: str) -> tuple[str, float]:
    """Parse 'masking:0.25', 'gaussian:0.3', 'salt-pepper:0.4' or 'none'."""
    if spec in ("none", "", "0"):
        return "none", 0.0
    kind, sep, value = spec.partition(":")
    if not sep:
        raise UsageError(f"noise {spec!r} should look like KIND:LEVEL, e.g. masking:0.25")
    try:
        level = float(value)
    except ValueError:
        raise UsageError(f"noise level {value!r} in {spec!r} is not a number") from None
    check_noise(kind, level)
    return kind, level


def corrupt(x: torch.Tensor, kind: str, level: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Return a corrupted copy of `x` (first dimension = examples). `x` is never modified."""
    check_noise(kind, level)
    if kind == "none" or level == 0:
        return x.clone()
    if kind == "gaussian":
        return x + level * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    flat = x.reshape(x.shape[0], -1)
    if kind == "masking":
        d = flat.shape[1]
        k = round(level * d)
        if k == 0:
            return x.clone()
        # the k smallest of d uniform keys give a uniformly random k-subset per row; the keys are
        # 32-bit integers (two per 64-bit draw: half the generator's work, and integer selection is
        # about twice as fast as float selection on CPUs); ties are rare (d^2 / 2^33 per row) and
        # topk still returns exactly k of them
        words = torch.randint(-2**63, 2**63 - 1, (flat.shape[0], (d + 1) // 2), generator=generator,
                              device=x.device, dtype=torch.int64)
        keys = words.view(torch.int32)[:, :d]
        drop = keys.topk(k, dim=1, largest=False, sorted=False).indices
        out = flat.clone()
        out.scatter_(1, drop, 0.0)
        return out.reshape(x.shape)
    # salt-pepper
    hit = torch.rand(flat.shape, generator=generator, device=x.device) < level
    salt = torch.rand(flat.shape, generator=generator, device=x.device) < 0.5
    out = torch.where(hit, salt.to(x.dtype), flat)
    return out.reshape(x.shape)
