"""The notebook widget's ES module mounted in Chromium on a test page with a stand-in for
anywidget's model: it shows the book's numbers, sends an edit to the "kernel", and shows the
trace the kernel sets back (here the Python widget's own answer to that message)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import backprop_viz as bv
from backprop_viz.export import embedded_json

pytestmark = pytest.mark.e2e

# A stand-in for anywidget's model: get/set/on/off/send; send() records the message where the
# test can read it, window.setTrace plays the kernel's reply (a change of the trace).
HOST = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>widget</title>
<link rel="icon" href="data:,"><style>{css}</style></head>
<body>
<div id="cell"></div>
<pre id="sent"></pre>
<script type="application/json" id="esm">{esm}</script>
<script type="application/json" id="state">{state}</script>
<script type="module">
const state = JSON.parse(document.getElementById('state').textContent);
const listeners = {{}};
const model = {{
  get: (key) => state[key],
  set: (key, value) => {{
    state[key] = value;
    (listeners['change:' + key] || []).forEach((f) => f());
  }},
  on: (name, f) => {{ (listeners[name] ||= []).push(f); }},
  off: (name, f) => {{ listeners[name] = (listeners[name] || []).filter((g) => g !== f); }},
  send: (message) => {{
    document.getElementById('sent').textContent += JSON.stringify(message) + '\\n';
  }},
  save_changes: () => {{}},
}};
window.model = model;
const source = JSON.parse(document.getElementById('esm').textContent);
const url = URL.createObjectURL(new Blob([source], {{ type: 'text/javascript' }}));
const widget = (await import(url)).default;
widget.render({{ model, el: document.getElementById('cell') }});
</script>
</body></html>
"""


def test_widget_module_shows_the_numbers_and_round_trips_an_edit(page: Page, tmp_path: Path):
    widget = bv.trace("apple").show()
    state = {"trace": widget.trace, "ops": widget.ops, "lang": "en", "error": ""}
    path = tmp_path / "widget.html"
    path.write_text(
        HOST.format(css=widget._css, esm=embedded_json(widget._esm), state=embedded_json(state)),
        encoding="utf-8",
    )
    tried: list[str] = []

    def route(route):
        if route.request.url == path.as_uri() or route.request.url.startswith("blob:"):
            route.continue_()
            return
        tried.append(route.request.url)
        route.abort()

    page.route("**/*", route)
    page.goto(path.as_uri())
    cell = page.locator("#cell")
    expect(cell.locator("svg.graph-svg")).to_be_visible()
    expect(cell.locator('[data-part="step-counter"]')).to_have_text("Step 0 / 4")
    cell.locator('[data-part="graph-area"]').focus()
    page.keyboard.press("End")
    apple_edge = cell.locator('[data-edge="apple->apple_price:0"]')
    expect(cell.locator('[data-edge="price->output"] .edge-value')).to_have_text("220")
    expect(apple_edge.locator(".edge-grad")).to_have_text("2.2")

    # An edit on the graph goes to the kernel as a message.
    apple_edge.locator(".edge-value").click()
    field = page.get_by_label("apple (on the graph)")
    field.fill("150")
    field.press("Enter")
    sent = page.locator("#sent")
    expect(sent).to_contain_text('{"type":"valueedit","node":"apple","value":150}')

    # The kernel (the Python widget) answers it with a new trace, which the module shows.
    message = json.loads(sent.text_content().strip().splitlines()[-1])
    widget.handle_message(widget, message, None)
    assert widget.trace["values"]["price"] == pytest.approx(330)
    page.evaluate("(trace) => window.model.set('trace', trace)", widget.trace)
    expect(cell.locator('[data-edge="price->output"] .edge-value')).to_have_text("330")

    # A refused value comes back as the error state, shown in the cell.
    widget.handle_message(widget, {"type": "valueedit", "node": "apple", "value": "x"}, None)
    assert "expected a number" in widget.error
    page.evaluate("(error) => window.model.set('error', error)", widget.error)
    expect(cell.locator(".bpv-widget-error")).to_contain_text("expected a number")
    assert tried == [], f"the widget tried to fetch: {tried}"
