"""One cache-key scheme for every cache of the package.

    key = sha256(canonical JSON of the value)[:20]   (hex)

Canonical JSON: dataclasses become dicts, dict keys are sorted strings, tuples become lists,
numpy scalars and arrays plain numbers and lists, compact separators. Equal configurations
give equal keys whatever their key order or container type. Folders live under
`aelab.settings.cache_dir(use)` (`<cache root>/generated|lab|models`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from aelab import settings

KEY_LENGTH = 20


def plain(value: Any) -> Any:
    """`value` as plain JSON-able data (dicts with sorted string keys, lists, numbers, strings)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy scalars/arrays, tensors
        return plain(value.tolist())
    return value


def canonical_json(value: Any) -> str:
    """The one text a value hashes as (objects JSON does not know are written with `str`)."""
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"), default=str)


def cache_key(value: Any, length: int = KEY_LENGTH) -> str:
    """A stable hex key for `value`: sha256 of its canonical JSON, truncated to `length`."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:length]


def array_key(array: Any, length: int = KEY_LENGTH) -> str:
    """A stable hex key for the contents of a numpy array (dtype, shape and bytes)."""
    import numpy as np

    a = np.ascontiguousarray(array)
    return hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()[:length]


def cache_folder(use: str, kind: str, value: Any) -> Path:
    """`<cache root>/<use>/<kind>/<cache_key(value)>`: where one cached entry lives."""
    return settings.cache_dir(use) / kind / cache_key(value)


__all__ = ["KEY_LENGTH", "plain", "canonical_json", "cache_key", "array_key", "cache_folder"]
