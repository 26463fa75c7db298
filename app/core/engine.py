"""Runs a graph forward and backward through a recorder: tracing for the page, null for speed.

Forward: every op node in topological order, its layer's ``forward`` on its inputs' values.
Backward: the reverse order; a node fed back by several consumers first gets its parts summed
(in a fixed order, so every recorder gives the same numbers to the last digit), then, if it is
an op, its layer's ``backward(dout)`` sends one gradient along each input edge.

The two loops are the same for every caller; what is kept of a run is the recorder's choice:

* ``TraceRecorder`` (``run_graph``): every value and gradient read-only (``freeze``), so a
  layer that tried to write into one (as the book's ``Relu.backward`` does) fails loudly
  instead of silently rewriting an earlier step; a typed step per forward, backward and
  accumulate (``backprop_viz.core.steps``); the gradient of each edge; warnings where a value
  or a gradient first stops being finite, or a gradient does not reach a node.
* ``NullRecorder``: nothing: no copies, no freezing, no steps, no warnings. The values and
  gradients of the run are still returned.

Both run under ``np.errstate(all="ignore")``: an overflow is a value (inf), not an exception.

``run_graph`` runs a graph of scalars whose ops all have a scalar rule on plain floats instead
(``backprop_viz.core.scalar``): the same trace to the last bit, 20-50 times faster, returned as a
``ScalarTrace`` whose arrays and steps are made when first read.

Public API::

    run_graph(graph, dout=None, *, fast=True) -> Trace
        A traced run: what the API, the command line and the page show (``fast=False``: the
        NumPy path even for a scalar graph).
    run(graph, dout=None, *, recorder=None, leaves=None) -> Run | Trace
        Either recorder (default NullRecorder); ``leaves`` {id: array} replaces leaf values
        without rebuilding the graph (a training step passes its current weights; arrays of
        the leaf's shape, not checked again).
    forward_backward(graph, leaves=None, dout=None) -> (output, grads)
        The null run for a training loop: the output's value and every node's gradient
        (None where it does not reach), e.g. ``loss, grads = forward_backward(net, weights)``.
    forward_output(graph, leaves) -> output
        Forward only, null recorder (the numerical side of the gradient check).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from backprop_viz.core import scalar
from backprop_viz.core.graph import Edge, Graph, GraphError, Node, freeze, parse_value
from backprop_viz.core.ops import OpError
from backprop_viz.core.steps import (
    AccumulateStep,
    BackwardStep,
    EdgeGradient,
    ForwardStep,
    GradientPart,
    Step,
    StepInput,
)
from backprop_viz.deadline import check_deadline


@dataclass
class Run:
    """What a forward and backward pass computed: every node's value and gradient."""

    graph: Graph
    dout: np.ndarray
    """The gradient fed into the output."""
    values: dict[str, np.ndarray]
    grads: dict[str, np.ndarray | None]
    """d output / d node; None where the gradient does not reach and for data leaves."""

    @property
    def output(self) -> np.ndarray:
        return self.values[self.graph.output]


@dataclass
class Trace(Run):
    """A recorded run: its steps, the gradient of each edge, and the warnings."""

    steps: list[Step] = field(default_factory=list)
    edge_grads: dict[str, np.ndarray] = field(default_factory=dict)
    warnings: list[dict[str, str]] = field(default_factory=list)


class Recorder(Protocol):
    """What the engine tells a recorder, in the order it happens."""

    def keep(self, value: Any) -> np.ndarray:
        """What a layer's output or gradient becomes (as is, or read-only)."""
        ...

    def keep_leaf(self, value: Any) -> np.ndarray:
        """What a caller's leaf value (``leaves``) becomes (as is, or a read-only copy)."""
        ...

    def forward(self, node: Node, inputs: list[np.ndarray], out: np.ndarray) -> None:
        """An op node's layer ran forward on ``inputs`` and gave ``out``."""
        ...

    def gradient(self, node_id: str, grad: np.ndarray, grads: dict) -> None:
        """A node's gradient is known (``grads`` holds those known so far)."""
        ...

    def backward(
        self, node: Node, layer: Any, dout: np.ndarray, grads: list[Any]
    ) -> list[np.ndarray | None]:
        """An op node's layer ran backward on ``dout`` and gave one gradient per input edge;
        returns what to send along the edges (as is, or read-only)."""
        ...

    def accumulate(
        self, node_id: str, parts: list[tuple[Edge, np.ndarray]], total: np.ndarray
    ) -> None:
        """A fork's parts, each with the edge it came along, were summed into ``total``."""
        ...

    def finish(self, run: Run) -> Run:
        """What the run returns: the Run itself, or a Trace around it."""
        ...


class NullRecorder:
    """Keeps nothing: the layers' arrays are used as they come, with no copy and no check."""

    def keep(self, value: Any) -> np.ndarray:
        return np.asarray(value, dtype=np.float64)

    def keep_leaf(self, value: Any) -> np.ndarray:
        return np.asarray(value, dtype=np.float64)

    def forward(self, node: Node, inputs: list[np.ndarray], out: np.ndarray) -> None:
        pass

    def gradient(self, node_id: str, grad: np.ndarray, grads: dict) -> None:
        pass

    def backward(
        self, node: Node, layer: Any, dout: np.ndarray, grads: list[Any]
    ) -> list[np.ndarray | None]:
        # An ndarray stays as it is; a NumPy scalar (a 0-d product) becomes a 0-d array.
        return [g if g is None or type(g) is np.ndarray else np.asarray(g) for g in grads]

    def accumulate(
        self, node_id: str, parts: list[tuple[Edge, np.ndarray]], total: np.ndarray
    ) -> None:
        pass

    def finish(self, run: Run) -> Run:
        return run


class TraceRecorder:
    """Keeps everything the page shows, read-only: steps, edge gradients and warnings."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.steps: list[Step] = []
        self.edge_grads: dict[str, np.ndarray] = {}
        self.warnings: list[dict[str, str]] = []

    def keep(self, value: Any) -> np.ndarray:
        """A layer's fresh output or gradient, made read-only (no copy is needed)."""
        value = np.asarray(value, dtype=np.float64)
        value.flags.writeable = False  # graph.freeze, inline: this runs for every array
        return value

    def keep_leaf(self, value: Any) -> np.ndarray:
        """A caller's leaf value, copied before it is frozen: the caller keeps its array."""
        return freeze(np.array(value, dtype=np.float64))

    def forward(self, node: Node, inputs: list[np.ndarray], out: np.ndarray) -> None:
        self.steps.append(
            ForwardStep(
                index=len(self.steps),
                node=node.id,
                inputs=[
                    StepInput(edge.id, edge.source, value)
                    for edge, value in zip(self.graph.inputs[node.id], inputs, strict=True)
                ],
                out=out,
            )
        )
        if not all_finite(out) and all(all_finite(x) for x in inputs):
            self.warnings.append(forward_warning(node.id, node.op.name, bool(np.isnan(out).any())))

    def gradient(self, node_id: str, grad: np.ndarray, grads: dict) -> None:
        """Warn where a gradient first stops being finite: at the consumers whose own gradient
        was finite. Each node's gradient is checked once, not every edge's (a cost on large
        graphs)."""
        if node_id == self.graph.output or all_finite(grad):
            return
        for edge in self.graph.consumers[node_id]:
            upstream = grads[edge.target]
            sent = self.edge_grads.get(edge.id)
            if upstream is not None and sent is not None and all_finite(upstream):
                if not all_finite(sent):
                    self.warnings.append(gradient_warning(edge.target, node_id))

    def backward(
        self, node: Node, layer: Any, dout: np.ndarray, grads: list[Any]
    ) -> list[np.ndarray | None]:
        sent = [None if g is None else self.keep(g) for g in grads]
        locals_ = local_derivatives(self.graph, node, layer)
        edges = []
        for edge, grad in zip(self.graph.inputs[node.id], sent, strict=True):
            if grad is not None:
                self.edge_grads[edge.id] = grad
            edges.append(
                EdgeGradient(
                    edge=edge.id,
                    source=edge.source,
                    port=edge.port,
                    formula=node.op.backward[edge.port],
                    local=locals_[edge.port] if locals_ else None,
                    grad=grad,
                )
            )
        self.steps.append(BackwardStep(len(self.steps), node.id, dout, edges))
        return sent

    def accumulate(
        self, node_id: str, parts: list[tuple[Edge, np.ndarray]], total: np.ndarray
    ) -> None:
        self.steps.append(
            AccumulateStep(
                index=len(self.steps),
                node=node_id,
                parts=[GradientPart(e.id, e.target, g) for e, g in parts],
                sum=total,
            )
        )

    def finish(self, run: Run) -> Trace:
        graph = self.graph
        for node_id in graph.order:
            if run.grads[node_id] is None and graph.nodes[node_id].requires_grad:
                self.warnings.append(no_gradient_warning(graph, node_id))
        return Trace(
            graph=run.graph,
            dout=run.dout,
            values=run.values,
            grads=run.grads,
            steps=self.steps,
            edge_grads=self.edge_grads,
            warnings=self.warnings,
        )


def forward_warning(node_id: str, op_name: str, is_nan: bool) -> dict[str, str]:
    """An op gave NaN or infinity from finite inputs."""
    what = "NaN" if is_nan else "an infinite value"
    return {
        "code": "nan" if is_nan else "overflow",
        "node": node_id,
        "message": f"{op_name} at node {node_id!r} gave {what} from finite inputs",
    }


def gradient_warning(target: str, source: str) -> dict[str, str]:
    """``target``'s backward sent a non-finite gradient to ``source`` from a finite one."""
    return {
        "code": "gradient_overflow",
        "node": target,
        "message": f"the gradient sent from {target!r} to {source!r} is not finite",
    }


def no_gradient_warning(graph: Graph, node_id: str) -> dict[str, str]:
    """A node that takes a gradient does not lead to the output."""
    return {
        "code": "no_gradient",
        "node": node_id,
        "message": f"the gradient does not reach node {node_id!r}: it does not lead to the "
        f"output {graph.output!r} through a differentiable input",
    }


@dataclass
class ScalarTrace(Trace):
    """A Trace of the scalar fast path (``backprop_viz.core.scalar``): the same fields, read
    the same way, over a tape of floats; arrays and steps are made when first read, and the
    JSON is written from the floats (``json_parts``)."""

    tape: Any = None
    views: Any = None

    def json_parts(self, encode: Any) -> tuple[dict, dict, list]:
        """``values``, ``grads`` and ``steps`` as trace_to_json writes them (``encode``: the
        response's ValueEncoder), straight from the floats where this trace's own views are
        still in place (forward mode replaces ``steps``)."""
        _, values_view, grads_view, _, steps_view = self.views
        order, tape = self.graph.order, self.tape
        numbers = scalar.json_numbers(tape, encode.number)
        if self.values is values_view:
            values = dict(zip(order, numbers.values, strict=True))
        else:
            values = {n: encode(self.values[n]) for n in order}
        if self.grads is grads_view:
            grads = dict(zip(order, numbers.grads, strict=True))
        else:
            grads = {n: encode(self.grads[n]) for n in order}
        if self.steps is steps_view:
            steps = scalar.steps_json(tape, numbers)
        else:
            steps = [step.to_json(encode) for step in self.steps]
        return values, grads, steps


def run_graph(graph: Graph, dout: Any = None, *, fast: bool = True) -> Trace:
    """Forward then backward over ``graph``, recorded; ``dout`` is the gradient fed into the
    output (a number, a nested list of the output's shape, or None for ones).

    A graph of scalars whose ops all have a scalar rule runs on floats (``core.scalar``), with
    the same trace to the last bit; ``fast=False`` takes the NumPy path anyway (the tests and
    the benchmark compare the two)."""
    if fast:
        program = scalar.program_for(graph)
        if program is not None:
            return run_scalar(program, dout)
    trace = run(graph, dout, recorder=TraceRecorder(graph))
    assert isinstance(trace, Trace)
    return trace


def run_scalar(program: Any, dout: Any) -> ScalarTrace:
    """The scalar fast path's run of ``program`` (``core.scalar.program_for``), as a Trace."""
    graph = program.graph
    check_deadline()  # microseconds per node: checked before and after, not per node
    with np.errstate(all="ignore"):
        seed = seed_gradient(graph, dout, shape=())
        tape = scalar.run_program(program, seed)
    check_deadline()
    warnings = scalar.tape_warnings(tape, forward_warning, gradient_warning, no_gradient_warning)
    views = scalar.node_views(tape)
    _, values, grads, edge_grads, steps = views
    return ScalarTrace(
        graph=graph,
        dout=seed,
        values=values,
        grads=grads,
        steps=steps,
        edge_grads=edge_grads,
        warnings=warnings,
        tape=tape,
        views=views,
    )


def forward_backward(
    graph: Graph, leaves: Mapping[str, np.ndarray] | None = None, dout: Any = None
) -> tuple[np.ndarray, dict[str, np.ndarray | None]]:
    """The output's value and every node's gradient, nothing recorded (a training step)."""
    result = run(graph, dout, leaves=leaves)
    return result.output, result.grads


def forward_output(graph: Graph, leaves: Mapping[str, np.ndarray]) -> np.ndarray:
    """The output's value with some leaves replaced, nothing recorded (numerical gradients)."""
    with np.errstate(all="ignore"):
        values, _ = forward(graph, NullRecorder(), leaves)
    return values[graph.output]


def run(
    graph: Graph,
    dout: Any = None,
    *,
    recorder: Recorder | None = None,
    leaves: Mapping[str, np.ndarray] | None = None,
) -> Run:
    """Forward then backward over ``graph`` through ``recorder`` (default: a NullRecorder);
    ``leaves`` replaces some leaf values. Returns what the recorder kept (a Trace, or a Run)."""
    recorder = recorder or NullRecorder()
    with np.errstate(all="ignore"):
        seed = seed_gradient(graph, dout)
        values, layers = forward(graph, recorder, leaves)
        grads = backward(graph, layers, seed, recorder)
    return recorder.finish(Run(graph=graph, dout=seed, values=values, grads=grads))


def seed_gradient(graph: Graph, dout: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """The output's upstream gradient: 1 (ones of the output's shape) unless the request says.
    ``shape`` is the output's, where the caller knows it (a scalar program's: ``()``)."""
    if shape is None:
        shape = graph.nodes[graph.output].shape
    if dout is None:
        # np.array(1.0) for the usual scalar output (a loss): np.ones(()) is 6 times slower
        return freeze(np.ones(shape) if shape else np.array(1.0))
    value = parse_value(dout, field="dout", node=graph.output)
    if value.shape == shape:
        return value
    if value.ndim == 0:
        return freeze(np.full(shape, float(value)))
    raise GraphError(
        f"dout: shape {list(value.shape)} does not match the shape {list(shape)} of the output "
        f"node {graph.output!r}",
        field="dout",
        node=graph.output,
    )


def forward(
    graph: Graph, recorder: Recorder, leaves: Mapping[str, np.ndarray] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Every node's value in topological order, and the layer that computed each op node."""
    values: dict[str, np.ndarray] = {}
    layers: dict[str, Any] = {}
    nodes, keep = graph.nodes, recorder.keep
    for node_id in graph.order:
        check_deadline()  # isolation: the time limit of heavy requests (backprop_viz.deadline)
        node = nodes[node_id]
        if node.is_leaf:
            given = leaves.get(node_id) if leaves else None
            values[node_id] = node.value if given is None else recorder.keep_leaf(given)
            continue
        inputs = [values[s] for s in node.inputs]
        op = node.op
        if op.check_values:
            check_values(node, inputs)
        layer = op.make_layer(node.params)
        out = keep(op.run_forward(layer, inputs))
        layers[node_id] = layer
        values[node_id] = out
        recorder.forward(node, inputs, out)
    return values, layers


def check_values(node: Node, inputs: list[np.ndarray]) -> None:
    """What the shapes cannot tell (class indices in range), as an error naming the node."""
    try:
        node.op.check_values(inputs)
    except OpError as e:
        message = f"{node.field}: node {node.id!r}: {e}"
        raise GraphError(message, field=node.field, node=node.id) from None


def backward(
    graph: Graph, layers: dict[str, Any], seed: np.ndarray, recorder: Recorder
) -> dict[str, np.ndarray | None]:
    """Every node's gradient, in reverse topological order from ``seed`` at the output."""
    grads: dict[str, np.ndarray | None] = dict.fromkeys(graph.order)
    incoming: dict[str, list[tuple[Edge, np.ndarray]]] = {n: [] for n in graph.order}
    nodes, inputs_of = graph.nodes, graph.inputs
    for node_id in reversed(graph.order):
        check_deadline()  # isolation: the time limit of heavy requests (backprop_viz.deadline)
        node = nodes[node_id]
        parts = incoming[node_id]
        if node_id == graph.output:
            dout = seed
        elif len(parts) == 1:
            dout = parts[0][1]
        elif parts:
            dout = accumulate(graph, node_id, parts, recorder)
        else:
            continue  # the gradient does not reach this node
        is_leaf = node.is_leaf
        if is_leaf and not node.requires_grad:
            continue
        grads[node_id] = dout
        recorder.gradient(node_id, dout, grads)
        if is_leaf:
            continue
        layer = layers[node_id]
        sent = recorder.backward(node, layer, dout, node.op.run_backward(layer, dout))
        for edge, grad in zip(inputs_of[node_id], sent, strict=True):
            if grad is not None:
                incoming[edge.source].append((edge, grad))
    return grads


def accumulate(
    graph: Graph, node_id: str, parts: list[tuple[Edge, np.ndarray]], recorder: Recorder
) -> np.ndarray:
    """The gradient of a fork: the sum of its parts, in the order of the consumers (and
    ports), so that every recorder adds them up the same way."""
    position = graph.position
    parts = sorted(parts, key=lambda p: (position[p[0].target], p[0].port))
    total = parts[0][1]
    for _, grad in parts[1:]:
        total = total + grad
    total = recorder.keep(total)
    recorder.accumulate(node_id, parts, total)
    return total


def local_derivatives(graph: Graph, node: Node, layer: Any) -> list[float | None] | None:
    """d out / d input for each input of a scalar op (the numbers the chain rule multiplies).

    Computed as backward(1), which for every op here is exactly the local derivative.
    """
    if node.shape or any(graph.nodes[s].shape for s in node.inputs):
        return None
    ones = node.op.run_backward(layer, np.float64(1.0))
    return [None if g is None else float(g) for g in ones]


def all_finite(value: np.ndarray) -> bool:
    """True if no element is NaN or infinite. The sum of squares (BLAS, one pass, no temporary
    array, faster than ``sum``) is finite unless one is; only if it is not (a NaN, an infinity,
    or squares too large) look closer."""
    return math.isfinite(np.vdot(value, value)) or bool(np.isfinite(value).all())
