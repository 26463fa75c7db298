"""The scalar fast path's graph build: a plain spec checked and compiled in one pass.

``build_graph`` (graph.py) validates a spec into a ``Node`` per node and an ``Edge`` per edge,
then compiles the scalar program from them: about 3.5 µs a node, eight times what running the
graph costs on floats (``core.scalar``). For a spec of plain scalar nodes, ``build_scalar_graph``
makes the same checks in one loop and writes the program's flat lists directly; the Graph it
returns (``ScalarGraph``) makes its Node and Edge objects the first time they are read.

"Plain" is narrow on purpose. A node is a dict of the spec's usual fields; its id is printable
ASCII; its op has a scalar rule; it reads nodes before it; a leaf's value is a number (or
"NaN", "Infinity", "-Infinity"). On anything else, valid or not, the loop gives up (None)
and ``build_graph`` runs in full: every error message a client sees comes from there, and a
graph that builds here is the graph the full build makes (tests/core/test_scalar_graph.py
compares the two on random and hand-made specs, field by field).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from backprop_viz.core.graph import (
    MAX_ID_LENGTH,
    NON_FINITE,
    Graph,
    Node,
    freeze,
    link_edges,
)
from backprop_viz.core.identifiers import character_problem
from backprop_viz.core.ops import OPS, check_params, op_fields
from backprop_viz.core.scalar import SCALAR_RULES, ScalarProgram
from backprop_viz.settings import Settings

PLAIN_KEYS = frozenset(("id", "op", "inputs", "value", "label", "params", "group", "requires_grad"))
"""The spec fields the loop reads; a node with any other (``labels``, an unknown one) gives up."""

LEAF = "leaf"
LAZY_FIELDS = frozenset(("nodes", "edges", "inputs", "consumers"))
INTEGER_LIMIT = 2**53
MATERIALISING = threading.Lock()
"""Held while a ScalarGraph makes its nodes: rare, and microseconds a node."""


class ScalarGraph(Graph):
    """A Graph of the scalar fast path: ``order``, ``output`` and ``position`` as any Graph's,
    the compiled program beside them, and ``nodes``, ``edges``, ``inputs`` and ``consumers``
    made (exactly as ``build_graph`` makes them) the first time one is read.

    Once its nodes are made they are the graph (a caller may change a value or a shape): the
    program compiled without them is dropped, and the next run compiles one from them, as for
    any Graph. Made with ``ScalarGraph.lazy``; its dataclass constructor (which
    ``dataclasses.replace`` calls) makes an ordinary Graph of this class, nodes and all.
    """

    @classmethod
    def lazy(
        cls, order: list[str], output: str, position: dict[str, int], program, made: tuple
    ) -> ScalarGraph:
        graph = cls.__new__(cls)
        state = graph.__dict__
        state["order"], state["output"], state["position"] = order, output, position
        state["_scalar_program"] = program
        state["_made"] = made
        return graph

    def __getattr__(self, name: str) -> Any:
        # only reached for what the instance lacks: the lazy fields before they are made
        if name in LAZY_FIELDS and "_made" in self.__dict__:
            self.materialise()
            return self.__dict__[name]
        raise AttributeError(name)

    def __eq__(self, other: object) -> bool:
        """Equal to any Graph with the same fields, a plain one included."""
        if not isinstance(other, Graph):
            return NotImplemented
        names = [f.name for f in dataclasses.fields(Graph)]
        return [getattr(self, n) for n in names] == [getattr(other, n) for n in names]

    __hash__ = None  # type: ignore[assignment]  # as a Graph's: mutable, so unhashable

    def compact(self) -> tuple | None:
        """(program, node ops, extras) while the nodes are not made, else None."""
        state = self.__dict__
        made, program = state.get("_made"), state.get("_scalar_program")
        return None if made is None or program is None else (program, *made)

    def leaves(self) -> list[str]:
        compact = self.compact()
        if compact is None:
            return super().leaves()
        by_node, order = compact[0].by_node, self.order
        return [order[i] for i, entry in enumerate(by_node) if entry is None]

    def takes_gradient(self, node_id: str) -> bool:
        compact = self.compact()
        if compact is None:
            return super().takes_gradient(node_id)
        return compact[0].requires_grad[self.position[node_id]]

    def shape_of(self, node_id: str) -> tuple[int, ...]:
        return () if self.compact() is not None else super().shape_of(node_id)

    def leaf_value(self, node_id: str) -> np.ndarray:
        """An input node's value: made once, and the same array its Node gets if it is made."""
        compact = self.compact()
        if compact is None:
            return super().leaf_value(node_id)
        arrays = self.__dict__.setdefault("_leaf_arrays", {})
        value = arrays.get(node_id)
        if value is None:
            init = compact[0].init[self.position[node_id]]
            assert init is not None, node_id
            value = arrays[node_id] = freeze(np.array(init, dtype=np.float64))
        return value

    def materialise(self) -> None:
        """Make the Node and Edge objects, and drop the program compiled without them (once,
        if two threads ask at the same time)."""
        with MATERIALISING:
            if "_made" in self.__dict__:
                self._materialise()

    def _materialise(self) -> None:
        state = self.__dict__
        made = state["_made"]
        program: ScalarProgram = state["_scalar_program"]
        order = self.order
        nodes: dict[str, Node] = {}
        for i, node_id in enumerate(order):
            op, label, requires_grad, params, group = node_fields(made, i)
            entry = program.by_node[i]
            if entry is None:
                inputs: list[str] = []
                value = self.leaf_value(node_id)
            else:
                inputs = program.input_ids(i)
                value = None
            nodes[node_id] = Node(
                id=node_id,
                op=op,
                inputs=inputs,
                label=node_id if label is None else label,
                requires_grad=requires_grad,
                params=params,
                group=group,
                field=f"graph.nodes[{i}]",
                value=value,
            )
        linked = link_edges(nodes, self.output, order)
        state["nodes"], state["edges"] = nodes, linked.edges
        state["inputs"], state["consumers"] = linked.inputs, linked.consumers
        del state["_made"]  # first: compact() is None from here on
        del state["_scalar_program"]
        state.pop("_leaf_arrays", None)

    def graph_json(self) -> dict[str, Any] | None:
        """The ``graph`` part of the trace's JSON, as ``encoding.trace_to_json`` writes it from
        the nodes, straight from the compact lists while the nodes are not made (else None)."""
        made = self.__dict__.get("_made")
        if made is None:
            return None
        program: ScalarProgram = self.__dict__["_scalar_program"]
        order, by_node, edges = self.order, program.by_node, program.edges
        node_ops, extras = made
        described: dict[int, tuple[dict, dict]] = {}  # id(op) -> (op_fields, default params)
        nodes_json: list[dict[str, Any]] = []
        add_node = nodes_json.append
        for i, node_id in enumerate(order):
            op = node_ops[i]
            entry = by_node[i]
            if entry is None:
                inputs: list[str] = []
            else:
                inputs = program.input_ids(i)
            extra = extras.get(i)
            if extra is None:
                known = described.get(id(op))
                if known is None:
                    params = default_params(op)
                    known = described[id(op)] = (op_fields(op, params), params)
                fields, params = known
                label, requires_grad, group = node_id, True, None
            else:
                label, requires_grad, params, group = extra
                label = node_id if label is None else label
                fields = op_fields(op, params)
            add_node(
                {
                    "id": node_id,
                    "op": op.name,
                    "label": label,
                    "labels": None,
                    "inputs": inputs,
                    "shape": [],
                    **fields,
                    "requires_grad": requires_grad,
                    "params": dict(params),  # the payload's own: the program keeps its own
                    "group": group,
                }
            )
        edges_json = [
            {"id": edge_id, "source": source, "target": target, "port": port}
            for edge_id, source, target, port in zip(
                edges.ids, edges.sources, edges.targets, edges.ports, strict=True
            )
        ]  # the program's EdgeTable, made once per program (the steps' JSON uses it too)
        return {"nodes": nodes_json, "edges": edges_json, "output": self.output, "order": order}


def default_params(op) -> dict[str, Any]:
    """A node's params when it gives none, a fresh dict as make_node makes them."""
    return op.check({}) if op.check else {}


def node_fields(made: tuple, i: int) -> tuple:
    """Node i's (op, label or None, requires_grad, params, group)."""
    node_ops, extras = made
    op = node_ops[i]
    extra = extras.get(i)
    if extra is None:
        return op, None, True, default_params(op), None
    label, requires_grad, params, group = extra
    return op, label, requires_grad, dict(params), group


def op_kind(name: str, settings: Settings) -> tuple | None:
    """What the loop needs of an op, looked up once per build; None where the full build
    must run (no such op, no scalar rule, a rule that no longer mirrors its layer).

    For ``input``: (op, LEAF). For an op: (op, rule, arity, its default params or None if it
    needs some, the params its program entry passes, the budget's elements per node (its
    value, a gradient per input, what its layer keeps), its scratch elements)."""
    op = OPS.get(name)
    if op is None:
        return None
    if name == "input":
        return (op, LEAF)
    rule = SCALAR_RULES.get(name)
    if rule is None or not rule.still_mirrors(op) or op.arity not in (1, 2):
        return None
    try:
        defaults = op.check({}) if op.check else {}
    except Exception:  # an op that needs params: each node's are checked where given
        defaults = None
    if defaults is not None and rule.accepts is not None and not rule.accepts(defaults):
        defaults = None
    made = op.temporaries_for([()] * op.arity, ())
    if made.largest > settings.max_elements:
        return None
    passed = defaults if rule.uses_params else None
    cost = 1 + op.arity + sum(made.kept)
    return (op, rule, op.arity, defaults, passed, cost, sum(made.scratch))


def build_scalar_graph(
    spec_nodes: Sequence[Mapping[str, Any]],
    output: Any,
    settings: Settings,
    overrides: Mapping[str, Any] | None = None,
) -> ScalarGraph | None:
    """The spec as a ScalarGraph with its program compiled, or None where the full build must
    run (anything not plainly valid, including every error)."""
    try:
        return compile_spec(spec_nodes, output, settings, overrides)
    except Exception:  # noqa: BLE001 - a spec this loop cannot read: the full build says why
        return None


def compile_spec(spec_nodes, output, settings, overrides) -> ScalarGraph | None:
    """build_scalar_graph's loop; it raises (KeyError, TypeError...) or returns None to give up.

    The checks made on every node are the ones that cost nothing to repeat; the ids are
    checked together after the loop, at C speed, on one string (below)."""
    count = len(spec_nodes)
    if type(spec_nodes) is not list or not 0 < count <= settings.max_nodes:
        return None
    kinds: dict[Any, tuple | None] = {}
    position: dict[str, int] = {}
    order: list[str] = []
    node_ops: list[Any] = []
    extras: dict[int, tuple] = {}  # node index -> (label, requires_grad, params, group), if any
    init: list[Any] = [None] * count  # per node: a leaf's float
    ops: list[tuple] = []
    by_node: list[tuple | None] = [None] * count
    first, last = [-1] * count, [-1] * count
    following: list[int] = []
    sources: list[int] = []
    total = forks = 0
    for i, spec in enumerate(spec_nodes):
        if type(spec) is not dict:
            return None
        node_id = spec["id"]
        try:
            kind = kinds[spec["op"]]
        except KeyError:
            op_name = spec["op"]
            kind = kinds[op_name] = op_kind(op_name, settings) if type(op_name) is str else None
        if kind is None:
            return None
        # {"id", "op", "value"} or {"id", "op", "inputs"}: the usual node has nothing else
        extra = None if len(spec) == 3 else node_extras(spec, node_id, kind)
        if kind[1] is LEAF:
            value = plain_number(spec["value"])
            if value is None:
                return None
            init[i] = value
            total += 1
        else:
            _, node_rule, arity, params, passed, cost, _ = kind
            if extra is not None:
                params = extra[2]
                if node_rule.accepts is not None and not node_rule.accepts(params):
                    return None
                passed = params if node_rule.uses_params else None
            if params is None:  # an op that needs params, and this node gives none
                return None
            inputs = spec["inputs"]
            if type(inputs) is not list or len(inputs) != arity:
                return None
            e0 = len(sources)
            x = position[inputs[0]]  # KeyError: not an earlier node; the full build says which
            if first[x] < 0:
                first[x] = e0
            else:
                if first[x] == last[x]:
                    forks += 1  # its second consumer: a fork, whose sum the budget counts
                following[last[x]] = e0
            last[x] = e0
            if arity == 2:
                y = position[inputs[1]]
                sources += (x, y)
                following += (-1, -1)
                e1 = e0 + 1
                if first[y] < 0:
                    first[y] = e1
                else:
                    if first[y] == last[y]:
                        forks += 1
                    following[last[y]] = e1
                last[y] = e1
            else:
                y = -1
                sources.append(x)
                following.append(-1)
            by_node[i] = entry = (i, node_rule.forward, node_rule.backward, passed, x, y, e0)
            ops.append(entry)
            total += cost
        if extra is not None:
            extras[i] = extra
        position[node_id] = i
        order.append(node_id)
        node_ops.append(kind[0])
    # Every id at once: strings (join raises otherwise), printable ASCII (so NFKC, one script,
    # no look-alikes), without "->" (a space between ids cannot make one), 1 to 100 characters,
    # none twice (position would have fewer).
    ids = " ".join(order)
    if not (
        ids.isascii()
        and ids.isprintable()
        and "->" not in ids
        and len(position) == count
        and 0 < min(map(len, order))
        and max(map(len, order)) <= MAX_ID_LENGTH
    ):
        return None
    if type(output) is not str or output not in position:
        return None
    # as infer_shapes counts: values, a gradient per input, what layers keep, each fork's sum,
    # and the largest scratch arrays of one op
    peak_scratch = max((kind[6] for kind in kinds.values() if kind[1] is not LEAF), default=0)
    if total + forks + peak_scratch > settings.max_total_elements:
        return None
    for node_id, raw in (overrides or {}).items():
        i = position.get(node_id) if type(node_id) is str else None
        if i is None or by_node[i] is not None or (i in extras and extras[i][3] is not None):
            return None
        value = plain_number(raw)
        if value is None:
            return None
        init[i] = value
    requires_grad = [True] * count
    for i, extra in extras.items():
        requires_grad[i] = extra[1]
    program = ScalarProgram(
        graph=None,  # type: ignore[arg-type]  # set below: the graph holds its program
        rules=[kind[1] for kind in kinds.values() if kind[1] is not LEAF],
        ops=ops,
        by_node=by_node,
        init=init,
        leaf_nodes=[],
        first=first,
        following=following,
        sources=sources,
        output=position[output],
        requires_grad=requires_grad,
        node_ops=node_ops,
    )
    graph = ScalarGraph.lazy(order, output, position, program, (node_ops, extras))
    program.graph = graph
    return graph


def plain_number(raw: Any) -> float | None:
    """A leaf's value or an override as the float parse_value would make it: a float, an int
    that a float holds exactly, or "NaN", "Infinity", "-Infinity"; None for anything else."""
    if type(raw) is float:
        return raw
    if type(raw) is int and -INTEGER_LIMIT <= raw <= INTEGER_LIMIT:
        return float(raw)
    if type(raw) is str:
        return NON_FINITE.get(raw)
    return None


def node_extras(spec: dict, node_id: str, kind: tuple) -> tuple:
    """A node's fields besides id, op and inputs or value: (label or None for the id,
    requires_grad, params, group). Raises GiveUp where the full build must look."""
    if not spec.keys() <= PLAIN_KEYS:
        raise GiveUp
    get = spec.get
    label = get("label") or None
    if label is not None:
        if not (
            type(label) is str
            and ((label.isascii() and label.isprintable()) or character_problem(label) is None)
        ):
            raise GiveUp
        if label == node_id:
            label = None
    group = get("group")
    if group is not None and not (type(group) is str and character_problem(group) is None):
        raise GiveUp
    given = get("params")
    op = kind[0]
    if kind[1] is LEAF:
        if get("inputs") or given:
            raise GiveUp
        params: dict[str, Any] | None = {}
    else:
        if get("value") is not None:
            raise GiveUp
        # each node its own dict, as make_node makes them (kind[3] is the program's)
        defaults = kind[3]
        params = (
            check_params(op, dict(given)) if given else None if defaults is None else dict(defaults)
        )
    return (label, bool(get("requires_grad", True)), params, group)


class GiveUp(Exception):
    """The spec is not plain: the full build runs."""
