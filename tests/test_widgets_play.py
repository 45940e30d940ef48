"""Play / pause / step and the epoch scrubber of the filters dashboard (01), in-process, threads real.

Training runs in the runner's thread (not synchronous here); pause and step take effect at
an epoch end, where the thread waits with the model and loop untouched, so continuing is
the same run. Snapshots kept every epoch let the scrubber redraw any epoch without training.
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
    assert app.pause_button.disabled and app.step_button.disabled  # nothing trains yet
    app.train()
    app.toggle_pause()  # pause at the end of the epoch under way (the first, unless it already ended)
    assert wait_for(lambda: "paused after epoch" in app.runner.status.value), app.runner.status.value
    assert app.pause_button.description == "continue" and not app.step_button.disabled and app.runner.busy
    trained = np.isfinite(app.arrays["filter_epochs"]).all(axis=(2, 3, 4))  # levels x epochs done
    level, epoch = divmod(int(trained.sum()) - 1, 3)
    assert f"paused after epoch {epoch + 1} of 3" in app.runner.status.value and trained.sum() < 6
    time.sleep(0.5)  # paused: nothing more is trained
    assert np.array_equal(np.isfinite(app.arrays["filter_epochs"]).all(axis=(2, 3, 4)), trained)
    app.step()  # exactly one more epoch, then paused again
    assert wait_for(lambda: np.isfinite(app.arrays["filter_epochs"]).all(axis=(2, 3, 4)).sum() == trained.sum() + 1
                    and "paused after" in app.runner.status.value), app.runner.status.value
    time.sleep(0.5)
    assert np.isfinite(app.arrays["filter_epochs"]).all(axis=(2, 3, 4)).sum() == trained.sum() + 1
    app.toggle_pause()  # continue to the end (both levels)
    assert app.runner.wait(120) and app.runner.status.value.startswith("done"), app.runner.status.value
    assert app.pause_button.disabled and app.step_button.disabled and app.pause_button.description == "pause"
    assert np.isfinite(app.arrays["filter_epochs"]).all()  # every level, every epoch kept

    # the scrubber redraws any epoch from the snapshots: its end is the final filters
    assert not app.epoch.disabled and app.epoch.max == 3 and app.epoch.value == 3
    final = np.asarray(app.filter_fig.data[0].z, float)
    app.epoch.value = 1
    assert "after epoch 1" in app.filter_fig.figure.layout.title.text
    first = np.asarray(app.filter_fig.data[0].z, float)
    assert first.shape == final.shape and not np.allclose(first, final, equal_nan=True)
    app.epoch.value = 3
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
    app.gate.pause()
    app.train()  # a new run starts unpaused
    assert wait_for(lambda: app.arrays is not None and np.isfinite(app.arrays["filter_epochs"][0, 0]).all())
    app.toggle_pause()
    assert wait_for(lambda: "paused after" in app.runner.status.value)
    app.runner.request_stop()
    assert app.runner.wait(60) and app.runner.status.value.startswith("stopped"), app.runner.status.value
    assert app.filter_fig.figure.layout.title.text.startswith("[stopped at epoch")
    assert app.pause_button.disabled and app.step_button.disabled
