"""Property-based tests: random valid graphs, traced by the engine, against numerical gradients."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays, mutually_broadcastable_shapes

from backprop_viz.core.engine import run_graph
from backprop_viz.core.graph import build_graph, parse_value
from backprop_viz.core.layers import AddLayer, DivLayer, MulLayer, SubLayer
from backprop_viz.core.ops import OPS
from backprop_viz.encoding import dumps, trace_to_json
from backprop_viz.settings import Settings
from backprop_viz.web.app import create_app

SETTINGS = Settings()
PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# Every pair of these broadcasts, and the result is one of them again.
LEAF_SHAPES = [(), (3,), (1, 3), (2, 1), (2, 3)]
UNARY = ["neg", "exp", "tanh", "sigmoid", "pow"]
BINARY = ["add", "sub", "mul", "div"]
LIMIT = 100.0  # keep every value this small, so central differences stay precise


@pytest.fixture(scope="module")
def api_client() -> TestClient:
    """One app for the whole module (hypothesis runs a test body many times per fixture)."""
    return TestClient(create_app(Settings()))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


FORWARD = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "neg": np.negative,
    "exp": np.exp,
    "tanh": np.tanh,
    "sigmoid": sigmoid,
}


def evaluate(nodes, leaf_values, output):
    """The graph's output in plain NumPy, independent of app.layers."""
    values = {}
    for node in nodes:
        if node["op"] == "input":
            values[node["id"]] = leaf_values[node["id"]]
        elif node["op"] == "pow":
            values[node["id"]] = values[node["inputs"][0]] ** node["params"]["p"]
        else:
            values[node["id"]] = FORWARD[node["op"]](*(values[i] for i in node["inputs"]))
    return values[output]


def safe(op, params, inputs) -> bool:
    """Whether op on these values stays small and far from any pole."""
    if op == "div" and np.min(np.abs(inputs[1])) < 0.25:
        return False
    if op == "exp" and np.max(inputs[0]) > 3:
        return False
    with np.errstate(all="ignore"):
        if op == "pow":
            out = inputs[0] ** params["p"]
        else:
            out = FORWARD[op](*inputs)
    return bool(np.all(np.isfinite(out)) and np.max(np.abs(out)) <= LIMIT)


def leaf_values(shape):
    magnitude = st.floats(0.3, 2.0, allow_nan=False, allow_infinity=False)
    signed = st.tuples(magnitude, st.booleans()).map(lambda p: p[0] if p[1] else -p[0])
    return arrays(np.float64, shape, elements=signed)


@st.composite
def random_graphs(draw):
    """A random DAG: 1-3 leaves of broadcastable shapes, 1-6 ops that may reuse any earlier
    node (forks, x * x), output the last op. Ops that would overflow or divide by nearly zero
    are replaced by tanh, which is always safe."""
    nodes, values = [], {}
    for i in range(draw(st.integers(1, 3))):
        shape = draw(st.sampled_from(LEAF_SHAPES))
        node_id = f"x{i}"
        values[node_id] = draw(leaf_values(shape))
        nodes.append({"id": node_id, "op": "input", "value": values[node_id].tolist()})
    for j in range(draw(st.integers(1, 6))):
        ids = list(values)
        op = draw(st.sampled_from(UNARY + BINARY))
        arity = 2 if op in BINARY else 1
        inputs = [draw(st.sampled_from(ids)) for _ in range(arity)]
        params = {"p": draw(st.sampled_from([2, 3]))} if op == "pow" else {}
        if not safe(op, params, [values[i] for i in inputs]):
            op, inputs, params = "tanh", inputs[:1], {}
        node = {"id": f"n{j}", "op": op, "inputs": inputs}
        if params:
            node["params"] = params
        nodes.append(node)
        values[node["id"]] = evaluate(nodes, values, node["id"])
    output = nodes[-1]["id"]
    dout = draw(leaf_values(np.shape(values[output])))
    return nodes, output, dout


def numerical_gradient_central(f, x, h):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += h
        minus[i] -= h
        grad[i] = (f(plus) - f(minus)) / (2 * h)
    return grad


@PROPERTY_SETTINGS
@given(random_graphs())
def test_engine_gradients_of_random_graphs_match_the_numerical_gradient(case):
    nodes, output, dout = case
    trace = run_graph(build_graph(nodes, output, SETTINGS), dout.tolist())
    leaves = {n["id"]: np.array(n["value"], dtype=np.float64) for n in nodes if n["op"] == "input"}

    np.testing.assert_allclose(trace.values[output], evaluate(nodes, leaves, output), rtol=1e-12)
    scale = 1.0 + float(np.max(np.abs(trace.values[output])))
    for leaf_id, value in leaves.items():

        def loss(v, leaf_id=leaf_id):
            return float(np.sum(evaluate(nodes, {**leaves, leaf_id: v}, output) * dout))

        expected = numerical_gradient_central(loss, value, h=1e-5)
        grad = trace.grads[leaf_id]
        if grad is None:  # the leaf does not lead to the output
            assert not np.any(expected)
            assert any(w["node"] == leaf_id for w in trace.warnings)
            continue
        assert grad.shape == value.shape
        np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6 * scale, err_msg=leaf_id)


@PROPERTY_SETTINGS
@given(random_graphs())
def test_engine_accumulate_sums_equal_the_sum_of_their_parts(case):
    nodes, output, dout = case
    trace = run_graph(build_graph(nodes, output, SETTINGS), dout.tolist())
    fan_out = {}
    for node in nodes:
        for source in node.get("inputs", []):
            fan_out[source] = fan_out.get(source, 0) + 1
    for step in trace.steps:
        if step.phase == "accumulate":
            assert len(step.parts) >= 2
            assert len(step.parts) <= fan_out[step.node]
            np.testing.assert_allclose(step.sum, sum(p.grad for p in step.parts), rtol=1e-12)
            np.testing.assert_array_equal(step.sum, trace.grads[step.node])


@PROPERTY_SETTINGS
@given(random_graphs(), st.randoms(use_true_random=False))
def test_graph_order_is_topological_and_the_trace_ignores_the_spec_order(case, rnd: random.Random):
    nodes, output, dout = case
    shuffled = nodes[:]
    rnd.shuffle(shuffled)
    graph = build_graph(shuffled, output, SETTINGS)
    position = {n: i for i, n in enumerate(graph.order)}
    for node in nodes:
        for source in node.get("inputs", []):
            assert position[source] < position[node["id"]]
    a = run_graph(build_graph(nodes, output, SETTINGS), dout.tolist())
    b = run_graph(graph, dout.tolist())
    for node_id in a.values:
        np.testing.assert_array_equal(a.values[node_id], b.values[node_id])
        if a.grads[node_id] is None:
            assert b.grads[node_id] is None
        else:
            np.testing.assert_allclose(a.grads[node_id], b.grads[node_id], rtol=1e-12)


@PROPERTY_SETTINGS
@given(
    mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
    st.sampled_from([AddLayer, SubLayer, MulLayer, DivLayer]),
    st.data(),
)
def test_binary_layers_return_gradients_in_each_inputs_shape(shapes, layer_class, data):
    x_shape, y_shape = shapes.input_shapes
    x = data.draw(leaf_values(x_shape))
    y = data.draw(leaf_values(y_shape))
    dout = data.draw(leaf_values(shapes.result_shape))
    layer = layer_class()
    layer.forward(x, y)
    dx, dy = layer.backward(dout)
    assert np.shape(dx) == x_shape
    assert np.shape(dy) == y_shape

    def loss_x(v):
        return float(np.sum(layer_class().forward(v, y) * dout))

    def loss_y(v):
        return float(np.sum(layer_class().forward(x, v) * dout))

    np.testing.assert_allclose(
        dx, numerical_gradient_central(loss_x, x, 1e-5), rtol=1e-6, atol=1e-8
    )
    np.testing.assert_allclose(
        dy, numerical_gradient_central(loss_y, y, 1e-5), rtol=1e-6, atol=1e-8
    )


FLOATS_WITH_SPECIALS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, 1.7976931348623157e308]),
)


@PROPERTY_SETTINGS
@given(
    arrays(
        np.float64, st.sampled_from([(), (1,), (2, 3), (4, 2, 2)]), elements=FLOATS_WITH_SPECIALS
    ),
    st.integers(1, 20),
)
def test_encoding_any_float_array_is_strict_json_and_reads_back_the_same(value, inline):
    nodes = [{"id": "x", "op": "input", "value": 0.0}, {"id": "y", "op": "neg", "inputs": ["x"]}]
    graph = build_graph(nodes, "y", SETTINGS)
    graph.nodes["x"].value = value  # any float array, non-finite ones included
    graph.nodes["x"].shape = graph.nodes["y"].shape = value.shape
    graph.nodes["x"].value.flags.writeable = False
    trace = run_graph(graph)

    def reject(name):
        raise ValueError(name)

    text = dumps(trace_to_json(trace, inline_elements=inline)).decode()
    data = json.loads(text, parse_constant=reject)
    encoded = data["values"]["x"]
    if isinstance(encoded, dict):  # summarised: shape and corner
        assert encoded["shape"] == list(value.shape)
        assert encoded["summary"]["non_finite"] == int(np.sum(~np.isfinite(value)))
        encoded = encoded["preview"]
        value = value[
            tuple(slice(0, 6 if axis >= value.ndim - 2 else 1) for axis in range(value.ndim))
        ]
    np.testing.assert_array_equal(parse_value(encoded, field="x"), value)


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "x", "", "1"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=12,
)
OP_NAMES = st.one_of(st.sampled_from(sorted(OPS)), st.text(max_size=5))
NODE_IDS = st.sampled_from(["a", "b", "c", "d"])


@st.composite
def hostile_requests(draw):
    """Graph specs that are mostly wrong: any op, any inputs, any value, any params."""
    nodes = []
    for _ in range(draw(st.integers(0, 5))):
        node = {"id": draw(NODE_IDS), "op": draw(OP_NAMES)}
        if draw(st.booleans()):
            node["inputs"] = draw(st.lists(NODE_IDS, max_size=3))
        if draw(st.booleans()):
            node["value"] = draw(JSON_VALUES)
        if draw(st.booleans()):
            node["params"] = draw(
                st.dictionaries(st.sampled_from(["p", "axis", "q"]), JSON_SCALARS, max_size=2)
            )
        nodes.append(node)
    body = {"graph": {"nodes": nodes, "output": draw(NODE_IDS)}}
    if draw(st.booleans()):
        body["values"] = draw(st.dictionaries(NODE_IDS, JSON_VALUES, max_size=2))
    if draw(st.booleans()):
        body["dout"] = draw(JSON_VALUES)
    return body


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_requests())
def test_api_no_request_body_gets_a_500(api_client, body):
    r = api_client.post("/api/trace", json=body)
    assert r.status_code in (200, 422), r.text
    if r.status_code == 422 and isinstance(r.json()["detail"], str):
        assert r.json()["field"]
    if r.status_code == 200:
        json.loads(r.text, parse_constant=lambda name: 1 / 0)  # strict JSON
