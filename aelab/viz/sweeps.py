"""Figures of a sweep's table (`aelab.sweep.table.build_table`): pure builders, dict in, figure out.

- `sweep_table`: one row per table row: this sweep's mean +- 95% interval over seeds, the
  chosen grid point, and the paper's number beside it.
- `sweep_rows`: the same as dots with error bars, this sweep against the paper.
- `sweep_scatter`: every (cell, row): validation metric against test metric, the chosen
  points ringed, so one sees how well validation picks the test winner.
- `sweep_figure`: table and dots in one figure (the sweep's figure.html).
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

PAPER_COLOUR = "#d62728"
OURS_COLOUR = "#1f77b4"


def _num(value: Any, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _pm(mean: Any, half: Any) -> str:
    if mean is None:
        return "—"
    return f"{mean:.2f} ± {half:.2f}" if half is not None else f"{mean:.2f}"


def _chosen(chosen: dict[str, Any]) -> str:
    def show(v):
        return v[0] if isinstance(v, list) and len(v) == 1 else v
    return ", ".join(f"{k}={show(v)}" for k, v in chosen.items()) or "—"


def _title(table: dict[str, Any]) -> str:
    cells = table.get("cells", {})
    state = "" if table.get("complete") else f" (running: {cells.get('finished', 0)}/{cells.get('planned', 0)} cells)"
    return (f"{table.get('name', 'sweep')}: {table.get('metric', '')}, {table.get('scale', '')} scale, "
            f"{len(table.get('seeds', []))} seed(s){state}")


def _table_trace(table: dict[str, Any]) -> go.Table:
    rows = table.get("rows", [])
    values = [[r["label"] + (" *" if r.get("provisional") else "") for r in rows],
              [_pm(r.get("test_mean"), r.get("test_interval")) for r in rows],
              [str(r.get("n", 0)) for r in rows],
              [_chosen(r.get("chosen", {})) for r in rows],
              [_num(r.get("valid_mean")) for r in rows],
              [_pm(r.get("paper"), r.get("paper_interval")) for r in rows]]
    header = ["<b>row</b>", f"<b>this sweep</b><br>{table.get('metric', '')}", "<b>seeds</b>",
              "<b>chosen on validation</b>", "<b>validation</b>", f"<b>paper</b><br>{table.get('paper_source', '')}"]
    return go.Table(header=dict(values=header, align="left"), cells=dict(values=values, align="left"),
                    columnwidth=[3, 2, 1, 3, 1.3, 2])


def sweep_table(table: dict[str, Any]) -> go.Figure:
    """The table: this sweep's mean +- 95% interval per row, the paper's beside it (* = provisional)."""
    fig = go.Figure(_table_trace(table))
    fig.update_layout(title=_title(table), margin=dict(l=10, r=10, t=60, b=10),
                      height=max(300, 120 + 28 * len(table.get("rows", []))), template="plotly_white")
    return fig


def _dots(table: dict[str, Any]) -> list[go.Scatter]:
    rows = [r for r in table.get("rows", []) if r.get("test_mean") is not None or r.get("paper") is not None]
    labels = [r["label"] for r in rows]
    ours = go.Scatter(x=[r.get("test_mean") for r in rows], y=labels, mode="markers", name="this sweep",
                      marker=dict(color=OURS_COLOUR, size=9),
                      error_x=dict(type="data", array=[r.get("test_interval") or 0 for r in rows], visible=True))
    paper = go.Scatter(x=[r.get("paper") for r in rows], y=labels, mode="markers", name="paper",
                       marker=dict(color=PAPER_COLOUR, size=9, symbol="diamond"),
                       error_x=dict(type="data", array=[r.get("paper_interval") or 0 for r in rows], visible=True))
    return [ours, paper]


def sweep_rows(table: dict[str, Any]) -> go.Figure:
    """This sweep's mean +- 95% interval per row, the paper's number (+- its interval) beside it."""
    fig = go.Figure(_dots(table))
    n = len(table.get("rows", []))
    fig.update_layout(title=_title(table), xaxis_title=table.get("metric", ""), height=max(320, 120 + 26 * n),
                      template="plotly_white", margin=dict(l=10, r=10, t=60, b=40),
                      yaxis=dict(autorange="reversed", automargin=True), legend=dict(orientation="h", y=-0.15))
    return fig


def sweep_scatter(table: dict[str, Any]) -> go.Figure:
    """Validation against test metric, one point per (cell, row); the chosen grid points ringed."""
    points = [p for p in table.get("points", []) if p.get("valid") is not None and p.get("test") is not None]
    fig = go.Figure()
    for label in dict.fromkeys(p["row"] for p in points):
        mine = [p for p in points if p["row"] == label]
        fig.add_trace(go.Scatter(
            x=[p["valid"] for p in mine], y=[p["test"] for p in mine], mode="markers", name=label,
            text=[f"{p['point']} seed={p['seed']}" + (" (chosen)" if p.get("chosen") else "") for p in mine],
            hovertemplate="%{text}<br>validation %{x:.3g}<br>test %{y:.3g}<extra>" + label + "</extra>",
            marker=dict(size=[12 if p.get("chosen") else 7 for p in mine],
                        line=dict(width=[2 if p.get("chosen") else 0 for p in mine], color="black"))))
    if points:
        low = min(min(p["valid"], p["test"]) for p in points)
        high = max(max(p["valid"], p["test"]) for p in points)
        fig.add_trace(go.Scatter(x=[low, high], y=[low, high], mode="lines", name="test = validation",
                                 line=dict(color="#999", dash="dot"), hoverinfo="skip"))
    fig.update_layout(title=f"{_title(table)}: validation vs test per cell (chosen points ringed)",
                      xaxis_title=f"validation: {table.get('valid_metric', '')}",
                      yaxis_title=f"test: {table.get('metric', '')}", template="plotly_white", height=480,
                      margin=dict(l=10, r=10, t=60, b=40))
    return fig


def sweep_figure(table: dict[str, Any]) -> go.Figure:
    """The sweep's figure.html: the table above, this sweep vs the paper as dots below."""
    n = len(table.get("rows", []))
    fig = make_subplots(rows=2, cols=1, specs=[[{"type": "table"}], [{"type": "xy"}]],
                        row_heights=[0.5, 0.5], vertical_spacing=0.06)
    fig.add_trace(_table_trace(table), row=1, col=1)
    for trace in _dots(table):
        fig.add_trace(trace, row=2, col=1)
    fig.update_yaxes(autorange="reversed", automargin=True, row=2, col=1)
    fig.update_xaxes(title_text=table.get("metric", ""), row=2, col=1)
    fig.update_layout(title=_title(table), height=max(600, 240 + 56 * n), template="plotly_white",
                      margin=dict(l=10, r=10, t=60, b=40))
    return fig


__all__ = ["sweep_table", "sweep_rows", "sweep_scatter", "sweep_figure"]
