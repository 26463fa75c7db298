"""The book's Appendix A: Softmax-with-Loss expanded into the Softmax and Cross Entropy Error
layers (figure 5-29) and further into the appendix's primitive graph, with the same numbers
around it, a gradient check that passes, and the backward reaching y - t (or (y - t) / N)."""

from __future__ import annotations

import jsonschema
import numpy as np
import pytest
from specs import graph, leaf, op

from backprop_viz import service
from backprop_viz.core.layers import Softmax
from backprop_viz.settings import Settings
from backprop_viz.web.schemas import TraceResponse

LEVEL_ONE = ["L"]
ALL_LEVELS = ["L", "L/softmax", "L/cross_entropy_error"]
EXPANSIONS = [LEVEL_ONE, ["L", "L/softmax"], ["L", "L/cross_entropy_error"], ALL_LEVELS]
Y = np.array([0.3, 0.2, 0.5])  # figure 5-30: softmax of the preset's scores
T = np.array([0.0, 1.0, 0.0])


def traced(expand=(), **query):
    query.setdefault("example", "softmax_with_loss")
    return service.trace(service.TraceQuery(expand=list(expand), **query), Settings()).trace


def scores_graph(a, t) -> dict:
    nodes = [
        leaf("a", np.asarray(a).tolist()),
        leaf("t", np.asarray(t).tolist(), requires_grad=False),
        op("L", "softmax_with_loss", "a", "t"),
    ]
    return graph(nodes, "L")["graph"]


def edge_grad(trace, source: str) -> np.ndarray:
    """The gradient along the one edge that leaves ``source`` and takes one."""
    (grad,) = [
        trace.edge_grads[e.id] for e in trace.graph.consumers[source] if e.id in trace.edge_grads
    ]
    return grad


def assert_same_surrounding_numbers(one, expanded, scores: str = "a") -> None:
    """The loss on the edge out and the gradient on the edge in, to 1e-12."""
    np.testing.assert_allclose(expanded.values["L"], one.values["L"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(expanded.grads[scores], one.grads[scores], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        edge_grad(expanded, scores), edge_grad(one, scores), rtol=1e-12, atol=1e-12
    )
    assert expanded.grads["t"] is None and one.grads["t"] is None  # t is data


@pytest.mark.parametrize("expand", EXPANSIONS, ids=lambda e: "+".join(e))
def test_every_level_keeps_the_loss_and_the_gradient_of_the_scores(expand):
    one, expanded = traced(), traced(expand)
    assert_same_surrounding_numbers(one, expanded)
    # the backward reaches (y1 - t1, y2 - t2, y3 - t3) = (0.3, -0.8, 0.5), as the appendix says
    np.testing.assert_allclose(expanded.grads["a"], Y - T, rtol=1e-12, atol=1e-15)
    assert float(expanded.values["L"]) == pytest.approx(-np.log(0.2), rel=1e-15)
    assert expanded.warnings == []


def test_figure_5_29_is_the_softmax_layer_then_the_cross_entropy_error_layer():
    trace = traced(LEVEL_ONE)
    nodes = trace.graph.nodes
    assert (nodes["L/softmax"].op.name, nodes["L"].op.name) == ("softmax", "cross_entropy_error")
    assert nodes["L"].inputs == ["L/softmax", "t"]
    np.testing.assert_allclose(trace.values["L/softmax"], Y, rtol=1e-15)
    # the gradient between the two layers: -t / y, then Softmax's backward makes it y - t
    np.testing.assert_allclose(trace.grads["L/softmax"], -T / Y, rtol=1e-15)


def test_appendix_a_primitives_and_the_gradient_of_each():
    trace = traced(ALL_LEVELS)
    ops = {n: trace.graph.nodes[n].op.name for n in trace.graph.order}
    assert [ops[n] for n in trace.graph.order if n.startswith("L/softmax")] == [
        "exp",
        "sum",
        "reciprocal",
        "mul",
    ]
    cross_entropy = [n for n in trace.graph.order if n.startswith("L/") and "softmax" not in n]
    assert [ops[n] for n in [*cross_entropy, "L"]] == [
        "one_hot",
        "log",
        "mul",
        "sum",
        "input",
        "mul",
        "mean",
    ]
    values, grads = trace.values, trace.grads
    e, S = np.exp(np.log(Y)), np.sum(np.exp(np.log(Y)))
    np.testing.assert_allclose(values["L/softmax/sum"], [S], rtol=1e-15)
    # figure A-5 onwards: log's backward -t/y, the "/" node gets -S(t1 + t2 + t3) = -S and
    # sends 1/S to the sum, which passes it on to every exp
    np.testing.assert_allclose(grads["L/log"], -T, rtol=1e-15)
    np.testing.assert_allclose(grads["L/softmax"], -T / Y, rtol=1e-15)
    np.testing.assert_allclose(grads["L/softmax/reciprocal"], [-S], rtol=1e-15)
    np.testing.assert_allclose(grads["L/softmax/sum"], [1 / S], rtol=1e-15)
    # the exp output forks: its two gradients add up to 1/S - t/exp(a), which exp's backward
    # multiplies by exp(a): y - t
    np.testing.assert_allclose(grads["L/softmax/exp"], 1 / S - T / e, rtol=1e-15)


def test_the_fork_at_exp_is_an_accumulate_step_whose_parts_add_up():
    trace = traced(ALL_LEVELS)
    forks = {s.node: s for s in trace.steps if s.phase == "accumulate"}
    assert list(forks) == ["L/softmax", "L/softmax/exp"]
    # y feeds log and, for its shape only, the one-hot node, whose part is exactly zero
    parts_of_y = {part.target: part.grad for part in forks["L/softmax"].parts}
    np.testing.assert_array_equal(parts_of_y["L/one_hot"], np.zeros(3))
    np.testing.assert_array_equal(forks["L/softmax"].sum, parts_of_y["L/log"])
    fork = forks["L/softmax/exp"]
    parts = {part.target: part.grad for part in fork.parts}
    assert set(parts) == {"L/softmax/sum", "L/softmax"}  # into the sum, and into the product
    S = float(trace.values["L/softmax/sum"][0])
    np.testing.assert_allclose(parts["L/softmax/sum"], np.full(3, 1 / S), rtol=1e-15)
    np.testing.assert_allclose(parts["L/softmax"], -T / np.exp(np.log(Y)), rtol=1e-15)
    np.testing.assert_array_equal(fork.sum, parts["L/softmax/sum"] + parts["L/softmax"])


def test_the_order_of_the_expand_list_does_not_matter():
    in_order = traced(ALL_LEVELS)
    reversed_ = traced(list(reversed(ALL_LEVELS)))
    assert in_order.graph.order == reversed_.graph.order
    np.testing.assert_array_equal(in_order.grads["a"], reversed_.grads["a"])


@pytest.mark.parametrize(
    "t",
    [1.0, [0.0, 1.0, 0.0], [0.25, 0.75, 0.0], [0.0, 0.0, 0.0]],
    ids=["class index", "one-hot", "soft labels", "no label"],
)
@pytest.mark.parametrize("expand", EXPANSIONS, ids=lambda e: "+".join(e))
def test_both_label_forms_and_soft_labels_give_the_same_numbers(expand, t):
    one = traced(values={"t": t})
    expanded = traced(expand, values={"t": t})
    assert_same_surrounding_numbers(one, expanded)
    t_hot = np.eye(3)[1] if np.ndim(t) == 0 else np.asarray(t)
    np.testing.assert_allclose(expanded.grads["a"], Y * t_hot.sum() - t_hot, atol=1e-15)


@pytest.mark.parametrize("labels", ["one-hot", "class indices"])
@pytest.mark.parametrize("expand", EXPANSIONS, ids=lambda e: "+".join(e))
def test_a_batch_gives_y_minus_t_over_n_through_the_mean_node(expand, labels):
    rng = np.random.default_rng(5)
    a = rng.normal(scale=3, size=(4, 3))
    classes = np.array([2, 0, 1, 2])
    t = np.eye(3)[classes] if labels == "one-hot" else classes.astype(float)
    spec = scores_graph(a, t)
    one, expanded = traced(example=None, graph=spec), traced(expand, example=None, graph=spec)
    assert_same_surrounding_numbers(one, expanded)
    y = np.exp(a) / np.exp(a).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(expanded.grads["a"], (y - np.eye(3)[classes]) / 4, atol=1e-15)
    if "L/cross_entropy_error" in expand:
        # the mean over the batch (the ÷N node) sends 1/N to each sample's loss
        np.testing.assert_allclose(expanded.grads["L/neg"], np.full(4, 1 / 4), rtol=1e-15)


@pytest.mark.parametrize("expand", EXPANSIONS, ids=lambda e: "+".join(e))
def test_the_two_layer_net_keeps_every_number_when_its_loss_is_expanded(expand):
    expand = [e.replace("L", "loss", 1) for e in expand]
    one, expanded = traced(example="two_layer_net"), traced(expand, example="two_layer_net")
    for node in ("affine2", "W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(
            expanded.grads[node], one.grads[node], rtol=1e-12, atol=1e-12, err_msg=node
        )
    np.testing.assert_allclose(expanded.values["loss"], one.values["loss"], rtol=1e-12)


@pytest.mark.parametrize("expand", EXPANSIONS, ids=lambda e: "+".join(e))
def test_the_gradient_check_passes_on_the_expanded_graph(expand):
    for example, labels in (("softmax_with_loss", {}), ("softmax_with_loss", {"t": 2})):
        query = service.TraceQuery(example=example, expand=expand, values=labels)
        report = service.check_gradients(query, Settings())
        assert report["ok"] is True, report
        assert [leaf["node"] for leaf in report["leaves"]] == ["a"]
        assert report["leaves"][0]["max_abs_error"] < 1e-9


def test_the_gradient_check_passes_on_the_expanded_two_layer_net():
    expand = ["loss", "loss/softmax", "loss/cross_entropy_error", "affine1", "affine2"]
    query = service.TraceQuery(example="two_layer_net", expand=expand)
    report = service.check_gradients(query, Settings())
    assert report["ok"] is True, report
    assert {leaf["node"] for leaf in report["leaves"]} == {"W1", "b1", "W2", "b2"}


def test_random_scores_match_the_one_node_to_1e_12_without_the_books_max_shift():
    """The primitive softmax has no max subtraction (the appendix's figure has none): over
    scores of either sign up to about 40, the numbers still agree to 1e-12."""
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(50):
        a = rng.normal(scale=10, size=(5, 4))
        t = np.eye(4)[rng.integers(0, 4, 5)]
        spec = scores_graph(a, t)
        one = traced(example=None, graph=spec)
        expanded = traced(ALL_LEVELS, example=None, graph=spec)
        assert_same_surrounding_numbers(one, expanded)
        worst = max(worst, float(np.max(np.abs(one.grads["a"] - expanded.grads["a"]))))
    assert worst < 1e-15  # measured: about 4e-16


def test_where_exp_overflows_the_primitive_graph_says_so_and_the_layers_do_not():
    """Above 709 exp overflows: the appendix's arithmetic shows it (with a warning), while the
    book's softmax (the Softmax node, and the one Softmax-with-Loss node) subtracts the max."""
    spec = scores_graph([1000.0, 999.0, 998.0], [1.0, 0.0, 0.0])
    one = traced(example=None, graph=spec)
    level_one = traced(LEVEL_ONE, example=None, graph=spec)
    assert_same_surrounding_numbers(one, level_one)
    primitive = traced(["L", "L/softmax"], example=None, graph=spec)
    assert not np.isfinite(primitive.values["L"])
    assert {w["node"] for w in primitive.warnings} >= {"L/softmax/exp"}
    np.testing.assert_allclose(
        Softmax().forward(np.array([1000.0, 999.0, 998.0])),
        np.exp([0.0, -1.0, -2.0]) / np.exp([0.0, -1.0, -2.0]).sum(),
        rtol=1e-15,
    )


def test_the_api_expands_the_nested_nodes_and_refuses_what_is_not_there(client):
    r = client.post("/api/trace", json={"example": "softmax_with_loss", "expand": ALL_LEVELS})
    assert r.status_code == 200
    body = r.json()
    np.testing.assert_allclose(body["grads"]["a"], Y - T, atol=1e-15)
    groups = {n["id"]: n["group"] for n in body["graph"]["nodes"]}
    assert groups["L"] == "L/cross_entropy_error" and groups["L/softmax"] == "L/softmax"
    composite = {n["id"] for n in body["graph"]["nodes"] if n["composite"]}
    assert composite == set()
    # the Cross Entropy Error node kept the id L, so it is expanded as L/cross_entropy_error,
    # which only exists once L is expanded
    r = client.post(
        "/api/trace", json={"example": "softmax_with_loss", "expand": ["L/cross_entropy_error"]}
    )
    assert r.status_code == 422
    assert r.json() == {
        "detail": "expand: no node with id 'L/cross_entropy_error'",
        "field": "expand",
        "node": "L/cross_entropy_error",
    }
    expand = ["L", "L/softmax", "L/softmax/exp"]
    r = client.post("/api/trace", json={"example": "softmax_with_loss", "expand": expand})
    assert r.status_code == 422
    assert r.json()["node"] == "L/softmax/exp"
    assert "is a exp node; only sigmoid and affine nodes" in r.json()["detail"]


def test_the_op_catalogue_lists_the_appendix_ops_and_what_they_expand_into(client):
    ops = {o["name"]: o for o in client.get("/api/ops").json()}
    assert ops["softmax_with_loss"]["expands_to"] == ["softmax", "cross_entropy_error"]
    assert ops["softmax"]["expands_to"] == ["exp", "sum", "reciprocal", "mul"]
    assert ops["cross_entropy_error"]["expands_to"] == [
        "one_hot",
        "log",
        "mul",
        "sum",
        "mul",
        "mean",
    ]
    for name in ("softmax", "cross_entropy_error", "one_hot", "mean"):
        assert ops[name]["description"] and ops[name]["layer"], name
        assert ops[name]["function"] is None, name  # not callable in a formula
    assert ops["sum"]["params"]["keepdims"]


@pytest.fixture(scope="module")
def trace_validator():
    """The TraceResponse component of the app's /openapi.json, as tests/web/test_trace_schema."""
    from fastapi.testclient import TestClient

    from backprop_viz.web.app import create_app

    document = TestClient(create_app(Settings())).get("/openapi.json").json()
    schema = {"$ref": "#/components/schemas/TraceResponse", "components": document["components"]}
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize(
    "body",
    [
        {"example": "softmax_with_loss", "expand": ["L"]},
        {"example": "softmax_with_loss", "expand": ALL_LEVELS, "values": {"t": 2}},
        {"example": "two_layer_net", "expand": [e.replace("L", "loss", 1) for e in ALL_LEVELS]},
        {"example": "two_layer_net", "expand": ["loss", "loss/cross_entropy_error"], "full": True},
    ],
    ids=["level one", "all levels, class index", "net", "net full"],
)
def test_expanded_traces_match_the_published_schema(client, trace_validator, body):
    r = client.post("/api/trace", json=body)
    assert r.status_code == 200
    data = r.json()
    TraceResponse.model_validate(data, strict=True)
    trace_validator.validate(data)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_forward_mode_on_the_expanded_graph_gives_each_element_of_y_minus_t(index):
    query = service.TraceQuery(
        example="softmax_with_loss", expand=ALL_LEVELS, mode="forward", wrt="a", wrt_index=[index]
    )
    tangents = service.trace(query, Settings()).forward_mode
    assert float(tangents.output_tangent) == pytest.approx((Y - T)[index], abs=1e-15)
