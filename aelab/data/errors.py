"""Exceptions raised by `aelab.data`; each message says what was wrong and what to do."""


class DataError(Exception):
    """Base class for data problems (unknown names, bad files, missing downloads)."""


class DatasetNotFound(DataError, FileNotFoundError):
    """A dataset's files are neither in the data root nor downloadable right now."""


class CorruptFile(DataError, ValueError):
    """A data file exists but cannot be read as what it claims to be."""
