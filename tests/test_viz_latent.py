"""Latent-space projections and scatter: PCA exactness, one trace per class, thumbnails."""

import numpy as np
import pytest

from aelab.viz.latent import embed_2d, latent_scatter, thumbnail


@pytest.fixture
def codes():
    rng = np.random.default_rng(0)
    # points spread along one direction mostly: PCA axis 1 must find it
    t = rng.normal(size=(60, 1)).astype(np.float32)
    direction = np.array([[3.0, 0.0, 4.0, 0.0]], np.float32) / 5
    return t * 10 * direction + 0.1 * rng.normal(size=(60, 4)).astype(np.float32)


def test_pca_first_axis_carries_the_largest_variance(codes):
    points = embed_2d(codes, "pca")
    assert points.shape == (60, 2) and points.dtype == np.float32
    var = points.var(axis=0)
    assert var[0] > 50 * var[1]
    np.testing.assert_allclose(points.mean(axis=0), 0, atol=1e-4)


def test_tsne_is_seeded_and_returns_two_columns(codes):
    a = embed_2d(codes, "tsne", seed=1)
    b = embed_2d(codes, "tsne", seed=1)
    assert a.shape == (60, 2)
    np.testing.assert_allclose(a, b)


def test_unknown_method_and_too_few_points_are_errors(codes):
    with pytest.raises(ValueError, match="unknown projection"):
        embed_2d(codes, "isomap")
    with pytest.raises(ValueError):
        embed_2d(codes[:2], "pca")


def test_scatter_has_one_trace_per_class_with_indices_for_hover():
    points = np.arange(12, dtype=np.float32).reshape(6, 2)
    labels = np.array([2, 0, 2, 1, 0, 2])
    fig = latent_scatter(points, labels, method="umap")
    assert [t.name for t in fig.data] == ["0", "1", "2"]
    assert list(fig.data[2].customdata) == [0, 2, 5]
    np.testing.assert_allclose(fig.data[2].x, points[[0, 2, 5], 0])
    assert "UMAP" in fig.layout.xaxis.title.text and "UMAP" in fig.layout.title.text
    assert fig.data[0].marker.color != fig.data[1].marker.color


def test_scatter_rejects_mismatched_inputs():
    with pytest.raises(ValueError):
        latent_scatter(np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError):
        latent_scatter(np.zeros((4, 2)), np.zeros(5))


def test_thumbnail_shows_the_image_upright_in_grey():
    image = np.random.default_rng(0).random((1, 8, 8)).astype(np.float32)
    fig = thumbnail(image, "class 3")
    np.testing.assert_allclose(np.asarray(fig.data[0].z), image[0])
    assert fig.layout.yaxis.autorange == "reversed"
    assert fig.layout.title.text == "class 3"
    assert thumbnail(None).data[0].z is not None
    with pytest.raises(ValueError):
        thumbnail(np.zeros((2, 3, 3)))
