"""The landing page of `aelab lab`: one card per dashboard (title, picture, one line), offline.

Voila's own home page is a bare file list whose template asks a CDN for stylesheets (offline
it logs console errors and its icons go missing). `aelab lab` serves this page at `/` instead
(the file list stays at `/voila/tree`): plain HTML with inline styles, pictures served by the
lab itself from `notebooks/thumbnails/NAME.png`, nothing fetched from elsewhere.

- `cards(folder)`: per dashboard notebook, its title (the first `# ` heading), its one line
  (`metadata.aelab.summary`, else the first sentence of the introduction) and its picture;
- `landing_html(cards)`: the page (pure: data in, HTML out);
- `LabVoila`: standalone Voila with the landing page and the pictures added in front of its
  handlers. Both handlers are jupyter_server handlers, so the lab's Host check applies to them.
  Its other pages (dashboards, `/voila/tree`, errors) are rendered without Voila's CDN links
  (`aelab.widgets.offline`).

Only the Voila process imports this module (it imports jupyter_server and voila).
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

THUMBNAILS = "thumbnails"  # notebooks/thumbnails/NAME.png: the card pictures
PICTURE_URL = "aelab/thumbnails/"


def _first_sentence(text: str) -> str:
    text = re.sub(r"[*_`]", "", " ".join(text.split()))
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return match[1] if match else text


def card(path: Path) -> dict[str, Any]:
    """Title, one line and picture of the dashboard notebook `path`."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    title, intro = path.stem, ""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        heading = next((line for line in lines if line.startswith("# ")), None)
        if heading:
            title = heading[2:].strip()
            paragraphs = [p for p in "\n".join(lines[lines.index(heading) + 1:]).split("\n\n") if p.strip()]
            intro = paragraphs[0] if paragraphs else ""
            break
    summary = nb.metadata.get("aelab", {}).get("summary") or _first_sentence(intro)
    picture = path.parent / THUMBNAILS / f"{path.stem}.png"
    return {"name": path.stem, "notebook": path.name, "title": title, "summary": summary,
            "picture": picture.name if picture.is_file() else None}


def cards(folder: Path) -> list[dict[str, Any]]:
    from aelab.widgets.lab import dashboards

    return [card(Path(folder) / name) for name in dashboards(folder)]


PAGE_CSS = """
body {font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0;
      background: #f6f7f9; color: #1d232b;}
header {padding: 20px 32px 8px 32px;}
header h1 {margin: 0 0 4px 0; font-size: 26px;}
header p {margin: 0; color: #555; max-width: 60em;}
main {display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); gap: 18px; padding: 16px 32px 32px;}
a.aelab-card {display: flex; flex-direction: column; background: white; border: 1px solid #dde1e6; border-radius: 8px;
              overflow: hidden; color: inherit; text-decoration: none; transition: box-shadow .15s;}
a.aelab-card:hover, a.aelab-card:focus {box-shadow: 0 4px 14px rgba(0,0,0,.15); border-color: #7aa7d8;}
.aelab-card .picture {height: 170px; background: #eef1f4; display: flex; align-items: center; justify-content: center;}
.aelab-card .picture img {width: 100%; height: 100%; object-fit: cover; object-position: top;}
.aelab-card .picture .number {font-size: 44px; color: #98a3ae; font-weight: 600;}
.aelab-card h2 {font-size: 17px; margin: 10px 12px 4px 12px;}
.aelab-card p {font-size: 14px; margin: 0 12px 12px 12px; color: #444; line-height: 1.35;}
footer {padding: 0 32px 24px 32px; color: #666; font-size: 14px;}
footer a {color: #1a5fb4;}
"""


def landing_html(items: list[dict[str, Any]], *, base_url: str = "/") -> str:
    """The landing page: a grid of cards, each linking to its dashboard. Self-contained (inline
    styles, pictures from the lab itself), so it works offline."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    blocks = []
    for item in items:
        name = html.escape(item["name"])
        if item.get("picture"):
            picture = (f"<img src='{base}{PICTURE_URL}{html.escape(item['picture'])}' "
                       f"alt='the {html.escape(item['title'])} dashboard' loading='eager'>")
        else:
            picture = f"<span class='number' aria-hidden='true'>{name[:2]}</span>"
        blocks.append(f"<a class='aelab-card' data-dashboard='{name}' href='{base}voila/render/"
                      f"{html.escape(item['notebook'])}'><div class='picture'>{picture}</div>"
                      f"<h2>{html.escape(item['title'])}</h2><p>{html.escape(item['summary'])}</p></a>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<title>aelab: the autoencoder lab</title>"
            f"<link rel='icon' href='data:,'><style>{PAGE_CSS}</style></head><body>"
            "<header><h1>aelab: the autoencoder lab</h1><p>Dashboards that reproduce the classic results on "
            "denoising, deep, what-where and augmented autoencoders and the lecture's map of the field. Each opens "
            "on the shipped full-tier result where the lab has one; <i>try it yourself</i> trains at the lab's "
            "size.</p></header>"
            f"<main>{''.join(blocks)}</main>"
            f"<footer>All notebooks as a plain list: <a href='{base}voila/tree'>{base}voila/tree</a></footer>"
            "</body></html>")


def _handlers(folder: Path, base_url: str) -> list:
    """The landing page at `base_url` and the pictures under `base_url/aelab/thumbnails/`."""
    from jupyter_server.base.handlers import FileFindHandler, JupyterHandler
    from jupyter_server.utils import url_path_join

    class LandingHandler(JupyterHandler):
        """The cards page (Host-checked in `prepare`, like every jupyter_server handler)."""

        def get(self):
            self.set_header("Content-Type", "text/html; charset=UTF-8")
            self.set_header("Cache-Control", "no-cache")
            self.finish(landing_html(cards(folder), base_url=self.base_url))

    return [(base_url, LandingHandler),
            (url_path_join(base_url, PICTURE_URL + "(.*)"), FileFindHandler,
             {"path": [str(Path(folder) / THUMBNAILS)]})]


PLOTLY_URL = "aelab/plotly.min.js"  # under the server's base URL: the installed plotly package's bundle


def _plotly_handler(base_url: str) -> tuple:
    """plotly.js from the installed plotly package at `base_url/PLOTLY_URL` (cacheable, with an ETag)."""
    import plotly
    from jupyter_server.base.handlers import FileFindHandler
    from jupyter_server.utils import url_path_join

    folder = Path(plotly.__file__).resolve().parent / "package_data"
    folder_url, name = PLOTLY_URL.rsplit("/", 1)
    return (url_path_join(base_url, folder_url, f"({re.escape(name)})"), FileFindHandler, {"path": [str(folder)]})


def lab_voila_class():
    """`Voila` with the landing page in front of its own handlers (tornado takes the first match), and
    pages that fetch nothing from outside the lab."""
    from voila.app import Voila

    from aelab.widgets.offline import offline_environment, offline_template_paths

    class LabVoila(Voila):
        """Also offline: the notebook page from the lab's template, every Voila page without CDN links
        (`aelab.widgets.offline`)."""

        def setup_template_dirs(self):
            super().setup_template_dirs()
            self.template_paths = offline_template_paths(self.template_paths, self.voila_configuration.template)

        def init_settings(self):
            settings = super().init_settings()
            for key in ("voila_jinja2_env", "jinja2_env"):
                offline_environment(settings.get(key))
            return settings

        def init_handlers(self):
            from jupyter_server.utils import url_path_join

            from aelab import settings as aelab_settings

            handlers = [_plotly_handler(self.server_url), *super().init_handlers()]
            aelab_settings.set_lab_plotly_url(url_path_join(self.server_url, PLOTLY_URL))  # for the kernels
            if self.notebook_path:  # one notebook served: no landing page
                return handlers
            return _handlers(Path(self.root_dir), self.server_url) + handlers

    return LabVoila
