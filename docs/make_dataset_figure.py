"""Draw `docs/datasets.png`: 10 training images of every generated 2007 benchmark set.

One row per set, its name and the labels above the images. Loads through `aelab.data.load`
(so the sets are generated and cached on first use; see aelab/data/benchmarks2007.py).

    AELAB_DATA=/path/with/mnist python docs/make_dataset_figure.py [--out docs/datasets.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from aelab import data
from aelab.data.benchmarks2007 import GENERATED

PER_ROW = 10
SCALE = 3
GAP = 4
LABEL_WIDTH = 130
CAPTION = 12


def dataset_row(name: str, count: int = PER_ROW) -> tuple[np.ndarray, list[str]]:
    """The first `count` training images (uint8 count x 28 x 28) of `name` and their class names."""
    ds = data.load(name, "train")
    images = (ds.x[:count, 0].numpy() * 255).round().astype(np.uint8)
    return images, [ds.classes[int(label)] for label in ds.y[:count]]


def draw_figure(rows: dict[str, tuple[np.ndarray, list[str]]]) -> Image.Image:
    """A white sheet: for each set its name on the left, then its images, each with its class above."""
    cell = 28 * SCALE
    width = LABEL_WIDTH + PER_ROW * (cell + GAP) + GAP
    height = len(rows) * (cell + CAPTION + GAP) + GAP
    sheet = Image.new("L", (width, height), 255)
    pen = ImageDraw.Draw(sheet)
    for r, (name, (images, labels)) in enumerate(rows.items()):
        top = GAP + r * (cell + CAPTION + GAP)
        pen.text((GAP, top + CAPTION + cell // 2 - 6), name, fill=0)
        for c, (image, label) in enumerate(zip(images, labels)):
            left = LABEL_WIDTH + c * (cell + GAP)
            pen.text((left, top), label, fill=0)
            sheet.paste(Image.fromarray(image).resize((cell, cell), Image.NEAREST), (left, top + CAPTION))
    return sheet


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "datasets.png")
    args = parser.parse_args(argv)
    figure = draw_figure({name: dataset_row(name) for name in GENERATED})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.save(args.out)
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
