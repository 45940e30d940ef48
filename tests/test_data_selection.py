"""`aelab.data.images` and `aelab.data.splits`: the examples experiments and dashboards work on."""

import pytest
import torch

from aelab import data


@pytest.fixture(scope="module")
def digits_train():
    return data.load("digits", "train")


def test_images_are_the_first_n_of_a_split_as_tensors(digits_train):
    x, y = data.images("digits", "train", 10)
    assert x.shape == (10, 1, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.equal(x, digits_train.x[:10]) and torch.equal(y, digits_train.y[:10])
    x_all, _ = data.images("digits", "train")
    assert len(x_all) == len(digits_train)


def test_images_pad_to_a_size_and_flatten(digits_train):
    x, _ = data.images("digits", "train", 4, size=12)
    assert x.shape == (4, 1, 12, 12)
    assert torch.equal(x[:, :, 2:10, 2:10], digits_train.x[:4]) and x[:, :, :2].abs().sum() == 0
    flat, _ = data.images("digits", "train", 4, flat=True)
    assert flat.shape == (4, 64) and torch.equal(flat, digits_train.x[:4].reshape(4, -1))
    both, _ = data.images("digits", "train", 4, size=10, flat=True)
    assert both.shape == (4, 100)


def test_shuffle_draws_a_seeded_random_subset_with_matching_labels(digits_train):
    x, y = data.images("digits", "train", 50, shuffle=3)
    again, _ = data.images("digits", "train", 50, shuffle=3)
    other, _ = data.images("digits", "train", 50, shuffle=4)
    assert torch.equal(x, again) and not torch.equal(x, other)
    assert not torch.equal(x, digits_train.x[:50])
    order = torch.randperm(len(digits_train), generator=torch.Generator().manual_seed(3))[:50]
    assert torch.equal(x, digits_train.x[order]) and torch.equal(y, digits_train.y[order])


@pytest.mark.parametrize("n", [0, -1, 1198])
def test_asking_for_more_images_than_the_split_holds_or_none_is_an_error(n):
    with pytest.raises(ValueError, match="digits/train has 1197 examples"):
        data.images("digits", "train", n)


def test_splits_cut_each_split_to_at_most_its_first_n():
    train, valid, test = data.splits("digits", "cpu", n_train=100, n_valid=0, n_test=5000)
    assert (len(train), len(valid), len(test)) == (100, 300, 300)
    assert train.split == "train" and test.split == "test" and len(train.classes) == 10
    assert torch.equal(train.x, data.load("digits", "train").x[:100])
    assert train.n_features == 64
    assert [len(d) for d in data.splits("digits")] == [1197, 300, 300]
