"""A graph spec becomes a validated DAG: ids, ops, arity, params, values, cycles and shapes.

Everything a client can get wrong is caught here, before any arithmetic, and reported as a
``GraphError`` that names the field and the node. The single topological order computed here
is the order of the forward steps, reversed for the backward steps, and the drawing's columns.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backprop_viz.core.identifiers import (
    Lookalikes,
    character_problem,
    escape_unsafe,
    lookalike_message,
    nfkc,
    script_problem,
)
from backprop_viz.core.ops import (
    OPS,
    Op,
    OpError,
    Temporaries,
    broadcast,
    check_params,
    same_shape,
)
from backprop_viz.settings import Settings

NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
MAX_NDIM = 8
MAX_ID_LENGTH = 100
TOO_LARGE = "too large for a 64-bit float (at most about 1.8e308)"


class GraphError(ValueError):
    """A graph that cannot be traced; ``field`` is where in the request, ``node`` which node.

    A lone surrogate, control or bidirectional-override character a client sent is written as
    an escape (\\ud800) in all three, so that the error itself is always valid, plain text.
    """

    def __init__(self, message: str, *, field: str | None = None, node: str | None = None):
        message = escape_unsafe(message)
        super().__init__(message)
        self.message = message
        self.field = escape_unsafe(field) if isinstance(field, str) else field
        self.node = escape_unsafe(node)[:MAX_ID_LENGTH] if isinstance(node, str) else node


@dataclass
class Node:
    """One validated node: its op, its inputs by id, and for a leaf its value."""

    id: str
    op: Op
    inputs: list[str]
    label: str
    requires_grad: bool
    params: dict[str, Any]
    group: str | None = None
    labels: dict[str, str] | None = None
    """The label in each language of the page ({"en": "apple", "ja": "リンゴ"}), if given."""
    field: str = "graph.nodes"
    """Where the node is in the request, e.g. ``graph.nodes[3]``, for error messages."""
    shape: tuple[int, ...] = ()
    value: np.ndarray | None = None

    @property
    def is_leaf(self) -> bool:
        return self.op.name == "input"


@dataclass(frozen=True)
class Edge:
    """The value of ``source`` going into input ``port`` of ``target``."""

    source: str
    target: str
    port: int
    id: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", f"{self.source}->{self.target}:{self.port}")


@dataclass
class Graph:
    """A DAG in topological order, with each node's input edges and consumers (its fan-out)."""

    nodes: dict[str, Node]
    order: list[str]
    output: str
    edges: list[Edge] = field(default_factory=list)
    inputs: dict[str, list[Edge]] = field(default_factory=dict)
    consumers: dict[str, list[Edge]] = field(default_factory=dict)
    position: dict[str, int] = field(default_factory=dict)
    """Each node's index in the topological order."""

    def leaves(self) -> list[str]:
        """The input nodes' ids, in order."""
        return [n for n in self.order if self.nodes[n].is_leaf]

    def takes_gradient(self, node_id: str) -> bool:
        """The node's ``requires_grad``."""
        return self.nodes[node_id].requires_grad

    def shape_of(self, node_id: str) -> tuple[int, ...]:
        return self.nodes[node_id].shape

    def leaf_value(self, node_id: str) -> np.ndarray:
        """An input node's value (its node's own read-only array)."""
        value = self.nodes[node_id].value
        assert value is not None, node_id
        return value


def parse_value(
    raw: Any, *, field: str, node: str | None = None, max_elements: int = Settings.max_elements
) -> np.ndarray:
    """A JSON number or nested list as a read-only float64 array, or a GraphError saying why not.

    The strings "NaN", "Infinity" and "-Infinity" are accepted, as the trace writes them.
    """
    if type(raw) is float or (type(raw) is int and -(2**53) <= raw <= 2**53):
        # The common case, a plain number (every leaf of a formula): no checks to make.
        value = np.array(raw, dtype=np.float64)
        value.flags.writeable = False
        return value
    where = f"{field} (node {quote(node)})" if node is not None else field
    if isinstance(raw, str) and raw in NON_FINITE:
        raw = NON_FINITE[raw]
    if isinstance(raw, OverflowingNumber):
        raise GraphError(f"{where}: {raw.message()}", field=field, node=node)
    if isinstance(raw, bool) or not isinstance(raw, int | float | list):
        raise GraphError(
            f"{where}: expected a number or a nested list of numbers, got {describe(raw)}",
            field=field,
            node=node,
        )
    if isinstance(raw, int | float):
        try:
            return freeze(np.array(float(raw), dtype=np.float64))
        except OverflowError:
            raise GraphError(
                f"{where}: a number is {TOO_LARGE}",
                field=field,
                node=node,
            ) from None
    size = declared_size(raw)
    if size > max_elements:
        # Refused before NumPy walks the lists, which takes seconds for millions of elements.
        raise GraphError(
            f"{where}: {size} elements, more than the limit of {max_elements}",
            field=field,
            node=node,
        )
    try:
        grid = np.array(raw, dtype=object)
    except (ValueError, RecursionError):
        raise GraphError(
            f"{where}: not a rectangular nested list of numbers", field=field, node=node
        ) from None
    flat = grid.ravel().tolist()
    kinds = set(map(type, flat))
    if grid.ndim > MAX_NDIM or (list in kinds and grid.ndim >= MAX_NDIM):
        raise GraphError(
            f"{where}: nested too deep; at most {MAX_NDIM} dimensions are allowed",
            field=field,
            node=node,
        )
    if list in kinds:
        raise GraphError(
            f"{where}: rows of different lengths (or a number beside a list)",
            field=field,
            node=node,
        )
    if kinds - {int, float}:
        bad = [x for x in flat if type(x) not in (int, float) and not is_non_finite_name(x)]
        if bad and isinstance(bad[0], OverflowingNumber):
            raise GraphError(f"{where}: {bad[0].message()}", field=field, node=node)
        if bad:  # a list, not next(..., None): a null element must not pass as "none found"
            raise GraphError(
                f"{where}: every element must be a number, got {describe(bad[0])}",
                field=field,
                node=node,
            )
        flat = [NON_FINITE[x] if type(x) is str else x for x in flat]
        grid = np.array(flat, dtype=object).reshape(grid.shape)
    if grid.size == 0:
        raise GraphError(f"{where}: an empty array has nothing to trace", field=field, node=node)
    try:
        return freeze(grid.astype(np.float64))
    except OverflowError:
        raise GraphError(
            f"{where}: a number is {TOO_LARGE}",
            field=field,
            node=node,
        ) from None


class OverflowingNumber:
    """A JSON number literal beyond float64 (``1e400``), kept as its text.

    json.loads turns such a literal into inf, indistinguishable from an infinity sent on
    purpose; a body parsed with ``json.loads(..., parse_float=json_float)`` keeps it as this
    instead, and parse_value reports it as too large, naming the field and the node.
    """

    def __init__(self, text: str):
        self.text = text

    def message(self) -> str:
        shown = self.text if len(self.text) <= 20 else self.text[:12] + "…"
        return f"the number {shown} is {TOO_LARGE}"

    def __repr__(self) -> str:
        return f"OverflowingNumber({self.text[:20]!r})"


def json_float(text: str) -> float | OverflowingNumber:
    """A ``parse_float`` hook for json.loads: the float, or an OverflowingNumber past float64
    (an overflowing literal; the NaN and Infinity tokens go to parse_constant, not here)."""
    value = float(text)
    return OverflowingNumber(text) if math.isinf(value) else value


def declared_size(raw: list) -> int:
    """The element count a nested list claims by its first row, first column, and so on."""
    size, level = 1, raw
    for _ in range(MAX_NDIM + 1):
        if not isinstance(level, list):
            break
        size *= len(level)
        if not level:
            break
        level = level[0]
    return size


def is_non_finite_name(x: Any) -> bool:
    return type(x) is str and x in NON_FINITE


def freeze(value: np.ndarray) -> np.ndarray:
    """Make an array read-only, so no layer can rewrite a value the trace has recorded."""
    value.flags.writeable = False
    return value


def quote(x: Any) -> str:
    """repr() of something a client sent, cut short: a message must not echo megabytes."""
    text = repr(x)
    return text if len(text) <= 60 else text[:56] + "...'"


def describe(x: Any) -> str:
    """A short, safe description of a bad JSON value for an error message."""
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, str):
        return f"the string {x[:40]!r}"
    if isinstance(x, dict):
        return "an object"
    return type(x).__name__


def build_graph(
    spec_nodes: Sequence[Mapping[str, Any]],
    output: str,
    settings: Settings,
    overrides: Mapping[str, Any] | None = None,
) -> Graph:
    """Validate a spec (nodes as dicts, the output id, leaf overrides) into a Graph.

    A spec of plain scalar nodes is checked and compiled in one pass by the scalar fast path's
    build (``core.scalar_graph``), which gives the same graph; anything else, every error
    included, is built here."""
    from backprop_viz.core.scalar_graph import build_scalar_graph

    fast = build_scalar_graph(spec_nodes, output, settings, overrides)
    if fast is not None:
        return fast
    nodes = validate_nodes(spec_nodes, settings)
    return assemble_graph(nodes, output, settings, overrides, copy=False)


def validate_nodes(spec_nodes: Sequence[Mapping[str, Any]], settings: Settings) -> dict[str, Node]:
    """The spec's nodes validated, leaf values parsed into read-only arrays: the costly half of
    ``build_graph``, which ``assemble_graph`` does not repeat (a preset's is done once)."""
    check_node_count(spec_nodes, settings)
    return make_nodes(spec_nodes, settings)


def assemble_graph(
    validated: Mapping[str, Node],
    output: str,
    settings: Settings,
    overrides: Mapping[str, Any] | None = None,
    *,
    copy: bool = True,
    parsed: Mapping[str, np.ndarray] | None = None,
) -> Graph:
    """A Graph of copies of ``validated`` (left untouched, so it can be reused), with the
    overrides parsed and applied, in topological order, its shapes checked. ``copy=False``
    uses the nodes themselves (``build_graph``'s are its own). ``parsed``: leaf values already
    parsed and checked as ``overrides`` would be (``with_leaf_values``'), applied as they are.

    A graph of copies records ``validated`` as its ``assembled_from`` (an attribute of the
    instance, not a field): every graph assembled from the same nodes with the same output and
    shapes has the same nodes, edges and order but for the leaves' values, so
    ``encoding.encoded_graph_json`` writes their JSON once (a preset's)."""
    if copy:
        nodes = {node_id: copy_node(node) for node_id, node in validated.items()}
    else:
        nodes = dict(validated)
    apply_overrides(nodes, overrides or {}, settings)
    for node_id, value in (parsed or {}).items():
        nodes[node_id].value = value
    if not isinstance(output, str) or output not in nodes:
        raise GraphError(f"graph.output: no node with id {quote(output)}", field="graph.output")
    graph = link_edges(nodes, output, topological_order(nodes))
    infer_shapes(graph, settings)
    if copy:
        graph.assembled_from = validated
    return graph


def with_leaf_values(template: Graph, overrides: Mapping[str, Any], settings: Settings) -> Graph:
    """``template`` (a graph ``assemble_graph`` made of copies) with new values for some of its
    leaves, parsed and checked as ``assemble_graph`` does it, with the same errors.

    If each new value has its leaf's shape, every node's shape and the element budget are the
    template's, as they depend on the shapes alone: the new graph is the template's order,
    edges and nodes but for copies of the overridden leaves (a preset's edit assembled and
    checked its whole graph again, ~40 µs of apple's request). Nothing downstream writes to a
    Graph, so the two may share them. Otherwise the graph is assembled from the template's
    validated nodes with the values parsed here, and its shapes are inferred again."""
    nodes = dict(template.nodes)
    for node_id in overrides:
        node = nodes.get(node_id) if isinstance(node_id, str) else None
        if node is not None:
            nodes[node_id] = copy_node(node)
    apply_overrides(nodes, overrides, settings)  # the same checks, the same messages
    source = template.__dict__["assembled_from"]
    for node_id in overrides:
        value = nodes[node_id].value
        assert value is not None
        if value.shape != template.nodes[node_id].shape:
            parsed = {n: nodes[n].value for n in overrides}
            return assemble_graph(source, template.output, settings, parsed=parsed)
    graph = Graph(
        nodes=nodes,
        order=template.order,
        output=template.output,
        edges=template.edges,
        inputs=template.inputs,
        consumers=template.consumers,
        position=template.position,
    )
    graph.assembled_from = source  # type: ignore[attr-defined]
    return graph


def copy_node(node: Node) -> Node:
    """A shallow copy of a node, as ``dataclasses.replace(node)`` makes (Node has no
    ``__post_init__``), at a quarter of its cost: a preset's request with an override copies
    every node of the preset."""
    copied = object.__new__(Node)
    copied.__dict__.update(node.__dict__)
    return copied


def check_node_count(spec_nodes: Sequence[Mapping[str, Any]], settings: Settings) -> None:
    """At least one node, and no more than the limit."""
    if not spec_nodes:
        raise GraphError("graph.nodes: a graph needs at least one node", field="graph.nodes")
    if len(spec_nodes) > settings.max_nodes:
        raise GraphError(
            f"graph.nodes: {len(spec_nodes)} nodes is more than the limit of {settings.max_nodes}",
            field="graph.nodes",
        )


def make_nodes(spec_nodes: Sequence[Mapping[str, Any]], settings: Settings) -> dict[str, Node]:
    """Each spec node validated into a Node, by id, in the order of the spec."""
    nodes: dict[str, Node] = {}
    lookalikes = Lookalikes()
    for i, spec in enumerate(spec_nodes):
        nodes_field = f"graph.nodes[{i}]"
        if not isinstance(spec, Mapping):
            raise not_an_object(i, spec)
        node_id = check_id(spec.get("id"), nodes_field, nodes, lookalikes)
        nodes[node_id] = make_node(spec, nodes_field, node_id, settings.max_elements)
    return nodes


def not_an_object(i: int, spec: Any) -> GraphError:
    """The error for a node of the spec that is not a JSON object."""
    where = f"graph.nodes[{i}]"
    return GraphError(
        f"{where}: a node is an object with an id and an op, got {describe(spec)}", field=where
    )


def check_id(
    node_id: Any, nodes_field: str, nodes: Mapping[str, Node], lookalikes: Lookalikes
) -> str:
    """A node's id: a non-empty string of safe characters (app.core.identifiers), short,
    without '->', not taken by an earlier node, not a look-alike of another."""
    if (
        type(node_id) is str
        and node_id.isascii()
        and node_id.isprintable()  # for ASCII: no control character (rule 2), and not empty
        and 0 < len(node_id) <= MAX_ID_LENGTH
        and "->" not in node_id
        and node_id not in nodes
        and lookalikes.add(node_id) is None
    ):
        return node_id  # the usual id: every check below passes (ASCII is in NFKC form)
    if not isinstance(node_id, str) or not node_id:
        raise GraphError(f"{nodes_field}.id: every node needs a non-empty id", field=nodes_field)
    check_name_text(node_id, f"{nodes_field}.id", "ids")
    if "->" in node_id:
        raise GraphError(
            f"{nodes_field}.id: {quote(node_id)}: ids may not contain '->', which edge ids "
            "use (source->target:port)",
            field=f"{nodes_field}.id",
            node=node_id,
        )
    if len(node_id) > MAX_ID_LENGTH:
        raise GraphError(
            f"{nodes_field}.id: ids are at most {MAX_ID_LENGTH} characters",
            field=f"{nodes_field}.id",
        )
    if node_id in nodes:
        raise GraphError(
            f"{nodes_field}.id: duplicate id {node_id!r}",
            field=f"{nodes_field}.id",
            node=node_id,
        )
    check_name_rules(node_id, f"{nodes_field}.id", lookalikes)
    return node_id


def apply_overrides(
    nodes: dict[str, Node], overrides: Mapping[str, Any], settings: Settings
) -> None:
    """Replace the values of input nodes from the request's ``values``."""
    for node_id, raw in overrides.items():
        if not isinstance(node_id, str):
            raise GraphError(
                f"values: a key names a node by its id, a string; got {describe(node_id)}",
                field="values",
            )
        problem = character_problem(node_id)
        if problem:
            raise GraphError(
                f"values: the key {quote(node_id)} {problem}; it cannot name a node",
                field="values",
                node=node_id,
            )
        if node_id not in nodes:
            raise GraphError(
                f"values.{node_id[:60]}: no node with id {quote(node_id)}",
                field="values",
                node=node_id,
            )
        where = f"values.{node_id}"
        if nodes[node_id].is_leaf and nodes[node_id].group is not None:
            raise GraphError(
                f"{where}: node {node_id!r} is a constant inside the expanded "
                f"{nodes[node_id].group!r}; collapse it to change the function",
                field="values",
                node=node_id,
            )
        if not nodes[node_id].is_leaf:
            raise GraphError(
                f"{where}: node {node_id!r} is a {nodes[node_id].op.name} node; only inputs "
                "take values",
                field="values",
                node=node_id,
            )
        nodes[node_id].value = parse_value(
            raw, field=where, node=node_id, max_elements=settings.max_elements
        )


def link_edges(nodes: dict[str, Node], output: str, order: list[str]) -> Graph:
    """The Graph in ``order``, with each node's input edges, and each node's consumers."""
    graph = Graph(
        nodes=nodes,
        order=order,
        output=output,
        consumers={node_id: [] for node_id in nodes},
        position={node_id: i for i, node_id in enumerate(order)},
    )
    edges, inputs, consumers = graph.edges, graph.inputs, graph.consumers
    new, set_attribute = object.__new__, object.__setattr__
    for node_id in order:
        node_edges = inputs[node_id] = []
        for port, source in enumerate(nodes[node_id].inputs):
            # Edge(source, node_id, port), 3 times faster: a frozen dataclass's __init__ sets
            # each field through object.__setattr__, a cost on graphs of thousands of edges
            edge = new(Edge)
            set_attribute(
                edge,
                "__dict__",
                {
                    "source": source,
                    "target": node_id,
                    "port": port,
                    "id": f"{source}->{node_id}:{port}",
                },
            )
            node_edges.append(edge)
            edges.append(edge)
            consumers[source].append(edge)
    return graph


def make_node(spec: Mapping[str, Any], where: str, node_id: str, max_elements: int) -> Node:
    op_name = spec.get("op")
    op = OPS.get(op_name) if isinstance(op_name, str) else None
    if op is None:
        known = ", ".join(sorted(OPS))
        raise GraphError(
            f"{where}.op: unknown op {quote(op_name)} for node {node_id!r} (known ops: {known})",
            field=f"{where}.op",
            node=node_id,
        )
    inputs = list(spec.get("inputs") or [])
    if len(inputs) != len(op.inputs):
        raise GraphError(
            f"{where}.inputs: {op.name} takes {op.arity} input(s) "
            f"({', '.join(op.inputs) or 'none'}), node {node_id!r} has {len(inputs)}",
            field=f"{where}.inputs",
            node=node_id,
        )
    try:
        given = spec.get("params")
        # most nodes give none (then nothing can be unknown): the defaults straight away
        params = check_params(op, dict(given)) if given else (op.check({}) if op.check else {})
    except OpError as e:
        raise GraphError(
            f"{where}.params: node {node_id!r}: {e}", field=f"{where}.params", node=node_id
        ) from None
    label = spec.get("label") or node_id
    if isinstance(label, str) and label is not node_id:
        check_name_text(label, f"{where}.label", "labels", node_id)
    group = spec.get("group")
    if isinstance(group, str):
        check_name_text(group, f"{where}.group", "groups", node_id)
    labels = check_labels(spec.get("labels"), f"{where}.labels", node_id)
    node = Node(
        id=node_id,
        op=op,
        inputs=inputs,
        label=str(label),
        requires_grad=bool(spec.get("requires_grad", True)),
        params=params,
        group=group,
        labels=labels,
        field=where,
    )
    if node.is_leaf:
        if spec.get("value") is None:
            raise GraphError(
                f"{where}.value: input node {node_id!r} needs a value",
                field=f"{where}.value",
                node=node_id,
            )
        node.value = parse_value(
            spec["value"], field=f"{where}.value", node=node_id, max_elements=max_elements
        )
    elif spec.get("value") is not None:
        raise GraphError(
            f"{where}.value: node {node_id!r} is a {op.name} node; only inputs take a value",
            field=f"{where}.value",
            node=node_id,
        )
    return node


def check_labels(labels: Any, field: str, node_id: str) -> dict[str, str] | None:
    """A node's labels by language ({"en": ..., "ja": ...}): strings, checked like a label."""
    if labels is None:
        return None
    if not isinstance(labels, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise GraphError(
            f"{field}: node {node_id!r}: labels map a language code to a string",
            field=field,
            node=node_id,
        )
    for text in [*labels, *labels.values()]:
        check_name_text(text, field, "labels", node_id)
    return dict(labels)


def check_name_text(text: str, field: str, what: str, node: str | None = None) -> None:
    """Refuse a lone surrogate, control or format character (backprop_viz.core.identifiers,
    rule 2) in an id, label or group, naming the field and the node."""
    problem = character_problem(text)
    if problem:
        raise GraphError(
            f"{field}: {quote(text)} {problem}; {what} may not contain control, invisible or "
            "bidirectional-override characters",
            field=field,
            node=node if node is not None else text,
        )


def check_name_rules(node_id: str, field: str, lookalikes: Lookalikes) -> None:
    """Rules 1, 3 and 4 of backprop_viz.core.identifiers for a node id: NFKC form, one script,
    and no look-alike of an earlier id of the graph."""
    if node_id.isascii() and not lookalikes.any_non_ascii:
        lookalikes.add(node_id)
        return
    normal = nfkc(node_id)
    if normal != node_id:
        raise GraphError(
            f"{field}: {quote(node_id)} is not in NFKC normal form, which names are compared "
            f"in (it would be {quote(normal)}); write it so",
            field=field,
            node=node_id,
        )
    problem = script_problem(node_id)
    if problem:
        raise GraphError(f"{field}: {quote(node_id)} {problem}", field=field, node=node_id)
    earlier = lookalikes.add(node_id)
    if earlier is not None:
        raise GraphError(
            f"{field}: {lookalike_message(node_id, earlier)}", field=field, node=node_id
        )


def topological_order(nodes: dict[str, Node]) -> list[str]:
    """Kahn's algorithm, breaking ties by the order of the spec so the result is stable.

    A spec whose every node reads only nodes before it (a parsed formula, a preset) is its own
    order: Kahn's algorithm with these ties takes its nodes one by one, so that is checked first.
    """
    seen: set[str] = set()
    add = seen.add
    for node_id, node in nodes.items():
        for source in node.inputs:
            if source not in seen:
                return kahn_order(nodes)
        add(node_id)
    return list(nodes)


def kahn_order(nodes: dict[str, Node]) -> list[str]:
    """Kahn's algorithm for a spec that is not in order; errors for unknown inputs and cycles."""
    position = {node_id: i for i, node_id in enumerate(nodes)}
    waiting = {node_id: 0 for node_id in nodes}
    users: dict[str, list[str]] = {node_id: [] for node_id in nodes}
    for node in nodes.values():
        for port, source in enumerate(node.inputs):
            if source not in nodes:
                raise GraphError(
                    f"graph.nodes[{position[node.id]}].inputs[{port}]: node {node.id!r} reads "
                    f"{quote(source)}, which is not a node",
                    field=f"graph.nodes[{position[node.id]}].inputs",
                    node=node.id,
                )
            waiting[node.id] += 1
            users[source].append(node.id)
    ready = [position[n] for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    ids = list(nodes)
    order = []
    while ready:
        node_id = ids[heapq.heappop(ready)]
        order.append(node_id)
        for user in users[node_id]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, position[user])
    if len(order) < len(nodes):
        stuck = next(n for n in ids if waiting[n] > 0)
        raise GraphError(
            f"graph.nodes: node {stuck!r} is part of a cycle; a computational graph must be "
            "acyclic",
            field="graph.nodes",
            node=stuck,
        )
    return order


def infer_shapes(graph: Graph, settings: Settings) -> None:
    """Each node's shape, from the leaves forward, before any arithmetic: too large is an error.

    The budget counts every array a trace holds (values, gradients, what layers keep for
    backward) and, at its peak, the scratch arrays of the op that needs the most, so that no
    request allocates more than the element limits allow for.
    """
    if scalar_budget_fits(graph, settings):
        return
    total = 0
    peak_scratch, peak_node = 0, None
    for node_id in graph.order:
        node = graph.nodes[node_id]
        temporaries = Temporaries()
        if node.is_leaf:
            assert node.value is not None
            node.shape = node.value.shape
        else:
            shapes = [graph.nodes[s].shape for s in node.inputs]
            try:
                node.shape = node.op.shape_rule(shapes, node.params)
            except OpError as e:
                where = node.field
                part_of = f", part of the expanded {node.group!r}" if node.group else ""
                raise GraphError(
                    f"{where}: node {node_id!r} ({node.op.name}{part_of}): {e}",
                    field=where,
                    node=node_id,
                ) from None
            temporaries = node.op.temporaries_for(shapes, node.shape)
        size = math.prod(node.shape)
        if size > settings.max_elements:
            where = node.field
            raise GraphError(
                f"{where}: node {node_id!r}: shape {list(node.shape)} has {size} elements, more "
                f"than the limit of {settings.max_elements}",
                field=where,
                node=node_id,
            )
        if temporaries.largest > settings.max_elements:
            where = node.field
            raise GraphError(
                f"{where}: node {node_id!r}: {node.op.name} would make a temporary array of "
                f"{temporaries.largest} elements, more than the limit of {settings.max_elements}",
                field=where,
                node=node_id,
            )
        # Its value, and in backward the gradient sent along each input edge (the shape of
        # that input), all held until the trace is written; so are the arrays its layer keeps,
        # and the sum of the gradients at a fork.
        kept = sum(temporaries.kept)
        total += size + sum(math.prod(graph.nodes[s].shape) for s in node.inputs) + kept
        if len(graph.consumers[node_id]) > 1:
            total += size
        if total > settings.max_total_elements:
            where = node.field
            keeps = f" (with the {kept} elements {node.op.name} keeps for backward)" if kept else ""
            raise GraphError(
                f"{where}: node {node_id!r}: the graph's values and gradients{keeps} add up to "
                f"more than {settings.max_total_elements} elements",
                field=where,
                node=node_id,
            )
        if sum(temporaries.scratch) > peak_scratch:
            peak_scratch, peak_node = sum(temporaries.scratch), node
    # Scratch arrays live only while their op runs, but backward runs when every value exists.
    if peak_node is not None and total + peak_scratch > settings.max_total_elements:
        where = peak_node.field
        raise GraphError(
            f"{where}: node {peak_node.id!r}: {peak_node.op.name} would make temporary arrays "
            f"of {peak_scratch} elements, and with the graph's values and gradients ({total}) "
            f"that is more than the limit of {settings.max_total_elements} elements",
            field=where,
            node=peak_node.id,
        )


def scalar_budget_fits(graph: Graph, settings: Settings) -> bool:
    """For a graph of scalar leaves and elementwise ops, whose every node is then a scalar:
    True if it fits the element budget, with the shapes (all ``()``, the default) left as they
    are. False if it is not such a graph, or does not fit: then ``infer_shapes`` walks it node
    by node and names the node where it stops fitting.

    The same sums as infer_shapes, with each op's temporaries worked out once: on a formula of
    thousands of nodes, per-node shape rules were a third of the build.
    """
    nodes, consumers = graph.nodes, graph.consumers
    temporaries: dict[int, tuple[int, int]] = {}  # id(op) -> (kept, scratch) for scalars
    total = peak_scratch = 0
    for node_id in graph.order:
        node = nodes[node_id]
        op = node.op
        if node.is_leaf:
            if node.value is None or node.value.shape:
                return False
            inputs = kept = 0
        else:
            known = temporaries.get(id(op))
            if known is None:
                if op.shape_rule is not broadcast and op.shape_rule is not same_shape:
                    return False
                made = op.temporaries_for([()] * op.arity, ())
                known = temporaries[id(op)] = (sum(made.kept), sum(made.scratch))
                if made.largest > settings.max_elements:
                    return False
            inputs = len(node.inputs)
            kept, scratch = known
            if scratch > peak_scratch:
                peak_scratch = scratch
        # as infer_shapes counts: the value, a gradient per input, what the layer keeps, a fork
        total += 1 + inputs + kept + (len(consumers[node_id]) > 1)
        if total > settings.max_total_elements:
            return False
    return total + peak_scratch <= settings.max_total_elements
