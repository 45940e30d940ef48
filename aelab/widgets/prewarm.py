"""Train every dashboard once at the current scale so later visits open on cached results.

    python -m aelab.widgets.prewarm          # teach size (AELAB_LAB_SCALE=smoke for smoke)

Used by Binder's postBuild and by the timing benchmark. Each app is built with
`Runner.synchronous` set, so its work finishes (or fails loudly) before the next starts.
"""

from __future__ import annotations

import sys
import time

from aelab import widgets
from aelab.widgets.base import Runner


def prewarm(names: list[str] | None = None) -> dict[str, float]:
    seconds: dict[str, float] = {}
    before, Runner.synchronous = Runner.synchronous, True
    try:
        for name in names or list(widgets.__all__):
            started = time.perf_counter()
            getattr(widgets, name)()
            seconds[name] = time.perf_counter() - started
            print(f"{name}: ready in {seconds[name]:.1f} s", flush=True)
    finally:
        Runner.synchronous = before
    return seconds


if __name__ == "__main__":
    prewarm(sys.argv[1:] or None)
