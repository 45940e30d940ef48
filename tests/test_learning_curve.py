"""scripts/learning_curve.py retraces a shipped run: trained again with that run's seeds, its
point at the shipped epoch count is the shipped number (here at smoke size)."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from aelab.experiments import registry
from aelab.experiments.runner import reproduce
from aelab.fileio import read_json

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "learning_curve.py"


@pytest.fixture(scope="module")
def curve_script():
    spec = importlib.util.spec_from_file_location("learning_curve", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # the script's dataclass resolves its annotations there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield before
    torch.set_num_threads(before)


def _points(record: dict, **where) -> list[dict]:
    return [p for p in record["points"] if all(p[k] == v for k, v in where.items())]


@pytest.mark.parametrize("name", ["zhou-parzen", "vincent-filters", "zhao-translation"])
def test_the_curve_passes_through_the_shipped_number_and_goes_on(name, tmp_path, curve_script, threads, monkeypatch):
    if name == "vincent-filters":  # three levels: the curve trains the two highest with the shipped masks
        presets = registry()[name].presets
        monkeypatch.setitem(presets, "smoke", dataclasses.replace(presets["smoke"], levels=(0.0, 0.25, 0.5)))
    reproduce(name, scale="smoke", out=tmp_path / "smoke", threads=threads)
    shipped = read_json(tmp_path / "smoke" / name / "result.json")
    assert shipped["config"]["epochs"] == 1
    curve_script.main([name, "--scale", "smoke", "--results", str(tmp_path), "--epochs", "2", "--every", "1",
                       "--threads", str(threads)])
    record = read_json(tmp_path / "smoke" / "curves" / f"{name}.json")
    assert record["status"] == "finished" and record["epochs"] == 2
    assert "plotly" in (tmp_path / "smoke" / "curves" / f"{name}.html").read_text()  # its picture
    assert record["command"].startswith(f"python scripts/learning_curve.py {name} --scale smoke")
    metrics = shipped["metrics"]
    if name == "zhou-parzen":
        (first,), (second,) = _points(record, epoch=1), _points(record, epoch=2)
        assert first["log_likelihood"] == pytest.approx(metrics["DAE-2J"], rel=1e-9)
        assert second["log_likelihood"] != first["log_likelihood"]
    elif name == "vincent-filters":
        assert shipped["config"]["levels"] == [0.0, 0.25, 0.5]
        for level in (0.25, 0.5):
            (first,) = _points(record, level=level, epoch=1)
            assert first["like_start_share"] == pytest.approx(metrics[f"nu={level:g}"]["like_start_share"])
            assert first["test_reconstruction"] == pytest.approx(metrics[f"nu={level:g}"]["test_reconstruction"])
        assert len(record["points"]) == 4
    else:
        (first,), (second,) = _points(record, epoch=1), _points(record, epoch=2)
        assert first["where_move"] == pytest.approx(metrics["where_move"], rel=1e-9)
        assert first["reconstruction_mse"] == pytest.approx(metrics["reconstruction_mse"], rel=1e-9)
        assert second["reconstruction_mse"] != first["reconstruction_mse"]


def test_a_shipped_run_of_another_config_is_refused(tmp_path, curve_script, threads):
    reproduce("zhou-parzen", scale="smoke", out=tmp_path / "smoke", overrides={"n_samples": 100})
    with pytest.raises(SystemExit) as stopped:
        curve_script.main(["zhou-parzen", "--scale", "smoke", "--results", str(tmp_path), "--epochs", "1"])
    assert stopped.value.code == 2
    assert not (tmp_path / "smoke" / "curves").exists()
