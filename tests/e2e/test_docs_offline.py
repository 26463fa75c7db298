"""/docs (Swagger UI) and /redoc (ReDoc) in a real Chromium with no internet: every request that
does not go to the server on 127.0.0.1 is aborted, and each page still lists every operation,
with no console error (a CSP violation is one) and no request that even tried to leave."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

pytestmark = pytest.mark.e2e


@pytest.fixture
def offline_page(page: Page) -> tuple[Page, list[str]]:
    """The watched page with every non-loopback request aborted; the list collects them."""
    left: list[str] = []

    def only_loopback(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            left.append(url)
            route.abort()

    page.route("**/*", only_loopback)
    return page, left


@pytest.fixture(scope="module")
def operations(server_url) -> list[tuple[str, str, str]]:
    """(METHOD, path, summary) of every operation the server publishes."""
    paths = httpx.get(f"{server_url}/openapi.json").json()["paths"]
    return [
        (method.upper(), path, operation["summary"])
        for path, methods in paths.items()
        for method, operation in methods.items()
    ]


def test_docs_lists_every_operation_offline(offline_page, operations):
    page, left = offline_page
    response = page.goto("/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert len(operations) >= 7
    for method, path, summary in operations:
        block = page.locator(f".opblock-{method.lower()}").filter(
            has=page.get_by_text(path, exact=True)
        )
        expect(block.locator(".opblock-summary-method")).to_have_text(method)
        expect(block.locator(".opblock-summary-description")).to_have_text(summary)
    expect(page.locator(".opblock-post").filter(has_text="/api/trace")).to_contain_text(
        "POST/api/trace"
    )
    assert left == []


def test_docs_try_it_out_traces_apple_offline(offline_page):
    page, left = offline_page
    page.goto("/docs")
    block = page.locator(".opblock-post").filter(has=page.get_by_text("/api/trace", exact=True))
    block.locator(".opblock-summary").click()
    block.get_by_role("button", name="Try it out").click()
    block.get_by_role("button", name="Execute").click()
    # the body Swagger UI fills in is the schema's first example: apple with a price of 150
    answer = block.locator(".live-responses-table tbody tr.response").first
    expect(answer.locator(".response-col_status")).to_have_text("200")
    expect(answer.locator(".response-col_description")).to_contain_text('"price": 330')
    assert left == []


def test_redoc_lists_every_operation_offline(offline_page, operations):
    page, left = offline_page
    response = page.goto("/redoc")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp  # scripts: this server only, as on the page
    assert "style-src 'self' 'unsafe-inline'" in csp  # ReDoc writes its styles inline
    menu = page.locator(".menu-content")
    for method, path, summary in operations:
        # The operation's own item (not its tag's, which may hold it collapsed).
        item = menu.get_by_label(summary, exact=True)
        expect(item).to_be_attached()
        expect(item.locator(".operation-type")).to_have_text(method.lower())
        expect(page.get_by_text(path, exact=True).first).to_be_attached()
    assert left == []
