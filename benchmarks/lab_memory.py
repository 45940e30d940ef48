"""The lab's memory after many page loads; writes benchmarks/results/lab_memory.json.

    python benchmarks/lab_memory.py [--loads 10] [--scale smoke] [--preheat 1] [--max-kernels N]
                                    [--cull-idle 30] [--settle 20] [--no-fork] [--out FILE]

Starts `aelab lab` (the checkout's notebooks) on a free 127.0.0.1 port, waits for the
preheated kernels, then loads dashboard pages with plain HTTP GETs from 127.0.0.1, one after
the other, cycling through the dashboards (in Voila a page load takes a kernel: a
preheated one, whose replacement then starts, or a new one). After each load it records the
status, the seconds, the number of kernels and the memory of all the lab's processes (the
server and every descendant): the sum of their RSS and of their PSS (proportional set
size: shared pages counted once, so the honest total). Then it waits for idle kernels to be
culled (`--cull-idle`) and records the memory again.

Kernels are forks of the lab's kernel zygote (`aelab.widgets.zygote`), which imported torch and
the dashboards' modules once: PSS counts those shared pages once. `--no-fork` measures kernels
started as new processes instead (each with its own imports).

What bounds memory: `--max-kernels` (default: the preheated kernels + 6); a load beyond it
gets HTTP 503 and starts nothing; closed pages' kernels are culled after `--cull-idle`.
Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from aelab.widgets.zygote import is_zygote_child  # a kernel forked by the lab's kernel zygote

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
OUT = REPO / "benchmarks" / "results" / "lab_memory.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    parents = {int(p.name): _parent(int(p.name)) for p in Path("/proc").glob("[0-9]*")}
    found, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _kb(path: Path, field: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def memory(root: int) -> dict[str, float]:
    pids = tree(root)
    kernels = [pid for pid in pids if b"ipykernel" in _cmdline(pid) or is_zygote_child(pid)]
    rss = sum(_kb(Path(f"/proc/{pid}/status"), "VmRSS") for pid in pids)
    pss = sum(_kb(Path(f"/proc/{pid}/smaps_rollup"), "Pss") for pid in pids)
    server = _kb(Path(f"/proc/{root}/status"), "VmRSS")
    return {"processes": len(pids), "kernels": len(kernels), "rss_mb": round(rss / 1024, 1),
            "pss_mb": round(pss / 1024, 1), "server_rss_mb": round(server / 1024, 1)}


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def get(url: str, timeout: float = 600) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as err:
        status = err.code
    return status, round(time.perf_counter() - started, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--scale", default="smoke", choices=("smoke", "teach"))
    parser.add_argument("--preheat", type=int, default=1)
    parser.add_argument("--max-kernels", type=int)
    parser.add_argument("--no-fork", action="store_true", help="aelab lab --no-fork: kernels as new processes")
    parser.add_argument("--cull-idle", type=int, default=30)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds to wait for the preheated pool")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    names = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    port = free_port()
    cache = tempfile.mkdtemp(prefix="aelab-lab-memory-")
    env = {**os.environ, "AELAB_LAB_SCALE": args.scale, "AELAB_CACHE": cache, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "aelab.cli", "lab", "--port", str(port), "--no-browser",
               "--preheat", str(args.preheat), "--cull-idle", str(args.cull_idle), "--cull-interval", "5"]
    if args.max_kernels is not None:
        command += ["--max-kernels", str(args.max_kernels)]
    if args.no_fork:
        command.append("--no-fork")
    log = Path(cache) / "lab.log"
    proc = subprocess.Popen(command, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    sys.path.insert(0, str(REPO))
    from aelab.widgets.lab import default_max_kernels

    cap = args.max_kernels if args.max_kernels is not None else default_max_kernels(NOTEBOOKS, args.preheat)
    record: dict = {"command": " ".join(command[1:]), "scale": args.scale, "dashboards": names,
                    "preheated_kernels": len(names) * args.preheat, "max_kernels": cap,
                    "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                "python": platform.python_version()}}
    try:
        started = time.monotonic()
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"aelab lab exited: {log.read_text()[-2000:]}")
            try:
                if get(base + "/", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() - started > 120:
                raise SystemExit("aelab lab did not answer within 120 s")
            time.sleep(0.5)
        record["serving_after_s"] = round(time.monotonic() - started, 1)
        time.sleep(args.settle)
        record["before_loads"] = memory(proc.pid)
        loads = []
        for i in range(args.loads):
            name = names[i % len(names)]
            status, seconds = get(f"{base}/voila/render/{name}")
            time.sleep(1.0)  # let a preheated kernel's replacement start
            loads.append({"load": i + 1, "dashboard": name, "status": status, "seconds": seconds,
                          **memory(proc.pid)})
            print(json.dumps(loads[-1]), flush=True)
        record["loads"] = loads
        record["after_loads"] = loads[-1]
        record["refused_503"] = sum(1 for load in loads if load["status"] == 503)
        waited = time.monotonic()
        while memory(proc.pid)["kernels"] > len(names) * args.preheat and \
                time.monotonic() - waited < args.cull_idle + 60:
            time.sleep(2)
        record["after_cull"] = {**memory(proc.pid), "waited_s": round(time.monotonic() - waited, 1)}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: record[k] for k in ("before_loads", "after_loads", "after_cull", "refused_503")}, indent=2))


if __name__ == "__main__":
    main()
