"""Composite nodes expand into the book's primitive graphs with the same numbers around them."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_viz.core.composites import COMPOSITES, expand_composites
from backprop_viz.core.engine import run_graph
from backprop_viz.core.graph import GraphError, build_graph
from backprop_viz.core.ops import OPS, expansion_ops
from backprop_viz.settings import Settings


def test_expand_sigmoid_keeps_surrounding_numbers(client):
    one = client.post("/api/trace", json={"example": "sigmoid"}).json()
    expanded = client.post("/api/trace", json={"example": "sigmoid", "expand": ["y"]}).json()
    ops = [n["op"] for n in expanded["graph"]["nodes"] if n["group"] == "y"]
    assert ops == ["input", "mul", "exp", "input", "add", "reciprocal"]
    assert expanded["values"]["y"] == one["values"]["y"]
    np.testing.assert_allclose(expanded["grads"]["x"], one["grads"]["x"], rtol=1e-15)


def test_expand_affine_keeps_surrounding_numbers(client):
    body = {"example": "two_layer_net"}
    one = client.post("/api/trace", json=body).json()
    expanded = client.post("/api/trace", json={**body, "expand": ["affine1", "affine2"]}).json()
    assert "affine1/dot" in expanded["values"]
    for node in ("affine1", "relu1", "affine2", "loss", "W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(expanded["values"][node], one["values"][node], rtol=1e-14)
        np.testing.assert_allclose(expanded["grads"][node], one["grads"][node], rtol=1e-14)
    edges = {e["id"] for e in expanded["graph"]["edges"]}
    assert "affine1->relu1:0" in edges  # the edge out of the composite keeps its id


def test_expand_rejects_non_composite_and_unknown(client):
    response = client.post("/api/trace", json={"example": "apple", "expand": ["price"]})
    assert response.status_code == 422
    assert response.json()["node"] == "price"
    assert "only sigmoid and affine" in response.json()["detail"]
    response = client.post("/api/trace", json={"example": "apple", "expand": ["nope"]})
    assert response.status_code == 422
    assert "no node with id 'nope'" in response.json()["detail"]


@pytest.mark.parametrize("name", COMPOSITES)
def test_every_composite_expands_to_the_same_numbers_on_each_of_its_samples(name):
    op = OPS[name]
    assert op.samples, f"{name} has no sample inputs"
    refused = []
    for sample in op.samples:
        leaves = [
            {"id": port, "op": "input", "value": value.tolist()}
            for port, value in zip(op.inputs, sample.values(), strict=True)
        ]
        composite = {"id": "c", "op": name, "inputs": list(op.inputs), "params": sample.params}
        nodes = [*leaves, composite, {"id": "out", "op": "sum", "inputs": ["c"]}]
        one = run_graph(build_graph(nodes, "out", Settings()))
        expanded_nodes = expand_composites(nodes, ["c"])
        try:
            expanded = run_graph(build_graph(expanded_nodes, "out", Settings()))
        except GraphError as e:
            # Affine flattens a tensor x (N, C, H, W); the dot node takes matrices only, and
            # says so naming the expanded node.
            assert "part of the expanded 'c'" in str(e), str(e)
            refused.append(sample.label)
            continue
        assert [
            n["op"] for n in expanded_nodes if n.get("group") == "c" and n["op"] != "input"
        ] == (expansion_ops(op))
        for node in ("c", "out", *op.inputs):
            where = f"{name} [{sample.label}] {node}"
            np.testing.assert_allclose(
                expanded.values[node], one.values[node], rtol=1e-13, err_msg=where
            )
            if one.grads[node] is None:  # data (t of Softmax-with-Loss) takes no gradient
                assert expanded.grads[node] is None, where
                continue
            np.testing.assert_allclose(
                expanded.grads[node], one.grads[node], rtol=1e-13, atol=1e-15, err_msg=where
            )
    assert len(refused) < len(op.samples)
    assert refused == (["(2, 1, 2, 3), (6, 4), (4,) tensor"] if name == "affine" else [])
