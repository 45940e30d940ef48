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
