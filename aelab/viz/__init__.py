"""Plotly figure builders: pure functions from arrays and results to `go.Figure`.

Builders take numpy arrays or plain dicts and return a figure; they never train, load
data or touch widgets, so every one is testable without a kernel. A builder that draws an
experiment's result registers itself with `@result_figure("experiment-name")`; the
`aelab reproduce` command uses `figure_for_result` to write `figure.html`.
"""

from __future__ import annotations

import importlib
import pkgutil

from aelab.viz.results import figure_for_result, paper_comparison_html, paper_table, result_figure

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("results",) and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["figure_for_result", "paper_comparison_html", "paper_table", "result_figure"]
