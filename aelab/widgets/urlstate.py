"""A dashboard's settings in the page address: open a link on those settings, copy it, reset.

`UrlState(controls, on_change)` watches some of an app's controls (name -> widget). Its bar
shows a link to the page with the settings that differ from the defaults in the query string
(`?hidden=500&levels=0,0.5`), a "copy link" button and a "reset" button that puts every
control back to its default. `apply(params)` sets the controls from a query; values a
control cannot take are skipped and listed in the bar, never raised. A choice whose values
are not plain text or numbers (02's "show": tuples of splits) is written by its label.

While `apply` or `reset` sets the controls, `applying` is True: an app whose controls retrain
or redraw on every change lets its observers wait, and `on_change(names)` then acts once for
all the changed controls.

Where the query comes from (`page_query`): Voila starts a kernel for a page with the page's
query string in its environment (`QUERY_STRING`); a preheated kernel ran the notebook before
any page asked for it, so the query is fetched in a background thread once the page's request
arrives (`voila.utils.wait_for_request`) and applied then. Outside Voila (JupyterLab,
nbclient) there is no query and nothing happens. `UrlState.from_page(on_late)` does this for
an app: called before the app's first work, the query's settings are in place when it starts;
in a preheated kernel they arrive after it, so `on_late()` redoes the opening work for them
(`on_change` is for a reset or an explicit `apply`).
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


def _choices(widget: W.ValueWidget) -> list[tuple[str, Any]]:
    """(label, value) of each option of a selection widget ([] for other widgets)."""
    return [(str(o[0]), o[1]) if isinstance(o, tuple) and len(o) == 2 else (str(o), o)
            for o in getattr(widget, "options", ())]


def _by_label(widget: W.ValueWidget) -> bool:
    """A single choice whose values are not plain text or numbers: written and read by its labels."""
    return not isinstance(widget, W.SelectMultiple) and any(not isinstance(value, (str, int, float))
                                                            for _, value in _choices(widget))


def _widget_text(widget: W.ValueWidget) -> str:
    if _by_label(widget):
        return next(label for label, value in _choices(widget) if value == widget.value)
    return _text(widget.value)


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
    if _by_label(widget):
        values = [value for label, value in _choices(widget) if label == text]
        if not values:
            raise ValueError(text)
        return values[0]
    current = widget.value
    if isinstance(current, bool):
        if text.lower() not in ("1", "0", "true", "false"):
            raise ValueError(text)
        return text.lower() in ("1", "true")
    if isinstance(current, (tuple, list)):
        items = [s for s in text.split(",") if s]
        options = [v for _, v in _choices(widget)]
        kind = type(options[0]) if options else str
        value = tuple(kind(s) for s in items)
        if options and not all(v in options for v in value):
            raise ValueError(text)
        return value
    value = type(current)(text) if isinstance(current, (int, float)) else text
    if isinstance(value, (int, float)) and hasattr(widget, "min"):
        low, high = ((widget.base ** widget.min, widget.base ** widget.max) if isinstance(widget, W.FloatLogSlider)
                     else (widget.min, widget.max))  # a log slider's min and max are exponents
        if not low <= value <= high:
            raise ValueError(text)
    options = [v for _, v in _choices(widget)]
    if options and value not in options:
        raise ValueError(text)
    return value


class UrlState:
    """Controls <-> the page's query string, with copy-link and reset-to-defaults (`widget`).

    `on_change(names)`: called once after `apply` or `reset` changed the controls `names`."""

    def __init__(self, controls: dict[str, W.ValueWidget],
                 on_change: Callable[[set[str]], None] | None = None):
        self.controls = dict(controls)
        self.defaults = {name: widget.value for name, widget in self.controls.items()}
        self.on_change = on_change
        self.applying = False  # True while apply/reset set the controls
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
        return urllib.parse.urlencode({name: _widget_text(widget) for name, widget in self.controls.items()
                                       if widget.value != self.defaults[name]}, safe=",")

    def values(self) -> dict[str, Any]:
        return {name: widget.value for name, widget in self.controls.items()}

    def apply(self, params: dict[str, str], *, notify: bool = True) -> set[str]:
        """Set the controls named in `params`; a value a control cannot take is skipped (and listed).
        Returns the names of the controls that changed (`on_change` hears of them when `notify`)."""
        self.skipped = []
        values = {}
        for name, text in params.items():
            if name not in self.controls:
                continue
            try:
                values[name] = _parse(self.controls[name], text)
            except (ValueError, TypeError):
                self.skipped.append(f"{name}={text}")
        return self._set(values, notify)

    def reset(self) -> set[str]:
        self.skipped = []
        return self._set(self.defaults, notify=True)

    def from_page(self, on_late: Callable[[], None] | None = None) -> None:
        """Apply the page's query (see the module docstring). Call it before the app's first work,
        which then uses these settings; in a preheated kernel they arrive later, and `on_late()`
        (if they changed anything) redoes the opening work for them."""
        late = settings.voila_preheated()

        def opened(params: dict[str, str]) -> None:  # the opening work, not `on_change`, acts on them
            if self.apply(params, notify=False) and late and on_late is not None:
                on_late()

        page_query(opened)

    def _set(self, values: dict[str, Any], notify: bool) -> set[str]:
        from traitlets import TraitError

        changed = set()
        self.applying = True
        try:
            for name, value in values.items():
                if self.controls[name].value == value:
                    continue
                try:
                    self.controls[name].value = value
                    changed.add(name)
                except TraitError:
                    self.skipped.append(f"{name}={_text(value)}")
        finally:
            self.applying = False
        self._show()
        if changed and notify and self.on_change is not None:
            self.on_change(changed)
        return changed

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
                           f"title='copy the address of this page with these settings' "
                           f"onclick={json.dumps(copy)}>copy link</button>"
                           f"<code style='margin-left:8px;color:#555'>{html.escape(query) or 'defaults'}</code>"
                           f"{skipped}")
