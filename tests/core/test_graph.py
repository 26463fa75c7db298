"""Graph validation: every class of bad spec is a GraphError naming the field and the node."""

from __future__ import annotations

import time

import numpy as np
import pytest
from specs import APPLE, leaf, op

from backprop_viz.core.graph import GraphError, build_graph, parse_value
from backprop_viz.settings import Settings

SETTINGS = Settings()


def graph_error(nodes, output, settings=SETTINGS, overrides=None) -> GraphError:
    with pytest.raises(GraphError) as info:
        build_graph(nodes, output, settings, overrides)
    return info.value


# --- a valid graph ----------------------------------------------------------------------------


def test_build_graph_orders_nodes_topologically_and_keeps_the_spec_order_on_ties():
    graph = build_graph(APPLE, "price", SETTINGS)
    assert graph.order == ["apple", "apple_num", "apple_price", "tax", "price"]
    assert graph.output == "price"


def test_build_graph_orders_ops_after_their_inputs_whatever_the_spec_order():
    nodes = list(reversed(APPLE))
    graph = build_graph(nodes, "price", SETTINGS)
    position = {n: i for i, n in enumerate(graph.order)}
    for node in nodes:
        for source in node.get("inputs", []):
            assert position[source] < position[node["id"]]


def test_build_graph_records_every_edge_with_its_port_and_the_fan_out():
    nodes = [leaf("x", 3), op("y", "mul", "x", "x"), op("z", "add", "y", "x")]
    graph = build_graph(nodes, "z", SETTINGS)
    assert [e.id for e in graph.edges] == ["x->y:0", "x->y:1", "y->z:0", "x->z:1"]
    assert [e.id for e in graph.consumers["x"]] == ["x->y:0", "x->y:1", "x->z:1"]
    assert graph.consumers["z"] == []


def test_build_graph_infers_shapes_before_any_arithmetic():
    nodes = [
        leaf("x", [[1, 2, 3], [4, 5, 6]]),
        leaf("W", np.ones((3, 4)).tolist()),
        op("xW", "matmul", "x", "W"),
        leaf("b", [1, 2, 3, 4]),
        op("y", "add", "xW", "b"),
        op("s0", "sum", "y", axis=0),
        op("s", "sum", "y"),
    ]
    graph = build_graph(nodes, "s", SETTINGS)
    shapes = {n: graph.nodes[n].shape for n in graph.order}
    assert shapes == {
        "x": (2, 3),
        "W": (3, 4),
        "xW": (2, 4),
        "b": (4,),
        "y": (2, 4),
        "s0": (4,),
        "s": (),
    }


def test_build_graph_overrides_a_leaf_value():
    graph = build_graph(APPLE, "price", SETTINGS, overrides={"apple": 150})
    assert float(graph.nodes["apple"].value) == 150.0


def test_build_graph_leaf_values_are_read_only_float64_arrays():
    graph = build_graph(APPLE, "price", SETTINGS)
    value = graph.nodes["apple"].value
    assert value.dtype == np.float64
    with pytest.raises(ValueError, match="read-only"):
        value[...] = 0


def test_parse_value_accepts_the_non_finite_names_the_trace_writes():
    value = parse_value(["NaN", "Infinity", "-Infinity", 1], field="v")
    assert np.isnan(value[0])
    assert value[1] == np.inf and value[2] == -np.inf and value[3] == 1.0


# --- every class of bad spec -------------------------------------------------------------------


def test_build_graph_rejects_an_unknown_op_naming_the_node():
    e = graph_error([leaf("x", 1), op("y", "sqrt", "x")], "y")
    assert e.node == "y"
    assert e.field == "graph.nodes[1].op"
    assert "unknown op 'sqrt'" in e.message and "'y'" in e.message


@pytest.mark.parametrize(
    "spec,expected",
    [
        (op("y", "mul", "x"), "mul takes 2 input(s)"),
        (op("y", "exp", "x", "x"), "exp takes 1 input(s)"),
        (op("y", "affine", "x", "x"), "affine takes 3 input(s)"),
        ({"id": "y", "op": "input", "value": 1, "inputs": ["x"]}, "input takes 0 input(s)"),
    ],
)
def test_build_graph_rejects_the_wrong_number_of_inputs(spec, expected):
    e = graph_error([leaf("x", 1), spec], "y")
    assert e.node == "y"
    assert e.field == "graph.nodes[1].inputs"
    assert expected in e.message and "'y'" in e.message


@pytest.mark.parametrize("bad_id", [None, "", 5])
def test_build_graph_rejects_a_missing_id(bad_id):
    e = graph_error([leaf("x", 1), {"id": bad_id, "op": "exp", "inputs": ["x"]}], "x")
    assert e.field == "graph.nodes[1]"
    assert "graph.nodes[1].id" in e.message and "id" in e.message


def test_build_graph_rejects_a_duplicate_id():
    e = graph_error([leaf("x", 1), leaf("x", 2)], "x")
    assert e.node == "x"
    assert e.field == "graph.nodes[1].id"
    assert "duplicate id 'x'" in e.message


def test_build_graph_rejects_an_input_that_is_not_a_node():
    e = graph_error([leaf("x", 1), op("y", "add", "x", "ghost")], "y")
    assert e.node == "y"
    assert e.field == "graph.nodes[1].inputs"
    assert "'ghost'" in e.message and "'y'" in e.message


def test_build_graph_rejects_a_missing_output():
    e = graph_error([leaf("x", 1)], "nope")
    assert e.field == "graph.output"
    assert "'nope'" in e.message


@pytest.mark.parametrize(
    "nodes",
    [
        [leaf("x", 1), op("a", "add", "x", "b"), op("b", "exp", "a")],
        [op("a", "exp", "a")],
        [leaf("x", 1), op("a", "exp", "c"), op("b", "exp", "a"), op("c", "add", "b", "x")],
    ],
    ids=["two", "self-loop", "three"],
)
def test_build_graph_rejects_a_cycle_naming_a_node_on_it(nodes):
    e = graph_error(nodes, nodes[-1]["id"])
    cycle = {n["id"] for n in nodes if n["op"] != "input"}
    assert e.node in cycle
    assert e.field == "graph.nodes"
    assert "cycle" in e.message and repr(e.node) in e.message


@pytest.mark.parametrize(
    "nodes,expected",
    [
        (
            [
                leaf("x", np.ones((2, 3)).tolist()),
                leaf("W", np.ones((2, 4)).tolist()),
                op("y", "matmul", "x", "W"),
            ],
            "do not fit",
        ),
        (
            [
                leaf("x", np.ones((2, 2, 2)).tolist()),
                leaf("W", np.ones((2, 4)).tolist()),
                op("y", "matmul", "x", "W"),
            ],
            "vectors or matrices",
        ),
        (
            [
                leaf("x", np.ones((2, 3)).tolist()),
                leaf("W", np.ones((4, 5)).tolist()),
                leaf("b", np.ones(5).tolist()),
                op("y", "affine", "x", "W", "b"),
            ],
            "features",
        ),
        (
            [
                leaf("x", np.ones((2, 3)).tolist()),
                leaf("W", np.ones((3, 5)).tolist()),
                leaf("b", np.ones(4).tolist()),
                op("y", "affine", "x", "W", "b"),
            ],
            "does not broadcast",
        ),
        (
            [
                leaf("x", np.ones((2, 3)).tolist()),
                leaf("W", np.ones(3).tolist()),
                leaf("b", 0),
                op("y", "affine", "x", "W", "b"),
            ],
            "W must be a matrix",
        ),
        (
            [
                leaf("x", np.ones((2, 3)).tolist()),
                leaf("z", np.ones((2, 4)).tolist()),
                op("y", "add", "x", "z"),
            ],
            "do not broadcast",
        ),
        (
            [
                leaf("x", np.ones((2, 3)).tolist()),
                leaf("t", [0, 1, 2]),
                op("y", "softmax_with_loss", "x", "t"),
            ],
            "t must be one-hot",
        ),
    ],
    ids=[
        "matmul",
        "matmul-3d",
        "affine-W",
        "affine-b",
        "affine-W-vector",
        "broadcast",
        "softmax-t",
    ],
)
def test_build_graph_rejects_shapes_that_do_not_fit(nodes, expected):
    e = graph_error(nodes, "y")
    where = f"graph.nodes[{len(nodes) - 1}]"
    assert e.node == "y"
    assert e.field == where
    assert expected in e.message and "'y'" in e.message and where in e.message


@pytest.mark.parametrize(
    "value,expected",
    [
        ("abc", "got the string 'abc'"),
        (True, "got true"),
        ({"a": 1}, "got an object"),
        ([[1, 2], [3]], "rows of different lengths"),
        ([1, [2, 3]], "rows of different lengths"),
        ([1, "two"], "every element must be a number, got the string 'two'"),
        ([1, None], "every element must be a number, got null"),
        ([1, False], "every element must be a number"),
        ([], "empty"),
        ([[[[[[[[[[1]]]]]]]]]], "nested too deep"),
        (10**400, "too large"),
    ],
    ids=[
        "string",
        "bool",
        "object",
        "ragged",
        "ragged-mixed",
        "string-in-list",
        "null-in-list",
        "bool-in-list",
        "empty",
        "too-deep",
        "huge-int",
    ],
)
def test_build_graph_rejects_a_value_that_is_not_a_number(value, expected):
    e = graph_error([leaf("ok", 1), leaf("x", value), op("y", "add", "ok", "x")], "y")
    assert e.node == "x"
    assert e.field == "graph.nodes[1].value"
    assert expected in e.message
    assert "graph.nodes[1].value" in e.message and "'x'" in e.message


def test_build_graph_rejects_an_input_without_a_value():
    e = graph_error([{"id": "x", "op": "input"}], "x")
    assert e.node == "x"
    assert "needs a value" in e.message


def test_build_graph_rejects_a_value_on_an_op_node():
    e = graph_error([leaf("x", 1), {**op("y", "exp", "x"), "value": 3}], "y")
    assert e.node == "y"
    assert "only inputs take a value" in e.message


def test_build_graph_rejects_an_override_of_an_unknown_id():
    e = graph_error(APPLE, "price", overrides={"banana": 1})
    assert (e.field, e.node) == ("values", "banana")
    assert "values.banana" in e.message and "'banana'" in e.message


def test_build_graph_rejects_an_override_of_an_op_node():
    e = graph_error(APPLE, "price", overrides={"apple_price": 1})
    assert (e.field, e.node) == ("values", "apple_price")
    assert "only inputs take values" in e.message


def test_build_graph_rejects_an_override_that_is_not_a_number():
    e = graph_error(APPLE, "price", overrides={"apple": "lots"})
    assert (e.field, e.node) == ("values.apple", "apple")
    assert "the string 'lots'" in e.message


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"p": 1e9}, "at most 64"),
        ({"p": float("nan")}, "finite"),
        ({"p": float("inf")}, "finite"),
        ({"p": "2"}, "finite number"),
        ({"p": True}, "finite number"),
        ({"q": 2}, "unknown param 'q'"),
    ],
    ids=["huge", "nan", "inf", "string", "bool", "unknown"],
)
def test_build_graph_rejects_bad_pow_params(params, expected):
    e = graph_error([leaf("x", 2), {**op("y", "pow", "x"), "params": params}], "y")
    assert e.node == "y"
    assert e.field == "graph.nodes[1].params"
    assert expected in e.message and "'y'" in e.message


@pytest.mark.parametrize("axis", [2, -3, 100])
def test_build_graph_rejects_a_sum_axis_out_of_range(axis):
    e = graph_error([leaf("x", [[1, 2], [3, 4]]), op("s", "sum", "x", axis=axis)], "s")
    assert e.node == "s"
    assert f"axis {axis} is out of range" in e.message


def test_build_graph_rejects_a_non_integer_sum_axis():
    e = graph_error([leaf("x", [1, 2]), op("s", "sum", "x", axis=0.5)], "s")
    assert e.node == "s" and "axis" in e.message


# --- limits -----------------------------------------------------------------------------------


def test_build_graph_rejects_more_nodes_than_the_limit():
    nodes = [leaf(f"n{i}", 1) for i in range(11)]
    e = graph_error(nodes, "n0", settings=Settings(max_nodes=10))
    assert e.field == "graph.nodes"
    assert "11 nodes" in e.message and "10" in e.message


def test_build_graph_rejects_a_leaf_over_the_element_limit():
    e = graph_error([leaf("x", [0.0] * 101)], "x", settings=Settings(max_elements=100))
    assert e.node == "x"
    assert "101 elements" in e.message


def test_build_graph_rejects_a_huge_broadcast_before_computing_it():
    nodes = [
        leaf("a", [[0.0]] * 30000),
        leaf("b", [[0.0] * 30000]),
        op("c", "add", "a", "b"),
    ]
    start = time.perf_counter()
    e = graph_error(nodes, "c")
    assert time.perf_counter() - start < 2.0
    assert e.node == "c"
    assert "[30000, 30000]" in e.message and "900000000 elements" in e.message


def test_build_graph_rejects_values_adding_up_over_the_total_limit():
    nodes = [leaf("x", [0.0] * 60), op("y", "exp", "x"), op("z", "exp", "y")]
    # x: 60; y: 60 and the gradient to x, 60; z: 60 and 60 more: 300 > 200 at z
    e = graph_error(nodes, "z", settings=Settings(max_elements=100, max_total_elements=200))
    assert e.node == "z"
    assert "200" in e.message and "values and gradients" in e.message


def test_build_graph_rejects_a_pow_exponent_too_large_for_a_float():
    e = graph_error([leaf("x", 2), op("y", "pow", "x", p=10**400)], "y")
    assert e.node == "y"
    assert "at most 64" in e.message
