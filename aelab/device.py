"""Choosing the torch device a run uses.

`auto` means cuda, then mps, then cpu. The `AELAB_DEVICE` environment variable overrides
`auto` (so a dashboard or a test can be pinned without changing code); an explicit name
passed by the caller wins over both. Environment variables are read by `aelab.settings`.
"""

from __future__ import annotations

import torch

from aelab import settings
from aelab.errors import UsageError

DEVICE_ENV = settings.DEVICE
CHOICES = settings.DEVICES


class DeviceUnavailable(UsageError, RuntimeError):
    """The named accelerator is not available on this machine (also a RuntimeError)."""


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """Return the torch.device for `name` (`auto`, `cpu`, `cuda`, `cuda:1`, `mps`).

    Raises UsageError (a ValueError) for an unknown name and DeviceUnavailable (a UsageError
    and a RuntimeError) when the named accelerator is not available on this machine.
    """
    if isinstance(name, torch.device):
        return name
    if name is None or name == "auto":
        name = settings.device()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":")[0]
    if kind not in CHOICES:
        raise UsageError(f"unknown device {name!r}: choose one of {', '.join(CHOICES)} (or cuda:N)")
    if kind == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(f"device {name!r} was asked for but CUDA is not available here; use --device cpu or auto")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceUnavailable("device 'mps' was asked for but MPS is not available here; use --device cpu or auto")
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    """A short human-readable name, e.g. 'cuda (NVIDIA H100)' or 'cpu (2 threads)'."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


def synchronize(device: torch.device | str) -> None:
    """Wait for queued work on an accelerator to finish (for honest timings); no-op on cpu."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


THREADS_ENV = settings.THREADS


def set_threads(threads: int | None = None) -> int:
    """Set torch's CPU thread count from `threads` or `$AELAB_THREADS`; return the count in force.

    On a machine shared with other busy processes, 1 thread can be many times faster than
    the default (one per core), because threads that wait on each other get descheduled.
    """
    if threads is None:
        threads = settings.threads()
    if threads is not None:
        if threads < 1:
            raise UsageError(f"threads must be a positive integer, got {threads}")
        torch.set_num_threads(threads)
    return torch.get_num_threads()
