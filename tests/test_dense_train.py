"""The fast loop, the L/J/U/UJ schemes, fine-tuning and their failure modes."""

import pytest
import torch

from aelab import data
from aelab.models.dense import Autoencoder, DeepAutoencoder
from aelab.train.checkpoints import CheckpointError, load_into, save_checkpoint
from aelab.train.finetune import finetune
from aelab.train.loop import Callbacks, FitConfig, TrainingDiverged, fit
from aelab.train.schemes import train_scheme


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", "train"), data.load("digits", "valid"), data.load("digits", "test")


def test_fit_lowers_the_loss_and_reports_every_epoch(digits):
    train = digits[0]
    torch.manual_seed(0)
    ae = Autoencoder(64, 32, noise=("masking", 0.25))
    seen = []
    history = fit(ae, ae.loss, train.x, FitConfig(epochs=4, batch_size=50, lr=1e-2),
                  generator=torch.Generator().manual_seed(0),
                  evaluate=lambda: {"test": ae.reconstruction_error(digits[2].x)},
                  callbacks=Callbacks(on_epoch=lambda e, m: seen.append(e)))
    assert seen == [1, 2, 3, 4] and len(history) == 4
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert {"train_loss", "train_reconstruction", "test", "seconds", "epoch"} <= set(history[0])


def test_fit_is_repeatable_with_a_generator(digits):
    def run():
        torch.manual_seed(0)
        ae = Autoencoder(64, 16)
        fit(ae, ae.loss, digits[0].x, FitConfig(epochs=1, batch_size=100, optimizer="sgd", lr=0.1),
            generator=torch.Generator().manual_seed(3))
        return ae.W.detach().clone()
    assert torch.equal(run(), run())


def test_divergence_names_the_epoch_and_learning_rate_and_keeps_good_weights(digits):
    ae = Autoencoder(64, 16, loss="squared", decoder="linear", encoder="linear", noise=None)
    before = ae.W.detach().clone()
    with pytest.raises(TrainingDiverged, match=r"epoch 1.*learning rate.*lr=1e\+06"):
        fit(ae, ae.loss, digits[0].x * 100, FitConfig(epochs=2, optimizer="sgd", lr=1e6))
    assert torch.equal(ae.W.detach(), before)


def test_bad_optimizer_settings_fail_before_training(digits):
    ae = Autoencoder(64, 16)
    with pytest.raises(ValueError, match="optimizer"):
        fit(ae, ae.loss, digits[0].x, FitConfig(optimizer="adagrad"))
    with pytest.raises(ValueError, match="learning rate"):
        fit(ae, ae.loss, digits[0].x, FitConfig(lr=-1))


def test_stop_check_interrupts_training(digits):
    ae = Autoencoder(64, 16)

    class Stop(Exception):
        pass

    def stop():
        raise Stop

    with pytest.raises(Stop):
        fit(ae, ae.loss, digits[0].x, FitConfig(epochs=3), callbacks=Callbacks(check_stop=stop))


@pytest.mark.parametrize("scheme, phases", [("L", {"layerwise"}), ("J", {"joint"}),
                                            ("U", {"layerwise", "joint-unregularised"}),
                                            ("UJ", {"layerwise", "joint"})])
def test_every_scheme_records_input_space_errors_each_epoch(digits, scheme, phases):
    torch.manual_seed(0)
    model = DeepAutoencoder([64, 32, 16], noise=("gaussian", 0.1))
    history = train_scheme(scheme, model, digits[0].x, FitConfig(epochs=2, lr=1e-2), x_test=digits[2].x,
                           generator=torch.Generator().manual_seed(0))
    assert {h["phase"] for h in history} == phases
    assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))
    assert all("train_reconstruction_input" in h and "test_reconstruction_input" in h for h in history)
    assert len(history) == {"L": 4, "J": 2, "U": 6, "UJ": 6}[scheme]


def test_layerwise_training_leaves_lower_layers_alone(digits):
    torch.manual_seed(0)
    model = DeepAutoencoder([64, 32, 16])
    seen = {}

    def snap(epoch, metrics):
        if metrics["layer"] == 2:
            seen.setdefault("W1", model.layers[0].W.detach().clone())
    train_scheme("L", model, digits[0].x, FitConfig(epochs=1, lr=1e-2), callbacks=Callbacks(on_epoch=snap))
    assert torch.equal(seen["W1"], model.layers[0].W.detach())


def test_unknown_scheme_is_refused(digits):
    with pytest.raises(ValueError, match="scheme"):
        train_scheme("X", DeepAutoencoder([64, 8]), digits[0].x, FitConfig())


def test_finetuning_stops_early_and_reports_test_error(digits):
    train, valid, test = digits
    torch.manual_seed(0)
    model = DeepAutoencoder([64, 32])
    classifier, out = finetune(model, train, valid, test, FitConfig(epochs=30, lr=1e-2), patience=3)
    assert out["test_error_fraction"] < 0.3 and 1 <= out["epochs"] <= 30
    assert not torch.equal(classifier.encoder.layers[0].W, model.layers[0].W)


def test_checkpoint_of_another_shape_is_refused(tmp_path):
    save_checkpoint(tmp_path, Autoencoder(64, 16), {"n_hidden": 16})
    with pytest.raises(CheckpointError, match="W"):
        load_into(Autoencoder(64, 32), tmp_path)
    untied = Autoencoder(64, 16, tied=False)
    with pytest.raises(CheckpointError, match="missing W_prime"):
        load_into(untied, tmp_path)


def test_divergence_in_a_later_epoch_keeps_the_last_good_checkpoint(digits):
    ae = Autoencoder(64, 8)
    calls, saved = [0], []

    def loss(xb, generator=None):
        calls[0] += 1
        terms = ae.loss(xb, generator)
        if calls[0] > 12:  # the second epoch (12 batches per epoch) goes bad
            terms["total"] = terms["total"] * float("nan")
        return terms

    def checkpoint(epoch, state):
        saved.append((epoch, ae.W.detach().clone()))

    with pytest.raises(TrainingDiverged, match="epoch 2"):
        fit(ae, loss, digits[0].x, FitConfig(epochs=3, batch_size=100),
            callbacks=Callbacks(checkpoint=checkpoint))
    assert [e for e, _ in saved] == [1]
    assert torch.equal(ae.W.detach(), saved[0][1])
