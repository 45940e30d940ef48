"""The zhao-* experiments at tiny sizes from `reproduce`, their paper numbers, and their figures."""

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from aelab.experiments import get
from aelab.experiments.runner import read_result, reproduce
from aelab.experiments.zhao import TABLE5, translation_summary
from aelab.viz.results import figure_for_result
from aelab.viz.whatwhere import reconstruction_grid, translation_reconstructions, what_where_scatter

TINY = {
    "zhao-unpool": dict(n_train=64, n_test=32),
    "zhao-translation": dict(n_train=64, n_test=16),
    "zhao-semisup": dict(n_unlabelled=80, n_valid=50, n_test=50),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory, mnist_root):
    out = tmp_path_factory.mktemp("zhao")
    return {name: read_result(reproduce(name, scale="smoke", out=out, overrides=overrides, device="cpu"))
            for name, overrides in TINY.items()}


def test_every_experiment_has_three_presets_and_takes_only_mnist():
    for name in TINY:
        experiment = get(name)
        assert set(experiment.presets) >= {"smoke", "teach", "paper"}
        with pytest.raises(ValueError, match="not supported"):
            experiment.config("smoke", dataset="digits")


def test_paper_presets_use_the_papers_architectures():
    assert get("zhao-unpool").presets["paper"].convs == "(16)5c-(32)3c"
    assert get("zhao-unpool").presets["paper"].pool_sizes == (2, 4, 8, 16)
    assert get("zhao-translation").presets["paper"].spec == "(32)5c-(32)3c-2p-(32)3c-16p"
    assert get("zhao-translation").presets["paper"].beta == 100.0
    assert get("zhao-semisup").presets["paper"].spec == "(64)5c-2p-(64)3c-2p-(64)3c-2p-10fc"


def test_unpool_result_compares_both_decoders_per_pool_size(results):
    result, arrays = results["zhao-unpool"]
    sizes = [str(s) for s in result["config"]["pool_sizes"]]
    assert set(result["metrics"]["test_mse"]["unpool"]) == set(sizes)
    assert set(result["metrics"]["unpool_beats_upsample"]) == set(sizes)
    assert result["paper"]["unpool_beats_upsample_everywhere"] is True
    assert arrays["originals"].shape[1:] == (32, 32)
    assert isinstance(figure_for_result(result, arrays), go.Figure)


def test_translation_result_has_the_four_shifts_of_one_plane(results):
    result, arrays = results["zhao-translation"]
    m = result["metrics"]
    assert m["expected_where_shift"] == pytest.approx(0.2)
    for key in ("where_along_h+", "where_along_v-", "what_corr_h", "where_across_v"):
        assert np.isfinite(m[key])
    assert arrays["where_hplus"].shape == (16, 2) and arrays["what_vminus"].shape == (16,)
    fig = figure_for_result(result, arrays)
    assert len(fig.layout.annotations) == 4  # Fig. 3's four panels
    assert isinstance(translation_reconstructions(arrays), go.Figure)


def test_semisup_result_sits_beside_table_5(results):
    result, _ = results["zhao-semisup"]
    assert result["paper"]["test_error_percent"] == TABLE5["swwae_dropout"][100]
    assert result["paper"]["baseline_test_error_percent"] == TABLE5["convnet"][100]
    assert 0 <= result["metrics"]["test_error_percent"] <= 100
    assert 0 <= result["metrics"]["baseline_test_error_percent"] <= 100


def test_bad_semisup_options_fail_before_training(mnist_root):
    experiment = get("zhao-semisup")
    ctx_run = experiment.run
    from aelab.experiments.base import RunContext

    with pytest.raises(ValueError, match="multiple of the 10 classes"):
        ctx_run(experiment.config("smoke", n_labels=105), RunContext())
    with pytest.raises(ValueError, match="variant"):
        ctx_run(experiment.config("smoke", variant="ladder"), RunContext())


def test_translation_summary_reads_an_ideal_equivariant_response():
    gen = torch.Generator().manual_seed(0)
    what0, where0 = torch.rand(50, generator=gen) + 1, torch.rand(50, 2, generator=gen) - 0.5
    step = torch.tensor([0.2, 0.0])
    shifted = {"h+": (what0, where0 + step), "h-": (what0, where0 - step),
               "v+": (what0, where0 + step.flip(0)), "v-": (what0, where0 - step.flip(0))}
    s = translation_summary(what0, where0, shifted)
    assert s["where_along_h+"] == pytest.approx(0.2) and s["where_along_v-"] == pytest.approx(-0.2)
    assert s["where_across_h"] == pytest.approx(0.0) and s["what_corr_v"] == pytest.approx(1.0)


def test_scatter_draws_circles_for_plus_and_triangles_for_minus():
    rng = np.random.default_rng(0)
    what0, where0 = rng.random(5), rng.random((5, 2))
    fig = what_where_scatter(what0, where0, {k: (what0, where0) for k in ("h+", "h-", "v+", "v-")})
    symbols = {t.marker.symbol for t in fig.data if t.mode == "markers"}
    assert symbols == {"circle", "triangle-up"}
    with pytest.raises(ValueError, match="missing"):
        what_where_scatter(what0, where0, {"h+": (what0, where0)})


def test_reconstruction_grid_stacks_rows_under_labels():
    fig = reconstruction_grid({"original": np.zeros((3, 8, 8)), "unpool": np.ones((3, 8, 8))})
    assert list(fig.layout.yaxis.ticktext) == ["original", "unpool"]
    with pytest.raises(ValueError):
        reconstruction_grid({})


@pytest.mark.parametrize("variant", ["unsup-sfx", "noL2M"])
def test_semisup_variants_run_and_carry_table_4(tmp_path, mnist_root, variant):
    folder = reproduce("zhao-semisup", scale="smoke", out=tmp_path, device="cpu",
                       overrides=dict(variant=variant, compare_baseline=False, n_unlabelled=60, n_valid=30, n_test=30))
    result, _ = read_result(folder)
    assert result["paper"]["valid_error_percent"] == {"unsup-sfx": 17.81, "noL2M": 12.41}[variant]
    assert "baseline_test_error_percent" not in result["metrics"]


def test_translation_needs_a_pool_covering_the_whole_map(mnist_root):
    experiment = get("zhao-translation")
    from aelab.experiments.base import RunContext

    with pytest.raises(ValueError, match="covers the whole map"):
        experiment.run(experiment.config("smoke", spec="(4)5c-(4)3c-2p"), RunContext())
