"""POST /api/trace in forward mode: the tangents, the passes, and every bad wrt as a 422 that
names the field and the node."""

from __future__ import annotations

import pytest


def test_forward_mode_of_cs231n_gives_each_gradient_as_the_outputs_tangent(client):
    for leaf, gradient in [("x", -4.0), ("y", -4.0), ("z", 3.0)]:
        body = {"example": "cs231n_circuit", "mode": "forward", "wrt": leaf}
        r = client.post("/api/trace", json=body)
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["tangents"]["f"] == gradient == data["grads"][leaf]
        assert data["passes"] == {"reverse": 1, "forward": 3}


def test_reverse_mode_says_so_and_counts_the_passes_too(client):
    data = client.post("/api/trace", json={"example": "two_layer_net_book"}).json()
    assert data["mode"] == "reverse"
    assert data["passes"] == {"reverse": 1, "forward": 39_760}
    assert "tangents" not in data and "wrt" not in data


@pytest.mark.parametrize(
    "body, field, node, fragment",
    [
        ({"example": "apple", "mode": "forward"}, "wrt", None, "forward mode needs 'wrt'"),
        ({"example": "apple", "mode": "forward", "wrt": "pear"}, "wrt", "pear", "no node"),
        ({"example": "apple", "mode": "forward", "wrt": "price"}, "wrt", "price", "not an input"),
        ({"example": "apple", "wrt": "tax"}, "wrt", None, "only forward mode"),
        ({"example": "apple", "wrt_index": [0]}, "wrt_index", None, "only forward mode"),
        (
            {"example": "softmax_with_loss", "mode": "forward", "wrt": "t", "wrt_index": [0]},
            "wrt",
            "t",
            "is data",
        ),
        ({"example": "relu", "mode": "forward", "wrt": "x"}, "wrt_index", "x", "shape [2, 2]"),
        (
            {"example": "relu", "mode": "forward", "wrt": "x", "wrt_index": [0, 2]},
            "wrt_index",
            "x",
            "is not an element",
        ),
        ({"example": "apple", "mode": "sideways"}, "mode", None, "'reverse' or 'forward'"),
        ({"example": "apple", "mode": "forward", "wrt": 3}, "wrt", None, "string"),
    ],
)
def test_a_bad_forward_mode_request_is_a_422_naming_the_field_and_node(
    client, body, field, node, fragment
):
    r = client.post("/api/trace", json=body)
    assert r.status_code == 422, r.text
    error = r.json()
    assert error["field"] == field
    assert error["node"] == node
    assert fragment in error["detail"]
