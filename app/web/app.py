"""The application: the API router, the page at /, its static files and the safety limits."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backprop_viz import __version__
from backprop_viz.core.graph import GraphError
from backprop_viz.settings import Settings
from backprop_viz.web.routes import router
from backprop_viz.web.training import router as training_router

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def resource_dir(name: str) -> Path:
    """The page's ``static`` or ``templates`` folder: inside the installed package (a wheel puts
    them there), else beside the source folder ``app/`` (a checkout or an editable install)."""
    for candidate in (PACKAGE_DIR / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(f"backprop-viz is installed without its {name}/ folder")


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app with its limits (from the environment unless given)."""
    settings = settings or Settings.from_env()
    app = FastAPI(
        title="backprop-viz",
        version=__version__,
        description="Step-by-step forward and backward traces of the computational graphs of "
        "Deep Learning from Scratch, chapter 5.",
    )
    app.state.settings = settings
    app.include_router(router)
    app.include_router(training_router)
    app.mount("/static", StaticFiles(directory=resource_dir("static")), name="static")
    templates = Jinja2Templates(directory=resource_dir("templates"))

    @app.get("/", include_in_schema=False)
    def get_page(request: Request):
        """The interactive page."""
        return templates.TemplateResponse(request, "index.html", {"version": __version__})

    app.add_exception_handler(GraphError, graph_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    # The last added is the outermost: the headers go on every response, the 413 included.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    return app


async def graph_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GraphError)
    content = {"detail": exc.message, "field": exc.field, "node": exc.node}
    for where in ("line", "column"):
        if getattr(exc, where, None) is not None:
            content[where] = getattr(exc, where)
    return JSONResponse(status_code=422, content=content)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 list of {loc, msg, type}, without echoing the input back: a rejected
    body of megabytes must not come back as a response of megabytes."""
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return JSONResponse(status_code=422, content={"detail": errors})


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """FastAPI's own handler, except that a body too deeply nested to parse says so."""
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, BodyTooLarge):
        return JSONResponse(status_code=413, content={"detail": exc.detail, "field": "body"})
    if isinstance(exc.__cause__, RecursionError):
        return JSONResponse(
            status_code=422,
            content={"detail": "body: the JSON is nested too deeply to parse", "field": "body"},
        )
    return await http_exception_handler(request, exc)


class SecurityHeaders:
    """A strict Content-Security-Policy (scripts from 'self' only) and no sniffing."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_docs = scope["path"] in ("/docs", "/redoc")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                headers.append((b"x-frame-options", b"DENY"))
                if not is_docs:
                    headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimit:
    """413 for a body over the limit, by its Content-Length or as it streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self.reject(send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, counting_receive, send)
        except BodyTooLarge:
            await self.reject(send)

    async def reject(self, send: Send) -> None:
        body = json.dumps({"detail": too_large_message(self.max_bytes), "field": "body"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class BodyTooLarge(HTTPException):
    """Raised inside the app when the streamed body passes the limit (FastAPI lets an
    HTTPException through its body parsing, so the client gets this 413, not a 400)."""

    def __init__(self, max_bytes: int):
        super().__init__(status_code=413, detail=too_large_message(max_bytes))


def too_large_message(max_bytes: int) -> str:
    return f"body: the request body is larger than {max_bytes} bytes"
