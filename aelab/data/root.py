"""Where datasets live: explicit `root`, else `$AELAB_DATA`, else the user cache folder.

Generated datasets are cached in `<cache root>/generated` (`aelab.settings.cache_dir`),
never in the data root: a read-only or shared data folder is only read.
"""

from __future__ import annotations

import os
from pathlib import Path

from aelab import settings
from aelab.data.errors import DataError

DATA_ENV = settings.DATA


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Resolve the data root folder. A root that exists but is a file is an error."""
    path = Path(root).expanduser() if root is not None else settings.data_root()
    if path.exists() and not path.is_dir():
        raise DataError(f"data root {str(path)!r} is a file, not a folder: pass a folder as root= or set {DATA_ENV}")
    return path


def generated_dir() -> Path:
    """Folder of generated datasets: `<cache root>/generated`."""
    return settings.cache_dir("generated")
