"""Stalled connections are closed (raw sockets on a real server), and HEAD is answered."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest
from live_server import free_port, live_server, start, wait_for_health

HEADER_TIMEOUT = 1.5
BODY_TIMEOUT = 1.5
KEEP_ALIVE = 1
MARGIN = 4.0  # a busy machine: closed within the limit plus this, and not before half of it


@pytest.fixture(scope="module")
def server():
    env = {
        "BPV_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "BPV_BODY_TIMEOUT": str(BODY_TIMEOUT),
        "BPV_KEEP_ALIVE_SECONDS": str(KEEP_ALIVE),
    }
    with live_server(env) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def read_until_closed(sock: socket.socket, within: float) -> tuple[bytes, float | None]:
    """What the server sends until it closes the connection, and after how many seconds
    (None if it is still open ``within`` seconds from now)."""
    start = time.monotonic()
    data = b""
    while True:
        remaining = within - (time.monotonic() - start)
        if remaining <= 0:
            return data, None
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return data, None
        except ConnectionResetError:
            return data, time.monotonic() - start
        if not chunk:
            return data, time.monotonic() - start
        data += chunk


def assert_closed_in_time(closed_after: float | None, limit: float, margin=MARGIN) -> None:
    assert closed_after is not None, f"still open {limit + margin} s later"
    assert limit / 2 <= closed_after <= limit + margin


def test_connection_that_sends_nothing_is_closed(server):
    with socket.create_connection(server) as sock:
        data, closed_after = read_until_closed(sock, HEADER_TIMEOUT + MARGIN)
    assert data == b""
    assert_closed_in_time(closed_after, HEADER_TIMEOUT)


def test_connection_with_partial_headers_is_closed(server):
    with socket.create_connection(server) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        data, closed_after = read_until_closed(sock, HEADER_TIMEOUT + MARGIN)
    assert data == b""
    assert_closed_in_time(closed_after, HEADER_TIMEOUT)


def test_headers_sent_a_byte_at_a_time_do_not_keep_the_connection_open(server):
    request = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
    start = time.monotonic()
    closed = False
    with socket.create_connection(server) as sock:
        for byte in request:  # each byte well within the keep-alive time of the last one
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            _, closed_after = read_until_closed(sock, 0.25)
            if closed_after is not None:
                closed = True
                break
            if time.monotonic() - start > HEADER_TIMEOUT + MARGIN:
                break
    assert closed
    assert time.monotonic() - start <= HEADER_TIMEOUT + MARGIN


def test_after_a_response_a_new_wait_for_headers_starts_and_is_bounded(server):
    # Kept alive after its answer, a connection that then sends half a request is closed within
    # the header timeout of when it started waiting again, not of when it opened, and not later.
    request = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(server) as sock:
        for _ in range(4):  # waits shorter than both timeouts, longer than one together
            time.sleep(KEEP_ALIVE / 2)
            sock.sendall(request)
            data, closed_after = read_until_closed(sock, 0.3)
            assert data.startswith(b"HTTP/1.1 200 OK") and closed_after is None
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
        data, closed_after = read_until_closed(sock, HEADER_TIMEOUT + MARGIN)
    assert data == b""
    assert_closed_in_time(closed_after, HEADER_TIMEOUT)


def test_headers_over_the_size_limit_get_a_431_and_the_connection_is_closed(server):
    start = time.monotonic()
    with socket.create_connection(server) as sock:
        try:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            for i in range(40):  # 2 MB, over the default limit of 1 MiB
                sock.sendall(b"X-Big-%d: %s\r\n" % (i, b"a" * 50_000))
        except OSError:
            pass  # closed while sending: the answer is already there
        data, closed_after = read_until_closed(sock, MARGIN)
    assert data.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert closed_after is not None
    assert time.monotonic() - start < HEADER_TIMEOUT  # the size, not the time, closed it


def test_headers_that_begin_in_the_read_of_an_earlier_request_are_counted_too(server):
    # The second request's first header bytes arrive with the whole first request: its message
    # begins before the first one's answer, and its headers must be counted from there.
    first = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    start = time.monotonic()
    with socket.create_connection(server) as sock:
        try:
            sock.sendall(first + b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            for i in range(40):  # 2 MB, over the default limit of 1 MiB
                sock.sendall(b"X-Big-%d: %s\r\n" % (i, b"a" * 50_000))
        except OSError:
            pass
        data, closed_after = read_until_closed(sock, MARGIN)
    answers = data.split(b"HTTP/1.1 ")
    assert answers[1].startswith(b"200 OK")
    assert answers[2].startswith(b"431 Request Header Fields Too Large\r\n")
    assert closed_after is not None
    assert time.monotonic() - start < HEADER_TIMEOUT  # the size, not the time, closed it


def test_large_headers_under_the_size_limit_are_served(server):
    with socket.create_connection(server) as sock:
        sock.sendall(
            b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            + b"".join(b"X-Big-%d: %s\r\n" % (i, b"a" * 50_000) for i in range(4))
            + b"\r\n"
        )
        data, closed_after = read_until_closed(sock, MARGIN)
    assert data.startswith(b"HTTP/1.1 200 OK")


def test_connection_with_a_partial_body_gets_a_408_and_is_closed(server):
    head = (
        b"POST /api/trace HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    with socket.create_connection(server) as sock:
        sock.sendall(head + b'{"example": ')
        data, closed_after = read_until_closed(sock, BODY_TIMEOUT + MARGIN)
    assert_closed_in_time(closed_after, BODY_TIMEOUT)
    status, _, rest = data.partition(b"\r\n")
    assert status == b"HTTP/1.1 408 Request Timeout"
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"connection: close" in headers.lower()
    assert b"x-content-type-options: nosniff" in headers.lower()
    assert body == (
        b'{"detail":"body: the request body was not received within 1.5 s",'
        b'"field":"body","node":null}'
    )


def test_idle_keep_alive_connection_is_closed_and_a_busy_one_is_not(server):
    request = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(server) as sock:
        for _ in range(3):  # requests closer together than the timeouts keep it open
            sock.sendall(request)
            data, closed_after = read_until_closed(sock, 0.4)
            assert data.startswith(b"HTTP/1.1 200 OK")
            assert closed_after is None
        data, closed_after = read_until_closed(sock, KEEP_ALIVE + MARGIN)
    assert data == b""
    assert_closed_in_time(closed_after, KEEP_ALIVE, margin=2.5)  # uvicorn's default is 5 s


def test_head_on_a_real_server_has_the_get_headers_and_no_body(server):
    with socket.create_connection(server) as sock:
        sock.sendall(b"HEAD /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data, closed_after = read_until_closed(sock, MARGIN)
    assert closed_after is not None
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"content-type: application/json" in head.lower()
    assert body == b""


# --- HEAD on every GET route (in-process) ----------------------------------------------------

GET_ROUTES = [
    "/api/health",
    "/api/ops",
    "/api/examples",
    "/api/examples/apple",
    "/api/datasets",
    "/",
    "/openapi.json",
    "/docs",
    "/redoc",
    "/static/js/main.js",
]


def test_every_get_route_of_the_api_is_in_the_head_list(client):
    paths = client.get("/openapi.json").json()["paths"]
    get_paths = {p.replace("{example_id}", "apple") for p, ops in paths.items() if "get" in ops}
    assert get_paths == {p for p in GET_ROUTES if p.startswith("/api/")} | {"/api/train/stream"}


def test_head_on_the_training_stream_answers_like_get_without_a_body(client):
    """The stream trains for as long as it is read, so HEAD is checked where GET is refused
    before any training starts: a bad setting is the same 422, with no body."""
    get = client.get("/api/train/stream?learning_rate=0")
    head = client.head("/api/train/stream?learning_rate=0")
    assert get.status_code == head.status_code == 422
    assert get.json()["field"] == "learning_rate"
    assert head.content == b""


@pytest.mark.parametrize("path", GET_ROUTES)
def test_head_is_answered_like_get_without_a_body(client, path):
    get = client.get(path)
    assert get.status_code == 200
    head = client.head(path)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers.get("content-length") == get.headers.get("content-length")
    assert head.headers["x-content-type-options"] == "nosniff"


def test_head_on_an_unknown_example_is_a_404_and_on_a_post_route_a_405(client):
    assert client.head("/api/examples/nope").status_code == 404
    assert client.head("/api/trace").status_code == 405


# --- workers ---------------------------------------------------------------------------------


def worker_pids(parent: int) -> set[int]:
    """The uvicorn workers of a `serve` process: its children started by multiprocessing."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and b"multiprocessing.spawn" in cmdline:
            pids.add(int(stat.parent.name))
    return pids


def test_two_workers_by_default_and_a_killed_one_is_replaced():
    port = free_port()
    process = start(port, {})  # no --workers: the default
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process)
        deadline = time.monotonic() + 20
        while len(worker_pids(process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        before = worker_pids(process.pid)
        assert len(before) == 2
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        assert httpx.get(f"{url}/api/health", timeout=10).status_code == 200  # the other one
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            after = worker_pids(process.pid)
            if len(after) == 2 and victim not in after:
                break
            time.sleep(0.2)
        assert len(after) == 2 and victim not in after
        for _ in range(4):
            assert httpx.get(f"{url}/api/health", timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
