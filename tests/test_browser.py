"""Real-browser test: `aelab lab` on a free loopback port, every dashboard in headless Chromium.

For each dashboard: open it (wait for `domcontentloaded`, abort every request that is not to
127.0.0.1), wait for the plots and for the app's first work to finish, wait ~3 s more (an
update sent within ~1-3 s of a figure's first render can be lost), move a control, check that
a figure changed and now shows the text the new setting gives (a title, axis title or table
heading), and that no error text, failed widget, console error (e.g. "[anywidget] Failed to
initialize model.") or uncaught page error appeared. 06 also hovers over the scatter and checks
that the thumbnail shows an image. 01, 02 and 03 are served with a shipped full-tier result (made
here at smoke size into a temporary `AELAB_RESULTS`): they must open on it (the full-tier picture
first, the paper vs full tier vs your run table) without training, and "try it yourself" must
draw its run beside it; the others have none and train on opening, as before. The landing page
(`/`) must show one card per dashboard, fetch nothing from outside 127.0.0.1 and log no console
error; the landing page, Voila's file list and a dashboard must not even ask for anything outside
127.0.0.1 (every request is recorded before the driver aborts it), and the dashboard's icons must
come from the lab's own Font Awesome. Screenshots go to `artifacts/screenshots/`
(AELAB_BROWSER_SCALE=teach serves the apps at the size users see). The documentation's
screenshots, of the shipped results at teach size, are made by `docs/make_screenshots.py`.

Needs playwright-python and Chromium (`/usr/bin/chromium`, or AELAB_CHROMIUM). Without
them these tests skip, unless AELAB_REQUIRE_BROWSER=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

import browser_driver as lab_browser

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = REPO / "artifacts" / "screenshots"

# how to move one control of each dashboard: (kind, what)
ACTIONS = {
    "00-tour": ("button", "undercomplete linear (PCA)"),
    "01-denoising-filters": ("slider", ("filters shown", "5")),
    "02-joint-vs-layerwise": ("checkbox", "log scale"),
    "03-gsn-sampling": ("icon-button", "run"),
    "04-what-where": ("button", "reconstructions (Fig. 4)"),
    "05-layer-inversion": ("button", "error per layer"),
    "06-latent-space": ("button", "t-SNE"),
    "07-sweeps": ("button", "validation vs test"),
    "08-sparse-codes": ("button", "vs scikit-learn"),
    "09-semantic-hashing": ("button", "activations"),
    "10-stochastic": ("button", "2-D latent map"),
    "11-tangents": ("button", "untied CAE caveat"),
    "12-pretraining": ("button", "function space"),
}


# text a figure shows once the control above has acted (the figure really updated)
EXPECTED = {
    "00-tour": "undercomplete linear (PCA): where each point is sent",
    "01-denoising-filters": "5 hidden units per",
    "02-joint-vs-layerwise": "(log scale)",
    "03-gsn-sampling": "GSN chain samples",
    "04-what-where": "Fig. 4: reconstructions of digits shifted",
    "05-layer-inversion": "Squared L2 reconstruction error per layer",
    "06-latent-space": "t-SNE",
    "07-sweeps": "validation vs test per cell",
    "08-sparse-codes": "Ours vs scikit-learn",
    "09-semantic-hashing": "more noise, more saturation",
    "10-stochastic": "The 2-D latent space of a VAE",
    "11-tangents": "untied weights let the contraction penalty vanish",
    "12-pretraining": "Trajectories in function space",
}


# text a figure no longer shows once the control above has acted
GONE = {"03-gsn-sampling": "press run to train it"}

# dashboards served with a shipped full-tier result: experiment, the "try it yourself" button, and
# whether the paper has cells for the smoke-size result (the table then says "not run yet")
SHIPPED = {"01-denoising-filters": ("vincent-filters", "train", True),
           "02-joint-vs-layerwise": ("zhou-curves", "train both", True),
           "03-gsn-sampling": ("zhou-parzen", "run", False)}
READY = "/done in|from cache|failed|stopped|Could not finish|shipped (full|teach) tier/"


def test_every_dashboard_has_a_browser_check():
    assert sorted(ACTIONS) == sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


def move_control(page, kind: str, what) -> None:
    """`browser_driver.move_control`, plus "icon-button": a button whose name has an icon before its label."""
    if kind == "icon-button":
        page.get_by_role("button", name=re.compile(rf"^\W*{re.escape(what)}\W*$")).first.click()
    else:
        lab_browser.move_control(page, kind, what)


def wait_ready(page, timeout_ms: int = 180_000) -> None:
    """Until the app's first work is done, or it says it shows the shipped full tier (no work)."""
    page.wait_for_function(f"() => {READY}.test(document.body.innerText)", timeout=timeout_ms)


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    reason = lab_browser.missing_browser()
    if reason is not None:
        if os.environ.get("AELAB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required here (AELAB_REQUIRE_BROWSER=1) but {reason}")
        pytest.skip(f"browser tests skipped: {reason}. Install both to run them; set AELAB_REQUIRE_BROWSER=1 "
                    f"to make a missing browser an error.")
    from aelab.experiments.runner import reproduce

    tmp = tmp_path_factory.mktemp("lab")
    for experiment, _, _ in SHIPPED.values():  # the shipped results 01-03 open on, at smoke size
        reproduce(experiment, scale="smoke", out=tmp / "results" / "full")
    env = {**os.environ, "AELAB_LAB_SCALE": os.environ.get("AELAB_BROWSER_SCALE", "smoke"),
           "AELAB_CACHE": str(tmp / "cache"), "AELAB_RESULTS": str(tmp / "results")}
    port = lab_browser.free_port()
    proc = lab_browser.start_lab(port, NOTEBOOKS, env, log_path=tmp / "lab.log")
    try:
        lab_browser.wait_until_serving(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        lab_browser.stop_lab(proc)


@pytest.fixture(scope="module")
def chromium(lab_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=lab_browser.CHROMIUM, args=lab_browser.CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.mark.parametrize("name", list(ACTIONS))
def test_dashboard_renders_reacts_and_shows_no_error(name, lab_server, chromium):
    context, page = lab_browser.new_page(chromium, 1280, 800)
    try:
        first_plot = lab_browser.open_dashboard(page, f"{lab_server}/voila/render/{name}.ipynb")
        wait_ready(page)
        time.sleep(3)  # updates in the first seconds after render may be lost: do not act earlier
        assert lab_browser.page_errors(page) == []
        assert lab_browser.console_errors(page) == []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}-opened.png"), full_page=True)
        before = lab_browser.plot_signature(page)
        move_control(page, *ACTIONS[name])
        assert lab_browser.wait_for_change(page, before) is not None, f"{name}: no figure changed"
        if name in EXPECTED:
            assert lab_browser.wait_for_text(page, EXPECTED[name]), \
                f"{name}: the figure never said {EXPECTED[name]!r}: {lab_browser.figure_text(page)[:300]}"
        if name in GONE:
            assert wait_gone(page, GONE[name]), f"{name}: the figure still says {GONE[name]!r}"
        wait_ready(page)
        time.sleep(1)
        if name == "06-latent-space":
            assert lab_browser.hover_thumbnail(page).startswith("image #"), "06: hovering showed no thumbnail"
        assert lab_browser.page_errors(page) == []
        assert lab_browser.console_errors(page) == []
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        print(f"{name}: first plot after {first_plot:.1f} s")
    finally:
        context.close()


def wait_gone(page, text: str, timeout: float = 120) -> bool:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if text not in lab_browser.figure_text(page):
            return True
        time.sleep(0.1)
    return False


def visible_text(page, selector: str) -> str:
    return page.evaluate(f"() => Array.from(document.querySelectorAll({selector!r})).map(e => e.innerText).join(' | ')")


@pytest.mark.parametrize("name", list(SHIPPED))
def test_dashboard_opens_on_the_shipped_full_tier_and_draws_your_run_beside_it(name, lab_server, chromium):
    experiment, button, paper_cells = SHIPPED[name]
    context, page = lab_browser.new_page(chromium, 1280, 800)
    try:
        first_plot = lab_browser.open_dashboard(page, f"{lab_server}/voila/render/{name}.ipynb")
        # the first plot on the page is the full tier's, in the left column, drawn without training
        assert page.evaluate("() => !!document.querySelector('.js-plotly-plot').closest('.aelab-full-column')")
        page.wait_for_selector(".aelab-full-column .js-plotly-plot .main-svg:visible", state="visible")
        page.wait_for_selector(".aelab-tier-table", state="visible")
        wait_ready(page)
        text = page.evaluate("() => document.body.innerText")
        # nothing trains on opening: the status says so, or a run of these settings cached before is shown
        # beside it (the generic test above may have trained 03's)
        cached = "from cache" in text
        assert cached or "shipped full tier" in text
        assert "Full tier" in visible_text(page, ".aelab-full-caption")
        head = visible_text(page, ".aelab-tier-table thead")
        assert all(h in head for h in ("paper", "full tier", "your run", "direction agrees")), head
        body = visible_text(page, ".aelab-tier-table tbody")
        assert ("not run yet" in body) == (paper_cells and not cached), body
        assert paper_cells or "no number" in body, body
        assert ("not run yet" in visible_text(page, ".aelab-run-caption")) == (not cached)
        assert "_" not in body  # human labels, no internal metric names
        assert lab_browser.page_errors(page) == [] and lab_browser.console_errors(page) == []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}-shipped.png"), full_page=True)
        time.sleep(3)  # updates in the first seconds after render may be lost: do not act earlier
        # try it yourself: train at the lab's size; the run appears in the right-hand column
        before = page.evaluate("() => document.querySelector('.aelab-run-column').innerHTML")
        move_control(page, "icon-button", button)
        lab_browser.wait_for_work(page)
        started = time.perf_counter()
        while time.perf_counter() - started < 60 and "not run yet" in visible_text(page, ".aelab-run-caption"):
            time.sleep(0.1)
        assert "not run yet" not in visible_text(page, ".aelab-run-caption")
        assert "not run yet" not in visible_text(page, ".aelab-tier-table tbody")
        if not cached:  # the run column changed from "not run yet" to your run
            assert page.evaluate("() => document.querySelector('.aelab-run-column').innerHTML") != before
        page.wait_for_selector(".aelab-run-column .js-plotly-plot .main-svg:visible", state="visible")
        time.sleep(1)
        assert lab_browser.page_errors(page) == [] and lab_browser.console_errors(page) == []
        page.screenshot(path=str(ARTIFACTS / f"{name}-shipped-and-run.png"), full_page=True)
        print(f"{name}: first plot (full tier) after {first_plot:.1f} s")
    finally:
        context.close()


def test_landing_page_has_a_card_per_dashboard_and_works_offline(lab_server, chromium):
    context, page = lab_browser.new_page(chromium, 1280, 800)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.goto(f"{lab_server}/", wait_until="load", timeout=60_000)  # "load": nothing left hanging
        cards = page.evaluate("""() => Array.from(document.querySelectorAll('a.aelab-card')).map(a => ({
            name: a.dataset.dashboard, href: a.getAttribute('href'), title: a.querySelector('h2').innerText,
            line: a.querySelector('p').innerText,
            img: a.querySelector('img') ? [a.querySelector('img').complete, a.querySelector('img').naturalWidth] : null,
            visible: a.getBoundingClientRect().height > 100}))""")
        names = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
        assert [c["name"] for c in cards] == names
        for c in cards:
            assert c["href"].endswith(f"voila/render/{c['name']}.ipynb") and c["visible"]
            assert len(c["title"]) > 5 and len(c["line"]) > 20 and "#" not in c["title"]
            picture = NOTEBOOKS / "thumbnails" / f"{c['name']}.png"
            if picture.exists():  # a card without a picture shows its number instead
                assert c["img"] is not None and c["img"][0] and c["img"][1] > 100, c
        assert sum(c["img"] is not None for c in cards) >= 10
        assert [u for u in requests if not u.startswith("http://127.0.0.1")] == []  # no CDN, nothing outside
        assert lab_browser.console_errors(page) == []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "landing.png"), full_page=True)
        page.locator("a.aelab-card[data-dashboard='01-denoising-filters']").click()
        page.wait_for_url("**/voila/render/01-denoising-filters.ipynb", wait_until="domcontentloaded")
        page.wait_for_selector(".js-plotly-plot .main-svg:visible", state="visible", timeout=180_000)
    finally:
        context.close()


OFFLINE_PAGES = ("/", "/voila/tree", "/voila/render/00-tour.ipynb")


def outside(urls: list[str]) -> list[str]:
    """The URLs that leave 127.0.0.1 (data: and blob: URLs are the page's own)."""
    return [u for u in urls if not u.startswith(("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:"))]


@pytest.mark.parametrize("path", OFFLINE_PAGES)
def test_pages_request_nothing_outside_the_lab(path, lab_server, chromium):
    context, page = lab_browser.new_page(chromium, 1280, 800)
    requests, sockets = [], []
    page.on("request", lambda request: requests.append(request.url))  # recorded before it is aborted
    page.on("websocket", lambda socket: sockets.append(socket.url))
    try:
        if path.startswith("/voila/render/"):
            lab_browser.open_dashboard(page, lab_server + path)
            wait_ready(page)
            # the buttons' icons: Font Awesome 5 as Voila's own styles carry it, its font served by the lab
            fonts = page.evaluate("() => document.fonts.ready.then(() => Array.from(document.fonts)"
                                  ".filter(f => f.family.includes('Font Awesome') && f.status === 'loaded')"
                                  ".map(f => f.family + ' ' + f.weight))")
            assert "Font Awesome 5 Free 900" in fonts, fonts
            icon = page.evaluate("() => { const i = document.querySelector('.widget-button i.fa'); return i ? "
                                 "[getComputedStyle(i, '::before').fontFamily, i.getBoundingClientRect().width] : null; }")
            assert icon is not None and "Font Awesome" in icon[0] and icon[1] > 4, icon
            assert any("/voila/templates/" in u and u.split("?")[0].endswith((".woff2", ".woff", ".ttf"))
                       for u in requests), "the icon font did not come from the lab"
            assert sockets and outside(sockets) == []  # the kernel's websocket stays on the loopback too
        else:
            page.goto(lab_server + path, wait_until="load", timeout=60_000)
        time.sleep(1)  # anything the page asks for late (fonts, images) is recorded too
        assert requests and outside(requests) == [], outside(requests)
        assert lab_browser.console_errors(page) == []
    finally:
        context.close()


def test_landing_page_keeps_the_host_check(lab_server):
    import urllib.error
    import urllib.request

    for path in ("/", "/aelab/thumbnails/01-denoising-filters.png"):
        request = urllib.request.Request(lab_server + path, headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 403
    with urllib.request.urlopen(lab_server + "/aelab/thumbnails/01-denoising-filters.png", timeout=30) as ok:
        assert ok.status == 200 and ok.headers["Content-Type"] == "image/png"


def test_a_link_opens_01_on_its_settings_and_reset_restores_the_defaults(lab_server, chromium):
    context, page = lab_browser.new_page(chromium, 1280, 800)
    try:
        lab_browser.open_dashboard(page, f"{lab_server}/voila/render/01-denoising-filters.ipynb?shown=5&size=60")
        wait_ready(page)
        # the address's settings are applied on opening: both grids show 5 filters a level
        assert lab_browser.wait_for_text(page, "5 hidden units per", timeout=60), lab_browser.figure_text(page)[:300]
        assert "16 hidden units per" not in lab_browser.figure_text(page)
        link = page.locator(".aelab-state-href").first
        assert link.get_attribute("href") == "?shown=5&size=60"
        assert page.locator(".aelab-copy-link").first.is_visible()
        time.sleep(3)  # updates in the first seconds after render may be lost: do not act earlier
        move_control(page, "icon-button", "reset")
        assert lab_browser.wait_for_text(page, "16 hidden units per", timeout=60), lab_browser.figure_text(page)[:300]
        started = time.perf_counter()
        while time.perf_counter() - started < 20 and link.get_attribute("href") != "?":
            time.sleep(0.1)
        assert link.get_attribute("href") == "?"
        assert lab_browser.page_errors(page) == [] and lab_browser.console_errors(page) == []
    finally:
        context.close()
