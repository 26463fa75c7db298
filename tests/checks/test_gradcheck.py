"""The gradient check (5.7.3): backprop against numerical differentiation, bounded in time."""

from __future__ import annotations

import time

import pytest

from backprop_viz.examples import EXAMPLES


@pytest.mark.parametrize("example_id", [e for e in EXAMPLES if e != "two_layer_net_book"])
def test_gradcheck_every_preset_passes(client, example_id):
    response = client.post("/api/gradcheck", json={"example": example_id})
    assert response.status_code == 200
    result = response.json()
    assert result["ok"] is True
    for leaf in result["leaves"]:
        assert leaf["checked"] == leaf["elements"]
        assert leaf["max_rel_error"] <= 1e-5


def test_gradcheck_chain_rule_expression_errors_tiny(client):
    response = client.post(
        "/api/gradcheck", json={"expression": "(x + y)**2", "values": {"x": 1, "y": 2}}
    )
    assert response.status_code == 200
    result = response.json()
    assert result["ok"] is True
    by_node = {leaf["node"]: leaf for leaf in result["leaves"]}
    assert by_node["x"]["backprop"] == 6.0
    assert by_node["x"]["max_abs_error"] < 1e-7
    assert by_node["y"]["max_abs_error"] < 1e-7


def test_gradcheck_book_size_net_is_sampled_and_bounded(client):
    start = time.perf_counter()
    response = client.post("/api/gradcheck", json={"example": "two_layer_net_book"})
    elapsed = time.perf_counter() - start
    assert response.status_code == 200
    result = response.json()
    assert elapsed < 8
    assert result["ok"] is True
    assert 0 < result["checked"] < result["elements"] == 784 * 50 + 50 + 50 * 10 + 10
    assert all(leaf["checked"] >= 1 for leaf in result["leaves"])
    w1 = next(leaf for leaf in result["leaves"] if leaf["node"] == "W1")
    assert w1["sampled"] is True
    assert result["speedup"] > 100  # backprop is orders of magnitude faster


def test_gradcheck_detects_a_wrong_gradient(client, monkeypatch):
    from backprop_viz.core import layers

    def wrong_backward(self, dout):
        return dout * self.y * 1.01, dout * self.x

    monkeypatch.setattr(layers.MulLayer, "backward", wrong_backward)
    result = client.post("/api/gradcheck", json={"example": "apple"}).json()
    assert result["ok"] is False
    by_node = {leaf["node"]: leaf["ok"] for leaf in result["leaves"]}
    # dx is 1 % too large at both mul nodes: apple_price's error reaches apple and apple_num;
    # tax gets dy, which is still right.
    assert by_node == {"apple": False, "apple_num": False, "tax": True}


def test_gradcheck_rejects_bad_step(client):
    response = client.post("/api/gradcheck", json={"example": "apple", "h": 0})
    assert response.status_code == 422
    assert "h" in str(response.json()["detail"])


def test_gradcheck_nan_errors_read_as_nan_not_zero(client):
    body = {"expression": "z = log(x)", "values": {"x": -1}}
    result = client.post("/api/gradcheck", json=body).json()
    (leaf,) = result["leaves"]
    assert leaf["max_abs_error"] == "NaN" and leaf["max_rel_error"] == "NaN"
    assert leaf["ok"] is False and result["ok"] is False


def test_gradcheck_soft_labels_pass(client):
    body = {"example": "softmax_with_loss", "values": {"t": [1, 1, 0]}}
    assert client.post("/api/gradcheck", json=body).json()["ok"] is True
