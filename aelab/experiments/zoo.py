"""The model zoo: the full-tier models the dashboards open on, shipped in `results/zoo/`.

Each entry is a model that a full-tier run keeps (`Result.models`): the experiment that
trains it and the key it is kept under. The zoo folder holds, per entry, `NAME/config.json`
and `NAME/weights.safetensors` (float16; loaded back as float32 by
`aelab.models.registry.load_model`, which rebuilds the model from its config and executes no
code), and `manifest.json` with every file's sha256, its size, and the command that trained it.

    aelab zoo list               the entries, whether each is present and verified
    aelab zoo verify             check every file against the manifest and load every model
    aelab zoo rebuild NAME       retrain NAME from its experiment's full preset and seed 0, then
                                 replace it in the zoo (--from-result: copy it from the shipped
                                 result folder, results/full/EXPERIMENT/models/KEY, instead)

The zoo's budget in the repository is `BUDGET_BYTES` (25 MB) in all.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from aelab import settings
from aelab.errors import UsageError
from aelab.fileio import read_json, write_json_atomic
from aelab.models.registry import CONFIG, WEIGHTS, CheckpointError, load_model

MANIFEST = "manifest.json"
FORMAT = "aelab-zoo/1"
BUDGET_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True)
class Entry:
    experiment: str  # the experiment whose full-tier run keeps the model
    key: str  # its name in that run's Result.models (results/full/EXPERIMENT/models/KEY)
    description: str


ENTRIES: dict[str, Entry] = {
    **{f"filters-masking-{level}": Entry("vincent-filters", f"filters-masking-{level}",
                                         f"Vincent et al. Fig. 3: 784-1000 tied DAE, masking noise {level}")
       for level in ("0", "0.1", "0.25", "0.5")},
    "gsn-DAE-2L": Entry("zhou-parzen", "gsn-DAE-2L", "Zhou et al. Table I: 784-1000-1000 deep DAE, layer-wise (L)"),
    "gsn-DAE-2J": Entry("zhou-parzen", "gsn-DAE-2J", "Zhou et al. Table I: 784-1000-1000 deep DAE, joint (J)"),
    "swwae-what-where": Entry("zhao-translation", "what_where",
                              "Zhao et al. Figs. 3-4: (32)5c-(32)3c-2p-(32)3c-16p SWWAE, soft pooling"),
    "latent-dae": Entry("lecture-latent", "dae", "the latent-space dashboard's 784-1000 DAE (masking 25%)"),
    "vae-2d": Entry("lecture-vae", "vae-2d", "the 2-D latent VAE of the stochastic dashboard (its decoded grid)"),
}


def root() -> Path:
    """`<results root>/zoo` (see `aelab.settings.results_root`)."""
    return settings.results_root() / "zoo"


def entry(name: str) -> Entry:
    if name not in ENTRIES:
        raise UsageError(f"the zoo has no model {name!r}; it has: {', '.join(ENTRIES)}")
    return ENTRIES[name]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest(folder: Path | None = None) -> dict[str, Any]:
    """The zoo's manifest (an empty one when the zoo has none yet)."""
    path = (folder or root()) / MANIFEST
    if not path.exists():
        return {"format": FORMAT, "models": {}}
    content = read_json(path)
    if not isinstance(content, dict) or content.get("format") != FORMAT or not isinstance(content.get("models"), dict):
        raise CheckpointError(f"{path} is not an aelab zoo manifest ({FORMAT})")
    return content


def verify(name: str, folder: Path | None = None) -> list[str]:
    """The problems of zoo model `name` (empty: its files match the manifest and it loads)."""
    folder = folder or root()
    record = manifest(folder)["models"].get(name)
    if record is None:
        return [f"{name}: not in the manifest"]
    problems = []
    for file, expected in record.get("sha256", {}).items():
        path = folder / name / file
        if not path.is_file():
            problems.append(f"{name}: {file} is missing")
        elif _sha256(path) != expected:
            problems.append(f"{name}: {file} does not match its sha256 in the manifest")
    if not problems:
        try:
            load_model(folder / name)
        except CheckpointError as err:
            problems.append(f"{name}: {err}")
    return problems


def verify_all(folder: Path | None = None) -> list[str]:
    """Every problem of the zoo: entries absent, per model its files and loading, in all the
    size budget."""
    folder = folder or root()
    problems = [f"{name}: absent (aelab zoo rebuild {name})" for name in ENTRIES if name not in manifest(folder)["models"]]
    problems += [p for name in manifest(folder)["models"] for p in verify(name, folder)]
    total = sum(r.get("bytes", 0) for r in manifest(folder)["models"].values())
    if total > BUDGET_BYTES:
        problems.append(f"the zoo holds {total / 2**20:.1f} MB, over its budget of {BUDGET_BYTES / 2**20:.0f} MB")
    return problems


def add(name: str, source: Path, command: str, folder: Path | None = None) -> dict[str, Any]:
    """Copy the model folder `source` (config.json + weights.safetensors) into the zoo as `name`
    and record it in the manifest; returns its manifest record."""
    folder = folder or root()
    load_model(source)  # refuse what does not load
    target = folder / name
    staging = folder / f".{name}.part"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for file in (CONFIG, WEIGHTS):
        shutil.copyfile(source / file, staging / file)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    record = {"experiment": entry(name).experiment, "key": entry(name).key, "description": entry(name).description,
              "command": command, "sha256": {f: _sha256(target / f) for f in (CONFIG, WEIGHTS)},
              "bytes": sum((target / f).stat().st_size for f in (CONFIG, WEIGHTS))}
    content = manifest(folder)
    content["models"][name] = record
    content["models"] = dict(sorted(content["models"].items()))
    write_json_atomic(folder / MANIFEST, content)
    return record


def rebuild(name: str, *, from_result: bool = False, device: str = "auto", scale: str = "full",
            progress: Callable[[int, int, str], None] | None = None, log=None,
            threads: int | None = None) -> dict[str, Any]:
    """Put `name` into the zoo: from the shipped result of `scale` (`from_result`), or by
    running its experiment's preset of `scale` (full: hours) with seed 0 and taking the model
    it keeps (`threads`: the CPU thread count the caller pinned, recorded in the command)."""
    from aelab.experiments.runner import MODELS, command_line, read_result, reproduce, shipped

    spec = entry(name)
    if from_result:
        folder = shipped(spec.experiment, scale)
        if folder is None or not (folder / MODELS / spec.key).is_dir():
            raise UsageError(f"no shipped result keeps {spec.key!r}: run `aelab zoo rebuild {name}` to retrain it, "
                             f"or `aelab reproduce {spec.experiment} --scale full --out {settings.results_root() / 'full'}`")
        return add(name, folder / MODELS / spec.key, read_result(folder)[0]["command"])
    with tempfile.TemporaryDirectory(prefix="aelab-zoo-") as tmp:
        folder = reproduce(spec.experiment, scale=scale, seed=0, device=device, out=tmp, progress=progress, log=log,
                           threads=threads)
        source = folder / MODELS / spec.key
        if not source.is_dir():
            raise RuntimeError(f"{spec.experiment} kept no model {spec.key!r} (it kept: {read_result(folder)[0]['models']})")
        # the command as the shipped result records it (into results/<scale>, not the temporary folder)
        return add(name, source, command_line(spec.experiment, scale, 0, f"results/{scale}", None, None, device,
                                              threads))


def load(name: str, device=None):
    """The zoo model `name`, verified, rebuilt from its config (no code is executed)."""
    entry(name)
    problems = verify(name)
    if problems:
        raise CheckpointError("; ".join(problems) + f" — run `aelab zoo rebuild {name}`")
    return load_model(root() / name, device=device)
