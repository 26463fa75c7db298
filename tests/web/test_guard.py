"""The one middleware (web.guard): each of its answers carries the security headers and the
error model, and what it does not answer passes through untouched."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from backprop_viz.settings import Settings
from backprop_viz.web.app import create_app
from backprop_viz.web.security import CONTENT_SECURITY_POLICY


def assert_guarded(r, status: int) -> dict:
    assert r.status_code == status
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) >= {"detail", "field", "node"}
    return body


def chunks(total: int, size: int = 1000):
    """A body with no Content-Length (sent chunked): ``total`` bytes of a JSON string."""
    yield b'{"example": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


def test_a_streamed_body_over_the_limit_is_a_413_with_the_headers():
    client = TestClient(create_app(Settings(max_body_bytes=5000)))
    r = client.post(
        "/api/trace", content=chunks(20_000), headers={"content-type": "application/json"}
    )
    assert "content-length" not in r.request.headers
    assert assert_guarded(r, 413) == {
        "detail": "body: the request body is larger than 5000 bytes",
        "field": "body",
        "node": None,
    }


def test_a_streamed_body_under_the_limit_reaches_the_route():
    client = TestClient(create_app(Settings(max_body_bytes=50_000)))
    r = client.post(
        "/api/trace", content=chunks(2_000), headers={"content-type": "application/json"}
    )
    body = assert_guarded(r, 422)  # read whole, then refused by the route: no such example
    assert body["field"] == "example"


def test_a_declared_length_over_the_limit_is_a_413_with_the_headers_before_the_route():
    client = TestClient(create_app(Settings(max_body_bytes=100)))
    r = client.post("/api/nothing-here", content=b"x" * 101)
    assert assert_guarded(r, 413)["field"] == "body"  # not the 404: the route never ran


def test_a_refusal_by_size_has_the_headers_and_the_slot_is_left_free():
    app = create_app(Settings(heavy_in_flight=1, heavy_queue=0))
    client = TestClient(app)
    slot = app.state.heavy_work.try_admit()
    body = b"[" + b" " * 70_000 + b"]"  # over BPV_HEAVY_BODY_BYTES: heavy by its size
    headers = {"content-type": "application/json"}
    r = client.post("/api/trace", content=body, headers=headers)
    assert assert_guarded(r, 503)["detail"].startswith("the server is busy with heavy requests")
    assert r.headers["retry-after"] == "1"
    slot.release()
    r = client.post("/api/trace", content=body, headers=headers)  # admitted, then a 422
    assert assert_guarded(r, 422)["field"] == "body"
    again = app.state.heavy_work.try_admit()  # and its place given back after the 422
    assert again is not None
    again.release()


@pytest.mark.parametrize("path", ["/api/health", "/", "/static/js/main.js"])
def test_answers_of_the_app_get_the_headers_once(path):
    client = TestClient(create_app(Settings()))
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers.get_list("content-security-policy") == [CONTENT_SECURITY_POLICY]
    assert r.headers.get_list("x-content-type-options") == ["nosniff"]
