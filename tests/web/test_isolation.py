"""Heavy work is capped, timed and kept off the event loop: light requests stay fast meanwhile."""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from live_server import live_server

from backprop_viz.checks.gradcheck import gradient_check
from backprop_viz.core import engine
from backprop_viz.core.engine import run_graph
from backprop_viz.core.graph import build_graph
from backprop_viz.deadline import DeadlineExceeded, check_deadline, deadline_after
from backprop_viz.examples import EXAMPLES
from backprop_viz.settings import Settings
from backprop_viz.web.app import create_app
from backprop_viz.web.limits import heavy_work


def chain(nodes: int, value=0.5) -> dict:
    """A chain of ``nodes`` tanh nodes over one leaf: a trace that takes ~0.1-0.3 s at 2000."""
    spec = [{"id": "x", "op": "input", "value": value}]
    for i in range(nodes - 1):
        spec.append({"id": f"n{i}", "op": "tanh", "inputs": [spec[-1]["id"]]})
    return {"graph": {"nodes": spec, "output": spec[-1]["id"]}}


def run_in_new_loop(make_coroutine):
    """``asyncio.run`` in a thread of its own (the browser tests leave a loop running in this
    one); returns its result or raises its exception."""
    outcome = {}

    def target():
        try:
            outcome["result"] = asyncio.run(make_coroutine())
        except BaseException as e:  # handed to the caller
            outcome["error"] = e

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def assert_busy(r: httpx.Response) -> None:
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    body = r.json()
    assert body["field"] is None and body["node"] is None
    assert "at most 1 at once per worker" in body["detail"]
    assert "BPV_HEAVY_IN_FLIGHT" in body["detail"]


@pytest.fixture
def full():
    """A client on an app allowed one heavy request at once and none waiting (BPV_HEAVY_QUEUE
    0), and that one place taken."""
    app = create_app(Settings(heavy_in_flight=1, heavy_queue=0))
    slot = app.state.heavy_work.try_admit()
    assert slot is not None
    yield TestClient(app), app
    slot.release()


# --- the cap: 503 with Retry-After -----------------------------------------------------------


def test_heavy_trace_over_the_cap_is_a_503_with_retry_after(full):
    client, _ = full
    assert_busy(client.post("/api/trace", json=chain(300)))  # over BPV_HEAVY_NODES (200)


def test_heavy_preset_over_the_cap_is_a_503(full):
    client, _ = full
    assert_busy(client.post("/api/trace", json={"example": "two_layer_net_book"}))


def test_gradcheck_over_the_cap_is_a_503(full):
    client, _ = full
    assert_busy(client.post("/api/gradcheck", json={"example": "apple"}))


def test_large_body_over_the_cap_is_refused_before_it_is_parsed(full):
    client, _ = full
    # Not even JSON: a parsed body would be a 422; refused unread it is a 503.
    body = b"{" + b" " * 100_000
    r = client.post("/api/trace", content=body, headers={"content-type": "application/json"})
    assert_busy(r)


def test_light_requests_run_while_the_cap_is_full(full):
    client, _ = full
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/examples").status_code == 200
    assert client.get("/api/ops").status_code == 200
    r = client.post("/api/trace", json={"example": "apple"})
    assert r.status_code == 200
    assert r.json()["values"]["price"] == pytest.approx(220.0)
    assert client.post("/api/trace", json=chain(200)).status_code == 200  # just at the limit


def test_heavy_requests_run_again_once_a_place_is_free():
    app = create_app(Settings(heavy_in_flight=1))
    client = TestClient(app)
    for _ in range(3):  # each releases its place when it ends, also after an error
        r = client.post("/api/trace", json=chain(300))
        assert r.status_code == 200
        assert r.json()["grads"]["x"] is not None
        body = b"[" * 70_000  # admitted by size before parsing, then a 4xx
        r = client.post("/api/trace", content=body, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500
    r = client.post("/api/gradcheck", json={"example": "two_layer_net"})
    assert r.status_code == 200 and r.json()["ok"] is True


def test_heavy_work_refuses_an_async_route():
    async def create_thing() -> None:
        """An async route would compute on the event loop, where no pool or cap applies."""

    with pytest.raises(TypeError, match="heavy_work needs a sync route; create_thing is async"):
        heavy_work()(create_thing)


def test_route_without_a_request_parameter_still_gets_its_limiter(make_client):
    app = create_app(Settings(heavy_in_flight=1, heavy_queue=0))

    @app.post("/api/test-heavy")
    @heavy_work()
    def make_heavy(n: int) -> dict:
        return {"n": n, "thread": threading.current_thread().name}

    client = TestClient(app)
    r = client.post("/api/test-heavy", params={"n": 3})
    assert r.status_code == 200
    assert r.json()["n"] == 3 and r.json()["thread"].startswith("bpv-heavy")
    slot = app.state.heavy_work.try_admit()
    assert_busy(client.post("/api/test-heavy", params={"n": 3}))
    slot.release()


def test_heavy_limiter_off_runs_every_request(full):
    client, app = full
    app.state.heavy_work.enabled = False
    assert client.post("/api/trace", json=chain(300)).status_code == 200


# --- the time limit --------------------------------------------------------------------------


def test_heavy_trace_past_the_time_limit_is_a_503_naming_it(make_client):
    client = make_client(heavy_time_limit=0.01)
    start = time.perf_counter()
    # Leaves of four elements: the NumPy path, ~25 ms for 2,000 nodes, checked at each node.
    # (A chain of scalars now takes about the 10 ms limit itself, on the scalar fast path.)
    r = client.post("/api/trace", json=chain(2000, value=[0.5] * 4))
    assert time.perf_counter() - start < 5
    assert r.status_code == 503
    body = r.json()
    assert "time limit of 0.01 s" in body["detail"]
    assert "BPV_HEAVY_TIME_LIMIT" in body["detail"]
    assert body["field"] is None and body["node"] is None
    assert "retry-after" not in r.headers


def test_gradcheck_past_the_time_limit_is_a_503_well_before_its_own_limit(make_client):
    # The gradient check stops itself after 3 s of work (and answers 200, timed_out); the
    # request's limit of 0.3 s comes first. (That the check per evaluation is what stops it,
    # not the answer a second past the limit, is test_gradient_check_checks_the_deadline_...)
    client = make_client(heavy_time_limit=0.3)
    start = time.perf_counter()
    body = {"example": "two_layer_net_book", "max_evaluations": 20000}  # ~2.5 s unlimited
    r = client.post("/api/gradcheck", json=body)
    elapsed = time.perf_counter() - start
    assert r.status_code == 503
    assert "time limit of 0.3 s" in r.json()["detail"]
    assert elapsed < 3.0


def test_light_trace_has_no_time_limit(make_client):
    client = make_client(heavy_time_limit=0.01)
    assert client.post("/api/trace", json=chain(200)).status_code == 200


def test_deadline_reaches_the_pool_thread_and_stops_the_work_there():
    app = create_app(Settings(heavy_in_flight=1, heavy_time_limit=0.05))
    limiter = app.state.heavy_work
    stopped_in = []

    def work():
        try:
            while True:
                check_deadline()
                time.sleep(0.001)
        except DeadlineExceeded:
            stopped_in.append(threading.current_thread().name)
            raise

    with pytest.raises(DeadlineExceeded):
        run_in_new_loop(lambda: limiter.run(limiter.try_admit(), work))
    assert stopped_in and stopped_in[0].startswith("bpv-heavy")
    assert limiter.try_admit() is not None  # its place was given back


def test_work_that_ignores_the_deadline_is_answered_and_keeps_its_place_until_it_ends():
    app = create_app(Settings(heavy_in_flight=1, heavy_time_limit=0.05))
    limiter = app.state.heavy_work
    release = threading.Event()
    start = time.perf_counter()
    with pytest.raises(DeadlineExceeded):
        run_in_new_loop(lambda: limiter.run(limiter.try_admit(), lambda: release.wait(30)))
    assert time.perf_counter() - start < 5  # the limit plus a second's grace
    assert limiter.try_admit() is None  # its thread still works: the cap still counts it
    release.set()
    for _ in range(100):
        slot = limiter.try_admit()
        if slot is not None:
            break
        time.sleep(0.05)
    assert slot is not None


def test_engine_checks_the_deadline_once_per_node_forward_and_backward():
    graph = build_graph(chain(50)["graph"]["nodes"], "n48", Settings())
    with deadline_after(0.0), pytest.raises(DeadlineExceeded):
        run_graph(graph)
    assert run_graph(graph).values["n48"] is not None  # no deadline outside the block


def test_gradient_check_checks_the_deadline_per_evaluation(monkeypatch):
    example = EXAMPLES["apple"]
    graph = build_graph(example.nodes, example.output, Settings())
    with deadline_after(3600.0):
        assert gradient_check(graph)["ok"] is True
    # With the engine's own checks off, only the gradient check's can stop it.
    monkeypatch.setattr(engine, "check_deadline", lambda: None)
    with deadline_after(0.0, start=0.0), pytest.raises(DeadlineExceeded):
        gradient_check(graph)


# --- eight heavy clients against a real server -----------------------------------------------


def test_health_stays_fast_while_eight_clients_send_2000_node_traces():
    """Isolation, not speed: before the limiter, health's median here was ~1.5 s. With no line
    to wait in (BPV_HEAVY_QUEUE 0), the cap turns some away."""
    body = json.dumps(chain(2000)).encode()
    statuses: list[int] = []
    stop = threading.Event()

    def heavy(url: str) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            while not stop.is_set():
                r = client.post(
                    "/api/trace", content=body, headers={"content-type": "application/json"}
                )
                statuses.append(r.status_code)
                if r.status_code == 503:
                    time.sleep(0.05)

    with live_server({"BPV_HEAVY_QUEUE": "0"}) as url:
        threads = [threading.Thread(target=heavy, args=(url,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1.0)
            latencies = []
            with httpx.Client(base_url=url, timeout=30) as client:
                for _ in range(40):
                    start = time.perf_counter()
                    assert client.get("/api/health").status_code == 200
                    latencies.append(time.perf_counter() - start)
                    time.sleep(0.02)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
    assert statistics.median(latencies) < 0.1, latencies
    assert 200 in statuses and 503 in statuses  # heavy ones ran, and the cap turned some away
    assert set(statuses) <= {200, 503}
