"""/docs (Swagger UI) and /redoc (ReDoc) from the files vendored under static/vendor/, so the API
reference works with no internet, under a Content-Security-Policy with no inline script."""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from backprop_viz.web.security import content_security_policy

SWAGGER_UI = "/static/vendor/swagger-ui"
REDOC = "/static/vendor/redoc"
DOCS = "/static/docs"
SWAGGER_UI_INIT = f"{DOCS}/swagger-ui-init.js"


def swagger_ui_html(openapi_url: str, title: str) -> HTMLResponse:
    """Swagger UI's page. FastAPI's ``get_swagger_ui_html`` writes its set-up as an inline
    script, which the CSP refuses; here the set-up is a static file that reads the schema's
    URL from the container's ``data-openapi-url``."""
    return HTMLResponse(
        f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="stylesheet" href="{SWAGGER_UI}/swagger-ui.css">
<link rel="icon" type="image/png" href="{SWAGGER_UI}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
<script src="{SWAGGER_UI}/swagger-ui-bundle.js"></script>
<script src="{SWAGGER_UI_INIT}"></script>
</body>
</html>
"""
    )


def redoc_html(openapi_url: str, title: str) -> HTMLResponse:
    """ReDoc's page, with its own CSP: ReDoc writes its styles into <style> elements as it
    renders (styled-components), some before it reads a ``nonce`` option, so this page needs
    ``style-src 'unsafe-inline'``; scripts stay 'self' only. Search is off: it runs in a worker
    made from a blob: URL, which would need ``worker-src blob:`` as well. (FastAPI's
    ``get_redoc_html`` is not used: it has an inline <style> and loads web fonts.)"""
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="stylesheet" href="{DOCS}/redoc.css">
<link rel="icon" type="image/png" href="{SWAGGER_UI}/favicon-32x32.png">
</head>
<body>
<redoc spec-url="{escape(openapi_url)}" disable-search="true"></redoc>
<script src="{REDOC}/redoc.standalone.js"></script>
</body>
</html>
"""
    policy = content_security_policy(style_src="'self' 'unsafe-inline'")
    return HTMLResponse(page, headers={"content-security-policy": policy})


def install_docs(app: FastAPI) -> None:
    """GET /docs and /redoc; create the app with ``docs_url=None, redoc_url=None``."""
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def get_swagger_ui() -> HTMLResponse:
        """The API reference, interactive (Swagger UI)."""
        return swagger_ui_html(openapi_url, f"{app.title} - API reference")

    @app.get("/redoc", include_in_schema=False)
    def get_redoc() -> HTMLResponse:
        """The API reference, to read (ReDoc)."""
        return redoc_html(openapi_url, f"{app.title} - API reference")
