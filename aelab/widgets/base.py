"""What every dashboard shares: scale switch, device label, on-disk cache, background runner.

Rules learnt from serving these apps with Voila (REFERENCES.md, "Dashboards in Voila"):

- Long work runs in a daemon thread with a stop `Event`; a widget callback only starts it
  and returns (never blocks). The thread updates IntProgress, Label and figure values in
  place (these reach the browser live); text goes through `out.append_stdout` because
  `with out: print()` from a thread shows nothing under ipykernel 7.
- One update path for figures: `StaticFigure`, an `Output` holding the figure as static
  HTML that draws itself with plotly.js, loaded once per page from the installed plotly
  package (`plotly_loader`, no CDN). No plotly FigureWidget: its anywidget model failed to
  initialise in some Voila loads ("[anywidget] Failed to initialize model.") and the figure
  then never updated. Interaction that needs no kernel (06's hover thumbnails) is a script
  in the same HTML. NaN/inf become null in the figure's JSON, so nothing non-finite is sent.
  Under `aelab lab` plotly.js comes from the lab's server as the page starts instead of through
  the kernel (`plotly_js_html`). A dashboard's views (a view toggle, a log-scale box, PCA of codes
  or of pixels) are kept, one `StaticFigure` each, in a `FigureStack`: going back to a view drawn
  from the same data only changes which one is visible (drawing a multi-panel figure costs
  150-300 ms in the browser on a 2-core machine).
- An update sent within ~1-3 s of a figure's first render can be lost in the browser, so
  every redraw carries the whole figure, never a delta: the next update heals a lost one,
  and the final state is sent again after a task (`HEAL_AFTER_S`).
- A stopped run labels the figures it leaves "[stopped at epoch k]" (`Job.epoch`, set by the
  apps' epoch hooks); a cached result fills the bar; the stop button is greyed when idle.
- Play / pause / continue / step and the epoch scrubber are one piece, `PlayControls` (over a
  `PauseGate`): the training thread calls `epoch_end` after each epoch and waits there while
  paused. Apps that draw a picture per epoch keep their own snapshots (01's filters, 00's field,
  02's curves); the others keep an `EpochRecord` (every epoch end's metrics, a live loss figure
  and the scrubber over it). A task with no epoch loop (a t-SNE projection, a re-evaluation)
  says so in the status and hides the two buttons while it runs.
- Errors become one readable line in the app (`friendly_error`), never a traceback.
- `AELAB_LAB_SCALE=smoke` shrinks every app to seconds, so one notebook serves CI, Voila
  and Binder (read by `aelab.settings`, like `AELAB_LAB_THREADS` and `AELAB_CACHE`).
- `Runner.synchronous = True` (a class attribute, set by tests and `prewarm`) makes
  `Runner.start` wait for its work and re-raise a failure, so a headless run fails on a
  broken dashboard. A notebook kernel gets it from its start-up code, e.g. nbclient's
  `extra_arguments=[SYNC_KERNEL_ARG]` (IPython runs `exec_lines` before the first cell).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from aelab import settings
from aelab.cache import cache_key, plain
from aelab.device import describe_device, resolve_device
from aelab.fileio import atomic_path, read_json, write_json_atomic

SCALE_ENV = settings.LAB_SCALE
THREADS_ENV = settings.LAB_THREADS
LAB_SCALES = settings.LAB_SCALES
# IPython kernel start-up argument that makes every Runner of the kernel synchronous
SYNC_KERNEL_ARG = "--IPKernelApp.exec_lines=import aelab.widgets.base; aelab.widgets.base.Runner.synchronous = True"
CACHE_VERSION = 2  # 2: entries may carry an `info` dict (the run's metrics)
HEAL_AFTER_S = (3.0, 8.0)  # resend the final state this long after a task ends
PROGRESS_STEPS = 1000


def lab_scale() -> str:
    """`smoke` (seconds: CI, headless runs) or `teach` (the default: under a minute on 2 cores)."""
    return settings.lab_scale()


def lab_threads() -> int:
    """CPU threads torch uses for dashboard work (`AELAB_LAB_THREADS`, default 1).

    Teach-scale models are small: on a shared 2-core machine one thread trained them 10-25x
    faster than two threads fighting over the cores (the toy tour: 0.3 s vs 8 s)."""
    return settings.lab_threads()


def device_label(device: Any = "auto") -> str:
    """'running on cpu (1 thread)' or 'running on cuda (NVIDIA H100 ...)'. On the cpu the count
    is the one dashboard work runs with (`lab_threads`), not the process default."""
    resolved = resolve_device(device)
    if resolved.type == "cpu":
        threads = lab_threads()
        return f"running on cpu ({threads} thread{'s' if threads > 1 else ''})"
    return f"running on {describe_device(resolved)}"


def friendly_error(err: BaseException) -> str:
    """One line a student can act on: the message, prefixed by its kind when that helps."""
    message = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    message = message.strip().splitlines()[0] if message.strip() else ""
    kind = type(err).__name__
    if isinstance(err, MemoryError):
        return "ran out of memory: choose fewer hidden units or a smaller sample"
    if not message:
        return f"{kind} (no message)"
    return message if isinstance(err, (ValueError, RuntimeError, KeyError, FileNotFoundError)) else f"{kind}: {message}"


# ---------------------------------------------------------------------------- on-disk cache

def cache_root() -> Path:
    """`<cache root>/lab` (`$AELAB_CACHE/lab`, else `~/.cache/aelab/lab`; see `aelab.settings`)."""
    return settings.cache_dir("lab")


def config_key(kind: str, config: Any) -> str:
    """A stable hex key for (kind, config): equal configurations give equal keys (`aelab.cache`)."""
    return cache_key({"kind": kind, "version": CACHE_VERSION, "config": config})


class ArrayCache:
    """Arrays (plus a JSON-able `info` dict) stored per configuration under `root/kind/key/`.

    A configuration trained once opens instantly the next time. Writes are atomic, so an
    interrupted run leaves no half entry; a corrupt entry reads as a miss."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else cache_root()

    def folder(self, kind: str, config: Any) -> Path:
        return self.root / kind / config_key(kind, config)

    def load(self, kind: str, config: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        folder = self.folder(kind, config)
        try:
            info = read_json(folder / "info.json")
            with np.load(folder / "arrays.npz") as archive:
                arrays = {k: archive[k] for k in archive.files}
        except Exception:  # missing or damaged (BadZipFile, EOFError, bad JSON ...): a miss, rebuilt
            return None
        if not isinstance(info, dict) or info.get("kind") != kind:
            return None
        return arrays, info

    def save(self, kind: str, config: Any, arrays: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> Path:
        folder = self.folder(kind, config)
        with atomic_path(folder / "arrays.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **{k: np.asarray(v) for k, v in arrays.items()})
        write_json_atomic(folder / "info.json", {"kind": kind, "config": plain(config), **(info or {})})
        return folder


# ---------------------------------------------------------------------------- figures

def _script_safe(text: str) -> str:
    """Text that can sit inside a <script> element (no '</script>' ends it early)."""
    return text.replace("</", "<\\/")


def plotly_js_html() -> str:
    """The script that makes plotly.js `window.Plotly` on the page, once (no CDN: the lab works offline).

    Under `aelab lab` (`settings.lab_plotly_url()` set) the page's template already asked for
    plotly.js from the lab's server, so it loads while the page starts instead of arriving
    through the kernel as 4.8 MB of widget state: this script only adds the same `<script src>`
    where the page lacks it. Elsewhere (JupyterLab, Voila on Binder) plotly.js is inline;
    shadowing `define`/`module`/`exports` makes the bundle set the global even where a page has
    an AMD or CommonJS loader."""
    import plotly.offline

    url = settings.lab_plotly_url()
    if url is not None:
        return ("<script type='text/javascript'>(function(){if(window.Plotly||document.querySelector("
                "'script[data-aelab-plotly]')){return;}" + _add_plotly_js(url) + "})();</script>")
    return ("<script type='text/javascript'>(function(){if(window.Plotly){return;}"
            "var define, module, exports;\n" + _script_safe(plotly.offline.get_plotlyjs())
            + "\n}).call(window);</script>")


# plotly's `responsive` follows the window only; a figure drawn before its column got its final
# width (two figures side by side) kept the width it was drawn at: follow the element's own width
_FOLLOW_WIDTH_JS = ("if(window.ResizeObserver){var last=el.clientWidth,queued=false;new ResizeObserver(function(){"
                    "if(queued||el.clientWidth===last){return;}queued=true;requestAnimationFrame(function(){"
                    "queued=false;last=el.clientWidth;if(el.offsetParent!==null){window.Plotly.Plots.resize(el);}});"
                    "}).observe(el);}")


def _add_plotly_js(src: str) -> str:
    """Script that appends `<script src=src data-aelab-plotly>` to the page's head."""
    import json

    return ("var s=document.createElement('script');s.src=" + json.dumps(src) + ";"
            "s.setAttribute('data-aelab-plotly','');document.head.appendChild(s);")


def _plotly_retry_js() -> str:
    """Script run when plotly.js has not arrived 10 s after a figure wanted it: under `aelab lab`,
    ask for it once more (a fresh request; the first may have failed), else nothing."""
    url = settings.lab_plotly_url()
    if url is None:
        return ""
    return ("if(!window.Plotly&&!window.aelabPlotlyRetried){window.aelabPlotlyRetried=true;"
            + _add_plotly_js(url + "?retry=1") + "}")


def figure_html(fig: go.Figure, *, after_js: str = "", extra_html: str = "") -> str:
    """`fig` as a self-drawing HTML fragment: a div and a script that waits for `window.Plotly`
    and draws. The JSON comes from plotly's encoder, so NaN/inf arrive as null (gaps).
    `after_js` runs once drawn with `el` the plot's div (hover handlers, see `LatentApp`)."""
    import json
    import uuid

    div_id = f"aelab-fig-{uuid.uuid4().hex}"
    spec = _script_safe(fig.to_json())
    retry = _plotly_retry_js()
    height = fig.layout.height or 450
    title = fig.layout.title.text or ""
    return (f"<div class='aelab-figure-frame' style='display:flex;gap:12px;align-items:flex-start'>"
            f"<div id='{div_id}' class='aelab-plot' data-title={json.dumps(title)} "
            f"style='width:100%;min-height:{int(height)}px'></div>{extra_html}</div>"
            "<script type='text/javascript'>(function(){"
            f"var spec={spec};var tries=0;"
            "function draw(){var el=document.getElementById(" + json.dumps(div_id) + ");"
            "if(!el||!window.Plotly){if(tries===200){" + retry + "}"
            "if(tries++<2400){setTimeout(draw,50);}return;}"
            "window.Plotly.newPlot(el,spec.data,spec.layout,{responsive:true,displaylogo:false})"
            ".then(function(){" + after_js + "});" + _FOLLOW_WIDTH_JS + "}"
            "draw();})();</script>")


class StaticFigure(W.Output):
    """A plotly figure drawn from static HTML in an `Output` (no FigureWidget, so no anywidget
    model has to start in the browser: those failed to initialise in 1 of 3 Voila loads and the
    figure then never updated). `show(fig)` replaces the whole figure in one message, so a lost
    update is healed by the next one or by `resend`. Needs `plotly_loader()` once on the page
    (every `App` has it)."""

    def __init__(self, fig: go.Figure | None = None, **kwargs):
        super().__init__(layout=W.Layout(width="100%"), **kwargs)
        self.add_class("aelab-figure")
        self.figure: go.Figure | None = None
        self.after_js = ""
        self.extra_html = ""
        if fig is not None:
            self.show(fig)

    def show(self, fig: go.Figure, *, after_js: str | None = None, extra_html: str | None = None) -> None:
        if after_js is not None:
            self.after_js = after_js
        if extra_html is not None:
            self.extra_html = extra_html
        self.figure = fig
        title = fig.layout.title.text or "figure"
        self.outputs = ({"output_type": "display_data", "metadata": {},
                         "data": {"text/plain": title,
                                  "text/html": figure_html(fig, after_js=self.after_js, extra_html=self.extra_html)}},)

    @property
    def data(self):
        """The traces shown (for tests and scripts; empty while a table is shown)."""
        return self.figure.data if self.figure is not None else ()

    @property
    def html(self) -> str:
        """The HTML fragment the page draws."""
        return self.outputs[0]["data"]["text/html"] if self.outputs else ""

    def show_html(self, html: str) -> None:
        """Show an HTML fragment (a table) in place of a figure."""
        self.figure = None
        self.outputs = ({"output_type": "display_data", "metadata": {},
                         "data": {"text/plain": "table", "text/html": html}},)

    def mark_stopped(self, note: str) -> None:
        """Say on the figure that it is what a stopped run left (e.g. 'stopped at epoch 3')."""
        if self.figure is None:
            return
        fig = go.Figure(self.figure)
        title = fig.layout.title.text or ""
        if not title.startswith("["):
            fig.update_layout(title_text=f"[{note}] {title}")
        self.show(fig)

    def resend(self) -> None:
        self.send_state("outputs")


class FigureStack(W.VBox):
    """A dashboard's views of one result in one place, each drawn into its own `StaticFigure`
    and kept (like tabs): switching back to a view already drawn from the same data only changes
    which one is visible, so no figure is sent and the browser draws nothing. A multi-panel
    plotly figure takes 150-300 ms to draw on a 2-core machine; a switch is one layout message.

    `show(fig, key=view, stamp=data)` draws the view `key` of the data identified by `stamp` and
    shows it; `holds(key, stamp)` says whether that drawing is there already, and `select(key)`
    shows it. New data (another stamp) redraws only the view shown; the others are redrawn when
    chosen. Has what the runner and the tests use of a `StaticFigure` (`figure`, `data`, `html`,
    `mark_stopped`, `resend`), for the view shown."""

    def __init__(self, fig: go.Figure | None = None, keys: Sequence[str] = ()):
        """`keys`: the views known at the start, whose (hidden, empty) slots are made now: a slot
        made later is a widget created while the page is open, and a page that is handed its
        parent's new children before the new widget itself says "widget model not found"."""
        super().__init__(layout=W.Layout(width="100%"))
        self.add_class("aelab-figure-stack")
        self.slots: dict[str, StaticFigure] = {}
        self.stamps: dict[str, Any] = {}
        self.key: str | None = None
        for key in keys:
            self.slots[key] = StaticFigure()
            self.slots[key].layout.display = "none"
        self.children = tuple(self.slots.values())
        if fig is not None:
            self.show(fig)

    def holds(self, key: str, stamp: Any) -> bool:
        return stamp is not None and key in self.slots and self.stamps.get(key) == stamp

    def reuse(self, key: str, stamp: Any) -> bool:
        """Show view `key` again if it holds the drawing of `stamp` (True), else leave all as is."""
        if not self.holds(key, stamp):
            return False
        self.select(key)
        return True

    def select(self, key: str) -> StaticFigure:
        """Show view `key` (a new, empty slot if it was never drawn) and hide the others. The
        placeholder shown before any view (key "") becomes the first view's slot."""
        if key not in self.slots and list(self.slots) == [""]:
            self.slots[key] = self.slots.pop("")
            self.stamps.pop("", None)
        if key not in self.slots:
            self.slots[key] = StaticFigure()
            self.children = (*self.children, self.slots[key])
        for name, slot in self.slots.items():
            slot.layout.display = None if name == key else "none"
        self.key = key
        return self.slots[key]

    def show(self, fig: go.Figure, *, key: str = "", stamp: Any = None, **kwargs) -> None:
        self.select(key).show(fig, **kwargs)
        self.stamps[key] = stamp

    def show_html(self, html: str, *, key: str = "", stamp: Any = None) -> None:
        self.select(key).show_html(html)
        self.stamps[key] = stamp

    @property
    def current(self) -> StaticFigure | None:
        return None if self.key is None else self.slots[self.key]

    @property
    def figure(self) -> go.Figure | None:
        return None if self.current is None else self.current.figure

    @property
    def data(self):
        return () if self.current is None else self.current.data

    @property
    def html(self) -> str:
        return "" if self.current is None else self.current.html

    def mark_stopped(self, note: str) -> None:
        if self.current is not None:
            self.current.mark_stopped(note)
            self.stamps[self.key] = None  # no longer the plain drawing of its data

    def resend(self) -> None:
        if self.current is not None:
            self.current.resend()


def plotly_loader() -> W.Output:
    """An invisible Output that loads plotly.js into the page (once; later ones do nothing)."""
    out = W.Output(layout=W.Layout(height="0px", overflow="hidden"))
    out.add_class("aelab-plotly-loader")
    out.outputs = ({"output_type": "display_data", "metadata": {},
                    "data": {"text/plain": "", "text/html": plotly_js_html()}},)
    return out


def figure_widget(fig: go.Figure) -> StaticFigure:
    """The figure view every app uses (static HTML; see `StaticFigure`). `fig.show()` can stall
    Voila and FigureWidgets did not always start there."""
    return StaticFigure(fig)


def refresh_figure(widget, fig: go.Figure) -> None:
    """Make `widget` show `fig` in one message: a `StaticFigure` is redrawn whole; a plotly
    FigureWidget (kept for notebooks that make their own) gets the same traces updated in
    place, else replaced."""
    if isinstance(widget, StaticFigure):
        widget.show(fig)
        return
    traces = [t.to_plotly_json() for t in fig.data]
    with widget.batch_update():
        if len(widget.data) == len(traces) and all(t.type == d.get("type", "scatter")
                                                   for t, d in zip(widget.data, traces)):
            for trace, data in zip(widget.data, traces):
                trace.update(data, overwrite=True)
        else:
            widget.data = ()
            widget.add_traces(list(fig.data))
        widget.layout.update(fig.layout.to_plotly_json(), overwrite=True)
    sync_figure_state(widget)


def sync_figure_state(widget) -> None:
    """Copy a FigureWidget's current traces and layout into its synced state.

    A FigureWidget sends edits as one-off messages and refreshes its synced full state
    (`_widget_data`, `_widget_layout`) only when displayed by itself. Inside a VBox that never
    happens, so a page that connects after an edit would get the figure as constructed."""
    from copy import deepcopy

    if isinstance(widget, StaticFigure):
        return
    widget._widget_data = deepcopy(widget._data)
    widget._widget_layout = deepcopy(widget._layout_obj._props)


# ---------------------------------------------------------------------------- background runner

class Job:
    """What a background task sees: progress/log callbacks and the stop flag (RunContext-like)."""

    def __init__(self, runner: "Runner", stop: threading.Event):
        self._runner = runner
        self.stop = stop
        self.epoch = 0  # the last epoch whose results a dashboard drew ("stopped at epoch k")
        self.stage = ""  # the training stage that epoch belongs to (e.g. '50% noise'), when there are several

    @property
    def current(self) -> bool:
        """False once a newer task replaced this one (it then no longer touches the widgets)."""
        return self._runner._job is self

    def progress(self, done: int, total: int, desc: str = "") -> None:
        if self.current:  # a superseded job no longer moves the bar
            self._runner._progress(done, total, desc)

    def log(self, message: str) -> None:
        self._runner.log(message)

    def stopped(self) -> bool:
        return self.stop.is_set()

    def check_stop(self) -> None:
        """Raise `Stopped` once the user pressed stop (for trainers' `check_stop` hooks)."""
        if self.stop.is_set():
            from aelab.experiments.base import Stopped

            raise Stopped("stopped by the user")


class PauseGate:
    """Play / pause / step for a training thread, at epoch ends.

    The thread calls `checkpoint(stop)` after every epoch (after drawing it): while paused it
    waits there, so the model and the loop stay exactly as they were, and `resume()` continues
    the same run. `step()` lets one more epoch run, then pauses again. A set `stop` event ends
    the wait at once (the loop then stops as usual). Callbacks never block: they only flip state."""

    def __init__(self):
        self._cond = threading.Condition()
        self.paused = False
        self._steps = 0

    def pause(self) -> None:
        with self._cond:
            self.paused, self._steps = True, 0
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self.paused, self._steps = False, 0
            self._cond.notify_all()

    def step(self) -> None:
        """Run one more epoch, then pause."""
        with self._cond:
            self.paused, self._steps = False, 1
            self._cond.notify_all()

    def checkpoint(self, stop: threading.Event, on_pause: Callable[[], None] | None = None) -> None:
        """Called by the training thread at an epoch end: wait while paused (or until `stop`)."""
        with self._cond:
            if self._steps > 0:
                self._steps -= 1
                if self._steps == 0:
                    self.paused = True
            if self.paused and not stop.is_set() and on_pause is not None:
                on_pause()
            while self.paused and not stop.is_set():
                self._cond.wait(0.1)


class Runner:
    """A progress bar, a status line, a stop button and a log, driving one task at a time.

    `start(task, on_done)` runs `task(job)` in a daemon thread; `on_done(result)` is called
    in that thread when it returns. A newer `start` asks the older task to stop and starts at
    once (it never waits: callbacks must not block); the older task's result is dropped and
    it no longer touches the widgets. Errors are shown as one red line; "stopped" when the
    user pressed stop.

    `synchronous` (class attribute, False by default; tests and `prewarm` set it) makes
    `start` wait for the task and re-raise its failure."""

    synchronous = False

    def __init__(self, description: str = "progress"):
        # a fixed max (per mille): a lost early update of `max` could leave the bar drawn
        # against a stale maximum forever, since an unchanged max is never sent again
        self.bar = W.IntProgress(value=0, min=0, max=PROGRESS_STEPS, description=description,
                                 layout=W.Layout(width="340px"), style={"description_width": "initial"},
                                 tooltip="progress of the current computation")
        self.status = W.Label(value="ready")
        self.stop_button = W.Button(description="stop", icon="stop", button_style="",
                                    disabled=True, layout=W.Layout(width="90px"),
                                    tooltip="stop the running computation (greyed out when nothing runs)")
        self.error = W.HTML(value="")
        self.notice = W.HTML(value="")  # a lasting one-line warning (not cleared by the next task)
        self.output = W.Output(layout=W.Layout(max_height="120px", overflow="auto"))
        self.stop_button.on_click(lambda _: self.request_stop())
        self.widget = W.VBox([W.HBox([self.bar, self.stop_button, self.status]), self.error, self.notice,
                              self.output])
        self._thread: threading.Thread | None = None
        self._job: Job | None = None
        self.figures: list[StaticFigure | FigureStack] = []  # an app's plots, resent with the final state
        self.on_finish: list[Callable[[], None]] = []  # called (in the task's thread) when the current task ends
        self._torch_threads: int | None = None  # torch's thread count before the first task
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._last_progress = 0.0
        self.last_error: BaseException | None = None

    # -- state seen by tests and apps
    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current task ends (for tests and scripts, never in callbacks)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.busy

    def request_stop(self) -> None:
        self._stop.set()
        if self.busy:
            self.status.value = "stopping…"

    def log(self, message: str) -> None:
        self.output.append_stdout(message.rstrip("\n") + "\n")

    def show_error(self, message: str) -> None:
        import html

        self.error.value = (f"<div class='aelab-error' style='color:#b00020;font-weight:600'>"
                            f"Could not finish: {html.escape(message)}</div>")

    def show_notice(self, message: str) -> None:
        """A warning that stays while tasks come and go (e.g. a shipped result that cannot be read)."""
        import html

        self.notice.value = f"<div class='aelab-notice' style='color:#8a5300'>{html.escape(message)}</div>"

    def _progress(self, done: int, total: int, desc: str) -> None:
        now = time.monotonic()
        if done < total and now - self._last_progress < 0.15:  # throttle: few messages, last always sent
            return
        self._last_progress = now
        self.bar.value = int(PROGRESS_STEPS * min(max(done, 0) / max(total, 1), 1.0))
        if desc:
            self.status.value = desc

    def start(self, task: Callable[[Job], Any], on_done: Callable[[Any], None] | None = None,
              label: str = "working…") -> None:
        """Run `task(job)` off the UI thread; returns at once (unless `synchronous`)."""
        with self._lock:
            self._stop.set()  # the previous task, if any, ends at its next check
            self._stop = threading.Event()
            job = Job(self, self._stop)
            self._job = job
            self.error.value = ""
            self.last_error = None
            self.status.value = label
            self.bar.value = 0
            self.bar.bar_style = ""
            self.stop_button.disabled = False
            self.stop_button.button_style = "danger"  # visibly active only while something runs
            self._thread = threading.Thread(target=self._run, args=(task, on_done, job), daemon=True,
                                            name="aelab-runner")
            self._thread.start()
        if self.synchronous:
            self.wait()
            if self.last_error is not None:
                raise self.last_error

    def _run(self, task: Callable[[Job], Any], on_done: Callable[[Any], None] | None, job: Job) -> None:
        import torch

        started = time.perf_counter()
        if self._torch_threads is None:
            self._torch_threads = torch.get_num_threads()
        try:
            torch.set_num_threads(lab_threads())
            result = task(job)
            if job.stopped():
                if self._job is job:
                    self.status.value = f"stopped after {time.perf_counter() - started:.1f} s"
                    self.bar.bar_style = "warning"
                    self._mark_stopped(job)
                return
            if on_done is not None:
                on_done(result)
            self.bar.value = self.bar.max
            self.bar.bar_style = "success"
            self.status.value = f"done in {time.perf_counter() - started:.1f} s"
        except Exception as err:  # shown in the app as one line; kept for tests
            if type(err).__name__ == "Stopped" or job.stopped():
                if self._job is job:
                    self.status.value = f"stopped after {time.perf_counter() - started:.1f} s"
                    self.bar.bar_style = "warning"
                    self._mark_stopped(job)
                return
            self.last_error = err
            self.bar.bar_style = "danger"
            self.status.value = "failed"
            self.show_error(friendly_error(err))
        finally:
            if self._job is job:
                torch.set_num_threads(self._torch_threads)
                self.stop_button.disabled = True
                self.stop_button.button_style = ""
                for hook in self.on_finish:
                    hook()
                for delay in HEAL_AFTER_S:
                    timer = threading.Timer(delay, self._resend, args=(job,))
                    timer.daemon = True
                    timer.start()

    def _mark_stopped(self, job: Job) -> None:
        """Label what a stopped run left on the figures, so nobody reads it as a finished run."""
        note = (f"stopped at epoch {job.epoch}" + (f" ({job.stage})" if job.stage else "") if job.epoch
                else "stopped before the first epoch ended")
        for figure in self.figures:
            if isinstance(figure, (StaticFigure, FigureStack)):
                figure.mark_stopped(note)

    def show_cached(self, status: str = "loaded from cache") -> None:
        """A result read from the cache: the bar full and green, the status saying so."""
        self.bar.value = self.bar.max
        self.bar.bar_style = "success"
        self.status.value = status

    def _resend(self, job: Job) -> None:
        """Send the final state again. A change sent while a page is still connecting can be
        lost (seen here: a dashboard stuck on "training…" although the kernel had finished),
        and an unchanged value is never sent again by itself."""
        if self._job is not job:
            return
        for widget in (self.bar, self.status, self.error, self.stop_button):
            widget.send_state()
        for figure in self.figures:
            if isinstance(figure, (StaticFigure, FigureStack)):
                figure.resend()
            else:
                sync_figure_state(figure)
                figure.send_state(["_widget_data", "_widget_layout"])


# ---------------------------------------------------------------------------- app shell

WIDE = {"description_width": "initial"}  # whole control labels ("hidden units", not "hidden un…")
TOGGLES = {"button_width": "auto", "description_width": "initial"}  # toggle buttons as wide as their labels
CSS = """<style>
.aelab-app .widget-button:disabled, .aelab-app .jupyter-button:disabled {opacity: 0.35; filter: grayscale(1);}
.aelab-app .widget-label, .aelab-app .widget-label-basic {overflow: visible;}
</style>"""


# ---------------------------------------------------------------------------- play / pause / step

class PlayControls:
    """Pause / continue / step buttons and an epoch scrubber over an app's training runs.

    The app calls `begin(label)` before it starts a task and `update()` after; its training
    thread calls `epoch_end(job, epoch, ...)` after every epoch, which draws (at most every
    `redraw_every_s`, and always before pausing) and waits there while paused (`PauseGate`),
    so continuing is the same run. The scrubber spans what `set_range` says; at its end it
    shows, and follows, the latest epoch; elsewhere `chosen()` is the epoch to draw from the
    app's snapshots and a move calls `on_scrub()` (no training). A task without an epoch loop
    passes `unpausable` (why): the two buttons are hidden while it runs and its status says so."""

    def __init__(self, runner: Runner, on_scrub: Callable[[], None], *, description: str = "epoch",
                 scrub_tooltip: str = "show the run after this epoch (the last: the latest; redraws from the "
                                      "snapshots kept every epoch, no training)",
                 redraw_every_s: float = 0.0):
        self.runner = runner
        self.gate = PauseGate()
        self.redraw_every_s = redraw_every_s
        self.pausable = True  # the running task stops at epoch ends
        self.seen = 0  # epoch ends of the current run so far
        self._last_draw = 0.0
        self._moving = False  # the scrubber moved by `set_range`, not by the user: no redraw
        self.pause_button = W.Button(description="pause", icon="pause", disabled=True, layout=W.Layout(width="110px"),
                                     tooltip="pause training at the end of this epoch (continue where it stopped)")
        self.step_button = W.Button(description="step", icon="step-forward", disabled=True,
                                    layout=W.Layout(width="110px"), tooltip="train one more epoch, then pause")
        self.scrubber = W.IntSlider(value=1, min=1, max=1, description=description, style=WIDE, disabled=True,
                                    continuous_update=True, tooltip=scrub_tooltip)
        self.buttons = W.HBox([self.pause_button, self.step_button])
        self.pause_button.on_click(lambda _: self.toggle_pause())
        self.step_button.on_click(lambda _: self.step())
        self.scrubber.observe(lambda _: None if self._moving else on_scrub(), names="value")
        runner.on_finish.append(lambda: self.update(busy=False))

    # -- the app's side
    def begin(self, label: str, unpausable: str = "") -> str:
        """Before a task starts: a new run starts unpaused. Returns the status label to start it
        with (`unpausable`: why it cannot pause, added to the label)."""
        self.gate.resume()
        self.seen, self._last_draw = 0, 0.0
        self.pausable = not unpausable
        self.buttons.layout.display = "none" if unpausable else ""
        return f"{label} ({unpausable}: it cannot pause; stop ends it)" if unpausable else label

    def update(self, busy: bool | None = None) -> None:
        """Pause/continue and step only while a pausable task runs; the button names what it will do."""
        busy = self.runner.busy if busy is None else busy
        if not busy:  # the next task may pause again
            self.pausable = True
            self.buttons.layout.display = ""
        active = busy and self.pausable
        self.pause_button.disabled = self.step_button.disabled = not active
        paused = active and self.gate.paused
        self.pause_button.description, self.pause_button.icon = ("continue", "play") if paused else ("pause", "pause")
        self.pause_button.tooltip = ("continue training from where it paused" if paused else
                                     "pause training at the end of this epoch (continue where it stopped)")

    def set_range(self, epochs: int, available: bool) -> None:
        """The scrubber spans epochs 1..`epochs`; usable once the run kept per-epoch snapshots."""
        at_end = self.scrubber.value >= self.scrubber.max
        self._moving = True
        try:
            self.scrubber.max = max(int(epochs), 1)
            if at_end or self.scrubber.value > self.scrubber.max:
                self.scrubber.value = self.scrubber.max
        finally:
            self._moving = False
        self.scrubber.disabled = not available

    def chosen(self) -> int | None:
        """The epoch to draw from the snapshots, or None for the latest (the scrubber's end)."""
        if self.scrubber.disabled or self.scrubber.value >= self.scrubber.max:
            return None
        return self.scrubber.value

    # -- the training thread's side
    def epoch_end(self, job: Job, epoch: int, label: str = "", total: int | None = None,
                  draw: Callable[[], None] | None = None) -> None:
        """After an epoch: note it on the job ("stopped at epoch k"), draw, and wait while paused."""
        if not job.current:  # a superseded run touches nothing (its stop is set: it ends soon)
            return
        job.epoch, job.stage = epoch, label
        self.seen += 1
        now = time.monotonic()
        drawn = draw is not None and (now - self._last_draw >= self.redraw_every_s or epoch == total)
        if drawn:
            self._last_draw = now
            draw()

        def paused() -> None:
            if draw is not None and not drawn:
                draw()
            where = f"{epoch}" + (f" of {total}" if total else "") + (f" ({label})" if label else "")
            self.runner.status.value = f"paused after epoch {where}: continue or step"
            self.update(busy=True)

        self.gate.checkpoint(job.stop, on_pause=paused)

    # -- the buttons
    def toggle_pause(self) -> None:
        if self.gate.paused:
            self.gate.resume()
            self.runner.status.value = "training…"
        else:
            self.gate.pause()
            self.runner.status.value = "pausing at the end of this epoch…"
        self.update()

    def step(self) -> None:
        self.gate.step()
        self.runner.status.value = "training one more epoch…"
        self.update()


def plain_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """An epoch's metrics as JSON-able values: numbers (non-finite ones as None) and text."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, (bool, np.bool_)):
            out[key] = bool(value)
        elif isinstance(value, (int, float, np.integer, np.floating)):
            out[key] = float(value) if np.isfinite(value) else None
        elif isinstance(value, str):
            out[key] = value
    return out


def _loss_key(metrics: dict[str, Any]) -> str | None:
    """The metric an epoch is drawn by: its training loss, a dictionary's objective, else the first number."""
    numbers = [k for k, v in metrics.items() if isinstance(v, float) and k not in ("epoch", "layer", "phase")
               and not k.endswith("seconds")]
    return next((k for k in ("train_loss", "objective") if k in numbers), numbers[0] if numbers else None)


def record_figure(history: list[dict[str, Any]], chosen: int | None = None, height: int = 300) -> go.Figure:
    """The training loss at every epoch end of a run, one line per stage (in the order they ran),
    the `chosen` epoch end marked."""
    stages: dict[str, tuple[list[int], list[float | None], str | None]] = {}
    for i, entry in enumerate(history, 1):
        key = _loss_key(entry["metrics"])
        xs, ys, _ = stages.setdefault(entry["stage"], ([], [], key))
        xs.append(i)
        ys.append(entry["metrics"].get(key) if key else None)
    fig = go.Figure()
    for stage, (xs, ys, key) in stages.items():
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=stage or "training",
                                 hovertemplate=f"{stage}: {(key or '').replace('_', ' ')} %{{y:.4g}}<extra></extra>"))
    values = [y for _, ys, _ in stages.values() for y in ys if y is not None]
    if chosen is not None:
        fig.add_vline(x=chosen, line_dash="dot", line_color="#444")
    title = ("Training, epoch by epoch: appears while a run trains" if not history else
             f"Training loss at every epoch end ({len(history)}, all stages in order)"
             + (f" · epoch end {chosen} marked" if chosen is not None else ""))
    fig.update_layout(title_text=title, height=height, template="plotly_white", margin=dict(t=60, b=40),
                      xaxis_title="epoch end", yaxis_title="training loss",
                      yaxis_type="log" if values and min(values) > 0 else "linear",
                      legend=dict(orientation="h", y=-0.25))
    return fig


class EpochRecord:
    """Every epoch end of a run's training stages (stage, epoch, metrics), kept as it trains:
    a figure of the training loss at each (live), the numbers of the epoch end the scrubber
    points at, and the `PlayControls` (`play`) whose scrubber walks through them.

    For apps whose figures come from the finished result only: what a run was like at an
    earlier epoch is its metrics then. `hook(job)` is the run's `RunContext.on_epoch`;
    `load(history)` shows a finished (or cached) run's record (None: none was kept)."""

    def __init__(self, runner: Runner, *, redraw_every_s: float = 0.3):
        self.history: list[dict[str, Any]] = []
        self.kept = True  # False: the run shown was kept without its record
        self.play = PlayControls(runner, self.redraw, description="epoch end", redraw_every_s=redraw_every_s,
                                 scrub_tooltip="point at this epoch end (all training stages in order; the last: "
                                               "the latest) and show its numbers; no training")
        self.fig = StaticFigure(record_figure([]))
        self.text = W.HTML()
        self.widget = W.VBox([self.play.scrubber, self.fig, self.text])

    def hook(self, job: Job) -> Callable[[str, int, dict[str, Any]], None]:
        """A new run's record: the `on_epoch(stage, epoch, metrics)` of its `RunContext`."""
        history: list[dict[str, Any]] = []
        self.history, self.kept = history, True
        self.redraw()

        def on_epoch(stage: str, epoch: int, metrics: dict[str, Any]) -> None:
            if job.current:
                history.append({"stage": stage, "epoch": int(epoch), "metrics": plain_metrics(metrics)})
                self.play.epoch_end(job, epoch, stage, draw=self.redraw)

        return on_epoch

    def load(self, history: list[dict[str, Any]] | None) -> None:
        self.history, self.kept = list(history or []), history is not None
        self.redraw()

    def redraw(self) -> None:
        """Draw the record up to now with the scrubber's epoch end marked, and that epoch's numbers."""
        import html

        from aelab.viz.results import metric_label

        history = list(self.history)
        self.play.set_range(len(history), bool(history))
        chosen = self.play.chosen()
        self.fig.show(record_figure(history, chosen))
        if not history:
            self.text.value = ("" if self.kept else "<div style='color:#555'>This run was kept without its "
                                                    "epoch-by-epoch record: run it again to see it.</div>")
            return
        index = chosen or len(history)
        entry = history[index - 1]
        numbers = " · ".join(f"{html.escape(metric_label(k))} {v:.4g}" for k, v in entry["metrics"].items()
                             if isinstance(v, float) and k not in ("epoch", "layer", "phase")
                             and not k.endswith("seconds"))
        self.text.value = ("<div class='aelab-epoch-record' style='color:#333' title='what the training loop "
                           "measured at the end of this epoch: train = on the training batches of the epoch, "
                           f"test / valid = on held-out images'><b>epoch end {index} of "
                           f"{len(history)}</b>: {html.escape(entry['stage'])}, epoch {entry['epoch']} — "
                           f"{numbers or 'no numbers'}</div>")


def header(title: str, intro: str = "", device: Any = "auto", *, show_title: bool = False) -> W.HTML:
    """The device line (and scale badge). The notebook's markdown carries the title and the
    introduction, so they are not repeated here unless `show_title` (an app used elsewhere)."""
    scale = lab_scale()
    badge = "" if scale == "teach" else f" · <b>{scale}</b> size"
    return W.HTML(CSS + (f"<h3 style='margin:4px 0'>{title}</h3>" if show_title else "")
                  + f"<div style='color:#555'>{device_label(device)}{badge}</div>"
                  + (f"<p style='max-width:60em'>{intro}</p>" if intro and show_title else ""))


class App(W.VBox):
    """Base of every dashboard: a header, controls, a runner and figures in one VBox.

    Subclasses build their widgets and call `super().__init__(children)`; `runner` is shared.
    """

    def __init__(self, children, **kwargs):
        super().__init__([plotly_loader(), *children], **kwargs)
        self.add_class("aelab-app")

    def setup(self, scale: str | None, device: Any) -> None:
        """Scale (argument, else `$AELAB_LAB_SCALE`), torch device and result cache of an app."""
        self.scale = scale or lab_scale()
        self.device = resolve_device(device)
        self.cache = ArrayCache()

    def cached_or_start(self, kind: str, key: Any, task: Callable[["Job"], Any],
                        show: Callable[..., None], *, label: str,
                        cached_status: str = "loaded from cache", with_info: bool = False,
                        train: bool = True, idle_status: str = "") -> None:
        """Show the arrays cached for (kind, key) at once; else run `task(job)` off the UI thread,
        then cache the arrays it returns and show them. `with_info`: the task returns
        `(arrays, info)` (a JSON-able dict, e.g. the run's metrics), cached beside the arrays, and
        `show(arrays, info)` gets both. `train=False`: only a cached result is shown; otherwise
        nothing starts and the status says `idle_status` (a dashboard opening on a shipped result)."""
        cached = self.cache.load(kind, key)
        if cached is not None:
            show(cached[0], cached[1].get("info", {})) if with_info else show(cached[0])
            self.runner.show_cached(cached_status)
            return
        if not train:
            if idle_status:
                self.runner.status.value = idle_status
            return

        def done(outcome) -> None:
            arrays, info = outcome if with_info else (outcome, None)
            self.cache.save(kind, key, arrays, {"info": info} if with_info else None)
            show(arrays, info) if with_info else show(arrays)

        self.runner.start(task, done, label=label)
