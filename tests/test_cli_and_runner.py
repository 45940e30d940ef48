"""The `aelab` command and the experiment runner (with a tiny fake experiment)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest

import aelab.experiments as experiments
from aelab.cli import main
from aelab.experiments import Experiment, Result
from aelab.experiments.runner import read_result


@dataclass(frozen=True)
class FakeConfig:
    dataset: str = "digits"
    steps: int = 2
    rate: float = 0.5
    tags: tuple = ("a",)


def _fake_run(config, ctx):
    for step in range(config.steps):
        ctx.check_stop()
        ctx.progress(step + 1, config.steps, "fake")
    return Result(metrics={"error": 0.1 * config.steps, "curve": [1.0, 0.5]}, paper={"error": 0.3},
                  arrays={"images": np.zeros((2, 8, 8), np.float32)})


FAKE = Experiment(name="fake", title="A fake experiment", paper="nobody 2026, Fig. 0",
                  presets={"smoke": FakeConfig(), "teach": FakeConfig(steps=3), "paper": FakeConfig(steps=9)},
                  run=_fake_run, datasets=("digits", "mnist"))


@pytest.fixture
def with_fake(monkeypatch):
    monkeypatch.setattr(experiments, "registry", lambda: {"fake": FAKE})


def test_help_runs_as_console_script():
    out = subprocess.run([sys.executable, "-m", "aelab.cli", "--help"], capture_output=True, text=True, check=True)
    assert "reproduce" in out.stdout and "data" in out.stdout


@pytest.mark.parametrize("flag, env, expected", [
    ([], None, "aelab reproduce fake"),
    (["--threads", "1"], None, "aelab --threads 1 reproduce fake"),
    ([], "2", "aelab --threads 2 reproduce fake"),
    (["--threads", "1"], "2", "aelab --threads 1 reproduce fake"),
])
def test_the_recorded_command_pins_the_thread_count_the_run_had(tmp_path, with_fake, monkeypatch, flag, env, expected):
    # a CPU run repeats to the last digit only at its thread count, so a pinned count is part of the command
    import shlex

    import torch

    if env is None:
        monkeypatch.delenv("AELAB_THREADS", raising=False)
    else:
        monkeypatch.setenv("AELAB_THREADS", env)
    previous = torch.get_num_threads()
    try:
        assert main(flag + ["reproduce", "fake", "--scale", "smoke", "--out", str(tmp_path), "--quiet"]) == 0
        command = read_result(tmp_path / "fake")[0]["command"]
        assert command == f"{expected} --scale smoke --seed 0 --out {tmp_path}"
        # and the command runs as recorded
        (tmp_path / "fake" / "result.json").unlink()
        assert main(shlex.split(command)[1:]) == 0
        assert read_result(tmp_path / "fake")[0]["command"] == command
    finally:
        torch.set_num_threads(previous)


def test_data_list_reports_each_dataset(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("mnist ", "mnist-rot-bg-img", "convex", "digits"):
        assert name in out
    assert "embedded" in out


def test_data_prepare_unknown_name_fails_with_message(capsys):
    assert main(["data", "prepare", "cifar-11"]) == 1
    assert "unknown dataset 'cifar-11'" in capsys.readouterr().err


def test_reproduce_writes_result_and_figure(tmp_path, with_fake, capsys):
    assert main(["reproduce", "fake", "--scale", "smoke", "--out", str(tmp_path), "--quiet", "--steps", "4"]) == 0
    result, arrays = read_result(tmp_path / "fake")
    assert result["experiment"] == "fake" and result["scale"] == "smoke"
    assert result["config"]["steps"] == 4 and result["metrics"]["error"] == pytest.approx(0.4)
    assert result["paper"] == {"error": 0.3}
    assert {"versions", "device"} <= set(result["env"]) and result["seconds"] >= 0
    assert arrays["images"].shape == (2, 8, 8)
    html = (tmp_path / "fake" / "figure.html").read_text()
    assert "plotly" in html.lower()
    assert "error: 0.4" in capsys.readouterr().out


def test_reproduce_rejects_unknown_option_and_dataset(tmp_path, with_fake, capsys):
    assert main(["reproduce", "fake", "--out", str(tmp_path), "--quiet", "--nonsense", "1"]) == 1
    assert "unknown option(s) nonsense" in capsys.readouterr().err
    assert main(["reproduce", "fake", "--out", str(tmp_path), "--quiet", "--dataset", "convex"]) == 1
    assert "not supported" in capsys.readouterr().err
    assert main(["reproduce", "fake", "--out", str(tmp_path), "--quiet", "--steps", "many"]) == 1
    assert "cannot read 'many' as int" in capsys.readouterr().err


def test_unknown_experiment_names_the_known_ones(with_fake, capsys):
    assert main(["reproduce", "nope", "--quiet"]) == 1
    assert "known: fake" in capsys.readouterr().err


def test_config_overrides_are_typed():
    cfg = FAKE.config("teach", rate="0.25", tags="x,y", steps="5")
    assert cfg == FakeConfig(steps=5, rate=0.25, tags=("x", "y"))


def test_list_names_registered_experiments(with_fake, capsys):
    assert main(["list"]) == 0
    assert "fake" in capsys.readouterr().out


def test_result_json_is_plain_json(tmp_path, with_fake):
    main(["reproduce", "fake", "--out", str(tmp_path), "--quiet"])
    json.loads((tmp_path / "fake" / "result.json").read_text())


def test_data_list_includes_natural_image_sets_and_prepare_offline_is_clear(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AELAB_NO_DOWNLOAD", "1")
    assert main(["data", "list", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "svhn" in out and "cifar10" in out and "stl10" in out and str(tmp_path / "svhn") in out
    assert main(["data", "prepare", "cifar10", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "cifar-10-batches-bin" in err and str(tmp_path / "cifar10") in err


def _failing_run(config, ctx):
    raise RuntimeError("a bug in the experiment")


def _nan_run(config, ctx):
    return Result(metrics={"error": float("nan"), "curve": [1.0, float("inf")]}, paper={})


def test_a_bug_keeps_its_traceback_while_bad_input_is_one_line(monkeypatch, capsys):
    broken = Experiment(name="broken", title="", paper="", presets={"smoke": FakeConfig()}, run=_failing_run)
    monkeypatch.setattr(experiments, "registry", lambda: {"broken": broken})
    with pytest.raises(RuntimeError, match="a bug in the experiment"):
        main(["reproduce", "broken", "--scale", "smoke", "--quiet", "--out", "unused"])  # fails before writing
    assert main(["reproduce", "broken", "--scale", "smoke", "--quiet", "--device", "tpu"]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == ("aelab: error: unknown device 'tpu': "
                                            "choose one of auto, cpu, cuda, mps (or cuda:N)")


def test_bad_environment_values_are_one_line_errors_naming_the_variable(monkeypatch, with_fake, capsys):
    monkeypatch.setenv("AELAB_THREADS", "x")
    assert main(["list"]) == 1
    assert capsys.readouterr().err == "aelab: error: AELAB_THREADS must be a positive integer, got 'x'\n"
    assert main(["--threads", "0", "list"]) == 1
    assert "threads must be a positive integer, got 0" in capsys.readouterr().err


def test_an_out_that_is_a_file_is_a_one_line_error_naming_it(tmp_path, with_fake, capsys):
    out = tmp_path / "taken"
    out.write_text("not a folder")
    assert main(["reproduce", "fake", "--scale", "smoke", "--quiet", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--out {out} is a file" in err
    assert main(["train", "--dataset", "digits", "--hidden", "4", "--epochs", "1", "--out", str(out)]) == 1
    assert f"aelab: error: --out {out} is a file" in capsys.readouterr().err
    # a folder that cannot be made (inside the file): the OSError is shown as one line naming the option
    assert main(["reproduce", "fake", "--scale", "smoke", "--quiet", "--out", str(out / "sub")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"aelab: error: --out {out / 'sub'}: ") and str(out) in err


def test_oserror_about_other_paths_keeps_its_traceback(tmp_path, monkeypatch, with_fake):
    def unreadable(config, ctx):
        raise PermissionError(13, "Permission denied", "/somewhere/else")

    broken = Experiment(name="fake", title="", paper="", presets={"smoke": FakeConfig()}, run=unreadable)
    monkeypatch.setattr(experiments, "registry", lambda: {"fake": broken})
    with pytest.raises(PermissionError):
        main(["reproduce", "fake", "--scale", "smoke", "--quiet", "--out", str(tmp_path)])


def test_non_finite_metrics_are_written_as_strict_json(tmp_path, monkeypatch):
    nan = Experiment(name="nan", title="", paper="", presets={"smoke": FakeConfig()}, run=_nan_run)
    monkeypatch.setattr(experiments, "registry", lambda: {"nan": nan})
    assert main(["reproduce", "nan", "--scale", "smoke", "--quiet", "--out", str(tmp_path)]) == 0

    def refuse(constant):
        raise ValueError(f"non-strict JSON constant {constant}")

    result = json.loads((tmp_path / "nan" / "result.json").read_text(), parse_constant=refuse)
    assert result["metrics"] == {"error": None, "curve": [1.0, None]}
    assert result["non_finite"] == ["metrics.error", "metrics.curve[1]"]
