"""Errors about what a user asked for (flags, names, paths, environment variables).

`UsageError` is the one type for bad user input: its message says what was wrong and what
to do, and the `aelab` command prints it as one line (every other exception keeps its
traceback, so real bugs stay visible). It subclasses ValueError, so code that caught
ValueError still does. Input-validation errors of the package subclass it (data's
`DataError`, `SpecError`, device errors, experiment options ...).

This module sits at the bottom with `aelab.settings` (which defines `UsageError` so that it
can raise it without importing anything from aelab).
"""

from __future__ import annotations

from aelab.settings import UsageError


class UnknownName(UsageError, KeyError):
    """A name (dataset, experiment, model ...) that is not known; also a KeyError, as before."""


__all__ = ["UsageError", "UnknownName"]
