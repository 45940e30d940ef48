"""Figures of the dense-autoencoder experiments (Vincent et al. 2008, Zhou et al., the lecture).

Pure functions: result dicts and arrays in, `go.Figure` out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from aelab.viz.curves import reconstruction_curves
from aelab.viz.images import image_grid
from aelab.viz.results import result_figure

# Zhou et al.'s training schemes by their letters
SCHEME_NAMES = {"L": "layer-wise", "J": "joint", "U": "layer-wise, then joint (no regulariser)",
                "UJ": "layer-wise, then joint (regularised)"}


def normalised_filters(images: np.ndarray) -> np.ndarray:
    """Each filter scaled to max |w| = 1, so weak and strong filters show their shape alike."""
    images = np.asarray(images, dtype=np.float32)
    scale = np.abs(images.reshape(len(images), -1)).max(1)
    return images / np.where(scale > 0, scale, 1)[:, None, None]


def level_label(level: float, noise_kind: str = "masking") -> str:
    """'nu = 25%' (masking, the paper's name), 'salt-pepper 25%', 'gaussian σ = 0.5'."""
    if noise_kind == "gaussian":
        return f"gaussian σ = {float(level):g}"
    return f"nu = {100 * float(level):g}%" if noise_kind == "masking" else f"{noise_kind} {100 * float(level):g}%"


def filters_by_level(filters: np.ndarray, levels, title: str = "First-layer filters by masking noise", *,
                     noise_kind: str = "masking", per_row: int = 8, cell_px: int = 40) -> go.Figure:
    """One block per noise level, the same hidden units (same initialisation) in the same place
    in every block; a level's filters wrap after `per_row` (8: readable on a projector), each
    drawn about `cell_px` pixels high (enlarge them with it)."""
    filters = np.asarray(filters, dtype=np.float32)
    n_levels, n_show = filters.shape[:2]
    per_row = max(1, min(per_row, n_show))
    rows = -(-n_show // per_row)
    blocks = np.full((n_levels, rows * per_row, *filters.shape[2:]), np.nan, np.float32)  # NaN: a gap
    blocks[:, :n_show] = filters
    flat = normalised_filters(blocks.reshape(n_levels * rows * per_row, *filters.shape[2:]))
    return image_grid(flat, per_row, title=title, symmetric=True, rows_per_label=rows,
                      row_labels=[level_label(v, noise_kind) for v in levels],
                      height=100 + cell_px * rows * n_levels + 6 * n_levels)


def level_curves(curves: np.ndarray, levels, *, noise_kind: str = "masking", total_epochs: int | None = None,
                 title: str = "Reconstruction error of clean test images per epoch", height: int = 300) -> go.Figure:
    """One test-error curve per noise level (`curves`: levels x epochs, NaN = not yet trained)."""
    return reconstruction_curves({level_label(v, noise_kind): {"test": np.asarray(c)} for v, c in zip(levels, curves)},
                                 total_epochs=total_epochs, height=height, title=title,
                                 y_label="cross-entropy per image", x_label="epoch",
                                 legend_title="training noise", split_in_name=False)


FILTER_STATS = {  # per-level filter measures (aelab.measure.filters): label, format, what it means
    "like_start_share": ("like their start", "{:.0%}",
                         "share of filters still within cos ≥ 0.8 of their shared random start (the paper: without "
                         "noise many stay 'uninteresting', like the random start; lower = more features learnt)"),
    "near_uniform_share": ("near-uniform", "{:.0%}",
                           "share of filters that look like grey speckle, no stroke or blob (lower = more features)"),
    "change": ("change from start", "{:.2f}",
               "how far training moved the filters from the shared start (1 − cosine similarity; 0 = unchanged)"),
}


def filter_stats_html(levels, stats: dict[str, Any], noise_kind: str = "masking") -> str:
    """A small HTML table of per-level filter measures (`stats[name]`: one value per level, for
    the names of `FILTER_STATS` present), with one line explaining each. Pure: data in, HTML out."""
    import html

    names = [name for name in FILTER_STATS if name in stats and len(stats[name]) == len(levels)]
    if not names:
        return ""
    head = "".join(f"<th align='left'>{FILTER_STATS[n][0]}</th>" for n in names)
    rows = "".join(f"<tr><td>{html.escape(level_label(level, noise_kind))}</td>"
                   + "".join(f"<td>{FILTER_STATS[n][1].format(float(stats[n][i]))}</td>" for n in names) + "</tr>"
                   for i, level in enumerate(levels))
    explain = " ".join(f"<b>{FILTER_STATS[n][0]}</b>: {html.escape(FILTER_STATS[n][2])}." for n in names)
    return ("<table class='aelab-filter-stats' style='border-collapse:collapse;margin:6px 0' cellpadding='4'>"
            f"<tr><th align='left'>level</th>{head}</tr>{rows}</table>"
            f"<div style='color:#555;max-width:60em'>{explain}</div>")


def filter_stats_from_metrics(metrics: dict[str, Any], levels) -> dict[str, list[float]]:
    """The per-level measures of a vincent-filters result (`metrics['nu=0.25'][name]`)."""
    out: dict[str, list[float]] = {}
    for name in FILTER_STATS:
        values = [metrics.get(f"nu={float(v):g}", {}).get(name) for v in levels]
        if all(isinstance(v, (int, float)) for v in values):
            out[name] = [float(v) for v in values]
    return out


@result_figure("vincent-filters")
def vincent_filters_figure(result: dict[str, Any], arrays: dict[str, np.ndarray]) -> go.Figure:
    metrics = result.get("metrics", {})
    levels = arrays["levels"]
    stats = ", ".join(f"{100 * float(v):g}%: near-uniform {metrics[f'nu={float(v):g}']['near_uniform_share']:.2f}"
                      for v in levels if f"nu={float(v):g}" in metrics)
    return filters_by_level(arrays["filters"], levels, title=f"Vincent et al. Fig. 3: filters by noise ({stats})",
                            noise_kind=result.get("config", {}).get("noise_kind", "masking"))


def curves_figure(arrays: dict[str, np.ndarray], schemes=("L", "J"), title: str = "", *,
                  splits=("train", "test"), log_y: bool = False) -> go.Figure:
    """Reconstruction error in input space per epoch (arrays `{split}_{scheme}`, epochs numbered
    on across layers; NaN = not yet trained), one colour per scheme, solid train, dashed test
    (`aelab.viz.curves`)."""
    present = [s for s in schemes if f"{splits[0]}_{s}" in arrays]
    curves = {SCHEME_NAMES.get(s, s): {split: arrays[f"{split}_{s}"] for split in splits} for s in present}
    longest = max((len(arrays[f"{split}_{s}"]) for s in present for split in splits), default=1)
    return reconstruction_curves(curves, title=title or "Reconstruction error during training", log_y=log_y,
                                 total_epochs=longest, x_label="epoch (layer-wise: layer after layer)",
                                 y_label="reconstruction error (cross-entropy per image)")


@result_figure("zhou-curves")
def zhou_curves_figure(result: dict[str, Any], arrays: dict[str, np.ndarray]) -> go.Figure:
    m = result.get("metrics", {})
    verdict = "joint below layer-wise" if m.get("joint_below_layerwise_test") else "joint NOT below layer-wise"
    return curves_figure(arrays, title=f"Zhou et al. Fig. 3: layer-wise (L) vs joint (J); test: {verdict} (paper: joint below)")


def scheme_bars(metrics: dict[str, Any], paper: dict[str, Any], title: str) -> go.Figure:
    """Test error per model/scheme, this run beside the paper, with 95% intervals.

    metrics, paper: {"test_error_percent": {model: %}, "test_error_interval_percent": {model: %}}."""
    ours, theirs = metrics.get("test_error_percent", {}), paper.get("test_error_percent", {})
    ours_ci, theirs_ci = metrics.get("test_error_interval_percent", {}), paper.get("test_error_interval_percent", {})
    keys = [k for k, v in ours.items() if isinstance(v, (int, float))]
    fig = go.Figure()
    fig.add_trace(go.Bar(name="this run", x=keys, y=[ours[k] for k in keys],
                         error_y=dict(type="data", array=[ours_ci.get(k, 0) for k in keys])))
    fig.add_trace(go.Bar(name="paper", x=keys, y=[theirs.get(k) for k in keys],
                         error_y=dict(type="data", array=[theirs_ci.get(k, 0) or 0 for k in keys])))
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
    ours = {key: {"SdA-3": m.get(key)} for key in ("test_error_percent", "test_error_interval_percent")}
    theirs = {key: {"SdA-3": p.get(key)} for key in ("test_error_percent", "test_error_interval_percent")}
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
