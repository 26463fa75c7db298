"""The viewer inline in Jupyter: ``trace.show()`` is an anywidget showing the page's viewer.

The widget's front end is one ES module made here: static/js/widget/widget.js and the viewer's
modules it imports, as source strings. In the browser the module links them itself: each
module, dependencies first, becomes a Blob URL with its bare imports replaced by the Blob URLs
of its dependencies, and the widget module is imported from the last one. (A notebook loads a
widget's module from a Blob or data: URL, against which relative imports do not resolve, and it
cannot take an import map once the page is running.)

Editing a leaf on the graph sends ``{"type": "valueedit", node, value}`` to the kernel, which
traces again with the new value (through the same service) and sets the new trace.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import anywidget
import traitlets

from backprop_viz.export import embedded_json, inlined_modules, op_catalogue, static_text

WIDGET_ENTRY = "js/widget/widget.js"

LOADER = """// backprop-viz widget: the viewer's modules, linked in the browser (app/notebook.py).
const sources = {sources};
const order = {order};
const urls = {{}};
for (const path of order) {{
  const source = sources[path].replace(
    /(['"])backprop-viz\\/([^'"]+)\\1/g,
    (_, quote, target) => quote + urls[target] + quote,
  );
  urls[path] = URL.createObjectURL(new Blob([source], {{ type: 'text/javascript' }}));
}}
const widget = await import(urls[{entry}]);
export default widget.default;
"""


def dependency_order(modules: dict[str, str]) -> list[str]:
    """The modules' paths, each after every module it imports (they form no cycle)."""
    import re

    imports = {
        path: re.findall(r"""['"]backprop-viz/([^'"]+)['"]""", source)
        for path, source in modules.items()
    }
    order: list[str] = []
    seen: set[str] = set()

    def visit(path: str, trail: tuple[str, ...] = ()) -> None:
        if path in seen:
            return
        if path in trail:
            raise ValueError(f"import cycle: {' -> '.join(trail + (path,))}")
        for dependency in imports[path]:
            visit(dependency, trail + (path,))
        seen.add(path)
        order.append(path)

    for path in sorted(modules):
        visit(path)
    return order


@cache
def widget_esm() -> str:
    """The widget's one ES module (its default export has anywidget's ``render``)."""
    modules = inlined_modules(WIDGET_ENTRY)
    return LOADER.format(
        sources=embedded_json(modules),
        order=json.dumps(dependency_order(modules)),
        entry=json.dumps(WIDGET_ENTRY),
    )


@cache
def widget_css() -> str:
    """The page's styles without its rules for the whole page (a notebook's html and body)."""
    lines = static_text("css/app.css").splitlines()
    own = [line for line in lines if not line.startswith(("html, body {", "body {"))]
    return "\n".join(own) + "\n.bpv-widget-error { color: #b00020; margin: 4px 0; }\n"


class TraceWidget(anywidget.AnyWidget):
    """The interactive viewer of a trace in a notebook cell; an edited leaf is re-traced here."""

    _esm = traitlets.Unicode().tag(sync=True)
    _css = traitlets.Unicode().tag(sync=True)
    trace = traitlets.Dict().tag(sync=True)
    ops = traitlets.List().tag(sync=True)
    lang = traitlets.Unicode("en").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, source: Any, lang: str = "en", **kwargs: Any):
        """``source``: a ``backprop_viz.api.Trace``; edits re-run its request."""
        super().__init__(
            _esm=widget_esm(),
            _css=widget_css(),
            trace=source.to_json(),
            ops=op_catalogue(),
            lang=lang,
            **kwargs,
        )
        self.source = source
        self.on_msg(self.handle_message)

    def handle_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        """A message from the front end: ``valueedit`` re-traces with the new leaf value."""
        if not isinstance(content, dict) or content.get("type") != "valueedit":
            return
        self.edit(content.get("node"), content.get("value"))

    def edit(self, node: Any, value: Any) -> None:
        """Trace again with ``node`` set to ``value``; a refused value shows as ``error``."""
        from backprop_viz.core.graph import GraphError

        try:
            self.source = self.source.with_value(node, value)
        except GraphError as e:
            self.error = e.message
            return
        self.error = ""
        self.trace = self.source.to_json()
