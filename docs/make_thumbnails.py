"""Make the landing page's card pictures: notebooks/thumbnails/NAME.png from docs/screenshots/.

    python docs/make_thumbnails.py

For each dashboard, the picture is its first plot (`docs/screenshots/NAME-plot.png`, an
element screenshot, when someone saved one) when there is one, else the 1280x800 screenshot
`docs/screenshots/NAME.png` (`docs/make_screenshots.py`); it is scaled to at most 560 x 340
pixels (twice a card's size, sharp on high-density screens) and stored as a 128-colour PNG.
Needs Pillow.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "docs" / "screenshots"
OUT = REPO / "notebooks" / "thumbnails"
SIZE = (560, 340)


def thumbnail(source: Path, target: Path) -> None:
    from PIL import Image

    with Image.open(source) as image:
        image = image.convert("RGB")
        # keep the card's shape: crop the top part of the image to SIZE's aspect ratio, then scale
        width, height = image.size
        crop_h = min(height, round(width * SIZE[1] / SIZE[0]))
        image = image.crop((0, 0, width, crop_h))
        image.thumbnail(SIZE, Image.LANCZOS)
        image.quantize(128).save(target, optimize=True)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    names = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    missing = []
    for name in names:
        source = next((p for p in (SCREENSHOTS / f"{name}-plot.png", SCREENSHOTS / f"{name}.png") if p.is_file()),
                      None)
        if source is None:
            missing.append(name)
            continue
        thumbnail(source, OUT / f"{name}.png")
        print(f"{name}: {source.name} -> {(OUT / f'{name}.png').stat().st_size // 1024} KB")
    if missing:
        print(f"no screenshot for: {', '.join(missing)} (their cards show the dashboard's number)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
