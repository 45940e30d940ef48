"""Reconstruction curves: error per epoch, train vs test, one colour per training scheme.

`curves` is a nested mapping `{scheme: {split: values}}`, e.g.

    {"layer-wise": {"train": [...], "test": [...]}, "joint": {"train": [...], "test": [...]}}

Colour names the scheme, line style the split (solid train, dashed test), so Zhou et al.'s
Fig. 3 question, "does joint training reach a lower error than layer-wise, and does the gap
hold on the test set?", can be read at a glance. Each series is one trace whose `y` a
dashboard replaces as epochs finish.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
DASHES = {"train": "solid", "test": "dash", "valid": "dot"}


def reconstruction_curves(curves: Mapping[str, Mapping[str, Sequence[float]]], *,
                          title: str = "Reconstruction error during training",
                          y_label: str = "reconstruction error (lower is better)",
                          x_label: str = "epoch", log_y: bool = False,
                          total_epochs: int | None = None, height: int = 380,
                          legend_title: str = "scheme · split", split_in_name: bool = True) -> go.Figure:
    """One line per (scheme, split). `total_epochs` fixes the x range so a curve that grows
    epoch by epoch does not rescale the axis on every redraw. `log_y` shows small late
    differences between schemes. Non-finite values are left as gaps. `split_in_name=False`
    names a line by its scheme alone (one split per scheme)."""
    if not curves:
        raise ValueError("reconstruction_curves needs at least one scheme")
    fig = go.Figure()
    longest = 0
    for i, (scheme, splits) in enumerate(curves.items()):
        colour = PALETTE[i % len(PALETTE)]
        for split, values in splits.items():
            y = np.asarray(values, dtype=np.float64).reshape(-1)
            if log_y:
                y = np.where(y > 0, y, np.nan)
            longest = max(longest, y.size)
            fig.add_trace(go.Scatter(
                x=np.arange(1, y.size + 1), y=y, mode="lines+markers",
                name=f"{scheme} · {split}" if split_in_name else scheme,
                legendgroup=scheme, line=dict(color=colour, dash=DASHES.get(split, "dashdot")),
                marker=dict(size=5),
                hovertemplate=f"{scheme}, {split}<br>epoch %{{x}}<br>error %{{y:.4g}}<extra></extra>"))
    last = max(total_epochs or 0, longest, 1)
    fig.update_xaxes(title=x_label, range=[0.5, last + 0.5], dtick=max(1, last // 10))
    fig.update_yaxes(title=y_label + (" (log scale)" if log_y else ""), type="log" if log_y else "linear")
    fig.update_layout(title=title, height=height, margin=dict(l=70, r=10, t=60, b=50),
                      legend=dict(title=legend_title), template="plotly_white")
    return fig


def final_errors(curves: Mapping[str, Mapping[str, Sequence[float]]]) -> dict[str, dict[str, float]]:
    """The last finite value of every series: `{scheme: {split: error}}` (NaN for an empty one)."""
    out: dict[str, dict[str, float]] = {}
    for scheme, splits in curves.items():
        out[scheme] = {}
        for split, values in splits.items():
            y = np.asarray(values, dtype=np.float64).reshape(-1)
            finite = y[np.isfinite(y)]
            out[scheme][split] = float(finite[-1]) if finite.size else float("nan")
    return out


def learning_curves(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], *, y_label: str,
                    title: str = "Learning curve", target: float | None = None, target_label: str = "target",
                    marked_epoch: int | None = None, marked_label: str = "shipped run ends",
                    height: int = 380) -> go.Figure:
    """A measure against the epochs it was taken at: `series` maps a name to (epochs, values),
    epochs in any spacing (a curve measured every ten epochs). `target` draws the value a run
    should reach as a horizontal line; `marked_epoch` a vertical one (where a shipped run stopped,
    so what lies to its right is what more epochs would give)."""
    if not series:
        raise ValueError("learning_curves needs at least one series")
    fig = go.Figure()
    for i, (name, (epochs, values)) in enumerate(series.items()):
        x, y = np.asarray(epochs, dtype=np.float64), np.asarray(values, dtype=np.float64)
        if x.shape != y.shape:
            raise ValueError(f"{name}: {x.size} epochs for {y.size} values")
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=name,
                                 line=dict(color=PALETTE[i % len(PALETTE)]), marker=dict(size=6),
                                 hovertemplate=f"{name}<br>epoch %{{x}}<br>%{{y:.4g}}<extra></extra>"))
    if target is not None:
        fig.add_hline(y=target, line=dict(color="#444", dash="dash"), annotation_text=target_label,
                      annotation_position="top left")
    if marked_epoch is not None:
        fig.add_vline(x=marked_epoch, line=dict(color="#999", dash="dot"), annotation_text=marked_label,
                      annotation_position="bottom right")
    fig.update_xaxes(title="epoch", rangemode="tozero")
    fig.update_yaxes(title=y_label)
    fig.update_layout(title=title, height=height, margin=dict(l=70, r=10, t=60, b=50), template="plotly_white")
    return fig
