"""Figures for Zhang et al. 2016: layer inversions (Figs. 4-5) and the augment table (Table 1).

`inversion_grid` is pure: the input images and their reconstructions from every layer,
fixed switches beside known switches; rows = layers, columns = images.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from aelab.viz.images import tile
from aelab.viz.results import result_figure


def _block(images: np.ndarray, layers: np.ndarray) -> np.ndarray:
    """(1 + layers) x N images tiled into one canvas: the inputs on top, one row per layer."""
    stacked = np.concatenate([images[None], layers], axis=0)
    n = stacked.shape[1]
    return tile(stacked.reshape(-1, *stacked.shape[2:]), n)


def _check(images: np.ndarray, fixed: np.ndarray, known: np.ndarray, layers: Sequence[str]) -> None:
    if images.ndim != 3:
        raise ValueError(f"images must be N x H x W, got shape {images.shape}")
    for name, grid in (("fixed", fixed), ("known", known)):
        if grid.shape != (len(layers), *images.shape):
            raise ValueError(f"{name} reconstructions must be layers x N x H x W = "
                             f"{(len(layers), *images.shape)}, got {grid.shape}")


def inversion_grid(images: np.ndarray, fixed: np.ndarray, known: np.ndarray, layers: Sequence[str], *,
                   title: str = "Reconstructions from every layer") -> go.Figure:
    """Inputs (top row) and reconstructions from each layer (one row per layer), fixed
    switches (SAE) on the left and known switches (SWWAE) on the right."""
    images, fixed, known = (np.asarray(a, dtype=np.float32) for a in (images, fixed, known))
    layers = [str(name) for name in layers]
    _check(images, fixed, known, layers)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.04,
                        subplot_titles=("fixed switches (SAE)", "known switches (SWWAE)"))
    _add_grids(fig, images, fixed, known, layers)
    fig.update_layout(title=title, margin=dict(l=70, r=10, t=70, b=10), plot_bgcolor="white",
                      height=min(1000, 140 + 50 * (len(layers) + 1)))
    return fig


def _add_grids(fig: go.Figure, images, fixed, known, layers) -> None:
    """The two tiled grids into columns 1 and 2 of a one-row subplot figure."""
    h = images.shape[1]
    labels = ["input", *layers]
    centres = [r * (h + 1) + h / 2 for r in range(len(labels))]
    for col, grid in ((1, fixed), (2, known)):
        fig.add_trace(go.Heatmap(z=_block(images, grid), colorscale="gray", zmin=0, zmax=1, showscale=False,
                                 hoverinfo="skip"), row=1, col=col)
        fig.update_yaxes(autorange="reversed", scaleanchor="x" if col == 1 else f"x{col}",
                         tickmode="array", tickvals=centres, ticktext=labels if col == 1 else [""] * len(labels),
                         showgrid=False, zeroline=False, row=1, col=col)
        fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, row=1, col=col)


def layer_errors(layers: Sequence[str], fixed: Sequence[float], known: Sequence[float], *,
                 title: str = "Squared L2 reconstruction error per layer") -> go.Figure:
    """||x̂ - x||^2 per layer, fixed vs known switches (lower is closer to the input)."""
    layers = [str(name) for name in layers]
    fig = go.Figure([go.Scatter(x=layers, y=list(map(float, fixed)), mode="lines+markers", name="fixed switches (SAE)"),
                     go.Scatter(x=layers, y=list(map(float, known)), mode="lines+markers",
                                name="known switches (SWWAE)")])
    fig.update_layout(title=title, xaxis_title="layer inverted", yaxis_title="mean ||x̂ - x||²")
    return fig


@result_figure("zhang-inversion")
def inversion_result(result: dict[str, Any], arrays: dict[str, np.ndarray]) -> go.Figure:
    """The image grid (fixed | known) beside the per-layer L2 errors."""
    layers = [str(name) for name in arrays["layers"]]
    images, fixed, known = arrays["images"], arrays["fixed"], arrays["known"]
    _check(np.asarray(images), np.asarray(fixed), np.asarray(known), layers)
    fig = make_subplots(rows=1, cols=3, column_widths=[0.35, 0.35, 0.30], horizontal_spacing=0.05,
                        subplot_titles=("fixed switches (SAE)", "known switches (SWWAE)", "||x̂ - x||² per layer"))
    _add_grids(fig, np.asarray(images), np.asarray(fixed), np.asarray(known), layers)
    for name, values in (("fixed switches (SAE)", arrays["l2_fixed"]), ("known switches (SWWAE)", arrays["l2_known"])):
        fig.add_trace(go.Scatter(x=layers, y=[float(v) for v in values], mode="lines+markers", name=name),
                      row=1, col=3)
    fig.update_layout(title=f"{result.get('title', 'zhang-inversion')} ({result.get('scale', '')})",
                      height=min(1000, 160 + 50 * (len(layers) + 1)), plot_bgcolor="white",
                      margin=dict(l=70, r=10, t=80, b=10))
    return fig


@result_figure("zhang-augment")
def augment_result(result: dict[str, Any], arrays: dict[str, np.ndarray]) -> go.Figure:
    """Left: train and test error per model of this run (an MNIST analogue). Right: each
    augmented model's change of test error from its baseline, this run beside the paper's
    (VGG-16 on ImageNet): only the direction is comparable, never the errors themselves."""
    from aelab.experiments.zhang import PAPER_TABLE1

    metrics = result.get("metrics", {})
    models = list(metrics.get("train_error_percent", {}))
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "MNIST analogue, this run: error (%)",
        "test error change from the baseline (points): this run vs the paper (ImageNet)"))
    for split in ("train_error_percent", "test_error_percent"):
        values = metrics.get(split, {})
        fig.add_trace(go.Bar(x=models, y=[values.get(m) for m in models], name=split.split("_")[0],
                             marker_color="#1f77b4" if split == "train_error_percent" else "#ff7f0e"), row=1, col=1)
    augmented = [m for m in models if m != "baseline"]
    for name, source, color in (("this run", metrics, "#ff7f0e"), ("paper (VGG-16, ImageNet)", PAPER_TABLE1, "#7f7f7f")):
        test = source.get("test_error_percent", {})
        base = test.get("baseline")
        fig.add_trace(go.Bar(x=augmented, y=[None if base is None or test.get(m) is None else test[m] - base
                                             for m in augmented], name=name, marker_color=color), row=1, col=2)
    fig.update_layout(title=f"{result.get('title', 'zhang-augment')} ({result.get('scale', '')})", barmode="group",
                      yaxis_title="classification error (%)", yaxis2_title="change (points; below 0: better)")
    return fig
