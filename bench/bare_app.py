"""The bare FastAPI endpoint bench_http.py measures the app against: the floor of FastAPI on
uvicorn for a request of apple's size, with no middleware and no limits.

``POST /echo`` parses its JSON body as FastAPI does for any endpoint (into a dict), and answers
``BARE_RESPONSE_BYTES`` bytes of JSON (bench_http.py sets them to the size of the app's apple
trace, 2.6 KB) made once at import: the same bytes on the wire as the app's answer, and none of
its work. ``echo`` is a plain ``def``, as a FastAPI endpoint doing synchronous work is, so it
runs in anyio's thread pool; ``async_app`` serves the same endpoint as an ``async def`` on the
event loop, for comparison.
"""

from __future__ import annotations

import json
import os
from typing import Any

from fastapi import FastAPI, Response

SIZE = int(os.environ.get("BARE_RESPONSE_BYTES", "2600"))
# {"echo": "xxx..."}: SIZE bytes of valid JSON
PAYLOAD = json.dumps({"echo": "x" * max(SIZE - 12, 0)}).encode()

app = FastAPI()
async_app = FastAPI()


@app.post("/echo")
def echo(body: dict[str, Any]) -> Response:
    """The prepared answer, once the body has been parsed."""
    return Response(PAYLOAD, media_type="application/json")


@async_app.post("/echo")
async def echo_on_the_loop(body: dict[str, Any]) -> Response:
    """The same, on the event loop."""
    return Response(PAYLOAD, media_type="application/json")


@app.get("/health")
@async_app.get("/health")
def health() -> dict[str, str]:
    """For the bench to wait on."""
    return {"status": "ok"}
