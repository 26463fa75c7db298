"""The book's numbers for every chapter 5 preset, through POST /api/trace."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backprop_viz.examples import EXAMPLES


def post_trace(client, **body) -> dict:
    r = client.post("/api/trace", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_examples_every_preset_of_the_design_table_exists():
    expected = {
        "apple",
        "apple_orange",
        "chain_rule",
        "add_node",
        "mul_node",
        "relu",
        "sigmoid_steps",
        "sigmoid",
        "affine",
        "affine_batch",
        "softmax_with_loss",
        "two_layer_net",
    }
    assert expected <= set(EXAMPLES)


@pytest.mark.parametrize("example_id", list(EXAMPLES))
def test_examples_preset_has_titles_in_both_languages_and_a_chapter_5_section(example_id):
    example = EXAMPLES[example_id]
    assert example.title["en"].strip() and example.title["ja"].strip()
    assert example.description["en"].strip() and example.description["ja"].strip()
    assert example.section.startswith("5.")
    assert example.group["en"].startswith(example.section[:3])


@pytest.mark.parametrize("example_id", list(EXAMPLES))
def test_examples_preset_traces_without_warnings(client, example_id):
    data = post_trace(client, example=example_id)
    assert data["warnings"] == []
    assert data["graph"]["output"] == EXAMPLES[example_id].output
    assert data["grads"][EXAMPLES[example_id].output] is not None


def test_examples_apple_gives_220_and_the_books_gradients(client):
    data = post_trace(client, example="apple")
    assert data["values"]["price"] == pytest.approx(220.0, abs=1e-9)  # 220.00000000000003
    assert data["values"]["apple_price"] == 200.0
    assert data["grads"]["apple"] == pytest.approx(2.2)
    assert data["grads"]["apple_num"] == pytest.approx(110.0)
    assert data["grads"]["tax"] == pytest.approx(200.0)
    assert data["grads"]["apple_price"] == pytest.approx(1.1)


def test_examples_apple_with_apple_150_gives_330(client):
    data = post_trace(client, example="apple", values={"apple": 150})
    assert data["values"]["price"] == pytest.approx(330.0)
    assert data["grads"]["apple_num"] == pytest.approx(165.0)
    assert data["grads"]["apple"] == pytest.approx(2.2)
    assert data["grads"]["tax"] == pytest.approx(300.0)


def test_examples_apple_orange_gives_715_and_the_books_gradients(client):
    data = post_trace(client, example="apple_orange")
    assert data["values"]["price"] == pytest.approx(715.0)
    expected = {"apple": 2.2, "apple_num": 110, "orange": 3.3, "orange_num": 165, "tax": 650}
    for node, grad in expected.items():
        assert data["grads"][node] == pytest.approx(grad), node
    # the add node passes 1.1 on to both branches
    assert data["grads"]["apple_price"] == pytest.approx(1.1)
    assert data["grads"]["orange_price"] == pytest.approx(1.1)


def test_examples_chain_rule_gives_z_9_and_gradients_6(client):
    data = post_trace(client, example="chain_rule")
    assert data["values"]["t"] == 3.0
    assert data["values"]["z"] == 9.0
    assert data["grads"]["x"] == pytest.approx(6.0)
    assert data["grads"]["y"] == pytest.approx(6.0)
    assert data["grads"]["t"] == pytest.approx(6.0)


@pytest.mark.parametrize("x,y", [(3.0, -1.5), (-2.0, 0.25), (0.0, 0.0), (10.0, 7.0)])
def test_examples_chain_rule_gradient_is_2_x_plus_y(client, x, y):
    data = post_trace(client, example="chain_rule", values={"x": x, "y": y})
    assert data["values"]["z"] == pytest.approx((x + y) ** 2)
    assert data["grads"]["x"] == pytest.approx(2 * (x + y))
    assert data["grads"]["y"] == pytest.approx(2 * (x + y))


def test_examples_add_node_passes_1_3_to_both_inputs(client):
    data = post_trace(client, example="add_node")
    assert data["values"]["z"] == 15.0
    assert data["dout"] == pytest.approx(1.3)
    assert data["grads"]["x"] == pytest.approx(1.3)
    assert data["grads"]["y"] == pytest.approx(1.3)


def test_examples_mul_node_swaps_the_inputs(client):
    data = post_trace(client, example="mul_node")
    assert data["values"]["z"] == 50.0
    assert data["grads"]["x"] == pytest.approx(6.5)
    assert data["grads"]["y"] == pytest.approx(13.0)


def test_examples_mul_node_dout_in_the_request_replaces_the_books_1_3(client):
    data = post_trace(client, example="mul_node", dout=2)
    assert data["grads"]["x"] == pytest.approx(10.0)
    assert data["grads"]["y"] == pytest.approx(20.0)


def test_examples_relu_masks_the_gradient_where_x_is_not_positive(client):
    data = post_trace(client, example="relu")
    assert data["values"]["y"] == [[1.0, 0.0], [0.0, 3.0]]
    # The preset's upstream gradient is not all ones, so the zeroing shows: the book's
    # Relu.backward, dout[self.mask] = 0 with mask = (x <= 0), written out by hand.
    assert data["dout"] == [[1.3, 0.8], [0.5, 2.0]]
    assert data["grads"]["x"] == [[1.3, 0.0], [0.0, 2.0]]


def test_examples_relu_with_an_array_dout(client):
    data = post_trace(client, example="relu", dout=[[5, 6], [7, 8]])
    assert data["grads"]["x"] == [[5.0, 0.0], [0.0, 8.0]]


@pytest.mark.parametrize("x", [1.0, -2.0, 0.0, 4.5])
def test_examples_sigmoid_steps_and_sigmoid_give_the_same_y_and_dx(client, x):
    steps = post_trace(client, example="sigmoid_steps", values={"x": x})
    single = post_trace(client, example="sigmoid", values={"x": x})
    y = 1 / (1 + np.exp(-x))
    assert steps["values"]["y"] == pytest.approx(y, rel=1e-12)
    assert single["values"]["y"] == pytest.approx(y, rel=1e-12)
    assert steps["grads"]["x"] == pytest.approx(y * (1 - y), rel=1e-9)
    assert single["grads"]["x"] == pytest.approx(y * (1 - y), rel=1e-12)


def test_examples_sigmoid_steps_constants_take_no_gradient(client):
    data = post_trace(client, example="sigmoid_steps")
    assert data["grads"]["minus_one"] is None
    assert data["grads"]["one"] is None
    # figure 5-20: the "/" node sends -dout * y**2 back
    y = data["values"]["y"]
    assert data["grads"]["denominator"] == pytest.approx(-(y**2))


@pytest.mark.parametrize("dout", [None, [1.0, 2.0, 3.0]])
def test_examples_affine_dx_is_dy_dot_w_transposed_and_dw_is_x_transposed_dot_dy(client, dout):
    body = {"example": "affine"} if dout is None else {"example": "affine", "dout": dout}
    data = post_trace(client, **body)
    X = np.array([1.0, 0.5])
    W = np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]])
    B = np.array([0.1, 0.2, 0.3])
    dY = np.ones(3) if dout is None else np.array(dout)
    np.testing.assert_allclose(data["values"]["Y"], X @ W + B, rtol=1e-12)
    np.testing.assert_allclose(data["grads"]["X"], dY @ W.T, rtol=1e-12)
    np.testing.assert_allclose(data["grads"]["W"], np.outer(X, dY), rtol=1e-12)
    np.testing.assert_allclose(data["grads"]["B"], dY, rtol=1e-12)


def test_examples_affine_batch_gives_the_books_y_and_db(client):
    data = post_trace(client, example="affine_batch")
    X = np.array([[0.0, 0.0], [2.0, 3.0]])
    W = np.full((2, 3), 2.0)
    dY = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert data["values"]["Y"] == [[1.0, 2.0, 3.0], [11.0, 12.0, 13.0]]
    assert data["grads"]["B"] == [5.0, 7.0, 9.0]
    np.testing.assert_allclose(data["grads"]["X"], dY @ W.T, rtol=1e-12)
    np.testing.assert_allclose(data["grads"]["W"], X.T @ dY, rtol=1e-12)


def test_examples_softmax_with_loss_gradient_is_y_minus_t(client):
    data = post_trace(client, example="softmax_with_loss")
    np.testing.assert_allclose(data["grads"]["a"], [0.3, -0.8, 0.5], atol=1e-12)
    assert data["values"]["L"] == pytest.approx(-np.log(0.2))
    assert data["grads"]["t"] is None


def net_loss(x, t, W1, b1, W2, b2) -> float:
    """TwoLayerNet's loss in plain NumPy: Affine, ReLU, Affine, softmax, cross entropy."""
    h = np.maximum(0, x @ W1 + b1)
    a = h @ W2 + b2
    a = a - a.max(axis=1, keepdims=True)
    log_y = a - np.log(np.exp(a).sum(axis=1, keepdims=True))
    return float(-np.sum(t * log_y) / x.shape[0])


def test_examples_two_layer_net_gradients_match_the_numerical_gradient_of_the_loss(client, numgrad):
    spec = client.get("/api/examples/two_layer_net").json()
    leaves = {n["id"]: np.array(n["value"]) for n in spec["graph"]["nodes"] if n["op"] == "input"}
    data = post_trace(client, example="two_layer_net")
    params = ["W1", "b1", "W2", "b2"]
    assert data["values"]["loss"] == pytest.approx(net_loss(**leaves), rel=1e-12)
    for name in params:

        def loss_of(p, name=name):
            return net_loss(**{**leaves, name: p})

        expected = numgrad(loss_of, leaves[name], h=1e-5)
        got = np.array(data["grads"][name])
        assert got.shape == leaves[name].shape
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9, err_msg=name)
    assert data["grads"]["x"] is None and data["grads"]["t"] is None


def test_examples_two_layer_net_book_size_response_is_small_and_summarised(client):
    r = client.post("/api/trace", json={"example": "two_layer_net_book"})
    assert r.status_code == 200
    assert len(r.content) < 300_000
    data = r.json()
    W1 = data["values"]["W1"]
    assert W1["shape"] == [784, 50]
    assert set(W1["summary"]) >= {"min", "max", "mean", "std", "norm"}
    assert len(W1["preview"]) <= 6 and len(W1["preview"][0]) <= 6
    assert data["grads"]["W1"]["shape"] == [784, 50]
    assert isinstance(data["values"]["loss"], float)
    assert data["values"]["loss"] == pytest.approx(np.log(10), rel=0.05)  # std 0.01: near chance


def test_examples_two_layer_net_book_full_sends_whole_arrays(client):
    r = client.post("/api/trace", json={"example": "two_layer_net_book", "full": True})
    assert r.status_code == 200
    data = json.loads(r.content)
    W1 = np.array(data["values"]["W1"])
    assert W1.shape == (784, 50)
    assert np.array(data["grads"]["W1"]).shape == (784, 50)
    assert np.array(data["values"]["x"]).shape == (100, 784)


@pytest.mark.parametrize("x,y", [(1000.0, 1.0), (-1000.0, 0.0)])
def test_examples_sigmoid_node_is_stable_at_plus_minus_1000(client, x, y):
    data = post_trace(client, example="sigmoid", values={"x": x})
    assert data["warnings"] == []
    assert data["values"]["y"] == y
    assert data["grads"]["x"] == 0.0


def test_examples_softmax_with_loss_is_stable_at_plus_minus_1000(client):
    data = post_trace(client, example="softmax_with_loss", values={"a": [1000, 0, -1000]})
    assert data["warnings"] == []
    assert data["values"]["L"] == pytest.approx(1000.0)  # -log softmax for the label t = 1
    np.testing.assert_allclose(data["grads"]["a"], [1.0, -1.0, 0.0], atol=1e-300)


# --- presets from beyond the book: Olah's fork, cs231n's circuit and sigmoid neuron -----------


def test_examples_olah_fork_gives_e_6_and_de_db_5_as_the_sum_of_two_paths(client):
    data = post_trace(client, example="olah_fork")
    assert data["values"]["c"] == 3.0 and data["values"]["d"] == 2.0
    assert data["values"]["e"] == 6.0
    assert data["grads"]["a"] == 2.0
    assert data["grads"]["b"] == 5.0
    assert data["grads"]["one"] is None  # the constant 1 takes no gradient
    (fork,) = [s for s in data["steps"] if s["phase"] == "accumulate"]
    assert fork["node"] == "b"
    assert sorted(p["grad"] for p in fork["parts"]) == [2.0, 3.0]
    assert fork["sum"] == 5.0


def test_examples_cs231n_circuit_gives_f_minus_12_and_gradients_minus_4_minus_4_3(client):
    data = post_trace(client, example="cs231n_circuit")
    assert data["values"]["q"] == 3.0
    assert data["values"]["f"] == -12.0
    assert [data["grads"][n] for n in ("x", "y", "z")] == [-4.0, -4.0, 3.0]


def test_examples_cs231n_neuron_gives_0_73_and_the_gradients_of_cs231n(client):
    data = post_trace(client, example="cs231n_neuron")
    assert data["values"]["activation"] == 1.0
    assert data["values"]["f"] == pytest.approx(0.73, abs=5e-3)
    local = data["values"]["f"] * (1 - data["values"]["f"])  # 0.19661...
    expected = {"w0": -0.2, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.2}
    for name, rounded in expected.items():
        assert data["grads"][name] == pytest.approx(rounded, abs=5e-3), name
    assert data["grads"]["w0"] == pytest.approx(-local)
    assert data["grads"]["x1"] == pytest.approx(-3 * local)


def test_examples_cs231n_neuron_expanded_sigmoid_gives_the_same_gradients(client):
    one = post_trace(client, example="cs231n_neuron")
    expanded = post_trace(client, example="cs231n_neuron", expand=["f"])
    assert any(n["group"] == "f" for n in expanded["graph"]["nodes"])
    for name in ("w0", "x0", "w1", "x1", "w2"):
        assert expanded["grads"][name] == pytest.approx(one["grads"][name], rel=1e-12)


@pytest.mark.parametrize("example_id", list(EXAMPLES))
def test_examples_labels_name_nodes_of_the_preset_in_both_languages(example_id):
    example = EXAMPLES[example_id]
    for node in example.nodes:
        if "labels" in node:
            assert set(node["labels"]) == {"en", "ja"}, node["id"]
            assert all(text.strip() for text in node["labels"].values()), node["id"]
    if example.meaning is not None:
        ids = {node["id"] for node in example.nodes}
        assert example.output in ids
        assert set(example.meaning["inputs"]) <= ids
        for words in [example.meaning["output"], example.meaning["unit"]]:
            assert set(words) == {"en", "ja"}
        for meaning in example.meaning["inputs"].values():
            assert set(meaning["what"]) == set(meaning["change"]) == {"en", "ja"}
            assert meaning["step"] > 0


def test_examples_apple_orange_uses_the_books_words():
    labels = {n["id"]: n["labels"] for n in EXAMPLES["apple_orange"].nodes}
    assert {
        k: v["ja"]
        for k, v in labels.items()
        if k in ("apple", "apple_num", "orange", "tax", "price")
    } == {
        "apple": "リンゴ",
        "apple_num": "リンゴの個数",
        "orange": "みかん",
        "tax": "消費税",
        "price": "支払金額",
    }
    assert labels["apple_num"]["en"] == "number of apples"
    assert labels["price"]["en"] == "price to pay"


def test_examples_labels_travel_in_the_trace_and_the_ids_stay(client):
    data = post_trace(client, example="apple")
    nodes = {n["id"]: n for n in data["graph"]["nodes"]}
    assert set(nodes) == {"apple", "apple_num", "apple_price", "tax", "price"}
    assert nodes["tax"]["labels"] == {"en": "tax", "ja": "消費税"}
    assert nodes["tax"]["label"] == "tax"  # the id, for clients that know no languages
    assert data["grads"]["apple"] == pytest.approx(2.2)
    summary = {e["id"]: e for e in client.get("/api/examples").json()}
    assert summary["apple"]["meaning"]["inputs"]["apple"]["what"]["ja"] == "リンゴの値段"
    assert summary["relu"]["meaning"] is None


def test_examples_labels_that_are_not_strings_are_a_422_naming_the_node(client):
    graph = {"nodes": [{"id": "x", "op": "input", "value": 1, "labels": {"en": 3}}], "output": "x"}
    r = client.post("/api/trace", json={"graph": graph})
    assert r.status_code == 422
    assert "labels" in r.json()["detail"] or "labels" in str(r.json()["field"])
