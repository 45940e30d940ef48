"""The training procedure of Zhang et al. section 4.1 on tiny random data, through the one loop."""

from __future__ import annotations

import pytest
import torch

from aelab.models.augmented import vgg_classifier
from aelab.train.augmented import (LrSearch, ProcedureConfig, augment, error_rate, pretrain_layerwise, step_config,
                                   train_classifier, train_decoders)
from aelab.train.loop import Callbacks, TrainingDiverged, fit

SHAPE = (1, 8, 8)


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(48, *SHAPE, generator=g)
    y = (x.mean((1, 2, 3)) > x.mean()).long()  # a learnable label
    return x, y


@pytest.fixture
def classifier():
    return vgg_classifier("(4)3c-2p-(4)3c-2p-8fc-2fc", 8, generator=torch.Generator().manual_seed(0))


def _snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_fit_lowers_the_loss_with_shuffled_index_batches(data, classifier):
    x, y = data
    heard = []
    history = train_classifier(classifier, x, y, step_config(epochs=4, batch_size=32, lr=3e-2, optimizer="adam"),
                               generator=torch.Generator().manual_seed(0),
                               callbacks=Callbacks(progress=lambda *args: heard.append(args)))
    assert len(history) == 4 and history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[0]["train_classification"] == history[0]["train_loss"]
    assert heard[-1] == (8, 8, "classifier")  # 2 batches an epoch, 4 epochs
    assert 0.0 <= error_rate(classifier, x, y) <= 100.0


def test_step_2_trains_layerwise_decoders_with_the_classifier_fixed(data, classifier):
    x, _ = data
    before = _snapshot(classifier)
    net = pretrain_layerwise(classifier, SHAPE, x, "known", step_config(epochs=1, batch_size=16, lr=1e-2))
    untrained = pretrain_layerwise(classifier, SHAPE, x, "known", step_config(epochs=0))
    encoder_before = torch.cat([p.flatten() for p in untrained.classifier_parameters()])
    encoder_after = torch.cat([p.flatten() for p in net.classifier_parameters()])
    assert torch.equal(encoder_before, encoder_after)
    assert not torch.equal(net.decoders[0].deconvs[0].weight, untrained.decoders[0].deconvs[0].weight) or \
        not torch.equal(net.decoders[1].deconvs[0].weight, untrained.decoders[1].deconvs[0].weight)
    assert all(torch.equal(before[k], v) for k, v in classifier.state_dict().items())


@pytest.mark.parametrize("variant", ["first", "all", "layerwise"])
def test_steps_1_to_4_fine_tune_a_copy_and_leave_the_classifier_untouched(data, classifier, variant):
    x, y = data
    before = _snapshot(classifier)
    procedure = ProcedureConfig(layerwise=step_config(1, 16, 1e-2, "adam"), stacked=step_config(1, 16, 1e-2, "adam"),
                                finetune=step_config(1, 16, 1e-2), lam=0.1)
    net = augment(classifier, SHAPE, x, y, variant=variant, switches="fixed", procedure=procedure,
                  generator=torch.Generator().manual_seed(0))
    assert net.variant == variant and net.lam == 0.1
    assert all(torch.equal(before[k], v) for k, v in classifier.state_dict().items())
    changed = [not torch.equal(a, before[k]) for k, a in zip(before, [p for p in net.classifier_parameters()])]
    assert any(changed), "step 4 must update the classification pathway"


def test_a_layerwise_network_with_other_switches_is_refused(data, classifier):
    x, y = data
    layerwise = pretrain_layerwise(classifier, SHAPE, x, "known", step_config(epochs=0))
    with pytest.raises(ValueError, match="known switches, not fixed"):
        augment(classifier, SHAPE, x, y, variant="all", switches="fixed", procedure=ProcedureConfig(),
                layerwise=layerwise)


def test_bad_step_settings_are_refused_before_training(data, classifier):
    with pytest.raises(ValueError, match="optimizer"):
        step_config(optimizer="lbfgs")
    with pytest.raises(ValueError, match="batch_size"):
        step_config(batch_size=0)
    with pytest.raises(ValueError, match="no training examples"):
        fit(classifier, lambda a, generator=None: {"total": a.sum()}, torch.zeros(0, *SHAPE), step_config())


def test_step_config_keeps_the_papers_sgd_with_momentum():
    config = step_config()
    assert (config.optimizer, config.momentum, config.batch_size, config.lr) == ("sgd", 0.9, 64, 0.01)
    assert step_config(optimizer="adam").momentum == 0.0
    assert ProcedureConfig().finetune.optimizer == "sgd" and ProcedureConfig().layerwise.optimizer == "sgd"


def test_decoders_train_on_named_terms_with_the_classifier_frozen(data, classifier):
    from aelab.models.augmented import AugmentedNetwork

    x, _ = data
    net = AugmentedNetwork(classifier, SHAPE, variant="all", invert_fc=True,
                           generator=torch.Generator().manual_seed(0))
    history = train_decoders(net, x, step_config(epochs=2, batch_size=16, lr=1e-2, optimizer="adam"),
                             generator=torch.Generator().manual_seed(0))
    assert len(history) == 2
    assert {"train_reconstruction", "train_reconstruction_0", "train_reconstruction_1",
            "train_reconstruction_fc1", "train_reconstruction_fc2"} <= set(history[0])
    assert all(p.requires_grad for p in net.classifier_parameters())  # unfrozen again afterwards
    assert all(torch.equal(a, b) for a, b in zip(net.classifier_parameters(),
                                                 AugmentedNetwork(classifier, SHAPE).classifier_parameters()))


def test_every_step_of_the_procedure_defaults_to_sgd_with_momentum():
    procedure = ProcedureConfig()
    for config in (procedure.layerwise, procedure.stacked, procedure.finetune):
        assert (config.optimizer, config.momentum) == ("sgd", 0.9)
    assert (procedure.layerwise.batch_size, procedure.finetune.batch_size) == (16, 64)  # section 4.1


def test_the_learning_rate_search_keeps_the_best_trial_and_puts_the_weights_back(data, classifier):
    x, _ = data
    net = pretrain_layerwise(classifier, SHAPE, x, "known", step_config(epochs=0))
    before = _snapshot(net)
    search = LrSearch((1e-5, 0.3, 1e7), batches=4, seed=1)
    config = search.pick(net, step_config(epochs=3, batch_size=8, lr=1e-3), x,
                         lambda cfg, xs, gen: train_decoders(net, xs, cfg, generator=gen), "step 2")
    assert config.lr == 0.3 and (config.epochs, config.batch_size, config.momentum) == (3, 8, 0.9)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # every trial undone
    losses = search.chosen["step 2"]["trial_loss"]
    assert losses["1e+07"] is None and losses["0.3"] < losses["1e-05"]
    with pytest.raises(TrainingDiverged, match="every learning rate tried diverged"):
        LrSearch((1e7, 1e8), batches=4).pick(net, config, x, lambda cfg, xs, gen: train_decoders(net, xs, cfg), "s")
    # through the procedure: steps 2 and 3 choose, step 4 keeps its own rate
    procedure = ProcedureConfig(layerwise=step_config(1, 8, 1e-3), stacked=step_config(1, 8, 1e-3),
                                finetune=step_config(1, 8, 1e-3), search=LrSearch((1e-5, 0.3), batches=4))
    y = (x.mean((1, 2, 3)) > x.mean()).long()
    augment(classifier, SHAPE, x, y, variant="all", switches="fixed", procedure=procedure,
            generator=torch.Generator().manual_seed(0))
    assert sorted(procedure.search.chosen) == ["step 2: layer-wise decoders (fixed switches)",
                                               "step 3: all decoders (fixed)"]


def test_the_searchs_trials_are_kept_in_the_runs_journal(tmp_path, data, classifier):
    """A run stopped after its learning-rate search does not repeat the trials when started again."""
    from aelab.train.checkpoints import Journal
    from aelab.train.loop import Callbacks

    x, _ = data

    def run():
        net = pretrain_layerwise(classifier, SHAPE, x, "known", step_config(epochs=0),
                                 generator=torch.Generator().manual_seed(0))
        journal, search = Journal(tmp_path, every_seconds=0), LrSearch((1e-5, 0.3), batches=4, seed=1)
        history = train_decoders(net, x, step_config(epochs=2, batch_size=8, lr=1e-3),
                                 generator=torch.Generator().manual_seed(1), search=search,
                                 callbacks=Callbacks(journal=journal.scoped("step 2")))
        return journal, search, history, net

    journal, search, history, net = run()
    assert journal.restored == 0 and search.chosen["decoders"]["lr"] == 0.3
    again, search2, history2, net2 = run()
    assert again.restored == 3  # both trials and the step itself: nothing trained again
    assert search2.chosen == search.chosen
    assert [h["train_loss"] for h in history2] == [h["train_loss"] for h in history]
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), net2.state_dict().values()))
