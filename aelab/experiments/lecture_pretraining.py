"""Why does unsupervised pretraining help? `lecture-pretraining` (lecture slides "Unsupervised
pretraining", "Demo" (Erhan et al. 2010), "Drawbacks").

1. Many networks of one MLP architecture (seeds 0..S-1) are trained in three arms: from the
   random initialisation ("random"), after greedy layer-wise denoising pretraining
   ("denoising": `train_layerwise` on a stacked DAE, masking noise), and after greedy
   supervised layer-wise pretraining ("supervised": each new layer is trained alone, with a
   temporary softmax on top, on the fixed codes of the layers below; then the next layer is
   added). Every arm starts from the same initial weights of seed s. The distribution of their
   test errors (percent) measures the lecture's "Work often better" and "initializes
   optimization from more favorable initial approximation": the lab checks that pretraining
   lowers the mean and the spread (the lecture gives no numbers and says nothing of the spread).
2. Trajectories in function space (the lecture's "Demo", from Erhan et al. 2010: "Model
   predictions were transformed to 2D using Isomap", "Color indicates epoch of neural net
   training"): after every fine-tuning epoch, each network's softmax outputs on a fixed set of
   test inputs are concatenated into one vector; all vectors of all networks and epochs are
   embedded in 2-D with Isomap.
3. The hybrid loss L_discriminative + alpha L_generative of the "Drawbacks" slide: fine-tuning
   minimises the classification cross-entropy plus alpha times the reconstruction error of the
   first layer's (tied) decoder on the clean input (the lab's choice of L_generative; the
   lecture cites Larochelle and Bengio 2008 for the loss); alpha = 0 is plain supervised
   training. It is used in the fine-tuning of every arm.

Fine-tuning runs a fixed number of epochs (Adam), so every network has a trajectory of the same
length; the test error is that of the last epoch. Every preset is the lab's choice (the lecture
gives no settings beyond its experiment's three layers and masking 0.25); `paper` is a longer run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aelab.data import splits
from aelab.experiments.base import Experiment, Result, RunContext
from aelab.experiments.vincent import init_generator
from aelab.models.dense import DeepAutoencoder, flat
from aelab.models.registry import build_model
from aelab.train.finetune import EncoderClassifier
from aelab.train.loop import Callbacks, FitConfig, fit
from aelab.train.schemes import train_layerwise

ARMS = ("random", "denoising", "supervised")


@dataclass
class PretrainingConfig:
    dataset: str = "mnist"
    n_train: int = 5000
    n_valid: int = 1000
    n_test: int = 2000
    hidden: tuple[int, ...] = (256, 256)
    n_seeds: int = 5  # networks per arm
    pretrain_epochs: int = 1  # per layer, denoising and supervised
    epochs: int = 4  # fine-tuning epochs (fixed: every trajectory has this length)
    batch_size: int = 100
    lr: float = 2e-3  # Adam, fine-tuning and supervised pretraining
    pretrain_lr: float = 2e-3  # Adam, denoising pretraining
    noise: str = "masking:0.25"
    alpha: float = 0.0  # weight of the generative term in fine-tuning; 0 = plain supervised
    n_trajectory: int = 200  # test inputs whose outputs make a network's point in function space
    neighbours: int = 10  # Isomap's n_neighbors

    def check(self) -> None:
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden must list positive layer widths, got {self.hidden}")
        if self.n_seeds < 2:
            raise ValueError("n_seeds must be at least 2 (a spread needs two networks)")


def build_network(n_visible: int, config: PretrainingConfig, seed: int) -> DeepAutoencoder:
    """The stacked DAE whose encoder is the MLP; the same initial weights for a seed in every arm."""
    return build_model("deep", sizes=[n_visible, *map(int, config.hidden)], noise=config.noise,
                       generator=init_generator(seed))


def hybrid_loss(classifier: EncoderClassifier, alpha: float):
    """L = cross-entropy(softmax(V h^N(x)), y) + alpha * L_rec(x, g_1(h^1(x))): the first layer's
    decoder reconstructs the clean input. With alpha = 0 the total is the cross-entropy alone."""
    alpha = float(alpha)
    layers = classifier.encoder.layers

    def loss(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        x = flat(x)
        h1 = layers[0].encode(x)
        h = h1
        for layer in layers[1:]:
            h = layer.encode(h)
        nll = F.cross_entropy(classifier.output(h), y)
        if alpha == 0:
            return {"classification": nll, "total": nll}
        reconstruction = layers[0].reconstruction_loss(x, layers[0].decode_preactivation(h1)).mean()
        return {"classification": nll, "reconstruction": reconstruction, "total": nll + alpha * reconstruction}

    return loss


class _LayerWithHead(nn.Module):
    """One encoder layer with a temporary softmax layer on top (supervised layer-wise pretraining)."""

    def __init__(self, layer: nn.Module, n_classes: int):
        super().__init__()
        self.layer = layer
        self.head = nn.Linear(layer.n_hidden, n_classes)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def loss(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None):
        nll = F.cross_entropy(self.head(self.layer.encode(x)), y)
        return {"classification": nll, "total": nll}


def supervised_pretrain(model: DeepAutoencoder, x: torch.Tensor, y: torch.Tensor, config: FitConfig, n_classes: int,
                        *, generator: torch.Generator | None = None,
                        callbacks: Callbacks | None = None) -> list[dict[str, float]]:
    """Greedy supervised layer-wise pretraining: layer k (its encoder W, b only) and a temporary
    softmax are trained on the fixed clean codes of layers 1..k-1; the softmax is then dropped."""
    callbacks = callbacks or Callbacks()
    codes, history = flat(x), []
    for k, layer in enumerate(model.layers, start=1):
        stage = _LayerWithHead(layer, n_classes).to(codes.device)
        history += fit(stage, stage.loss, (codes, y), config, parameters=[layer.W, layer.b, *stage.head.parameters()],
                       generator=generator, callbacks=callbacks.tagged(phase="supervised-layerwise", layer=k),
                       first_epoch=1 + len(history), description=f"supervised layer {k}/{model.depth}")
        with torch.no_grad():
            codes = torch.cat([layer.encode(codes[i:i + 5000]) for i in range(0, codes.shape[0], 5000)])
    return history


def isomap_embedding(vectors: np.ndarray, neighbours: int) -> np.ndarray:
    """2-D Isomap of the rows of `vectors` (one row per network and epoch)."""
    import warnings

    from sklearn.manifold import Isomap

    n = len(vectors)
    with warnings.catch_warnings():  # a disconnected neighbour graph is completed by sklearn: fine here
        warnings.simplefilter("ignore")
        return Isomap(n_neighbors=max(1, min(neighbours, n - 2)), n_components=2).fit_transform(
            vectors.astype(np.float64)).astype(np.float32)


def run_pretraining(config: PretrainingConfig, ctx: RunContext) -> Result:
    started = time.perf_counter()
    train, valid, test = splits(config.dataset, ctx.device, config.n_train, config.n_valid, config.n_test)
    x, y = flat(train.x), train.y
    n_visible = x.shape[1]
    n_classes = int(max(train.y.max(), valid.y.max(), test.y.max())) + 1
    probe = flat(test.x[:config.n_trajectory])
    pre = FitConfig(epochs=config.pretrain_epochs, batch_size=config.batch_size, optimizer="adam",
                    lr=config.pretrain_lr)
    sup = FitConfig(epochs=config.pretrain_epochs, batch_size=config.batch_size, optimizer="adam", lr=config.lr)
    tune = FitConfig(epochs=config.epochs, batch_size=config.batch_size, optimizer="adam", lr=config.lr)

    errors = {arm: [] for arm in ARMS}
    valid_errors = {arm: [] for arm in ARMS}
    outputs, arm_of, seed_of, epoch_of, curves = [], [], [], [], []
    for a, arm in enumerate(ARMS):
        for seed in range(config.n_seeds):
            seed_id = ctx.seed * 1000 + seed
            label = f"{arm} #{seed}"
            model = build_network(n_visible, config, seed_id).to(ctx.device)
            if arm == "denoising":
                train_layerwise(model, x, pre, generator=ctx.generator(100 + seed),
                                callbacks=ctx.callbacks(f"{label} pretraining"))
            elif arm == "supervised":
                supervised_pretrain(model, x, y, sup, n_classes, generator=ctx.generator(200 + seed),
                                    callbacks=ctx.callbacks(f"{label} pretraining"))
            classifier = EncoderClassifier(model, n_classes).to(ctx.device)
            curve: list[float] = []

            def record(epoch, metrics, classifier=classifier, curve=curve, a=a, seed=seed):
                with torch.no_grad():
                    outputs.append(torch.softmax(classifier(probe), 1).reshape(-1).cpu().numpy())
                arm_of.append(a)
                seed_of.append(seed)
                epoch_of.append(epoch)
                curve.append(100.0 * float(classifier.error_fraction(test.x, test.y)))

            # `record` reads the network after every epoch (its point in function space, its test error): a
            # restored stage could not replay that, so fine-tuning is trained again on resume (its pretraining
            # is restored, and the same generator makes the same run)
            fit(classifier, hybrid_loss(classifier, config.alpha), (x, y), tune, generator=ctx.generator(300 + seed),
                callbacks=ctx.callbacks(f"{label} fine-tuning", on_epoch=record, resumable=False),
                description=f"{label} fine-tuning")
            errors[arm].append(curve[-1] if curve else 100.0 * float(classifier.error_fraction(test.x, test.y)))
            valid_errors[arm].append(100.0 * float(classifier.error_fraction(valid.x, valid.y)))
            curves.append(curve)
            ctx.check_stop()

    vectors = np.stack(outputs)
    embedding = isomap_embedding(vectors, config.neighbours)
    arrays = {"test_errors_percent": np.array([errors[arm] for arm in ARMS], dtype=np.float64),
              "valid_errors_percent": np.array([valid_errors[arm] for arm in ARMS], dtype=np.float64),
              "test_error_curves_percent": np.array(curves, dtype=np.float64).reshape(len(ARMS), config.n_seeds, -1),
              "embedding": embedding, "embedding_arm": np.array(arm_of, dtype=np.int64),
              "embedding_seed": np.array(seed_of, dtype=np.int64),
              "embedding_epoch": np.array(epoch_of, dtype=np.int64)}
    metrics: dict[str, object] = {}
    for arm in ARMS:
        e = np.asarray(errors[arm])
        metrics[f"{arm}_test_error_mean_percent"] = float(e.mean())
        metrics[f"{arm}_test_error_std_percent"] = float(e.std(ddof=1))
        metrics[f"{arm}_test_errors_percent"] = [float(v) for v in e]
    metrics["pretraining_lowers_mean"] = bool(metrics["denoising_test_error_mean_percent"]
                                              < metrics["random_test_error_mean_percent"])
    metrics["pretraining_lowers_spread"] = bool(metrics["denoising_test_error_std_percent"]
                                                < metrics["random_test_error_std_percent"])
    metrics["supervised_pretraining_lowers_mean"] = bool(metrics["supervised_test_error_mean_percent"]
                                                         < metrics["random_test_error_mean_percent"])
    metrics["networks"] = len(ARMS) * config.n_seeds
    metrics["function_space_dimension"] = int(vectors.shape[1])
    metrics["seconds"] = time.perf_counter() - started
    paper = {"pretraining_lowers_mean": True, "pretraining_lowers_spread": True}
    notes = (f"{config.n_seeds} networks per arm ({'-'.join(map(str, [n_visible, *config.hidden, n_classes]))}, "
             f"sigmoid units); 'denoising' = greedy layer-wise DAE pretraining ({config.noise}), 'supervised' = "
             "greedy layer-wise training with a temporary softmax on each new layer; then "
             f"{config.epochs} epochs of fine-tuning of every network with cross-entropy + alpha x the first "
             f"layer's reconstruction (alpha = {config.alpha:g}). Spread = standard deviation over seeds. Function "
             f"space: each network's softmax outputs on {len(probe)} test images after every fine-tuning epoch, "
             "one vector each, embedded in 2-D by Isomap (Erhan et al. 2010).")
    return Result(metrics=metrics, paper=paper, arrays=arrays, notes=notes)


# full: every MNIST training image, three layers of 1000 units. Times from a run on 10000 images with 2 seeds
# (one torch thread, single-threaded BLAS, process CPU time; the machine was shared, so its wall time was no
# measure), scaled to 50000: a fine-tuning epoch about 12.5 s (with the test error and function-space point
# recorded after it), a denoising pretraining epoch about 12 s a layer, a supervised one about 6 s. Per seed:
# 3 arms x 10 fine-tuning epochs + 3 layers x 3 epochs of each pretraining, about 540 s; 5 seeds about 45 min.
PRETRAINING_FULL = PretrainingConfig(n_train=50000, n_valid=10000, n_test=10000, hidden=(1000, 1000, 1000), n_seeds=5,
                                     pretrain_epochs=3, epochs=10, batch_size=50, lr=1e-3, pretrain_lr=1e-3,
                                     n_trajectory=1000)

EXPERIMENTS = [
    Experiment(
        name="lecture-pretraining",
        title="Unsupervised pretraining: test-error spread and trajectories in function space",
        paper="Autoencoder lecture: unsupervised pretraining (Erhan et al. 2010), the hybrid loss",
        run=run_pretraining, datasets=("mnist", "digits"),
        presets={"smoke": PretrainingConfig(dataset="digits", n_train=300, n_valid=100, n_test=100, hidden=(32, 32),
                                            n_seeds=2, pretrain_epochs=2, epochs=4, batch_size=20, lr=0.01,
                                            pretrain_lr=0.01, n_trajectory=20, neighbours=4),
                 "teach": PretrainingConfig(),
                 "full": PRETRAINING_FULL,
                 "paper": PretrainingConfig(n_train=50000, n_valid=10000, n_test=10000, hidden=(1000, 1000, 1000),
                                            n_seeds=20, pretrain_epochs=10, epochs=30, batch_size=50, lr=1e-3,
                                            pretrain_lr=1e-3, n_trajectory=1000)},
        deviations={"full": (
            "three hidden layers pretrained as denoising autoencoders with masking noise 0.25, as in the lecture's "
            "experiment (Glorot et al. 2011: '3 hidden layers stacked denoising autoencoder', 'binary mask with 0.25 "
            f"probability of zero'); their widths ({', '.join(map(str, PRETRAINING_FULL.hidden))}) and sigmoid units "
            "are the lab's choice (the lecture does not state the units; the cited paper's title is 'Deep Sparse "
            "Rectifier Neural Networks')",
            f"{PRETRAINING_FULL.n_seeds} networks per arm (the lecture's demo: 'Many random initializations were "
            "considered')",
            "the claims 'pretraining lowers the mean and the spread of the test error' are the lab's reading of "
            "'Work often better' and 'initializes optimization from more favorable initial approximation'",
            "supervised arm: each new layer is trained with a temporary softmax on the fixed layers below, then "
            "the whole network is fine-tuned once (the lecture: 'Learn layer, fix it, learn next layer, etc.', "
            "refit 'once after all layers were pretrained'); the temporary softmax is the lab's choice",
            f"pretraining {PRETRAINING_FULL.pretrain_epochs} epochs per layer, fine-tuning a fixed "
            f"{PRETRAINING_FULL.epochs} epochs by Adam (lr {PRETRAINING_FULL.lr:g}, batch "
            f"{PRETRAINING_FULL.batch_size}) without early stopping, on MNIST's 50000 training images: the lab's "
            "choice",
            f"function space: softmax outputs on {PRETRAINING_FULL.n_trajectory} test images after every epoch "
            "(the lab's choice), embedded by Isomap as in the lecture's demo",
            f"hybrid loss weight alpha = {PRETRAINING_FULL.alpha:g} (plain cross-entropy); the lecture gives "
            "L_discriminative + alpha L_generative without a weight or a form of L_generative (here: the first "
            "layer's reconstruction error)",
        ), "paper": (
            "three hidden layers of 1000 units pretrained as denoising autoencoders with masking noise 0.25 (the "
            "lecture's experiment, Glorot et al. 2011); the widths and sigmoid units are the lab's choice (the "
            "lecture does not state the units; the cited paper's title is 'Deep Sparse Rectifier Neural Networks')",
            "20 networks per arm; pretraining 10 epochs per layer, fine-tuning a fixed 30 epochs by Adam (lr 1e-3, "
            "batch 50) without early stopping: the lab's choice",
            "the claims 'pretraining lowers the mean and the spread of the test error' are the lab's reading of "
            "'Work often better' and 'initializes optimization from more favorable initial approximation'",
            "hybrid loss weight alpha = 0 (plain cross-entropy); the lecture gives L_discriminative + alpha "
            "L_generative without a weight or a form of L_generative",
        )}),
]
