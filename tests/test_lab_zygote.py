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
