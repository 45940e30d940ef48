"""The VAE (`aelab.models.vae`) and `lecture-vae`: the KL term is the closed form, the
importance-weighted bound lies above the ELBO and grows with k, and the experiment runs and
draws every view of its dashboard at smoke size."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from aelab.experiments import get
from aelab.experiments.base import RunContext
from aelab.experiments.lecture_stochastic import kmeans, latent_grid
from aelab.models.registry import build_model
from aelab.models.vae import kl_standard_normal
from aelab.viz import figure_for_result
from aelab.viz.stochastic import latent_map, likelihoods, sample_sets


def small_vae(seed: int = 0, n_latent: int = 3):
    return build_model("vae", n_visible=12, n_hidden=8, n_latent=n_latent, generator=torch.Generator().manual_seed(seed))


def binary(n: int = 300, d: int = 12, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.rand(n, d, generator=g), generator=g)


def test_kl_term_is_the_closed_form():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(50, 4, generator=g), torch.randn(50, 4, generator=g)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1)
    assert torch.allclose(kl_standard_normal(mu, logvar), expected, atol=1e-5)
    # and a Monte Carlo estimate E_q[log q(z) - log p(z)] agrees within its error
    q = Normal(mu[0], (0.5 * logvar[0]).exp())
    z = q.sample((200_000,))
    mc = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum(1)
    assert abs(float(mc.mean()) - float(expected[0])) < 4 * float(mc.std()) / math.sqrt(len(mc)) + 1e-3
    # the model's loss uses it for its own posterior
    model, x = small_vae(), binary(20)
    terms = model.loss(x, generator=torch.Generator().manual_seed(3))
    m, lv = model.posterior(x)
    expected = kl_divergence(Normal(m, (0.5 * lv).exp()), Normal(0.0, 1.0)).sum(1).mean()
    assert torch.allclose(terms["kl"], expected, atol=1e-5)
    assert torch.allclose(terms["total"], terms["reconstruction"] + terms["kl"])


@torch.no_grad()
def test_iwae_bound_is_above_the_elbo_and_grows_with_k():
    model, x = small_vae(), binary(400)
    g = torch.Generator().manual_seed(5)
    bounds = {k: float(torch.stack([model.iwae_bound(x, k, g) for _ in range(5)]).mean()) for k in (1, 5, 50, 200)}
    elbo = model.evaluate(x, k=1, generator=g)["elbo"]
    assert bounds[1] == bounds[1] and abs(bounds[1] - elbo) < 0.5  # L_1 is the ELBO (another estimate of it)
    assert bounds[1] < bounds[5] < bounds[50] < bounds[200]
    assert model.evaluate(x, k=100, generator=g)["iwae"] >= elbo


def test_vae_trains_and_samples():
    model, x = small_vae(), binary(200)
    before = float(model.loss(x, generator=torch.Generator().manual_seed(0))["total"].detach())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(100):
        optimizer.zero_grad()
        model.loss(x, generator=torch.Generator().manual_seed(step))["total"].backward()
        optimizer.step()
    assert float(model.loss(x, generator=torch.Generator().manual_seed(0))["total"].detach()) < before
    samples = model.sample(7, torch.Generator().manual_seed(0))
    assert samples.shape == (7, 12) and bool(((samples > 0) & (samples < 1)).all())


def test_helpers():
    grid = latent_grid(5)
    assert grid.shape == (25, 2) and grid[0, 0] < 0 < grid[0, 1]  # top-left: low z1, high z2
    x = torch.cat([torch.zeros(10, 3), torch.ones(10, 3) * 5])
    centres = kmeans(x, 2, 5, torch.Generator().manual_seed(0))
    assert sorted(centres[:, 0].tolist()) == [0.0, 5.0]


def test_lecture_vae_runs_and_draws_every_view():
    experiment = get("lecture-vae")
    assert set(experiment.presets) >= {"smoke", "teach", "paper"} and experiment.presets["teach"].iwae_k >= 100
    config = experiment.presets["smoke"]
    result = experiment.run(config, RunContext(seed=0))
    m = result.metrics
    json.dumps(m), json.dumps(result.paper)
    assert m["test_iwae_log_likelihood"] >= m["test_elbo"] and m["iwae_above_elbo"]
    for name in ("vae", "gsn", "real", "kmeans"):
        assert np.isfinite(m[f"parzen_{name}"])
        assert result.arrays[f"samples_{name}"].shape[1:] == (8, 8)
    record = {"experiment": "lecture-vae", "config": dataclasses.asdict(config), "metrics": m, "paper": result.paper}
    assert len(figure_for_result(record, result.arrays).data) == 2
    assert len(sample_sets(result.arrays, m).data) == 1
    assert len(latent_map(result.arrays).data) == 2
    assert len(likelihoods(m).data) == 2


def test_real_images_may_come_from_the_validation_split_so_the_models_use_every_training_image():
    from aelab.data import images

    experiment = get("lecture-vae")
    config = experiment.config("smoke", real_split="valid")
    result = experiment.run(config, RunContext(seed=0))
    # the real set: the validation images after the n_valid that choose the Parzen window's sigma
    valid, _ = images(config.dataset, "valid", config.n_valid + config.n_samples)
    shown = len(result.arrays["samples_real"])
    assert np.array_equal(result.arrays["samples_real"], valid[config.n_valid:config.n_valid + shown, 0].numpy())
    # the 2-D VAE of the latent map is kept for the dashboard
    assert set(result.models) == {"vae-2d"} and result.models["vae-2d"].config.n_latent == 2
    with pytest.raises(ValueError, match="real_split"):
        experiment.run(experiment.config("smoke", real_split="test"), RunContext(seed=0))
    with pytest.raises(ValueError, match="validation images"):  # digits: 300 validation images
        experiment.run(experiment.config("smoke", real_split="valid", n_samples=250), RunContext(seed=0))
    # the full and paper presets train on all 50000 MNIST training images and fit the validation split
    for scale in ("full", "paper"):
        preset = experiment.presets[scale]
        assert (preset.n_train, preset.real_split) == (50000, "valid") and preset.n_valid + preset.n_samples <= 10000
