"""The datasets aelab knows by name: sizes, classes and where each comes from."""

from __future__ import annotations

from dataclasses import dataclass

from aelab.data.errors import DataError, UnknownDataset

DIGIT_CLASSES = tuple(str(d) for d in range(10))
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    sizes: tuple[int, int, int]  # train, valid, test
    classes: tuple[str, ...]
    source: str  # "mnist", "generated", "digits"
    description: str

    def size(self, split: str) -> int:
        return self.sizes[SPLITS.index(split)]


_ALL = [
    DatasetInfo("mnist", (50000, 10000, 10000), DIGIT_CLASSES, "mnist",
                "MNIST digits; valid = last 10000 of the official training set"),
    DatasetInfo("mnist-basic", (10000, 2000, 50000), DIGIT_CLASSES, "generated",
                "a seeded draw of 62000 MNIST digits, unchanged (Larochelle et al. 2007)"),
    DatasetInfo("mnist-rot", (10000, 2000, 50000), DIGIT_CLASSES, "generated",
                "MNIST digits rotated by an angle uniform in [0, 2pi)"),
    DatasetInfo("mnist-bg-rand", (10000, 2000, 50000), DIGIT_CLASSES, "generated",
                "MNIST digits over uniform random noise backgrounds"),
    DatasetInfo("mnist-bg-img", (10000, 2000, 50000), DIGIT_CLASSES, "generated",
                "MNIST digits over random patches of grayscale photographs"),
    DatasetInfo("mnist-rot-bg-img", (10000, 2000, 50000), DIGIT_CLASSES, "generated",
                "rotated MNIST digits over photograph patches"),
    DatasetInfo("rectangles", (1000, 200, 50000), ("wide", "tall"), "generated",
                "white rectangle outlines on black; tall vs wide"),
    DatasetInfo("rectangles-img", (10000, 2000, 50000), ("wide", "tall"), "generated",
                "a rectangle filled with one photo patch over another; tall vs wide"),
    DatasetInfo("convex", (6000, 2000, 50000), ("non-convex", "convex"), "generated",
                "white convex vs non-convex regions"),
    DatasetInfo("digits", (1197, 300, 300), DIGIT_CLASSES, "digits",
                "scikit-learn's 8x8 handwritten digits (embedded, no file needed)"),
]
DATASETS: dict[str, DatasetInfo] = {info.name: info for info in _ALL}


def info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownDataset(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
