"""check_layer: the book's layers pass; each known mistake fails with the words that name it."""

from __future__ import annotations

import book_layers as book
import numpy as np
import pytest

import backprop_viz as bv

BOOK = [
    (book.MulLayer, "mul"),
    (book.AddLayer, "add"),
    (book.CopyingRelu, "relu"),
    (book.Sigmoid, "sigmoid"),
    (book.Affine, "affine"),
    (book.SoftmaxWithLoss, "softmax_with_loss"),
]


@pytest.mark.parametrize(("layer", "op"), BOOK, ids=[op for _, op in BOOK])
def test_the_books_layers_pass(layer, op):
    report = bv.check_layer(layer, op=op)
    assert report.ok is True, repr(report)
    assert report.problems == []
    assert report.samples and all(s.ok for s in report.samples)
    for sample in report.samples:
        for g in sample.gradients:
            assert g.ok and g.message == ""
            np.testing.assert_allclose(g.yours, g.true, rtol=1e-7)
            np.testing.assert_allclose(g.numerical, g.true, rtol=1e-5, atol=1e-7)
    assert repr(report).startswith(f"check_layer({layer.__name__}, op={op!r}): ok")
    assert report.trace is not None and report.trace_error is None


def test_project_layers_pass_too():
    from backprop_viz.layers import AddLayer, Affine, MulLayer, Relu, Sigmoid, SoftmaxWithLoss

    for layer, op in [(MulLayer, "mul"), (AddLayer, "add"), (Relu, "relu"), (Sigmoid, "sigmoid")]:
        assert bv.check_layer(layer, op=op).ok
    assert bv.check_layer(Affine, op="affine").ok
    assert bv.check_layer(SoftmaxWithLoss, op="softmax_with_loss").ok


def test_the_apple_trace_shows_the_learners_numbers():
    right = bv.check_layer(book.MulLayer, op="mul").trace
    assert right.values["price"] == pytest.approx(220)
    assert right.grads["apple"] == pytest.approx(2.2)
    assert "with your MulLayer" in right.title
    wrong = bv.check_layer(book.SwappedMulLayer, op="mul").trace
    # price = apple_price * tax, swapped: d price / d apple_price = dout * apple_price = 200
    assert wrong.grads["apple_price"] == pytest.approx(200)
    assert wrong.values["price"] == pytest.approx(220)  # forward is right


def only_problems(report) -> set[str]:
    return set(report.problems)


def test_swapped_inputs_in_mul():
    report = bv.check_layer(book.SwappedMulLayer, op="mul")
    assert report.ok is False
    text = repr(report)
    assert "dx: you returned dout * x; expected dout * y" in text
    assert "dy: you returned dout * y; expected dout * x" in text
    assert text.startswith("check_layer(SwappedMulLayer, op='mul'): FAILED")
    failed = [g for s in report.samples for g in s.gradients if not g.ok]
    assert failed and all(not np.allclose(g.yours, g.true) for g in failed)


def test_missing_dout():
    report = bv.check_layer(book.NoDoutMulLayer, op="mul")
    assert not report.ok
    assert any(
        p.startswith("dx: you returned y without dout; expected dout * y") for p in report.problems
    )
    report = bv.check_layer(book.NoDoutSigmoid, op="sigmoid")
    assert not report.ok
    assert report.problems == [
        "dx: you left out dout; expected dout * out * (1 - out) (the chain rule multiplies the "
        "local derivative by the upstream gradient dout)"
    ]


def test_the_books_relu_writes_into_dout():
    report = bv.check_layer(book.Relu, op="relu")
    assert not report.ok
    (problem,) = report.problems
    assert problem.startswith("backward wrote into dout (the caller's array changed")
    assert "dx = dout.copy(); dx[self.mask] = 0" in problem
    # its gradients are right: only the in-place write fails it
    assert all(g.ok for s in report.samples for g in s.gradients)
    # and its trace (the engine's arrays are read-only) still runs, on copies: the relu
    # preset's dout [[1.3, 0.8], [0.5, 2.0]] with dout[mask] = 0 where x <= 0
    assert report.trace.grads["x"].tolist() == [[1.3, 0.0], [0.0, 2.0]]


def test_transposed_dw_in_affine():
    report = bv.check_layer(book.TransposedAffine, op="affine")
    assert not report.ok
    assert "dW: shape [4, 3]; expected [3, 4], the shape of W (yours is transposed" in repr(report)


def test_missing_mean_in_softmax_with_loss():
    report = bv.check_layer(book.NoMeanSoftmaxWithLoss, op="softmax_with_loss")
    assert not report.ok
    assert report.problems == [
        "dx: you returned (y - t) without / N; expected (y - t) / N with the batch size N = 4 "
        "(the loss is the mean over the batch, 5.6.3)"
    ]


def test_a_layer_that_raises_gives_a_report():
    report = bv.check_layer(book.RaisingMulLayer, op="mul")
    assert not report.ok
    assert report.problems[0].startswith(
        "backward raised RuntimeError: not written yet (in backward"
    )
    assert report.trace is None
    assert report.trace_error.startswith("RuntimeError: not written yet")
    assert "trace with your layer failed" in repr(report)


def test_wrong_count_and_wrong_shape_give_a_report():
    report = bv.check_layer(book.OneGradientMulLayer, op="mul")
    assert report.problems == ["backward returned 1 value; mul has 2 inputs (x, y): return dx, dy"]
    assert report.trace_error == report.problems[0]
    report = bv.check_layer(book.WrongShapeAddLayer, op="add")
    assert "dx: shape []; expected [2, 3], the shape of x" in report.problems
    assert not report.ok


def test_a_wrong_forward_and_a_constructor_with_arguments():
    class DoubleMul(book.MulLayer):
        def forward(self, x, y):
            return 2 * super().forward(x, y)

    report = bv.check_layer(DoubleMul, op="mul")
    assert any(p.startswith("forward: you returned 400; expected 200") for p in report.problems)

    class NeedsArgs:
        def __init__(self, scale):
            self.scale = scale

    report = bv.check_layer(NeedsArgs, op="relu")
    assert report.problems[0].startswith("__init__ raised TypeError")


def test_an_unknown_op_is_a_value_error():
    with pytest.raises(ValueError, match="no layer to check; known: add"):
        bv.check_layer(book.MulLayer, op="input")


def test_tracing_with_the_learners_layer_leaves_the_shared_preset_untouched(client):
    """The preset's graph is cached per process; a check_layer trace swaps the layer in copies,
    so the next request still has the book's numbers."""

    class SwappedMul:
        def forward(self, x, y):
            self.x, self.y = x, y
            return x * y

        def backward(self, dout):
            return dout * self.x, dout * self.y

    bv.check_layer(SwappedMul, op="mul")
    r = client.post("/api/trace", json={"example": "apple"})
    assert r.json()["values"]["price"] == 220.00000000000003
    assert r.json()["grads"]["apple"] == 2.2
