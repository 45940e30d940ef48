"""Reader for the IDX format of the MNIST files (gzipped or not).

Layout: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions,
then one big-endian int32 per dimension, then the data in C order.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from aelab.data.errors import CorruptFile

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx_bytes(path: str | os.PathLike) -> bytes:
    """The raw (decompressed) bytes of an IDX file; gzip is detected by its magic bytes."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise CorruptFile(f"{path} is not a readable gzip file ({err}); delete it and download it again") from err
    return raw


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes into an array, checking the magic number and the length."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise CorruptFile(f"{source}: bad IDX magic number {data[:4].hex() or 'empty'}; expected 0000 08 0n. "
                          "Is this an MNIST file? Delete it and download it again")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise CorruptFile(f"{source}: IDX header cut short ({len(data)} bytes); the file is truncated")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_TYPES[data[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise CorruptFile(f"{source}: IDX says shape {shape} ({expected} bytes) but the file has {len(data)} bytes; "
                          "it is truncated or corrupt, delete it and download it again")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    return parse_idx(read_idx_bytes(path), str(path))
