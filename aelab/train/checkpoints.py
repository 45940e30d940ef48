"""Checkpoints: a model (safetensors + JSON config) and, for training runs, the loop's state.

    save_checkpoint(folder, model)                    # weights.safetensors + config.json
    save_checkpoint(folder, model, state=loop_state, train={...})   # + state.safetensors + state.json
    ck = load_checkpoint(folder)                      # ck.model rebuilt from config.json, ck.state, ck.train
    fit(ck.model, ..., resume=ck.state)               # continues exactly where the run stopped

A registered model's config.json is the registry's (`aelab.models.registry.load_model` can
rebuild it alone); `train` settings sit beside it under "train". Nothing is unpickled: the
optimizer's tensors, the generator's state and the sampler's state go to
`state.safetensors`, everything else to `state.json`. The files of one checkpoint are
written as one unit (`aelab.fileio.commit_files`: parts, then a journal, then renames), so a
run killed at any moment leaves the previous checkpoint or the new one, never a mix, and no
temporary files once the next writer or reader has run (`recover`, `remove_stale_parts`).
Each file also carries the epoch, so a folder mixed by other means is still detected.
`load_into(model, folder)` checks every name and shape before copying; a damaged state
(unreadable JSON, shapes that do not fit the model, non-finite values) is a `CheckpointError`
naming the file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from safetensors.torch import save as safetensors_bytes

from aelab.cache import cache_key
from aelab.fileio import commit_files, recover, remove_stale_parts, to_json
from aelab.models.registry import (CONFIG, WEIGHTS, CheckpointError, config_dict, config_from_dict, entry,
                                   load_state, read_config_json, read_json_file, read_tensors, state_tensors)
from aelab.train.loop import LoopState
from aelab.train.records import as_dict

STATE = "state.safetensors"
STATE_JSON = "state.json"

__all__ = ["CheckpointError", "Checkpoint", "Journal", "save_checkpoint", "load_checkpoint", "load_config", "load_into",
           "load_weights", "tidy"]


@dataclass
class Checkpoint:
    model: torch.nn.Module
    state: LoopState | None
    train: dict[str, Any]
    folder: Path


def _flatten_optimizer(optimizer: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in optimizer.get("state", {}).items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": optimizer.get("param_groups", []), "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for index, values in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": meta.get("param_groups", [])}


def save_checkpoint(folder: str | Path, model: torch.nn.Module, config: Any = None, *,
                    state: LoopState | None = None, train: dict[str, Any] | None = None,
                    extra: dict[str, torch.Tensor] | None = None) -> Path:
    """Write the model (and the loop's state, when given) into `folder` (created if needed).

    config: None for a registered model (its registry config is written, so `load_model`
        can rebuild it); any JSON-able dict/dataclass for other modules.
    train: the settings of the run (optimizer, data, seed...), kept under "train".
    extra: more tensors saved beside the weights (as "extra.<name>").
    """
    folder = Path(folder)
    epoch = "" if state is None else str(state.epoch)
    files: dict[str, bytes | None] = {STATE: None, STATE_JSON: None}  # a model alone: no stale state beside it
    if state is not None:
        tensors, optimizer_meta = _flatten_optimizer(state.optimizer)
        if state.generator is not None:
            tensors["generator"] = state.generator.contiguous().cpu()
        tensors.update({f"sampler.{k}": v.detach().contiguous().cpu() for k, v in state.sampler.items()})
        if state.best_weights is not None:
            tensors.update({f"best.{k}": v.detach().contiguous().cpu() for k, v in state.best_weights.items()})
        files[STATE] = safetensors_bytes(tensors, metadata={"epoch": epoch})
        files[STATE_JSON] = (to_json({
            "epoch": state.epoch, "history": state.history, "start_loss": state.start_loss,
            "best_value": state.best_value, "best_epoch": state.best_epoch, "finished": state.finished,
            "optimizer": optimizer_meta}) + "\n").encode()
    tensors = state_tensors(model)
    tensors.update({f"extra.{k}": v.detach().contiguous().cpu() for k, v in (extra or {}).items()})
    files[WEIGHTS] = safetensors_bytes(tensors, metadata={"epoch": epoch})
    content = config_dict(model) if config is None else as_dict(config)
    if train is not None:
        content = {**content, "train": as_dict(train)}
    if state is not None:
        content = {**content, "epoch": state.epoch}
    files[CONFIG] = (to_json(content) + "\n").encode()
    if state is None and not (folder / STATE).exists() and not (folder / STATE_JSON).exists():
        del files[STATE], files[STATE_JSON]
    commit_files(folder, files)
    return folder


def tidy(folder: str | Path) -> None:
    """Finish a checkpoint write a killed run left half done and remove its temporary files
    (a folder that cannot be written is left as it is; loading checks it anyway)."""
    folder = Path(folder)
    try:
        recover(folder)
        remove_stale_parts(folder)
    except OSError:
        pass


def load_config(folder: str | Path) -> dict[str, Any]:
    """The raw content of `folder/config.json` (a JSON object)."""
    return read_config_json(folder)


def load_weights(folder: str | Path) -> dict[str, torch.Tensor]:
    return read_tensors(Path(folder) / WEIGHTS)


def load_into(model: torch.nn.Module, folder: str | Path) -> dict[str, torch.Tensor]:
    """Copy a checkpoint's weights into `model` after checking names, shapes and finiteness.
    Returns the checkpoint's extra tensors (saved with `extra=`), keyed without the prefix."""
    tensors = load_weights(folder)
    extra = {k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")}
    weights = {k: v for k, v in tensors.items() if not k.startswith("extra.")}
    load_state(model, weights, f"checkpoint {folder}")
    return extra


def load_checkpoint(folder: str | Path, *, device: torch.device | str | None = None) -> Checkpoint:
    """Rebuild the model of `folder` from its config and weights, with the loop's state when
    the folder holds one (for `fit(..., resume=checkpoint.state)`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a checkpoint folder (it does not exist or is not a folder)")
    tidy(folder)
    content = load_config(folder)
    name, config = config_from_dict(content, str(folder / CONFIG))
    try:
        model = entry(name).model.from_config(config)
    except (TypeError, ValueError) as err:  # a config.json whose values no model accepts
        raise CheckpointError(f"{folder / CONFIG}: {err}") from None
    model.registered_name = name
    load_into(model, folder)
    state = None
    if (folder / STATE_JSON).exists() or (folder / STATE).exists():
        state = _read_state(folder, model, content)
    if device is not None:
        model.to(device)
        if state is not None and state.best_weights:
            state.best_weights = {k: v.to(device) for k, v in state.best_weights.items()}
    return Checkpoint(model, state, dict(content.get("train") or {}), folder)


def _read_state(folder: Path, model: torch.nn.Module, content: dict[str, Any],
                params: list[torch.nn.Parameter] | None = None) -> LoopState:
    """The loop state of `folder`, checked: readable, one epoch, shapes that fit `model` (the
    optimizer's entries those of `params`, default all the model's parameters), finite."""
    path = folder / STATE_JSON
    if not path.exists():
        raise CheckpointError(f"{folder} has {STATE} but no {STATE_JSON}: the training state is incomplete")
    meta = read_json_file(path)
    tensors = read_tensors(folder / STATE)
    epochs = {str(meta.get("epoch")) if isinstance(meta, dict) else "?", _metadata_epoch(folder / STATE),
              _metadata_epoch(folder / WEIGHTS), str(content.get("epoch"))}
    if len(epochs) != 1:
        raise CheckpointError(f"{folder} holds files from different epochs ({sorted(epochs)}): "
                              "they were not written by one checkpoint; resume from an earlier copy or start over")
    try:
        epoch = meta["epoch"]
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise ValueError(f"epoch must be a whole number >= 0, found {epoch!r}")
        history = meta.get("history", [])
        if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
            raise ValueError("history must be a list of objects")
        optimizer = _unflatten_optimizer(tensors, meta["optimizer"])
        start_loss = meta.get("start_loss")
        if start_loss is not None and not (isinstance(start_loss, (int, float)) and start_loss > 0):
            raise ValueError(f"start_loss must be a positive number, found {start_loss!r}")
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise CheckpointError(f"{path} is damaged ({type(err).__name__}: {err})") from None
    params = list(model.parameters()) if params is None else params
    for key, value in tensors.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"{folder / STATE} holds non-finite values in {key}")
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            if not index.isdigit() or int(index) >= len(params):
                raise CheckpointError(f"{folder / STATE}: {key} names no parameter of the model")
            if name != "step" and value.shape != params[int(index)].shape:
                raise CheckpointError(f"{folder / STATE}: {key} has shape {tuple(value.shape)}, "
                                      f"the model's parameter {tuple(params[int(index)].shape)}")
    generator = tensors.get("generator")
    if generator is not None and (generator.dtype != torch.uint8 or generator.dim() != 1):
        raise CheckpointError(f"{folder / STATE}: the generator state must be a 1-d uint8 tensor")
    best = {k[len("best."):]: v for k, v in tensors.items() if k.startswith("best.")}
    expected = model.state_dict()
    if best and (set(best) != set(expected) or any(best[k].shape != v.shape for k, v in expected.items())):
        raise CheckpointError(f"{folder / STATE}: its best weights do not match {type(model).__name__}")
    return LoopState(epoch=epoch, optimizer=optimizer, generator=generator,
                     sampler={k[len("sampler."):]: v for k, v in tensors.items() if k.startswith("sampler.")},
                     history=list(history), start_loss=start_loss,
                     best_value=meta.get("best_value"), best_epoch=meta.get("best_epoch"),
                     best_weights=best or None, finished=bool(meta.get("finished", False)))


def _metadata_epoch(path: Path) -> str:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return (handle.metadata() or {}).get("epoch", "")
    except Exception as err:  # safetensors raises its own error types
        raise CheckpointError(f"{path} is not a readable safetensors file: {err}") from None



# --- a long run's journal ------------------------------------------------------------------------

class Journal:
    """Where a long run keeps the progress of each training phase, so that the same run started
    again continues where it stopped (`aelab reproduce` keeps one per run unless --fresh).

    A phase is one `fit` call, named by its label (`scoped`), its description and how many
    phases of that name came before it in the run; it is a checkpoint folder (weights + loop
    state) written at most every `every_seconds` and when the phase ends. Restoring needs the
    run to build its models and call `fit` in the same order, which a seeded run does.

        journal = Journal(folder)
        fit(model, ..., callbacks=Callbacks(journal=journal.scoped("layer 1")))
    """

    def __init__(self, folder: str | Path, every_seconds: float = 60.0, log=None) -> None:
        self.folder = Path(folder)
        self.every = float(every_seconds)
        self.log = log or (lambda message: None)
        self.restored = 0  # phases found in the journal this run
        self.restored_seconds = 0.0  # the training time of their epochs, spent by earlier processes
        self._seen: dict[str, int] = {}

    def scoped(self, label: str) -> "_Scope":
        return _Scope(self, label)

    def phase(self, label: str, description: str) -> "JournalPhase":
        name = f"{label} | {description}"
        self._seen[name] = self._seen.get(name, 0) + 1
        key = f"{self._seen[name]}:{name}"
        slug = "".join(c if c.isalnum() else "-" for c in name)[:48].strip("-")
        return JournalPhase(self, key, self.folder / f"{slug}-{cache_key(key, 10)}")


class _Scope:
    def __init__(self, journal: Journal, label: str) -> None:
        self.journal, self.label = journal, label

    def phase(self, description: str) -> "JournalPhase":
        return self.journal.phase(self.label, description)


class JournalPhase:
    def __init__(self, journal: Journal, key: str, folder: Path) -> None:
        self.journal, self.key, self.folder = journal, key, folder
        self._saved = time.monotonic()
        self.extra: dict[str, torch.Tensor] = {}  # the tensors saved with `save(..., extra=)`, after `restore`

    def restore(self, model: torch.nn.Module, params: list[torch.nn.Parameter]) -> LoopState | None:
        """Load the phase's weights into `model` and return its loop state (None: not begun)."""
        self._saved = time.monotonic()
        if not (self.folder / CONFIG).exists():
            return None
        tidy(self.folder)
        content = load_config(self.folder)
        if content.get("phase") != self.key:
            raise CheckpointError(f"{self.folder} belongs to phase {content.get('phase')!r}, not {self.key!r}")
        self.extra = load_into(model, self.folder)
        state = _read_state(self.folder, model, content, params)
        device = next(iter(model.state_dict().values())).device
        if state.best_weights:
            state.best_weights = {k: v.to(device) for k, v in state.best_weights.items()}
        self.journal.restored += 1
        self.journal.restored_seconds += sum(float(h.get("seconds", 0.0)) for h in state.history)
        self.journal.log(f"journal: {self.key} resumes after epoch {state.epoch}"
                         + (" (finished)" if state.finished else ""))
        return state

    def save(self, model: torch.nn.Module, state: LoopState, final: bool = False,
             extra: dict[str, torch.Tensor] | None = None) -> None:
        """Write the phase (at most every `every_seconds`, always when `final`); `extra`: more
        tensors the loop needs to continue (back in `self.extra` after `restore`)."""
        now = time.monotonic()
        if not final and now - self._saved < self.journal.every:
            return
        save_checkpoint(self.folder, model, {"phase": self.key}, state=state, extra=extra)
        self._saved = now
