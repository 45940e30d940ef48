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
    "like_start_share_falls_with_noise": "fewer filters still look like their random start as noise grows",
    "near_uniform_share_falls_with_noise": "fewer filters stay near-uniform grey as noise grows",
    "spread_grows_with_noise": "filters cover larger areas with more noise",
    "change_from_init_grows_with_noise": "filters move further from their start with more noise",
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


TIER_NOTE = ("Why the numbers differ: the paper trained at its own size; the full tier is the paper's architecture on "
             "the full training set, trained as long as about an hour per experiment on a 2-core CPU allows (how it "
             "differs from the paper is listed below); your run is the lab's {scale} size (fewer images and epochs, "
             "seconds to minutes), so compare directions, not magnitudes.")
TEACH_TIER_NOTE = ("Why the numbers differ: the paper trained at its own size; the teach tier is the lab's teach size "
                   "(fewer images and epochs: the full tier of this experiment has not been run yet); your run is the "
                   "lab's {scale} size with your settings, so compare directions, not magnitudes.")
NOT_RUN = "not run yet"


def tier_rows(paper: dict[str, Any], full: dict[str, Any], run: dict[str, Any] | None) -> list[dict[str, str]]:
    """Rows of the paper vs full tier vs your run comparison: only cells the paper has (its
    'claim' and 'note' are text, not rows), with human labels; `run` None means not run yet.
    `agrees` judges yes/no statements only ('full tier ✓ · your run ✗'); numbers of different
    scales are not judged."""
    paper = {k: v for k, v in paper.items() if k != "claim"}
    by_full = {r["key"]: r for r in comparison_rows(full, paper)}
    by_run = {r["key"]: r for r in comparison_rows(run or {}, paper)}
    theirs: dict[str, Any] = {}
    ours_full: dict[str, Any] = {}
    ours_run: dict[str, Any] = {}
    _flatten("", paper, theirs)
    _flatten("", full, ours_full)
    _flatten("", run or {}, ours_run)
    rows = []
    for key, row in by_full.items():
        if isinstance(theirs.get(key), bool):
            parts = []
            for who, ours, present in (("full tier", ours_full, True), ("your run", ours_run, run is not None)):
                if not present:
                    parts.append(f"{who}: {NOT_RUN}")
                elif isinstance(ours.get(key), bool):
                    parts.append(f"{who} {'✓' if ours[key] == theirs[key] else '✗'}")
                else:
                    parts.append(f"{who}: not measured")
            agrees = " · ".join(parts)
        else:
            agrees = "— (a number: different scales)"
        rows.append({"key": key, "label": row["label"], "paper": row["paper"], "full": row["run"],
                     "run": NOT_RUN if run is None else by_run[key]["run"], "agrees": agrees})
    return rows


def tier_comparison_html(paper: dict[str, Any], full: dict[str, Any], run: dict[str, Any] | None, *,
                         title: str = "Paper vs full tier vs your run", scale: str = "teach",
                         deviations: tuple[str, ...] | list[str] = (), command: str = "", note: str = "",
                         tier: str = "full") -> str:
    """The paper vs full tier vs your run comparison as a small HTML table (human labels; paper,
    full tier, your run; whether the direction agrees), one line on why the scales differ, the
    paper's claim, the full tier's deviations from the paper (folded) and the command that
    reproduces it. Pure: dicts in, an HTML string out. `run` None: the user has not run it yet.
    `tier`: the scale of the shipped result in the middle column ("full", or "teach" where the
    full tier has not been run)."""
    import html

    rows = tier_rows(paper, full, run)
    if tier != "full":
        for r in rows:
            r["agrees"] = r["agrees"].replace("full tier", f"{tier} tier")
    cell = "padding:4px 10px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top"
    columns = (("quantity", "label", "34%"), ("paper", "paper", "14%"), (f"{tier} tier", "full", "14%"),
               (f"your run ({scale} size)", "run", "14%"), ("direction agrees", "agrees", "24%"))
    head = "".join(f"<th style='{cell};width:{w}'>{html.escape(h)}</th>" for h, _, w in columns)
    body = "".join("<tr>" + "".join(f"<td style='{cell}'>{html.escape(r[k])}</td>" for _, k, _ in columns)
                   + "</tr>" for r in rows) \
        or f"<tr><td colspan='{len(columns)}' style='{cell}'>the paper gives no number to compare</td></tr>"
    claim = paper.get("claim") if isinstance(paper.get("claim"), str) else ""
    paper_note = paper.get("note") if isinstance(paper.get("note"), str) else ""
    lines = [html.escape((TIER_NOTE if tier == "full" else TEACH_TIER_NOTE).format(scale=scale))]
    lines += [f"<b>The paper:</b> {html.escape(claim)}"] if claim else []
    lines += [html.escape(n) for n in (paper_note, note) if n]
    if any(r["key"].startswith("DAE-") for r in rows):
        lines.append(PARZEN_NOTE)
    extra = ""
    if deviations:
        items = "".join(f"<li>{html.escape(str(d))}</li>" for d in deviations)
        extra += (f"<details style='margin:4px 0'><summary>how the {html.escape(tier)} tier differs from the paper "
                  f"({len(deviations)})</summary><ul style='margin:4px 0'>{items}</ul></details>")
    if command:
        extra += (f"<div style='color:#555;margin:4px 0'>the {html.escape(tier)} tier is reproduced by "
                  f"<code>{html.escape(command)}</code></div>")
    return (f"<div class='aelab-paper-table aelab-tier-table' style='max-width:72em;font-size:15px'>"
            f"<h4 style='margin:6px 0'>{html.escape(title)}</h4>"
            f"<table style='border-collapse:collapse;width:100%'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>"
            + "".join(f"<p style='color:#555;margin:6px 0'>{line}</p>" for line in lines) + extra + "</div>")


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


def wrap_title(fig: go.Figure, width: int = 56) -> go.Figure:
    """A copy of `fig` whose title is broken over lines of at most about `width` characters
    (for a figure drawn in half a page), with the top margin grown to fit."""
    import textwrap

    fig = go.Figure(fig)
    title = fig.layout.title.text or ""
    if len(title) <= width or "<br>" in title:
        return fig
    lines = textwrap.wrap(title, width)
    top = fig.layout.margin.t if fig.layout.margin.t is not None else 80
    extra = 18 * (len(lines) - 1)
    fig.update_layout(title_text="<br>".join(lines), margin_t=top + extra)
    if fig.layout.height is not None:
        fig.update_layout(height=fig.layout.height + extra)
    return fig


def figure_for_result(result: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> go.Figure:
    """The registered figure for `result['experiment']`, else its paper-vs-run table."""
    builder = _BUILDERS.get(result.get("experiment", ""))
    if builder is None:
        return paper_table(result.get("metrics", {}), result.get("paper", {}),
                           title=f"{result.get('title', result.get('experiment', 'result'))}: paper vs this run")
    return builder(result, arrays or {})
