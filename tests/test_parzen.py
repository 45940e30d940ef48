"""Parzen-window log-likelihood: exactness against the published algorithm, the closed
form of one Gaussian, float32 cancellation, chunking, sigma selection and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from aelab import data
from aelab.measure import parzen


@pytest.fixture(scope="module")
def mnist_pair(mnist_root):
    """600 noisy MNIST training images as samples, 120 test images as points (784-d)."""
    g = torch.Generator().manual_seed(0)
    train = data.load("mnist", "train", root=mnist_root).x[:600].reshape(600, -1)
    test = data.load("mnist", "test", root=mnist_root).x[:120].reshape(120, -1)
    samples = (train + 0.05 * torch.randn(train.shape, generator=g)).clamp(0, 1)
    return samples, test


@pytest.mark.parametrize("sigma", [0.1, 0.17, 0.4, 1.0])
def test_matches_the_published_explicit_difference_algorithm_to_1e_3_nats_on_mnist(mnist_pair, sigma):
    samples, test = mnist_pair
    reference = parzen.reference_log_likelihood(samples.double().numpy(), test.double().numpy(), sigma)
    got = parzen.log_likelihood(samples, test, sigma, batch_size=37)  # float32 inputs, odd chunking
    assert got.dtype == torch.float64 and got.shape == (120,)
    assert np.abs(got.numpy() - reference).max() < 1e-3


def test_plain_float32_expansion_would_miss_1e_3_nats_so_the_test_above_has_teeth(mnist_pair):
    samples, test = mnist_pair
    sigma = 0.1
    d = (test ** 2).sum(1)[:, None] - 2 * test @ samples.T + (samples ** 2).sum(1)[None]
    naive = torch.logsumexp(-d.clamp(min=0) / (2 * sigma ** 2), 1) - math.log(len(samples)) \
        - test.shape[1] * math.log(sigma * math.sqrt(2 * math.pi))
    reference = parzen.reference_log_likelihood(samples.double().numpy(), test.double().numpy(), sigma)
    assert np.abs(naive.double().numpy() - reference).max() > 1e-3


def test_a_large_common_offset_does_not_cancel_away_the_accuracy():
    g = torch.Generator().manual_seed(1)
    samples = torch.rand(200, 50, generator=g)
    points = torch.rand(30, 50, generator=g)
    far_samples, far_points = samples + 1000.0, points + 1000.0  # float32, as a model hands them over
    shifted = parzen.log_likelihood(far_samples, far_points, 0.2)
    reference = parzen.reference_log_likelihood(far_samples.double().numpy(), far_points.double().numpy(), 0.2)
    assert np.abs(shifted.numpy() - reference).max() < 1e-3


def test_single_centre_gives_the_closed_form_gaussian_log_density():
    g = torch.Generator().manual_seed(2)
    mu = torch.randn(1, 20, generator=g, dtype=torch.float64)
    x = torch.randn(15, 20, generator=g, dtype=torch.float64) + mu
    sigma = 0.7
    closed = -((x - mu) ** 2).sum(1) / (2 * sigma ** 2) - 20 * math.log(sigma * math.sqrt(2 * math.pi))
    assert torch.allclose(parzen.log_likelihood(mu, x, sigma), closed, atol=1e-9, rtol=0)
    expected = multivariate_normal(mu[0].numpy(), sigma ** 2 * np.eye(20)).logpdf(x.numpy())
    assert np.allclose(parzen.log_likelihood(mu, x, sigma).numpy(), expected, atol=1e-8)


def test_duplicated_samples_give_the_same_density_as_one():
    mu = torch.rand(1, 10, dtype=torch.float64)
    x = torch.rand(5, 10, dtype=torch.float64)
    one = parzen.log_likelihood(mu, x, 0.3)
    many = parzen.log_likelihood(mu.repeat(40, 1), x, 0.3)  # more copies than `refine`
    assert torch.allclose(one, many, atol=1e-9)


def test_far_points_stay_finite_rather_than_underflowing_to_minus_inf():
    mu = torch.zeros(5, 784)
    x = torch.ones(3, 784) * 50.0
    ll = parzen.log_likelihood(mu, x, 0.1)
    assert torch.isfinite(ll).all()
    expected = -784 * 2500 / (2 * 0.01) - 784 * math.log(0.1 * math.sqrt(2 * math.pi))
    assert torch.allclose(ll, torch.full((3,), expected, dtype=torch.float64), rtol=1e-9)


def test_chunk_size_does_not_change_the_result(mnist_pair):
    samples, test = mnist_pair
    a = parzen.log_likelihood(samples, test, 0.2, batch_size=7)
    b = parzen.log_likelihood(samples, test, 0.2)
    assert torch.allclose(a, b, atol=1e-9, rtol=0)


def test_grid_rows_equal_single_sigma_calls(mnist_pair):
    samples, test = mnist_pair
    grid = parzen.log_likelihood_grid(samples, test[:20], [0.1, 0.5])
    assert torch.allclose(grid[1], parzen.log_likelihood(samples, test[:20], 0.5), atol=1e-12)


def test_select_sigma_picks_the_best_validation_mean_and_evaluate_reports_mean_and_stderr():
    g = torch.Generator().manual_seed(3)
    centres = torch.randn(300, 5, generator=g, dtype=torch.float64) * 0.3
    valid = torch.randn(200, 5, generator=g, dtype=torch.float64) * 0.3
    test = torch.randn(100, 5, generator=g, dtype=torch.float64) * 0.3
    sigmas = np.logspace(-2, 1, 7)
    choice = parzen.select_sigma(centres, valid, sigmas)
    assert choice.sigma == pytest.approx(sigmas[int(np.argmax(choice.means))])
    assert 0.01 < choice.sigma < 10  # an interior optimum: neither too rigid nor too flat
    est = parzen.evaluate(centres, test, valid, sigmas)
    ll = parzen.log_likelihood(centres, test, choice.sigma).numpy()
    assert est.mean == pytest.approx(ll.mean())
    assert est.stderr == pytest.approx(ll.std(ddof=1) / math.sqrt(len(ll)))
    assert est.sigma == choice.sigma and est.n_samples == 300 and est.n_points == 100


def test_default_sigma_grid_is_the_papers_logspace():
    assert np.allclose(parzen.PAPER_SIGMAS, np.logspace(-1, 0, 10))


def test_accepts_numpy_images_and_flattens_them():
    mu = np.random.default_rng(0).random((7, 1, 4, 4)).astype(np.float32)
    ll = parzen.log_likelihood(mu, mu[:3], 0.5)
    assert ll.shape == (3,)


@pytest.mark.parametrize("samples, points, sigma, message", [
    (torch.zeros(0, 4), torch.zeros(3, 4), 0.5, "samples is empty"),
    (torch.zeros(3, 4), torch.zeros(0, 4), 0.5, "data is empty"),
    (torch.zeros(3, 4), torch.zeros(3, 5), 0.5, "dimensions"),
    (torch.zeros(3, 4), torch.zeros(3, 4), 0.0, "sigma"),
    (torch.zeros(3, 4), torch.zeros(3, 4), -1.0, "sigma"),
    (torch.zeros(3, 4), torch.zeros(3, 4), float("nan"), "sigma"),
    (torch.tensor([[0.0, float("nan")]]), torch.zeros(3, 2), 0.5, "non-finite"),
    (torch.tensor([[0.0, float("inf")]]), torch.zeros(3, 2), 0.5, "non-finite"),
])
def test_bad_input_raises_a_clear_value_error(samples, points, sigma, message):
    with pytest.raises(ValueError, match=message):
        parzen.log_likelihood(samples, points, sigma)


def test_select_sigma_rejects_an_empty_or_nonpositive_grid():
    with pytest.raises(ValueError, match="sigma"):
        parzen.select_sigma(torch.zeros(3, 2), torch.zeros(3, 2), [])
    with pytest.raises(ValueError, match="sigma"):
        parzen.select_sigma(torch.zeros(3, 2), torch.zeros(3, 2), [0.1, -0.1])
