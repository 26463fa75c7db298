"""Runs a graph and records its trace: the one place where values and gradients are recorded.

Forward: every op node in topological order, its layer's ``forward`` on its inputs' values.
Backward: the reverse order; a node fed back by several consumers first gets an ``accumulate``
step (the parts and their sum), then, if it is an op, its layer's ``backward(dout)`` sends one
gradient along each input edge. Every recorded array is read-only (``graph.freeze``), so a
layer that tried to write into one (as the book's ``Relu.backward`` does) would fail loudly
instead of silently rewriting an earlier step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backprop_viz.core.graph import Edge, Graph, GraphError, freeze, parse_value
from backprop_viz.core.ops import OpError
from backprop_viz.deadline import check_deadline


@dataclass
class Trace:
    """What a run saw: its steps, every node's value and gradient, and the warnings."""

    graph: Graph
    dout: np.ndarray
    steps: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, np.ndarray] = field(default_factory=dict)
    grads: dict[str, np.ndarray | None] = field(default_factory=dict)
    edge_grads: dict[str, np.ndarray] = field(default_factory=dict)
    layers: dict[str, Any] = field(default_factory=dict)
    warnings: list[dict[str, str]] = field(default_factory=list)

    def warn(self, code: str, node: str, message: str) -> None:
        self.warnings.append({"code": code, "node": node, "message": message})


def run_graph(graph: Graph, dout: Any = None) -> Trace:
    """Forward then backward over ``graph``; ``dout`` is the gradient fed into the output."""
    with np.errstate(all="ignore"):
        trace = Trace(graph=graph, dout=seed_gradient(graph, dout))
        forward(trace)
        backward(trace)
    return trace


def seed_gradient(graph: Graph, dout: Any) -> np.ndarray:
    """The output's upstream gradient: 1 (ones of the output's shape) unless the request says."""
    shape = graph.nodes[graph.output].shape
    if dout is None:
        return freeze(np.ones(shape))
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


def forward(trace: Trace) -> None:
    graph = trace.graph
    for node_id in graph.order:
        check_deadline()  # isolation: the time limit of heavy requests (backprop_viz.deadline)
        node = graph.nodes[node_id]
        if node.is_leaf:
            trace.values[node_id] = node.value
            continue
        inputs = [trace.values[s] for s in node.inputs]
        if node.op.check_values:
            check_values(node, inputs)
        layer = node.op.make_layer(node.params)
        out = freeze(np.asarray(node.op.run_forward(layer, inputs), dtype=np.float64))
        trace.layers[node_id] = layer
        trace.values[node_id] = out
        trace.steps.append(
            {
                "phase": "forward",
                "node": node_id,
                "inputs": [
                    {"edge": e.id, "source": e.source, "value": trace.values[e.source]}
                    for e in graph.inputs[node_id]
                ],
                "out": out,
            }
        )
        if not all_finite(out) and all(all_finite(x) for x in inputs):
            kind = "nan" if np.isnan(out).any() else "overflow"
            trace.warn(
                kind,
                node_id,
                f"{node.op.name} at node {node_id!r} gave "
                f"{'NaN' if kind == 'nan' else 'an infinite value'} from finite inputs",
            )


def check_values(node, inputs: list[np.ndarray]) -> None:
    """What the shapes cannot tell (class indices in range), as an error naming the node."""
    try:
        node.op.check_values(inputs)
    except OpError as e:
        message = f"{node.field}: node {node.id!r}: {e}"
        raise GraphError(message, field=node.field, node=node.id) from None


def backward(trace: Trace) -> None:
    graph = trace.graph
    trace.grads = dict.fromkeys(graph.order)
    incoming: dict[str, list[tuple[Edge, np.ndarray]]] = {n: [] for n in graph.order}
    for node_id in reversed(graph.order):
        check_deadline()  # isolation: the time limit of heavy requests (backprop_viz.deadline)
        node = graph.nodes[node_id]
        if node_id == graph.output:
            dout = trace.dout
        else:
            dout = accumulate(trace, node_id, incoming[node_id])
        if dout is None:
            continue
        if node.is_leaf and not node.requires_grad:
            continue
        trace.grads[node_id] = dout
        if node_id != graph.output:
            check_gradient(trace, node_id, dout)
        if node.is_leaf:
            continue
        grads = node.op.run_backward(trace.layers[node_id], dout)
        locals_ = local_derivatives(node, trace)
        edges = []
        for edge, grad in zip(graph.inputs[node_id], grads, strict=True):
            record = {
                "edge": edge.id,
                "source": edge.source,
                "port": edge.port,
                "formula": node.op.backward[edge.port],
                "local": locals_[edge.port] if locals_ else None,
                "grad": None,
            }
            if grad is not None:
                grad = freeze(np.asarray(grad, dtype=np.float64))
                record["grad"] = grad
                trace.edge_grads[edge.id] = grad
                incoming[edge.source].append((edge, grad))
            edges.append(record)
        trace.steps.append({"phase": "backward", "node": node_id, "dout": dout, "edges": edges})
    for node_id in graph.order:
        if trace.grads[node_id] is None and graph.nodes[node_id].requires_grad:
            trace.warn(
                "no_gradient",
                node_id,
                f"the gradient does not reach node {node_id!r}: "
                f"it does not lead to the output {graph.output!r} through a "
                "differentiable input",
            )
    for i, step in enumerate(trace.steps):
        step["index"] = i


def check_gradient(trace: Trace, node_id: str, dout: np.ndarray) -> None:
    """Warn where a gradient first stops being finite: at the consumers whose own gradient was
    finite. Each node's gradient is checked once, not every edge's (a cost on large graphs)."""
    if all_finite(dout):
        return
    for edge in trace.graph.consumers[node_id]:
        upstream = trace.grads[edge.target]
        grad = trace.edge_grads.get(edge.id)
        if upstream is not None and grad is not None and all_finite(upstream):
            if not all_finite(grad):
                trace.warn(
                    "gradient_overflow",
                    edge.target,
                    f"the gradient sent from {edge.target!r} to {node_id!r} is not finite",
                )


def accumulate(trace: Trace, node_id: str, parts: list[tuple[Edge, np.ndarray]]):
    """The node's gradient: the one part that arrived, or the sum of all (a fork) as a step."""
    if len(parts) <= 1:
        return parts[0][1] if parts else None
    position = trace.graph.position
    parts = sorted(parts, key=lambda p: (position[p[0].target], p[0].port))
    total = parts[0][1]
    for _, grad in parts[1:]:
        total = total + grad
    total = freeze(np.asarray(total, dtype=np.float64))
    trace.steps.append(
        {
            "phase": "accumulate",
            "node": node_id,
            "parts": [{"edge": e.id, "target": e.target, "grad": g} for e, g in parts],
            "sum": total,
        }
    )
    return total


def local_derivatives(node, trace: Trace) -> list[float] | None:
    """d out / d input for each input of a scalar op (the numbers the chain rule multiplies).

    Computed as backward(1), which for every op here is exactly the local derivative.
    """
    values = [trace.values[s] for s in node.inputs]
    if any(v.ndim for v in values) or trace.values[node.id].ndim:
        return None
    ones = node.op.run_backward(trace.layers[node.id], np.float64(1.0))
    return [None if g is None else float(g) for g in ones]


def all_finite(value: np.ndarray) -> bool:
    """True if no element is NaN or infinite. The sum is one pass with no temporary array;
    only when it is not finite (a NaN, an infinity, or an overflow of the sum) look closer."""
    return bool(np.isfinite(value.sum())) or bool(np.isfinite(value).all())


def forward_output(graph: Graph, leaves: dict[str, np.ndarray]) -> np.ndarray:
    """The output's value with some leaves replaced, nothing recorded (for numerical gradients)."""
    values: dict[str, np.ndarray] = {}
    with np.errstate(all="ignore"):
        for node_id in graph.order:
            node = graph.nodes[node_id]
            if node.is_leaf:
                values[node_id] = leaves.get(node_id, node.value)
                continue
            layer = node.op.make_layer(node.params)
            values[node_id] = np.asarray(
                node.op.run_forward(layer, [values[s] for s in node.inputs]), dtype=np.float64
            )
    return values[graph.output]
