"""Layer inversion (Zhang et al. section 4.2): decoders from every layer to the image,
fixed vs known switches, the cached lab classifier, the figures, both experiments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from aelab.experiments.runner import read_result, reproduce
from aelab.measure.inversion import invert_images, inversion_errors, squared_l2_per_image
from aelab.models.augmented import vgg_classifier
from aelab.train.augmented import step_config
from aelab.train.classifier import ClassifierConfig, classifier_cache_folder, pretrained_classifier
from aelab.train.inversion import train_inverters
from aelab.viz.inversion import inversion_grid, layer_errors
from aelab.viz.results import figure_for_result

TINY = "(2)3c-2p-(4)3c-2p-8fc-10fc"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AELAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_every_layer_gets_a_pathway_to_the_image_with_a_per_layer_error():
    torch.manual_seed(0)
    classifier = vgg_classifier(TINY, 8).eval()
    x = torch.rand(12, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    step = step_config(epochs=1, batch_size=12, lr=1e-2, optimizer="adam")
    inverters = train_inverters(classifier, (1, 8, 8), x, "known", step, step)
    assert list(inverters) == ["pool1", "pool2", "fc1", "fc2"]
    errors = inversion_errors(inverters, x[:6], batch_size=4)
    assert set(errors) == set(inverters) and all(v >= 0 for v in errors.values())
    first = inverters["pool1"]
    with torch.no_grad():
        manual = squared_l2_per_image(first.invert(x[:6], "pool1"), x[:6]).mean()
    assert errors["pool1"] == pytest.approx(float(manual), rel=1e-5)
    grid = invert_images(inverters, x[:3])
    assert grid.shape == (4, 3, 8, 8) and grid.min() >= 0 and grid.max() <= 1
    only = train_inverters(classifier, (1, 8, 8), x, "fixed", step, step_config(epochs=0), layers=["2"])
    assert list(only) == ["pool1"] and only["pool1"].switches == "fixed"
    with pytest.raises(ValueError, match="switches"):
        train_inverters(classifier, (1, 8, 8), x, "random", step, step)


def test_the_lab_classifier_is_trained_once_and_then_read_from_the_cache(cache):
    config = ClassifierConfig(spec=TINY, dataset="digits", size=8, n_train=32, epochs=1, batch_size=32)
    first, info = pretrained_classifier(config, "cpu")
    assert not info["cached"] and (cache / "models" / "classifiers" / config.key() / "weights.safetensors").exists()
    assert classifier_cache_folder(config) == cache / "models" / "classifiers" / config.key() == Path(info["folder"])
    again, info2 = pretrained_classifier(config, "cpu")
    assert info2["cached"]
    x = torch.rand(2, 1, 8, 8)
    assert torch.equal(first(x), again(x))
    other = ClassifierConfig(spec=TINY, dataset="digits", size=8, n_train=16, epochs=1, batch_size=32)
    assert other.key() != config.key()


def test_inversion_grid_puts_fixed_and_known_side_by_side_with_a_row_per_layer():
    images = np.random.default_rng(0).random((3, 8, 8))
    fixed, known = np.zeros((2, 3, 8, 8)), np.ones((2, 3, 8, 8))
    fig = inversion_grid(images, fixed, known, ["pool1", "fc1"])
    assert isinstance(fig, go.Figure) and len(fig.data) == 2
    assert fig.data[0].z.shape == (3 * 9 - 1, 3 * 9 - 1)  # input row + 2 layers, 3 images
    assert np.nanmax(fig.data[0].z[9:]) == 0 and np.nanmin(fig.data[1].z[9:]) == 1
    assert list(fig.layout.yaxis.ticktext) == ["input", "pool1", "fc1"]
    with pytest.raises(ValueError, match="layers x N x H x W"):
        inversion_grid(images, fixed[:1], known, ["pool1", "fc1"])
    assert len(layer_errors(["pool1", "fc1"], [2.0, 3.0], [1.0, 2.0]).data) == 2


def test_both_experiments_run_from_reproduce_and_draw_their_figures(tmp_path, cache):
    common = dict(spec=TINY, n_train=32, epochs=1, batch_size=16, n_test=8)
    folder = reproduce("zhang-inversion", scale="smoke", dataset="digits", out=tmp_path, device="cpu",
                       overrides=dict(common, n_decoder=16, n_show=2))
    result, arrays = read_result(folder)
    assert set(result["metrics"]["l2_known"]) == {"pool1", "pool2", "fc1", "fc2"}
    assert arrays["fixed"].shape == arrays["known"].shape == (4, 2, 32, 32)
    assert result["paper"]["known_better_at_every_pooled_layer"] is True
    assert 0 <= result["metrics"]["classifier_test_error_percent"] <= 100
    assert len(figure_for_result(result, arrays).data) == 4

    folder = reproduce("zhang-augment", scale="smoke", dataset="digits", out=tmp_path, device="cpu",
                       overrides=dict(common, n_augment=16, n_eval=8, variants="first,layerwise"))
    result, arrays = read_result(folder)
    metrics = result["metrics"]
    assert list(metrics["train_error_percent"]) == ["baseline", "SAE-first", "SAE-layerwise", "SWWAE-first",
                                                    "SWWAE-layerwise"]
    assert all(0 <= v <= 100 for v in metrics["test_error_percent"].values())
    assert result["paper"]["train_error_percent"]["SWWAE-first"] == 15.10
    assert json.dumps(result)  # plain JSON
    fig = figure_for_result(result, arrays)
    assert len(fig.data) == 4
    with pytest.raises(ValueError, match="unknown variant"):
        reproduce("zhang-augment", scale="smoke", out=tmp_path, device="cpu",
                  overrides=dict(common, variants="middle"))
