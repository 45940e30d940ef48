"""ipywidgets dashboards: controls wired to figure builders (`aelab.viz`) and trainers.

One app per notebook in `notebooks/`; each is an `ipywidgets.VBox`, so a notebook cell
that evaluates to an app shows it. Shared machinery (background runner, on-disk cache,
scale switch, device label) lives in `aelab.widgets.base`; `aelab.widgets.lab` serves the
notebooks with Voila (`aelab lab`). Apps are imported lazily: `from aelab.widgets import TourApp`.
"""

from __future__ import annotations

import importlib

_APPS = {"TourApp": "tour", "FiltersApp": "filters", "SchemesApp": "schemes", "GsnApp": "experiment",
         "WhatWhereApp": "experiment", "InversionApp": "experiment",
         "LatentApp": "latent", "SweepsApp": "sweeps"}


def __getattr__(name: str):
    if name in _APPS:
        return getattr(importlib.import_module(f"{__name__}.{_APPS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_APPS)
