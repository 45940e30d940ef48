"""The fused dense step (aelab.train.fast) gives autograd's loss terms and gradients for every
configuration of the dense family, and the loop uses it for dense models."""

from __future__ import annotations

import itertools

import pytest
import torch

from aelab.models.dense import Autoencoder, DeepAutoencoder
from aelab.train.fast import FusedDenseStep, fused_loss
from aelab.train.loop import FitConfig, fit

X = torch.rand(7, 12, generator=torch.Generator().manual_seed(0))


def _compare(model, regularised=True):
    kw = {} if isinstance(model, Autoencoder) else {"regularised": regularised}
    expected = model.loss(X, torch.Generator().manual_seed(3), **kw)
    model.zero_grad(set_to_none=True)
    expected["total"].backward()
    reference = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    got = FusedDenseStep(model, regularised)(X, torch.Generator().manual_seed(3))
    assert set(got) == set(expected)
    for key in expected:
        assert torch.allclose(got[key], expected[key].detach(), rtol=1e-4, atol=1e-6), key
    for name, p in model.named_parameters():
        assert torch.allclose(p.grad, reference[name], rtol=1e-4, atol=1e-6), name


UNITS = [("sigmoid", "cross-entropy"), ("sigmoid", "squared"), ("linear", "squared"), ("tanh", "squared")]
REGULARISERS = [{}, {"contractive": 0.3}, {"sparsity_l1": 0.1}, {"l2": 0.01}]


@pytest.mark.parametrize("tied, encoder, noise", list(itertools.product(
    [True, False], ["sigmoid", "tanh", "relu", "linear"], [None, "masking:0.3", "gaussian:0.2", "salt-pepper:0.2"])))
def test_one_layer_fused_gradients_equal_autograd(tied, encoder, noise):
    for (decoder, loss), extra in itertools.product(UNITS, REGULARISERS):
        torch.manual_seed(1)
        _compare(Autoencoder(12, 5, tied=tied, encoder=encoder, decoder=decoder, loss=loss, noise=noise, **extra))


def test_kl_sparsity_fused_gradients_equal_autograd():
    _compare(Autoencoder(12, 5, sparsity_kl=0.2, generator=torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("tied, noise, regularised", list(itertools.product(
    [True, False], [None, "masking:0.3", "gaussian:0.2"], [True, False])))
def test_deep_joint_fused_gradients_equal_autograd(tied, noise, regularised):
    for extra in ({}, {"contractive": 0.2}, {"sparsity_kl": 0.1}):
        g = torch.Generator().manual_seed(2)
        _compare(DeepAutoencoder([12, 6, 4], tied=tied, noise=noise, generator=g, **extra), regularised)
    _compare(DeepAutoencoder([12, 6, 4, 3], tied=tied, noise=noise, encoder="tanh", contractive=0.1,
                             generator=torch.Generator().manual_seed(2)), regularised)


def test_the_loop_uses_the_fused_step_and_trains_like_autograd():
    assert fused_loss(torch.nn.Linear(2, 2)) is None
    x = torch.rand(300, 12, generator=torch.Generator().manual_seed(4))
    runs = []
    for fused in (True, False):
        model = Autoencoder(12, 6, noise="masking:0.25", contractive=0.05, generator=torch.Generator().manual_seed(0))
        history = fit(model, model.loss, x, FitConfig(epochs=3, batch_size=50, lr=1e-2, fused=fused),
                      generator=torch.Generator().manual_seed(1))
        runs.append((model, history))
    (fast, fast_history), (slow, slow_history) = runs
    assert torch.allclose(fast.W, slow.W, atol=1e-5)
    for a, b in zip(fast_history, slow_history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)


@pytest.mark.parametrize("weight_decay", [0.0, 1e-3])
def test_fused_rmsprop_steps_like_torch_rmsprop(weight_decay):
    from aelab.train.fast import FusedRMSprop

    g = torch.Generator().manual_seed(0)
    shapes = [(30, 20), (30,), (20,)]
    a = [torch.randn(s, generator=g, requires_grad=True) for s in shapes]
    b = [p.detach().clone().requires_grad_() for p in a]
    reference = torch.optim.RMSprop(a, lr=1e-2, alpha=0.9, weight_decay=weight_decay)
    fused = FusedRMSprop(b, lr=1e-2, alpha=0.9, weight_decay=weight_decay)
    for step in range(25):
        grads = [torch.randn(s, generator=g) for s in shapes]
        for p, q, grad in zip(a, b, grads):
            p.grad, q.grad = grad.clone(), grad.clone()
        if step == 7:  # a tensor without a gradient this step is left alone and keeps its own count
            a[1].grad = b[1].grad = None
        reference.step()
        fused.step()
        for p, q in zip(a, b):
            assert torch.allclose(p, q, rtol=1e-5, atol=1e-6), step
    for p, q in zip(a, b):
        assert torch.allclose(reference.state[p]["square_avg"], fused.state[q]["square_avg"], rtol=1e-5, atol=1e-7)
    saved = fused.state_dict()["state"]  # the step counts are written into the state when it is read
    for k, p in enumerate(a):
        assert float(reference.state[p]["step"]) == float(saved[k]["step"])
    # the state moves between the two (checkpoints of either resume in the other)
    again = FusedRMSprop(b, lr=1e-2, alpha=0.9, weight_decay=weight_decay)
    again.load_state_dict(reference.state_dict())
    for p, q in zip(a, b):
        grad = torch.randn(p.shape, generator=g)
        p.grad, q.grad = grad.clone(), grad.clone()
    reference.step()
    again.step()
    for p, q in zip(a, b):
        assert torch.allclose(p, q, rtol=1e-5, atol=1e-6)


def test_the_loop_uses_fused_updates_and_falls_back_without_them():
    from aelab.train.fast import FusedRMSprop
    from aelab.train.loop import make_optimizer

    params = [torch.nn.Parameter(torch.zeros(3))]
    assert isinstance(make_optimizer(params, FitConfig(optimizer="rmsprop")), FusedRMSprop)
    assert type(make_optimizer(params, FitConfig(optimizer="rmsprop", momentum=0.9))) is torch.optim.RMSprop
    assert type(make_optimizer(params, FitConfig(optimizer="rmsprop", fused=False))) is torch.optim.RMSprop
    assert make_optimizer(params, FitConfig(optimizer="sgd")).defaults["fused"] is True
    assert not make_optimizer(params, FitConfig(optimizer="adam", fused=False)).defaults["fused"]
