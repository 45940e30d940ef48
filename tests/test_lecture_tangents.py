"""`lecture-tangents`: the closed-form encoder Jacobian equals autograd's, the toy score is the
gradient of the toy log-density, translation is exact at whole pixels, and the experiment runs
and draws every view of its dashboard at smoke size."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from aelab.experiments import get
from aelab.experiments.base import RunContext
from aelab.experiments.lecture_tangents import translate
from aelab.measure.jacobian import autograd_jacobian, encoder_jacobian, score_field, singular_spectrum
from aelab.models.registry import build_model
from aelab.viz import figure_for_result
from aelab.viz.tangents import caveat, jacobian_spectra, score_comparison, tangent_directions, translation_manifold


@pytest.mark.parametrize("name,fields", [("ae", {}), ("dae", {}), ("cae", {}),
                                          ("cae", {"encoder": "tanh", "tied": False}),
                                          ("cae", {"encoder": "linear", "tied": False})])
def test_encoder_jacobian_matches_autograd(name, fields):
    model = build_model(name, n_visible=10, n_hidden=6, generator=torch.Generator().manual_seed(0), **fields)
    x = torch.rand(5, 10, generator=torch.Generator().manual_seed(1))
    closed, auto = encoder_jacobian(model, x), autograd_jacobian(model, x)
    assert closed.shape == (5, 6, 10)
    assert torch.allclose(closed, auto, atol=1e-6)
    # ||J||_F^2 is the CAE's contraction term
    with torch.no_grad():
        assert torch.allclose(closed.pow(2).sum((1, 2)), model.contraction(model.encode(x)), rtol=1e-5)
    s, v = singular_spectrum(closed)
    assert s.shape == (5, 6) and np.all(np.diff(s, axis=1) <= 1e-6) and v.shape == (5, 6, 10)


def test_score_is_the_gradient_of_the_log_density():
    points = np.array([[0.1, 0.3], [-0.7, -0.2], [1.0, 1.2]])
    grad, log_p = score_field(points, 0.2)
    h = 1e-5
    for axis in range(2):
        step = np.zeros(2)
        step[axis] = h
        numeric = (score_field(points + step, 0.2)[1] - score_field(points - step, 0.2)[1]) / (2 * h)
        assert np.allclose(grad[:, axis], numeric, rtol=1e-4, atol=1e-4)


def test_translation_by_whole_pixels_moves_the_image():
    image = torch.zeros(8, 8)
    image[3:5, 2:4] = 1.0
    moved = translate(image, np.array([0.0, 2.0, -1.0]))
    assert torch.allclose(moved[0], image, atol=1e-6)
    assert torch.allclose(moved[1], torch.roll(image, 2, dims=1), atol=1e-6)
    assert torch.allclose(moved[2], torch.roll(image, -1, dims=1), atol=1e-6)


def test_lecture_tangents_runs_and_draws_every_view():
    experiment = get("lecture-tangents")
    assert set(experiment.presets) >= {"smoke", "teach", "paper"}
    config = experiment.presets["smoke"]
    result = experiment.run(config, RunContext(seed=0))
    m, a = result.metrics, result.arrays
    json.dumps(m), json.dumps(result.paper)
    # the caveat's rescaling is exact for the untied CAE with a linear encoder
    assert m["untied_rescaling_keeps_reconstruction"] and m["untied_rescaling_penalty_falls_as_eps_squared"]
    assert 0 < m["translation_variance_in_two_components"] <= 1
    assert a["vectors_cae"].shape == (config.top_k, 8, 8)
    record = {"experiment": "lecture-tangents", "config": dataclasses.asdict(config), "metrics": m,
              "paper": result.paper}
    assert len(figure_for_result(record, a).data) == 3
    assert len(translation_manifold(a).data) == 3
    assert len(jacobian_spectra(a).data) == 3
    assert len(tangent_directions(a).data) == 1
    assert len(score_comparison(a, m, config.toy_sigma).data) == 6
    assert len(caveat(a).data) == 6


def test_vertical_translation_moves_the_image_down_and_its_tangent_follows():
    image = torch.zeros(8, 8)
    image[3:5, 2:4] = 1.0
    moved = translate(image, np.array([0.0, 2.0, -1.0]), vertical=True)
    assert torch.allclose(moved[0], image, atol=1e-6)
    assert torch.allclose(moved[1], torch.roll(image, 2, dims=0), atol=1e-6)
    assert torch.allclose(moved[2], torch.roll(image, -1, dims=0), atol=1e-6)
    # the manifold's tangent at the digit, (shift(+d) - shift(-d)) / 2d with bilinear shifts, is the central
    # difference of the image across rows (vertical) or across columns (sideways), zero-padded
    from aelab.experiments.lecture_tangents import translation_manifold

    image = torch.rand(10, 10, generator=torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(image, (1, 1, 1, 1))
    across_rows = (padded[:-2, 1:-1] - padded[2:, 1:-1]) / 2
    across_columns = (padded[1:-1, :-2] - padded[1:-1, 2:]) / 2
    config = get("lecture-tangents").config("smoke")
    down = translation_manifold(image, dataclasses.replace(config, vertical=True))["tangent"].reshape(10, 10)
    side = translation_manifold(image, config)["tangent"].reshape(10, 10)
    assert np.allclose(down, across_rows.numpy(), atol=1e-5)
    assert np.allclose(side, across_columns.numpy(), atol=1e-5)
