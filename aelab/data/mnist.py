"""MNIST: the four official IDX files, found in the data root or downloaded and verified.

A file is accepted when the SHA-256 of its decompressed IDX content matches the official
content below, so a copy that was gzipped again (other gzip header bytes, same images)
is accepted too. Downloads go to a temporary name and are renamed into place only after
they verify, so a failed or interrupted download leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from functools import lru_cache
from pathlib import Path

import numpy as np

from aelab import settings
from aelab.data.errors import CorruptFile, DatasetNotFound
from aelab.data.idx import parse_idx, read_idx_bytes
from aelab.fileio import atomic_path

FOLDER = "mnist"
# file name -> SHA-256 of the decompressed IDX content
FILES = {
    "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
DOWNLOAD_ENV = settings.NO_DOWNLOAD


def mnist_folder(root: Path) -> Path:
    return root / FOLDER


def _candidates(folder: Path, name: str) -> list[Path]:
    """The gzipped name and the plain one (`train-images-idx3-ubyte`), in that order."""
    return [folder / name, folder / name[: -len(".gz")]]


def find_file(folder: Path, name: str) -> Path | None:
    for path in _candidates(folder, name):
        if path.is_file():
            return path
    return None


def _verify(content: bytes, name: str, source: str) -> None:
    digest = hashlib.sha256(content).hexdigest()
    if digest != FILES[name]:
        raise CorruptFile(f"{source}: content checksum {digest[:12]}... does not match the official "
                          f"{name} ({FILES[name][:12]}...); delete the file and download it again")


def download(folder: Path, name: str, mirrors: tuple[str, ...] = MIRRORS, timeout: float = 30.0) -> Path:
    """Download one official file into `folder`, verified, written atomically."""
    errors = []
    for mirror in mirrors:
        url = mirror + name
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                raw = response.read()
            _verify(parse_idx_content(raw, url), name, url)
        except (urllib.error.URLError, OSError, CorruptFile, ValueError) as err:
            errors.append(f"{url}: {err}")
            continue
        with atomic_path(folder / name) as tmp:
            tmp.write_bytes(raw)
        return folder / name
    raise DatasetNotFound(_missing_message(folder, [name], errors))


def parse_idx_content(raw: bytes, source: str) -> bytes:
    """Decompressed bytes of a downloaded file (checking it parses as IDX)."""
    import gzip
    import zlib

    try:
        content = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, zlib.error) as err:
        raise CorruptFile(f"{source}: not a readable gzip file ({err})") from err
    parse_idx(content, source)
    return content


def _missing_message(folder: Path, names: list[str], errors: list[str] | None = None) -> str:
    lines = [f"MNIST files missing from {folder}: {', '.join(names)}.",
             f"Download them (gzipped IDX files from the MNIST page or a mirror) and place them in {folder}/, "
             "or point AELAB_DATA (or root=) at a folder that has a 'mnist' subfolder with them."]
    if errors:
        lines.append("Download attempts failed: " + "; ".join(errors[-3:]))
    return "\n".join(lines)


def ensure_files(root: Path, allow_download: bool | None = None) -> dict[str, Path]:
    """Paths of the four files, downloading any that are missing (unless disabled)."""
    folder = mnist_folder(root)
    if allow_download is None:
        allow_download = settings.downloads_allowed()
    found = {name: find_file(folder, name) for name in FILES}
    missing = [name for name, path in found.items() if path is None]
    if missing and not allow_download:
        raise DatasetNotFound(_missing_message(folder, missing) + f"\n(Downloads are disabled by {DOWNLOAD_ENV}.)")
    for name in missing:
        found[name] = download(folder, name)
    return found  # type: ignore[return-value]


@lru_cache(maxsize=4)
def _read_verified(path: str, name: str, mtime: float) -> np.ndarray:
    content = read_idx_bytes(path)
    array = parse_idx(content, path)
    _verify(content, name, path)
    return array


def load_arrays(root: Path) -> dict[str, np.ndarray]:
    """The official arrays: `train_x` (60000x28x28 uint8), `train_y`, `test_x`, `test_y`."""
    paths = ensure_files(root)
    arrays = {key: _read_verified(str(paths[name]), name, paths[name].stat().st_mtime) for key, name in (
        ("train_x", "train-images-idx3-ubyte.gz"), ("train_y", "train-labels-idx1-ubyte.gz"),
        ("test_x", "t10k-images-idx3-ubyte.gz"), ("test_y", "t10k-labels-idx1-ubyte.gz"))}
    return arrays


def status(root: Path) -> str:
    folder = mnist_folder(root)
    present = [find_file(folder, name) is not None for name in FILES]
    if all(present):
        return "present"
    return "partial" if any(present) else "missing"
