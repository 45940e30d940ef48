"""`lecture-pretraining`: supervised layer-wise pretraining trains each layer's encoder (and
nothing else), the hybrid loss with alpha = 0 is exactly the cross-entropy, and the experiment
runs at smoke size with one Isomap point per (network, epoch) and draws every view."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import torch
import torch.nn.functional as F

from aelab.experiments import get
from aelab.experiments.base import RunContext
from aelab.experiments.lecture_pretraining import ARMS, PretrainingConfig, build_network, hybrid_loss, \
    supervised_pretrain
from aelab.train.finetune import EncoderClassifier
from aelab.train.loop import FitConfig
from aelab.viz import figure_for_result
from aelab.viz.pretraining import error_curves, error_distribution, function_space


def _toy(n=120, d=20, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    centres = torch.rand(classes, d, generator=g)
    x = (centres[y] + 0.1 * torch.randn(n, d, generator=g)).clamp(0, 1)
    return x, y


def test_supervised_pretraining_trains_every_layer_encoder_only():
    x, y = _toy()
    model = build_network(x.shape[1], PretrainingConfig(hidden=(8, 6)), seed=0)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    history = supervised_pretrain(model, x, y, FitConfig(epochs=2, batch_size=20, optimizer="adam", lr=1e-2), 3,
                                  generator=torch.Generator().manual_seed(1))
    assert len(history) == 4  # 2 epochs per layer, 2 layers
    after = model.state_dict()
    for k in ("layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b"):
        assert not torch.equal(before[k], after[k]), f"{k} was not trained"
    for k in ("layers.0.b_prime", "layers.1.b_prime"):  # decoders are not part of supervised pretraining
        assert torch.equal(before[k], after[k])


def test_hybrid_loss_alpha_zero_is_the_cross_entropy_and_alpha_adds_reconstruction():
    x, y = _toy()
    model = build_network(x.shape[1], PretrainingConfig(hidden=(8, 6)), seed=0)
    classifier = EncoderClassifier(model, 3)
    torch.nn.init.normal_(classifier.output.weight, generator=torch.Generator().manual_seed(2))
    plain = F.cross_entropy(classifier(x), y)
    zero = hybrid_loss(classifier, 0.0)(x, y)
    assert torch.equal(zero["total"], plain) and set(zero) == {"classification", "total"}
    half = hybrid_loss(classifier, 0.5)(x, y)
    layer = model.layers[0]
    rec = layer.reconstruction_loss(x, layer.decode_preactivation(layer.encode(x))).mean()
    assert torch.allclose(half["reconstruction"], rec)
    assert torch.allclose(half["total"], plain + 0.5 * rec)
    # the generative term reaches the first layer's weights
    half["total"].backward()
    assert classifier.encoder.layers[0].b_prime.grad is not None
    assert classifier.encoder.layers[0].b_prime.grad.abs().sum() > 0


def test_lecture_pretraining_runs_and_draws_every_view():
    experiment = get("lecture-pretraining")
    assert set(experiment.presets) >= {"smoke", "teach", "paper"}
    config = experiment.presets["smoke"]
    result = experiment.run(config, RunContext(seed=0))
    m, a = result.metrics, result.arrays
    json.dumps(m), json.dumps(result.paper)
    s, e = config.n_seeds, config.epochs
    assert a["test_errors_percent"].shape == (len(ARMS), s)
    assert a["test_error_curves_percent"].shape == (len(ARMS), s, e)
    assert np.all((a["test_errors_percent"] >= 0) & (a["test_errors_percent"] <= 100))
    # one Isomap point per (network, epoch), each (arm, seed, epoch) once
    assert a["embedding"].shape == (len(ARMS) * s * e, 2) and np.all(np.isfinite(a["embedding"]))
    keys = set(zip(a["embedding_arm"].tolist(), a["embedding_seed"].tolist(), a["embedding_epoch"].tolist()))
    assert keys == {(i, j, k) for i in range(len(ARMS)) for j in range(s) for k in range(1, e + 1)}
    assert m["function_space_dimension"] == config.n_trajectory * 10
    for arm in ARMS:
        assert m[f"{arm}_test_error_mean_percent"] == np.mean(m[f"{arm}_test_errors_percent"])
        assert m[f"{arm}_test_error_std_percent"] >= 0
    assert isinstance(m["pretraining_lowers_mean"], bool) and isinstance(m["pretraining_lowers_spread"], bool)
    record = {"experiment": "lecture-pretraining", "config": dataclasses.asdict(config), "metrics": m,
              "paper": result.paper}
    assert len(figure_for_result(record, a).data) == len(ARMS)
    assert len(error_distribution(a).data) == len(ARMS)
    assert len(function_space(a).data) == len(ARMS) * (s + 1)
    assert len(error_curves(a).data) == len(ARMS) * s
