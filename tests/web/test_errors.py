"""Every answer that is not a 200 is JSON in one model, with the security headers.

``{"detail": str, "field": str | null, "node": str | null}`` (plus line/column for formulas) for
graph errors, pydantic's validation errors, bodies that do not parse, unknown examples, bodies
too large, a server out of memory (503) and an unexpected exception (500, no internals).
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from specs import graph, leaf, op
from starlette.requests import Request

from backprop_viz.core.layers import MulLayer
from backprop_viz.encoding import dumps
from backprop_viz.examples import EXAMPLES
from backprop_viz.settings import Settings
from backprop_viz.web.app import create_app

JSON = {"content-type": "application/json"}


def assert_error_model(r, status: int) -> dict:
    """The status, a JSON body of exactly the model's keys, and the security headers."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert set(body) <= {"detail", "field", "node", "line", "column"}
    assert {"detail", "field", "node"} <= set(body)
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    return body


@pytest.fixture
def quiet_client() -> TestClient:
    """A client that receives a 500 as the browser would, instead of re-raising it."""
    return TestClient(create_app(Settings()), raise_server_exceptions=False)


# --- 500 and 503 ---------------------------------------------------------------------------------


def test_unexpected_exception_in_a_route_is_a_json_500_with_the_headers(quiet_client, monkeypatch):
    def broken_forward(self, x, y):
        raise RuntimeError("secret internals: /srv/backprop_viz/core/layers.py line 41")

    monkeypatch.setattr(MulLayer, "forward", broken_forward)
    r = quiet_client.post("/api/trace", json={"example": "apple"})
    body = assert_error_model(r, 500)
    assert body == {"detail": "internal error", "field": None, "node": None}
    assert "secret" not in r.text and "layers.py" not in r.text


def test_unexpected_exception_reaches_the_client_as_json_even_when_tests_reraise(monkeypatch):
    # The default TestClient re-raises what reaches Starlette's own catch-all; nothing does now.
    client = TestClient(create_app(Settings()))
    monkeypatch.setattr(MulLayer, "forward", lambda self, x, y: 1 / 0)
    r = client.post("/api/trace", json={"example": "apple"})
    assert assert_error_model(r, 500)["detail"] == "internal error"


def test_memory_error_anywhere_is_a_503_with_retry_after(quiet_client, monkeypatch):
    def out_of_memory(self, x, y):
        raise MemoryError

    monkeypatch.setattr(MulLayer, "forward", out_of_memory)
    for path in ("/api/trace", "/api/gradcheck"):
        r = quiet_client.post(path, json={"example": "apple"})
        body = assert_error_model(r, 503)
        assert "out of memory" in body["detail"]
        assert int(r.headers["retry-after"]) >= 1


def test_memory_error_outside_the_routes_is_a_503(quiet_client):
    @quiet_client.app.get("/api/explode")
    def explode():
        raise MemoryError

    r = quiet_client.get("/api/explode")
    assert assert_error_model(r, 503)["field"] is None
    assert r.headers["retry-after"].isdigit()


def test_memory_error_while_parsing_the_body_is_a_503_not_a_422(quiet_client, monkeypatch):
    # FastAPI turns any failure to parse a body into a 400; running out of memory is none of
    # the client's doing
    async def out_of_memory(self):
        raise MemoryError

    monkeypatch.setattr(Request, "json", out_of_memory)
    r = quiet_client.post("/api/trace", json={"example": "apple"})
    assert "out of memory" in assert_error_model(r, 503)["detail"]
    assert r.headers["retry-after"].isdigit()


# --- strings a client can send ----------------------------------------------------------------


def test_dumps_escapes_lone_surrogates_and_round_trips_them():
    payload = {"\ud800": ["\udfff", "apple 🍎", "りんご", 'quote " and \\ backslash \ud83d']}
    encoded = dumps(payload)
    encoded.decode("utf-8")  # strict UTF-8: the surrogates are escapes, not raw bytes
    assert b"\\ud800" in encoded
    assert json.loads(encoded) == payload


def test_dumps_keeps_non_ascii_text_as_utf8():
    assert dumps({"label": "りんご"}) == '{"label":"りんご"}'.encode()


@pytest.mark.parametrize(
    "body",
    [
        b'{"example": "apple", "values": {"\\ud800": 1}}',
        b'{"graph": {"nodes": [{"id": "\\ud800", "op": "input", "value": 1}], '
        b'"output": "\\ud800"}}',
        b'{"graph": {"nodes": [{"id": "x", "op": "input", "value": 1, "label": "\\udfff"}], '
        b'"output": "x"}}',
        b'{"example": "\\ud800"}',
        b'{"expression": "x + \\ud800"}',
        b'{"example": "apple", "\\ud800": 1}',
    ],
    ids=["values-key", "node-id", "label", "example", "expression", "unknown-field"],
)
@pytest.mark.parametrize("path", ["/api/trace", "/api/gradcheck"])
def test_lone_surrogate_anywhere_is_never_a_500(quiet_client, path, body):
    r = quiet_client.post(path, content=body, headers=JSON)
    assert r.status_code in (200, 422), r.text
    r.content.decode("utf-8")  # valid UTF-8 whatever the answer
    if r.status_code == 422:
        assert_error_model(r, 422)


def test_lone_surrogate_in_a_formula_to_parse_is_never_a_500(quiet_client):
    r = quiet_client.post("/api/parse", content=b'{"expression": "\\ud800 + 1"}', headers=JSON)
    assert_error_model(r, 422)


# --- bodies that do not parse: 422, not FastAPI's undocumented 400 ---------------------------


def test_body_that_is_not_utf8_is_a_422_naming_the_body(client):
    r = client.post("/api/trace", content=b'{"example": "\xff\xfe"}', headers=JSON)
    body = assert_error_model(r, 422)
    assert body["field"] == "body"
    assert body["detail"] == "body: the request body is not valid UTF-8 (byte 0xff at position 13)"


def test_integer_of_more_than_4300_digits_is_a_422_naming_the_body(client):
    digits = b"1" + b"0" * 5000
    r = client.post(
        "/api/trace",
        content=b'{"example": "apple", "values": {"apple": ' + digits + b"}}",
        headers=JSON,
    )
    body = assert_error_model(r, 422)
    assert body == {
        "detail": "body: a number has more than 4300 digits",
        "field": "body",
        "node": None,
    }


def test_integer_of_4300_digits_parses_and_is_refused_by_the_engine_as_a_number(client):
    digits = b"1" + b"0" * 4299  # just at the limit: JSON parses it, float64 cannot hold it
    r = client.post(
        "/api/trace",
        content=b'{"example": "apple", "values": {"apple": ' + digits + b"}}",
        headers=JSON,
    )
    body = assert_error_model(r, 422)
    assert body["field"].startswith("values")
    assert body["node"] == "apple"


def test_malformed_json_is_a_422_saying_where(client):
    r = client.post("/api/trace", content=b'{"example": "apple"', headers=JSON)
    body = assert_error_model(r, 422)
    assert body["field"] == "body"
    assert body["detail"].startswith("body: JSON decode error: ")
    assert "at character 19" in body["detail"]


# --- pydantic's validation errors in the one model ---------------------------------------------


def test_validation_error_names_the_dotted_field_and_the_node(client):
    nodes = [leaf("x", 1), leaf("y", 2), {"id": "z", "op": 7, "inputs": ["x", "y"]}]
    r = client.post("/api/trace", json=graph(nodes, "z"))
    body = assert_error_model(r, 422)
    assert body["field"] == "graph.nodes[2].op"
    assert body["node"] == "z"
    assert body["detail"] == "graph.nodes[2].op (node 'z'): Input should be a valid string"


def test_validation_error_of_a_missing_field_says_it_is_required(client):
    r = client.post("/api/trace", json={"graph": {"nodes": [leaf("x", 1)]}})
    body = assert_error_model(r, 422)
    assert body == {"detail": "graph.output: is required", "field": "graph.output", "node": None}


def test_validation_error_of_an_unknown_field_names_it(client):
    r = client.post("/api/trace", json={"example": "apple", "dot": 1})
    assert assert_error_model(r, 422) == {
        "detail": "dot: is not a field of this request",
        "field": "dot",
        "node": None,
    }


def test_validation_error_of_the_source_rule_is_about_the_body(client):
    r = client.post("/api/trace", json={"example": "apple", "expression": "x"})
    body = assert_error_model(r, 422)
    assert body["field"] == "body"
    assert body["detail"] == (
        "body: give exactly one of 'graph', 'example' or 'expression', or 'training' for an "
        "iteration of a training run (found: example, expression)"
    )


def test_validation_error_of_a_gradcheck_setting_names_it(client):
    r = client.post("/api/gradcheck", json={"example": "apple", "h": 0})
    body = assert_error_model(r, 422)
    assert body["field"] == "h"
    assert body["detail"] == "h: Input should be greater than 0"


def test_many_validation_errors_are_summed_up_in_one_sentence(client):
    nodes = [{"id": f"n{i}", "op": i} for i in range(10)]
    r = client.post("/api/trace", json=graph(nodes, "n0"))
    body = assert_error_model(r, 422)
    assert body["field"] == "graph.nodes[0].op"
    assert body["detail"].count("Input should be a valid string") == 3
    assert body["detail"].endswith("; and 7 more")


def test_validation_error_does_not_echo_a_huge_field_name(client):
    r = client.post("/api/trace", json={"example": "apple", "k" * 100_000: 1})
    body = assert_error_model(r, 422)
    assert len(r.content) < 1000
    assert body["field"].startswith("kkk") and body["field"].endswith("...")


# --- graph errors, 404, 405 and 413 ------------------------------------------------------------


def test_graph_error_keeps_its_field_and_node(client):
    r = client.post("/api/trace", json=graph([leaf("x", 1), op("y", "sqrt", "x")], "y"))
    body = assert_error_model(r, 422)
    assert body["field"] == "graph.nodes[1].op"
    assert body["node"] == "y"
    assert "line" not in body


def test_formula_error_adds_line_and_column(client):
    r = client.post("/api/trace", json={"expression": "t = x + y\nz = t ** "})
    body = assert_error_model(r, 422)
    assert body["field"] == "expression"
    assert body["line"] == 2
    assert isinstance(body["column"], int)


def test_unknown_example_is_worded_the_same_by_get_and_by_trace(client):
    known = ", ".join(EXAMPLES)
    r = client.get("/api/examples/banana")
    assert assert_error_model(r, 404) == {
        "detail": f"no example 'banana'; known: {known}",
        "field": "example_id",
        "node": None,
    }
    r = client.post("/api/trace", json={"example": "banana"})
    assert assert_error_model(r, 422) == {
        "detail": f"example: no example 'banana'; known: {known}",
        "field": "example",
        "node": None,
    }


def test_unknown_path_and_method_are_json_in_the_model(client):
    body = assert_error_model(client.get("/api/nothing"), 404)
    assert body == {"detail": "Not Found", "field": None, "node": None}
    r = client.delete("/api/trace")
    assert assert_error_model(r, 405)["detail"] == "Method Not Allowed"
    assert r.headers["allow"] == "POST"


def test_body_too_large_is_a_413_in_the_model(make_client):
    client = make_client(max_body_bytes=100)
    r = client.post("/api/trace", json={"example": "apple", "values": {"apple": [1.0] * 100}})
    assert assert_error_model(r, 413) == {
        "detail": "body: the request body is larger than 100 bytes",
        "field": "body",
        "node": None,
    }
