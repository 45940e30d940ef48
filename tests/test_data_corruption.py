"""Corruption processes, labelled subsets and translations."""

from __future__ import annotations

import pytest
import torch

from aelab import data


def test_masking_zeroes_exactly_round_level_times_d_components_per_example():
    x = torch.rand(50, 1, 10, 10) + 0.5  # no zeros to begin with
    out = data.corrupt(x, "masking", 0.25, generator=torch.Generator().manual_seed(0))
    zeros = (out == 0).flatten(1).sum(1)
    assert torch.all(zeros == 25)
    kept = out != 0
    assert torch.equal(out[kept], x[kept])  # the other components are untouched
    # different examples lose different components
    assert not torch.equal(out[0] == 0, out[1] == 0)


def test_masking_rounds_the_count_and_leaves_input_unmodified():
    x = torch.ones(4, 7)
    before = x.clone()
    out = data.corrupt(x, "masking", 0.3)
    assert torch.all((out == 0).sum(1) == round(0.3 * 7))
    assert torch.equal(x, before)


def test_gaussian_noise_has_the_requested_std():
    x = torch.zeros(200, 500)
    out = data.corrupt(x, "gaussian", 0.3, generator=torch.Generator().manual_seed(1))
    assert abs(float(out.std()) - 0.3) < 0.01 and abs(float(out.mean())) < 0.01


def test_salt_and_pepper_sets_the_fraction_to_zero_or_one():
    x = torch.full((100, 1000), 0.5)
    out = data.corrupt(x, "salt-pepper", 0.4, generator=torch.Generator().manual_seed(2))
    changed = out != 0.5
    assert abs(float(changed.float().mean()) - 0.4) < 0.01
    assert set(out[changed].unique().tolist()) == {0.0, 1.0}
    assert abs(float(out[changed].mean()) - 0.5) < 0.02


def test_generator_makes_corruption_repeatable():
    x = torch.rand(8, 64)
    a = data.corrupt(x, "masking", 0.5, generator=torch.Generator().manual_seed(7))
    b = data.corrupt(x, "masking", 0.5, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


@pytest.mark.parametrize("kind, level, message", [
    ("dropout", 0.1, "unknown corruption kind"),
    ("masking", 1.5, r"\[0, 1\]"),
    ("salt-pepper", -0.1, r"\[0, 1\]"),
    ("gaussian", -1.0, ">= 0"),
])
def test_bad_corruption_arguments_are_clear(kind, level, message):
    with pytest.raises(ValueError, match=message):
        data.corrupt(torch.rand(2, 4), kind, level)


def test_parse_noise_reads_kind_and_level():
    assert data.parse_noise("masking:0.25") == ("masking", 0.25)
    assert data.parse_noise("none") == ("none", 0.0)
    with pytest.raises(ValueError, match="KIND:LEVEL"):
        data.parse_noise("masking")
    with pytest.raises(ValueError, match="not a number"):
        data.parse_noise("gaussian:abc")


def test_balanced_subset_has_equal_counts_per_class_and_depends_on_seed():
    y = torch.arange(1000) % 10
    idx = data.balanced_subset(y, 100, seed=0)
    assert len(idx) == 100 and len(idx.unique()) == 100
    assert torch.all(torch.bincount(y[idx], minlength=10) == 10)
    assert torch.equal(idx, data.balanced_subset(y, 100, seed=0))
    assert not torch.equal(idx, data.balanced_subset(y, 100, seed=1))


def test_balanced_subset_rejects_counts_that_do_not_divide():
    with pytest.raises(ValueError, match="multiple"):
        data.balanced_subset(torch.arange(100) % 10, 55)


def test_translate_moves_content_and_fills_with_zero():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0
    right_down = data.translate(x, 2, 1)
    assert right_down[0, 0, 3, 4] == 1.0 and right_down.sum() == 1.0
    left_up = data.translate(x, -2, -2)
    assert left_up[0, 0, 0, 0] == 1.0
    assert data.translate(x, 3, 0).sum() == 0.0  # pushed out of the frame
    assert torch.equal(data.translate(x, 0, 0), x)


def test_pad_to_centres_images():
    x = torch.ones(2, 1, 28, 28)
    padded = data.pad_to(x, 32)
    assert padded.shape == (2, 1, 32, 32) and padded.sum() == x.sum()
    assert padded[0, 0, 2, 2] == 1 and padded[0, 0, 1, 1] == 0
