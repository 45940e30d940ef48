"""Settings in the page address: query <-> controls, copy link, reset to defaults (in-process).

Every dashboard that trains (and 07's view) opens on the settings of its link, trained or drawn
with them, and its reset puts the defaults back and redraws (or, where every control retrains
or re-evaluates at once, reruns once).
"""

import threading

import ipywidgets as W
import numpy as np
import pytest

from test_widgets_play import EXPERIMENT_APPS, wait_for


def controls():
    return {"noise": W.Dropdown(options=["masking", "gaussian"], value="masking"),
            "levels": W.SelectMultiple(options=[("0%", 0.0), ("25%", 0.25), ("50%", 0.5)], value=(0.0, 0.5)),
            "hidden": W.IntSlider(value=500, min=8, max=1000),
            "sigma": W.FloatSlider(value=0.3, min=0.05, max=0.9),
            "log": W.Checkbox(value=False)}


def test_the_link_holds_only_changed_settings_and_reset_restores_the_defaults():
    from aelab.widgets.urlstate import UrlState, parse_query

    c = controls()
    state = UrlState(c)
    assert state.query() == "" and "defaults" in state.link.value and "href='?'" in state.link.value
    c["hidden"].value = 24
    c["levels"].value = (0.25,)
    c["log"].value = True
    assert parse_query(state.query()) == {"hidden": "24", "levels": "0.25", "log": "1"}
    assert "href='?levels=0.25&amp;hidden=24&amp;log=1'" in state.link.value and "copy link" in state.link.value
    state.reset()
    assert [w.value for w in c.values()] == ["masking", (0.0, 0.5), 500, 0.3, False] and state.query() == ""


def test_a_query_sets_the_controls_and_values_they_cannot_take_are_skipped_and_listed():
    from aelab.widgets.urlstate import UrlState, parse_query

    c = controls()
    state = UrlState(c)
    state.apply(parse_query("hidden=64&levels=0,0.25&noise=gaussian&sigma=0.5&log=1&unknown=3"))
    assert (c["hidden"].value, c["levels"].value, c["noise"].value, c["sigma"].value, c["log"].value) == \
        (64, (0.0, 0.25), "gaussian", 0.5, True)
    assert state.skipped == []
    state.apply(parse_query("hidden=5000&levels=0.3&noise=salt&sigma=abc&log=maybe"))
    assert sorted(s.split("=")[0] for s in state.skipped) == ["hidden", "levels", "log", "noise", "sigma"]
    assert c["hidden"].value == 64 and "ignored from the address" in state.link.value
    # a link made from the state opens on the same state
    again = controls()
    UrlState(again).apply(parse_query(state.query()))
    assert [w.value for w in again.values()] == [w.value for w in c.values()]


def test_tuple_choices_go_by_label_log_sliders_by_value_and_on_change_hears_each_reset_or_apply_once():
    from aelab.widgets.urlstate import UrlState, parse_query

    show = W.ToggleButtons(options=[("train and test", ("train", "test")), ("train", ("train",)), ("test", ("test",))])
    weight = W.FloatLogSlider(value=0.1, min=-2, max=1)  # 0.01 .. 10: its min and max are exponents
    heard, applying = [], []
    state = UrlState({"show": show, "weight": weight}, on_change=heard.append)
    show.observe(lambda _: applying.append(state.applying), names="value")
    show.value, weight.value = ("test",), 5.0
    assert parse_query(state.query()) == {"show": "test", "weight": "5"} and heard == []  # a user's move: no call
    assert state.reset() == {"show", "weight"} and heard == [{"show", "weight"}] and applying == [False, True]
    assert (show.value, weight.value) == (("train", "test"), 0.1) and state.query() == ""
    state.apply(parse_query("show=train+and+test&weight=50"))  # 50 > 10; the show is the default already
    assert state.skipped == ["weight=50"] and heard == [{"show", "weight"}] and weight.value == 0.1
    state.apply(parse_query("show=train&weight=2"))
    assert heard[-1] == {"show", "weight"} and (show.value, weight.value) == (("train",), 2.0)
    assert parse_query(state.query()) == {"show": "train", "weight": "2"}


def test_page_query_reads_voila_s_environment_and_nothing_elsewhere(monkeypatch):
    from aelab.widgets.urlstate import page_query

    seen = []
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)
    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)
    monkeypatch.setenv("QUERY_STRING", "hidden=24")
    page_query(seen.append)
    assert seen == []  # not served by Voila (JupyterLab, nbclient): no query
    monkeypatch.setenv("SERVER_SOFTWARE", "voila/0.5.13")
    page_query(seen.append)
    assert seen == [{"hidden": "24"}]


@pytest.fixture
def smoke(monkeypatch, tmp_path):
    from aelab.widgets.base import Runner

    monkeypatch.setenv("AELAB_LAB_SCALE", "smoke")
    monkeypatch.setattr(Runner, "synchronous", True)
    monkeypatch.setenv("AELAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("AELAB_RESULTS", str(tmp_path / "no-shipped-results"))


def test_the_filters_dashboard_opens_on_the_settings_of_its_link(smoke, monkeypatch):
    from aelab.widgets.filters import FiltersApp

    monkeypatch.setenv("SERVER_SOFTWARE", "voila/0.5.13")
    monkeypatch.setenv("QUERY_STRING", "hidden=24&shown=5&epochs=2")
    app = FiltersApp()
    assert (app.hidden.value, app.n_show.value, app.epochs.value) == (24, 5, 2)
    assert app.shown_config.n_hidden == 24 and app.shown_config.epochs == 2  # it trained those settings
    assert "5 hidden units per" in app.filter_fig.figure.layout.title.text
    assert "hidden=24" in app.url_state.query() and "shown=5" in app.url_state.query()
    app.url_state.reset()
    assert app.hidden.value == 16 and app.url_state.query() == ""
    untrained = FiltersApp(autostart=False)  # nothing trained yet: the blank grid follows the link too
    assert "5 hidden units per" in untrained.filter_fig.figure.layout.title.text


def open_link(monkeypatch, query):
    """A page opened from a link: Voila's environment with the link's query."""
    monkeypatch.setenv("SERVER_SOFTWARE", "voila/0.5.13")
    monkeypatch.setenv("QUERY_STRING", query)


def same_link(state, query):
    """The link the page offers holds what the link it was opened from held."""
    from aelab.widgets.urlstate import parse_query

    assert parse_query(state.query()) == parse_query(query), state.query()


def test_the_tour_opens_on_its_link_and_a_reset_retrains_once(smoke, monkeypatch):
    from aelab.widgets import tour

    calls = []
    run_tour = tour.run_tour
    monkeypatch.setattr(tour, "run_tour", lambda config, *a, **k: calls.append(config.model) or run_tour(config, *a, **k))
    query = "model=sparse&strength=0.5&hidden=8"
    open_link(monkeypatch, query)
    app = tour.TourApp()
    assert calls == ["sparse"]  # one training with the link's settings, not one per control
    assert (app.model.value, app.strength.value, app.hidden.value) == ("sparse", 0.5, 8)
    assert app.shown[0].hidden == 8 and app.fig.figure.layout.title.text.startswith("sparse:")
    assert "sparse" in app.explain.value
    same_link(app.url_state, query)
    app.url_state.reset()
    assert calls == ["sparse", "denoising"] and app.url_state.query() == ""
    assert app.shown[0] == app.config() and app.fig.figure.layout.title.text.startswith("denoising:")


def test_joint_vs_layerwise_opens_on_its_link_and_resets_its_view(smoke, monkeypatch):
    from aelab.widgets.schemes import SchemesApp

    query = "noise=0.5&epochs=1&show=test&log=1"
    open_link(monkeypatch, query)
    app = SchemesApp()
    depth = app.config().depth
    assert (app.noise.value, app.epochs.value, app.splits.value, app.log_y.value) == (0.5, 1, ("test",), True)
    assert len(app.arrays["test_L"]) == depth  # trained with one epoch per layer
    assert all(t.name.endswith("test") for t in app.fig.data) and app.fig.figure.layout.yaxis.type == "log"
    same_link(app.url_state, query)
    app.url_state.reset()  # the defaults; the figure redraws (training waits for "train both")
    assert app.url_state.query() == "" and app.splits.value == ("train", "test") and not app.log_y.value
    assert {t.name.rsplit(" ", 1)[1] for t in app.fig.data} == {"train", "test"}
    assert app.fig.figure.layout.yaxis.type != "log"


def test_the_latent_space_opens_on_its_link_and_a_reset_redraws_once(smoke, monkeypatch):
    from aelab.widgets.latent import LatentApp

    query = "method=tsne&points=raw+pixels"
    open_link(monkeypatch, query)
    app = LatentApp()
    assert (app.method.value, app.source.value) == ("tsne", "raw pixels")
    title = app.fig.figure.layout.title.text
    assert title.startswith("Raw pixels of 150 test images, t-SNE"), title
    same_link(app.url_state, query)
    app.url_state.reset()
    assert app.url_state.query() == "" and app.fig.figure.layout.title.text.startswith("Codes of 150 test images, PCA")


def test_the_sweeps_page_opens_on_the_view_of_its_link(smoke, monkeypatch, tmp_path):
    from aelab.sweep import build_plan, run_sweep
    from aelab.widgets.sweeps import SweepsApp

    plan = build_plan("zhou-svm", preset="table2", seeds="0", scale="smoke", grid={"lrs": ("0.01",)})
    run_sweep(plan, tmp_path / "sweep", backend="in-process", write_figure=False)
    query = "view=validation+vs+test&live=0"
    open_link(monkeypatch, query)
    app = SweepsApp(tmp_path / "sweep", refresh_s=0.2)
    try:
        assert app.view.value == "validation vs test" and not app.live.value
        assert app.fig.figure.data[0].type == "scatter"
        same_link(app.url_state, query)
        app.url_state.reset()
        assert app.view.value == "table" and app.live.value and app.fig.figure.data[0].type == "table"
    finally:
        app.close()


# the link of each experiment dashboard: its query, and the config fields it sets
EXPERIMENT_LINKS = {
    "GsnApp": ("noise=0.4", {"noise": 0.4}),
    "WhatWhereApp": ("shift=2&view=reconstructions+(Fig.+4)", {"shift": 2}),
    "InversionApp": ("view=error+per+layer", {}),
    "SparseCodingApp": ("lam=1&view=vs+scikit-learn", {"lam": 1.0}),
    "PsdApp": ("gamma=2", {"gamma": 2.0}),
    "HashingApp": ("noise=2&view=activations", {"noise": 2.0}),
    "StochasticApp": ("n_latent=3&view=samples", {"n_latent": 3}),
    "TangentsApp": ("contractive=0.1&view=untied+CAE+caveat", {"contractive": 0.1}),
    "PretrainingApp": ("alpha=0.5&view=function+space", {"alpha": 0.5}),
}


@pytest.mark.parametrize("name", list(EXPERIMENT_LINKS))
def test_experiment_dashboards_open_on_their_link_and_reset_to_the_defaults(name, smoke, monkeypatch):
    import importlib

    from aelab.widgets.urlstate import parse_query

    query, fields = EXPERIMENT_LINKS[name]
    open_link(monkeypatch, query)
    app = getattr(importlib.import_module(EXPERIMENT_APPS[name]), name)()
    view = parse_query(query).get("view", app.view.options[0])
    assert app.view.value == view and app._shown_view == view and app.runner.error.value == ""
    for field, value in fields.items():  # it ran with the link's settings
        assert app.controls[field].value == pytest.approx(value)
        assert app.result["config"][field] == pytest.approx(value)
    same_link(app.url_state, query)
    preset = app.experiment.config(app.scale)
    app.url_state.reset()
    assert app.url_state.query() == "" and app.view.value == app.view.options[0]
    assert app._shown_view == app.view.options[0]  # the figure redrew with the default view
    assert all(app.controls[f].value == pytest.approx(getattr(preset, f)) for f in app.controls)
    if app.evaluation_fields:  # a setting that only re-evaluates reran with the default at once
        assert all(app.result["config"][f] == getattr(preset, f) for f in fields)


def test_a_preheated_kernel_applies_its_link_when_the_page_arrives_and_trains_it(smoke, monkeypatch):
    import voila.utils

    from aelab.widgets.schemes import SchemesApp

    arrived = threading.Event()  # the page's request: after the notebook ran in the preheated kernel
    monkeypatch.setattr(voila.utils, "wait_for_request", lambda url=None: arrived.wait(60))
    monkeypatch.setenv("VOILA_PREHEAT", "True")
    monkeypatch.setenv("QUERY_STRING", "epochs=1&joint=1")
    app = SchemesApp()
    depth = app.config().depth
    assert app.epochs.value != 1 and len(app.arrays["test_L"]) == app.epochs.value * depth  # the defaults
    arrived.set()
    assert wait_for(lambda: len(app.arrays["test_J"]) == 1 and np.isfinite(app.arrays["test_J"]).all(), 60)
    assert (app.epochs.value, app.joint_epochs.value) == (1, 1)
    assert len(app.arrays["test_L"]) == depth and len(app.arrays["test_J"]) == 1  # trained with the link's
