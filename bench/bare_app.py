"""The bare FastAPI endpoint bench_http.py measures the app against: POST /echo sends back the
JSON body it got, nothing else (no middleware, no limits): the floor of FastAPI on uvicorn."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

app = FastAPI()


@app.post("/echo")
def echo(body: dict[str, Any]) -> dict[str, Any]:
    """The body, as received."""
    return body


@app.get("/health")
def health() -> dict[str, str]:
    """For the bench to wait on."""
    return {"status": "ok"}
