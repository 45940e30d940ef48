"""Make docs/screenshots/NAME.png: every dashboard as served by `aelab lab`, 1280 x 800.

    python docs/make_screenshots.py [NAME ...] [--cache DIR] [--ready-wait S] [--max-kb 300]

Serves the notebooks with `aelab lab` on a free 127.0.0.1 port at the lab's teach size (what a
user sees) and the shipped results of the lab's results root (`results/`, or `$AELAB_RESULTS`):
a dashboard whose experiment ships a result opens on it, the others train at teach size on
opening. Each page is opened in headless Chromium (`tests/browser_driver.py`: every request not
to 127.0.0.1 is aborted, and counted here), the script waits until the app is ready (done, from
cache, or showing a shipped tier, with no stop button active) and its plots are drawn, scrolls
the dashboard itself (below the notebook's introduction) to the top and takes the 1280 x 800
viewport. PNGs are stored
optimised by Pillow, as 256-colour PNGs where the full-colour file would exceed --max-kb.
`--cache DIR` keeps the dashboards' trained runs between invocations (default: a new temporary
folder), so a second invocation for the same names opens on them at once. Then run
`python docs/make_thumbnails.py` for the landing page's cards.
Needs playwright-python, Chromium (`/usr/bin/chromium` or AELAB_CHROMIUM) and Pillow.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
OUT = REPO / "docs" / "screenshots"
SIZE = (1280, 800)
READY = "/done in|from cache|failed|stopped|Could not finish|shipped (full|teach) tier/"
# the app's work has ended: its status says so and every stop button is greyed out (the notebook's own text
# may contain "stopped", so the status alone is not enough)
IDLE = ("() => { const stops = Array.from(document.querySelectorAll('.aelab-app button'))"
        ".filter(b => /^\\W*stop\\W*$/.test(b.innerText)); "
        f"return {READY}.test(document.body.innerText) && stops.length > 0 && stops.every(b => b.disabled); }}")


def save_png(png: bytes, target: Path, max_kb: int) -> int:
    """Store a screenshot optimised; as 256 colours when the full-colour file is larger than `max_kb`."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        image = image.convert("RGB")
        if image.size != SIZE:
            raise RuntimeError(f"{target.name}: screenshot is {image.size}, not {SIZE}")
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        if buffer.tell() > max_kb * 1024:
            buffer = io.BytesIO()
            image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
                buffer, format="PNG", optimize=True)
        target.write_bytes(buffer.getvalue())
        return buffer.tell()


def wait_plots_settled(page, timeout: float = 60) -> None:
    """Until the number of drawn plots stops changing for a second (figures arrive one by one)."""
    count, since, started = -1, time.monotonic(), time.monotonic()
    while time.monotonic() - started < timeout:
        now = page.evaluate("() => document.querySelectorAll('.js-plotly-plot .main-svg').length")
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since > 1.0:
            return
        time.sleep(0.2)


def shoot(page, base: str, name: str, max_kb: int, ready_wait: float) -> dict:
    import browser_driver as lab_browser

    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    started = time.perf_counter()
    first_plot = lab_browser.open_dashboard(page, f"{base}/voila/render/{name}.ipynb")
    page.wait_for_function(IDLE, timeout=ready_wait * 1000)
    ready = time.perf_counter() - started
    wait_plots_settled(page)
    time.sleep(2)  # the last redraws and fonts
    errors = lab_browser.page_errors(page) + lab_browser.console_errors(page)
    page.evaluate("() => document.querySelector('.aelab-app, .widget-vbox').scrollIntoView()")
    time.sleep(0.5)
    size = save_png(page.screenshot(), OUT / f"{name}.png", max_kb)
    outside = [u for u in requests if not u.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))]
    return {"name": name, "first_plot_s": round(first_plot, 1), "ready_s": round(ready, 1), "kb": size // 1024,
            "requests_outside": outside, "errors": errors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="dashboards (default: every notebook NN-*.ipynb)")
    parser.add_argument("--cache", help="the dashboards' cache folder (kept between invocations)")
    parser.add_argument("--ready-wait", type=float, default=480, help="seconds a dashboard may take to be ready")
    parser.add_argument("--max-kb", type=int, default=300, help="largest PNG kept in full colour")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO / "tests"))
    import browser_driver as lab_browser

    reason = lab_browser.missing_browser()
    if reason:
        print(f"cannot take screenshots: {reason}")
        return 1
    names = args.names or sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    unknown = [n for n in names if not (NOTEBOOKS / f"{n}.ipynb").is_file()]
    if unknown:
        print(f"no such dashboard: {', '.join(unknown)}")
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="aelab-screenshots-"))
    env = {**os.environ, "AELAB_LAB_SCALE": "teach", "AELAB_CACHE": args.cache or str(work / "cache")}
    port = lab_browser.free_port()
    proc = lab_browser.start_lab(port, NOTEBOOKS, env, log_path=work / "lab.log")
    failed = 0
    try:
        lab_browser.wait_until_serving(port, proc)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=lab_browser.CHROMIUM, args=lab_browser.CHROMIUM_ARGS)
            for name in names:
                context, page = lab_browser.new_page(browser, *SIZE)
                try:
                    info = shoot(page, f"http://127.0.0.1:{port}", name, args.max_kb, args.ready_wait)
                except Exception as err:  # one dashboard's failure does not stop the others
                    failed += 1
                    print(f"{name}: FAILED ({type(err).__name__}: {str(err).splitlines()[0]})", flush=True)
                    continue
                finally:
                    context.close()
                failed += bool(info["errors"] or info["requests_outside"])
                print(f"{name}: first plot {info['first_plot_s']} s, ready {info['ready_s']} s, {info['kb']} KB, "
                      f"requests outside 127.0.0.1: {len(info['requests_outside'])}"
                      + (f", errors: {info['errors']}" if info["errors"] else ""), flush=True)
            browser.close()
    finally:
        lab_browser.stop_lab(proc)
    print(f"server log: {work / 'lab.log'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
