"""Reconstruction-curve builder: traces per scheme and split, log scale, fixed x range."""

import numpy as np
import plotly.graph_objects as go
import pytest

from aelab.viz.curves import final_errors, learning_curves, reconstruction_curves

CURVES = {"layer-wise": {"train": [0.9, 0.5, 0.4], "test": [0.95, 0.6, 0.5]},
          "joint": {"train": [0.8, 0.3, 0.2], "test": [0.85, 0.35, 0.3]}}


def test_one_trace_per_scheme_and_split_with_epochs_from_one():
    fig = reconstruction_curves(CURVES)
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["layer-wise · train", "layer-wise · test",
                                          "joint · train", "joint · test"]
    assert list(fig.data[0].x) == [1, 2, 3]
    np.testing.assert_allclose(fig.data[3].y, CURVES["joint"]["test"])


def test_colour_names_the_scheme_and_dash_names_the_split():
    fig = reconstruction_curves(CURVES)
    assert fig.data[0].line.color == fig.data[1].line.color != fig.data[2].line.color
    assert fig.data[0].line.dash == "solid" and fig.data[1].line.dash == "dash"


def test_axis_labels_a_student_can_read():
    fig = reconstruction_curves(CURVES)
    assert fig.layout.xaxis.title.text == "epoch"
    assert "reconstruction error" in fig.layout.yaxis.title.text
    assert fig.layout.title.text


def test_log_scale_option_and_non_positive_values_become_gaps():
    fig = reconstruction_curves({"joint": {"train": [1.0, 0.0, 0.1]}}, log_y=True)
    assert fig.layout.yaxis.type == "log"
    assert "log" in fig.layout.yaxis.title.text
    assert np.isnan(fig.data[0].y[1])


def test_total_epochs_fixes_the_x_range_for_growing_curves():
    fig = reconstruction_curves({"joint": {"train": [1.0]}}, total_epochs=20)
    assert tuple(fig.layout.xaxis.range) == (0.5, 20.5)


def test_empty_input_is_an_error():
    with pytest.raises(ValueError):
        reconstruction_curves({})


def test_final_errors_takes_the_last_finite_value():
    out = final_errors({"joint": {"train": [0.5, 0.2, float("nan")], "test": []}})
    assert out["joint"]["train"] == pytest.approx(0.2)
    assert np.isnan(out["joint"]["test"])


def test_a_learning_curve_keeps_its_epochs_and_draws_target_and_stop():
    fig = learning_curves({"DAE-2J": ([10, 20, 40], [-149.0, -115.0, -80.0]), "other": ([10], [1.0])},
                          y_label="log-likelihood", target=150.0, marked_epoch=80)
    assert [t.name for t in fig.data] == ["DAE-2J", "other"]
    assert list(fig.data[0].x) == [10, 20, 40] and list(fig.data[0].y) == [-149.0, -115.0, -80.0]
    shapes = fig.layout.shapes
    assert len(shapes) == 2
    assert {(s.y0, s.y1) for s in shapes if s.type == "line" and s.y0 == s.y1} == {(150.0, 150.0)}
    assert any(s.x0 == s.x1 == 80 for s in shapes)
    assert fig.layout.yaxis.title.text == "log-likelihood"


def test_a_learning_curve_refuses_mismatched_or_missing_series():
    with pytest.raises(ValueError, match="at least one"):
        learning_curves({}, y_label="y")
    with pytest.raises(ValueError, match="2 epochs for 3 values"):
        learning_curves({"a": ([1, 2], [1.0, 2.0, 3.0])}, y_label="y")
