"""Probes, filter measures and the AE-vs-PCA subspace comparison."""

import numpy as np
import pytest
import torch

from aelab.measure.filters import filter_stats, filters
from aelab.measure.probes import error_interval, linear_svm_probe
from aelab.measure.subspace import pca_basis, pca_reconstruction_error, principal_angles
from aelab.models.dense import Autoencoder


def test_error_interval_is_the_papers_formula():
    # Zhou et al. print 1.48 +- 0.24 on MNIST's 10,000 test images
    assert error_interval(0.0148, 10000) * 100 == pytest.approx(0.24, abs=0.005)
    assert error_interval(0.0, 100) == 0.0
    with pytest.raises(ValueError):
        error_interval(1.5, 10)


def test_svm_probe_picks_c_on_validation_and_separates_separable_codes():
    rng = np.random.default_rng(0)
    def blobs(n):
        y = rng.integers(0, 2, n)
        return rng.normal(size=(n, 5)) + 4 * y[:, None], y
    (a, ya), (b, yb), (c, yc) = blobs(200), blobs(100), blobs(300)
    out = linear_svm_probe(torch.tensor(a), ya, b, yb, c, yc, Cs=(0.01, 1.0))
    assert out.test_error_fraction < 0.05 and out.C in (0.01, 1.0) and out.n_test == 300
    assert out.interval_fraction == pytest.approx(error_interval(out.test_error_fraction, 300))
    assert out.percent()["test_error_percent"] == pytest.approx(100 * out.test_error_fraction)


def test_filters_are_rows_of_w_as_images():
    ae = Autoencoder(64, 5)
    images = filters(ae)
    assert images.shape == (5, 8, 8)
    assert np.allclose(images[2].ravel(), ae.W[2].detach().numpy())
    with pytest.raises(ValueError, match="square"):
        filters(np.zeros((3, 10)))


def test_filter_stats_tell_local_filters_from_noise():
    rng = np.random.default_rng(0)
    noise = rng.uniform(-1, 1, size=(50, 28, 28))
    local = np.zeros((50, 28, 28))
    local[:, 12:15, 12:15] = 1.0
    s_noise, s_local = filter_stats(noise, initial=noise), filter_stats(local, initial=noise)
    assert s_noise["near_uniform_share"] == 1.0 and s_local["near_uniform_share"] == 0.0
    assert s_local["concentration"] > 0.9 > 0.35 > s_noise["concentration"]
    assert s_local["spread"] < 2 < s_noise["spread"]
    assert s_noise["change"] == pytest.approx(0.0, abs=1e-9) and s_local["change"] > 0.5


def test_principal_angles_of_a_subspace_with_itself_and_an_orthogonal_one():
    basis = np.eye(6)[:, :2]
    assert np.allclose(principal_angles(basis @ np.array([[1, 2], [3, 4]]), basis), 0, atol=1e-6)
    assert np.allclose(principal_angles(np.eye(6)[:, 2:4], basis), 90)
    with pytest.raises(ValueError, match="different spaces"):
        principal_angles(np.eye(5)[:, :2], basis)


def test_pca_basis_finds_the_plane_of_planar_data():
    rng = np.random.default_rng(1)
    plane = rng.normal(size=(500, 2)) @ np.array([[1, 0, 0, 0], [0, 1, 0, 0]]) * [3, 2, 0, 0]
    basis, mean = pca_basis(plane + 5, 2)
    assert np.allclose(principal_angles(basis, np.eye(4)[:, :2]), 0, atol=1e-6)
    assert pca_reconstruction_error(plane, 2) == pytest.approx(0, abs=1e-9)
    with pytest.raises(ValueError):
        pca_basis(plane, 9)
