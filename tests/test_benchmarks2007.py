"""The 2007 benchmark generators: sizes, ranges, balance, determinism, and each set's recipe."""

from __future__ import annotations

import numpy as np
import pytest

from aelab import data
from aelab.data import benchmarks2007 as b07
from aelab.data import mnist
from aelab.data.catalog import DATASETS

SMALL = (40, 10, 30)


@pytest.fixture(scope="module")
def pool(mnist_root):
    arrays = mnist.load_arrays(mnist_root)
    return (np.concatenate([arrays["train_x"], arrays["test_x"]]),
            np.concatenate([arrays["train_y"], arrays["test_y"]]).astype(np.int64))


def small(name, pool, seed=0, sizes=SMALL):
    return b07.generate_splits(name, pool if name in b07.DIGIT_SETS else None, sizes, seed=seed)


def test_unknown_name_is_an_error_listing_the_generated_sets():
    with pytest.raises(KeyError, match="rectangles-img"):
        b07.generate("mnist-tilted", None)


def test_digit_set_without_pool_is_a_clear_error():
    with pytest.raises(ValueError, match="pool"):
        b07.generate_splits("mnist-rot", None, SMALL)


@pytest.mark.parametrize("name", b07.GENERATED)
def test_small_splits_have_requested_sizes_uint8_images_and_int64_labels(name, pool):
    splits = small(name, pool)
    assert list(splits) == ["train", "valid", "test"]
    for (x, y), n in zip(splits.values(), SMALL):
        assert x.shape == (n, 28, 28) and x.dtype == np.uint8
        assert y.shape == (n,) and y.dtype == np.int64
        assert set(np.unique(y)) <= set(range(len(DATASETS[name].classes)))
    if name in ("rectangles", "convex"):
        assert set(np.unique(np.concatenate([x.ravel() for x, _ in splits.values()]))) <= {0, 255}


@pytest.mark.parametrize("name", ["mnist-basic", "rectangles"])
def test_full_size_sets_load_in_catalog_sizes_and_come_back_from_the_cache(name, monkeypatch, tmp_path):
    monkeypatch.setenv("AELAB_CACHE", str(tmp_path))
    for split in ("train", "valid", "test"):
        ds = data.load(name, split)
        assert len(ds) == DATASETS[name].size(split)
        assert ds.x.shape[1:] == (1, 28, 28)
        assert 0.0 <= float(ds.x.min()) and float(ds.x.max()) <= 1.0
    assert len(list((tmp_path / "generated").glob(f"{name}-seed0-*.npz"))) == 1


@pytest.mark.parametrize("name", ["rectangles", "rectangles-img", "convex"])
def test_two_class_sets_are_balanced_in_every_split(name, pool):
    for x, y in small(name, pool, sizes=(40, 20, 60)).values():
        assert y.sum() * 2 == len(y)


@pytest.mark.parametrize("name", ["mnist-rot", "mnist-bg-img", "rectangles", "convex"])
def test_same_seed_gives_identical_arrays_and_another_seed_differs(name, pool):
    first, again, other = small(name, pool, seed=3), small(name, pool, seed=3), small(name, pool, seed=4)
    for split in first:
        np.testing.assert_array_equal(first[split][0], again[split][0])
        np.testing.assert_array_equal(first[split][1], again[split][1])
    assert not np.array_equal(first["train"][0], other["train"][0])


def test_names_with_the_same_seed_do_not_share_a_random_stream(pool):
    draws = {name: b07.stream(name, 0).random(4) for name in b07.GENERATED}
    assert len({tuple(v) for v in draws.values()}) == len(b07.GENERATED)
    basic, noisy = small("mnist-basic", pool), small("mnist-bg-rand", pool)
    assert not np.array_equal(basic["train"][1], noisy["train"][1])


def test_mnist_basic_images_are_unchanged_distinct_mnist_digits(pool):
    splits = small("mnist-basic", pool)
    x, y = np.concatenate([s[0] for s in splits.values()]), np.concatenate([s[1] for s in splits.values()])
    index = b07.stream("mnist-basic", 0).permutation(len(pool[0]))[:sum(SMALL)]
    assert len(set(index.tolist())) == len(x)
    np.testing.assert_array_equal(x, pool[0][index])
    np.testing.assert_array_equal(y, pool[1][index])


def test_rotation_keeps_ink_mass_and_quarter_turn_is_exact(pool):
    digits = pool[0][:200]
    angles = np.random.default_rng(0).uniform(0, 2 * np.pi, 200)
    mass, rotated = digits.sum((1, 2)).astype(float), b07.rotate(digits, angles).sum((1, 2)).astype(float)
    assert np.abs(rotated / mass - 1).mean() < 0.03
    assert np.abs(rotated / mass - 1).max() < 0.15
    quarter = b07.rotate(digits[:5], np.full(5, np.pi / 2)).astype(int)
    assert min(np.abs(quarter - np.rot90(digits[:5], k, axes=(1, 2))).max() for k in (1, -1)) <= 1
    np.testing.assert_array_equal(b07.rotate(digits[:5], np.zeros(5)), digits[:5])


def test_rotated_set_differs_from_its_digits_but_keeps_their_ink(pool):
    x, _ = small("mnist-rot", pool)["train"]
    assert 0.5 < x.astype(float).sum() / (len(x) * pool[0][:1000].astype(float).sum((1, 2)).mean()) < 1.5


def test_random_background_is_uniform_noise(pool):
    x, _ = small("mnist-bg-rand", pool)["test"]
    assert (x > 0).mean() > 0.95
    assert 0.5 < x.mean() / 255 < 0.75  # max(digit, uniform) averages above 0.5


def drawn_digits(name, pool, sizes=SMALL):
    """The MNIST digits behind a digit set: its stream's first draw is the permutation of the pool."""
    index = b07.stream(name, 0).permutation(len(pool[0]))[:sum(sizes)]
    return pool[0][index], pool[1][index]


@pytest.mark.parametrize("name", ["mnist-bg-rand", "mnist-bg-img"])
def test_backgrounds_lie_under_the_unchanged_digit(name, pool):
    splits = small(name, pool)
    x, y = np.concatenate([s[0] for s in splits.values()]), np.concatenate([s[1] for s in splits.values()])
    digits, labels = drawn_digits(name, pool)
    np.testing.assert_array_equal(y, labels)
    assert (x >= digits).all()  # max(digit, background)
    background = digits == 0
    assert (x[background] > 0).mean() > 0.8
    assert all(x[i][background[i]].std() > 0 for i in range(len(x)))


def test_rotated_photo_set_has_textured_backgrounds(pool):
    for x, _ in small("mnist-rot-bg-img", pool).values():
        assert (x.reshape(len(x), -1).std(1) / 255 >= b07.PATCH_MIN_STD - 1 / 255).all()
        assert ((x > 0).reshape(len(x), -1).mean(1) > 0.5).mean() > 0.8


def test_photo_patches_are_not_flat_and_test_regions_are_held_out():
    patches = b07.sample_patches(np.random.default_rng(1), 300, "test") / 255.0
    assert patches.std(axis=(1, 2)).min() >= b07.PATCH_MIN_STD - 1 / 255
    assert len(b07.photographs()) == 20
    for (_, photo), fit, test in zip(b07.photographs(), b07.photo_regions("fit"), b07.photo_regions("test")):
        assert fit.shape[0] + test.shape[0] == photo.shape[0]
        np.testing.assert_array_equal(np.concatenate([fit, test]), photo)
    with pytest.raises(ValueError, match="fit"):
        b07.photo_regions("valid")


def test_rectangle_labels_match_the_bounding_box_of_the_outline(pool):
    for x, y in small("rectangles", pool, sizes=(100, 20, 80)).values():
        for image, label in zip(x > 0, y):
            rows, cols = np.flatnonzero(image.any(1)), np.flatnonzero(image.any(0))
            height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
            assert abs(height - width) >= b07.RECT_MIN_SIDE_GAP
            assert label == int(height > width)
            inside = image[rows[0] + 1:rows[-1], cols[0] + 1:cols[-1]]
            assert not inside.any() and image.sum() == 2 * (height + width) - 4


def test_rectangles_img_shapes_follow_the_recipe():
    rng = np.random.default_rng(0)
    long, short = b07.draw_sides(rng, 2000, b07.RECT_IMG_SIDES, b07.RECT_IMG_MIN_SIDE_GAP, b07.RECT_IMG_AREA)
    assert short.min() >= 10 and long.max() <= 28 and (long - short).min() >= 5
    cover = long * short / 784
    assert cover.min() >= 0.25 and cover.max() <= 0.75
    masks = b07.rectangle_masks(rng, long, short, outline=False)
    np.testing.assert_array_equal(masks.sum((1, 2)), long * short)


def test_rectangles_img_shows_two_patches(pool):
    x, y = small("rectangles-img", pool)["train"]
    assert (x.reshape(len(x), -1).std(1) > 0).all()
    assert set(np.unique(y)) == {0, 1}


def test_hull_gaps_on_known_shapes():
    square = np.zeros((28, 28), bool)
    square[3:9, 4:12] = True
    ell = square.copy()
    ell[3:6, 8:12] = False
    dots = np.zeros((28, 28), bool)
    dots[5, 5] = dots[5, 9] = True
    diagonal = np.eye(28, dtype=bool)
    assert not b07.hull_gaps(square).any() and not b07.hull_gaps(diagonal).any()
    assert b07.hull_gaps(ell).any() and b07.hull_gaps(dots).sum() == 3
    np.testing.assert_array_equal(b07.is_convex(np.stack([square, ell, dots, diagonal])), [True, False, False, True])
    np.testing.assert_array_equal(b07.pair_gaps(np.stack([square, ell, dots, diagonal])), [False, True, True, False])


def test_convex_examples_are_convex_and_non_convex_ones_are_not(pool):
    x, y = small("convex", pool, sizes=(60, 20, 40))["train"]
    x = x > 0
    convex = b07.is_convex(x)
    np.testing.assert_array_equal(convex, y == 1)
    assert (x[y == 1].sum((1, 2)) >= b07.CONVEX_MIN_PIXELS).all()


def test_pair_gaps_only_flag_truly_non_convex_unions():
    rng = np.random.default_rng(5)
    parts = b07.half_plane_intersections(rng, 3000, b07.UNION_PART_P, b07.UNION_PART_MIN_PIXELS)
    unions = parts[0::2][: len(parts) // 2] | parts[1::2][: len(parts) // 2]
    flagged = b07.pair_gaps(unions)
    assert flagged.any() and not b07.is_convex(unions[flagged]).any()


def test_convex_classes_have_close_mean_on_pixel_counts(pool):
    splits = small("convex", pool, sizes=(300, 0, 300))
    x = np.concatenate([splits["train"][0], splits["test"][0]])
    y = np.concatenate([splits["train"][1], splits["test"][1]])
    means = b07.on_pixel_means(x, y)
    assert abs(means[0] - means[1]) < 0.1 * max(means.values())


def test_count_matcher_turns_one_count_histogram_into_another():
    rng = np.random.default_rng(2)
    proposal = rng.integers(0, 785, 20000)
    target = np.clip(rng.normal(600, 60, 5000), 0, 784)
    accept = b07.count_matcher(proposal, target)
    thinned = proposal[rng.uniform(size=len(proposal)) < accept(proposal)]
    assert abs(thinned.mean() - target.mean()) < 15
    assert abs(thinned.std() - target.std()) < 15
