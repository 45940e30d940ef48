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
from aelab.viz.dense import filter_stats_from_metrics, filter_stats_html, filters_by_level, level_curves
from aelab.viz.results import wrap_title
from aelab.widgets.base import WIDE, App, PlayControls, Runner, figure_widget, header, refresh_figure
from aelab.widgets.experiment import job_context
from aelab.widgets.shipped import caption_html, open_shipped, run_caption_html, side_by_side, tier_table, try_it_html
from aelab.widgets.urlstate import UrlState

EXPERIMENT = "vincent-filters"
LEVEL_CHOICES = (0.0, 0.1, 0.25, 0.5)  # offered in the levels list (with the preset's own)
STATS = ("like_start_share", "near_uniform_share", "change")  # per-level filter measures kept with the arrays
SHOWN = 16  # filters drawn per level at first (the slider goes up to the experiment's n_show)


def filters_figure(arrays: dict[str, np.ndarray], config: FiltersConfig, n_show: int, cell_px: int = 40,
                   epoch: int | None = None):
    """The filter grid of a run: its latest filters, or (`epoch`) its snapshots after that epoch
    (`arrays['filter_epochs']`: levels x epochs x filters x H x W; a level not yet there is blank)."""
    images = arrays["filters"] if epoch is None else arrays["filter_epochs"][:, epoch - 1]
    shown = min(n_show, images.shape[1])
    when = "" if epoch is None else f" after epoch {epoch}"
    return filters_by_level(images[:, :shown], config.levels, noise_kind=config.noise_kind, cell_px=cell_px,
                            title=f"First-layer filters (rows of W): {shown} hidden units per training noise "
                                  f"level, same start{when}")


def curves_figure(arrays: dict[str, np.ndarray], config: FiltersConfig):
    return level_curves(arrays["test_curves"], config.levels, noise_kind=config.noise_kind,
                        total_epochs=config.epochs)


def shipped_config(record: dict) -> FiltersConfig:
    """The FiltersConfig a shipped result was run with (fields this version does not know are dropped)."""
    import dataclasses

    known = {f.name for f in dataclasses.fields(FiltersConfig)}
    fields = {k: (tuple(v) if isinstance(v, list) else v) for k, v in record.get("config", {}).items() if k in known}
    return FiltersConfig(**fields)


def describe(config: FiltersConfig) -> str:
    images = "all training images" if not config.n_train else f"{config.n_train} images"
    return f"{config.n_hidden} hidden units, {config.epochs} epochs, {images}"


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
        # play / pause / step at epoch ends; the scrubber redraws your run's filters from per-epoch snapshots
        self.play = PlayControls(self.runner, lambda: self.redraw(full=False),
                                 scrub_tooltip="show your run's filters after this epoch (the last: the latest; "
                                               "redraws from the snapshots kept every epoch, no training)")
        self.play.set_range(base.epochs, False)
        self.shipped = open_shipped(EXPERIMENT, self.runner)
        self.stats = W.HTML()
        self.arrays: dict[str, np.ndarray] | None = None
        self.metrics: dict | None = None  # the shown run's metrics (the table's "your run" column)
        self.shown_config = base
        empty = blank_arrays(base)
        self.filter_fig = figure_widget(self._filters(empty, base))
        self.curve_fig = figure_widget(self._curves(empty, base))
        self.runner.figures = [self.filter_fig, self.curve_fig]
        self.train_button.on_click(lambda _: self.train())
        self.n_show.observe(lambda _: self.redraw(), names="value")
        self.cell_px.observe(lambda _: self.redraw(), names="value")
        training = [W.HBox([self.noise_kind, self.levels]), W.HBox([self.hidden, self.epochs])]
        play = W.HBox([self.train_button, self.play.buttons, self.play.scrubber])
        intro = ("Each block shows the same hidden units after training with a different amount of input noise, "
                 "all from one random start. Look for noise turning grey speckle into strokes and blobs.")
        # the settings in the page address (`?hidden=500&levels=0,0.5`), a copy-link and a reset button
        self.url_state = UrlState({"noise": self.noise_kind, "levels": self.levels, "hidden": self.hidden,
                                   "epochs": self.epochs, "shown": self.n_show, "size": self.cell_px})
        top = W.VBox([header("Denoising autoencoder filters across noise levels", intro, self.device),
                      self.url_state.widget])
        if self.shipped is None:
            super().__init__([top, W.VBox([*training, play, W.HBox([self.n_show, self.cell_px])]),
                              self.runner.widget, self.filter_fig, self.stats, self.curve_fig])
        else:
            full = self.shipped
            self.full_config = shipped_config(full.record)
            self.n_show.max = max(self.n_show.max, full.arrays["filters"].shape[1])
            self.full_filter_fig = figure_widget(self._filters(full.arrays, self.full_config))
            self.full_curve_fig = figure_widget(self._curves(full.arrays, self.full_config))
            self.full_stats = W.HTML(filter_stats_html(self.full_config.levels, self._full_stats(),
                                                       self.full_config.noise_kind))
            self.run_caption = W.HTML(run_caption_html(self.scale, "not run yet: press train below"))
            self.table = W.HTML(tier_table(full, None, scale=self.scale))
            super().__init__([top, W.HBox([self.n_show, self.cell_px]),
                              side_by_side([W.HTML(caption_html(full, describe(self.full_config))),
                                            self.full_filter_fig, self.full_stats, self.full_curve_fig],
                                           [self.run_caption, self.filter_fig, self.stats, self.curve_fig]),
                              self.table, try_it_html(self.scale), *training, play, self.runner.widget])
        # a page opened from a link starts on its settings (a preheated kernel: trains them when they arrive)
        self.url_state.from_page(on_late=lambda: self.train(train=self.shipped is None))
        if autostart:
            self.train(train=self.shipped is None)  # on a shipped result, opening trains nothing

    def _full_stats(self) -> dict:
        return filter_stats_from_metrics(self.shipped.metrics, self.full_config.levels)

    def _filters(self, arrays: dict[str, np.ndarray], config: FiltersConfig, epoch: int | None = None):
        fig = filters_figure(arrays, config, self.n_show.value, self.cell_px.value, epoch)
        return wrap_title(fig) if self.shipped is not None else fig  # half the page beside the full tier

    def _curves(self, arrays: dict[str, np.ndarray], config: FiltersConfig):
        fig = curves_figure(arrays, config)
        return wrap_title(fig) if self.shipped is not None else fig

    def config(self) -> FiltersConfig:
        """The experiment's preset for this scale with the controls' values."""
        levels = tuple(sorted(self.levels.value)) or (0.0,)
        return self.experiment.config(self.scale, noise_kind=self.noise_kind.value, levels=levels,
                                      n_hidden=self.hidden.value, epochs=self.epochs.value)

    def train(self, train: bool = True) -> None:
        """Show a cached run at once, else run the experiment in the background, redrawing every
        epoch (`train=False`: only a cached run is shown)."""
        config = self.config()
        self.n_show.max = max(min(config.n_show, config.n_hidden),
                              self.shipped.arrays["filters"].shape[1] if self.shipped is not None else 1)

        def task(job):
            live = blank_arrays(config)
            if self.shipped is not None:  # the table's last column and the caption follow the new run
                self.metrics = None
                self.table.value = tier_table(self.shipped, None, scale=self.scale)
                self.run_caption.value = run_caption_html(self.scale, f"training: {describe(config)}")

            def epoch_done(i: int, epoch: int, filters: np.ndarray, metrics: dict) -> None:
                if live["filters"].shape[1:] != filters.shape:  # the first epoch tells the image size
                    live["filters"] = np.full((len(config.levels), *filters.shape), np.nan, np.float32)
                if "filter_epochs" not in live:
                    live["filter_epochs"] = np.full((len(config.levels), config.epochs, *filters.shape), np.nan,
                                                    np.float16)
                live["filters"][i] = filters
                live["filter_epochs"][i, epoch - 1] = filters  # the scrubber's snapshots
                live["test_curves"][i, epoch - 1] = metrics["test_reconstruction"]
                self.play.epoch_end(job, epoch, f"{100 * config.levels[i]:g}% noise", total=config.epochs,
                                    draw=lambda: self.show(config, {k: v.copy() for k, v in live.items()}))

            result = run_filters(config, job_context(job, self.device, self.scale), on_epoch=epoch_done)
            arrays = dict(result.arrays)
            if "filter_epochs" in live:
                arrays["filter_epochs"] = live["filter_epochs"]
            for stat, values in filter_stats_from_metrics(result.metrics, config.levels).items():
                arrays[stat] = np.asarray(values, np.float32)
            return arrays, {"metrics": result.metrics}

        self.cached_or_start("filters", config, task, lambda arrays, info: self.show(config, arrays, info),
                             label=self.play.begin("training…"),
                             cached_status="loaded from cache (trained before with these settings)",
                             with_info=True, train=train,
                             idle_status=f"showing the shipped {self.shipped.tier}; press train to try it yourself"
                             if self.shipped is not None else "")
        self.play.update()

    def show(self, config: FiltersConfig, arrays: dict[str, np.ndarray], info: dict | None = None) -> None:
        self.shown_config, self.arrays = config, arrays
        # the scrubber spans the run's epochs; usable once the run kept per-epoch snapshots
        self.play.set_range(config.epochs, "filter_epochs" in arrays)
        if info is not None:
            self.metrics = info.get("metrics")
            if self.shipped is not None:
                self.table.value = tier_table(self.shipped, self.metrics, scale=self.scale)
                self.run_caption.value = run_caption_html(self.scale, describe(config))
        self.redraw()
        refresh_figure(self.curve_fig, self._curves(arrays, config))

    def redraw(self, full: bool = True) -> None:
        """Redraw the filter grids from the stored filters (no training); `full=False`: only your run's."""
        if self.shipped is not None and full:
            refresh_figure(self.full_filter_fig, self._filters(self.shipped.arrays, self.full_config))
        if self.arrays is None:  # nothing trained yet: the blank grid follows "filters shown" and the size too
            refresh_figure(self.filter_fig, self._filters(blank_arrays(self.shown_config), self.shown_config))
            return
        config = self.shown_config
        refresh_figure(self.filter_fig, self._filters(self.arrays, config, self.play.chosen()))  # None: the latest
        self.stats.value = filter_stats_html(config.levels, {k: self.arrays[k] for k in STATS if k in self.arrays},
                                             config.noise_kind)
