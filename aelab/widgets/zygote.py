"""Kernels forked from one process that has already imported what every dashboard needs.

Every dashboard kernel imports the same modules (torch, numpy, plotly, ipywidgets, ipykernel,
aelab): about 250 MB of memory each and 3-4 s of CPU at each start, most of it torch
(REFERENCES.md, "Dashboards in Voila"). `aelab lab` therefore starts its kernels the way a
forkserver does: a zygote process (`python -m aelab.widgets.zygote SOCKET`) imports them once;
asked for a kernel, it forks, and the child becomes `python -m ipykernel_launcher -f FILE`
with the environment and folder the server gave it. The children share the zygote's pages
until they write to them (copy on write), so ten kernels hold the imports once, and a kernel
is up in a fraction of a second.

`ForkProvisioner` is a jupyter_client kernel provisioner (`LocalProvisioner` but for the
launch), registered as the `aelab-fork` entry point; `aelab lab` names it with
`--KernelProvisionerFactory.default_provisioner_name=aelab-fork`. It starts the zygote on the
first launch and falls back to an ordinary launch (a new process) for any command that is not
an ipykernel launch, on a platform without `fork`, or when the zygote cannot be reached.

What the zygote keeps safe for its children: it imports modules and builds plain Python objects
only (the experiments' registry, one plotly figure); no Python thread, event loop, zmq context or
torch computation is started before a fork (the BLAS libraries' idle worker threads are remade in
the child by their own fork handlers). It then freezes what it made out of the collector's reach
(`gc.freeze`), so a kernel's collections do not copy the shared pages; a child restores the default
signal handlers, starts its own session (the server signals the kernel's process group) and
closes the zygote's socket. The zygote reaps its children and ends when the server does.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# every dashboard's module, what its app imports when it is made and the kernel's debugger (debugpy,
# which ipykernel loads at every start: 11 MB a kernel): imported here, their pages are shared;
# imported in each kernel, each has its own copy
PRELOAD = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger", "ipywidgets", "numpy", "torch",
           "plotly.graph_objects", "plotly.io", "aelab.experiments", "aelab.widgets.base", "aelab.widgets.shipped",
           *(f"aelab.widgets.{name}" for name in ("experiment", "tour", "filters", "schemes", "latent", "sweeps",
                                                  "sparse_codes", "stochastic", "tangents", "pretraining")))
# the plotly trace types the figure builders use: making one of each loads plotly's validators (its
# 8 MB validator table and a module per property), which it otherwise does in every kernel
PLOTLY_TRACES = ("Scatter", "Scattergl", "Heatmap", "Bar", "Box", "Table")
LAUNCHER = ("-m", "ipykernel_launcher")


# ---------------------------------------------------------------------------- the zygote process

def _preload() -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as err:  # a module that fails here fails again, readably, in the kernel
            print(f"aelab zygote: could not preload {name}: {err}", file=sys.stderr, flush=True)
    try:  # every experiment module (apps look experiments up by name: scipy and all) and plotly's validators
        import plotly.graph_objects as go

        from aelab.experiments import registry

        registry()
        go.Figure([getattr(go, trace)() for trace in PLOTLY_TRACES], layout={"title": {"text": "x"}}).to_dict()
    except Exception as err:  # noqa: BLE001 - an optimisation only: the kernel imports what it needs
        print(f"aelab zygote: could not preload the experiments or plotly's validators: {err}", file=sys.stderr,
              flush=True)


def _become_kernel(request: dict[str, Any], listener: socket.socket) -> None:
    """In the forked child: take the server's environment and folder and run ipykernel."""
    import gc
    import runpy

    gc.enable()
    listener.close()
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # an interrupt stops the cell, not the kernel
    os.setsid()
    from aelab import settings

    settings.replace_environment(request["env"])
    if request.get("cwd"):
        os.chdir(request["cwd"])
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.argv = ["ipykernel_launcher", *request["argv"]]
    try:
        runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 0
    except BaseException:  # noqa: BLE001 - the kernel's own traceback, then a plain exit
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def serve(path: str) -> None:
    """Import what kernels need, then fork one for each request on the socket at `path`
    (a JSON line: argv after `-m ipykernel_launcher`, env, cwd; the reply: the child's pid)."""
    import gc

    parent = os.getppid()
    gc.disable()  # no collection while importing: no freed holes among the pages kernels will share
    _preload()
    # what was imported lives as long as the kernels: out of the collector's reach, so a kernel's
    # collections never write to (and so copy) those shared pages (the gc module's advice for fork)
    gc.collect()
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel of the OS
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the server's terminal is the server's
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)  # the server waits for the socket to answer: then the zygote is ready
    listener.settimeout(1.0)
    while os.getppid() == parent:  # the server is gone: so is the zygote
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        with conn:
            conn.settimeout(30)
            try:
                request = json.loads(conn.makefile("rb").readline())
            except (OSError, ValueError):
                continue
            if "argv" not in request:  # the server checking that the zygote is up
                continue
            pid = os.fork()
            if pid == 0:
                conn.close()
                _become_kernel(request, listener)
            conn.sendall(f"{pid}\n".encode())
    listener.close()
    os.unlink(path)  # the socket and its folder (`Zygote` made it) go with the zygote
    os.rmdir(os.path.dirname(path))


# ---------------------------------------------------------------------------- the server's side

class ForkedProcess:
    """What jupyter_client asks of a kernel's `Popen`, for a kernel forked by the zygote (not a
    child of the server: its state is read with signal 0, its exit status is not known)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
                with open(f"/proc/{self.pid}/stat") as stat:  # a zombie counts as gone
                    if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                        self.returncode = 0
            except ProcessLookupError:
                self.returncode = 0
            except OSError:
                pass
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        started = time.monotonic()
        while self.poll() is None:
            if timeout is not None and time.monotonic() - started > timeout:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.05)
        return self.returncode or 0

    def send_signal(self, signum: int) -> None:
        """As `Popen.send_signal`: a kernel that has already ended is not signalled (nor is a process
        that took its pid), and no error is raised. A kernel that died at start (e.g. a port taken
        between the server choosing it and the kernel binding it) is then restarted by jupyter_client's
        restarter, whose shutdown signals it first (it raised ProcessLookupError: the kernel was lost)."""
        if self.poll() is not None:
            return
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            self.returncode = 0

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class Zygote:
    """The server's handle on its zygote process (started on first use, one per server)."""

    _instance: Zygote | None = None
    _lock = threading.Lock()  # kernels are launched from several threads at once: one zygote for all

    def __init__(self, timeout: float = 120):
        self.folder = tempfile.mkdtemp(prefix="aelab-zygote-")
        self.path = os.path.join(self.folder, "socket")
        # its output (and its kernels') goes where the server's goes, as a launched kernel's would
        self.process = subprocess.Popen([sys.executable, "-m", "aelab.widgets.zygote", self.path],
                                        stdin=subprocess.DEVNULL)
        started = time.monotonic()
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() - started > timeout:
                self.process.kill()
                raise OSError(f"the kernel zygote did not start within {timeout:.0f} s")
            time.sleep(0.1)

    def _answers(self) -> bool:
        if not os.path.exists(self.path):
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(self.path)
            except OSError:
                return False
            probe.sendall(b"{}\n")  # not a request: the zygote skips it
        return True

    @classmethod
    def shared(cls) -> Zygote:
        with cls._lock:
            if cls._instance is None or cls._instance.process.poll() is not None:
                cls._instance = cls()
            return cls._instance

    def fork(self, argv: list[str], env: dict[str, str], cwd: str | None) -> int:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(30)
            conn.connect(self.path)
            conn.sendall((json.dumps({"argv": argv, "env": env, "cwd": cwd}) + "\n").encode())
            return int(conn.makefile("rb").readline())


def is_zygote_child(pid: int) -> bool:
    """Whether process `pid` is a kernel forked by a zygote (its command line is the zygote's; Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        with open(f"/proc/{parent}/cmdline", "rb") as cmdline:
            return b"aelab.widgets.zygote" in cmdline.read()
    except (OSError, ValueError, IndexError):
        return False


def forkable(cmd: list[str]) -> bool:
    """Whether `cmd` is `<this python> -m ipykernel_launcher ...` (what the zygote can become)."""
    import shutil

    if len(cmd) < 3 or tuple(cmd[1:3]) != LAUNCHER or not hasattr(os, "fork"):
        return False
    found = shutil.which(cmd[0])
    return found is not None and Path(found).resolve() == Path(sys.executable).resolve()


@functools.cache
def _provisioner_class():
    from jupyter_client.provisioning import LocalProvisioner

    class ForkProvisioner(LocalProvisioner):
        """`LocalProvisioner` whose ipykernel launches are forks of the lab's zygote."""

        async def launch_kernel(self, cmd: list[str], **kwargs: Any):
            if not forkable(cmd):
                return await super().launch_kernel(cmd, **kwargs)
            from aelab import settings

            env = {str(k): str(v) for k, v in (kwargs.get("env") or settings.environment()).items()}
            cwd = kwargs.get("cwd")

            def fork() -> int:
                zygote = Zygote.shared()
                # as jupyter_client's launcher does for its children: the kernel watches its parent
                # (ipykernel's ParentPollerUnix) and ends when the zygote, hence the server, has gone
                env["JPY_PARENT_PID"] = str(zygote.process.pid)
                return zygote.fork(list(cmd[3:]), env, str(cwd) if cwd else None)

            try:
                pid = await asyncio.get_running_loop().run_in_executor(None, fork)
            except (OSError, ValueError) as err:
                self.log.warning("aelab lab: kernel started as a new process (zygote unavailable: %s)", err)
                return await super().launch_kernel(cmd, **kwargs)
            self.process = ForkedProcess(pid)
            self.pid = self.pgid = pid  # the child started its own session
            self.cwd = cwd
            return self.connection_info

    return ForkProvisioner


def __getattr__(name: str):
    if name == "ForkProvisioner":  # jupyter_client loads it by entry point; only the server imports it
        return _provisioner_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    serve(sys.argv[1])
