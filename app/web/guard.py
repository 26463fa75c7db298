"""The one ASGI middleware around the app: what every request goes through before and after
FastAPI's own stack.

In the order a request meets them:

- its turn on the event loop (``web.turns``: a bounded wait while the loop has run requests for
  a millisecond without looking at its sockets);
- the security headers on every answer (``web.security``), the guard's own answers included;
- the catch-all: an exception no handler took is a JSON 500 (a MemoryError a 503) inside those
  headers (``web.errors.unexpected_error_response``);
- a body over ``BPV_MAX_BODY_BYTES`` is a 413, by its Content-Length before the app is called,
  or as it streams in;
- a body not received within ``BPV_BODY_TIMEOUT`` of the request's start is a 408 and a closed
  connection (uvicorn has no such timeout: a client that declares a length and sends less would
  hold the connection and the request open for ever);
- a request to a heavy route that is heavy by its size alone is admitted (at once, or after its
  bounded wait in line), or refused with the 503, at the route's first read of its body, before
  any of it is parsed (``web.limits.heavy_by_size``);
- HEAD on every GET route (FastAPI's routes answer it 405): the app answers it as a GET, and the
  client gets that answer's status and headers with no body.

These were six middlewares, one per concern; each one wrapped ``receive`` or ``send`` (or both)
in a coroutine of its own, so an answer went through twelve ``send`` wrappers and a body read
through four ``receive`` wrappers, and the body timeout ran every read as a task of its own
(``asyncio.wait_for``). One middleware with one wrapper each, and a cancel-scope timeout
(``asyncio.timeout_at``), cut that cost of a small request by about 25 µs of CPU
(bench/bench_http.py); one timer per request for the body's deadline (``BodyDeadline``)
instead of a timeout context around each read cut ~4 µs more.

When the guard answers by itself once the app has started (the 408, the 503), the app's
interrupted body read raises into it, and whatever the app then answers is dropped.
"""

from __future__ import annotations

import asyncio

import anyio
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backprop_viz.encoding import dumps
from backprop_viz.settings import Settings
from backprop_viz.web.errors import error_body, unexpected_error_response
from backprop_viz.web.limits import (
    CLIENT_GONE_KEY,
    SLOT_KEY,
    HeavyWork,
    HeavyWorkBusy,
    HeavyWorkRefused,
    Slot,
    content_length,
    heavy_by_size,
)
from backprop_viz.web.security import with_security_headers
from backprop_viz.web.turns import LoopTurns


class RequestGuard:
    """Security headers, the catch-all, the body's size and time limits, heavy work's
    admission by size, and HEAD as GET, for every HTTP request of ``app``."""

    def __init__(self, app: ASGIApp, settings: Settings, heavy_work: HeavyWork):
        self.app = app
        self.settings = settings
        self.max_bytes = settings.max_body_bytes
        self.body_timeout = settings.body_timeout
        self.heavy_work = heavy_work
        self.turns = LoopTurns()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.turns.wait()
        started = False  # a response has started (the app's or the guard's own)
        answered = False  # the guard answered (408, 503): the app's answer is dropped
        body_done = False
        admission_checked = False
        received = 0
        slot: Slot | None = None
        body_deadline = BodyDeadline(asyncio.get_running_loop().time() + self.body_timeout)
        head = scope["method"] == "HEAD"
        inner_scope = {**scope, "method": "GET"} if head else scope

        async def send_out(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = with_security_headers(list(message.get("headers", [])))
            await send(message)

        length = content_length(scope)
        if length is not None and length > self.max_bytes:
            await send_body_error(send_out, 413, too_large_message(self.max_bytes))
            return

        async def guarded_receive() -> Message:
            nonlocal admission_checked, answered, slot, body_done, received
            if not admission_checked:
                admission_checked = True
                try:
                    slot = await self.admit(inner_scope)
                except HeavyWorkBusy as busy:
                    answered = True
                    await self.heavy_work.busy_response(busy)(scope, receive, send_out)
                    raise HeavyWorkRefused() from None
                if slot is not None:  # its wait in line is not the client's time to send
                    body_deadline.start(asyncio.get_running_loop().time() + self.body_timeout)
            if body_done or answered:
                message = await receive()
            else:
                try:
                    message = await body_deadline.read(receive)
                except BodyDeadlinePassed:
                    answered = True
                    await send_body_error(
                        send_out,
                        408,
                        f"body: the request body was not received within {self.body_timeout:g} s",
                        [(b"connection", b"close")],
                    )
                    raise BodyReadTimedOut(self.body_timeout) from None
                if message["type"] != "http.request" or not message.get("more_body", False):
                    body_done = True
                    body_deadline.stop()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def client_gone() -> bool:
            """True if the client has closed the connection since it sent its whole body
            (before that, False: its close is seen only once the body is read). Asked by a
            heavy route that waited in line for its place (``web.limits.heavy_work``)."""
            if not body_done:
                return False
            await asyncio.sleep(0)  # a turn of the loop: a close that arrived is read now
            message: Message = {}
            with anyio.CancelScope() as scope_now:
                scope_now.cancel()  # do not wait: the server answers at once if it knows
                message = await receive()
            return message.get("type") == "http.disconnect"

        inner_scope[CLIENT_GONE_KEY] = client_gone

        async def guarded_send(message: Message) -> None:
            if answered:
                return
            if head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send_out(message)

        try:
            await self.app(inner_scope, guarded_receive, guarded_send)
        except Exception as exc:
            if answered:  # the app's reaction to an interrupted read: already answered
                return
            if started:  # too late for another answer; let the server close the connection
                raise
            if isinstance(exc, BodyTooLarge):
                await send_body_error(send_out, 413, too_large_message(self.max_bytes))
                return
            await unexpected_error_response(exc, scope)(scope, receive, send_out)
        finally:
            body_deadline.stop()
            if slot and not slot.handed_off:  # the route never ran (a 413, a 422)
                slot.release()

    async def admit(self, scope: Scope) -> Slot | None:
        """At a heavy route's first body read: its slot if it is heavy by size and admitted,
        at once or after its wait in line (the route finds it in the scope), None if it is not
        heavy by size (the route judges it on its parsed body). Raises ``HeavyWorkBusy`` if it
        is refused."""
        limiter = self.heavy_work
        if not limiter.enabled or not heavy_by_size(scope, self.settings):
            return None
        slot = await limiter.admit()
        scope[SLOT_KEY] = slot
        return slot


class BodyDeadlinePassed(Exception):
    """The body's time limit passed before (or while) it was read."""


class BodyDeadline:
    """``BPV_BODY_TIMEOUT`` for one request's body: one timer, armed at the first read, that
    interrupts a read still waiting when it fires (as ``asyncio.timeout_at`` would, at a
    fifth of its cost: a timeout context around every read was ~4.5 µs of a small trace's
    ~92 µs in process). A read after the deadline fails at once."""

    __slots__ = ("when", "timer", "reader", "passed")

    def __init__(self, when: float):
        self.when = when  # on the event loop's clock
        self.timer: asyncio.TimerHandle | None = None
        self.reader: asyncio.Task | None = None  # the task waiting in a read, while it waits
        self.passed = False

    def start(self, when: float) -> None:
        """(Re)start the limit at ``when`` (after a wait in line, which is not the client's)."""
        self.stop()
        self.when, self.passed = when, False

    async def read(self, receive: Receive) -> Message:
        """``receive()``, or ``BodyDeadlinePassed`` if the deadline passes first."""
        if self.passed:
            raise BodyDeadlinePassed()
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_at(self.when, self.expire)
        task = asyncio.current_task()
        assert task is not None
        cancelling = task.cancelling()
        self.reader = task
        try:
            return await receive()
        except asyncio.CancelledError:
            # ours if the deadline passed, and nobody else cancelled the task meanwhile
            if self.passed and task.uncancel() <= cancelling:
                raise BodyDeadlinePassed() from None
            raise
        finally:
            self.reader = None

    def expire(self) -> None:
        self.timer = None
        self.passed = True
        if self.reader is not None:
            self.reader.cancel()

    def stop(self) -> None:
        """No limit any more (the body is in, or the request is over)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class BodyReadTimedOut(HTTPException):
    """Raised into the app when its body read times out (an HTTPException, which FastAPI's
    body parsing lets through, so nothing turns it into a 400 or a 500)."""

    def __init__(self, seconds: float):
        super().__init__(status_code=408, detail=f"body not received within {seconds:g} s")


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
    """An error about the body (the error model, ``field`` "body"), sent by the guard before
    or instead of the app's own answer."""
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
