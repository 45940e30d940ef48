"""The fused dense step (aelab.train.fast) gives autograd's loss terms and gradients for every
configuration of the dense family, and the loop uses it for dense models."""

from __future__ import annotations

import itertools

import pytest
import torch

from aelab.models.dense import Autoencoder, DeepAutoencoder
from aelab.train.fast import FusedDenseStep, GraphedStep, fused_loss
from aelab.train.loop import Callbacks, FitConfig, fit

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


# --- the step captured in a CUDA graph -------------------------------------------------------------

class _Rerun:
    """A stand-in graph for machines without cuda: capture records the work, replay reruns it (on a
    GPU, `fast._CudaGraph` replays the captured kernels). Same static inputs, same bookkeeping."""

    replays_host_work = True

    def __init__(self, device, generator):
        self.captures = self.replays = 0

    def capture(self, work):
        self.work = work
        self.captures += 1

    def replay(self):
        self.replays += 1
        self.work()


# cuda runs the real graph where a GPU is present (the GPU check runs this file there); cpu the stand-in
GRAPH_DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _graph_run(device, graphed, optimizer, monkeypatch, model_kind="dae", epochs=3):
    if device == "cpu":
        monkeypatch.setitem(GraphedStep.BACKENDS, "cpu", _Rerun)
    made = []
    create = GraphedStep.create.__func__

    def spy(cls, *args):
        graph = create(cls, *args)
        made.append(graph)
        return graph

    monkeypatch.setattr(GraphedStep, "create", classmethod(spy))
    g = torch.Generator().manual_seed(0)
    if model_kind == "dae":
        model = Autoencoder(12, 6, noise="masking:0.25", contractive=0.05, generator=g)
    else:
        model = DeepAutoencoder([12, 8, 5], noise="salt-pepper:0.2", sparsity_kl=0.1, generator=g)
    model = model.to(device)
    x = torch.rand(330, 12, generator=torch.Generator().manual_seed(4)).to(device)  # 6 full batches + 30
    generator = torch.Generator(device).manual_seed(1)
    states = []
    history = fit(model, model.loss, x, FitConfig(epochs=epochs, batch_size=50, lr=1e-2, optimizer=optimizer,
                                                  momentum=0.5 if optimizer == "sgd" else 0.0, cuda_graph=graphed),
                  generator=generator, callbacks=Callbacks(checkpoint=lambda epoch, s: states.append(s.optimizer)))
    return model, history, made, states, generator.get_state()


@pytest.mark.parametrize("device", GRAPH_DEVICES)
@pytest.mark.parametrize("optimizer, model_kind", [("rmsprop", "dae"), ("sgd", "dae"), ("adam", "dae"),
                                                   ("rmsprop", "deep")])
def test_the_graphed_step_trains_exactly_like_the_eager_one(device, optimizer, model_kind, monkeypatch):
    graphed, graphed_history, made, graphed_states, graphed_rng = _graph_run(device, True, optimizer, monkeypatch,
                                                                           model_kind)
    eager, eager_history, _, eager_states, eager_rng = _graph_run(device, False, optimizer, monkeypatch, model_kind)
    graph = made[0]
    assert graph is not None and graph.size == 50
    if device == "cpu":  # warm-up steps eagerly, one capture, then every full batch replayed
        assert graph.backend.captures == 1
        assert graph.backend.replays == 3 * 6 - GraphedStep.WARMUP
    for (name, p), q in zip(graphed.named_parameters(), eager.parameters()):
        assert torch.allclose(p, q, rtol=1e-4, atol=1e-5), name
    for a, b in zip(graphed_history, eager_history):
        for key in a:
            if key.startswith("train_") and key != "train_seconds":
                assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), key
    assert torch.equal(graphed_rng, eager_rng)  # the noise drew as much from the generator
    for a, b in zip(graphed_states, eager_states):  # optimizer states (step counts too) saved alike
        for pa, pb in zip(a["state"].values(), b["state"].values()):
            for key in pa:
                assert torch.allclose(pa[key].float(), pb[key].float(), rtol=1e-4, atol=1e-6), key


def test_no_graph_without_a_fused_step_or_on_request(monkeypatch):

    monkeypatch.setitem(GraphedStep.BACKENDS, "cpu", _Rerun)
    model = Autoencoder(12, 6)
    params = list(model.parameters())
    rms = torch.optim.RMSprop(params, lr=1e-3)
    assert GraphedStep.create(model.loss, rms, None, torch.device("cpu")) is None  # not a fused step
    assert GraphedStep.create(fused_loss(model), rms, None, torch.device("cpu")) is None  # unfused optimizer
    monkeypatch.delitem(GraphedStep.BACKENDS, "cpu")
    from aelab.train.fast import FusedRMSprop
    assert GraphedStep.create(fused_loss(model), FusedRMSprop(params), None, torch.device("cpu")) is None


@pytest.mark.parametrize("device", GRAPH_DEVICES)
@pytest.mark.parametrize("optimizer", ["rmsprop", "adam"])
def test_a_graphed_run_resumed_from_its_checkpoint_ends_like_the_whole_run(device, optimizer, monkeypatch):
    import copy


    if device == "cpu":
        monkeypatch.setitem(GraphedStep.BACKENDS, "cpu", _Rerun)
    x = torch.rand(330, 12, generator=torch.Generator().manual_seed(4)).to(device)
    config = FitConfig(epochs=3, batch_size=50, lr=1e-2, optimizer=optimizer)

    def start():
        return Autoencoder(12, 6, noise="masking:0.25", generator=torch.Generator().manual_seed(0)).to(device)

    whole, saved = start(), {}

    def keep(epoch, state):
        if epoch == 1:
            saved["state"], saved["weights"] = copy.deepcopy(state), copy.deepcopy(whole.state_dict())

    whole_history = fit(whole, whole.loss, x, config, generator=torch.Generator(device).manual_seed(1),
                        callbacks=Callbacks(checkpoint=keep))
    resumed = start()
    resumed.load_state_dict(saved["weights"])
    history = fit(resumed, resumed.loss, x, config, generator=torch.Generator(device).manual_seed(99),
                  resume=saved["state"])  # the generator's state comes from the checkpoint
    for p, q in zip(whole.parameters(), resumed.parameters()):
        assert torch.allclose(p, q, rtol=1e-5, atol=1e-6)
    assert [h["train_loss"] for h in history] == pytest.approx([h["train_loss"] for h in whole_history], rel=1e-5)
