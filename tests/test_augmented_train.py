"""The training procedure of Zhang et al. section 4.1 on tiny random data."""

from __future__ import annotations

import pytest
import torch

from aelab.models.augmented import vgg_classifier
from aelab.train.augmented import (ProcedureConfig, StepConfig, augment, error_rate, fit, pretrain_layerwise,
                                   train_classifier)

SHAPE = (1, 8, 8)


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(48, *SHAPE, generator=g)
    y = (x.mean((1, 2, 3)) > x.mean()).long()  # a learnable label
    return x, y


@pytest.fixture
def classifier():
    torch.manual_seed(0)
    return vgg_classifier("(4)3c-2p-(4)3c-2p-8fc-2fc", 8)


def _snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_fit_lowers_the_loss_with_shuffled_index_batches(data, classifier):
    x, y = data
    losses = train_classifier(classifier, x, y, StepConfig(epochs=4, batch_size=32, lr=3e-2, optimizer="adam"),
                              generator=torch.Generator().manual_seed(0))
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert 0.0 <= error_rate(classifier, x, y) <= 100.0


def test_step_2_trains_layerwise_decoders_with_the_classifier_fixed(data, classifier):
    x, _ = data
    before = _snapshot(classifier)
    net = pretrain_layerwise(classifier, SHAPE, x, "known", StepConfig(epochs=1, batch_size=16, lr=1e-2))
    untrained = pretrain_layerwise(classifier, SHAPE, x, "known", StepConfig(epochs=0))
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
    procedure = ProcedureConfig(layerwise=StepConfig(1, 16, 1e-2, "adam"), stacked=StepConfig(1, 16, 1e-2, "adam"),
                                finetune=StepConfig(1, 16, 1e-2), lam=0.1)
    net = augment(classifier, SHAPE, x, y, variant=variant, switches="fixed", procedure=procedure,
                  generator=torch.Generator().manual_seed(0))
    assert net.variant == variant and net.lam == 0.1
    assert all(torch.equal(before[k], v) for k, v in classifier.state_dict().items())
    changed = [not torch.equal(a, before[k]) for k, a in zip(before, [p for p in net.classifier_parameters()])]
    assert any(changed), "step 4 must update the classification pathway"


def test_a_layerwise_network_with_other_switches_is_refused(data, classifier):
    x, y = data
    layerwise = pretrain_layerwise(classifier, SHAPE, x, "known", StepConfig(epochs=0))
    with pytest.raises(ValueError, match="known switches, not fixed"):
        augment(classifier, SHAPE, x, y, variant="all", switches="fixed", procedure=ProcedureConfig(),
                layerwise=layerwise)


def test_bad_step_settings_are_refused_before_training(data, classifier):
    with pytest.raises(ValueError, match="optimizer"):
        StepConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="batch_size"):
        StepConfig(batch_size=0)
    with pytest.raises(ValueError, match="no training examples"):
        fit(classifier.parameters(), lambda a, b: a.sum(), torch.zeros(0, *SHAPE), None, StepConfig())
