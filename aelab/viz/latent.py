"""The latent space: codes of many images projected to 2-D, coloured by class.

`embed_2d(codes, method)` projects codes (N x K) with PCA (instant), t-SNE (seconds) or
UMAP (slow to import the first time: numba compiles it; a dashboard runs it off the UI
thread and caches the result). `latent_scatter` draws the points with one trace per class,
so clicking a legend entry hides a digit; `customdata` carries each point's index, which a
dashboard uses to show that image's thumbnail (`thumbnail`) when the pointer hovers on it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from aelab.viz.results import result_figure

METHODS = ("pca", "tsne", "umap")
METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf")


def embed_2d(codes: np.ndarray, method: str = "pca", *, seed: int = 0) -> np.ndarray:
    """Project N x K codes to N x 2 (float32). PCA via SVD of the centred codes; t-SNE and
    UMAP from scikit-learn and umap-learn with a fixed seed (same codes -> same picture)."""
    codes = np.asarray(codes, dtype=np.float32).reshape(len(codes), -1)
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}: choose one of {', '.join(METHODS)}")
    if len(codes) < 3:
        raise ValueError("a 2-D projection needs at least 3 points")
    if method == "pca":
        centred = codes - codes.mean(axis=0, keepdims=True)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        basis = vt[:2].T
        if basis.shape[1] < 2:  # one-dimensional codes: second axis is zero
            basis = np.pad(basis, ((0, 0), (0, 2 - basis.shape[1])))
        out = centred @ basis
    elif method == "tsne":
        from sklearn.manifold import TSNE

        out = TSNE(n_components=2, perplexity=min(30.0, (len(codes) - 1) / 3), init="pca",
                   random_state=seed).fit_transform(codes)
    else:
        import umap  # first import compiles with numba (~30 s on 2 cores); callers cache results

        out = umap.UMAP(n_components=2, n_neighbors=min(15, len(codes) - 1), random_state=seed,
                        n_jobs=1).fit_transform(codes)
    return np.asarray(out, dtype=np.float32)


def latent_scatter(points: np.ndarray, labels: np.ndarray, *, method: str = "pca",
                   class_names: Sequence[str] | None = None, title: str | None = None,
                   height: int = 480) -> go.Figure:
    """Scatter of 2-D points, one trace per class (sorted by label). Each marker's
    `customdata` is its row index in `points`, for hover thumbnails."""
    points = np.asarray(points, dtype=np.float32)
    labels = np.asarray(labels).reshape(-1)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"latent_scatter expects N x 2 points, got shape {points.shape}")
    if len(points) != len(labels):
        raise ValueError(f"{len(points)} points but {len(labels)} labels")
    name = METHOD_NAMES.get(method, method)
    fig = go.Figure()
    for k, label in enumerate(np.unique(labels)):
        index = np.flatnonzero(labels == label)
        text = class_names[int(label)] if class_names is not None else str(label)
        fig.add_trace(go.Scattergl(
            x=points[index, 0], y=points[index, 1], mode="markers", name=text, customdata=index,
            marker=dict(size=5, color=CLASS_COLOURS[k % len(CLASS_COLOURS)], opacity=0.75),
            hovertemplate=f"class {text}<br>image #%{{customdata}}<extra></extra>"))
    fig.update_xaxes(title=f"{name} axis 1", zeroline=False)
    fig.update_yaxes(title=f"{name} axis 2", zeroline=False)
    fig.update_layout(title=title or f"Codes of test images projected to 2-D with {name}, coloured by class",
                      height=height, template="plotly_white", legend=dict(title="class"),
                      margin=dict(l=60, r=10, t=60, b=50))
    return fig


def thumbnail(image: np.ndarray | None, caption: str = "hover over a point", size: int = 220) -> go.Figure:
    """One grey image (H x W or 1 x H x W) as a small figure; `None` draws an empty frame."""
    z = np.zeros((8, 8), np.float32) if image is None else np.asarray(image, dtype=np.float32).squeeze()
    if z.ndim != 2:
        raise ValueError(f"thumbnail expects one grey image, got shape {np.shape(image)}")
    fig = go.Figure(go.Heatmap(z=z, colorscale="gray", zmin=0.0, zmax=1.0, showscale=False, hoverinfo="skip"))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", visible=False)
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_layout(title=dict(text=caption, font=dict(size=13)), width=size, height=size + 30,
                      margin=dict(l=5, r=5, t=35, b=5), plot_bgcolor="white")
    return fig


@result_figure("lecture-latent")
def lecture_latent_figure(result: dict, arrays: dict[str, np.ndarray]) -> go.Figure:
    """The codes of `lecture-latent` projected with PCA, coloured by class."""
    m = result.get("metrics", {})
    codes = arrays["codes"]
    return latent_scatter(embed_2d(codes, "pca"), arrays["labels"], method="pca",
                          title=f"Codes of {len(codes)} test images, PCA (nearest-neighbour error: codes "
                                f"{m.get('nearest_neighbour_error_percent_codes', float('nan')):.1f}%, raw pixels "
                                f"{m.get('nearest_neighbour_error_percent_pixels', float('nan')):.1f}%)")
