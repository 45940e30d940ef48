"""Each dashboard at smoke size, in-process: it trains, draws, redraws on a control, caches."""

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def smoke(monkeypatch, tmp_path):
    from aelab.widgets.base import Runner

    monkeypatch.setenv("AELAB_LAB_SCALE", "smoke")
    monkeypatch.setattr(Runner, "synchronous", True)  # start() waits and re-raises failures
    monkeypatch.setenv("AELAB_CACHE", str(tmp_path))


def z(trace):
    return np.asarray(trace.z, dtype=float)


def test_filters_app_trains_every_level_and_redraws_from_stored_weights():
    from aelab.widgets.filters import FiltersApp

    app = FiltersApp()
    assert app.runner.status.value.startswith("done") and app.runner.error.value == ""
    assert app.arrays["filters"].shape[0] == 2 and np.isfinite(app.arrays["test_curves"]).all()
    assert np.isfinite(np.asarray(app.curve_fig.data[0].y, float)).all()
    before = z(app.filter_fig.data[0])
    app.n_show.value = 6
    assert z(app.filter_fig.data[0]).shape[1] < before.shape[1]
    assert "near-uniform" in app.stats.value
    again = FiltersApp()
    assert "cache" in again.runner.status.value


def test_filters_share_one_initialisation_across_levels():
    from aelab.experiments import RunContext, get
    from aelab.widgets.filters import EXPERIMENT

    experiment = get(EXPERIMENT)  # the experiment the dashboard runs, at its smoke preset
    arrays = experiment.run(experiment.config("smoke", epochs=1), RunContext()).arrays
    # after one epoch the levels differ, but less from each other than from a fresh random draw
    diff = np.abs(arrays["filters"][0] - arrays["filters"][1]).mean()
    assert 0 < diff < np.abs(arrays["initial"]).mean()


def test_tour_switches_models_and_denoising_pulls_towards_the_curve():
    from aelab.widgets.tour import TourApp, toy_curve

    app = TourApp()
    assert app.runner.error.value == ""
    arrows = np.asarray(app.fig.data[2].x, float).copy()
    app.model.value = "undercomplete linear (PCA)"
    assert app.runner.error.value == "" and "PCA" in app.explain.value
    assert not np.allclose(np.asarray(app.fig.data[2].x, float), arrows, equal_nan=True)
    # the linear AE's reconstructions lie on one straight line
    recon = np.stack([np.asarray(app.fig.data[1].x, float), np.asarray(app.fig.data[1].y, float)], 1)
    centred = recon - recon.mean(0)
    assert np.linalg.svd(centred, compute_uv=False)[1] < 1e-3 * np.linalg.svd(centred, compute_uv=False)[0]
    assert toy_curve(5, 0).shape == (5, 2)


def test_schemes_app_draws_both_schemes_and_toggles_log_scale():
    from aelab.widgets.schemes import SchemesApp

    app = SchemesApp()
    assert app.runner.error.value == ""
    assert [t.name for t in app.fig.data] == ["layer-wise · train", "layer-wise · test",
                                              "joint · train", "joint · test"]
    assert all(np.isfinite(np.asarray(t.y, float)).all() for t in app.fig.data)
    app.log_y.value = True
    assert app.fig.layout.yaxis.type == "log"
    assert "Final test error" in app.summary.value


def test_latent_app_projects_codes_and_shows_a_thumbnail_on_hover():
    from aelab.widgets.latent import LatentApp

    app = LatentApp()
    assert app.runner.error.value == ""
    n = sum(len(t.x) for t in app.fig.data)
    assert n == 150 and "PCA" in app.fig.layout.title.text
    app.method.value = "tsne"
    assert "t-SNE" in app.fig.layout.title.text and sum(len(t.x) for t in app.fig.data) == n

    class Points:
        point_inds = [0]

    trace = app.fig.data[3]
    app._hover(trace, Points(), None)
    index = int(trace.customdata[0])
    np.testing.assert_allclose(z(app.thumb.data[0]), app.arrays["images"][index])
    assert f"#{index}" in app.thumb.layout.title.text
    app.method.value = "pca"
    app.method.value = "tsne"
    assert "cache" in app.runner.status.value
    assert "cache" in LatentApp().runner.status.value  # a second visit opens on the cached codes


@pytest.mark.parametrize("app_name", ["WhatWhereApp", "GsnApp", "InversionApp"])
def test_experiment_dashboards_run_switch_views_and_cache(app_name):
    from aelab import widgets

    app = getattr(widgets, app_name)()
    assert app.runner.error.value == "" and app.result is not None
    titles = []
    for view in app.view.options:
        app.view.value = view
        titles.append(app.fig.layout.title.text)
    assert len(set(titles)) == len(titles)  # every view draws its own figure
    assert app.fig in app.children and not app.fig.layout.annotations  # no subplot titles left behind
    assert "paper vs this run" in titles[-1]
    again = getattr(widgets, app_name)()
    assert "cache" in again.runner.status.value and again.result["metrics"] == app.result["metrics"]


def test_experiment_dashboard_reports_a_refused_setting_in_the_app():
    from aelab.widgets.experiment import WhatWhereApp

    app = WhatWhereApp(autostart=False)
    app.scale = "no-such-scale"
    app.run()  # no exception escapes the callback
    assert "unknown scale" in app.runner.error.value and "Traceback" not in app.runner.error.value
