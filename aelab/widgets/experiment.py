"""Dashboards over registered experiments: run one at the lab's scale, show its figures.

`ExperimentApp("zhao-translation", controls={...}, views={...})` runs the experiment off the
UI thread with the chosen config fields, caches the result (metrics, paper numbers,
arrays) keyed by the full config, and shows one of its views (figure builders from
`aelab.viz` taking `(result, arrays)`), switched without recomputing. The paper-vs-run
table is always one of the views.

Settings that do not change training (`evaluation_fields`, e.g. 04's shift) are instant: the
app keeps the model it trained (`split=(train, evaluate)`, both from the experiment module)
and only re-evaluates it.

When the experiment has a shipped full-tier result (`aelab.widgets.shipped`), the app opens on
it: the chosen view of the full tier, drawn from its files at once, and the paper vs full tier
vs your run table; nothing is trained on opening (a run cached before is shown beside it).
"Try it yourself" (the controls and the run button) trains at the lab's size and draws that
run in the right-hand column, with the same view. Without one, the app is as it always was:
it runs at once and the table is one of the views.

`job_context` is the bridge every dashboard uses to run an experiment's trainer: a
`RunContext` whose progress, log and stop are the background job's, and whose `on_epoch`
hook (if given) feeds the dashboard's live view.

Play / pause / step: the run's `on_epoch` is an `EpochRecord`'s hook, so training pauses at any
stage's epoch end and the record (the loss at every epoch end, cached with the result) is drawn
live; its scrubber shows the numbers of any epoch end. A stage without epochs (a classifier
trained without the loop's hooks, an evaluation) runs to its end before a pause takes hold; a
re-evaluation trains nothing and says so in its status. The controls and the view are in the
page address (`UrlState`); a setting that only re-evaluates reruns at once, also after a reset.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go


from aelab.experiments import RunContext, get
from aelab.viz import figure_for_result, paper_comparison_html
from aelab.viz.results import wrap_title
from aelab.widgets.base import TOGGLES, WIDE, App, EpochRecord, Job, Runner, FigureStack, friendly_error, header
from aelab.widgets.shipped import (caption_html, open_shipped, run_caption_html, side_by_side, tier_table,
                                   try_it_html)
from aelab.widgets.urlstate import UrlState

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
        self.runner = Runner("running")
        self.shipped = open_shipped(name, self.runner)
        # with a shipped full tier the comparison table is always on the page, not a view
        table_view = {} if self.shipped is not None else {"paper vs this run": _table}
        self.views: dict[str, View] = {**(views or {"result": figure_for_result}), **table_view}
        self.view = W.ToggleButtons(options=list(self.views), description="show", style=TOGGLES,
                                    tooltips=[f"show {v} (no recomputation)" for v in self.views])
        if len(self.views) == 1:  # nothing to choose between
            self.view.layout.display = "none"
        self.run_button = W.Button(description="run", icon="play", button_style="primary",
                                   tooltip="run the experiment with these settings (a cached run opens at once)")
        self.notes = W.HTML()
        self.result: dict[str, Any] | None = None
        self.arrays: dict[str, np.ndarray] = {}
        self._shown_view: str | None = None
        waiting = "press run to train it" if self.shipped is not None else "running…"
        waiting_fig = go.Figure(layout=dict(title=f"{self.experiment.title}: {waiting}", height=420,
                                            template="plotly_white"))
        self.fig = FigureStack(waiting_fig if self.shipped is None else wrap_title(waiting_fig), keys=list(self.views))
        self._shown = 0  # counts the results shown: a view drawn from the current one is kept (FigureStack)
        self.record = EpochRecord(self.runner)  # every epoch end of a run: live loss, scrubber, pause / step
        self.play = self.record.play
        self.runner.figures = [self.fig, self.record.fig]
        self.run_button.on_click(lambda _: self.run())
        self.view.observe(lambda _: self.redraw(), names="value")
        # a setting that only re-evaluates the trained model reruns at once (04's shift): no run button needed
        for field in self.evaluation_fields:
            if field in self.controls:
                self.controls[field].observe(lambda _: None if self.url_state.applying else self.run(), names="value")
        # the settings in the page address; after a link's or a reset's changes, re-evaluation reruns once
        self.url_state = UrlState({**self.controls, "view": self.view}, on_change=self._settings_changed)
        row = list(self.controls.values()) + [self.run_button, self.play.buttons]
        top = W.VBox([header(title, intro, self.device), self.url_state.widget])
        if self.shipped is None:
            super().__init__([top, W.HBox(row), self.view, self.runner.widget, self.fig, self.notes,
                              self.record.widget])
        else:
            self.full_fig = FigureStack(keys=list(self.views))
            self.full_caption = W.HTML(caption_html(self.shipped, "drawn from its saved files, nothing is trained "
                                                                  "on opening"))
            self.run_caption = W.HTML(run_caption_html(self.scale, "not run yet: press run below"))
            self.table = W.HTML(tier_table(self.shipped, None, scale=self.scale))
            self.notes.value = self._notes_html(self.shipped.record.get("notes", ""))
            self._draw_full()
            super().__init__([top, self.view,
                              side_by_side([self.full_caption, self.full_fig], [self.run_caption, self.fig]),
                              self.table, try_it_html(self.scale, self.shipped.tier), W.HBox(row), self.runner.widget, self.notes,
                              self.record.widget])
        # a page opened from a link starts on its settings (a preheated kernel: redone when they arrive)
        self.url_state.from_page(on_late=lambda: self.run(train=self.shipped is None))
        if autostart:
            # with a shipped result, opening trains nothing: only a run cached before is shown
            self.run(train=self.shipped is None)

    @staticmethod
    def _notes_html(notes: str) -> str:
        import html

        return f"<p style='max-width:60em;color:#555'>{html.escape(notes)}</p>" if notes else ""

    def config(self):
        return self.experiment.config(self.scale, **{k: w.value for k, w in self.controls.items()})

    def _settings_changed(self, names: set[str]) -> None:
        """After a link or a reset: a setting that only re-evaluates reruns (as when it is moved)."""
        if names & set(self.evaluation_fields):
            self.run()

    def run(self, train: bool = True) -> None:
        """Show the run cached for the controls' settings, else (when `train`) run it off the UI thread."""
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
        if not train:
            self.runner.status.value = f"showing the shipped {self.shipped.tier}; press run to try it yourself"
            return

        training = {k: v for k, v in dataclasses.asdict(config).items() if k not in self.evaluation_fields}

        trained = self._trained if self._trained is not None and self._trained[0] == training else None
        quick = trained is not None

        def task(job):
            if quick:  # the trained model's record stays the one shown
                self.record.load(trained[2])
                job.progress(0, 1, "re-evaluating the trained model (no training)")
                return self.split[1](*trained[1], config)
            ctx = job_context(job, self.device, self.scale, on_epoch=self.record.hook(job))
            if self.split is None:
                return self.experiment.run(config, ctx)
            self._trained = None
            self._trained = (training, self.split[0](config, ctx), self.record.history)
            return self.split[1](*self._trained[1], config)

        def done(outcome):
            result = {"experiment": self.experiment.name, "title": self.experiment.title,
                      "reproduces": self.experiment.paper, "scale": self.scale, "config": dataclasses.asdict(config),
                      "metrics": outcome.metrics, "paper": outcome.paper, "notes": outcome.notes,
                      "history": self.record.history}  # every epoch end's metrics (the scrubber's)
            arrays = {k: np.asarray(v) for k, v in outcome.arrays.items()}
            self.cache.save(kind, key, arrays, {"result": result})
            self.show(result, arrays)

        self.runner.start(task, done, label=self.play.begin(
            "re-evaluating the trained model…", unpausable="no training, so no epoch") if quick
            else self.play.begin(f"running {self.experiment.name} ({self.scale} size)…"))
        self.play.update()

    def show(self, result: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.result, self.arrays = result, dict(arrays)
        self._shown += 1
        self.record.load(result.get("history"))  # None: a run cached before records were kept
        self.notes.value = self._notes_html(result.get("notes", ""))
        if self.shipped is not None:
            self.table.value = tier_table(self.shipped, result.get("metrics", {}), scale=self.scale)
            self.run_caption.value = run_caption_html(self.scale, _settings_text(self.controls, result))
        self.redraw()

    def redraw(self) -> None:
        """Draw the chosen view of the stored result (no recomputation): a figure, or the
        paper-vs-run HTML table. Each is drawn whole, so nothing of another view stays behind.
        With a shipped full tier, its picture is drawn with the same view. A view drawn before
        from the same result is only shown again (`FigureStack`)."""
        self._draw_full()
        if self.result is None:
            return
        _draw(self.fig, self.view.value, self.views[self.view.value], self.result, self.arrays, stamp=self._shown,
              wrap=self.shipped is not None)
        self._shown_view = self.view.value

    def _draw_full(self) -> None:
        if self.shipped is not None:
            _draw(self.full_fig, self.view.value, self.views[self.view.value], self.shipped.record,
                  self.shipped.arrays, stamp="shipped", wrap=True, shipped=True)


def _draw(figure: FigureStack, key: str, view: View, result: dict[str, Any], arrays: Mapping[str, np.ndarray],
          stamp: Any, wrap: bool = False, shipped: bool = False) -> None:
    """Draw view `key` of a result (identified by `stamp`) into `figure` (a figure or an HTML
    table), or only show it again when it was drawn from the same result. `wrap`: the figure
    fills half the page, so its title is wrapped over lines. `shipped`: a view that cannot draw
    the shipped result (files of another version, without an array it needs) says so in place
    instead of failing the dashboard."""
    import html

    if figure.reuse(key, stamp):
        return
    try:
        drawn = view(result, arrays)
    except Exception as err:
        if not shipped:
            raise
        figure.show_html(f"<div class='aelab-error' style='color:#b00020'>Could not finish drawing this view from the "
                         f"shipped result: {html.escape(friendly_error(err))}</div>", key=key, stamp=stamp)
        return
    if isinstance(drawn, str):
        figure.show_html(drawn, key=key, stamp=stamp)
        return
    figure.show(wrap_title(drawn) if wrap else drawn, key=key, stamp=stamp)


def _settings_text(controls: Mapping[str, W.ValueWidget], result: dict[str, Any]) -> str:
    """'noise = 0.3' for the controls' fields of a run's config."""
    config = result.get("config", {})
    def text(value: Any) -> str:
        return f"{value:g}" if isinstance(value, float) else str(value)

    return ", ".join(f"{field} = {text(config[field])}" for field in controls if field in config) or "done"


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
    return ExperimentApp("zhao-translation", title="What and where of shifted digits", intro=intro,
                         controls={"shift": shift}, views=views, split=(train_translation, evaluate_translation),
                         evaluation_fields=TRANSLATION_EVALUATION_FIELDS, **kwargs)


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
