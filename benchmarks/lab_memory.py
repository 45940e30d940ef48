"""The lab's memory with many browser sessions open at once; writes benchmarks/results/lab_memory.json.

    python benchmarks/lab_memory.py [--sessions 10] [--dashboards 01 02 ...] [--scale teach]
                                    [--preheat 1] [--max-kernels N] [--cull-idle 120] [--no-fork]
                                    [--settle 240] [--out FILE]

Starts `aelab lab` (the checkout's notebooks, an empty dashboard cache, the shipped results) on a
free 127.0.0.1 port and lets the preheated pool fill (`--settle` s at most, until the lab is
idle). Then it opens `--sessions` headless-Chromium sessions at once (a browser context each:
separate visitors), cycling through `--dashboards` (default: 01-12; `--dashboards 01` puts every
session on one dashboard, a lecture where everyone follows along). It waits until every session
shows its first plot and its app says it is ready, records the memory with all of them open,
closes them all, waits for their kernels to be culled (`--cull-idle`) and records it again.

Memory is read from /proc for the server and every descendant: RSS, and PSS (proportional set
size: a page shared by several processes is split between them, so sums are honest). The
kernels' pool (`pool_pss_mb`: the kernel zygote and every kernel) is given apart from the
server, with each kernel's USS (its private pages: what one more session costs). Per session:
`first_plot_s` (from its navigation, measured in the page by `performance.now()`), `ready_s`
(from the moment the last session was opened), errors on the page or console. `opening_cpu`
splits the CPU time spent while the sessions opened between the lab (server and kernels) and
the rest of the machine: the browser, which here runs on the same cores as the lab.

Kernels are forks of the lab's kernel zygote (`aelab.widgets.zygote`), which imported torch and
the dashboards' modules once; `--no-fork` measures kernels started as new processes (each
with its own imports). What bounds memory: `--max-kernels` (a load beyond it gets HTTP 503)
and the cull of closed sessions' kernels. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
OUT = REPO / "benchmarks" / "results" / "lab_memory.json"
TARGET_POOL_MB = 2048  # the issue's: 10 sessions in 2 GB per kernel pool
READY = "/done in|from cache|failed|stopped|Could not finish|shipped (full|teach) tier/"
# in every page, before its scripts: the time (ms from navigation) its first plot became visible
FIRST_PLOT = """
(() => { const look = () => {
  const svg = document.querySelector('.js-plotly-plot .main-svg');
  if (svg && svg.getClientRects().length) { window.__aelabFirstPlot = performance.now(); return; }
  setTimeout(look, 20); };
  look(); })();
"""

sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
import browser_driver as lab  # noqa: E402  (the test driver in tests/browser_driver.py)
from lab_timings import _cpu_seconds, wait_quiet  # noqa: E402  (benchmarks/: CPU time; the lab idle)


def _rollup(pid: int) -> dict[str, int]:
    """kB fields of /proc/PID/smaps_rollup (Rss, Pss, Private_Clean, Private_Dirty, ...)."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, value = line.split(":", 1)
            out[key] = int(value.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def memory(root: int) -> dict:
    pids = lab.descendants(root)
    roll = {pid: _rollup(pid) for pid in pids}
    kernels = [pid for pid in pids if lab.is_kernel(pid)]
    zygotes = [pid for pid in pids if b"aelab.widgets.zygote" in _cmdline(pid) and pid not in kernels]
    pool = kernels + zygotes
    mb = lambda kb: round(kb / 1024, 1)  # noqa: E731
    uss = sorted(mb(roll[p].get("Private_Clean", 0) + roll[p].get("Private_Dirty", 0)) for p in kernels)
    return {"processes": len(pids), "kernels": len(kernels),
            "rss_mb": mb(sum(r.get("Rss", 0) for r in roll.values())),
            "pss_mb": mb(sum(r.get("Pss", 0) for r in roll.values())),
            "server_pss_mb": mb(roll[root].get("Pss", 0)),
            "pool_pss_mb": mb(sum(roll[p].get("Pss", 0) for p in pool)),
            "zygote_pss_mb": mb(sum(roll[p].get("Pss", 0) for p in zygotes)),
            "kernel_uss_mb": uss}


def machine_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def open_sessions(browser, base: str, names: list[str], ready_wait: float) -> list[dict]:
    """Open one session per name, all at once; poll them all for their first plot and readiness."""
    sessions = []
    for i, name in enumerate(names):
        context, page = lab.new_page(browser, 1280, 800)
        context.add_init_script(FIRST_PLOT)
        page.goto(f"{base}/voila/render/{name}.ipynb", wait_until="commit", timeout=300_000)
        sessions.append({"session": i + 1, "dashboard": name, "context": context, "page": page})
    started = time.perf_counter()
    waiting = list(sessions)
    while waiting and time.perf_counter() - started < ready_wait:
        time.sleep(0.5)
        for s in list(waiting):
            try:
                plot, ready = s["page"].evaluate(f"() => [window.__aelabFirstPlot, {READY}.test(document.body.innerText)]")
            except Exception as err:  # the page crashed or navigated away: recorded, the others go on
                s["failure"] = f"{type(err).__name__}: {str(err).splitlines()[0]}"
                waiting.remove(s)
                continue
            if plot is not None and "first_plot_s" not in s:
                s["first_plot_s"] = round(plot / 1000, 2)
            if ready and plot is not None:
                s["ready_s"] = round(time.perf_counter() - started, 1)  # within the 0.5 s poll
                waiting.remove(s)
    for s in waiting:
        s["failure"] = f"no {'plot' if 'first_plot_s' not in s else 'ready text'} within {ready_wait:.0f} s"
    for s in sessions:
        s["errors"] = lab.page_errors(s["page"]) + lab.console_errors(s["page"])
    return sessions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--dashboards", nargs="*", default=[f"{k:02d}" for k in range(1, 13)],
                        help="name prefixes the sessions cycle through (default 01-12)")
    parser.add_argument("--scale", default="teach", choices=("smoke", "teach"))
    parser.add_argument("--preheat", type=int, default=1)
    parser.add_argument("--max-kernels", type=int)
    parser.add_argument("--no-fork", action="store_true", help="aelab lab --no-fork: kernels as new processes")
    parser.add_argument("--cull-idle", type=int, default=120)
    parser.add_argument("--settle", type=float, default=240.0, help="most seconds for the preheated pool to fill")
    parser.add_argument("--ready-wait", type=float, default=240.0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    reason = lab.missing_browser()
    if reason:
        print(f"lab_memory: {reason}", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    from aelab.widgets.lab import REFILL_DELAY_S, default_max_kernels

    every = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    chosen = [n for prefix in args.dashboards for n in every if n.startswith(prefix)]
    if not chosen:
        parser.error(f"no dashboard starts with {args.dashboards}")
    names = [chosen[i % len(chosen)] for i in range(args.sessions)]
    tmp = Path(tempfile.mkdtemp(prefix="aelab-lab-memory-"))
    env = {**os.environ, "AELAB_LAB_SCALE": args.scale, "AELAB_CACHE": str(tmp / "cache"), "PYTHONUNBUFFERED": "1"}
    port = lab.free_port()
    command = [sys.executable, "-m", "aelab.cli", "lab", "--port", str(port), "--no-browser",
               "--notebooks", str(NOTEBOOKS), "--preheat", str(args.preheat), "--cull-idle", str(args.cull_idle),
               "--cull-interval", "5"]
    cap = args.max_kernels if args.max_kernels is not None else default_max_kernels(NOTEBOOKS, args.preheat)
    command += ["--max-kernels", str(cap)] + (["--no-fork"] if args.no_fork else [])
    pooled = len(every) * args.preheat
    record: dict = {"command": " ".join(command[1:]), "scale": args.scale, "sessions": args.sessions,
                    "dashboards": names, "preheated_kernels": pooled, "max_kernels": cap, "fork": not args.no_fork,
                    "target_pool_mb": TARGET_POOL_MB,
                    "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                "python": platform.python_version()},
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "load_1min_at_start": round(os.getloadavg()[0], 2)}
    proc = subprocess.Popen(command, env=env, stdout=open(tmp / "lab.log", "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        record["serving_after_s"] = round(lab.wait_until_serving(port, proc, timeout=180), 1)
        if args.preheat:
            time.sleep(REFILL_DELAY_S)
            record["settled"] = wait_quiet(proc, args.settle)
        record["before"] = memory(proc.pid)
        print("before:", json.dumps(record["before"]), flush=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=lab.CHROMIUM, args=lab.CHROMIUM_ARGS)
            try:
                lab_cpu, all_cpu, began = _cpu_seconds(lab.descendants(proc.pid)), machine_cpu_seconds(), time.perf_counter()
                sessions = open_sessions(browser, f"http://127.0.0.1:{port}", names, args.ready_wait)
                # where the CPU went while the sessions opened: the lab (server and kernels) or the
                # rest of the machine (the browser's processes: here, unlike in a lecture, on the same cores)
                lab_cpu, all_cpu = _cpu_seconds(lab.descendants(proc.pid)) - lab_cpu, machine_cpu_seconds() - all_cpu
                record["opening_cpu"] = {"seconds": round(time.perf_counter() - began, 1),
                                         "lab_cpu_s": round(lab_cpu, 1), "rest_cpu_s": round(all_cpu - lab_cpu, 1),
                                         "cores": os.cpu_count()}
                print("opening:", json.dumps(record["opening_cpu"]), flush=True)
                time.sleep(REFILL_DELAY_S + 1)  # the pool's replacements have started
                record["refill"] = wait_quiet(proc, args.settle)
                record["open"] = memory(proc.pid)
                print("open:", json.dumps(record["open"]), flush=True)
                record["per_session"] = [{k: v for k, v in s.items() if k not in ("context", "page")}
                                         for s in sessions]
                for s in record["per_session"]:
                    print(" ", json.dumps(s), flush=True)
                for s in sessions:
                    s["context"].close()
                print("closed the sessions; waiting for the cull", flush=True)
            finally:
                browser.close()
        waited = time.monotonic()
        while memory(proc.pid)["kernels"] > pooled and time.monotonic() - waited < args.cull_idle + 90:
            time.sleep(2)
        record["after_cull"] = {**memory(proc.pid), "waited_s": round(time.monotonic() - waited, 1)}
        print("after cull:", json.dumps(record["after_cull"]), flush=True)
    finally:
        lab.stop_lab(proc)
    opened = record["open"]
    record["summary"] = {
        "sessions_with_plot": sum("first_plot_s" in s for s in record["per_session"]),
        "sessions_with_errors": sum(bool(s["errors"] or "failure" in s) for s in record["per_session"]),
        "sessions_ready": sum("ready_s" in s for s in record["per_session"]),
        "first_plot_s_max": max((s.get("first_plot_s", 0) for s in record["per_session"]), default=None),
        "pool_pss_mb_open": opened["pool_pss_mb"], "pss_mb_open": opened["pss_mb"],
        "pool_pss_mb_per_added_session": round((opened["pool_pss_mb"] - record["before"]["pool_pss_mb"])
                                               / args.sessions, 1),
        "pool_within_target": opened["pool_pss_mb"] <= TARGET_POOL_MB}
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record["summary"], indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
