"""The lecture's demonstrations behind the tour and latent dashboards: the field measures,
the nearest-neighbour error, and the tour's recipes built through the model registry."""

import numpy as np
import pytest
import torch

from aelab.experiments import RunContext, get
from aelab.experiments.lecture_demos import TOUR_MODELS, tour_model_config
from aelab.measure.field import line_residual, mean_arrow_length, pull_towards_data
from aelab.measure.neighbours import nearest_neighbour_error
from aelab.models.registry import build_model


def test_pull_towards_data_is_one_for_arrows_at_the_data_and_minus_one_away():
    data = np.zeros((1, 2))
    grid = np.array([[1.0, 0.0], [0.0, 2.0], [0.01, 0.0]])  # the last is too near the data to count
    assert pull_towards_data(grid, grid * 0.5, data) == pytest.approx(1.0)
    assert pull_towards_data(grid, grid * 1.5, data) == pytest.approx(-1.0)
    assert np.isnan(pull_towards_data(grid, grid, data))  # no arrow anywhere
    assert mean_arrow_length(grid, grid * 0.5) == pytest.approx(np.mean([0.5, 1.0, 0.005]))


def test_line_residual_is_zero_on_a_line_only():
    t = np.linspace(-1, 1, 20)
    assert line_residual(np.stack([t, 2 * t + 1], 1)) < 1e-12
    assert line_residual(np.stack([t, t ** 2], 1)) > 0.1


def test_nearest_neighbour_error_counts_points_whose_neighbour_has_another_label():
    points = np.array([[0.0], [0.1], [5.0], [5.1], [10.0]])
    assert nearest_neighbour_error(points, [0, 0, 1, 1, 1]) == pytest.approx(0.0)
    assert nearest_neighbour_error(points, [0, 1, 1, 1, 0]) == pytest.approx(3 / 5)
    with pytest.raises(ValueError, match="labels"):
        nearest_neighbour_error(points, [0, 1])


@pytest.mark.parametrize("model", TOUR_MODELS)
def test_every_tour_model_is_a_registry_config(model):
    config = get("lecture-tour").config("smoke", model=model, strength=0.4, hidden=8)
    built = build_model(tour_model_config(config))
    assert built.reconstruct(torch.zeros(3, 2)).shape == (3, 2)
    assert build_model(built.config).config == built.config


def test_tour_linear_model_projects_on_a_line_and_denoising_pulls_towards_the_curve():
    experiment = get("lecture-tour")
    linear = experiment.run(experiment.config("smoke", model="undercomplete linear (PCA)"), RunContext())
    assert linear.metrics["reconstructions_on_a_line"] and linear.paper == {"reconstructions_on_a_line": True}
    denoising = experiment.run(experiment.config("smoke", model="denoising"), RunContext())
    assert denoising.metrics["arrows_point_towards_data"] and denoising.metrics["pull_towards_data"] > 0.5
    with pytest.raises(ValueError, match="unknown tour model"):
        experiment.run(experiment.config("smoke", model="nope"), RunContext())


def test_latent_run_keeps_its_dae_for_the_dashboard(tmp_path):
    """The latent-space dashboard's model ships with the result: models/dae/ (weights stored as
    float16), rebuilt by `load_model` from its files alone, giving the codes the run drew (to float16
    precision)."""
    from aelab.experiments.runner import read_result, reproduce
    from aelab.models.registry import load_model

    folder = reproduce("lecture-latent", scale="smoke", out=tmp_path, device="cpu")
    record, arrays = read_result(folder)
    assert record["models"] == ["dae"]
    model = load_model(folder / "models" / "dae")
    assert model.registered_name == "dae" and model.config.n_hidden == 16
    images = torch.from_numpy(arrays["images"]).reshape(len(arrays["images"]), -1)
    with torch.no_grad():
        codes = model.encode(images).numpy()
    assert np.allclose(codes, arrays["codes"], atol=2e-2)
