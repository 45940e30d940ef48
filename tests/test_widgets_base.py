"""Dashboard machinery: scale switch, config-keyed cache, background runner, in-place redraws, `aelab lab`."""

import threading
import time
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import pytest

from aelab.widgets import base, lab


def test_scale_switch_reads_the_environment(monkeypatch):
    monkeypatch.delenv(base.SCALE_ENV, raising=False)
    assert base.lab_scale() == "teach"
    monkeypatch.setenv(base.SCALE_ENV, "Smoke")
    assert base.lab_scale() == "smoke"
    monkeypatch.setenv(base.SCALE_ENV, "huge")
    with pytest.raises(ValueError, match="AELAB_LAB_SCALE"):
        base.lab_scale()


def test_device_label_names_the_device():
    assert base.device_label("cpu").startswith("running on cpu")


@dataclass(frozen=True)
class Cfg:
    hidden: int = 8
    levels: tuple = (0.0, 0.5)


def test_config_key_is_stable_and_distinguishes_configs():
    assert base.config_key("a", Cfg()) == base.config_key("a", Cfg())
    assert base.config_key("a", Cfg()) != base.config_key("a", Cfg(hidden=9))
    assert base.config_key("a", Cfg()) != base.config_key("b", Cfg())
    assert base.config_key("a", {"x": 1, "y": 2}) == base.config_key("a", {"y": 2, "x": 1})


def test_cache_round_trip_and_miss(tmp_path):
    cache = base.ArrayCache(tmp_path)
    assert cache.load("k", Cfg()) is None
    cache.save("k", Cfg(), {"w": np.arange(6).reshape(2, 3)}, {"note": "x"})
    arrays, info = cache.load("k", Cfg())
    np.testing.assert_array_equal(arrays["w"], np.arange(6).reshape(2, 3))
    assert info["note"] == "x" and info["config"]["hidden"] == 8
    assert cache.load("k", Cfg(hidden=9)) is None


def test_a_corrupt_cache_entry_reads_as_a_miss(tmp_path):
    cache = base.ArrayCache(tmp_path)
    folder = cache.save("k", Cfg(), {"w": np.zeros(2)})
    (folder / "arrays.npz").write_bytes(b"not an archive")
    assert cache.load("k", Cfg()) is None


def test_cache_root_follows_aelab_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("AELAB_CACHE", str(tmp_path))
    assert base.cache_root() == tmp_path / "lab"


def test_runner_runs_off_the_calling_thread_and_reports_done(monkeypatch):
    monkeypatch.setattr(base.Runner, "synchronous", False)
    runner, seen, results = base.Runner(), [], []
    release = threading.Event()

    def task(job):
        seen.append(threading.current_thread().name)
        release.wait(5)
        job.progress(3, 3, "almost")
        return 42

    runner.start(task, results.append)
    assert runner.busy  # start returned while the task still waits
    release.set()
    assert runner.wait(10)
    assert seen == ["aelab-runner"] and results == [42]
    assert runner.status.value.startswith("done") and runner.bar.value == runner.bar.max
    assert runner.stop_button.disabled and runner.error.value == ""


def test_runner_shows_a_readable_error_not_a_traceback(monkeypatch):
    monkeypatch.setattr(base.Runner, "synchronous", False)
    runner = base.Runner()

    def task(job):
        raise ValueError("learning rate too high: try a smaller one\nsecond line")

    runner.start(task)
    runner.wait(10)
    assert "learning rate too high" in runner.error.value
    assert "Traceback" not in runner.error.value and "second line" not in runner.error.value
    assert runner.status.value == "failed" and isinstance(runner.last_error, ValueError)


def test_stop_button_ends_a_task(monkeypatch):
    monkeypatch.setattr(base.Runner, "synchronous", False)
    runner, done = base.Runner(), []

    def task(job):
        while not job.stopped():
            time.sleep(0.01)
        return "ignored"

    runner.start(task, done.append)
    runner.stop_button.click()
    assert runner.wait(10)
    assert done == [] and runner.status.value.startswith("stopped")


def test_a_new_start_supersedes_the_running_task_without_waiting(monkeypatch):
    monkeypatch.setattr(base.Runner, "synchronous", False)
    runner, done = base.Runner(), []
    release = threading.Event()

    def slow(job):  # ignores the stop flag for a while, like a UMAP fit
        release.wait(5)
        job.progress(1, 2, "old task still reporting")
        return "old"

    runner.start(slow, done.append)
    started = time.perf_counter()
    runner.start(lambda job: "new", done.append)
    assert time.perf_counter() - started < 1.0  # the callback did not block on the old task
    runner.wait(5)
    release.set()
    time.sleep(0.3)
    assert done == ["new"] and runner.status.value.startswith("done")


def test_the_final_state_is_sent_again_after_a_task(monkeypatch):
    monkeypatch.setattr(base.Runner, "synchronous", False)
    monkeypatch.setattr(base, "HEAL_AFTER_S", (0.05,))
    runner = base.Runner()
    figure = base.figure_widget(go.Figure(go.Scatter(x=[1], y=[1])))
    runner.figures = [figure]
    sent = []
    for widget in (runner.status, figure):
        monkeypatch.setattr(widget, "send_state", lambda key=None, w=widget: sent.append((w, key)))
    runner.start(lambda job: None)
    runner.wait(5)
    time.sleep(0.5)
    assert (runner.status, None) in sent
    assert (figure, "outputs") in sent


def test_a_stopped_run_labels_its_figure_and_leaves_the_stop_button_greyed(monkeypatch):
    monkeypatch.setattr(base.Runner, "synchronous", True)
    runner = base.Runner()
    figure = base.figure_widget(go.Figure(go.Scatter(x=[1], y=[1]), layout=dict(title="curves")))
    runner.figures = [figure]

    def task(job):
        job.epoch = 3
        job.stop.set()

    runner.start(task)
    assert figure.figure.layout.title.text == "[stopped at epoch 3] curves"
    assert runner.stop_button.disabled and runner.stop_button.button_style == ""
    runner.show_cached()
    assert runner.bar.value == runner.bar.max and "cache" in runner.status.value


def test_static_figures_send_no_nan_and_need_no_widget_model():
    figure = base.figure_widget(go.Figure(go.Heatmap(z=[[1.0, float("nan")], [float("inf"), 2.0]])))
    html = figure.html
    assert "NaN" not in html and "Infinity" not in html and "null" in html
    assert "window.Plotly" in html and "cdn" not in html.lower()
    assert "Plotly" in base.plotly_loader().outputs[0]["data"]["text/html"][:300]
    app = base.App([])
    assert "aelab-plotly-loader" in app.children[0]._dom_classes


def test_sync_mode_waits_and_reraises(monkeypatch):
    monkeypatch.setattr(base.Runner, "synchronous", True)
    runner = base.Runner()
    with pytest.raises(RuntimeError, match="boom"):
        runner.start(lambda job: (_ for _ in ()).throw(RuntimeError("boom")))
    assert "boom" in runner.error.value


def test_log_goes_to_the_output_widget():
    runner = base.Runner()
    runner.log("epoch 1")
    assert runner.output.outputs[0]["text"] == "epoch 1\n"


def test_refresh_figure_updates_traces_in_place_or_replaces_them():
    widget = go.FigureWidget(go.Figure(go.Scatter(x=[1, 2], y=[1, 1], name="a")))
    trace = widget.data[0]
    base.refresh_figure(widget, go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 2, 1], name="b"), layout=dict(title="t")))
    assert widget.data[0] is trace and list(widget.data[0].y) == [3, 2, 1] and widget.data[0].name == "b"
    assert widget.layout.title.text == "t"
    base.refresh_figure(widget, go.Figure([go.Bar(x=[1], y=[1]), go.Bar(x=[2], y=[2])]))
    assert [t.type for t in widget.data] == ["bar", "bar"]


def test_a_page_that_connects_after_an_update_gets_the_updated_figure():
    # the synced state is what a browser reads when it connects (Voila: after the run)
    widget = base.figure_widget(go.Figure(go.Scatter(x=[1], y=[1])))
    base.refresh_figure(widget, go.Figure(go.Scatter(x=[1, 2], y=[5, 6]), layout=dict(title="trained")))
    assert list(widget.data[0].y) == [5, 6]
    assert "trained" in widget.outputs[0]["data"]["text/html"]


def test_lab_finds_notebooks_in_order(tmp_path):
    (tmp_path / "00-x.ipynb").write_text("{}")
    assert lab.find_notebooks(tmp_path) == tmp_path.resolve()  # --notebooks wins over the checkout
    assert lab.find_notebooks() != tmp_path.resolve()
    with pytest.raises(lab.NotebooksNotFound, match="--notebooks"):
        lab.find_notebooks(tmp_path / "missing")


def test_the_checkout_notebooks_are_found_by_default():
    folder = lab.find_notebooks()
    assert "00-tour.ipynb" in lab.dashboards(folder)


def test_voila_arguments_cover_the_served_settings(tmp_path):
    argv = lab.voila_argv(tmp_path, port=9999, preheat=2, timeout=60, cull_idle=120, cull_interval=30)
    for expected in ("--port=9999", "--Voila.ip=127.0.0.1", "--strip_sources=True", "--no-browser",
                     "--preheat_kernel=True", "--pool_size=2", "--VoilaExecutor.timeout=60",
                     "--MappingKernelManager.cull_idle_timeout=120", "--MappingKernelManager.cull_interval=30",
                     "--show_tracebacks=False", f"--VoilaKernelManager.fill_delay={lab.REFILL_DELAY_S}",
                     "--VoilaConfiguration.extension_denylist=jupyterlab-plotly",
                     "--VoilaConfiguration.extension_denylist=anywidget",
                     f"--VoilaExecutor.iopub_timeout={lab.IOPUB_TIMEOUT_S}",
                     f"--KernelProvisionerFactory.default_provisioner_name={lab.PROVISIONER}"):
        assert expected in argv
    cold = lab.voila_argv(tmp_path, port=1, preheat=0, tracebacks=True, open_browser=True)
    assert "--preheat_kernel=False" in cold and "--show_tracebacks=True" in cold and "--no-browser" not in cold
    assert not any("fill_delay" in a for a in cold)  # no pool, nothing to refill
    unforked = lab.voila_argv(tmp_path, port=1, fork=False)
    assert not any("provisioner" in a for a in unforked)


def test_plotly_js_is_inline_unless_the_lab_serves_it(monkeypatch):
    from aelab import settings
    from aelab.widgets.base import plotly_js_html

    monkeypatch.delenv(settings.LAB_PLOTLY_URL, raising=False)
    inline = plotly_js_html()
    assert len(inline) > 1_000_000 and "data-aelab-plotly" not in inline  # the whole bundle (JupyterLab, Binder)
    monkeypatch.setenv(settings.LAB_PLOTLY_URL, "/base/aelab/plotly.min.js")
    served = plotly_js_html()
    assert len(served) < 1000 and '"/base/aelab/plotly.min.js"' in served
    monkeypatch.setenv(settings.LAB_PLOTLY_URL, "http://elsewhere/plotly.js")
    with pytest.raises(settings.UsageError, match=settings.LAB_PLOTLY_URL):
        plotly_js_html()


def test_lab_kernels_run_at_a_lower_priority(monkeypatch):
    import os

    from aelab.widgets.lab_kernels import CappedKernelManager

    calls = []
    monkeypatch.setattr(os, "getpriority", lambda which, pid: 2)
    monkeypatch.setattr(os, "setpriority", lambda which, pid, value: calls.append((pid, value)))
    manager = CappedKernelManager()

    class Provisioner:
        pid = 4321

    class Kernel:
        provisioner = Provisioner()

    manager._kernels["k"] = Kernel()
    manager.lower_priority("k")
    assert calls == [(4321, 2 + manager.kernel_nice)] and manager.kernel_nice == 5
    manager.kernel_nice = 0
    manager.lower_priority("k")
    manager.lower_priority("unknown")
    assert len(calls) == 1


def test_aelab_lab_prints_the_voila_command(capsys, tmp_path):
    from aelab.cli import main

    (tmp_path / "01-a.ipynb").write_text("{}")
    assert main(["lab", "--notebooks", str(tmp_path), "--port", "8123", "--preheat", "0", "--print-command"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("voila ") and "--port=8123" in out and str(tmp_path) in out
    assert main(["lab", "--notebooks", str(tmp_path / "none"), "--print-command"]) == 1


def test_landing_cards_come_from_the_notebooks_and_the_page_is_self_contained(tmp_path):
    import re

    import nbformat

    from aelab.widgets.landing import cards, landing_html
    from aelab.widgets.lab import dashboards, find_notebooks

    folder = find_notebooks()
    items = cards(folder)
    assert [c["notebook"] for c in items] == dashboards(folder)
    assert items[1]["title"] == "Denoising autoencoder filters across noise levels"
    assert all(len(c["summary"]) > 20 and not c["title"].startswith("#") for c in items)
    assert all(c["picture"] == f"{c['name']}.png" for c in items
               if (folder / "thumbnails" / f"{c['name']}.png").exists())
    # without the summary in its metadata, a card takes the first sentence of the introduction
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "# A <b>test</b> & dashboard\n\nIt shows **things**. And more.\n\nMore text.")])
    nbformat.write(nb, tmp_path / "42-test.ipynb")
    (card,) = cards(tmp_path)
    assert card == {"name": "42-test", "notebook": "42-test.ipynb", "title": "A <b>test</b> & dashboard",
                    "summary": "It shows things.", "picture": None}
    page = landing_html([card, *items], base_url="/lab/")
    assert "A &lt;b&gt;test&lt;/b&gt; &amp; dashboard" in page  # escaped
    assert "href='/lab/voila/render/42-test.ipynb'" in page
    assert "src='/lab/aelab/thumbnails/01-denoising-filters.png'" in page
    assert page.count("class='aelab-card'") == len(items) + 1
    assert not re.search(r"(https?:)?//[a-z]", page)  # nothing from another host: works offline


def test_a_figure_stack_keeps_each_view_and_switches_without_redrawing():
    import plotly.graph_objects as go

    from aelab.widgets.base import FigureStack

    stack = FigureStack(go.Figure(layout_title_text="waiting"))
    assert stack.figure.layout.title.text == "waiting"
    waiting = stack.current
    stack.show(go.Figure(go.Scatter(y=[1, 2])), key="curves", stamp=1)
    curves = stack.current
    assert curves is waiting and list(stack.slots) == ["curves"]  # the placeholder's slot, reused
    stack.show_html("<table>paper</table>", key="table", stamp=1)
    assert "paper" in stack.html and curves.layout.display == "none" and stack.current.layout.display is None
    assert stack.holds("curves", 1) and not stack.holds("curves", 2) and not stack.holds("curves", None)
    sent = curves.outputs
    assert stack.select("curves") is curves and curves.outputs is sent  # shown again, nothing redrawn
    assert [s.layout.display for s in stack.children] == [None, "none"]
    assert list(stack.data[0].y) == [1, 2]
    stack.mark_stopped("stopped at epoch 2")  # the drawing no longer matches its data
    assert stack.figure.layout.title.text.startswith("[stopped at epoch 2]") and not stack.holds("curves", 1)
    stack.show(go.Figure(go.Scatter(y=[3])), key="curves", stamp=2)
    assert stack.current is curves and list(stack.data[0].y) == [3] and len(stack.children) == 2


def test_the_lab_server_keeps_torch_out_reports_the_device_from_a_child_and_starts_its_zygote(tmp_path):
    import subprocess
    import sys

    script = ("import sys\n"
              "from aelab.widgets import lab\n"
              "from aelab.widgets.landing import cards, landing_html, lab_voila_class\n"
              "folder = lab.find_notebooks()\n"
              "landing_html(cards(folder), base_url='/'); lab_voila_class()\n"
              "lab.report_device().join()\n"
              "lab.start_zygote().join()\n"  # before any kernel is asked for
              "from aelab.widgets.zygote import Zygote\n"
              "print('zygote up:', Zygote._instance is not None and Zygote._instance.process.poll() is None)\n"
              "print('torch in server:', 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300).stdout
    assert "aelab lab: kernels will run on cpu" in out or "aelab lab: kernels will run on cuda" in out, out
    assert "torch in server: False" in out and "zygote up: True" in out


def test_lab_does_not_cull_a_kernel_whose_page_has_not_connected_yet():
    """A preheated kernel ran its notebook long ago; handed to a page, it has an old last activity and
    no connection until the page's websocket opens. The culler must give the page its idle time."""
    import asyncio
    from datetime import datetime, timedelta, timezone

    
    from aelab.widgets.lab_kernels import CappedKernelManager

    class Spec:
        metadata: dict = {}

    class Kernel:
        kernel_spec = Spec()
        kernel_name = "python3"
        execution_state = "idle"

    long_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    manager = CappedKernelManager(cull_idle_timeout=30)
    culled = []

    async def shutdown(kernel_id, *args, **kwargs):
        culled.append(kernel_id)
        manager.remove_kernel(kernel_id)

    manager.shutdown_kernel = shutdown
    for kernel_id in ("handed-out", "was-connected"):
        manager._kernels[kernel_id] = Kernel()
        manager._kernels[kernel_id].last_activity = long_ago
        manager._kernel_connections[kernel_id] = 0
    manager.notify_connect("was-connected")  # its page connected, then closed
    manager.notify_disconnect("was-connected")

    asyncio.run(manager.cull_kernel_if_idle("handed-out"))
    asyncio.run(manager.cull_kernel_if_idle("was-connected"))
    assert culled == ["was-connected"]  # a closed page's kernel goes at once; the new one waits
    assert datetime.now(timezone.utc) - manager._kernels["handed-out"].last_activity < timedelta(seconds=5)
    manager._kernels["handed-out"].last_activity = long_ago  # its page never came
    asyncio.run(manager.cull_kernel_if_idle("handed-out"))
    assert culled == ["was-connected", "handed-out"] and not manager._awaiting_page and not manager._connected


def test_lab_refills_preheated_pools_that_the_cap_emptied_as_places_free():
    """Voila refills a pool only when it hands its kernel out: a refill refused at the cap would
    leave that dashboard without a preheated kernel for good."""
    import asyncio

    from aelab.widgets.lab_kernels import CappedKernelManager

    loop = asyncio.new_event_loop()
    try:
        refused, ready = loop.create_future(), loop.create_future()
        refused.set_exception(RuntimeError("503: the lab is serving its limit"))
        ready.set_result({"kernel_id": "pooled"})
        for cap, expected in ((4, ["01.ipynb", "02.ipynb"]), (3, ["01.ipynb"]), (2, [])):
            manager = CappedKernelManager(max_kernels=cap)
            filled = []
            manager.fill_if_needed = lambda notebook_name=None, **kwargs: filled.append(notebook_name)
            manager._pools = {"01.ipynb": [refused], "02.ipynb": [], "03.ipynb": [ready]}
            manager._kernels.update({"pooled": object(), "visitor": object(), "closed": object()})
            manager.remove_kernel("closed")  # a closed page's kernel culled: a place frees
            # two kernels live: cap 4 leaves two places, cap 3 one, cap 2 none
            assert filled == expected and manager._pools["01.ipynb"] == [], cap
            assert manager._pools["03.ipynb"] == [ready]  # a pool that has its kernel is left alone
    finally:
        loop.close()
