"""`aelab lab`'s kernels forked from a zygote that imported what they need (aelab.widgets.zygote)."""

from __future__ import annotations

import os
import sys

import pytest

from aelab.widgets import zygote


def test_only_this_pythons_ipykernel_launches_are_forked(tmp_path):
    assert zygote.forkable([sys.executable, "-m", "ipykernel_launcher", "-f", "k.json"])
    assert not zygote.forkable([sys.executable, "-m", "other_kernel", "-f", "k.json"])
    assert not zygote.forkable(["/no/such/python", "-m", "ipykernel_launcher", "-f", "k.json"])
    assert not zygote.forkable([sys.executable])


def test_the_provisioner_is_registered_for_jupyter_client():
    from importlib.metadata import entry_points

    from jupyter_client.provisioning import LocalProvisioner

    from aelab.widgets.lab import PROVISIONER

    found = [e for e in entry_points(group="jupyter_client.kernel_provisioners") if e.name == PROVISIONER]
    assert found and found[0].load() is zygote.ForkProvisioner  # one class, whoever loads it
    assert issubclass(zygote.ForkProvisioner, LocalProvisioner)


def _read_stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


@pytest.mark.skipif(not hasattr(os, "fork") or not os.path.isdir("/proc"), reason="needs fork and /proc (Linux)")
def test_a_forked_kernel_runs_code_in_its_own_session_and_shares_the_zygotes_imports(monkeypatch, tmp_path):
    from jupyter_client import KernelManager
    from jupyter_client.provisioning import KernelProvisionerFactory

    factory = KernelProvisionerFactory.instance()
    monkeypatch.setattr(factory, "default_provisioner_name", "aelab-fork")
    monkeypatch.setenv("AELAB_ZYGOTE_TEST", "from the server")
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(tmp_path))
    try:
        assert isinstance(manager.provisioner, zygote.ForkProvisioner)
        pid = manager.provisioner.pid
        zygote_pid = zygote.Zygote.shared().process.pid
        assert int(_read_stat(pid)[1]) == zygote_pid  # forked by the zygote, not started by the server
        assert int(_read_stat(pid)[3]) == pid  # its own session: the server signals its group
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        out = []
        reply = client.execute_interactive(
            "import os, sys; print(os.getcwd(), os.environ['AELAB_ZYGOTE_TEST'], 'torch' in sys.modules, "
            "os.environ['JPY_PARENT_PID'] == str(os.getppid()))",
            timeout=60, output_hook=lambda msg: out.append(msg["content"].get("text", "")))
        assert reply["content"]["status"] == "ok"
        assert "".join(out).split() == [str(tmp_path), "from", "the", "server", "True", "True"]
        # what the zygote made before forking is shared and works: the experiments' registry (scipy
        # with it), BLAS in numpy, scipy and torch (their worker threads are remade after the fork)
        out.clear()
        reply = client.execute_interactive(
            "import sys, numpy, scipy.linalg, torch; from aelab.experiments import registry; "
            "a = numpy.random.default_rng(0).normal(size=(300, 300)); "
            "print('scipy.stats' in sys.modules, registry.cache_info().currsize, "
            "round(float(abs(scipy.linalg.svd(a)[1] - numpy.linalg.svd(a)[1]).max()), 6), "
            "round(float((torch.from_numpy(a) @ torch.from_numpy(a)).sum() - (a @ a).sum()), 6))",
            timeout=60, output_hook=lambda msg: out.append(msg["content"].get("text", "")))
        assert reply["content"]["status"] == "ok"
        assert "".join(out).split() == ["True", "1", "0.0", "0.0"]
        client.stop_channels()
    finally:
        manager.shutdown_kernel(now=True)
    assert manager.provisioner is None or not manager.has_kernel
    with pytest.raises(ProcessLookupError):
        for _ in range(100):  # reaped by the zygote
            os.kill(pid, 0)
            import time

            time.sleep(0.05)
    zygote.Zygote.shared().process.kill()
    zygote.Zygote._instance = None


@pytest.mark.skipif(not hasattr(os, "fork") or not os.path.isdir("/proc"), reason="needs fork and /proc (Linux)")
def test_binders_jupyter_server_forks_its_kernels(tmp_path):
    """binder/jupyter_server_config.json (copied by postBuild) makes a plain Jupyter server, the one
    Voila runs in on Binder, start its kernels as forks of the zygote."""
    import json
    import socket
    import subprocess
    import time
    import urllib.request
    from pathlib import Path

    config = Path(__file__).resolve().parents[1] / "binder" / "jupyter_server_config.json"
    assert json.loads(config.read_text())["KernelProvisionerFactory"]["default_provisioner_name"] == "aelab-fork"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "aelab-test"
    server = subprocess.Popen([sys.executable, "-m", "jupyter_server", f"--config={config}", "--ip=127.0.0.1",
                               f"--port={port}", "--port_retries=0", f"--IdentityProvider.token={token}",
                               "--ServerApp.open_browser=False", "--allow-root", f"--ServerApp.root_dir={tmp_path}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def call(method: str, path: str):
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                         headers={"Authorization": f"token {token}"},
                                         data=b"{}" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=120) as response:
            body = response.read()
            return json.loads(body) if body else None

    try:
        for _ in range(300):
            try:
                call("GET", "/api/status")
                break
            except OSError:
                assert server.poll() is None, "jupyter server exited"
                time.sleep(0.2)
        kernel = call("POST", "/api/kernels")
        # a kernel forked by a zygote that this server started (other labs may run beside the test)
        ours = [pid for pid in (int(p.name) for p in Path("/proc").glob("[0-9]*"))
                if zygote.is_zygote_child(pid) and int(_read_stat(int(_read_stat(pid)[1]))[1]) == server.pid]
        assert len(ours) == 1, "the server's kernel is not a fork of its zygote"
        assert int(_read_stat(ours[0])[3]) == ours[0]  # in its own session
        call("DELETE", f"/api/kernels/{kernel['id']}")
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_signalling_a_forked_kernel_that_has_ended_is_not_an_error():
    """jupyter_client's restarter shuts a dead kernel down (interrupt, then kill) before starting it
    again: a ForkedProcess of an ended kernel must take that as Popen does, or the kernel is lost."""
    import signal

    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)  # ended and reaped, as the zygote reaps its children
    process = zygote.ForkedProcess(pid)
    process.send_signal(signal.SIGINT)
    process.kill()
    process.terminate()
    assert process.poll() == 0 and process.wait(timeout=1) == 0


SPY_CUDA = """
import sys, traceback
import torch
calls = []
def spy(name, original):
    def wrapper(*args, **kwargs):
        calls.append(name + ": " + "".join(traceback.format_stack(limit=4)[:-1]))
        return original(*args, **kwargs)
    return wrapper
for name in ("is_available", "device_count", "init", "_lazy_init", "current_device", "get_device_name",
             "synchronize", "set_device", "manual_seed", "manual_seed_all"):
    setattr(torch.cuda, name, spy(name, getattr(torch.cuda, name)))
torch.backends.mps.is_available = spy("mps.is_available", torch.backends.mps.is_available)
from aelab.widgets import zygote
zygote._preload()
print("CALLS", len(calls))
print("\\n".join(calls))
"""


def test_the_zygote_never_touches_cuda_before_it_forks():
    # a kernel forked from a process that initialised CUDA cannot use the GPU ("Cannot re-initialize
    # CUDA in forked subprocess"): on a GPU server, every dashboard would then fail or fall back to the
    # cpu. What the zygote preloads must not ask torch about devices. (On an H100, a process forked after
    # _preload trained a DAE on cuda: the GPU check of issue 17.)
    import subprocess

    done = subprocess.run([sys.executable, "-c", SPY_CUDA], capture_output=True, text=True, timeout=240,
                          env={**os.environ, "AELAB_DEVICE": "auto"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "CALLS 0" in done.stdout, done.stdout[-3000:]
