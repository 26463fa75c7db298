"""A preset with new leaf values (the page's edit): the preset's graph with copies of those
leaves (``core.graph.with_leaf_values``) and its compiled program (``core.scalar.share_program``)
give exactly the trace, and the errors, of the graph assembled again from scratch."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_viz import service
from backprop_viz.core.engine import run_graph
from backprop_viz.core.graph import GraphError, assemble_graph
from backprop_viz.encoding import dumps, trace_to_json
from backprop_viz.examples import EXAMPLES
from backprop_viz.settings import Settings

SETTINGS = Settings()


def assembled_trace_bytes(example_id: str, values: dict) -> bytes:
    """The trace of the graph assembled from the preset's nodes with the overrides: the path
    every edit took before."""
    preset = EXAMPLES[example_id]
    validated = service.preset_nodes(example_id, (), SETTINGS)
    graph = assemble_graph(validated, preset.output, SETTINGS, overrides=values)
    return dumps(trace_to_json(run_graph(graph, preset.dout), SETTINGS.inline_elements))


def edited_trace_bytes(example_id: str, values: dict) -> bytes:
    result = service.trace(service.TraceQuery(example=example_id, values=values), SETTINGS)
    return dumps(trace_to_json(result.trace, SETTINGS.inline_elements))


def leaf_edits(example_id: str) -> list[dict]:
    """Edits of each leaf of the preset, keeping its shape: scaled, negated, zero."""
    edits = []
    for node in EXAMPLES[example_id].nodes:
        if node.get("op") == "input" and node.get("group") is None:
            value = np.asarray(node["value"], dtype=float)
            for new in (value * 1.5 + 0.25, -value, np.zeros_like(value)):
                edits.append({node["id"]: new.tolist()})
    return edits


@pytest.mark.parametrize("example_id", list(EXAMPLES))
def test_every_edit_of_every_preset_traces_as_the_graph_assembled_again(example_id):
    for values in leaf_edits(example_id)[:9]:  # the nets have many leaves: a few suffice
        assert edited_trace_bytes(example_id, values) == assembled_trace_bytes(example_id, values)


def test_apple_edits_in_a_row_each_get_their_own_numbers_and_the_preset_keeps_its_own():
    # 5.4.1: price = apple * count * tax; apple 100 yen -> 220 (2.2 per yen of apple)
    for apple, price in ((150, 330.0), (200, 200 * 2 * 1.1), (100, 220.00000000000003)):
        r = service.trace(service.TraceQuery(example="apple", values={"apple": apple}), SETTINGS)
        assert float(r.trace.values["price"]) == price
        assert float(r.trace.grads["apple"]) == pytest.approx(2.2)
    r = service.trace(service.TraceQuery(example="apple"), SETTINGS)
    assert float(r.trace.values["price"]) == 220.00000000000003
    assert r.to_json()["values"]["apple"] == 100.0


def test_an_edit_shares_the_presets_structure_and_program_but_not_its_leaves():
    from backprop_viz.core.scalar import program_for

    template = service.preset_graph("apple", (), SETTINGS, {})
    edited = service.preset_graph("apple", (), SETTINGS, {"apple": 150})
    assert edited is not template and edited.order is template.order
    assert edited.nodes["apple"] is not template.nodes["apple"]
    assert edited.nodes["tax"] is template.nodes["tax"]
    assert float(template.nodes["apple"].value) == 100.0
    ours, theirs = program_for(edited), program_for(template)
    assert ours is not theirs and ours.ops is theirs.ops
    assert {float(node.value) for _, node in ours.leaf_nodes} == {150.0, 2.0, 1.1}
    assert {float(node.value) for _, node in theirs.leaf_nodes} == {100.0, 2.0, 1.1}


@pytest.mark.parametrize(
    "values",
    [
        {"price": 3},  # an op node
        {"nope": 1},  # no such node
        {"apple": [1, 2]},  # another shape: assembled again, then accepted
        {"apple": "x"},
        {"apple": float("nan")},
        {"apple": [[1], [2, 3]]},
        {"a\u0000b": 1},
        {"apple": 150, "count": [[1.0, 2.0]]},
    ],
)
def test_a_bad_or_reshaped_edit_gets_what_the_assembled_graph_gets(values):
    def outcome(trace):
        try:
            return ("ok", trace())
        except GraphError as e:
            return (e.message, e.field, e.node)

    assert outcome(lambda: edited_trace_bytes("apple", values)) == outcome(
        lambda: assembled_trace_bytes("apple", values)
    )


def test_an_edit_of_another_shape_gets_its_own_shapes():
    values = {"X": [[1.0, 2.0]] * 4}  # affine: a batch of 4 instead of 2
    result = service.trace(service.TraceQuery(example="affine", values=values), SETTINGS)
    payload = result.to_json()
    shapes = {node["id"]: node["shape"] for node in payload["graph"]["nodes"]}
    assert shapes["X"] == [4, 2]
    assert edited_trace_bytes("affine", values) == assembled_trace_bytes("affine", values)


def test_an_edit_that_fits_the_limits_is_traced_where_the_preset_itself_does_not():
    # the book net (batch 100) over a tight budget; its first example alone fits, as before
    settings = Settings(max_total_elements=200_000)
    book = {n["id"]: n for n in EXAMPLES["two_layer_net_book"].nodes}
    values = {"x": book["x"]["value"][:1], "t": book["t"]["value"][:1]}
    with pytest.raises(GraphError) as refused:
        service.trace(service.TraceQuery(example="two_layer_net_book"), settings)
    assert "200000 elements" in refused.value.message
    for _ in range(2):  # the preset's failure is not cached as the edit's
        result = service.trace(
            service.TraceQuery(example="two_layer_net_book", values=values), settings
        )
        assert result.trace.values["x"].shape == (1, 784)
        validated = service.preset_nodes("two_layer_net_book", (), settings)
        preset = EXAMPLES["two_layer_net_book"]
        graph = assemble_graph(validated, preset.output, settings, overrides=values)
        again = trace_to_json(run_graph(graph, preset.dout), settings.inline_elements)
        assert dumps(trace_to_json(result.trace, settings.inline_elements)) == dumps(again)
    with pytest.raises(GraphError):  # and the preset as it is still does not fit
        service.trace(service.TraceQuery(example="two_layer_net_book"), settings)


def test_an_edit_of_another_shape_parses_each_value_once(monkeypatch):
    from backprop_viz.core import graph as graph_module

    parsed = []
    real = graph_module.parse_value

    def counting(raw, **kwargs):
        parsed.append(kwargs["node"])
        return real(raw, **kwargs)

    monkeypatch.setattr(graph_module, "parse_value", counting)
    values = {"X": [[1.0, 2.0]] * 4, "W": [[0.5, 0.5, 0.5]] * 2}  # X of a batch of 4
    result = service.trace(service.TraceQuery(example="affine", values=values), SETTINGS)
    assert result.trace.values["Y"].shape == (4, 3)
    assert sorted(parsed) == ["W", "X"]
