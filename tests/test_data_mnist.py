"""MNIST: IDX reading, checksums, root resolution, clear errors, contract sizes."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from aelab import data
from aelab.data import idx, mnist
from aelab.data.errors import CorruptFile, DataError, DatasetNotFound


def test_idx_round_trip_gzipped_and_plain(tmp_path, write_idx):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for compress in (True, False):
        path = write_idx(tmp_path / f"a{compress}.idx", array, compress=compress)
        np.testing.assert_array_equal(idx.read_idx(path), array)


def test_idx_bad_magic_is_a_clear_error(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(CorruptFile, match="magic"):
        idx.read_idx(path)


def test_idx_truncated_file_is_a_clear_error(tmp_path, write_idx):
    path = write_idx(tmp_path / "t.gz", np.zeros((5, 4, 4), np.uint8), compress=False)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(CorruptFile, match="truncated"):
        idx.read_idx(path)


def test_idx_broken_gzip_is_a_clear_error(tmp_path, write_idx):
    path = write_idx(tmp_path / "g.gz", np.zeros((50, 4, 4), np.uint8))
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(CorruptFile, match="gzip"):
        idx.read_idx(path)


def test_wrong_content_fails_the_checksum(tmp_path, write_idx):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in mnist.FILES:
        shape = (3, 28, 28) if "images" in name else (3,)
        write_idx(folder / name, np.zeros(shape, np.uint8))
    with pytest.raises(CorruptFile, match="checksum"):
        data.load("mnist", "test", root=tmp_path)


def test_missing_files_offline_names_files_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("AELAB_NO_DOWNLOAD", "1")
    with pytest.raises(DatasetNotFound) as err:
        data.load("mnist", root=tmp_path)
    message = str(err.value)
    assert "train-images-idx3-ubyte.gz" in message and str(tmp_path / "mnist") in message


def test_failed_download_leaves_no_partial_file(tmp_path, monkeypatch):
    """A download whose mirror does not answer raises and writes nothing into the root."""
    folder = tmp_path / "mnist"
    with pytest.raises(DatasetNotFound, match="Download attempts failed"):
        mnist.download(folder, "t10k-labels-idx1-ubyte.gz", mirrors=("http://127.0.0.1:9/",), timeout=2)
    assert not folder.exists() or list(folder.iterdir()) == []


def test_download_verifies_then_writes_atomically(tmp_path, mnist_root):
    """Serve the real file from a local folder (file:// URL): it is verified and written whole."""
    source = mnist_root / "mnist"
    target = tmp_path / "mnist"
    path = mnist.download(target, "t10k-labels-idx1-ubyte.gz", mirrors=(source.as_uri() + "/",))
    assert path.read_bytes() == (source / "t10k-labels-idx1-ubyte.gz").read_bytes()
    assert [p.name for p in target.iterdir()] == ["t10k-labels-idx1-ubyte.gz"]


def test_download_rejects_wrong_content(tmp_path, write_idx):
    bogus = tmp_path / "mirror"
    bogus.mkdir()
    write_idx(bogus / "t10k-labels-idx1-ubyte.gz", np.zeros(10000, np.uint8))
    target = tmp_path / "root" / "mnist"
    with pytest.raises(DatasetNotFound, match="checksum"):
        mnist.download(target, "t10k-labels-idx1-ubyte.gz", mirrors=(bogus.as_uri() + "/",))
    assert not target.exists() or not any(target.iterdir())


def test_root_argument_beats_environment(tmp_path, monkeypatch, mnist_root):
    monkeypatch.setenv("AELAB_DATA", str(tmp_path / "elsewhere"))
    assert data.data_root(mnist_root) == mnist_root
    assert data.data_root() == tmp_path / "elsewhere"
    monkeypatch.delenv("AELAB_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data.data_root() == tmp_path / "cache" / "aelab"


def test_root_that_is_a_file_is_rejected(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="is a file"):
        data.load("mnist", root=tmp_path / "file")


def test_unknown_names_and_splits_are_clear():
    with pytest.raises(KeyError, match="known: mnist"):
        data.load("mnist-fancy")
    with pytest.raises(ValueError, match="train, valid, test"):
        data.load("digits", "validation")


@pytest.mark.slow
def test_mnist_splits_have_contract_sizes_and_types(mnist_root):
    sizes = {}
    for split in data.SPLITS:
        ds = data.load("mnist", split, root=mnist_root)
        assert ds.x.dtype == torch.float32 and ds.y.dtype == torch.int64
        assert ds.x.shape[1:] == (1, 28, 28)
        assert 0.0 <= float(ds.x.min()) and float(ds.x.max()) <= 1.0
        assert ds.classes == tuple("0123456789")
        sizes[split] = len(ds)
    assert sizes == {"train": 50000, "valid": 10000, "test": 10000}
    # valid is the tail of the official training file, disjoint from train
    train, valid = data.load("mnist", "train"), data.load("mnist", "valid")
    assert not torch.equal(train.x[-1], valid.x[0])


def test_plain_idx_files_are_read_too(tmp_path, mnist_root):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in mnist.FILES:
        (folder / name[:-3]).write_bytes(gzip.decompress((mnist_root / "mnist" / name).read_bytes()))
    ds = data.load("mnist", "test", root=tmp_path)
    reference = data.load("mnist", "test", root=mnist_root)
    assert torch.equal(ds.x, reference.x) and torch.equal(ds.y, reference.y)


def test_digits_is_embedded_and_deterministic():
    a, b = data.load("digits", "train", seed=3), data.load("digits", "train", seed=3)
    assert a.x.shape == (1197, 1, 8, 8) and torch.equal(a.x, b.x)
    assert not torch.equal(a.x, data.load("digits", "train", seed=4).x)
    total = sum(len(data.load("digits", s)) for s in data.SPLITS)
    assert total == 1797
