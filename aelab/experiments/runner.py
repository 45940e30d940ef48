"""Run an experiment by name and write `OUT/NAME/result.json` (+ `arrays.npz`).

Everything is checked before any work: the seed (0 .. 2**32 - 1), the scale, every field of
the experiment's config (`check_config`), and that `OUT` can be written. The result folder
is written whole under a temporary name and swapped into place (`aelab.fileio.atomic_folder`),
so `OUT/NAME` is complete or absent at every moment, and two runs into the same `OUT` leave
the folder of one of them, never a mix of both.

A run keeps a journal of its training phases (`OUT/.aelab-journal/NAME-KEY/`, one checkpoint
per phase, written at most every minute and when the phase ends): the same command started
again after a crash or a kill continues where it stopped and gives the same numbers. The
journal is removed once the result is written. result.json records the command that
reproduces it and the preset's deviations from the paper.
"""

from __future__ import annotations

import dataclasses
import shlex
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from aelab import checks, settings
from aelab.cache import cache_key
from aelab.device import resolve_device
from aelab.errors import UsageError
from aelab.experiments import get
from aelab.experiments.base import Experiment, RunContext
from aelab.fileio import atomic_folder, atomic_path, probe_writable, read_json, write_json_atomic
from aelab.models.registry import save_model
from aelab.train.checkpoints import Journal
from aelab.train.records import environment

RESULT = "result.json"
ARRAYS = "arrays.npz"
FIGURE = "figure.html"
JOURNALS = ".aelab-journal"  # OUT/.aelab-journal/NAME-KEY: the phases of unfinished runs
MODELS = "models"  # models/NAME/: the run's kept models (float16), see `Result.models`
OURS = {RESULT, ARRAYS, FIGURE, MODELS}  # what a result folder may hold; anything else is not ours to replace


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


def command_line(name: str, scale: str, seed: int, out: str | Path, dataset: str | None,
                 overrides: dict[str, Any] | None, device: str = "auto", threads: int | None = None) -> str:
    """The `aelab reproduce` command that runs this experiment again (recorded in result.json).

    threads: the CPU thread count the run was pinned to (`--threads` or `$AELAB_THREADS`), or None
    when torch chose it; a CPU run gives the same numbers to the last digit only at its thread
    count, so a pinned count is part of the command."""
    words = ["aelab"] + (["--threads", str(threads)] if threads is not None else [])
    words += ["reproduce", name, "--scale", scale, "--seed", str(seed), "--out", str(out)]
    if dataset is not None:
        words += ["--dataset", dataset]
    if device != "auto":
        words += ["--device", device]
    for key, value in sorted((overrides or {}).items()):
        if value is not None:
            text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
            words += [f"--{key.replace('_', '-')}", text]
    return " ".join(shlex.quote(w) for w in words)


def journal_folder(out: Path, name: str, identity: dict[str, Any]) -> Path:
    """Where a run of `name` with this identity (config, seed, scale, device) keeps its journal."""
    return out / JOURNALS / f"{name}-{cache_key(identity, 12)}"


def reproduce(name: str, *, scale: str = "smoke", dataset: str | None = None, device: str = "auto",
              seed: int = 0, out: str | Path = "runs", overrides: dict[str, Any] | None = None,
              progress=None, log=None, stop=None, finish: Callable[[Path], None] | None = None,
              resume: bool = True, threads: int | None = None) -> Path:
    """Run experiment `name` at `scale` and write its result folder; return that folder.

    finish: called with the new, complete folder (under its temporary name) before it is moved
        into place, to add files (the CLI writes figure.html there).
    resume: keep the run's training phases in a journal under `OUT/.aelab-journal/` and
        continue from it when the same run (same config, seed, scale and device) is started
        again; the journal is removed when the result is written. False starts afresh.
    threads: the thread count the caller pinned torch to (the CLI's `--threads` or
        `$AELAB_THREADS`), recorded in the command; None when it was left to torch."""
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
    identity = {"config": dataclasses.asdict(config), "seed": seed, "scale": scale, "device": str(ctx.device)}
    journal = journal_folder(out, name, identity)
    if not resume and journal.exists():
        shutil.rmtree(journal)
    ctx.journal = Journal(journal, log=ctx.log) if resume else None
    started = time.perf_counter()
    result = experiment.run(config, ctx)
    seconds = time.perf_counter() - started
    record = {
        "experiment": name, "title": experiment.title, "reproduces": experiment.paper, "scale": scale,
        "command": command_line(name, scale, seed, out, dataset, overrides, device, threads),
        "config": dataclasses.asdict(config), "seed": seed,
        "deviations": list(experiment.deviations.get(scale, ())),
        "metrics": result.metrics, "paper": result.paper,
        "notes": result.notes, "env": environment(ctx.device), "seconds": seconds,
        "resumed_phases": ctx.journal.restored if ctx.journal is not None else 0,
        # "seconds" is this process's; the restored epochs were trained by earlier ones in this long
        "resumed_training_seconds": ctx.journal.restored_seconds if ctx.journal is not None else 0.0,
        "models": sorted(result.models),
    }
    _check_destination(folder)  # again: the run took a while
    with atomic_folder(folder) as tmp:
        if result.arrays:
            with atomic_path(tmp / ARRAYS) as part:
                with open(part, "wb") as fh:
                    np.savez_compressed(fh, **{k: np.asarray(v) for k, v in result.arrays.items()})
        for key, model in result.models.items():
            save_model(tmp / MODELS / key, model, dtype=torch.float16)
        write_json_atomic(tmp / RESULT, record)
        if finish is not None:
            finish(tmp)
    if journal.exists():
        shutil.rmtree(journal, ignore_errors=True)
        if journal.parent.is_dir() and not any(journal.parent.iterdir()):
            journal.parent.rmdir()
    return folder


def shipped(name: str, scale: str = "full") -> Path | None:
    """The shipped result folder of experiment `name` at `scale` (`<results root>/<scale>/<name>`,
    see `aelab.settings.results_root`), or None when there is none."""
    folder = settings.results_root() / scale / name
    return folder if (folder / RESULT).is_file() else None


def read_result(folder: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(result.json as a dict, arrays) of a result folder."""
    folder = Path(folder)
    result = read_json(folder / RESULT)
    arrays: dict[str, np.ndarray] = {}
    if (folder / ARRAYS).exists():
        with np.load(folder / ARRAYS) as archive:
            arrays = {k: archive[k] for k in archive.files}
    return result, arrays
