"""The spine: one loop (optimizers, divergence, exact resume), one factory, checkpoints that
rebuild their model."""

from __future__ import annotations

import json

import pytest
import torch

from aelab import data
from aelab.models.registry import CheckpointError, build_model, load_model, make_config, save_model
from aelab.train.checkpoints import load_checkpoint, save_checkpoint
from aelab.train.loop import Callbacks, FitConfig, TrainingDiverged, fit
from aelab.train.schemes import TrainConfig, train_one


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", "train").x


class Interrupt(Exception):
    pass


def _train(x, folder, optimizer, *, stop_after_batches=None, resume_from=None):
    model = build_model("dae", n_visible=64, n_hidden=16, generator=torch.Generator().manual_seed(1))
    state = None
    if resume_from is not None:
        checkpoint = load_checkpoint(resume_from)
        model, state = checkpoint.model, checkpoint.state
    calls = [0]

    def check_stop():
        calls[0] += 1
        if stop_after_batches is not None and calls[0] > stop_after_batches:
            raise Interrupt

    history = fit(model, model.loss, x, FitConfig(epochs=4, batch_size=50, optimizer=optimizer, lr=1e-2,
                                                 momentum=0.5 if optimizer != "adam" else 0.0),
                  generator=torch.Generator().manual_seed(7), resume=state,
                  callbacks=Callbacks(check_stop=check_stop,
                                      checkpoint=lambda epoch, s: save_checkpoint(folder, model, state=s)))
    return model, history


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop", "adam"])
def test_a_run_interrupted_and_resumed_ends_bit_identical(digits, tmp_path, optimizer):
    whole, whole_history = _train(digits, tmp_path / "whole", optimizer)
    with pytest.raises(Interrupt):  # check_stop runs every batch here (24 batches an epoch): stop in epoch 3
        _train(digits, tmp_path / "cut", optimizer, stop_after_batches=2 * 24 + 5)
    assert json.loads((tmp_path / "cut" / "state.json").read_text())["epoch"] == 2
    resumed, history = _train(digits, tmp_path / "cut", optimizer, resume_from=tmp_path / "cut")
    for name, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert [h["train_loss"] for h in history] == [h["train_loss"] for h in whole_history]


def test_growth_far_past_the_start_is_divergence(digits):
    ae = build_model("ae", n_visible=64, n_hidden=16, generator=torch.Generator().manual_seed(0))
    calls = [0]

    def loss(xb, generator=None):  # finite, but 1000x the start after a few batches
        calls[0] += 1
        terms = ae.loss(xb, generator)
        if calls[0] > 30:
            terms["total"] = terms["total"] * 1000.0
        return terms

    with pytest.raises(TrainingDiverged, match=r"epoch 2 \(.* times its start .* limit of 100x\)"):
        fit(ae, loss, digits, FitConfig(epochs=3, batch_size=50, optimizer="sgd", lr=1e-3))


def test_factory_names_presets_and_no_hidden_noise():
    assert make_config("ae", n_visible=4, n_hidden=2).noise == "none"
    assert make_config("dae", n_visible=4, n_hidden=2).noise == "masking:0.25"
    assert make_config("cae", n_visible=4, n_hidden=2).contractive > 0
    with pytest.raises(ValueError, match="no setting hiden"):
        make_config("ae", hiden=3)
    with pytest.raises(ValueError, match="unknown; choose one of"):
        build_model("nope")
    a = build_model("dae", n_visible=8, n_hidden=3, generator=torch.Generator().manual_seed(5))
    b = build_model("dae", n_visible=8, n_hidden=3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.W, b.W)


def test_load_model_rebuilds_from_the_folder_alone(tmp_path):
    deep = build_model("deep", sizes=[10, 6, 3], noise=["gaussian:0.1", "none"], contractive=0.2,
                       generator=torch.Generator().manual_seed(0))
    save_model(tmp_path / "m", deep)
    again = load_model(tmp_path / "m")
    assert type(again).__name__ == "DeepAutoencoder" and again.config == deep.config
    x = torch.rand(4, 10)
    assert torch.equal(again.reconstruct(x), deep.reconstruct(x))
    content = json.loads((tmp_path / "m" / "config.json").read_text())
    assert content["model"] == "deep" and content["config"]["sizes"] == [10, 6, 3]


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "config.json").write_text("[1, 2]"), "not an aelab model config"),
    (lambda f: (f / "config.json").write_text("{"), "not readable JSON"),
    (lambda f: (f / "config.json").write_text(json.dumps({"format": "aelab-model/1", "model": "ae",
                                                          "config": {"n_visible": 4, "bogus": 1}})), "no setting bogus"),
    (lambda f: (f / "weights.safetensors").write_bytes(b"garbage"), "not a readable safetensors"),
])
def test_damaged_checkpoints_raise_the_packages_error(tmp_path, damage, message):
    save_model(tmp_path, build_model("ae", n_visible=4, n_hidden=2))
    damage(tmp_path)
    with pytest.raises(CheckpointError, match=message):
        load_model(tmp_path)


def test_non_finite_weights_are_refused(tmp_path):
    model = build_model("ae", n_visible=4, n_hidden=2)
    with torch.no_grad():
        model.W[0, 0] = float("nan")
    save_model(tmp_path, model)
    with pytest.raises(CheckpointError, match="non-finite"):
        load_model(tmp_path)


def test_aelab_train_resume_continues_to_the_total_and_refuses_other_settings(tmp_path):
    config = TrainConfig(model="dae", dataset="digits", hidden=8, epochs=3, batch_size=50, lr=1e-2)
    whole = train_one(config, tmp_path / "whole", device=torch.device("cpu"), log=lambda m: None)

    def interrupt(done, total, desc):
        if done > 2 * 24:  # inside epoch 3 (24 batches an epoch)
            raise Interrupt

    with pytest.raises(Interrupt):
        train_one(config, tmp_path / "cut", device=torch.device("cpu"), progress=interrupt, log=lambda m: None)
    other = TrainConfig(**{**config.__dict__, "model": "cae"})
    with pytest.raises(ValueError, match="other settings: contractive"):
        train_one(other, tmp_path / "x", device=torch.device("cpu"), resume=tmp_path / "cut", log=lambda m: None)
    resumed = train_one(config, tmp_path / "cut", device=torch.device("cpu"), resume=tmp_path / "cut",
                        log=lambda m: None)
    assert resumed["epochs_done"] == 3 and len(resumed["history"]) == 3
    assert resumed["train_loss"] == whole["train_loss"]
    a, b = load_model(tmp_path / "whole"), load_model(tmp_path / "cut")
    assert torch.equal(a.W, b.W)
