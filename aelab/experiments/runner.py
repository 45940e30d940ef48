"""Run an experiment by name and write `OUT/NAME/result.json` (+ `arrays.npz`).

Everything is checked before any work: the seed (0 .. 2**32 - 1), the scale, every field of
the experiment's config (`check_config`), and that `OUT` can be written. The result folder
is written whole under a temporary name and swapped into place (`aelab.fileio.atomic_folder`),
so `OUT/NAME` is complete or absent at every moment, and two runs into the same `OUT` leave
the folder of one of them, never a mix of both.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from aelab import checks
from aelab.device import resolve_device
from aelab.errors import UsageError
from aelab.experiments import get
from aelab.experiments.base import Experiment, RunContext
from aelab.fileio import atomic_folder, atomic_path, probe_writable, read_json, write_json_atomic
from aelab.train.records import environment

RESULT = "result.json"
ARRAYS = "arrays.npz"
FIGURE = "figure.html"
OURS = {RESULT, ARRAYS, FIGURE}  # what a result folder may hold; anything else is not ours to replace


def _noise(value: Any) -> None:
    from aelab.data.corruption import parse_noise

    if isinstance(value, str):  # a spec such as masking:0.25 (a number is a Gaussian std, checked as such)
        parse_noise(value)


def _optimizer(value: Any) -> None:
    from aelab.train.loop import OPTIMIZERS

    if value not in OPTIMIZERS:
        raise UsageError(f"{value!r} is unknown; choose one of {', '.join(OPTIMIZERS)}")


def _dataset(value: Any) -> None:
    from aelab.data import catalog
    from aelab.data.natural import NATURAL

    if value not in NATURAL:
        catalog.info(value)


VALIDATORS: dict[str, Callable[[Any], None]] = {"noise": _noise, "optimizer": _optimizer, "dataset": _dataset}


def check_config(experiment: Experiment, config: Any) -> None:
    """Range-check an experiment's config before it runs (`aelab.checks.experiment_config`
    with the package's parsers for noise specs, optimizer and dataset names)."""
    checks.experiment_config(config, experiment.name, VALIDATORS)


def _check_destination(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file, not a result folder: move it or choose another --out")
    if folder.is_dir():
        foreign = sorted(p.name for p in folder.iterdir()
                         if p.name not in OURS and not (p.name.startswith(".") and p.name.endswith(".part")))
        if foreign:
            raise UsageError(f"{folder} holds files aelab did not write ({', '.join(foreign[:3])}"
                             f"{' ...' if len(foreign) > 3 else ''}); the result would replace the folder: "
                             "move them or choose another --out")


def reproduce(name: str, *, scale: str = "smoke", dataset: str | None = None, device: str = "auto",
              seed: int = 0, out: str | Path = "runs", overrides: dict[str, Any] | None = None,
              progress=None, log=None, stop=None, finish: Callable[[Path], None] | None = None) -> Path:
    """Run experiment `name` at `scale` and write its result folder; return that folder.

    finish: called with the new, complete folder (under its temporary name) before it is moved
        into place, to add files (the CLI writes figure.html there)."""
    experiment = get(name)
    checks.seed(seed, "--seed")
    config = experiment.config(scale, dataset=dataset, **(overrides or {}))
    check_config(experiment, config)
    out = probe_writable(out, f"--out {out}")
    folder = out / name
    _check_destination(folder)
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
    record = {
        "experiment": name, "title": experiment.title, "reproduces": experiment.paper, "scale": scale,
        "config": dataclasses.asdict(config), "seed": seed, "metrics": result.metrics, "paper": result.paper,
        "notes": result.notes, "env": environment(ctx.device), "seconds": seconds,
    }
    _check_destination(folder)  # again: the run took a while
    with atomic_folder(folder) as tmp:
        if result.arrays:
            with atomic_path(tmp / ARRAYS) as part:
                with open(part, "wb") as fh:
                    np.savez_compressed(fh, **{k: np.asarray(v) for k, v in result.arrays.items()})
        write_json_atomic(tmp / RESULT, record)
        if finish is not None:
            finish(tmp)
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
