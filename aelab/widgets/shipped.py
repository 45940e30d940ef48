"""Dashboards open on the full tier: the shipped result of an experiment, beside "your run".

`results/full/<experiment>/` (`aelab.experiments.runner.shipped`; the root is
`aelab.settings.results_root()`, `$AELAB_RESULTS` overrides it) holds the experiment's
full-tier result.json, arrays.npz and kept models. A dashboard whose experiment has one
draws it first, from those files alone (nothing is trained or computed on opening), with the
"paper vs full tier vs your run" table (`aelab.viz.results.tier_comparison_html`); live
training at the lab's size stays as "try it yourself" and is drawn beside it. Without a
shipped result a dashboard behaves as before. A shipped folder that cannot be read is one
line in the app (`Runner.show_notice`), and the dashboard goes on as without it.

A dashboard may also open on the teach tier (`results/teach/<experiment>/`, the lab's teach
size run by `SCALE=teach scripts/full_tier.sh`) where the full tier of its experiment has not
been run yet: `open_shipped(..., scales=("full", "teach"))` takes the first tier shipped, and
the caption, status and table name the tier shown (`Shipped.tier`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as W
import numpy as np

from aelab.viz.results import tier_comparison_html


@dataclass
class Shipped:
    """A shipped full-tier result: its folder, result.json (as a dict) and arrays."""

    folder: Path
    record: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @property
    def config(self) -> dict[str, Any]:
        return self.record.get("config", {})

    @property
    def metrics(self) -> dict[str, Any]:
        return self.record.get("metrics", {})

    @property
    def paper(self) -> dict[str, Any]:
        return self.record.get("paper", {})

    @property
    def scale(self) -> str:
        """The tier it ships as, "full" or "teach": the folder it was found in (`<results>/<scale>/<name>`)."""
        return self.folder.parent.name

    @property
    def tier(self) -> str:
        """"full tier" or "teach tier": how the page names what it shows."""
        return f"{self.scale} tier"


def load_shipped(experiment: str, scale: str = "full") -> Shipped | None:
    """The shipped result of `experiment` at `scale`, or None when none is shipped. A folder
    that is there but cannot be read raises (the caller says so in the app)."""
    from aelab.experiments.runner import read_result, shipped

    folder = shipped(experiment, scale)
    if folder is None:
        return None
    record, arrays = read_result(folder)
    if not isinstance(record, dict) or record.get("experiment", experiment) != experiment:
        raise ValueError(f"{folder / 'result.json'} is not a result of {experiment}")
    return Shipped(folder, record, arrays)


def open_shipped(experiment: str, runner, scales: tuple[str, ...] = ("full", "teach")) -> Shipped | None:
    """`load_shipped` of the first of `scales` shipped, with a damaged folder reported as one line
    in the app (then the next scale is tried, and None when none is left)."""
    from aelab.widgets.base import friendly_error

    for scale in scales:
        try:
            found = load_shipped(experiment, scale)
        except Exception as err:  # damaged or foreign files: say so, open as without a shipped result
            runner.show_notice(f"the shipped {scale}-tier result could not be read ({friendly_error(err)}); "
                               f"showing your runs only")
            continue
        if found is not None:
            return found
    return None


def idle_status(shipped: Shipped, button: str) -> str:
    """The status line of a dashboard opened on a shipped result (nothing trains)."""
    return f"showing the shipped {shipped.tier}; press {button} to try it yourself"


def _minutes(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return ""
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def caption_html(shipped: Shipped, what: str = "") -> str:
    """The line above the full-tier picture: what it is, how long it trained, where it lives."""
    took = _minutes(shipped.record.get("seconds"))
    device = shipped.record.get("env", {}).get("device", "") if isinstance(shipped.record.get("env"), dict) else ""
    parts = [f"<b>{shipped.tier.capitalize()}</b> (shipped with the lab{', trained ' + took if took else ''}"
             f"{' on ' + html.escape(str(device)) if device else ''})"]
    if what:
        parts.append(html.escape(what))
    return ("<div class='aelab-tier-caption aelab-full-caption' style='font-size:15px;margin:4px 0'>"
            + ": ".join(parts) + "</div>")


def run_caption_html(scale: str, state: str = "") -> str:
    """The line above "your run": its size and where it stands."""
    return ("<div class='aelab-tier-caption aelab-run-caption' style='font-size:15px;margin:4px 0'>"
            f"<b>Your run</b> ({html.escape(scale)} size){': ' + html.escape(state) if state else ''}</div>")


def tier_table(shipped: Shipped, run_metrics: dict[str, Any] | None, *, scale: str, title: str = "",
               note: str = "") -> str:
    """The paper vs shipped tier vs your run table of a dashboard (`run_metrics` None: not run yet;
    `note`: one more line under it)."""
    record = shipped.record
    return tier_comparison_html(shipped.paper, shipped.metrics, run_metrics, scale=scale,
                                title=title or f"{record.get('reproduces', record.get('experiment', ''))}: "
                                               f"paper vs {shipped.tier} vs your run",
                                deviations=record.get("deviations") or (), command=record.get("command", ""),
                                note=note, tier=shipped.scale)


def side_by_side(left: list, right: list) -> W.HBox:
    """Two equal columns (the full tier left, your run right); each shrinks with the page."""
    column = dict(width="50%", min_width="0", flex="1 1 0")
    full, run = W.VBox(left, layout=W.Layout(**column)), W.VBox(right, layout=W.Layout(**column))
    full.add_class("aelab-full-column")
    run.add_class("aelab-run-column")
    return W.HBox([full, run], layout=W.Layout(width="100%", align_items="flex-start", grid_gap="12px"))


TRY_IT = ("<h4 style='margin:14px 0 4px 0'>Try it yourself</h4><div style='color:#555;max-width:60em'>Train at the "
          "lab's {scale} size with your own settings (seconds to minutes on a laptop); your run is drawn beside the "
          "{tier} and fills the last columns of the table.</div>")


def try_it_html(scale: str, tier: str = "full tier") -> W.HTML:
    return W.HTML(TRY_IT.format(scale=html.escape(scale), tier=html.escape(tier)))
