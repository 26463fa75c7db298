"""Heavy requests over the cap wait in a bounded line for a place (BPV_HEAVY_QUEUE,
BPV_HEAVY_QUEUE_WAIT) instead of a 503 at once: served in order as places free up, refused
only when the line is full or the wait runs out, and never waiting without a bound."""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from live_server import live_server
from test_isolation import chain, run_in_new_loop

from backprop_viz import service
from backprop_viz.settings import Settings
from backprop_viz.web.app import create_app
from backprop_viz.web.limits import HeavyWork, HeavyWorkBusy

HEAVY = chain(300)  # over BPV_HEAVY_NODES (200): heavy once parsed
LARGE = b"[" + b" " * 70_000 + b"]"  # over BPV_HEAVY_BODY_BYTES: heavy by its size, unread
JSON = {"content-type": "application/json"}


def busy_app(**settings):
    """An app allowed one heavy request at once, that place taken; and the slot to free it."""
    app = create_app(Settings(heavy_in_flight=1, **settings))
    slot = app.state.heavy_work.try_admit()
    assert slot is not None
    return app, slot


def in_background(call):
    """``call()`` in a thread; the future of its result."""
    pool = ThreadPoolExecutor(1)
    future = pool.submit(call)
    pool.shutdown(wait=False)
    return future


def wait_until(condition, seconds=5.0):
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_a_heavy_trace_over_the_cap_waits_for_the_place_and_is_served():
    app, slot = busy_app(heavy_queue=4, heavy_queue_wait=30)
    client = TestClient(app)
    answer = in_background(lambda: client.post("/api/trace", json=HEAVY))
    wait_until(lambda: len(app.state.heavy_work._line) == 1)
    time.sleep(0.2)
    assert not answer.done()  # waiting, not refused
    slot.release()
    r = answer.result(timeout=30)
    assert r.status_code == 200
    assert r.json()["grads"]["x"] == pytest.approx(chain_gradient(0.5, 299), rel=1e-12)
    assert app.state.heavy_work.try_admit() is not None  # and its place given back


def chain_gradient(x: float, links: int) -> float:
    """d/dx of ``links`` tanh applied in turn, at ``x``."""
    gradient = 1.0
    for _ in range(links):
        x = math.tanh(x)
        gradient *= 1 - x * x
    return gradient


def test_a_body_heavy_by_its_size_waits_before_it_is_read():
    app, slot = busy_app(heavy_queue=4, heavy_queue_wait=30)
    client = TestClient(app)
    answer = in_background(lambda: client.post("/api/trace", content=LARGE, headers=JSON))
    wait_until(lambda: len(app.state.heavy_work._line) == 1)
    slot.release()
    r = answer.result(timeout=30)
    assert r.status_code == 422 and r.json()["field"] == "body"  # admitted, read, then refused
    again = app.state.heavy_work.try_admit()
    assert again is not None  # its place given back after the 422


def test_one_more_than_the_line_holds_is_a_503_at_once():
    app, slot = busy_app(heavy_queue=1, heavy_queue_wait=30)
    client = TestClient(app)
    waiting = in_background(lambda: client.post("/api/trace", json=HEAVY))
    wait_until(lambda: len(app.state.heavy_work._line) == 1)
    for send in (
        lambda: client.post("/api/trace", json=HEAVY),
        lambda: client.post("/api/trace", content=LARGE, headers=JSON),
        lambda: client.post("/api/gradcheck", json={"example": "apple"}),
    ):
        start = time.perf_counter()
        r = send()
        assert time.perf_counter() - start < 2
        assert r.status_code == 503
        assert r.headers["retry-after"] == "1"
        assert r.json() == {
            "detail": "the server is busy with heavy requests (at most 1 at once per worker, "
            "BPV_HEAVY_IN_FLIGHT, and 1 waiting, BPV_HEAVY_QUEUE); retry after 1 s",
            "field": None,
            "node": None,
        }
    slot.release()
    assert waiting.result(timeout=30).status_code == 200


@pytest.mark.parametrize(
    "send",
    [
        lambda client: client.post("/api/trace", json=HEAVY),
        lambda client: client.post("/api/trace", content=LARGE, headers=JSON),
    ],
    ids=["parsed", "by size"],
)
def test_a_wait_that_runs_out_is_a_503_naming_the_limit(send):
    app, slot = busy_app(heavy_queue=4, heavy_queue_wait=0.3)
    client = TestClient(app)
    start = time.perf_counter()
    r = send(client)
    elapsed = time.perf_counter() - start
    assert 0.3 <= elapsed < 3
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert r.json()["detail"] == (
        "the server is busy with heavy requests (at most 1 at once per worker, "
        "BPV_HEAVY_IN_FLIGHT): no place came free within 0.3 s (BPV_HEAVY_QUEUE_WAIT); "
        "retry after 1 s"
    )
    assert len(app.state.heavy_work._line) == 0  # it left the line
    slot.release()
    assert client.post("/api/trace", json=HEAVY).status_code == 200


def test_light_requests_do_not_wait_behind_the_line():
    app, slot = busy_app(heavy_queue=4, heavy_queue_wait=30)
    client = TestClient(app)
    waiting = in_background(lambda: client.post("/api/trace", json=HEAVY))
    wait_until(lambda: len(app.state.heavy_work._line) == 1)
    start = time.perf_counter()
    assert client.post("/api/trace", json={"example": "apple"}).status_code == 200
    assert client.post("/api/trace", json=chain(200)).status_code == 200  # just at the limit
    assert client.get("/api/health").status_code == 200
    assert time.perf_counter() - start < 5
    assert not waiting.done()
    slot.release()
    assert waiting.result(timeout=30).status_code == 200


def limiter(**settings) -> HeavyWork:
    return HeavyWork(Settings(heavy_in_flight=1, **settings))


def test_places_go_to_the_line_first_come_first_served():
    heavy = limiter(heavy_queue=8, heavy_queue_wait=30)

    async def scenario():
        held = heavy.try_admit()
        order: list[int] = []

        async def client(n: int):
            slot = await heavy.admit()
            order.append(n)
            await asyncio.sleep(0.01)
            slot.release()

        tasks = []
        for n in range(5):
            tasks.append(asyncio.create_task(client(n)))
            await asyncio.sleep(0)  # each joins the line in turn
        assert heavy.try_admit() is None  # a newcomer does not jump the line
        held.release()
        await asyncio.gather(*tasks)
        return order

    assert run_in_new_loop(scenario) == [0, 1, 2, 3, 4]
    assert heavy.try_admit() is not None


def test_a_place_given_from_another_thread_wakes_the_waiter():
    heavy = limiter(heavy_queue=2, heavy_queue_wait=30)
    held = heavy.try_admit()

    async def scenario():
        threading.Timer(0.1, held.release).start()  # as the heavy pool's thread does
        start = time.perf_counter()
        slot = await heavy.admit()
        slot.release()
        return time.perf_counter() - start

    assert 0.05 < run_in_new_loop(scenario) < 5


def test_a_cancelled_waiter_leaves_the_line_and_keeps_no_place():
    heavy = limiter(heavy_queue=2, heavy_queue_wait=30)

    async def scenario():
        held = heavy.try_admit()
        waiter = asyncio.create_task(heavy.admit())
        await asyncio.sleep(0.01)
        assert len(heavy._line) == 1
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert len(heavy._line) == 0
        # one granted its place and cancelled before it could run gives the place on
        second = asyncio.create_task(heavy.admit())
        third = asyncio.create_task(heavy.admit())
        await asyncio.sleep(0.01)
        held.release()  # to `second`, which is cancelled before it wakes
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        slot = await asyncio.wait_for(third, 5)
        slot.release()

    run_in_new_loop(scenario)
    assert heavy.try_admit() is not None  # the one place, free again
    assert heavy.try_admit() is None  # and only one


def test_no_line_refuses_at_once():
    heavy = limiter(heavy_queue=0)

    async def scenario():
        held = heavy.try_admit()
        with pytest.raises(HeavyWorkBusy, match="and 0 waiting, BPV_HEAVY_QUEUE"):
            await heavy.admit()
        held.release()

    run_in_new_loop(scenario)


def test_sixteen_clients_of_the_book_net_on_one_worker_are_all_served():
    """The flood that used to spin on refusals: sixteen clients sending the book preset to one
    worker, one place. Each waits its turn and gets its trace; health answers meanwhile."""
    body = json.dumps({"example": "two_layer_net_book"}).encode()
    statuses: list[int] = []
    stop = threading.Event()

    def client(url: str) -> None:
        with httpx.Client(base_url=url, timeout=60) as session:
            while not stop.is_set():
                r = session.post("/api/trace", content=body, headers=JSON)
                statuses.append(r.status_code)

    with live_server() as url:
        threads = [threading.Thread(target=client, args=(url,)) for _ in range(16)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1.5)
            with httpx.Client(base_url=url, timeout=30) as session:
                start = time.perf_counter()
                assert session.get("/api/health").status_code == 200
                health = time.perf_counter() - start
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
    assert len(statuses) > 16
    assert set(statuses) == {200}  # none turned away
    assert health < 1.0


def asgi_post(app, body: bytes, gone_after_body: bool):
    """POST /api/trace straight into the ASGI app: the body in one message, then either the
    disconnect a server reports for a client that closed its connection, or nothing (a client
    still waiting). Returns the coroutine and the statuses sent."""
    sent: list[int] = []
    delivered = False

    async def receive():
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        if gone_after_body:
            return {"type": "http.disconnect"}
        await asyncio.sleep(3600)

    async def send(message):
        if message["type"] == "http.response.start":
            sent.append(message["status"])

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
    }
    return app(scope, receive, send), sent


@pytest.mark.parametrize("gone", [True, False], ids=["client gone", "client waiting"])
def test_a_client_that_left_the_line_gives_its_place_to_the_next(monkeypatch, gone):
    app, slot = busy_app(heavy_queue=4, heavy_queue_wait=30)
    traced = []
    real_trace = service.trace
    monkeypatch.setattr(service, "trace", lambda *a: traced.append(1) or real_trace(*a))

    async def scenario():
        request, sent = asgi_post(app, json.dumps(HEAVY).encode(), gone_after_body=gone)
        task = asyncio.ensure_future(request)
        while len(app.state.heavy_work._line) < 1:
            await asyncio.sleep(0.005)
        slot.release()  # its turn comes
        await asyncio.wait_for(task, 30)
        return sent

    sent = run_in_new_loop(scenario)
    # the one whose client left: no work, a status nobody reads; the other: traced, 200
    assert (traced, sent) == (([], [503]) if gone else ([1], [200]))
    assert app.state.heavy_work.try_admit() is not None  # the place is free again


def test_the_wait_in_line_is_not_counted_as_the_time_to_send_the_body():
    # BPV_BODY_TIMEOUT is from the headers to the whole body: a body sent whole at once, whose
    # request then waited in line longer than that, is read, not refused with a 408
    body = json.dumps(chain(6000, value=[0.5] * 200)).encode()  # ~300 KB: heavy by its size
    env = {"BPV_HEAVY_QUEUE_WAIT": "30", "BPV_BODY_TIMEOUT": "1", "BPV_HEAVY_IN_FLIGHT": "1"}
    with live_server(env) as url:
        answers: dict[int, int] = {}

        def send(i: int) -> None:
            with httpx.Client(timeout=60) as client:
                r = client.post(f"{url}/api/trace", content=body, headers=JSON)
                answers[i] = r.status_code

        threads = [threading.Thread(target=send, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
            time.sleep(0.1)
        for t in threads:
            t.join()
    assert answers == {0: 200, 1: 200, 2: 200}
