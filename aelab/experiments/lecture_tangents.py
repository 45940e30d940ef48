"""Tangents of the data manifold and the contractive/denoising link: `lecture-tangents`
(lecture slides "Example of manifold", "Contractive autoencoders and manifolds",
"Contractive vs. denoising", "Caveat").

1. One test digit translated step by step (sub-pixel, bilinear; sideways, or vertically as in the
   lecture's picture with `vertical`) traces a 1-D manifold in pixel space; drawn in the plane
   of its first two principal components, with the tangent dx/ds at the untranslated digit.
2. Dense AE, DAE and CAE from the registry are trained on MNIST; at test images the encoder
   Jacobian J_f(x) = diag(s'(a)) W (closed form, `aelab.measure.jacobian`) is decomposed.
   Its singular values say in how many input directions the code reacts; a CAE keeps few
   large ones. Its top right-singular vectors, drawn as images, are the directions the code
   follows: the learnt tangents. The share of the translation tangent inside the top-k of
   them is measured (a random k-subspace holds k / 784 of it).
3. On the 2-D toy curve (`aelab.data.toy`, whose density is known: a point uniform on an arc
   plus Gaussian noise of std 0.05) a DAE with Gaussian noise sigma is compared with the exact
   score: the best denoiser satisfies r(x) - x = sigma^2 grad log p_sigma(x) (p_sigma: p
   smoothed by the noise; Alain & Bengio take sigma -> 0), and with a CAE, whose arrows
   point the same way but have no sigma to fix their length. The lecture states only that a DAE
   "becomes equivalent to" a CAE "for infinitesimal Gaussian noise" and a penalty "on
   reconstruction r(x) rather than on f(x)" (citing Alain and Bengio (2013)); the score
   comparison is the lab's, and this CAE penalises f(x).
4. The caveat: with untied weights the contraction penalty can be cheated, f -> eps f and
   g -> g / eps keep every reconstruction while the penalty falls as eps^2. With a linear
   encoder this is exact; an untied CAE trained with a strong penalty drifts that way
   (encoder weights shrink, decoder weights grow), a tied one cannot (the lecture's way-out:
   "use tied weights").

Every preset is the lab's choice (the lecture gives no settings); `paper` is a longer run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from aelab.data import images
from aelab.data.toy import grid_2d, toy_curve
from aelab.experiments.base import Experiment, Result, RunContext
from aelab.experiments.lecture_demos import BOUNDS, TourConfig, tour_model_config
from aelab.experiments.vincent import init_generator
from aelab.measure.jacobian import encoder_jacobian, score_field, singular_spectrum, tangent_fraction
from aelab.models.registry import build_model
from aelab.train.loop import FitConfig, fit

MODELS = ("ae", "dae", "cae")
TOY_DATA_NOISE = 0.05  # std of toy_curve's noise around its arc


@dataclass
class TangentsConfig:
    dataset: str = "mnist"
    n_train: int = 5000
    n_points: int = 100  # test images whose Jacobian spectra are averaged
    n_hidden: int = 100
    epochs: int = 6
    batch_size: int = 50
    lr: float = 1e-3
    dae_noise: str = "masking:0.25"
    contractive: float = 1.0
    digit: int = 0  # which test image is translated
    max_shift: float = 4.0  # pixels, left and right (up and down when vertical)
    vertical: bool = False  # translate the digit vertically (the lecture's picture) instead of horizontally
    n_shifts: int = 33
    top_k: int = 5  # singular vectors drawn (and the tangent share measured in their span)
    toy_points: int = 400
    toy_sigma: float = 0.1  # the toy DAE's Gaussian noise std
    toy_contractive: float = 0.1
    toy_epochs: int = 120
    toy_grid: int = 17
    caveat_hidden: int = 50
    caveat_contractive: float = 1.0
    caveat_epochs: int = 5
    caveat_train: int = 2000


def translate(image: torch.Tensor, shifts: np.ndarray, vertical: bool = False) -> torch.Tensor:
    """len(shifts) copies of one H x W image moved right (vertical: down) by each shift (pixels,
    sub-pixel: bilinear)."""
    h, w = image.shape[-2:]
    s = torch.as_tensor(shifts, dtype=image.dtype, device=image.device)
    theta = torch.zeros(len(s), 2, 3, dtype=image.dtype, device=image.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    if vertical:
        theta[:, 1, 2] = -2.0 * s / h
    else:
        theta[:, 0, 2] = -2.0 * s / w
    grid = F.affine_grid(theta, (len(s), 1, h, w), align_corners=False)
    return F.grid_sample(image.reshape(1, 1, h, w).expand(len(s), 1, h, w), grid, mode="bilinear",
                         padding_mode="zeros", align_corners=False)[:, 0]


def translation_manifold(image: torch.Tensor, config: TangentsConfig) -> dict[str, np.ndarray]:
    """The translated digit in the plane of its first two principal components, and the tangent at shift 0."""
    shifts = np.linspace(-config.max_shift, config.max_shift, config.n_shifts)
    curve = translate(image, shifts, config.vertical).reshape(len(shifts), -1).double()
    mean = curve.mean(0)
    _, s, vh = torch.linalg.svd(curve - mean, full_matrices=False)
    plane = vh[:2]
    delta = 0.25
    ends = translate(image, np.array([-delta, delta]), config.vertical).reshape(2, -1).double()
    tangent = (ends[1] - ends[0]) / (2 * delta)
    at_zero = translate(image, np.array([0.0]), config.vertical).reshape(-1).double()
    return {"shifts": shifts, "curve_2d": ((curve - mean) @ plane.t()).numpy(),
            "point_2d": ((at_zero - mean) @ plane.t()).numpy(), "tangent_2d": (tangent @ plane.t()).numpy(),
            "tangent": tangent.float().numpy(), "variance_in_plane": float((s[:2] ** 2).sum() / (s ** 2).sum()),
            "tangent_in_plane": float(((tangent @ plane.t()) ** 2).sum() / (tangent ** 2).sum())}


def _fit(model, x, config: TangentsConfig, ctx: RunContext, label: str, offset: int, epochs: int | None = None,
         batch_size: int | None = None, lr: float | None = None, on_epoch=None):
    return fit(model, model.loss, x, FitConfig(epochs=config.epochs if epochs is None else epochs,
                                               batch_size=batch_size or config.batch_size, optimizer="adam",
                                               lr=lr or config.lr),
               generator=ctx.generator(offset),
               # a hook reads the model after each epoch (the caveat's curves): a restored stage could not replay
               # it, so such a stage is trained again on resume
               callbacks=ctx.callbacks(label, on_epoch=on_epoch, resumable=on_epoch is None), description=label)


def run_tangents(config: TangentsConfig, ctx: RunContext) -> Result:
    started = time.perf_counter()
    x, _ = images(config.dataset, "train", config.n_train, flat=True, device=ctx.device)
    xt, _ = images(config.dataset, "test", max(config.n_points, config.digit + 1), device=ctx.device)
    shape = tuple(xt.shape[-2:])
    metrics: dict[str, object] = {}
    arrays: dict[str, np.ndarray] = {}

    # 1. the translation manifold of one digit
    digit = xt[config.digit, 0].cpu()
    manifold = translation_manifold(digit, config)
    arrays.update({k: np.asarray(v) for k, v in manifold.items() if not isinstance(v, float)})
    arrays["digit"] = digit.numpy()
    metrics["translation_variance_in_two_components"] = manifold["variance_in_plane"]

    # 2. Jacobian spectra of AE, DAE, CAE
    fields = {"ae": {}, "dae": {"noise": config.dae_noise}, "cae": {"contractive": config.contractive}}
    flat_test = xt[:config.n_points].reshape(config.n_points, -1)
    large = {}
    for i, name in enumerate(MODELS):
        model = build_model(name, n_visible=x.shape[1], n_hidden=config.n_hidden, generator=init_generator(ctx.seed),
                            **fields[name]).to(ctx.device)
        _fit(model, x, config, ctx, name.upper(), 10 + i)
        spectra, _ = singular_spectrum(encoder_jacobian(model, flat_test))
        s_digit, v_digit = singular_spectrum(encoder_jacobian(model, flat_test[config.digit:config.digit + 1]))
        arrays[f"spectrum_{name}"] = spectra.mean(0)
        arrays[f"spectrum_digit_{name}"] = s_digit[0]
        arrays[f"vectors_{name}"] = v_digit[0, :config.top_k].reshape(-1, *shape)
        relative = spectra / spectra[:, :1]
        large[name] = float((relative > 0.1).sum(1).mean())
        metrics[f"{name}_singular_values_above_tenth_of_largest"] = large[name]
        metrics[f"{name}_frobenius_norm_squared"] = float((spectra ** 2).sum(1).mean())
        metrics[f"{name}_translation_tangent_in_top_{config.top_k}"] = tangent_fraction(
            v_digit[0, :config.top_k], manifold["tangent"])
    metrics["random_subspace_share"] = config.top_k / x.shape[1]
    metrics["cae_fewest_large_singular_values"] = bool(large["cae"] <= min(large["ae"], large["dae"]))

    # 3. DAE with small noise vs CAE on the toy curve, against the known score
    data = toy_curve(config.toy_points, ctx.seed, noise=TOY_DATA_NOISE)
    grid = grid_2d(BOUNDS, config.toy_grid)
    xd, xg = torch.from_numpy(data).to(ctx.device), torch.from_numpy(grid).to(ctx.device)
    smoothed = float(np.hypot(TOY_DATA_NOISE, config.toy_sigma))
    score, _ = score_field(grid.astype(np.float64), smoothed)
    target = config.toy_sigma ** 2 * score
    centres_distance = np.sqrt(((grid[:, None, :] - data[None]) ** 2).sum(-1)).min(1)
    near = centres_distance < 2 * smoothed
    arrays.update(toy_data=data, toy_grid=grid, toy_target=target.astype(np.float32), toy_near=near)
    for i, (name, model_name, strength) in enumerate((("dae", "denoising", config.toy_sigma),
                                                       ("cae", "contractive", config.toy_contractive))):
        tour = TourConfig(model=model_name, strength=strength, n_points=config.toy_points, epochs=config.toy_epochs)
        model = build_model(tour_model_config(tour), generator=init_generator(ctx.seed)).to(ctx.device)
        _fit(model, xd, config, ctx, f"toy {name.upper()}", 30 + i, epochs=config.toy_epochs, batch_size=tour.batch_size,
             lr=tour.lr)
        with torch.no_grad():
            arrow = (model.reconstruct(xg) - xg).cpu().numpy().astype(np.float64)
        arrays[f"toy_arrows_{name}"] = arrow.astype(np.float32)
        a, t = arrow[near], target[near]
        cos = (a * t).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(t, axis=1) + 1e-12)
        metrics[f"toy_{name}_cosine_with_score"] = float(cos.mean())
        metrics[f"toy_{name}_length_over_sigma2_score"] = float(np.median(
            np.linalg.norm(a, axis=1) / (np.linalg.norm(t, axis=1) + 1e-12)))

    # 4. the caveat: untied vs tied CAE with a linear encoder
    xc = x[:config.caveat_train]
    for i, tied in enumerate((False, True)):
        name = "tied" if tied else "untied"
        model = build_model("cae", n_visible=x.shape[1], n_hidden=config.caveat_hidden, tied=tied, encoder="linear",
                            contractive=config.caveat_contractive, generator=init_generator(ctx.seed)).to(ctx.device)
        curve: list[list[float]] = []

        def record(epoch, metrics_, model=model, curve=curve):
            with torch.no_grad():
                h = model.encode(xc)
                curve.append([epoch, float(model.contraction(h).mean()),
                              float(model.reconstruction_loss(xc, model.decode_preactivation(h)).mean()),
                              float(model.W.norm()), float(model.decoder_weight.norm())])

        record(0, {})
        _fit(model, xc, config, ctx, f"{name} CAE", 40 + i, epochs=config.caveat_epochs, on_epoch=record)
        arrays[f"caveat_curve_{name}"] = np.asarray(curve, dtype=np.float64)
        # rescale f -> eps f, g -> g / eps (untied: exact for a linear encoder; tied: g follows f)
        eps = np.logspace(0, -2, 9)
        scan = []
        with torch.no_grad():
            W, b = model.W.detach().clone(), model.b.detach().clone()
            Wp = None if model.W_prime is None else model.W_prime.detach().clone()
            for e in eps:
                model.W.copy_(e * W)
                model.b.copy_(e * b)
                if Wp is not None:
                    model.W_prime.copy_(Wp / e)
                h = model.encode(xc)
                scan.append([e, float(model.contraction(h).mean()),
                             float(model.reconstruction_loss(xc, model.decode_preactivation(h)).mean())])
            model.W.copy_(W)
            model.b.copy_(b)
            if Wp is not None:
                model.W_prime.copy_(Wp)
        arrays[f"caveat_scan_{name}"] = np.asarray(scan, dtype=np.float64)
        metrics[f"caveat_{name}_penalty_start_end"] = [curve[0][1], curve[-1][1]]
        metrics[f"caveat_{name}_encoder_over_decoder_norm_end"] = curve[-1][3] / curve[-1][4]
    scan_u, scan_t = arrays["caveat_scan_untied"], arrays["caveat_scan_tied"]
    metrics["untied_rescaling_keeps_reconstruction"] = bool(np.allclose(scan_u[:, 2], scan_u[0, 2], rtol=1e-3))
    metrics["untied_rescaling_penalty_falls_as_eps_squared"] = bool(np.allclose(
        scan_u[:, 1], scan_u[0, 1] * scan_u[:, 0] ** 2, rtol=1e-3))
    metrics["tied_rescaling_hurts_reconstruction"] = bool(scan_t[-1, 2] > 1.05 * scan_t[0, 2])
    metrics["seconds"] = time.perf_counter() - started
    paper = {"cae_fewest_large_singular_values": True, "untied_rescaling_keeps_reconstruction": True,
             "untied_rescaling_penalty_falls_as_eps_squared": True, "tied_rescaling_hurts_reconstruction": True}
    notes = ("Singular values of J_f(x) are averaged over test images (sorted, largest first); a singular value is "
             "'large' above a tenth of the largest. The translation tangent's share in the top singular vectors' span "
             f"is compared with a random {config.top_k}-dimensional subspace's ({metrics['random_subspace_share']:.3g}). "
             f"Toy curve: the DAE's arrows r(x) - x against sigma^2 grad log p_sigma(x) (sigma = {config.toy_sigma:g}, "
             f"p_sigma = the curve's density smoothed to std {smoothed:.3g}) on grid points within two such stds of "
             "the data. Caveat: f -> eps f, g -> g / eps on the trained CAEs (linear encoders): untied, the "
             "reconstruction stays and the penalty falls as eps^2; tied, the decoder follows the encoder and the "
             "reconstruction suffers.")
    return Result(metrics=metrics, paper=paper, arrays=arrays, notes=notes)


# full: every MNIST training image, vertical shifts as in the lecture's picture. Times from a 1-epoch run
# with one torch thread and single-threaded BLAS (process CPU time; the machine was shared, so its wall
# time was no measure): an epoch of the 1000-unit AE / DAE / CAE about 7 / 8 / 10 s on 50000 images, of the
# caveat's 200-unit CAE 3.4 s; the Jacobian spectra of 500 test images about 60 s per model; the toy models
# 0.1 s an epoch. 80 epochs x 3 models, 2 x 50 caveat epochs and the rest: about 44 minutes.
TANGENTS_FULL = TangentsConfig(n_train=50000, n_points=500, n_hidden=1000, epochs=80, vertical=True, toy_points=1000,
                               toy_epochs=300, caveat_hidden=200, caveat_epochs=50, caveat_train=50000)

EXPERIMENTS = [
    Experiment(
        name="lecture-tangents",
        title="Tangents of the data manifold: Jacobian spectra of AE, DAE and CAE, denoising vs the score",
        paper="Autoencoder lecture: manifolds, contractive vs denoising, the caveat of untied weights",
        run=run_tangents, datasets=("mnist", "digits"),
        presets={"smoke": TangentsConfig(dataset="digits", n_train=300, n_points=20, n_hidden=16, epochs=1,
                                         max_shift=2.0, n_shifts=9, top_k=3, toy_points=100, toy_epochs=10,
                                         toy_grid=9, caveat_hidden=8, caveat_epochs=2, caveat_train=300),
                 "teach": TangentsConfig(),
                 "full": TANGENTS_FULL,
                 "paper": TangentsConfig(n_train=50000, n_points=500, n_hidden=1000, epochs=30, vertical=True,
                                         toy_points=1000, toy_epochs=300, caveat_hidden=200, caveat_epochs=30,
                                         caveat_train=10000)},
        deviations={"full": (
            "the lecture's picture ('1-D manifold obtained by vertically translating image', in the space of the "
            "first 2 principal components, with its tangent) does not state the image or the shifts: here one test "
            f"digit, {TANGENTS_FULL.n_shifts} sub-pixel (bilinear) shifts of up to {TANGENTS_FULL.max_shift:g} "
            "pixels (the lab's choice)",
            f"AE, DAE (masking 25%) and CAE (penalty weight {TANGENTS_FULL.contractive:g}) with "
            f"{TANGENTS_FULL.n_hidden} sigmoid units on MNIST's 50000 training images, Adam (lr {TANGENTS_FULL.lr:g}, "
            f"batch {TANGENTS_FULL.batch_size}, {TANGENTS_FULL.epochs} epochs): the lecture gives no settings, these "
            "are the lab's choice",
            "the lecture shows no Jacobian spectra: that a CAE keeps the fewest large singular values is the lab's "
            "reading of 'Jacobian reduces sensitivity of h to x' and 'Directions with large ||J_f(x) dx|| are "
            f"tangent to manifold'; spectra averaged over {TANGENTS_FULL.n_points} test images, 'large' = above a "
            "tenth of the largest (the lab's choice)",
            f"DAE vs the score on a toy curve ({TANGENTS_FULL.toy_points} points) with noise sigma = "
            f"{TANGENTS_FULL.toy_sigma:g}: the lecture states only DAE-CAE equivalence 'for infinitesimal Gaussian "
            "noise' and a penalty 'on reconstruction r(x) rather than on f(x)' (Alain and Bengio (2013)); the score "
            "comparison is the lab's, and the toy CAE penalises f(x)",
            f"the caveat's CAEs: {TANGENTS_FULL.caveat_hidden} linear units, penalty weight "
            f"{TANGENTS_FULL.caveat_contractive:g}, {TANGENTS_FULL.caveat_epochs} epochs on the 50000 images (the "
            "lab's choice; the lecture's trivial solution f -> eps f, g -> g / eps is exact for a linear encoder)",
        ), "paper": (
            "AE, DAE (masking 25%) and CAE (penalty weight 1) with 1000 sigmoid units on MNIST's 50000 training "
            "images, Adam (lr 1e-3, batch 50, 30 epochs): the lecture gives no settings, these are the lab's choice",
            "the lecture shows no Jacobian spectra: that a CAE keeps the fewest large singular values is the lab's "
            "reading of 'Jacobian reduces sensitivity of h to x'",
            "DAE vs the score on a toy curve with noise sigma = 0.1: the lecture states only DAE-CAE equivalence "
            "'for infinitesimal Gaussian noise' and a penalty 'on reconstruction r(x) rather than on f(x)' (Alain "
            "and Bengio (2013)); the score comparison is the lab's, and the toy CAE penalises f(x)",
            "the caveat's CAEs: 200 linear units, penalty weight 1, 30 epochs on 10000 images (the lab's choice)",
        )}),
]
