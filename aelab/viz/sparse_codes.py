"""Figures of the sparse-coding, PSD and semantic-hashing experiments (pure plotly builders)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from aelab.viz.images import tile
from aelab.viz.results import result_figure

LEARNERS = {"ours": "ours (FISTA + least squares)", "sklearn_batch": "scikit-learn DictionaryLearning",
            "sklearn_minibatch": "scikit-learn MiniBatchDictionaryLearning"}
METHOD_NAMES = {"autoencoder": "autoencoder (noisy sigmoid)", "lsh": "random-projection LSH", "pca_sign": "PCA + sign"}
COLOURS = {"ours": "#1f77b4", "sklearn_batch": "#ff7f0e", "sklearn_minibatch": "#2ca02c",
           "autoencoder": "#1f77b4", "lsh": "#ff7f0e", "pca_sign": "#2ca02c"}


def atoms_image(atoms: np.ndarray, n_cols: int | None = None) -> np.ndarray:
    """Atoms (K x h x w) tiled, each scaled to [-1, 1] by its largest magnitude."""
    atoms = np.asarray(atoms, dtype=np.float32)
    scale = np.abs(atoms).reshape(len(atoms), -1).max(1).clip(min=1e-12)
    n_cols = n_cols or int(np.ceil(np.sqrt(len(atoms))))
    return tile(atoms / scale[:, None, None], n_cols)


def _heatmap(canvas: np.ndarray, symmetric: bool = True) -> go.Heatmap:
    return go.Heatmap(z=canvas[::-1], colorscale="RdBu" if symmetric else "gray", zmid=0 if symmetric else None,
                      zmin=-1 if symmetric else 0, zmax=1, showscale=False, hoverinfo="skip")


def atoms_figure(atoms: np.ndarray, title: str) -> go.Figure:
    fig = go.Figure(_heatmap(atoms_image(atoms)))
    fig.update_layout(title=title, height=460, template="plotly_white", margin=dict(l=20, r=20, t=60, b=20))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    return fig


@result_figure("lecture-sparse-coding")
def sparse_coding_figure(result: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> go.Figure:
    """Objective per alternation (scikit-learn's final objectives as dashed lines), share of zeros, atoms."""
    metrics = result.get("metrics", {})
    fig = make_subplots(rows=1, cols=3, column_widths=[0.34, 0.26, 0.4], horizontal_spacing=0.07,
                        subplot_titles=("objective per example", "share of exact zeros in the codes", "atoms"))
    objective = np.asarray(arrays["objective"])
    steps = np.arange(1, len(objective) + 1)
    fig.add_trace(go.Scatter(x=steps, y=objective, mode="lines+markers", name=LEARNERS["ours"],
                             line=dict(color=COLOURS["ours"])), 1, 1)
    for key in ("sklearn_batch", "sklearn_minibatch"):
        if isinstance(metrics.get(key), dict) and metrics[key].get("objective") is not None:
            value, seconds = metrics[key]["objective"], metrics[key].get("seconds") or 0.0
            fig.add_trace(go.Scatter(x=[steps[0], steps[-1]], y=[value, value], mode="lines",
                                     name=f"{LEARNERS[key]} ({seconds:.1f} s)",
                                     line=dict(color=COLOURS[key], dash="dash")), 1, 1)
    fig.add_trace(go.Scatter(x=steps, y=np.asarray(arrays["zero_share"]), mode="lines+markers", showlegend=False,
                             line=dict(color=COLOURS["ours"])), 1, 2)
    fig.add_trace(_heatmap(atoms_image(arrays["atoms"])), 1, 3)
    fig.update_xaxes(title_text="alternation", row=1, col=1)
    fig.update_xaxes(title_text="alternation", row=1, col=2)
    fig.update_yaxes(range=[0, 1], row=1, col=2)
    fig.update_xaxes(visible=False, row=1, col=3)
    fig.update_yaxes(visible=False, scaleanchor="x3", row=1, col=3)
    ours = metrics.get("ours", {})
    config = result.get("config", {})
    fig.update_layout(title=f"Sparse coding, λ = {config.get('lam', '?')}, {len(arrays['atoms'])} atoms: "
                            f"objective {ours.get('objective', float('nan')):.3g} in {ours.get('seconds', 0):.1f} s",
                      height=460, template="plotly_white", legend=dict(orientation="h", y=-0.18))
    return fig


def comparison_figure(result: dict[str, Any], arrays: Mapping[str, np.ndarray] | None = None) -> go.Figure:
    """Objective and wall time of every learner, side by side."""
    metrics = result.get("metrics", {})
    keys = [k for k in LEARNERS if isinstance(metrics.get(k), dict)]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("objective per example (lower is better)",
                                                        "seconds to learn the dictionary"))
    names = [LEARNERS[k] for k in keys]
    colours = [COLOURS[k] for k in keys]
    fig.add_trace(go.Bar(x=names, y=[metrics[k]["objective"] for k in keys], marker_color=colours,
                         text=[f"{metrics[k]['objective']:.3g}" for k in keys], showlegend=False), 1, 1)
    fig.add_trace(go.Bar(x=names, y=[metrics[k]["seconds"] for k in keys], marker_color=colours,
                         text=[f"{metrics[k]['seconds']:.2f}" for k in keys], showlegend=False), 1, 2)
    fig.update_layout(title="Ours vs scikit-learn: same data, same λ, same number of atoms", height=460,
                      template="plotly_white")
    return fig


@result_figure("lecture-psd")
def psd_figure(result: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> go.Figure:
    """Training loss, fast-encoder codes against the sparse codes, and both for a few test images."""
    m = result.get("metrics", {})
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.08,
                        subplot_titles=("PSD loss per epoch", "f(x) against sparse codes h*",
                                        "codes of test images: h* (top) vs f(x)"))
    loss = np.asarray(arrays["train_loss"])
    fig.add_trace(go.Scatter(x=np.arange(1, len(loss) + 1), y=loss, mode="lines+markers", showlegend=False), 1, 1)
    h, f = np.asarray(arrays["scatter_codes"]), np.asarray(arrays["scatter_predicted"])
    lim = float(max(np.abs(h).max(initial=0), np.abs(f).max(initial=0), 1e-6))
    fig.add_trace(go.Scattergl(x=h, y=f, mode="markers", marker=dict(size=3, opacity=0.4), showlegend=False), 1, 2)
    fig.add_trace(go.Scatter(x=[-lim, lim], y=[-lim, lim], mode="lines", line=dict(dash="dot", color="grey"),
                             showlegend=False), 1, 2)
    codes, pred = np.asarray(arrays["codes"]), np.asarray(arrays["predicted"])
    both = np.concatenate([codes, np.full((1, codes.shape[1]), np.nan), pred])
    scale = float(np.nanmax(np.abs(both))) or 1.0
    fig.add_trace(go.Heatmap(z=both[::-1] / scale, colorscale="RdBu", zmid=0, zmin=-1, zmax=1, showscale=False), 1, 3)
    fig.update_xaxes(title_text="epoch", row=1, col=1)
    fig.update_xaxes(title_text="h* (FISTA)", row=1, col=2)
    fig.update_yaxes(title_text="f(x) (encoder)", row=1, col=2)
    fig.update_xaxes(title_text="code unit", row=1, col=3)
    fig.update_yaxes(visible=False, row=1, col=3)
    fig.update_layout(title=f"PSD: relative error {m.get('relative_error', float('nan')):.2f}, "
                            f"{100 * (m.get('support_recall') or 0):.0f}% of non-zeros found, "
                            f"encoder {m.get('speedup', float('nan')):.0f}x faster than the solver",
                      height=460, template="plotly_white")
    return fig


def _methods(arrays: Mapping[str, np.ndarray]) -> list[str]:
    return [m for m in METHOD_NAMES if f"{m}_map" in arrays]


@result_figure("lecture-hashing")
def hashing_figure(result: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> go.Figure:
    """Mean average precision and precision@k against the number of bits, for every method."""
    bits = [int(b) for b in np.asarray(arrays["bits"])]
    k = int(np.asarray(arrays["ks"])[0])
    fig = make_subplots(rows=1, cols=2, subplot_titles=("mean average precision (Hamming ranking)",
                                                        f"precision@{k}"))
    for method in _methods(arrays):
        style = dict(color=COLOURS[method])
        fig.add_trace(go.Scatter(x=bits, y=arrays[f"{method}_map"], mode="lines+markers", name=METHOD_NAMES[method],
                                 line=style), 1, 1)
        fig.add_trace(go.Scatter(x=bits, y=arrays[f"{method}_precision_at_{k}"], mode="lines+markers",
                                 showlegend=False, line=style), 1, 2)
    for col in (1, 2):
        fig.update_xaxes(title_text="bits", type="log", tickvals=bits, ticktext=[str(b) for b in bits], row=1, col=col)
        fig.update_yaxes(range=[0, 1], row=1, col=col)
    fig.update_layout(title="Semantic hashing: retrieval of test digits among training digits", height=460,
                      template="plotly_white", legend=dict(orientation="h", y=-0.2))
    return fig


def activation_histograms(result: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> go.Figure:
    """Histograms of the code activations (before the threshold), one per training noise level."""
    edges = np.asarray(arrays["bin_edges"])
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure()
    for level, hist, sat in zip(arrays["noise_levels"], arrays["histograms"], arrays["saturated_share"]):
        fig.add_trace(go.Bar(x=centres, y=hist, name=f"noise σ = {float(level):g} ({100 * float(sat):.0f}% saturated)",
                             opacity=0.6, width=float(edges[1] - edges[0])))
    fig.update_layout(barmode="overlay", template="plotly_white", height=460,
                      title="Code activations before the threshold: more noise, more saturation at 0 and 1",
                      xaxis_title="sigmoid activation of a code unit (test images)", yaxis_title="share")
    return fig


def ball_figure(result: dict[str, Any], arrays: Mapping[str, np.ndarray] | None = None) -> go.Figure:
    """Precision of Hamming balls of radius r per method and number of bits (empty ball: precision 0)."""
    metrics = result.get("metrics", {})
    fig = go.Figure()
    for method, name in (("autoencoder", "autoencoder"), ("lsh", "lsh"), ("pca-sign", "pca_sign")):
        cells = metrics.get(method, {})
        for bits, scores in cells.items():
            radii = sorted(int(k.split("_")[1]) for k in scores if k.startswith("ball_") and k.endswith("_precision"))
            fig.add_trace(go.Scatter(x=radii, y=[scores[f"ball_{r}_precision"] for r in radii], mode="lines+markers",
                                     name=f"{METHOD_NAMES[name]}, {bits.replace('_', ' ')}",
                                     line=dict(color=COLOURS[name],
                                               dash={"16": "dot", "32": "dash"}.get(bits.split("_")[0], "solid"))))
    fig.update_layout(title="Hamming balls: precision of every code within r bits of the query", height=460,
                      template="plotly_white", xaxis_title="radius r (bits)", yaxis_title="precision",
                      yaxis_range=[0, 1])
    return fig
