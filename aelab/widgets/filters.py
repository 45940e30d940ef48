"""Dashboard: first-layer filters of denoising autoencoders across noise levels (Vincent Fig. 3).

All noise levels start from the same random weights (one seed), so the differences between
rows are caused by the training noise alone. Filters and curves redraw after every epoch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import ipywidgets as W
import numpy as np
import torch


from aelab.measure.filters import filter_stats, filters
from aelab.models.dense import Autoencoder
from aelab.train.loop import FitConfig, fit
from aelab.viz.curves import reconstruction_curves
from aelab.viz.images import image_grid
from aelab.widgets.base import App, Runner, figure_widget, header, load_flat, refresh_figure, stop_hook

NOISE_KINDS = ("masking", "gaussian", "salt-pepper")


@dataclass(frozen=True)
class FiltersConfig:
    dataset: str = "mnist"
    n_train: int = 5000
    hidden: int = 64
    epochs: int = 15
    noise_kind: str = "masking"
    levels: tuple[float, ...] = (0.0, 0.25, 0.5)
    batch_size: int = 20
    lr: float = 0.1
    seed: int = 0


PRESETS = {
    "teach": FiltersConfig(),
    "smoke": FiltersConfig(dataset="digits", n_train=300, hidden=12, epochs=2, levels=(0.0, 0.5), batch_size=50),
}


def train_filters(config: FiltersConfig, device, job=None, on_epoch=None) -> dict[str, np.ndarray]:
    """Train one tied sigmoid DAE per noise level from the same initialisation.

    Returns `init` (hidden x H x W), `filters` (levels x hidden x H x W) and `errors`
    (levels x epochs, mean cross-entropy reconstruction error on the clean training set)."""
    x, _, shape = load_flat(config.dataset, "train", config.n_train, device, seed=config.seed)
    fit_config = FitConfig(epochs=config.epochs, batch_size=config.batch_size, optimizer="sgd", lr=config.lr)
    n_levels = len(config.levels)
    init = None
    out_filters = np.zeros((n_levels, config.hidden, *shape), np.float32)
    errors = np.full((n_levels, config.epochs), np.nan, np.float32)
    for i, level in enumerate(config.levels):
        model = Autoencoder(x.shape[1], config.hidden, noise=(config.noise_kind, level),
                            generator=torch.Generator().manual_seed(config.seed)).to(device)
        if init is None:
            init = filters(model, shape)
            out_filters[:] = init
        total = n_levels * config.epochs

        def epoch_done(epoch: int, metrics: dict, i: int = i, model: Autoencoder = model) -> None:
            out_filters[i] = filters(model, shape)
            errors[i, epoch - 1] = metrics["train_error"]
            if on_epoch is not None:
                on_epoch(out_filters, errors)

        def progress(done: int, steps: int, desc: str, i: int = i) -> None:
            if job is not None:
                job.progress(i * steps + done, n_levels * steps, f"noise {level:.0%}: {desc}")

        fit(model, model.loss, x, fit_config, generator=torch.Generator(device=device).manual_seed(config.seed + 1),
            evaluate=lambda model=model: {"train_error": model.reconstruction_error(x)},
            on_epoch=epoch_done, progress=progress, check_stop=stop_hook(job),
            description=f"epochs of {total // n_levels}")
    return {"init": init, "filters": out_filters, "errors": errors}


def filters_figure(arrays: dict[str, np.ndarray], levels, noise_kind: str, n_show: int):
    grid = arrays["filters"][:, :n_show]
    labels = [f"{noise_kind} {level:.0%}" for level in levels]
    return image_grid(grid.reshape(-1, *grid.shape[2:]), n_cols=n_show, row_labels=labels, symmetric=True,
                      title=f"First-layer filters (rows of W), one row per training noise level, same start",
                      height=110 + 70 * len(levels))


def curves_figure(arrays: dict[str, np.ndarray], levels, noise_kind: str, epochs: int):
    curves = {f"{noise_kind} {level:.0%}": {"train": arrays["errors"][i]} for i, level in enumerate(levels)}
    return reconstruction_curves(curves, total_epochs=epochs, height=300,
                                 title="Reconstruction error of clean training images per epoch",
                                 y_label="cross-entropy per image")


class FiltersApp(App):
    """Controls (noise kind, levels, hidden units, epochs, filters shown) -> filter grid + curves."""

    def __init__(self, scale: str | None = None, device="auto", autostart: bool = True):
        self.setup(scale, device)
        base = PRESETS[self.scale]
        self.noise_kind = W.Dropdown(options=NOISE_KINDS, value=base.noise_kind, description="noise")
        self.levels = W.SelectMultiple(options=[("0%", 0.0), ("10%", 0.1), ("25%", 0.25), ("50%", 0.5)],
                                       value=base.levels, description="levels", rows=4)
        self.hidden = W.IntSlider(value=base.hidden, min=8, max=256, step=8, description="hidden units")
        self.epochs = W.IntSlider(value=base.epochs, min=1, max=20, description="epochs")
        self.n_show = W.IntSlider(value=min(12, base.hidden), min=4, max=base.hidden, description="filters shown",
                                  continuous_update=False)
        self.train_button = W.Button(description="train", icon="play", button_style="primary")
        self.runner = Runner("training")
        self.stats = W.HTML()
        self.arrays: dict[str, np.ndarray] | None = None
        self.shown_config = base
        empty = {"filters": np.zeros((len(base.levels), base.hidden, 8, 8), np.float32),
                 "errors": np.full((len(base.levels), base.epochs), np.nan, np.float32)}
        self.filter_fig = figure_widget(filters_figure(empty, base.levels, base.noise_kind, self.n_show.value))
        self.curve_fig = figure_widget(curves_figure(empty, base.levels, base.noise_kind, base.epochs))
        self.runner.figures = [self.filter_fig, self.curve_fig]
        self.train_button.on_click(lambda _: self.train())
        self.n_show.observe(lambda _: self.redraw(), names="value")
        controls = W.VBox([W.HBox([self.noise_kind, self.levels]), W.HBox([self.hidden, self.epochs]),
                           W.HBox([self.train_button, self.n_show])])
        intro = ("Each row shows the same hidden units after training with a different amount of input noise, "
                 "all from one random start. Look for noise turning grey speckle into strokes and blobs.")
        super().__init__([header("Denoising autoencoder filters across noise levels", intro, self.device), controls,
                          self.runner.widget, self.filter_fig, self.stats, self.curve_fig])
        if autostart:
            self.train()

    def config(self) -> FiltersConfig:
        levels = tuple(sorted(self.levels.value)) or (0.0,)
        return dataclasses.replace(PRESETS[self.scale], noise_kind=self.noise_kind.value, levels=levels,
                                   hidden=self.hidden.value, epochs=self.epochs.value)

    def train(self) -> None:
        """Show a cached run at once, else train in the background, redrawing every epoch."""
        config = self.config()
        self.n_show.max = config.hidden

        def task(job):
            return train_filters(config, self.device, job, on_epoch=lambda f, e: self.show(
                config, {"filters": f, "errors": e}))

        self.cached_or_start("filters", config, task, lambda arrays: self.show(config, arrays), label="training…",
                             cached_status="loaded from cache (trained before with these settings)")

    def show(self, config: FiltersConfig, arrays: dict[str, np.ndarray]) -> None:
        self.shown_config, self.arrays = config, arrays
        self.redraw()
        refresh_figure(self.curve_fig, curves_figure(arrays, config.levels, config.noise_kind, config.epochs))

    def redraw(self) -> None:
        """Redraw the filter grid from the stored weights (no training)."""
        if self.arrays is None:
            return
        config = self.shown_config
        n_show = min(self.n_show.value, config.hidden)
        refresh_figure(self.filter_fig, filters_figure(self.arrays, config.levels, config.noise_kind, n_show))
        if "init" in self.arrays:
            parts = []
            for level, f in zip(config.levels, self.arrays["filters"]):
                s = filter_stats(f, self.arrays["init"])
                parts.append(f"noise {level:.0%}: {s['near_uniform_share']:.0%} near-uniform, "
                             f"change from start {s['change']:.2f}")
            self.stats.value = ("<small>Filters that still look like their random start (near-uniform) and how far "
                                "training moved them (1 − cosine) — " + "; ".join(parts) + "</small>")
