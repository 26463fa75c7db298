"""Forward mode: d(node)/d(wrt) for every node, pushed from one input element to the output.

Reverse mode (the engine's backward) gets the gradient of the output with respect to every input
in one pass from the output back. Forward mode goes the other way: it seeds one element of one
input with a tangent of 1 (every other input 0) and runs each op's forward-mode rule, its JVP
(``Op.run_jvp``), in topological order, so every node learns how it changes with that element.
The output's tangent is then one number of the gradient, the one reverse mode gives for that
element; a whole gradient costs one forward-mode pass per input element (3 for the apple
example, 39,760 for the book's two-layer net), against reverse mode's one backward pass.

Public API::

    forward_mode(graph, values, wrt, wrt_index=None) -> ForwardMode
        The tangents of every node from the run's ``values`` (a Trace's), and one typed
        ``TangentStep`` per op node the tangent reaches.
    passes(graph) -> {"reverse": 1, "forward": n}
        How many passes each mode needs for the whole gradient.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backprop_viz.core.graph import Graph, GraphError, quote
from backprop_viz.core.steps import EdgeTangent, TangentStep
from backprop_viz.deadline import check_deadline


@dataclass
class ForwardMode:
    """One forward-mode pass: the element it is taken with respect to, and what it gave."""

    wrt: str
    index: tuple[int, ...]
    output: str
    tangents: dict[str, np.ndarray | None]
    """d node / d wrt[index] by node id; None where the node does not depend on it (zero)."""
    steps: list[TangentStep] = field(default_factory=list)

    @property
    def output_tangent(self) -> np.ndarray | None:
        """d output / d wrt[index]: the element of the output's gradient reverse mode gives."""
        return self.tangents[self.output]


def gradient_leaves(graph: Graph) -> list[str]:
    """The leaves that take a gradient: the inputs a gradient (and forward mode) is for."""
    return [n for n in graph.leaves() if graph.takes_gradient(n)]


def passes(graph: Graph) -> dict[str, int]:
    """Passes for the whole gradient: reverse mode 1, forward mode one per input element."""
    elements = sum(math.prod(graph.shape_of(n)) for n in gradient_leaves(graph))
    return {"reverse": 1, "forward": elements}


def check_wrt(
    graph: Graph, wrt: str, wrt_index: Sequence[int] | None, request_field: str = "wrt"
) -> tuple[int, ...]:
    """The element of ``wrt`` as an index tuple, or a GraphError naming ``request_field`` (the
    field that gave ``wrt``) or ``wrt_index``, and the node."""
    node = graph.nodes.get(wrt)
    leaves = gradient_leaves(graph)
    known = ", ".join(leaves) or "none"
    if node is None:
        raise GraphError(
            f"{request_field}: no node {quote(wrt)} in the graph; the inputs that take a "
            f"gradient: {known}",
            field=request_field,
            node=wrt[:100],
        )
    if not node.is_leaf:
        raise GraphError(
            f"{request_field}: node {wrt!r} is a {node.op.name} node, not an input; give an "
            f"input that takes a gradient: {known}",
            field=request_field,
            node=wrt,
        )
    if not node.requires_grad:
        raise GraphError(
            f"{request_field}: input {wrt!r} is data (requires_grad false) and takes no "
            f"gradient; the inputs that do: {known}",
            field=request_field,
            node=wrt,
        )
    shape = node.shape
    if wrt_index is None:
        if shape:
            raise GraphError(
                f"wrt_index: input {wrt!r} has shape {list(shape)}: give the element to "
                f"differentiate with respect to as a list of {len(shape)} indices, e.g. "
                f"{[0] * len(shape)}",
                field="wrt_index",
                node=wrt,
            )
        return ()
    index = tuple(wrt_index)
    if len(index) != len(shape) or not all(
        0 <= i < size for i, size in zip(index, shape, strict=False)
    ):
        raise GraphError(
            f"wrt_index: {list(index)[:10]} is not an element of input {wrt!r} of shape "
            f"{list(shape)} (one index per axis, each from 0 to its size - 1)",
            field="wrt_index",
            node=wrt,
        )
    return index


def forward_mode(
    graph: Graph,
    values: Mapping[str, np.ndarray],
    wrt: str,
    wrt_index: Sequence[int] | None = None,
    first_step: int = 0,
) -> ForwardMode:
    """Tangents of every node for a unit tangent at ``wrt[wrt_index]``, from a run's values;
    the steps are numbered from ``first_step`` (they follow the forward steps)."""
    index = check_wrt(graph, wrt, wrt_index)
    seed = np.zeros(graph.nodes[wrt].shape)
    seed[index] = 1.0
    tangents: dict[str, np.ndarray | None] = dict.fromkeys(graph.order)
    tangents[wrt] = seed
    steps: list[TangentStep] = []
    with np.errstate(all="ignore"):
        for node_id in graph.order:
            node = graph.nodes[node_id]
            if node.is_leaf:
                continue
            check_deadline()
            arriving = [tangents[s] for s in node.inputs]
            if all(t is None for t in arriving):
                continue  # does not depend on wrt: its tangent is zero
            inputs = [values[s] for s in node.inputs]
            out = values[node_id]
            tangent = node.op.run_jvp(inputs, out, node.params, arriving)
            tangents[node_id] = tangent
            locals_ = scalar_locals(graph, node_id, inputs, out)
            edges = [
                EdgeTangent(
                    edge=edge.id,
                    source=edge.source,
                    port=edge.port,
                    local=locals_[edge.port] if locals_ else None,
                    tangent=tangents[edge.source],
                )
                for edge in graph.inputs[node_id]
            ]
            steps.append(TangentStep(first_step + len(steps), node_id, edges, tangent))
    return ForwardMode(wrt, index, graph.output, tangents, steps)


def scalar_locals(
    graph: Graph, node_id: str, inputs: list[np.ndarray], out: np.ndarray
) -> list[float] | None:
    """d out / d input of a scalar op for each input, by its JVP with a unit tangent on that
    input alone (the numbers the chain rule multiplies); None for tensors."""
    node = graph.nodes[node_id]
    if node.shape or any(np.ndim(x) for x in inputs):
        return None
    ones: list[float] = []
    for port in range(len(inputs)):
        unit: list[Any] = [None] * len(inputs)
        unit[port] = np.float64(1.0)
        ones.append(float(node.op.run_jvp(inputs, out, node.params, unit)))
    return ones
