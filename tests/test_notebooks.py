"""Every dashboard notebook runs top to bottom, headless, at smoke size (nbclient).

`AELAB_LAB_SCALE=smoke` shrinks the apps to seconds, and the kernel starts with
`base.SYNC_KERNEL_ARG` (IPython `exec_lines` setting `Runner.synchronous = True`), so their
background work finishes (and re-raises failures) inside the cell and a broken dashboard
fails here.
"""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from aelab.widgets.base import SYNC_KERNEL_ARG

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]-*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_there_are_dashboards():
    assert [p.name for p in NOTEBOOKS][:1] == ["00-tour.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_at_smoke_size_and_shows_an_app(path, monkeypatch, tmp_path):
    monkeypatch.setenv("AELAB_LAB_SCALE", "smoke")
    monkeypatch.setenv("AELAB_CACHE", str(tmp_path))
    monkeypatch.setenv("AELAB_RESULTS", str(tmp_path / "no-shipped-results"))  # the dashboards as they train
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=240, kernel_name="python3", extra_arguments=[SYNC_KERNEL_ARG],
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(WIDGET_VIEW in o.get("data", {}) for o in outputs), "the notebook shows no widget app"
    # notebooks stay thin: one import and one app per code cell
    code = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    assert all(len(source.splitlines()) <= 5 for source in code)


def test_every_dashboard_has_a_small_1280x800_screenshot():
    """docs/screenshots/NAME.png for every notebook (made by docs/make_screenshots.py): 1280 x 800, under
    300 KB, and a picture, not a blank page."""
    from PIL import Image, ImageStat

    folder = NOTEBOOKS[0].parents[1] / "docs" / "screenshots"
    for path in NOTEBOOKS:
        shot = folder / f"{path.stem}.png"
        assert shot.is_file(), f"no screenshot of {path.stem}: python docs/make_screenshots.py {path.stem}"
        assert shot.stat().st_size < 300 * 1024, f"{shot.name}: {shot.stat().st_size // 1024} KB"
        with Image.open(shot) as image:
            assert image.size == (1280, 800), f"{shot.name}: {image.size}"
            assert max(ImageStat.Stat(image.convert("L")).stddev) > 8, f"{shot.name} looks blank"
