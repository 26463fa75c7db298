"""The Python API against the REST API: the same requests give the same JSON, the book's numbers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import backprop_viz as bv
from backprop_viz.cli import main
from backprop_viz.core.graph import GraphError
from backprop_viz.core.steps import AccumulateStep, BackwardStep, ForwardStep

SMALL_GRAPH = {
    "nodes": [
        {"id": "x", "op": "input", "value": [[1.0, -2.0], [3.0, 0.5]]},
        {"id": "W", "op": "input", "value": [[0.5, 1.0, -1.0], [2.0, 0.0, 1.5]]},
        {"id": "b", "op": "input", "value": [0.1, 0.2, 0.3]},
        {"id": "a", "op": "affine", "inputs": ["x", "W", "b"]},
        {"id": "s", "op": "sigmoid", "inputs": ["a"]},
    ],
    "output": "s",
}

REQUESTS = [
    {"example": "apple"},
    {"example": "apple_orange", "values": {"apple": 150}},
    {"expression": "(x + y) ** 2", "values": {"x": 1, "y": 2}},
    {"graph": SMALL_GRAPH, "dout": 1.3},
    {"graph": SMALL_GRAPH, "expand": ["s"]},
    {"training": {"iters_num": 20, "seed": 4, "iteration": 3}},
]


def call(request: dict) -> bv.Trace:
    request = dict(request)
    return bv.trace(request.pop("example", None), **request)


@pytest.mark.parametrize("request_body", REQUESTS, ids=lambda r: next(iter(r)))
def test_to_json_is_the_api_json(client, request_body):
    response = client.post("/api/trace", json=request_body)
    assert response.status_code == 200
    assert call(request_body).to_json() == response.json()


def test_apple_has_the_books_numbers():
    t = bv.trace("apple")
    assert t.values["price"] == pytest.approx(220)
    assert t.grads["apple"] == pytest.approx(2.2)
    assert t.grads["apple_num"] == pytest.approx(110)
    assert t.grads["tax"] == pytest.approx(200)
    assert isinstance(t.grads["apple"], float)
    assert [type(s) for s in t.steps] == [ForwardStep, ForwardStep, BackwardStep, BackwardStep]
    assert t.warnings == []


def test_expression_and_overrides():
    t = bv.trace(expression="(x + y) ** 2", values={"x": 1, "y": 2})
    assert t.output == 9.0
    assert t.grads["x"] == 6.0 and t.grads["y"] == 6.0
    assert "symbolic" in t.to_json()


def test_arrays_stay_arrays_and_numpy_values_are_accepted():
    t = bv.trace(graph=SMALL_GRAPH, dout=1.3, values={"b": np.array([0.0, 0.0, 1.0])})
    assert isinstance(t.grads["W"], np.ndarray) and t.grads["W"].shape == (2, 3)
    assert t.values["b"].tolist() == [0.0, 0.0, 1.0]


def test_a_fork_has_an_accumulate_step():
    t = bv.trace(expression="x * x", values={"x": 3})
    assert any(isinstance(s, AccumulateStep) for s in t.steps)
    assert t.grads["x"] == 6.0


def test_table_is_what_the_cli_prints(capsys):
    assert main(["trace", "apple"]) == 0
    printed = capsys.readouterr().out
    assert bv.trace("apple").table() + "\n" == printed
    assert "dprice/dapple = 2.2" in printed


def test_bad_request_names_the_field_and_node():
    with pytest.raises(GraphError) as e:
        bv.trace(expression="x + y", values={"z": 1})
    assert e.value.field == "values" and e.value.node == "z"
    with pytest.raises(GraphError, match="exactly one"):
        bv.trace("apple", expression="x")


def test_gradient_check_is_the_api_result(client):
    check = bv.gradient_check("apple")
    response = client.post("/api/gradcheck", json={"example": "apple"})
    timings = {"backprop_seconds", "numerical_seconds", "numerical_seconds_all", "speedup"}
    ignored = timings | {"estimate", "summary"}  # measured, so different in each run
    api = {k: v for k, v in response.json().items() if k not in ignored}
    assert {k: v for k, v in check.result.items() if k not in ignored} == api
    assert set(check.result["estimate"]) == set(response.json()["estimate"])
    assert check.result["summary"].startswith("3 of 3 elements checked")
    assert check.ok is True and check.complete is True
    text = repr(check)
    assert text.startswith("gradient check: ok")
    assert "apple" in text and "tax" in text


def test_gradient_check_options_and_skipped_data():
    check = bv.gradient_check(
        graph={
            "nodes": [
                {"id": "x", "op": "input", "value": [[0.3, 2.0, -1.0]]},
                {"id": "t", "op": "input", "value": [[0.0, 1.0, 0.0]]},
                {"id": "loss", "op": "softmax_with_loss", "inputs": ["x", "t"]},
            ],
            "output": "loss",
        },
        h=1e-5,
    )
    assert check.h == 1e-5 and check.ok
    assert [s["node"] for s in check.skipped] == ["t"]
    assert "skipped" in repr(check)


def test_book_layers_import_as_the_book_names_them():
    from backprop_viz.layers import AddLayer, Affine, MulLayer, Relu, Sigmoid, SoftmaxWithLoss

    apple = MulLayer()
    assert apple.forward(100, 2) == 200
    assert AddLayer().forward(1, 2) == 3
    assert Relu().forward(np.array([-1.0, 2.0])).tolist() == [0.0, 2.0]
    assert Sigmoid().forward(np.array(0.0)) == 0.5
    assert Affine(np.eye(2), np.zeros(2)).forward(np.ones((1, 2))).tolist() == [[1.0, 1.0]]
    assert SoftmaxWithLoss().forward(np.zeros(2), np.array([1.0, 0.0])) == pytest.approx(np.log(2))


def test_import_is_light():
    code = (
        "import sys, backprop_viz; "
        "print(sorted(m for m in sys.modules if m.startswith(('backprop_viz', 'numpy'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['backprop_viz']"
    assert callable(bv.trace) and "check_layer" in dir(bv)
    with pytest.raises(AttributeError):
        bv.no_such_name  # noqa: B018


def test_steps_are_a_list_of_the_callers_own_on_the_scalar_fast_path_too():
    """apple runs on the scalar fast path, whose trace makes its steps lazily and read-only."""
    trace = bv.trace(example="apple")
    steps = trace.steps
    assert isinstance(steps, list) and len(steps) == 4
    steps.append(steps[0])
    assert len(trace.steps) == 4
