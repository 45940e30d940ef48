"""Test driver: run `aelab lab` and drive it from a headless browser (start/stop the server,
open a dashboard, read its plots). Not part of the package.

Shared by the browser test (`tests/test_browser.py`) and the timing benchmark
(`benchmarks/lab_timings.py`, which puts `tests/` on sys.path). `AELAB_CHROMIUM` (a test
setting, read here only) names the Chromium binary. Follows what serving these dashboards offline showed
(REFERENCES.md, "Dashboards in Voila"): pages are awaited at `domcontentloaded` and every
request not to 127.0.0.1 is aborted (the lab template's CDN stylesheet would hang the
"load" event); the server runs in its own process group so it and its kernels stop together.
Needs playwright-python and a Chromium (Debian's `/usr/bin/chromium` by default).
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = os.environ.get("AELAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ERROR_TEXTS = ("Could not finish", "There was an error", "Traceback", "Error displaying widget",
               "Failed to load model", "Kernel error")
DONE_PATTERN = "/done in|from cache|failed|stopped|Could not finish/"


def missing_browser() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright-python is not installed (pip install playwright)"
    if not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set AELAB_CHROMIUM)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(port: int, notebooks: Path, env: dict[str, str], *, preheat: int = 0,
              log_path: Path | None = None) -> subprocess.Popen:
    """`aelab lab` in its own process group (so the server and its kernels can be killed together).
    The kernel cap is raised: one test run opens every dashboard, and closed pages' kernels live on
    until culled."""
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", "aelab.cli", "lab", "--port", str(port), "--no-browser",
                             "--notebooks", str(notebooks), "--preheat", str(preheat), "--timeout", "180",
                             "--cull-idle", "300", "--max-kernels", "32"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_until_serving(port: int, proc: subprocess.Popen, timeout: float = 90) -> float:
    """Seconds until the server answers on `port`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"aelab lab exited with code {proc.returncode} before serving")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"aelab lab did not answer on port {port} within {timeout} s")


def descendants(pid: int) -> list[int]:
    """`pid` and all its descendants (Linux /proc). Kernels run in their own sessions, so they are
    found by parent, not by process group; a forked kernel is the child of the lab's zygote."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def stop_lab(proc: subprocess.Popen) -> None:
    """Stop the server (Voila shuts its kernels down); kill any kernel still alive after it."""
    kernels = descendants(proc.pid)[1:]
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)
    for pid in kernels:
        try:
            if is_kernel(pid):  # still our kernel
                os.kill(pid, signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


def is_kernel(pid: int) -> bool:
    """Whether `pid` is a kernel: an ipykernel process, or a fork of the lab's kernel zygote
    (`aelab.widgets.zygote`: its command line is the zygote's)."""
    from aelab.widgets.zygote import is_zygote_child

    try:
        return b"ipykernel" in (Path("/proc") / str(pid) / "cmdline").read_bytes() or is_zygote_child(pid)
    except OSError:
        return False


def kernel_memory_mb(proc: subprocess.Popen) -> list[float]:
    """Resident memory (MB) of each kernel the server started (Linux /proc)."""
    sizes = []
    for pid in descendants(proc.pid)[1:]:
        entry = Path("/proc") / str(pid)
        try:
            if not is_kernel(pid):
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return sizes


def only_loopback(route) -> None:
    if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1")):
        route.continue_()
    else:
        route.abort()


CONSOLE_ERRORS: dict[int, list[str]] = {}  # id(page) -> console errors and page errors seen so far


def _is_ours(message) -> bool:
    """A console error worth failing on: anything except the refusal of a request we aborted
    on purpose (every request that does not go to 127.0.0.1, see `only_loopback`)."""
    if "Failed to load resource" in message.text:
        url = (message.location or {}).get("url", "")
        return url.startswith(("http://127.0.0.1", "ws://127.0.0.1"))
    return True


def new_page(browser, width: int = 1280, height: int = 1000):
    """A page that records every console error (including "[anywidget] Failed to initialize
    model.") and every uncaught page error; read them with `console_errors(page)`."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    seen = CONSOLE_ERRORS.setdefault(id(page), [])
    page.on("console", lambda m: seen.append(f"console {m.type}: {m.text}")
            if m.type == "error" and _is_ours(m) else None)
    page.on("pageerror", lambda err: seen.append(f"page error: {err}"))
    page.route("**/*", only_loopback)
    return context, page


def console_errors(page) -> list[str]:
    return list(CONSOLE_ERRORS.get(id(page), []))


def open_dashboard(page, url: str, timeout_ms: int = 180_000) -> float:
    """Open a dashboard and wait for its first plot; return seconds to first plot."""
    started = time.perf_counter()
    page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    page.wait_for_selector(".js-plotly-plot .main-svg:visible", state="visible", timeout=timeout_ms)
    return time.perf_counter() - started


def wait_for_work(page, timeout_ms: int = 180_000) -> None:
    """Wait until the app's runner reports done / cached / failed / stopped."""
    page.wait_for_function(f"() => {DONE_PATTERN}.test(document.body.innerText)", timeout=timeout_ms)


def plot_signature(page) -> str:
    # the plots shown: a dashboard keeps the views it drew (FigureStack) and hides all but one
    html = page.evaluate("() => Array.from(document.querySelectorAll('.js-plotly-plot .main-svg, .aelab-paper-table'))"
                         ".filter(e => e.getClientRects().length > 0).map(e => e.innerHTML).join('|')")
    return hashlib.sha1(html.encode()).hexdigest()


def figure_text(page) -> str:
    """The text the page's figures show (titles, axis titles, legends, tables), one string."""
    return page.evaluate("() => Array.from(document.querySelectorAll('.aelab-figure'))"
                         ".filter(e => e.getClientRects().length > 0)"
                         ".map(e => e.innerText + ' ' + Array.from(e.querySelectorAll('svg text'))"
                         ".map(t => t.textContent).join(' ')).join(' | ')")


def wait_for_text(page, text: str, timeout: float = 120, poll: float = 0.1) -> bool:
    """True once a figure shows `text`, False on timeout."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if text in figure_text(page):
            return True
        time.sleep(poll)
    return False


def hover_thumbnail(page, tries: int = 60) -> str:
    """Move the mouse over the latent scatter until the hover thumbnail's caption names an image."""
    box = page.locator(".aelab-plot .nsewdrag:visible").first.bounding_box()
    caption = page.locator(".aelab-thumbnail:visible div").first
    for k in range(tries):
        fx, fy = 0.2 + 0.6 * ((k * 7) % 11) / 10, 0.2 + 0.6 * ((k * 3) % 13) / 12
        page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
        time.sleep(0.15)
        text = caption.inner_text()
        if text.startswith("image #"):
            return text
    return caption.inner_text()


def page_errors(page) -> list[str]:
    text = page.evaluate("() => document.body.innerText")
    found = [t for t in ERROR_TEXTS if t in text]
    failed = page.evaluate("() => document.querySelectorAll('.jupyter-widgets-error-widget, .widget-error').length")
    return found + ([f"{failed} failed widget(s)"] if failed else [])


def move_control(page, kind: str, what) -> None:
    """Click a button by its text, check a checkbox by its label, or type a slider's value."""
    if kind == "button":
        page.get_by_role("button", name=what, exact=True).first.click()
    elif kind == "checkbox":
        box = page.get_by_label(what).first
        box.uncheck() if box.is_checked() else box.check()
    elif kind == "slider":
        description, value = what
        slider = page.locator(".widget-slider", has=page.locator(f"label:text-is('{description}')")).first
        slider.locator(".widget-readout").click()
        page.keyboard.press("Control+A")
        page.keyboard.type(str(value))
        page.keyboard.press("Enter")
    else:
        raise ValueError(f"unknown control kind {kind!r}")


def wait_for_change(page, before: str, timeout: float = 120, poll: float = 0.02) -> float | None:
    """Seconds until the plots differ from signature `before`, or None on timeout."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if plot_signature(page) != before:
            return time.perf_counter() - started
        time.sleep(poll)
    return None
