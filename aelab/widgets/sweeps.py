"""A sweep's dashboard: the table (the paper's numbers beside each row), this sweep against
the paper, and validation against test per cell, re-read from the sweep's folder while it runs.

`SweepsApp("runs/sweeps/zhou-svm-table2")` shows a folder written by `aelab sweep` (on Ray,
here or on a cluster with a shared disk) and re-reads it every few seconds while "live" is
ticked, or when "refresh" is pressed. Without a folder it runs a small demo sweep in this
kernel (Zhou's Table II grid at smoke size, 2 seeds, 8 cells, no Ray needed) into the lab
cache and shows it filling in cell by cell; a second visit finds every cell finished. No sweep
ships with the lab (`results/` holds single runs: one paper grid costs hundreds to thousands of
core-hours, docs/sweeps.md), so the page says so above the demo (`NO_SHIPPED_SWEEP`).

The view and "live" are in the page address (`UrlState`); the folder is not: a link should not
make the server read a path of the link's choosing, and folders differ between machines. A
sweep has no epochs of its own (each cell is a whole run), so there is no pause or epoch
scrubber here: stop ends the demo sweep, and starting it again resumes its unfinished cells.
"""

from __future__ import annotations

import html
import threading
from pathlib import Path
from typing import Any, Callable

import ipywidgets as W
import plotly.graph_objects as go

from aelab.sweep import build_plan, build_table, run_sweep
from aelab.sweep import store
from aelab.viz.sweeps import sweep_rows, sweep_scatter, sweep_table
from aelab.widgets.base import TOGGLES, App, Runner, cache_root, figure_widget, header, lab_threads, refresh_figure
from aelab.widgets.urlstate import UrlState

DEMO = dict(experiment="zhou-svm", preset="table2", seeds="0-1", scale="smoke")
VIEWS: dict[str, Callable[[dict[str, Any]], go.Figure]] = {
    "table": sweep_table, "this sweep vs paper": sweep_rows, "validation vs test": sweep_scatter}


NO_SHIPPED_SWEEP = (
    "<div class='aelab-sweep-about' style='max-width:60em;margin:4px 0'><b>What a sweep is:</b> a paper's table "
    "is the end of a search. Every cell of its grid (here: learning rate x noise level) is trained, the cell with "
    "the best <i>validation</i> error is chosen per row, and only that cell's <i>test</i> error is reported, as a "
    "mean ± 95% interval over seeds. <b>No sweep ships with the lab</b> (<code>results/</code> holds single runs: "
    "Zhou et al.'s Tables II-VII alone come to about 2650 CPU core-hours per seed, extrapolated in "
    "<code>docs/sweeps.md</code>), so this page runs a small demo sweep in this kernel: Zhou et al.'s Table II "
    "grid at smoke size, 8 cells, each a short training run. Its numbers only show how the table is built, "
    "not the paper's values.</div>")


def demo_folder() -> Path:
    """Where the demo sweep lives: `<cache root>/lab/sweeps/<name>`."""
    return cache_root() / "sweeps" / f"{DEMO['experiment']}-{DEMO['preset']}-{DEMO['scale']}"


def _signature(folder: Path) -> tuple:
    """What changes when a sweep's folder changes (cheap to read every few seconds)."""
    def stamp(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0
    return (stamp(folder / store.PLAN), stamp(folder / store.CELLS), stamp(folder / store.FAILED),
            len(store.finished_keys(folder)))


class SweepsApp(App):
    """Reads a sweep folder; shows its table, this sweep vs the paper, and validation vs test."""

    def __init__(self, folder: str | Path | None = None, *, refresh_s: float = 5.0, scale: str | None = None,
                 device: str = "auto", autostart: bool = True):
        self.setup(scale, device)
        self.refresh_s = refresh_s
        self.demo = folder is None
        # continuous_update off: a new folder is read when Enter is pressed or the box is left
        self.folder_box = W.Text(value=str(folder or demo_folder()), description="folder", continuous_update=False,
                                 layout=W.Layout(width="46em"), placeholder="a folder written by aelab sweep --out",
                                 tooltip="the folder of a sweep (aelab sweep ... --out FOLDER); read on Enter")
        self.refresh_button = W.Button(description="refresh", icon="refresh", tooltip="re-read the folder")
        self.live = W.Checkbox(value=True, description=f"live (re-read every {refresh_s:g} s)", indent=False,
                               tooltip="re-read the folder by itself while a sweep writes it")
        self.view = W.ToggleButtons(options=list(VIEWS), description="show", style=TOGGLES,
                                    tooltips=["the paper's table: the cell chosen on validation per row, its test "
                                              "error (mean ± 95% interval over seeds) beside the paper's",
                                              "each row's test error against the paper's number",
                                              "every cell's validation error against its test error"])
        self.runner = Runner("sweep")
        self.summary = W.HTML()
        self.table: dict[str, Any] | None = None
        self._shown_view: str | None = None
        self._signature: tuple | None = None
        self._draw_lock = threading.Lock()
        self.fig = figure_widget(go.Figure(layout=dict(title="reading the sweep…", height=420,
                                                       template="plotly_white")))
        self.runner.figures = [self.fig]
        self.refresh_button.on_click(lambda _: self.load())
        self.folder_box.observe(lambda _: self.load(), names="value")
        self.view.observe(lambda _: self.redraw(), names="value")
        intro = ("A sweep runs every cell of a paper's grid (each one experiment run) and, per row of the paper's "
                 "table, chooses the cell with the best validation error; the test error of that cell is shown as "
                 "mean ± 95% interval over the seeds, with the paper's number beside it. 'validation vs test' "
                 "shows every cell: how well does validation pick the test winner?")
        if self.demo:
            intro += (" No folder was given: this runs a small demo sweep here (Zhou et al.'s Table II grid at smoke "
                      "size, 8 cells); run <code>aelab sweep zhou-svm --preset table2 --seeds 0-4 --out DIR</code> "
                      "and open <code>SweepsApp('DIR')</code> for a real one.")
        self.about = W.HTML(NO_SHIPPED_SWEEP if self.demo else "")
        self.url_state = UrlState({"view": self.view, "live": self.live})  # in the page address
        super().__init__([header("Sweeps: paper grids, chosen on validation", intro, self.device),
                          self.url_state.widget, self.about,
                          W.HBox([self.folder_box, self.refresh_button, self.live]), self.view, self.runner.widget,
                          self.summary, self.fig])
        self._timer_stop = threading.Event()
        self._timer = threading.Thread(target=self._poll, daemon=True, name="aelab-sweep-refresh")
        self.url_state.from_page()  # a page opened from a link starts on its view
        if autostart:
            self.run_demo() if self.demo else self.load()
            self._timer.start()

    # -- reading
    @property
    def folder(self) -> Path:
        return Path(self.folder_box.value.strip()).expanduser()

    def read(self) -> dict[str, Any]:
        folder = self.folder
        if not (folder / store.PLAN).is_file():
            raise FileNotFoundError(f"no sweep in {folder} (no {store.PLAN}): run aelab sweep ... --out {folder}")
        self._signature = _signature(folder)
        return build_table(folder)

    def load(self) -> None:
        """Re-read the folder off the UI thread and redraw. A folder with no sweep yet shows how
        to start one there; with "live" ticked the page picks it up once the sweep begins."""
        if not (self.folder / store.PLAN).is_file():
            where = html.escape(str(self.folder))
            self.summary.value = (f"<div style='max-width:60em'>No sweep in <code>{where}</code> yet. Start one "
                                  f"there, e.g. <code>aelab sweep zhou-svm --preset table2 --seeds 0-4 --out "
                                  f"{where}</code>; with <i>live</i> ticked this page shows it as its cells "
                                  f"finish.</div>")
            self.runner.status.value = "waiting for a sweep"
            return
        self.runner.start(lambda job: self.read(), self.show, label=f"reading {self.folder}…")

    def run_demo(self) -> None:
        """Run (or finish) the demo sweep in this kernel, showing it cell by cell."""
        plan = build_plan(DEMO["experiment"], preset=DEMO["preset"], seeds=DEMO["seeds"], scale=DEMO["scale"])
        folder = self.folder

        def task(job):
            def progress(done: int, total: int, desc: str) -> None:
                job.progress(done, total, desc)
                if (folder / store.PLAN).is_file() and _signature(folder) != self._signature:
                    self.show(self.read())

            run_sweep(plan, folder, backend="in-process", cpus_per_cell=lab_threads(), device=str(self.device),
                      progress=progress, log=job.log, stop=job.stop, write_figure=False)
            return self.read()

        self.runner.start(task, self.show, label=f"demo sweep: {plan.name}, {len(plan.cells)} cells at smoke size…")

    def _poll(self) -> None:
        while not self._timer_stop.wait(self.refresh_s):
            if not self.live.value or self.runner.busy:
                continue
            try:
                if (self.folder / store.PLAN).is_file() and _signature(self.folder) != self._signature:
                    self.show(self.read())
            except (OSError, ValueError, KeyError):  # a folder being written: try again next time
                continue

    def close(self) -> None:
        self._timer_stop.set()
        super().close()

    # -- drawing
    def show(self, table: dict[str, Any]) -> None:
        self.table = table
        cells = table["cells"]
        state = "complete" if table["complete"] else "running or unfinished"
        failed = "".join(f"<li>{html.escape(f['label'])}: {html.escape(str(f['error']))}</li>"
                         for f in table["failed"][:8])
        self.summary.value = (
            f"<div style='max-width:60em'><b>{html.escape(table['name'])}</b> ({html.escape(table['paper_source'])}) "
            f"· {table['scale']} scale · seeds {', '.join(map(str, table['seeds']))} · "
            f"<b>{cells['finished']}/{cells['planned']}</b> cells finished, {cells['failed']} failed ({state}) · "
            f"chosen on validation: {', '.join(table['select'])}"
            + (f"<br><span style='color:#b00020'>failed cells:</span><ul>{failed}</ul>" if failed else "")
            + (f"<p style='color:#555'>{html.escape(table['notes'])}</p>" if table.get("notes") else "")
            + "</div>")
        self.redraw()

    def redraw(self) -> None:
        """Draw the chosen view of the last table read (each view is drawn whole)."""
        if self.table is None:
            return
        with self._draw_lock:
            refresh_figure(self.fig, VIEWS[self.view.value](self.table))
            self._shown_view = self.view.value


__all__ = ["SweepsApp", "demo_folder", "DEMO"]
