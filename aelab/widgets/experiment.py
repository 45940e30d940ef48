"""Dashboards over registered experiments: run one at the lab's scale, show its figures.

`ExperimentApp("zhao-translation", controls={...}, views={...})` runs the experiment off the
UI thread with the chosen config fields, caches the result (metrics, paper numbers,
arrays) keyed by the full config, and shows one of its views (figure builders from
`aelab.viz` taking `(result, arrays)`), switched without recomputing. The paper-vs-run
table is always one of the views.

Settings that do not change training (`evaluation_fields`, e.g. 04's shift) are instant: the
app keeps the model it trained (`split=(train, evaluate)`, both from the experiment module)
and only re-evaluates it.

`job_context` is the bridge every dashboard uses to run an experiment's trainer: a
`RunContext` whose progress, log and stop are the background job's, and whose `on_epoch`
hook (if given) feeds the dashboard's live view.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go


from aelab.experiments import RunContext, get
from aelab.viz import figure_for_result, paper_comparison_html
from aelab.widgets.base import TOGGLES, WIDE, App, Job, Runner, StaticFigure, friendly_error, header

# a view draws a stored result: a plotly figure, or an HTML string (the paper-vs-run table)
View = Callable[[dict[str, Any], Mapping[str, np.ndarray]], "go.Figure | str"]


def job_context(job: Job, device: Any, scale: str, *,
                on_epoch: Callable[[str, int, dict[str, Any]], None] | None = None) -> RunContext:
    """The `RunContext` of an experiment run inside a dashboard's background job (seed 0)."""
    ctx = RunContext(device=device, seed=0, scale=scale, progress=job.progress, log=job.log, stop=job.stop)
    if on_epoch is not None:
        ctx.on_epoch = on_epoch
    return ctx


def _table(result: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> str:
    return paper_comparison_html(result.get("metrics", {}), result.get("paper", {}),
                                 title=f"{result.get('reproduces', '')}: paper vs this run",
                                 scale=result.get("scale", "teach"))


class ExperimentApp(App):
    """Controls set config fields of experiment `name`; views draw its result."""

    def __init__(self, name: str, *, title: str, intro: str = "", controls: Mapping[str, W.ValueWidget] | None = None,
                 views: Mapping[str, View] | None = None, scale: str | None = None, device="auto",
                 autostart: bool = True, split: tuple[Callable, Callable] | None = None,
                 evaluation_fields: tuple[str, ...] = ()):
        self.experiment = get(name)
        self.setup(scale, device)
        # (train(config, ctx) -> state, evaluate(*state, config) -> Result): re-evaluation without training
        self.split = split
        self.evaluation_fields = tuple(evaluation_fields)
        self._trained: tuple[Any, Any] | None = None  # (training settings, the state `train` returned)
        self.controls = dict(controls or {})
        preset = self.experiment.config(self.scale)
        for field, control in self.controls.items():  # controls open on the preset's values
            control.value = getattr(preset, field)
        self.views: dict[str, View] = {**(views or {"result": figure_for_result}), "paper vs this run": _table}
        self.view = W.ToggleButtons(options=list(self.views), description="show", style=TOGGLES,
                                    tooltips=[f"show {v} (no recomputation)" for v in self.views])
        self.run_button = W.Button(description="run", icon="play", button_style="primary",
                                   tooltip="run the experiment with these settings (a cached run opens at once)")
        self.runner = Runner("running")
        self.notes = W.HTML()
        self.result: dict[str, Any] | None = None
        self.arrays: dict[str, np.ndarray] = {}
        self._shown_view: str | None = None
        self.fig = StaticFigure(go.Figure(layout=dict(title=f"{self.experiment.title}: running…", height=420,
                                                      template="plotly_white")))
        self.runner.figures = [self.fig]
        self.run_button.on_click(lambda _: self.run())
        self.view.observe(lambda _: self.redraw(), names="value")
        row = list(self.controls.values()) + [self.run_button]
        super().__init__([header(title, intro, self.device), W.HBox(row), self.view, self.runner.widget, self.fig,
                          self.notes])
        if autostart:
            self.run()

    def config(self):
        return self.experiment.config(self.scale, **{k: w.value for k, w in self.controls.items()})

    def run(self) -> None:
        try:
            config = self.config()
        except (ValueError, KeyError) as err:  # a setting the experiment refuses: say so in the app
            self.runner.show_error(friendly_error(err))
            return
        key = {"scale": self.scale, "config": dataclasses.asdict(config)}
        kind = f"experiment-{self.experiment.name}"
        cached = self.cache.load(kind, key)
        if cached is not None:
            self.show(cached[1]["result"], cached[0])
            self.runner.show_cached("loaded from cache (run before with these settings)")
            return

        training = {k: v for k, v in dataclasses.asdict(config).items() if k not in self.evaluation_fields}

        def task(job):
            ctx = job_context(job, self.device, self.scale)
            if self.split is None:
                return self.experiment.run(config, ctx)
            train, evaluate = self.split
            if self._trained is None or self._trained[0] != training:
                self._trained = None
                self._trained = (training, train(config, ctx))
            else:
                job.progress(0, 1, "re-evaluating the trained model (no training)")
            return evaluate(*self._trained[1], config)

        def done(outcome):
            result = {"experiment": self.experiment.name, "title": self.experiment.title,
                      "reproduces": self.experiment.paper, "scale": self.scale, "config": dataclasses.asdict(config),
                      "metrics": outcome.metrics, "paper": outcome.paper, "notes": outcome.notes}
            arrays = {k: np.asarray(v) for k, v in outcome.arrays.items()}
            self.cache.save(kind, key, arrays, {"result": result})
            self.show(result, arrays)

        quick = self._trained is not None and self._trained[0] == training
        self.runner.start(task, done, label="re-evaluating the trained model (no training)…" if quick
                          else f"running {self.experiment.name} ({self.scale} size)…")

    def show(self, result: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.result, self.arrays = result, dict(arrays)
        self.notes.value = f"<p style='max-width:60em;color:#555'>{result.get('notes', '')}</p>"
        self.redraw()

    def redraw(self) -> None:
        """Draw the chosen view of the stored result (no recomputation): a figure, or the
        paper-vs-run HTML table. Each is drawn whole, so nothing of another view stays behind."""
        if self.result is None:
            return
        view = self.views[self.view.value](self.result, self.arrays)
        if isinstance(view, str):
            self.fig.show_html(view)
        else:
            self.fig.show(view)
        self._shown_view = self.view.value


def WhatWhereApp(**kwargs) -> ExperimentApp:
    """Zhao et al. Figs. 3-4: 'what' and 'where' of digits shifted by +-shift pixels."""
    from aelab.experiments.zhao import TRANSLATION_EVALUATION_FIELDS, evaluate_translation, train_translation
    from aelab.viz.whatwhere import translation_reconstructions

    shift = W.IntSlider(min=1, max=5, description="shift (px)", continuous_update=False, style=WIDE,
                        tooltip="how many pixels the test digits are moved left/right and up/down "
                                "(re-evaluates the trained model at once: training does not depend on it)")
    views = {"what / where (Fig. 3)": figure_for_result,
             "reconstructions (Fig. 4)": lambda result, arrays: translation_reconstructions(
                 arrays, result["config"]["shift"])}
    intro = ("A stacked what-where autoencoder pools each feature plane to one value ('what') and the position of "
             "its maximum ('where'). Digits are shifted left/right and up/down: the 'where' should move with the "
             "shift while the 'what' stays put.")
    app = ExperimentApp("zhao-translation", title="What and where of shifted digits", intro=intro,
                        controls={"shift": shift}, views=views, split=(train_translation, evaluate_translation),
                        evaluation_fields=TRANSLATION_EVALUATION_FIELDS, **kwargs)
    shift.observe(lambda _: app.run(), names="value")  # instant: no run button needed for it
    return app


def GsnApp(**kwargs) -> ExperimentApp:
    """Zhou et al. Table I / Fig. 2: GSN sampling chains of deep DAEs, layer-wise vs joint."""
    intro = ("A denoising autoencoder defines a Markov chain: corrupt, reconstruct, sample, repeat. Its samples "
             "should look like digits and move between classes. The Parzen log-likelihood of the samples is shown "
             "beside Table I's (a biased estimate that favours rigid samples: read it with care).")
    noise = W.FloatSlider(min=0.1, max=0.6, step=0.05, description="noise σ", continuous_update=False, style=WIDE,
                          tooltip="std of the Gaussian noise used to train the DAEs and to corrupt each chain step")
    return ExperimentApp("zhou-parzen", title="Sampling from denoising autoencoders (GSN chains)", intro=intro,
                         controls={"noise": noise}, views={"chains (Fig. 2)": figure_for_result}, **kwargs)


def InversionApp(**kwargs) -> ExperimentApp:
    """Zhang et al. Figs. 4-5: the input reconstructed from every layer of a classifier."""
    from aelab.viz.inversion import inversion_grid, layer_errors

    views = {"images from every layer (Figs. 4-5)": lambda result, arrays: inversion_grid(
                 arrays["images"], arrays["fixed"], arrays["known"], [str(n) for n in arrays["layers"]]),
             "error per layer": lambda result, arrays: layer_errors(
                 [str(n) for n in arrays["layers"]], arrays["l2_fixed"], arrays["l2_known"])}
    intro = ("A small VGG-style classifier is trained on digits; then a decoder learns to turn each layer's "
             "activations back into the image. 'Fixed switches' unpool every value into the top-left corner of its "
             "pool window; 'known switches' put it back where the encoder's max was. The deeper the layer, the more "
             "the fixed-switch images blur, while the known-switch ones stay sharp: the layers keep almost all the "
             "information, except where things were.")
    return ExperimentApp("zhang-inversion", title="Inverting every layer of a classifier", intro=intro,
                         views=views, **kwargs)
