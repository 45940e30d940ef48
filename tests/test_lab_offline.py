"""`aelab lab`'s pages ask nothing of the internet (`aelab.widgets.offline`), checked without a browser.

The notebook page is rendered here with Voila's own exporter (no kernel: the cell generator only
yields the notebook's cells) from Voila's "lab" template paths with the lab's template first, as
`LabVoila` serves it; the file list and error pages come through `OfflineLoader`. The browser test
(`tests/test_browser.py::test_pages_request_nothing_outside_the_lab`) records the real requests.
"""

from __future__ import annotations

import asyncio
import re


import voila  # noqa: F401  (a dependency of the package: its absence is a failure, not a skip)

# a tag or script that makes the browser fetch from another host (XML namespaces in the spinner's SVG do not)
REMOTE = re.compile(r"""(?:href|src)\s*=\s*["']?(?:https?:)?//|import\(\s*["']https?:|url\s*=\s*["']https?:""")


def render_page(template_paths: list[str]) -> str:
    """The notebook page of a one-cell notebook, as Voila's exporter streams it."""
    import nbformat
    from voila.exporter import VoilaExporter

    exporter = VoilaExporter(template_paths=template_paths, template_name="lab", base_url="/", theme="light")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A dashboard on the loopback")])

    async def kernel_start(nb):
        return "kernel-id"

    async def cells(nb, kernel_id):
        for cell in nb.cells:
            yield cell

    async def stream() -> str:
        parts = []
        async for html, _ in exporter.generate_from_notebook_node(
                nb, resources={"base_url": "/", "theme": "light", "template": "lab", "metadata": {"name": "nb"}},
                extra_context={"frontend": "voila", "main_js": "voila.js", "kernel_start": kernel_start,
                               "cell_generator": cells, "progressive_rendering": False}, page_config={}):
            parts.append(html)
        return "".join(parts)

    return asyncio.run(stream())


def voila_lab_paths() -> list[str]:
    from voila.paths import collect_template_paths

    return collect_template_paths(["voila", "nbconvert"], "lab", prune=True)


def test_the_notebook_page_links_nothing_remote_and_keeps_voilas_page():
    from aelab.widgets.offline import TEMPLATE_DIR, offline_template_paths

    voila = voila_lab_paths()
    paths = offline_template_paths(voila, "lab")
    assert paths[0] == str(TEMPLATE_DIR) and paths[1:] == voila
    assert offline_template_paths(paths, "lab") == paths  # once
    assert offline_template_paths(voila, "reveal") == voila  # another template is left as it is
    ours = render_page(paths)
    assert REMOTE.findall(ours) == [], re.findall(r".{60}(?:https?:)?//.{60}", ours)
    # the rest of Voila's page is there: its styles (which carry Font Awesome with local fonts), the
    # spinner, the cell, the kernel id and the widget manager's start
    assert "voila-style.js" in ours and "voila-spinner" in ours and "A dashboard on the loopback" in ours
    assert '"kernelId": "kernel-id"' in ours and "voila_finish" in ours
    # what the lab's template removes: Voila's own page asks a CDN for Font Awesome and mermaid.js
    theirs = render_page(voila)
    assert REMOTE.findall(theirs), "Voila's page no longer links anything remote: the lab's template may go"
    assert len(ours) < len(theirs)


def test_the_loader_strips_remote_links_from_every_voila_page():
    import jinja2

    from aelab.widgets.offline import OfflineLoader, offline_environment, strip_remote

    source = ('<head>\n<link rel="stylesheet" href="https://cdn.example/x.css" type="text/css" />\n'
              "<link rel='stylesheet' href='//cdn.example/y.css'>\n<script src=\"https://cdn.example/z.js\"></script>\n"
              '<link rel="stylesheet" href="{{ base_url }}static/ours.css">\n<script src="/static/ours.js"></script>\n'
              '<svg xmlns="http://www.w3.org/2000/svg"></svg></head>')
    kept = strip_remote(source)
    assert "cdn.example" not in kept
    assert "static/ours.css" in kept and "/static/ours.js" in kept and "http://www.w3.org/2000/svg" in kept
    # Voila's file list, error and 404 pages (base/page.html links Font Awesome 4.5 from a CDN)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(voila_lab_paths()), extensions=["jinja2.ext.i18n"])
    env.install_null_translations()
    page = env.loader.get_source(env, "voila/templates/base/page.html")[0]
    assert REMOTE.search(page), "Voila's base/page.html no longer links anything remote: OfflineLoader may go"
    offline_environment(env)
    offline_environment(env)  # wrapped once
    assert isinstance(env.loader, OfflineLoader) and not isinstance(env.loader.inner, OfflineLoader)
    for name in ("voila/templates/base/page.html", "page.html", "tree-lab.html", "error.html", "404.html"):
        source = env.loader.get_source(env, name)[0]
        assert not REMOTE.search(source), name
    html = env.get_template("error.html").render(status_code=503, status_message="too many kernels",
                                                 message="", exception=None, base_url="/", include_css=None)
    assert "503" in html and not REMOTE.search(html)
