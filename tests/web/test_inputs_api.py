"""Over HTTP: hostile names and formulas get a 422 naming the field and the node (never a 500
in the encoder), and a formula sympy cannot finish gets its trace with a note, in time."""

from __future__ import annotations

import json
import time

import pytest

from backprop_viz.formulas.symbolic import BUDGET_SECONDS

MARGIN = 3.0


def post_raw(client, body: str):
    """POST a body written by hand, so that JSON escapes such as \\ud800 reach the server."""
    return client.post(
        "/api/trace", content=body.encode("ascii"), headers={"content-type": "application/json"}
    )


def error_of(r, field: str, node: str | None) -> dict:
    assert r.status_code == 422, r.text
    body = json.loads(r.content.decode("utf-8"))  # valid UTF-8: no raw surrogate inside
    assert body["field"] == field
    assert body["node"] == node
    return body


def test_post_trace_lone_surrogate_in_node_id_is_a_422_not_a_500(client):
    body = (
        '{"graph": {"nodes": [{"id": "a\\ud800", "op": "input", "value": 1}, '
        '{"id": "y", "op": "neg", "inputs": ["a\\ud800"]}], "output": "y"}}'
    )
    error = error_of(post_raw(client, body), "graph.nodes[0].id", "a\\ud800")
    assert (
        "contains U+D800 (a lone surrogate, which is not a character) at position 2"
        in (error["detail"])
    )


def test_post_trace_lone_surrogate_in_values_key_is_a_422(client):
    body = '{"example": "apple", "values": {"\\udfff": 3}}'
    error = error_of(post_raw(client, body), "values", "\\udfff")
    assert "U+DFFF (a lone surrogate" in error["detail"]


def test_post_trace_lone_surrogate_in_values_key_of_a_formula_is_a_422(client):
    body = '{"expression": "x * 2", "values": {"x\\ud800": 3}}'
    error = error_of(post_raw(client, body), "values", "x\\ud800")
    assert "not a variable of the expression" in error["detail"]


def test_post_trace_right_to_left_override_in_id_is_a_422(client):
    body = {
        "graph": {
            "nodes": [{"id": "cost\u202etxt.exe", "op": "input", "value": 1}],
            "output": "cost\u202etxt.exe",
        }
    }
    error = error_of(
        client.post("/api/trace", json=body), "graph.nodes[0].id", "cost\\u202etxt.exe"
    )
    assert "U+202E RIGHT-TO-LEFT OVERRIDE (a bidirectional-override character)" in error["detail"]


def test_post_trace_surrogate_in_formula_is_an_invalid_character_at_its_place(client):
    r = post_raw(client, '{"expression": "z = x +\\n  y * \\ud83d"}')
    error = error_of(r, "expression", None)
    assert (error["line"], error["column"]) == (2, 7)
    assert "invalid character U+D83D (a lone surrogate" in error["detail"]


def test_post_parse_cyrillic_beside_latin_is_a_422(client):
    r = client.post("/api/parse", json={"expression": "x + х"})
    error = error_of(r, "expression", None)
    assert "'х' looks like 'x'" in error["detail"]


def test_post_parse_fullwidth_name_is_folded(client):
    r = client.post("/api/parse", json={"expression": "ｘ ** 2"})
    assert r.status_code == 200
    assert r.json()["variables"] == ["x"]


def test_post_trace_formula_number_beyond_float64_is_too_large(client):
    r = client.post("/api/trace", json={"expression": "x * 1e400"})
    error = error_of(r, "expression", None)
    assert "the number 1e400 is too large for a 64-bit float" in error["detail"]


@pytest.mark.parametrize(
    "expression, values, note",
    [
        ("exp(exp(exp(exp(exp(x)))))", {}, "nests exp, sigmoid and powers 5 deep"),
        ("((((((x**64)**64)**64)**64)**64)**64)", {"x": 2}, "nests exp, sigmoid and powers 6"),
        ("z = " + "relu(" * 20 + "x" + " - 1)" * 20, {"x": 30}, "took too long"),
    ],
)
def test_post_trace_formula_sympy_cannot_finish_is_traced_with_a_note_in_time(
    client, expression, values, note
):
    start = time.monotonic()
    r = client.post("/api/trace", json={"expression": expression, "values": values})
    assert time.monotonic() - start < BUDGET_SECONDS + MARGIN
    assert r.status_code == 200, r.text
    data = r.json()
    assert note in data["symbolic"]["note"]
    assert data["symbolic"]["derivatives"] == {}
    assert data["grads"]["x"] is not None  # the trace itself is whole
    assert len(data["steps"]) > 0


def test_post_trace_power_tower_at_1_1_is_fast_and_its_derivative_overflows_to_null(client):
    start = time.monotonic()
    r = client.post("/api/trace", json={"expression": "((x**64)**64)**64", "values": {"x": 1.1}})
    assert time.monotonic() - start < BUDGET_SECONDS + MARGIN
    symbolic = r.json()["symbolic"]
    assert symbolic["derivatives"]["x"] == {"text": "262144*x**262143", "value": None}
