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
