"""The engine: step order, fork accumulation, per-edge gradients, dout, unreached nodes,
non-finite values, and recorded values that nothing can rewrite (the book's Relu trap)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from specs import APPLE, leaf, op

from backprop_viz.core.engine import (
    NullRecorder,
    Trace,
    TraceRecorder,
    forward_backward,
    forward_output,
    run,
    run_graph,
)
from backprop_viz.core.graph import GraphError, build_graph
from backprop_viz.core.ops import OPS
from backprop_viz.core.steps import BackwardStep, ForwardStep
from backprop_viz.settings import Settings

SETTINGS = Settings()


def trace(nodes, output, dout=None, overrides=None):
    return run_graph(build_graph(nodes, output, SETTINGS, overrides), dout)


def steps_of(t, phase):
    return [s for s in t.steps if s.phase == phase]


# x feeds two consumers (y = x * x, and z = y + x): the gradient of x has three parts.
FORK = [leaf("x", 3.0), op("y", "mul", "x", "x"), op("z", "add", "y", "x")]


# --- steps ------------------------------------------------------------------------------------


def test_run_graph_forward_steps_in_topological_order_then_backward_in_reverse():
    t = trace(APPLE, "price")
    phases = [s.phase for s in t.steps]
    assert phases == ["forward", "forward", "backward", "backward"]
    assert [s.node for s in t.steps] == ["apple_price", "price", "price", "apple_price"]
    assert [s.index for s in t.steps] == [0, 1, 2, 3]


def test_run_graph_forward_step_records_each_input_edge_and_the_output():
    t = trace(APPLE, "price")
    first = t.steps[0]
    assert [(i.edge, i.source, float(i.value)) for i in first.inputs] == [
        ("apple->apple_price:0", "apple", 100.0),
        ("apple_num->apple_price:1", "apple_num", 2.0),
    ]
    assert float(first.out) == 200.0


def test_run_graph_backward_step_records_dout_local_derivative_and_edge_gradients():
    t = trace(APPLE, "price")
    price_step = steps_of(t, "backward")[0]
    assert price_step.node == "price"
    assert float(price_step.dout) == 1.0
    edges = {e.source: e for e in price_step.edges}
    assert edges["apple_price"].local == pytest.approx(1.1)
    assert edges["tax"].local == pytest.approx(200.0)
    assert float(edges["apple_price"].grad) == pytest.approx(1.1)
    assert float(edges["tax"].grad) == pytest.approx(200.0)
    assert edges["tax"].formula == "dy = dout * x"
    assert edges["tax"].edge == "tax->price:1"


def test_run_graph_gives_the_books_apple_gradients():
    t = trace(APPLE, "price")
    assert float(t.values["price"]) == pytest.approx(220.0)
    assert float(t.grads["apple"]) == pytest.approx(2.2)
    assert float(t.grads["apple_num"]) == pytest.approx(110.0)
    assert float(t.grads["tax"]) == pytest.approx(200.0)
    assert float(t.grads["price"]) == 1.0


def test_run_graph_local_derivatives_are_none_for_tensor_ops():
    t = trace([leaf("x", [1.0, 2.0]), op("y", "exp", "x")], "y")
    assert steps_of(t, "backward")[0].edges[0].local is None


# --- forks ------------------------------------------------------------------------------------


def test_run_graph_fork_gets_an_accumulate_step_with_every_part_and_their_sum():
    t = trace(FORK, "z")
    accumulate = steps_of(t, "accumulate")
    assert len(accumulate) == 1
    step = accumulate[0]
    assert step.node == "x"
    parts = [(p.edge, p.target, float(p.grad)) for p in step.parts]
    # dz/dx = d(x*x)/dx + 1 = x + x + 1, each part from its own edge
    assert parts == [("x->y:0", "y", 3.0), ("x->y:1", "y", 3.0), ("x->z:1", "z", 1.0)]
    assert float(step.sum) == 7.0
    assert float(t.grads["x"]) == 7.0


def test_run_graph_accumulate_step_comes_after_every_consumers_backward():
    t = trace(FORK, "z")
    order = [(s.phase, s.node) for s in t.steps]
    assert order == [
        ("forward", "y"),
        ("forward", "z"),
        ("backward", "z"),
        ("backward", "y"),
        ("accumulate", "x"),
    ]


def test_run_graph_records_the_gradient_of_each_edge_separately():
    t = trace(FORK, "z")
    assert {k: float(v) for k, v in t.edge_grads.items()} == {
        "y->z:0": 1.0,
        "x->z:1": 1.0,
        "x->y:0": 3.0,
        "x->y:1": 3.0,
    }


def test_run_graph_x_times_x_accumulates_both_ports():
    t = trace([leaf("x", 5.0), op("y", "mul", "x", "x")], "y")
    (step,) = steps_of(t, "accumulate")
    assert [float(p.grad) for p in step.parts] == [5.0, 5.0]
    assert float(t.grads["x"]) == 10.0


def test_run_graph_fork_of_an_op_node_accumulates_before_its_own_backward():
    # t = x + y feeds two consumers; dz/dx = 2t * 1 + t's other use
    nodes = [
        leaf("x", 1.0),
        leaf("y", 2.0),
        op("t", "add", "x", "y"),
        op("u", "pow", "t", p=2),
        op("z", "mul", "u", "t"),  # z = t**3
    ]
    t = trace(nodes, "z")
    order = [(s.phase, s.node) for s in t.steps]
    assert order.index(("accumulate", "t")) < order.index(("backward", "t"))
    assert float(t.grads["x"]) == pytest.approx(3 * 3.0**2)
    assert float(t.grads["y"]) == pytest.approx(27.0)


def test_run_graph_broadcast_fork_sums_parts_in_the_leaf_shape():
    nodes = [
        leaf("b", [1.0, 2.0, 3.0]),
        leaf("x", np.ones((2, 3)).tolist()),
        op("y", "add", "x", "b"),
        op("z", "mul", "y", "b"),
    ]
    t = trace(nodes, "z")
    (step,) = steps_of(t, "accumulate")
    assert step.node == "b"
    assert all(p.grad.shape == (3,) for p in step.parts)
    # z = (x + b) * b: dz/db = sum over rows of (b + x + b)
    np.testing.assert_allclose(t.grads["b"], [2 * (1 + 2 * 1), 2 * (1 + 2 * 2), 2 * (1 + 2 * 3)])


# --- dout ---------------------------------------------------------------------------------------


def test_run_graph_dout_number_scales_every_gradient():
    t = trace([leaf("x", 10), leaf("y", 5), op("z", "mul", "x", "y")], "z", dout=1.3)
    assert float(t.grads["x"]) == pytest.approx(6.5)
    assert float(t.grads["y"]) == pytest.approx(13.0)


def test_run_graph_dout_number_broadcasts_to_the_output_shape():
    t = trace([leaf("x", [1.0, 2.0]), op("y", "exp", "x")], "y", dout=2)
    assert t.dout.shape == (2,)
    np.testing.assert_allclose(t.grads["x"], 2 * np.exp([1.0, 2.0]))


def test_run_graph_dout_array_of_the_output_shape():
    t = trace([leaf("x", [1.0, 2.0]), op("y", "exp", "x")], "y", dout=[1.0, -1.0])
    np.testing.assert_allclose(t.grads["x"], [np.e, -np.exp(2)])


def test_run_graph_default_dout_is_ones_of_the_output_shape():
    t = trace([leaf("x", [[1.0, 2.0]]), op("y", "neg", "x")], "y")
    np.testing.assert_array_equal(t.dout, [[1.0, 1.0]])
    np.testing.assert_array_equal(t.grads["x"], [[-1.0, -1.0]])


@pytest.mark.parametrize("dout", [[1.0, 2.0, 3.0], [[1.0, 2.0]], "abc", [1, None]])
def test_run_graph_rejects_a_dout_that_does_not_fit_the_output(dout):
    with pytest.raises(GraphError) as info:
        trace([leaf("x", [1.0, 2.0]), op("y", "exp", "x")], "y", dout=dout)
    assert info.value.field == "dout"
    assert info.value.node == "y"
    assert "dout" in info.value.message and "'y'" in info.value.message


# --- unreached nodes and constants -----------------------------------------------------------


def test_run_graph_nodes_the_gradient_does_not_reach_are_none_with_a_warning():
    nodes = [
        leaf("x", 1.0),
        leaf("y", 2.0),
        op("z", "add", "x", "y"),
        leaf("w", 3.0),
        op("u", "exp", "w"),
    ]
    t = trace(nodes, "z")
    assert t.grads["w"] is None
    assert t.grads["u"] is None
    assert float(t.grads["x"]) == 1.0
    warned = {w["node"] for w in t.warnings if w["code"] == "no_gradient"}
    assert warned == {"w", "u"}
    assert "'w'" in next(w["message"] for w in t.warnings if w["node"] == "w")
    assert "u" not in {s.node for s in steps_of(t, "backward")}


def test_run_graph_data_that_takes_no_gradient_is_none_without_a_warning():
    nodes = [
        leaf("x", [0.1, 0.2, 0.7]),
        leaf("t", [0.0, 1.0, 0.0], requires_grad=False),
        op("L", "softmax_with_loss", "x", "t"),
    ]
    t = trace(nodes, "L")
    assert t.grads["t"] is None
    assert t.warnings == []
    (step,) = steps_of(t, "backward")
    assert step.edges[1].grad is None


# --- non-finite values ------------------------------------------------------------------------


def test_run_graph_exp_overflow_is_a_warning_not_an_error():
    t = trace([leaf("x", 1000.0), op("y", "exp", "x")], "y")
    assert t.values["y"] == np.inf
    assert t.grads["x"] == np.inf
    codes = {(w["code"], w["node"]) for w in t.warnings}
    assert ("overflow", "y") in codes


def test_run_graph_log_of_a_negative_number_warns_nan():
    t = trace([leaf("x", -1.0), op("y", "log", "x")], "y")
    assert np.isnan(t.values["y"])
    assert [(w["code"], w["node"]) for w in t.warnings] == [("nan", "y")]


def test_run_graph_does_not_repeat_the_warning_downstream_of_a_non_finite_value():
    t = trace([leaf("x", 1000.0), op("y", "exp", "x"), op("z", "neg", "y")], "z")
    assert [w["node"] for w in t.warnings if w["code"] in ("overflow", "nan")] == ["y"]


def test_run_graph_rejects_softmax_class_indices_out_of_range():
    nodes = [leaf("x", [[1.0, 2.0, 3.0]]), leaf("t", [3]), op("L", "softmax_with_loss", "x", "t")]
    with pytest.raises(GraphError) as info:
        trace(nodes, "L")
    assert info.value.node == "L"
    assert "from 0 to 2" in info.value.message


@pytest.mark.parametrize("t", [[-1], [0.5]])
def test_run_graph_rejects_softmax_class_indices_that_are_not_class_numbers(t):
    nodes = [leaf("x", [[1.0, 2.0, 3.0]]), leaf("t", t), op("L", "softmax_with_loss", "x", "t")]
    with pytest.raises(GraphError) as info:
        trace(nodes, "L")
    assert info.value.node == "L" and "integers" in info.value.message


# --- recorded values are read-only copies (the book's Relu trap) ----------------------------


def test_run_graph_every_recorded_array_is_read_only():
    t = trace(FORK, "z")
    recorded = [*t.values.values(), *(g for g in t.grads.values() if g is not None), t.dout]
    for step in t.steps:
        if isinstance(step, ForwardStep):
            recorded += [i.value for i in step.inputs] + [step.out]
        elif isinstance(step, BackwardStep):
            recorded += [step.dout] + [e.grad for e in step.edges]
        else:
            recorded += [step.sum] + [p.grad for p in step.parts]
    assert len(recorded) > 10
    for array in recorded:
        assert isinstance(array, np.ndarray)
        assert not array.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            array[...] = 0


def test_run_graph_an_earlier_steps_value_stays_unchanged_after_relu_backward():
    nodes = [
        leaf("x", [[1.0, -0.5], [-2.0, 3.0]]),
        leaf("w", [[2.0, 2.0], [2.0, 2.0]]),
        op("y", "relu", "x"),
        op("z", "mul", "y", "w"),
    ]
    t = trace(nodes, "z")
    z_step = next(s for s in t.steps if s.phase == "backward" and s.node == "z")
    y_step = next(s for s in t.steps if s.phase == "backward" and s.node == "y")
    # the gradient z sent to y is y's dout; ReLU's backward must not zero it in place
    np.testing.assert_array_equal(z_step.edges[0].grad, [[2.0, 2.0], [2.0, 2.0]])
    np.testing.assert_array_equal(y_step.dout, [[2.0, 2.0], [2.0, 2.0]])
    np.testing.assert_array_equal(t.grads["x"], [[2.0, 0.0], [0.0, 2.0]])


class BookRelu:
    """The book's Relu (common/layers.py), verbatim: backward writes into ``dout``."""

    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        dx = dout
        return dx


def test_book_relu_backward_would_rewrite_a_plain_dout_in_place():
    layer = BookRelu()
    layer.forward(np.array([1.0, -1.0]))
    dout = np.array([5.0, 5.0])
    layer.backward(dout)
    np.testing.assert_array_equal(dout, [5.0, 0.0])  # the trap: the caller's array changed


def test_book_relu_backward_raises_on_the_engines_frozen_dout(monkeypatch):
    monkeypatch.setitem(OPS, "relu", dataclasses.replace(OPS["relu"], layer=BookRelu))
    nodes = [
        leaf("x", [1.0, -1.0]),
        op("y", "relu", "x"),
        leaf("w", [3.0, 3.0]),
        op("z", "mul", "y", "w"),
    ]
    with pytest.raises(ValueError, match="read-only"):
        trace(nodes, "z")


def test_book_relu_backward_raises_on_a_recorded_dout_of_a_finished_trace():
    nodes = [
        leaf("x", [1.0, -1.0]),
        op("y", "relu", "x"),
        leaf("w", [3.0, 3.0]),
        op("z", "mul", "y", "w"),
    ]
    t = trace(nodes, "z")
    y_step = next(s for s in t.steps if s.phase == "backward" and s.node == "y")
    layer = BookRelu()
    layer.forward(np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="read-only"):
        layer.backward(y_step.dout)
    np.testing.assert_array_equal(y_step.dout, [3.0, 3.0])


# --- matrix ops through the engine ------------------------------------------------------------


def test_run_graph_matrix_network_gradients_match_the_numerical_gradient(numgrad):
    """A 4-D x through Affine (flattened as in the book), tanh, matmul and Softmax-with-Loss
    with index labels: every leaf's gradient comes back in its own shape and is right."""
    rng = np.random.default_rng(0)
    leaves = {
        "x": rng.normal(size=(2, 1, 2, 3)),
        "W": rng.normal(size=(6, 4)),
        "b": rng.normal(size=(4,)),
        "W2": rng.normal(size=(4, 3)),
    }
    t = np.array([0, 2])
    nodes = [
        *(leaf(k, v.tolist()) for k, v in leaves.items()),
        leaf("t", t.tolist(), requires_grad=False),
        op("a", "affine", "x", "W", "b"),
        op("h", "tanh", "a"),
        op("s", "matmul", "h", "W2"),
        op("L", "softmax_with_loss", "s", "t"),
    ]

    def loss(x, W, b, W2):
        s = np.tanh(x.reshape(2, -1) @ W + b) @ W2
        log_y = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        return -log_y[np.arange(2), t].sum() / 2

    result = trace(nodes, "L")
    assert float(result.values["L"]) == pytest.approx(loss(**leaves), rel=1e-12)
    for name, value in leaves.items():
        expected = numgrad(lambda v, name=name: loss(**{**leaves, name: v}), value, h=1e-5)
        assert result.grads[name].shape == value.shape
        np.testing.assert_allclose(result.grads[name], expected, rtol=1e-6, atol=1e-9)


def test_run_graph_sum_along_an_axis_broadcasts_dout_back():
    nodes = [leaf("x", [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), op("s", "sum", "x", axis=-1)]
    result = trace(nodes, "s", dout=[2.0, 3.0])
    np.testing.assert_array_equal(result.values["s"], [6.0, 15.0])
    np.testing.assert_array_equal(result.grads["x"], [[2.0, 2.0, 2.0], [3.0, 3.0, 3.0]])


# --- the null recorder: the same layers, nothing kept -----------------------------------------


def book_net():
    from backprop_viz.examples import EXAMPLES

    example = EXAMPLES["two_layer_net"]
    return build_graph(example.nodes, example.output, SETTINGS)


@pytest.mark.parametrize("nodes,output", [(APPLE, "price"), (FORK, "z")], ids=["apple", "fork"])
def test_run_with_the_null_recorder_gives_the_traced_numbers_to_the_last_digit(nodes, output):
    graph = build_graph(nodes, output, SETTINGS)
    traced = run_graph(graph)
    plain = run(graph)
    assert not isinstance(plain, Trace)
    for node_id in graph.order:
        np.testing.assert_array_equal(plain.values[node_id], traced.values[node_id])
        if traced.grads[node_id] is None:
            assert plain.grads[node_id] is None
        else:
            np.testing.assert_array_equal(plain.grads[node_id], traced.grads[node_id])


def test_forward_backward_of_the_two_layer_net_equals_the_traced_run():
    graph = book_net()
    traced = run_graph(graph)
    loss, grads = forward_backward(graph)
    assert float(loss) == float(traced.values["loss"])
    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_array_equal(grads[name], traced.grads[name])
    assert grads["x"] is None and grads["t"] is None  # data: no gradient


def test_run_with_the_null_recorder_keeps_no_steps_and_freezes_nothing():
    graph = book_net()
    result = run(graph, recorder=NullRecorder())
    assert not hasattr(result, "steps")
    for node_id in ("affine1", "relu1", "affine2"):
        assert result.values[node_id].flags.writeable
        assert result.grads[node_id].flags.writeable
    assert result.grads["W1"].flags.writeable


def test_forward_backward_leaves_replace_weights_without_rebuilding_the_graph():
    graph = book_net()
    W1 = np.array(graph.nodes["W1"].value) * 2
    loss, grads = forward_backward(graph, {"W1": W1})
    rebuilt = run_graph(build_graph(book_net_spec(), "loss", SETTINGS, {"W1": W1.tolist()}))
    assert float(loss) == float(rebuilt.values["loss"])
    np.testing.assert_array_equal(grads["W1"], rebuilt.grads["W1"])
    assert float(loss) != float(run_graph(graph).values["loss"])
    assert W1.flags.writeable  # the caller's array is used, not frozen


def book_net_spec():
    from backprop_viz.examples import EXAMPLES

    return EXAMPLES["two_layer_net"].nodes


def test_a_training_step_through_forward_backward_lowers_the_loss():
    """The book's SGD update (4.5.2) on the null recorder: W -= lr * dW, in place."""
    graph = book_net()
    weights = {n: np.array(graph.nodes[n].value) for n in ("W1", "b1", "W2", "b2")}
    losses = []
    for _ in range(5):
        loss, grads = forward_backward(graph, weights)
        losses.append(float(loss))
        for name, w in weights.items():
            w -= 0.1 * grads[name]
    assert losses == sorted(losses, reverse=True) and losses[-1] < losses[0]


def test_run_with_the_trace_recorder_copies_a_given_leaf_before_freezing_it():
    graph = build_graph(APPLE, "price", SETTINGS)
    apple = np.array(150.0)
    traced = run(graph, leaves={"apple": apple}, recorder=TraceRecorder(graph))
    assert isinstance(traced, Trace)
    assert float(traced.values["price"]) == pytest.approx(330.0)
    assert apple.flags.writeable
    assert not traced.values["apple"].flags.writeable


def test_forward_output_is_the_traced_output_with_leaves_replaced():
    graph = build_graph(APPLE, "price", SETTINGS)
    assert float(forward_output(graph, {})) == float(run_graph(graph).values["price"])
    assert float(forward_output(graph, {"tax": np.array(2.0)})) == 400.0
