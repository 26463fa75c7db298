"""The book's TwoLayerNet (5.7.2): Affine, ReLU, Affine, Softmax-with-Loss, on its own layers.

The parameters are a dict ``{W1, b1, W2, b2}`` as in the book's ``network.params``. Every loss
and gradient of a training run goes through ``loss_and_grads``: it is the seam where the run
meets the engine. Today it calls the layers of ``backprop_viz.core.layers`` directly, in the
order of the ``two_layer_net`` graph (x -> affine1 -> relu1 -> affine2 -> loss); the same graph
run through the engine's null recorder must give the same numbers, to the last bit, which is
what makes the trace of a replayed iteration show exactly the loss on the curve.
"""

from __future__ import annotations

import numpy as np

from backprop_viz.core.layers import Affine, Relu, SoftmaxWithLoss, log_softmax

PARAM_NAMES = ("W1", "b1", "W2", "b2")
NUMERICAL_H = 1e-4  # the book's h of numerical_gradient (4.3.1)

Params = dict[str, np.ndarray]


def init_params(
    input_size: int,
    hidden_size: int,
    output_size: int,
    weight_init_std: float,
    rng: np.random.RandomState,
) -> Params:
    """The book's initialisation: weights ``weight_init_std * randn``, biases zero.

    With ``rng = np.random.RandomState(seed)`` the weights are those the book's TwoLayerNet
    draws after ``np.random.seed(seed)``.
    """
    return {
        "W1": weight_init_std * rng.randn(input_size, hidden_size),
        "b1": np.zeros(hidden_size),
        "W2": weight_init_std * rng.randn(hidden_size, output_size),
        "b2": np.zeros(output_size),
    }


def loss_and_grads(params: Params, x: np.ndarray, t: np.ndarray) -> tuple[float, Params]:
    """The loss of the batch and its gradient by backprop (the book's ``gradient``).

    The single place where a run computes a loss and gradients (see the module docstring).
    """
    affine1 = Affine(params["W1"], params["b1"])
    relu1 = Relu()
    affine2 = Affine(params["W2"], params["b2"])
    last_layer = SoftmaxWithLoss()
    loss = last_layer.forward(affine2.forward(relu1.forward(affine1.forward(x))), t)
    # The engine seeds the output with dout = 1 as well; 1 * g is g, bit for bit.
    affine1.backward(relu1.backward(affine2.backward(last_layer.backward(1.0))))
    grads = {"W1": affine1.dW, "b1": affine1.db, "W2": affine2.dW, "b2": affine2.db}
    return float(loss), grads


def sgd_update(params: Params, x: np.ndarray, t: np.ndarray, learning_rate: float) -> None:
    """One SGD step with the gradient of ``loss_and_grads``, for replays: only what feeds the
    weights, nothing else (no layer objects, no loss, no dx of the first Affine).

    Each array is made by the same NumPy operation on the same operands as in the layers that
    ``loss_and_grads`` calls (Affine, Relu, SoftmaxWithLoss backward with dout = 1.0), so the
    weights after it are bit for bit those after ``params[key] -= learning_rate * grads[key]``
    (tests/training/test_fast_forward.py holds it to that at several iterations). ``t`` is
    one-hot, as the loop's batches are.
    """
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    # Forward: Affine, Relu, Affine, then the softmax of Softmax-with-Loss (its loss is unused).
    a1 = np.dot(x, W1) + b1
    mask = a1 <= 0
    h = np.where(mask, 0.0, a1)
    y = np.exp(log_softmax(np.dot(h, W2) + b2))
    # Backward, as SoftmaxWithLoss.backward(1.0), Affine.backward and Relu.backward compute it.
    dy = 1.0 * (y * t.sum(axis=-1, keepdims=True) - t) / np.shape(y)[0]
    dW2 = np.dot(h.T, dy)
    db2 = dy.sum(axis=0)
    da1 = np.where(mask, 0.0, np.dot(dy, W2.T))
    dW1 = np.dot(x.T, da1)
    db1 = da1.sum(axis=0)
    W1 -= learning_rate * dW1
    b1 -= learning_rate * db1
    W2 -= learning_rate * dW2
    b2 -= learning_rate * db2


def predict(params: Params, x: np.ndarray) -> np.ndarray:
    """The scores (before softmax) of each sample."""
    affine1 = Affine(params["W1"], params["b1"])
    affine2 = Affine(params["W2"], params["b2"])
    return affine2.forward(Relu().forward(affine1.forward(x)))


def loss(params: Params, x: np.ndarray, t: np.ndarray) -> float:
    """The loss alone: one forward pass."""
    return float(SoftmaxWithLoss().forward(predict(params, x), t))


def accuracy(params: Params, x: np.ndarray, t: np.ndarray) -> float:
    """The fraction of samples whose highest score is their label (t: class indices)."""
    return float(np.mean(np.argmax(predict(params, x), axis=1) == t))


def numerical_loss_and_grads(
    params: Params, x: np.ndarray, t: np.ndarray, h: float = NUMERICAL_H
) -> tuple[float, Params]:
    """The loss and the book's numerical gradient (4.4): the central difference
    (L(w + h) - L(w - h)) / 2h of every weight and bias, two forward passes each."""
    work = {name: value.copy() for name, value in params.items()}
    grads = {}
    for name in PARAM_NAMES:
        flat = work[name].reshape(-1)  # a view: writing it moves the weight
        grad = np.zeros(flat.size)
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + h
            loss_plus = loss(work, x, t)
            flat[i] = original - h
            loss_minus = loss(work, x, t)
            flat[i] = original
            grad[i] = (loss_plus - loss_minus) / (2 * h)
        grads[name] = grad.reshape(params[name].shape)
    return loss(params, x, t), grads


GRADIENTS = {"backprop": loss_and_grads, "numerical": numerical_loss_and_grads}
