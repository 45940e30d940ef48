"""`aelab lab`: serve the dashboards (the notebooks folder) with standalone Voila on 127.0.0.1.

Where the notebooks are found, first match wins:
1. `--notebooks DIR`;
2. the `AELAB_NOTEBOOKS` environment variable;
3. `notebooks/` beside the `aelab` package folder: a git checkout or an editable install
   (`pip install -e .`), the way the lab is meant to be used and changed;
4. `<prefix>/share/aelab/notebooks`: where a wheel puts them when pyproject lists them as
   data files (`[tool.setuptools.data-files] "share/aelab/notebooks" = ["notebooks/*.ipynb"]`).
Notebooks are not package data inside `aelab/` on purpose: they are documents a user opens,
edits and runs in JupyterLab, and Binder serves them from the repository.

Voila settings and why (REFERENCES.md, "Dashboards in Voila"):
- `--Voila.ip=127.0.0.1`: loopback only.
- `--strip_sources=True`: dashboards, not code.
- `--preheat_kernel=True --pool_size=N` (N=`--preheat`, 0 turns it off): each notebook has a
  kernel that already ran it, so a page opens on a finished figure. Only the standalone
  `voila` command supports this (not Voila inside a Jupyter server, as on Binder).
- `--VoilaExecutor.timeout=N`: a stalled cell ends in an error page instead of a hang.
- `--MappingKernelManager.cull_idle_timeout/cull_interval`: a closed tab's kernel is not shut
  down by the page (its shutdown request is refused for a missing `_xsrf`), so idle kernels
  are culled.
- `--show_tracebacks=True` only with `--tracebacks` (for debugging a dashboard).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

NOTEBOOKS_ENV = "AELAB_NOTEBOOKS"


class NotebooksNotFound(ValueError):
    """No folder of dashboards where `aelab lab` looked."""


def find_notebooks(explicit: str | os.PathLike | None = None) -> Path:
    """The notebooks folder to serve (see the module docstring for the search order)."""
    candidates: list[tuple[str, Path]] = []
    if explicit:
        candidates.append(("--notebooks", Path(explicit)))
    elif os.environ.get(NOTEBOOKS_ENV):
        candidates.append((NOTEBOOKS_ENV, Path(os.environ[NOTEBOOKS_ENV])))
    else:
        import aelab

        candidates.append(("checkout", Path(aelab.__file__).resolve().parents[1] / "notebooks"))
        candidates.append(("installed", Path(sys.prefix) / "share" / "aelab" / "notebooks"))
    for _, folder in candidates:
        if folder.is_dir() and any(folder.glob("*.ipynb")):
            return folder.resolve()
    tried = ", ".join(f"{folder} ({origin})" for origin, folder in candidates)
    raise NotebooksNotFound(f"no dashboards (*.ipynb) found in: {tried}. Pass --notebooks DIR "
                            f"(the 'notebooks' folder of an aelab checkout) or set {NOTEBOOKS_ENV}.")


def dashboards(folder: Path) -> list[str]:
    return sorted(p.name for p in Path(folder).glob("[0-9][0-9]-*.ipynb"))


def voila_argv(folder: Path, *, port: int, open_browser: bool = False, preheat: int = 1, timeout: int = 300,
               cull_idle: int = 900, cull_interval: int = 60, tracebacks: bool = False) -> list[str]:
    """The arguments for standalone `voila` serving `folder`."""
    argv = [str(folder), f"--port={port}", "--Voila.ip=127.0.0.1", "--strip_sources=True",
            f"--VoilaExecutor.timeout={timeout}",
            f"--MappingKernelManager.cull_idle_timeout={cull_idle}",
            f"--MappingKernelManager.cull_interval={cull_interval}",
            f"--show_tracebacks={tracebacks}"]
    argv += [f"--preheat_kernel=True", f"--pool_size={preheat}"] if preheat > 0 else ["--preheat_kernel=False"]
    if not open_browser:
        argv.append("--no-browser")
    return argv


def urls(folder: Path, port: int) -> list[str]:
    base = f"http://127.0.0.1:{port}"
    return [f"{base}/"] + [f"{base}/voila/render/{name}" for name in dashboards(folder)]


def serve(folder: Path, argv: list[str], port: int) -> int:
    """Run Voila in this process until interrupted (Ctrl-C)."""
    from voila.app import Voila

    from aelab.device import describe_device, resolve_device

    links = urls(folder, port)
    print(f"aelab lab: serving {len(links) - 1} dashboards from {folder}")
    print(f"aelab lab: kernels will run on {describe_device(resolve_device('auto'))}")
    print(f"aelab lab: open {links[0]}")
    for link in links[1:]:
        print(f"    {link}")
    sys.stdout.flush()
    Voila.launch_instance(argv=argv)
    return 0
