"""Dashboard: a tour of the lecture on a 2-D toy set, one autoencoder family at a time.

Runs the `lecture-tour` experiment (`aelab.experiments.lecture_demos.run_tour`: the model
recipes, built through the model registry, are its configs) with the model, strength and
hidden units chosen here as overrides of its preset. Points lie near a curve (a 1-D manifold
in the plane); the figure (`aelab.viz.toy.tour_field`) shows where the model sends every
point of a grid: arrows r(x) - x, redrawn while it trains. The lecture's map: an
undercomplete linear AE projects on the first principal component (PCA); a sparse AE keeps
few units on; a denoising AE pulls points back onto the manifold (the arrows point at the
curve); a contractive AE flattens the map around the data; a deep AE bends its
reconstruction along the curve.
"""

from __future__ import annotations

import time

import ipywidgets as W
import numpy as np

from aelab.data.toy import grid_2d, toy_curve
from aelab.experiments import get
from aelab.experiments.lecture_demos import BOUNDS, TOUR_MODELS, TourConfig, run_tour
from aelab.viz.toy import tour_field
from aelab.widgets.base import TOGGLES, WIDE, App, Runner, figure_widget, header, refresh_figure
from aelab.widgets.experiment import job_context

__all__ = ["TourApp", "toy_curve"]

EXPERIMENT = "lecture-tour"
REDRAW_EVERY_S = 0.4  # live redraws at most this often (the last epoch always)
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
assert set(MODELS) == set(TOUR_MODELS), "every model of the tour needs its explanation here"


class TourApp(App):
    """Pick a model and its strength; train on the toy curve; see the reconstruction field."""

    def __init__(self, scale: str | None = None, device="auto", autostart: bool = True):
        self.setup(scale, device)
        self.experiment = get(EXPERIMENT)
        base = self.experiment.config(self.scale)
        self.model = W.ToggleButtons(options=list(TOUR_MODELS), value=base.model, description="model",
                                     style=TOGGLES,
                                     tooltips=[f"train the {m} autoencoder" for m in TOUR_MODELS])
        self.strength = W.FloatSlider(value=base.strength, min=0.05, max=1.0, step=0.05, readout_format=".2f",
                                      description="noise / λ", continuous_update=False, style=WIDE,
                                      tooltip="noise std (denoising) or penalty weight λ (sparse, contractive); "
                                              "retrains")
        self.hidden = W.IntSlider(value=base.hidden, min=4, max=max(64, base.hidden), step=4,
                                  description="hidden units", continuous_update=False,
                                  style=WIDE, tooltip="code units of the autoencoder; retrains")
        self.explain = W.HTML()
        self.runner = Runner("training")
        empty = {"data": toy_curve(base.n_points, 0), "grid": grid_2d(BOUNDS, base.grid)}
        empty["grid_reconstructed"], empty["data_reconstructed"] = empty["grid"], empty["data"]
        self.fig = figure_widget(tour_field(empty, base.model))
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
        """The experiment's preset for this scale with the controls' values."""
        return self.experiment.config(self.scale, model=self.model.value, strength=round(self.strength.value, 3),
                                      hidden=self.hidden.value)

    def train(self) -> None:
        config = self.config()
        self.explain.value = f"<p style='max-width:60em'><b>{config.model}</b>: {MODELS[config.model]}</p>"

        def task(job):
            last = [0.0]

            def epoch_done(epoch: int, arrays: dict[str, np.ndarray]) -> None:
                job.epoch = epoch
                if time.monotonic() - last[0] > REDRAW_EVERY_S or epoch == config.epochs:
                    last[0] = time.monotonic()
                    self.show(config, arrays)

            return run_tour(config, job_context(job, self.device, self.scale), on_epoch=epoch_done).arrays

        self.cached_or_start("tour", config, task, lambda arrays: self.show(config, arrays),
                             label=f"training {config.model}…")

    def show(self, config: TourConfig, arrays: dict[str, np.ndarray]) -> None:
        refresh_figure(self.fig, tour_field(arrays, config.model))
