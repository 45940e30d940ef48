"""Exceptions raised by `aelab.data`; each message says what was wrong and what to do.

All are `aelab.errors.UsageError`s (the `aelab` command prints them as one line)."""

from aelab.errors import UnknownName, UsageError


class DataError(UsageError):
    """Base class for data problems (unknown names, bad files, missing downloads)."""


class UnknownDataset(DataError, UnknownName):
    """A dataset name (or split) that aelab does not know; also a KeyError."""


class DatasetNotFound(DataError, FileNotFoundError):
    """A dataset's files are neither in the data root nor downloadable right now."""


class CorruptFile(DataError, ValueError):
    """A data file exists but cannot be read as what it claims to be."""
