"""The direct body route (``web.direct_body``): a JSON body goes straight to the endpoint, and
every answer is the one FastAPI's own handler gives, byte for byte.

The oracle is a twin of the app whose direct routes carry FastAPI's standard handler: the same
request to both must get the same status, headers and body, for good bodies, bodies that fail
validation, bodies that do not parse, and Content-Types the direct path leaves to FastAPI.
"""

from __future__ import annotations

import copy
import json

import pytest
from fastapi import routing as fastapi_routing
from fastapi.routing import APIRoute, request_response
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_viz.settings import Settings
from backprop_viz.web.app import create_app
from backprop_viz.web.direct_body import DirectBodyRoute, takes_only_a_json_body

JSON = {"content-type": "application/json"}
DIRECT_PATHS = ("/api/trace", "/api/paths")


def standard_twin():
    """The app with FastAPI's own handler on each direct route (copies of the routes: the
    router's route objects are shared by every app made in this process)."""
    app = create_app(Settings())
    routes = app.router.routes
    for i, route in enumerate(routes):
        if isinstance(route, DirectBodyRoute):
            twin = copy.copy(route)
            twin.app = request_response(APIRoute.get_route_handler(twin))
            routes[i] = twin
    return app


@pytest.fixture(scope="module")
def clients() -> tuple[TestClient, TestClient]:
    direct = TestClient(create_app(Settings()), raise_server_exceptions=False)
    standard = TestClient(standard_twin(), raise_server_exceptions=False)
    return direct, standard


def assert_same_answer(clients, path: str, content: bytes, headers: dict[str, str]) -> None:
    direct, standard = clients
    a = direct.post(path, content=content, headers=headers)
    b = standard.post(path, content=content, headers=headers)
    assert (a.status_code, a.content) == (b.status_code, b.content), content[:200]
    assert [h for h in a.headers.items() if h[0] != "date"] == [
        h for h in b.headers.items() if h[0] != "date"
    ]


def test_the_trace_and_paths_routes_are_direct_and_the_others_are_not():
    app = create_app(Settings())
    direct = {
        r.path for r in app.router.routes if isinstance(r, APIRoute) and takes_only_a_json_body(r)
    }
    assert direct == set(DIRECT_PATHS)  # gradcheck and parse return dicts: FastAPI serialises


def test_a_good_body_skips_fastapis_dependency_solving_and_a_bad_one_uses_it(monkeypatch):
    solved = []
    real = fastapi_routing.solve_dependencies

    async def counting(**kwargs):
        solved.append(kwargs["request"].url.path)
        return await real(**kwargs)

    monkeypatch.setattr(fastapi_routing, "solve_dependencies", counting)
    client = TestClient(create_app(Settings()))
    r = client.post("/api/trace", json={"example": "apple", "values": {"apple": 150}})
    assert r.status_code == 200 and r.json()["values"]["price"] == pytest.approx(330.0)
    r = client.post("/api/paths", json={"example": "olah_fork", "from": "b"})
    assert r.status_code == 200 and r.json()["sum"] == 5.0  # Olah: de/db = 1*2 + 1*3
    assert solved == []
    r = client.post("/api/trace", json={"example": "apple", "price": 1})  # not a field
    assert r.status_code == 422 and r.json()["field"] == "price"
    r = client.post("/api/trace", content=b'{"example": "apple"', headers=JSON)
    assert r.status_code == 422
    r = client.post("/api/gradcheck", json={"example": "apple"})
    assert r.status_code == 200
    # FastAPI answers JSON that does not parse before it solves anything
    assert solved == ["/api/trace", "/api/gradcheck"]


GOOD = [
    {"example": "apple"},
    {"example": "apple", "values": {"apple": 150}},
    {"example": "apple_orange", "dout": 2},
    {"example": "apple", "mode": "forward", "wrt": "tax"},
    {"expression": "(x + y) ** 2", "values": {"x": 3}},
    {"graph": {"nodes": [{"id": "x", "op": "input", "value": 2.0}], "output": "x"}},
    {"example": "cs231n_neuron", "expand": ["f"]},
]
BAD_BODIES = [
    b"",
    b"null",
    b"[]",
    b'"apple"',
    b"{",
    b'{"example": "apple",}',
    b'{"example": NaN}',
    b'{"example": "apple", "values": {"apple": NaN}}',
    b'{"example": "apple", "values": {"apple": Infinity}}',
    b'{"example": "apple", "values": {"apple": 1e400}}',
    b'{"example": "apple", "values": {"apple": 100000000000000000000000000000}}',
    b'{"example": "apple", "example": "apple_orange"}',
    b'{"example": "\\ud800"}',
    b'{"graph": {"nodes": [{"id": "\\ud800", "op": "input", "value": 1}], "output": "\\ud800"}}',
    b'{"example": "apple", "values": {"apple": false}}',
    b'{"example": "apple", "values": {"apple": "1e-4"}}',
    b'{"example": "apple", "full": 1}',
    b'{"example": "apple", "mode": "sideways"}',
    b'{"example": "nope"}',
    b'{"example": "apple", "graph": null}',
    b'{"example": "apple", "expression": "x"}',
    b"\xef\xbb\xbf" + b'{"example": "apple"}',  # a UTF-8 byte order mark
    '{"example": "apple"}'.encode("utf-16"),
    b'{"example": "\xff"}',  # not UTF-8
    b"[" * 100_000 + b"]" * 100_000,  # deeper than json.loads recurses
    b'{"values": ' + b"[" * 5_000 + b"1" + b"]" * 5_000 + b', "example": "apple"}',
]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON",
    "application/merge-patch+json",
    "text/plain",
]


@pytest.mark.parametrize("path", DIRECT_PATHS)
@pytest.mark.parametrize("body", GOOD, ids=lambda b: json.dumps(b)[:40])
def test_a_good_body_gets_fastapis_answer(clients, path, body):
    if path == "/api/paths":
        body = {**body, "from": "x" if "expression" in body or "graph" in body else "apple"}
    assert_same_answer(clients, path, json.dumps(body).encode(), JSON)


@pytest.mark.parametrize("body", BAD_BODIES, ids=lambda b: repr(b[:40]))
def test_a_bad_body_gets_fastapis_answer(clients, body):
    assert_same_answer(clients, "/api/trace", body, JSON)


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_every_content_type_gets_fastapis_answer(clients, content_type):
    for body in (b'{"example": "apple"}', b'{"example": 1}', b"{"):
        assert_same_answer(clients, "/api/trace", body, {"content-type": content_type})


def test_no_content_type_gets_fastapis_answer(clients):
    assert_same_answer(clients, "/api/trace", b'{"example": "apple"}', {})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ["example", "graph", "expression", "values", "dout", "expand", "full", "mode", "wrt"]
bodies = st.fixed_dictionaries(
    {},
    optional={name: json_values for name in FIELDS}
    | {"example": st.sampled_from(["apple", "apple_orange", "olah_fork", "x"])},
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies)
def test_any_body_gets_fastapis_answer(clients, body):
    assert_same_answer(clients, "/api/trace", json.dumps(body).encode(), JSON)
