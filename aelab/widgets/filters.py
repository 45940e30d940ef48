"""Dashboard: first-layer filters of denoising autoencoders across noise levels (Vincent Fig. 3).

Runs the `vincent-filters` experiment (`aelab.experiments.vincent.run_filters`) at the lab's
scale, with the noise kind, levels, hidden units and epochs chosen here as overrides of its
preset. Every level starts from the same random weights, so the differences between rows
are caused by the training noise alone. Filters and test curves redraw after every epoch
(the experiment's `on_epoch` hook); figures come from `aelab.viz.dense`.
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from aelab.data import NOISE_KINDS
from aelab.experiments import get
from aelab.experiments.vincent import FiltersConfig, run_filters
from aelab.viz.dense import filters_by_level, level_curves, level_label
from aelab.widgets.base import WIDE, App, Runner, figure_widget, header, refresh_figure
from aelab.widgets.experiment import job_context

EXPERIMENT = "vincent-filters"
LEVEL_CHOICES = (0.0, 0.1, 0.25, 0.5)  # offered in the levels list (with the preset's own)
STATS = ("near_uniform_share", "change")  # per-level filter measures kept with the arrays
SHOWN = 16  # filters drawn per level at first (the slider goes up to the experiment's n_show)


def filters_figure(arrays: dict[str, np.ndarray], config: FiltersConfig, n_show: int, cell_px: int = 40):
    return filters_by_level(arrays["filters"][:, :n_show], config.levels, noise_kind=config.noise_kind,
                            cell_px=cell_px,
                            title=f"First-layer filters (rows of W): {n_show} hidden units per training noise "
                                  f"level, same start")


def curves_figure(arrays: dict[str, np.ndarray], config: FiltersConfig):
    return level_curves(arrays["test_curves"], config.levels, noise_kind=config.noise_kind,
                        total_epochs=config.epochs)


def blank_arrays(config: FiltersConfig) -> dict[str, np.ndarray]:
    """Blank arrays of the right layout, drawn before the first epoch ends."""
    n_show = min(config.n_show, config.n_hidden)
    return {"filters": np.zeros((len(config.levels), n_show, 8, 8), np.float32),
            "test_curves": np.full((len(config.levels), config.epochs), np.nan, np.float32)}


class FiltersApp(App):
    """Controls (noise kind, levels, hidden units, epochs, filters shown) -> filter grid + curves."""

    def __init__(self, scale: str | None = None, device="auto", autostart: bool = True):
        self.setup(scale, device)
        self.experiment = get(EXPERIMENT)
        base = self.experiment.config(self.scale)
        self.noise_kind = W.Dropdown(options=[k for k in NOISE_KINDS if k != "none"], value=base.noise_kind,
                                     description="noise", style=WIDE,
                                     tooltip="the corruption used while training (masking: pixels set to 0)")
        choices = sorted(set(LEVEL_CHOICES) | set(base.levels))
        self.levels = W.SelectMultiple(options=[(f"{v:.0%}", v) for v in choices], value=tuple(base.levels),
                                       description="levels", rows=len(choices), style=WIDE,
                                       tooltip="noise levels to train, one block of filters each "
                                               "(ctrl/shift-click to choose several)")
        self.hidden = W.IntSlider(value=base.n_hidden, min=8, max=max(1000, base.n_hidden), step=4,
                                  description="hidden units", continuous_update=False, style=WIDE,
                                  tooltip="number of hidden units (filters) of the autoencoder")
        self.epochs = W.IntSlider(value=base.epochs, min=1, max=max(20, base.epochs), description="epochs",
                                  continuous_update=False, style=WIDE, tooltip="training passes over the images")
        self.n_show = W.IntSlider(value=min(SHOWN, base.n_show, base.n_hidden), min=1,
                                  max=min(base.n_show, base.n_hidden),
                                  description="filters shown", continuous_update=False, style=WIDE,
                                  tooltip="how many hidden units to draw per level (redraws, no training)")
        self.cell_px = W.IntSlider(value=40, min=20, max=120, step=10, description="filter size (px)",
                                   continuous_update=False, style=WIDE,
                                   tooltip="enlarge the filters (redraws, no training)")
        self.train_button = W.Button(description="train", icon="play", button_style="primary",
                                     tooltip="train one autoencoder per noise level with these settings")
        self.runner = Runner("training")
        self.stats = W.HTML()
        self.arrays: dict[str, np.ndarray] | None = None
        self.shown_config = base
        empty = blank_arrays(base)
        self.filter_fig = figure_widget(filters_figure(empty, base, self.n_show.value, self.cell_px.value))
        self.curve_fig = figure_widget(curves_figure(empty, base))
        self.runner.figures = [self.filter_fig, self.curve_fig]
        self.train_button.on_click(lambda _: self.train())
        self.n_show.observe(lambda _: self.redraw(), names="value")
        self.cell_px.observe(lambda _: self.redraw(), names="value")
        controls = W.VBox([W.HBox([self.noise_kind, self.levels]), W.HBox([self.hidden, self.epochs]),
                           W.HBox([self.train_button, self.n_show, self.cell_px])])
        intro = ("Each block shows the same hidden units after training with a different amount of input noise, "
                 "all from one random start. Look for noise turning grey speckle into strokes and blobs.")
        super().__init__([header("Denoising autoencoder filters across noise levels", intro, self.device), controls,
                          self.runner.widget, self.filter_fig, self.stats, self.curve_fig])
        if autostart:
            self.train()

    def config(self) -> FiltersConfig:
        """The experiment's preset for this scale with the controls' values."""
        levels = tuple(sorted(self.levels.value)) or (0.0,)
        return self.experiment.config(self.scale, noise_kind=self.noise_kind.value, levels=levels,
                                      n_hidden=self.hidden.value, epochs=self.epochs.value)

    def train(self) -> None:
        """Show a cached run at once, else run the experiment in the background, redrawing every epoch."""
        config = self.config()
        self.n_show.max = min(config.n_show, config.n_hidden)

        def task(job):
            live = blank_arrays(config)

            def epoch_done(i: int, epoch: int, filters: np.ndarray, metrics: dict) -> None:
                if live["filters"].shape[1:] != filters.shape:  # the first epoch tells the image size
                    live["filters"] = np.full((len(config.levels), *filters.shape), np.nan, np.float32)
                live["filters"][i] = filters
                live["test_curves"][i, epoch - 1] = metrics["test_reconstruction"]
                job.epoch = epoch
                self.show(config, {k: v.copy() for k, v in live.items()})

            result = run_filters(config, job_context(job, self.device, self.scale), on_epoch=epoch_done)
            arrays = dict(result.arrays)
            for stat in STATS:
                arrays[stat] = np.asarray([result.metrics[f"nu={v:g}"][stat] for v in config.levels], np.float32)
            return arrays

        self.cached_or_start("filters", config, task, lambda arrays: self.show(config, arrays), label="training…",
                             cached_status="loaded from cache (trained before with these settings)")

    def show(self, config: FiltersConfig, arrays: dict[str, np.ndarray]) -> None:
        self.shown_config, self.arrays = config, arrays
        self.redraw()
        refresh_figure(self.curve_fig, curves_figure(arrays, config))

    def redraw(self) -> None:
        """Redraw the filter grid from the stored filters (no training)."""
        if self.arrays is None:
            return
        config = self.shown_config
        refresh_figure(self.filter_fig, filters_figure(self.arrays, config, self.n_show.value, self.cell_px.value))
        if all(stat in self.arrays for stat in STATS):
            rows = "".join(f"<tr><td>{level_label(level, config.noise_kind)}</td><td>{share:.0%}</td>"
                           f"<td>{change:.2f}</td></tr>" for level, share, change in
                           zip(config.levels, self.arrays["near_uniform_share"], self.arrays["change"]))
            self.stats.value = (
                "<table style='border-collapse:collapse;margin:6px 0' cellpadding='4'><tr><th align='left'>level</th>"
                "<th align='left'>near-uniform</th><th align='left'>change from start</th></tr>" + rows + "</table>"
                "<div style='color:#555;max-width:60em'><b>near-uniform</b>: share of filters that still look like "
                "grey speckle (no stroke or blob emerged; lower = more features learnt). <b>change from start</b>: "
                "how far training moved the filters from the shared random start (1 − cosine similarity; "
                "0 = unchanged).</div>")
