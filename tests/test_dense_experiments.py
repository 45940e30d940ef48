"""The dense experiments run end to end on tiny settings, carry the papers' numbers for the
same cell, and draw their figures; `aelab train` writes a checkpoint and a record."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from aelab.cli import main
from aelab.experiments import get
from aelab.experiments.base import RunContext
from aelab.experiments.zhou import paper_cell
from aelab.viz import figure_for_result

TINY = {
    "vincent-filters": dict(dataset="digits", n_hidden=8, levels=(0.0, 0.5), epochs=1, batch_size=100),
    "vincent-sda": dict(dataset="digits", hidden=(8, 8, 8), pretrain_epochs=1, finetune_epochs=1, batch_size=100),
    "zhou-curves": dict(dataset="digits", hidden=8, epochs=1),
    "zhou-svm": dict(dataset="digits", hidden=8, epochs=1, svm_cs=(1.0,), schemes=("L", "J")),
    "zhou-finetune": dict(dataset="digits", hidden=8, epochs=1, finetune_epochs=1, schemes=("UJ",)),
    "lecture-pca": dict(dataset="digits", k=3, epochs=2),
    "lecture-tour": dict(n_points=50, epochs=3),
    "lecture-latent": dict(dataset="digits", n_train=200, n_points=60, n_hidden=8, epochs=1),
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_experiment_runs_and_draws_its_figure(name):
    experiment = get(name)
    assert set(experiment.presets) >= {"smoke", "teach", "paper"}
    config = dataclasses.replace(experiment.presets["smoke"], **TINY[name])
    result = experiment.run(config, RunContext(seed=0))
    assert result.metrics
    # the tables have no row for digits (a cell's numbers are checked below); the claims hold everywhere;
    # the lecture states no number for the latent space (its nearest-neighbour errors are ours)
    assert result.paper or name in ("vincent-sda", "zhou-svm", "zhou-finetune", "lecture-latent")
    json.dumps(result.metrics), json.dumps(result.paper)
    record = {"experiment": name, "config": dataclasses.asdict(config), "metrics": result.metrics,
              "paper": result.paper}
    assert len(figure_for_result(record, result.arrays).data) >= 1


def test_paper_presets_use_the_papers_settings():
    zhou = get("zhou-svm").presets["paper"]
    assert (zhou.hidden, zhou.epochs, zhou.batch_size) == (1000, 300, 100)
    assert zhou.lrs == (0.001, 0.005, 0.01, 0.02) and zhou.levels == (0.1, 0.3, 0.5, 0.7, 0.9)
    assert get("zhou-svm").config("paper", regularizer="cae").levels == (0.01, 0.05, 0.15, 0.3, 0.6)
    assert get("vincent-sda").presets["paper"].hidden == (1000, 1000, 1000)
    assert get("vincent-filters").presets["paper"].levels == (0.0, 0.1, 0.25, 0.5)


def test_paper_cells_are_read_from_the_tables():
    assert paper_cell("svm", "dae", "mnist", 2, "L") == (1.48, 0.24)
    assert paper_cell("svm", "cae", "convex", 3, "UJ") == (25.26, 0.38)
    assert paper_cell("svm", "l2", "mnist-rot", 3, "J") == (66.70, 0.41)
    assert paper_cell("finetune", "dae", "rectangles", 3, "UJ") == (0.82, 0.08)
    assert paper_cell("svm", "dae", "digits", 2, "L") is None
    # depths without a column: no number (depth 1 used to read DAE-3L's 1.40, depth 4 to crash)
    for depth in (1, 4):
        assert paper_cell("svm", "dae", "mnist", depth, "L") is None
        assert paper_cell("finetune", "l2", "mnist", depth, "J") is None
    assert paper_cell("svm", "dae", "mnist", 3, "L") == (1.40, 0.23)
    assert paper_cell("svm", "l2", "mnist", 2, "J") == (1.96, 0.27)


def _zhou_tiny(name, **fields):
    experiment = get(name)
    return experiment, dataclasses.replace(experiment.config("smoke"), hidden=8, epochs=1, **fields)


@pytest.mark.parametrize("name", ["zhou-svm", "zhou-finetune"])
def test_zhou_tables_say_no_paper_number_for_depths_without_a_column(name):
    for depth in (1, 4):
        experiment, config = _zhou_tiny(name, dataset="mnist", n_train=300, n_valid=100, n_test=100, depth=depth,
                                        schemes=("L", "J"), finetune_epochs=1)
        result = experiment.run(config, RunContext(seed=0))
        assert set(result.metrics["test_error_percent"]) == {f"DAE-{depth}L", f"DAE-{depth}J"}
        assert "test_error_percent" not in result.paper
        assert f"depth {depth}" in result.paper["note"] and "no paper number" in result.notes.lower()
    experiment, config = _zhou_tiny(name, dataset="mnist", n_train=300, n_valid=100, n_test=100, schemes=("J",),
                                    finetune_epochs=1)
    result = experiment.run(config, RunContext(seed=0))
    assert result.paper["test_error_percent"] == {"DAE-2J": 1.39 if name == "zhou-svm" else 1.17}
    assert "note" not in result.paper


def test_a_diverging_grid_point_is_recorded_and_the_grid_goes_on():
    logs = []
    experiment, config = _zhou_tiny("zhou-svm", lrs=(1e4, 0.01), noise_levels=(0.3,), schemes=("L", "U", "J"))
    result = experiment.run(config, RunContext(seed=0, log=logs.append))
    grid = result.metrics["grid"]
    assert [(e["lr"], e["scheme"]) for e in grid] == [(1e4, "L"), (1e4, "U"), (1e4, "J"),
                                                      (0.01, "L"), (0.01, "U"), (0.01, "J")]
    assert all("diverged" in e for e in grid[:3]) and not any("diverged" in e for e in grid[3:])
    assert result.metrics["diverged_points"] == 3
    # the later grid point is chosen for every scheme; each finished entry was logged as it finished
    assert {k: v["lr"] for k, v in result.metrics["chosen"].items()} == {"DAE-2L": 0.01, "DAE-2U": 0.01,
                                                                          "DAE-2J": 0.01}
    assert sum("diverged" in line for line in logs) == 3
    assert sum("valid" in line and "test" in line for line in logs) == 3
    json.dumps(result.metrics)
    # a scheme that diverges everywhere has no number, and the notes say so
    experiment, config = _zhou_tiny("zhou-svm", lrs=(1e4,), schemes=("J",))
    result = experiment.run(config, RunContext(seed=0))
    assert result.metrics["test_error_percent"] == {} and "DAE-2J" in result.notes


def test_full_presets_are_the_papers_networks_with_their_deviations():
    for name in ("zhou-svm", "zhou-finetune"):
        experiment = get(name)
        full = experiment.presets["full"]
        assert (full.hidden, full.depth, full.batch_size, full.n_train) == (1000, 2, 100, 0)
        assert len(full.lrs) * len(full.levels) >= 2  # a (small) validation search
        assert experiment.deviations["full"] and experiment.deviations["paper"]
    sda = get("vincent-sda")
    full = sda.presets["full"]
    assert full.dataset == "mnist-basic" and full.n_train == 0 and len(full.hidden) == 3
    assert len(full.widths) >= 2 and len(full.pretrain_epoch_choices) >= 2 and full.levels == ()
    assert sda.config("full").grid()[0][2] == 0.10  # Table 1's nu for basic
    assert any("regenerated" in d for d in sda.deviations["full"]) and sda.deviations["paper"]


def test_sda_searches_layer_sizes_and_pretraining_epochs_on_validation():
    experiment = get("vincent-sda")
    config = dataclasses.replace(experiment.config("smoke"), hidden=(8, 8, 8), widths=(6, 10),
                                 pretrain_epoch_choices=(1, 2), finetune_epochs=2, batch_size=100)
    result = experiment.run(config, RunContext(seed=0))
    tried = result.metrics["tried"]
    assert len(tried) == 4 and {tuple(t["hidden"]) for t in tried.values()} == {(6, 6, 6), (10, 10, 10)}
    assert {t["pretrain_epochs"] for t in tried.values()} == {1, 2}
    best = min(tried.values(), key=lambda t: t["valid_error_percent"])
    assert result.metrics["hidden"] == best["hidden"] and result.metrics["pretrain_epochs"] == best["pretrain_epochs"]
    assert result.metrics["valid_error_percent"] == best["valid_error_percent"]
    with pytest.raises(ValueError, match="Table 1 reports no chosen nu"):
        experiment.run(dataclasses.replace(config, levels=()), RunContext(seed=0))


def test_sda_carries_table_1_for_its_dataset():
    experiment = get("vincent-sda")
    config = dataclasses.replace(experiment.config("smoke", dataset="mnist-basic"), n_train=200, n_valid=100,
                                 n_test=100, hidden=(8, 8, 8), pretrain_epochs=1, finetune_epochs=1,
                                 batch_size=100)
    result = experiment.run(config, RunContext(seed=0))
    assert result.paper == {"test_error_percent": 2.80, "test_error_interval_percent": 0.14, "noise": 0.10}
    # the data are regenerated here (no original .amat files in the test data root), and the result says so
    assert result.metrics["data"] == "regenerated" and "regenerated" in result.notes
    # levels=() tries the nu Table 1 reports as chosen for the dataset
    result = experiment.run(dataclasses.replace(config, levels=()), RunContext(seed=0))
    assert result.metrics["noise"] == 0.10 and len(result.metrics["tried"]) == 1


def test_bad_experiment_options_fail_before_training():
    with pytest.raises(ValueError, match="regularizer"):
        get("zhou-svm").run(get("zhou-svm").config("smoke", regularizer="dropout"), RunContext())
    with pytest.raises(ValueError, match="not supported"):
        get("zhou-svm").config("smoke", dataset="cifar")


def test_aelab_train_writes_checkpoint_and_record_and_resumes(tmp_path):
    first = tmp_path / "first"
    args = ["train", "--model", "cae", "--dataset", "digits", "--hidden", "8", "--epochs", "2",
            "--batch-size", "100", "--device", "cpu"]
    assert main([*args, "--out", str(first)]) == 0
    record = json.loads((first / "record.json").read_text())
    assert len(record["metrics"]["seconds_per_epoch"]) == 2 and record["config"]["model"] == "cae"
    assert (first / "weights.safetensors").exists()
    # --epochs is the run's total: resuming a 2-epoch checkpoint with --epochs 3 trains one more
    assert main([*args, "--epochs", "3", "--out", str(tmp_path / "second"), "--resume", str(first)]) == 0
    record = json.loads((tmp_path / "second" / "record.json").read_text())
    assert record["metrics"]["epochs_done"] == 3 and len(record["metrics"]["seconds_per_epoch"]) == 3
    assert main([*args, "--hidden", "9", "--out", str(tmp_path / "bad"), "--resume", str(first)]) == 1
    assert main([*args, "--noise", "masking:2", "--model", "dae", "--out", str(tmp_path / "bad")]) == 1
