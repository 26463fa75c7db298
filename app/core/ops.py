"""The op catalogue: everything about an op lives in its entry of ``OPS``.

The engine never does arithmetic itself: it looks an op up here, builds its layer from
``backprop_viz.core.layers`` and calls the layer's ``forward`` and ``backward``. What the page
shows about an op (its symbol, its formulas, the source of its layer class) comes from here too,
and so does everything else that knows about ops: the formula language's functions (``function``),
the symbolic derivative (``sympy_form``), the composite expansions (``expand``), forward mode
(``jvp``) and the inputs every op is tested on (``samples``, in tests/core/test_ops.py).

Adding an op is one entry here plus its layer class; ``catalogue_problems`` names what an entry
lacks (a test runs it). sympy is never imported here: a sympy form gets the module as an argument.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from typing import Any

import numpy as np

from backprop_viz.core import layers
from backprop_viz.core.samples import (
    Sample,
    Shape,
    broadcast_samples,
    positive,
    signed,
    unary_samples,
)


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
    """One kind of node: its layer and how to call it, and all the rest that is known of it.

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

    # What the formula language, sympy, forward mode, composites and the tests know of the op.
    function: str | None = None
    """Its name in the formula language (``exp`` in ``exp(x)``), if formulas can call it."""
    function_params: dict[str, Any] = field(default_factory=dict)
    """The params that calling ``function`` fixes: sqrt(x) is pow with p = 0.5."""
    sympy_form: Callable[[Any, list[Any], dict[str, Any]], Any] | None = None
    """``(sympy, args, params) -> expr``: the op on sympy expressions, for the symbolic
    derivative (None: the op has no scalar formula, like matmul)."""
    jvp: Callable[[list[np.ndarray], np.ndarray, dict[str, Any], list[np.ndarray]], Any] | None = (
        None
    )
    """Forward mode: ``(inputs, out, params, tangents) -> out's tangent``, one tangent per input
    (the tangent of data such as t is ignored, as backward sends it no gradient)."""
    expand: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None
    """A composite: the node spec as the book's primitive nodes (core/composites.py)."""
    samples: tuple[Sample, ...] = ()
    """Inputs the op is tested on: every op with a layer has at least one."""

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
        if not params:  # most nodes (mul, add, ...): formatted once per op
            return self.bare_symbol
        return self.symbol.format(
            **{k: format_number(v) for k, v in params.items() if v is not None}
        )

    @cached_property
    def bare_symbol(self) -> str:
        """``symbol_for({})``, formatted once (a KeyError for a symbol that needs a param is
        raised on every call, as it is not cached)."""
        return self.symbol.format()

    @cached_property
    def bare_fields(self) -> dict[str, Any]:
        """``op_fields(self, {})``, worked out once; ``op_fields`` hands out copies."""
        return _op_fields(self, {})

    @property
    def source(self) -> str:
        return layer_source(self.layer) if self.layer else ""

    def run_jvp(
        self,
        inputs: list[np.ndarray],
        out: np.ndarray,
        params: dict[str, Any],
        tangents: list[np.ndarray | None],
    ) -> np.ndarray:
        """The output's tangent for the inputs' tangents (None: a zero tangent)."""
        if self.jvp is None:
            raise OpError(f"op {self.name!r} has no forward-mode rule")
        filled = [
            np.zeros(np.shape(x)) if t is None else np.asarray(t, dtype=np.float64)
            for x, t in zip(inputs, tangents, strict=True)
        ]
        return np.asarray(self.jvp(inputs, out, params, filled), dtype=np.float64)


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


def check_one_hot_indices(inputs: list[np.ndarray]) -> None:
    t, x = inputs
    check_class_indices([x, t])


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


def sum_shape(shapes: list[Shape], params: dict[str, Any]) -> Shape:
    (x,) = shapes
    axis = params.get("axis")
    keepdims = params.get("keepdims", False)
    if axis is None:
        return (1,) * len(x) if keepdims else ()
    if not -len(x) <= axis < len(x):
        raise OpError(f"axis {axis} is out of range for shape {list(x)}")
    axis %= len(x)
    return x[:axis] + ((1,) if keepdims else ()) + x[axis + 1 :]


def labels_shape(scores: str) -> Callable[[list[Shape], dict[str, Any]], Shape]:
    """The loss of ``scores`` (x or y) and labels t: a scalar; t one-hot or class indices."""

    def rule(shapes: list[Shape], params: dict[str, Any]) -> Shape:
        x, t = shapes
        if len(x) not in (1, 2):
            raise OpError(
                f"{scores} must be a vector or a batch of scores (N x classes), got {list(x)}"
            )
        if t != x and t != x[:-1]:
            raise OpError(
                f"t must be one-hot with {scores}'s shape {list(x)} or class indices of shape "
                f"{list(x[:-1])}, got {list(t)}"
            )
        return ()

    return rule


def one_hot_shape(shapes: list[Shape], params: dict[str, Any]) -> Shape:
    t, x = shapes
    labels_shape("x")([x, t], params)
    return x


def softmax_shape(shapes: list[Shape], params: dict[str, Any]) -> Shape:
    (x,) = shapes
    if len(x) == 0:
        raise OpError("softmax takes a vector or a batch of scores, got a scalar")
    return x


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
    keepdims = params.get("keepdims", False)
    if not isinstance(keepdims, bool):
        raise OpError(f"param 'keepdims' must be true or false, got {repr(keepdims)[:40]}")
    return {"axis": axis, "keepdims": keepdims}


# sympy forms: (sympy, args, params) -> expr. The module comes as an argument, so importing
# this file never imports sympy (the server starts fast).


def exact(sympy, x: float):
    """A number as sympy's exact Integer or Rational, so 0.5 stays 1/2 in a derivative."""
    return sympy.Integer(int(x)) if float(x).is_integer() else sympy.nsimplify(x, rational=True)


def sympy_pow(sympy, args, params):
    return args[0] ** exact(sympy, params["p"])


def sympy_sigmoid(sympy, args, params):
    return 1 / (1 + sympy.exp(-args[0]))


def sympy_relu(sympy, args, params):
    return sympy.Max(0, args[0])


# Forward-mode rules: (inputs, out, params, tangents) -> out's tangent, one tangent per input.


def pow_jvp(inputs, out, params, tangents):
    p = params["p"]
    if p == 0:  # x**0 is constant (0 * 0**-1 would be NaN at x = 0), as in PowLayer.backward
        return np.zeros(np.shape(out))
    return p * inputs[0] ** (p - 1) * tangents[0]


def relu_jvp(inputs, out, params, tangents):
    return np.where(inputs[0] > 0, tangents[0], 0.0)  # blocked where x <= 0, like backward


def flat_batch(x: np.ndarray) -> np.ndarray:
    """x as Affine sees it: a tensor (N, C, H, W) flattened to N x D, as in the book."""
    return np.reshape(x, (np.shape(x)[0], -1)) if np.ndim(x) > 2 else x


def affine_jvp(inputs, out, params, tangents):
    (x, W, _), (tx, tW, tb) = inputs, tangents
    return np.dot(flat_batch(tx), W) + np.dot(flat_batch(x), tW) + tb


def softmax_with_loss_jvp(inputs, out, params, tangents):
    # d loss = sum((y * sum(t) - t) * dx) / N; t is data, so its tangent is ignored.
    x, t = inputs
    t = layers.one_hot_like(t, x)
    y = layers.softmax(x)
    batch_size = 1 if np.ndim(x) == 1 else np.shape(x)[0]
    return np.sum((y * t.sum(axis=-1, keepdims=True) - t) * tangents[0]) / batch_size


def sum_jvp(inputs, out, params, tangents):
    return np.sum(tangents[0], axis=params["axis"], keepdims=params["keepdims"])


def softmax_jvp(inputs, out, params, tangents):
    return out * (tangents[0] - np.sum(out * tangents[0], axis=-1, keepdims=True))


def cross_entropy_error_jvp(inputs, out, params, tangents):
    # d loss = -sum(t * dy / y) / N over the labelled classes; t is data, its tangent ignored.
    y, t = inputs
    t = layers.one_hot_like(t, y)
    batch_size = 1 if np.ndim(y) == 1 else np.shape(y)[0]
    labelled = t != 0
    ratio = np.where(labelled, t * tangents[0] / np.where(labelled, y, 1.0), 0.0)
    return -np.sum(ratio) / batch_size


# Composite expansions: the node spec as the book's primitive nodes. The last primitive keeps
# the composite's id, so every edge around it keeps its id and its numbers; the inner nodes
# carry ``group``, the composite's id (core/composites.py checks ids and splices them in).


def constant_node(node_id: str, value: float, group: str) -> dict[str, Any]:
    label = format_number(value)
    return {
        "id": node_id,
        "op": "input",
        "value": value,
        "label": label,
        "requires_grad": False,
        "group": group,
    }


def expand_sigmoid(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Figure 5-19: x * -1, exp, + 1, then the "/" node."""
    s, (x,) = node["id"], node["inputs"]
    label = node.get("label") or s
    return [
        constant_node(f"{s}/-1", -1, s),
        {"id": f"{s}/neg", "op": "mul", "inputs": [x, f"{s}/-1"], "group": s},
        {"id": f"{s}/exp", "op": "exp", "inputs": [f"{s}/neg"], "group": s},
        constant_node(f"{s}/1", 1, s),
        {"id": f"{s}/add", "op": "add", "inputs": [f"{s}/exp", f"{s}/1"], "group": s},
        {"id": s, "op": "reciprocal", "inputs": [f"{s}/add"], "label": label, "group": s},
    ]


def expand_affine(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Figure 5-25: the dot node, then + b."""
    a, (x, W, b) = node["id"], node["inputs"]
    label = node.get("label") or a
    return [
        {"id": f"{a}/dot", "op": "matmul", "inputs": [x, W], "group": a},
        {"id": a, "op": "add", "inputs": [f"{a}/dot", b], "label": label, "group": a},
    ]


def expand_softmax_with_loss(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Figure 5-29: the Softmax layer, then the Cross Entropy Error layer (each expands
    further, into Appendix A's primitive graph)."""
    s, (x, t) = node["id"], node["inputs"]
    label = node.get("label") or s
    return [
        {"id": f"{s}/softmax", "op": "softmax", "inputs": [x], "label": "y", "group": s},
        {
            "id": s,
            "op": "cross_entropy_error",
            "inputs": [f"{s}/softmax", t],
            "label": label,
            "group": s,
        },
    ]


def expand_softmax(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Appendix A's Softmax layer: exp, their sum S, the "/" node 1/S, and exp(a) x 1/S.

    exp's output forks (into the sum and the product), so its gradient is the sum of two
    parts, as the appendix adds them up. The book's softmax subtracts the maximum first and
    the appendix's figure does not; neither does this graph: softmax is unchanged by the
    shift, and without it the numbers match the one node's to about 1e-16 (measured by
    tests/core/test_appendix_a.py); only where exp overflows (scores above 709) would the
    shift matter, and then the graph shows the infinity, with a warning, as the appendix's
    arithmetic would.
    """
    s, (x,) = node["id"], node["inputs"]
    label = node.get("label") or s
    return [
        {"id": f"{s}/exp", "op": "exp", "inputs": [x], "group": s},
        {
            "id": f"{s}/sum",
            "op": "sum",
            "inputs": [f"{s}/exp"],
            "params": {"axis": -1, "keepdims": True},
            "label": "S",
            "group": s,
        },
        {"id": f"{s}/reciprocal", "op": "reciprocal", "inputs": [f"{s}/sum"], "group": s},
        {
            "id": s,
            "op": "mul",
            "inputs": [f"{s}/exp", f"{s}/reciprocal"],
            "label": label,
            "group": s,
        },
    ]


def expand_cross_entropy_error(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Appendix A's Cross Entropy Error layer: log y, x t, the sum, x -1, then the mean over
    the batch (/ N, N = 1 for one sample), so that (y - t) / N reaches x.

    t goes through a one-hot node first: class indices become one-hot rows, exactly as the
    one Softmax-with-Loss node makes them (the same function), and a one-hot or soft t passes
    unchanged; so every label form the composite takes gives the same numbers here. (Refusing
    class indices could not be done at expansion, where shapes are not known yet, and a
    plain x t would broadcast an index silently against log y.)
    """
    s, (y, t) = node["id"], node["inputs"]
    label = node.get("label") or s
    return [
        {"id": f"{s}/one_hot", "op": "one_hot", "inputs": [t, y], "label": "t", "group": s},
        {"id": f"{s}/log", "op": "log", "inputs": [y], "group": s},
        {"id": f"{s}/mul_t", "op": "mul", "inputs": [f"{s}/log", f"{s}/one_hot"], "group": s},
        {
            "id": f"{s}/sum",
            "op": "sum",
            "inputs": [f"{s}/mul_t"],
            "params": {"axis": -1},
            "group": s,
        },
        constant_node(f"{s}/-1", -1, s),
        {"id": f"{s}/neg", "op": "mul", "inputs": [f"{s}/sum", f"{s}/-1"], "group": s},
        {"id": s, "op": "mean", "inputs": [f"{s}/neg"], "label": label, "group": s},
    ]


def binary(name, layer, symbol, forward, dx, dy, description, **kw) -> Op:
    return Op(name, layer, ("x", "y"), symbol, forward, (dx, dy), broadcast, description, **kw)


def unary(name, layer, symbol, forward, dx, description, **kw) -> Op:
    return Op(name, layer, ("x",), symbol, forward, (dx,), same_shape, description, **kw)


# The one-line rules below are lambdas with short names: a sympy form takes (sympy, a = the
# arguments' expressions, p = params); a JVP takes (i = inputs, out, p = params, t = tangents).
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
            sympy_form=lambda sympy, a, p: a[0] + a[1],
            jvp=lambda i, out, p, t: t[0] + t[1],
            samples=broadcast_samples(),
        ),
        binary(
            "sub",
            layers.SubLayer,
            "−",
            "out = x - y",
            "dx = dout * 1",
            "dy = dout * -1",
            "Subtraction: the second input gets the gradient negated.",
            sympy_form=lambda sympy, a, p: a[0] - a[1],
            jvp=lambda i, out, p, t: t[0] - t[1],
            samples=broadcast_samples(),
        ),
        binary(
            "mul",
            layers.MulLayer,
            "×",
            "out = x * y",
            "dx = dout * y",
            "dy = dout * x",
            "Multiplication swaps the inputs in backward (5.3.2).",
            sympy_form=lambda sympy, a, p: a[0] * a[1],
            jvp=lambda i, out, p, t: t[0] * i[1] + i[0] * t[1],
            # and the book's apples: 100 yen x 2 (figure 5-16)
            samples=broadcast_samples() + (Sample((100.0, 2.0), note="apples"),),
        ),
        binary(
            "div",
            layers.DivLayer,
            "÷",
            "out = x / y",
            "dx = dout / y",
            "dy = -dout * x / y**2",
            "Division.",
            sympy_form=lambda sympy, a, p: a[0] / a[1],
            jvp=lambda i, out, p, t: (t[0] - out * t[1]) / i[1],
            samples=broadcast_samples(),
        ),
        unary(
            "neg",
            layers.NegLayer,
            "−",
            "out = -x",
            "dx = -dout",
            "Negation.",
            sympy_form=lambda sympy, a, p: -a[0],
            jvp=lambda i, out, p, t: -t[0],
            samples=unary_samples(),
        ),
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
            function="sqrt",
            function_params={"p": 0.5},
            sympy_form=sympy_pow,
            jvp=pow_jvp,
            samples=unary_samples(p=2)
            + unary_samples(p=3)
            + unary_samples(p=-1)
            + unary_samples(positive, p=0.5)
            + (Sample((signed(2, 3),), {"p": 0}), Sample(([0.0, 2.0],), {"p": 0}, note="at 0")),
        ),
        unary(
            "exp",
            layers.ExpLayer,
            "exp",
            "out = exp(x)",
            "dx = dout * exp(x)",
            "The exponential: its derivative is itself (figure 5-19).",
            function="exp",
            sympy_form=lambda sympy, a, p: sympy.exp(a[0]),
            jvp=lambda i, out, p, t: out * t[0],
            samples=unary_samples(),
        ),
        unary(
            "log",
            layers.LogLayer,
            "log",
            "out = log(x)",
            "dx = dout / x",
            "The natural logarithm.",
            function="log",
            sympy_form=lambda sympy, a, p: sympy.log(a[0]),
            jvp=lambda i, out, p, t: t[0] / i[0],
            samples=unary_samples(positive),
        ),
        unary(
            "reciprocal",
            layers.ReciprocalLayer,
            "/",
            "out = 1 / x",
            "dx = -dout * out**2",
            'The book\'s "/" node of figure 5-19: y = 1/x.',
            sympy_form=lambda sympy, a, p: 1 / a[0],
            jvp=lambda i, out, p, t: -(out**2) * t[0],
            samples=unary_samples(),
        ),
        unary(
            "relu",
            layers.Relu,
            "ReLU",
            "out = max(0, x)",
            "dx = dout * (x > 0)",
            "ReLU blocks the gradient where x <= 0 (5.5.1).",
            function="relu",
            sympy_form=sympy_relu,
            jvp=relu_jvp,
            samples=unary_samples(),
        ),
        unary(
            "sigmoid",
            layers.Sigmoid,
            "sigmoid",
            "out = 1 / (1 + exp(-x))",
            "dx = dout * out * (1 - out)",
            "The sigmoid as one node (5.5.2).",
            function="sigmoid",
            sympy_form=sympy_sigmoid,
            jvp=lambda i, out, p, t: out * (1 - out) * t[0],
            expand=expand_sigmoid,
            samples=unary_samples(),
        ),
        unary(
            "tanh",
            layers.Tanh,
            "tanh",
            "out = tanh(x)",
            "dx = dout * (1 - out**2)",
            "The hyperbolic tangent.",
            function="tanh",
            sympy_form=lambda sympy, a, p: sympy.tanh(a[0]),
            jvp=lambda i, out, p, t: (1 - out**2) * t[0],
            samples=unary_samples(),
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
            jvp=lambda i, out, p, t: np.dot(t[0], i[1]) + np.dot(i[0], t[1]),
            samples=(
                Sample((signed(2, 3), signed(3, 4))),
                Sample((signed(3), signed(3, 4))),
                Sample((signed(2, 3), signed(3))),
                Sample((signed(3), signed(3))),
            ),
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
            jvp=affine_jvp,
            expand=expand_affine,
            samples=(
                Sample((signed(2, 3), signed(3, 4), signed(4))),
                Sample((signed(3), signed(3, 4), signed(4)), note="one sample"),
                Sample((signed(2, 3), signed(3, 4), signed(1, 4))),
                # the book's 4-D tensor (N, C, H, W), flattened to (N, 6)
                Sample((signed(2, 1, 2, 3), signed(6, 4), signed(4)), note="tensor"),
            ),
        ),
        Op(
            "softmax_with_loss",
            layers.SoftmaxWithLoss,
            ("x", "t"),
            "Softmax-with-Loss",
            "loss = -sum(t * log(softmax(x))) / N",
            ("dx = dout * (y - t) / N", "(t is data)"),
            labels_shape("x"),
            "Softmax followed by the cross-entropy error (5.6.3).",
            box=True,
            check_values=check_class_indices,
            collect=softmax_with_loss_backward,
            jvp=softmax_with_loss_jvp,
            expand=expand_softmax_with_loss,
            samples=(
                Sample((signed(3), [0.0, 1.0, 0.0]), note="one-hot"),
                Sample((signed(3), 2.0), note="class index"),
                Sample((signed(4, 3), np.eye(3)[[0, 2, 1, 2]]), note="one-hot batch"),
                Sample((signed(4, 3), [0.0, 2.0, 1.0, 2.0]), note="class indices"),
                Sample((signed(2, 3), [[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]), note="soft labels"),
                # figure 5-30: y = (0.3, 0.2, 0.5) for the label 1
                Sample((np.log([0.3, 0.2, 0.5]), [0.0, 1.0, 0.0]), note="figure 5-30"),
            ),
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
            params={
                "axis": "the axis to sum over (default: all elements)",
                "keepdims": "keep the summed axis with length 1 (default false), so the sum "
                "broadcasts back against x, as softmax's np.sum(..., keepdims=True)",
            },
            check=check_axis,
            make=lambda params: layers.Sum(params["axis"], params["keepdims"]),
            jvp=sum_jvp,
            samples=(
                Sample((signed(2, 3, 4),)),
                Sample((signed(2, 3, 4),), {"axis": 0}),
                Sample((signed(2, 3, 4),), {"axis": 1}),
                Sample((signed(2, 3, 4),), {"axis": -1}),
                Sample((signed(),)),
                Sample((signed(2, 3),), {"axis": -1, "keepdims": True}),
                Sample((signed(3),), {"axis": -1, "keepdims": True}),
                Sample((signed(2, 3),), {"keepdims": True}),
            ),
        ),
        # Appendix A: the two layers of figure 5-29 and the primitives they expand into.
        Op(
            "softmax",
            layers.Softmax,
            ("x",),
            "Softmax",
            "out = exp(x) / sum(exp(x))",
            ("dx = out * (dout - sum(dout * out))",),
            softmax_shape,
            "The Softmax layer of figure 5-29, along the last axis (the book's softmax, the "
            "maximum subtracted first); it expands into Appendix A's exp, sum, / and x.",
            box=True,
            jvp=softmax_jvp,
            expand=expand_softmax,
            samples=(
                Sample((signed(3),)),
                Sample((signed(4, 3),), note="batch"),
                Sample((np.log([0.3, 0.2, 0.5]),), note="figure 5-30"),
            ),
        ),
        Op(
            "cross_entropy_error",
            layers.CrossEntropyError,
            ("y", "t"),
            "Cross Entropy Error",
            "loss = -sum(t * log(y)) / N",
            ("dy = -dout * t / y / N", "(t is data)"),
            labels_shape("y"),
            "The Cross Entropy Error layer of figure 5-29 (the book's cross_entropy_error "
            "without its 1e-7, see layers.CrossEntropyError); it expands into Appendix A's "
            "log, x t, sum, x -1 and the mean over the batch.",
            box=True,
            check_values=check_class_indices,
            collect=softmax_with_loss_backward,
            jvp=cross_entropy_error_jvp,
            expand=expand_cross_entropy_error,
            samples=(
                Sample((positive(3), [0.0, 1.0, 0.0]), note="one-hot"),
                Sample((positive(3), 2.0), note="class index"),
                Sample((positive(4, 3), np.eye(3)[[0, 2, 1, 2]]), note="one-hot batch"),
                Sample((positive(4, 3), [0.0, 2.0, 1.0, 2.0]), note="class indices"),
                Sample((positive(2, 3), [[0.5, 0.5, 0.0], [0.0, 0.0, 0.0]]), note="soft"),
                # figure 5-30: y = (0.3, 0.2, 0.5) for the label 1
                Sample(([0.3, 0.2, 0.5], [0.0, 1.0, 0.0]), note="figure 5-30"),
            ),
        ),
        Op(
            "one_hot",
            layers.OneHot,
            ("t", "x"),
            "one-hot",
            "out = t as one-hot rows of x's shape",
            ("(t is data)", "dx = 0 (x gives the shape only)"),
            one_hot_shape,
            "Labels as one-hot rows: class indices become rows with a single 1; one-hot or "
            "soft labels pass unchanged (Appendix A multiplies log y by a one-hot t).",
            check_values=check_one_hot_indices,
            jvp=lambda i, out, p, t: np.zeros(np.shape(out)),
            samples=(
                Sample((2.0, signed(3)), note="class index"),
                Sample(([0.0, 2.0, 1.0], signed(3, 3)), note="class indices"),
                Sample(([0.0, 1.0, 0.0], signed(3)), note="one-hot"),
            ),
        ),
        Op(
            "mean",
            layers.Mean,
            ("x",),
            "÷N",
            "out = sum(x) / N",
            ("dx = dout / N",),
            lambda shapes, params: (),
            "The mean over the batch: the per-sample losses summed and divided by their "
            "number N (1 for one sample), as the book's cross_entropy_error divides by "
            "batch_size.",
            jvp=lambda i, out, p, t: np.sum(t[0]) / np.size(t[0]),
            samples=unary_samples(),
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


def softmax_temporaries(shapes: list[Shape], out: Shape) -> Temporaries:
    n = math.prod(out)
    # Kept: y. Scratch: the shifted x and exp of it twice (the book's one line); in backward
    # dout * y and dout - its sum.
    return Temporaries(kept=(n,), scratch=(n, n, n))


def cross_entropy_error_temporaries(shapes: list[Shape], out: Shape) -> Temporaries:
    y, t = shapes
    n = math.prod(y)
    # Kept: t as one-hot when it holds class indices, and the mask t != 0 (bytes, counted as
    # elements). Scratch: the mask, y where labelled, log y and t * log y; in backward the
    # same few arrays of y's size.
    one_hot = (n,) if t != y else ()
    return Temporaries(kept=one_hot, scratch=(n, n, n, n))


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
    "softmax": softmax_temporaries,
    "cross_entropy_error": cross_entropy_error_temporaries,
    "one_hot": elementwise_scratch(1),
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


def formula_functions(ops: dict[str, Op] = OPS) -> dict[str, tuple[str, dict[str, Any]]]:
    """The formula language's functions by name: name -> (op, the params the call fixes)."""
    functions = {op.function: (op.name, op.function_params) for op in ops.values() if op.function}
    return dict(sorted(functions.items()))


def composite_ops(ops: dict[str, Op] = OPS) -> tuple[str, ...]:
    """The ops that can be drawn as the book's primitive nodes (sigmoid, affine)."""
    return tuple(op.name for op in ops.values() if op.expand)


def catalogue_problems(ops: dict[str, Op]) -> list[str]:
    """What the catalogue's entries lack, one message each (an empty list: it is complete).

    Every op with a layer needs samples that its params check and shape rule accept, and a
    forward-mode rule; a formula function needs a sympy form (without one, the symbolic
    derivative of a formula that calls it fails); no two ops claim one function name.
    """
    problems = []
    claimed: dict[str, str] = {}
    for op in ops.values():
        if op.function:
            if op.function in claimed:
                problems.append(
                    f"{op.name}: the function {op.function!r} is {claimed[op.function]}'s too"
                )
            claimed[op.function] = op.name
            if op.sympy_form is None:
                problems.append(f"{op.name}: the function {op.function!r} has no sympy form")
        if op.layer is None:
            continue
        if op.jvp is None:
            problems.append(f"{op.name}: no forward-mode rule (jvp)")
        if not op.samples:
            problems.append(f"{op.name}: no sample inputs to test it on")
        for sample in op.samples:
            problems.extend(f"{op.name} [{sample.label}]: {p}" for p in sample_problems(op, sample))
    return problems


def sample_problems(op: Op, sample: Sample) -> list[str]:
    if len(sample.inputs) != op.arity:
        return [f"{len(sample.inputs)} inputs for an op that takes {op.arity}"]
    try:
        params = check_params(op, sample.params)
        op.shape_rule([np.shape(x) for x in sample.values()], params)
    except OpError as e:
        return [str(e)]
    return []


def default_params(op: Op) -> dict[str, Any]:
    """The params a node of this op has when its spec gives none (pow: p = 2)."""
    return op.check({}) if op.check else {}


def op_fields(op: Op, params: dict[str, Any]) -> dict[str, Any]:
    """What every description of an op's node says about the op: GET /api/ops and a trace.

    The caller's own dict: for a node without params (most of them) a copy of the op's
    ``bare_fields``, which is the same every time."""
    if not params:
        return dict(op.bare_fields)
    return _op_fields(op, params)


def _op_fields(op: Op, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "layer": op.layer.__name__ if op.layer else None,
        "symbol": op.symbol_for(params),
        "box": op.box,
        "composite": op.expand is not None,
    }


def op_summary(op: Op) -> dict[str, Any]:
    """One op for GET /api/ops (``schemas.OpInfo``)."""
    return {
        "name": op.name,
        "arity": op.arity,
        "inputs": list(op.inputs),
        **op_fields(op, default_params(op)),  # pow's symbol: **2
        "forward": op.forward,
        "backward": list(op.backward),
        "params": op.params,
        "description": op.description,
        "source": op.source,
        "function": op.function,
        "function_params": op.function_params,
        "expands_to": expansion_ops(op),
        "sympy": op.sympy_form is not None,
        "jvp": op.jvp is not None,
    }


def expansion_ops(op: Op) -> list[str]:
    """The ops of a composite's primitive nodes, in order (sigmoid: mul, exp, add, reciprocal)."""
    if op.expand is None:
        return []
    parts = op.expand({"id": op.name, "op": op.name, "inputs": list(op.inputs)})
    return [part["op"] for part in parts if part["op"] != "input"]
