"""`aelab lab` fetches nothing from outside 127.0.0.1: Voila's templates without their CDN links.

What Voila 0.5's own templates ask the internet for, and what the lab does instead:
- the notebook page (`lab/index.html.j2`) links Font Awesome 5 (`all.min.css`, `v4-shims.min.css`)
  from cdn.jsdelivr.net, although `voila-style.js`, included by the same block, already carries
  Font Awesome 5 with its fonts served by the lab (`/voila/templates/lab/static/*.woff2`, ...).
  `TEMPLATE_DIR/index.html.j2` extends Voila's page and drops the remote links (and the mermaid.js
  loader, which would import from a CDN; no dashboard draws a mermaid diagram). The lab puts
  `TEMPLATE_DIR` first in Voila's template paths, so the page, preheated or not, is rendered from it.
- the file list (`/voila/tree`), error and 404 pages (`base/page.html`) link Font Awesome 4.5 from
  the same CDN: the lab's Jinja environments load every template through `OfflineLoader`, which
  removes `<link>` and `<script src>` tags naming a remote address from the template's source.
  The icons of those pages come from the same locally served Font Awesome where the page includes
  Voila's styles, and are missing otherwise (a folder icon; nothing else depends on them).

Plotly.js comes from the installed plotly package (`widgets.base.StaticFigure`), the landing page
is self-contained (`widgets.landing`). `tests/test_browser.py` records every request of the landing
page and of a dashboard and fails on any that leaves 127.0.0.1.
Only the Voila process imports this module (it imports jinja2).
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2

TEMPLATE_DIR = Path(__file__).resolve().parent / "voila_template"

# a tag that makes the browser fetch from another host: <link href="https://..."> (or "//host"),
# <script src="https://..."></script>
REMOTE_TAG = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>"
                        r"|<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script\s*>",
                        re.IGNORECASE)


def strip_remote(source: str) -> str:
    """`source` without the tags that fetch a stylesheet or script from another host."""
    return REMOTE_TAG.sub("", source)


class OfflineLoader(jinja2.BaseLoader):
    """A Jinja loader that serves `inner`'s templates with `strip_remote` applied to their source."""

    def __init__(self, inner: jinja2.BaseLoader):
        self.inner = inner

    def get_source(self, environment, template):
        source, filename, uptodate = self.inner.get_source(environment, template)
        return strip_remote(source), filename, uptodate

    def list_templates(self):
        return self.inner.list_templates()


def offline_environment(env: jinja2.Environment) -> jinja2.Environment:
    """`env`, its loader wrapped in `OfflineLoader` (once) and its template cache cleared."""
    if env is not None and env.loader is not None and not isinstance(env.loader, OfflineLoader):
        env.loader = OfflineLoader(env.loader)
        if env.cache is not None:
            env.cache.clear()
    return env


def offline_template_paths(paths: list[str], template: str) -> list[str]:
    """Voila's template paths with the lab's page first, for Voila's "lab" template (others as they are)."""
    if template != "lab" or str(TEMPLATE_DIR) in paths:
        return list(paths)
    return [str(TEMPLATE_DIR), *paths]
