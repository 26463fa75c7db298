"""The scalar fast path's one-pass build (core.scalar_graph) makes the graph the full build
makes, field by field; gives every spec it does not plainly accept, and every error, to the full
build; and makes Node and Edge objects only when they are read."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from specs import APPLE, leaf, op
from test_scalar import draw_op, numbers

from backprop_viz import service
from backprop_viz.core.engine import ScalarTrace, run_graph
from backprop_viz.core.graph import Graph, GraphError, assemble_graph, build_graph, validate_nodes
from backprop_viz.core.scalar_graph import ScalarGraph, build_scalar_graph
from backprop_viz.encoding import dumps, trace_to_json
from backprop_viz.service import TraceQuery, build
from backprop_viz.settings import Settings

SETTINGS = Settings()
NON_FINITE_NAMES = ["NaN", "Infinity", "-Infinity"]


def full_build(nodes, output, overrides=None, settings=SETTINGS) -> Graph:
    """graph.py's build, node by node, without the one-pass build in front of it."""
    return assemble_graph(validate_nodes(nodes, settings), output, settings, overrides, copy=False)


def bits(value: np.ndarray) -> bytes:
    return struct.pack("<d", float(value)) if not math.isnan(value) else b"nan"


def assert_same_graph(fast: Graph, full: Graph) -> None:
    assert fast.order == full.order and fast.output == full.output
    assert fast.position == full.position
    assert list(fast.nodes) == list(full.nodes)
    for node_id, b in full.nodes.items():
        a = fast.nodes[node_id]
        for name in ("id", "op", "inputs", "label", "requires_grad", "params", "group", "labels"):
            assert getattr(a, name) == getattr(b, name), f"{node_id}.{name}"
            assert type(getattr(a, name)) is type(getattr(b, name)), f"{node_id}.{name}"
        assert (a.field, a.shape) == (b.field, b.shape), node_id
        assert a.params is not b.params  # each node its own dict, as make_node makes them
        if b.value is None:
            assert a.value is None, node_id
        else:
            assert a.value.dtype == b.value.dtype == np.float64 and a.value.shape == ()
            assert not a.value.flags.writeable
            assert bits(a.value) == bits(b.value), node_id
    edge = lambda e: (e.id, e.source, e.target, e.port)  # noqa: E731
    assert [edge(e) for e in fast.edges] == [edge(e) for e in full.edges]
    for field in ("inputs", "consumers"):
        assert {n: [edge(e) for e in es] for n, es in getattr(fast, field).items()} == {
            n: [edge(e) for e in es] for n, es in getattr(full, field).items()
        }


@st.composite
def plain_specs(draw):
    """A random plain scalar spec: every rule, forks, ints, non-finite names, and the optional
    fields (label, group, requires_grad, params) on some nodes; overrides of some leaves."""
    nodes = []
    for i in range(draw(st.integers(1, 4))):
        value = draw(
            st.one_of(numbers(), st.integers(-(2**53), 2**53), st.sampled_from(NON_FINITE_NAMES))
        )
        node = leaf(f"x{i}", value)
        if draw(st.booleans()):
            node["label"] = draw(st.sampled_from(["", f"x{i}", "x + y", "リンゴ", "α"]))
        if draw(st.integers(0, 4)) == 0:
            node["requires_grad"] = draw(st.sampled_from([False, 0, True]))
        nodes.append(node)
    for j in range(draw(st.integers(1, 12))):
        node = draw_op(draw, nodes, f"n{j}")
        if draw(st.integers(0, 3)) == 0:
            node["label"] = f"step {j}"
        if draw(st.integers(0, 5)) == 0:
            node["group"] = "g"
        nodes.append(node)
    leaves = [n["id"] for n in nodes if n["op"] == "input"]
    chosen = draw(st.lists(st.sampled_from(leaves), unique=True, max_size=len(leaves)))
    overrides = {node_id: draw(numbers()) for node_id in chosen}
    ops = [n["id"] for n in nodes if n["op"] != "input"]
    return nodes, draw(st.sampled_from(ops)), overrides


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plain_specs())
def test_a_plain_spec_builds_the_graph_and_the_trace_the_full_build_makes(case):
    nodes, output, overrides = case
    note(f"nodes={nodes!r} output={output!r} overrides={overrides!r}")
    fast = build_scalar_graph(nodes, output, SETTINGS, overrides)
    assert isinstance(fast, ScalarGraph)
    full = full_build(nodes, output, overrides)
    # the trace, and its JSON written from the compact lists before any Node exists
    fast_json = dumps(trace_to_json(run_graph(fast), 1000))
    assert "nodes" not in vars(fast)
    assert fast_json == dumps(trace_to_json(run_graph(full), 1000))
    assert_same_graph(fast, full)


def test_the_usual_request_never_makes_a_node_or_an_edge_object():
    nodes = [leaf(f"x{i}", i / 7) for i in range(50)]
    for i in range(40):
        name = ("add", "mul", "tanh")[i % 3]
        inputs = [f"x{i}"] if name == "tanh" else [f"x{i}", f"x{i + 1}"]
        nodes.append(op(f"n{i}", name, *inputs))
    nodes.append(op("out", "add", "n0", "n1"))
    queries = [
        TraceQuery(graph={"nodes": nodes, "output": "out"}),
        TraceQuery(expression="y = (a * b + tanh(a)) * exp(b)", values={"a": 0.5, "b": 2}),
    ]
    for query in queries:
        result = service.trace(query, SETTINGS)
        dumps(result.to_json())  # what POST /api/trace answers
        graph = result.trace.graph
        assert isinstance(graph, ScalarGraph) and isinstance(result.trace, ScalarTrace)
        assert not {"nodes", "edges", "inputs", "consumers"} & set(vars(graph)), query


def test_the_apple_graph_builds_in_one_pass_with_the_books_numbers():
    graph = build_graph(APPLE, "price", SETTINGS)
    assert isinstance(graph, ScalarGraph)
    trace = run_graph(graph)
    assert float(trace.values["price"]) == pytest.approx(220)
    grads = {n: float(trace.grads[n]) for n in ("apple", "apple_num", "tax")}
    assert grads == pytest.approx({"apple": 2.2, "apple_num": 110, "tax": 200})


def test_once_its_nodes_are_read_they_are_the_graph():
    # a caller that changes a node (tests/core/test_properties.py does) gets that node's value:
    # the program compiled without the nodes is dropped, and compiled again from them
    graph = build_graph(APPLE, "price", SETTINGS)
    graph.nodes["apple"].value = np.array(150.0)
    graph.nodes["apple"].value.flags.writeable = False
    assert "_scalar_program" not in vars(graph) or vars(graph)["_scalar_program"].init[0] == 150
    trace = run_graph(graph)
    assert float(trace.values["price"]) == pytest.approx(330)
    assert isinstance(trace, ScalarTrace)


def test_a_formula_with_values_builds_in_one_pass():
    query = TraceQuery(
        expression="price = apple * apple_num * tax",
        values={"apple": 100, "apple_num": 2, "tax": 1.1},
    )
    graph, _ = build(query, SETTINGS)
    assert isinstance(graph, ScalarGraph)
    trace = run_graph(graph)
    assert float(trace.values[graph.output]) == pytest.approx(220)
    assert float(trace.grads["tax"]) == pytest.approx(200)


def apple_with(index: int, **changes):
    nodes = [dict(n) for n in APPLE]
    nodes[index].update(changes)
    for key, value in list(changes.items()):
        if value is DROP:
            del nodes[index][key]
    return nodes


DROP = object()

# (what the spec is, nodes, output, overrides, the field the full build's error names)
ERRORS = [
    ("a duplicate id", apple_with(3, id="apple"), "price", None, "graph.nodes[3].id"),
    ("an empty id", apple_with(0, id=""), "price", None, "graph.nodes[0]"),
    ("an id with ->", apple_with(0, id="a->b"), "price", None, "graph.nodes[0].id"),
    ("an id of 101 characters", apple_with(0, id="a" * 101), "price", None, "graph.nodes[0].id"),
    ("a control character", apple_with(0, id="ap\x01ple"), "price", None, "graph.nodes[0].id"),
    ("a number for an id", apple_with(0, id=5), "price", None, "graph.nodes[0]"),
    ("an unknown op", apple_with(2, op="times"), "price", None, "graph.nodes[2].op"),
    ("an op that is a list", apple_with(2, op=["mul"]), "price", None, "graph.nodes[2].op"),
    ("a leaf without a value", apple_with(0, value=DROP), "price", None, "graph.nodes[0].value"),
    ("a leaf value of null", apple_with(0, value=None), "price", None, "graph.nodes[0].value"),
    ("a value on an op", apple_with(2, value=3.0), "price", None, "graph.nodes[2].value"),
    ("a string value", apple_with(0, value="abc"), "price", None, "graph.nodes[0].value"),
    ("a boolean value", apple_with(0, value=True), "price", None, "graph.nodes[0].value"),
    ("one input of two", apple_with(2, inputs=["apple"]), "price", None, "graph.nodes[2].inputs"),
    (
        "an unknown input",
        apple_with(2, inputs=["apple", "pear"]),
        "price",
        None,
        "graph.nodes[2].inputs",
    ),
    ("a cycle", apple_with(2, inputs=["apple", "price"]), "price", None, "graph.nodes"),
    (
        "a control character in a label",
        apple_with(0, label="a\u202eb"),
        "price",
        None,
        "graph.nodes[0].label",
    ),
    (
        "a param mul does not take",
        apple_with(2, params={"p": 2}),
        "price",
        None,
        "graph.nodes[2].params",
    ),
    ("a node that is a list", [*APPLE[:4], ["price"]], "price", None, "graph.nodes[4]"),
    ("no such output", APPLE, "cost", None, "graph.output"),
    ("an override of no node", APPLE, "price", {"pear": 1}, "values"),
    ("an override of an op node", APPLE, "price", {"apple_price": 1}, "values"),
    ("an override that is not a number", APPLE, "price", {"apple": "abc"}, "values.apple"),
    (
        "a constant of an expanded composite",
        apple_with(0, group="sigmoid"),
        "price",
        {"apple": 2},
        "values",
    ),
]


@pytest.mark.parametrize(
    ("nodes", "output", "overrides", "field"),
    [case[1:] for case in ERRORS],
    ids=[case[0] for case in ERRORS],
)
def test_every_error_is_the_full_builds_own(nodes, output, overrides, field):
    assert build_scalar_graph(nodes, output, SETTINGS, overrides) is None
    with pytest.raises(GraphError) as raised:
        build_graph(nodes, output, SETTINGS, overrides)
    with pytest.raises(GraphError) as full:
        full_build(nodes, output, overrides)
    assert raised.value.field == field
    assert (raised.value.message, raised.value.node) == (full.value.message, full.value.node)


def test_too_many_nodes_and_too_many_elements_are_the_full_builds_errors():
    few = Settings(max_nodes=4)
    assert build_scalar_graph(APPLE, "price", few) is None
    with pytest.raises(GraphError, match="5 nodes is more than the limit of 4"):
        build_graph(APPLE, "price", few)
    # apple holds 5 values and 4 edge gradients, and apple_price forks nowhere: 9 elements
    tight = Settings(max_total_elements=8)
    assert build_scalar_graph(APPLE, "price", tight) is None
    with pytest.raises(GraphError, match="add up to more than 8 elements") as raised:
        build_graph(APPLE, "price", tight)
    assert raised.value.node == "price"
    assert isinstance(build_graph(APPLE, "price", Settings(max_total_elements=9)), ScalarGraph)
    # x * x: x's value, y's and its two edge gradients, and the sum at the fork x: 5 elements
    square = [leaf("x", 3.0), op("y", "mul", "x", "x")]
    assert build_scalar_graph(square, "y", Settings(max_total_elements=4)) is None
    with pytest.raises(GraphError, match="add up to more than 4 elements"):
        build_graph(square, "y", Settings(max_total_elements=4))
    assert isinstance(build_graph(square, "y", Settings(max_total_elements=5)), ScalarGraph)


@pytest.mark.parametrize(
    "nodes",
    [
        [leaf("x", 3.0), op("y", "mul", "x", "x")],
        [leaf("x", 3.0), op("y", "tanh", "x"), op("z", "mul", "x", "y")],
        [leaf("x", 3.0), op("y", "relu", "x"), op("z", "div", "y", "x"), op("w", "sub", "z", "y")],
        [leaf("x", 0.5), op("s", "sigmoid", "x"), op("t", "add", "s", "s"), op("u", "pow", "t")],
    ],
)
def test_the_element_budget_is_the_full_builds_at_every_limit(nodes):
    # forks on either port, what relu keeps for backward, the scratch arrays of div and sigmoid
    output = nodes[-1]["id"]
    for limit in range(1, 20):
        tight = Settings(max_total_elements=limit)
        try:
            full_build(nodes, output, settings=tight)
        except GraphError:
            assert build_scalar_graph(nodes, output, tight) is None, limit
        else:
            assert isinstance(build_scalar_graph(nodes, output, tight), ScalarGraph), limit


VALID_BUT_NOT_PLAIN = [
    ("a Japanese id", apple_with(0, id="リンゴ"), {"inputs": ["リンゴ", "apple_num"]}),
    ("an integer past 2**53", apple_with(0, value=2**60), {}),
    ("a node that reads a later one", [APPLE[2], *APPLE[:2], *APPLE[3:]], {}),
    ("labels in two languages", apple_with(0, labels={"en": "apple", "ja": "リンゴ"}), {}),
    ("an op without a scalar rule", [leaf("x", [1.0, 2.0]), op("y", "sum", "x")], {}),
]


@pytest.mark.parametrize(
    ("nodes", "fix"),
    [case[1:] for case in VALID_BUT_NOT_PLAIN],
    ids=[c[0] for c in VALID_BUT_NOT_PLAIN],
)
def test_a_valid_spec_the_loop_does_not_read_is_built_in_full(nodes, fix):
    nodes = [dict(n) for n in nodes]
    if fix:
        nodes[2].update(fix)
    output = nodes[-1]["id"]
    assert build_scalar_graph(nodes, output, SETTINGS) is None
    graph = build_graph(nodes, output, SETTINGS)
    assert type(graph) is Graph
    assert dumps(trace_to_json(run_graph(graph), 1000)) == dumps(
        trace_to_json(run_graph(full_build(nodes, output)), 1000)
    )


def test_two_threads_that_read_the_nodes_at_once_get_the_same_nodes():
    import sys
    import threading

    nodes = [leaf("x0", 0.5)] + [
        op(f"n{i}", "tanh", f"n{i - 1}" if i else "x0") for i in range(3000)
    ]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, inside materialise too
    try:
        for _ in range(5):
            graph = build_graph(nodes, "n2999", SETTINGS)
            start, seen, errors = threading.Barrier(2), [], []

            def read(graph=graph, start=start, seen=seen, errors=errors):
                start.wait()
                try:
                    seen.append(graph.nodes)
                except Exception as e:  # noqa: BLE001 - the failure under test
                    errors.append(e)

            threads = [threading.Thread(target=read) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == [] and seen[0] is seen[1] and len(seen[0]) == 3001
    finally:
        sys.setswitchinterval(interval)


def test_the_payload_is_the_callers_own_and_changing_it_changes_no_run():
    # two pow nodes of the default exponent 2, one with a label (a node with extras)
    nodes = [leaf("x", 3.0), op("a", "pow", "x"), op("b", "pow", "x"), op("z", "add", "a", "b")]
    nodes[1]["label"] = "A"
    graph = build_graph(nodes, "z", SETTINGS)
    payload = trace_to_json(run_graph(graph), 1000)
    for node in payload["graph"]["nodes"]:
        node["params"]["p"] = 3
    trace = run_graph(graph)
    assert (float(trace.values["a"]), float(trace.values["b"])) == (9.0, 9.0)
    assert all(graph.nodes[n].params == {"p": 2} for n in ("a", "b"))


def test_a_scalar_graph_is_a_graph_to_replace_and_compare():
    import dataclasses

    graph = build_graph(APPLE, "price", SETTINGS)
    assert graph == full_build(APPLE, "price") and full_build(APPLE, "price") == graph
    changed = dict(graph.nodes)
    changed["tax"] = dataclasses.replace(graph.nodes["tax"], value=np.array(1.0))
    other = dataclasses.replace(graph, nodes=changed)
    assert float(run_graph(other).values["price"]) == 200.0
    assert float(run_graph(graph).values["price"]) == pytest.approx(220)


def test_a_trace_keeps_the_leaf_values_it_ran_with():
    graph = build_graph(APPLE, "price", SETTINGS)
    trace = run_graph(graph)
    graph.nodes["apple"].value = np.array(150.0)
    assert float(trace.values["apple"]) == 100.0
    assert float(run_graph(graph).values["apple"]) == 150.0


@pytest.mark.parametrize(
    ("nodes", "output", "overrides", "expand", "field"),
    [
        ([*APPLE[:4], ["price"]], "price", None, ["x"], "graph.nodes[4]"),
        (APPLE, "price", {1: 2.0}, [], "values"),
        (APPLE, ["price"], None, [], "graph.output"),
    ],
    ids=["a node that is a list, with expand", "an override key that is a number", "a list output"],
)
def test_what_only_python_callers_can_send_is_a_graph_error(
    nodes, output, overrides, expand, field
):
    from backprop_viz.core.composites import expand_composites

    with pytest.raises(GraphError) as raised:
        build_graph(expand_composites(list(nodes), expand), output, SETTINGS, overrides)
    assert raised.value.field == field


def test_a_graph_run_again_after_a_leaf_changed_uses_the_new_value():
    # a spec the one-pass build leaves to the full build (labels): a plain Graph, whose
    # compiled program is kept between runs; a run reads the leaves from their nodes
    nodes = [leaf("x", 2.0, labels={"en": "x", "ja": "エックス"}), op("y", "mul", "x", "x")]
    graph = build_graph(nodes, "y", SETTINGS)
    assert type(graph) is Graph and float(run_graph(graph).values["y"]) == 4.0
    graph.nodes["x"].value = np.array(3.0)
    trace = run_graph(graph)
    assert isinstance(trace, ScalarTrace)
    assert (float(trace.values["x"]), float(trace.values["y"])) == (3.0, 9.0)
