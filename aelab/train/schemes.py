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

import contextlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from aelab.errors import UsageError
from aelab.models.dense import Autoencoder, DeepAutoencoder, flat
from aelab.models.registry import build_model, make_config
from aelab.train.fast import fused_loss
from aelab.train.loop import OPTIMIZERS, Callbacks, FitConfig, fit

SCHEMES = ("L", "J", "U", "UJ")

def _evaluator(model: DeepAutoencoder, x_train: torch.Tensor, x_test: torch.Tensor | None, depth: int | None):
    def evaluate() -> dict[str, torch.Tensor]:
        out = {"train_reconstruction_input": model.reconstruction_error(x_train, depth)}
        if x_test is not None:
            out["test_reconstruction_input"] = model.reconstruction_error(x_test, depth)
        return out
    return evaluate


def train_layerwise(model: DeepAutoencoder, x: torch.Tensor, config: FitConfig, *,
                    x_eval: torch.Tensor | None = None, x_test: torch.Tensor | None = None,
                    generator: torch.Generator | None = None, callbacks: Callbacks | None = None,
                    first_epoch: int = 1) -> list[dict[str, float]]:
    """Greedy layer-wise training: `config.epochs` epochs per layer, bottom to top.

    x_eval: clean training examples on which the input-space error is measured (default x).
    """
    x = flat(x)
    x_eval = x if x_eval is None else flat(x_eval)
    callbacks = callbacks or Callbacks()
    history: list[dict[str, float]] = []
    codes = x
    for k, layer in enumerate(model.layers, start=1):
        history += fit(layer, layer.loss, codes, config, generator=generator,
                       evaluate=_evaluator(model, x_eval, x_test, depth=k),
                       callbacks=callbacks.tagged(phase="layerwise", layer=k), first_epoch=first_epoch + len(history),
                       description=f"layer {k}/{model.depth}")
        with torch.no_grad():  # the clean codes of this layer feed the next one
            codes = torch.cat([layer.encode(codes[i:i + 5000]) for i in range(0, codes.shape[0], 5000)])
    return history


def train_joint(model: DeepAutoencoder, x: torch.Tensor, config: FitConfig, *, regularised: bool = True,
                x_eval: torch.Tensor | None = None, x_test: torch.Tensor | None = None,
                generator: torch.Generator | None = None, callbacks: Callbacks | None = None,
                first_epoch: int = 1) -> list[dict[str, float]]:
    """Joint training of all layers (Zhou eq. 8); `regularised=False` drops noise and penalties."""
    x = flat(x)
    x_eval = x if x_eval is None else flat(x_eval)
    phase = "joint" if regularised else "joint-unregularised"

    def loss(xb: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        return model.loss(xb, generator, regularised=regularised)

    if config.fused:
        loss = fused_loss(model, regularised) or loss
    return fit(model, loss, x, config, generator=generator, evaluate=_evaluator(model, x_eval, x_test, None),
               callbacks=(callbacks or Callbacks()).tagged(phase=phase, layer=model.depth),
               first_epoch=first_epoch, description=f"joint ({phase})")


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
MAX_HIDDEN = 100_000  # --hidden above this would not fit in memory with MNIST's 784 inputs


@dataclass
class TrainConfig:
    """What `aelab train` trains: one autoencoder layer on a dataset. `epochs` is the total:
    a resumed run trains the epochs its checkpoint has not done yet."""

    model: str = "dae"  # ae | dae | cae | sparse (registered model names)
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

    def check(self) -> None:
        """Range-check every field before any work (a one-line UsageError naming the flag)."""
        from aelab import checks
        from aelab.data import catalog
        from aelab.data.corruption import parse_noise

        if self.model not in MODELS:
            raise UsageError(f"--model {self.model!r} is unknown; choose one of {', '.join(MODELS)}")
        size = catalog.info(self.dataset).size("train")
        checks.integer(self.hidden, "--hidden", minimum=1, maximum=MAX_HIDDEN)
        try:
            parse_noise(self.noise)
        except UsageError as err:
            raise UsageError(f"--noise {self.noise}: {err}") from None
        checks.number(self.contractive, "--contractive", minimum=0)
        checks.number(self.sparsity, "--sparsity", minimum=0)
        checks.integer(self.epochs, "--epochs", minimum=1, meaning=" (the total number of epochs of the run)")
        checks.integer(self.batch_size, "--batch-size", minimum=1)
        if self.optimizer not in OPTIMIZERS:
            raise UsageError(f"--optimizer {self.optimizer!r} is unknown; choose one of {', '.join(OPTIMIZERS)}")
        checks.number(self.lr, "--lr", above=0)
        checks.integer(self.n_train, "--n-train", minimum=0, maximum=size,
                       meaning=f" ({self.dataset} has {size} training examples; 0 = all of them)")

    def model_config(self, n_visible: int):
        """The registry config of the model these flags describe."""
        if self.model not in MODELS:
            raise UsageError(f"model {self.model!r} is unknown; choose one of {', '.join(MODELS)}")
        fields: dict = {"n_visible": n_visible, "n_hidden": self.hidden}
        if self.model == "dae":
            fields["noise"] = self.noise
        elif self.model == "cae":
            fields["contractive"] = self.contractive
        elif self.model == "sparse":
            fields["sparsity_kl"] = self.sparsity
        return make_config(self.model, **fields)

    def fit_config(self) -> FitConfig:
        return FitConfig(epochs=self.epochs, batch_size=self.batch_size, optimizer=self.optimizer, lr=self.lr)

    def build(self, n_visible: int, generator: torch.Generator | None = None) -> Autoencoder:
        return build_model(self.model_config(n_visible), generator=generator)


def _differences(ours: dict, theirs: dict) -> list[str]:
    return [f"{k}: checkpoint {theirs.get(k)!r}, flags {ours.get(k)!r}"
            for k in sorted(set(ours) | set(theirs)) if ours.get(k) != theirs.get(k)]


def train_one(config: TrainConfig, out: str | Path, *, device: torch.device, seed: int = 0,
              resume: str | Path | None = None, progress=None, log=print) -> dict:
    """Train one model, writing a checkpoint (model, optimizer, generator and history) into
    `out` after every good epoch and `out/record.json` at the end; returns the record's metrics.

    resume: a checkpoint folder of an interrupted run with the same settings; training goes on
    from its state up to `config.epochs` in total, exactly as the uninterrupted run would have
    (a run killed after its last checkpoint only gets its record written).

    Before any work: the seed (0 .. 2**32 - 1) and every field are range-checked, `out` is
    created and proved writable, and locked for the run (a second run into the same `out`
    is refused at once); temporary files and half-written checkpoints a killed run left there
    are cleaned up (`aelab.train.checkpoints.tidy`). Each checkpoint is written as one unit.
    """
    with contextlib.ExitStack() as stack:
        from aelab import checks
        from aelab.fileio import locked, probe_writable
        from aelab.train.checkpoints import tidy

        checks.seed(seed, "--seed")
        config.check()
        config.fit_config().check()
        out = probe_writable(out, f"--out {out}")
        stack.enter_context(locked(out, wait=False, what=f"--out {out}"))
        tidy(out)  # parts and half-written checkpoints a killed run left behind
        return _train_one(config, out, device=device, seed=seed, resume=resume, progress=progress, log=log)


def _train_one(config: TrainConfig, out: Path, *, device: torch.device, seed: int, resume: str | Path | None,
               progress, log) -> dict:
    from aelab import data
    from aelab.train.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
    from aelab.train.records import write_record

    fit_config = config.fit_config()
    train = data.load(config.dataset, "train", seed=seed)
    train = (train.subset(slice(0, config.n_train)) if config.n_train else train).to(device)
    test = data.load(config.dataset, "test", seed=seed).subset(slice(0, 10000)).to(device)
    settings = {**asdict(config), "seed": seed}
    state = None
    if resume is not None:
        if Path(resume).is_dir() and not any(p for p in Path(resume).iterdir() if not p.name.startswith(".")):
            raise UsageError(f"--resume {resume} holds no checkpoint (a run stopped during its first epoch leaves "
                             "none): start the run again without --resume")
        checkpoint = load_checkpoint(resume, device=device)
        model, state = checkpoint.model, checkpoint.state
        wanted = asdict(config.model_config(train.n_features))
        found = asdict(model.config)
        problems = _differences(wanted, found)
        problems += _differences({k: v for k, v in settings.items() if k != "epochs"},
                                 {k: v for k, v in checkpoint.train.items() if k != "epochs"})
        if problems:
            raise UsageError(f"--resume {resume}: the checkpoint was trained with other settings: "
                             + "; ".join(problems))
        if state is None:
            raise UsageError(f"--resume {resume}: the checkpoint holds no training state to continue from")
        if state.epoch > config.epochs:
            raise UsageError(f"--resume {resume}: the checkpoint has done {state.epoch} epochs already, more than "
                             f"--epochs {config.epochs} (--epochs is the run's total)")
        if len(state.history) != state.epoch:
            raise CheckpointError(f"--resume {resume}: its state.json holds {len(state.history)} epochs of "
                                  f"history for {state.epoch} epochs done: the file is damaged")
        if state.generator is not None:
            try:
                torch.Generator(device).set_state(state.generator)
            except (RuntimeError, ValueError) as err:
                raise CheckpointError(f"--resume {resume}: its generator state does not fit a {device} "
                                      f"generator ({err})") from None
        log(f"resuming from {resume} after {state.epoch} epochs" if state.epoch < config.epochs else
            f"{resume} has done all {state.epoch} epochs: nothing to train; writing its record")
    else:
        model = config.build(train.n_features, torch.Generator().manual_seed(seed))
    model.to(device)
    started = time.perf_counter()

    checkpoint_seconds: list[float] = []

    def checkpoint(epoch: int, loop_state) -> None:
        started_writing = time.perf_counter()
        save_checkpoint(out, model, state=loop_state, train=settings)
        checkpoint_seconds.append(time.perf_counter() - started_writing)

    def report(epoch: int, metrics: dict[str, float]) -> None:
        log(f"epoch {epoch}: train loss {metrics['train_loss']:.4f}, test reconstruction "
            f"{metrics['test_reconstruction']:.4f} ({metrics['seconds']:.1f} s)")

    history = fit(model, model.loss, train.x, fit_config, generator=torch.Generator(device).manual_seed(seed),
                  evaluate=lambda: {"test_reconstruction": model.reconstruction_error(test.x)},
                  callbacks=Callbacks(on_epoch=report, progress=progress, checkpoint=checkpoint), resume=state,
                  description=f"{config.model} {train.n_features}-{config.hidden}")
    metrics = {"train_loss": history[-1]["train_loss"] if history else None,
               "test_reconstruction": history[-1]["test_reconstruction"] if history else None,
               "seconds_per_epoch": [h["seconds"] for h in history],
               "train_seconds_per_epoch": [h.get("train_seconds") for h in history],
               "checkpoint_seconds_this_run": checkpoint_seconds, "epochs_done": len(history),
               "history": history}
    write_record(out / "record.json", config=config, seed=seed, metrics=metrics,
                 seconds=time.perf_counter() - started, device=device, resumed_from=str(resume) if resume else None,
                 seconds_per_epoch_includes="the epoch's training steps and its test-set evaluation "
                                            "(train_seconds_per_epoch: the steps alone); not the checkpoint "
                                            "write (checkpoint_seconds_this_run)")
    return metrics
