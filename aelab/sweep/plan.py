"""A sweep's plan: its cells, each a config of one experiment and a seed, keyed by that config.

A cell's key is `aelab.cache.cache_key` of (experiment, scale, seed, the full resolved
config), so equal cells get equal keys whichever preset, grid order or command made them,
and a changed preset makes new cells instead of reusing stale ones.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from aelab.cache import cache_key, plain
from aelab.errors import UsageError
from aelab.experiments import get
from aelab.sweep.presets import GridPreset, Metrics, default_metrics, get_preset

FORMAT = "aelab-sweep/1"
CELL_FORMAT = "aelab-sweep-cell/1"


def parse_seeds(text: str | Iterable[int]) -> tuple[int, ...]:
    """'0-9' -> 0..9; '0,3,5-7' -> 0,3,5,6,7; an iterable of ints as it is."""
    if not isinstance(text, str):
        seeds = tuple(int(s) for s in text)
    else:
        seeds_list: list[int] = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            first, dash, last = part.partition("-")
            try:
                if dash:
                    seeds_list.extend(range(int(first), int(last) + 1))
                else:
                    seeds_list.append(int(first))
            except ValueError:
                raise UsageError(f"--seeds {text!r}: write seeds as 0-9 or 0,3,5 (non-negative integers)") from None
        seeds = tuple(seeds_list)
    if not seeds or min(seeds) < 0:
        raise UsageError(f"--seeds {text!r}: give at least one seed, none negative (e.g. 0-9)")
    return tuple(dict.fromkeys(seeds))


def _split_top(text: str) -> list[str]:
    """Split at commas outside parentheses: '(1,2),(3,4)' -> ['(1,2)', '(3,4)']."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def parse_grid(items: Iterable[str]) -> dict[str, tuple]:
    """['lrs=0.001,0.01', 'hidden=(300,300),(500,500)'] -> {'lrs': ('0.001', '0.01'), 'hidden': ('300,300', ...)}.

    Values stay strings: the experiment's config converts them to its fields' types."""
    grid: dict[str, tuple] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip().replace("-", "_")
        parts = [p[1:-1] if p.startswith("(") and p.endswith(")") else p for p in _split_top(values)]
        if not sep or not name or not parts:
            raise UsageError(f"--grid {item!r}: write FIELD=V1,V2 (e.g. --grid lrs=0.001,0.01)")
        grid[name] = tuple(parts)
    return grid


def override_axes(grids: list[dict[str, tuple]], axes: Mapping[str, tuple]) -> list[dict[str, tuple]]:
    """Each axis replaces that field's axis in every sub-grid that has it, else joins every sub-grid."""
    out = [dict(g) for g in grids] or [{}]
    for name, values in axes.items():
        values = tuple(values)
        holders = [g for g in out if name in g]
        for g in holders or out:
            g[name] = values
    return out


def display(value: Any) -> Any:
    """A one-point inner grid (0.01,) shows as 0.01."""
    if isinstance(value, (list, tuple)) and len(value) == 1:
        return value[0]
    return value


@dataclass(frozen=True)
class Cell:
    key: str
    experiment: str
    scale: str
    seed: int
    point: dict[str, Any]  # the grid fields of this cell -> their config values
    overrides: dict[str, Any]  # what the runner is given: fixed fields, the point, seed fields
    config: dict[str, Any]  # the full resolved config

    def label(self) -> str:
        fields = " ".join(f"{k}={display(v)}" for k, v in self.point.items())
        return f"{fields} seed={self.seed}".strip()

    def spec(self) -> dict[str, Any]:
        """What a worker needs to run the cell (plain JSON data)."""
        return {"key": self.key, "experiment": self.experiment, "scale": self.scale, "seed": self.seed,
                "overrides": plain(self.overrides), "label": self.label()}

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label(), "seed": self.seed, "point": plain(self.point),
                "overrides": plain(self.overrides)}


@dataclass
class Plan:
    name: str
    experiment: str
    scale: str
    seeds: tuple[int, ...]
    grids: list[dict[str, tuple]]
    select: tuple[str, ...]
    metrics: Metrics
    fixed: dict[str, Any] = field(default_factory=dict)
    seed_fields: tuple[str, ...] = ()
    preset: str | None = None
    paper: str = ""
    notes: str = ""
    cells: list[Cell] = field(default_factory=list)

    @property
    def grid_fields(self) -> list[str]:
        return list(dict.fromkeys(f for g in self.grids for f in g))

    @property
    def row_fields(self) -> list[str]:
        return [f for f in self.grid_fields if f not in self.select]

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "name": self.name, "experiment": self.experiment, "scale": self.scale,
                "preset": self.preset, "paper": self.paper, "notes": self.notes, "seeds": list(self.seeds),
                "grids": plain(self.grids), "fixed": plain(self.fixed), "select": list(self.select),
                "seed_fields": list(self.seed_fields), "metrics": dataclasses.asdict(self.metrics),
                "cells": [c.to_json() for c in self.cells]}


def _value_for(preset_value: Any, value: Any) -> Any:
    """A grid value for a tuple field of the config is a one-point inner grid: 0.01 -> (0.01,)."""
    if isinstance(preset_value, (tuple, list)) and not isinstance(value, (tuple, list, str)):
        return (value,)
    if isinstance(preset_value, (tuple, list)) and isinstance(value, list):
        return tuple(value)
    return value


def build_plan(experiment: str, *, preset: str | GridPreset | None = None, grid: Mapping[str, Iterable] | None = None,
               seeds: str | Iterable[int] = (0,), scale: str = "smoke", select: Iterable[str] | None = None,
               metrics: Metrics | None = None, fixed: Mapping[str, Any] | None = None,
               name: str | None = None) -> Plan:
    """The cells of a sweep of `experiment` at `scale`: the preset's grid for that scale (if
    any), with `grid`'s axes replacing or joining it, times the seeds."""
    exp = get(experiment)
    if isinstance(preset, str):
        preset = get_preset(experiment, preset)
    if preset is not None and preset.experiment != experiment:
        raise UsageError(f"grid preset {preset.name!r} sweeps {preset.experiment}, not {experiment}")
    if preset is None and not grid:
        raise UsageError(f"{experiment}: give a grid preset (--preset) or a grid (--grid FIELD=V1,V2)")
    base = exp.config(scale)
    grids = [dict(g) for g in preset.grids] if preset else [{}]
    if preset is not None and scale in preset.scaled:
        grids = override_axes(grids, preset.scaled[scale])
    if grid:
        grids = override_axes(grids, {k: tuple(v) for k, v in grid.items()})
    fields = {f.name for f in dataclasses.fields(base)}
    unknown = sorted({f for g in grids for f in g} - fields)
    if unknown:
        raise UsageError(f"{experiment}: unknown grid field(s) {', '.join(unknown)}; its config has: "
                         f"{', '.join(sorted(fields))}")
    grid_fields = list(dict.fromkeys(f for g in grids for f in g))
    if select is not None:
        select = tuple(s.strip().replace("-", "_") for s in select if s.strip())
        missing = [s for s in select if s not in grid_fields]
        if missing:
            raise UsageError(f"--select {', '.join(missing)}: not a grid field (grid: {', '.join(grid_fields)})")
    else:
        select = preset.select if preset else tuple(grid_fields)
    if metrics is None:
        metrics = preset.metrics if preset else default_metrics(experiment)
    if metrics is None:
        raise UsageError(f"{experiment}: no metric is known for its sweeps; pass --metric PATH and --valid PATH "
                         f"(dotted keys of result.json's metrics)")
    fixed = {**(preset.fixed if preset else {}), **(fixed or {})}
    seed_fields = preset.seed_fields if preset else ()
    plan = Plan(name=name or (f"{experiment}-{preset.name}" if preset else experiment), experiment=experiment,
                scale=scale, seeds=parse_seeds(seeds), grids=grids, select=tuple(select), metrics=metrics,
                fixed=dict(fixed), seed_fields=tuple(seed_fields), preset=preset.name if preset else None,
                paper=preset.paper if preset else exp.paper, notes=preset.notes if preset else "")
    seen: set[str] = set()
    for seed in plan.seeds:
        for g in grids:
            for values in itertools.product(*g.values()):
                overrides = {k: _value_for(getattr(base, k), v) for k, v in plan.fixed.items()}
                point_in = {k: _value_for(getattr(base, k), v) for k, v in zip(g, values)}
                overrides.update(point_in)
                overrides.update({f: seed for f in seed_fields})
                config = dataclasses.asdict(exp.config(scale, **overrides))
                key = cache_key({"format": CELL_FORMAT, "experiment": experiment, "scale": scale, "seed": seed,
                                 "config": config})
                if key in seen:
                    continue
                seen.add(key)
                point = {k: plain(config[k]) for k in g}
                runner_overrides = {k: plain(config[k]) for k in overrides}
                plan.cells.append(Cell(key=key, experiment=experiment, scale=scale, seed=seed, point=point,
                                       overrides=runner_overrides, config=plain(config)))
    return plan


__all__ = ["FORMAT", "Cell", "Plan", "build_plan", "parse_seeds", "parse_grid", "override_axes", "display"]
