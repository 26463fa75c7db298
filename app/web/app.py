"""The application: the API router, the page at /, its static files and the safety limits."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backprop_viz import __version__
from backprop_viz.encoding import dumps
from backprop_viz.settings import Settings
from backprop_viz.web.docs import install_docs
from backprop_viz.web.errors import (
    InternalErrors,
    SafeJSONResponse,
    error_body,
    install_error_handlers,
)
from backprop_viz.web.limits import HeavyWork, HeavyWorkAdmission
from backprop_viz.web.routes import router
from backprop_viz.web.security import SecurityHeaders
from backprop_viz.web.training import router as training_router

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def resource_dir(name: str) -> Path:
    """The page's ``static`` or ``templates`` folder: inside the installed package (a wheel puts
    them there), else beside the source folder ``app/`` (a checkout or an editable install)."""
    for candidate in (PACKAGE_DIR / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(f"backprop-viz is installed without its {name}/ folder")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app with its limits (from the environment unless given)."""
    settings = settings or Settings.from_env()
    app = FastAPI(
        title="backprop-viz",
        version=__version__,
        description="Step-by-step forward and backward traces of the computational graphs of "
        "Deep Learning from Scratch, chapter 5.",
        # FastAPI's own JSON response cannot encode a lone surrogate a client sent in an id.
        default_response_class=SafeJSONResponse,
        # FastAPI's /docs and /redoc load from a CDN with an inline script; ours are vendored
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.heavy_work = HeavyWork(settings)
    app.include_router(router)
    install_docs(app)
    app.include_router(training_router)
    app.mount("/static", StaticFiles(directory=resource_dir("static")), name="static")
    templates = Jinja2Templates(directory=resource_dir("templates"))

    @app.get("/", include_in_schema=False)
    def get_page(request: Request):
        """The interactive page."""
        return templates.TemplateResponse(request, "index.html", {"version": __version__})

    install_error_handlers(app)
    # The last added is the outermost: the security headers go on every response, the 413 and
    # the catch-all's 500 included.
    app.add_middleware(HeadAsGet)
    app.add_middleware(HeavyWorkAdmission)
    app.add_middleware(BodyReadTimeout, seconds=settings.body_timeout)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(InternalErrors)
    app.add_middleware(SecurityHeaders)
    return app


class HeadAsGet:
    """HEAD on every GET route (FastAPI's routes answer it 405): the app answers it as a GET,
    and the client gets that answer's status and headers with no body."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_without_body)


class BodyReadTimeout:
    """A 408 and a closed connection for a body not received within ``seconds`` of the
    request's start (uvicorn has no such timeout: a client that declares a length and sends
    less would hold the connection and the request open for ever).

    The 408 is sent from inside ``receive``; what the app then answers to its interrupted body
    read is dropped."""

    def __init__(self, app: ASGIApp, seconds: float):
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.seconds
        body_done = False
        answered = False

        async def timed_receive() -> Message:
            nonlocal body_done, answered
            if body_done or answered:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0))
            except TimeoutError:
                answered = True
                await self.reject(send)
                raise BodyReadTimedOut(self.seconds) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            if not answered:
                await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except BodyReadTimedOut:
            pass
        except Exception:
            if not answered:
                raise

    async def reject(self, send: Send) -> None:
        detail = f"body: the request body was not received within {self.seconds:g} s"
        await send_body_error(send, 408, detail, [(b"connection", b"close")])


class BodyReadTimedOut(HTTPException):
    """Raised into the app when its body read times out (an HTTPException, which FastAPI's
    body parsing lets through, so nothing turns it into a 400 or a 500)."""

    def __init__(self, seconds: float):
        super().__init__(status_code=408, detail=f"body not received within {seconds:g} s")


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
        await send_body_error(send, 413, too_large_message(self.max_bytes))


class BodyTooLarge(HTTPException):
    """Raised inside the app when the streamed body passes the limit (FastAPI lets an
    HTTPException through its body parsing, so the client gets this 413, not a 400)."""

    def __init__(self, max_bytes: int):
        super().__init__(status_code=413, detail=too_large_message(max_bytes))


def too_large_message(max_bytes: int) -> str:
    return f"body: the request body is larger than {max_bytes} bytes"


async def send_body_error(
    send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """An error about the body (the error model, ``field`` "body"), sent from a middleware
    before or instead of the app's own answer."""
    body = dumps(error_body(detail, field="body"))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
