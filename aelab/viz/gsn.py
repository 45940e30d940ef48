"""Figures of GSN sampling chains (Zhou et al. Figs. 2 and 4) and the `zhou-parzen` result.

`chain_strips` lays out, for each model, every k-th sample of one chain in rows of
`per_row`, and ends each row with the training image nearest to that row's last sample
(Fig. 2's last column: the model is not copying its training set).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import plotly.graph_objects as go

from aelab.viz.images import image_grid
from aelab.viz.results import paper_table, result_figure


def chain_strips(chains: Mapping[str, np.ndarray], nearest: Mapping[str, np.ndarray], *, every: int = 4,
                 per_row: int = 10, title: str = "", labels: Mapping[str, str] | None = None) -> go.Figure:
    """One or more rows per model: samples 0, k, 2k, ... of its chain, then a nearest image.

    chains[name]: T x H x W consecutive samples (or T x 1 x H x W); nearest[name]: the
    closest training image of each of those T samples, same shape. The row for samples
    i..j ends with nearest[name][j]; a blank column separates it. `labels` renames rows.
    """
    if every < 1 or per_row < 1:
        raise ValueError(f"every and per_row must be >= 1, got {every} and {per_row}")
    if not chains:
        raise ValueError("no chains to draw")
    tiles: list[np.ndarray] = []
    row_labels: list[str] = []
    shape = None
    for name, samples in chains.items():
        samples = _images(samples, f"chains[{name!r}]")
        if name not in nearest:
            raise ValueError(f"no nearest training images for {name!r}")
        near = _images(nearest[name], f"nearest[{name!r}]")
        if near.shape != samples.shape:
            raise ValueError(f"nearest[{name!r}] has shape {near.shape}, its chain {samples.shape}: "
                             "one nearest image per sample")
        if shape is None:
            shape = samples.shape[1:]
        elif samples.shape[1:] != shape:
            raise ValueError(f"chains[{name!r}] images are {samples.shape[1:]}, others {shape}")
        picked = np.arange(0, len(samples), every)
        for r in range(0, len(picked), per_row):
            row = picked[r:r + per_row]
            cells = [samples[i] for i in row] + [np.full(shape, np.nan)] * (per_row - len(row))
            tiles.extend(cells + [np.full(shape, np.nan), near[row[-1]]])
            label = (labels or {}).get(name, name)
            row_labels.append(label if r == 0 else "")
    return image_grid(np.stack(tiles), per_row + 2, title=title, row_labels=row_labels)


def _images(array: Any, name: str) -> np.ndarray:
    images = np.asarray(array, dtype=np.float32)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"{name} must be a non-empty T x H x W stack of images, got shape {images.shape}")
    return images


@result_figure("zhou-parzen")
def parzen_result_figure(result: dict[str, Any], arrays: dict[str, np.ndarray]) -> go.Figure:
    """Chains of every model, each labelled with its log-likelihood beside Table I's."""
    metrics, paper = result.get("metrics", {}), result.get("paper", {})
    names = [k[len("chain_"):] for k in arrays if k.startswith("chain_")]
    if not names:
        return paper_table(metrics, paper, title="zhou-parzen: paper vs this run")
    labels = {}
    for name in names:
        ours = metrics.get(name)
        text = f"{name}: {ours:.0f}±{metrics.get(f'{name} stderr', 0):.1f}" if ours is not None else name
        if name in paper:
            text += f" (paper {paper[name]:.0f})"
        labels[name] = text
    config = result.get("config", {})
    return chain_strips({n: arrays[f"chain_{n}"] for n in names}, {n: arrays[f"nearest_{n}"] for n in names},
                        every=int(config.get("show_every", 4)), per_row=int(config.get("show_per_row", 10)),
                        labels=labels,
                        title=f"GSN chain samples (every {config.get('show_every', 4)}th; last column: nearest "
                              f"training image) and Parzen log-likelihood on {config.get('dataset', '?')}")
