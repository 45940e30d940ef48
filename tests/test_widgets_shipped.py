"""Dashboards open on a shipped full-tier result (`results/full/<experiment>/`), in-process.

The shipped folder is made here by running the experiments at smoke size into
`<tmp>/full/` (`runner.reproduce(..., out=tmp/"full")`) and pointing `AELAB_RESULTS` at
`<tmp>`. Opening must draw the shipped arrays and the paper vs full tier vs your run table
without training; "try it yourself" trains at the lab's size and is drawn beside it; with no
shipped result (or a damaged one) the dashboard trains on opening, as before.
"""

import re
import shutil

import numpy as np
import pytest

SHIPPED = ("vincent-filters", "zhou-curves", "zhou-parzen")


@pytest.fixture(scope="module")
def shipped_root(tmp_path_factory):
    from aelab.experiments.runner import reproduce

    root = tmp_path_factory.mktemp("results")
    for name in SHIPPED:
        reproduce(name, scale="smoke", out=root / "full")
    return root


@pytest.fixture(autouse=True)
def smoke(monkeypatch, tmp_path, shipped_root):
    from aelab.widgets.base import Runner

    monkeypatch.setenv("AELAB_LAB_SCALE", "smoke")
    monkeypatch.setattr(Runner, "synchronous", True)
    monkeypatch.setenv("AELAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("AELAB_RESULTS", str(shipped_root))


def z(trace):
    return np.asarray(trace.z, dtype=float)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def table_cells(html: str) -> list[list[str]]:
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    return [[text(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", body)]


def in_page_order(app) -> list:
    """The app's figures in the order the page shows them (depth first)."""
    from aelab.widgets.base import StaticFigure

    found = []

    def walk(widget):
        if isinstance(widget, StaticFigure):
            found.append(widget)
        for child in getattr(widget, "children", ()):
            walk(child)

    walk(app)
    return found


def spy_on(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: calls.append(1) or original(*a, **k))
    return calls


def test_filters_dashboard_opens_on_the_shipped_filters_and_table_without_training(monkeypatch, shipped_root):
    from aelab.experiments.runner import read_result
    from aelab.viz.dense import filters_by_level
    from aelab.widgets import filters

    trained = spy_on(monkeypatch, filters, "run_filters")
    app = filters.FiltersApp()
    record, arrays = read_result(shipped_root / "full" / "vincent-filters")
    assert trained == [] and app.arrays is None and not app.runner.busy
    assert "shipped full tier" in app.runner.status.value
    # the first picture is the shipped filters, drawn from arrays.npz
    n = app.n_show.value
    expected = filters_by_level(arrays["filters"][:, :n], arrays["levels"]).data[0]
    np.testing.assert_array_equal(z(app.full_filter_fig.data[0]), z(expected))
    # the full tier first (left column), your run beside it (right column)
    assert in_page_order(app) == [app.full_filter_fig, app.full_curve_fig, app.filter_fig, app.curve_fig]
    # the table: the paper's cells only, human labels, full-tier values from result.json, "not run yet"
    rows = table_cells(app.table.value)
    paper_cells = [k for k, v in record["paper"].items() if isinstance(v, bool)]
    assert len(rows) == len(paper_cells) and all("_" not in r[0] for r in rows)
    for row, key in zip(rows, paper_cells):
        assert row[2] == ("yes" if record["metrics"][key] else "no") and row[3] == "not run yet"
        assert row[4].startswith("full tier " + ("✓" if record["metrics"][key] == record["paper"][key] else "✗"))
    header = text(app.table.value.split("<tbody>")[0])
    assert all(h in header for h in ("paper", "full tier", "your run (smoke size)", "direction agrees"))
    assert "Why the numbers differ" in app.table.value and record["command"] in app.table.value
    assert "how the full tier differs from the paper" in app.table.value or not record["deviations"]
    full_before = app.full_filter_fig.html

    app.train()  # try it yourself: trains at the lab's size, drawn beside the full tier
    assert trained == [1] and app.runner.status.value.startswith("done") and app.arrays is not None
    np.testing.assert_array_equal(z(app.full_filter_fig.data[0]), z(expected))
    assert app.filter_fig.figure is not None and not np.array_equal(z(app.filter_fig.data[0]), z(expected))
    rows = table_cells(app.table.value)
    assert all(r[3] in ("yes", "no") for r in rows) and "not run yet" not in app.table.value
    assert "like their start" in app.stats.value and "like their start" in app.full_stats.value
    assert app.full_filter_fig.html != "" and full_before != ""
    app.n_show.value = 5  # a slider redraws both columns
    assert "5 hidden units" in app.full_filter_fig.figure.layout.title.text
    assert "5 hidden units" in app.filter_fig.figure.layout.title.text
    again = filters.FiltersApp()  # a run cached before is shown beside the full tier at once
    assert trained == [1] and "cache" in again.runner.status.value
    assert "not run yet" not in again.table.value


def test_schemes_dashboard_opens_on_the_shipped_curves(monkeypatch, shipped_root):
    from aelab.experiments.runner import read_result
    from aelab.widgets import schemes

    trained = spy_on(monkeypatch, schemes, "run_curves")
    app = schemes.SchemesApp()
    _, arrays = read_result(shipped_root / "full" / "zhou-curves")
    assert trained == [] and app.arrays is None
    by_name = {t.name: np.asarray(t.y, float) for t in app.full_fig.data}
    np.testing.assert_allclose(by_name["joint · test"], arrays["test_J"])
    assert "the full tier" in app.full_summary.value and "not run yet" in app.table.value
    assert in_page_order(app) == [app.full_fig, app.fig]
    app.log_y.value = True
    assert app.full_fig.figure.layout.yaxis.type == "log"
    app.train()
    assert trained == [1] and app.fig.figure.layout.yaxis.type == "log"
    assert "not run yet" not in app.table.value and "Final test error" in app.summary.value


def test_experiment_dashboard_opens_on_the_shipped_result_and_draws_your_run_beside(monkeypatch, shipped_root):
    from aelab.experiments.runner import read_result
    from aelab.viz import figure_for_result
    from aelab.viz.results import wrap_title
    from aelab.widgets import GsnApp

    app = GsnApp()
    record, arrays = read_result(shipped_root / "full" / "zhou-parzen")
    assert app.result is None and "shipped full tier" in app.runner.status.value
    expected = wrap_title(figure_for_result(record, arrays))
    assert app.full_fig.figure.layout.title.text == expected.layout.title.text
    assert [t.type for t in app.full_fig.data] == [t.type for t in expected.data]
    assert "paper vs this run" not in app.view.options  # the table is always on the page instead
    assert "press run" in app.fig.figure.layout.title.text and "not run yet" in app.run_caption.value
    assert in_page_order(app) == [app.full_fig, app.fig]
    app.run()
    assert app.result is not None and app.runner.status.value.startswith("done")
    assert "not run yet" not in app.table.value + app.run_caption.value and "noise = 0.3" in app.run_caption.value
    assert app.fig.figure.layout.title.text == wrap_title(figure_for_result(app.result, app.arrays)).layout.title.text


def test_without_a_shipped_result_the_dashboard_trains_on_opening(monkeypatch, tmp_path):
    from aelab.widgets.filters import FiltersApp

    monkeypatch.setenv("AELAB_RESULTS", str(tmp_path / "empty"))
    app = FiltersApp()
    assert app.shipped is None and app.runner.status.value.startswith("done") and app.arrays is not None
    assert not hasattr(app, "table") and app.filter_fig in app.children


def test_a_damaged_shipped_result_is_one_line_and_the_dashboard_trains(monkeypatch, tmp_path, shipped_root):
    from aelab.widgets.filters import FiltersApp

    shutil.copytree(shipped_root / "full" / "vincent-filters", tmp_path / "full" / "vincent-filters")
    (tmp_path / "full" / "vincent-filters" / "result.json").write_text("{not json")
    monkeypatch.setenv("AELAB_RESULTS", str(tmp_path))
    app = FiltersApp()
    assert app.shipped is None and app.arrays is not None
    # the error line names the problem and stays visible although the run then finished
    assert "shipped full-tier result could not be read" in app.runner.notice.value and app.runner.error.value == ""
