"""Zhang, Lee, Lee 2016: layer inversion (Figs. 4-5) and augmented classifiers (Table 1).

`zhang-inversion`: the lab's small VGG-style classifier is inverted from every layer
(each pool_l and each fc_k) back to the image, with fixed (SAE) and known (SWWAE) unpooling
switches; the result holds an image grid (rows = layers, columns = test images) for both
and the squared L2 error per layer on the test split.

`zhang-augment`: the classifier fine-tuned alone (baseline) vs fine-tuned with each
decoding pathway (SAE/SWWAE x first/all/layerwise, section 4.1 steps 1-4); classification
error on training and test images, to check the paper's observation that the augmented
networks reach lower training error.
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
from aelab.train.augmented import ProcedureConfig, augment, error_rate, pretrain_layerwise, step_config, \
    train_classifier
from aelab.train.classifier import ClassifierConfig, pretrained_classifier
from aelab.train.inversion import SWITCH_MODES, train_inverters

DATASETS = ("mnist", "digits", "mnist-basic", "mnist-bg-img", "mnist-bg-rand", "mnist-rot", "mnist-rot-bg-img")
SIZE = 32  # MNIST padded to 32 x 32 (three 2x2 pools: 32 -> 16 -> 8 -> 4)
TEACH_SPEC = "(8)3c-(8)3c-2p-(16)3c-(16)3c-2p-(32)3c-2p-64fc-10fc"
PAPER_SPEC = "(32)3c-(32)3c-2p-(64)3c-(64)3c-2p-(128)3c-2p-256fc-10fc"

# Table 1 (VGGNet, ImageNet ILSVRC-2012, single-crop top-1 errors in %); SAE = fixed
# switches, SWWAE = known switches. "baseline" is their fine-tuned VGGNet row.
PAPER_TABLE1 = {
    "train_error_percent": {"baseline": 17.43, "SAE-first": 15.36, "SAE-all": 15.64, "SAE-layerwise": 16.20,
                    "SWWAE-first": 15.10, "SWWAE-all": 15.67, "SWWAE-layerwise": 15.42},
    "test_error_percent": {"baseline": 29.05, "SAE-first": 27.70, "SAE-all": 27.54, "SAE-layerwise": 27.60,
                   "SWWAE-first": 27.60, "SWWAE-all": 27.39, "SWWAE-layerwise": 27.53},
    "test_error_top5_percent": {"baseline": 10.07, "SAE-first": 9.28, "SAE-all": 9.17, "SAE-layerwise": 9.19,
                        "SWWAE-first": 9.23, "SWWAE-all": 9.06, "SWWAE-layerwise": 9.10},
    "n_augmented_with_lower_train_error": 6,
}


def model_name(variant: str, switches: str) -> str:
    return f"{'SWWAE' if switches == 'known' else 'SAE'}-{variant}"


def _classifier_config(config, seed: int) -> ClassifierConfig:
    return ClassifierConfig(spec=config.spec, dataset=config.dataset, size=SIZE, n_train=config.n_train,
                            epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, seed=seed)


def _classifier(config, ctx: RunContext):
    classifier, info = pretrained_classifier(_classifier_config(config, ctx.seed), ctx.device, progress=ctx.progress,
                                             check_stop=ctx.check_stop)
    how = "cached" if info["cached"] else f"trained in {info['seconds']:.1f} s"
    ctx.log(f"classifier {config.spec}: {how}")
    return classifier, info


# ----------------------------------------------------------------------------- zhang-inversion

@dataclass(frozen=True)
class InversionConfig:
    dataset: str = "mnist"
    spec: str = TEACH_SPEC
    n_train: int = 5000          # classifier training images
    epochs: int = 2              # classifier epochs
    batch_size: int = 64
    lr: float = 2e-3             # classifier (Adam)
    n_decoder: int = 3000        # images the decoders are trained on
    layerwise_epochs: int = 2    # step 2
    stacked_epochs: int = 1      # step 3, per starting layer
    decoder_lr: float = 2e-3     # decoders (Adam)
    n_test: int = 1000
    n_show: int = 8


def run_inversion(config: InversionConfig, ctx: RunContext) -> Result:
    classifier, info = _classifier(config, ctx)
    x, _ = data.images(config.dataset, "train", config.n_decoder, size=SIZE, device=ctx.device)
    xt, yt = data.images(config.dataset, "test", config.n_test, size=SIZE, device=ctx.device)
    layerwise = step_config(config.layerwise_epochs, config.batch_size, config.decoder_lr, "adam")
    stacked = step_config(config.stacked_epochs, config.batch_size, config.decoder_lr, "adam")
    errors, grids, seconds = {}, {}, {}
    for offset, switches in enumerate(SWITCH_MODES):
        started = time.perf_counter()
        inverters = train_inverters(classifier, x.shape[1:], x, switches, layerwise, stacked,
                                    generator=ctx.generator(offset), callbacks=ctx.callbacks(f"{switches} switches"))
        seconds[switches] = time.perf_counter() - started
        errors[switches] = inversion_errors(inverters, xt)
        grids[switches] = invert_images(inverters, xt[:config.n_show])
        ctx.log(f"{switches} switches: " + ", ".join(f"{k} {v:.2f}" for k, v in errors[switches].items()))
    layers = list(errors["known"])
    pooled = [name for name in layers if name.startswith("pool")]
    known = [errors["known"][name] for name in layers]
    metrics = {
        "classifier_test_error_percent": error_rate(classifier, xt, yt),
        "l2_fixed": errors["fixed"], "l2_known": errors["known"],
        "known_better_at_every_pooled_layer": all(errors["known"][k] < errors["fixed"][k] for k in pooled),
        "known_error_grows_with_depth": all(b >= a for a, b in zip(known, known[1:])),
        "seconds_classifier": info["seconds"], "classifier_cached": info["cached"],
        "seconds_decoders": seconds,
    }
    paper = {"known_better_at_every_pooled_layer": True, "known_error_grows_with_depth": True,
             "l2_known_pool5_vgg16_imagenet": 513.4}
    arrays = {"images": xt[:config.n_show, 0].cpu().numpy(), "fixed": grids["fixed"], "known": grids["known"],
              "layers": np.array(layers), "l2_fixed": np.array([errors["fixed"][k] for k in layers]),
              "l2_known": np.array(known)}
    notes = ("L2 = mean over test images of ||x̂ - x||^2 summed over the 32x32 pixels in [0, 1]. The paper's "
             "513.4 is for VGG-16 pool5 -> 224x224 RGB ImageNet images (Fig. A-3), not comparable in scale.")
    return Result(metrics, paper, arrays, notes)


# ----------------------------------------------------------------------------- zhang-augment

@dataclass(frozen=True)
class AugmentConfig:
    dataset: str = "mnist"
    spec: str = TEACH_SPEC
    n_train: int = 5000          # classifier training images
    epochs: int = 2              # step 1: the classifier
    batch_size: int = 64
    lr: float = 2e-3
    n_augment: int = 3000        # images for steps 2-4
    layerwise_epochs: int = 1    # step 2
    stacked_epochs: int = 1      # step 3
    decoder_lr: float = 2e-3
    finetune_epochs: int = 2     # step 4 (and the baseline's further fine-tuning)
    finetune_lr: float = 0.003   # SGD, momentum 0.9: a reduced learning rate, as in step 4
    lam: float = 1.0
    variants: tuple = VARIANTS
    n_eval: int = 2000           # training images the training error is measured on
    n_test: int = 2000


def run_augment(config: AugmentConfig, ctx: RunContext) -> Result:
    unknown = [v for v in config.variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    classifier, info = _classifier(config, ctx)
    x, y = data.images(config.dataset, "train", config.n_augment, size=SIZE, device=ctx.device)
    xe, ye = data.images(config.dataset, "train", config.n_eval, size=SIZE, device=ctx.device)
    xt, yt = data.images(config.dataset, "test", config.n_test, size=SIZE, device=ctx.device)
    procedure = ProcedureConfig(layerwise=step_config(config.layerwise_epochs, config.batch_size, config.decoder_lr,
                                                      "adam"),
                                stacked=step_config(config.stacked_epochs, config.batch_size, config.decoder_lr,
                                                    "adam"),
                                finetune=step_config(config.finetune_epochs, config.batch_size, config.finetune_lr),
                                lam=config.lam)
    train_err, test_err, seconds = {}, {}, {}

    started = time.perf_counter()
    baseline = copy.deepcopy(classifier)
    train_classifier(baseline, x, y, procedure.finetune, generator=ctx.generator(0),
                     callbacks=ctx.callbacks("baseline"), description="fine-tune")
    seconds["baseline"] = time.perf_counter() - started
    train_err["baseline"], test_err["baseline"] = error_rate(baseline, xe, ye), error_rate(baseline, xt, yt)

    for offset, switches in enumerate(("fixed", "known"), start=1):
        started = time.perf_counter()
        layerwise = pretrain_layerwise(classifier, x.shape[1:], x, switches, procedure.layerwise,
                                       generator=ctx.generator(10 * offset), callbacks=ctx.callbacks(switches))
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
        "train_error_percent": train_err, "test_error_percent": test_err, "seconds": seconds,
        "n_augmented_with_lower_train_error": sum(train_err[k] < train_err["baseline"] for k in augmented),
        "classifier_test_error_percent": error_rate(classifier, xt, yt), "seconds_classifier": info["seconds"],
    }
    names = ["baseline", *augmented]
    arrays = {"models": np.array(names), "train_error_percent": np.array([train_err[k] for k in names]),
              "test_error_percent": np.array([test_err[k] for k in names])}
    notes = ("Errors in % (10 classes, top-1). Paper: VGG-16 on ImageNet, single-crop top-1 (top-5 for reference); "
             "its 'baseline' is the VGGNet fine-tuned further without decoders, like ours. "
             "n_augmented_with_lower_train_error counts the augmented models with lower training error than the "
             "baseline. "
             "seconds per augmented model include its switch mode's shared step 2 (layer-wise decoders).")
    return Result(metrics, PAPER_TABLE1, arrays, notes)


# ----------------------------------------------------------------------------- presets

INVERSION_PRESETS = {
    "smoke": InversionConfig(n_train=512, epochs=1, n_decoder=256, layerwise_epochs=1, stacked_epochs=1,
                             n_test=128, n_show=4),
    "teach": InversionConfig(),
    "paper": InversionConfig(spec=PAPER_SPEC, n_train=50000, epochs=10, lr=1e-3, n_decoder=50000,
                             layerwise_epochs=5, stacked_epochs=5, decoder_lr=1e-3, n_test=10000, n_show=10),
}
AUGMENT_PRESETS = {
    "smoke": AugmentConfig(n_train=512, epochs=1, n_augment=256, finetune_epochs=1, n_eval=256, n_test=256),
    "teach": AugmentConfig(),
    "paper": AugmentConfig(spec=PAPER_SPEC, n_train=50000, epochs=10, lr=1e-3, n_augment=50000,
                           layerwise_epochs=3, stacked_epochs=3, decoder_lr=1e-3, finetune_epochs=5,
                           finetune_lr=1e-3, n_eval=10000, n_test=10000),
}

EXPERIMENTS = [
    Experiment(name="zhang-inversion", title="Inverting every layer of a classifier: fixed vs known switches",
               paper="Zhang et al. 2016, Figs. 4-5", presets=INVERSION_PRESETS, run=run_inversion,
               datasets=DATASETS),
    Experiment(name="zhang-augment", title="Classifiers augmented with decoding pathways",
               paper="Zhang et al. 2016, Table 1", presets=AUGMENT_PRESETS, run=run_augment, datasets=DATASETS),
]
