"""Every layer's backward against the book's numerical gradient, broadcasting, no mutation,
and numerical stability at x = +-1000."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from backprop_viz.core import layers
from backprop_viz.core.layers import (
    AddLayer,
    Affine,
    DivLayer,
    ExpLayer,
    LogLayer,
    MatMul,
    MulLayer,
    NegLayer,
    PowLayer,
    ReciprocalLayer,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
    SubLayer,
    Sum,
    Tanh,
)

RTOL = 1e-7
ATOL = 1e-9


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def away_from_zero(shape, seed: int = 0, low: float = 0.5, high: float = 2.0) -> np.ndarray:
    """Random numbers with |x| in [low, high] and random signs: no kinks, no poles nearby."""
    r = rng(seed)
    return r.uniform(low, high, shape) * r.choice([-1.0, 1.0], shape)


def weighted(out, dout) -> float:
    """L = sum(out * dout): its gradient w.r.t. an input is backward(dout) for that input."""
    return float(np.sum(np.asarray(out) * dout))


# --- binary ops with broadcasting -----------------------------------------------------------

BINARY = [AddLayer, MulLayer, SubLayer, DivLayer]
BROADCAST_SHAPES = [
    ((2, 3), (2, 3)),
    ((2, 3), (3,)),
    ((2, 3), (1, 3)),
    ((2, 1), (1, 3)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((), ()),
]


@pytest.mark.parametrize("layer_class", BINARY, ids=lambda c: c.__name__)
@pytest.mark.parametrize("x_shape,y_shape", BROADCAST_SHAPES, ids=str)
def test_binary_layer_backward_matches_numerical_gradient_with_broadcasting(
    layer_class, x_shape, y_shape, numgrad
):
    x = away_from_zero(x_shape, seed=1)
    y = away_from_zero(y_shape, seed=2)
    out_shape = np.broadcast_shapes(x_shape, y_shape)
    dout = rng(3).normal(size=out_shape)

    layer = layer_class()
    out = layer.forward(x, y)
    dx, dy = layer.backward(dout)

    assert np.shape(out) == out_shape
    assert np.shape(dx) == x_shape
    assert np.shape(dy) == y_shape
    num_dx = numgrad(lambda x_: weighted(layer_class().forward(x_, y), dout), x)
    num_dy = numgrad(lambda y_: weighted(layer_class().forward(x, y_), dout), y)
    np.testing.assert_allclose(dx, num_dx, rtol=1e-6, atol=ATOL)
    np.testing.assert_allclose(dy, num_dy, rtol=1e-6, atol=ATOL)


def test_add_layer_bias_gradient_is_the_books_sum_over_the_batch():
    x = np.arange(6.0).reshape(2, 3)
    b = np.array([1.0, 2.0, 3.0])
    dout = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    layer = AddLayer()
    layer.forward(x, b)
    dx, db = layer.backward(dout)
    np.testing.assert_array_equal(dx, dout)
    np.testing.assert_array_equal(db, [5.0, 7.0, 9.0])


def test_mul_layer_backward_swaps_the_inputs_as_in_the_book():
    layer = MulLayer()
    assert layer.forward(100.0, 2.0) == 200.0
    dx, dy = layer.backward(1.1)
    assert dx == pytest.approx(2.2)
    assert dy == pytest.approx(110.0)


def test_mul_layer_scalar_times_matrix_sums_the_gradient_into_the_scalar():
    a = np.array(2.0)
    m = np.arange(6.0).reshape(2, 3)
    layer = MulLayer()
    layer.forward(a, m)
    da, dm = layer.backward(np.ones((2, 3)))
    assert np.shape(da) == ()
    assert float(da) == pytest.approx(m.sum())
    np.testing.assert_array_equal(dm, np.full((2, 3), 2.0))


def test_unbroadcast_sums_leading_and_stretched_axes():
    grad = np.ones((4, 2, 3))
    np.testing.assert_array_equal(layers.unbroadcast(grad, (2, 1)), np.full((2, 1), 12.0))
    np.testing.assert_array_equal(layers.unbroadcast(grad, (3,)), np.full(3, 8.0))
    assert layers.unbroadcast(grad, ()) == 24.0


# --- unary ops --------------------------------------------------------------------------------

UNARY = [
    ("neg", NegLayer, lambda: NegLayer(), None),
    ("pow2", PowLayer, lambda: PowLayer(2), None),
    ("pow3", PowLayer, lambda: PowLayer(3), None),
    ("pow-1", PowLayer, lambda: PowLayer(-1), None),
    ("pow0.5", PowLayer, lambda: PowLayer(0.5), "positive"),
    ("exp", ExpLayer, ExpLayer, None),
    ("log", LogLayer, LogLayer, "positive"),
    ("reciprocal", ReciprocalLayer, ReciprocalLayer, None),
    ("relu", Relu, Relu, None),
    ("sigmoid", Sigmoid, Sigmoid, None),
    ("tanh", Tanh, Tanh, None),
]


@pytest.mark.parametrize("name,cls,make,domain", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3)], ids=str)
def test_unary_layer_backward_matches_numerical_gradient(name, cls, make, domain, shape, numgrad):
    x = away_from_zero(shape, seed=4)
    if domain == "positive":
        x = np.abs(x)
    dout = rng(5).normal(size=shape)

    layer = make()
    out = layer.forward(x)
    dx = layer.backward(dout)

    assert np.shape(out) == shape
    assert np.shape(dx) == shape
    num_dx = numgrad(lambda x_: weighted(make().forward(x_), dout), x)
    np.testing.assert_allclose(dx, num_dx, rtol=1e-6, atol=ATOL)


def test_relu_backward_blocks_the_gradient_where_x_is_not_positive():
    x = np.array([[1.0, -0.5], [-2.0, 3.0]])
    layer = Relu()
    out = layer.forward(x)
    np.testing.assert_array_equal(layer.mask, [[False, True], [True, False]])
    np.testing.assert_array_equal(out, [[1.0, 0.0], [0.0, 3.0]])
    dx = layer.backward(np.array([[5.0, 6.0], [7.0, 8.0]]))
    np.testing.assert_array_equal(dx, [[5.0, 0.0], [0.0, 8.0]])


def test_relu_backward_at_zero_blocks_the_gradient_like_the_book():
    layer = Relu()
    layer.forward(np.array([0.0]))
    np.testing.assert_array_equal(layer.backward(np.array([1.0])), [0.0])


def test_reciprocal_layer_backward_is_minus_dout_times_out_squared():
    layer = ReciprocalLayer()
    assert layer.forward(4.0) == 0.25
    assert layer.backward(2.0) == pytest.approx(-2.0 * 0.25**2)


# --- matrix ops -------------------------------------------------------------------------------

MATMUL_SHAPES = [((2, 3), (3, 4)), ((3,), (3, 4)), ((2, 3), (3,)), ((3,), (3,))]


@pytest.mark.parametrize("x_shape,w_shape", MATMUL_SHAPES, ids=str)
def test_matmul_backward_matches_numerical_gradient(x_shape, w_shape, numgrad):
    x = rng(6).normal(size=x_shape)
    W = rng(7).normal(size=w_shape)
    out_shape = np.shape(np.dot(x, W))
    dout = rng(8).normal(size=out_shape)

    layer = MatMul()
    layer.forward(x, W)
    dx, dW = layer.backward(dout)

    assert np.shape(dx) == x_shape
    assert np.shape(dW) == w_shape
    np.testing.assert_allclose(
        dx, numgrad(lambda x_: weighted(np.dot(x_, W), dout), x), rtol=RTOL, atol=ATOL
    )
    np.testing.assert_allclose(
        dW, numgrad(lambda W_: weighted(np.dot(x, W_), dout), W), rtol=RTOL, atol=ATOL
    )


def test_matmul_backward_is_dout_dot_w_transposed_and_x_transposed_dot_dout():
    x = rng(9).normal(size=(2, 3))
    W = rng(10).normal(size=(3, 4))
    dout = rng(11).normal(size=(2, 4))
    layer = MatMul()
    layer.forward(x, W)
    dx, dW = layer.backward(dout)
    np.testing.assert_allclose(dx, dout @ W.T, rtol=1e-12)
    np.testing.assert_allclose(dW, x.T @ dout, rtol=1e-12)


@pytest.mark.parametrize("axis", [None, 0, 1, -1, 2])
def test_sum_backward_matches_numerical_gradient(axis, numgrad):
    x = rng(12).normal(size=(2, 3, 4))
    out_shape = np.shape(np.sum(x, axis=axis))
    dout = rng(13).normal(size=out_shape)

    layer = Sum(axis)
    out = layer.forward(x)
    dx = layer.backward(dout)

    np.testing.assert_allclose(out, np.sum(x, axis=axis), rtol=1e-12)
    assert dx.shape == x.shape
    num_dx = numgrad(lambda x_: weighted(np.sum(x_, axis=axis), dout), x)
    np.testing.assert_allclose(dx, num_dx, rtol=RTOL, atol=ATOL)


AFFINE_SHAPES = [
    ((2, 3), (3, 4), (4,)),
    ((3,), (3, 4), (4,)),
    ((2, 3), (3, 4), (1, 4)),
    ((2, 1, 2, 3), (6, 4), (4,)),  # the book's 4-D tensor (N, C, H, W), flattened to (N, 6)
    ((2, 3, 2), (6, 4), (4,)),  # a 3-D batch is flattened too
]


def affine_reference(x, W, b):
    x2 = np.reshape(x, (x.shape[0], -1)) if x.ndim > 2 else x
    return np.dot(x2, W) + b


@pytest.mark.parametrize("x_shape,w_shape,b_shape", AFFINE_SHAPES, ids=str)
def test_affine_backward_matches_numerical_gradient(x_shape, w_shape, b_shape, numgrad):
    x = rng(14).normal(size=x_shape)
    W = rng(15).normal(size=w_shape)
    b = rng(16).normal(size=b_shape)
    out_shape = np.shape(affine_reference(x, W, b))
    dout = rng(17).normal(size=out_shape)

    layer = Affine(W, b)
    out = layer.forward(x)
    dx = layer.backward(dout)

    np.testing.assert_allclose(out, affine_reference(x, W, b), rtol=1e-12)
    assert dx.shape == x_shape
    assert layer.dW.shape == w_shape
    assert layer.db.shape == b_shape
    num = {
        "x": numgrad(lambda x_: weighted(affine_reference(x_, W, b), dout), x),
        "W": numgrad(lambda W_: weighted(affine_reference(x, W_, b), dout), W),
        "b": numgrad(lambda b_: weighted(affine_reference(x, W, b_), dout), b),
    }
    np.testing.assert_allclose(dx, num["x"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(layer.dW, num["W"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(layer.db, num["b"], rtol=RTOL, atol=ATOL)


def test_affine_db_is_the_sum_of_dout_over_the_batch():
    layer = Affine(np.full((2, 3), 2.0), np.array([1.0, 2.0, 3.0]))
    out = layer.forward(np.array([[0.0, 0.0], [2.0, 3.0]]))
    np.testing.assert_array_equal(out, [[1.0, 2.0, 3.0], [11.0, 12.0, 13.0]])
    layer.backward(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    np.testing.assert_array_equal(layer.db, [5.0, 7.0, 9.0])


# --- Softmax-with-Loss ------------------------------------------------------------------------


def cross_entropy_reference(x, t_onehot):
    """Softmax and cross entropy written out plainly (inputs are small, no overflow)."""
    e = np.exp(x)
    y = e / e.sum(axis=-1, keepdims=True)
    batch = 1 if x.ndim == 1 else x.shape[0]
    return -np.sum(t_onehot * np.log(y)) / batch


SOFTMAX_CASES = {
    "one-hot 1-D": ((3,), np.array([0.0, 1.0, 0.0])),
    "index 1-D": ((3,), np.array(2.0)),
    "one-hot batch": ((4, 3), np.eye(3)[[0, 2, 1, 2]]),
    "index batch": ((4, 3), np.array([0.0, 2.0, 1.0, 2.0])),
}


@pytest.mark.parametrize("case", SOFTMAX_CASES)
@pytest.mark.parametrize("dout", [1.0, 2.5])
def test_softmax_with_loss_backward_matches_numerical_gradient(case, dout, numgrad):
    x_shape, t = SOFTMAX_CASES[case]
    x = rng(18).normal(size=x_shape)
    t_onehot = t if t.shape == x_shape else np.eye(x_shape[-1])[t.astype(int)]

    layer = SoftmaxWithLoss()
    loss = layer.forward(x, t)
    dx = layer.backward(dout)

    assert loss == pytest.approx(cross_entropy_reference(x, t_onehot), rel=1e-12)
    assert dx.shape == x_shape
    num_dx = numgrad(lambda x_: dout * cross_entropy_reference(x_, t_onehot), x)
    np.testing.assert_allclose(dx, num_dx, rtol=1e-6, atol=1e-9)


def test_softmax_with_loss_backward_is_y_minus_t_over_the_batch_size():
    x = rng(19).normal(size=(5, 4))
    t = np.eye(4)[[0, 1, 2, 3, 0]]
    layer = SoftmaxWithLoss()
    layer.forward(x, t)
    y = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(layer.backward(), (y - t) / 5, rtol=1e-12)


def test_softmax_with_loss_gives_the_books_figure_5_30_gradient():
    layer = SoftmaxWithLoss()
    loss = layer.forward(np.log([0.3, 0.2, 0.5]), np.array([0.0, 1.0, 0.0]))
    assert loss == pytest.approx(-np.log(0.2))
    np.testing.assert_allclose(layer.backward(1), [0.3, -0.8, 0.5], atol=1e-12)


# --- numerical stability ----------------------------------------------------------------------


def test_sigmoid_is_stable_and_right_at_plus_minus_1000():
    x = np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0])
    with warnings.catch_warnings(), np.errstate(over="warn", divide="warn", invalid="warn"):
        warnings.simplefilter("error")
        layer = Sigmoid()
        out = layer.forward(x)
        dx = layer.backward(np.ones(5))
    s1 = 1 / (1 + np.exp(-1.0))
    np.testing.assert_allclose(out, [0.0, 1 - s1, 0.5, s1, 1.0], rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(dx, out * (1 - out), rtol=1e-15)
    assert np.isfinite(dx).all()


def test_softmax_is_stable_and_right_at_plus_minus_1000():
    x = np.array([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, -1000.0]])
    with warnings.catch_warnings(), np.errstate(over="warn", divide="warn", invalid="warn"):
        warnings.simplefilter("error")
        layer = SoftmaxWithLoss()
        loss = layer.forward(x, np.array([1, 0]))
        y = layer.y  # the layer's own softmax
        dx = layer.backward(1)
    np.testing.assert_allclose(y, [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]], atol=1e-300)
    # -log(softmax): 1000 for the first sample, log 2 for the second, averaged over 2
    assert loss == pytest.approx((1000.0 + np.log(2)) / 2, rel=1e-12)
    np.testing.assert_allclose(dx, (y - np.array([[0, 1, 0], [1, 0, 0]])) / 2, atol=1e-300)
    assert np.isfinite(dx).all()


def test_softmax_with_loss_is_finite_for_a_one_hot_at_a_minus_1000_score():
    with warnings.catch_warnings(), np.errstate(over="warn", divide="warn", invalid="warn"):
        warnings.simplefilter("error")
        layer = SoftmaxWithLoss()
        loss = layer.forward(np.array([1000.0, -1000.0]), np.array([0.0, 1.0]))
    assert loss == pytest.approx(2000.0)


# --- no layer mutates its inputs --------------------------------------------------------------


def frozen(a) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.flags.writeable = False
    return a


MUTATION_CASES = [
    ("add", AddLayer, [(2, 3), (3,)]),
    ("sub", SubLayer, [(2, 3), (3,)]),
    ("mul", MulLayer, [(2, 3), (3,)]),
    ("div", DivLayer, [(2, 3), (3,)]),
    ("neg", NegLayer, [(2, 3)]),
    ("pow", lambda: PowLayer(2), [(2, 3)]),
    ("exp", ExpLayer, [(2, 3)]),
    ("log", LogLayer, [(2, 3)]),
    ("reciprocal", ReciprocalLayer, [(2, 3)]),
    ("relu", Relu, [(2, 3)]),
    ("sigmoid", Sigmoid, [(2, 3)]),
    ("tanh", Tanh, [(2, 3)]),
    ("matmul", MatMul, [(2, 3), (3, 4)]),
    ("sum", lambda: Sum(0), [(2, 3)]),
    ("softmax_with_loss", SoftmaxWithLoss, [(2, 3), "labels"]),
]


@pytest.mark.parametrize("name,make,shapes", MUTATION_CASES, ids=[c[0] for c in MUTATION_CASES])
def test_layer_never_writes_into_its_inputs_or_dout(name, make, shapes):
    inputs = [
        frozen([0, 2]) if s == "labels" else frozen(np.abs(away_from_zero(s, seed=20)))
        for s in shapes
    ]
    if name in ("relu", "sigmoid", "tanh", "neg", "exp"):
        inputs = [frozen(away_from_zero(shapes[0], seed=21))]  # both signs: ReLU's mask matters
    copies = [a.copy() for a in inputs]
    layer = make()
    out = layer.forward(*inputs)  # a read-only input would raise if a layer wrote into it
    dout = frozen(rng(22).normal(size=np.shape(out)))
    dout_copy = dout.copy()
    grads = layer.backward(dout)

    for a, c in zip(inputs, copies, strict=True):
        np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(dout, dout_copy)
    for g in grads if isinstance(grads, tuple) else (grads,):
        assert g is not dout


def test_affine_never_writes_into_x_w_b_or_dout():
    x, W, b = frozen(rng(23).normal(size=(2, 1, 2, 2))), frozen(np.ones((4, 3))), frozen([1, 2, 3])
    dout = frozen(rng(24).normal(size=(2, 3)))
    layer = Affine(W, b)
    layer.forward(x)
    dx = layer.backward(dout)
    assert dx.shape == x.shape
    np.testing.assert_array_equal(b, [1, 2, 3])
    np.testing.assert_array_equal(W, np.ones((4, 3)))


def test_relu_backward_leaves_the_callers_dout_unchanged_unlike_the_book():
    layer = Relu()
    layer.forward(np.array([1.0, -1.0, 2.0]))
    dout = np.array([10.0, 20.0, 30.0])  # writable: the book's version would zero dout[1]
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dx, [10.0, 0.0, 30.0])
    np.testing.assert_array_equal(dout, [10.0, 20.0, 30.0])
    assert not np.shares_memory(dx, dout)


# --- found in review -------------------------------------------------------------------------


def test_softmax_with_loss_backward_is_exact_for_labels_that_do_not_sum_to_one(numgrad):
    x = np.array([[0.3, -1.2, 2.0], [1.0, 0.5, -0.5]])
    t = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    layer = SoftmaxWithLoss()
    layer.forward(x, t)
    dx = layer.backward(1.0)
    expected = numgrad(lambda v: SoftmaxWithLoss().forward(v, t), x, h=1e-6)
    np.testing.assert_allclose(dx, expected, rtol=1e-6, atol=1e-9)


def test_pow_layer_zero_exponent_has_zero_gradient_at_zero():
    layer = PowLayer(0)
    layer.forward(np.array([0.0, 2.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dx = layer.backward(np.array([1.0, 1.0]))
    assert dx.tolist() == [0.0, 0.0]


def test_div_layer_gradient_of_tiny_denominators_does_not_underflow():
    layer = DivLayer()
    layer.forward(np.array(1e-170), np.array(1e-170))
    dx, dy = layer.backward(np.array(1.0))
    assert float(dx) == pytest.approx(1e170)
    assert float(dy) == pytest.approx(-1e170)


def test_pow_layer_default_is_the_books_square_node():
    layer = PowLayer()
    assert layer.forward(np.array(3.0)) == 9.0
    assert layer.backward(np.array(1.0)) == 6.0


def test_softmax_with_loss_shifts_each_row_by_its_own_maximum():
    # the rows are 2000 apart; shifted by one global maximum, the second row's exponentials
    # would all underflow to 0 and its loss would be infinite
    x = np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -1002.0]])
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, np.array([0.0, 0.0]))
    row_loss = np.log(1 + np.exp(-1.0) + np.exp(-2.0))  # the same for both rows
    assert loss == pytest.approx(row_loss, rel=1e-12)
    y = np.exp([0.0, -1.0, -2.0]) / np.sum(np.exp([0.0, -1.0, -2.0]))
    expected = (np.array([y, y]) - np.array([[1.0, 0.0, 0.0]] * 2)) / 2
    np.testing.assert_allclose(layer.backward(1.0), expected, rtol=1e-12)
