"""One module per paper figure or table; each defines `EXPERIMENTS = [Experiment(...)]`.

`registry()` imports every module of this package (except the machinery modules) and
collects their experiments by name, so adding an experiment means adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from aelab.errors import UnknownName
from aelab.experiments.base import SCALES, Experiment, Result, RunContext, Stopped

_MACHINERY = {"base", "runner", "zoo", "report"}


@lru_cache(maxsize=1)
def registry() -> dict[str, Experiment]:
    found: dict[str, Experiment] = {}
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name in _MACHINERY or module.name.startswith("_"):
            continue
        for experiment in getattr(importlib.import_module(f"{__name__}.{module.name}"), "EXPERIMENTS", []):
            if experiment.name in found:
                raise RuntimeError(f"experiment {experiment.name!r} is defined twice")
            found[experiment.name] = experiment
    return dict(sorted(found.items()))


def get(name: str) -> Experiment:
    experiments = registry()
    if name not in experiments:
        raise UnknownName(f"unknown experiment {name!r}; known: {', '.join(experiments) or 'none yet'}")
    return experiments[name]


__all__ = ["SCALES", "Experiment", "Result", "RunContext", "Stopped", "registry", "get"]
