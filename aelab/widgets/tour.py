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

It opens on the shipped result of `lecture-tour` (`results/full/lecture-tour/`, else the teach
tier's `results/teach/lecture-tour/`; `aelab.widgets.shipped`): its field and the paper vs
shipped tier vs your run table are drawn from the files, nothing trains; choosing a model,
moving a slider or pressing train trains your run ("try it yourself"), drawn beside it.

Your run can be paused, stepped and continued at epoch ends (`PlayControls`); the field of
every epoch is kept (`grid_epochs`, `data_epochs`, cached with the run), so the epoch scrubber
redraws any of them without training. The settings are in the page address (`UrlState`).
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from aelab.data.toy import grid_2d, toy_curve
from aelab.experiments import get
from aelab.experiments.lecture_demos import BOUNDS, TOUR_CLAIMS, TOUR_MODELS, TourConfig, run_tour
from aelab.measure.field import mean_arrow_length
from aelab.viz.results import metric_label
from aelab.viz.toy import tour_field
from aelab.widgets.base import TOGGLES, WIDE, App, PlayControls, Runner, figure_widget, header, refresh_figure
from aelab.widgets.experiment import job_context
from aelab.widgets.shipped import (caption_html, idle_status, open_shipped, run_caption_html, side_by_side,
                                   tier_table, try_it_html)
from aelab.widgets.urlstate import UrlState

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
        self.play = PlayControls(self.runner, self.redraw, redraw_every_s=REDRAW_EVERY_S,
                                 scrub_tooltip="show where your run sent each point after this epoch (the last: "
                                               "the latest; redraws from the fields kept every epoch, no training)")
        self.shown: tuple[TourConfig, dict[str, np.ndarray]] | None = None  # your run's config and arrays
        self.shipped = open_shipped(EXPERIMENT, self.runner)
        empty = {"data": toy_curve(base.n_points, 0), "grid": grid_2d(BOUNDS, base.grid)}
        empty["grid_reconstructed"], empty["data_reconstructed"] = empty["grid"], empty["data"]
        self.fig = figure_widget(self._figure(empty, base.model))
        self.runner.figures = [self.fig]
        # the settings in the page address; a reset's changes retrain once, not once per control
        self.url_state = UrlState({"model": self.model, "strength": self.strength, "hidden": self.hidden},
                                  on_change=lambda _: self.train())
        for control in (self.model, self.strength, self.hidden):
            control.observe(lambda _: None if self.url_state.applying else self.train(), names="value")
        intro = ("The red crosses are training points near a curve. Each autoencoder from the lecture is trained on "
                 "them; the green arrows show where it sends each point of a grid.")
        top = W.VBox([header("A tour of autoencoders on a 2-D toy set", intro, self.device), self.url_state.widget])
        play = W.HBox([self.play.buttons, self.play.scrubber])
        if self.shipped is None:
            super().__init__([top, self.model, W.HBox([self.strength, self.hidden]), play, self.explain,
                              self.runner.widget, self.fig])
        else:
            full = self.shipped
            self.full_model = full.config.get("model", base.model)
            self.train_button = W.Button(description="train", icon="play", button_style="primary",
                                         tooltip="train the chosen model with these settings (try it yourself)")
            self.train_button.on_click(lambda _: self.train())
            self.full_fig = figure_widget(self._figure(full.arrays, self.full_model))
            self.fig.show(self._figure(empty, base.model).update_layout(
                title_text="Your run appears here: choose a model or press train below"))
            self.full_explain = W.HTML(explain_html(self.full_model))
            self.run_caption = W.HTML(run_caption_html(self.scale, "not run yet: choose a model or press train below"))
            self.table = W.HTML(tier_table(full, None, scale=self.scale))
            super().__init__([top, side_by_side([W.HTML(caption_html(full, describe(full.config))), self.full_fig,
                                                 self.full_explain], [self.run_caption, self.fig, self.explain]),
                              self.table, try_it_html(self.scale, full.tier), self.model,
                              W.HBox([self.strength, self.hidden, self.train_button]), play, self.runner.widget])
        # a page opened from a link starts on its settings (a preheated kernel: redone when they arrive)
        self.url_state.from_page(on_late=lambda: self.train(train=self.shipped is None))
        if autostart:
            self.train(train=self.shipped is None)  # on a shipped result, opening trains nothing

    def config(self) -> TourConfig:
        """The experiment's preset for this scale with the controls' values."""
        return self.experiment.config(self.scale, model=self.model.value, strength=round(self.strength.value, 3),
                                      hidden=self.hidden.value)

    def _figure(self, arrays: dict[str, np.ndarray], model: str):
        fig = tour_field(arrays, model)
        if self.shipped is not None:  # half the page: a shorter subtitle, the square plot shrinks to fit
            pull = mean_arrow_length(arrays["grid"], arrays["grid_reconstructed"])
            fig.update_layout(title_text=f"{model}: where each point is sent, r(x) − x<br><sup>mean arrow length "
                                         f"{pull:.2f} (0 = the model copies its input)</sup>")
            fig.update_xaxes(constrain="domain")
            fig.update_yaxes(constrain="domain")
        return fig

    def train(self, train: bool = True) -> None:
        """Show a cached run at once, else train in the background (`train=False`: only a cached
        run is shown; the dashboard opened on a shipped result)."""
        config = self.config()
        self.explain.value = explain_html(config.model)

        def task(job):
            if self.shipped is not None:  # the table's last column and the caption follow the new run
                self.table.value = tier_table(self.shipped, None, scale=self.scale)
                self.run_caption.value = run_caption_html(self.scale, f"training: {describe(vars(config))}")
            kept: dict[str, np.ndarray] = {}  # the field after every epoch: the scrubber's snapshots

            def epoch_done(epoch: int, arrays: dict[str, np.ndarray]) -> None:
                for name in ("grid", "data"):
                    reconstructed = arrays[f"{name}_reconstructed"]
                    snaps = kept.setdefault(f"{name}_epochs",
                                            np.full((config.epochs, *reconstructed.shape), np.nan, np.float32))
                    snaps[epoch - 1] = reconstructed
                self.play.epoch_end(job, epoch, config.model, total=config.epochs,
                                    draw=lambda: self.show(config, {**arrays, **kept}))

            result = run_tour(config, job_context(job, self.device, self.scale), on_epoch=epoch_done)
            return {**result.arrays, **kept}, {"metrics": result.metrics}

        self.cached_or_start("tour", config, task, lambda arrays, info: self.show(config, arrays, info),
                             label=self.play.begin(f"training {config.model}…"), with_info=True, train=train,
                             idle_status=idle_status(self.shipped, "train") if self.shipped is not None else "")
        self.play.update()

    def show(self, config: TourConfig, arrays: dict[str, np.ndarray], info: dict | None = None) -> None:
        self.shown = (config, arrays)
        self.redraw()
        if info is not None and self.shipped is not None:
            self.table.value = tier_table(self.shipped, info.get("metrics") or {}, scale=self.scale,
                                          note=self._other_model_note(config.model))
            self.run_caption.value = run_caption_html(self.scale, describe(vars(config)))

    def redraw(self) -> None:
        """Draw your run's field: the latest, or the one kept after the scrubber's epoch."""
        if self.shown is None:
            return
        config, arrays = self.shown
        snaps = arrays.get("grid_epochs")
        trained = 0 if snaps is None else int(np.isfinite(snaps[:, 0, 0]).sum())  # epochs kept so far
        self.play.set_range(trained, trained > 0)
        k = self.play.chosen()
        if k is None:
            refresh_figure(self.fig, self._figure(arrays, config.model))
            return
        fig = self._figure({**arrays, "grid_reconstructed": snaps[k - 1],
                            "data_reconstructed": arrays["data_epochs"][k - 1]}, config.model)
        fig.update_layout(title_text=fig.layout.title.text.replace("<br>", f" · after epoch {k} of {config.epochs}<br>",
                                                                   1))
        refresh_figure(self.fig, fig)

    def _other_model_note(self, model: str) -> str:
        """Under the table, when your run trained another family than the shipped one."""
        if model == self.full_model:
            return ""
        claim = TOUR_CLAIMS.get(model)
        theirs = f"; for {model} the lab checks: {metric_label(claim)}" if claim else \
            f"; no yes/no claim is checked for {model}"
        return (f"Your run trained the {model} autoencoder: the rows above are the claims checked for the "
                f"{self.full_model} one, so a '✗' for your run may only say that it behaves differently{theirs}.")


def explain_html(model: str) -> str:
    return f"<p style='max-width:60em'><b>{model}</b>: {MODELS[model]}</p>"


def describe(config: dict) -> str:
    """'denoising, noise / λ 0.3, 32 hidden units, 120 epochs' from a lecture-tour config."""
    return (f"{config.get('model')}, noise / λ {config.get('strength')}, {config.get('hidden')} hidden units, "
            f"{config.get('epochs')} epochs")
