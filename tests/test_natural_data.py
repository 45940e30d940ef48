"""SVHN / CIFAR-10 / STL-10 loaders, on tiny files the tests write in the official formats."""

import io
import tarfile

import numpy as np
import pytest
import scipy.io
import torch

from aelab.data import natural
from aelab.data.errors import CorruptFile, DatasetNotFound
from aelab.data.natural import load_natural


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def write_svhn(folder, split, images, labels):
    """images N x 32 x 32 x 3 uint8 -> X stored 32 x 32 x 3 x N; labels with 0 stored as 10."""
    (folder / "svhn").mkdir(parents=True, exist_ok=True)
    y = np.where(labels == 0, 10, labels).reshape(-1, 1).astype(np.uint8)
    scipy.io.savemat(folder / "svhn" / f"{split}_32x32.mat", {"X": np.transpose(images, (1, 2, 3, 0)), "y": y})


def cifar_bytes(images, labels):
    """images N x 3 x 32 x 32 uint8 -> records of label byte + R, G, B planes."""
    return b"".join(bytes([int(lab)]) + img.tobytes() for img, lab in zip(images, labels))


def test_svhn_reads_format_2_with_zero_as_ten(tmp_path, rng):
    images = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    labels = np.array([0, 3, 9, 0])
    write_svhn(tmp_path, "train", images, labels)
    ds = load_natural("svhn", "train", root=tmp_path, allow_download=False)
    assert ds.x.shape == (4, 3, 32, 32) and ds.x.dtype == torch.float32
    assert ds.y.tolist() == [0, 3, 9, 0]
    assert np.allclose(ds.x[1].permute(1, 2, 0).numpy() * 255, images[1])  # channel c = X[:, :, c]
    assert 0.0 <= float(ds.x.min()) and float(ds.x.max()) <= 1.0


def test_cifar_reads_binary_records_in_rgb_plane_order(tmp_path, rng):
    folder = tmp_path / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    batches = []
    for i in range(1, 6):
        images = rng.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
        (folder / f"data_batch_{i}.bin").write_bytes(cifar_bytes(images, [i, i + 1]))
        batches.append(images)
    (folder / "test_batch.bin").write_bytes(cifar_bytes(batches[0], [7, 8]))
    train = load_natural("cifar10", "train", root=tmp_path, allow_download=False)
    assert train.x.shape == (10, 3, 32, 32)
    assert train.y.tolist() == [1, 2, 2, 3, 3, 4, 4, 5, 5, 6]
    assert np.array_equal((train.x[2] * 255).round().to(torch.uint8).numpy(), batches[1][0])
    assert load_natural("cifar10", "train", root=tmp_path, limit=3, allow_download=False).x.shape[0] == 3
    assert load_natural("cifar10", "test", root=tmp_path, allow_download=False).classes[7] == "horse"


def test_cifar_truncated_file_is_reported(tmp_path):
    folder = tmp_path / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    (folder / "test_batch.bin").write_bytes(b"\x00" * 3000)
    with pytest.raises(CorruptFile, match="3073-byte"):
        load_natural("cifar10", "test", root=tmp_path, allow_download=False)


def test_stl_reads_column_major_images_and_one_based_labels(tmp_path, rng):
    folder = tmp_path / "stl10" / "stl10_binary"
    folder.mkdir(parents=True)
    images = rng.integers(0, 256, (3, 3, 96, 96), dtype=np.uint8)  # N x C x H x W
    (folder / "train_X.bin").write_bytes(np.ascontiguousarray(images.transpose(0, 1, 3, 2)).tobytes())
    (folder / "train_y.bin").write_bytes(bytes([1, 10, 5]))
    (folder / "unlabeled_X.bin").write_bytes(np.ascontiguousarray(images.transpose(0, 1, 3, 2)).tobytes())
    ds = load_natural("stl10", "train", root=tmp_path, allow_download=False)
    assert ds.x.shape == (3, 3, 96, 96) and ds.y.tolist() == [0, 9, 4]
    assert np.array_equal((ds.x * 255).round().to(torch.uint8).numpy(), images)
    assert load_natural("stl10", "unlabeled", root=tmp_path, allow_download=False).y.tolist() == [-1, -1, -1]


def test_offline_error_names_files_and_folder(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise natural.urllib.error.URLError("no network")

    monkeypatch.setattr(natural.urllib.request, "urlopen", offline)
    with pytest.raises(DatasetNotFound) as err:
        load_natural("cifar10", "test", root=tmp_path, allow_download=True)
    message = str(err.value)
    assert "test_batch.bin" in message and str(tmp_path / "cifar10") in message and "no network" in message
    assert not list((tmp_path / "cifar10").glob("*.part"))  # nothing half-written left behind


def test_download_is_verified_and_archives_extract_only_expected_files(tmp_path, monkeypatch, rng):
    images = rng.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, payload in (("cifar-10-batches-bin/test_batch.bin", cifar_bytes(images, [1, 2])),
                              ("cifar-10-batches-bin/readme.html", b"<html>")):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    archive = buffer.getvalue()
    monkeypatch.setattr(natural.urllib.request, "urlopen", lambda url, timeout=None: io.BytesIO(archive))
    with pytest.raises(DatasetNotFound, match="MD5"):  # our fake archive is not the official one
        load_natural("cifar10", "test", root=tmp_path, allow_download=True)
    import hashlib

    fake = natural.Source(natural.NATURAL["cifar10"].sources[0].url, hashlib.md5(archive).hexdigest())
    monkeypatch.setitem(natural.NATURAL, "cifar10", natural.NaturalInfo(
        folder="cifar10", classes=natural.NATURAL["cifar10"].classes,
        splits=natural.NATURAL["cifar10"].splits, sources=(fake,)))
    ds = load_natural("cifar10", "test", root=tmp_path, allow_download=True)
    assert ds.y.tolist() == [1, 2]
    assert not (tmp_path / "cifar10" / "cifar-10-batches-bin" / "readme.html").exists()


def test_unknown_name_and_split_are_errors(tmp_path):
    with pytest.raises(KeyError, match="known"):
        load_natural("imagenet", "train", root=tmp_path)
    with pytest.raises(ValueError, match="splits"):
        load_natural("cifar10", "valid", root=tmp_path, allow_download=False)
