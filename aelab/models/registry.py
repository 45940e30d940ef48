"""One factory from a config to a model, and back from a checkpoint folder.

Every family registers its model class under one or more names in its own file; a name
may carry preset defaults for the family's config dataclass (`dae` is the autoencoder
config with masking noise, `cae` the same with a contraction weight, ...):

    @register("ae", "dae", defaults={"dae": {"noise": "masking:0.25"}})
    class Autoencoder(nn.Module):
        Config = AutoencoderConfig
        @classmethod
        def from_config(cls, config, generator=None): ...
        @property
        def config(self) -> AutoencoderConfig: ...

    model = build_model("dae", n_visible=784, n_hidden=1000, generator=g)
    save_model(folder, model)                 # config.json + weights.safetensors
    model = load_model(folder)                # rebuilt from data alone: nothing is unpickled

The model protocol every registered family offers (checked by the tests for each name):
`encode(x)`, `decode(code)`, `reconstruct(x)` and `loss(*batch, generator=None)` returning
a dict of 0-d tensors with `total` and named terms from `TERMS` (a term may carry a layer
suffix, e.g. `contraction_2`). Model files are found by importing every module of
`aelab.models`, so adding a family is one new file.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
import re
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes
from torch import nn

from aelab.errors import UnknownName, UsageError
from aelab.fileio import commit_files, read_json, to_json, write_bytes_atomic

WEIGHTS = "weights.safetensors"
CONFIG = "config.json"
FORMAT = "aelab-model/1"

# One vocabulary of loss-term names for every family (plus "total"); `_<k>` marks layer k.
TERMS = {
    "reconstruction": "reconstruction of the input (cross-entropy or squared error per example)",
    "reconstruction_middle": "reconstruction of intermediate representations (SWWAE L2M)",
    "classification": "softmax cross-entropy on the labelled examples",
    "contraction": "contractive penalty lambda ||J_f(x)||_F^2",
    "sparsity_l1": "L1 sparsity penalty on the codes",
    "sparsity_kl": "KL sparsity penalty on the mean hidden rates",
    "weight_decay": "squared L2 norm of the weights",
    "kl": "KL divergence of a stochastic encoder from its prior",
}
_TERM = re.compile(r"^(total|" + "|".join(TERMS) + r")(_\w+)?$")


class CheckpointError(UsageError):
    """A checkpoint is missing, unreadable, damaged or does not match the model."""


class UnknownModel(UnknownName):
    """A model name that no family registered."""


@dataclasses.dataclass(frozen=True)
class Entry:
    name: str
    model: type
    defaults: dict[str, Any]

    @property
    def config_class(self) -> type:
        return self.model.Config


_REGISTRY: dict[str, Entry] = {}
_DISCOVERED = False


def register(*names: str, defaults: dict[str, dict[str, Any]] | None = None) -> Callable[[type], type]:
    """Class decorator: register a model class (with a `Config` dataclass attribute and a
    `from_config` classmethod) under `names`; `defaults[name]` are that name's preset fields."""
    defaults = defaults or {}

    def decorate(cls: type) -> type:
        config_class = getattr(cls, "Config", None)
        if config_class is None or not dataclasses.is_dataclass(config_class):
            raise TypeError(f"{cls.__name__} needs a Config dataclass attribute to be registered")
        if not hasattr(cls, "from_config"):
            raise TypeError(f"{cls.__name__} needs a from_config(config, generator=None) classmethod")
        fields = {f.name for f in dataclasses.fields(config_class)}
        for name in names:
            extra = set(defaults.get(name, {})) - fields
            if extra:
                raise TypeError(f"defaults for {name!r} name unknown fields {sorted(extra)}")
            if name in _REGISTRY and _REGISTRY[name].model is not cls:
                raise TypeError(f"model name {name!r} is registered twice")
            _REGISTRY[name] = Entry(name, cls, dict(defaults.get(name, {})))
        cls.registered_names = tuple(names)
        return cls

    return decorate


def _discover() -> None:
    """Import every module of aelab.models so that their @register decorators run."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    import aelab.models as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name != "registry":
            importlib.import_module(f"aelab.models.{info.name}")
    _DISCOVERED = True


def names() -> list[str]:
    """The registered model names."""
    _discover()
    return sorted(_REGISTRY)


def entry(name: str) -> Entry:
    _discover()
    if name not in _REGISTRY:
        raise UnknownModel(f"model {name!r} is unknown; choose one of {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def name_of(model: nn.Module | Any) -> str:
    """The registered name a model (or config) was built under; else the class's first name."""
    name = getattr(model, "registered_name", None)
    if name:
        return name
    cls = type(model)
    if dataclasses.is_dataclass(model):
        _discover()
        for e in _REGISTRY.values():
            if e.config_class is cls:
                return e.name
        raise UnknownModel(f"no registered model uses {cls.__name__}")
    _discover()
    for e in _REGISTRY.values():
        if e.model is cls:
            return e.name
    raise UnknownModel(f"{cls.__name__} is not a registered model")


def make_config(name: str, **fields: Any) -> Any:
    """The config dataclass of `name` with its preset defaults, then `fields` on top."""
    e = entry(name)
    known = {f.name for f in dataclasses.fields(e.config_class)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise UsageError(f"model {name!r} has no setting {', '.join(unknown)}; its settings: {', '.join(sorted(known))}")
    return e.config_class(**{**e.defaults, **fields})


def build_model(name_or_config: str | Any, *, generator: torch.Generator | None = None, **fields: Any) -> nn.Module:
    """The one factory: a model from a registered name (+ fields) or from a config dataclass.
    `generator` seeds the initial weights (explicit seeding; the global RNG is not used)."""
    if isinstance(name_or_config, str):
        name = name_or_config
        config = make_config(name, **fields)
    else:
        if fields:
            config = dataclasses.replace(name_or_config, **fields)
        else:
            config = name_or_config
        name = name_of(config)
    model = entry(name).model.from_config(config, generator=generator)
    model.registered_name = name
    return model


def config_dict(model: nn.Module) -> dict[str, Any]:
    """What config.json holds for `model`: the format, the registered name and the config."""
    return {"format": FORMAT, "model": name_of(model), "config": dataclasses.asdict(model.config)}


def config_from_dict(data: Any, source: str = "config") -> tuple[str, Any]:
    """(name, config dataclass) from a config.json's content, with errors naming the source."""
    if not isinstance(data, dict) or data.get("format") != FORMAT or "model" not in data:
        raise CheckpointError(f"{source} is not an aelab model config (expected a JSON object with "
                              f"\"format\": \"{FORMAT}\", \"model\" and \"config\")")
    try:
        e = entry(str(data["model"]))
    except UnknownModel as err:
        raise CheckpointError(f"{source}: {err}") from None
    fields = data.get("config")
    if not isinstance(fields, dict):
        raise CheckpointError(f"{source}: \"config\" must be a JSON object")
    known = {f.name for f in dataclasses.fields(e.config_class)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise CheckpointError(f"{source}: model {e.name!r} has no setting {', '.join(unknown)}")
    try:
        config = e.config_class(**fields)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{source}: {err}") from None
    return e.name, config


# --- weights --------------------------------------------------------------------------------

def state_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state as contiguous CPU tensors, shared storages untied (safetensors refuses them)."""
    tensors = {name: t.detach().contiguous().cpu() for name, t in model.state_dict().items()}
    seen: set[int] = set()
    for name, t in list(tensors.items()):
        key = t.untyped_storage().data_ptr()
        if key in seen:
            tensors[name] = t.clone()
        seen.add(key)
    return tensors


def write_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> Path:
    """Serialise to bytes first, then write atomically (no library temp files left behind)."""
    return write_bytes_atomic(path, save_safetensors_bytes(tensors, metadata=metadata))


def read_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no {path.name} in {path.parent}: is this an aelab checkpoint folder?")
    try:
        return load_safetensors_bytes(path.read_bytes())
    except Exception as err:  # safetensors raises its own error types
        raise CheckpointError(f"{path} is not a readable safetensors file: {err}") from err


def load_state(model: nn.Module, tensors: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Copy `tensors` into `model` after checking every name and shape (and that they are finite)."""
    expected = model.state_dict()
    problems = [f"missing {k}" for k in expected if k not in tensors]
    problems += [f"unexpected {k}" for k in tensors if k not in expected]
    problems += [f"{k}: checkpoint {tuple(tensors[k].shape)} vs model {tuple(v.shape)}"
                 for k, v in expected.items() if k in tensors and tensors[k].shape != v.shape]
    if problems:
        raise CheckpointError(f"{source} does not match {type(model).__name__}: " + "; ".join(problems))
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{source} holds non-finite values in {', '.join(bad)}")
    model.load_state_dict(tensors)


def save_model(folder: str | Path, model: nn.Module, *, dtype: torch.dtype | None = None) -> Path:
    """Write `folder/weights.safetensors` and `folder/config.json` as one unit (`fileio.commit_files`:
    a kill at any moment leaves the old pair or the new one).
    `dtype` (e.g. torch.float16 for the zoo) converts floating-point tensors on the way out."""
    folder = Path(folder)
    tensors = state_tensors(model)
    if dtype is not None:
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    commit_files(folder, {WEIGHTS: save_safetensors_bytes(tensors),
                          CONFIG: (to_json(config_dict(model)) + "\n").encode()})
    return folder


def read_json_file(path: Path) -> Any:
    """The JSON content of a checkpoint file, with a CheckpointError naming it when unreadable."""
    try:
        return read_json(path)
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not readable JSON: {err}") from None


def read_config_json(folder: str | Path) -> dict[str, Any]:
    """The raw content of `folder/config.json`, which must be a JSON object."""
    path = Path(folder) / CONFIG
    if not path.exists():
        raise CheckpointError(f"no {CONFIG} in {folder}: is this an aelab checkpoint folder?")
    content = read_json_file(path)
    if not isinstance(content, dict):
        raise CheckpointError(f"{path} is not an aelab model config: it must hold a JSON object, "
                              f"found {type(content).__name__}")
    return content


def read_config(folder: str | Path) -> tuple[str, Any]:
    """(name, config) of the model checkpoint in `folder`."""
    return config_from_dict(read_config_json(folder), str(Path(folder) / CONFIG))


def load_model(folder: str | Path, *, device: torch.device | str | None = None) -> nn.Module:
    """Rebuild any registered model from `folder` (config.json + weights.safetensors).
    Nothing is unpickled or executed; weights are checked by name, shape and finiteness."""
    folder = Path(folder)
    name, config = read_config(folder)
    model = entry(name).model.from_config(config)
    model.registered_name = name
    tensors = read_tensors(folder / WEIGHTS)
    reference = model.state_dict()
    tensors = {k: v.to(reference[k].dtype) if k in reference else v for k, v in tensors.items()}
    load_state(model, tensors, str(folder / WEIGHTS))
    model.eval()
    return model.to(device) if device is not None else model


def check_terms(terms: dict[str, torch.Tensor]) -> None:
    """Raise if a loss dictionary uses a name outside the vocabulary or has no total."""
    if "total" not in terms:
        raise ValueError("a model's loss must return a 'total' term")
    odd = [k for k in terms if not _TERM.match(k)]
    if odd:
        raise ValueError(f"loss terms {odd} are outside the vocabulary: {', '.join(['total', *TERMS])}")


def dumps_config(model: nn.Module) -> str:
    return json.dumps(config_dict(model), sort_keys=True)
