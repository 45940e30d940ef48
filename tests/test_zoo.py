"""The model zoo: models kept by a run are copied in with their sha256, verified, loaded
without executing code, and damage is found."""

from __future__ import annotations

import json

import pytest
import torch

from aelab.cli import main
from aelab.experiments import zoo
from aelab.experiments.runner import read_result, reproduce
from aelab.models.registry import CheckpointError, load_model


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("AELAB_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def test_a_kept_model_enters_the_zoo_and_verifies(results, capsys):
    folder = reproduce("vincent-filters", scale="smoke", out=results / "smoke", device="cpu")
    record = zoo.rebuild("filters-masking-0.5", from_result=True, scale="smoke")
    assert record["command"] == read_result(folder)[0]["command"]
    assert zoo.verify("filters-masking-0.5") == []
    model = zoo.load("filters-masking-0.5")
    kept = load_model(folder / "models" / "filters-masking-0.5")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), kept.state_dict().values()))
    assert next(model.parameters()).dtype == torch.float32  # stored float16, loaded as the model's dtype
    content = json.loads((results / "zoo" / "manifest.json").read_text())
    assert set(content["models"]) == {"filters-masking-0.5"}
    # the other entries are absent: verify says so and fails
    assert main(["zoo", "verify"]) == 1
    assert "filters-masking-0: absent" in capsys.readouterr().out


def test_damage_is_found(results):
    reproduce("vincent-filters", scale="smoke", out=results / "smoke", device="cpu")
    zoo.rebuild("filters-masking-0", from_result=True, scale="smoke")
    weights = results / "zoo" / "filters-masking-0" / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert any("sha256" in p for p in zoo.verify("filters-masking-0"))
    with pytest.raises(CheckpointError, match="sha256"):
        zoo.load("filters-masking-0")


def test_rebuild_retrains_from_the_preset(results):
    record = zoo.rebuild("filters-masking-0", scale="smoke", device="cpu")
    assert record["command"].startswith("aelab reproduce vincent-filters --scale smoke --seed 0 --out results/smoke")
    assert zoo.verify("filters-masking-0") == []


def test_unknown_names_and_missing_results_are_usage_errors(results, capsys):
    assert main(["zoo", "rebuild", "nope"]) == 1
    assert "no model 'nope'" in capsys.readouterr().err
    assert main(["zoo", "rebuild", "gsn-DAE-2J", "--from-result"]) == 1
    assert "no shipped result" in capsys.readouterr().err


def test_the_shipped_zoo_verifies_and_fits_its_budget():
    """What the repository ships: every model in the manifest matches its sha256 and loads."""
    content = zoo.manifest()
    for name in content["models"]:
        assert zoo.verify(name) == [], name
    assert sum(r["bytes"] for r in content["models"].values()) <= zoo.BUDGET_BYTES


def test_the_readme_results_table_is_the_generated_one():
    from pathlib import Path

    from aelab.experiments import report

    readme = Path(__file__).resolve().parents[1] / "README.md"
    assert report.readme_table(readme) == report.markdown()


def test_the_results_table_has_a_row_per_paper_cell(results):
    from aelab.experiments import report

    reproduce("zhou-parzen", scale="smoke", out=results / "full", device="cpu",
              dataset="mnist", overrides={"n_train": 1000})  # digits has no paper row
    table = report.markdown()
    row = next(line for line in table.splitlines() if line.startswith("| zhou-parzen | DAE-2J |"))
    paper, full, teach, paper_run = [c.strip() for c in row.split("|")[3:7]]
    assert paper == "266 ± 1.32" and "±" in full and teach == "–" and paper_run == "–"
    assert "| zhou-parzen | joint_above_layerwise_2 | yes |" in table
    assert "zhou-parzen" in table.splitlines()[-1]
    # a paper-tier run (shipped where a GPU was lent) fills its column and names its device and command
    import shutil

    shutil.copytree(results / "full" / "zhou-parzen", results / "paper" / "zhou-parzen")
    table = report.markdown()
    row = next(line for line in table.splitlines() if line.startswith("| zhou-parzen | DAE-2J |"))
    assert row.split("|")[6].strip() == full
    assert table.splitlines()[-1].startswith("Paper-tier runs: zhou-parzen ") and "on cpu" in table.splitlines()[-1]


def test_nested_paper_tables_become_cells_with_their_intervals(tmp_path):
    import json

    from aelab.experiments import report

    def ship(tier, metrics):
        folder = tmp_path / tier / "zhou-svm"
        folder.mkdir(parents=True)
        paper = {"test_error_percent": {"DAE-2J": 1.39}, "test_error_interval_percent": {"DAE-2J": 0.23}}
        (folder / "result.json").write_text(json.dumps({"paper": paper, "metrics": metrics, "seconds": 60}))

    ship("full", {"test_error_percent": {"DAE-2J": 1.71}, "test_error_interval_percent": {"DAE-2J": 0.25}})
    ship("teach", {"test_error_percent": {"DAE-2J": 9.7}})
    (row,) = report.rows(tmp_path)
    assert (row["cell"], row["paper"], row["full"], row["teach"], row["paper_run"]) == \
        ("test_error_percent: DAE-2J", "1.39 ± 0.23", "1.71 ± 0.25", "9.70", "–")
