"""uvicorn's HTTP protocol with a deadline (``BPV_HEADER_TIMEOUT``) and a size limit
(``BPV_MAX_HEADER_BYTES``) for a request's headers.

uvicorn (0.54) bounds an idle keep-alive connection (``timeout_keep_alive``) but nothing else: a
connection that sends nothing, or the first bytes of a request line and then nothing, or a byte
every few seconds, stays open for ever, and enough of them exhaust the server's sockets. An ASGI
middleware cannot help, as the app is only called once the headers are in. So the protocol
notes the time whenever it starts waiting for a request (when the connection opens, and when a
response has been sent on a kept-alive one) and closes the connection if the request's headers
are not complete within the timeout of it (one timer per connection looks at that time).
httptools also takes headers of any size (10 MB of them, tried), so the bytes a request sends
before its headers are complete are counted, from the parser's start of the message to the end
of its headers (each read in that span counts whole: bytes of an earlier request that share a
read with the new one's first bytes count too), also when the message begins while an earlier
request is still being answered, and past the limit the answer is a 431 and the connection is
closed. The body has its own limits, in the app (``web.guard``).

``serve`` in ``backprop_viz.cli`` passes this class to uvicorn as ``http=``; it extends the
protocol uvicorn would pick itself (httptools when installed, as ``uvicorn[standard]`` does).
"""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any

from backprop_viz.settings import Settings

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as BaseProtocol
except ImportError:  # pragma: no cover - uvicorn without httptools
    from uvicorn.protocols.http.h11_impl import H11Protocol as BaseProtocol  # type: ignore


HEADERS_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-length: 0\r\nconnection: close\r\n\r\n"
)


@cache
def settings() -> Settings:
    """This process's settings (a worker reads the environment its parent checked)."""
    return Settings.from_env()


class HeaderTimeoutProtocol(BaseProtocol):  # type: ignore[misc, valid-type]
    """Closes a connection whose next request's headers are not in within the header timeout.

    One timer per connection, not one per request: a request only notes when the connection
    started waiting for headers (``waiting_since``, None once they are in), and the timer, when
    it fires, closes the connection if it has waited too long, else comes back when it would
    have (arming and cancelling a timer per request cost more than the note)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.header_timer: asyncio.TimerHandle | None = None
        self.waiting_since: float | None = None  # on the loop's clock
        self.cycle_before_headers: Any = None
        self.header_bytes: int | None = None  # counted from the start of a message
        self.headers_refused = False  # too large, answered once the response before is out

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.start_waiting()

    # httptools only (h11 bounds headers at 16 KB itself): a message's headers are counted from
    # its first byte to their end, whether or not an earlier request is still being answered
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.header_bytes = 0

    def on_headers_complete(self) -> None:
        self.header_bytes = None
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.header_bytes is not None and not self.transport.is_closing():
            self.header_bytes += len(data)
            if self.header_bytes > settings().max_header_bytes:
                self.refuse_headers()
                return
        # Both of uvicorn's parsers make a new request-response cycle once the headers are in.
        if self.waiting_since is not None and self.cycle is not self.cycle_before_headers:
            self.waiting_since = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.headers_refused:  # the answer before it is out: now the 431
            self.refuse_headers()
            return
        waiting = self.cycle is None or self.cycle.response_complete  # not a pipelined one
        if waiting and not self.transport.is_closing():
            self.start_waiting()

    def refuse_headers(self) -> None:
        """The 431 and the end of the connection; after the answer to an earlier request if
        one is still on its way (answers go out in order), reading nothing more meanwhile."""
        self.header_bytes = None
        if self.cycle is not None and not self.cycle.response_complete:
            self.headers_refused = True
            self.transport.pause_reading()
            return
        self.stop_header_timer()
        self.transport.write(HEADERS_TOO_LARGE)
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_header_timer()
        super().connection_lost(exc)

    def start_waiting(self) -> None:
        """The connection waits for a request's headers from now."""
        self.waiting_since = self.loop.time()
        self.cycle_before_headers = self.cycle
        if self.header_timer is None:
            self.header_timer = self.loop.call_later(settings().header_timeout, self.check_wait)

    def stop_header_timer(self) -> None:
        self.waiting_since = None
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def check_wait(self) -> None:
        """The timer: close the connection if it has waited for headers for the whole timeout,
        else look again when the current wait (or, in a request, a new one) would end."""
        self.header_timer = None
        if self.transport.is_closing():
            return
        timeout = settings().header_timeout
        since = self.waiting_since
        if since is None:  # in a request: a wait starts at its response at the earliest
            self.header_timer = self.loop.call_later(timeout, self.check_wait)
            return
        left = since + timeout - self.loop.time()
        if left > 0:
            self.header_timer = self.loop.call_later(left, self.check_wait)
            return
        self.transport.close()
