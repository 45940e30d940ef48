"""Dashboard: joint vs layer-wise training of a deep denoising autoencoder (Zhou et al. Fig. 3).

Both schemes start from the same random weights and see the same number of epochs in
total. Curves are the reconstruction error of the whole stack measured in input space
(for layer-wise training: through the layers trained so far), on training and test images,
redrawn as epochs finish.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import ipywidgets as W
import numpy as np
import torch


from aelab.models.dense import DeepAutoencoder
from aelab.train.loop import FitConfig
from aelab.train.schemes import train_scheme
from aelab.viz.curves import final_errors, reconstruction_curves
from aelab.widgets.base import App, Runner, figure_widget, header, load_flat, refresh_figure, stop_hook

SCHEME_NAMES = {"L": "layer-wise", "J": "joint"}


@dataclass(frozen=True)
class SchemesConfig:
    dataset: str = "mnist"
    n_train: int = 2000
    n_test: int = 500
    sizes: tuple[int, ...] = (784, 128, 64)
    noise: float = 0.25
    epochs_per_layer: int = 3
    seed: int = 0


PRESETS = {"teach": SchemesConfig(),
           "smoke": SchemesConfig(dataset="digits", n_train=300, n_test=100, sizes=(64, 24, 12), epochs_per_layer=1)}


def empty_curves(epochs: int) -> dict[str, np.ndarray]:
    """`{L,J}_{train,test}`: NaN (not yet measured) for each of `epochs` epochs."""
    return {f"{s}_{split}": np.full(epochs, np.nan, np.float32) for s in SCHEME_NAMES for split in ("train", "test")}


def train_schemes(config: SchemesConfig, device, job=None, on_epoch=None) -> dict[str, np.ndarray]:
    """Train the stack with scheme L (epochs_per_layer per layer) and J (the same total) from one
    initialisation; arrays `{L,J}_{train,test}` hold the input-space error per epoch."""
    x, _, _ = load_flat(config.dataset, "train", config.n_train, device, seed=config.seed)
    xt, _, _ = load_flat(config.dataset, "test", config.n_test, device, seed=config.seed)
    depth = len(config.sizes) - 1
    total = config.epochs_per_layer * depth
    arrays = empty_curves(total)

    for i, scheme in enumerate(SCHEME_NAMES):
        model = DeepAutoencoder(list(config.sizes), noise=("masking", config.noise),
                                generator=torch.Generator().manual_seed(config.seed)).to(device)
        epochs = config.epochs_per_layer if scheme == "L" else total
        fit_config = FitConfig(epochs=epochs, batch_size=20, optimizer="sgd", lr=0.1)

        def epoch_done(epoch: int, metrics: dict, scheme: str = scheme) -> None:
            arrays[f"{scheme}_train"][epoch - 1] = metrics["train_reconstruction_input"]
            arrays[f"{scheme}_test"][epoch - 1] = metrics["test_reconstruction_input"]
            if on_epoch is not None:
                on_epoch(arrays)

        def progress(done: int, steps: int, desc: str, i: int = i) -> None:
            if job is not None:
                job.progress(i * steps + done, 2 * steps, f"{SCHEME_NAMES[scheme]}: {desc}")

        train_scheme(scheme, model, x, fit_config, x_test=xt, generator=torch.Generator(device=device).manual_seed(
            config.seed + 1), on_epoch=epoch_done, progress=progress, check_stop=stop_hook(job))
    return arrays


def schemes_figure(arrays: dict[str, np.ndarray], log_y: bool, splits=("train", "test")):
    curves = {SCHEME_NAMES[s]: {split: arrays[f"{s}_{split}"] for split in splits} for s in SCHEME_NAMES}
    return reconstruction_curves(curves, log_y=log_y, total_epochs=len(arrays["L_train"]),
                                 y_label="cross-entropy per image",
                                 title="Deep denoising autoencoder: layer-wise vs joint training, same epochs")


class SchemesApp(App):
    """Train L and J on the same data and budget; compare their curves (log scale, splits)."""

    def __init__(self, scale: str | None = None, device="auto", autostart: bool = True):
        self.setup(scale, device)
        base = PRESETS[self.scale]
        self.noise = W.FloatSlider(value=base.noise, min=0.0, max=0.5, step=0.05, description="masking noise",
                                   readout_format=".0%", continuous_update=False)
        self.epochs = W.IntSlider(value=base.epochs_per_layer, min=1, max=10, description="epochs/layer",
                                  continuous_update=False)
        self.train_button = W.Button(description="train both", icon="play", button_style="primary")
        self.log_y = W.Checkbox(value=False, description="log scale")
        self.splits = W.ToggleButtons(options=[("train and test", ("train", "test")), ("train", ("train",)),
                                               ("test", ("test",))], description="show")
        self.summary = W.HTML()
        self.runner = Runner("training")
        self.arrays: dict[str, np.ndarray] | None = None
        total = base.epochs_per_layer * (len(base.sizes) - 1)
        self.fig = figure_widget(schemes_figure(empty_curves(total), False))
        self.runner.figures = [self.fig]
        self.train_button.on_click(lambda _: self.train())
        self.log_y.observe(lambda _: self.redraw(), names="value")
        self.splits.observe(lambda _: self.redraw(), names="value")
        intro = ("Layer-wise training (L) trains one layer at a time on the codes of the layer below; joint training "
                 "(J) trains all layers together against the input (Zhou et al., eq. 8). Zhou et al. found joint "
                 "training reaches a lower reconstruction error on both training and test data (their Fig. 3).")
        super().__init__([header("Joint vs layer-wise training", intro, self.device),
                          W.HBox([self.noise, self.epochs, self.train_button]), W.HBox([self.log_y, self.splits]),
                          self.runner.widget, self.fig, self.summary])
        if autostart:
            self.train()

    def config(self) -> SchemesConfig:
        return dataclasses.replace(PRESETS[self.scale], noise=round(self.noise.value, 3),
                                   epochs_per_layer=self.epochs.value)

    def train(self) -> None:
        config = self.config()
        self.cached_or_start("schemes", config, lambda job: train_schemes(config, self.device, job, on_epoch=self.show),
                             self.show, label="training…")

    def show(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = {k: np.array(v) for k, v in arrays.items()}
        self.redraw()

    def redraw(self) -> None:
        if self.arrays is None:
            return
        refresh_figure(self.fig, schemes_figure(self.arrays, self.log_y.value, self.splits.value))
        last = final_errors({s: {"test": self.arrays[f"{s}_test"]} for s in SCHEME_NAMES})
        if all(np.isfinite(last[s]["test"]) for s in SCHEME_NAMES):
            lower = "joint" if last["J"]["test"] < last["L"]["test"] else "layer-wise"
            self.summary.value = (f"<p>Final test error: layer-wise {last['L']['test']:.2f}, joint "
                                  f"{last['J']['test']:.2f} — {lower} is lower in this run "
                                  f"(paper: joint lower).</p>")
