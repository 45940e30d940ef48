"""Training schemes for deep autoencoders (Zhou et al., sec. III-IV; Vincent et al. sec. 2.4).

- `L`  greedy layer-wise: layer k is trained alone on the clean codes of the layers below;
       corruption is used only while training (Vincent 2.4).
- `J`  joint (Zhou eq. 8) from a random initialisation: corrupt the input and every hidden
       output, one reconstruction loss against the input, per-layer regularisers.
- `U`  layer-wise, then joint training without any regulariser (no corruption either).
- `UJ` layer-wise, then joint training with the regularisers (eq. 8).

Every scheme records, each epoch, the train and test reconstruction error measured in
input space (through the layers trained so far), so curves of all schemes compare.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch

from aelab.models.dense import Autoencoder, DeepAutoencoder, flat
from aelab.train.loop import FitConfig, fit

SCHEMES = ("L", "J", "U", "UJ")

EpochCallback = Callable[[int, dict[str, float]], None]


def _evaluator(model: DeepAutoencoder, x_train: torch.Tensor, x_test: torch.Tensor | None, depth: int | None):
    def evaluate() -> dict[str, torch.Tensor]:
        out = {"train_reconstruction_input": model.reconstruction_error(x_train, depth)}
        if x_test is not None:
            out["test_reconstruction_input"] = model.reconstruction_error(x_test, depth)
        return out
    return evaluate


def train_layerwise(model: DeepAutoencoder, x: torch.Tensor, config: FitConfig, *,
                    x_eval: torch.Tensor | None = None, x_test: torch.Tensor | None = None,
                    generator: torch.Generator | None = None, on_epoch: EpochCallback | None = None,
                    progress=None, check_stop=None, first_epoch: int = 1) -> list[dict[str, float]]:
    """Greedy layer-wise training: `config.epochs` epochs per layer, bottom to top.

    x_eval: clean training examples on which the input-space error is measured (default x).
    """
    x = flat(x)
    x_eval = x if x_eval is None else flat(x_eval)
    history: list[dict[str, float]] = []
    codes = x
    for k, layer in enumerate(model.layers, start=1):
        def tag(epoch: int, metrics: dict[str, float], k: int = k) -> None:
            metrics.update(phase="layerwise", layer=k)
            if on_epoch is not None:
                on_epoch(epoch, metrics)

        history += fit(layer, layer.loss, codes, config, generator=generator,
                       evaluate=_evaluator(model, x_eval, x_test, depth=k), on_epoch=tag,
                       progress=progress, check_stop=check_stop, first_epoch=first_epoch + len(history),
                       description=f"layer {k}/{model.depth}")
        with torch.no_grad():  # the clean codes of this layer feed the next one
            codes = torch.cat([layer.encode(codes[i:i + 5000]) for i in range(0, codes.shape[0], 5000)])
    return history


def train_joint(model: DeepAutoencoder, x: torch.Tensor, config: FitConfig, *, regularised: bool = True,
                x_eval: torch.Tensor | None = None, x_test: torch.Tensor | None = None,
                generator: torch.Generator | None = None, on_epoch: EpochCallback | None = None,
                progress=None, check_stop=None, first_epoch: int = 1) -> list[dict[str, float]]:
    """Joint training of all layers (Zhou eq. 8); `regularised=False` drops noise and penalties."""
    x = flat(x)
    x_eval = x if x_eval is None else flat(x_eval)
    phase = "joint" if regularised else "joint-unregularised"

    def tag(epoch: int, metrics: dict[str, float]) -> None:
        metrics.update(phase=phase, layer=model.depth)
        if on_epoch is not None:
            on_epoch(epoch, metrics)

    def loss(xb: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        return model.loss(xb, generator, regularised=regularised)

    return fit(model, loss, x, config, generator=generator, evaluate=_evaluator(model, x_eval, x_test, None),
               on_epoch=tag, progress=progress, check_stop=check_stop, first_epoch=first_epoch,
               description=f"joint ({phase})")


def train_scheme(scheme: str, model: DeepAutoencoder, x: torch.Tensor, config: FitConfig, *,
                 joint_config: FitConfig | None = None, **kwargs) -> list[dict[str, float]]:
    """Train `model` with scheme L, J, U or UJ. `config` drives the layer-wise phase (epochs per
    layer) and, unless `joint_config` is given, the joint phase too."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    joint_config = joint_config or config
    if scheme == "J":
        return train_joint(model, x, joint_config, **kwargs)
    history = train_layerwise(model, x, config, **kwargs)
    if scheme == "L":
        return history
    kwargs["first_epoch"] = kwargs.get("first_epoch", 1) + len(history)
    return history + train_joint(model, x, joint_config, regularised=(scheme == "UJ"), **kwargs)


# --- one model from flags (`aelab train`) -----------------------------------------------------
MODELS = ("ae", "dae", "cae", "sparse")


@dataclass
class TrainConfig:
    """What `aelab train` trains: one autoencoder layer on a dataset."""

    model: str = "dae"  # ae | dae | cae | sparse
    dataset: str = "mnist"
    hidden: int = 1000
    noise: str = "masking:0.25"  # used by dae
    contractive: float = 0.1  # used by cae
    sparsity: float = 0.1  # KL weight, used by sparse (target rate 0.05)
    epochs: int = 2
    batch_size: int = 100
    optimizer: str = "rmsprop"
    lr: float = 1e-3
    n_train: int = 0  # 0 = the whole training split

    def build(self, n_visible: int, generator: torch.Generator | None = None) -> Autoencoder:
        if self.model not in MODELS:
            raise ValueError(f"model {self.model!r} is unknown; choose one of {', '.join(MODELS)}")
        kw: dict = {"noise": None}
        if self.model == "dae":
            kw["noise"] = self.noise
        elif self.model == "cae":
            kw["contractive"] = self.contractive
        elif self.model == "sparse":
            kw["sparsity_kl"] = self.sparsity
        return Autoencoder(n_visible, self.hidden, generator=generator, **kw)


def train_one(config: TrainConfig, out: str | Path, *, device: torch.device, seed: int = 0,
              resume: str | Path | None = None, progress=None, log=print) -> dict:
    """Train one model, writing `out/weights.safetensors`, `out/config.json` after every good
    epoch and `out/record.json` at the end; returns the record's metrics.
    `resume`: a checkpoint folder whose weights (and epoch count) training continues from."""
    from aelab import data
    from aelab.train.checkpoints import load_config, load_into, save_checkpoint
    from aelab.train.records import write_record

    fit_config = FitConfig(epochs=config.epochs, batch_size=config.batch_size, optimizer=config.optimizer, lr=config.lr)
    fit_config.check()
    train = data.load(config.dataset, "train", seed=seed)
    train = (train.subset(slice(0, config.n_train)) if config.n_train else train).to(device)
    test = data.load(config.dataset, "test", seed=seed).subset(slice(0, 10000)).to(device)
    model = config.build(train.n_features, torch.Generator().manual_seed(seed))
    done = 0
    if resume is not None:
        extra = load_into(model, resume)  # checks names and shapes before any training
        done = int(extra["epochs_done"].item()) if "epochs_done" in extra else int(load_config(resume).get("epochs_done", 0))
        log(f"resuming from {resume} after {done} epochs")
    model.to(device)
    out = Path(out)
    started = time.perf_counter()

    def checkpoint(epoch: int) -> None:
        save_checkpoint(out, model, {**asdict(config), "epochs_done": epoch},
                        extra={"epochs_done": torch.tensor(epoch)})

    def report(epoch: int, metrics: dict[str, float]) -> None:
        log(f"epoch {epoch}: train loss {metrics['train_loss']:.4f}, test reconstruction "
            f"{metrics['test_reconstruction']:.4f} ({metrics['seconds']:.1f} s)")

    history = fit(model, model.loss, train.x, fit_config, generator=torch.Generator(device).manual_seed(seed + done),
                  evaluate=lambda: {"test_reconstruction": model.reconstruction_error(test.x)},
                  on_epoch=report, progress=progress, checkpoint=checkpoint, first_epoch=done + 1,
                  description=f"{config.model} {train.n_features}-{config.hidden}")
    metrics = {"train_loss": history[-1]["train_loss"] if history else None,
               "test_reconstruction": history[-1]["test_reconstruction"] if history else None,
               "seconds_per_epoch": [h["seconds"] for h in history], "epochs_done": done + len(history),
               "history": history}
    write_record(out / "record.json", config=config, seed=seed, metrics=metrics,
                 seconds=time.perf_counter() - started, device=device, resumed_from=str(resume) if resume else None)
    return metrics
