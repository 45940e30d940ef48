"""Linear probes: how linearly separable are a model's codes? (Zhou et al., Tables II-IV)

A linear SVM (scikit-learn's LinearSVC) is trained on the top-level codes of the training
set, its C chosen on the validation set, and its test error reported with the 95% interval
the papers print: 1.96 * sqrt(p (1 - p) / n).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np


def error_interval(p: float, n: int) -> float:
    """Half-width of the 95% normal interval of an error fraction p (in [0, 1]) measured on n
    examples, as a fraction too (x 100 for percent)."""
    if n <= 0:
        raise ValueError("need at least one test example")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"an error rate lies in [0, 1], got {p}")
    return 1.96 * math.sqrt(p * (1 - p) / n)


@dataclass
class ProbeResult:
    test_error_fraction: float  # in [0, 1]
    interval_fraction: float  # 95% half-width of the test error, in [0, 1]
    valid_error_fraction: float
    C: float
    n_test: int

    def percent(self) -> dict[str, float]:
        """The papers' units: errors and interval in percent (and the chosen C)."""
        return {"test_error_percent": 100 * self.test_error_fraction,
                "test_error_interval_percent": 100 * self.interval_fraction,
                "valid_error_percent": 100 * self.valid_error_fraction, "C": self.C}


def _numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def linear_svm_probe(train_codes, train_y, valid_codes, valid_y, test_codes, test_y,
                     Cs: Sequence[float] = (0.01, 0.1, 1.0, 10.0), max_iter: int = 2000,
                     seed: int = 0) -> ProbeResult:
    """Fit LinearSVC for each C on the training codes, keep the C with the lowest validation
    error, report its test error and 95% interval. Codes: N x k arrays or tensors."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    xs = [_numpy(a).reshape(len(_numpy(a)), -1) for a in (train_codes, valid_codes, test_codes)]
    ys = [_numpy(a) for a in (train_y, valid_y, test_y)]
    if not Cs:
        raise ValueError("give at least one C")
    if any(len(x) != len(y) for x, y in zip(xs, ys)):
        raise ValueError("codes and labels differ in length")
    best = None
    for C in Cs:
        svm = LinearSVC(C=C, max_iter=max_iter, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            svm.fit(xs[0], ys[0])
        valid_error = float(np.mean(svm.predict(xs[1]) != ys[1]))
        if best is None or valid_error < best[0]:
            best = (valid_error, C, svm)
    valid_error, C, svm = best
    test_error = float(np.mean(svm.predict(xs[2]) != ys[2]))
    return ProbeResult(test_error, error_interval(test_error, len(ys[2])), valid_error, float(C), len(ys[2]))
