"""A sweep's table, chosen like the papers: per row, the grid point with the best validation
metric (mean over seeds) is chosen; its test metric is reported as mean +- 95% interval
over the seeds (Student's t, n - 1 degrees of freedom; no interval from one seed), with the
paper's number for the same row beside it.

Rows are the grid fields not chosen on (e.g. dataset and depth for Zhou's tables) times the
sub-rows one result holds (Zhou's models DAE-2L ... DAE-2UJ). Built from the folder alone,
so it can be rebuilt at any time, while the sweep runs (rows then say they are provisional).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from aelab.sweep import store
from aelab.sweep.plan import display

TABLE_FORMAT = "aelab-sweep-table/1"


def lookup(data: Any, path: str | None, row: str = "") -> Any:
    """The value at dotted `path` in `data` ({row} in a segment stands for `row`), or None."""
    if not path:
        return None
    value = data
    for part in path.split("."):
        part = part.replace("{row}", row)
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def mean_interval(values: list[float], confidence: float = 0.95) -> tuple[float | None, float | None]:
    """(mean, half-width of the t interval); the half-width is None for fewer than two values."""
    if not values:
        return None, None
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None
    from scipy import stats

    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, float(stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n))


def _subrows(metrics: dict[str, Any], rows_path: str | None) -> list[str]:
    if not rows_path:
        return [""]
    found = lookup(metrics, rows_path)
    return list(found) if isinstance(found, dict) else []


def _fmt_point(point: dict[str, Any]) -> str:
    return ", ".join(f"{k}={display(v)}" for k, v in point.items())


def build_table(folder: str | Path) -> dict[str, Any]:
    """The table of the sweep in `folder` (its sweep.json and finished cells), plus one point per
    (cell, sub-row) for the validation-vs-test scatter. Writes nothing."""
    folder = Path(folder)
    plan = store.read_plan(folder)
    metrics = plan["metrics"]
    select = list(plan["select"])
    failures = store.read_failures(folder)
    planned = {c["key"]: c for c in plan["cells"]}
    finished = store.finished_keys(folder) & set(planned)
    # entries[(row fields, sub-row)][choice] -> {seed: (valid, test)}
    entries: dict[tuple, dict[tuple, dict[int, tuple]]] = {}
    row_info: dict[tuple, dict[str, Any]] = {}
    points: list[dict[str, Any]] = []
    planned_per_row: dict[tuple, int] = {}
    for key, cell in planned.items():
        row_fields = tuple((k, _hashable(v)) for k, v in cell["point"].items() if k not in select)
        planned_per_row[row_fields] = planned_per_row.get(row_fields, 0) + 1
    order = {k: i for i, k in enumerate(planned)}
    for key in sorted(finished, key=order.get):
        cell = planned[key]
        read = store.read_cell(folder, key)
        if read is None:
            continue
        result, info = read
        row_fields = tuple((k, _hashable(v)) for k, v in cell["point"].items() if k not in select)
        choice = tuple((k, _hashable(v)) for k, v in cell["point"].items() if k in select)
        for sub in _subrows(result.get("metrics", {}), metrics.get("rows")):
            valid = number(lookup(result.get("metrics", {}), metrics["valid"], sub))
            test = number(lookup(result.get("metrics", {}), metrics["test"], sub))
            row = (row_fields, sub)
            entries.setdefault(row, {}).setdefault(choice, {})[cell["seed"]] = (valid, test)
            if row not in row_info:
                paper = result.get("paper", {})
                row_info[row] = {"paper": number(lookup(paper, metrics.get("paper") or metrics["test"], sub)),
                                 "paper_interval": number(lookup(paper, metrics.get("interval"), sub))}
            points.append({"row": _row_label(row_fields, sub), "cell": key, "seed": cell["seed"],
                           "point": _fmt_point({k: v for k, v in cell["point"].items() if k in select}),
                           "valid": valid, "test": test, "seconds": result.get("seconds"),
                           "attempts": info.get("attempts")})
    rows = []
    chosen_point: dict[str, str] = {}
    sign = -1.0 if metrics.get("maximize") else 1.0
    for row, choices in entries.items():
        scored = []
        for choice, by_seed in choices.items():
            valids = [v for v, _ in by_seed.values() if v is not None]
            if valids:
                scored.append((sign * sum(valids) / len(valids), choice))
        row_fields, sub = row
        if scored:
            best_score, best = min(scored, key=lambda s: s[0])
            by_seed = choices[best]
            seeds = sorted(s for s, (_, t) in by_seed.items() if t is not None)
            tests = [by_seed[s][1] for s in seeds]
            mean, half = mean_interval(tests)
            valids = [by_seed[s][0] for s in seeds if by_seed[s][0] is not None]
            valid_mean = sum(valids) / len(valids) if valids else None
        else:
            best, seeds, tests, mean, half, valid_mean = (), [], [], None, None, None
        finished_here = sum(1 for k in finished if _row_fields(planned[k], select) == row_fields)
        chosen_point[_row_label(row_fields, sub)] = _fmt_point(dict(best))
        rows.append({
            "label": _row_label(row_fields, sub), "fields": dict(row_fields), "model": sub or None,
            "chosen": {k: display(list(v) if isinstance(v, tuple) else v) for k, v in best}, "valid_mean": valid_mean,
            "test_mean": mean, "test_interval": half, "test_values": tests, "seeds": seeds, "n": len(tests),
            "paper": row_info[row]["paper"], "paper_interval": row_info[row]["paper_interval"],
            "cells_finished": finished_here, "cells_planned": planned_per_row.get(row_fields, 0),
            "provisional": finished_here < planned_per_row.get(row_fields, 0)})
    for point in points:
        point["chosen"] = chosen_point.get(point["row"]) == point["point"]
    failed = {k: v for k, v in failures.items() if k in planned and k not in finished}
    return {
        "format": TABLE_FORMAT, "name": plan["name"], "experiment": plan["experiment"], "preset": plan["preset"],
        "paper_source": plan.get("paper", ""), "scale": plan["scale"], "seeds": plan["seeds"],
        "metric": metrics["test"].replace(".{row}", ""), "valid_metric": metrics["valid"].replace(".{row}", ""),
        "select": select, "notes": plan.get("notes", ""),
        "selection": ("per row, the grid point with the best mean validation metric over the seeds is chosen; "
                      "its test metric is reported as mean +- 95% t-interval over the seeds"),
        "cells": {"planned": len(planned), "finished": len(finished), "failed": len(failed)},
        "complete": len(finished) == len(planned),
        "failed": [{"key": k, "label": planned[k].get("label") or _fmt_point(planned[k]["point"]),
                    "seed": planned[k]["seed"], "error": v.get("error"), "attempts": v.get("attempts")}
                   for k, v in failed.items()],
        "rows": rows, "points": points,
    }


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def _row_fields(cell: dict[str, Any], select: list[str]) -> tuple:
    return tuple((k, _hashable(v)) for k, v in cell["point"].items() if k not in select)


def _row_label(row_fields: tuple, sub: str) -> str:
    parts = [f"{k}={display(list(v) if isinstance(v, tuple) else v)}" for k, v in row_fields]
    if sub:
        parts.append(sub)
    return " · ".join(parts) or "all"


__all__ = ["TABLE_FORMAT", "build_table", "lookup", "mean_interval"]
