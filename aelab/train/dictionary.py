"""Dictionary learning by the lecture's alternation (slide "Sparse coding: estimation"):

    initialise D; repeat:  W = argmin_W ||X - W D||^2 + lambda ||W||_1   (N LASSO problems, FISTA, batched)
                           D = argmin_D ||X - W D||^2, ||d_k|| <= 1       (least squares)

The dictionary step is least squares under the constraint ||d_k|| <= 1 (the one scikit-learn
uses; without it the L1 term could be shrunk for free by scaling D up and W down), solved by
block coordinate descent: atom by atom, the least-squares regression of the residual on that
atom's code column, projected on the unit ball (each update exact, so the objective never
grows). An atom no code uses keeps its old value. `learn_dictionary` reports the objective after
every code step through `callbacks.on_epoch(iteration, {"objective", "zero_share", "seconds"})`
(seconds: that alternation's). With `callbacks.journal` it keeps D, the last codes and the
history as a journal phase (see `aelab.train.checkpoints.Journal`), so a stopped run continues
at the next alternation with the same numbers.
"""

from __future__ import annotations

import time

import torch

from aelab.models.sparse_coding import SparseCoding, lasso_fista, objective
from aelab.train.loop import Callbacks, LoopState


@torch.no_grad()
def least_squares_dictionary(X: torch.Tensor, W: torch.Tensor, D: torch.Tensor, sweeps: int = 3) -> torch.Tensor:
    """argmin_D ||X - W D||^2 subject to ||d_k|| <= 1, by `sweeps` rounds of exact atom-wise updates."""
    D = D.clone()
    A, B = W.T @ W, W.T @ X  # the normal equations' K x K and K x d matrices
    for _ in range(sweeps):
        for k in range(D.shape[0]):
            if A[k, k] <= 0:
                continue
            d = D[k] + (B[k] - A[k] @ D) / A[k, k]  # exact minimiser over atom k, the others fixed
            D[k] = d / d.norm().clamp_min(1.0)
    return D


@torch.no_grad()
def learn_dictionary(model: SparseCoding, X: torch.Tensor, iterations: int, *, callbacks: Callbacks | None = None,
                     init: torch.Tensor | None = None) -> tuple[torch.Tensor, list[dict[str, float]]]:
    """Alternate `iterations` times; the model's D is updated in place. Returns (final codes W, history)."""
    callbacks = callbacks or Callbacks()
    X = X.reshape(X.shape[0], -1)
    if init is not None:
        model.D.copy_(init / init.norm(dim=1, keepdim=True).clamp_min(1e-12))
    lam, cfg = model.config.lam, model.config
    phase = callbacks.journal.phase("alternation") if callbacks.journal is not None else None
    state = phase.restore(model, []) if phase is not None else None
    W = phase.extra.get("codes") if state is not None else None
    state = state or LoopState()
    for metrics in state.history:  # alternations of an earlier process, shown again
        if callbacks.on_epoch:
            callbacks.on_epoch(metrics["epoch"], metrics)
    for it in range(state.epoch + 1, iterations + 1):
        if callbacks.check_stop:
            callbacks.check_stop()
        start = time.perf_counter()
        W, _ = lasso_fista(X, model.D, lam, n_iter=cfg.n_iter, tol=cfg.tol, w0=W)
        metrics = {"objective": objective(X, W, model.D, lam), "zero_share": float((W == 0).float().mean()),
                   "seconds": 0.0, "epoch": it}
        if it < iterations:
            model.D.copy_(least_squares_dictionary(X, W, model.D))
        metrics["seconds"] = time.perf_counter() - start
        state.history.append(metrics)
        state.epoch, state.finished = it, it == iterations
        if phase is not None:
            phase.save(model, state, final=state.finished, extra={"codes": W})
        if callbacks.on_epoch:
            callbacks.on_epoch(it, metrics)
        if callbacks.progress:
            callbacks.progress(it, iterations, f"alternation {it}/{iterations}")
    return W, state.history
