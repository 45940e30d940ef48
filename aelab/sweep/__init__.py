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

from aelab.sweep.execute import RAY_MISSING, RayMissing, cells_to_run, finish, run_cell, run_sweep, sweep
from aelab.sweep.plan import Cell, Plan, build_plan, parse_grid, parse_seeds
from aelab.sweep.presets import PRESETS, GridPreset, Metrics, get_preset, presets_of
from aelab.sweep.table import build_table

__all__ = ["sweep", "run_sweep", "run_cell", "finish", "cells_to_run", "build_plan", "build_table", "parse_grid",
           "parse_seeds", "Cell", "Plan", "PRESETS", "GridPreset", "Metrics", "get_preset", "presets_of",
           "RayMissing", "RAY_MISSING"]
