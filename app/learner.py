"""Check a layer you wrote against the project's: ``bv.check_layer(MyMulLayer, op="mul")``.

The class follows the book's API: ``__init__`` (Affine: ``__init__(W, b)``), ``forward(...)``
and ``backward(dout)`` returning one gradient per input (Affine keeps ``dW`` and ``db`` on
itself; Softmax-with-Loss returns dx only, t being data). It runs on the op's sample inputs
(``Op.samples``), each time on fresh copies, against three references: the project's layer
(the true gradient), the central difference of the project's forward (the numerical one), and
the arrays it was given (a layer that writes into its caller's arrays is caught). Where a wrong
gradient matches a known mistake the report says so in words ("dx: you returned dout * x;
expected dout * y"). Then a preset is traced with the class swapped in for the op's layer, so
``report.trace`` shows the learner's numbers on the book's graph.

Everything runs in this process: the learner's code is never sent anywhere.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from backprop_viz.core.ops import OPS, Op
from backprop_viz.core.samples import Sample

PRESETS = {
    "mul": "apple",
    "add": "apple_orange",
    "relu": "relu",
    "sigmoid": "sigmoid",
    "affine": "affine_batch",
    "softmax_with_loss": "softmax_with_loss",
    "pow": "chain_rule",
}
"""The preset traced with the learner's layer swapped in, per op."""


def book_shaped(op: Op, sample: Sample) -> bool:
    """Whether the book's API covers a sample: its layers neither broadcast (add, mul), nor
    take one sample as a vector (Affine), nor soft labels (Softmax-with-Loss)."""
    shapes = [np.shape(v) for v in sample.values()]
    if op.name == "affine":
        x, _, b = shapes
        return len(x) >= 2 and len(b) == 1
    if op.name == "softmax_with_loss":
        return len(shapes[0]) == 2 and sample.note != "soft labels"
    return len(set(shapes)) == 1


@dataclass
class InputGradient:
    """One input's gradient for one sample: yours, the true one, the numerical one."""

    name: str
    """The gradient's name: dx, dy, dW, db."""
    yours: np.ndarray | None
    true: np.ndarray
    numerical: np.ndarray
    ok: bool
    message: str = ""
    """What is wrong, in words ("" when ok)."""


@dataclass
class SampleCheck:
    """The layer on one sample: the forward output, each input's gradient, the problems."""

    label: str
    inputs: list[np.ndarray]
    dout: np.ndarray
    output_ok: bool = False
    gradients: list[InputGradient] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Everything wrong with this sample, in words (a raise, a shape, an in-place write...)."""

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class LayerReport:
    """``ok`` if every sample passed; per sample the gradients and what is wrong; the trace of
    a preset with the layer swapped in (None, with ``trace_error``, if that failed)."""

    op: str
    layer: str
    samples: list[SampleCheck]
    trace: Any = None
    trace_error: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.samples) and all(s.ok for s in self.samples)

    @property
    def problems(self) -> list[str]:
        """The distinct problems over all samples, in the order first seen."""
        return list(dict.fromkeys(p for s in self.samples for p in s.problems))

    def __repr__(self) -> str:
        passed = sum(s.ok for s in self.samples)
        verdict = "ok" if self.ok else "FAILED"
        lines = [
            f"check_layer({self.layer}, op={self.op!r}): {verdict}, "
            f"{passed} of {len(self.samples)} samples pass"
        ]
        for s in self.samples:
            mark = "ok  " if s.ok else "FAIL"
            lines.append(f"  {mark} sample {s.label}")
            lines += [f"         {p}" for p in s.problems]
        if self.trace is not None:
            lines.append(f"trace with your layer: {self.trace!r}")
        elif self.trace_error:
            lines.append(f"trace with your layer failed: {self.trace_error}")
        return "\n".join(lines)


class LearnerFailure(Exception):
    """The learner's layer raised or returned something unusable; the message says which."""


def check_layer(
    layer_class: type,
    op: str,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    h: float = 1e-4,
    trace_preset: str | None = None,
) -> LayerReport:
    """Run ``layer_class`` (the book's API) on the op's samples against the project's layer and
    the numerical gradient, and trace a preset with it; never raises for the learner's bugs."""
    if op not in OPS or OPS[op].layer is None:
        known = ", ".join(n for n, o in OPS.items() if o.layer is not None)
        raise ValueError(f"op {op!r} has no layer to check; known: {known}")
    spec = OPS[op]
    samples = [s for s in spec.samples if book_shaped(spec, s)]
    checks = [check_sample(layer_class, spec, s, i, rtol, atol, h) for i, s in enumerate(samples)]
    report = LayerReport(op, getattr(layer_class, "__name__", repr(layer_class)), checks)
    preset = trace_preset or PRESETS.get(op)
    if preset is not None:
        try:
            report.trace = trace_with(layer_class, spec, preset)
        except Exception as e:  # the learner's code: any exception is a finding, not a crash
            report.trace_error = describe_exception(e)
    return report


def check_sample(
    cls: type, op: Op, sample: Sample, seed: int, rtol: float, atol: float, h: float
) -> SampleCheck:
    """One sample: the true gradients, the learner's, compared, each mistake put in words."""
    # 0-d arrays, not NumPy scalars, so a layer can index into a copy as the book's Relu does
    inputs = [np.array(x, dtype=np.float64) for x in sample.values(seed)]
    if op.name == "softmax_with_loss" and inputs[1].shape != inputs[0].shape:
        inputs[1] = inputs[1].astype(int)  # class indices, as the book indexes with them
    true_out, true_grads = project_run(op, sample.params, inputs, None)
    rng = np.random.default_rng(1000 + seed)
    # dout of either sign, not 1, so a missing "dout *" shows; the loss is the graph's end (1).
    dout = (
        np.ones(np.shape(true_out))
        if op.name == "softmax_with_loss"
        else signed_like(true_out, rng)
    )
    true_out, true_grads = project_run(op, sample.params, inputs, dout)
    check = SampleCheck(sample_label(sample, inputs), inputs, dout)
    given = [x.copy() for x in inputs]
    given_dout = dout.copy()
    try:
        out, grads = learner_run(cls, op, sample.params, given, given_dout)
    except LearnerFailure as e:
        check.problems.append(str(e))
        return check
    check.problems += in_place_writes(op, inputs, given, dout, given_dout)
    check.output_ok = same(out, true_out, rtol, atol)
    if not check.output_ok:
        check.problems.append(
            f"forward: you returned {show(out)}; expected {show(true_out)} ({op.forward})"
        )
    names = gradient_names(op)
    for port, (name, true) in enumerate(zip(names, true_grads, strict=True)):
        if true is None:
            continue  # data (t): no gradient
        numerical = numerical_gradient(op, sample.params, inputs, dout, port, h)
        yours = grads[port]
        ok, message = judge(op, name, port, yours, true, inputs, dout, rtol, atol)
        check.gradients.append(InputGradient(name, yours, true, numerical, ok, message))
        if not ok:
            check.problems.append(message)
    return check


def project_run(op: Op, params: dict, inputs: list[np.ndarray], dout: Any) -> tuple[Any, list]:
    """The project's layer on copies of the inputs: its output and gradients (the truth)."""
    layer = op.make_layer(params)
    out = np.asarray(op.run_forward(layer, [x.copy() for x in inputs]), dtype=np.float64)
    if dout is None:
        return out, []
    grads = op.run_backward(layer, np.array(dout, copy=True))
    return out, [None if g is None else np.asarray(g, dtype=np.float64) for g in grads]


def learner_run(cls: type, op: Op, params: dict, inputs: list[np.ndarray], dout: np.ndarray):
    """The learner's class with the book's calling convention; LearnerFailure says what broke."""
    step = "__init__"
    try:
        if op.name == "affine":
            x, W, b = inputs
            layer = cls(W, b)
            step = "forward"
            out = layer.forward(x)
            step = "backward"
            dx = layer.backward(dout)
            grads: list[Any] = [dx, getattr(layer, "dW", None), getattr(layer, "db", None)]
        else:
            layer = cls(**params) if params else cls()
            step = "forward"
            out = layer.forward(*inputs)
            step = "backward"
            returned = layer.backward(dout)
            grads = list(returned) if isinstance(returned, tuple | list) else [returned]
            if op.name == "softmax_with_loss":
                grads = grads[:1] + [None]
    except Exception as e:  # the learner's code: report it, never crash
        raise LearnerFailure(f"{step} raised {describe_exception(e)}") from None
    check_count(op, grads)
    return out, grads


def check_count(op: Op, grads: list[Any]) -> None:
    """One gradient per input (Softmax-with-Loss: dx only), or LearnerFailure saying so."""
    expected = gradient_names(op)
    if op.name == "softmax_with_loss":
        if len(grads) != 2:
            raise LearnerFailure("backward must return dx only (t is data, it takes no gradient)")
    elif len(grads) != len(expected):
        raise LearnerFailure(
            f"backward returned {len(grads)} value{'s' if len(grads) != 1 else ''}; {op.name} "
            f"has {len(expected)} input{'s' if len(expected) != 1 else ''} "
            f"({', '.join(op.inputs)}): return {', '.join(expected)}"
        )


def in_place_writes(
    op: Op, inputs: list[np.ndarray], given: list[np.ndarray], dout: np.ndarray, given_dout
) -> list[str]:
    """The arrays the layer wrote into: its inputs (forward) or dout (backward)."""
    problems = []
    for name, original, after in zip(op.inputs, inputs, given, strict=True):
        if not np.array_equal(original, after):
            problems.append(
                f"forward wrote into its input {name} (the caller's array changed): work on a "
                f"copy, e.g. out = {name}.copy()"
            )
    if not np.array_equal(dout, given_dout):
        hint = (
            "the book's dout[self.mask] = 0 does this; write dx = dout.copy(); "
            "dx[self.mask] = 0 instead"
            if op.name == "relu"
            else "return a new array instead"
        )
        problems.append(
            "backward wrote into dout (the caller's array changed: in a graph, the gradient "
            f"already recorded for the node's output is rewritten): {hint}"
        )
    return problems


def judge(
    op: Op,
    name: str,
    port: int,
    yours: Any,
    true: np.ndarray,
    inputs: list[np.ndarray],
    dout: np.ndarray,
    rtol: float,
    atol: float,
) -> tuple[bool, str]:
    """Whether the learner's gradient is the true one; if not, what is wrong, in words."""
    input_name = op.inputs[port]
    if yours is None:
        return False, f"{name}: you returned None; expected an array of shape {list(true.shape)}"
    try:
        yours = np.asarray(yours, dtype=np.float64)
    except (TypeError, ValueError):
        return False, f"{name}: you returned {type(yours).__name__}, not an array of numbers"
    if yours.shape != true.shape:
        return False, wrong_shape(op, name, input_name, yours.shape, true.shape)
    if same(yours, true, rtol, atol):
        return True, ""
    known = known_mistake(op, name, port, yours, true, inputs, dout, rtol, atol)
    if known:
        return False, known
    error = float(np.max(np.abs(yours - true)))
    return False, (
        f"{name}: you returned {show(yours)}; expected {show(true)} "
        f"({op.backward[port]}; max abs error {error:.3g})"
    )


def wrong_shape(op: Op, name: str, input_name: str, yours: tuple, true: tuple) -> str:
    message = f"{name}: shape {list(yours)}; expected {list(true)}, the shape of {input_name}"
    if op.name == "affine" and name == "dW" and yours == true[::-1]:
        message += " (yours is transposed: dW = np.dot(self.x.T, dout), not np.dot(dout.T, x))"
    elif op.name == "affine" and name == "db":
        message += " (db = np.sum(dout, axis=0) sums over the batch)"
    return message


def known_mistake(op, name, port, yours, true, inputs, dout, rtol, atol) -> str:
    """The known mistakes, each tested by computing what it would have returned."""
    candidates: list[tuple[str, Callable[[], np.ndarray]]] = []
    if op.name == "mul":
        other, this = ("y", "x") if port == 0 else ("x", "y")
        candidates.append(
            (
                f"{name}: you returned dout * {this}; expected dout * {other} "
                f"(multiplication swaps the inputs in backward, 5.3.2)",
                lambda: dout * inputs[port],
            )
        )
        candidates.append(
            (
                f"{name}: you returned {other} without dout; expected dout * {other} "
                "(the chain rule multiplies by the upstream gradient dout)",
                lambda: inputs[1 - port] + 0 * dout,
            )
        )
    if op.name == "softmax_with_loss":
        n = inputs[0].shape[0] if inputs[0].ndim == 2 else 1
        candidates.append(
            (
                f"{name}: you returned (y - t) without / N; expected (y - t) / N with the batch "
                f"size N = {n} (the loss is the mean over the batch, 5.6.3)",
                lambda: true * n,
            )
        )
    if true.shape == dout.shape and np.all(dout != 0):
        formula = op.backward[port].split("=", 1)[1].strip()
        local = formula.replace("dout * ", "").replace(" * dout", "")
        candidates.append(
            (
                f"{name}: you left out dout; expected {formula} (the chain rule multiplies "
                "the local derivative by the upstream gradient dout)"
                if local != formula
                else f"{name}: you left out dout; expected {formula}",
                lambda: true / dout,
            )
        )
    for message, would_return in candidates:
        with np.errstate(all="ignore"):
            if same(yours, np.broadcast_to(would_return(), true.shape), rtol, atol):
                return message
    return ""


def numerical_gradient(op, params, inputs, dout, port, h) -> np.ndarray:
    """d sum(dout * forward) / d input ``port``, by the central difference of 4.3."""
    x = inputs[port].astype(np.float64, copy=True)
    grad = np.zeros_like(x)
    flat, out = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        values = []
        for shifted in (saved + h, saved - h):
            flat[i] = shifted
            trial = [x if j == port else v for j, v in enumerate(inputs)]
            values.append(float(np.sum(dout * project_run(op, params, trial, None)[0])))
        flat[i] = saved
        out[i] = (values[0] - values[1]) / (2 * h)
    return grad


def gradient_names(op: Op) -> list[str]:
    return [f"d{name}" for name in op.inputs]


def same(a: Any, b: np.ndarray, rtol: float, atol: float) -> bool:
    try:
        a = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return a.shape == np.shape(b) and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def signed_like(value: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A dout of the output's shape: |dout| in [0.5, 2], either sign."""
    shape = np.shape(value)
    return np.array(rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape))


def sample_label(sample: Sample, inputs: list[np.ndarray]) -> str:
    if all(x.ndim == 0 for x in inputs):
        return ", ".join(f"{float(x):g}" for x in inputs) + (
            f" ({sample.note})" if sample.note else ""
        )
    return sample.label


def show(value: Any) -> str:
    from backprop_viz.table import show as show_value

    try:
        return show_value(value)
    except (TypeError, ValueError):
        return repr(value)[:80]


def describe_exception(e: BaseException) -> str:
    """``ValueError: ... (line 12 of your forward)``: the exception and where it was raised."""
    if isinstance(e, LearnerFailure):
        return str(e)
    frames = traceback.extract_tb(e.__traceback__)
    where = f" (in {frames[-1].name}, line {frames[-1].lineno})" if frames else ""
    return f"{type(e).__name__}: {e}{where}"


class SwappedLayer:
    """The learner's class behind the engine's convention, on copies (the trace keeps its arrays
    read-only; the learner's code may write into what it is given)."""

    def __init__(self, cls: type, op: Op, params: dict):
        self.cls, self.op, self.params = cls, op, params
        self.layer: Any = None

    def forward(self, *inputs):
        inputs = [np.array(x, copy=True) for x in inputs]
        if self.op.name == "affine":
            x, W, b = inputs
            self.layer = self.cls(W, b)
            return np.asarray(self.layer.forward(x), dtype=np.float64)
        self.layer = self.cls(**self.params) if self.params else self.cls()
        return np.asarray(self.layer.forward(*inputs), dtype=np.float64)

    def backward(self, dout):
        returned = self.layer.backward(np.array(dout, copy=True))
        if self.op.name == "affine":
            grads = [returned, self.layer.dW, self.layer.db]
        elif self.op.name == "softmax_with_loss":
            grads = [returned, None]
        else:
            grads = list(returned) if isinstance(returned, tuple | list) else [returned]
        check_count(self.op, grads)
        return tuple(None if g is None else np.asarray(g, dtype=np.float64) for g in grads)


def trace_with(cls: type, op: Op, preset: str):
    """The preset traced with every node of ``op`` running the learner's class."""
    from backprop_viz import service
    from backprop_viz.api import Trace
    from backprop_viz.core.engine import run_graph
    from backprop_viz.settings import Settings

    settings = Settings()
    query = service.TraceQuery(example=preset)
    graph, dout = service.build(query, settings)
    swapped = replace(
        op,
        make=lambda params: SwappedLayer(cls, op, params),
        call=None,
        collect=None,
    )
    # A preset's graph is shared by every request of this process (service's cache): swap the
    # layer in copies of its nodes, never in the graph itself.
    nodes = {
        node_id: replace(node, op=swapped) if node.op.name == op.name else node
        for node_id, node in graph.nodes.items()
    }
    graph = replace(graph, nodes=nodes)
    result = service.TraceResult(run_graph(graph, dout), None, settings.inline_elements)
    example = service.find_example(preset)
    return Trace(result, f"{example.title['en']} ({example.section}), with your {cls.__name__}")
