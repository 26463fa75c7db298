"""Memory follows the limits: every array an op makes is counted before it is made.

The issue's request: a Softmax-with-Loss whose x has 40,000 classes and whose t holds a class
index (80 KB of JSON) once built np.eye(40000), 12.8 GB, in 27 s; 100,000 classes gave a 500.
"""

from __future__ import annotations

import json
import math
import time
import tracemalloc
from dataclasses import replace

import numpy as np
import pytest
from specs import graph, leaf, op

from backprop_viz.core import ops
from backprop_viz.core.graph import GraphError, build_graph
from backprop_viz.core.layers import one_hot_like
from backprop_viz.core.ops import OPS
from backprop_viz.settings import Settings

CLASSES = 40_000
LABEL = 12_345
MB = 1024 * 1024


def many_classes_body(classes: int = CLASSES, batch: int = 1) -> dict:
    """Scores 0..6 (short JSON: 80 KB for 40,000 classes) and one class index per row."""
    x = [[(i + row) % 7 for i in range(classes)] for row in range(batch)]
    t = [(LABEL + row) % classes for row in range(batch)]
    nodes = [
        leaf("x", x),
        leaf("t", t, requires_grad=False),
        op("loss", "softmax_with_loss", "x", "t"),
    ]
    return {**graph(nodes, "loss"), "full": True}


def post_measured(client, body: dict):
    """The response, its wall time, and the peak of what Python and NumPy allocated for it."""
    content = json.dumps(body, separators=(",", ":"))
    start = time.perf_counter()
    r = client.post("/api/trace", content=content, headers={"content-type": "application/json"})
    seconds = time.perf_counter() - start
    tracemalloc.start()
    try:
        again = client.post(
            "/api/trace", content=content, headers={"content-type": "application/json"}
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert again.status_code == r.status_code
    return r, seconds, peak


def expected_gradient(x: np.ndarray, labels: list[int]) -> np.ndarray:
    """(y - t) / N, written out: softmax by the maximum shift, t one-hot by rows."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    y = e / e.sum(axis=-1, keepdims=True)
    t = np.zeros_like(x)
    t[np.arange(len(labels)), labels] = 1.0
    return (y - t) / x.shape[0]


# --- one-hot labels in O(N * C) -------------------------------------------------------------


def test_one_hot_like_of_class_indices_is_n_by_c_and_allocates_only_that():
    x = np.zeros((2, CLASSES))
    tracemalloc.start()
    try:
        one_hot = one_hot_like(np.array([3.0, CLASSES - 1.0]), x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert one_hot.shape == (2, CLASSES)
    assert one_hot[0, 3] == 1.0 and one_hot[1, CLASSES - 1] == 1.0
    assert one_hot.sum() == 2.0
    # the one-hot array itself (640 KB) and small index arrays; eye(40000) would be 12.8 GB
    assert peak < x.nbytes + 100_000


def test_one_hot_like_of_one_class_index_for_a_vector_of_scores():
    one_hot = one_hot_like(np.array(2.0), np.zeros(4))
    assert one_hot.tolist() == [0.0, 0.0, 1.0, 0.0]


def test_one_hot_like_returns_one_hot_labels_as_they_are():
    t = np.array([[0.0, 1.0, 0.0]])
    assert one_hot_like(t, np.zeros((1, 3))) is t


# --- the request ----------------------------------------------------------------------


def test_trace_with_40000_class_indices_is_fast_small_and_exact_at_the_default_limits(client):
    body = many_classes_body()
    assert len(json.dumps(body, separators=(",", ":"))) < 82_000  # the 80 KB request
    r, seconds, peak = post_measured(client, body)
    assert r.status_code == 200, r.text
    assert seconds < 1.0
    assert peak < 40 * MB  # once 12.8 GB
    x = np.array(body["graph"]["nodes"][0]["value"], dtype=np.float64)
    dx = np.array(r.json()["grads"]["x"])
    np.testing.assert_allclose(dx, expected_gradient(x, [LABEL]), rtol=1e-12, atol=1e-18)
    assert dx[0, LABEL] < 0 and np.sum(dx > 0) == CLASSES - 1


def test_trace_with_100000_class_indices_is_a_200_not_a_memory_error(client):
    body = many_classes_body(classes=100_000)
    r, seconds, peak = post_measured(client, body)
    assert r.status_code == 200, r.text  # once a 500: eye(100000) is 80 GB
    assert peak < 80 * MB
    x = np.array(body["graph"]["nodes"][0]["value"], dtype=np.float64)
    dx = np.array(r.json()["grads"]["x"])
    np.testing.assert_allclose(dx, expected_gradient(x, [LABEL]), rtol=1e-12, atol=1e-18)


def test_trace_with_a_batch_of_class_indices_gives_y_minus_t_over_n(client):
    body = many_classes_body(classes=5000, batch=3)
    r = client.post("/api/trace", json=body)
    assert r.status_code == 200, r.text
    x = np.array(body["graph"]["nodes"][0]["value"], dtype=np.float64)
    labels = body["graph"]["nodes"][1]["value"]
    dx = np.array(r.json()["grads"]["x"])
    np.testing.assert_allclose(dx, expected_gradient(x, labels), rtol=1e-12, atol=1e-18)


# Under limits that the request's values fit but its layer's arrays do not. Counted: x 40,000;
# t 1; loss 1 and the gradients to x and t, 40,001; kept by the layer: y and the one-hot t,
# 80,000 (160,003 held in all); scratch at the peak of one call: 2 x 40,000 more.
HELD = 40_000 + 1 + 1 + 40_001 + 2 * 40_000
PEAK = HELD + 2 * 40_000


def test_trace_with_40000_classes_whose_kept_arrays_exceed_the_total_is_a_fast_small_422(
    make_client,
):
    client = make_client(max_elements=50_000, max_total_elements=HELD - 1)
    r, seconds, peak = post_measured(client, many_classes_body())
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["node"] == "loss" and body["field"] == "graph.nodes[2]"
    assert "graph.nodes[2]" in body["detail"] and "'loss'" in body["detail"]
    assert "80000 elements softmax_with_loss keeps for backward" in body["detail"]
    assert str(HELD - 1) in body["detail"]
    assert seconds < 1.0
    assert peak < 40 * MB


def test_trace_with_40000_classes_whose_scratch_exceeds_the_total_by_one_is_a_422(make_client):
    client = make_client(max_elements=50_000, max_total_elements=PEAK - 1)
    r = client.post("/api/trace", json=many_classes_body())
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["node"] == "loss" and body["field"] == "graph.nodes[2]"
    assert "temporary arrays of 80000 elements" in body["detail"]
    assert f"({HELD})" in body["detail"] and str(PEAK - 1) in body["detail"]


def test_trace_with_40000_classes_just_within_the_total_gives_the_exact_gradient(make_client):
    client = make_client(max_elements=50_000, max_total_elements=PEAK)
    body = many_classes_body()
    r = client.post("/api/trace", json=body)
    assert r.status_code == 200, r.text
    x = np.array(body["graph"]["nodes"][0]["value"], dtype=np.float64)
    np.testing.assert_allclose(
        np.array(r.json()["grads"]["x"]), expected_gradient(x, [LABEL]), rtol=1e-12, atol=1e-18
    )


def test_gradcheck_with_40000_classes_over_the_total_is_a_422_before_any_pass(make_client):
    client = make_client(max_elements=50_000, max_total_elements=HELD - 1)
    start = time.perf_counter()
    r = client.post("/api/gradcheck", json=many_classes_body())
    assert time.perf_counter() - start < 1.0
    assert r.status_code == 422 and r.json()["node"] == "loss"


# --- the budget of graph validation -----------------------------------------------------------


def test_build_graph_counts_the_relu_mask_it_keeps_for_backward():
    nodes = [leaf("x", [1.0] * 50), op("y", "relu", "x")]
    # x 50; y 50, the gradient to x 50 and the mask 50: 200
    build_graph(nodes, "y", Settings(max_total_elements=200))
    with pytest.raises(GraphError) as e:
        build_graph(nodes, "y", Settings(max_total_elements=199))
    assert e.value.node == "y" and e.value.field == "graph.nodes[1]"
    assert "50 elements relu keeps for backward" in e.value.message


def test_build_graph_counts_the_broadcast_product_before_it_is_summed():
    # x (100, 1) times y (1, 100): the output and dout * y are 10,000 elements each
    nodes = [leaf("x", [[1.0]] * 100), leaf("y", [[1.0] * 100]), op("z", "mul", "x", "y")]
    held = 100 + 100 + 10_000 + 200
    build_graph(nodes, "z", Settings(max_total_elements=held + 10_000))
    with pytest.raises(GraphError) as e:
        build_graph(nodes, "z", Settings(max_total_elements=held + 10_000 - 1))
    assert e.value.node == "z"
    assert "temporary arrays of 10000 elements" in e.value.message


def test_build_graph_counts_the_sum_of_the_gradients_at_a_fork():
    nodes = [leaf("x", [1.0] * 10), op("y", "exp", "x"), op("z", "mul", "y", "y")]
    # x 10; y 10 + 10; z 10 + 20; and y's gradient, the sum of z's two parts, 10: 70
    build_graph(nodes, "z", Settings(max_total_elements=70))
    with pytest.raises(GraphError) as e:
        build_graph(nodes, "z", Settings(max_total_elements=69))
    assert "values and gradients" in e.value.message


def test_build_graph_refuses_a_declared_temporary_over_the_element_limit(monkeypatch):
    from backprop_viz.core.ops import Temporaries

    huge = replace(OPS["exp"], temporaries=lambda shapes, out: Temporaries(scratch=(101,)))
    monkeypatch.setitem(ops.OPS, "exp", huge)
    nodes = [leaf("x", [1.0] * 10), op("y", "exp", "x")]
    with pytest.raises(GraphError) as e:
        build_graph(nodes, "y", Settings(max_elements=100))
    assert e.value.node == "y" and e.value.field == "graph.nodes[1]"
    assert "temporary array of 101 elements, more than the limit of 100" in e.value.message


# --- each op's declaration bounds what its layer allocates -----------------------------------

N = 20_000
# NumPy's ufuncs may buffer up to np.getbufsize() elements (broadcasting, reductions), and small
# arrays (shapes, indices, sums over rows) come on top: neither is a temporary of an op's size.
SLACK = 8 * np.getbufsize() + 4096
CASES = {
    "add": [(N,), (N,)],
    "sub": [(100, 1), (1, 200)],
    "mul": [(100, 1), (1, 200)],
    "div": [(100, 200), (1, 200)],
    "neg": [(N,)],
    "pow": [(N,)],
    "exp": [(N,)],
    "log": [(N,)],
    "reciprocal": [(N,)],
    "relu": [(N,)],
    "sigmoid": [(N,)],
    "tanh": [(N,)],
    "matmul": [(50, 200), (200, 100)],
    "affine": [(50, 200), (200, 100), (100,)],
    "sum": [(100, 200)],
    "softmax_with_loss": [(4, 5000), (4,)],
    "softmax": [(4, 5000)],
    "cross_entropy_error": [(4, 5000), (4,)],
    "one_hot": [(4,), (4, 5000)],
    "mean": [(N,)],
}


def test_every_op_has_an_allocation_case():
    assert set(CASES) == set(OPS) - {"input"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_declared_temporaries_bound_what_forward_and_backward_allocate(name):
    op_ = OPS[name]
    shapes = CASES[name]
    r = np.random.default_rng(0)
    inputs = [r.uniform(0.5, 2.0, s) for s in shapes]
    if name in ("softmax_with_loss", "cross_entropy_error"):
        inputs[1] = np.array([0.0, 1.0, 4999.0, 7.0])  # class indices
    if name == "one_hot":
        inputs[0] = np.array([0.0, 1.0, 4999.0, 7.0])
    params = ops.check_params(op_, {})
    out_shape = op_.shape_rule(shapes, params)
    declared = op_.temporaries_for(shapes, out_shape)
    layer = op_.make_layer(params)
    tracemalloc.start()
    try:
        out = op_.run_forward(layer, inputs)
        dout = np.ones(np.shape(out))
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        grads = op_.run_backward(layer, dout)
        _, backward_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert grads is not None
    # forward: its output, what the layer keeps, and its scratch; backward: the gradients and
    # its scratch, on top of what forward left (8 bytes an element)
    grad_elements = sum(math.prod(s) for s in shapes)
    bound = 8 * (grad_elements + sum(declared.scratch)) + SLACK
    assert backward_peak - baseline <= bound, (backward_peak - baseline, bound)


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_declared_temporaries_bound_what_forward_allocates(name):
    op_ = OPS[name]
    shapes = CASES[name]
    r = np.random.default_rng(0)
    inputs = [r.uniform(0.5, 2.0, s) for s in shapes]
    if name in ("softmax_with_loss", "cross_entropy_error"):
        inputs[1] = np.array([0.0, 1.0, 4999.0, 7.0])
    if name == "one_hot":
        inputs[0] = np.array([0.0, 1.0, 4999.0, 7.0])
    params = ops.check_params(op_, {})
    out_shape = op_.shape_rule(shapes, params)
    declared = op_.temporaries_for(shapes, out_shape)
    layer = op_.make_layer(params)
    tracemalloc.start()
    try:
        out = op_.run_forward(layer, inputs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.shape(out) == out_shape
    bound = 8 * (math.prod(out_shape) + sum(declared.kept) + sum(declared.scratch)) + SLACK
    assert peak <= bound, (peak, bound)
