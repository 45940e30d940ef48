"""The only place aelab reads its environment variables; each is read when asked for.

    AELAB_DATA         data root (datasets you provide or download); default: the user cache
    AELAB_CACHE        cache root; default `$XDG_CACHE_HOME/aelab`, else `~/.cache/aelab`
    AELAB_DEVICE       device `auto` means: auto, cpu, cuda, cuda:N or mps
    AELAB_THREADS      torch CPU threads (a positive integer); default: torch's own
    AELAB_NO_DOWNLOAD  1 forbids downloads (offline machines, CI); 0 or unset allows them
    AELAB_LAB_SCALE    dashboard size: teach (default) or smoke (seconds; CI, previews)
    AELAB_LAB_THREADS  torch CPU threads for dashboard work (a positive integer); default 1
    AELAB_LAB_PLOTLY_URL  where dashboard pages load plotly.js from (set by `aelab lab` for its
                       kernels, which it serves plotly.js to); unset: sent inline with the page
    AELAB_RESULTS      shipped results (results/full/NAME/, results/zoo/); default: the results/
                       folder of the source tree the package runs from

Functions read the environment at call time (so tests can monkeypatch it) and reject a bad
value with a one-line `UsageError` that names the variable. The cache root has one folder
per use (`cache_dir("generated" | "lab" | "models")`); caches never write into the data root.

This module imports nothing from aelab, so every layer may use it. `UsageError` is defined
here only so that this module can raise it; its public home is `aelab.errors`.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DATA = "AELAB_DATA"
CACHE = "AELAB_CACHE"
DEVICE = "AELAB_DEVICE"
THREADS = "AELAB_THREADS"
NO_DOWNLOAD = "AELAB_NO_DOWNLOAD"
LAB_SCALE = "AELAB_LAB_SCALE"
LAB_THREADS = "AELAB_LAB_THREADS"
RESULTS = "AELAB_RESULTS"
LAB_PLOTLY_URL = "AELAB_LAB_PLOTLY_URL"

VARIABLES = {  # every variable the package reads, with its one-line description (README lists the same)
    DATA: "data root: where datasets are read from and downloaded to (default: the user cache folder)",
    CACHE: "cache root: generated datasets, dashboard results, cached models "
           "(default: $XDG_CACHE_HOME/aelab, else ~/.cache/aelab)",
    DEVICE: "the device `auto` picks: auto, cpu, cuda, cuda:N or mps (an explicit --device wins)",
    THREADS: "torch CPU threads, a positive integer (an explicit --threads wins)",
    NO_DOWNLOAD: "1 forbids downloads (offline machines, CI); 0 or unset allows them",
    LAB_SCALE: "dashboard size: teach (default) or smoke (seconds)",
    LAB_THREADS: "torch CPU threads for dashboard work, a positive integer (default 1)",
    LAB_PLOTLY_URL: "where dashboard pages load plotly.js from (`aelab lab` sets it for its kernels); "
                    "unset: plotly.js is sent inline with each page",
    RESULTS: "shipped results: results/full/NAME/ and the model zoo results/zoo/ "
             "(default: the results/ folder of the source tree aelab runs from)",
}

CACHE_USES = ("generated", "lab", "models")
DEVICES = ("auto", "cpu", "cuda", "mps")
LAB_SCALES = ("smoke", "teach")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class UsageError(ValueError):
    """Bad user input (a flag, a name, a path, an environment variable): the message says what
    was wrong and what to do. `aelab` prints it as one line; anything else keeps its traceback."""

    def __str__(self) -> str:  # a KeyError subclass would otherwise print its message in quotes
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


def _get(name: str) -> str | None:
    """The variable's value stripped, or None when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or None


def _positive_int(name: str, value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise UsageError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _user_cache() -> Path:
    return Path(_get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "aelab"


def data_root() -> Path:
    """`$AELAB_DATA`, else the user cache folder (`$XDG_CACHE_HOME/aelab`, else `~/.cache/aelab`)."""
    value = _get(DATA)
    return Path(value).expanduser() if value else _user_cache()


def cache_root() -> Path:
    """`$AELAB_CACHE`, else `$XDG_CACHE_HOME/aelab`, else `~/.cache/aelab`."""
    value = _get(CACHE)
    return Path(value).expanduser() if value else _user_cache()


def cache_dir(use: str) -> Path:
    """`<cache root>/<use>` for one use: generated datasets, dashboard (lab) results, models."""
    if use not in CACHE_USES:
        raise ValueError(f"cache use {use!r} is unknown; choose one of {', '.join(CACHE_USES)}")
    return cache_root() / use


def results_root() -> Path:
    """`$AELAB_RESULTS`, else `results/` beside the package's source folder (a clone, Binder)."""
    value = _get(RESULTS)
    return Path(value).expanduser() if value else Path(__file__).resolve().parents[1] / "results"


def device() -> str:
    """The device `auto` stands for: `$AELAB_DEVICE`, else `auto`."""
    value = _get(DEVICE)
    if value is None:
        return "auto"
    kind, sep, index = value.partition(":")
    if kind not in DEVICES or (sep and (kind != "cuda" or not index.isdigit())):
        raise UsageError(f"{DEVICE} must be one of auto, cpu, cuda, cuda:N, mps, got {value!r}")
    return value


def threads() -> int | None:
    """`$AELAB_THREADS` as a positive integer, or None when unset (torch's default)."""
    value = _get(THREADS)
    return None if value is None else _positive_int(THREADS, value)


def downloads_allowed() -> bool:
    """False when `$AELAB_NO_DOWNLOAD` is 1 (or true/yes/on); True when unset or 0."""
    value = _get(NO_DOWNLOAD)
    if value is None or value.lower() in _FALSE:
        return True
    if value.lower() in _TRUE:
        return False
    raise UsageError(f"{NO_DOWNLOAD} must be 1 (no downloads) or 0, got {value!r}")


def lab_scale() -> str:
    """`$AELAB_LAB_SCALE`: `teach` (the default) or `smoke`."""
    value = _get(LAB_SCALE)
    if value is None:
        return "teach"
    if value.lower() not in LAB_SCALES:
        raise UsageError(f"{LAB_SCALE} must be one of {', '.join(LAB_SCALES)}, got {value!r}")
    return value.lower()


def lab_threads() -> int:
    """`$AELAB_LAB_THREADS` as a positive integer, default 1."""
    value = _get(LAB_THREADS)
    return 1 if value is None else _positive_int(LAB_THREADS, value)


def lab_plotly_url() -> str | None:
    """`$AELAB_LAB_PLOTLY_URL`: the address (a path on the page's server) dashboard pages load
    plotly.js from, or None (then it is sent inline)."""
    value = _get(LAB_PLOTLY_URL)
    if value is not None and not value.startswith("/"):
        raise UsageError(f"{LAB_PLOTLY_URL}={value!r}: expected a path on the lab's server, e.g. /aelab/plotly.min.js")
    return value


def set_lab_plotly_url(url: str) -> None:
    """Set `$AELAB_LAB_PLOTLY_URL` in this process, so the kernels it starts inherit it (`aelab lab`)."""
    os.environ[LAB_PLOTLY_URL] = url


def environment() -> dict[str, str]:
    """A copy of this process's environment (what a kernel the lab starts inherits)."""
    return dict(os.environ)


def replace_environment(env: dict[str, str]) -> None:
    """Make `env` this process's whole environment (a kernel forked by the lab's zygote takes the
    one the server gave it: `aelab.widgets.zygote`)."""
    os.environ.clear()
    os.environ.update(env)


def voila_preheated() -> bool:
    """True in a kernel Voila preheated (it runs the notebook before any page asks for it)."""
    return os.environ.get("VOILA_PREHEAT") == "True"


def under_voila() -> bool:
    """True in a kernel Voila started for a page (its CGI-style SERVER_SOFTWARE names voila)."""
    return os.environ.get("SERVER_SOFTWARE", "").startswith("voila")


def voila_query() -> str:
    """The query string of the page the kernel serves (Voila's QUERY_STRING; '' when none)."""
    return os.environ.get("QUERY_STRING", "")


@contextlib.contextmanager
def environment_set(name: str, value: str):
    """Set a (third-party) environment variable for the duration of a block, then restore it.
    Kept here so that this module stays the one place aelab touches the environment."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before
