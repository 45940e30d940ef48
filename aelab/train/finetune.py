"""Supervised fine-tuning: the encoder of a deep autoencoder as an MLP (Vincent sec. 2.4;
Zhou sec. IV-D), with a softmax output layer on h^N and early stopping on the validation error.

    p(y | x) = softmax(V h^N(x) + c)
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from aelab.models.dense import DeepAutoencoder
from aelab.train.loop import Callbacks, FitConfig, fit


class EncoderClassifier(nn.Module):
    """The encoder layers of a deep autoencoder (copied) followed by a softmax layer."""

    def __init__(self, model: DeepAutoencoder, n_classes: int):
        super().__init__()
        self.encoder = copy.deepcopy(model)
        self.output = nn.Linear(model.sizes[-1], n_classes)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits V h^N(x) + c."""
        return self.output(self.encoder.encode(x))

    def loss(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        nll = F.cross_entropy(self(x), y)
        return {"classification": nll, "total": nll}

    @torch.no_grad()
    def error_fraction(self, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
        """Classification error as a fraction in [0, 1] (0-d tensor, no host sync)."""
        wrong = torch.zeros((), device=x.device)
        for i in range(0, x.shape[0], batch_size):
            wrong += (self(x[i:i + batch_size]).argmax(1) != y[i:i + batch_size]).sum()
        return wrong / max(1, x.shape[0])


def finetune(model: DeepAutoencoder, train, valid, test, config: FitConfig, *, patience: int = 10,
             n_classes: int | None = None, generator: torch.Generator | None = None,
             callbacks: Callbacks | None = None) -> tuple[EncoderClassifier, dict[str, float]]:
    """Fine-tune an MLP initialised from `model` on `train` (x, y); stop early on `valid`.

    Returns the classifier at its best validation epoch and
    {"valid_error_fraction", "test_error_fraction", "epochs"} (fractions in [0, 1]; results report
    100 x these as `*_percent`; `aelab.measure.probes.error_interval` gives the 95% interval).
    """
    n_classes = n_classes or int(max(train.y.max(), valid.y.max())) + 1
    classifier = EncoderClassifier(model, n_classes).to(train.x.device)

    def evaluate() -> dict[str, torch.Tensor]:
        return {"valid_error_fraction": classifier.error_fraction(valid.x, valid.y)}

    history = fit(classifier, classifier.loss, (train.x, train.y), config, generator=generator,
                  evaluate=evaluate, callbacks=callbacks,
                  monitor="valid_error_fraction", patience=patience, description="fine-tuning")
    test_error = float(classifier.error_fraction(test.x, test.y))
    best_valid = (min(h["valid_error_fraction"] for h in history) if history
                  else float(classifier.error_fraction(valid.x, valid.y)))
    return classifier, {"valid_error_fraction": best_valid, "test_error_fraction": test_error,
                        "epochs": len(history)}
