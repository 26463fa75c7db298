"""The engine's gradient_overflow warning: where a gradient first stops being finite."""

from __future__ import annotations

from specs import graph, leaf, op

from backprop_viz.core.engine import run_graph
from backprop_viz.core.graph import build_graph
from backprop_viz.settings import Settings


def warnings_of(nodes, output) -> list[dict[str, str]]:
    return run_graph(build_graph(nodes, output, Settings())).warnings


def test_gradient_overflow_is_reported_at_the_node_whose_backward_overflowed():
    # r = 1/x = 1e200 and n = -r are finite; backward: n sends -1 to r (finite), and r sends
    # -dout * r**2 = inf to x: r is where the gradient stops being finite, not n
    nodes = [leaf("x", 1e-200), op("r", "reciprocal", "x"), op("n", "neg", "r")]
    warnings = warnings_of(nodes, "n")
    assert warnings == [
        {
            "code": "gradient_overflow",
            "node": "r",
            "message": "the gradient sent from 'r' to 'x' is not finite",
        }
    ]


def test_gradient_overflow_is_not_reported_for_finite_gradients():
    nodes = [leaf("x", 1e-100), op("r", "reciprocal", "x"), op("n", "neg", "r")]
    assert warnings_of(nodes, "n") == []


def test_gradient_overflow_is_not_repeated_downstream_of_where_it_began():
    # x -> r (overflows in backward) -> and x's gradient flows on into nothing; a node before
    # x (through an add) gets the infinite gradient but does not warn again
    nodes = [
        leaf("a", 1e-200),
        leaf("zero", 0.0),
        op("x", "add", "a", "zero"),
        op("r", "reciprocal", "x"),
    ]
    codes = [(w["code"], w["node"]) for w in warnings_of(nodes, "r")]
    assert codes == [("gradient_overflow", "r")]


def test_gradient_overflow_warning_reaches_the_api(client):
    nodes = [leaf("x", 1e-200), op("r", "reciprocal", "x"), op("n", "neg", "r")]
    r = client.post("/api/trace", json=graph(nodes, "n"))
    assert r.status_code == 200
    (warning,) = r.json()["warnings"]
    assert warning["code"] == "gradient_overflow" and warning["node"] == "r"
    assert r.json()["grads"]["x"] == "Infinity"  # d(-1/x)/dx = 1/x**2
