"""Run records, checkpoints (no pickle), atomic writes and device choice."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from aelab.device import resolve_device
from aelab.fileio import atomic_path, read_json, write_json_atomic
from aelab.train.checkpoints import CheckpointError, load_config, load_into, save_checkpoint
from aelab.train.records import read_record, write_record


@dataclass
class TinyConfig:
    hidden: int = 3
    noise: str = "masking:0.25"


class Tied(torch.nn.Module):
    def __init__(self, n=4, h=3):
        super().__init__()
        self.W = torch.nn.Parameter(torch.randn(h, n))
        self.b = torch.nn.Parameter(torch.zeros(h))


def test_record_holds_config_seed_versions_device_metrics_and_seconds(tmp_path):
    path = write_record(tmp_path / "record.json", config=TinyConfig(), seed=5,
                        metrics={"loss": [0.5, 0.25]}, seconds=1.5, device="cpu")
    record = read_record(path)
    assert record["config"] == {"hidden": 3, "noise": "masking:0.25"}
    assert record["seed"] == 5 and record["seconds"] == 1.5
    assert record["metrics"]["loss"] == [0.5, 0.25]
    assert record["env"]["device"] == "cpu" and "torch" in record["env"]["versions"]


def test_checkpoint_round_trip_restores_weights_and_config(tmp_path):
    model = Tied()
    save_checkpoint(tmp_path / "ck", model, TinyConfig(hidden=3), extra={"step": torch.tensor([7])})
    other = Tied()
    extra = load_into(other, tmp_path / "ck")
    assert torch.equal(other.W, model.W) and int(extra["step"]) == 7
    assert load_config(tmp_path / "ck")["hidden"] == 3
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["config.json", "weights.safetensors"]


def test_checkpoint_with_wrong_shapes_names_the_difference(tmp_path):
    save_checkpoint(tmp_path / "ck", Tied(4, 3), {"hidden": 3})
    with pytest.raises(CheckpointError, match=r"W: checkpoint \(3, 4\) vs model \(5, 4\)"):
        load_into(Tied(4, 5), tmp_path / "ck")


def test_checkpoint_folder_without_files_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="aelab checkpoint folder"):
        load_into(Tied(), tmp_path)


def test_checkpoint_of_shared_tensors_saves(tmp_path):
    """Tied weights stored twice in a state dict (same storage) must still save."""
    model = torch.nn.Module()
    model.a = torch.nn.Linear(3, 3, bias=False)
    model.b = torch.nn.Linear(3, 3, bias=False)
    model.b.weight = model.a.weight
    save_checkpoint(tmp_path / "ck", model, {})
    load_into(model, tmp_path / "ck")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    write_json_atomic(target, {"a": 1})
    assert read_json(target) == {"a": 1}


def test_device_choice(monkeypatch):
    monkeypatch.setenv("AELAB_DEVICE", "cpu")
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            resolve_device("cuda")
