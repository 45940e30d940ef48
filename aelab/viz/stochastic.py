"""Figures of `lecture-vae`: samples of four sets side by side, the 2-D latent map, and the
likelihood numbers (ELBO, IWAE) beside the Parzen numbers of every sample set."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from aelab.viz.images import image_grid, tile
from aelab.viz.results import result_figure

SETS = {"vae": "VAE samples", "gsn": "GSN chains of a DAE", "real": "real images (held out)",
        "kmeans": "k-means centroids"}


def sample_sets(arrays: Mapping[str, np.ndarray], metrics: Mapping[str, Any] | None = None, per_row: int = 10,
                rows: int = 2) -> go.Figure:
    """One block of rows per sample set (`samples_<set>` arrays), labelled with its Parzen number."""
    metrics = metrics or {}
    blocks, labels = [], []
    for key, name in SETS.items():
        images = np.asarray(arrays[f"samples_{key}"], dtype=np.float32)[:per_row * rows]
        blocks.append(images)
        value = metrics.get(f"parzen_{key}")
        labels.append(name + ("" if value is None else f"<br>Parzen {value:.0f}"))
    n = min(len(b) for b in blocks)
    images = np.concatenate([b[:n] for b in blocks])
    return image_grid(images, per_row, row_labels=labels, rows_per_label=max(1, n // per_row),
                      title="Samples of each set (Parzen log-likelihood on the same test images, nats)",
                      height=160 + 55 * len(images) // per_row)


def latent_map(arrays: Mapping[str, np.ndarray], size: int | None = None) -> go.Figure:
    """The 2-D VAE's decoder on a grid of prior quantiles, beside the test images' codes."""
    grid = np.asarray(arrays["latent_grid"], dtype=np.float32)
    n = size or int(round(np.sqrt(len(grid))))
    codes, labels = np.asarray(arrays["codes_2d"]), np.asarray(arrays["labels"])
    fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.06,
                        subplot_titles=("decoded grid of the 2-D code (prior quantiles 5%..95%)",
                                        "codes of test images (posterior means)"))
    fig.add_trace(go.Heatmap(z=tile(grid, n, pad=0), colorscale="gray", zmin=0, zmax=1, showscale=False,
                             hoverinfo="skip"), row=1, col=1)
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False, row=1, col=1)
    fig.update_xaxes(showticklabels=False, constrain="domain", row=1, col=1)
    fig.add_trace(go.Scatter(x=codes[:, 0], y=codes[:, 1], mode="markers", showlegend=False,
                             text=[f"digit {int(y)}" for y in labels], hoverinfo="text",
                             marker=dict(size=5, color=labels, colorscale="Turbo", cmin=0, cmax=9,
                                         colorbar=dict(title="digit", len=0.8))), row=1, col=2)
    fig.update_xaxes(title="z₁", row=1, col=2)
    fig.update_yaxes(title="z₂", row=1, col=2)
    fig.update_layout(title="The 2-D latent space of a VAE", height=520, template="plotly_white",
                      margin=dict(l=20, r=20, t=80, b=40))
    return fig


def likelihoods(metrics: Mapping[str, Any]) -> go.Figure:
    """Bars: the VAE's ELBO and IWAE bound (log-probabilities of binary images) and the Parzen
    estimates of the four sample sets (log-densities of grey images): two kinds of number."""
    k = metrics.get("iwae_k", "k")
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("likelihood bounds of the VAE (nats, higher is better)",
                                        "Parzen window estimates (nats), same test images"))
    names = ["ELBO", f"IWAE k={k}", "ELBO (2-D code)", f"IWAE k={k} (2-D code)"]
    values = [metrics.get("test_elbo"), metrics.get("test_iwae_log_likelihood"), metrics.get("test_elbo_2d"),
              metrics.get("test_iwae_log_likelihood_2d")]
    fig.add_trace(go.Bar(x=names, y=values, marker_color=["#1f77b4", "#ff7f0e", "#aec7e8", "#ffbb78"],
                         text=[f"{v:.1f}" if v is not None else "—" for v in values], textposition="outside",
                         showlegend=False), row=1, col=1)
    pv = [metrics.get(f"parzen_{key}") for key in SETS]
    err = [metrics.get(f"parzen_{key}_stderr") or 0 for key in SETS]
    fig.add_trace(go.Bar(x=list(SETS.values()), y=pv, error_y=dict(type="data", array=err),
                         marker_color=["#1f77b4", "#2ca02c", "#7f7f7f", "#d62728"],
                         text=[f"{v:.0f}" if v is not None else "—" for v in pv], textposition="outside",
                         showlegend=False), row=1, col=2)
    fig.update_layout(title="Log-likelihood bounds vs Parzen estimates: k-means centroids are not digits",
                      height=460, template="plotly_white", margin=dict(l=40, r=20, t=80, b=100))
    return fig


@result_figure("lecture-vae")
def vae_result_figure(result: dict[str, Any], arrays: dict[str, np.ndarray]) -> go.Figure:
    return likelihoods(result.get("metrics", {}))
