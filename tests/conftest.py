"""Shared test set-up: data roots, no network, small fixtures.

MNIST comes from `$AELAB_DATA` (CI points it at ../shared/data); when unset, the shared
copy beside the checkout is used. Caches (generated datasets, dashboard results, models)
go under `$AELAB_CACHE`, a per-session temporary folder unless the caller set one (caches
never write into the data root). Downloads are disabled: a test that would need the network fails.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

if not os.environ.get("AELAB_DATA") and SHARED_DATA.is_dir():
    os.environ["AELAB_DATA"] = str(SHARED_DATA)
os.environ.setdefault("AELAB_NO_DOWNLOAD", "1")
os.environ.setdefault("AELAB_DEVICE", "cpu")


def pytest_configure(config):
    if not os.environ.get("AELAB_CACHE"):
        import tempfile

        os.environ["AELAB_CACHE"] = tempfile.mkdtemp(prefix="aelab-test-cache-")


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    root = Path(os.environ.get("AELAB_DATA", SHARED_DATA))
    assert (root / "mnist").is_dir(), (
        f"MNIST IDX files not found under {root}/mnist: set AELAB_DATA to a folder with a 'mnist' subfolder")
    return root


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format (magic 0x0000080n, big-endian sizes)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">i", s) for s in array.shape)
    return header + array.tobytes()


@pytest.fixture
def write_idx():
    def write(path: Path, array: np.ndarray, compress: bool = True) -> Path:
        payload = idx_bytes(array)
        path.write_bytes(gzip.compress(payload) if compress else payload)
        return path

    return write
