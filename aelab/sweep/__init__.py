"""Paper grids as sweeps: `aelab sweep` in Python. Sits above `experiments` and `viz`.

    from aelab.sweep import sweep, build_table
    sweep("zhou-svm", preset="table2", seeds="0-2", scale="teach", out="runs/sweeps/zhou-table2")
    build_table("runs/sweeps/zhou-table2")["rows"]

- `presets`: named grids transcribed from the papers' own searches (data);
- `plan`: a sweep's cells, each keyed by its config (`aelab.cache.cache_key`);
- `execute`: cells on Ray (local cluster or joined by address) or in this process; each
  cell is one `aelab.experiments.runner.reproduce` call;
- `store`: the folder: one atomically written folder per finished cell, failures, the plan;
- `table`: the cell chosen on validation per row, test mean +- 95% interval over seeds,
  the paper's number beside it.

Ray is optional (`pip install 'aelab[sweep]'`); only running on Ray needs it.
"""

from __future__ import annotations

import importlib

# imported on first use, so that reading the presets (e.g. for `aelab --help`) loads no torch
_NAMES = {
    "sweep": "execute", "run_sweep": "execute", "run_cell": "execute", "finish": "execute",
    "cells_to_run": "execute", "RayMissing": "execute", "RAY_MISSING": "execute",
    "build_plan": "plan", "parse_grid": "plan", "parse_seeds": "plan", "Cell": "plan", "Plan": "plan",
    "PRESETS": "presets", "GridPreset": "presets", "Metrics": "presets", "get_preset": "presets",
    "presets_of": "presets", "build_table": "table",
}


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_NAMES)
