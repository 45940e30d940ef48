"""Generators for the 2007 benchmark sets (Larochelle, Erhan, Courville, Bergstra, Bengio, ICML 2007).

`generate(name, pool, seed=0)` returns `{"train": (x, y), "valid": (x, y), "test": (x, y)}`
with x uint8 (N x 28 x 28, 0..255 standing for [0, 1]) and y int64, in the sizes of
`aelab.data.catalog`. `generate_splits(name, pool, sizes, seed)` does the same for any
sizes (tests use small ones). Everything is vectorised (numpy/torch, batched): measured
CPU time per whole set 0.1-2.7 s for the digit and rectangle sets, 9 s for convex.

Recipes (facts from REFERENCES.md; "chosen" marks details no primary source confirmed)
--------------------------------------------------------------------------------------
Digit sets draw distinct images from the 70000 MNIST images `pool` (train then test),
one seeded permutation; the first n_train are train, the next n_valid valid, the rest test.

- mnist-basic: the drawn digits, unchanged.
- mnist-rot: each digit rotated about the image centre by an angle uniform in [0, 2pi),
  bilinear interpolation, zeros outside (torch `affine_grid` + `grid_sample`).
- mnist-bg-rand: every background pixel uniform in [0, 1]; image = max(digit, background)
  (chosen: max is the usual reading of how the digit meets its background).
- mnist-bg-img: background = a random 28x28 patch of one of 20 grayscale photographs;
  image = max(digit, background).
- mnist-rot-bg-img: rotation as mnist-rot, then a photo background as mnist-bg-img.
- rectangles: a white 1-pixel outline on black. Height and width uniform integers in
  [3, 28] (chosen), pairs whose sides differ by fewer than 3 px rejected; the top-left
  corner uniform among the positions where the rectangle fits (chosen). Label 1 = tall
  (height > width), 0 = wide.
- rectangles-img: a filled rectangle (border and inside) showing one photo patch over a
  background showing another (two independent patch draws). Sides uniform integers in
  [10, 28], differing by at least 5 px, area 25-75% of the image (chosen, as REFERENCES.md
  suggests); corner uniform where it fits. Labels as rectangles.
- convex: pixel centres (row, col) in 0..27 are tested against half-planes
  {x : (x - p) . n >= 0}, the point p uniform over the image square [-0.5, 27.5]^2 and
  the normal n at an angle uniform in [0, 2pi). A convex region is the intersection of
  K ~ Geometric(p=0.195) half-planes (K >= 1), rejected under 19 pixels. A non-convex
  image is the union of M (uniform in 2..4) convex sets, each from Geometric(0.07)
  half-planes and at least 10 pixels, kept only if a pair check proves it non-convex
  (`pair_gaps`). Binary images, label 1 = convex, 0 = non-convex, 50/50 in every split.

Convexity: a pixel set is digitally convex when every pixel centre inside the convex hull
of its on-pixel centres is on (`hull_gaps`, `is_convex`: exact, scipy's ConvexHull per
image); an intersection of half-planes always is. The generator keeps a union when some
off pixel lies on the segment between two on pixels (`pair_gaps`: along rows, columns
and diagonals, then midpoints of any two on pixels by an FFT autoconvolution), which
proves it non-convex; unions without such a pixel are dropped. Of 4303 sampled unions,
the check flagged 3475, all non-convex by the exact test, and of the 828 it let pass none
was non-convex: the pair check loses (almost) nothing and every kept example is truly
non-convex.

Balance (chosen): the original tuned its parameters so that both classes have the same
mean number of on pixels. With the recipe above the means differ a lot (measured on 4000
per class: 272 convex vs 471 non-convex), and no placement of the half-planes closed the
gap cleanly: points uniform over a square 4x the image gave 523 vs 543 but made 36% of
the convex images entirely white. So the convex class is thinned instead: convex
candidates are accepted with a probability per on-pixel count (16 bins) that turns their
count histogram into that of the non-convex images just generated (`count_matcher`,
rejection sampling), which equalises the whole count distribution, not only its mean.
Measured on the full set (seed 0, 29000 per class): 471.9 on pixels (convex) vs
473.0 (non-convex).

Photographs (chosen): 20 real photographs that ship inside scikit-image and
scikit-learn and load offline (no pooch download): astronaut, brick, camera, cell,
chelsea, coffee, coins, grass, gravel, hubble_deep_field, immunohistochemistry,
microaneurysms, moon, page, retina, rocket, text, the left stereo_motorcycle view
(skimage) and china, flower (sklearn). Left out: clock (motion-blurred, 84% of its
patches flat), cat (the same photograph as chelsea), drawings and binary images. Colour
images go to gray with `rgb2gray`; each photograph is shrunk (anti-aliased) so its
shorter side is at most 256 px, so a 28x28 patch holds texture rather than a flat
detail of a large photo.
A patch is rejected, and redrawn from the same photograph, when its pixel standard
deviation is below 0.03 (variance below 9e-4, pixel values in [0, 1]).
Held-out regions (chosen): train and valid patches come from the top half of every
photograph, test patches from the bottom half, so no test background pixel was seen in
training while every photograph's texture appears in both.

Random streams: each set draws from `numpy.random.default_rng(SeedSequence([seed,
crc32(name)]))`, so the same seed gives identical arrays, different seeds differ, and two
names with the same seed never share a stream.
"""

from __future__ import annotations

import math
import sys
import zlib
from functools import lru_cache

import numpy as np
import torch
from tqdm import tqdm

from aelab.data.catalog import DATASETS, SPLITS

SIDE = 28
GENERATED = ("mnist-basic", "mnist-rot", "mnist-bg-rand", "mnist-bg-img", "mnist-rot-bg-img",
             "rectangles", "rectangles-img", "convex")
DIGIT_SETS = GENERATED[:5]

PATCH_MIN_STD = 0.03
PHOTO_MAX_SHORT_SIDE = 256
SKIMAGE_PHOTOS = ("astronaut", "brick", "camera", "cell", "chelsea", "coffee", "coins", "grass", "gravel",
                  "hubble_deep_field", "immunohistochemistry", "microaneurysms", "moon", "page", "retina",
                  "rocket", "text", "stereo_motorcycle")
SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")

RECT_SIDES = (3, 28)
RECT_MIN_SIDE_GAP = 3
RECT_IMG_SIDES = (10, 28)
RECT_IMG_MIN_SIDE_GAP = 5
RECT_IMG_AREA = (0.25, 0.75)

CONVEX_P = 0.195
CONVEX_MIN_PIXELS = 19
UNION_PARTS = (2, 4)
UNION_PART_P = 0.07
UNION_PART_MIN_PIXELS = 10
HALF_PLANE_SPREAD = 1.0  # the half-plane's point is uniform over the image square
COUNT_BINS = 16

_CHUNK = 8192


# ----------------------------------------------------------------------------- entry points

def generate(name: str, pool: tuple[np.ndarray, np.ndarray] | None, *, seed: int = 0,
             progress: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """All three splits of benchmark set `name` in the catalog's sizes (see module docstring)."""
    _check_name(name)
    return generate_splits(name, pool, DATASETS[name].sizes, seed=seed, progress=progress)


def generate_splits(name: str, pool: tuple[np.ndarray, np.ndarray] | None, sizes: tuple[int, int, int], *,
                    seed: int = 0, progress: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Splits of `name` with `sizes` = (n_train, n_valid, n_test) examples."""
    _check_name(name)
    sizes = tuple(int(n) for n in sizes)
    if len(sizes) != 3 or min(sizes) < 0:
        raise ValueError(f"sizes must be three non-negative counts (train, valid, test), got {sizes}")
    rng = stream(name, seed)
    with tqdm(total=sum(sizes), desc=f"generating {name}", unit="img", disable=not progress,
              file=sys.stderr, leave=False) as bar:
        if name in DIGIT_SETS:
            x, y = _digit_set(name, _check_pool(name, pool, sum(sizes)), sizes, rng, bar)
        elif name == "convex":
            x, y = _convex_set(sizes, rng, bar)
        else:
            x, y = _rectangle_set(name, sizes, rng, bar)
    bounds = np.cumsum((0,) + sizes)
    return {split: (x[bounds[i]:bounds[i + 1]], y[bounds[i]:bounds[i + 1]]) for i, split in enumerate(SPLITS)}


def stream(name: str, seed: int) -> np.random.Generator:
    """The random stream of one set: same (name, seed) -> same stream, names never share one."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(name.encode())]))


def _check_name(name: str) -> None:
    if name not in GENERATED:
        raise KeyError(f"no generator for dataset {name!r}; generated sets: {', '.join(GENERATED)}")


def _check_pool(name: str, pool, needed: int) -> tuple[np.ndarray, np.ndarray]:
    if pool is None:
        raise ValueError(f"{name} is drawn from MNIST: pass pool=(images uint8 N x 28 x 28, labels N)")
    images, labels = np.asarray(pool[0]), np.asarray(pool[1])
    if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE) or len(images) != len(labels):
        raise ValueError(f"pool must be (images N x 28 x 28, labels N); got {images.shape} and {labels.shape}")
    if len(images) < needed:
        raise ValueError(f"{name} needs {needed} distinct MNIST images but the pool holds {len(images)}")
    if images.dtype != np.uint8:
        images = np.clip(np.rint(images.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    return images, labels.astype(np.int64)


def _uint8(x: np.ndarray | torch.Tensor) -> np.ndarray:
    """Values in [0, 1] -> uint8 0..255."""
    x = x.numpy() if isinstance(x, torch.Tensor) else x
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- digit sets

def _digit_set(name, pool, sizes, rng, bar):
    images, labels = pool
    total = sum(sizes)
    index = rng.permutation(len(images))[:total]
    x, y = images[index].copy(), labels[index]
    if name in ("mnist-rot", "mnist-rot-bg-img"):
        x = rotate(x, rng.uniform(0.0, 2.0 * math.pi, size=total))
    if name == "mnist-bg-rand":
        x = np.maximum(x, rng.integers(0, 256, size=x.shape, dtype=np.uint8))
    if name in ("mnist-bg-img", "mnist-rot-bg-img"):
        x = np.maximum(x, _split_patches(rng, sizes))
    bar.update(total)
    return x, y


def rotate(images: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rotate uint8 images (N x 28 x 28) about their centre by `angles` (radians), bilinear.

    Recipe: sample grid = R(angle) applied to the output pixel's normalised coordinates
    (`affine_grid`, align_corners=False keeps the centre at the image centre), values by
    `grid_sample` (bilinear, zeros outside); done in batches of 8192.
    """
    out = np.empty_like(images)
    for start in range(0, len(images), _CHUNK):
        batch = torch.from_numpy(images[start:start + _CHUNK]).float().div_(255.0).unsqueeze(1)
        theta = torch.from_numpy(angles[start:start + _CHUNK]).float()
        cos, sin, zero = torch.cos(theta), torch.sin(theta), torch.zeros_like(theta)
        matrix = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
        grid = torch.nn.functional.affine_grid(matrix, list(batch.shape), align_corners=False)
        rotated = torch.nn.functional.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros",
                                                  align_corners=False)
        out[start:start + _CHUNK] = _uint8(rotated[:, 0])
    return out


# ----------------------------------------------------------------------------- photographs

@lru_cache(maxsize=1)
def photographs() -> tuple[tuple[str, np.ndarray], ...]:
    """The 20 grayscale photographs (name, float32 H x W in [0, 1], shorter side <= 256)."""
    import skimage.data
    from skimage.color import rgb2gray
    from skimage.transform import rescale
    from sklearn.datasets import load_sample_image

    raw = []
    for name in SKIMAGE_PHOTOS:
        image = getattr(skimage.data, name)()
        raw.append((name, image[0] if name == "stereo_motorcycle" else image))
    raw += [(name.split(".")[0], load_sample_image(name)) for name in SKLEARN_PHOTOS]
    photos = []
    for name, image in raw:
        gray = rgb2gray(image[..., :3]) if image.ndim == 3 else image / 255.0
        scale = PHOTO_MAX_SHORT_SIDE / min(gray.shape)
        if scale < 1:
            gray = rescale(gray, scale, anti_aliasing=True)
        photos.append((name, np.clip(gray, 0.0, 1.0).astype(np.float32)))
    return tuple(photos)


def photo_regions(part: str) -> list[np.ndarray]:
    """Top halves of the photographs for part 'fit' (train + valid), bottom halves for 'test'."""
    if part not in ("fit", "test"):
        raise ValueError(f"part must be 'fit' (train + valid) or 'test', got {part!r}")
    regions = []
    for _, photo in photographs():
        half = photo.shape[0] // 2
        regions.append(photo[:half] if part == "fit" else photo[half:])
    return regions


def sample_patches(rng: np.random.Generator, n: int, part: str) -> np.ndarray:
    """`n` uint8 28x28 patches: photograph uniform, position uniform, std < 0.03 redrawn.

    All regions are flattened into one buffer, so a batch of patches is one gather of
    pixel indices `start[photo] + (row + i) * width[photo] + (col + j)`.
    """
    regions = photo_regions(part)
    flat = np.concatenate([r.ravel() for r in regions])
    starts = np.cumsum([0] + [r.size for r in regions[:-1]])
    heights = np.array([r.shape[0] for r in regions])
    widths = np.array([r.shape[1] for r in regions])
    offsets = np.arange(SIDE)
    which = rng.integers(0, len(regions), size=n)
    out = np.empty((n, SIDE, SIDE), dtype=np.uint8)
    pending = np.arange(n)
    for _ in range(200):
        if len(pending) == 0:
            return out
        p = which[pending]
        rows = rng.integers(0, heights[p] - SIDE + 1)
        cols = rng.integers(0, widths[p] - SIDE + 1)
        accepted = np.zeros(len(pending), dtype=bool)
        for s in range(0, len(pending), _CHUNK):
            sl = slice(s, s + _CHUNK)
            top_left = starts[p[sl]] + rows[sl] * widths[p[sl]] + cols[sl]
            pixel = (top_left[:, None, None] + offsets[None, :, None] * widths[p[sl], None, None]
                     + offsets[None, None, :])
            patches = flat[pixel]
            ok = patches.std(axis=(1, 2)) >= PATCH_MIN_STD
            out[pending[sl][ok]] = _uint8(patches[ok])
            accepted[sl] = ok
        pending = pending[~accepted]
    raise RuntimeError(f"could not draw {len(pending)} patches with pixel std >= {PATCH_MIN_STD} after 200 tries; "
                       f"a photograph is too flat: remove it from SKIMAGE_PHOTOS/SKLEARN_PHOTOS")


def _split_patches(rng, sizes) -> np.ndarray:
    """Patches for consecutive train, valid, test examples: train/valid from 'fit', test from 'test'."""
    fit = sample_patches(rng, sizes[0] + sizes[1], "fit")
    return np.concatenate([fit, sample_patches(rng, sizes[2], "test")])


# ----------------------------------------------------------------------------- rectangles

def balanced_labels(rng: np.random.Generator, sizes: tuple[int, ...]) -> np.ndarray:
    """Per split, half 0 and half 1 (an odd count gets one extra random label), shuffled in the split."""
    parts = []
    for n in sizes:
        labels = np.repeat(np.array([0, 1], dtype=np.int64), n // 2)
        if n % 2:
            labels = np.append(labels, rng.integers(0, 2))
        parts.append(rng.permutation(labels))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def draw_sides(rng: np.random.Generator, n: int, side_range: tuple[int, int], min_gap: int,
               area: tuple[float, float] = (0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """`n` pairs (long, short) of integer sides uniform in `side_range` (inclusive), rejected
    when they differ by fewer than `min_gap` px or cover a fraction of the image outside `area`."""
    longs, shorts, have = [], [], 0
    while have < n:
        a = rng.integers(side_range[0], side_range[1] + 1, size=2 * (n - have) + 64)
        b = rng.integers(side_range[0], side_range[1] + 1, size=len(a))
        cover = a * b / SIDE ** 2
        keep = (np.abs(a - b) >= min_gap) & (cover >= area[0]) & (cover <= area[1])
        longs.append(np.maximum(a, b)[keep])
        shorts.append(np.minimum(a, b)[keep])
        have += int(keep.sum())
    return np.concatenate(longs)[:n], np.concatenate(shorts)[:n]


def rectangle_masks(rng: np.random.Generator, heights: np.ndarray, widths: np.ndarray, *,
                    outline: bool) -> np.ndarray:
    """Boolean N x 28 x 28 rectangles (1-px outline or filled), top-left corner uniform where it fits."""
    top = rng.integers(0, SIDE - heights + 1)
    left = rng.integers(0, SIDE - widths + 1)
    grid = np.arange(SIDE)
    rows = (grid >= top[:, None]) & (grid < (top + heights)[:, None])
    cols = (grid >= left[:, None]) & (grid < (left + widths)[:, None])
    filled = rows[:, :, None] & cols[:, None, :]
    if not outline:
        return filled
    edge_rows = (grid == top[:, None]) | (grid == (top + heights - 1)[:, None])
    edge_cols = (grid == left[:, None]) | (grid == (left + widths - 1)[:, None])
    return filled & (edge_rows[:, :, None] | edge_cols[:, None, :])


def _rectangle_set(name, sizes, rng, bar):
    y = balanced_labels(rng, sizes)
    if name == "rectangles":
        long, short = draw_sides(rng, len(y), RECT_SIDES, RECT_MIN_SIDE_GAP)
    else:
        long, short = draw_sides(rng, len(y), RECT_IMG_SIDES, RECT_IMG_MIN_SIDE_GAP, RECT_IMG_AREA)
    tall = y == 1
    heights, widths = np.where(tall, long, short), np.where(tall, short, long)
    mask = rectangle_masks(rng, heights, widths, outline=name == "rectangles")
    if name == "rectangles":
        x = mask.astype(np.uint8) * np.uint8(255)
    else:
        inside, outside = _split_patches(rng, sizes), _split_patches(rng, sizes)
        x = np.where(mask, inside, outside)
    bar.update(len(y))
    return x, y


# ----------------------------------------------------------------------------- convex

_CENTRES = np.stack(np.meshgrid(np.arange(SIDE), np.arange(SIDE), indexing="ij"), -1).reshape(-1, 2).astype(np.float32)
_ROWS, _COLS = _CENTRES[:, 0], _CENTRES[:, 1]


def half_plane_intersections(rng: np.random.Generator, n: int, p: float, min_pixels: int = 1) -> np.ndarray:
    """Of `n` candidate regions, each the intersection of K ~ Geometric(p) random half-planes,
    those with at least `min_pixels` pixels (boolean k x 28 x 28, in draw order).

    A half-plane keeps the pixel centres x with (x - point) . normal >= 0, the point uniform
    over the square of side HALF_PLANE_SPREAD * 28 centred on the image (1: the image square)
    and the normal's angle uniform in [0, 2pi). Round j draws the j-th half-plane of every
    region still alive, all at once (chunks of 65536 candidates). One whose line misses the
    grid keeps all pixels or none (decided from the corner centres): none empties the
    region, all changes nothing.
    A region that falls under `min_pixels` can only shrink further, so it is dropped at once
    and its remaining half-planes are never drawn.
    """
    counts = rng.geometric(p, size=n)
    half = HALF_PLANE_SPREAD * SIDE / 2
    low, high = (SIDE - 1) / 2 - half, (SIDE - 1) / 2 + half
    kept_ids, kept = [], []
    for first in range(0, n, 65536):
        ids = np.arange(first, min(n, first + 65536))
        work = np.ones((len(ids), SIDE * SIDE), dtype=bool)  # row id - first; only rows of cut regions change
        j = 0
        while len(ids):
            finished = counts[ids] == j
            kept_ids.append(ids[finished])
            kept.append(work[ids[finished] - first])
            ids = ids[~finished]
            points = rng.uniform(low, high, size=(len(ids), 2)).astype(np.float32)
            angle = rng.uniform(0.0, 2.0 * math.pi, size=len(ids))
            cos, sin = np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)
            offset = points[:, 0] * cos + points[:, 1] * sin
            corner_max = (SIDE - 1) * (np.maximum(cos, 0) + np.maximum(sin, 0))
            corner_min = (SIDE - 1) * (np.minimum(cos, 0) + np.minimum(sin, 0))
            alive = corner_max >= offset
            cuts = np.flatnonzero(alive & (corner_min < offset))
            if len(cuts):
                inside = cos[cuts, None] * _ROWS + sin[cuts, None] * _COLS >= offset[cuts, None]
                rows = work[ids[cuts] - first] & inside
                work[ids[cuts] - first] = rows
                alive[cuts] = np.count_nonzero(rows, axis=1) >= min_pixels
            ids = ids[alive]
            j += 1
    order = np.argsort(np.concatenate(kept_ids), kind="stable")
    return np.concatenate(kept)[order].reshape(-1, SIDE, SIDE)


def convex_regions(rng: np.random.Generator, n: int, like: np.ndarray | None = None) -> np.ndarray:
    """`n` convex images: Geometric(0.195) half-planes, regions under 19 pixels redrawn.

    With `like` (images of the other class), candidates are also thinned so that their
    on-pixel counts follow the histogram of `like`'s (`count_matcher`).
    """
    if like is None:
        return _draw_until(n, lambda k: half_plane_intersections(rng, k, CONVEX_P, CONVEX_MIN_PIXELS), rate=0.3)
    pilot = half_plane_intersections(rng, 20000, CONVEX_P, CONVEX_MIN_PIXELS)
    accept = count_matcher(pilot.sum((1, 2)), like.sum((1, 2)))

    def batch(k):
        regions = half_plane_intersections(rng, k, CONVEX_P, CONVEX_MIN_PIXELS)
        return regions[rng.uniform(size=len(regions)) < accept(regions.sum((1, 2)))]

    return _draw_until(n, batch, rate=0.05)


def count_matcher(proposal: np.ndarray, target: np.ndarray, bins: int = COUNT_BINS):
    """Acceptance probability per on-pixel count that turns `proposal`'s count histogram into
    `target`'s (rejection sampling, bins of equal width over 0..784): ratio of the two
    histograms, scaled so the largest ratio among bins holding >= 1% of the proposal is 1."""
    edges = np.linspace(0, SIDE * SIDE + 1, bins + 1)
    have = np.histogram(proposal, edges)[0] / max(len(proposal), 1)
    want = np.histogram(target, edges)[0] / max(len(target), 1)
    ratio = np.where(have > 0, want / np.maximum(have, 1e-12), 0.0)
    scale = ratio[have >= 0.01].max()
    probability = np.minimum(ratio / scale, 1.0)
    return lambda counts: probability[np.clip(np.digitize(counts, edges) - 1, 0, bins - 1)]


def nonconvex_regions(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` non-convex images: unions of 2-4 convex parts (Geometric(0.07), >= 10 px), non-convex kept."""

    def batch(k):
        parts = rng.integers(UNION_PARTS[0], UNION_PARTS[1] + 1, size=k)
        pieces = _draw_until(int(parts.sum()), lambda m: half_plane_intersections(
            rng, m, UNION_PART_P, UNION_PART_MIN_PIXELS), rate=0.1)
        starts = np.concatenate([[0], np.cumsum(parts)[:-1]])
        unions = np.logical_or.reduceat(pieces, starts, axis=0)
        return unions[pair_gaps(unions)]

    return _draw_until(n, batch, rate=0.3)


def _draw_until(n: int, batch, rate: float) -> np.ndarray:
    """Call `batch(k)` (which returns the accepted ones of k candidates) until `n` images are
    collected; k is sized by the acceptance rate seen so far (`rate` before the first call)
    and capped at 16384 to bound memory."""
    kept, have, tried = [], 0, 0
    while have < n:
        k = min(int(1.1 * (n - have) / max(rate, 0.01)) + 16, 16384)
        got = batch(k)
        kept.append(got)
        have, tried = have + len(got), tried + k
        rate = have / tried
    return np.concatenate(kept)[:n] if kept else np.zeros((0, SIDE, SIDE), dtype=bool)


def line_gaps(masks: np.ndarray) -> np.ndarray:
    """Per image: does a row, column or diagonal have an off pixel between two on pixels?

    Such a pixel lies on the segment between two on pixels, so True proves non-convexity.
    Diagonals become columns after shifting row r by r (or -r) columns.
    """
    n = len(masks)
    rows = np.arange(SIDE)[:, None]
    cols = np.arange(SIDE)[None, :]
    views = [masks, masks.transpose(0, 2, 1)]
    for sign in (1, -1):
        sheared = np.zeros((n, 2 * SIDE - 1, SIDE), dtype=bool)
        sheared[:, cols + sign * rows + (SIDE - 1 if sign < 0 else 0), rows] = masks
        views.append(sheared)
    found = np.zeros(n, dtype=bool)
    for view in views:
        on = view.reshape(n, -1, view.shape[-1])
        count = on.sum(-1)
        first = on.argmax(-1)
        last = on.shape[-1] - 1 - on[..., ::-1].argmax(-1)
        found |= ((count > 0) & (last - first + 1 > count)).any(-1)
    return found


def pair_gaps(masks: np.ndarray) -> np.ndarray:
    """Per image: is some off pixel a lattice point on the segment between two on pixels?

    Checked cheaply along rows, columns and diagonals (`line_gaps`), then, for the images
    those do not settle, for midpoints of any two on pixels: the autoconvolution c = S * S
    counts pairs (p, q) with p + q = s, so an off pixel m with c[2m] > 0 is a midpoint
    (all images of a batch at once by FFT). True proves non-convexity (such a pixel lies in
    the hull); this is the original's pair check restricted to these segment points.
    """
    from scipy import fft

    masks = np.asarray(masks, dtype=bool)
    found = line_gaps(masks)
    todo = np.flatnonzero(~found)
    size = 2 * SIDE
    for s in range(0, len(todo), 2048):
        index = todo[s:s + 2048]
        batch = masks[index]
        spectrum = fft.rfft2(batch.astype(np.float32), s=(size, size), workers=-1)
        pairs = fft.irfft2(spectrum * spectrum, s=(size, size), workers=-1)[:, 0:2 * SIDE - 1:2, 0:2 * SIDE - 1:2]
        found[index] = ((pairs > 0.5) & ~batch).reshape(len(batch), -1).any(1)
    return found


def hull_gaps(mask: np.ndarray) -> np.ndarray:
    """Boolean 28x28: off pixels whose centre lies in the convex hull of the on-pixel centres.

    Exact: scipy's ConvexHull facets (A x + b <= 0 inside, 1e-9 tolerance); a set whose
    centres are collinear is checked along its segment. An empty result = digitally convex.
    """
    from scipy.spatial import ConvexHull

    points = np.argwhere(mask)
    inside = np.zeros((SIDE, SIDE), dtype=bool)
    if len(points) == 0:
        return inside
    centred = points - points[0]
    if len(points) < 3 or np.linalg.matrix_rank(centred) < 2:
        order = np.lexsort((points[:, 1], points[:, 0]))
        a, b = points[order[0]], points[order[-1]]
        steps = int(np.gcd(abs(b[0] - a[0]), abs(b[1] - a[1])))
        if steps > 0:
            on_segment = a + np.arange(steps + 1)[:, None] * ((b - a) // steps)
            inside[on_segment[:, 0], on_segment[:, 1]] = True
        else:
            inside[a[0], a[1]] = True
    else:
        equations = ConvexHull(points).equations
        inside = ((_CENTRES @ equations[:, :2].T.astype(np.float64) + equations[:, 2]) <= 1e-9).all(1)
        inside = inside.reshape(SIDE, SIDE)
    return inside & ~mask


def is_convex(masks: np.ndarray) -> np.ndarray:
    """Per image, exactly: digitally convex (no off pixel centre inside the hull)? One hull per image."""
    return np.array([not hull_gaps(mask).any() for mask in masks], dtype=bool)


def _convex_set(sizes, rng, bar):
    y = balanced_labels(rng, sizes)
    x = np.empty((len(y), SIDE, SIDE), dtype=bool)
    x[y == 0] = nonconvex_regions(rng, int((y == 0).sum()))
    bar.update(int((y == 0).sum()))
    x[y == 1] = convex_regions(rng, int((y == 1).sum()), like=x[y == 0])
    bar.update(int((y == 1).sum()))
    return x.astype(np.uint8) * np.uint8(255), y


def on_pixel_means(x: np.ndarray, y: np.ndarray) -> dict[int, float]:
    """Mean number of on pixels per label (the original balanced these across classes)."""
    on = (np.asarray(x) > 127).reshape(len(x), -1).sum(1)
    return {int(label): float(on[y == label].mean()) for label in np.unique(y)}
