"""Figures of the dense-autoencoder experiments (Vincent et al. 2008, Zhou et al., the lecture).

Pure functions: result dicts and arrays in, `go.Figure` out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from aelab.viz.images import image_grid
from aelab.viz.results import result_figure


def normalised_filters(images: np.ndarray) -> np.ndarray:
    """Each filter scaled to max |w| = 1, so weak and strong filters show their shape alike."""
    images = np.asarray(images, dtype=np.float32)
    scale = np.abs(images.reshape(len(images), -1)).max(1)
    return images / np.where(scale > 0, scale, 1)[:, None, None]


def filters_by_level(filters: np.ndarray, levels, title: str = "First-layer filters by masking noise") -> go.Figure:
    """Rows: noise levels; columns: the same hidden units (same initialisation) in every row."""
    filters = np.asarray(filters)
    n_levels, n_show = filters.shape[:2]
    flat = normalised_filters(filters.reshape(n_levels * n_show, *filters.shape[2:]))
    return image_grid(flat, n_show, title=title, symmetric=True,
                      row_labels=[f"nu = {100 * float(v):g}%" for v in levels])


@result_figure("vincent-filters")
def vincent_filters_figure(result: dict[str, Any], arrays: dict[str, np.ndarray]) -> go.Figure:
    metrics = result.get("metrics", {})
    levels = arrays["levels"]
    stats = ", ".join(f"{100 * float(v):g}%: near-uniform {metrics[f'nu={float(v):g}']['near_uniform_share']:.2f}"
                      for v in levels if f"nu={float(v):g}" in metrics)
    return filters_by_level(arrays["filters"], levels, title=f"Vincent et al. Fig. 3: filters by noise ({stats})")


def curves_figure(arrays: dict[str, np.ndarray], schemes=("L", "J"), title: str = "") -> go.Figure:
    """Train (dashed) and test (solid) reconstruction error in input space per epoch, one colour per scheme."""
    colours = {"L": "#d62728", "J": "#1f77b4", "U": "#2ca02c", "UJ": "#9467bd"}
    fig = go.Figure()
    for scheme in schemes:
        if f"epoch_{scheme}" not in arrays:
            continue
        for split, dash in (("train", "dash"), ("test", "solid")):
            fig.add_trace(go.Scatter(x=arrays[f"epoch_{scheme}"], y=arrays[f"{split}_{scheme}"], mode="lines+markers",
                                     name=f"{scheme} {split}", line=dict(color=colours.get(scheme), dash=dash)))
    fig.update_layout(title=title, xaxis_title="epoch (layer-wise: layer after layer)",
                      yaxis_title="reconstruction error (cross-entropy per image)", legend_title="scheme")
    return fig


@result_figure("zhou-curves")
def zhou_curves_figure(result: dict[str, Any], arrays: dict[str, np.ndarray]) -> go.Figure:
    m = result.get("metrics", {})
    verdict = "joint below layer-wise" if m.get("joint_below_layerwise_test") else "joint NOT below layer-wise"
    return curves_figure(arrays, title=f"Zhou et al. Fig. 3: layer-wise (L) vs joint (J); test: {verdict} (paper: joint below)")


def scheme_bars(metrics: dict[str, Any], paper: dict[str, Any], title: str) -> go.Figure:
    """Test error per model/scheme, this run beside the paper, with 95% intervals."""
    keys = [k for k in metrics if not k.endswith((" interval", " chosen")) and isinstance(metrics[k], (int, float))]
    fig = go.Figure()
    fig.add_trace(go.Bar(name="this run", x=keys, y=[metrics[k] for k in keys],
                         error_y=dict(type="data", array=[metrics.get(f"{k} interval", 0) for k in keys])))
    fig.add_trace(go.Bar(name="paper", x=keys, y=[paper.get(k) for k in keys],
                         error_y=dict(type="data", array=[paper.get(f"{k} interval", 0) or 0 for k in keys])))
    fig.update_layout(barmode="group", title=title, yaxis_title="test error (%)")
    return fig


@result_figure("zhou-svm")
def zhou_svm_figure(result: dict[str, Any], arrays: dict[str, np.ndarray]) -> go.Figure:
    return scheme_bars(result.get("metrics", {}), result.get("paper", {}),
                       f"Zhou et al. Tables II-IV: linear SVM on top-level codes ({result['config'].get('dataset')})")


@result_figure("zhou-finetune")
def zhou_finetune_figure(result: dict[str, Any], arrays: dict[str, np.ndarray]) -> go.Figure:
    return scheme_bars(result.get("metrics", {}), result.get("paper", {}),
                       f"Zhou et al. Tables V-VII: after fine-tuning ({result['config'].get('dataset')})")


@result_figure("vincent-sda")
def vincent_sda_figure(result: dict[str, Any], arrays: dict[str, np.ndarray]) -> go.Figure:
    m, p = result.get("metrics", {}), result.get("paper", {})
    ours = {"SdA-3": m.get("test_error"), "SdA-3 interval": m.get("interval")}
    theirs = {"SdA-3": p.get("test_error"), "SdA-3 interval": p.get("interval")}
    return scheme_bars(ours, theirs, f"Vincent et al. Table 1: SdA-3 on {result['config'].get('dataset')} "
                                     f"(nu chosen: {m.get('noise')}; paper: {p.get('noise')})")


@result_figure("lecture-pca")
def lecture_pca_figure(result: dict[str, Any], arrays: dict[str, np.ndarray]) -> go.Figure:
    m = result.get("metrics", {})
    angles = np.asarray(arrays["angles"])
    fig = go.Figure(go.Bar(x=[f"{i + 1}" for i in range(len(angles))], y=angles, name="principal angle"))
    fig.update_layout(title=f"Linear AE vs PCA: principal angles (max {m.get('max_angle_deg', 0):.1f} deg; "
                            f"error ratio AE/PCA {m.get('error_ratio', float('nan')):.3f}; lecture: 0 deg, 1.0)",
                      xaxis_title="angle index", yaxis_title="degrees")
    return fig
