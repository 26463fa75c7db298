"""One request through an ASGI app as uvicorn calls it, for the benchmarks that time the app in
process (bench_trace_bytes.py, bench_app.py): no sockets, no server, the package of whichever
version is first on the path."""

from __future__ import annotations

import asyncio


def asgi_request(app, body: bytes):
    """One POST /api/trace through the app, as uvicorn calls it; returns the status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/trace",
        "raw_path": b"/api/trace",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status: list[int] = []

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # the client never leaves

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])

    async def run():
        await app(scope, receive, send)
        return status[0]

    return run()
