"""The registry of result figures and the "paper vs this run" table every result has."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import plotly.graph_objects as go

ResultFigure = Callable[[dict[str, Any], dict[str, np.ndarray]], go.Figure]
_BUILDERS: dict[str, ResultFigure] = {}


def result_figure(experiment: str) -> Callable[[ResultFigure], ResultFigure]:
    """Decorator: register `builder(result, arrays) -> go.Figure` for an experiment's result."""

    def register(builder: ResultFigure) -> ResultFigure:
        _BUILDERS[experiment] = builder
        return builder

    return register


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    else:
        out[prefix] = value


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"[{len(value)} values]"
    return str(value)


def paper_table(metrics: dict[str, Any], paper: dict[str, Any], title: str = "Paper vs this run") -> go.Figure:
    """A table with one row per metric: this run's value beside the paper's for the same cell."""
    ours: dict[str, Any] = {}
    theirs: dict[str, Any] = {}
    _flatten("", metrics, ours)
    _flatten("", paper, theirs)
    keys = list(dict.fromkeys([*theirs, *ours]))
    fig = go.Figure(go.Table(
        header=dict(values=["<b>quantity</b>", "<b>this run</b>", "<b>paper</b>"], align="left"),
        cells=dict(values=[keys, [_fmt(ours.get(k)) for k in keys], [_fmt(theirs.get(k)) for k in keys]],
                   align="left"),
    ))
    fig.update_layout(title=title, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def figure_for_result(result: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> go.Figure:
    """The registered figure for `result['experiment']`, else its paper-vs-run table."""
    builder = _BUILDERS.get(result.get("experiment", ""))
    if builder is None:
        return paper_table(result.get("metrics", {}), result.get("paper", {}),
                           title=f"{result.get('title', result.get('experiment', 'result'))}: paper vs this run")
    return builder(result, arrays or {})
