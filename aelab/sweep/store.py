"""A sweep's folder: nothing half-written, every finished cell kept.

    DIR/sweep.json          the plan of the last run (experiment, scale, grids, seeds, metrics, cells)
    DIR/cells/<key>/        one finished cell: result.json (+ arrays.npz) as `aelab reproduce` writes
                            them, and cell.json (its spec, attempts, host, seconds)
    DIR/failed/<key>.json   a cell that failed after its retries: the error and its traceback
                            (removed when a later run finishes the cell)
    DIR/table.json          the table: the cell chosen on validation per row, test mean +- 95% interval
    DIR/figure.html         the table's figure (`aelab.viz.sweeps`)
    DIR/.staging/           cells being written (a folder is renamed into cells/ whole)

A cell is finished exactly when `cells/<key>/result.json` exists: the folder is written under
`.staging/` and renamed into place in one step, so a killed writer leaves no half cell.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from aelab.fileio import read_json, write_bytes_atomic, write_json_atomic
from aelab.experiments.runner import RESULT

PLAN = "sweep.json"
TABLE = "table.json"
FIGURE = "figure.html"
CELLS = "cells"
FAILED = "failed"
STAGING = ".staging"
CELL_INFO = "cell.json"


def cell_folder(folder: str | Path, key: str) -> Path:
    return Path(folder) / CELLS / key


def is_finished(folder: str | Path, key: str) -> bool:
    return (cell_folder(folder, key) / RESULT).is_file()


def finished_keys(folder: str | Path) -> set[str]:
    root = Path(folder) / CELLS
    if not root.is_dir():
        return set()
    return {p.name for p in root.iterdir() if (p / RESULT).is_file()}


def write_plan(folder: str | Path, plan_json: dict[str, Any]) -> Path:
    return write_json_atomic(Path(folder) / PLAN, plan_json)


def read_plan(folder: str | Path) -> dict[str, Any]:
    return read_json(Path(folder) / PLAN)


def clear_staging(folder: str | Path, older_than_s: float = 0.0) -> None:
    """Remove what killed writers left under .staging/ (entries older than `older_than_s`)."""
    root = Path(folder) / STAGING
    if not root.is_dir():
        return
    now = time.time()
    for entry in root.iterdir():
        try:
            if now - entry.stat().st_mtime >= older_than_s:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        except FileNotFoundError:
            pass


def write_cell(folder: str | Path, key: str, files: dict[str, bytes], info: dict[str, Any]) -> Path:
    """Write a finished cell's files and cell.json under .staging/, then rename the folder into
    cells/<key> in one step. A cell another writer finished meanwhile is kept as it is."""
    folder = Path(folder)
    if RESULT not in files:
        raise ValueError(f"cell {key}: no {RESULT} among its files")
    staging = folder / STAGING / f"{key}.{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        for name, data in files.items():
            if Path(name).name != name:
                raise ValueError(f"cell {key}: file name {name!r} is not a plain name")
            (staging / name).write_bytes(data)
        write_json_atomic(staging / CELL_INFO, info)
        target = cell_folder(folder, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and not (target / RESULT).is_file():
            shutil.rmtree(target)  # a folder no finished writer made (not expected): replace it
        try:
            os.rename(staging, target)
        except OSError:
            if not (target / RESULT).is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    failed = folder / FAILED / f"{key}.json"
    if failed.exists():
        failed.unlink(missing_ok=True)
    return target


def write_failure(folder: str | Path, key: str, info: dict[str, Any]) -> Path:
    return write_json_atomic(Path(folder) / FAILED / f"{key}.json", info)


def read_failures(folder: str | Path) -> dict[str, dict[str, Any]]:
    root = Path(folder) / FAILED
    out: dict[str, dict[str, Any]] = {}
    if root.is_dir():
        for path in sorted(root.glob("*.json")):
            try:
                out[path.stem] = read_json(path)
            except (OSError, ValueError):
                continue
    return out


def read_cell(folder: str | Path, key: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(result.json, cell.json) of a finished cell, or None."""
    where = cell_folder(folder, key)
    try:
        result = read_json(where / RESULT)
    except (OSError, ValueError):
        return None
    try:
        info = read_json(where / CELL_INFO)
    except (OSError, ValueError):
        info = {}
    return result, info


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode())


__all__ = ["PLAN", "TABLE", "FIGURE", "CELLS", "FAILED", "cell_folder", "is_finished", "finished_keys",
           "write_plan", "read_plan", "clear_staging", "write_cell", "write_failure", "read_failures", "read_cell",
           "write_text_atomic"]
