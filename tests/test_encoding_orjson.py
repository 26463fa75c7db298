"""orjson writes the same JSON as the standard library's encoder did, NaN strings, budget and
lone surrogates included."""

from __future__ import annotations

import json

import pytest

from backprop_viz import service
from backprop_viz.encoding import _json_dumps, dumps
from backprop_viz.examples import EXAMPLES
from backprop_viz.settings import Settings


def same_json(payload) -> dict:
    fast, standard = dumps(payload), _json_dumps(payload)
    decoded = json.loads(fast)
    assert decoded == json.loads(standard)
    return decoded


@pytest.mark.parametrize("example_id", list(EXAMPLES))
def test_every_preset_encodes_as_before(example_id):
    result = service.trace(service.TraceQuery(example=example_id), Settings())
    same_json(result.to_json())


def test_the_book_net_keeps_its_summaries_and_full_arrays():
    settings = Settings()
    summarised = same_json(
        service.trace(service.TraceQuery(example="two_layer_net_book"), settings).to_json()
    )
    assert summarised["values"]["W1"]["shape"] == [784, 50]
    full = service.trace(service.TraceQuery(example="two_layer_net_book", full=True), settings)
    assert len(same_json(full.to_json())["values"]["W1"]) == 784


def test_a_formula_encodes_as_before():
    query = service.TraceQuery(expression="(x + y) ** 2 * tanh(x)", values={"x": 0.5, "y": -2})
    decoded = same_json(service.trace(query, Settings()).to_json())
    assert "symbolic" in decoded


def test_non_finite_values_are_the_same_strings():
    spec = {
        "nodes": [
            {"id": "a", "op": "input", "value": ["NaN", "Infinity", "-Infinity", 1.5]},
            {"id": "b", "op": "input", "value": [1.0, 2.0, 3.0, "Infinity"]},
            {"id": "c", "op": "mul", "inputs": ["a", "b"]},
        ],
        "output": "c",
    }
    decoded = same_json(service.trace(service.TraceQuery(graph=spec), Settings()).to_json())
    assert decoded["values"]["a"] == ["NaN", "Infinity", "-Infinity", 1.5]
    assert decoded["values"]["c"] == ["NaN", "Infinity", "-Infinity", "Infinity"]


def test_a_lone_surrogate_is_escaped_as_before():
    payload = {
        "detail": "values: the key '\ud800x' names no node",
        "field": "values",
        "node": "\ud800x",
    }
    assert dumps(payload) == _json_dumps(payload)
    assert b"\\ud800x" in dumps(payload)
    assert json.loads(dumps(payload)) == payload


def test_what_orjson_refuses_is_still_encoded():
    payload = {"big": 2**70, 1: "int key", "nested": [{"deep": "\udfff"}]}
    assert dumps(payload) == _json_dumps(payload)
    assert json.loads(dumps(payload))["1"] == "int key"


def test_text_is_utf8_not_escaped():
    assert dumps({"ja": "逆伝播"}) == '{"ja":"逆伝播"}'.encode()
