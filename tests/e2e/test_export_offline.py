"""`backprop-viz export` / `Trace.to_html`: one HTML file, opened from a file:// URL in Chromium
with every network request blocked, shows the book's numbers and steps with the keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import backprop_viz as bv
from backprop_viz.cli import main

pytestmark = pytest.mark.e2e


def block_everything(page: Page, document: Path) -> list[str]:
    """Lets through the file itself and aborts every other request the page makes (data: URLs
    are not requests); returns the list of what was tried."""
    tried: list[str] = []

    def route(route):
        if route.request.url == document.as_uri():
            route.continue_()
            return
        tried.append(route.request.url)
        route.abort()

    page.route("**/*", route)
    page.context.set_offline(True)
    return tried


def test_exported_file_plays_offline(page: Page, tmp_path: Path, capsys):
    path = tmp_path / "apple.html"
    assert main(["export", "apple", "-o", str(path)]) == 0
    assert "wrote" in capsys.readouterr().out
    text = path.read_text(encoding="utf-8")
    assert "http://" not in text.replace("http://www.w3.org", "")  # no URL to fetch (SVG xmlns)
    assert "<script src" not in text and '<link rel="stylesheet"' not in text

    tried = block_everything(page, path)
    page.goto(path.as_uri())
    host = page.locator("#backprop-viz")
    expect(host.locator("svg.graph-svg")).to_be_visible()
    counter = host.locator('[data-part="step-counter"]')
    expect(counter).to_have_text("Step 0 / 4")

    host.locator('[data-part="graph-area"]').focus()
    page.keyboard.press("End")
    expect(counter).to_have_text("Step 4 / 4")
    price_edge = host.locator('[data-edge="price->output"]')
    expect(price_edge.locator(".edge-value")).to_have_text("220")
    apple_edge = host.locator('[data-edge="apple->apple_price:0"]')
    expect(apple_edge.locator(".edge-grad")).to_have_text("2.2")
    page.keyboard.press("Home")
    expect(apple_edge.locator(".edge-grad")).to_have_text("?")
    page.keyboard.press("ArrowRight")
    expect(host.locator('[data-part="step-caption"]')).to_have_text(
        "Forward: the multiply node computes price of the apples = apple × number of apples "
        "= 100 × 2 = 200 and passes it on to the next node."
    )

    # the op catalogue is embedded: the inspector shows the chain rule and the layer's source
    page.keyboard.press("End")
    host.locator('[data-node="apple_price"]').click()
    inspector = host.locator('[data-part="inspector"]')
    expect(inspector).to_contain_text("dx = dout × y = 1.1 × 2 = 2.2")
    expect(inspector.locator(".source")).to_contain_text("class MulLayer")
    assert tried == [], f"the file tried to fetch: {tried}"


def test_to_html_of_an_override_in_japanese(page: Page, tmp_path: Path):
    path = tmp_path / "apple150.html"
    bv.trace("apple", values={"apple": 150}).to_html(path, lang="ja")
    tried = block_everything(page, path)
    page.goto(path.as_uri())
    host = page.locator("#backprop-viz")
    expect(host.locator("svg.graph-svg")).to_be_visible()
    host.locator('[data-part="graph-area"]').focus()
    page.keyboard.press("End")
    expect(host.locator('[data-edge="price->output"] .edge-value')).to_have_text("330")
    expect(host.locator('[data-edge="apple->apple_price:0"] .edge-grad')).to_have_text("2.2")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    assert tried == []
