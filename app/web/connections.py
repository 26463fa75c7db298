"""uvicorn's HTTP protocol with a deadline for a request's headers (``BPV_HEADER_TIMEOUT``).

uvicorn (0.54) bounds an idle keep-alive connection (``timeout_keep_alive``) but nothing else: a
connection that sends nothing, or the first bytes of a request line and then nothing, or a byte
every few seconds, stays open for ever, and enough of them exhaust the server's sockets. An ASGI
middleware cannot help, as the app is only called once the headers are in. So the protocol
starts a timer whenever it waits for a request (when the connection opens, and when a response
has been sent on a kept-alive one) and closes the connection if the request's headers are not
complete by then. The body has its own limit, in the app (``BodyReadTimeout``).

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


@cache
def header_timeout() -> float:
    """This process's BPV_HEADER_TIMEOUT (a worker reads the environment its parent checked)."""
    return Settings.from_env().header_timeout


class HeaderTimeoutProtocol(BaseProtocol):  # type: ignore[misc, valid-type]
    """Closes a connection whose next request's headers are not in within the header timeout."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.header_timer: asyncio.TimerHandle | None = None
        self.cycle_before_headers: Any = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.start_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Both of uvicorn's parsers make a new request-response cycle once the headers are in.
        if self.header_timer is not None and self.cycle is not self.cycle_before_headers:
            self.stop_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        waiting = self.cycle is None or self.cycle.response_complete  # not a pipelined one
        if waiting and not self.transport.is_closing():
            self.start_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_header_timer()
        super().connection_lost(exc)

    def start_header_timer(self) -> None:
        self.stop_header_timer()
        self.cycle_before_headers = self.cycle
        self.header_timer = self.loop.call_later(header_timeout(), self.on_header_timeout)

    def stop_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def on_header_timeout(self) -> None:
        self.header_timer = None
        if not self.transport.is_closing():
            self.transport.close()
