"""On-disk cache of generated datasets: one uncompressed .npz per (name, seed), uint8 pixels.

Pixels are stored as uint8 (value * 255, rounded): 50000 test images are 39 MB and load
in well under a second. Files are written atomically (see `aelab.fileio`); the cache folder
is proved writable (`probe`) before a set is generated, not after; a damaged file is a
`CorruptFile` naming it, which `aelab.data.load` treats as a miss (it regenerates the set).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aelab.data.errors import CorruptFile
from aelab.fileio import atomic_path, probe_writable

FORMAT_VERSION = 1


def cache_file(folder: Path, name: str, seed: int) -> Path:
    return folder / f"{name}-seed{seed}-v{FORMAT_VERSION}.npz"


def probe(folder: Path) -> Path:
    """Create the cache folder and prove it writable before a set is generated (a one-line
    UsageError naming AELAB_CACHE otherwise)."""
    from aelab.settings import CACHE

    return probe_writable(folder, f"the cache folder {folder} (set {CACHE} to a writable folder)")


def save_splits(path: Path, splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    arrays = {}
    for split, (x, y) in splits.items():
        if x.dtype != np.uint8:
            x = np.clip(np.rint(np.asarray(x, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
        arrays[f"x_{split}"] = x
        arrays[f"y_{split}"] = np.asarray(y, dtype=np.int64)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def load_split(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path) as archive:
            x, y = archive[f"x_{split}"], archive[f"y_{split}"]
    except FileNotFoundError:
        raise
    except Exception as err:  # zipfile.BadZipFile, EOFError, ValueError, KeyError ...: damaged
        raise CorruptFile(f"cached dataset {path} is unreadable ({type(err).__name__}: {err}); "
                          "delete it and it will be regenerated") from err
    if x.dtype != np.uint8 or x.ndim < 2 or y.ndim != 1 or len(x) != len(y):
        raise CorruptFile(f"cached dataset {path}: {split} holds {x.dtype} images of shape {x.shape} and "
                          f"{len(y)} labels, not uint8 images with one label each")
    return x, y
