"""Sparse coding and PSD (lecture slides "Sparse coding" and "Non-linear analogue"): the batched
FISTA solver against scikit-learn's Lasso, the alternation's dictionary step, both experiments
end to end at tiny size with their figures."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from aelab.experiments import RunContext, get
from aelab.models.registry import build_model, check_terms
from aelab.models.sparse_coding import lasso_fista, objective
from aelab.train.dictionary import learn_dictionary, least_squares_dictionary
from aelab.viz import figure_for_result
from aelab.viz.sparse_codes import comparison_figure


def test_fista_matches_sklearn_lasso_on_a_small_problem():
    from sklearn.linear_model import Lasso

    rng = np.random.default_rng(0)
    d, k, n, lam = 20, 8, 5, 0.7
    D = rng.standard_normal((k, d))
    codes = rng.standard_normal((n, k)) * (rng.random((n, k)) < 0.4)
    X = codes @ D + 0.1 * rng.standard_normal((n, d))
    W, _ = lasso_fista(torch.from_numpy(X), torch.from_numpy(D), lam, n_iter=20000, tol=1e-13)
    for i in range(n):
        # ours: ||x - D^T w||^2 + lam ||w||_1; sklearn: ||x - D^T w||^2 / (2 d) + alpha ||w||_1, so alpha = lam / (2 d)
        ref = Lasso(alpha=lam / (2 * d), fit_intercept=False, tol=1e-12, max_iter=100000).fit(D.T, X[i]).coef_
        assert np.max(np.abs(W[i].numpy() - ref)) < 1e-4
    assert (W == 0).any()  # the L1 term does produce exact zeros here


def test_fista_with_prediction_term_solves_its_own_problem():
    g = torch.Generator().manual_seed(0)
    D = torch.randn(6, 10, generator=g, dtype=torch.float64)
    X = torch.randn(3, 10, generator=g, dtype=torch.float64)
    p = torch.randn(3, 6, generator=g, dtype=torch.float64)
    W, _ = lasso_fista(X, D, 0.5, n_iter=5000, tol=1e-14, gamma=2.0, prior=p)

    def f(w):
        return float(((X - w @ D) ** 2).sum() + 0.5 * w.abs().sum() + 2.0 * ((w - p) ** 2).sum())

    for _ in range(20):  # no small move improves the optimum
        assert f(W) <= f(W + 1e-3 * torch.randn(W.shape, generator=g, dtype=torch.float64)) + 1e-12
    with pytest.raises(ValueError, match="prediction"):
        lasso_fista(X, D, 0.5, gamma=1.0)


def test_dictionary_step_keeps_atoms_in_the_unit_ball_and_never_raises_the_objective():
    g = torch.Generator().manual_seed(1)
    X = torch.rand(60, 16, generator=g, dtype=torch.float64)
    D = torch.randn(5, 16, generator=g, dtype=torch.float64)
    D = D / D.norm(dim=1, keepdim=True)
    W, _ = lasso_fista(X, D, 0.3, n_iter=500)
    new = least_squares_dictionary(X, W, D)
    assert float(new.norm(dim=1).max()) <= 1 + 1e-9
    assert objective(X, W, new, 0.3) <= objective(X, W, D, 0.3) + 1e-12
    W[:, 2] = 0  # an unused atom keeps its value
    assert torch.equal(least_squares_dictionary(X, W, D)[2], D[2])


def test_alternation_objective_never_grows():
    g = torch.Generator().manual_seed(2)
    X = torch.rand(80, 25, generator=g)
    model = build_model("sparse-coding", n_visible=25, n_hidden=6, lam=0.2, generator=g)
    W, history = learn_dictionary(model, X, 6)
    values = [h["objective"] for h in history]
    assert all(b <= a + 1e-4 for a, b in zip(values, values[1:]))
    assert W.shape == (80, 6) and 0 < history[-1]["zero_share"] < 1
    terms = model.loss(X)
    check_terms(terms)
    assert float(terms["total"].detach()) == pytest.approx(objective(X, model.encode(X), model.D.detach(), 0.2), rel=1e-3)


@pytest.mark.parametrize("name", ["lecture-sparse-coding", "lecture-psd"])
def test_experiment_runs_at_smoke_size_and_draws(name):
    experiment = get(name)
    config = experiment.config("smoke")
    result = experiment.run(config, RunContext(seed=0))
    json.dumps(result.metrics), json.dumps(result.paper)
    record = {"experiment": name, "config": dataclasses.asdict(config), "metrics": result.metrics,
              "paper": result.paper}
    assert len(figure_for_result(record, result.arrays).data) >= 3
    if name == "lecture-sparse-coding":
        assert result.metrics["objective_decreases"]
        assert {"ours", "sklearn_minibatch"} <= set(result.metrics)
        assert result.metrics["sklearn_minibatch"]["seconds"] > 0
        assert result.arrays["atoms"].shape == (16, 8, 8)
        assert len(comparison_figure(record).data) == 2
    else:
        assert result.metrics["encoder_faster_than_solver"]
        assert 0 <= result.metrics["support_recall"] <= 1


def test_patches_are_cut_from_the_digits():
    experiment = get("lecture-sparse-coding")
    config = experiment.config("smoke", patches=True, n_train=50, iterations=2, sklearn=())
    result = experiment.run(config, RunContext(seed=0))
    assert result.arrays["atoms"].shape == (16, 4, 4)
    with pytest.raises(ValueError, match="scikit-learn"):
        experiment.run(experiment.config("smoke", sklearn=("nope",)), RunContext())
