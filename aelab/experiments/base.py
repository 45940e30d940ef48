"""What an experiment is: presets per scale, a run function, and the result it returns.

An experiment module defines `EXPERIMENTS = [Experiment(...), ...]`; the registry in
`aelab.experiments` finds them. A preset is data (a config dataclass instance), never a
code path: the run function reads the config and nothing else decides its behaviour.

    def run(config, ctx: RunContext) -> Result: ...

`ctx` carries the device, the seed, a progress callback and a stop flag, so the same
function serves the command line (tqdm bar) and a dashboard (progress widget).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from aelab.errors import UsageError
from aelab.scales import SCALE_HELP, SCALES  # noqa: F401  (re-exported)
from aelab.train.loop import Callbacks


class Stopped(Exception):
    """Raised inside a run when the user pressed stop (ctx.stop was set)."""


@dataclass
class RunContext:
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    seed: int = 0
    scale: str = "smoke"
    # progress(done, total, description) — called as work advances
    progress: Callable[[int, int, str], None] = lambda done, total, desc: None
    log: Callable[[str], None] = lambda message: None
    stop: threading.Event = field(default_factory=threading.Event)

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise Stopped("stopped by the user")

    # on_epoch(label, epoch, metrics) — called after every training epoch of every stage
    on_epoch: Callable[[str, int, dict[str, Any]], None] = lambda label, epoch, metrics: None

    # where a long run keeps its phases (`aelab.train.checkpoints.Journal`); None: not kept
    journal: Any = None

    def callbacks(self, label: str, on_epoch: Callable[[int, dict[str, Any]], None] | None = None,
                  resumable: bool = True) -> Callbacks:
        """The training loop's callbacks for one stage of this run, labelled `label`: progress
        and epoch ends reach the context's hooks, the stop flag is checked, and the stage is
        kept in the run's journal (when it has one) so a restarted run resumes it.
        resumable=False: `on_epoch` reads the model itself (not only the epoch's metrics), so a
        restored stage could not replay it; the stage is trained again instead."""
        def epoch_end(epoch: int, metrics: dict[str, Any]) -> None:
            if on_epoch is not None:
                on_epoch(epoch, metrics)
            self.on_epoch(label, epoch, metrics)

        return Callbacks(on_epoch=epoch_end, check_stop=self.check_stop,
                         progress=lambda done, total, desc: self.progress(done, total, f"{label}: {desc}"),
                         journal=self.journal.scoped(label) if self.journal is not None and resumable else None)

    def generator(self, offset: int = 0) -> torch.Generator:
        """A torch.Generator on the run's device seeded from the run's seed (+ offset)."""
        return torch.Generator(device=self.device).manual_seed(self.seed + offset)


@dataclass
class Result:
    """What a run returns: metrics, the paper's numbers for the same cell, and arrays
    (images, curves) for its figure, written beside result.json as arrays.npz."""

    metrics: dict[str, Any]
    paper: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    notes: str = ""
    # trained registered models worth keeping (the zoo's): written as models/NAME/ (float16
    # safetensors + config.json), loadable with `aelab.models.registry.load_model`
    models: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    paper: str  # which figure/table it reproduces, e.g. "Vincent et al. 2008, Fig. 3"
    presets: dict[str, Any]  # scale -> config dataclass instance
    run: Callable[[Any, RunContext], Result]
    datasets: tuple[str, ...] = ()  # accepted --dataset values; the preset's is the default
    # scale -> how that preset differs from the paper (written into result.json as "deviations")
    deviations: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def config(self, scale: str = "smoke", **overrides: Any) -> Any:
        """The preset for `scale` with fields replaced by `overrides` (None values ignored)."""
        if scale not in self.presets:
            raise UsageError(f"{self.name}: unknown scale {scale!r}; choose one of {', '.join(self.presets)}")
        preset = self.presets[scale]
        overrides = {k: v for k, v in overrides.items() if v is not None}
        names = {f.name: f for f in dataclasses.fields(preset)}
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise UsageError(f"{self.name}: unknown option(s) {', '.join(unknown)}; "
                             f"this experiment's config has: {', '.join(names)}")
        converted = {k: _coerce(getattr(preset, k), v, k, str(names[k].type)) for k, v in overrides.items()}
        if "dataset" in converted and self.datasets and converted["dataset"] not in self.datasets:
            raise UsageError(f"{self.name}: dataset {converted['dataset']!r} is not supported; "
                             f"choose one of {', '.join(self.datasets)}")
        return dataclasses.replace(preset, **converted)


def _coerce(current: Any, value: Any, name: str, annotation: str = "") -> Any:
    """Convert a command-line string to the type of the preset's value (an empty tuple's items
    to the type its annotation names, e.g. tuple[float, ...])."""
    if not isinstance(value, str) or isinstance(current, str) or current is None:
        return value
    try:
        if isinstance(current, bool):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, (tuple, list)):
            items = [s for s in value.split(",") if s]
            kind = type(current[0]) if current else \
                next((t for t in (float, int, bool) if f"[{t.__name__}" in annotation), str)
            return type(current)(kind(s) for s in items)
    except ValueError:
        raise UsageError(f"option {name}: cannot read {value!r} as {type(current).__name__}") from None
    return value
