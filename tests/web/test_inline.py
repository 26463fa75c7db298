"""Tiny traces run on the event loop; everything larger keeps its thread (web.limits).

Which thread ran the trace is seen from inside ``service.trace``: on the event loop there is a
running loop, in anyio's worker threads and the heavy pool there is none.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time

import pytest
from fastapi.testclient import TestClient

from backprop_viz import service
from backprop_viz.encoding import dumps
from backprop_viz.examples import EXAMPLES
from backprop_viz.settings import Settings
from backprop_viz.web.app import create_app
from backprop_viz.web.limits import (
    INLINE_MAX_BODY_BYTES,
    INLINE_MAX_ELEMENTS,
    INLINE_MAX_NODES,
    count_numbers,
)

NETS = {"two_layer_net", "two_layer_net_book"}


@pytest.fixture
def where(monkeypatch):
    """A client, and the list of places ``service.trace`` ran in: "loop", or a thread's name."""
    places: list[str] = []
    trace = service.trace

    def recording_trace(*args, **kwargs):
        try:
            asyncio.get_running_loop()
            places.append("loop")
        except RuntimeError:
            places.append(threading.current_thread().name)
        return trace(*args, **kwargs)

    monkeypatch.setattr(service, "trace", recording_trace)
    return TestClient(create_app(Settings())), places


def chain(nodes: int, value=0.5, op="tanh") -> dict:
    spec = [{"id": "x", "op": "input", "value": value}]
    for i in range(nodes - 1):
        spec.append({"id": f"n{i}", "op": op, "inputs": [spec[-1]["id"]]})
    return {"graph": {"nodes": spec, "output": spec[-1]["id"]}}


def ran_in(where, body: dict) -> str:
    client, places = where
    r = client.post("/api/trace", json=body)
    assert r.status_code == 200, r.text
    return places[-1]


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e not in NETS])
def test_every_small_preset_runs_on_the_event_loop(where, example):
    assert ran_in(where, {"example": example}) == "loop"


def test_apple_on_the_event_loop_gives_the_book_numbers(where):
    client, places = where
    r = client.post("/api/trace", json={"example": "apple"})
    assert places == ["loop"]
    body = r.json()
    assert body["values"]["price"] == pytest.approx(220.0)
    assert body["grads"]["apple"] == pytest.approx(2.2)
    assert body["grads"]["apple_num"] == pytest.approx(110.0)
    assert body["grads"]["tax"] == pytest.approx(200.0)


def test_the_nets_keep_their_threads(where):
    assert ran_in(where, {"example": "two_layer_net"}).startswith("AnyIO worker thread")
    assert ran_in(where, {"example": "two_layer_net_book"}).startswith("bpv-heavy")


def test_nodes_just_at_the_limit_run_inline_and_one_more_in_a_thread(where):
    assert ran_in(where, chain(INLINE_MAX_NODES)) == "loop"
    assert ran_in(where, chain(INLINE_MAX_NODES + 1)).startswith("AnyIO worker thread")


def test_elements_just_at_the_limit_run_inline_and_one_more_in_a_thread(where):
    at_limit = chain(3, value=[0.5] * INLINE_MAX_ELEMENTS)
    assert ran_in(where, at_limit) == "loop"
    over = chain(3, value=[0.5] * (INLINE_MAX_ELEMENTS + 1))
    assert ran_in(where, over).startswith("AnyIO worker thread")


def test_the_sizes_of_all_leaves_multiply(where):
    # 32 x 32 leaves: a matmul of a column and a row makes 1,024 elements, at the limit...
    def outer(n: int) -> dict:
        nodes = [
            {"id": "a", "op": "input", "value": [[0.5]] * n},
            {"id": "b", "op": "input", "value": [[0.5] * n]},
            {"id": "m", "op": "matmul", "inputs": ["a", "b"]},
        ]
        return {"graph": {"nodes": nodes, "output": "m"}}

    assert ran_in(where, outer(32)) == "loop"
    # ...and 33 x 33 = 1,089 over it, though each leaf alone is tiny
    assert ran_in(where, outer(33)).startswith("AnyIO worker thread")


def test_values_overrides_and_dout_count_too(where):
    overridden = {"example": "apple", "values": {"apple": [100.0] * (INLINE_MAX_ELEMENTS + 1)}}
    assert ran_in(where, overridden).startswith("AnyIO worker thread")
    big_dout = {**chain(2, value=[0.5] * 40), "dout": [1.0] * 40}  # 40 x 40 = 1,600
    assert ran_in(where, big_dout).startswith("AnyIO worker thread")
    assert ran_in(where, {"example": "apple", "values": {"apple": 150}}) == "loop"


def test_a_formula_keeps_its_thread(where):
    # its symbolic report waits on a worker process, up to its budget
    assert ran_in(where, {"expression": "x * y", "values": {"x": 2, "y": 3}}) != "loop"


def test_a_body_over_the_inline_bytes_keeps_its_thread(where):
    client, places = where
    body = chain(2)
    body["graph"]["nodes"][0]["label"] = "x"
    text = json.dumps(body)
    padded = text[:-1] + " " * (INLINE_MAX_BODY_BYTES - len(text)) + "}"
    assert len(padded) == INLINE_MAX_BODY_BYTES  # just at the limit
    headers = {"content-type": "application/json"}
    assert client.post("/api/trace", content=padded, headers=headers).status_code == 200
    assert places[-1] == "loop"
    over = padded[:-1] + " }"
    assert client.post("/api/trace", content=over, headers=headers).status_code == 200
    assert places[-1].startswith("AnyIO worker thread")


def test_errors_of_an_inline_trace_are_the_same_422(where):
    client, places = where
    body = {"graph": {"nodes": [{"id": "x", "op": "sqrt"}], "output": "x"}}
    r = client.post("/api/trace", json=body)
    assert r.status_code == 422
    assert r.json()["field"] == "graph.nodes[0].op"
    r = client.post("/api/trace", json={"example": "apple", "values": {"nope": 1}})
    assert r.status_code == 422 and places[-1] == "loop"


def test_count_numbers_stops_past_the_limit_and_does_not_recurse():
    assert count_numbers(3.0) == 1
    assert count_numbers([[1, 2], [3, 4]]) == 4
    assert count_numbers([1.0] * 100_000) == INLINE_MAX_ELEMENTS + 1
    deep: list = [1.0]
    for _ in range(100_000):
        deep = [deep]
    assert count_numbers(deep) == 1


def test_the_costliest_tiny_trace_holds_the_loop_briefly():
    """The bounds' reason: the largest trace they let onto the event loop (every node a
    1,024-element array, the most nodes) takes milliseconds, not the tens or hundreds of a
    light trace in general (a 700 x 700 matmul and a tanh, a 6 KB body, take ~100 ms)."""
    n = int(INLINE_MAX_ELEMENTS**0.5)
    nodes = [
        {"id": "a", "op": "input", "value": [[0.5]] * n},
        {"id": "b", "op": "input", "value": [[0.5] * n]},
        {"id": "m", "op": "matmul", "inputs": ["a", "b"]},
    ]
    while len(nodes) < INLINE_MAX_NODES:
        nodes.append({"id": f"t{len(nodes)}", "op": "tanh", "inputs": [nodes[-1]["id"]]})
    query = service.TraceQuery(graph={"nodes": nodes, "output": nodes[-1]["id"]})
    settings = Settings()
    seconds = []
    for _ in range(5):
        start = time.perf_counter()
        dumps(service.trace(query, settings).to_json())
        seconds.append(time.perf_counter() - start)
    assert statistics.median(seconds) < 0.05, seconds  # ~1-2 ms here; generous for a busy CI


def softmax_graph(**extra) -> dict:
    """A 32 x 32 input and 15 softmax nodes: within the node and element bounds, but ~8 ms."""
    nodes = [{"id": "x", "op": "input", "value": [[0.5] * 32] * 32}]
    for i in range(INLINE_MAX_NODES - 1):
        nodes.append({"id": f"s{i}", "op": "softmax", "inputs": [nodes[-1]["id"]]})
    return {"graph": {"nodes": nodes, "output": nodes[-1]["id"]}, **extra}


def test_a_graph_of_costly_ops_keeps_its_thread(where):
    assert ran_in(where, softmax_graph()).startswith("AnyIO worker thread")


@pytest.mark.parametrize(
    "extra", [{"expand": ["n0"]}, {"full": True}, {"mode": "forward", "wrt": "x"}]
)
def test_a_small_graph_asking_for_more_than_its_nodes_keeps_its_thread(where, extra):
    body = chain(3, op="sigmoid")
    assert ran_in(where, body) == "loop"
    assert ran_in(where, {**body, **extra}).startswith("AnyIO worker thread")
