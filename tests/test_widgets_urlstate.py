"""Settings in the page address: query <-> controls, copy link, reset to defaults (in-process)."""

import ipywidgets as W
import pytest


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
