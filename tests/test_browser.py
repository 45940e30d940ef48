"""Real-browser test: `aelab lab` on a free loopback port, every dashboard in headless Chromium.

For each dashboard: open it (wait for `domcontentloaded`, abort every request that is not to
127.0.0.1), wait for the plots and for the app's first work to finish, wait ~3 s more (an
update sent within ~1-3 s of a figure's first render can be lost), move a control, check that
a figure changed and now shows the text the new setting gives (a title, axis title or table
heading), and that no error text, failed widget, console error (e.g. "[anywidget] Failed to
initialize model.") or uncaught page error appeared. 06 also hovers over the scatter and checks
that the thumbnail shows an image. Screenshots go to
`artifacts/screenshots/` (and, with AELAB_SAVE_SCREENSHOTS=1, to `docs/screenshots/`;
AELAB_BROWSER_SCALE=teach serves the apps at the size users see, for those screenshots).

Needs playwright-python and Chromium (`/usr/bin/chromium`, or AELAB_CHROMIUM). Without
them these tests skip, unless AELAB_REQUIRE_BROWSER=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

import browser_driver as lab_browser

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = REPO / "artifacts" / "screenshots"
DOCS = REPO / "docs" / "screenshots"

# how to move one control of each dashboard: (kind, what)
ACTIONS = {
    "00-tour": ("button", "undercomplete linear (PCA)"),
    "01-denoising-filters": ("slider", ("filters shown", "5")),
    "02-joint-vs-layerwise": ("checkbox", "log scale"),
    "03-gsn-sampling": ("button", "paper vs this run"),
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
    "01-denoising-filters": "5 hidden units per training noise level",
    "02-joint-vs-layerwise": "(log scale)",
    "03-gsn-sampling": "direction agrees",
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


def test_every_dashboard_has_a_browser_check():
    assert sorted(ACTIONS) == sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    reason = lab_browser.missing_browser()
    if reason is not None:
        if os.environ.get("AELAB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required here (AELAB_REQUIRE_BROWSER=1) but {reason}")
        pytest.skip(f"browser tests skipped: {reason}. Install both to run them; set AELAB_REQUIRE_BROWSER=1 "
                    f"to make a missing browser an error.")
    tmp = tmp_path_factory.mktemp("lab")
    env = {**os.environ, "AELAB_LAB_SCALE": os.environ.get("AELAB_BROWSER_SCALE", "smoke"),
           "AELAB_CACHE": str(tmp / "cache")}
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
        lab_browser.wait_for_work(page)
        time.sleep(3)  # updates in the first seconds after render may be lost: do not act earlier
        assert lab_browser.page_errors(page) == []
        assert lab_browser.console_errors(page) == []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}-opened.png"), full_page=True)
        before = lab_browser.plot_signature(page)
        lab_browser.move_control(page, *ACTIONS[name])
        assert lab_browser.wait_for_change(page, before) is not None, f"{name}: no figure changed"
        if name in EXPECTED:
            assert lab_browser.wait_for_text(page, EXPECTED[name]), \
                f"{name}: the figure never said {EXPECTED[name]!r}: {lab_browser.figure_text(page)[:300]}"
        lab_browser.wait_for_work(page)
        time.sleep(1)
        if name == "06-latent-space":
            assert lab_browser.hover_thumbnail(page).startswith("image #"), "06: hovering showed no thumbnail"
        assert lab_browser.page_errors(page) == []
        assert lab_browser.console_errors(page) == []
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        if os.environ.get("AELAB_SAVE_SCREENSHOTS") == "1":  # 1280 x 800, the dashboard itself in view
            page.evaluate("() => document.querySelector('.aelab-app, .widget-vbox').scrollIntoView()")
            time.sleep(0.5)
            page.screenshot(path=str(ARTIFACTS / f"{name}-1280x800.png"))
            DOCS.mkdir(parents=True, exist_ok=True)
            shutil.copy(ARTIFACTS / f"{name}-1280x800.png", DOCS / f"{name}.png")
        print(f"{name}: first plot after {first_plot:.1f} s")
    finally:
        context.close()
