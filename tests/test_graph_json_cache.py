"""The graph part of a preset's trace is written once per graph (``encoding.encoded_graph_json``)
and embedded as bytes: ``TraceResult.to_json_bytes()`` is ``dumps(to_json())`` byte for byte,
with overrides, expanded composites, forward mode, formulas and hostile text, and what a caller
does to the dicts it got never reaches the next answer."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest

from backprop_viz import encoding, service
from backprop_viz.core.graph import GraphError, assemble_graph, validate_nodes
from backprop_viz.core.ops import OPS
from backprop_viz.encoding import EncodedJSON, _json_dumps, dumps, encoded_graph_json
from backprop_viz.examples import EXAMPLES
from backprop_viz.settings import Settings


@pytest.fixture(autouse=True)
def empty_cache(monkeypatch):
    """Each test starts from an empty graph JSON cache (and leaves the process's alone)."""
    monkeypatch.setattr(encoding, "_GRAPH_JSON", {})
    return encoding._GRAPH_JSON


def composites_of(example_id: str) -> list[str]:
    return [n["id"] for n in EXAMPLES[example_id].nodes if OPS[n["op"]].expand is not None]


def an_override(example_id: str) -> dict[str, object]:
    """A new value, of the same shape, for the preset's smallest leaf that is not data (t)."""
    leaves = [n for n in EXAMPLES[example_id].nodes if n["op"] == "input" and n["id"] != "t"]
    leaf = min(leaves, key=lambda n: np.size(n["value"]))
    return {leaf["id"]: (np.asarray(leaf["value"], dtype=float) * 0.5 + 0.25).tolist()}


def assert_same_answer(query: service.TraceQuery) -> bytes:
    """Twice (the first fills the cache, the second reads it): the new path's bytes are those
    of ``dumps(to_json())`` and decode to ``to_json()``."""
    settings = Settings()
    for _ in range(2):
        result = service.trace(query, settings)
        fast = result.to_json_bytes()
        assert fast == dumps(result.to_json())
        assert orjson.loads(fast) == result.to_json()
    return fast


@pytest.mark.parametrize("overridden", [False, True], ids=["preset", "override"])
@pytest.mark.parametrize(
    ("example_id", "expanded"),
    [(e, False) for e in EXAMPLES] + [(e, True) for e in EXAMPLES if composites_of(e)],
)
def test_every_preset_answers_the_same_bytes(example_id, expanded, overridden, empty_cache):
    expand = composites_of(example_id) if expanded else []
    values = an_override(example_id) if overridden else {}
    query = service.TraceQuery(example=example_id, values=values, expand=expand)
    assert_same_answer(query)
    assert len(empty_cache) == 1
    (kept,) = empty_cache.values()
    again = service.trace(query, Settings())
    assert encoded_graph_json(again.trace.graph) is kept[1]  # read from the cache, not rewritten


@pytest.mark.parametrize(
    ("example_id", "wrt", "wrt_index"),
    [("apple", "tax", None), ("affine", "X", [1]), ("two_layer_net", "W1", [0, 2])],
)
def test_forward_mode_answers_the_same_bytes(example_id, wrt, wrt_index):
    query = service.TraceQuery(example=example_id, mode="forward", wrt=wrt, wrt_index=wrt_index)
    assert b'"tangents"' in assert_same_answer(query)


def test_the_book_net_in_full_answers_the_same_bytes():
    assert_same_answer(service.TraceQuery(example="two_layer_net_book", full=True))


def test_a_formula_and_a_client_graph_answer_the_same_bytes(empty_cache):
    formula = service.TraceQuery(expression="(x + y) ** 2 * tanh(x)", values={"x": 0.5, "y": -2})
    assert b'"symbolic"' in assert_same_answer(formula)
    hostile = 'quote " and \\ backslash, りんご 🍎 </script><!--'
    spec = {
        "nodes": [
            {"id": "a", "op": "input", "value": [1.5, -2.0], "label": hostile},
            {"id": "b", "op": "input", "value": 3.0, "labels": {"en": hostile, "ja": "値"}},
            {"id": "c", "op": "pow", "inputs": ["a"], "params": {"p": 0.5}},
            {"id": "d", "op": "mul", "inputs": ["c", "b"], "label": hostile},
        ],
        "output": "d",
    }
    written = json.dumps(hostile, ensure_ascii=False).encode()  # its quote and backslash escaped
    assert written in assert_same_answer(service.TraceQuery(graph=spec))
    assert empty_cache == {}  # a client's graph is its own: nothing to keep


def test_a_lone_surrogate_in_a_label_is_refused_with_its_field():
    spec = {
        "nodes": [{"id": "a", "op": "input", "value": 1.0, "label": "a \ud800"}],
        "output": "a",
    }
    with pytest.raises(GraphError) as info:
        service.trace(service.TraceQuery(graph=spec), Settings())
    assert info.value.field == "graph.nodes[0].label"
    assert "lone surrogate" in info.value.message


def test_a_graph_part_orjson_refuses_is_written_by_json_dumps_as_before(empty_cache):
    # Only Python can put a lone surrogate in a graph's JSON (the validator refuses one from a
    # client): the graph part is then json.dumps's, like the rest, and not kept.
    settings = Settings()
    validated = validate_nodes(EXAMPLES["apple"].nodes, settings)
    validated["apple"].label = "apple \ud800"
    graph = assemble_graph(validated, "price", settings)
    assert isinstance(encoded_graph_json(graph), dict)
    result = service.TraceResult(service.run_graph(graph), None, settings.inline_elements)
    assert result.to_json_bytes() == dumps(result.to_json()) == _json_dumps(result.to_json())
    assert b"apple \\ud800" in result.to_json_bytes()
    assert empty_cache == {}


def test_json_dumps_writes_a_cached_graph_part_as_its_values(empty_cache):
    # orjson refuses the payload (a lone surrogate outside the graph part): json.dumps writes it,
    # the cached part decoded in place, the same bytes as the payload of plain values.
    result = service.trace(service.TraceQuery(example="apple"), Settings())
    result.to_json_bytes()  # fill the cache
    part = encoded_graph_json(result.trace.graph)
    assert isinstance(part, EncodedJSON)
    with_part = {"graph": part, "note": "\ud800", "big": 2**70}
    plain = {"graph": result.to_json()["graph"], "note": "\ud800", "big": 2**70}
    assert dumps(with_part) == dumps(plain) == _json_dumps(plain)
    assert json.loads(dumps(with_part))["graph"] == plain["graph"]


def test_what_a_caller_does_to_its_dicts_does_not_change_the_next_answer():
    settings = Settings()
    query = service.TraceQuery(example="sigmoid_steps")
    first = service.trace(query, settings)
    expected = first.to_json_bytes()
    mine = first.to_json()
    graph = mine["graph"]
    graph["order"].reverse()
    graph["edges"].clear()
    for node in graph["nodes"]:
        node["inputs"].append("x")
        node["params"]["p"] = 3
        node["symbol"] = "?"
        node["shape"].append(7)
    graph["nodes"].pop()
    mine["passes"]["forward"] = 99
    again = service.trace(query, settings)
    assert again.to_json_bytes() == expected
    assert dumps(again.to_json()) == expected
    assert float(again.trace.values["y"]) == float(first.trace.values["y"])


@pytest.mark.parametrize(
    ("example_id", "override", "shapes"),
    [
        # a batch of four: X (2,) -> (4, 2), so Y (3,) -> (4, 3)
        ("affine", {"X": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]}, {"X": [4, 2]}),
        # a batch of three for the two-layer net: x (2, 4) -> (3, 4), its labels t with it
        (
            "two_layer_net",
            {"x": [[0.1, 0.2, 0.3, 0.4]] * 3, "t": [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]},
            {"x": [3, 4], "t": [3, 2], "loss": []},
        ),
    ],
)
def test_an_override_of_another_shape_gets_its_shapes(example_id, override, shapes):
    settings = Settings()
    plain = service.TraceQuery(example=example_id)
    before = orjson.loads(assert_same_answer(plain))["graph"]["nodes"]
    overridden = service.TraceQuery(example=example_id, values=override)
    answer = orjson.loads(assert_same_answer(overridden))
    after = {n["id"]: n["shape"] for n in answer["graph"]["nodes"]}
    for node_id, shape in shapes.items():
        assert after[node_id] == shape
    if example_id == "affine":
        assert after["Y"] == [4, 3]
    else:
        assert after["affine1"] == [3, 3] and after["affine2"] == [3, 2]
    assert after != {n["id"]: n["shape"] for n in before}
    # and the preset's own shapes again, not the override's
    again = service.trace(plain, settings).to_json_bytes()
    assert orjson.loads(again)["graph"]["nodes"] == before


def test_the_cache_is_bounded_and_keyed_by_the_nodes_themselves(empty_cache):
    settings = Settings()
    validated = service.preset_nodes("affine", (), settings)
    for batch in range(1, encoding.GRAPH_JSON_CACHE_SIZE + 6):
        graph = assemble_graph(validated, "Y", settings, overrides={"X": [[1.0, 2.0]] * batch})
        part = encoded_graph_json(graph)
        assert orjson.loads(part.encoded)["nodes"][0]["shape"] == [batch, 2]
        assert len(empty_cache) <= encoding.GRAPH_JSON_CACHE_SIZE
    # an entry whose nodes are not these (their id reused by other nodes) is never served
    graph = assemble_graph(validated, "Y", settings)
    key = (id(validated), "Y", tuple(node.shape for node in graph.nodes.values()))
    empty_cache[key] = ({}, EncodedJSON(b'{"poisoned":true}'))
    assert orjson.loads(encoded_graph_json(graph).encoded) == encoding.graph_json(graph)
