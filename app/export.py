"""One self-contained HTML file that plays a trace offline: ``backprop-viz export apple -o f``.

The viewer's ES modules (static/js/viewer/*.js and the vendored dagre) are inlined: each
module's relative imports are rewritten to a bare name (``backprop-viz/js/viewer/format.js``),
and an import map sends each name to a ``data:text/javascript;base64,...`` URL. A bare name, not
the relative path, because a module loaded from a data: URL has no base to resolve "./x.js"
against; an import map, because Chromium refuses module scripts from file:// (a null origin)
but runs inline ones and data: URLs. The page's CSS is inlined, the trace and the op catalogue
are JSON data blocks, and one inline module mounts the viewer. Nothing is fetched.

The file is a snapshot: the viewer steps through it but cannot recompute, so leaves are not
editable.
"""

from __future__ import annotations

import base64
import html
import json
import posixpath
import re
from functools import cache
from typing import Any

ENTRY = "js/viewer/viewer.js"
"""The viewer's entry module, relative to the static folder."""

IMPORT = re.compile(r"""(\b(?:from|import)\s*)(['"])(\.{1,2}/[^'"]+)\2""")
"""A static import or re-export with a relative specifier: ``from './format.js'``."""

PAGE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<style>
{css}
</style>
<script type="importmap">{import_map}</script>
</head>
<body>
<main id="backprop-viz" class="standalone"></main>
<script type="application/json" id="bpv-trace">{trace}</script>
<script type="application/json" id="bpv-ops">{ops}</script>
<script type="module">
import {{ mountViewer }} from 'backprop-viz/{entry}';
const read = (id) => JSON.parse(document.getElementById(id).textContent);
const element = document.getElementById('backprop-viz');
window.backpropViz = mountViewer(element, {{
  trace: read('bpv-trace'), ops: read('bpv-ops'), lang: '{lang}', editable: () => false,
}});
element.querySelector('[data-part="graph-area"]')?.focus();
</script>
</body>
</html>
"""


def static_text(path: str) -> str:
    """A file of the page's static folder, wherever the install put it (as the server finds it)."""
    from backprop_viz.web.app import resource_dir

    return (resource_dir("static") / path).read_text(encoding="utf-8")


@cache
def inlined_modules(entry: str = ENTRY) -> dict[str, str]:
    """Every module ``entry`` imports, and itself, by path under static/, their imports made
    bare names (``backprop-viz/js/viewer/format.js``)."""
    modules: dict[str, str] = {}
    pending = [entry]
    while pending:
        path = pending.pop()
        if path in modules:
            continue
        folder = posixpath.dirname(path)

        def bare(match: re.Match, folder: str = folder) -> str:
            target = posixpath.normpath(posixpath.join(folder, match.group(3)))
            pending.append(target)
            return f"{match.group(1)}{match.group(2)}backprop-viz/{target}{match.group(2)}"

        modules[path] = IMPORT.sub(bare, static_text(path))
    return modules


def import_map() -> dict[str, Any]:
    """Each bare module name mapped to its source as a base64 data: URL."""
    imports = {}
    for path, source in sorted(inlined_modules().items()):
        encoded = base64.b64encode(source.encode("utf-8")).decode("ascii")
        imports[f"backprop-viz/{path}"] = f"data:text/javascript;base64,{encoded}"
    return {"imports": imports}


def embedded_json(value: Any) -> str:
    """JSON that is safe inside a <script> block: no "</" can end it early, no "<!--"."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/").replace("<!--", "<\\!--")


def op_catalogue() -> list[dict[str, Any]]:
    """The body of GET /api/ops (the inspector's formulas and layer sources)."""
    from backprop_viz.core.ops import OPS, op_summary
    from backprop_viz.web.schemas import OpInfo

    return [OpInfo.model_validate(op_summary(op)).model_dump(mode="json") for op in OPS.values()]


def trace_html(trace_json: dict[str, Any], *, title: str = "backprop-viz", lang: str = "en") -> str:
    """The standalone page for a trace's JSON (the body of POST /api/trace)."""
    if lang not in ("en", "ja"):
        raise ValueError(f"lang must be 'en' or 'ja', got {lang!r}")
    return PAGE.format(
        lang=lang,
        title=html.escape(title),
        css=static_text("css/app.css").replace("</style", "<\\/style"),
        import_map=embedded_json(import_map()),
        trace=embedded_json(trace_json),
        ops=embedded_json(op_catalogue()),
        entry=ENTRY,
    )
