"""The op catalogue: each op's layer, arity, symbol, formulas and shape rule.

The engine never does arithmetic itself: it looks an op up here, builds its layer from
``app.layers`` and calls the layer's ``forward`` and ``backward``. What the page shows about an
op (its symbol, its formulas, the source of its layer class) comes from here too.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import numpy as np

from backprop_viz.core import layers

Shape = tuple[int, ...]


class OpError(ValueError):
    """An op was given inputs or params it cannot take; the message says what and why."""


@dataclass(frozen=True)
class Temporaries:
    """Element counts of the arrays one op's layer makes besides its output and the gradients
    of its inputs (which the graph's budget counts already)."""

    kept: tuple[int, ...] = ()
    """Arrays the layer caches for backward: they live as long as the trace does."""
    scratch: tuple[int, ...] = ()
    """Arrays alive at once inside one forward or backward call, at its peak, beyond the output
    and input gradients it returns; they are dropped when the call returns."""

    @property
    def largest(self) -> int:
        return max(self.kept + self.scratch, default=0)


@dataclass(frozen=True)
class Op:
    """One kind of node: how to build and call its layer, and what the page says about it.

    Most layers follow one convention: ``cls()``, ``forward(*inputs)``, ``backward(dout)``
    returning one gradient per input. The hooks cover the book's exceptions (Affine takes W
    and b in its constructor and keeps dW and db on itself; t of Softmax-with-Loss is data).
    """

    name: str
    layer: type | None
    inputs: tuple[str, ...]
    symbol: str
    forward: str
    backward: tuple[str, ...]
    shape_rule: Callable[[list[Shape], dict[str, Any]], Shape]
    description: str
    box: bool = False
    params: dict[str, str] = field(default_factory=dict)
    """The op's parameters and what they mean."""
    check: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    """Validates the params and fills in defaults (None: the op takes none)."""
    make: Callable[[dict[str, Any]], Any] | None = None
    """Builds the layer from the params (None: the layer class with no arguments)."""
    call: Callable[[Any, list[np.ndarray]], np.ndarray] | None = None
    """Runs forward (None: ``layer.forward(*inputs)``)."""
    collect: Callable[[Any, np.ndarray], tuple] | None = None
    """Runs backward, one gradient per input (None: ``layer.backward(dout)`` as a tuple)."""
    check_values: Callable[[list[np.ndarray]], None] | None = None
    """Checks what shapes cannot tell before forward runs; raises OpError."""
    temporaries: Callable[[list[Shape], Shape], Temporaries] | None = None
    """The arrays the layer makes besides its output and input gradients, from the input and
    output shapes, so the graph's element budget counts them before they exist (None: none)."""

    @property
    def arity(self) -> int:
        return len(self.inputs)

    def temporaries_for(self, shapes: list[Shape], out: Shape) -> Temporaries:
        """What the layer will allocate beyond its output and input gradients, in elements."""
        return self.temporaries(shapes, out) if self.temporaries else Temporaries()

    def make_layer(self, params: dict[str, Any]):
        """A fresh layer for one node (layers cache state, so nodes never share one)."""
        return self.make(params) if self.make else self.layer()

    def run_forward(self, layer, inputs: list[np.ndarray]) -> np.ndarray:
        return self.call(layer, inputs) if self.call else layer.forward(*inputs)

    def run_backward(self, layer, dout: np.ndarray) -> list[np.ndarray | None]:
        """The layer's backward as one gradient per input (None where an input takes none)."""
        if self.collect:
            return list(self.collect(layer, dout))
        grads = layer.backward(dout)
        return list(grads) if isinstance(grads, tuple) else [grads]

    def symbol_for(self, params: dict[str, Any]) -> str:
        """The node's label in the drawing; pow shows its exponent like the book's "**2"."""
        return self.symbol.format(
            **{k: format_number(v) for k, v in params.items() if v is not None}
        )

    @property
    def source(self) -> str:
        return layer_source(self.layer) if self.layer else ""


# The book's exceptions to the common layer convention.


def affine_forward(layer: layers.Affine, inputs: list[np.ndarray]) -> np.ndarray:
    # The book builds Affine(W, b) once and calls forward(x); here W and b are graph inputs.
    x, layer.W, layer.b = inputs
    return layer.forward(x)


def affine_backward(layer: layers.Affine, dout: np.ndarray) -> tuple:
    dx = layer.backward(dout)
    return dx, layer.dW, layer.db


def check_class_indices(inputs: list[np.ndarray]) -> None:
    x, t = inputs
    if t.shape == x.shape:  # one-hot
        return
    classes = x.shape[-1]
    if not (np.all(t == np.round(t)) and np.all((t >= 0) & (t < classes))):
        raise OpError(f"t holds class indices, which must be integers from 0 to {classes - 1}")


def softmax_with_loss_backward(layer: layers.SoftmaxWithLoss, dout: np.ndarray) -> tuple:
    return layer.backward(dout), None  # t is data: no gradient


@cache
def layer_source(layer: type) -> str:
    return inspect.getsource(layer)


def format_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


# Shape rules. Each gets the input shapes and params and returns the output shape, or raises
# OpError with a message that the graph validator prefixes with the node's id.


def same_shape(shapes: list[Shape], params: dict[str, Any]) -> Shape:
    return shapes[0]


def broadcast(shapes: list[Shape], params: dict[str, Any]) -> Shape:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise OpError(
            f"shapes {' and '.join(str(list(s)) for s in shapes)} do not broadcast together"
        ) from None


def matmul_shape(shapes: list[Shape], params: dict[str, Any]) -> Shape:
    x, W = shapes
    if not (1 <= len(x) <= 2 and 1 <= len(W) <= 2):
        raise OpError(f"matmul takes vectors or matrices, got shapes {list(x)} and {list(W)}")
    if x[-1] != W[0]:
        raise OpError(
            f"shapes {list(x)} and {list(W)} do not fit: x has {x[-1]} columns, W {W[0]} rows"
        )
    return x[:-1] + W[1:]


def affine_shape(shapes: list[Shape], params: dict[str, Any]) -> Shape:
    x, W, b = shapes
    if len(W) != 2:
        raise OpError(f"W must be a matrix (D x M), got shape {list(W)}")
    if len(x) == 0:
        raise OpError("x must be a vector or a batch, got a scalar")
    features = x[-1] if len(x) <= 2 else math.prod(x[1:])
    if features != W[0]:
        raise OpError(
            f"x has {features} features per sample but W has {W[0]} rows "
            f"(shapes {list(x)}, {list(W)})"
        )
    out = (W[1],) if len(x) == 1 else (x[0], W[1])
    try:
        fits = tuple(np.broadcast_shapes(out, b)) == out
    except ValueError:
        fits = False
    if not fits:
        raise OpError(f"b of shape {list(b)} does not broadcast to the output shape {list(out)}")
    return out


def softmax_with_loss_shape(shapes: list[Shape], params: dict[str, Any]) -> Shape:
    x, t = shapes
    if len(x) not in (1, 2):
        raise OpError(f"x must be a vector or a batch of scores (N x classes), got {list(x)}")
    if t != x and t != x[:-1]:
        raise OpError(
            f"t must be one-hot with x's shape {list(x)} or class indices of shape "
            f"{list(x[:-1])}, got {list(t)}"
        )
    return ()


def sum_shape(shapes: list[Shape], params: dict[str, Any]) -> Shape:
    (x,) = shapes
    axis = params.get("axis")
    if axis is None:
        return ()
    if not -len(x) <= axis < len(x):
        raise OpError(f"axis {axis} is out of range for shape {list(x)}")
    axis %= len(x)
    return x[:axis] + x[axis + 1 :]


MAX_EXPONENT = 64


def check_exponent(params: dict[str, Any]) -> dict[str, Any]:
    p = params.get("p", 2)
    # an int is always finite (and math.isfinite would overflow on one like 10**400)
    finite = isinstance(p, int) or (isinstance(p, float) and math.isfinite(p))
    if isinstance(p, bool) or not finite:
        raise OpError(f"param 'p' must be a finite number, got {repr(p)[:40]}")
    if abs(p) > MAX_EXPONENT:
        raise OpError(f"param 'p' must be at most {MAX_EXPONENT} in size, got {repr(p)[:40]}")
    return {"p": p}


def check_axis(params: dict[str, Any]) -> dict[str, Any]:
    axis = params.get("axis")
    if axis is not None and (isinstance(axis, bool) or not isinstance(axis, int)):
        raise OpError(f"param 'axis' must be an integer or null, got {repr(axis)[:40]}")
    return {"axis": axis}


def binary(name, layer, symbol, forward, dx, dy, description) -> Op:
    return Op(name, layer, ("x", "y"), symbol, forward, (dx, dy), broadcast, description)


def unary(name, layer, symbol, forward, dx, description, **kw) -> Op:
    return Op(name, layer, ("x",), symbol, forward, (dx,), same_shape, description, **kw)


OPS: dict[str, Op] = {
    op.name: op
    for op in [
        Op("input", None, (), "", "", (), same_shape, "A leaf: a value given by the user."),
        binary(
            "add",
            layers.AddLayer,
            "+",
            "out = x + y",
            "dx = dout * 1",
            "dy = dout * 1",
            "Addition passes the gradient on unchanged (5.3.1).",
        ),
        binary(
            "sub",
            layers.SubLayer,
            "−",
            "out = x - y",
            "dx = dout * 1",
            "dy = dout * -1",
            "Subtraction: the second input gets the gradient negated.",
        ),
        binary(
            "mul",
            layers.MulLayer,
            "×",
            "out = x * y",
            "dx = dout * y",
            "dy = dout * x",
            "Multiplication swaps the inputs in backward (5.3.2).",
        ),
        binary(
            "div",
            layers.DivLayer,
            "÷",
            "out = x / y",
            "dx = dout / y",
            "dy = -dout * x / y**2",
            "Division.",
        ),
        unary("neg", layers.NegLayer, "−", "out = -x", "dx = -dout", "Negation."),
        unary(
            "pow",
            layers.PowLayer,
            "**{p}",
            "out = x ** p",
            "dx = dout * p * x ** (p - 1)",
            "Power by a constant p, like the book's **2 node (5.2).",
            params={"p": "the constant exponent (default 2)"},
            check=check_exponent,
            make=lambda params: layers.PowLayer(params["p"]),
        ),
        unary(
            "exp",
            layers.ExpLayer,
            "exp",
            "out = exp(x)",
            "dx = dout * exp(x)",
            "The exponential: its derivative is itself (figure 5-19).",
        ),
        unary(
            "log", layers.LogLayer, "log", "out = log(x)", "dx = dout / x", "The natural logarithm."
        ),
        unary(
            "reciprocal",
            layers.ReciprocalLayer,
            "/",
            "out = 1 / x",
            "dx = -dout * out**2",
            'The book\'s "/" node of figure 5-19: y = 1/x.',
        ),
        unary(
            "relu",
            layers.Relu,
            "ReLU",
            "out = max(0, x)",
            "dx = dout * (x > 0)",
            "ReLU blocks the gradient where x <= 0 (5.5.1).",
        ),
        unary(
            "sigmoid",
            layers.Sigmoid,
            "sigmoid",
            "out = 1 / (1 + exp(-x))",
            "dx = dout * out * (1 - out)",
            "The sigmoid as one node (5.5.2).",
        ),
        unary(
            "tanh",
            layers.Tanh,
            "tanh",
            "out = tanh(x)",
            "dx = dout * (1 - out**2)",
            "The hyperbolic tangent.",
        ),
        Op(
            "matmul",
            layers.MatMul,
            ("x", "W"),
            "dot",
            "out = x · W",
            ("dx = dout · Wᵀ", "dW = xᵀ · dout"),
            matmul_shape,
            "The matrix product of figure 5-25.",
        ),
        Op(
            "affine",
            layers.Affine,
            ("x", "W", "b"),
            "Affine",
            "out = x · W + b",
            ("dx = dout · Wᵀ", "dW = xᵀ · dout", "db = sum(dout, axis=0)"),
            affine_shape,
            "The Affine layer: a matrix product and a bias, for a batch (5.6.2).",
            box=True,
            make=lambda params: layers.Affine(W=None, b=None),
            call=affine_forward,
            collect=affine_backward,
        ),
        Op(
            "softmax_with_loss",
            layers.SoftmaxWithLoss,
            ("x", "t"),
            "Softmax-with-Loss",
            "loss = -sum(t * log(softmax(x))) / N",
            ("dx = dout * (y - t) / N", "(t is data)"),
            softmax_with_loss_shape,
            "Softmax followed by the cross-entropy error (5.6.3).",
            box=True,
            check_values=check_class_indices,
            collect=softmax_with_loss_backward,
        ),
        Op(
            "sum",
            layers.Sum,
            ("x",),
            "sum",
            "out = sum(x)",
            ("dx = dout (broadcast)",),
            sum_shape,
            "The sum of all elements, or along one axis.",
            params={"axis": "the axis to sum over (default: all elements)"},
            check=check_axis,
            make=lambda params: layers.Sum(params["axis"]),
        ),
    ]
}


# The temporaries of each op's layer, from layers.py read line by line: what each forward and
# backward allocates besides the output and the input gradients. The graph's budget counts them
# before anything runs, so no request makes an array the limits have not allowed for.


def broadcast_scratch(shapes: list[Shape], out: Shape) -> Temporaries:
    # backward forms dout * y at the output's shape before summing it back to a broadcast input
    n = math.prod(out)
    return Temporaries(scratch=(n,) if any(s != out for s in shapes) else ())


def div_scratch(shapes: list[Shape], out: Shape) -> Temporaries:
    # dy = -dout * (x / y) / y: -dout, x / y and their product are alive before dy is made
    n = math.prod(out)
    return Temporaries(scratch=(n, n) + broadcast_scratch(shapes, out).scratch)


def elementwise_scratch(count: int) -> Callable[[list[Shape], Shape], Temporaries]:
    """``count`` arrays of the output's size alive at once besides the result (e.g. dout * p
    and x ** (p - 1) while their product, dx, is made)."""

    def rule(shapes: list[Shape], out: Shape) -> Temporaries:
        return Temporaries(scratch=(math.prod(out),) * count)

    return rule


def relu_temporaries(shapes: list[Shape], out: Shape) -> Temporaries:
    return Temporaries(kept=(math.prod(out),))  # the mask of x <= 0


def affine_temporaries(shapes: list[Shape], out: Shape) -> Temporaries:
    return Temporaries(scratch=(math.prod(out),))  # x . W before + b


def softmax_with_loss_temporaries(shapes: list[Shape], out: Shape) -> Temporaries:
    x, t = shapes
    n = math.prod(x)
    # Kept: y, and t as one-hot when it holds class indices (N x C, never C x C). Scratch, at
    # most two at once: the shifted scores and their exponentials (or log y), log y and t * log y;
    # in backward y * sum(t) and y * sum(t) - t.
    one_hot = (n,) if t != x else ()
    return Temporaries(kept=one_hot + (n,), scratch=(n, n))


OP_TEMPORARIES: dict[str, Callable[[list[Shape], Shape], Temporaries]] = {
    "add": broadcast_scratch,
    "sub": broadcast_scratch,
    "mul": broadcast_scratch,
    "div": div_scratch,
    "pow": elementwise_scratch(2),
    "reciprocal": elementwise_scratch(2),
    "relu": relu_temporaries,
    "sigmoid": elementwise_scratch(4),
    "tanh": elementwise_scratch(1),
    "affine": affine_temporaries,
    "softmax_with_loss": softmax_with_loss_temporaries,
}
for _name, _rule in OP_TEMPORARIES.items():
    OPS[_name] = replace(OPS[_name], temporaries=_rule)


def check_params(op: Op, params: dict[str, Any]) -> dict[str, Any]:
    """The params an op needs, with defaults, or an OpError naming the bad one."""
    unknown = sorted(set(params) - set(op.params))
    if unknown:
        allowed = ", ".join(op.params) or "none"
        raise OpError(f"unknown param {unknown[0][:40]!r} for op {op.name!r} (allowed: {allowed})")
    return op.check(params) if op.check else {}
