"""Dashboard: a tour of the lecture on a 2-D toy set, one autoencoder family at a time.

Points lie near a curve (a 1-D manifold in the plane). Each model is trained on them and
the figure shows where it sends every point of a grid: arrows r(x) - x. The lecture's
map: an undercomplete linear AE projects on the first principal component (PCA); a sparse
AE keeps few units on; a denoising AE pulls points back onto the manifold (the arrows
point at the curve); a contractive AE flattens the map around the data; a deep AE bends
its reconstruction along the curve.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import ipywidgets as W
import numpy as np
import torch


from aelab.models.dense import Autoencoder, DeepAutoencoder
from aelab.train.loop import FitConfig, fit
from aelab.viz.toy import grid_2d, mean_arrow_length, reconstruction_field
from aelab.widgets.base import App, Runner, figure_widget, header, refresh_figure, stop_hook

MODELS = {
    "undercomplete linear (PCA)": "1 linear hidden unit, squared error: the reconstruction is the projection on "
                                  "the first principal component, so all points land on one straight line.",
    "sparse": "more hidden units than inputs with an L1 penalty on the codes: few units are on for each point, "
              "so it cannot just copy its input.",
    "denoising": "trained to undo Gaussian noise: the arrows r(x) − x point back towards the curve from all around "
                 "it — the autoencoder learnt where the data lie (the lecture's 'manifold learning' slide).",
    "contractive": "penalises ‖∂h/∂x‖²: the code ignores moves away from the data, so points near the "
                   "curve are pulled onto it.",
    "deep denoising": "two hidden layers trained jointly with input noise: a more flexible pull that follows the bend "
                      "of the curve.",
}
BOUNDS = (-1.6, 1.6, -1.6, 1.6)


@dataclass(frozen=True)
class TourConfig:
    model: str = "denoising"
    strength: float = 0.3  # noise std (denoising) or penalty weight (sparse, contractive)
    hidden: int = 32
    n_points: int = 400
    epochs: int = 120
    lr: float = 1e-2
    seed: int = 0


PRESETS = {"teach": TourConfig(), "smoke": TourConfig(n_points=200, epochs=15)}


def toy_curve(n: int, seed: int = 0, noise: float = 0.05) -> np.ndarray:
    """n points near an arc of a sine curve in [-1.4, 1.4]^2 (float32, n x 2)."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(-1.0, 1.0, n)
    points = np.stack([1.3 * t, 0.9 * np.sin(2.4 * t)], axis=1)
    return (points + noise * rng.normal(size=points.shape)).astype(np.float32)


def build_model(config: TourConfig, generator: torch.Generator) -> torch.nn.Module:
    common = dict(encoder="tanh", decoder="linear", loss="squared", generator=generator)
    if config.model == "undercomplete linear (PCA)":
        return Autoencoder(2, 1, tied=False, encoder="linear", decoder="linear", loss="squared", noise=None,
                           generator=generator)
    if config.model == "sparse":
        return Autoencoder(2, config.hidden, tied=False, noise=None, sparsity_l1=config.strength * 0.1, **common)
    if config.model == "denoising":
        return Autoencoder(2, config.hidden, tied=False, noise=("gaussian", config.strength), **common)
    if config.model == "contractive":
        return Autoencoder(2, config.hidden, tied=False, noise=None, contractive=config.strength, **common)
    if config.model == "deep denoising":
        return DeepAutoencoder([2, config.hidden, config.hidden], tied=False,
                               noise=[("gaussian", config.strength), None], **common)
    raise ValueError(f"unknown model {config.model!r}; choose one of {', '.join(MODELS)}")


def train_toy(config: TourConfig, device, job=None, on_update=None) -> dict[str, np.ndarray]:
    """Train the chosen model on the toy curve; return data, grid and reconstructions."""
    data = toy_curve(config.n_points, config.seed)
    grid = grid_2d(BOUNDS, 17)
    model = build_model(config, torch.Generator().manual_seed(config.seed)).to(device)
    x = torch.from_numpy(data).to(device)
    g = torch.from_numpy(grid).to(device)
    last = [0.0]

    def snapshot() -> dict[str, np.ndarray]:
        with torch.no_grad():
            return {"data": data, "grid": grid, "grid_reconstructed": model(g).cpu().numpy(),
                    "data_reconstructed": model(x).cpu().numpy()}

    def epoch_done(epoch: int, metrics: dict) -> None:
        if on_update is not None and (time.monotonic() - last[0] > 0.4 or epoch == config.epochs):
            last[0] = time.monotonic()
            on_update(snapshot())

    fit(model, model.loss, x, FitConfig(epochs=config.epochs, batch_size=50, optimizer="rmsprop", lr=config.lr),
        generator=torch.Generator(device=device).manual_seed(config.seed + 1), on_epoch=epoch_done,
        progress=job.progress if job is not None else None, check_stop=stop_hook(job), description=config.model)
    return snapshot()


def tour_figure(arrays: dict[str, np.ndarray], model: str):
    pull = mean_arrow_length(arrays["grid"], arrays["grid_reconstructed"])
    return reconstruction_field(arrays["data"], arrays["grid"], arrays["grid_reconstructed"],
                                data_reconstructed=arrays["data_reconstructed"],
                                title=f"{model}: where each point is sent, r(x) − x (mean arrow {pull:.2f})")


class TourApp(App):
    """Pick a model and its strength; train on the toy curve; see the reconstruction field."""

    def __init__(self, scale: str | None = None, device="auto", autostart: bool = True):
        self.setup(scale, device)
        base = PRESETS[self.scale]
        self.model = W.ToggleButtons(options=list(MODELS), value=base.model, description="model",
                                     style={"button_width": "190px"})
        self.strength = W.FloatSlider(value=base.strength, min=0.05, max=1.0, step=0.05, readout_format=".2f",
                                      description="noise / λ", continuous_update=False)
        self.hidden = W.IntSlider(value=base.hidden, min=4, max=64, step=4, description="hidden units",
                                  continuous_update=False)
        self.explain = W.HTML()
        self.runner = Runner("training")
        empty = {"data": toy_curve(base.n_points, base.seed), "grid": grid_2d(BOUNDS, 17)}
        empty["grid_reconstructed"], empty["data_reconstructed"] = empty["grid"], empty["data"]
        self.fig = figure_widget(tour_figure(empty, base.model))
        self.runner.figures = [self.fig]
        for control in (self.model, self.strength, self.hidden):
            control.observe(lambda _: self.train(), names="value")
        intro = ("The red crosses are training points near a curve. Each autoencoder from the lecture is trained on "
                 "them; the green arrows show where it sends each point of a grid.")
        super().__init__([header("A tour of autoencoders on a 2-D toy set", intro, self.device),
                          self.model, W.HBox([self.strength, self.hidden]), self.explain, self.runner.widget,
                          self.fig])
        if autostart:
            self.train()

    def config(self) -> TourConfig:
        return dataclasses.replace(PRESETS[self.scale], model=self.model.value, strength=round(self.strength.value, 3),
                                   hidden=self.hidden.value)

    def train(self) -> None:
        config = self.config()
        self.explain.value = f"<p style='max-width:60em'><b>{config.model}</b>: {MODELS[config.model]}</p>"
        self.cached_or_start("tour", config,
                             lambda job: train_toy(config, self.device, job, lambda a: self.show(config, a)),
                             lambda arrays: self.show(config, arrays), label=f"training {config.model}…")

    def show(self, config: TourConfig, arrays: dict[str, np.ndarray]) -> None:
        refresh_figure(self.fig, tour_figure(arrays, config.model))
