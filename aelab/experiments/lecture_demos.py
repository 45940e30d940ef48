"""The lecture's demonstrations behind two dashboards (notebooks 00-tour and 06-latent-space).

- `lecture-tour`: the lecture's map of autoencoder families on a 2-D toy set. Points lie near
  a curve (a 1-D manifold in the plane); one model is trained on them and sends every point x
  of a grid to r(x). The lecture's claims, measured on the arrows r(x) - x
  (`aelab.measure.field`): an undercomplete linear AE projects on the first principal
  component (its reconstructions lie on one line); a denoising AE pulls points back onto the
  manifold (the arrows point at the data; the lecture draws these arrows for the DAE only).
  The lab expects the same pull of a contractive AE near the data and of a deep denoising
  AE, which bends its pull along the curve: the lecture states neither. A sparse AE keeps
  few units on (no claim measured).
- `lecture-latent`: the codes of test images under a denoising autoencoder trained without
  labels, and whether images of one class gather (leave-one-out nearest-neighbour error of
  the codes beside that of the raw pixels).

The lecture gives no training settings: every preset is the lab's choice; `paper` is a longer run.
Dashboards call `run_tour` / `run_latent` with their controls as config overrides
(`experiment.config(scale, **overrides)`); `run_tour` takes an `on_epoch` hook that receives
the reconstruction field after every epoch, for a live view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from aelab.data import images
from aelab.data.toy import grid_2d, toy_curve
from aelab.experiments.base import Experiment, Result, RunContext
from aelab.experiments.vincent import init_generator
from aelab.measure.field import line_residual, mean_arrow_length, pull_towards_data
from aelab.measure.neighbours import nearest_neighbour_error
from aelab.models.registry import build_model, make_config
from aelab.train.loop import FitConfig, fit

# --- lecture-tour ----------------------------------------------------------------------------
TOUR_MODELS = ("undercomplete linear (PCA)", "sparse", "denoising", "contractive", "deep denoising")
BOUNDS = (-1.6, 1.6, -1.6, 1.6)  # the grid of arrows covers the toy curve with a margin
# the claim checked for each model, as the name of a boolean metric of the run: the linear AE's is the lecture's
# PCA slide (K = 1), the denoising AE's its "What it learns" picture; for the contractive and the deep denoising AE
# the lecture draws no arrows, so theirs is the lab's extension of the DAE's
TOUR_CLAIMS = {"undercomplete linear (PCA)": "reconstructions_on_a_line", "denoising": "arrows_point_towards_data",
               "contractive": "arrows_point_towards_data", "deep denoising": "arrows_point_towards_data"}


@dataclass
class TourConfig:
    model: str = "denoising"  # one of TOUR_MODELS
    strength: float = 0.3  # Gaussian noise std (denoising models), contraction weight, L1 weight / 10 (sparse)
    hidden: int = 32  # code units (the linear model has 1)
    n_points: int = 400  # training points near the curve
    epochs: int = 120
    batch_size: int = 50
    optimizer: str = "rmsprop"
    lr: float = 1e-2
    grid: int = 17  # grid points per side where arrows r(x) - x are measured


def tour_model_config(config: TourConfig, n_visible: int = 2) -> Any:
    """The registry config of the tour's model: untied, tanh codes, linear decoder, squared
    error; `strength` is the weight of the model's own regulariser."""
    if config.model not in TOUR_MODELS:
        raise ValueError(f"unknown tour model {config.model!r}; choose one of {', '.join(TOUR_MODELS)}")
    s, h = float(config.strength), config.hidden
    common = dict(tied=False, encoder="tanh", decoder="linear", loss="squared")
    if config.model == "undercomplete linear (PCA)":
        return make_config("linear", n_visible=n_visible, n_hidden=1)
    if config.model == "sparse":
        return make_config("ae", n_visible=n_visible, n_hidden=h, sparsity_l1=0.1 * s, **common)
    if config.model == "denoising":
        return make_config("dae", n_visible=n_visible, n_hidden=h, noise=f"gaussian:{s:g}", **common)
    if config.model == "contractive":
        return make_config("cae", n_visible=n_visible, n_hidden=h, contractive=s, **common)
    return make_config("deep", sizes=[n_visible, h, h], noise=[f"gaussian:{s:g}", "none"], **common)


def run_tour(config: TourConfig, ctx: RunContext,
             on_epoch: Callable[[int, dict[str, np.ndarray]], None] | None = None) -> Result:
    """Train the chosen model on the toy curve. Arrays: `data`, `grid` and their reconstructions
    `data_reconstructed`, `grid_reconstructed`; `on_epoch(epoch, arrays)` gets them after
    every epoch (the arrays of that moment)."""
    model = build_model(tour_model_config(config), generator=init_generator(ctx.seed)).to(ctx.device)
    data = toy_curve(config.n_points, ctx.seed)
    grid = grid_2d(BOUNDS, config.grid)
    x, g = torch.from_numpy(data).to(ctx.device), torch.from_numpy(grid).to(ctx.device)

    @torch.no_grad()
    def field() -> dict[str, np.ndarray]:
        return {"data": data, "grid": grid, "grid_reconstructed": model.reconstruct(g).cpu().numpy(),
                "data_reconstructed": model.reconstruct(x).cpu().numpy()}

    hook = None if on_epoch is None else (lambda epoch, metrics: on_epoch(epoch, field()))
    history = fit(model, model.loss, x, FitConfig(epochs=config.epochs, batch_size=config.batch_size,
                                                  optimizer=config.optimizer, lr=config.lr),
                  generator=ctx.generator(1),
                  # the hook draws the model of each epoch: a restored phase could not replay it
                  callbacks=ctx.callbacks(config.model, on_epoch=hook, resumable=hook is None),
                  description=config.model)
    arrays = field()
    pull = pull_towards_data(arrays["grid"], arrays["grid_reconstructed"], data)
    residual = line_residual(arrays["data_reconstructed"])
    metrics = {"train_loss": history[-1]["train_loss"] if history else None,
               "mean_arrow": mean_arrow_length(arrays["grid"], arrays["grid_reconstructed"]),
               "pull_towards_data": pull, "line_residual": residual,
               # a mean cosine above 1/2: the arrows point at the data within 60 degrees on average
               "arrows_point_towards_data": bool(pull > 0.5), "reconstructions_on_a_line": bool(residual < 1e-3)}
    claim = TOUR_CLAIMS.get(config.model)
    paper = {claim: True} if claim else {}
    return Result(metrics=metrics, paper=paper, arrays=arrays,
                  notes=f"{config.model}: pull_towards_data is the mean cosine between r(x) - x and the direction "
                        "to the nearest training point, on grid points at least 0.1 from the data; line_residual "
                        "is the second singular value of the reconstructions over the first (0: one line).")


# --- lecture-latent --------------------------------------------------------------------------
@dataclass
class LatentConfig:
    dataset: str = "mnist"
    model: str = "dae"  # a registered one-layer autoencoder; its codes are drawn
    noise: str = "masking:0.25"
    n_hidden: int = 64
    n_train: int = 3000  # 0 = the whole training split (a seeded random sample otherwise)
    n_points: int = 1000  # test images whose codes are drawn (a seeded random sample)
    epochs: int = 3
    batch_size: int = 20
    optimizer: str = "sgd"
    lr: float = 0.1


def run_latent(config: LatentConfig, ctx: RunContext) -> Result:
    """Train the autoencoder without labels; arrays: `codes` of the test images, their
    `images` (N x H x W) and `labels`."""
    x, _ = images(config.dataset, "train", config.n_train or None, flat=True, shuffle=ctx.seed, device=ctx.device)
    xt, yt = images(config.dataset, "test", config.n_points, shuffle=ctx.seed, device=ctx.device)
    flat_test = xt.reshape(len(xt), -1)
    model = build_model(config.model, n_visible=x.shape[1], n_hidden=config.n_hidden, noise=config.noise,
                        generator=init_generator(ctx.seed)).to(ctx.device)
    history = fit(model, model.loss, x, FitConfig(epochs=config.epochs, batch_size=config.batch_size,
                                                  optimizer=config.optimizer, lr=config.lr),
                  generator=ctx.generator(1),
                  evaluate=lambda: {"test_reconstruction": model.reconstruction_error(flat_test)},
                  callbacks=ctx.callbacks(f"{config.model} {x.shape[1]}-{config.n_hidden}"),
                  description="training the autoencoder")
    with torch.no_grad():
        codes = model.encode(flat_test).cpu().numpy()
    labels = yt.cpu().numpy()
    pixels = flat_test.cpu().numpy()
    metrics = {"test_reconstruction": history[-1]["test_reconstruction"] if history else None,
               "nearest_neighbour_error_percent_codes": 100 * nearest_neighbour_error(codes, labels),
               "nearest_neighbour_error_percent_pixels": 100 * nearest_neighbour_error(pixels, labels)}
    return Result(metrics=metrics, arrays={"codes": codes, "images": xt[:, 0].cpu().numpy(), "labels": labels},
                  models={"dae": model},  # the latent-space dashboard's model
                  notes="Leave-one-out 1-nearest-neighbour error (%) among the drawn test images: of their codes, "
                        "and of their raw pixels for comparison. The autoencoder never saw a label.")


TOUR_DEVIATIONS = (
    "the lecture's DAE picture ('What it learns': a manifold line, training points, arrows g(f(x)) - x) gives no "
    "data or settings: the toy curve, 1000 points, the model sizes, the noise or penalty strength and the "
    "training are the lab's choice",
    "the lecture draws the arrows for the denoising AE only; the lab draws them for each family, one per run "
    "(option --model); the pull towards the data claimed for the contractive and deep denoising AEs is the lab's "
    "expectation, not a lecture statement",
    "every model is untied; for the contractive AE the lecture's 'Caveat' slide suggests tied weights against "
    "the trivial solution f -> eps f, g -> g / eps",
    "the sparse AE has tanh codes with an L1 penalty; the lecture notes 'to get actual zeros one needs to use "
    "linear or ReLu activations'",
    "the deep denoising AE is trained jointly; the lecture: 'Deep autoencoder is usually trained with greedy "
    "layerwise pretraining'",
)
# full: every training image, the paper preset's model, 100 epochs (vincent-filters' full count for the same
# DAE). An epoch of the 784-1000 DAE (fused step, batch 20) on the 50000 images took 8 s of process CPU time
# with one torch thread (measured over 2 epochs; the machine was shared, so its wall time was no measure):
# 100 epochs are about 14 minutes.
LATENT_FULL = LatentConfig(n_train=0, n_points=2000, n_hidden=1000, epochs=100)

EXPERIMENTS = [
    Experiment(
        name="lecture-tour", title="The lecture's autoencoder families on a 2-D toy curve: where each point is sent",
        paper="Autoencoder lecture: undercomplete, sparse, denoising, contractive, deep", run=run_tour,
        presets={"smoke": TourConfig(n_points=200, epochs=15),
                 "teach": TourConfig(),
                 # a toy: the full preset is `paper`'s (1000 points, 300 epochs); the denoising model's run took
                 # 2.5 s of process CPU time with one torch thread (measured)
                 "full": TourConfig(n_points=1000, epochs=300),
                 "paper": TourConfig(n_points=1000, epochs=300)},
        deviations={scale: TOUR_DEVIATIONS for scale in ("full", "paper")}),
    Experiment(
        name="lecture-latent", title="Codes of a denoising autoencoder trained without labels",
        paper="Autoencoder lecture: representations learnt without labels", run=run_latent,
        datasets=("mnist", "digits"),
        presets={"smoke": LatentConfig(dataset="digits", n_train=300, n_points=150, n_hidden=16, epochs=1),
                 "teach": LatentConfig(),
                 "full": LATENT_FULL,
                 "paper": LatentConfig(n_train=0, n_points=2000, n_hidden=1000, epochs=15)},
        deviations={"full": (
            "the lecture names no model or settings for its 'Example of dimensionality reduction': a one-layer "
            "denoising autoencoder of 1000 sigmoid units (a layer of Theano's SdA.py) with masking noise 25% (the "
            "rate of the lecture's SdA experiment: 'binary mask with 0.25 probability of zero'), trained by SGD "
            "(lr 0.1, batch 20, Theano's dA.py recipe), is the lab's choice",
            f"{LATENT_FULL.epochs} epochs over MNIST's 50000 training images (the lab's choice; no source gives a "
            "number)",
            "codes of 2000 test images drawn at random (the lab's choice)",
        ), "paper": (
            "the lecture names no model or settings for its 'Example of dimensionality reduction': a one-layer "
            "denoising autoencoder of 1000 sigmoid units (a layer of Theano's SdA.py) with masking noise 25% (the "
            "rate of the lecture's SdA experiment: 'binary mask with 0.25 probability of zero'), trained by SGD "
            "(lr 0.1, batch 20, 15 epochs, Theano's dA.py recipe), is the lab's choice",
            "codes of 2000 test images drawn at random (the lab's choice)",
        )}),
]
