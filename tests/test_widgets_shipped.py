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


def _shipped_at_smoke_size(tmp_path_factory, folder: str, names: tuple[str, ...], tier: str):
    """A results root whose `tier` holds smoke-size runs of `names`."""
    from aelab.experiments.runner import reproduce

    root = tmp_path_factory.mktemp(folder)
    for name in names:
        reproduce(name, scale="smoke", out=root / tier)
    return root


@pytest.fixture(scope="module")
def shipped_root(tmp_path_factory):
    return _shipped_at_smoke_size(tmp_path_factory, "results", SHIPPED, "full")


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
    """The app's result figures in the order the page shows them (depth first; a `FigureStack` of
    views is one figure); the training record's loss figure (`EpochRecord`, under the controls) is
    not one of them."""
    from aelab.widgets.base import FigureStack, StaticFigure

    found = []
    record = getattr(getattr(app, "record", None), "fig", None)

    def walk(widget):
        if isinstance(widget, (StaticFigure, FigureStack)) and widget is not record:
            found.append(widget)
            return
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


def caption(app) -> str:
    """The caption above the shipped picture (the HTML in the page with class aelab-full-caption)."""
    found = []

    def walk(widget):
        if "aelab-full-caption" in str(getattr(widget, "value", "")):
            found.append(widget.value)
        for child in getattr(widget, "children", ()):
            walk(child)

    walk(app)
    assert len(found) == 1
    return found[0]


# --- 00 (tour) and 06 (latent space): lecture experiments, shipped as the full tier or, before it is run,
# the teach tier (`results/teach/<experiment>/`). Made here at smoke size into <tmp>/teach.
TEACH = ("lecture-tour", "lecture-latent")


@pytest.fixture(scope="module")
def teach_root(tmp_path_factory):
    return _shipped_at_smoke_size(tmp_path_factory, "teach-results", TEACH, "teach")


def test_tour_opens_on_the_shipped_teach_tier_without_training(monkeypatch, teach_root):
    from aelab.experiments.runner import read_result
    from aelab.viz.toy import tour_field
    from aelab.widgets import tour

    monkeypatch.setenv("AELAB_RESULTS", str(teach_root))
    trained = spy_on(monkeypatch, tour, "run_tour")
    app = tour.TourApp()
    record, arrays = read_result(teach_root / "teach" / "lecture-tour")
    assert trained == [] and not app.runner.busy and app.shipped.tier == "teach tier"
    assert "showing the shipped teach tier" in app.runner.status.value
    # the shipped field, drawn from arrays.npz: its arrows are the shipped reconstructions of the grid
    expected = tour_field(arrays, record["config"]["model"])
    assert [t.name for t in app.full_fig.data] == [t.name for t in expected.data]
    for got, want in zip(app.full_fig.data, expected.data):
        np.testing.assert_allclose(np.asarray(got.x, float), np.asarray(want.x, float), equal_nan=True)
    assert in_page_order(app) == [app.full_fig, app.fig]
    assert "<b>Teach tier</b>" in caption(app)  # the line above the shipped field
    assert "Your run appears here" in app.fig.figure.layout.title.text
    # the table: the lecture's claim, the teach tier's answer from result.json, "not run yet"
    rows = table_cells(app.table.value)
    assert [r[0] for r in rows] == ["arrows point towards data"]
    assert rows[0][1:4] == ["yes", "yes" if record["metrics"]["arrows_point_towards_data"] else "no", "not run yet"]
    header = text(app.table.value.split("<tbody>")[0])
    assert "teach tier" in header and "full tier" not in header and "your run (smoke size)" in header
    assert "full tier of this experiment has not been run" in app.table.value

    app.train()  # try it yourself: the default model, drawn beside the shipped field
    assert trained == [1] and app.runner.status.value.startswith("done")
    assert "not run yet" not in app.table.value and app.table.value.count("your run ✓") + \
        app.table.value.count("your run ✗") == 1
    assert "where each point is sent" in app.fig.figure.layout.title.text
    np.testing.assert_allclose(np.asarray(app.full_fig.data[2].x, float), np.asarray(expected.data[2].x, float),
                               equal_nan=True)  # the shipped field is left as it was
    app.model.value = "undercomplete linear (PCA)"  # another family: trained, and the table says what differs
    assert trained == [1, 1] and "undercomplete linear (PCA): where" in app.fig.figure.layout.title.text
    assert "for undercomplete linear (PCA) the lab checks: reconstructions on a line" in app.table.value
    again = tour.TourApp()  # a run cached before is shown beside the shipped field at once; nothing trains
    assert trained == [1, 1] and "cache" in again.runner.status.value and "not run yet" not in again.table.value


def test_the_full_tier_wins_over_the_teach_tier(monkeypatch, tmp_path, teach_root):
    from aelab.widgets.tour import TourApp

    shutil.copytree(teach_root / "teach" / "lecture-tour", tmp_path / "teach" / "lecture-tour")
    shutil.copytree(teach_root / "teach" / "lecture-tour", tmp_path / "full" / "lecture-tour")
    monkeypatch.setenv("AELAB_RESULTS", str(tmp_path))
    app = TourApp()
    assert app.shipped.folder == tmp_path / "full" / "lecture-tour" and app.shipped.tier == "full tier"
    assert "shipped full tier" in app.runner.status.value and "full tier" in text(app.table.value.split("<tbody>")[0])
    # a damaged full tier: one line, and the teach tier is shown instead
    (tmp_path / "full" / "lecture-tour" / "result.json").write_text("{not json")
    app = TourApp()
    assert app.shipped.tier == "teach tier" and "full-tier result could not be read" in app.runner.notice.value


def test_latent_space_opens_on_the_shipped_codes_and_projects_them(monkeypatch, teach_root):
    from aelab.experiments.runner import read_result
    from aelab.widgets import latent

    monkeypatch.setenv("AELAB_RESULTS", str(teach_root))
    trained = spy_on(monkeypatch, latent, "run_latent")
    app = latent.LatentApp()
    record, arrays = read_result(teach_root / "teach" / "lecture-latent")
    assert trained == [] and app.arrays is None and "showing the shipped teach tier" in app.runner.status.value
    # the shipped codes, projected with PCA at once, coloured by the shipped labels
    n = len(arrays["labels"])
    assert sum(len(t.x) for t in app.full_fig.data) == n and "PCA" in app.full_fig.figure.layout.title.text
    error = record["metrics"]["nearest_neighbour_error_percent_codes"]
    assert f"nearest-neighbour error {error:.1f}%" in app.full_fig.figure.layout.title.text
    html = app.full_fig.html  # hovering shows the shipped images: sent once, hooked to the scatter
    assert "plotly_hover" in html and app._full_images_name in html
    assert app._full_images_name in app.full_images.outputs[0]["data"]["text/html"]
    assert in_page_order(app) == [app.full_fig, app.fig] and "press train" in app.fig.figure.layout.title.text
    # the lecture has no number: the table says so and gives the nearest-neighbour errors under it
    assert table_cells(app.table.value) == [["the paper gives no number to compare"]]
    assert f"teach tier codes {error:.1f}%" in app.table.value and "your run not run yet" in app.table.value
    app.method.value = "tsne"  # t-SNE of the shipped codes: computed (no training), then cached
    assert trained == [] and "t-SNE" in app.full_fig.figure.layout.title.text
    app.method.value = "pca"
    app.method.value = "tsne"
    assert "cache" in app.runner.status.value and trained == []

    app.train_button.click()  # try it yourself: your codes, projected like the shipped ones, beside them
    assert trained == [1] and app.arrays is not None
    assert "t-SNE" in app.fig.figure.layout.title.text and sum(len(t.x) for t in app.fig.data) == 150
    assert "t-SNE" in app.full_fig.figure.layout.title.text and sum(len(t.x) for t in app.full_fig.data) == n
    assert "your run codes" in app.table.value and "not run yet" not in app.run_caption.value


def test_sweeps_page_explains_a_sweep_and_that_none_is_shipped(monkeypatch, tmp_path):
    from aelab.settings import results_root
    from aelab.widgets.sweeps import SweepsApp

    monkeypatch.delenv("AELAB_RESULTS")
    # no sweep ships with the lab: nothing under results/ is a sweep folder (sweep.json)
    assert not list(results_root().rglob("sweep.json"))
    demo = SweepsApp(autostart=False)
    assert "What a sweep is" in demo.about.value and "No sweep ships with the lab" in demo.about.value
    assert demo.about in demo.children
    assert SweepsApp(tmp_path / "mine", autostart=False).about.value == ""  # a given folder: no demo note
