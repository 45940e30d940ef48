"""Grids of small images (filters, digits, reconstructions) as one plotly heatmap.

Tiling many images into one heatmap keeps a figure to a single trace, which is what makes
it cheap to redraw in place in a dashboard (`fig.data[0].z = ...`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go


def tile(images: np.ndarray, n_cols: int, pad: int = 1, fill: float = np.nan) -> np.ndarray:
    """Arrange images (N x H x W, or N x 1 x H x W) row-major in a grid, `pad` pixels apart."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4:
        if images.shape[1] != 1:
            raise ValueError(f"tile expects one-channel images, got shape {images.shape}")
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"tile expects N x H x W images, got shape {images.shape}")
    if n_cols <= 0:
        raise ValueError("n_cols must be positive")
    n, h, w = images.shape
    n_rows = max(1, -(-n // n_cols))
    canvas = np.full((n_rows * (h + pad) - pad, n_cols * (w + pad) - pad), fill, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, n_cols)
        canvas[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = images[i]
    return canvas


def image_grid(images: np.ndarray, n_cols: int, *, title: str = "", row_labels: Sequence[str] | None = None,
               colorscale: str = "gray", zmin: float | None = 0.0, zmax: float | None = 1.0,
               symmetric: bool = False, height: int | None = None, rows_per_label: int = 1) -> go.Figure:
    """A figure of images in a grid (row-major). `symmetric=True` centres the colour scale on 0
    (for filters: weights of both signs) with a shared range across all images. Each row label
    names a block of `rows_per_label` rows of images (a noise level whose filters wrap over rows).
    Padding between images is NaN, drawn as a gap (sent to the browser as null)."""
    images = np.asarray(images, dtype=np.float32)
    canvas = tile(images, n_cols)
    if symmetric:
        bound = float(np.nanmax(np.abs(canvas))) or 1.0
        zmin, zmax, colorscale = -bound, bound, "RdBu_r" if colorscale == "gray" else colorscale
    fig = go.Figure(go.Heatmap(z=canvas, colorscale=colorscale, zmin=zmin, zmax=zmax, showscale=symmetric,
                               hoverinfo="skip"))
    h = images.shape[-2]
    n_rows = canvas.shape[0] // h if h else 1
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=row_labels is not None,
                     showgrid=False, zeroline=False)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    if row_labels is not None:
        block = rows_per_label * (h + 1)
        centres = [r * block + (block - 1) / 2 for r in range(len(row_labels))]
        fig.update_yaxes(tickmode="array", tickvals=centres, ticktext=list(row_labels))
    fig.update_layout(title=title, margin=dict(l=10 if row_labels is None else 90, r=10, t=50, b=10),
                      plot_bgcolor="white", height=height or min(900, 120 + 60 * max(n_rows, 1)))
    return fig
