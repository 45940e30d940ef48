"""The 2-D toy reconstruction field: grid, arrows from x to r(x), fixed trace count."""

import numpy as np
import pytest

from aelab.viz.toy import grid_2d, mean_arrow_length, reconstruction_field


def test_grid_covers_the_bounds():
    g = grid_2d((-1, 1, 0, 2), n=5)
    assert g.shape == (25, 2)
    assert g[:, 0].min() == -1 and g[:, 0].max() == 1 and g[:, 1].min() == 0 and g[:, 1].max() == 2


def test_arrows_start_at_the_grid_and_end_at_the_reconstruction():
    grid = grid_2d((-1, 1, -1, 1), n=3)
    recon = grid * 0.5  # pulls every point halfway to the origin
    fig = reconstruction_field(np.zeros((4, 2)), grid, recon)
    assert len(fig.data) == 3
    arrows = fig.data[2]
    xs, ys = np.asarray(arrows.x, float), np.asarray(arrows.y, float)
    # six entries per arrow: start, end, head, end, head, gap
    assert xs.size == 6 * len(grid)
    np.testing.assert_allclose(np.stack([xs[0::6], ys[0::6]], 1), grid)
    np.testing.assert_allclose(np.stack([xs[1::6], ys[1::6]], 1), recon)
    assert np.isnan(xs[5::6]).all()


def test_arrow_scale_stretches_the_drawn_arrows_only():
    grid = grid_2d((-1, 1, -1, 1), n=3)
    recon = grid * 0.9
    fig = reconstruction_field(np.zeros((4, 2)), grid, recon, arrow_scale=3.0)
    ends = np.stack([np.asarray(fig.data[2].x, float)[1::6], np.asarray(fig.data[2].y, float)[1::6]], 1)
    np.testing.assert_allclose(ends, grid + 3.0 * (recon - grid), rtol=1e-5, atol=1e-6)
    assert "×3" in fig.data[2].name
    assert mean_arrow_length(grid, recon) == pytest.approx(np.linalg.norm(0.1 * grid, axis=1).mean())


def test_data_and_reconstructions_are_drawn_and_axes_are_labelled():
    data = np.array([[0.0, 1.0], [1.0, 0.0]])
    fig = reconstruction_field(data, grid_2d((-1, 1, -1, 1), 3), grid_2d((-1, 1, -1, 1), 3), data_reconstructed=data)
    np.testing.assert_allclose(fig.data[0].x, data[:, 0])
    np.testing.assert_allclose(fig.data[1].y, data[:, 1])
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text and fig.layout.title.text


def test_mismatched_shapes_are_errors():
    with pytest.raises(ValueError):
        reconstruction_field(np.zeros((3, 3)), np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError):
        reconstruction_field(np.zeros((3, 2)), np.zeros((4, 2)), np.zeros((5, 2)))
