"""Retrieval with binary codes: Hamming distances, ranking, precision@k, mean average
precision and Hamming balls; the baselines random-projection LSH and PCA followed by sign.

Codes are N x bits arrays of 0/1. Ranking sorts the database by Hamming distance to the
query, ties broken by database index (a stable sort), and a database item is relevant when
it has the query's label. A Hamming ball of radius r returns every item within distance r;
an empty ball has precision 0 (Salakhutdinov & Hinton's convention).
"""

from __future__ import annotations

import numpy as np


def hamming_distances(queries: np.ndarray, database: np.ndarray) -> np.ndarray:
    """Q x N integer distances: bits where the codes differ."""
    q = np.asarray(queries, dtype=np.float32)
    d = np.asarray(database, dtype=np.float32)
    if q.ndim != 2 or d.ndim != 2 or q.shape[1] != d.shape[1]:
        raise ValueError(f"codes must be Q x bits and N x bits with the same bits, got {q.shape} and {d.shape}")
    return np.rint(q @ (1.0 - d).T + (1.0 - q) @ d.T).astype(np.int32)


def hamming_ranking(queries: np.ndarray, database: np.ndarray) -> np.ndarray:
    """Q x N database indices, nearest first (ties by index)."""
    return np.argsort(hamming_distances(queries, database), axis=1, kind="stable")


def retrieval_scores(queries: np.ndarray, query_labels: np.ndarray, database: np.ndarray,
                     database_labels: np.ndarray, ks: tuple[int, ...] = (10, 100),
                     radii: tuple[int, ...] = (0, 1, 2)) -> dict[str, float]:
    """precision@k for each k, mean average precision over the full ranking, and for each radius r
    the mean precision and recall of the Hamming ball and the share of queries whose ball is not empty."""
    distances = hamming_distances(queries, database)
    order = np.argsort(distances, axis=1, kind="stable")
    ql, dl = np.asarray(query_labels).reshape(-1), np.asarray(database_labels).reshape(-1)
    relevant = dl[order] == ql[:, None]  # Q x N, in ranked order
    out: dict[str, float] = {}
    for k in ks:
        out[f"precision_at_{k}"] = float(relevant[:, :k].mean())
    hits = np.cumsum(relevant, axis=1)
    n_relevant = relevant.sum(1)
    ranks = np.arange(1, relevant.shape[1] + 1)
    ap = np.where(n_relevant > 0, (relevant * hits / ranks).sum(1) / np.maximum(n_relevant, 1), 0.0)
    out["mean_average_precision"] = float(ap.mean())
    same = dl[None, :] == ql[:, None]
    for r in radii:
        inside = distances <= r
        found = inside.sum(1)
        good = (inside & same).sum(1)
        out[f"ball_{r}_precision"] = float(np.where(found > 0, good / np.maximum(found, 1), 0.0).mean())
        out[f"ball_{r}_recall"] = float((good / np.maximum(same.sum(1), 1)).mean())
        out[f"ball_{r}_nonempty"] = float((found > 0).mean())
    return out


def lsh_codes(train: np.ndarray, test: np.ndarray, bits: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random-projection LSH: signs of Gaussian projections of the data centred on the training mean."""
    mean = train.mean(0, keepdims=True)
    planes = np.random.default_rng(seed).standard_normal((train.shape[1], bits))
    return (((train - mean) @ planes) > 0).astype(np.uint8), (((test - mean) @ planes) > 0).astype(np.uint8)


def pca_sign_codes(train: np.ndarray, test: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """PCA followed by sign: the signs of the top `bits` principal components (training mean removed)."""
    mean = train.mean(0, keepdims=True)
    centred = (train - mean).astype(np.float64)
    values, vectors = np.linalg.eigh(centred.T @ centred)  # ascending eigenvalues of the scatter matrix
    basis = vectors[:, ::-1][:, :bits]
    return (((train - mean) @ basis) > 0).astype(np.uint8), (((test - mean) @ basis) > 0).astype(np.uint8)
