"""Run records: one JSON file per run with config, seed, versions, device, metrics, seconds."""

from __future__ import annotations

import dataclasses
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from aelab.fileio import read_json, write_json_atomic


def package_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in ("aelab", "torch", "numpy", "scikit-learn", "scipy", "plotly"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def environment(device: torch.device | str | None = None) -> dict[str, Any]:
    """Versions, platform and device facts for a record's `env` field."""
    env: dict[str, Any] = {"versions": package_versions(), "platform": platform.platform(),
                           "cpu_threads": torch.get_num_threads(), "argv": sys.argv[1:]}
    if device is not None:
        device = torch.device(device)
        env["device"] = str(device)
        if device.type == "cuda":
            env["device_name"] = torch.cuda.get_device_name(device)
    return env


def as_dict(config: Any) -> Any:
    """Dataclass configs become plain dicts for JSON."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    return config


def write_record(path: str | Path, *, config: Any, seed: int, metrics: dict[str, Any],
                 seconds: float, device: torch.device | str | None = None, **extra: Any) -> Path:
    """Write a run record (`record.json` of `aelab train`) atomically and return its path."""
    record = {"config": as_dict(config), "seed": seed, "metrics": metrics, "seconds": seconds,
              "env": environment(device), "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}
    return write_json_atomic(path, record)


def read_record(path: str | Path) -> dict[str, Any]:
    return read_json(path)
