"""Figures of `lecture-pretraining`: test errors of many networks per arm (strip + box), their
trajectories in function space (Isomap, coloured by epoch), and test error per fine-tuning epoch."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import plotly.graph_objects as go

from aelab.viz.results import result_figure

ARMS = {"random": "no pretraining", "denoising": "denoising pretraining", "supervised": "supervised pretraining"}
COLOURS = {"random": "#d62728", "denoising": "#2ca02c", "supervised": "#1f77b4"}
SYMBOLS = {"random": "circle", "denoising": "diamond", "supervised": "x"}


def error_distribution(arrays: Mapping[str, np.ndarray]) -> go.Figure:
    """One box with every network's test error (percent) as a point, per arm."""
    errors = np.asarray(arrays["test_errors_percent"])
    fig = go.Figure()
    for i, (key, name) in enumerate(ARMS.items()):
        e = errors[i]
        fig.add_trace(go.Box(y=e, name=name, boxpoints="all", jitter=0.4, pointpos=0, marker=dict(color=COLOURS[key]),
                             hovertemplate="test error %{y:.2f}%<extra>" + name + "</extra>"))
    fig.update_yaxes(title="test error (%)")
    fig.update_layout(title=f"Test error of {errors.shape[1]} networks per arm: pretraining lowers the mean and "
                            "the spread?", height=480, template="plotly_white", showlegend=False)
    return fig


def function_space(arrays: Mapping[str, np.ndarray]) -> go.Figure:
    """Isomap of the networks' outputs after every fine-tuning epoch: colour = epoch, marker = arm."""
    points = np.asarray(arrays["embedding"])
    arm, epoch, seed = (np.asarray(arrays[k]) for k in ("embedding_arm", "embedding_epoch", "embedding_seed"))
    fig = go.Figure()
    for i, (key, name) in enumerate(ARMS.items()):
        for s in np.unique(seed[arm == i]):  # each network's path, faint
            m = (arm == i) & (seed == s)
            order = np.argsort(epoch[m])
            fig.add_trace(go.Scatter(x=points[m][order, 0], y=points[m][order, 1], mode="lines", showlegend=False,
                                     hoverinfo="skip", line=dict(color=COLOURS[key], width=1), opacity=0.3))
        m = arm == i
        fig.add_trace(go.Scatter(
            x=points[m, 0], y=points[m, 1], mode="markers", name=name,
            text=[f"{name}, network {s}, epoch {e}" for s, e in zip(seed[m], epoch[m])], hoverinfo="text",
            marker=dict(symbol=SYMBOLS[key], size=9, color=epoch[m], colorscale="Viridis", cmin=int(epoch.min()),
                        cmax=int(epoch.max()), colorbar=dict(title="epoch", x=1.02) if i == 0 else None,
                        showscale=i == 0, line=dict(width=1, color=COLOURS[key]))))
    fig.update_xaxes(title="Isomap 1")
    fig.update_yaxes(title="Isomap 2")
    fig.update_layout(title="Trajectories in function space: every network's test outputs after each epoch (Isomap)",
                      height=540, template="plotly_white", legend=dict(orientation="h", y=-0.15))
    return fig


def error_curves(arrays: Mapping[str, np.ndarray]) -> go.Figure:
    """Test error after every fine-tuning epoch, one line per network."""
    curves = np.asarray(arrays["test_error_curves_percent"])
    fig = go.Figure()
    for i, (key, name) in enumerate(ARMS.items()):
        for s, c in enumerate(curves[i]):
            fig.add_trace(go.Scatter(x=np.arange(1, len(c) + 1), y=c, mode="lines+markers", name=name,
                                     legendgroup=key, showlegend=s == 0, line=dict(color=COLOURS[key]),
                                     marker=dict(size=4, symbol=SYMBOLS[key])))
    fig.update_xaxes(title="fine-tuning epoch")
    fig.update_yaxes(title="test error (%)")
    fig.update_layout(title="Test error during fine-tuning, one line per network", height=460,
                      template="plotly_white")
    return fig


@result_figure("lecture-pretraining")
def pretraining_result_figure(result: dict[str, Any], arrays: dict[str, np.ndarray]) -> go.Figure:
    return error_distribution(arrays)
