"""The viewer without the app: a static HTML file that imports static/js/viewer/viewer.js by a
relative path, embeds a trace and the op catalogue taken from the Python side, and mounts the
viewer on an element. No API server answers it and every request other than the page's own
files is blocked; the book's numbers still appear and the keyboard steps through them.

The folder is served by Python's http.server on 127.0.0.1, not opened as a file:// URL: Chromium
refuses ES module imports from file:// (their origin is null, so the CORS check fails) unless
started with --allow-file-access-from-files, a flag a user's browser will not have."""

from __future__ import annotations

import functools
import json
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from backprop_viz.main import app

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

# The host page: the trace and the ops as JSON data blocks, a module that mounts the viewer and
# writes every event it receives into #events, where the test reads them.
HOST_HTML = """<!doctype html>
<html lang="{lang}">
<head>
  <meta charset="utf-8">
  <title>standalone viewer</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="static/css/app.css">
</head>
<body>
  <div id="host"></div>
  <pre id="events"></pre>
  <script type="application/json" id="trace-data">{trace}</script>
  <script type="application/json" id="ops-data">{ops}</script>
  <script type="module">
    import {{ mountViewer }} from './static/js/viewer/viewer.js';
    const read = (id) => JSON.parse(document.getElementById(id).textContent);
    const viewer = mountViewer(document.getElementById('host'), {{
      trace: read('trace-data'), ops: read('ops-data'), lang: '{lang}',
    }});
    const log = document.getElementById('events');
    for (const name of ['valueedit', 'step', 'select']) {{
      viewer.on(name, (detail) => {{
        log.textContent += JSON.stringify({{ name, ...detail }}) + '\\n';
      }});
    }}
    window.viewer = viewer;
  </script>
</body>
</html>
"""


# Two viewers on one page, as two notebook cells would be: each keeps its own position and keys.
TWO_HOSTS_HTML = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>two viewers</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="static/css/app.css">
</head>
<body>
  <div id="first"></div>
  <div id="second"></div>
  <script type="application/json" id="trace-data">{trace}</script>
  <script type="module">
    import {{ mountViewer }} from './static/js/viewer/viewer.js';
    const trace = JSON.parse(document.getElementById('trace-data').textContent);
    const mount = (id) => mountViewer(document.getElementById(id), {{ trace }});
    window.viewers = ['first', 'second'].map(mount);
  </script>
</body>
</html>
"""


def embedded_json(value) -> str:
    """JSON safe inside a <script> block: no "</" can end it early."""
    return json.dumps(value).replace("</", "<\\/")


@pytest.fixture(scope="module")
def apple_trace_and_ops():
    """The apple trace and the op catalogue, as the API gives them (no server: a TestClient)."""
    with TestClient(app) as client:
        trace = client.post("/api/trace", json={"example": "apple"})
        ops = client.get("/api/ops")
    assert trace.status_code == 200 and ops.status_code == 200
    return trace.json(), ops.json()


@pytest.fixture
def static_site(tmp_path, apple_trace_and_ops):
    """A folder with the page's static files and a host page per language, served on 127.0.0.1."""
    shutil.copytree(ROOT / "static", tmp_path / "static")
    trace, ops = apple_trace_and_ops
    for lang in ("en", "ja"):
        html = HOST_HTML.format(lang=lang, trace=embedded_json(trace), ops=embedded_json(ops))
        (tmp_path / f"viewer-{lang}.html").write_text(html, encoding="utf-8")
    html = TWO_HOSTS_HTML.format(trace=embedded_json(trace))
    (tmp_path / "two-viewers.html").write_text(html, encoding="utf-8")
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    """A plain static file server that does not log every request to stderr."""

    def log_message(self, format, *args):
        pass


def only_own_files(page: Page, site: str, folder: Path) -> tuple[list[str], list[str]]:
    """Lets through requests for files that exist in the folder; aborts and records every other."""
    allowed: list[str] = []
    blocked: list[str] = []

    def route(route):
        url = route.request.url
        parsed = urlparse(url)
        local = folder / parsed.path.lstrip("/")
        if url.startswith(site + "/") and parsed.path != "/" and local.is_file():
            allowed.append(parsed.path)
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", route)
    return allowed, blocked


def test_standalone_viewer_shows_the_books_numbers_and_steps_with_the_keyboard(
    page: Page, static_site
):
    site, folder = static_site
    allowed, blocked = only_own_files(page, site, folder)
    page.goto(f"{site}/viewer-en.html")
    host = page.locator("#host")
    expect(host.locator("svg.graph-svg")).to_be_visible()
    counter = host.locator('[data-part="step-counter"]')
    expect(counter).to_have_text("Step 0 / 4")

    # The keyboard: the viewer listens on its own element, so focus goes inside it first.
    host.locator('[data-part="graph-area"]').focus()
    page.keyboard.press("End")
    expect(counter).to_have_text("Step 4 / 4")
    price_edge = host.locator('[data-edge="price->output"]')
    expect(price_edge.locator(".edge-value")).to_have_text("220")
    expect(price_edge.locator(".edge-grad")).to_have_text("1")
    apple_edge = host.locator('[data-edge="apple->apple_price:0"]')
    expect(apple_edge.locator(".edge-grad")).to_have_text("2.2")
    page.keyboard.press("Home")
    expect(counter).to_have_text("Step 0 / 4")
    expect(apple_edge.locator(".edge-grad")).to_have_text("?")
    page.keyboard.press("ArrowRight")
    expect(counter).to_have_text("Step 1 / 4")
    expect(host.locator('[data-part="step-caption"]')).to_have_text(
        "Forward: the multiply node computes price of the apples = apple × number of apples "
        "= 100 × 2 = 200 and passes it on to the next node."
    )
    page.keyboard.press("End")

    # The inspector has the op catalogue: the chain rule with the book's numbers.
    host.locator('[data-node="apple_price"]').click()
    expect(host.locator('[data-part="inspector"]')).to_contain_text("dx = dout × y = 1.1 × 2 = 2.2")
    expect(host.locator('[data-part="inspector"] .source')).to_contain_text("class MulLayer")

    # An edit on the graph is the host's to handle: the viewer emits it and changes nothing.
    apple_edge.locator(".edge-value").click()
    field = page.get_by_label("apple (on the graph)")
    field.fill("150")
    field.press("Enter")
    events = page.locator("#events")
    expect(events).to_contain_text('{"name":"valueedit","node":"apple","value":150}')
    expect(events).to_contain_text('{"name":"step","step":4,"length":4}')
    expect(apple_edge.locator(".edge-value")).to_have_text("100")

    assert blocked == [], f"requests other than the page's own files: {blocked}"
    assert "/static/js/viewer/viewer.js" in allowed
    assert "/static/vendor/dagre.esm.js" in allowed
    assert not any("/api/" in path for path in allowed)


def test_standalone_viewer_speaks_japanese_and_updates_without_a_server(page: Page, static_site):
    site, folder = static_site
    _, blocked = only_own_files(page, site, folder)
    page.goto(f"{site}/viewer-ja.html")
    host = page.locator("#host")
    expect(host.locator("svg.graph-svg")).to_be_visible()
    expect(host.get_by_text("勾配（逆伝播）")).to_be_visible()
    host.get_by_role("button", name="Last step", exact=True).click()
    expect(host.locator('[data-part="step-counter"]')).to_have_text("ステップ 4 / 4")
    expect(host.locator('[data-part="inspector"]')).to_contain_text("逆伝播（連鎖律）")
    # A host answers an edit with a new trace of the same structure: the numbers change in place.
    page.evaluate(
        """() => {
          const trace = structuredClone(window.viewer.trace);
          trace.values.price = 330; trace.values.apple_price = 300; trace.values.apple = 150;
          window.viewer.update(trace);
        }"""
    )
    expect(host.locator('[data-edge="price->output"] .edge-value')).to_have_text("330")
    expect(host.locator('[data-part="step-counter"]')).to_have_text("ステップ 4 / 4")
    page.evaluate("() => window.viewer.setLang('en')")
    expect(host.locator('[data-part="step-counter"]')).to_have_text("Step 4 / 4")
    page.evaluate("() => window.viewer.destroy()")
    expect(host.locator("svg")).to_have_count(0)
    assert blocked == [], f"requests other than the page's own files: {blocked}"


def test_two_viewers_on_one_page_step_and_go_independently(page: Page, static_site):
    site, folder = static_site
    _, blocked = only_own_files(page, site, folder)
    page.goto(f"{site}/two-viewers.html")
    first, second = page.locator("#first"), page.locator("#second")
    for host in (first, second):
        expect(host.locator("svg.graph-svg")).to_be_visible()
    first.locator('[data-part="graph-area"]').focus()
    page.keyboard.press("End")
    expect(first.locator('[data-part="step-counter"]')).to_have_text("Step 4 / 4")
    expect(second.locator('[data-part="step-counter"]')).to_have_text("Step 0 / 4")
    second.get_by_role("button", name="Step forward", exact=True).click()
    expect(second.locator('[data-part="step-counter"]')).to_have_text("Step 1 / 4")
    expect(first.locator('[data-part="step-counter"]')).to_have_text("Step 4 / 4")
    # Each drawing has its own arrow head, so removing one viewer leaves the other's arrows.
    markers = page.locator("svg marker")
    expect(markers).to_have_count(2)
    ids = markers.evaluate_all("(ms) => ms.map((m) => m.id)")
    assert len(set(ids)) == 2, ids
    page.evaluate("() => window.viewers[0].destroy()")
    expect(first.locator("svg")).to_have_count(0)
    line = second.locator('[data-edge="price->output"] .line')
    assert line.get_attribute("marker-end") == f"url(#{ids[1]})"
    expect(second.locator(f'marker[id="{ids[1]}"]')).to_have_count(1)
    assert blocked == [], f"requests other than the page's own files: {blocked}"
