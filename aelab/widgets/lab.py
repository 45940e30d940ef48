"""`aelab lab`: serve the dashboards (the notebooks folder) with standalone Voila on 127.0.0.1.

Where the notebooks are found: `--notebooks DIR` when given; else, first match wins:
1. `notebooks/` beside the `aelab` package folder: a git checkout or an editable install
   (`pip install -e .`), the way the lab is meant to be used and changed;
2. `<prefix>/share/aelab/notebooks`: where a wheel puts them when pyproject lists them as
   data files (`[tool.setuptools.data-files] "share/aelab/notebooks" = ["notebooks/*.ipynb"]`).
Notebooks are not package data inside `aelab/` on purpose: they are documents a user opens,
edits and runs in JupyterLab, and Binder serves them from the repository.

Voila settings and why (REFERENCES.md, "Dashboards in Voila"):
- `--Voila.ip=127.0.0.1`: loopback only.
- `--strip_sources=True`: dashboards, not code.
- `--preheat_kernel=True --pool_size=N` (N=`--preheat`, 0 turns it off): each notebook has a
  kernel that already ran it, so a page opens on a finished figure. Only the standalone
  `voila` command supports this (not Voila inside a Jupyter server, as on Binder). The pool is
  refilled `REFILL_DELAY_S` after a kernel is handed out (`--VoilaKernelManager.fill_delay`), not
  at once, so the refill does not slow the page that got the kernel.
- `--VoilaExecutor.timeout=N`: a stalled cell ends in an error page instead of a hang;
  `--VoilaExecutor.iopub_timeout` (`IOPUB_TIMEOUT_S`): a finished cell's output is waited for,
  not dropped, while the pool's kernels run their notebooks together.
- `--MappingKernelManager.cull_idle_timeout/cull_interval`: a closed tab's kernel is not shut
  down by the page (its shutdown request is refused for a missing `_xsrf`), so idle kernels
  are culled.
- `--VoilaConfiguration.extension_denylist` (`UNUSED_LABEXTENSIONS`): pages skip the front-end
  extensions no dashboard uses, and plotly.js is served by the lab (`widgets.landing.PLOTLY_URL`)
  and asked for by the page's template as it starts (see `widgets.base.plotly_js_html`).
- `--KernelProvisionerFactory.default_provisioner_name=aelab-fork` (`PROVISIONER`): kernels are
  forked from a zygote process that imported torch, plotly, ipykernel and aelab once
  (`aelab.widgets.zygote`), so they share that memory and start at once (`--no-fork`: not).
- `--show_tracebacks=True` only with `--tracebacks` (for debugging a dashboard).

The home page (`/`) is the lab's own landing page, one card per dashboard (title, picture, one
line), self-contained so it works offline (`aelab.widgets.landing`); Voila's file list stays
at `/voila/tree`. Voila's own pages (dashboards, the file list, errors) are served without the
CDN links of Voila's templates, so no page asks for anything outside 127.0.0.1
(`aelab.widgets.offline`). `--print-command` prints the plain `voila` command, which serves the
file list at `/` instead and keeps Voila's CDN links.

Holding up under visitors (`check_port`, `voila_argv`):
- The port is checked before Voila starts (in range, free on 127.0.0.1), and
  `--Voila.port_retries=0` stops Voila from moving to another port while aelab prints links
  to the one asked for: a busy or invalid port is a one-line error.
- Host headers are checked: standalone Voila turns jupyter_server's check off
  (`allow_remote_access=True` in its tornado settings); `--Voila.tornado_settings` puts it
  back (`allow_remote_access=False`, `local_hostnames`), so only loopback addresses and
  `localhost` (plus names given with `--allow-host`) are served: a page asked for under any
  other name (DNS rebinding) gets 403. `--allow-host '*'` turns the check off.
- Live kernels are capped (`aelab.widgets.lab_kernels.CappedKernelManager`, `--max-kernels`;
  beyond it a page load gets HTTP 503) and idle ones culled within minutes
  (`--cull-idle`, default 300 s, checked every `--cull-interval` s). A kernel whose page is
  still open is not culled (`cull_connected=False`): the cap bounds those.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from aelab.errors import UsageError


class NotebooksNotFound(UsageError):
    """No folder of dashboards where `aelab lab` looked."""


def find_notebooks(explicit: str | os.PathLike | None = None) -> Path:
    """The notebooks folder to serve (see the module docstring for the search order)."""
    candidates: list[tuple[str, Path]] = []
    if explicit:
        candidates.append(("--notebooks", Path(explicit)))
    else:
        import aelab

        candidates.append(("checkout", Path(aelab.__file__).resolve().parents[1] / "notebooks"))
        candidates.append(("installed", Path(sys.prefix) / "share" / "aelab" / "notebooks"))
    for _, folder in candidates:
        if folder.is_dir() and any(folder.glob("*.ipynb")):
            return folder.resolve()
    tried = ", ".join(f"{folder} ({origin})" for origin, folder in candidates)
    raise NotebooksNotFound(f"no dashboards (*.ipynb) found in: {tried}. Pass --notebooks DIR "
                            f"(the 'notebooks' folder of an aelab checkout).")


def dashboards(folder: Path) -> list[str]:
    return sorted(p.name for p in Path(folder).glob("[0-9][0-9]-*.ipynb"))


HOST = "127.0.0.1"
LOCAL_HOSTNAMES = ("localhost",)
# front-end extensions the dashboards do not use (their figures are static HTML drawn with plotly.js,
# `widgets.base.StaticFigure`): jupyterlab-plotly's renderer (4.8 MB of script) and anywidget (plotly's
# FigureWidget) would be fetched and parsed by every page before its first widget shows
UNUSED_LABEXTENSIONS = ("jupyterlab-plotly", "anywidget")
# seconds Voila waits after handing out a preheated kernel before starting its replacement (Voila's
# default: 1): the replacement runs its notebook (imports, figures: several CPU seconds) and would
# compete with the page that just got its kernel while that page draws and answers its first controls
REFILL_DELAY_S = 10
# kernels are forks of one process that has imported what they need (`aelab.widgets.zygote`): they
# share those pages (~170 MB of torch alone) and start in a fraction of a second
PROVISIONER = "aelab-fork"
# seconds Voila waits for a cell's output after the cell has finished (nbclient's default: 4). While
# the preheated pool fills, every dashboard's kernel runs its notebook at once: a cell's display
# message (the dashboard itself) could arrive later than 4 s, was dropped with "Timeout waiting for
# IOPub output", and the page then showed the notebook's text and no dashboard (3 benchmark visits)
IOPUB_TIMEOUT_S = 60
EXTRA_KERNELS = 6  # default cap: the preheated kernels plus this many started by visitors


def default_max_kernels(folder: Path, preheat: int) -> int:
    """The default cap on live kernels: one pool of `preheat` per dashboard plus `EXTRA_KERNELS`."""
    return len(dashboards(folder)) * max(preheat, 0) + EXTRA_KERNELS


def check_options(folder: Path, *, port: int, preheat: int = 1, timeout: int = 300, cull_idle: int = 300,
                  cull_interval: int = 60, max_kernels: int | None = None) -> int:
    """Range-check the lab's options (one-line UsageErrors naming the flag); return the kernel cap."""
    from aelab import checks

    checks.port(port, "--port")
    checks.integer(preheat, "--preheat", minimum=0, maximum=8)
    checks.integer(timeout, "--timeout", minimum=1)
    checks.integer(cull_idle, "--cull-idle", minimum=1, meaning=" (seconds an idle kernel lives)")
    checks.integer(cull_interval, "--cull-interval", minimum=1)
    pooled = len(dashboards(folder)) * preheat
    if max_kernels is None:
        return default_max_kernels(folder, preheat)
    checks.integer(max_kernels, "--max-kernels", minimum=max(1, pooled + 1),
                   meaning=f" (above the {pooled} preheated kernels: {len(dashboards(folder))} dashboards x "
                           f"--preheat {preheat})")
    return max_kernels


def check_port(port: int, host: str = HOST) -> None:
    """Refuse a port that is out of range or that something already listens on, before Voila starts."""
    import errno
    import socket

    from aelab import checks

    checks.port(port, "--port")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if os.name == "posix":  # as tornado binds: a port in TIME_WAIT is free, a listening one is not
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise UsageError(f"--port {port} is in use on {host} (another server?): stop it or choose "
                                 f"another port with --port") from None
            if err.errno in (errno.EACCES, errno.EPERM):
                raise UsageError(f"--port {port}: permission denied on {host} (ports below 1024 need "
                                 f"privileges): choose a port from 1024 to 65535") from None
            raise UsageError(f"--port {port}: cannot listen on {host} ({err.strerror or err})") from None


def _host_settings(allow_hosts: tuple[str, ...] | list[str]) -> str:
    """The `--Voila.tornado_settings` value that turns jupyter_server's Host check back on."""
    import json

    if "*" in allow_hosts:
        return '--Voila.tornado_settings={"allow_remote_access": True}'
    names = json.dumps(list(dict.fromkeys([*LOCAL_HOSTNAMES, *allow_hosts])))  # a Python literal too
    return f'--Voila.tornado_settings={{"allow_remote_access": False, "local_hostnames": {names}}}'


def voila_argv(folder: Path, *, port: int, open_browser: bool = False, preheat: int = 1, timeout: int = 300,
               cull_idle: int = 300, cull_interval: int = 60, tracebacks: bool = False,
               max_kernels: int | None = None, allow_hosts: tuple[str, ...] | list[str] = (),
               fork: bool = True) -> list[str]:
    """The arguments for standalone `voila` serving `folder` (`fork`: kernels from the zygote)."""
    if max_kernels is None:
        max_kernels = default_max_kernels(folder, preheat)
    argv = [str(folder), f"--port={port}", f"--Voila.ip={HOST}", "--Voila.port_retries=0", "--strip_sources=True",
            f"--VoilaExecutor.timeout={timeout}", f"--VoilaExecutor.iopub_timeout={IOPUB_TIMEOUT_S}",
            f"--MappingKernelManager.cull_idle_timeout={cull_idle}",
            f"--MappingKernelManager.cull_interval={cull_interval}",
            "--MappingKernelManager.cull_connected=False",
            "--VoilaConfiguration.multi_kernel_manager_class=aelab.widgets.lab_kernels.CappedKernelManager",
            f"--CappedKernelManager.max_kernels={max_kernels}",
            *([f"--KernelProvisionerFactory.default_provisioner_name={PROVISIONER}"] if fork else []),
            *(f"--VoilaConfiguration.extension_denylist={name}" for name in UNUSED_LABEXTENSIONS),
            _host_settings(allow_hosts),
            f"--show_tracebacks={tracebacks}"]
    argv += ([f"--preheat_kernel=True", f"--pool_size={preheat}", f"--VoilaKernelManager.fill_delay={REFILL_DELAY_S}"]
             if preheat > 0 else ["--preheat_kernel=False"])
    if not open_browser:
        argv.append("--no-browser")
    return argv


def urls(folder: Path, port: int) -> list[str]:
    base = f"http://127.0.0.1:{port}"
    return [f"{base}/"] + [f"{base}/voila/render/{name}" for name in dashboards(folder)]


DEVICE_SCRIPT = "from aelab.device import describe_device, resolve_device; print(describe_device(resolve_device('auto')))"


def report_device(timeout: float = 120) -> threading.Thread:
    """Print the device the kernels will run on, asked of a child process in the background:
    finding it imports torch, which the server would then hold (~170 MB) for as long as it
    serves, and the first page need not wait for it."""
    import subprocess

    def ask() -> None:
        try:
            found = subprocess.run([sys.executable, "-c", DEVICE_SCRIPT], capture_output=True, text=True,
                                   timeout=timeout)
            line = found.stdout.strip() or f"unknown ({(found.stderr.strip().splitlines() or ['no answer'])[-1]})"
        except (OSError, subprocess.TimeoutExpired) as err:
            line = f"unknown ({err})"
        print(f"aelab lab: kernels will run on {line}", flush=True)

    thread = threading.Thread(target=ask, name="aelab-lab-device", daemon=True)
    thread.start()
    return thread


def start_zygote() -> threading.Thread:
    """Start the kernel zygote now, in the background: the first kernel (a preheated one, or the
    first visitor's) then need not wait the ~3 s of its imports."""

    def start() -> None:
        from aelab.widgets.zygote import Zygote

        try:
            Zygote.shared()
        except OSError as err:  # the provisioner tries again, or starts kernels as new processes
            print(f"aelab lab: the kernel zygote did not start ({err})", flush=True)

    thread = threading.Thread(target=start, name="aelab-lab-zygote", daemon=True)
    thread.start()
    return thread


def serve(folder: Path, argv: list[str], port: int, fork: bool = True) -> int:
    """Run Voila in this process until interrupted (Ctrl-C), after checking that `port` is free.
    `fork`: `argv` names the zygote's provisioner (`voila_argv(fork=True)`), so start the zygote now."""
    import warnings

    from aelab.widgets.landing import lab_voila_class

    check_port(port)
    # a whole dict on the command line (the Host-check settings) is deprecated in traitlets 5, not gone
    warnings.filterwarnings("ignore", message=".*for dict-traits is deprecated", category=DeprecationWarning)
    links = urls(folder, port)
    print(f"aelab lab: serving {len(links) - 1} dashboards from {folder}")
    if fork:
        start_zygote()
    report_device()
    print(f"aelab lab: open {links[0]} (one card per dashboard)")
    for link in links[1:]:
        print(f"    {link}")
    sys.stdout.flush()
    lab_voila_class().launch_instance(argv=argv)  # Voila with the landing page at /
    return 0
