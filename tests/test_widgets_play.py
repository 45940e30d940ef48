"""Play / pause / step and the epoch scrubber of every training dashboard, in-process, threads real.

Training runs in the runner's thread (not synchronous here); pause and step take effect at
an epoch end, where the thread waits with the model and loop untouched, so continuing is
the same run. Snapshots kept every epoch let the scrubber redraw any epoch without training
(01's filters, 00's field, 02's curves); the other dashboards keep every epoch end's metrics
(`EpochRecord`), drawn live, which their scrubber walks through. A task with no epoch loop
(06's t-SNE) says so and hides the buttons while it runs.
"""

import time

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def smoke(monkeypatch, tmp_path):
    monkeypatch.setenv("AELAB_LAB_SCALE", "smoke")
    monkeypatch.setenv("AELAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("AELAB_RESULTS", str(tmp_path / "no-shipped-results"))


def wait_for(condition, timeout=120.0):
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_pause_step_and_continue_at_epoch_ends_then_scrub_the_epochs():
    from aelab.widgets.base import PauseGate
    from aelab.widgets.filters import FiltersApp

    app = FiltersApp(autostart=False)
    app.epochs.value = 3
    assert app.play.pause_button.disabled and app.play.step_button.disabled  # nothing trains yet
    app.train()
    app.play.toggle_pause()  # pause at the end of the epoch under way (the first, unless it already ended)
    assert wait_for(lambda: "paused after epoch" in app.runner.status.value), app.runner.status.value
    assert app.play.pause_button.description == "continue" and not app.play.step_button.disabled
    assert app.runner.busy
    trained = np.isfinite(app.arrays["filter_epochs"]).all(axis=(2, 3, 4))  # levels x epochs done
    level, epoch = divmod(int(trained.sum()) - 1, 3)
    assert f"paused after epoch {epoch + 1} of 3" in app.runner.status.value and trained.sum() < 6
    time.sleep(0.5)  # paused: nothing more is trained
    assert np.array_equal(np.isfinite(app.arrays["filter_epochs"]).all(axis=(2, 3, 4)), trained)
    app.play.step()  # exactly one more epoch, then paused again
    assert wait_for(lambda: np.isfinite(app.arrays["filter_epochs"]).all(axis=(2, 3, 4)).sum() == trained.sum() + 1
                    and "paused after" in app.runner.status.value), app.runner.status.value
    time.sleep(0.5)
    assert np.isfinite(app.arrays["filter_epochs"]).all(axis=(2, 3, 4)).sum() == trained.sum() + 1
    app.play.toggle_pause()  # continue to the end (both levels)
    assert app.runner.wait(120) and app.runner.status.value.startswith("done"), app.runner.status.value
    assert app.play.pause_button.disabled and app.play.step_button.disabled
    assert app.play.pause_button.description == "pause"
    assert np.isfinite(app.arrays["filter_epochs"]).all()  # every level, every epoch kept

    # the scrubber redraws any epoch from the snapshots: its end is the final filters
    assert not app.play.scrubber.disabled and app.play.scrubber.max == 3 and app.play.scrubber.value == 3
    final = np.asarray(app.filter_fig.data[0].z, float)
    app.play.scrubber.value = 1
    assert "after epoch 1" in app.filter_fig.figure.layout.title.text
    first = np.asarray(app.filter_fig.data[0].z, float)
    assert first.shape == final.shape and not np.allclose(first, final, equal_nan=True)
    app.play.scrubber.value = 3
    assert "after epoch" not in app.filter_fig.figure.layout.title.text
    np.testing.assert_array_equal(np.asarray(app.filter_fig.data[0].z, float), final)

    gate = PauseGate()  # a set stop ends a pause at once
    gate.pause()
    import threading

    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    gate.checkpoint(stop)
    assert time.monotonic() - started < 0.5


def test_stop_while_paused_ends_the_run_labelled_with_its_epoch():
    from aelab.widgets.filters import FiltersApp

    app = FiltersApp(autostart=False)
    app.epochs.value = 2
    app.play.gate.pause()
    app.train()  # a new run starts unpaused
    assert wait_for(lambda: app.arrays is not None and np.isfinite(app.arrays["filter_epochs"][0, 0]).all())
    app.play.toggle_pause()
    assert wait_for(lambda: "paused after" in app.runner.status.value)
    app.runner.request_stop()
    assert app.runner.wait(60) and app.runner.status.value.startswith("stopped"), app.runner.status.value
    assert app.filter_fig.figure.layout.title.text.startswith("[stopped at epoch")
    assert app.play.pause_button.disabled and app.play.step_button.disabled


def start_paused(app, start):
    """Start a run that pauses at its first epoch end (a smoke run could end before a click on pause)."""
    begin = app.play.begin

    def begin_paused(*args, **kwargs):
        label = begin(*args, **kwargs)  # a new run starts unpaused ...
        app.play.gate.pause()  # ... and this one is paused before its thread starts
        return label

    app.play.begin = begin_paused
    try:
        start()
    finally:
        del app.play.begin


def pause_step_continue(app, start, kept):
    """One run: paused after its first epoch end, one step, then continued to its end. `kept()`:
    how many epochs the app holds the snapshots or numbers of (exactly the epochs trained)."""
    status = app.runner.status
    start_paused(app, start)
    assert wait_for(lambda: "paused after epoch 1" in status.value), status.value
    assert app.play.pause_button.description == "continue" and not app.play.step_button.disabled
    assert app.runner.busy and app.play.seen == 1 and kept() == 1
    time.sleep(0.3)  # paused: nothing more is trained
    assert app.play.seen == 1 and kept() == 1 and app.runner.busy
    app.play.step()  # exactly one more epoch, then paused again
    assert wait_for(lambda: app.play.seen == 2 and "paused after" in status.value), status.value
    time.sleep(0.3)
    assert app.play.seen == 2 and kept() == 2
    app.play.toggle_pause()  # continue to the end
    assert app.runner.wait(120) and status.value.startswith("done"), status.value
    assert app.play.pause_button.disabled and app.play.step_button.disabled
    assert app.play.pause_button.description == "pause"
    assert kept() == app.play.seen >= 2


def test_the_tour_pauses_steps_and_scrubs_the_field_of_every_epoch():
    from aelab.widgets.tour import TourApp

    app = TourApp(autostart=False)

    def kept():
        snaps = app.shown[1].get("grid_epochs") if app.shown is not None else None
        return 0 if snaps is None else int(np.isfinite(snaps[:, 0, 0]).sum())

    pause_step_continue(app, app.train, kept)
    epochs = app.config().epochs
    assert kept() == epochs and app.play.scrubber.max == epochs and not app.play.scrubber.disabled
    final = np.asarray(app.fig.data[2].x, float)  # the arrows of the finished run
    app.play.scrubber.value = 1
    assert f"after epoch 1 of {epochs}" in app.fig.figure.layout.title.text
    assert not np.allclose(np.asarray(app.fig.data[2].x, float), final, equal_nan=True)
    app.play.scrubber.value = epochs
    assert "after epoch" not in app.fig.figure.layout.title.text
    np.testing.assert_array_equal(np.asarray(app.fig.data[2].x, float), final)


def test_joint_vs_layerwise_pauses_steps_and_scrubs_the_curves():
    from aelab.widgets.schemes import SchemesApp

    app = SchemesApp(autostart=False)

    def trained(scheme):
        return int(np.isfinite(app.arrays[f"test_{scheme}"]).sum()) if app.arrays is not None else 0

    pause_step_continue(app, app.train, lambda: trained("L") + trained("J"))
    layerwise, joint = len(app.arrays["test_L"]), len(app.arrays["test_J"])
    assert app.play.scrubber.max == layerwise + joint and not app.play.scrubber.disabled

    def finite(name):
        return [int(np.isfinite(np.asarray(t.y, float)).sum()) for t in app.fig.data if t.name.startswith(name)]

    app.play.scrubber.value = 1  # after the first epoch: one layer-wise point, no joint one yet
    assert f"after epoch 1 of {layerwise + joint}" in app.fig.figure.layout.title.text
    assert finite("layer-wise") == [1, 1] and sum(finite("joint")) == 0
    app.play.scrubber.value = layerwise + 1  # the first joint epoch
    assert finite("layer-wise") == [layerwise] * 2 and finite("joint") == [1, 1]
    app.play.scrubber.value = layerwise + joint  # the end: the whole run
    assert "after epoch" not in app.fig.figure.layout.title.text
    assert finite("layer-wise") == [layerwise] * 2 and finite("joint") == [joint] * 2


EXPERIMENT_APPS = {"GsnApp": "aelab.widgets.experiment", "WhatWhereApp": "aelab.widgets.experiment",
                   "InversionApp": "aelab.widgets.experiment", "SparseCodingApp": "aelab.widgets.sparse_codes",
                   "PsdApp": "aelab.widgets.sparse_codes", "HashingApp": "aelab.widgets.sparse_codes",
                   "StochasticApp": "aelab.widgets.stochastic", "TangentsApp": "aelab.widgets.tangents",
                   "PretrainingApp": "aelab.widgets.pretraining"}


def experiment_app(name, monkeypatch):
    import dataclasses
    import importlib

    from aelab.experiments import get

    if name == "WhatWhereApp":  # its smoke preset trains one epoch: two, to have one to step to
        zhao = get("zhao-translation")
        monkeypatch.setitem(zhao.presets, "smoke", dataclasses.replace(zhao.presets["smoke"], epochs=2))
    return getattr(importlib.import_module(EXPERIMENT_APPS[name]), name)(autostart=False)


@pytest.mark.parametrize("name", list(EXPERIMENT_APPS))
def test_experiment_dashboards_pause_step_and_scrub_the_record_of_every_epoch(name, monkeypatch):
    app = experiment_app(name, monkeypatch)
    pause_step_continue(app, app.run, lambda: len(app.record.history))
    n = len(app.record.history)
    assert app.result["history"] == app.record.history  # kept with the result (and its cache entry)
    assert sum(len(t.x) for t in app.record.fig.data) == n and app.play.scrubber.max == n
    assert f"epoch end {n} of {n}" in app.record.text.value and not app.play.scrubber.disabled
    app.play.scrubber.value = 1
    first = app.record.history[0]
    assert "epoch end 1 marked" in app.record.fig.figure.layout.title.text
    assert app.record.fig.figure.layout.shapes[0].x0 == 1
    assert f"epoch end 1 of {n}</b>: {first['stage']}, epoch {first['epoch']}" in app.record.text.value
    app.play.scrubber.value = n
    assert "marked" not in app.record.fig.figure.layout.title.text


def test_a_stopped_experiment_run_is_labelled_with_its_epoch_and_stage():
    from aelab.widgets.experiment import GsnApp

    app = GsnApp(autostart=False)
    start_paused(app, app.run)
    assert wait_for(lambda: "paused after epoch 1" in app.runner.status.value), app.runner.status.value
    stage = app.record.history[0]["stage"]
    app.runner.request_stop()
    assert app.runner.wait(60) and app.runner.status.value.startswith("stopped"), app.runner.status.value
    assert app.record.fig.figure.layout.title.text.startswith(f"[stopped at epoch 1 ({stage})]")
    assert app.play.pause_button.disabled and app.play.step_button.disabled and app.result is None


def test_the_latent_space_pauses_its_training_and_says_a_projection_cannot_pause():
    import dataclasses

    from aelab.widgets.latent import LatentApp

    app = LatentApp(autostart=False)
    app.config = dataclasses.replace(app.config, epochs=3)
    pause_step_continue(app, app.prepare, lambda: len(app.record.history))
    assert app.play.scrubber.max == 3 and "epoch end 3 of 3" in app.record.text.value
    assert "PCA" in app.fig.figure.layout.title.text and sum(len(t.x) for t in app.fig.data) == 150
    app.play.scrubber.value = 1
    assert "epoch end 1 of 3" in app.record.text.value
    statuses, shown = [], []
    app.runner.status.observe(lambda change: statuses.append(change.new), names="value")
    app.play.buttons.layout.observe(lambda change: shown.append(change.new), names="display")
    app.method.value = "tsne"  # t-SNE has no epochs: said in its status, the buttons hidden while it runs
    assert app.runner.wait(120) and app.runner.status.value.startswith("done"), app.runner.status.value
    assert any("t-SNE" in s and "cannot pause" in s for s in statuses), statuses
    assert shown == ["none", ""] and app.play.buttons.layout.display == ""
    assert "t-SNE" in app.fig.figure.layout.title.text
