"""Denoising as manifold learning on a 2-D toy set (the lecture's "what it learns" slide).

Training points lie near a curve; a denoising autoencoder learns r(x) = g(f(x)), and the
arrows r(x) - x drawn on a grid point back towards the curve from everywhere around it.
`reconstruction_field` draws the data (crosses), their reconstructions and the arrows in a
fixed number of traces, so a dashboard redraws it in place as training goes on.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from aelab.data.toy import grid_2d  # noqa: F401  (re-exported: the tour's grid)
from aelab.measure.field import mean_arrow_length
from aelab.viz.results import result_figure


def _segments(starts: np.ndarray, ends: np.ndarray, head: float) -> tuple[np.ndarray, np.ndarray]:
    """Arrow shafts and two head strokes per arrow as one polyline broken by NaNs."""
    d = ends - starts
    length = np.linalg.norm(d, axis=1, keepdims=True)
    unit = np.divide(d, length, out=np.zeros_like(d), where=length > 0)
    normal = np.stack([-unit[:, 1], unit[:, 0]], axis=1)
    h = np.minimum(head, 0.5 * length)
    left = ends - h * unit + 0.5 * h * normal
    right = ends - h * unit - 0.5 * h * normal
    gap = np.full_like(starts, np.nan)
    path = np.stack([starts, ends, left, ends, right, gap], axis=1).reshape(-1, 2)
    return path[:, 0], path[:, 1]


def reconstruction_field(data: np.ndarray, grid: np.ndarray, grid_reconstructed: np.ndarray, *,
                         data_reconstructed: np.ndarray | None = None, title: str | None = None,
                         arrow_scale: float = 1.0, height: int = 460) -> go.Figure:
    """Training points, and arrows from each grid point x to its reconstruction r(x).

    `arrow_scale` stretches the arrows (r(x) - x) for visibility; the hover text gives the
    unscaled length. Always 3 traces (data, reconstructions, arrows) for in-place redraws."""
    data = np.asarray(data, dtype=np.float32)
    grid = np.asarray(grid, dtype=np.float32)
    recon = np.asarray(grid_reconstructed, dtype=np.float32)
    for name, a in (("data", data), ("grid", grid), ("grid_reconstructed", recon)):
        if a.ndim != 2 or a.shape[1] != 2:
            raise ValueError(f"reconstruction_field: {name} must be N x 2, got shape {a.shape}")
    if grid.shape != recon.shape:
        raise ValueError(f"grid {grid.shape} and its reconstruction {recon.shape} differ in shape")
    span = float(np.ptp(grid, axis=0).max()) or 1.0
    ends = grid + arrow_scale * (recon - grid)
    xs, ys = _segments(grid, ends, head=0.02 * span)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=data[:, 0], y=data[:, 1], mode="markers", name="training points",
                             marker=dict(symbol="x", size=5, color="#d62728"), hoverinfo="skip"))
    dr = np.empty((0, 2), np.float32) if data_reconstructed is None else np.asarray(data_reconstructed, np.float32)
    fig.add_trace(go.Scatter(x=dr[:, 0], y=dr[:, 1], mode="markers", name="their reconstructions r(x)",
                             marker=dict(size=4, color="#1f77b4", opacity=0.6), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="r(x) − x on a grid" +
                             (f" (×{arrow_scale:g})" if arrow_scale != 1 else ""),
                             line=dict(color="#2ca02c", width=1.2), hoverinfo="skip"))
    pad = 0.05 * span
    fig.update_xaxes(title="x₁", range=[float(grid[:, 0].min()) - pad, float(grid[:, 0].max()) + pad],
                     zeroline=False)
    fig.update_yaxes(title="x₂", range=[float(grid[:, 1].min()) - pad, float(grid[:, 1].max()) + pad],
                     scaleanchor="x", zeroline=False)
    fig.update_layout(title=title or "Where the autoencoder sends each point: arrows r(x) − x",
                      height=height, template="plotly_white", margin=dict(l=50, r=10, t=85, b=50),
                      legend=dict(orientation="h", y=-0.15))
    return fig


def tour_field(arrays: dict[str, np.ndarray], model: str) -> go.Figure:
    """The tour's figure of one model (arrays of `lecture-tour`: data, grid and their
    reconstructions), titled with its mean arrow length; redrawn in place while it trains."""
    pull = mean_arrow_length(arrays["grid"], arrays["grid_reconstructed"])
    return reconstruction_field(arrays["data"], arrays["grid"], arrays["grid_reconstructed"],
                                data_reconstructed=arrays.get("data_reconstructed"),
                                title=f"{model}: where each point is sent, r(x) − x<br><sup>mean arrow length "
                                      f"{pull:.2f}: how far the model moves a grid point on average "
                                      f"(0 = it copies its input)</sup>")


@result_figure("lecture-tour")
def lecture_tour_figure(result: dict, arrays: dict[str, np.ndarray]) -> go.Figure:
    return tour_field(arrays, result.get("config", {}).get("model", "autoencoder"))
