"""A dashboard's settings in the page address: open a link on those settings, copy it, reset.

`UrlState(controls)` watches some of an app's controls (name -> widget). Its bar shows a link
to the page with the settings that differ from the defaults in the query string
(`?hidden=500&levels=0,0.5`), a "copy link" button and a "reset" button that puts every
control back to its default. `apply(params)` sets the controls from a query; values a
control cannot take are skipped and listed in the bar, never raised.

Where the query comes from (`page_query`): Voila starts a kernel for a page with the page's
query string in its environment (`QUERY_STRING`); a preheated kernel ran the notebook before
any page asked for it, so the query is fetched in a background thread once the page's request
arrives (`voila.utils.wait_for_request`) and applied then. Outside Voila (JupyterLab,
nbclient) there is no query and nothing happens.
"""

from __future__ import annotations

import html
import json
import threading
import urllib.parse
from typing import Any, Callable

import ipywidgets as W

from aelab import settings


def parse_query(query: str) -> dict[str, str]:
    """'a=1&b=x,y' -> {'a': '1', 'b': 'x,y'} (the last of repeated keys)."""
    return dict(urllib.parse.parse_qsl(query or "", keep_blank_values=False))


def page_query(on_query: Callable[[dict[str, str]], None]) -> None:
    """Call `on_query(params)` with the page's query string (see the module docstring)."""
    if settings.voila_preheated():
        def wait() -> None:
            from voila.utils import wait_for_request

            wait_for_request()
            on_query(parse_query(settings.voila_query()))

        threading.Thread(target=wait, daemon=True, name="aelab-url-state").start()
    elif settings.under_voila():
        on_query(parse_query(settings.voila_query()))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return ",".join(_text(v) for v in value)
    return str(value)


def _parse(widget: W.ValueWidget, text: str) -> Any:
    """`text` as a value `widget` can take (ValueError if it cannot)."""
    current = widget.value
    if isinstance(current, bool):
        if text.lower() not in ("1", "0", "true", "false"):
            raise ValueError(text)
        return text.lower() in ("1", "true")
    if isinstance(current, (tuple, list)):
        items = [s for s in text.split(",") if s]
        options = [o[1] if isinstance(o, tuple) else o for o in getattr(widget, "options", ())]
        kind = type(options[0]) if options else str
        value = tuple(kind(s) for s in items)
        if options and not all(v in options for v in value):
            raise ValueError(text)
        return value
    value = type(current)(text) if isinstance(current, (int, float)) else text
    if isinstance(value, (int, float)) and hasattr(widget, "min") and not widget.min <= value <= widget.max:
        raise ValueError(text)
    options = [o[1] if isinstance(o, tuple) else o for o in getattr(widget, "options", ())]
    if options and value not in options:
        raise ValueError(text)
    return value


class UrlState:
    """Controls <-> the page's query string, with copy-link and reset-to-defaults (`widget`)."""

    def __init__(self, controls: dict[str, W.ValueWidget]):
        self.controls = dict(controls)
        self.defaults = {name: widget.value for name, widget in self.controls.items()}
        self.reset_button = W.Button(description="reset", icon="undo", layout=W.Layout(width="100px"),
                                     tooltip="put every setting back to the dashboard's defaults")
        self.link = W.HTML()
        self.link.add_class("aelab-state-link")
        self.reset_button.on_click(lambda _: self.reset())
        for widget in self.controls.values():
            widget.observe(lambda _: self._show(), names="value")
        self.skipped: list[str] = []
        self._show()
        self.widget = W.HBox([self.reset_button, self.link], layout=W.Layout(align_items="center"))

    def query(self) -> str:
        """The settings that differ from the defaults, as a query string."""
        return urllib.parse.urlencode({name: _text(widget.value) for name, widget in self.controls.items()
                                       if widget.value != self.defaults[name]}, safe=",")

    def apply(self, params: dict[str, str]) -> None:
        """Set the controls named in `params`; a value a control cannot take is skipped (and listed)."""
        self.skipped = []
        for name, text in params.items():
            if name not in self.controls:
                continue
            try:
                self.controls[name].value = _parse(self.controls[name], text)
            except (ValueError, TypeError):
                self.skipped.append(f"{name}={text}")
        self._show()

    def reset(self) -> None:
        self.skipped = []
        for name, widget in self.controls.items():
            widget.value = self.defaults[name]
        self._show()

    def _show(self) -> None:
        query = self.query()
        href = "?" + query if query else "?"
        copy = ("(function(b){var u=new URL(b.dataset.href,window.location.href).href;"
                "var done=function(){b.textContent='copied';setTimeout(function(){b.textContent='copy link';},1500);};"
                "if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(u).then(done,"
                "function(){window.prompt('copy this link',u);});}else{window.prompt('copy this link',u);}})(this)")
        skipped = (f" <span style='color:#8a5300'>(ignored from the address: {html.escape(', '.join(self.skipped))})"
                   f"</span>") if self.skipped else ""
        self.link.value = (f"<a class='aelab-state-href' href='{html.escape(href)}' target='_self' "
                           f"title='this page with these settings'>link to these settings</a> "
                           f"<button class='aelab-copy-link' data-href='{html.escape(href)}' "
                           f"onclick={json.dumps(copy)}>copy link</button>"
                           f"<code style='margin-left:8px;color:#555'>{html.escape(query) or 'defaults'}</code>"
                           f"{skipped}")
