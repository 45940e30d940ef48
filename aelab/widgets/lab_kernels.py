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

This module imports jupyter_server; only the Voila process imports it.
"""

from __future__ import annotations

import os

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer


class CappedKernelManager(AsyncMappingKernelManager):
    """AsyncMappingKernelManager that starts no kernel beyond `max_kernels`."""

    max_kernels = Integer(0, config=True, help="Most kernels alive or starting at once (0: no cap).")
    kernel_nice = Integer(5, config=True, min=0, max=19,
                          help="Niceness added to each kernel process (0: the server's priority).")

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
