"""Each dashboard at smoke size, in-process: it trains, draws, redraws on a control, caches."""

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def smoke(monkeypatch, tmp_path):
    from aelab.widgets.base import Runner

    monkeypatch.setenv("AELAB_LAB_SCALE", "smoke")
    monkeypatch.setattr(Runner, "synchronous", True)  # start() waits and re-raises failures
    monkeypatch.setenv("AELAB_CACHE", str(tmp_path))
    # no shipped full-tier results here (tests/test_widgets_shipped.py covers dashboards opening on them)
    monkeypatch.setenv("AELAB_RESULTS", str(tmp_path / "no-shipped-results"))


def z(trace):
    return np.asarray(trace.z, dtype=float)


def sent_html(figure) -> str:
    """What the browser gets for a figure: one static HTML fragment, strict JSON inside (no NaN)."""
    html = figure.html
    assert "NaN" not in html and "Infinity" not in html
    return html


def test_filters_app_trains_every_level_and_redraws_from_stored_weights():
    from aelab.widgets.filters import FiltersApp

    app = FiltersApp()
    assert app.runner.status.value.startswith("done") and app.runner.error.value == ""
    assert app.arrays["filters"].shape[0] == 2 and np.isfinite(app.arrays["test_curves"]).all()
    assert np.isfinite(np.asarray(app.curve_fig.data[0].y, float)).all()
    before = z(app.filter_fig.data[0])
    app.n_show.value = 6
    assert z(app.filter_fig.data[0]).shape[1] < before.shape[1]
    assert "near-uniform" in app.stats.value and "1 − cosine" in app.stats.value  # explained beside the numbers
    assert "like their start" in app.stats.value
    sent_html(app.filter_fig), sent_html(app.curve_fig)  # NaN gaps of the grid arrive as null
    app.n_show.value = app.n_show.max
    assert z(app.filter_fig.data[0]).shape[1] <= 8 * 9  # at most 8 filters (of 8 + 1 px) per row
    height = app.filter_fig.figure.layout.height
    app.cell_px.value = 80
    assert app.filter_fig.figure.layout.height > height  # filters can be enlarged
    again = FiltersApp()
    assert "cache" in again.runner.status.value and again.runner.bar.value == again.runner.bar.max


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
    assert app.fig.figure.layout.yaxis.type == "log" and "log scale" in sent_html(app.fig)
    assert "Final test error" in app.summary.value


def test_latent_app_projects_codes_and_shows_a_thumbnail_on_hover():
    from aelab.widgets.latent import LatentApp

    app = LatentApp()
    assert app.runner.error.value == ""
    n = sum(len(t.x) for t in app.fig.data)
    assert n == 150 and "PCA" in app.fig.figure.layout.title.text
    app.method.value = "tsne"
    assert "t-SNE" in app.fig.figure.layout.title.text and sum(len(t.x) for t in app.fig.data) == n
    # hover thumbnails are drawn in the page: the images went there once, the figure hooks plotly_hover
    html = sent_html(app.fig)
    assert "plotly_hover" in html and "<canvas" in html and app._images_name in html
    import base64
    import re

    stored = app.images.outputs[0]["data"]["text/html"]
    raw = base64.b64decode(re.search(r'data:"([^"]+)"', stored)[1])
    assert len(raw) == app.arrays["images"].size
    app.method.value = "pca"
    app.method.value = "tsne"
    assert "cache" in app.runner.status.value
    assert "cache" in LatentApp().runner.status.value  # a second visit opens on the cached codes


@pytest.mark.parametrize("app_name", ["WhatWhereApp", "GsnApp", "InversionApp"])
def test_experiment_dashboards_run_switch_views_and_cache(app_name):
    from aelab import widgets

    app = getattr(widgets, app_name)()
    assert app.runner.error.value == "" and app.result is not None
    shown = []
    for view in app.view.options:
        app.view.value = view
        shown.append(sent_html(app.fig))
    assert len(set(shown)) == len(shown)  # every view draws its own figure
    assert app.fig in app.children
    table = shown[-1]  # the paper-vs-run table: small HTML, human labels, no internal rows
    assert "paper vs this run" in table and "<table" in table and "js-plotly" not in table
    assert "this run" in table and "direction agrees" in table and "_" not in table.split("<tbody>")[1]
    # back to a view drawn from the same result: shown again, not drawn again (FigureStack)
    drawn = []
    app.views = {name: (lambda view: lambda *a: drawn.append(1) or view(*a))(view) for name, view in app.views.items()}
    first = app.fig.slots[app.view.options[0]]
    sent = first.outputs
    app.view.value = app.view.options[0]
    assert drawn == [] and app.fig.current is first and first.outputs is sent and first.layout.display is None
    app.show(app.result, app.arrays)  # a new result: the view shown is drawn from it
    assert drawn == [1]
    again = getattr(widgets, app_name)()
    assert "cache" in again.runner.status.value and again.result["metrics"] == app.result["metrics"]


def test_experiment_dashboard_reports_a_refused_setting_in_the_app():
    from aelab.widgets.experiment import WhatWhereApp

    app = WhatWhereApp(autostart=False)
    app.scale = "no-such-scale"
    app.run()  # no exception escapes the callback
    assert "unknown scale" in app.runner.error.value and "Traceback" not in app.runner.error.value


def test_what_where_shift_reevaluates_the_trained_model_without_training(monkeypatch):
    from aelab.experiments import zhao
    from aelab.widgets.experiment import WhatWhereApp

    calls = []
    train = zhao.train_translation
    monkeypatch.setattr(zhao, "train_translation", lambda *a: calls.append(1) or train(*a))
    app = WhatWhereApp()
    assert calls == [1] and app.result["config"]["shift"] == 3
    app.controls["shift"].value = 2  # re-evaluated at once, no second training
    assert calls == [1] and app.result["config"]["shift"] == 2 and app.runner.error.value == ""
    assert "shift ±2 px" in app.fig.html


def test_paper_comparison_keeps_only_paper_cells_with_human_labels():
    from aelab.viz.results import comparison_rows, paper_comparison_html

    metrics = {"DAE-2L": -120.5, "DAE-2L stderr": 2.0, "DAE-2L details": {"valid_log_likelihood_per_sigma": {"0.1": 1}},
               "joint_above_layerwise_2": False}
    paper = {"DAE-2L": 150.0, "DAE-2L stderr": 1.0, "joint_above_layerwise_2": True}
    rows = comparison_rows(metrics, paper)
    assert [r["key"] for r in rows] == ["DAE-2L", "joint_above_layerwise_2"]
    assert rows[0]["run"] == "-120.5 ± 2" and rows[1]["agrees"].endswith("no")
    html = paper_comparison_html(metrics, paper, title="t", scale="teach")
    assert "valid_log_likelihood" not in html and "2-layer DAE" in html and "teach size" in html
