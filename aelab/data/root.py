"""Where datasets live: explicit `root`, else `$AELAB_DATA`, else `~/.cache/aelab`."""

from __future__ import annotations

import os
from pathlib import Path

from aelab.data.errors import DataError

DATA_ENV = "AELAB_DATA"
CACHE_ENV = "AELAB_CACHE"


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Resolve the data root folder. A root that exists but is a file is an error."""
    if root is not None:
        path = Path(root).expanduser()
    elif os.environ.get(DATA_ENV):
        path = Path(os.environ[DATA_ENV]).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        path = Path(base) / "aelab"
    if path.exists() and not path.is_dir():
        raise DataError(f"data root {str(path)!r} is a file, not a folder: pass a folder as root= or set {DATA_ENV}")
    return path


def cache_dir(root: Path) -> Path:
    """Folder for generated datasets: `$AELAB_CACHE` if set, else `<root>/generated`, else
    (when the root is not writable) the user cache, so a read-only root can still hold the
    source files."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    preferred = root / "generated"
    if _writable(preferred):
        return preferred
    fallback = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aelab" / "generated"
    return fallback


def _writable(folder: Path) -> bool:
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return os.access(probe, os.W_OK)
