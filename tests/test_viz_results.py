"""The paper vs full tier vs your run table, title wrapping and the filter measures table: pure HTML/figures."""

import re

import plotly.graph_objects as go

PAPER = {"joint_above_layerwise_2": True, "DAE-2J": 266.0, "DAE-2J stderr": 2.0,
         "claim": "joint chains mix better", "note": "Table I"}
FULL = {"joint_above_layerwise_2": True, "DAE-2J": 151.25, "DAE-2J stderr": 1.5,
        "DAE-2J details": {"valid_log_likelihood_per_sigma": {"0.1": 1.0}}}
RUN = {"joint_above_layerwise_2": False, "DAE-2J": -101.0}


def cells(html):
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    return [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_tier_rows_keep_the_papers_cells_with_labels_and_judge_only_yes_no_statements():
    from aelab.viz.results import tier_rows

    rows = tier_rows(PAPER, FULL, RUN)
    assert [r["key"] for r in rows] == ["joint_above_layerwise_2", "DAE-2J"]  # no claim, note, stderr, details
    yes_no, number = rows
    assert yes_no["label"] == "joint samples score above layer-wise (2 layers)"
    assert (yes_no["paper"], yes_no["full"], yes_no["run"]) == ("yes", "yes", "no")
    assert yes_no["agrees"] == "full tier ✓ · your run ✗"
    assert number["paper"] == "266 ± 2" and number["full"] == "151.2 ± 1.5" and number["run"] == "-101"
    assert number["agrees"].startswith("—")
    not_run = tier_rows(PAPER, FULL, None)
    assert [r["run"] for r in not_run] == ["not run yet"] * 2
    assert not_run[0]["agrees"] == "full tier ✓ · your run: not run yet"
    missing = tier_rows(PAPER, {}, {})
    assert missing[0]["agrees"] == "full tier: not measured · your run: not measured"


def test_tier_table_is_small_html_with_the_why_line_deviations_and_command():
    from aelab.viz.results import tier_comparison_html

    html = tier_comparison_html(PAPER, FULL, RUN, scale="teach", deviations=["epochs: 80 <not 300>"],
                                command="aelab reproduce zhou-parzen --scale full --out results/full", title="T")
    head = html.split("<tbody>")[0]
    for column in ("quantity", "paper", "full tier", "your run (teach size)", "direction agrees"):
        assert f">{column}<" in head
    rows = cells(html)
    assert rows[0] == ["joint samples score above layer-wise (2 layers)", "yes", "yes", "no",
                       "full tier ✓ · your run ✗"]
    assert "valid_log_likelihood" not in html and "js-plotly" not in html
    assert "Why the numbers differ" in html and "teach size" in html
    assert "joint chains mix better" in html and "Table I" in html  # the paper's claim and note, as text
    assert "epochs: 80 &lt;not 300&gt;" in html and "<details" in html  # escaped, folded
    assert "aelab reproduce zhou-parzen --scale full" in html
    assert "Parzen" in html  # the Parzen sign note comes with Parzen rows
    empty = tier_comparison_html({}, FULL, None)
    assert "the paper gives no number to compare" in empty and "<details" not in empty


def test_wrap_title_breaks_long_titles_and_grows_the_figure():
    from aelab.viz.results import wrap_title

    fig = go.Figure(layout=dict(title="a rather long title " * 6, height=400))
    wrapped = wrap_title(fig, 40)
    lines = wrapped.layout.title.text.split("<br>")
    assert len(lines) >= 3 and all(len(line) <= 40 for line in lines)
    assert wrapped.layout.height == 400 + 18 * (len(lines) - 1) and wrapped.layout.margin.t > 80
    assert fig.layout.title.text.count("<br>") == 0  # the original is untouched
    short = go.Figure(layout=dict(title="short"))
    assert wrap_title(short).layout.title.text == "short"


def test_filter_stats_table_explains_every_measure():
    from aelab.viz.dense import filter_stats_from_metrics, filter_stats_html

    metrics = {"nu=0": {"like_start_share": 0.9, "near_uniform_share": 0.5, "change": 0.01},
               "nu=0.5": {"like_start_share": 0.1, "near_uniform_share": 0.05, "change": 0.4}}
    stats = filter_stats_from_metrics(metrics, [0.0, 0.5])
    assert stats == {"like_start_share": [0.9, 0.1], "near_uniform_share": [0.5, 0.05], "change": [0.01, 0.4]}
    html = filter_stats_html([0.0, 0.5], stats)
    assert "nu = 0%" in html and "nu = 50%" in html and "90%" in html and "10%" in html and "0.40" in html
    assert html.count("<b>") == 3  # one explanation per measure
    assert filter_stats_html([0.0, 0.5], {}) == ""
    partial = filter_stats_from_metrics({"nu=0": {"change": 0.1}}, [0.0])
    assert partial == {"change": [0.1]}
