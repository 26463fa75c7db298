"""The sum over paths: a derivative on a computational graph as a sum of products.

The chain rule on a graph says: d to / d from is the sum, over every path from ``from`` to
``to``, of the product of the local derivatives along the path's edges (C. Olah, "Calculus on
Computational Graphs: Backpropagation", 2015). For e = (a + b)(b + 1) at a = 2, b = 1, b
reaches e along two paths, b -> c -> e and b -> d -> e: de/db = 1 · 2 + 1 · 3 = 5, the
gradient backprop gives. Backprop is this sum factored: it never lists the paths, whose number
can grow exponentially with the depth (a chain of k diamonds has 2**k). So the paths are
counted first, by dynamic programming in topological order, and listed only when there are at
most ``MAX_PATHS``; more is a GraphError, not a hang.

Scalar graphs only: along a tensor edge the local derivative is a Jacobian, not a number.

Public API::

    paths(query, from_, to=None, settings) -> dict
        The paths of the query's graph, their products and sum, and the derivative forward mode
        gives (``POST /api/paths``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from backprop_viz.core.engine import Trace, run_graph
from backprop_viz.core.forward import check_wrt, forward_mode, scalar_locals
from backprop_viz.core.graph import Edge, Graph, GraphError, quote
from backprop_viz.encoding import json_float
from backprop_viz.service import TraceQuery, build
from backprop_viz.settings import Settings

MAX_PATHS = 1000
"""The most paths listed in one answer; more is refused after counting (never enumerated)."""


def paths(query: TraceQuery, from_: str, to: str | None, settings: Settings) -> dict[str, Any]:
    """Every path from the leaf ``from_`` to the node ``to`` (default: the output), each with
    its edges' local derivatives and their product, the sum of the products, and the
    derivative d to / d from by forward mode (equal to the sum; for the output, to the
    gradient)."""
    graph, dout = build(query, settings)
    to = graph.output if to is None else to
    start = graph.nodes.get(from_)
    if start is None or not start.shape:  # a tensor leaf: the scalar check below says why not
        check_wrt(graph, from_, None, request_field="from")
    check_target(graph, to)
    check_scalar(graph)
    count = count_paths(graph, from_, to)
    if count > MAX_PATHS:
        raise GraphError(
            f"from: there are {count:,} paths from {from_!r} to {to!r}, more than the "
            f"{MAX_PATHS:,} this lists; backprop sums them without listing them (its gradient "
            "is in POST /api/trace)",
            field="from",
            node=from_,
        )
    trace = run_graph(graph, dout)
    locals_ = edge_locals(trace)
    listed = [
        {"edges": [edge_entry(e, locals_[e.id]) for e in path], "product": product(path, locals_)}
        for path in enumerate_paths(graph, from_, to)
    ]
    total = math.fsum(float(p["product"]) for p in listed) if listed else 0.0
    tangent = forward_mode(graph, trace.values, from_).tangents[to]
    return {
        "from": from_,
        "to": to,
        "count": count,
        "paths": [{**p, "product": json_float(p["product"])} for p in listed],
        "sum": json_float(total),
        "derivative": json_float(0.0 if tangent is None else float(tangent)),
        "value": json_float(float(trace.values[to])),
    }


def check_target(graph: Graph, to: str) -> None:
    if to not in graph.nodes:
        raise GraphError(
            f"to: no node {quote(to)} in the graph (its nodes: {', '.join(graph.order[:20])})",
            field="to",
            node=to[:100],
        )


def check_scalar(graph: Graph) -> None:
    """Refuse a graph with a tensor: along its edges the local derivative is a Jacobian."""
    for node_id in graph.order:
        shape = graph.nodes[node_id].shape
        if shape:
            raise GraphError(
                f"graph: node {node_id!r} has shape {list(shape)}; the sum over paths is for "
                "scalar graphs only (along a tensor edge the local derivative is a matrix, not "
                "a number)",
                field="from",
                node=node_id,
            )


def count_paths(graph: Graph, from_: str, to: str) -> int:
    """How many paths lead from ``from_`` to ``to``: each node's count is the sum of its input
    edges' sources' counts (an edge per port, so x * x counts twice), in topological order."""
    counts = dict.fromkeys(graph.order, 0)
    counts[from_] = 1
    for node_id in graph.order:
        if node_id != from_:
            counts[node_id] = sum(counts[e.source] for e in graph.inputs.get(node_id, []))
    return counts[to]


def enumerate_paths(graph: Graph, from_: str, to: str) -> list[list[Edge]]:
    """The paths as lists of edges from ``from_`` to ``to``, in topological order of their
    first differing node (only called once they are counted and few)."""
    reaches = reaching(graph, from_)
    found: list[list[Edge]] = []

    def walk(node_id: str, suffix: list[Edge]) -> None:
        if node_id == from_:
            found.append(suffix[::-1])
            return
        for edge in graph.inputs.get(node_id, []):
            if edge.source in reaches:
                walk(edge.source, [*suffix, edge])

    if to in reaches:
        walk(to, [])
    found.sort(key=lambda path: [graph.position[e.target] * 64 + e.port for e in path])
    return found


def reaching(graph: Graph, from_: str) -> set[str]:
    """The nodes that depend on ``from_`` (``from_`` included)."""
    reached = {from_}
    for node_id in graph.order:
        if any(e.source in reached for e in graph.inputs.get(node_id, [])):
            reached.add(node_id)
    return reached


def edge_locals(trace: Trace) -> dict[str, float]:
    """d target / d source for every edge of a scalar graph (by the target's JVP)."""
    graph, values = trace.graph, trace.values
    locals_: dict[str, float] = {}
    with np.errstate(all="ignore"):
        for node_id in graph.order:
            node = graph.nodes[node_id]
            if node.is_leaf:
                continue
            inputs = [values[s] for s in node.inputs]
            ones = scalar_locals(graph, node_id, inputs, values[node_id]) or []
            for edge, local in zip(graph.inputs[node_id], ones, strict=True):
                locals_[edge.id] = local
    return locals_


def edge_entry(edge: Edge, local: float) -> dict[str, Any]:
    return {
        "edge": edge.id,
        "source": edge.source,
        "target": edge.target,
        "port": edge.port,
        "local": json_float(local),
    }


def product(path: list[Edge], locals_: dict[str, float]) -> float:
    """The product of the local derivatives along a path (1 for the empty path from a node
    to itself)."""
    result = 1.0
    for edge in path:
        result *= locals_[edge.id]
    return result
