"""POST /api/paths: the sum over paths equals the gradient (Olah's de/db = 1·2 + 1·3 = 5),
paths are counted before they are listed (an explosion is a quick 422), tensors are refused."""

from __future__ import annotations

import time

import pytest

from backprop_viz.paths import MAX_PATHS


def post_paths(client, **body):
    return client.post("/api/paths", json=body)


def test_olah_de_db_is_the_sum_of_two_paths_1_times_2_plus_1_times_3(client):
    r = post_paths(client, example="olah_fork", **{"from": "b"})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["to"] == "e" and data["count"] == 2
    described = [
        (
            [e["source"] for e in p["edges"]] + [p["edges"][-1]["target"]],
            [e["local"] for e in p["edges"]],
            p["product"],
        )
        for p in data["paths"]
    ]
    assert described == [(["b", "c", "e"], [1.0, 2.0], 2.0), (["b", "d", "e"], [1.0, 3.0], 3.0)]
    assert data["sum"] == 5.0 == data["derivative"]
    grads = client.post("/api/trace", json={"example": "olah_fork"}).json()["grads"]
    assert data["sum"] == grads["b"]


def test_olah_de_da_is_one_path_and_to_can_be_an_inner_node(client):
    data = post_paths(client, example="olah_fork", **{"from": "a"}).json()
    assert data["count"] == 1 and data["sum"] == 2.0
    inner = post_paths(client, example="olah_fork", to="d", **{"from": "a"}).json()
    assert inner["count"] == 0 and inner["paths"] == [] and inner["sum"] == 0.0
    assert inner["derivative"] == 0.0


def test_x_times_x_counts_two_edges_so_x_times_x_plus_x_has_three_paths(client):
    body = {"expression": "z = x * x + x", "values": {"x": 3}, "from": "x"}
    data = client.post("/api/paths", json=body).json()
    assert data["count"] == 3
    assert sorted(p["product"] for p in data["paths"]) == [1.0, 3.0, 3.0]
    assert data["sum"] == 7.0 == data["derivative"]  # 2x + 1 at x = 3


@pytest.mark.parametrize(
    "example_id, leaves",
    [
        ("apple", ["apple", "apple_num", "tax"]),
        ("apple_orange", ["apple", "apple_num", "orange", "orange_num", "tax"]),
        ("cs231n_circuit", ["x", "y", "z"]),
        ("sigmoid_steps", ["x"]),
        ("chain_rule", ["x", "y"]),
    ],
)
def test_every_scalar_presets_sum_over_paths_is_its_gradient(client, example_id, leaves):
    grads = client.post("/api/trace", json={"example": example_id}).json()["grads"]
    for leaf in leaves:
        data = client.post("/api/paths", json={"example": example_id, "from": leaf}).json()
        assert data["sum"] == pytest.approx(grads[leaf], rel=1e-12), leaf


def test_cs231n_neuron_expanded_sum_over_paths_is_dx0_0_39(client):
    body = {"example": "cs231n_neuron", "expand": ["f"], "from": "x0"}
    data = client.post("/api/paths", json=body).json()
    assert data["count"] == 1
    assert [e["target"] for e in data["paths"][0]["edges"]][-4:] == ["f/neg", "f/exp", "f/add", "f"]
    assert data["sum"] == pytest.approx(0.39, abs=5e-3)


def fans(layers: int, width: int = 10, extra_edge: bool = False) -> dict:
    """x through ``layers`` fans: each node feeds ``width`` negations summed back into one, so
    width ** layers paths lead from x to the output (one more with ``extra_edge``)."""
    nodes = [{"id": "x", "op": "input", "value": 0.5}]
    previous = "x"
    for layer in range(layers):
        branches = [f"n{layer}_{i}" for i in range(width)]
        nodes += [{"id": b, "op": "neg", "inputs": [previous]} for b in branches]
        total = branches[0]
        for i, b in enumerate(branches[1:]):
            nodes.append({"id": f"s{layer}_{i}", "op": "add", "inputs": [total, b]})
            total = f"s{layer}_{i}"
        previous = total
    if extra_edge:
        nodes.append({"id": "out", "op": "add", "inputs": [previous, "x"]})
        previous = "out"
    return {"nodes": nodes, "output": previous}


def test_just_at_the_limit_of_1000_paths_they_are_listed_and_sum_to_the_gradient(client):
    assert MAX_PATHS == 1000
    r = client.post("/api/paths", json={"graph": fans(3), "from": "x"})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["count"] == len(data["paths"]) == 1000
    assert all(p["product"] == -1.0 for p in data["paths"])  # three negations each
    assert data["sum"] == -1000.0 == data["derivative"]


def test_one_path_over_the_limit_is_a_422_naming_the_count(client):
    r = client.post("/api/paths", json={"graph": fans(3, extra_edge=True), "from": "x"})
    assert r.status_code == 422
    error = r.json()
    assert error["field"] == "from" and error["node"] == "x"
    assert "1,001 paths" in error["detail"] and "1,000" in error["detail"]


def test_an_exponential_number_of_paths_is_refused_quickly_not_enumerated(client):
    # 2 ** 60 paths through 60 diamonds x -> (x + x): counted, never listed
    nodes = [{"id": "d0", "op": "input", "value": 0.001}]
    for i in range(1, 61):
        nodes.append({"id": f"d{i}", "op": "add", "inputs": [f"d{i - 1}", f"d{i - 1}"]})
    start = time.perf_counter()
    r = client.post("/api/paths", json={"graph": {"nodes": nodes, "output": "d60"}, "from": "d0"})
    assert time.perf_counter() - start < 5
    assert r.status_code == 422
    assert f"{2**60:,} paths" in r.json()["detail"]


@pytest.mark.parametrize(
    "body, field, node, fragment",
    [
        ({"example": "affine", "from": "X"}, "from", "X", "scalar graphs only"),
        ({"example": "relu", "from": "x"}, "from", "x", "scalar graphs only"),
        ({"example": "olah_fork", "from": "e"}, "from", "e", "not an input"),
        ({"example": "olah_fork", "from": "one"}, "from", "one", "is data"),
        ({"example": "olah_fork", "from": "q"}, "from", "q", "no node"),
        ({"example": "olah_fork", "from": "b", "to": "zz"}, "to", "zz", "no node"),
        ({"example": "olah_fork"}, "from", None, "required"),
    ],
)
def test_bad_paths_requests_are_422s_naming_the_field_and_node(client, body, field, node, fragment):
    r = client.post("/api/paths", json=body)
    assert r.status_code == 422, r.text
    error = r.json()
    assert (error["field"], error["node"]) == (field, node)
    assert fragment in error["detail"]
