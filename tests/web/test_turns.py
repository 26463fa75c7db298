"""The event loop comes back to its sockets about every millisecond however many requests are
ready (web.turns): a burst of new connections is accepted at once, not one per long turn."""

from __future__ import annotations

import asyncio
import statistics
import time

from test_isolation import run_in_new_loop

from backprop_viz.settings import Settings
from backprop_viz.web.app import create_app
from backprop_viz.web.turns import Turns

APPLE = b'{"example":"apple"}'


def probe_gaps(stop: asyncio.Event) -> list[float]:
    """Start a callback that runs once per turn of the loop (it reschedules itself, so it
    runs again in the next turn); the gaps between its runs, in seconds, are the turns."""
    loop = asyncio.get_running_loop()
    gaps: list[float] = []
    last = [time.perf_counter()]

    def probe() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now
        if not stop.is_set():
            loop.call_soon(probe)

    loop.call_soon(probe)
    return gaps


def busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_forty_ready_requests_run_in_turns_of_about_a_millisecond():
    turns = Turns(budget=0.001)

    async def scenario():
        stop = asyncio.Event()
        gaps = probe_gaps(stop)
        order: list[int] = []

        async def request(n: int) -> None:
            await turns.wait()
            busy(0.0005)
            order.append(n)

        await asyncio.gather(*(request(n) for n in range(40)))
        stop.set()
        return gaps, order

    gaps, order = run_in_new_loop(scenario)
    assert order == list(range(40))  # first come, first served
    # all forty in one turn would be one gap of 20 ms; in turns of ~1 ms there are many
    assert len(gaps) >= 10
    assert statistics.median(gaps) < 0.004
    assert sorted(gaps)[int(len(gaps) * 0.8)] < 0.006


def test_a_cancelled_request_leaves_the_line():
    turns = Turns(budget=0.001)

    async def scenario():
        async def request() -> None:
            await turns.wait()
            busy(0.002)  # each over the budget: the next one waits for the next turn

        first = asyncio.create_task(request())
        second = asyncio.create_task(request())
        third = asyncio.create_task(request())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        second.cancel()
        await asyncio.gather(first, third, return_exceptions=True)
        return second.cancelled(), third.done() and not third.cancelled(), len(turns.line)

    assert run_in_new_loop(scenario) == (True, True, 0)


def asgi_post(app, body: bytes):
    """One POST /api/trace straight to the ASGI app; its status."""
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
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    async def call():
        await app(scope, receive, send)
        return sent[0]["status"]

    return call()


def test_the_app_serves_sixty_four_ready_apple_traces_in_short_turns():
    """Apple runs on the event loop (web.limits): sixty-four of them ready at once, as under 64
    connections, used to run in one turn of ~10 ms while the loop accepted no connection."""
    app = create_app(Settings())

    async def scenario():
        await asgi_post(app, APPLE)  # warm up: the preset parsed once
        stop = asyncio.Event()
        gaps = probe_gaps(stop)
        start = time.perf_counter()
        statuses = await asyncio.gather(*(asgi_post(app, APPLE) for _ in range(64)))
        elapsed = time.perf_counter() - start
        stop.set()
        return statuses, gaps, elapsed

    statuses, gaps, elapsed = run_in_new_loop(scenario)
    assert statuses == [200] * 64
    # the loop looked at its sockets many times meanwhile, not once
    assert len(gaps) >= 8
    assert max(gaps) < elapsed / 3
    assert statistics.median(gaps) < 0.004
