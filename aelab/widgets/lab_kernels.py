"""A cap on the live kernels of `aelab lab` (Voila has none of its own).

Voila starts a kernel for every page load (or hands out a preheated one and starts its
replacement); an idle kernel is culled only after `cull_idle_timeout`, and one whose page
stays open is never culled. Each kernel of the lab holds torch and its models (a few hundred
MB), so without a cap a burst of visitors grows memory without bound. `CappedKernelManager`
refuses to start a kernel beyond `max_kernels` (live and starting, preheated ones included)
with HTTP 503 and a message saying to try again later; culled or closed kernels free their
places. Voila is told to use it with
`--VoilaConfiguration.multi_kernel_manager_class=aelab.widgets.lab_kernels.CappedKernelManager`
(its preheating pool subclasses whatever class is named there).

Kernels run at a lower CPU priority than the server (`kernel_nice`, default 5: Unix niceness,
added to the server's): a kernel that trains, or a preheated one that runs its notebook to
refill the pool after a visit, then never slows the server's pages and messages, and on a
machine that also runs the browser (a laptop, the lab's benchmark) never the page being drawn.
Among themselves kernels share the CPU as before.

A kernel handed to a page is not culled before the page has had time to connect. A preheated
kernel ran its notebook when the pool filled, possibly long ago, so when Voila hands it to a page
its last activity is old and it has no connection until the page's websocket opens: the culler
used to shut it down if it passed in between, and the page then showed "The model for kernel id
... does not exist" and no dashboard (10 pages opened at once on 2 cores, `cull_idle_timeout`
30 s: 9 of 10 lost their kernel). The first time the culler finds a kernel idle outside Voila's
pool (which Voila keeps from the culler) and never connected, its idle time starts then.

This module imports jupyter_server; only the Voila process imports it.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer, Set


class CappedKernelManager(AsyncMappingKernelManager):
    """AsyncMappingKernelManager that starts no kernel beyond `max_kernels`."""

    max_kernels = Integer(0, config=True, help="Most kernels alive or starting at once (0: no cap).")
    kernel_nice = Integer(5, config=True, min=0, max=19,
                          help="Niceness added to each kernel process (0: the server's priority).")

    _connected = Set()  # kernels a page has connected to at least once
    _awaiting_page = Set()  # kernels idle outside the pool, never connected, idle time restarted

    def live_kernels(self) -> int:
        return len(set(self._kernels) | set(self._pending_kernels))

    async def start_kernel(self, *, kernel_id: str | None = None, path=None, **kwargs) -> str:  # type: ignore[override]
        if (kernel_id is None or kernel_id not in self) and self.max_kernels > 0 \
                and self.live_kernels() >= self.max_kernels:
            self.log.warning("aelab lab: kernel refused, %d of %d places taken", self.live_kernels(), self.max_kernels)
            message = (f"The lab is serving its limit of {self.max_kernels} live dashboards; idle ones are "
                       "closed within minutes: please try again shortly")
            raise web.HTTPError(503, message, reason=message)  # the reason is what the error page shows
        kernel_id = await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)
        self.lower_priority(kernel_id)
        return kernel_id

    def notify_connect(self, kernel_id: str) -> None:
        super().notify_connect(kernel_id)
        self._connected.add(kernel_id)

    async def cull_kernel_if_idle(self, kernel_id: str):
        kernel = self._kernels.get(kernel_id)
        if kernel is not None and kernel_id not in self._connected and kernel_id not in self._awaiting_page \
                and getattr(kernel, "execution_state", None) == "idle" and hasattr(kernel, "last_activity"):
            # handed to a page that has not connected yet (or a kernel started on request that has just
            # run its notebook): its idle time counts from now
            self._awaiting_page.add(kernel_id)
            kernel.last_activity = datetime.now(timezone.utc)  # as jupyter_server keeps it
            self.log.debug("aelab lab: kernel %s waits for its page; idle from now", kernel_id)
            return None
        return await super().cull_kernel_if_idle(kernel_id)

    def remove_kernel(self, kernel_id: str):
        self._connected.discard(kernel_id)
        self._awaiting_page.discard(kernel_id)
        removed = super().remove_kernel(kernel_id)
        self.refill_refused_pools()
        return removed

    def refill_refused_pools(self) -> list[str]:
        """Refill the preheated pools that a refusal at the cap emptied, as places free up.

        Voila refills a dashboard's pool only when it hands that pool's kernel out, so a refill
        refused at the cap (a burst of visitors) left that dashboard without a preheated kernel for
        as long as the lab ran (after 10 sessions at once: 4 of 13). Refused refills are dropped
        and empty pools refilled, as many as there are free places. Returns the dashboards refilled."""
        pools = getattr(self, "_pools", None)  # Voila's preheating subclass has them; empty at shutdown
        fill = getattr(self, "fill_if_needed", None)
        if not pools or fill is None:
            return []
        for pool in pools.values():
            pool[:] = [task for task in pool if not (task.done() and (task.cancelled() or task.exception() is not None))]
        starting = sum(1 for pool in pools.values() for task in pool if not task.done())
        free = self.max_kernels - self.live_kernels() - starting if self.max_kernels > 0 else len(pools)
        refilled = [name for name, pool in pools.items() if not pool][:max(free, 0)]
        for name in refilled:
            self.log.info("aelab lab: refilling the preheated pool of %s", name)
            fill(notebook_name=name)
        return refilled

    def lower_priority(self, kernel_id: str) -> None:
        """Add `kernel_nice` to the niceness of the kernel's process (where the OS and the launcher say
        which process it is; a kernel started another way keeps its priority)."""
        pid = getattr(getattr(self._kernels.get(kernel_id), "provisioner", None), "pid", None)
        if self.kernel_nice <= 0 or not isinstance(pid, int) or not hasattr(os, "setpriority"):
            return
        try:
            os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, pid) + self.kernel_nice)
        except OSError as err:  # gone already, or not ours to change
            self.log.debug("aelab lab: kernel %s keeps its priority (%s)", kernel_id, err)


__all__ = ["CappedKernelManager"]
