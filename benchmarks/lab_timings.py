"""How fast the dashboards open and redraw in a real browser; writes benchmarks/results/lab_timings.json.

    python benchmarks/lab_timings.py [--scale teach] [--modes preheated on-request] [--dashboards 01-... ...]
                                     [--repeats 7] [--ready-wait 240] [--preheat-wait 240] [--quiet-wait 120]
                                     [--results DIR]

Measured against `aelab lab` on a free 127.0.0.1 port with headless Chromium (a new browser
context per page: nothing cached in the browser), with an empty dashboard cache (cold), and
with the shipped full-tier results of `--results` (default: the lab's own results root, the
one `aelab lab` serves; `shipped` in the JSON says which dashboards open on one):

- `preheated`: `aelab lab` as it starts by default (`--preheat 1`: each dashboard's kernel has
  already run its notebook). The pool is given `--preheat-wait` s to fill before the first page.
  Each page is a visit to an idle lab: before it, the benchmark waits for the refill that the
  previous page set off (Voila replaces a handed-out kernel `REFILL_DELAY_S` later; the new one
  runs its notebook) to finish, until the lab's processes use under `QUIET_SHARE` of a core
  (at most `--quiet-wait` s; `quiet_wait_s` says how long, `lab_cpu_share` the share then).
- `on_request`: `--preheat 0`, each page starts its own kernel (as Voila inside a Jupyter
  server, e.g. on Binder, always does). After each dashboard its kernels are frozen (SIGSTOP),
  so no training left running in the background slows the next one.

Per dashboard: `first_plot_s` (navigation to the first visible plot: the full-tier picture
where a result is shipped, else the app's first figure), `full_tier_plot_s` (to the full-tier
picture, shipped ones), `ready_s` (until the app says done / cached / showing the shipped full
tier, capped at `--ready-wait`), `load_1min` (the machine's 1-minute load average just before
the page was opened). Then `redraw`: per dashboard, the delay from moving a control that only
redraws (01's filters-shown slider, 02's log-scale checkbox, a view toggle elsewhere; the tour
has none: every control retrains) to the changed plot, median and max over `--repeats`.
`targets` are the issue's: first plot under 5 s, redraw under 200 ms. The load average is
recorded at the start, before every page and at the end, because the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
OUT = REPO / "benchmarks" / "results" / "lab_timings.json"
TARGETS = {"first_plot_s": 5.0, "redraw_ms": 200.0}
QUIET_SHARE = 0.1  # of one core: the lab's processes count as idle below it
READY = "/done in|from cache|failed|stopped|Could not finish|shipped (full|teach) tier/"
# a control that only redraws (no training, no recomputation), per dashboard: (kind, what, values)
REDRAWS = {
    "01-denoising-filters": ("slider", "filters shown", ["5", "6"]),
    "02-joint-vs-layerwise": ("checkbox", "log scale", None),
    "03-gsn-sampling": ("button", None, ["chains (Fig. 2)", "paper vs this run"]),
    "04-what-where": ("button", None, ["reconstructions (Fig. 4)", "what / where (Fig. 3)"]),
    "05-layer-inversion": ("button", None, ["error per layer", "images from every layer (Figs. 4-5)"]),
    "06-latent-space": ("button", None, ["raw pixels", "autoencoder codes"]),
    "07-sweeps": ("button", None, ["validation vs test", "table"]),
    "08-sparse-codes": ("button", None, ["vs scikit-learn", "objective and atoms"]),
    "09-semantic-hashing": ("button", None, ["activations", "retrieval vs baselines"]),
    "10-stochastic": ("button", None, ["samples", "ELBO, IWAE and Parzen"]),
    "11-tangents": ("button", None, ["tangent directions", "Jacobian spectra"]),
    "12-pretraining": ("button", None, ["error during fine-tuning", "test errors"]),
}
# the experiment each dashboard opens on when it has a shipped full-tier result (07 shows sweeps)
EXPERIMENTS = {"00-tour": "lecture-tour", "06-latent-space": "lecture-latent",
               "01-denoising-filters": "vincent-filters", "02-joint-vs-layerwise": "zhou-curves",
               "03-gsn-sampling": "zhou-parzen", "04-what-where": "zhao-translation",
               "05-layer-inversion": "zhang-inversion", "08-sparse-codes": "lecture-sparse-coding",
               "09-semantic-hashing": "lecture-hashing", "10-stochastic": "lecture-vae",
               "11-tangents": "lecture-tangents", "12-pretraining": "lecture-pretraining"}

sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
import browser_driver as lab  # noqa: E402  (the test driver in tests/browser_driver.py)


def load_1min() -> float:
    return round(os.getloadavg()[0], 2)


def dashboards(chosen: list[str] | None) -> list[str]:
    names = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    return [n for n in names if not chosen or any(n.startswith(c) for c in chosen)]


def shipped_dashboards(names: list[str]) -> dict[str, str | None]:
    from aelab.experiments.runner import shipped

    return {n: (EXPERIMENTS[n] if n in EXPERIMENTS and shipped(EXPERIMENTS[n]) is not None else None) for n in names}


def pause_kernels(proc) -> int:
    """Freeze (SIGSTOP) the kernels the server started (children of the server we launched), so
    training a page left running takes no CPU from the next page. Killed kernels would be
    restarted by the server at once; frozen ones are killed with the server (`stop_lab`)."""
    paused = 0
    for pid in lab.descendants(proc.pid)[1:]:
        try:
            if lab.is_kernel(pid):
                os.kill(pid, signal.SIGSTOP)
                paused += 1
        except OSError:
            pass
    return paused


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def wait_quiet(proc, limit_s: float, window_s: float = 2.0) -> dict:
    """Wait until the server and its kernels use under QUIET_SHARE of a core over `window_s`."""
    started = time.perf_counter()
    share = None
    while time.perf_counter() - started < limit_s:
        pids = lab.descendants(proc.pid)
        before = _cpu_seconds(pids)
        time.sleep(window_s)
        share = (_cpu_seconds(pids) - before) / window_s
        if share < QUIET_SHARE:
            break
    return {"quiet_wait_s": round(time.perf_counter() - started, 1),
            "lab_cpu_share": None if share is None else round(share, 2)}


def wait_ready(page, timeout_s: float) -> float | None:
    started = time.perf_counter()
    try:
        page.wait_for_function(f"() => {READY}.test(document.body.innerText)", timeout=timeout_s * 1000)
    except Exception:  # not ready within the cap: recorded as None
        return None
    return time.perf_counter() - started


def page_state(page) -> dict:
    """What a page that failed showed: plotly.js present, widgets and figures drawn, its text, console."""
    try:
        return page.evaluate("() => ({plotly: typeof window.Plotly, widgets: document.querySelectorAll('.jupyter-widgets')"
                             ".length, figures: document.querySelectorAll('.aelab-plot').length, plots: document"
                             ".querySelectorAll('.js-plotly-plot').length, text: document.body.innerText.slice(0, 300)})"
                             ) | {"console": lab.console_errors(page) + lab.page_errors(page)}
    except Exception as err:  # the page itself is gone
        return {"unreadable": str(err).splitlines()[0]}


def open_one(browser, base: str, name: str, ready_wait: float, quiet: dict | None = None) -> dict:
    context, page = lab.new_page(browser, 1280, 800)
    record: dict = {"load_1min": load_1min(), **(quiet or {})}
    try:
        started = time.perf_counter()
        page.goto(f"{base}/voila/render/{name}.ipynb", wait_until="domcontentloaded", timeout=300_000)
        page.wait_for_selector(".js-plotly-plot .main-svg:visible", state="visible", timeout=300_000)
        record["first_plot_s"] = round(time.perf_counter() - started, 2)
        if page.query_selector(".aelab-full-column"):
            page.wait_for_selector(".aelab-full-column .js-plotly-plot .main-svg:visible", state="visible", timeout=60_000)
            record["full_tier_plot_s"] = round(time.perf_counter() - started, 2)
        ready = wait_ready(page, ready_wait)
        record["ready_s"] = round(time.perf_counter() - started, 2) if ready is not None else None
        record["errors"] = lab.page_errors(page) + lab.console_errors(page)
    except Exception as err:  # record the failure and what the page showed, go on with the other dashboards
        record["errors"] = [f"{type(err).__name__}: {str(err).splitlines()[0]}"]
        record["page"] = page_state(page)
    finally:
        context.close()
    record["meets_target"] = record.get("first_plot_s", 1e9) < TARGETS["first_plot_s"]
    print(f"  {name}: {record}", flush=True)
    return record


def redraw_one(browser, base: str, name: str, repeats: int, ready_wait: float) -> dict:
    kind, what, values = REDRAWS[name]
    context, page = lab.new_page(browser, 1280, 800)
    delays: list[float] = []
    out: dict = {"load_1min": load_1min()}
    try:
        lab.open_dashboard(page, f"{base}/voila/render/{name}.ipynb", timeout_ms=300_000)
        if wait_ready(page, ready_wait) is None:
            return {**out, "errors": [f"not ready within {ready_wait:.0f} s"]}
        time.sleep(3)  # updates in the first seconds after render may be lost: do not act earlier
        if kind == "button":
            present = [v for v in values if page.get_by_role("button", name=v, exact=True).count()]
            if len(present) < 2:
                return {**out, "control": None, "note": "no view toggle on this page (one view only)"}
        for i in range(repeats):
            if kind == "slider":
                control = (what, values[i % 2])
            elif kind == "checkbox":
                control = what
            else:
                control = values[i % 2]
            before = lab.plot_signature(page)
            lab.move_control(page, kind, control)
            delay = lab.wait_for_change(page, before, timeout=20, poll=0.005)
            if delay is not None:
                delays.append(delay)
            time.sleep(0.5)
        out.update({"control": f"{kind} {what or ' / '.join(values)}",
                    "median_ms": round(1000 * statistics.median(delays), 1) if delays else None,
                    "max_ms": round(1000 * max(delays), 1) if delays else None, "redraws": len(delays),
                    "tries": repeats, "errors": lab.page_errors(page) + lab.console_errors(page)})
        out["meets_target"] = bool(delays) and statistics.median(delays) * 1000 < TARGETS["redraw_ms"]
    except Exception as err:
        out["errors"] = [f"{type(err).__name__}: {str(err).splitlines()[0]}"]
    finally:
        context.close()
    print(f"  redraw {name}: {out}", flush=True)
    return out


def with_server(env: dict[str, str], preheat: int, log: Path, work, wait: float = 0.0):
    port = lab.free_port()
    proc = lab.start_lab(port, NOTEBOOKS, env, preheat=preheat, log_path=log)
    try:
        serving = lab.wait_until_serving(port, proc, timeout=180)
        if wait:
            time.sleep(wait)
        return work(f"http://127.0.0.1:{port}", proc, serving)
    finally:
        lab.stop_lab(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="teach", choices=("smoke", "teach"))
    parser.add_argument("--modes", nargs="+", default=["preheated", "on-request", "redraw"],
                        choices=("preheated", "on-request", "redraw"))
    parser.add_argument("--dashboards", nargs="*", help="name prefixes (e.g. 01 03); default: all")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--ready-wait", type=float, default=240.0,
                        help="seconds to wait for a dashboard's first result (training at the lab's size)")
    parser.add_argument("--preheat-wait", type=float, default=240.0,
                        help="seconds to let the preheated kernels run their notebooks before the first page")
    parser.add_argument("--quiet-wait", type=float, default=120.0,
                        help="preheated: most seconds to wait for the lab to go idle before each page")
    parser.add_argument("--results", help="shipped results root (AELAB_RESULTS); default: the lab's own")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--note", default="", help="conditions worth recording (e.g. what else ran)")
    parser.add_argument("--merge", action="store_true",
                        help="add these dashboards' numbers to the record in --out (runs in parts)")
    args = parser.parse_args()
    reason = lab.missing_browser()
    if reason:
        print(f"lab_timings: {reason}", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    from aelab import settings

    tmp = Path(tempfile.mkdtemp(prefix="aelab-lab-timings-"))
    env = {**os.environ, "AELAB_LAB_SCALE": args.scale, "AELAB_CACHE": str(tmp / "cache")}
    if args.results:
        env["AELAB_RESULTS"] = os.environ["AELAB_RESULTS"] = str(Path(args.results).resolve())
    names = dashboards(args.dashboards)
    record: dict = {"scale": args.scale, "targets": TARGETS, **({"note": args.note} if args.note else {}),
                    "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                "python": platform.python_version()},
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "load_1min_at_start": load_1min(),
                    "results_root": str(settings.results_root()), "shipped": shipped_dashboards(names)}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=lab.CHROMIUM, args=lab.CHROMIUM_ARGS)
        try:
            if "preheated" in args.modes:
                print(f"preheated (aelab lab's default, pool of 1; {args.preheat_wait:.0f} s to fill)", flush=True)
                from aelab.widgets.lab import REFILL_DELAY_S

                def visits(base, proc, s):
                    out = {"server_start_s": round(s, 1), "load_1min_before_pages": load_1min()}
                    for i, n in enumerate(names):
                        if i:  # the previous page's refill starts REFILL_DELAY_S after it was served
                            time.sleep(REFILL_DELAY_S + 1)
                        out[n] = open_one(browser, base, n, args.ready_wait, wait_quiet(proc, args.quiet_wait))
                    return out

                record["preheated"] = with_server(env, 1, tmp / "preheated.log", visits, args.preheat_wait)
            if "on-request" in args.modes:
                print("on request (no preheated kernels, each page starts its own)", flush=True)

                def each(base, proc, s):
                    out = {"server_start_s": round(s, 1)}
                    for n in names:
                        out[n] = open_one(browser, base, n, args.ready_wait)
                        pause_kernels(proc)
                        time.sleep(2)
                    return out

                record["on_request"] = with_server({**env, "AELAB_CACHE": str(tmp / "cache-on-request")}, 0,
                                                   tmp / "on-request.log", each)
            if "redraw" in args.modes:
                print("redraw delay (kernels on request, after the first result)", flush=True)

                def redraws(base, proc, s):
                    out = {}
                    for n in names:
                        if n not in REDRAWS:
                            out[n] = {"control": None, "note": "no redraw-only control: every control retrains"}
                            continue
                        out[n] = redraw_one(browser, base, n, args.repeats, args.ready_wait)
                        pause_kernels(proc)
                        time.sleep(2)
                    return out

                record["redraw"] = with_server(env, 0, tmp / "redraw.log", redraws)
        finally:
            browser.close()
    record["load_1min_at_end"] = load_1min()
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    if args.merge and Path(args.out).exists():  # earlier parts keep their numbers, their own loads and times
        previous = json.loads(Path(args.out).read_text())
        parts = previous.pop("parts", [])
        parts.append({k: record[k] for k in ("started", "finished", "load_1min_at_start", "load_1min_at_end", "note")
                      if k in record})
        for mode in ("preheated", "on_request", "redraw"):
            if mode in record:
                previous[mode] = {**previous.get(mode, {}), **record[mode]}
        previous["shipped"] = {**previous.get("shipped", {}), **record["shipped"]}
        record = {**previous, "parts": parts}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
