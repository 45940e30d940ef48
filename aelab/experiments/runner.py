"""Run an experiment by name and write `OUT/NAME/result.json` (+ `arrays.npz`)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from aelab.device import resolve_device
from aelab.experiments import get
from aelab.experiments.base import RunContext
from aelab.fileio import atomic_path, read_json, write_json_atomic
from aelab.train.records import environment

RESULT = "result.json"
ARRAYS = "arrays.npz"


def reproduce(name: str, *, scale: str = "smoke", dataset: str | None = None, device: str = "auto",
              seed: int = 0, out: str | Path = "runs", overrides: dict[str, Any] | None = None,
              progress=None, log=None, stop=None) -> Path:
    """Run experiment `name` at `scale` and write its result folder; return that folder."""
    experiment = get(name)
    config = experiment.config(scale, dataset=dataset, **(overrides or {}))
    ctx = RunContext(device=resolve_device(device), seed=seed, scale=scale)
    if progress is not None:
        ctx.progress = progress
    if log is not None:
        ctx.log = log
    if stop is not None:
        ctx.stop = stop
    started = time.perf_counter()
    result = experiment.run(config, ctx)
    seconds = time.perf_counter() - started
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    if result.arrays:
        with atomic_path(folder / ARRAYS) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **{k: np.asarray(v) for k, v in result.arrays.items()})
    record = {
        "experiment": name, "title": experiment.title, "reproduces": experiment.paper, "scale": scale,
        "config": dataclasses.asdict(config), "seed": seed, "metrics": result.metrics, "paper": result.paper,
        "notes": result.notes, "env": environment(ctx.device), "seconds": seconds,
    }
    write_json_atomic(folder / RESULT, record)
    return folder


def read_result(folder: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(result.json as a dict, arrays) of a result folder."""
    folder = Path(folder)
    result = read_json(folder / RESULT)
    arrays: dict[str, np.ndarray] = {}
    if (folder / ARRAYS).exists():
        with np.load(folder / ARRAYS) as archive:
            arrays = {k: archive[k] for k in archive.files}
    return result, arrays
