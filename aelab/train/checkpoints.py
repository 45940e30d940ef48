"""Checkpoints: a model's weights (safetensors) beside its JSON config.

`save_checkpoint(folder, model, config)` writes `weights.safetensors` and `config.json`;
`load_weights(folder)` reads tensors back without unpickling anything, and
`load_into(model, folder)` checks every name and shape before copying, so a mismatched
checkpoint fails with a message listing the differences instead of a half-loaded model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from aelab.fileio import atomic_path, read_json, write_json_atomic
from aelab.train.records import as_dict

WEIGHTS = "weights.safetensors"
CONFIG = "config.json"


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or does not match the model."""


def save_checkpoint(folder: str | Path, model: torch.nn.Module, config: Any,
                    extra: dict[str, torch.Tensor] | None = None) -> Path:
    """Write weights and config atomically into `folder` (created if needed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {name: t.detach().contiguous().cpu() for name, t in model.state_dict().items()}
    _untie_shared(tensors)
    for name, t in (extra or {}).items():
        tensors[f"extra.{name}"] = t.detach().contiguous().cpu()
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file(tensors, str(tmp))
    write_json_atomic(folder / CONFIG, as_dict(config))
    return folder


def _untie_shared(tensors: dict[str, torch.Tensor]) -> None:
    """safetensors refuses tensors that share memory (tied weights): give each its own copy."""
    seen: dict[int, str] = {}
    for name, t in list(tensors.items()):
        key = t.untyped_storage().data_ptr()
        if key in seen:
            tensors[name] = t.clone()
        seen.setdefault(key, name)


def load_config(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / CONFIG
    if not path.exists():
        raise CheckpointError(f"no {CONFIG} in {folder}: is this an aelab checkpoint folder?")
    return read_json(path)


def load_weights(folder: str | Path) -> dict[str, torch.Tensor]:
    path = Path(folder) / WEIGHTS
    if not path.exists():
        raise CheckpointError(f"no {WEIGHTS} in {folder}: is this an aelab checkpoint folder?")
    try:
        return load_file(str(path))
    except Exception as err:  # safetensors raises its own error types
        raise CheckpointError(f"{path} is not a readable safetensors file: {err}") from err


def load_into(model: torch.nn.Module, folder: str | Path) -> dict[str, torch.Tensor]:
    """Copy a checkpoint's weights into `model` after checking names and shapes.

    Returns the checkpoint's extra tensors (saved with `extra=`), keyed without the prefix.
    """
    tensors = load_weights(folder)
    extra = {k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")}
    weights = {k: v for k, v in tensors.items() if not k.startswith("extra.")}
    expected = model.state_dict()
    problems = [f"missing {k}" for k in expected if k not in weights]
    problems += [f"unexpected {k}" for k in weights if k not in expected]
    problems += [f"{k}: checkpoint {tuple(weights[k].shape)} vs model {tuple(v.shape)}"
                 for k, v in expected.items() if k in weights and weights[k].shape != v.shape]
    if problems:
        raise CheckpointError(f"checkpoint {folder} does not match {type(model).__name__}: " + "; ".join(problems))
    model.load_state_dict(weights)
    return extra
