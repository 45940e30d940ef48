"""The registry of result figures and the "paper vs this run" table every result has."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import plotly.graph_objects as go

ResultFigure = Callable[[dict[str, Any], dict[str, np.ndarray]], go.Figure]
_BUILDERS: dict[str, ResultFigure] = {}


def result_figure(experiment: str) -> Callable[[ResultFigure], ResultFigure]:
    """Decorator: register `builder(result, arrays) -> go.Figure` for an experiment's result."""

    def register(builder: ResultFigure) -> ResultFigure:
        _BUILDERS[experiment] = builder
        return builder

    return register


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    else:
        out[prefix] = value


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "—" if value != value else f"{value:.4g}"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"[{len(value)} values]"
    return str(value)


SCHEME_WORDS = {"L": "layer-wise", "J": "joint", "U": "layer-wise then joint",
                "UJ": "layer-wise then joint, regularised"}
# what each paper cell means, in words a lecture can read out (keys as flattened by `_flatten`)
LABELS = {
    "where_follows_shift": "'where' moves with the shift",
    "where_insensitive_to_other_axis": "'where' ignores shifts along the other axis",
    "what_stays_put": "'what' stays the same under shifts",
    "known_better_at_every_pooled_layer": "known switches reconstruct better at every pooling layer",
    "known_error_grows_with_depth": "error with known switches grows with depth",
    "l2_known_pool5_vgg16_imagenet": "L2 error from the top pooling layer, known switches",
    "unpool_beats_upsample_everywhere": "unpooling with 'where' beats upsampling at every pool size",
    "joint_below_layerwise_train": "joint training ends below layer-wise (training error)",
    "joint_below_layerwise_test": "joint training ends below layer-wise (test error)",
    "test_error_percent": "test error (%)",
    "valid_error_percent": "validation error (%)",
    "baseline_test_error_percent": "baseline test error (%)",
}


def metric_label(key: str) -> str:
    """A human label for a flattened metric key ('DAE-2L' -> 'Parzen log-likelihood, 2-layer DAE,
    layer-wise (nats)'); unknown keys get their underscores replaced by spaces."""
    import re

    if key in LABELS:
        return LABELS[key]
    match = re.fullmatch(r"DAE-(\d+)([A-Z]+)", key)
    if match:
        return f"Parzen log-likelihood (nats), {match[1]}-layer DAE, {SCHEME_WORDS.get(match[2], match[2])}"
    match = re.fullmatch(r"joint_above_layerwise_(\d+)", key)
    if match:
        return f"joint samples score above layer-wise ({match[1]} layers)"
    if "." in key:
        head, tail = key.split(".", 1)
        return f"{metric_label(head)}, {tail}"
    return key.replace("_", " ")


def comparison_rows(metrics: dict[str, Any], paper: dict[str, Any]) -> list[dict[str, str]]:
    """Rows of the paper-vs-run comparison: only cells the paper has (no internal measurements),
    each with a label, this run's value, the paper's, and whether the direction agrees (yes/no
    statements must match; numbers of different scale are not judged). '<key> stderr' cells are
    folded into their value as '± se'."""
    ours: dict[str, Any] = {}
    theirs: dict[str, Any] = {}
    _flatten("", metrics, ours)
    _flatten("", paper, theirs)
    rows = []
    for key, value in theirs.items():
        if key == "note" or key.endswith(" stderr") or value is None:
            continue
        mine = ours.get(key)
        run_text, paper_text = _fmt(mine), _fmt(value)
        if isinstance(mine, (int, float)) and not isinstance(mine, bool) and f"{key} stderr" in ours:
            run_text += f" ± {_fmt(ours[f'{key} stderr'])}"
        if isinstance(value, (int, float)) and not isinstance(value, bool) and f"{key} stderr" in theirs:
            paper_text += f" ± {_fmt(theirs[f'{key} stderr'])}"
        if isinstance(value, bool) and isinstance(mine, bool):
            agrees = "✓ yes" if mine == value else "✗ no"
        elif mine is None:
            agrees = "not measured here"
        else:
            agrees = "— (different scale)"
        rows.append({"key": key, "label": metric_label(key), "run": run_text, "paper": paper_text, "agrees": agrees})
    return rows


SCALE_NOTE = ("Numbers are not expected to match the paper's: this run trains smaller models on fewer images for "
              "fewer epochs (the lab's {scale} size), so compare directions (the yes/no rows), not magnitudes.")


PARZEN_NOTE = ("Parzen log-likelihood of the model's samples: higher (less negative) is better. It is a log density, "
               "not a log probability, so it can be positive or negative, and its sign depends on the window width "
               "σ and the image size: read which model scores higher, not the sign.")


def paper_comparison_html(metrics: dict[str, Any], paper: dict[str, Any], *, title: str = "Paper vs this run",
                          scale: str = "teach", note: str = "") -> str:
    """The paper-vs-run comparison as a small HTML table (labels, this run, paper, direction
    agrees?) with one line on why the scales differ. Pure: dicts in, an HTML string out."""
    import html

    rows = comparison_rows(metrics, paper)
    cell = "padding:4px 10px;border-bottom:1px solid #ddd;text-align:left"
    widths = ("46%", "18%", "18%", "18%")
    head = "".join(f"<th style='{cell};width:{w}'>{h}</th>"
                   for h, w in zip(("quantity", "this run", "paper", "direction agrees"), widths))
    body = "".join(
        "<tr>" + "".join(f"<td style='{cell}'>{html.escape(r[k])}</td>" for k in ("label", "run", "paper", "agrees"))
        + "</tr>" for r in rows) or f"<tr><td colspan='4' style='{cell}'>the paper gives no number to compare</td></tr>"
    paper_note = paper.get("note") if isinstance(paper.get("note"), str) else ""
    lines = [SCALE_NOTE.format(scale=html.escape(scale))] + [html.escape(n) for n in (paper_note, note) if n]
    if any(r["key"].startswith("DAE-") for r in rows):
        lines.append(PARZEN_NOTE)
    return (f"<div class='aelab-paper-table' style='max-width:60em;font-size:15px'>"
            f"<h4 style='margin:6px 0'>{html.escape(title)}</h4>"
            f"<table style='border-collapse:collapse;width:100%'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>"
            + "".join(f"<p style='color:#555;margin:6px 0'>{line}</p>" for line in lines) + "</div>")


def paper_table(metrics: dict[str, Any], paper: dict[str, Any], title: str = "Paper vs this run") -> go.Figure:
    """The comparison of `paper_comparison_html` as a plotly table (for figure-only callers)."""
    rows = comparison_rows(metrics, paper)
    columns = [[r[k] for r in rows] for k in ("label", "run", "paper", "agrees")]
    fig = go.Figure(go.Table(
        columnwidth=[3, 1, 1, 1],
        header=dict(values=["quantity", "this run", "paper", "direction agrees"], align="left",
                    font=dict(size=14)),
        cells=dict(values=columns, align="left", font=dict(size=13), height=26),
    ))
    fig.update_layout(title=title, margin=dict(l=10, r=10, t=50, b=10), height=120 + 28 * max(len(rows), 1))
    return fig


def figure_for_result(result: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> go.Figure:
    """The registered figure for `result['experiment']`, else its paper-vs-run table."""
    builder = _BUILDERS.get(result.get("experiment", ""))
    if builder is None:
        return paper_table(result.get("metrics", {}), result.get("paper", {}),
                           title=f"{result.get('title', result.get('experiment', 'result'))}: paper vs this run")
    return builder(result, arrays or {})
