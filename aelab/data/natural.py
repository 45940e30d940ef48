"""The natural-image sets of Zhao et al. (2016): SVHN, CIFAR-10, STL-10, in their official formats.

    >>> from aelab.data.natural import load_natural
    >>> train = load_natural("cifar10", "train")        # x: 50000 x 3 x 32 x 32 float32 in [0, 1]

Files live under the data root (explicit `root`, else `$AELAB_DATA`, else the user cache):

| name | folder | files (official) | splits |
| --- | --- | --- | --- |
| `svhn` | `svhn/` | `train_32x32.mat`, `test_32x32.mat`, `extra_32x32.mat` (format 2, cropped digits) | train, test, extra |
| `cifar10` | `cifar10/` | `cifar-10-batches-bin/data_batch_{1..5}.bin`, `test_batch.bin` (binary version) | train, test |
| `stl10` | `stl10/` | `stl10_binary/{train,test,unlabeled}_X.bin`, `{train,test}_y.bin` (binary version) | train, test, unlabeled |

Formats: SVHN .mat holds `X` (32 x 32 x 3 x N uint8) and `y` (N x 1, digit 0 stored as 10),
read with scipy.io.loadmat. A CIFAR-10 record is 1 label byte then 3072 pixel bytes (1024
red, 1024 green, 1024 blue, rows in order). STL-10's X files are uint8 N x 3 x 96 x 96 with
each channel stored column-major; y files are one byte per image, labels 1..10. Labels are
returned as 0..9; STL-10's unlabeled split has y = -1.

Missing files are downloaded from the official URLs (unless `$AELAB_NO_DOWNLOAD` is set),
checked against the MD5 the dataset pages publish, written atomically; archives are
extracted member by member (only the expected regular files). Offline, the error names the
files and the folder to put them in. `limit` reads only the first images of a split (STL-10's
unlabeled split is 100,000 images, 11 GB as float32).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aelab import settings
from aelab.data.datasets import Dataset
from aelab.data.errors import CorruptFile, DataError, DatasetNotFound, UnknownDataset
from aelab.data.root import data_root
from aelab.fileio import atomic_path

DOWNLOAD_ENV = settings.NO_DOWNLOAD
CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """One downloadable file: its URL and the MD5 the dataset's page publishes."""

    url: str
    md5: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class NaturalInfo:
    folder: str
    classes: tuple[str, ...]
    splits: dict[str, tuple[str, ...]]  # split -> files (relative to the folder)
    sources: tuple[Source, ...]  # .mat files themselves, or one archive holding all files


SVHN_URL = "http://ufldl.stanford.edu/housenumbers/"
NATURAL: dict[str, NaturalInfo] = {
    "svhn": NaturalInfo(
        folder="svhn", classes=tuple(str(d) for d in range(10)),
        splits={"train": ("train_32x32.mat",), "test": ("test_32x32.mat",), "extra": ("extra_32x32.mat",)},
        sources=(Source(SVHN_URL + "train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373"),
                 Source(SVHN_URL + "test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3"),
                 Source(SVHN_URL + "extra_32x32.mat", "a93ce644f1a588dc4d68dda5feec44a7"))),
    "cifar10": NaturalInfo(
        folder="cifar10",
        classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        splits={"train": tuple(f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6)),
                "test": ("cifar-10-batches-bin/test_batch.bin",)},
        sources=(Source("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530"),)),
    "stl10": NaturalInfo(
        folder="stl10",
        classes=("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"),
        splits={"train": ("stl10_binary/train_X.bin", "stl10_binary/train_y.bin"),
                "test": ("stl10_binary/test_X.bin", "stl10_binary/test_y.bin"),
                "unlabeled": ("stl10_binary/unlabeled_X.bin",)},
        sources=(Source("http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz", "91f7769df0f17e558f3565bffb0c7dfb"),)),
}


def natural_info(name: str) -> NaturalInfo:
    if name not in NATURAL:
        raise UnknownDataset(f"unknown natural-image dataset {name!r}; known: {', '.join(NATURAL)}")
    return NATURAL[name]


def natural_status(name: str, root: str | os.PathLike | None = None) -> tuple[str, str]:
    """(present|partial|missing, folder) for `aelab data list`."""
    meta = natural_info(name)
    folder = data_root(root) / meta.folder
    files = [folder / f for split_files in meta.splits.values() for f in split_files]
    found = [p.is_file() for p in files]
    state = "present" if all(found) else "partial" if any(found) else "missing"
    return state, str(folder)


# ----------------------------------------------------------------------------- download

def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(source: Source, destination: Path, timeout: float = 60.0) -> None:
    """Download `source` to `destination`, verified by MD5, written atomically."""
    with atomic_path(destination) as tmp:
        with urllib.request.urlopen(source.url, timeout=timeout) as response, open(tmp, "wb") as out:
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
        found = _md5(tmp)
        if found != source.md5:
            raise CorruptFile(f"{source.url}: MD5 {found} differs from the official {source.md5}")


def _extract(archive: Path, folder: Path, wanted: set[str]) -> None:
    """Extract only the expected regular files of an official archive, each atomically."""
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if member.name not in wanted or not member.isfile():
                continue
            source = tar.extractfile(member)
            if source is None:
                continue
            with atomic_path(folder / member.name) as tmp, open(tmp, "wb") as out:
                for block in iter(lambda: source.read(CHUNK), b""):
                    out.write(block)


def _missing_message(name: str, folder: Path, missing: list[str], errors: list[str]) -> str:
    meta = NATURAL[name]
    lines = [f"{name} files missing from {folder}: {', '.join(missing)}.",
             "Download " + " and ".join(s.url for s in meta.sources)
             + (f" and extract it into {folder}/" if meta.sources[0].filename.endswith(".tar.gz")
                else f" into {folder}/")
             + ", or point AELAB_DATA (or root=) at a folder that has them."]
    if errors:
        lines.append("Download attempts failed: " + "; ".join(errors[-3:]))
    return "\n".join(lines)


def ensure_files(name: str, split: str, root: str | os.PathLike | None = None,
                 allow_download: bool | None = None) -> list[Path]:
    """Paths of a split's files, downloading (and extracting) them when missing."""
    meta = natural_info(name)
    if split not in meta.splits:
        raise DataError(f"{name} has splits {', '.join(meta.splits)}; got {split!r}")
    folder = data_root(root) / meta.folder
    files = [folder / f for f in meta.splits[split]]
    missing = [str(p.relative_to(folder)) for p in files if not p.is_file()]
    if not missing:
        return files
    if allow_download is None:
        allow_download = settings.downloads_allowed()
    if not allow_download:
        raise DatasetNotFound(_missing_message(name, folder, missing, []) + f"\n(Downloads are disabled by {DOWNLOAD_ENV}.)")
    errors: list[str] = []
    try:
        if len(meta.sources) > 1:  # SVHN: one .mat per split
            source = next(s for s in meta.sources if s.filename == meta.splits[split][0])
            _fetch(source, folder / source.filename)
        else:
            source = meta.sources[0]
            archive = folder / source.filename
            if not archive.is_file() or _md5(archive) != source.md5:
                _fetch(source, archive)
            _extract(archive, folder, {f for files_ in meta.splits.values() for f in files_})
    except (urllib.error.URLError, OSError, CorruptFile, tarfile.TarError) as err:
        errors.append(f"{source.url}: {err}")
    still = [str(p.relative_to(folder)) for p in files if not p.is_file()]
    if still:
        raise DatasetNotFound(_missing_message(name, folder, still, errors))
    return files


# ----------------------------------------------------------------------------- readers

def read_svhn_mat(path: Path, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """SVHN format 2: X (32 x 32 x 3 x N uint8), y (N x 1, '0' stored as 10) -> (N x 3 x 32 x 32, N)."""
    from scipy.io import loadmat

    try:
        mat = loadmat(path)
    except (ValueError, OSError, TypeError) as err:
        raise CorruptFile(f"{path}: not a readable SVHN .mat file ({err})") from err
    if "X" not in mat or "y" not in mat or mat["X"].ndim != 4 or mat["X"].shape[2] != 3:
        raise CorruptFile(f"{path}: expected variables X (32x32x3xN) and y (Nx1) of SVHN format 2")
    x = np.transpose(mat["X"], (3, 2, 0, 1))
    y = mat["y"].reshape(-1).astype(np.int64)
    if len(y) != len(x):
        raise CorruptFile(f"{path}: {len(x)} images but {len(y)} labels")
    y[y == 10] = 0
    return (x[:limit], y[:limit]) if limit is not None else (x, y)


def read_cifar_bin(paths: list[Path], limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes (R, G, B planes)."""
    xs, ys = [], []
    left = limit
    for path in paths:
        if path.stat().st_size % 3073:
            raise CorruptFile(f"{path}: size {path.stat().st_size} is not a whole number of 3073-byte CIFAR-10 records")
        records = np.fromfile(path, dtype=np.uint8, count=-1 if left is None else left * 3073).reshape(-1, 3073)
        xs.append(records[:, 1:].reshape(-1, 3, 32, 32))
        ys.append(records[:, 0].astype(np.int64))
        if left is not None:
            left -= len(records)
            if left <= 0:
                break
    y = np.concatenate(ys)
    if y.size and y.max() > 9:
        raise CorruptFile(f"{paths[0].parent}: CIFAR-10 labels must be 0..9, found {int(y.max())}")
    return np.concatenate(xs), y


def read_stl_bin(x_path: Path, y_path: Path | None, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """STL-10 binary: X uint8 N x 3 x 96 x 96 stored column-major per channel; y bytes 1..10."""
    size = 3 * 96 * 96
    if x_path.stat().st_size % size:
        raise CorruptFile(f"{x_path}: size {x_path.stat().st_size} is not a whole number of 96x96x3 images")
    x = np.fromfile(x_path, dtype=np.uint8, count=-1 if limit is None else limit * size)
    x = x.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2)
    if y_path is None:
        return x, np.full(len(x), -1, dtype=np.int64)
    y = np.fromfile(y_path, dtype=np.uint8, count=len(x)).astype(np.int64) - 1
    if len(y) != len(x) or (y.size and (y.min() < 0 or y.max() > 9)):
        raise CorruptFile(f"{y_path}: expected {len(x)} labels in 1..10")
    return x, y


def load_natural(name: str, split: str = "train", root: str | os.PathLike | None = None, *,
                 limit: int | None = None, allow_download: bool | None = None) -> Dataset:
    """One split of SVHN, CIFAR-10 or STL-10 as a Dataset (x float32 N x 3 x H x W in [0, 1])."""
    meta = natural_info(name)
    if limit is not None and limit <= 0:
        raise ValueError(f"limit must be positive, got {limit}")
    files = ensure_files(name, split, root, allow_download)
    if name == "svhn":
        x, y = read_svhn_mat(files[0], limit)
    elif name == "cifar10":
        x, y = read_cifar_bin(files, limit)
    else:
        x, y = read_stl_bin(files[0], files[1] if len(files) > 1 else None, limit)
    images = torch.from_numpy(np.ascontiguousarray(x)).to(torch.float32).div_(255.0)
    return Dataset(images, torch.from_numpy(np.ascontiguousarray(y)), name, split, meta.classes)
