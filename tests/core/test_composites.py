"""Composite nodes expand into the book's primitive graphs with the same numbers around them."""

from __future__ import annotations

import numpy as np


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
