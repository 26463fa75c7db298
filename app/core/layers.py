"""The layers of chapter 5 of Deep Learning from Scratch, with the book's API.

Each layer is a plain class: ``__init__`` declares what backward needs as None, ``forward``
computes the output and caches it, ``backward(dout)`` returns the gradients of the inputs
(one array, or a tuple for several inputs). Two deliberate differences from the book:

* no method writes into an argument (the book's ``Relu.backward`` zeroes ``dout`` in place,
  which would silently rewrite a value the trace has already recorded);
* sigmoid, softmax and the cross-entropy loss are numerically stable at x = +-1000.

Add and mul broadcast like NumPy; their backward sums the gradient back to each input's shape,
as the book's ``db = np.sum(dout, axis=0)`` does for the bias of Affine.
"""

from __future__ import annotations

import math

import numpy as np


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, back to ``shape``."""
    grad = np.asarray(grad)
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


class MulLayer:
    """out = x * y (5.4.1)."""

    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        self.x = x
        self.y = y
        out = x * y
        return out

    def backward(self, dout):
        dx = unbroadcast(dout * self.y, np.shape(self.x))
        dy = unbroadcast(dout * self.x, np.shape(self.y))
        return dx, dy


class AddLayer:
    """out = x + y (5.4.2)."""

    def __init__(self):
        self.x_shape = None
        self.y_shape = None

    def forward(self, x, y):
        self.x_shape = np.shape(x)
        self.y_shape = np.shape(y)
        out = x + y
        return out

    def backward(self, dout):
        dx = unbroadcast(dout * 1, self.x_shape)
        dy = unbroadcast(dout * 1, self.y_shape)
        return dx, dy


class SubLayer:
    """out = x - y."""

    def __init__(self):
        self.x_shape = None
        self.y_shape = None

    def forward(self, x, y):
        self.x_shape = np.shape(x)
        self.y_shape = np.shape(y)
        out = x - y
        return out

    def backward(self, dout):
        dx = unbroadcast(dout * 1, self.x_shape)
        dy = unbroadcast(dout * -1, self.y_shape)
        return dx, dy


class DivLayer:
    """out = x / y."""

    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        self.x = x
        self.y = y
        out = x / y
        return out

    def backward(self, dout):
        dx = unbroadcast(dout / self.y, np.shape(self.x))
        dy = unbroadcast(-dout * (self.x / self.y) / self.y, np.shape(self.y))  # y**2 underflows
        return dx, dy


class NegLayer:
    """out = -x."""

    def forward(self, x):
        return -x

    def backward(self, dout):
        dx = -dout
        return dx


class PowLayer:
    """out = x ** p for a constant p (the book's "**2" node of 5.2)."""

    def __init__(self, p=2):
        self.p = p
        self.x = None

    def forward(self, x):
        self.x = x
        out = x**self.p
        return out

    def backward(self, dout):
        if self.p == 0:  # x**0 is constant; 0 * 0**-1 would be NaN at x = 0
            return np.zeros(np.broadcast_shapes(np.shape(dout), np.shape(self.x)))
        dx = dout * self.p * self.x ** (self.p - 1)
        return dx


class ExpLayer:
    """out = exp(x) (the "exp" node of figure 5-19)."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        out = np.exp(x)
        self.out = out
        return out

    def backward(self, dout):
        dx = dout * self.out
        return dx


class LogLayer:
    """out = log(x)."""

    def __init__(self):
        self.x = None

    def forward(self, x):
        self.x = x
        out = np.log(x)
        return out

    def backward(self, dout):
        dx = dout / self.x
        return dx


class ReciprocalLayer:
    """out = 1 / x (the "/" node of figure 5-19): dx = -dout * out**2."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        out = 1 / x
        self.out = out
        return out

    def backward(self, dout):
        dx = -dout * self.out**2
        return dx


class Relu:
    """out = max(0, x) (5.5.1); the mask of x <= 0 blocks the gradient."""

    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        out = np.where(self.mask, 0.0, x)
        return out

    def backward(self, dout):
        # The book writes dout[self.mask] = 0, mutating the caller's array; we return a new one.
        dx = np.where(self.mask, 0.0, dout)
        return dx


class Sigmoid:
    """out = 1 / (1 + exp(-x)) (5.5.2); backward: dout * (1 - out) * out."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        out = stable_sigmoid(x)
        self.out = out
        return out

    def backward(self, dout):
        dx = dout * (1.0 - self.out) * self.out
        return dx


class Tanh:
    """out = tanh(x); backward: dout * (1 - out**2)."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        out = np.tanh(x)
        self.out = out
        return out

    def backward(self, dout):
        dx = dout * (1.0 - self.out**2)
        return dx


class MatMul:
    """out = x . W (the "dot" node of figure 5-25): dx = dout . W^T, dW = x^T . dout."""

    def __init__(self):
        self.x = None
        self.W = None

    def forward(self, x, W):
        self.x = x
        self.W = W
        out = np.dot(x, W)
        return out

    def backward(self, dout):
        if np.ndim(self.W) == 1:
            dx = np.outer(dout, self.W).reshape(np.shape(self.x))
        else:
            dx = np.dot(dout, self.W.T)
        dW = matmul_weight_grad(self.x, dout, np.shape(self.W))
        return dx, dW


class Sum:
    """out = sum of x (over all elements, or along one axis, kept as length 1 if keepdims)."""

    def __init__(self, axis=None, keepdims=False):
        self.axis = axis
        self.keepdims = keepdims
        self.x_shape = None

    def forward(self, x):
        self.x_shape = np.shape(x)
        out = np.sum(x, axis=self.axis, keepdims=self.keepdims)
        return out

    def backward(self, dout):
        if self.axis is not None and not self.keepdims:
            dout = np.expand_dims(dout, self.axis)
        dx = np.broadcast_to(dout, self.x_shape).copy()
        return dx


class Affine:
    """out = x . W + b (5.6.2), for a batch; dx = dout . W^T, dW = x^T . dout, db = sum(dout)."""

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        # Tensors (e.g. images N x C x H x W) are flattened to N x D, as in the book.
        self.original_x_shape = np.shape(x)
        x = np.reshape(x, (self.original_x_shape[0], -1)) if np.ndim(x) > 2 else x
        self.x = x
        out = np.dot(self.x, self.W) + self.b
        return out

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = matmul_weight_grad(self.x, dout, np.shape(self.W))
        self.db = unbroadcast(dout, np.shape(self.b))
        dx = dx.reshape(self.original_x_shape)
        return dx


class SoftmaxWithLoss:
    """loss = cross_entropy_error(softmax(x), t) (5.6.3); backward: dout * (y - t) / N.

    ``t`` is one-hot (the shape of x) or class indices. The loss is computed from a stable
    log-softmax instead of the book's log(y + 1e-7), so its gradient is exactly (y - t) / N.
    The book's backward ignores ``dout`` (it is always 1 there); we multiply by it. For rows
    of t that do not sum to 1 (soft or empty labels) the exact gradient is (y * sum(t) - t) / N,
    which is (y - t) / N, to the last digit, for one-hot rows.
    """

    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = one_hot_like(t, x)
        log_y = log_softmax(x)
        self.y = np.exp(log_y)
        batch_size = 1 if np.ndim(x) == 1 else np.shape(x)[0]
        self.loss = -np.sum(self.t * log_y) / batch_size
        return self.loss

    def backward(self, dout=1):
        batch_size = 1 if np.ndim(self.y) == 1 else np.shape(self.y)[0]
        dx = dout * (self.y * self.t.sum(axis=-1, keepdims=True) - self.t) / batch_size
        return dx


class Mean:
    """out = sum(x) / N, N the number of elements: the mean over the batch, the "/ batch_size"
    of the book's cross_entropy_error (a scalar is a batch of one: out = x)."""

    def __init__(self):
        self.x_shape = None

    def forward(self, x):
        self.x_shape = np.shape(x)
        out = np.sum(x) / np.size(x)
        return out

    def backward(self, dout):
        dx = np.full(self.x_shape, dout / math.prod(self.x_shape))
        return dx


class OneHot:
    """out = t as one-hot rows of x's shape: class indices become rows with a single 1, and a
    one-hot (or soft) t of x's shape passes unchanged. t is data (no gradient); x only gives
    the shape, so its gradient is exactly zero (a zero, not none: what feeds x, such as the
    weights of a network, still takes a gradient and is checked by the gradient check)."""

    def __init__(self):
        self.x_shape = None

    def forward(self, t, x):
        self.x_shape = np.shape(x)
        out = np.array(one_hot_like(t, x), dtype=np.float64)
        return out

    def backward(self, dout):
        return None, np.zeros(self.x_shape)


class Softmax:
    """y = softmax(x) along the last axis, as the book's common/functions.py computes it
    (the maximum subtracted first against overflow); dx = y * (dout - sum(dout * y))."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        x = x - np.max(x, axis=-1, keepdims=True)  # the book's overflow guard
        out = np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)
        self.out = out
        return out

    def backward(self, dout):
        dx = self.out * (dout - np.sum(dout * self.out, axis=-1, keepdims=True))
        return dx


class CrossEntropyError:
    """loss = -sum(t * log(y)) / N, the book's cross_entropy_error (4.2.4) as a layer (figure
    5-29); t is one-hot, soft labels, or class indices; N = 1 for one sample.

    The book adds 1e-7 inside log and reads only y at the label, log(y[t] + 1e-7). Here the
    classes where t = 0 are skipped as the book's picking skips them, but nothing is added:
    the loss is then the one of Softmax-with-Loss (its stable log-softmax) to about 1e-16,
    where log(y + 1e-7) would differ by 1e-7 / y (5e-7 at y = 0.2), and dy = -t / y / N
    gives exactly the chain of figure 5-29: dx = y * sum(t) - t over N.
    """

    def __init__(self):
        self.y = None
        self.t = None
        self.batch_size = None

    def forward(self, y, t):
        self.t = one_hot_like(t, y)
        self.y = y
        self.batch_size = 1 if np.ndim(y) == 1 else np.shape(y)[0]
        labelled = self.t != 0
        log_y = np.log(np.where(labelled, y, 1.0))
        loss = -np.sum(np.where(labelled, self.t * log_y, 0.0)) / self.batch_size
        return loss

    def backward(self, dout=1):
        labelled = self.t != 0
        dy = np.where(labelled, -dout * self.t / np.where(labelled, self.y, 1.0), 0.0)
        dy = dy / self.batch_size
        return dy


def stable_sigmoid(x):
    """1 / (1 + exp(-x)) without overflow: exp only ever sees -|x|."""
    z = np.exp(-np.abs(x))
    return np.where(np.asarray(x) >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def log_softmax(x):
    """log(softmax(x)) along the last axis, shifted by the maximum so exp cannot overflow."""
    shifted = x - np.max(x, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def softmax(x):
    """softmax along the last axis (the book's 3.5.2, made stable by the maximum shift)."""
    return np.exp(log_softmax(x))


def one_hot_like(t, x):
    """``t`` as a one-hot array of x's shape: returned as is if it already has that shape.

    Class indices become N x C zeros with a 1 set per row, O(N * C) in time and memory; the
    book's ``np.eye(C)[t]`` would build a C x C matrix first (12 GB for 40,000 classes).
    """
    t = np.asarray(t)
    if t.shape == np.shape(x):
        return t
    one_hot = np.zeros(np.shape(x))
    rows = one_hot.reshape(-1, one_hot.shape[-1])
    rows[np.arange(rows.shape[0]), t.astype(int).reshape(-1)] = 1.0
    return one_hot


def matmul_weight_grad(x, dout, w_shape):
    """x^T . dout in W's shape; a vector x (one sample) gives the outer product."""
    if np.ndim(x) == 1:
        return np.outer(x, dout).reshape(w_shape)
    return np.dot(x.T, dout)
