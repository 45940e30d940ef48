"""Atomic file writes: a file appears whole under its final name or not at all.

Every writer goes through `atomic_path`: it yields a temporary name in the same folder,
and on success renames it over the destination (`os.replace` is atomic on POSIX and
Windows). On any exception the temporary file is removed, so no partial cache file,
checkpoint or download survives a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(destination: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `destination`; move it into place on success."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, destination)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_bytes_atomic(destination: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(destination) as tmp:
        tmp.write_bytes(data)
    return Path(destination)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=_json_default, allow_nan=True)


def write_json_atomic(destination: str | os.PathLike, obj: Any) -> Path:
    return write_bytes_atomic(destination, (to_json(obj) + "\n").encode())


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())
