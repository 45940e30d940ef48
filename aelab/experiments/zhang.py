"""Zhang, Lee, Lee 2016, MNIST analogues: layer inversion (Figs. 4-5) and augmented classifiers (Table 1).

The paper's networks are VGG-16 (and AlexNet) trained on ImageNet ILSVRC-2012. These experiments
run an MNIST analogue: the lab's small VGG-style classifier (same-padded 3x3 convolutions + ReLU,
2x2 max pools, fully connected layers; `aelab.train.classifier`) on digits padded to 32 x 32,
trained and augmented by the paper's procedure (section 4.1: SGD with momentum 0.9 in all four
steps, mini-batches of 16 for the decoder steps and 64 for fine-tuning, the decoder steps'
learning rates chosen by Appendix A1's rule). Their numbers are not comparable with the paper's
ImageNet numbers, so a result's `paper` holds only the paper's claims; the ImageNet Table 1 is
kept here as `PAPER_TABLE1` for reference and never set beside an MNIST number.

`zhang-inversion`: the MNIST analogue is inverted from every layer (each pool_l and each fc_k)
back to the image, with fixed (SAE) and known (SWWAE) unpooling switches; the result holds an
image grid (rows = layers, columns = test images) for both and the squared L2 error per layer
on the test split. The paper's claim: with known switches the image comes back near-perfect
from every layer; with fixed switches detail is lost more and more with depth.

`zhang-augment`: the MNIST analogue fine-tuned alone (baseline) vs fine-tuned with each decoding
pathway (SAE/SWWAE x first/all/layerwise, section 4.1 steps 1-4); classification error on
training and test images. The paper's claim: every augmented network ends below the baseline
in training and in validation error.

There is no `paper` preset: the paper's setting (VGG-16 pretrained on ImageNet, fine-tuned on
the 1.28M ImageNet training images; SWWAE-all took 4-5 days on 4 Titan X GPUs) cannot run on a
CPU, and aelab does not depend on torchvision (the VGG-16 weights and an ImageNet folder loader).
The `full` preset is the largest MNIST analogue that fits in about an hour on a 2-core CPU.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np

from aelab import data
from aelab.experiments.base import Experiment, Result, RunContext
from aelab.measure.inversion import invert_images, inversion_errors
from aelab.models.augmented import VARIANTS
from aelab.train.augmented import (LrSearch, ProcedureConfig, augment, error_rate, pretrain_layerwise, step_config,
                                   train_classifier)
from aelab.train.classifier import ClassifierConfig, pretrained_classifier
from aelab.train.inversion import SWITCH_MODES, train_inverters

DATASETS = ("mnist", "digits", "mnist-basic", "mnist-bg-img", "mnist-bg-rand", "mnist-rot", "mnist-rot-bg-img")
SIZE = 32  # MNIST padded to 32 x 32 (three 2x2 pools: 32 -> 16 -> 8 -> 4)
TEACH_SPEC = "(8)3c-(8)3c-2p-(16)3c-(16)3c-2p-(32)3c-2p-64fc-10fc"
FULL_SPEC = "(32)3c-(32)3c-2p-(64)3c-(64)3c-2p-(128)3c-2p-256fc-10fc"
ANALOGUE = "MNIST analogue"

# Table 1 (VGG-16, ImageNet ILSVRC-2012, single-crop top-1 errors in %); SAE = fixed switches,
# SWWAE = known switches; "baseline" is their VGG-16 fine-tuned further without decoders.
# For reference only: ImageNet numbers, not comparable with the MNIST analogue's.
PAPER_TABLE1 = {
    "train_error_percent": {"baseline": 17.43, "SAE-first": 15.36, "SAE-all": 15.64, "SAE-layerwise": 16.20,
                            "SWWAE-first": 15.10, "SWWAE-all": 15.67, "SWWAE-layerwise": 15.42},
    "test_error_percent": {"baseline": 29.05, "SAE-first": 27.70, "SAE-all": 27.54, "SAE-layerwise": 27.60,
                           "SWWAE-first": 27.60, "SWWAE-all": 27.39, "SWWAE-layerwise": 27.53},
    "test_error_top5_percent": {"baseline": 10.07, "SAE-first": 9.28, "SAE-all": 9.17, "SAE-layerwise": 9.19,
                                "SWWAE-first": 9.23, "SWWAE-all": 9.06, "SWWAE-layerwise": 9.10},
}
# a known-switch reconstruction counts as "near-perfect" when its squared error is at most this
# share of the image's energy (mean ||x||^2 of the test images): ours, the paper's is visual
NEAR_PERFECT = 0.1

INVERSION_CLAIM = ("Zhang et al. Figs. 4-5: with known switches (SWWAE-first) the image is reconstructed almost "
                   "perfectly from every layer; with fixed switches (SAE-first, as Dosovitskiy & Brox) the details "
                   "fade more and more with depth")
AUGMENT_CLAIM = ("Zhang et al. Table 1: all six augmented networks (SAE/SWWAE x first/all/layerwise) end below the "
                 "baseline (the classifier fine-tuned without decoders) in training and in validation error")


def model_name(variant: str, switches: str) -> str:
    return f"{'SWWAE' if switches == 'known' else 'SAE'}-{variant}"


def network(config) -> str:
    return f"{ANALOGUE} of VGG-16: {config.spec} on {config.dataset} ({SIZE}x{SIZE})"


def _classifier_config(config, seed: int) -> ClassifierConfig:
    return ClassifierConfig(spec=config.spec, dataset=config.dataset, size=SIZE, n_train=config.n_train,
                            epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, optimizer="sgd",
                            seed=seed)


def _classifier(config, ctx: RunContext):
    classifier, info = pretrained_classifier(_classifier_config(config, ctx.seed), ctx.device, progress=ctx.progress,
                                             check_stop=ctx.check_stop)
    how = "cached" if info["cached"] else f"trained in {info['seconds']:.1f} s"
    ctx.log(f"{ANALOGUE} classifier {config.spec}: {how}")
    return classifier, info


def _search(config, seed: int) -> LrSearch | None:
    """Appendix A1's choice among `decoder_lrs` (None when there is one candidate)."""
    if len(config.decoder_lrs) < 2:
        return None
    return LrSearch(tuple(config.decoder_lrs), batches=config.lr_trial_batches, seed=seed)


def _check(config) -> None:
    if not config.decoder_lrs or not all(lr > 0 for lr in config.decoder_lrs):
        raise ValueError(f"option --decoder-lrs needs positive learning rates, got {config.decoder_lrs}")
    if len(config.decoder_lrs) > 1 and config.lr_trial_batches < 2:
        raise ValueError("option --lr-trial-batches must be >= 2 to choose among several --decoder-lrs")


# ----------------------------------------------------------------------------- zhang-inversion

@dataclass(frozen=True)
class InversionConfig:
    dataset: str = "mnist"
    spec: str = TEACH_SPEC
    n_train: int = 5000          # step 1: classifier training images
    epochs: int = 2              # step 1: classifier epochs
    batch_size: int = 64
    lr: float = 0.01             # step 1 (SGD, momentum 0.9)
    n_decoder: int = 3000        # images the decoders are trained on
    layerwise_epochs: int = 2    # step 2
    stacked_epochs: int = 1      # step 3, per starting layer
    decoder_batch_size: int = 64  # steps 2-3 (the paper's 16 at full; 64 keeps teach fast)
    decoder_lrs: tuple[float, ...] = (0.03, 0.1, 0.3)  # steps 2-3 (SGD, momentum 0.9): candidates
    lr_trial_batches: int = 10   # Appendix A1's trial per candidate (the paper: 2000 iterations)
    n_test: int = 1000
    n_show: int = 8


def run_inversion(config: InversionConfig, ctx: RunContext) -> Result:
    _check(config)
    classifier, info = _classifier(config, ctx)
    x, _ = data.images(config.dataset, "train", config.n_decoder, size=SIZE, device=ctx.device)
    xt, yt = data.images(config.dataset, "test", config.n_test, size=SIZE, device=ctx.device)
    layerwise = step_config(config.layerwise_epochs, config.decoder_batch_size, config.decoder_lrs[0])
    stacked = step_config(config.stacked_epochs, config.decoder_batch_size, config.decoder_lrs[0])
    search = _search(config, ctx.seed)
    errors, grids, seconds = {}, {}, {}
    for offset, switches in enumerate(SWITCH_MODES):
        started = time.perf_counter()
        inverters = train_inverters(classifier, x.shape[1:], x, switches, layerwise, stacked,
                                    generator=ctx.generator(offset), callbacks=ctx.callbacks(f"{switches} switches"),
                                    search=search)
        seconds[switches] = time.perf_counter() - started
        errors[switches] = inversion_errors(inverters, xt)
        grids[switches] = invert_images(inverters, xt[:config.n_show])
        ctx.log(f"{switches} switches: " + ", ".join(f"{k} {v:.2f}" for k, v in errors[switches].items()))
    layers = list(errors["known"])
    pooled = [name for name in layers if name.startswith("pool")]
    energy = float(xt.pow(2).flatten(1).sum(1).mean())  # mean ||x||^2 of the test images
    relative = {s: {k: v / energy for k, v in errors[s].items()} for s in SWITCH_MODES}
    fixed_pooled = [errors["fixed"][k] for k in pooled]
    metrics = {
        "network": network(config),
        "classifier_test_error_percent": error_rate(classifier, xt, yt),
        "l2_fixed": errors["fixed"], "l2_known": errors["known"],
        "relative_l2_fixed": relative["fixed"], "relative_l2_known": relative["known"],
        "image_energy": energy,
        # the target: known switches reconstruct better than fixed ones from every pooling layer
        "known_better_at_every_pooled_layer": all(errors["known"][k] < errors["fixed"][k] for k in pooled),
        "fixed_error_grows_with_depth": all(b >= a for a, b in zip(fixed_pooled, fixed_pooled[1:])),
        "known_near_perfect_at_every_layer": all(v <= NEAR_PERFECT for v in relative["known"].values()),
        "seconds_classifier": info["seconds"], "classifier_cached": info["cached"],
        "seconds_decoders": seconds,
        "chosen_lr": search.chosen if search is not None else {"every step": config.decoder_lrs[0]},
    }
    paper = {"known_better_at_every_pooled_layer": True, "fixed_error_grows_with_depth": True,
             "known_near_perfect_at_every_layer": True, "claim": INVERSION_CLAIM}
    arrays = {"images": xt[:config.n_show, 0].cpu().numpy(), "fixed": grids["fixed"], "known": grids["known"],
              "layers": np.array(layers), "l2_fixed": np.array([errors["fixed"][k] for k in layers]),
              "l2_known": np.array([errors["known"][k] for k in layers])}
    notes = (f"{ANALOGUE}: {network(config)}, not the paper's VGG-16/AlexNet on ImageNet; the paper's claims are "
             f"compared, not its numbers. L2 = mean over test images of ||x̂ - x||^2 summed over the 32x32 pixels "
             f"in [0, 1]; relative_l2 = L2 / mean ||x||^2. 'Near-perfect' (ours; the paper judges by eye): "
             f"relative error at most {NEAR_PERFECT:g}. Decoder learning rates chosen by Appendix A1's rule "
             f"(metrics.chosen_lr).")
    return Result(metrics, paper, arrays, notes)


# ----------------------------------------------------------------------------- zhang-augment

@dataclass(frozen=True)
class AugmentConfig:
    dataset: str = "mnist"
    spec: str = TEACH_SPEC
    n_train: int = 5000          # step 1: classifier training images
    epochs: int = 2              # step 1: the classifier
    batch_size: int = 64
    lr: float = 0.01             # step 1 (SGD, momentum 0.9)
    n_augment: int = 3000        # images for steps 2-4
    layerwise_epochs: int = 1    # step 2
    stacked_epochs: int = 1      # step 3
    decoder_batch_size: int = 64  # steps 2-3 (the paper's 16 at full; 64 keeps teach fast)
    decoder_lrs: tuple[float, ...] = (0.03, 0.1, 0.3)  # steps 2-3 (SGD, momentum 0.9): candidates
    lr_trial_batches: int = 10   # Appendix A1's trial per candidate (the paper: 2000 iterations)
    finetune_epochs: int = 2     # step 4 (and the baseline's further fine-tuning)
    finetune_batch_size: int = 64  # the paper's
    finetune_lr: float = 0.001   # SGD, momentum 0.9: a tenth of step 1's ("a reduced learning rate")
    lam: float = 1.0
    variants: tuple = VARIANTS
    n_eval: int = 2000           # training images the training error is measured on
    n_test: int = 2000


def run_augment(config: AugmentConfig, ctx: RunContext) -> Result:
    unknown = [v for v in config.variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    _check(config)
    classifier, info = _classifier(config, ctx)
    x, y = data.images(config.dataset, "train", config.n_augment, size=SIZE, device=ctx.device)
    xe, ye = data.images(config.dataset, "train", config.n_eval, size=SIZE, device=ctx.device)
    xt, yt = data.images(config.dataset, "test", config.n_test, size=SIZE, device=ctx.device)
    search = _search(config, ctx.seed)
    procedure = ProcedureConfig(
        layerwise=step_config(config.layerwise_epochs, config.decoder_batch_size, config.decoder_lrs[0]),
        stacked=step_config(config.stacked_epochs, config.decoder_batch_size, config.decoder_lrs[0]),
        finetune=step_config(config.finetune_epochs, config.finetune_batch_size, config.finetune_lr),
        lam=config.lam, search=search)
    train_err, test_err, seconds = {}, {}, {}

    started = time.perf_counter()
    baseline = copy.deepcopy(classifier)
    train_classifier(baseline, x, y, procedure.finetune, generator=ctx.generator(0),
                     callbacks=ctx.callbacks("baseline"), description="fine-tune")
    seconds["baseline"] = time.perf_counter() - started
    train_err["baseline"], test_err["baseline"] = error_rate(baseline, xe, ye), error_rate(baseline, xt, yt)
    ctx.log(f"baseline: train {train_err['baseline']:.2f}%  test {test_err['baseline']:.2f}%")

    for offset, switches in enumerate(("fixed", "known"), start=1):
        started = time.perf_counter()
        layerwise = pretrain_layerwise(classifier, x.shape[1:], x, switches, procedure.layerwise,
                                       generator=ctx.generator(10 * offset), callbacks=ctx.callbacks(switches),
                                       search=search)
        step2 = time.perf_counter() - started
        for v_offset, variant in enumerate(config.variants):
            started = time.perf_counter()
            name = model_name(variant, switches)
            net = augment(classifier, x.shape[1:], x, y, variant=variant, switches=switches, procedure=procedure,
                          layerwise=layerwise, generator=ctx.generator(10 * offset + v_offset + 1),
                          callbacks=ctx.callbacks(name))
            seconds[name] = step2 + time.perf_counter() - started
            train_err[name], test_err[name] = error_rate(net, xe, ye), error_rate(net, xt, yt)
            ctx.log(f"{name}: train {train_err[name]:.2f}%  test {test_err[name]:.2f}%  ({seconds[name]:.1f} s)")
    augmented = [k for k in train_err if k != "baseline"]
    metrics = {
        "network": network(config),
        "train_error_percent": train_err, "test_error_percent": test_err, "seconds": seconds,
        "every_augmented_below_baseline_train": all(train_err[k] < train_err["baseline"] for k in augmented),
        "every_augmented_below_baseline_test": all(test_err[k] < test_err["baseline"] for k in augmented),
        "n_augmented_with_lower_train_error": sum(train_err[k] < train_err["baseline"] for k in augmented),
        "n_augmented_with_lower_test_error": sum(test_err[k] < test_err["baseline"] for k in augmented),
        "n_augmented": len(augmented),
        "classifier_test_error_percent": error_rate(classifier, xt, yt), "seconds_classifier": info["seconds"],
        "chosen_lr": search.chosen if search is not None else {"every decoder step": config.decoder_lrs[0]},
    }
    paper = {"every_augmented_below_baseline_train": True, "every_augmented_below_baseline_test": True,
             "claim": AUGMENT_CLAIM}
    names = ["baseline", *augmented]
    arrays = {"models": np.array(names), "train_error_percent": np.array([train_err[k] for k in names]),
              "test_error_percent": np.array([test_err[k] for k in names])}
    notes = (f"{ANALOGUE}: {network(config)}, not the paper's VGG-16 on ImageNet; errors in % (10 classes, top-1) "
             "are this network's and are not comparable with Table 1's ImageNet errors, so only the paper's claim is "
             "compared. 'baseline' is the classifier fine-tuned further without decoders (step 4's settings), like "
             "the paper's. Training error is measured on the first n_eval training images. Seconds per augmented "
             "model include its switch mode's shared step 2 (layer-wise decoders). Decoder learning rates chosen by "
             "Appendix A1's rule (metrics.chosen_lr).")
    return Result(metrics, paper, arrays, notes)


# ----------------------------------------------------------------------------- presets

# full: the larger MNIST analogue on all 50000 training images. Time, from one epoch of each step measured on
# 1000 images x 50 (one thread, CPU seconds, while the machine was shared; 2 threads alone take about CPU-s / 1.3
# to CPU-s / 1.75): classifier 156 (batch 64); step 2 120-200 (batch 16; with the fc decoders of the inverters
# ~150); step 3 of the inverters 85 / 130 / 145 / 156 / 155 from pool1 / pool2 / pool3 / fc1 / fc2 (batch 16);
# step 3 of 'all' 148 (batch 64; ~170 assumed at batch 16); step 4 210 (batch 64); a learning-rate trial
# iteration ~0.04.
#   zhang-inversion: classifier 5 x 156 + 2 modes x (step 2 150 + step 3 2 x 671 + trials 6 x 3 x 200 x 0.04)
#                    = 780 + 2 x 1640 = about 4100 CPU-s: 40-55 min
#   zhang-augment:   classifier 780 (cached when zhang-inversion ran first: the same classifier config) +
#                    baseline 2 x 156 + 2 modes x (step 2 120 + step 3 2 x 170 + step 4 3 x 2 x 210 + trials 100)
#                    = 780 + 312 + 2 x 1820 = about 4700 CPU-s: 45-60 min (35-50 with the classifier cached)
INVERSION_PRESETS = {
    "smoke": InversionConfig(n_train=512, epochs=1, n_decoder=256, layerwise_epochs=1, stacked_epochs=1,
                             decoder_lrs=(0.03,), n_test=128, n_show=4),
    "teach": InversionConfig(),
    "full": InversionConfig(spec=FULL_SPEC, n_train=50000, epochs=5, n_decoder=50000, layerwise_epochs=1,
                            stacked_epochs=2, decoder_batch_size=16, lr_trial_batches=200, n_test=10000, n_show=10),
}
AUGMENT_PRESETS = {
    "smoke": AugmentConfig(n_train=512, epochs=1, n_augment=256, decoder_lrs=(0.03,), finetune_epochs=1, n_eval=256,
                           n_test=256),
    "teach": AugmentConfig(),
    "full": AugmentConfig(spec=FULL_SPEC, n_train=50000, epochs=5, n_augment=50000, layerwise_epochs=1,
                          stacked_epochs=1, decoder_batch_size=16, lr_trial_batches=200, finetune_epochs=2,
                          n_eval=10000, n_test=10000),
}

_NO_PAPER_PRESET = ("no paper preset: the paper's setting (VGG-16 pretrained on ImageNet ILSVRC-2012, its 1.28M "
                    "training images, 224x224 crops; days on 4 GPUs) cannot run on a CPU and needs torchvision, which "
                    "aelab does not depend on; this preset is the largest MNIST analogue that fits about an hour")
_ANALOGUE_DEVIATIONS = (
    f"{ANALOGUE}: the lab's VGG-style {FULL_SPEC} on MNIST padded to 32x32 (50000 training images) instead of "
    "VGG-16 on ImageNet; no data augmentation (the paper: random resize and 224x224 crops, mirroring)",
    "step 1 trains the classifier here (5 epochs, SGD lr 0.01, momentum 0.9, batch 64, He initialisation) instead of "
    "starting from the published pretrained VGG-16",
    "decoder learning rates: one per step for all macro-layers, chosen by Appendix A1's rule among 0.03/0.1/0.3 "
    "after 200 trial iterations (the paper: one per macro-layer after 2000 iterations); the loss weights gamma_l "
    "are 1 / dim(a_l) instead of Table A-1's",
    _NO_PAPER_PRESET,
)

EXPERIMENTS = [
    Experiment(name="zhang-inversion",
               title=f"{ANALOGUE}: inverting every layer of a classifier, fixed vs known switches",
               paper="Zhang et al. 2016, Figs. 4-5", presets=INVERSION_PRESETS, run=run_inversion,
               datasets=DATASETS,
               deviations={"full": _ANALOGUE_DEVIATIONS + (
                   "step 2: 1 epoch; step 3: 2 epochs per starting layer (the paper trains until converged; "
                   "its inverted network is AlexNet for Fig. 4 and VGG-16 up to pool5 for Fig. 5)",
                   "'near-perfect' is a relative squared error of at most 0.1 (the paper judges by eye)",
               )}),
    Experiment(name="zhang-augment",
               title=f"{ANALOGUE}: classifiers augmented with decoding pathways",
               paper="Zhang et al. 2016, Table 1", presets=AUGMENT_PRESETS, run=run_augment, datasets=DATASETS,
               deviations={"full": _ANALOGUE_DEVIATIONS + (
                   "step 2: 1 epoch, step 3: 1 epoch, step 4: 2 epochs at lr 0.001 (the paper: about 16 epochs of "
                   "step 4 for SWWAE-all on ImageNet)",
                   "errors on the MNIST test set and the first 10000 training images, not ImageNet's validation set; "
                   "only Table 1's claim (augmented below baseline) is compared",
               )}),
]
