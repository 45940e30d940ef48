"""Figures of `lecture-tangents`: the translation manifold with its tangent, Jacobian spectra,
top singular vectors as images, the toy DAE/CAE arrows against the score, and the caveat."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from aelab.viz.images import image_grid
from aelab.viz.results import result_figure
from aelab.viz.toy import _segments

MODELS = {"ae": "AE", "dae": "DAE", "cae": "CAE"}
COLOURS = {"ae": "#1f77b4", "dae": "#2ca02c", "cae": "#d62728"}


def translation_manifold(arrays: Mapping[str, np.ndarray]) -> go.Figure:
    """The translated digit as a curve in its first two principal components, with the tangent at shift 0."""
    curve, shifts = np.asarray(arrays["curve_2d"]), np.asarray(arrays["shifts"])
    p, t = np.asarray(arrays["point_2d"]), np.asarray(arrays["tangent_2d"])
    span = float(np.ptp(curve, axis=0).max()) or 1.0
    unit = t / (np.linalg.norm(t) or 1.0)
    line = np.stack([p - 0.35 * span * unit, p + 0.35 * span * unit])
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=curve[:, 0], y=curve[:, 1], mode="lines+markers", name="digit shifted by s pixels",
                             text=[f"s = {s:+.2f} px" for s in shifts], hoverinfo="text",
                             marker=dict(size=6, color=shifts, colorscale="Viridis", colorbar=dict(title="shift"))))
    fig.add_trace(go.Scatter(x=line[:, 0], y=line[:, 1], mode="lines", name="tangent dx/ds at s = 0",
                             line=dict(color="#d62728", width=3)))
    fig.add_trace(go.Scatter(x=[p[0]], y=[p[1]], mode="markers", name="the digit (s = 0)",
                             marker=dict(size=12, color="#d62728", symbol="x")))
    fig.update_xaxes(title="principal component 1")
    fig.update_yaxes(title="principal component 2", scaleanchor="x")
    fig.update_layout(title="A 1-D manifold: one digit translated, in the plane of its first two principal components",
                      height=500, template="plotly_white", legend=dict(orientation="h", y=-0.15))
    return fig


def jacobian_spectra(arrays: Mapping[str, np.ndarray], log: bool = True) -> go.Figure:
    """Mean singular values of J_f(x) over test images, largest first, one line per model."""
    fig = go.Figure()
    for key, name in MODELS.items():
        s = np.asarray(arrays[f"spectrum_{key}"])
        fig.add_trace(go.Scatter(x=np.arange(1, len(s) + 1), y=s, mode="lines+markers", name=name,
                                 line=dict(color=COLOURS[key]), marker=dict(size=4)))
    fig.update_xaxes(title="index of the singular value (largest first)")
    fig.update_yaxes(title="singular value of J_f(x)", type="log" if log else "linear")
    fig.update_layout(title="Singular values of the encoder Jacobian J_f(x), mean over test images", height=460,
                      template="plotly_white")
    return fig


def tangent_directions(arrays: Mapping[str, np.ndarray]) -> go.Figure:
    """The digit, then the top right-singular vectors of J_f at it, one row per model."""
    rows, labels = [], []
    k = len(arrays["vectors_ae"])
    for key, name in MODELS.items():
        v = np.asarray(arrays[f"vectors_{key}"], dtype=np.float32)
        v = v / (np.abs(v).reshape(len(v), -1).max(1)[:, None, None] + 1e-12)
        rows.append(v)
        labels.append(name)
    fig = image_grid(np.concatenate(rows), k, row_labels=labels, symmetric=True,
                     title=f"Top {k} right-singular vectors of J_f at the digit: the directions the code follows",
                     height=140 + 110 * len(labels))
    return fig


def score_comparison(arrays: Mapping[str, np.ndarray], metrics: Mapping[str, Any] | None = None,
                     sigma: float | None = None) -> go.Figure:
    """Toy curve: r(x) − x of the DAE and of the CAE, and σ² ∇log p_σ(x), on grid points near the data."""
    metrics = metrics or {}
    data, grid, near = (np.asarray(arrays[k]) for k in ("toy_data", "toy_grid", "toy_near"))
    near = near.astype(bool)
    g = grid[near]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        f"DAE (σ = {sigma:g}) " if sigma else "DAE", "CAE"), horizontal_spacing=0.06)
    for col, key in ((1, "dae"), (2, "cae")):
        fig.add_trace(go.Scatter(x=data[:, 0], y=data[:, 1], mode="markers", name="training points",
                                 marker=dict(symbol="x", size=4, color="#bbbbbb"), showlegend=col == 1,
                                 hoverinfo="skip"), row=1, col=col)
        for arrow, name, colour in ((arrays["toy_target"], "σ² ∇log p_σ(x) (exact)", "#d62728"),
                                    (arrays[f"toy_arrows_{key}"], "r(x) − x (learnt)", "#1f77b4")):
            a = np.asarray(arrow)[near]
            scale = 1.0 if key == "dae" else (np.linalg.norm(np.asarray(arrays["toy_target"])[near], axis=1).mean()
                                               / (np.linalg.norm(a, axis=1).mean() + 1e-12))
            xs, ys = _segments(g, g + a * (scale if "learnt" in name else 1.0), head=0.04)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, line=dict(color=colour, width=1.3),
                                     showlegend=col == 1, hoverinfo="skip"), row=1, col=col)
    for col in (1, 2):
        fig.update_yaxes(scaleanchor="x" if col == 1 else "x2", row=1, col=col)
    cos_d, cos_c = metrics.get("toy_dae_cosine_with_score"), metrics.get("toy_cae_cosine_with_score")
    extra = "" if cos_d is None else f" (mean cosine: DAE {cos_d:.2f}, CAE {cos_c:.2f}; CAE arrows rescaled)"
    fig.update_layout(title="Denoising learns the score: r(x) − x ≈ σ² ∇log p(x)" + extra, height=520,
                      template="plotly_white", legend=dict(orientation="h", y=-0.12))
    return fig


def caveat(arrays: Mapping[str, np.ndarray]) -> go.Figure:
    """Left: penalty and reconstruction under f -> εf, g -> g/ε; right: weight norms while training."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12, subplot_titles=(
        "rescaling f → εf, g → g/ε of the trained CAE", "while training: ‖W_encoder‖ / ‖W_decoder‖"))
    for name, dash in (("untied", "solid"), ("tied", "dot")):
        scan = np.asarray(arrays[f"caveat_scan_{name}"])
        fig.add_trace(go.Scatter(x=scan[:, 0], y=scan[:, 1], mode="lines+markers", name=f"{name}: penalty ‖J_f‖²",
                                 line=dict(color="#d62728", dash=dash)), row=1, col=1)
        fig.add_trace(go.Scatter(x=scan[:, 0], y=scan[:, 2], mode="lines+markers",
                                 name=f"{name}: reconstruction error", line=dict(color="#1f77b4", dash=dash)),
                      row=1, col=1)
        curve = np.asarray(arrays[f"caveat_curve_{name}"])
        fig.add_trace(go.Scatter(x=curve[:, 0], y=curve[:, 3] / curve[:, 4], mode="lines+markers",
                                 name=f"{name}: ‖W‖ / ‖W′‖", line=dict(color="#2ca02c", dash=dash)), row=1, col=2)
    fig.update_xaxes(type="log", title="ε", autorange="reversed", row=1, col=1)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_xaxes(title="epoch", row=1, col=2)
    fig.update_layout(title="The caveat: untied weights let the contraction penalty vanish for free", height=480,
                      template="plotly_white", legend=dict(orientation="h", y=-0.2))
    return fig


@result_figure("lecture-tangents")
def tangents_result_figure(result: dict[str, Any], arrays: dict[str, np.ndarray]) -> go.Figure:
    return jacobian_spectra(arrays)
