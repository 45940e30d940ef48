"""The dense experiments' bar charts read error rates in percent, per model, beside the paper's."""

import numpy as np

from aelab.viz.dense import scheme_bars
from aelab.viz.results import figure_for_result


def test_scheme_bars_put_each_models_test_error_percent_beside_the_papers():
    metrics = {"test_error_percent": {"DAE-2L": 3.0, "DAE-2J": 2.0},
               "test_error_interval_percent": {"DAE-2L": 0.3, "DAE-2J": 0.2},
               "chosen": {"DAE-2L": {"valid_error_percent": 4.0}, "DAE-2J": {"valid_error_percent": 3.5}}}
    paper = {"test_error_percent": {"DAE-2L": 1.48}, "test_error_interval_percent": {"DAE-2L": 0.24}}
    ours, theirs = scheme_bars(metrics, paper, "t").data
    assert list(ours.x) == ["DAE-2L", "DAE-2J"] and list(ours.y) == [3.0, 2.0]
    assert list(ours.error_y.array) == [0.3, 0.2]
    assert list(theirs.y) == [1.48, None] and list(theirs.error_y.array) == [0.24, 0]


def test_sda_figure_reads_the_percent_keys_of_run_and_paper():
    result = {"experiment": "vincent-sda", "config": {"dataset": "mnist-basic"},
              "metrics": {"test_error_percent": 3.1, "test_error_interval_percent": 0.15, "noise": 0.1},
              "paper": {"test_error_percent": 2.80, "test_error_interval_percent": 0.14, "noise": 0.10}}
    ours, theirs = figure_for_result(result, {}).data
    assert list(ours.x) == ["SdA-3"] and np.allclose([ours.y[0], theirs.y[0]], [3.1, 2.80])
    assert np.allclose([ours.error_y.array[0], theirs.error_y.array[0]], [0.15, 0.14])
