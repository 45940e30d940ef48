"""Range checks at the boundary: flags, config fields and seeds are checked once, before any
work, and a bad value is a one-line `UsageError` that names the flag or field.

    checks.seed(args.seed, "--seed")                    # 0 .. 2**32 - 1, else UsageError
    checks.integer(args.hidden, "--hidden", minimum=1)  # a whole number in range
    checks.number(args.lr, "--lr", above=0)             # a finite number in range
    checks.experiment_config(config, "lecture-pca")     # every field of an experiment's config

Seeds: one documented range, 0 .. 2**32 - 1 (`SEED_MAX`), the range numpy's and torch's
generators both take without folding. Larger or negative seeds are refused instead of being
reduced silently (2**32 would otherwise train the same weights as 0).

Experiment configs are checked field by field from their values and names: numbers finite
and >= 0 (a config lists fields that may be negative in a `signed_fields` class attribute),
counts in `_POSITIVE` >= 1, rates in `_RATES` > 0, seeds in range; then by the config's own
`check()` method when it has one (rules only it knows, e.g. levels in [0, 1] for masking).
This module sits at the bottom: it imports nothing from aelab but the errors.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, Callable

from aelab.settings import UsageError

SEED_MAX = 2**32 - 1
PORT_RANGE = (1, 65535)

# integer config fields that count something that must exist (0 of them means nothing to do)
_POSITIVE = {"epochs", "batch_size", "k", "hidden", "n_hidden", "depth", "n_points", "n_samples", "n_chains",
             "grid", "show_every", "show_per_row", "show_rows", "pool_sizes", "n_labels", "labelled_per_batch"}
# float config fields (or tuples of them) that must be > 0: learning rates, Parzen widths
_RATES = ("lr", "lrs", "sigmas")


def seed(value: Any, name: str = "--seed") -> int:
    """`value` as a seed in 0 .. 2**32 - 1, else a UsageError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= int(value) <= SEED_MAX:
        raise UsageError(f"{name} must be a whole number from 0 to {SEED_MAX} (2**32 - 1), got {value!r}")
    return int(value)


def integer(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None,
            meaning: str = "") -> int:
    """`value` as an int within [minimum, maximum], else a UsageError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UsageError(f"{name} must be a whole number, got {value!r}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        span = (f"from {minimum} to {maximum}" if minimum is not None and maximum is not None
                else f">= {minimum}" if minimum is not None else f"<= {maximum}")
        raise UsageError(f"{name} must be {span}{meaning}, got {value}")
    return value


def number(value: Any, name: str, *, minimum: float | None = None, above: float | None = None,
           maximum: float | None = None) -> float:
    """`value` as a finite float, >= minimum, > above and <= maximum, else a UsageError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise UsageError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if minimum is not None and value < minimum:
        raise UsageError(f"{name} must be >= {minimum:g}, got {value:g}")
    if above is not None and value <= above:
        raise UsageError(f"{name} must be > {above:g}, got {value:g}")
    if maximum is not None and value > maximum:
        raise UsageError(f"{name} must be <= {maximum:g}, got {value:g}")
    return value


def port(value: Any, name: str = "--port") -> int:
    return integer(value, name, minimum=PORT_RANGE[0], maximum=PORT_RANGE[1])


def _field(value: Any, field: str, where: str, signed: bool = False) -> None:
    label = f"{where}: option --{field.replace('_', '-')}"
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, (tuple, list)):
        if field in _POSITIVE | set(_RATES) and not value:
            raise UsageError(f"{label} needs at least one value")
        for item in value:
            _field(item, field, where, signed)
        return
    if isinstance(value, numbers.Integral):
        if field == "seed" or field.endswith("_seed"):
            seed(value, label)
        else:
            integer(value, label, minimum=1 if field in _POSITIVE else None if signed else 0)
    elif isinstance(value, numbers.Real):
        if field in _RATES or field.endswith("_lr"):
            number(value, label, above=0)
        else:
            number(value, label, minimum=None if signed else 0)


def experiment_config(config: Any, where: str, validators: dict[str, Callable[[Any], Any]] | None = None) -> None:
    """Check every field of an experiment's config (a dataclass) before the run starts:
    numbers finite and >= 0, counts in `_POSITIVE` >= 1, learning rates and widths > 0, seeds
    in range; `validators[field](value)` for named string fields (e.g. a noise parser); then
    the config's own `check()`, if it has one."""
    if not dataclasses.is_dataclass(config):
        return
    signed = set(getattr(config, "signed_fields", ()))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        _field(value, f.name, where, f.name in signed)
        validate = (validators or {}).get(f.name)
        if validate is not None and value is not None:
            try:
                validate(value)
            except UsageError as err:
                raise UsageError(f"{where}: option --{f.name.replace('_', '-')}: {err}") from None
    check = getattr(config, "check", None)
    if callable(check):
        try:
            check()
        except ValueError as err:  # a config's own rule (UsageError is a ValueError): about its fields
            raise UsageError(f"{where}: {err}") from None


__all__ = ["SEED_MAX", "seed", "integer", "number", "port", "experiment_config"]
