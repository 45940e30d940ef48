"""Reader for the original `.amat` files of the 2007 benchmark (Larochelle et al.).

If a user has them, place them (any sub-folder layout) under `<root>/larochelle2007/`;
`load` then reads them instead of regenerating the sets. Each row holds 784 floats and the
label last. Validation is the last 2000 rows of the train file (rectangles: the last 200).
The bg-rand and bg-img files store their images transposed; this reader transposes them
back. For rot and rot-bg-img the corrected (`_new`) release is preferred when both exist.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aelab.data.catalog import info
from aelab.data.errors import CorruptFile

FOLDER = "larochelle2007"
# name -> (train file stem, test file stem)
ORIGINAL_FILES = {
    "mnist-basic": ("mnist_train", "mnist_test"),
    "mnist-rot": ("mnist_all_rotation_normalized_float_train_valid", "mnist_all_rotation_normalized_float_test"),
    "mnist-bg-rand": ("mnist_background_random_train", "mnist_background_random_test"),
    "mnist-bg-img": ("mnist_background_images_train", "mnist_background_images_test"),
    "mnist-rot-bg-img": ("mnist_all_background_images_rotation_normalized_train_valid",
                         "mnist_all_background_images_rotation_normalized_test"),
    "rectangles": ("rectangles_train", "rectangles_test"),
    "rectangles-img": ("rectangles_im_train", "rectangles_im_test"),
    "convex": ("convex_train", "convex_test"),
}
TRANSPOSED = {"mnist-bg-rand", "mnist-bg-img"}


def _find(folder: Path, stem: str) -> Path | None:
    matches = sorted(folder.rglob(f"{stem}.amat")) + sorted(folder.rglob(f"{stem}_new.amat"))
    newest = [m for m in matches if m.stem.endswith("_new")]
    return (newest or matches or [None])[0]


def find_originals(root: Path, name: str) -> tuple[Path, Path] | None:
    """(train file, test file) if both originals are present under root/larochelle2007."""
    folder = root / FOLDER
    if name not in ORIGINAL_FILES or not folder.is_dir():
        return None
    train, test = (_find(folder, stem) for stem in ORIGINAL_FILES[name])
    return (train, test) if train is not None and test is not None else None


def read_amat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    values = np.fromfile(path, sep=" ", dtype=np.float32)
    if values.size == 0 or values.size % 785:
        raise CorruptFile(f"{path}: expected rows of 784 pixels and a label, found {values.size} numbers")
    rows = values.reshape(-1, 785)
    return rows[:, :784].reshape(-1, 28, 28), rows[:, 784].astype(np.int64)


def load_split(paths: tuple[Path, Path], name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    meta = info(name)
    n_valid = meta.sizes[1]
    x, y = read_amat(paths[1] if split == "test" else paths[0])
    if split == "train":
        x, y = x[:-n_valid], y[:-n_valid]
    elif split == "valid":
        x, y = x[-n_valid:], y[-n_valid:]
    if name in TRANSPOSED:
        x = x.transpose(0, 2, 1)
    return np.ascontiguousarray(x), y
