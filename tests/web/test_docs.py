"""/docs and /redoc are served from vendored files, with no inline script and no other host;
tests/e2e/test_docs_offline.py opens them in Chromium with the internet blocked."""

from __future__ import annotations

import re

import pytest

from backprop_viz.web.app import resource_dir
from backprop_viz.web.security import CONTENT_SECURITY_POLICY

STATIC = resource_dir("static")
SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S)


def referenced(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_page_has_no_inline_script_and_names_no_other_host(client, path):
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    scripts = SCRIPT.findall(r.text)
    assert scripts, r.text
    for attributes, body in scripts:
        assert 'src="/static/' in attributes and body.strip() == ""
    assert "<style" not in r.text and " style=" not in r.text
    assert "http://" not in r.text and "https://" not in r.text  # no CDN, no web fonts
    assert "cdn.jsdelivr.net" not in r.text


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_page_assets_are_served_from_this_server(client, path):
    html = client.get(path).text
    urls = [url for url in referenced(html) if url.startswith("/static/")]
    assert len(urls) >= 3
    for url in urls:
        r = client.get(url)
        assert r.status_code == 200, url
        assert len(r.content) > 20, url


def test_docs_answers_under_the_pages_own_policy(client):
    r = client.get("/docs")
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert r.headers["x-content-type-options"] == "nosniff"


def test_redoc_policy_allows_inline_styles_and_nothing_else_more(client):
    csp = client.get("/redoc").headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY.replace(
        "style-src 'self'", "style-src 'self' 'unsafe-inline'"
    )
    assert client.get("/redoc").headers.get_list("content-security-policy") == [csp]


def test_swagger_ui_init_is_a_static_file_without_the_validator_badge(client):
    html = client.get("/docs").text
    assert '<script src="/static/docs/swagger-ui-init.js"></script>' in html
    assert 'data-openapi-url="/openapi.json"' in html
    init = client.get("/static/docs/swagger-ui-init.js")
    assert init.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert "validatorUrl: null" in init.text  # the badge is an image from the internet


def test_vendored_docs_files_carry_their_licences():
    swagger, redoc = STATIC / "vendor" / "swagger-ui", STATIC / "vendor" / "redoc"
    assert "Apache License" in (swagger / "LICENSE").read_text()
    assert "SmartBear" in (swagger / "NOTICE").read_text()
    assert "MIT License" in (redoc / "LICENSE").read_text()
    readme = (STATIC / "vendor" / "README.md").read_text()
    assert "swagger-ui-dist 5." in readme and "redoc 2." in readme


def test_vendored_redoc_loads_no_logo_from_its_cdn():
    # the one change to the npm file, recorded in static/vendor/README.md
    bundle = (STATIC / "vendor" / "redoc" / "redoc.standalone.js").read_text()
    assert "https://cdn.redoc.ly/redoc/logo-mini.svg" not in bundle
    assert 'alt:"redocly logo",onError:()=>t(!1),src:"data:,"' in bundle
