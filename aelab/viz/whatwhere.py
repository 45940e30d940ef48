"""Figures of the what-where experiments (Zhao et al. 2016, Figs. 2-5).

Pure builders: `what_where_scatter` (Fig. 3's four panels) and `reconstruction_grid`
(Figs. 2 and 4: originals above reconstructions); the `@result_figure` functions turn a
result of `zhao-unpool`, `zhao-translation` or `zhao-semisup` into one of them.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from aelab.viz.images import image_grid
from aelab.viz.results import paper_table, result_figure

_SIGNS = (("+", "circle", "+3"), ("-", "triangle-up", "-3"))


def reconstruction_grid(rows: Mapping[str, np.ndarray], *, title: str = "") -> go.Figure:
    """One row of images per entry (label -> N x H x W), e.g. originals then reconstructions."""
    if not rows:
        raise ValueError("reconstruction_grid needs at least one row of images")
    arrays = [np.asarray(v, dtype=np.float32) for v in rows.values()]
    n = min(len(a) for a in arrays)
    if n == 0:
        raise ValueError("every row needs at least one image")
    return image_grid(np.concatenate([a[:n] for a in arrays]), n, title=title, row_labels=list(rows))


def what_where_scatter(what0: np.ndarray, where0: np.ndarray, shifted: Mapping[str, tuple[np.ndarray, np.ndarray]],
                       *, shift: int = 3, title: str = "") -> go.Figure:
    """Fig. 3: responses of one feature plane to shifted inputs vs unshifted ones.

    what0 (N), where0 (N x 2, (x, y)); shifted maps 'h+', 'h-', 'v+', 'v-' to (what, where) of
    the shifted digits. Panels: (a) what, horizontal shifts; (b) where, horizontal; (c) what,
    vertical; (d) where, vertical. Circles: +shift, triangles: -shift; in the where panels
    blue is the x coordinate and orange the y coordinate.
    """
    what0, where0 = np.asarray(what0, dtype=float), np.asarray(where0, dtype=float)
    if where0.ndim != 2 or where0.shape[1] != 2 or len(where0) != len(what0):
        raise ValueError(f"where0 must be N x 2 beside N what values, got {where0.shape} and {what0.shape}")
    missing = {"h+", "h-", "v+", "v-"} - set(shifted)
    if missing:
        raise ValueError(f"shifted responses missing for {', '.join(sorted(missing))}")
    fig = make_subplots(rows=2, cols=2, vertical_spacing=0.16, horizontal_spacing=0.1,
                        subplot_titles=("(a) what, horizontal shifts", "(b) where, horizontal shifts",
                                        "(c) what, vertical shifts", "(d) where, vertical shifts"))

    def cell(panel: int) -> tuple[int, int]:  # panels (a)-(d) on a 2 x 2 grid, wide enough for a projector
        return (panel - 1) // 2 + 1, (panel - 1) % 2 + 1

    for panel, axis in ((1, "h"), (3, "v")):
        for sign, symbol, label in _SIGNS:
            what, where = (np.asarray(a, dtype=float) for a in shifted[f"{axis}{sign}"])
            shift_name = f"{'horizontal' if axis == 'h' else 'vertical'} {label.replace('3', str(shift))}"
            fig.add_trace(go.Scatter(x=what0, y=what, mode="markers", name=f"what, {shift_name}",
                                     marker=dict(symbol=symbol, color="#555", size=6, opacity=0.6)), *cell(panel))
            for k, (coord, color) in enumerate((("x", "#1f77b4"), ("y", "#ff7f0e"))):
                fig.add_trace(go.Scatter(x=where0[:, k], y=where[:, k], mode="markers",
                                         name=f"where {coord}, {shift_name}",
                                         marker=dict(symbol=symbol, color=color, size=6, opacity=0.6)),
                              *cell(panel + 1))
    for col, values in ((1, what0), (2, where0), (3, what0), (4, where0)):
        lo, hi = (float(np.nanmin(values)), float(np.nanmax(values))) if values.size else (0.0, 1.0)
        if col in (2, 4):
            lo, hi = -1.0, 1.0
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line=dict(color="lightgray", dash="dot"),
                                 showlegend=False, hoverinfo="skip"), *cell(col))
        fig.update_xaxes(title_text="unshifted digit", row=cell(col)[0], col=cell(col)[1])
        fig.update_yaxes(title_text="shifted digit", row=cell(col)[0], col=cell(col)[1])
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=820, margin=dict(l=60, r=10, t=110, b=50),
                      legend=dict(font=dict(size=12)))
    return fig


def _shifted_from_arrays(arrays: Mapping[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {f"{a}{s}": (arrays[f"what_{a}{tag}"], arrays[f"where_{a}{tag}"])
            for a in "hv" for s, tag in (("+", "plus"), ("-", "minus"))}


@result_figure("zhao-unpool")
def unpool_figure(result: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> go.Figure:
    sizes = result.get("config", {}).get("pool_sizes", [])
    errors = result.get("metrics", {}).get("test_mse", {})
    if "originals" not in arrays:
        return paper_table(result.get("metrics", {}), result.get("paper", {}), "Unpooling vs upsampling")
    rows = {"original": arrays["originals"]}
    for size in sizes:
        for mode in ("upsample", "unpool"):
            key = f"recon_{mode}_{size}"
            if key in arrays:
                err = errors.get(mode, {}).get(str(size))
                rows[f"{size}p {mode}" + (f" ({err:.4f})" if err is not None else "")] = arrays[key]
    return reconstruction_grid(rows, title="Fig. 2: reconstructions, upsampling vs unpooling with 'where' "
                                           "(test MSE per pixel in brackets)")


@result_figure("zhao-translation")
def translation_figure(result: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> go.Figure:
    if "what0" not in arrays:
        return paper_table(result.get("metrics", {}), result.get("paper", {}), "What and where of shifted digits")
    m = result.get("metrics", {})
    shift = result.get("config", {}).get("shift", 3)
    title = (f"Fig. 3, shift ±{shift} px: feature plane {m.get('plane')}<br>"
             f"'where' moves {m.get('where_along_h+', float('nan')):+.3f} / "
             f"{m.get('where_along_h-', float('nan')):+.3f} (x, horizontal) and "
             f"{m.get('where_along_v+', float('nan')):+.3f} / {m.get('where_along_v-', float('nan')):+.3f} "
             f"(y, vertical); expected ±{m.get('expected_where_shift', float('nan')):.3f}<br>"
             f"'what' correlation, shifted vs unshifted: {m.get('what_corr_h', float('nan')):.3f} (horizontal) / "
             f"{m.get('what_corr_v', float('nan')):.3f} (vertical); 1 = unchanged")
    return what_where_scatter(arrays["what0"], arrays["where0"], _shifted_from_arrays(arrays), shift=shift,
                              title=title)


def translation_reconstructions(arrays: Mapping[str, np.ndarray], shift: int = 3) -> go.Figure:
    """Fig. 4: originals, their reconstructions, and reconstructions of +-shift horizontal shifts."""
    return reconstruction_grid({"original": arrays["originals"], "reconstruction": arrays["recon"],
                                f"shifted +{shift}": arrays["recon_hplus"], f"shifted -{shift}": arrays["recon_hminus"]},
                               title=f"Fig. 4: reconstructions of digits shifted ±{shift} px")


@result_figure("zhao-semisup")
def semisup_figure(result: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> go.Figure:
    """Validation error vs lambda_L2* (Fig. 5's axes) when a grid was searched, else the table."""
    m = result.get("metrics", {})
    per_lambda = m.get("per_lambda_valid_error_percent", {})
    n = result.get("config", {}).get("n_labels")
    if len(per_lambda) < 2:
        return paper_table(m, result.get("paper", {}), f"Semi-supervised MNIST, N = {n}: paper vs this run")
    lambdas = [float(k) for k in per_lambda]
    fig = go.Figure(go.Scatter(x=lambdas, y=list(per_lambda.values()), mode="lines+markers", name=f"N = {n}"))
    fig.update_layout(title=f"Validation error vs lambda_L2* (N = {n}); chosen {m.get('lambda_L2')}: "
                            f"test error {m.get('test_error_percent', float('nan')):.2f}% "
                            f"(paper {result.get('paper', {}).get('test_error_percent', '—')}%)",
                      xaxis_title="lambda_L2*", yaxis_title="validation error (%)", height=400)
    return fig
