"""How fast the dashboards open and react in a real browser; writes benchmarks/results/lab_timings.json.

    python benchmarks/lab_timings.py [--scale teach] [--sessions 10] [--preheat-wait 60]

Measured against `aelab lab` on a free 127.0.0.1 port with headless Chromium:
1. cold: no cache, kernels started on request: seconds from navigation to the first plot
   and to the app's first result (training included);
2. cached: the same after every app was trained once (`aelab.widgets.prewarm`), kernels
   started on request (target: first plot under 5 s);
3. preheated: cached and `--preheat 1` (each dashboard's kernel already ran the notebook);
4. redraw: seconds from moving a control whose views are precomputed (log-scale checkbox,
   filters-shown readout) to the changed plot (target: under 200 ms), median of repeats;
5. load: `--sessions` pages of one dashboard opened at once against one server (cached,
   kernels on request): time until all show a plot, errors, resident memory per kernel.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
OUT = REPO / "benchmarks" / "results" / "lab_timings.json"
REDRAWS = {"02-joint-vs-layerwise": ("checkbox", "log scale"),
           "01-denoising-filters": ("slider", ("filters shown", None))}

sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
import browser_driver as lab  # noqa: E402  (the test driver in tests/browser_driver.py)


def dashboards() -> list[str]:
    return sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


def with_server(env: dict[str, str], preheat: int, log: Path, work, preheat_wait: float = 0.0):
    port = lab.free_port()
    proc = lab.start_lab(port, NOTEBOOKS, env, preheat=preheat, log_path=log)
    try:
        serving = lab.wait_until_serving(port, proc, timeout=180)
        if preheat_wait:
            time.sleep(preheat_wait)
        return work(f"http://127.0.0.1:{port}", proc, serving)
    finally:
        lab.stop_lab(proc)


def open_each(browser, base: str) -> dict[str, dict[str, float]]:
    out = {}
    for name in dashboards():
        context, page = lab.new_page(browser)
        try:
            first = lab.open_dashboard(page, f"{base}/voila/render/{name}.ipynb")
            started = time.perf_counter()
            lab.wait_for_work(page)
            out[name] = {"first_plot_s": round(first, 2),
                         "first_result_s": round(first + time.perf_counter() - started, 2),
                         "errors": lab.page_errors(page)}
            print(f"  {name}: first plot {first:.1f} s, result {out[name]['first_result_s']:.1f} s", flush=True)
        except Exception as err:  # record the failure, go on with the other dashboards
            out[name] = {"errors": [f"{type(err).__name__}: {str(err).splitlines()[0]}"]}
            print(f"  {name}: {out[name]['errors'][0]}", flush=True)
        finally:
            context.close()
    return out


def redraw_delays(browser, base: str, repeats: int) -> dict[str, dict[str, float]]:
    out = {}
    for name, (kind, what) in REDRAWS.items():
        context, page = lab.new_page(browser)
        try:
            lab.open_dashboard(page, f"{base}/voila/render/{name}.ipynb")
            lab.wait_for_work(page)
            time.sleep(3)
            delays = []
            for i in range(repeats):
                control = what if kind != "slider" else (what[0], str(5 + i % 2))
                before = lab.plot_signature(page)
                lab.move_control(page, kind, control)
                delay = lab.wait_for_change(page, before, timeout=20, poll=0.005)
                if delay is not None:
                    delays.append(delay)
                time.sleep(0.5)
            out[name] = {"control": f"{kind} {what if kind != 'slider' else what[0]}",
                         "median_ms": round(1000 * statistics.median(delays), 1) if delays else None,
                         "max_ms": round(1000 * max(delays), 1) if delays else None,
                         "redraws": len(delays), "tries": repeats}
            print(f"  redraw {name}: median {out[name]['median_ms']} ms over {len(delays)}", flush=True)
        finally:
            context.close()
    return out


def load_run(browser, base: str, proc, sessions: int, name: str) -> dict:
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    context.route("**/*", lab.only_loopback)
    pages = [context.new_page() for _ in range(sessions)]
    started = time.perf_counter()
    for page in pages:
        page.goto(f"{base}/voila/render/{name}.ipynb", wait_until="commit", timeout=300_000)
    rendered, errors = [], []
    for page in pages:
        try:
            page.wait_for_selector(".js-plotly-plot .main-svg", state="visible", timeout=300_000)
            lab.wait_for_work(page, timeout_ms=300_000)
            rendered.append(time.perf_counter() - started)
            errors += lab.page_errors(page)
        except Exception as err:  # a session that never rendered is the finding, not a crash
            errors.append(f"{type(err).__name__}: {str(err).splitlines()[0]}")
    memory = lab.kernel_memory_mb(proc)
    context.close()
    result = {"dashboard": name, "sessions": sessions, "rendered": len(rendered),
              "all_rendered_s": round(max(rendered), 1) if rendered else None,
              "median_render_s": round(statistics.median(rendered), 1) if rendered else None,
              "errors": errors, "kernels": len(memory),
              "kernel_rss_mb_median": round(statistics.median(memory), 1) if memory else None,
              "kernel_rss_mb_max": round(max(memory), 1) if memory else None}
    print(f"  load: {result}", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="teach", choices=("smoke", "teach"))
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--load-dashboard", default="01-denoising-filters")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--preheat-wait", type=float, default=60.0,
                        help="seconds to let the preheated kernels run their notebooks before opening pages")
    parser.add_argument("--skip", nargs="*", default=(), choices=("cold", "cached", "preheated", "redraw", "load"),
                        help="parts not to run; their numbers are kept from an earlier record of the same scale")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    reason = lab.missing_browser()
    if reason:
        print(f"lab_timings: {reason}", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="aelab-lab-timings-"))
    env = {**os.environ, "AELAB_LAB_SCALE": args.scale, "AELAB_CACHE": str(tmp / "cache")}
    previous = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
    record: dict = {**(previous if args.skip and previous.get("scale") == args.scale else {}), "scale": args.scale, "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                                     "python": platform.python_version()},
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=lab.CHROMIUM, args=lab.CHROMIUM_ARGS)
        try:
            if "cold" not in args.skip:
                print("cold (no cache, kernels on request)", flush=True)
                record["cold"] = with_server(env, 0, tmp / "cold.log",
                                             lambda base, proc, s: {"server_start_s": round(s, 1),
                                                                    **open_each(browser, base)})
            prewarm = time.perf_counter()
            subprocess.run([sys.executable, "-m", "aelab.widgets.prewarm"], env=env, check=True)
            record["prewarm_s"] = round(time.perf_counter() - prewarm, 1)
            if "cached" not in args.skip:
                print("cached (kernels on request)", flush=True)
                record["cached"] = with_server(env, 0, tmp / "cached.log",
                                               lambda base, proc, s: open_each(browser, base))
            if "preheated" not in args.skip:
                print(f"preheated (cached, pool 1, {args.preheat_wait:.0f} s to fill)", flush=True)
                record["preheated"] = with_server(env, 1, tmp / "preheated.log",
                                                  lambda base, proc, s: open_each(browser, base), args.preheat_wait)
            if "redraw" not in args.skip:
                print("redraw delay", flush=True)
                record["redraw"] = with_server(env, 0, tmp / "redraw.log",
                                               lambda base, proc, s: redraw_delays(browser, base, args.repeats))
            if "load" not in args.skip:
                print(f"load: {args.sessions} sessions at once", flush=True)
                record["load"] = with_server(env, 0, tmp / "load.log", lambda base, proc, s: load_run(
                    browser, base, proc, args.sessions, args.load_dashboard))
        finally:
            browser.close()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
