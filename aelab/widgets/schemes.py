"""Dashboard: joint vs layer-wise training of a deep denoising autoencoder (Zhou et al. Fig. 3).

Runs the `zhou-curves` experiment (`aelab.experiments.zhou.run_curves`) at the lab's scale,
with the noise and epochs chosen here as overrides of its preset. Both schemes start from
the same random weights. Curves are the reconstruction error of the whole stack measured in
input space (for layer-wise training: through the layers trained so far), on training and
test images, redrawn as epochs finish (the experiment's `on_epoch` hook) with
`aelab.viz.dense.curves_figure`: one colour per scheme, solid train, dashed test.

Training can be paused, stepped and continued at epoch ends (`PlayControls`). The run trains
layer-wise first, then joint, so the run after its k-th epoch is the curves cut at k: the
epoch scrubber redraws that from the curves themselves (also for a cached run). The settings
are in the page address (`UrlState`).
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from aelab.experiments import get
from aelab.experiments.zhou import CurvesConfig, run_curves
from aelab.viz.curves import final_errors
from aelab.viz.dense import SCHEME_NAMES, curves_figure
from aelab.viz.results import wrap_title
from aelab.widgets.base import TOGGLES, WIDE, App, FigureStack, PlayControls, Runner, header
from aelab.widgets.experiment import job_context
from aelab.widgets.shipped import caption_html, open_shipped, run_caption_html, side_by_side, tier_table, try_it_html
from aelab.widgets.urlstate import UrlState

EXPERIMENT = "zhou-curves"
SCHEMES = ("L", "J")
TITLE = "Deep denoising autoencoder: layer-wise vs joint training from one start"


def empty_curves(config: CurvesConfig) -> dict[str, np.ndarray]:
    """`{train,test}_{L,J}`: NaN (not yet measured) for each epoch of each scheme (layer-wise:
    `epochs` per layer, layer after layer; joint: `joint_epochs`)."""
    epochs = {"L": config.epochs * config.depth, "J": config.joint_epochs}
    return {f"{split}_{s}": np.full(epochs[s], np.nan, np.float32) for s in SCHEMES for split in ("train", "test")}


def summary_html(arrays: dict[str, np.ndarray], who: str = "this run") -> str:
    """The final test errors of both schemes and which is lower, once both are complete ('' before)."""
    if not all(f"test_{s}" in arrays and len(arrays[f"test_{s}"]) and np.isfinite(arrays[f"test_{s}"]).all()
               for s in SCHEMES):
        return ""
    last = final_errors({s: {"test": arrays[f"test_{s}"]} for s in SCHEMES})
    lower = SCHEME_NAMES["J"] if last["J"]["test"] < last["L"]["test"] else SCHEME_NAMES["L"]
    return (f"<p>Final test error: layer-wise {last['L']['test']:.2f}, joint {last['J']['test']:.2f} — {lower} is "
            f"lower in {who} (paper: joint lower).<br><span style='color:#555'>Error = cross-entropy between a "
            f"clean test image and the stack's reconstruction of it, per image (lower is better).</span></p>")


def curves_until(arrays: dict[str, np.ndarray], k: int) -> dict[str, np.ndarray]:
    """The curves as they were after the run's k-th epoch: layer-wise epochs come first, then joint."""
    trained = {"L": min(k, len(arrays["test_L"])), "J": max(0, k - len(arrays["test_L"]))}
    cut = dict(arrays)
    for scheme in SCHEMES:
        for split in ("train", "test"):
            curve = arrays[f"{split}_{scheme}"]
            cut[f"{split}_{scheme}"] = np.where(np.arange(len(curve)) < trained[scheme], curve, np.nan)
    return cut


def describe(config: dict) -> str:
    """'noise σ 0.3, 200 epochs per layer, 200 joint epochs' from a zhou-curves config."""
    return (f"noise σ {config.get('noise')}, {config.get('epochs')} epochs per layer, "
            f"{config.get('joint_epochs')} joint epochs")


class SchemesApp(App):
    """Train L and J on the same data from one start; compare their curves (log scale, splits)."""

    def __init__(self, scale: str | None = None, device="auto", autostart: bool = True):
        self.setup(scale, device)
        self.experiment = get(EXPERIMENT)
        base = self.experiment.config(self.scale)
        self.noise = W.FloatSlider(value=base.noise, min=0.05, max=0.9, step=0.05, description="noise σ",
                                   readout_format=".2f", continuous_update=False, style=WIDE,
                                   tooltip="std of the Gaussian noise added at every layer's input")
        self.epochs = W.IntSlider(value=base.epochs, min=1, max=max(10, base.epochs), description="epochs per layer",
                                  continuous_update=False, style=WIDE,
                                  tooltip="layer-wise training: epochs spent on each layer")
        self.joint_epochs = W.IntSlider(value=base.joint_epochs, min=1, max=max(20, base.joint_epochs),
                                        description="joint epochs", continuous_update=False, style=WIDE,
                                        tooltip="joint training: epochs over the whole stack")
        self.train_button = W.Button(description="train both", icon="play", button_style="primary",
                                     tooltip="train layer-wise and joint from the same start with these settings")
        self.log_y = W.Checkbox(value=False, description="log scale", style=WIDE, indent=False,
                                tooltip="logarithmic error axis: shows small late differences (redraws only)")
        self.splits = W.ToggleButtons(options=[("train and test", ("train", "test")), ("train", ("train",)),
                                               ("test", ("test",))], description="show", style=TOGGLES,
                                      tooltips=["both splits (solid train, dashed test)", "training images only",
                                                "test images only"])
        self.summary = W.HTML()
        self.runner = Runner("training")
        self.play = PlayControls(self.runner, self.redraw,
                                 scrub_tooltip="show your run's curves as they were after this epoch (layer-wise "
                                               "epochs first, then joint; the last: the whole run); no training")
        self.shipped = open_shipped(EXPERIMENT, self.runner)
        self.arrays: dict[str, np.ndarray] | None = None
        self.fig = FigureStack(self._figure(empty_curves(base)), keys=self._views())
        self._shown = 0  # counts the curves shown: a drawing of the current ones is kept (FigureStack)
        self.runner.figures = [self.fig]
        self.train_button.on_click(lambda _: self.train())
        self.log_y.observe(lambda _: self.redraw(), names="value")
        self.splits.observe(lambda _: self.redraw(), names="value")
        intro = ("Layer-wise training (L) trains one layer at a time on the codes of the layer below; joint training "
                 "(J) trains all layers together against the input, with Gaussian noise at every layer's input "
                 "(Zhou et al., eq. 8). Zhou et al. found joint training reaches a lower reconstruction error on "
                 "both training and test data (their Fig. 3).")
        self.url_state = UrlState({"noise": self.noise, "epochs": self.epochs, "joint": self.joint_epochs,
                                   "log": self.log_y, "show": self.splits})
        top = W.VBox([header("Joint vs layer-wise training", intro, self.device), self.url_state.widget])
        training = W.VBox([W.HBox([self.noise, self.epochs, self.joint_epochs]),
                           W.HBox([self.train_button, self.play.buttons, self.play.scrubber])])
        if self.shipped is None:
            super().__init__([top, training, W.HBox([self.log_y, self.splits]), self.runner.widget, self.fig,
                              self.summary])
        else:
            full = self.shipped
            self.full_fig = FigureStack(keys=self._views())
            self._show(self.full_fig, self._view(), "shipped", lambda: self._figure(full.arrays))
            self.full_summary = W.HTML(summary_html(full.arrays, "the full tier"))
            self.run_caption = W.HTML(run_caption_html(self.scale, "not run yet: press train both below"))
            self.table = W.HTML(tier_table(full, None, scale=self.scale))
            super().__init__([top, W.HBox([self.log_y, self.splits]),
                              side_by_side([W.HTML(caption_html(full, describe(full.config))), self.full_fig,
                                            self.full_summary], [self.run_caption, self.fig, self.summary]),
                              self.table, try_it_html(self.scale), training, self.runner.widget])
        # a page opened from a link starts on its settings (a preheated kernel: trains them when they arrive)
        self.url_state.from_page(on_late=lambda: self.train(train=self.shipped is None))
        if autostart:
            self.train(train=self.shipped is None)  # on a shipped result, opening trains nothing

    def _figure(self, arrays: dict[str, np.ndarray], title: str = TITLE):
        fig = curves_figure(arrays, SCHEMES, title, splits=self.splits.value, log_y=self.log_y.value)
        return wrap_title(fig) if self.shipped is not None else fig

    def _view(self, log: bool | None = None, splits: tuple[str, ...] | None = None) -> str:
        log = self.log_y.value if log is None else log
        return f"log={log} splits={','.join(self.splits.value if splits is None else splits)}"

    def _views(self) -> list[str]:
        """Every view the log-scale box and the splits can choose (one FigureStack slot each)."""
        return [self._view(log, splits) for log in (False, True) for _, splits in self.splits.options]

    @staticmethod
    def _show(stack: FigureStack, view: str, stamp, make) -> None:
        if not stack.reuse(view, stamp):
            stack.show(make(), key=view, stamp=stamp)

    def config(self) -> CurvesConfig:
        """The experiment's preset for this scale with the controls' values."""
        return self.experiment.config(self.scale, noise=round(self.noise.value, 3), epochs=self.epochs.value,
                                      joint_epochs=self.joint_epochs.value)

    def train(self, train: bool = True) -> None:
        """Show a cached run at once, else train both schemes in the background (`train=False`:
        only a cached run is shown)."""
        config = self.config()

        def task(job):
            live = empty_curves(config)
            if self.shipped is not None:  # the table's last column and the caption follow the new run
                self.table.value = tier_table(self.shipped, None, scale=self.scale)
                self.run_caption.value = run_caption_html(self.scale, f"training: {describe(vars(config))}")

            def epoch_done(scheme: str, epoch: int, metrics: dict) -> None:
                if scheme in SCHEMES:
                    for split in ("train", "test"):
                        live[f"{split}_{scheme}"][epoch - 1] = metrics[f"{split}_reconstruction_input"]
                    self.play.epoch_end(job, epoch, SCHEME_NAMES[scheme], total=len(live[f"test_{scheme}"]),
                                        draw=lambda: self.show({k: v.copy() for k, v in live.items()}))

            result = run_curves(config, job_context(job, self.device, self.scale), on_epoch=epoch_done)
            return result.arrays, {"metrics": result.metrics}

        self.cached_or_start("schemes", config, task, lambda arrays, info: self.show(arrays, info, config),
                             label=self.play.begin("training…"), with_info=True, train=train,
                             idle_status=f"showing the shipped {self.shipped.tier}; press train both to try it yourself"
                             if self.shipped is not None else "")
        self.play.update()

    def show(self, arrays: dict[str, np.ndarray], info: dict | None = None, config: CurvesConfig | None = None) -> None:
        self.arrays = {k: np.array(v) for k, v in arrays.items()}
        self._shown += 1
        if info is not None and self.shipped is not None:
            self.table.value = tier_table(self.shipped, info.get("metrics"), scale=self.scale)
            if config is not None:
                self.run_caption.value = run_caption_html(self.scale, describe(vars(config)))
        self.redraw()

    def redraw(self) -> None:
        """Draw the curves with the chosen scale and splits; a drawing of the same curves with the
        same choices is only shown again (`FigureStack`: the log-scale box switches at once)."""
        view = self._view()
        if self.shipped is not None:
            self._show(self.full_fig, view, "shipped", lambda: self._figure(self.shipped.arrays))
        if self.arrays is None:
            return
        epochs = len(self.arrays["test_L"]) + len(self.arrays["test_J"])
        self.play.set_range(epochs, bool(np.isfinite(self.arrays["test_L"]).any()))
        k = self.play.chosen()
        if k is None:
            self._show(self.fig, view, (self._shown, None), lambda: self._figure(self.arrays))
        else:
            self._show(self.fig, view, (self._shown, k), lambda: self._figure(
                curves_until(self.arrays, k), f"{TITLE} · after epoch {k} of {epochs} (layer-wise, then joint)"))
        self.summary.value = summary_html(self.arrays)
