"""Semantic hashing (lecture slides "Semantic hashing", "Binarization of representation"):
Hamming retrieval against a brute-force reference, the baselines, the experiment end to end."""

import dataclasses
import json

import numpy as np
import pytest

from aelab.experiments import RunContext, get
from aelab.measure.hashing import (hamming_distances, hamming_ranking, lsh_codes, pca_sign_codes,
                                   retrieval_scores)
from aelab.viz import figure_for_result
from aelab.viz.sparse_codes import activation_histograms, ball_figure


def brute_force(q, ql, db, dl, ks, radii):
    """One query at a time, in plain Python: distances, ranking, precision@k, AP, Hamming balls."""
    out = {f"precision_at_{k}": [] for k in ks}
    out["mean_average_precision"] = []
    for r in radii:
        out[f"ball_{r}_precision"], out[f"ball_{r}_recall"], out[f"ball_{r}_nonempty"] = [], [], []
    for code, label in zip(q, ql):
        dist = [sum(int(a != b) for a, b in zip(code, other)) for other in db]
        order = sorted(range(len(db)), key=lambda j: (dist[j], j))
        rel = [dl[j] == label for j in order]
        for k in ks:
            out[f"precision_at_{k}"].append(sum(rel[:k]) / k)
        hits, ap = 0, 0.0
        for rank, good in enumerate(rel, 1):
            if good:
                hits += 1
                ap += hits / rank
        out["mean_average_precision"].append(ap / hits if hits else 0.0)
        for r in radii:
            ball = [j for j in range(len(db)) if dist[j] <= r]
            good = sum(dl[j] == label for j in ball)
            out[f"ball_{r}_precision"].append(good / len(ball) if ball else 0.0)
            out[f"ball_{r}_recall"].append(good / max(1, sum(d == label for d in dl)))
            out[f"ball_{r}_nonempty"].append(float(bool(ball)))
    return {k: float(np.mean(v)) for k, v in out.items()}


def test_hamming_retrieval_matches_a_brute_force_reference():
    rng = np.random.default_rng(0)
    db, q = rng.integers(0, 2, (60, 7)).astype(np.uint8), rng.integers(0, 2, (12, 7)).astype(np.uint8)
    dl, ql = rng.integers(0, 3, 60), rng.integers(0, 3, 12)
    dist = hamming_distances(q, db)
    assert dist.tolist() == [[int((a != b).sum()) for b in db] for a in q]
    ranking = hamming_ranking(q, db)
    assert ranking.tolist() == [sorted(range(60), key=lambda j: (dist[i, j], j)) for i in range(12)]
    ours = retrieval_scores(q, ql, db, dl, ks=(1, 5, 20), radii=(0, 1, 3))
    ref = brute_force(q, ql, db, dl, (1, 5, 20), (0, 1, 3))
    assert ours.keys() == ref.keys()
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key
    with pytest.raises(ValueError, match="bits"):
        hamming_distances(q, db[:, :3])


def test_baselines_give_codes_of_the_asked_length():
    rng = np.random.default_rng(1)
    train, test = rng.random((40, 9)), rng.random((5, 9))
    for make in (lambda: lsh_codes(train, test, 4, seed=0), lambda: pca_sign_codes(train, test, 4)):
        a, b = make()
        assert a.shape == (40, 4) and b.shape == (5, 4) and set(np.unique(a)) <= {0, 1}
    # PCA + sign: the first bit splits the training set along its first principal direction
    a, _ = pca_sign_codes(train, test, 1)
    assert 0 < a.mean() < 1


def test_hashing_experiment_runs_at_smoke_size_and_draws():
    experiment = get("lecture-hashing")
    config = experiment.config("smoke")
    result = experiment.run(config, RunContext(seed=0))
    json.dumps(result.metrics), json.dumps(result.paper)
    assert set(result.metrics["autoencoder"]) == {"8_bits", "16_bits"}
    assert 0 <= result.metrics["lsh"]["16_bits"]["mean_average_precision"] <= 1
    assert result.arrays["histograms"].shape == (2, config.histogram_bins)
    assert np.allclose(result.arrays["histograms"].sum(1), 1)
    record = {"experiment": experiment.name, "config": dataclasses.asdict(config), "metrics": result.metrics,
              "paper": result.paper}
    assert len(figure_for_result(record, result.arrays).data) == 6
    assert len(activation_histograms(record, result.arrays).data) == 2
    assert len(ball_figure(record).data) == 6


def test_scores_over_query_chunks_are_those_of_all_queries_at_once():
    """The full tier scores 10000 queries against 50000 codes in chunks of queries (a 10000 x 50000
    ranking would not fit in memory): every score is a mean over queries, so the chunks' weighted
    means must be the whole set's."""
    from aelab.experiments.lecture_hashing import _scores

    rng = np.random.default_rng(2)
    db, q = rng.integers(0, 2, (80, 6)).astype(np.uint8), rng.integers(0, 2, (23, 6)).astype(np.uint8)
    dl, ql = rng.integers(0, 4, 80), rng.integers(0, 4, 23)
    config = get("lecture-hashing").config("smoke", ks=(1, 5), radii=(0, 2))
    whole = retrieval_scores(q, ql, db, dl, ks=(1, 5), radii=(0, 2))
    for chunk in (1, 5, 23, 100):  # uneven chunks, one chunk, fewer queries than a chunk
        chunked = _scores(q, ql, db, dl, config, chunk=chunk)
        assert chunked.keys() == whole.keys()
        for key in whole:
            assert chunked[key] == pytest.approx(whole[key], abs=1e-12), (chunk, key)
