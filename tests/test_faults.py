"""The fault catalogue (issue 16, "nothing lost, nothing silent").

Each case feeds the package one fault — a bad flag, config field or environment variable, a
damaged file, a `kill -9` at a chosen moment of training or writing, two runs at once, a
misused server — and asserts one of three outcomes:

- a clean error: exit status 1 (3 for a diverged run), exactly one line on stderr that
  names the flag, field, variable or file, no traceback, and no work done;
- an exact resume: the run killed and resumed ends with the weights of the uninterrupted
  run, bit for bit (one thread both times), and its whole history;
- no debris: a folder holds complete files of one run, never temporary parts or a mix.

Caches treat a damaged entry as a miss and rebuild it. The tally (cases, clean errors,
tracebacks, silent wrong results) is printed at the end of the module. `aelab` runs
in-process for flag and file cases (fast) and as a subprocess where a process must die or
two must run at once. Everything uses `digits` and smoke presets: the module runs in about
two minutes on two cores.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import aelab.experiments as experiments
from aelab import fileio
from aelab.cli import main
from aelab.experiments import Experiment, Result

REPO = Path(__file__).resolve().parents[1]
TALLY: Counter = Counter()
CHECKPOINT_FILES = ["config.json", "state.json", "state.safetensors", "weights.safetensors"]
RUN_FILES = sorted([*CHECKPOINT_FILES, "record.json"])


@pytest.fixture(scope="module", autouse=True)
def tally(request):
    yield TALLY
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    line = (f"fault catalogue: {TALLY['cases']} cases; {TALLY['clean errors']} clean errors; "
            f"{TALLY['exact resumes']} exact resumes; {TALLY['no debris']} without debris; "
            f"{TALLY['rebuilt']} caches rebuilt; {TALLY['server']} server checks; "
            f"tracebacks {TALLY['tracebacks']}; silent wrong results {TALLY['silent wrong results']}")
    if reporter is not None:
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            reporter.write_line("")
            reporter.write_line(line)


@pytest.fixture(autouse=True)
def count_case():
    TALLY["cases"] += 1
    yield


# --- helpers ------------------------------------------------------------------------------------

def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """(exit status, stderr, stdout) of `aelab ARGV` run in this process."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main([str(a) for a in argv])
    except SystemExit as exit:
        rc = exit.code if isinstance(exit.code, int) else 1
    except BaseException:
        TALLY["tracebacks"] += 1
        raise
    return rc, err.getvalue(), out.getvalue()


def assert_clean_error(rc: int, err: str, *names: str, status: int = 1) -> str:
    """Exit `status`, one line on stderr naming each of `names`, no traceback."""
    if "Traceback" in err:
        TALLY["tracebacks"] += 1
    if rc == 0:
        TALLY["silent wrong results"] += 1
    # what a terminal shows: a progress bar redrawn with \r and cleared at the end leaves nothing
    lines = [line.rsplit("\r", 1)[-1].strip() for line in err.split("\n")]
    lines = [line for line in lines if line]
    assert rc == status, f"exit {rc}, stderr: {err}"
    assert len(lines) == 1, f"stderr has {len(lines)} lines: {err}"
    assert lines[0].startswith("aelab: "), lines[0]
    assert "Traceback" not in err
    for name in names:
        assert name in lines[0], f"{name!r} not named in: {lines[0]}"
    TALLY["clean errors"] += 1
    return lines[0]


def debris(folder: Path) -> list[str]:
    """Temporary parts, journals and other leftovers in `folder` (recursively)."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*")
                  if p.name.endswith(".part") or p.name == fileio.JOURNAL)


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "AELAB_CACHE": str(tmp_path / "cache"), "AELAB_NO_DOWNLOAD": "1",
            "AELAB_DEVICE": "cpu", "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **extra}


# --- 1. flags, config fields and seeds: checked before any work --------------------------------

TRAIN = ["train", "--dataset", "digits", "--hidden", "8", "--epochs", "1", "--n-train", "100"]
TRAIN_FLAGS = [
    (["--seed", "4294967296"], "--seed"),  # 2**32 would train the weights of seed 0
    (["--seed", "-1"], "--seed"),
    (["--seed", "18446744073709551616"], "--seed"),
    (["--n-train", "-5"], "--n-train"),  # would silently drop the last 5 examples
    (["--n-train", "5000"], "--n-train"),  # digits has 1197
    (["--epochs", "0"], "--epochs"),  # printed that it wrote weights it did not write
    (["--epochs", "-3"], "--epochs"),
    (["--noise", "gaussian:inf"], "--noise"),
    (["--noise", "gaussian:nan"], "--noise"),
    (["--noise", "gaussian:-0.1"], "--noise"),
    (["--noise", "masking:1.5"], "--noise"),
    (["--noise", "blur:0.1"], "--noise"),
    (["--noise", "masking"], "--noise"),
    (["--hidden", "0"], "--hidden"),
    (["--hidden", "100000000"], "--hidden"),
    (["--batch-size", "0"], "--batch-size"),
    (["--lr", "-1"], "--lr"),
    (["--lr", "0"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--lr", "inf"], "--lr"),
    (["--model", "cae", "--contractive", "-0.5"], "--contractive"),
    (["--model", "sparse", "--sparsity", "nan"], "--sparsity"),
    (["--dataset", "nope"], "nope"),
]


@pytest.mark.parametrize("flags, name", TRAIN_FLAGS, ids=[" ".join(f) for f, _ in TRAIN_FLAGS])
def test_a_bad_train_flag_is_one_clean_line_before_any_work(tmp_path, flags, name):
    out = tmp_path / "out"
    assert_clean_error(*run_cli([*TRAIN, "--out", out, *flags])[:2], name)
    assert not out.exists()  # refused before the output folder was even made


def test_bad_thread_count_names_the_flag(tmp_path):
    assert_clean_error(*run_cli(["--threads", "0", *TRAIN, "--out", tmp_path / "o"])[:2], "--threads")


REPRODUCE = ["reproduce", "lecture-pca", "--scale", "smoke", "--quiet"]
REPRODUCE_FLAGS = [
    (["--k", "0"], "--k"),
    (["--k", "-3"], "--k"),
    (["--k", "1000"], "--k"),  # more components than digits has pixels: found before training
    (["--k", "x"], "k"),
    (["--epochs", "0"], "--epochs"),
    (["--n-train", "-5"], "--n-train"),
    (["--lr", "0"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--batch-size", "0"], "--batch-size"),
    (["--optimizer", "adagrad"], "--optimizer"),
    (["--seed", "-1"], "--seed"),
    (["--seed", "4294967296"], "--seed"),
    (["--dataset", "cifar"], "cifar"),
    (["--bogus", "1"], "bogus"),
    (["--k"], "--k"),
    (["stray"], "stray"),
]


@pytest.mark.parametrize("flags, name", REPRODUCE_FLAGS, ids=[" ".join(f) for f, _ in REPRODUCE_FLAGS])
def test_a_bad_experiment_option_is_one_clean_line_before_training(tmp_path, flags, name):
    out = tmp_path / "runs"
    assert_clean_error(*run_cli([*REPRODUCE, "--out", out, *flags])[:2], name)
    assert not (out / "lecture-pca").exists()


OTHER_EXPERIMENT_FIELDS = [
    ("zhou-curves", ["--noise", "-1"], "--noise"),
    ("vincent-filters", ["--levels", "0.1,nan"], "--levels"),
    ("vincent-filters", ["--noise-kind", "masking", "--levels", "0.1,1.5"], "levels"),
    ("zhou-parzen", ["--sigmas", "0"], "--sigmas"),
    ("zhou-svm", ["--depth", "0"], "--depth"),
]


@pytest.mark.parametrize("name, flags, field", OTHER_EXPERIMENT_FIELDS,
                         ids=[f"{n} {' '.join(f)}" for n, f, _ in OTHER_EXPERIMENT_FIELDS])
def test_experiment_config_fields_are_range_checked_by_the_runner(tmp_path, name, flags, field):
    out = tmp_path / "runs"
    assert_clean_error(*run_cli(["reproduce", name, "--scale", "smoke", "--quiet", "--out", out, *flags])[:2],
                       field)
    assert not (out / name).exists()


def test_unknown_experiment_is_one_clean_line(tmp_path):
    assert_clean_error(*run_cli(["reproduce", "nope", "--out", tmp_path])[:2], "nope")


@pytest.mark.parametrize("argv, name", [
    (["data", "prepare", "digits", "--seed", "-1"], "--seed"),
    (["data", "list", "--seed", "4294967296"], "--seed"),
    (["data", "prepare", "nope"], "nope"),
], ids=["prepare-seed", "list-seed", "prepare-unknown"])
def test_data_command_flags_are_checked(argv, name):
    assert_clean_error(*run_cli(argv)[:2], name)


def test_the_seed_range_is_checked_once_in_the_api_too(tmp_path):
    from aelab.experiments.runner import reproduce
    from aelab.train.schemes import TrainConfig, train_one
    from aelab.errors import UsageError

    with pytest.raises(UsageError, match="--seed"):
        reproduce("lecture-pca", scale="smoke", seed=2**32, out=tmp_path)
    with pytest.raises(UsageError, match="--seed"):
        train_one(TrainConfig(dataset="digits"), tmp_path / "o", device=torch.device("cpu"), seed=-1)
    assert not (tmp_path / "lecture-pca").exists() and not (tmp_path / "o").exists()
    TALLY["clean errors"] += 1


# --- 2. environment -----------------------------------------------------------------------------

ENVIRONMENT = [
    ({"AELAB_THREADS": "abc"}, ["list"], "AELAB_THREADS"),
    ({"AELAB_THREADS": "0"}, ["list"], "AELAB_THREADS"),
    ({"AELAB_DEVICE": "tpu"}, [*TRAIN], "AELAB_DEVICE"),
    ({"AELAB_NO_DOWNLOAD": "maybe"}, ["data", "prepare", "mnist", "--root", "{tmp}/empty"], "AELAB_NO_DOWNLOAD"),
    ({"AELAB_NO_DOWNLOAD": "1"}, ["data", "prepare", "mnist", "--root", "{tmp}/empty"], "AELAB_NO_DOWNLOAD"),
    ({"AELAB_CACHE": "{tmp}/a-file/cache"}, ["data", "prepare", "rectangles"], "AELAB_CACHE"),
]


@pytest.mark.parametrize("variables, argv, name", ENVIRONMENT,
                         ids=[f"{next(iter(v))}={next(iter(v.values()))}" for v, _, _ in ENVIRONMENT])
def test_bad_environment_is_one_line_naming_the_variable(tmp_path, monkeypatch, variables, argv, name):
    (tmp_path / "a-file").write_text("not a folder")
    for key, value in variables.items():
        monkeypatch.setenv(key, value.format(tmp=tmp_path))
    argv = [a.format(tmp=tmp_path) for a in argv]
    if argv[0] == "train":
        argv += ["--out", str(tmp_path / "o")]
    assert_clean_error(*run_cli(argv)[:2], name)


# --- 3. output folders and files ----------------------------------------------------------------

def test_train_out_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    assert_clean_error(*run_cli([*TRAIN, "--out", tmp_path / "f"])[:2], "--out")


def test_train_out_below_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    assert_clean_error(*run_cli([*TRAIN, "--out", tmp_path / "f" / "run"])[:2], "--out")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_train_out_read_only_is_refused_before_work(tmp_path):
    if os.geteuid() == 0:  # root ignores mode bits; /proc/self takes no new entries from anyone
        parent = Path("/proc/self")
    else:
        parent = tmp_path / "ro"
        parent.mkdir(mode=0o555)
    assert_clean_error(*run_cli([*TRAIN, "--out", parent / "run"])[:2], "--out")


def test_reproduce_out_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    assert_clean_error(*run_cli([*REPRODUCE, "--out", tmp_path / "f"])[:2], "--out")


def test_reproduce_result_folder_that_is_a_file(tmp_path):
    (tmp_path / "lecture-pca").write_text("x")
    assert_clean_error(*run_cli([*REPRODUCE, "--out", tmp_path])[:2], "lecture-pca")


def test_reproduce_never_replaces_a_folder_holding_someone_elses_files(tmp_path):
    (tmp_path / "lecture-pca").mkdir()
    (tmp_path / "lecture-pca" / "notes.txt").write_text("mine")
    assert_clean_error(*run_cli([*REPRODUCE, "--out", tmp_path])[:2], "notes.txt")
    assert (tmp_path / "lecture-pca" / "notes.txt").read_text() == "mine"


# --- 4. damaged checkpoints: --resume names the file; caches rebuild ------------------------------

GOOD = ["train", "--dataset", "digits", "--hidden", "8", "--epochs", "2", "--batch-size", "50", "--n-train", "200"]


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("good") / "run"
    rc, err, _ = run_cli(["--threads", "1", *GOOD, "--out", folder])
    assert rc == 0, err
    assert sorted(p.name for p in folder.iterdir()) == RUN_FILES
    return folder


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00garbage{")


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _json_edit(name: str, edit):
    def damage(folder: Path) -> None:
        content = json.loads((folder / name).read_text())
        edit(content)
        (folder / name).write_text(json.dumps(content))
    return damage


def _tensor_edit(name: str, edit):
    def damage(folder: Path) -> None:
        from safetensors import safe_open

        with safe_open(str(folder / name), framework="pt") as handle:
            metadata = handle.metadata()
        tensors = load_file(folder / name)
        edit(tensors)
        save_file(tensors, folder / name, metadata=metadata)
    return damage


def _nan_weights(tensors):
    key = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[key][0] = float("nan")


def _wrong_shape(tensors):
    key = next(k for k, v in tensors.items() if v.dim() == 2)
    tensors[key] = torch.zeros(3, 3)


def _optimizer_shape(tensors):
    key = next(k for k in tensors if k.startswith("optimizer.") and not k.endswith(".step"))
    tensors[key] = torch.zeros(2, 2)


def _optimizer_nan(tensors):
    key = next(k for k in tensors if k.startswith("optimizer.") and not k.endswith(".step"))
    tensors[key] = torch.full_like(tensors[key], float("nan"))


DAMAGE = [
    ("config.json garbage", lambda f: _garbage(f / "config.json"), "config.json"),
    ("config.json a list", lambda f: (f / "config.json").write_text("[1, 2]"), "config.json"),
    ("config.json missing", lambda f: (f / "config.json").unlink(), "config.json"),
    ("config.json unknown model", _json_edit("config.json", lambda c: c.update(model="nope")), "config.json"),
    ("config.json unknown field", _json_edit("config.json", lambda c: c["config"].update(colour=1)), "config.json"),
    ("config.json impossible size", _json_edit("config.json", lambda c: c["config"].update(n_hidden=-3)),
     "config.json"),
    ("weights truncated", lambda f: _truncate(f / "weights.safetensors"), "weights.safetensors"),
    ("weights garbage", lambda f: _garbage(f / "weights.safetensors"), "weights.safetensors"),
    ("weights missing", lambda f: (f / "weights.safetensors").unlink(), "weights.safetensors"),
    ("weights NaN", _tensor_edit("weights.safetensors", _nan_weights), "non-finite"),
    ("weights wrong shape", _tensor_edit("weights.safetensors", _wrong_shape), "does not match"),
    ("state.json garbage", lambda f: _garbage(f / "state.json"), "state.json"),
    ("state.json missing", lambda f: (f / "state.json").unlink(), "state.json"),
    ("state.json other epoch", _json_edit("state.json", lambda c: c.update(epoch=1)), "different epochs"),
    ("state.json epoch text", _json_edit("state.json", lambda c: c.update(epoch="two")), "epochs"),
    ("state.json history cut", _json_edit("state.json", lambda c: c.update(history=c["history"][:1])), "history"),
    ("state.json no optimizer", _json_edit("state.json", lambda c: c.pop("optimizer")), "state.json"),
    ("state.safetensors garbage", lambda f: _garbage(f / "state.safetensors"), "state.safetensors"),
    ("state optimizer wrong shape", _tensor_edit("state.safetensors", _optimizer_shape), "state.safetensors"),
    ("state optimizer NaN", _tensor_edit("state.safetensors", _optimizer_nan), "non-finite"),
    ("state generator damaged", _tensor_edit("state.safetensors", lambda t: t.update(generator=t["generator"][:10])),
     "generator"),
]


@pytest.mark.parametrize("what, damage, name", DAMAGE, ids=[d[0] for d in DAMAGE])
def test_a_damaged_checkpoint_is_one_line_naming_the_file(tmp_path, good_checkpoint, what, damage, name):
    folder = tmp_path / "damaged"
    shutil.copytree(good_checkpoint, folder)
    (folder / "record.json").unlink()
    damage(folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    line = assert_clean_error(*run_cli(["--threads", "1", *GOOD, "--epochs", "3", "--out", tmp_path / "next",
                                        "--resume", folder])[:2], name)
    assert str(folder) in line or "--resume" in line
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # nothing changed
    assert not (tmp_path / "next" / "weights.safetensors").exists()


@pytest.mark.parametrize("flags, name", [
    (["--lr", "0.01"], "lr"),  # other settings than the checkpoint's
    (["--hidden", "4"], "n_hidden"),
    (["--epochs", "1"], "--epochs"),  # fewer than the checkpoint has done
], ids=["other-lr", "other-hidden", "fewer-epochs"])
def test_resume_with_other_settings_is_refused(tmp_path, good_checkpoint, flags, name):
    assert_clean_error(*run_cli(["--threads", "1", *GOOD, "--out", tmp_path / "o", "--resume", good_checkpoint,
                                 *flags])[:2], name)


def test_resume_of_a_missing_folder_or_a_file(tmp_path):
    assert_clean_error(*run_cli([*GOOD, "--out", tmp_path / "o", "--resume", tmp_path / "none"])[:2], "--resume")
    (tmp_path / "f").write_text("x")
    rc, err, _ = run_cli([*GOOD, "--out", tmp_path / "o", "--resume", tmp_path / "f"])
    assert_clean_error(rc, err, "--resume")


def test_load_model_names_the_damaged_file(tmp_path, good_checkpoint):
    from aelab.models.registry import CheckpointError, load_model

    folder = tmp_path / "m"
    shutil.copytree(good_checkpoint, folder)
    _tensor_edit("weights.safetensors", _nan_weights)(folder)
    with pytest.raises(CheckpointError, match="weights.safetensors"):
        load_model(folder)
    TALLY["clean errors"] += 1


def test_a_damaged_dashboard_cache_entry_is_a_miss_and_is_rebuilt(tmp_path):
    from aelab.widgets.base import ArrayCache

    cache = ArrayCache(tmp_path)
    config = {"n": 1}
    folder = cache.save("demo", config, {"a": np.arange(3)})
    for damage in (lambda: _garbage(folder / "arrays.npz"), lambda: _truncate(folder / "arrays.npz"),
                   lambda: _garbage(folder / "info.json"), lambda: (folder / "info.json").write_text("[]"),
                   lambda: (folder / "arrays.npz").unlink()):
        cache.save("demo", config, {"a": np.arange(3)})
        damage()
        assert cache.load("demo", config) is None  # a miss, not an error
    cache.save("demo", config, {"a": np.arange(3)})
    arrays, _ = cache.load("demo", config)
    assert arrays["a"].tolist() == [0, 1, 2]
    TALLY["rebuilt"] += 1


CLASSIFIER_DAMAGE = [
    ("config.json garbage", lambda f: _garbage(f / "config.json")),
    ("config.json a number", lambda f: (f / "config.json").write_text("3")),
    ("weights NaN", _tensor_edit("weights.safetensors", _nan_weights)),
    ("weights truncated", lambda f: _truncate(f / "weights.safetensors")),
]


@pytest.mark.parametrize("what, damage", CLASSIFIER_DAMAGE, ids=[d[0] for d in CLASSIFIER_DAMAGE])
def test_a_damaged_cached_classifier_is_retrained(tmp_path, monkeypatch, what, damage):
    from aelab.train.classifier import ClassifierConfig, pretrained_classifier

    monkeypatch.setenv("AELAB_CACHE", str(tmp_path / "cache"))
    config = ClassifierConfig(spec="(4)3c-2p-10fc", dataset="digits", size=8, n_train=64, epochs=1, batch_size=32)
    _, info = pretrained_classifier(config)
    assert not info["cached"]
    damage(Path(info["folder"]))
    _, info = pretrained_classifier(config)
    assert not info["cached"]  # retrained, not failed
    _, info = pretrained_classifier(config)
    assert info["cached"]
    assert debris(tmp_path / "cache") == []
    TALLY["rebuilt"] += 1


def test_a_damaged_generated_dataset_is_regenerated(tmp_path, monkeypatch):
    from aelab import data
    from aelab.data.datasets import generated_path

    monkeypatch.setenv("AELAB_CACHE", str(tmp_path / "cache"))
    first = data.load("rectangles", "valid").x
    _truncate(generated_path("rectangles"))
    again = data.load("rectangles", "valid").x
    assert torch.equal(first, again)
    TALLY["rebuilt"] += 1


# --- 5. kill -9 while training and writing, then resume -------------------------------------------

KILL_ARGS = ["--threads", "1", "train", "--dataset", "digits", "--hidden", "16", "--epochs", "4",
             "--batch-size", "50", "--n-train", "400", "--seed", "3"]
# Runs `aelab ARGS` and SIGKILLs itself at the Nth call of os.fsync / os.replace or Nth batch.
INJECT = r"""
import os, signal, sys
kind, n, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
count = [0]
def bomb():
    count[0] += 1
    if count[0] == n:
        os.kill(os.getpid(), signal.SIGKILL)
if kind in ("replace", "fsync"):
    real = getattr(os, kind)
    def patched(*args, **kwargs):
        bomb()
        return real(*args, **kwargs)
    setattr(os, kind, patched)
else:
    import aelab.train.loop as loop
    epoch = loop.Shuffle.epoch
    def batches(self, generator):
        for batch in epoch(self, generator):
            bomb()
            yield batch
    loop.Shuffle.epoch = batches
from aelab.cli import main
sys.exit(main(argv))
"""
# A checkpoint is 5 fsyncs (4 parts + the journal) and 5 replaces (the journal, 4 renames);
# 8 batches an epoch; record.json is the 21st replace.
KILL_POINTS = [
    ("batch", 3, "in epoch 1, before any checkpoint"),
    ("fsync", 2, "writing the first checkpoint's parts"),
    ("replace", 6, "second checkpoint: parts written, journal not committed"),
    ("replace", 8, "second checkpoint: journal committed, renames half done"),
    ("batch", 20, "in epoch 3, two checkpoints written"),
    ("replace", 21, "writing record.json after the last epoch"),
]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("whole") / "run"
    done = subprocess.run([sys.executable, "-m", "aelab.cli", *KILL_ARGS, "--out", str(folder)],
                          env=env(folder.parent), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return folder


def _resume_and_compare(folder: Path, reference: Path) -> None:
    """Resume (or, with no checkpoint yet, restart) the run in `folder`; it must end as `reference`."""
    has_checkpoint = (folder / "config.json").exists() or (folder / fileio.JOURNAL).exists()
    rc, err, _ = run_cli([*KILL_ARGS, "--out", folder, *(["--resume", folder] if has_checkpoint else [])])
    assert rc == 0, err
    assert sorted(p.name for p in folder.iterdir()) == RUN_FILES, debris(folder)
    assert debris(folder) == []
    ours, theirs = load_file(folder / "weights.safetensors"), load_file(reference / "weights.safetensors")
    assert sorted(ours) == sorted(theirs)
    for name in ours:
        if not torch.equal(ours[name], theirs[name]):
            TALLY["silent wrong results"] += 1
        assert torch.equal(ours[name], theirs[name]), name
    record, whole = (json.loads((f / "record.json").read_text()) for f in (folder, reference))
    assert [h["epoch"] for h in record["metrics"]["history"]] == [1, 2, 3, 4]  # the whole history
    assert [h["train_loss"] for h in record["metrics"]["history"]] == \
        [h["train_loss"] for h in whole["metrics"]["history"]]
    TALLY["exact resumes"] += 1


@pytest.mark.parametrize("kind, n, moment", KILL_POINTS, ids=[m for _, _, m in KILL_POINTS])
def test_kill_9_at_a_chosen_moment_then_resume_ends_bit_identical(tmp_path, uninterrupted, kind, n, moment):
    folder = tmp_path / "run"
    killed = subprocess.run([sys.executable, "-c", INJECT, kind, str(n), *KILL_ARGS, "--out", str(folder)],
                            env=env(tmp_path), capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    if not (folder / "config.json").exists() and not (folder / fileio.JOURNAL).exists():
        rc, err, _ = run_cli([*KILL_ARGS, "--out", folder, "--resume", folder])
        assert_clean_error(rc, err, "--resume")  # nothing to resume yet: said so on one line
    _resume_and_compare(folder, uninterrupted)


@pytest.mark.parametrize("trial", range(3))
def test_kill_9_at_a_random_moment_then_resume_ends_bit_identical(tmp_path, uninterrupted, trial):
    folder = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "aelab.cli", *KILL_ARGS, "--out", str(folder)], env=env(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.monotonic()
    while not (folder / "config.json").exists() and proc.poll() is None and time.monotonic() - started < 60:
        time.sleep(0.005)
    time.sleep(random.Random(trial).uniform(0.0, 0.4))  # the rest of the run takes about 0.8 s
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL  # killed, not finished
    _resume_and_compare(folder, uninterrupted)


def test_a_stale_part_of_a_dead_writer_is_removed_and_a_live_ones_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".result.json.{dead.pid}.abc123.part"
    live = tmp_path / f".result.json.{os.getppid()}.def456.part"
    other = tmp_path / "notes.part"
    for path in (stale, live, other):
        path.write_text("x")
    fileio.write_json_atomic(tmp_path / "result.json", {"a": 1})
    assert not stale.exists() and live.exists() and other.exists()
    TALLY["no debris"] += 1


def test_a_journal_left_by_a_killed_checkpoint_write_is_rolled_forward(tmp_path):
    fileio.commit_files(tmp_path, {"a.txt": b"old a", "b.txt": b"old b"})
    parts = {}
    for name in ("a.txt", "b.txt"):  # what a writer killed after its commit point leaves
        part = tmp_path / f".{name}.999999999.zz.part"
        part.write_bytes(f"new {name[0]}".encode())
        parts[name] = part.name
    (tmp_path / fileio.JOURNAL).write_text(json.dumps({"parts": parts}))
    os.replace(tmp_path / parts["a.txt"], tmp_path / "a.txt")  # one rename done
    fileio.remove_stale_parts(tmp_path)
    assert (tmp_path / "a.txt").read_bytes() == b"new a" and (tmp_path / "b.txt").read_bytes() == b"new b"
    assert debris(tmp_path) == []
    TALLY["no debris"] += 1


def test_written_files_and_folders_respect_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        mask = fileio.UMASK
        fileio.UMASK = 0o027
        fileio.write_json_atomic(tmp_path / "r.json", {})
        fileio.commit_files(tmp_path / "ck", {"w": b"1"})
        with fileio.atomic_folder(tmp_path / "res") as folder:
            (folder / "x").write_text("1")
    finally:
        os.umask(old)
        fileio.UMASK = mask
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "ck" / "w").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "res").stat().st_mode & 0o777 == 0o750
    TALLY["no debris"] += 1


def test_a_failed_folder_write_leaves_the_old_folder_and_no_debris(tmp_path):
    with fileio.atomic_folder(tmp_path / "res") as folder:
        (folder / "result.json").write_text("old")
    with pytest.raises(RuntimeError):
        with fileio.atomic_folder(tmp_path / "res") as folder:
            (folder / "result.json").write_text("new")
            raise RuntimeError("the run failed")
    assert (tmp_path / "res" / "result.json").read_text() == "old" and debris(tmp_path) == []
    TALLY["no debris"] += 1


# --- 6. divergence stops a run -------------------------------------------------------------------

def test_a_diverging_experiment_exits_3_with_one_line_and_writes_no_result(tmp_path):
    rc, err, _ = run_cli([*REPRODUCE, "--out", tmp_path, "--lr", "1e6"])
    assert_clean_error(rc, err, "lr=1e+06", status=3)
    assert not (tmp_path / "lecture-pca").exists() and debris(tmp_path) == []


def test_a_diverging_training_keeps_only_good_checkpoints(tmp_path):
    rc, err, _ = run_cli([*TRAIN, "--epochs", "3", "--lr", "1e6", "--optimizer", "sgd", "--out", tmp_path / "o"])
    assert_clean_error(rc, err, "diverged", status=3)
    assert debris(tmp_path) == []
    if (tmp_path / "o" / "weights.safetensors").exists():  # the last good epoch's, finite
        assert all(torch.isfinite(v).all() for v in load_file(tmp_path / "o" / "weights.safetensors").values())


# --- 7. concurrent runs ---------------------------------------------------------------------------

def test_a_second_train_into_the_same_out_is_refused_while_the_first_runs(tmp_path):
    folder = tmp_path / "run"
    args = [*KILL_ARGS, "--epochs", "40"]
    first = subprocess.Popen([sys.executable, "-m", "aelab.cli", *args, "--out", str(folder)], env=env(tmp_path),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        started = time.monotonic()
        while not (folder / "config.json").exists() and time.monotonic() - started < 60:
            assert first.poll() is None, first.stderr.read()
            time.sleep(0.01)
        assert_clean_error(*run_cli([*KILL_ARGS, "--out", folder])[:2], "in use")
    finally:
        assert first.wait(timeout=120) == 0
    assert sorted(p.name for p in folder.iterdir()) == RUN_FILES
    assert json.loads((folder / "record.json").read_text())["metrics"]["epochs_done"] == 40


@dataclass(frozen=True)
class SlowConfig:
    dataset: str = "digits"
    delay: float = 0.3


def _slow_run(config, ctx):
    time.sleep(config.delay)
    return Result(metrics={"seed": ctx.seed}, arrays={"seed": np.full(4, ctx.seed)})


SLOW = Experiment(name="slow", title="slow", paper="-", presets={"smoke": SlowConfig()}, run=_slow_run)


def test_concurrent_reproduce_runs_leave_the_folder_of_one_run(tmp_path, monkeypatch):
    from aelab.experiments.runner import read_result, reproduce

    monkeypatch.setattr(experiments, "registry", lambda: {"slow": SLOW})
    errors = []

    def run(seed):
        try:
            reproduce("slow", seed=seed, out=tmp_path,
                      finish=lambda folder: (folder / "figure.html").write_text(f"seed {seed}"))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    for _ in range(3):
        threads = [threading.Thread(target=run, args=(seed,)) for seed in (1, 2, 3, 4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        result, arrays = read_result(tmp_path / "slow")
        seed = result["seed"]
        if not (result["metrics"]["seed"] == seed and arrays["seed"].tolist() == [seed] * 4
                and (tmp_path / "slow" / "figure.html").read_text() == f"seed {seed}"):
            TALLY["silent wrong results"] += 1
        assert result["metrics"]["seed"] == seed and arrays["seed"].tolist() == [seed] * 4
        assert (tmp_path / "slow" / "figure.html").read_text() == f"seed {seed}"
        assert sorted(p.name for p in (tmp_path / "slow").iterdir()) == ["arrays.npz", "figure.html", "result.json"]
        assert debris(tmp_path) == []
    TALLY["no debris"] += 1


def test_two_aelab_reproduce_processes_into_one_out_leave_one_runs_folder(tmp_path):
    out = tmp_path / "runs"
    procs = [subprocess.Popen([sys.executable, "-m", "aelab.cli", "--threads", "1", *REPRODUCE, "--out", str(out),
                               "--seed", str(seed), "--epochs", "3"], env=env(tmp_path),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    for proc in procs:
        assert proc.wait(timeout=180) == 0, proc.stderr.read()
    folder = out / "lecture-pca"
    assert sorted(p.name for p in folder.iterdir()) == ["arrays.npz", "figure.html", "result.json"]
    assert debris(out) == []
    result = json.loads((folder / "result.json").read_text())
    with np.load(folder / "arrays.npz") as arrays:
        curve = arrays["curve"]
    assert result["seed"] in (1, 2)
    assert np.float32(result["metrics"]["ae_error"]) == curve[-1]  # result and arrays of the same run
    TALLY["no debris"] += 1


# --- 8. the lab under misuse ----------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, host: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def _kernels(pid: int) -> list[int]:
    """The kernels under server `pid`: ipykernel processes, or forks of the lab's kernel zygote."""
    from aelab.widgets.zygote import is_zygote_child

    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            pass
    found, frontier = [], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        for child in frontier:
            try:
                if b"ipykernel" in (Path("/proc") / str(child) / "cmdline").read_bytes() or is_zygote_child(child):
                    found.append(child)
            except OSError:
                pass
    return found


@pytest.fixture(scope="module")
def tiny_notebooks(tmp_path_factory) -> Path:
    import nbformat

    folder = tmp_path_factory.mktemp("notebooks")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('tiny dashboard')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(folder / "01-tiny.ipynb"))
    return folder


@pytest.fixture(scope="module")
def lab(tiny_notebooks, tmp_path_factory):
    if sys.platform != "linux":
        pytest.skip("counts kernels through /proc")
    port = _free_port()
    log = tmp_path_factory.mktemp("lablog") / "lab.log"
    with open(log, "w") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "aelab.cli", "lab", "--port", str(port), "--no-browser",
                                 "--notebooks", str(tiny_notebooks), "--preheat", "0", "--max-kernels", "2",
                                 "--cull-idle", "6", "--cull-interval", "1"], env=env(log.parent),
                                stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while True:
            assert proc.poll() is None, log.read_text()
            with contextlib.suppress(OSError):
                if _get(base + "/")[0] == 200:
                    break
            assert time.monotonic() - started < 60, log.read_text()
            time.sleep(0.3)
        yield {"base": base, "port": port, "proc": proc, "log": log}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.parametrize("host, status", [("127.0.0.1", 200), ("localhost", 200), ("evil.example", 403),
                                          ("127.0.0.1.nip.io", 403)])
def test_the_lab_checks_the_host_header(lab, host, status):
    code, _ = _get(lab["base"] + "/", host=f"{host}:{lab['port']}")
    assert code == status
    TALLY["server"] += 1


def test_the_lab_caps_live_kernels_and_culls_idle_ones(lab):
    page = lab["base"] + "/voila/render/01-tiny.ipynb"
    codes = [_get(page) for _ in range(3)]
    assert [c for c, _ in codes[:2]] == [200, 200] and "tiny dashboard" in codes[0][1]
    assert codes[2][0] == 503 and "limit of 2 live dashboards" in codes[2][1]
    assert len(_kernels(lab["proc"].pid)) <= 2
    started = time.monotonic()  # culled within seconds here (--cull-idle 6), then pages load again
    while _kernels(lab["proc"].pid) and time.monotonic() - started < 30:
        time.sleep(0.5)
    assert _kernels(lab["proc"].pid) == []
    assert _get(page)[0] == 200
    TALLY["server"] += 1


def test_a_busy_port_is_one_clean_line_not_a_move_to_another_port(lab, tiny_notebooks):
    assert_clean_error(*run_cli(["lab", "--port", lab["port"], "--no-browser", "--notebooks", tiny_notebooks])[:2],
                       f"--port {lab['port']}", "in use")


@pytest.mark.parametrize("flags, name", [
    (["--port", "70000"], "--port"), (["--port", "0"], "--port"), (["--port", "-1"], "--port"),
    (["--preheat", "-1"], "--preheat"), (["--max-kernels", "0"], "--max-kernels"),
    (["--cull-idle", "0"], "--cull-idle"), (["--cull-interval", "0"], "--cull-interval"),
    (["--timeout", "0"], "--timeout"), (["--notebooks", "/nonexistent/notebooks"], "--notebooks"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_lab_options_are_one_clean_line(tiny_notebooks, flags, name):
    argv = ["lab", "--no-browser", "--notebooks", tiny_notebooks, *flags]
    assert_clean_error(*run_cli(argv)[:2], name)
