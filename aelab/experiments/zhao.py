"""Zhao, Mathieu, Goroshin, LeCun 2016 (stacked what-where auto-encoders): Fig. 2, Figs. 3-4,
Tables 4-5.

All three use MNIST padded to 32x32 as the paper does. Teach presets shrink the number of
maps and of training images so each runs in about a minute on two CPU cores; the paper
presets use the paper's architectures and the full training set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from aelab import data
from aelab.experiments.base import Experiment, Result, RunContext
from aelab.models.whatwhere import SWWAE
from aelab.train.loop import Callbacks
from aelab.train.semisup import classification_error_fraction, mean_squared_error_per_pixel, random_shifts, \
    swwae_fit_config, train_swwae

SIZE = 32  # MNIST 28x28 padded by 2 on each side (REFERENCES.md, "Shapes in the SWWAE paper")


def _progress(ctx: RunContext, done_before: int, total: int, label: str):
    return lambda done, steps, desc: ctx.progress(done_before * steps + done, total * steps, f"{label}: {desc}")


def _callbacks(ctx: RunContext, done_before: int, total: int, label: str) -> Callbacks:
    """The loop's callbacks for run `done_before` of `total`: epoch ends and the stop flag
    reach the context; progress counts over all runs."""
    callbacks = ctx.callbacks(label)
    callbacks.progress = _progress(ctx, done_before, total, label)
    return callbacks


def _init(seed: int) -> torch.Generator:
    """The generator initial weights are drawn from (on the CPU, where models are built)."""
    return torch.Generator().manual_seed(seed)


# ============================================================================ Fig. 2

@dataclass
class UnpoolConfig:
    """Fig. 2: `convs-Xp` for X in pool_sizes, unsupervised, hard pooling; unpool vs upsample."""

    dataset: str = "mnist"
    convs: str = "(16)5c-(32)3c"
    pool_sizes: tuple[int, ...] = (2, 4, 8, 16)
    n_train: int = 50000
    n_test: int = 10000
    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    n_show: int = 8


def run_unpool(config: UnpoolConfig, ctx: RunContext) -> Result:
    x_train, _ = data.images(config.dataset, "train", config.n_train, size=SIZE, device=ctx.device)
    x_test, _ = data.images(config.dataset, "test", config.n_test, size=SIZE, device=ctx.device)
    specs = {size: f"{config.convs}-{size}p" for size in config.pool_sizes}
    for size, spec in specs.items():  # fail on a bad size before any training
        SWWAE(spec, input_size=SIZE)
    errors: dict[str, dict[str, float]] = {"unpool": {}, "upsample": {}}
    arrays = {"originals": x_test[: config.n_show, 0].cpu().numpy()}
    runs = [(size, mode) for size in config.pool_sizes for mode in ("unpool", "upsample")]
    for i, (size, mode) in enumerate(runs):
        ctx.check_stop()
        model = SWWAE(specs[size], input_size=SIZE, pooling="hard", unpool="where" if mode == "unpool" else "upsample",
                      lambda_nll=0.0, generator=_init(ctx.seed + size)).to(ctx.device)  # same init for both
        train_swwae(model, x_train, config=swwae_fit_config(config.epochs, config.batch_size, config.lr),
                    generator=ctx.generator(size), callbacks=_callbacks(ctx, i, len(runs), f"{size}p {mode}"))
        errors[mode][str(size)] = mean_squared_error_per_pixel(model, x_test)
        with torch.no_grad():
            arrays[f"recon_{mode}_{size}"] = model.reconstruct(x_test[: config.n_show])[:, 0].clamp(0, 1).cpu().numpy()
        ctx.log(f"{size}p {mode}: test reconstruction error {errors[mode][str(size)]:.5f}")
    beats = {str(s): errors["unpool"][str(s)] < errors["upsample"][str(s)] for s in config.pool_sizes}
    metrics = {"test_mse": errors, "unpool_beats_upsample": beats, "unpool_beats_upsample_everywhere": all(beats.values())}
    paper = {"unpool_beats_upsample_everywhere": True,
             "note": "Fig. 2 shows reconstructions only (no numbers): unpooling is visibly clearer at 2, 4, 8, 16"}
    return Result(metrics, paper, arrays,
                  notes="test_mse = mean squared error per pixel of test reconstructions (pixels in [0, 1]).")


# ============================================================================ Figs. 3-4

@dataclass
class TranslationConfig:
    """Figs. 3-4: soft what-where with a pool covering the whole map; +-shift responses."""

    dataset: str = "mnist"
    spec: str = "(32)5c-(32)3c-2p-(32)3c-16p"
    beta: float = 100.0
    n_train: int = 50000
    train_shift: int = 3  # training digits are shifted by up to this many pixels each way
    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    n_test: int = 500
    shift: int = 3
    n_show: int = 8


def _top(model: SWWAE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(what N x C, where N x C x 2) of the top pool, whose region covers the whole map."""
    with torch.no_grad():
        code = model.encode(x, logits=False)
    what, where = code.whats[-1], code.wheres[-1]
    return what.flatten(1), where.flatten(1, 3).reshape(len(x), -1, 2)


def _corr(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    denom = float((a.norm() * b.norm()))
    return float((a * b).sum()) / denom if denom > 0 else float("nan")


def translation_summary(what0, where0, shifted: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    """For one feature plane: how "what" and "where" respond to +-shifts (keys 'h+', 'h-', 'v+', 'v-').

    where_along_{h,v}{+,-}: mean change of the where coordinate along the shift axis;
    where_across_{h,v}: mean |change| of the other coordinate; what_corr_{h,v}: correlation of
    shifted vs unshifted "what"; what_rel_change_{h,v}: mean |change| / mean "what".
    """
    out: dict[str, float] = {}
    for axis, along in (("h", 0), ("v", 1)):
        across = 1 - along
        whats = torch.cat([shifted[f"{axis}+"][0], shifted[f"{axis}-"][0]])
        out[f"what_corr_{axis}"] = _corr(torch.cat([what0, what0]), whats)
        out[f"what_rel_change_{axis}"] = float((whats - torch.cat([what0, what0])).abs().mean() /
                                               what0.abs().mean().clamp(min=1e-12))
        for sign in "+-":
            delta = shifted[f"{axis}{sign}"][1] - where0
            out[f"where_along_{axis}{sign}"] = float(delta[:, along].mean())
        deltas = torch.cat([shifted[f"{axis}+"][1] - where0, shifted[f"{axis}-"][1] - where0])
        out[f"where_across_{axis}"] = float(deltas[:, across].abs().mean())
        out[f"where_corr_{axis}"] = _corr(torch.cat([where0[:, along], where0[:, along]]), torch.cat(
            [shifted[f"{axis}+"][1][:, along], shifted[f"{axis}-"][1][:, along]]))
    return out


def _verdicts(summary: dict[str, float], expected: float) -> dict[str, bool]:
    """Fig. 3 in three yes/no statements about one feature plane's summary."""
    along = {a: (summary[f"where_along_{a}+"], summary[f"where_along_{a}-"]) for a in "hv"}
    return {
        # where moves with the shift, in its direction, by at least a quarter of the pixel shift
        "where_follows_shift": all(plus > 0.25 * expected and minus < -0.25 * expected for plus, minus in along.values()),
        # ... and the other coordinate moves less than half as much
        "where_insensitive_to_other_axis": all(summary[f"where_across_{a}"] < 0.5 * min(abs(v) for v in along[a])
                                               for a in "hv"),
        "what_stays_put": min(summary["what_corr_h"], summary["what_corr_v"]) > 0.9,
    }


# settings that only change how the trained model is probed, not its training: a dashboard
# re-evaluates the model it holds (`evaluate_translation`) instead of training again
TRANSLATION_EVALUATION_FIELDS = ("shift", "n_show")


def train_translation(config: TranslationConfig, ctx: RunContext) -> tuple[SWWAE, torch.Tensor]:
    """The trained what-where autoencoder of Fig. 3 and the test digits it is probed with."""
    model = SWWAE(config.spec, input_size=SIZE, pooling="soft", beta=config.beta, lambda_nll=0.0,
                  generator=_init(ctx.seed)).to(ctx.device)
    if model.top_shape[1:] != (1, 1) or model.classifier is not None:
        raise ValueError(f"{config.spec!r}: Fig. 3 needs a last pool that covers the whole map (one 'what' and "
                         f"one 'where' per plane) and no fc layer; its top is {model.top_shape}")
    x_train, _ = data.images(config.dataset, "train", config.n_train, size=SIZE, device=ctx.device)
    x_test, _ = data.images(config.dataset, "test", config.n_test, size=SIZE, device=ctx.device)
    gen = ctx.generator(1)
    train_swwae(model, x_train, config=swwae_fit_config(config.epochs, config.batch_size, config.lr), generator=gen,
                augment=random_shifts(config.train_shift, gen), callbacks=_callbacks(ctx, 0, 1, "train"))
    model.eval()
    return model, x_test


def evaluate_translation(model: SWWAE, x_test: torch.Tensor, config: TranslationConfig) -> Result:
    """Fig. 3-4 measurements of a trained model for `config.shift` (no training: instant)."""
    top_size = model.stages[-1].pool.size
    what0, where0 = _top(model, x_test)
    s = config.shift
    moves = {"h+": (s, 0), "h-": (-s, 0), "v+": (0, s), "v-": (0, -s)}
    shifted = {key: _top(model, data.translate(x_test, dx, dy)) for key, (dx, dy) in moves.items()}

    def plane_summary(c: int) -> dict[str, float]:
        return translation_summary(what0[:, c], where0[:, c], {k: (w[:, c], p[:, c]) for k, (w, p) in shifted.items()})

    plane = int(what0.mean(dim=0).argmax())  # the most active feature plane, chosen without looking at shifts
    summary = plane_summary(plane)
    per_plane = [plane_summary(c) for c in range(what0.shape[1]) if float(what0[:, c].mean()) > 1e-3]
    # +-s input pixels in normalised "where" units: the top pool sees a map shrunk by the pools below it
    expected = 2.0 * s * top_size / SIZE / max(top_size - 1, 1)
    metrics = {"plane": plane, "expected_where_shift": expected, **summary,
               "median_over_active_planes": ({k: float(np.median([p[k] for p in per_plane])) for k in summary}
                                             if per_plane else {}),
               "n_active_planes": len(per_plane), **_verdicts(summary, expected),
               "reconstruction_mse": mean_squared_error_per_pixel(model, x_test)}
    paper = {"where_follows_shift": True, "where_insensitive_to_other_axis": True, "what_stays_put": True,
             "note": "Fig. 3 (scatter plots, no numbers): 'where' responds about linearly to the shift along its "
                     "axis and is invariant to the other; 'what' is invariant to the shift"}
    arrays = {"what0": what0[:, plane].cpu().numpy(), "where0": where0[:, plane].cpu().numpy()}
    for key, (w, p) in shifted.items():
        tag = key.replace("+", "plus").replace("-", "minus")
        arrays[f"what_{tag}"] = w[:, plane].cpu().numpy()
        arrays[f"where_{tag}"] = p[:, plane].cpu().numpy()
    show = x_test[: config.n_show]
    with torch.no_grad():
        arrays["originals"] = show[:, 0].cpu().numpy()
        arrays["recon"] = model.reconstruct(show)[:, 0].clamp(0, 1).cpu().numpy()
        arrays["recon_hplus"] = model.reconstruct(data.translate(show, s, 0))[:, 0].clamp(0, 1).cpu().numpy()
        arrays["recon_hminus"] = model.reconstruct(data.translate(show, -s, 0))[:, 0].clamp(0, 1).cpu().numpy()
    return Result(metrics, paper, arrays, notes=(
        f"feature plane {plane} (largest mean 'what' on unshifted test digits); where in [-1, 1] over the "
        f"{top_size}x{top_size} top map, so a {s}-pixel input shift is about {expected:.3f} there."))


def run_translation(config: TranslationConfig, ctx: RunContext) -> Result:
    model, x_test = train_translation(config, ctx)
    return evaluate_translation(model, x_test, config)


# ============================================================================ Tables 4-5

VARIANTS = ("swwae", "noL2M", "unsup-sfx", "baseline")

# Table 5 (test error %, SWWAE chosen on validation) and Table 4 (validation error %, dropout on fc).
TABLE5 = {"swwae_dropout": {100: 8.71, 600: 3.31, 1000: 2.83, 3000: 2.10},
          "swwae_no_dropout": {100: 9.17, 600: 4.16, 1000: 3.39, 3000: 2.50},
          "convnet": {100: 22.98, 600: 7.86, 1000: 6.45, 3000: 3.35}}
TABLE4 = {"swwae": {100: 10.66, 600: 4.35, 1000: 3.17, 3000: 2.13},
          "unsup-sfx": {100: 17.81, 600: 8.41, 1000: 6.40, 3000: 4.76},
          "noL2M": {100: 12.41, 600: 4.63, 1000: 3.15, 3000: 2.08}}


@dataclass
class SemisupConfig:
    """Tables 4-5: N balanced labels, the rest of the training set unlabelled in the same batches."""

    dataset: str = "mnist"
    spec: str = "(64)5c-2p-(64)3c-2p-(64)3c-2p-10fc"
    n_labels: int = 100
    variant: str = "swwae"  # swwae | noL2M | unsup-sfx | baseline (lambda_L2* = 0)
    dropout: float = 0.5  # on the fc layer; 0 = "without dropout"
    lambdas: tuple[float, ...] = (0.2, 0.4, 0.8, 1.6)  # lambda_L2* grid, chosen on validation error
    compare_baseline: bool = True  # also train the same convnet with lambda_L2* = 0
    n_unlabelled: int = 49000  # drawn from the training images not labelled
    n_valid: int = 10000
    n_test: int = 10000
    epochs: int = 10
    batch_size: int = 100
    labelled_per_batch: int = 20
    lr: float = 1e-3
    label_seed: int = 0


def _semisup_run(config: SemisupConfig, ctx: RunContext, lam: float, variant: str, parts, step: int,
                 total: int) -> SWWAE:
    x_lab, y_lab, x_unl = parts
    mid = 0.0 if variant in ("noL2M", "baseline") else lam
    rec = 0.0 if variant == "baseline" else lam
    nll = 0.0 if variant == "unsup-sfx" else 1.0
    model = SWWAE(config.spec, input_size=SIZE, pooling="hard", dropout=config.dropout,
                  lambda_nll=nll, lambda_rec=rec, lambda_mid=mid, generator=_init(ctx.seed)).to(ctx.device)
    fit_config = swwae_fit_config(config.epochs, config.batch_size, config.lr)
    common = dict(generator=ctx.generator(step), callbacks=_callbacks(ctx, step, total, f"{variant} lambda={lam:g}"))
    # labelled-only training sees the labels exactly as often as the mixed batches do:
    # batches of labelled_per_batch, as many steps as a semi-supervised epoch
    semi_steps = max(1, len(x_unl) // (config.batch_size - config.labelled_per_batch))
    labelled_only = dict(common, config=swwae_fit_config(config.epochs, config.labelled_per_batch, config.lr),
                         steps_per_epoch=semi_steps)
    if variant == "baseline":
        train_swwae(model, None, x_lab, y_lab, **labelled_only)
    elif variant == "unsup-sfx":
        train_swwae(model, torch.cat([x_unl, x_lab]), config=fit_config, **common)  # unsupervised SWWAE first
        for p in model.stages.parameters():
            p.requires_grad_(False)
        model.lambda_nll, model.lambda_rec, model.lambda_mid = 1.0, 0.0, 0.0
        # then the softmax alone on the labels
        train_swwae(model, None, x_lab, y_lab, parameters=model.classifier.parameters(), **labelled_only)
    else:
        train_swwae(model, x_unl, x_lab, y_lab, config=fit_config, labelled_per_batch=config.labelled_per_batch,
                    **common)
    return model


def run_semisup(config: SemisupConfig, ctx: RunContext) -> Result:
    if config.variant not in VARIANTS:
        raise ValueError(f"variant {config.variant!r}: choose one of {', '.join(VARIANTS)}")
    if not config.lambdas or min(config.lambdas) < 0:
        raise ValueError(f"lambdas must be a non-empty grid of values >= 0, got {config.lambdas}")
    SWWAE(config.spec, input_size=SIZE)  # spec errors before loading anything
    x_train, y_train = data.images(config.dataset, "train", size=SIZE, device=ctx.device)
    labelled = data.balanced_subset(y_train, config.n_labels, n_classes=10, seed=config.label_seed).to(ctx.device)
    rest = torch.ones(len(y_train), dtype=torch.bool, device=ctx.device)
    rest[labelled] = False
    unl = torch.nonzero(rest).flatten()
    unl = unl[torch.randperm(len(unl), generator=torch.Generator().manual_seed(config.label_seed)).to(ctx.device)]
    parts = (x_train[labelled], y_train[labelled], x_train[unl[: config.n_unlabelled]])
    x_valid, y_valid = data.images(config.dataset, "valid", config.n_valid, size=SIZE, device=ctx.device)
    x_test, y_test = data.images(config.dataset, "test", config.n_test, size=SIZE, device=ctx.device)

    grid = (0.0,) if config.variant == "baseline" else ((1.0,) if config.variant == "unsup-sfx" else config.lambdas)
    jobs = [(config.variant, lam) for lam in grid]
    if config.compare_baseline and config.variant != "baseline":
        jobs.append(("baseline", 0.0))
    valid_errors: dict[str, float] = {}
    best: tuple[float, float, SWWAE] | None = None
    baseline_model = None
    for step, (variant, lam) in enumerate(jobs):
        model = _semisup_run(config, ctx, lam, variant, parts, step, len(jobs))
        error = 100 * classification_error_fraction(model, x_valid, y_valid)
        ctx.log(f"{variant} lambda_L2*={lam:g}: validation error {error:.2f}%")
        if variant == config.variant:
            valid_errors[f"{lam:g}"] = error
            if best is None or error < best[0]:
                best = (error, lam, model)
        else:
            baseline_model = model
    assert best is not None
    n = config.n_labels
    metrics = {"valid_error_percent": best[0], "per_lambda_valid_error_percent": valid_errors, "lambda_L2": best[1],
               "test_error_percent": 100 * classification_error_fraction(best[2], x_test, y_test)}
    if baseline_model is not None:
        metrics["baseline_test_error_percent"] = 100 * classification_error_fraction(baseline_model, x_test, y_test)
    paper: dict[str, object] = {}
    if config.variant == "swwae" and n in TABLE5["swwae_dropout"]:
        paper["test_error_percent"] = TABLE5["swwae_dropout" if config.dropout > 0 else "swwae_no_dropout"][n]
        paper["valid_error_percent"] = TABLE4["swwae"][n] if config.dropout > 0 else None
    elif config.variant in TABLE4 and n in TABLE4[config.variant]:
        paper["valid_error_percent"] = TABLE4[config.variant][n]
    if n in TABLE5["convnet"]:
        paper["baseline_test_error_percent" if config.variant != "baseline" else "test_error_percent"] = \
            TABLE5["convnet"][n]
    return Result(metrics, paper, {"lambdas": np.array(list(map(float, valid_errors))),
                                   "valid_error_percent": np.array(list(valid_errors.values()))},
                  notes=(f"{n} labels ({n // 10} per class), {len(parts[2])} unlabelled; errors in %. The paper's "
                         "Table 5 baseline is LeCun et al.'s convnet; ours is the same architecture with "
                         "lambda_L2* = 0. Table 4 is validation error with dropout on the fc layer."))


# ============================================================================ registry

EXPERIMENTS = [
    Experiment(
        name="zhao-unpool", title="Unpooling with 'where' vs upsampling", paper="Zhao et al. 2016, Fig. 2",
        presets={
            "smoke": UnpoolConfig(convs="(4)5c-(4)3c", pool_sizes=(2, 16), n_train=128, n_test=64, epochs=1,
                                  batch_size=32, lr=3e-3, n_show=4),
            "teach": UnpoolConfig(n_train=1024, n_test=500, epochs=2, batch_size=32, lr=3e-3),
            "paper": UnpoolConfig(),
        },
        run=run_unpool, datasets=("mnist",)),
    Experiment(
        name="zhao-translation", title="'What' and 'where' of shifted digits", paper="Zhao et al. 2016, Figs. 3-4",
        presets={
            "smoke": TranslationConfig(spec="(4)5c-(4)3c-2p-(4)3c-16p", n_train=128, epochs=1, batch_size=32,
                                       lr=3e-3, n_test=32, n_show=4),
            "teach": TranslationConfig(spec="(16)5c-(16)3c-2p-(16)3c-16p", n_train=1536, epochs=3, batch_size=32,
                                       lr=3e-3, n_test=300),
            "paper": TranslationConfig(),
        },
        run=run_translation, datasets=("mnist",)),
    Experiment(
        name="zhao-semisup", title="Semi-supervised MNIST with N labels", paper="Zhao et al. 2016, Tables 4-5",
        presets={
            "smoke": SemisupConfig(spec="(4)5c-2p-(4)3c-2p-(4)3c-2p-10fc", lambdas=(1.0,), n_unlabelled=200,
                                   n_valid=200, n_test=200, epochs=1, batch_size=50, labelled_per_batch=10),
            "teach": SemisupConfig(spec="(16)5c-2p-(16)3c-2p-(16)3c-2p-10fc", lambdas=(0.4, 1.6), n_unlabelled=3000,
                                   n_valid=1000, n_test=2000, epochs=2, batch_size=100, labelled_per_batch=20, lr=2e-3),
            "paper": SemisupConfig(),
        },
        run=run_semisup, datasets=("mnist",)),
]
