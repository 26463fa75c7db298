"""The scalar fast path: a graph whose values are all scalars, run on plain Python floats.

A formula of a few hundred nodes is all scalars, and there the NumPy path pays for NumPy's
machinery (a 0-d array per value, a layer object per node, a step object per event) about twenty
times what the arithmetic costs. Here each op has a rule on floats (``SCALAR_RULES``, by op
name) that repeats its layer's arithmetic operation for operation, so the trace is the NumPy
path's to the last bit: every value, gradient, local derivative, step and warning, and the
encoded JSON (tests/core/test_scalar.py compares both on many random graphs):

* ``+ - * /`` on two floats are the same IEEE operations NumPy does on 0-d arrays; a division
  by zero, which Python raises on, gives NumPy's infinity or NaN (``divide``).
* ``exp``, ``log`` and ``tanh`` are NumPy's own ufuncs called on a float: its SIMD versions
  differ from ``math``'s in the last bit for 1 input in 5 (tanh) on this machine.
* ``x ** 2`` is ``pow`` where the layer squares a NumPy scalar (Tanh: ``out**2``), and
  NumPy's array power (``square``: x * x) where the layer powers a 0-d array (PowLayer).
* Each rule's backward gives the gradient and the local derivative together (d out / d input,
  what the NumPy path gets from a second ``backward(1)`` call).

A run keeps only lists of floats (``ScalarTape``); the public ``Trace`` around it
(``ScalarTrace``) makes its arrays and step objects when they are first read, and writes its
JSON straight from the floats (``json_parts``), so neither costs anything until it is used.

A graph takes this path only if every node is a scalar and every op has a rule whose layer is
the one the rule was written from (a monkeypatched or replaced layer, or an op added since,
runs on the NumPy path: ``program_for`` returns None).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from backprop_viz.core.graph import Graph, freeze
from backprop_viz.core.ops import OPS, Op
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

np_exp, np_log, np_tanh = np.exp, np.log, np.tanh
isfinite = math.isfinite


def divide(a: float, b: float) -> float:
    """a / b as NumPy divides: by zero it is +-inf or NaN, not ZeroDivisionError."""
    try:
        return a / b
    except ZeroDivisionError:
        return float(np.float64(a) / np.float64(b))


def scalar_power(a: float, p: float) -> float:
    """a ** p as a NumPy scalar does it (C ``pow``); past the float range, inf, not an error."""
    try:
        return a**p
    except (OverflowError, ZeroDivisionError):
        return float(np.float64(a) ** p)


def array_power(a: float, p: float) -> float:
    """a ** p as a 0-d array does it (NumPy's fast paths: ``square`` for 2, ``sqrt`` for 0.5)."""
    return float(np.asarray(a) ** p)


# Rules: forward(x[, y][, params]) -> out; backward(dout, x[, y], out[, params]) -> (grad, local)
# per input, flat. Each line follows its layer in layers.py; the comment names what NumPy does.


def add_backward(d, x, y, o):
    return d, 1.0, d, 1.0  # dout * 1, twice


def sub_backward(d, x, y, o):
    return d, 1.0, -d, -1.0  # dout * 1, dout * -1


def mul_backward(d, x, y, o):
    return d * y, y, d * x, x


def div_backward(d, x, y, o):
    # dx = dout / y; dy = -dout * (x / y) / y
    q = divide(x, y)
    return divide(d, y), divide(1.0, y), divide(-d * q, y), divide(-1.0 * q, y)


def neg_backward(d, x, o):
    return -d, -1.0


def exp_backward(d, x, o):
    return d * o, o


def log_backward(d, x, o):
    return divide(d, x), divide(1.0, x)


def reciprocal_backward(d, x, o):
    square = scalar_power(o, 2)  # out = 1 / x is a NumPy scalar: out**2 is pow
    return -d * square, -1.0 * square


def relu_forward(x):
    return 0.0 if x <= 0 else x  # where(x <= 0, 0.0, x): NaN stays NaN


def relu_backward(d, x, o):
    return (0.0, 0.0) if x <= 0 else (d, 1.0)


def sigmoid_forward(x):
    z = float(np_exp(-abs(x)))  # stable_sigmoid: exp only sees -|x|
    return 1.0 / (1.0 + z) if x >= 0 else z / (1.0 + z)


def sigmoid_backward(d, x, o):
    return d * (1.0 - o) * o, (1.0 - o) * o


def tanh_backward(d, x, o):
    local = 1.0 - o**2  # out = np.tanh(x) is a NumPy scalar: out**2 is pow, not out * out
    return d * local, local


def pow_forward(x, params):
    return array_power(x, params["p"])


def pow_backward(d, x, o, params):
    p = params["p"]
    if p == 0:  # PowLayer: zeros, x**0 is constant
        return 0.0, 0.0
    power = array_power(x, p - 1)
    return d * p * power, 1.0 * p * power


def sum_backward(d, x, o):
    return d, 1.0  # broadcast_to(dout, ()).copy()


@dataclass(frozen=True)
class ScalarRule:
    """An op on floats: ``forward`` and ``backward`` (gradient and local derivative per input),
    written from ``layer``'s code as it was when this module was loaded."""

    op: Op
    forward: Callable[..., float]
    backward: Callable[..., tuple[float, ...]]
    uses_params: bool = False
    accepts: Callable[[dict[str, Any]], bool] | None = None
    """Which params the rule covers (sum: only over all elements)."""
    layer_code: tuple[Any, ...] = field(default=())

    def still_mirrors(self, op: Op) -> bool:
        """True if ``op`` is the op this rule was written from, with the same layer code."""
        return op is self.op and layer_code(op) == self.layer_code


def layer_code(op: Op) -> tuple[Any, ...]:
    """What a rule depends on: the op's layer class and its methods as they are now."""
    layer = op.layer
    return (layer, vars(layer).get("__init__"), vars(layer).get("forward"), layer.backward)


def rule(name: str, forward, backward, **kw) -> ScalarRule:
    op = OPS[name]
    return ScalarRule(op, forward, backward, layer_code=layer_code(op), **kw)


SCALAR_RULES: dict[str, ScalarRule] = {
    r.op.name: r
    for r in (
        rule("add", lambda x, y: x + y, add_backward),
        rule("sub", lambda x, y: x - y, sub_backward),
        rule("mul", lambda x, y: x * y, mul_backward),
        rule("div", divide, div_backward),
        rule("neg", lambda x: -x, neg_backward),
        rule("exp", lambda x: float(np_exp(x)), exp_backward),
        rule("log", lambda x: float(np_log(x)), log_backward),
        rule("reciprocal", lambda x: divide(1.0, x), reciprocal_backward),
        rule("relu", relu_forward, relu_backward),
        rule("sigmoid", sigmoid_forward, sigmoid_backward),
        rule("tanh", lambda x: float(np_tanh(x)), tanh_backward),
        rule("pow", pow_forward, pow_backward, uses_params=True),
        rule(
            "sum",
            lambda x: 0.0 + x,  # np.sum of a 0-d array adds it to the identity: -0.0 gives 0.0
            sum_backward,
            accepts=lambda params: params.get("axis") is None,
        ),
    )
}


@dataclass
class EdgeTable:
    """A program's edges as lists by edge index."""

    ids: list[str]
    sources: list[str]
    targets: list[str]
    ports: list[int]


@dataclass
class ScalarProgram:
    """A scalar graph compiled to indices: node i is ``graph.order[i]``, edge e is
    ``graph.edges[e]`` (link_edges makes them by node, then port, so a node's input edges are
    consecutive). Flat lists of ints and one tuple per op node: a program of 10,000 nodes is
    built in a few milliseconds and makes little work for the garbage collector."""

    graph: Graph
    rules: list[ScalarRule]
    """The distinct rules used, checked again before each run (a layer may have changed)."""
    ops: list[tuple]
    """Per op node, in order: (i, forward, backward, params or None, x, y or -1, first edge)."""
    by_node: list[tuple | None]
    """Per node: its entry of ``ops``, None for a leaf."""
    init: list[float | None]
    """Per node: a leaf's value as a float, None for an op node (a run starts from a copy)."""
    leaf_nodes: list[tuple[int, Any]]
    """(index, Node) of each leaf whose value a run reads from its node (a Graph's nodes are
    the caller's to change between runs); empty for a ScalarGraph's program, whose ``init``
    is its leaves' values until its nodes are made (and the program dropped)."""
    first: list[int]
    """Per node: its first consumer's edge (-1: none); ``following`` chains the rest, in the
    order graph.consumers lists them, which is the order the NumPy path sums a fork's parts."""
    following: list[int]
    sources: list[int]
    """Per edge: the index of its source."""
    output: int
    requires_grad: list[bool]
    node_ops: list[Op]
    """Per node: its op (a backward step names its formulas)."""

    @cached_property
    def edges(self) -> EdgeTable:
        """Per edge: its id, source, target and port, as ``graph.edges`` has them (made here
        from the indices, so that a lazy graph's Edge objects are never needed)."""
        order, sources = self.graph.order, self.sources
        count = len(sources)
        ids: list[str] = [""] * count
        source_ids: list[str] = [""] * count
        target_ids: list[str] = [""] * count
        ports: list[int] = [0] * count
        for i, _, _, _, _, y, e0 in self.ops:
            target = order[i]
            for e in (e0, e0 + 1) if y >= 0 else (e0,):
                source, port = order[sources[e]], e - e0
                ids[e], source_ids[e], target_ids[e], ports[e] = (
                    f"{source}->{target}:{port}",
                    source,
                    target,
                    port,
                )
        return EdgeTable(ids, source_ids, target_ids, ports)

    def input_ids(self, i: int) -> list[str]:
        """Op node i's inputs by id, in port order (a list of the caller's own)."""
        e = edge_range(self, i)
        return self.edges.sources[e.start : e.stop]

    def consumer_edges(self, i: int) -> list[int]:
        """Node i's consumers' edges, in order."""
        edges, e = [], self.first[i]
        while e >= 0:
            edges.append(e)
            e = self.following[e]
        return edges


def program_for(graph: Graph) -> ScalarProgram | None:
    """The graph's compiled program if it can run on floats, else None (the NumPy path).

    Compiled once per Graph object (a preset's graph is reused across requests); the rules are
    checked against the ops' layers on every call, so a layer patched since falls back.
    """
    cached = graph.__dict__.get("_scalar_program", False)
    if cached is False:
        cached = compile_program(graph)
        graph.__dict__["_scalar_program"] = cached
    if cached is None:
        return None
    for node_rule in cached.rules:
        if not node_rule.still_mirrors(OPS.get(node_rule.op.name, node_rule.op)):
            return None
    return cached


def share_program(template: Graph, graph: Graph) -> None:
    """Give ``graph``, the template with other leaf values (``core.graph.with_leaf_values``:
    the same order, edges and shapes), the template's compiled program, reading its own leaves
    (compiling it again was ~10 µs of a small preset's edit); None, as the template's, if it
    does not run on floats."""
    program_for(template)  # compiled once per template
    compiled = template.__dict__["_scalar_program"]
    if compiled is not None:
        compiled = copy.copy(compiled)  # its lists, and the edge table it made, shared
        compiled.graph = graph
        order, nodes = graph.order, graph.nodes
        compiled.leaf_nodes = [(i, nodes[order[i]]) for i, _ in compiled.leaf_nodes]
    graph.__dict__["_scalar_program"] = compiled


def compile_program(graph: Graph) -> ScalarProgram | None:
    """The program of a graph of scalars whose every op has a rule, else None."""
    nodes, order, position = graph.nodes, graph.order, graph.position
    count = len(order)
    by_op: dict[int, ScalarRule | None] = {}  # id(op) -> its rule, checked once per op
    ops: list[tuple] = []
    by_node: list[tuple | None] = [None] * count
    init: list[float | None] = [None] * count
    leaf_nodes: list[tuple[int, Any]] = []
    first, last = [-1] * count, [-1] * count
    following: list[int] = []
    sources: list[int] = []
    for i, node_id in enumerate(order):
        node = nodes[node_id]
        if node.shape:
            return None
        op = node.op
        if op.name == "input":
            leaf_nodes.append((i, node))
            continue
        found = by_op.get(id(op), False)
        if found is False:
            found = SCALAR_RULES.get(op.name)
            if found is not None and not found.still_mirrors(op):
                found = None
            by_op[id(op)] = found
        if found is None or (found.accepts is not None and not found.accepts(node.params)):
            return None
        e0 = len(sources)
        if len(node.inputs) == 2:
            x, y = position[node.inputs[0]], position[node.inputs[1]]
            sources += (x, y)
            following += (-1, -1)
        else:
            x, y = position[node.inputs[0]], -1
            sources.append(x)
            following.append(-1)
        for e, a in ((e0, x), (e0 + 1, y)) if y >= 0 else ((e0, x),):
            if first[a] < 0:
                first[a] = e
            else:
                following[last[a]] = e
            last[a] = e
        params = node.params if found.uses_params else None
        by_node[i] = entry = (i, found.forward, found.backward, params, x, y, e0)
        ops.append(entry)
    # link_edges appends graph.edges in this same order
    assert len(sources) == len(graph.edges)
    return ScalarProgram(
        graph=graph,
        rules=[r for r in by_op.values() if r is not None],
        ops=ops,
        by_node=by_node,
        init=init,
        leaf_nodes=leaf_nodes,
        first=first,
        following=following,
        sources=sources,
        output=position[graph.output],
        requires_grad=[nodes[n].requires_grad for n in order],
        node_ops=[nodes[n].op for n in order],
    )


@dataclass
class ScalarTape:
    """What a scalar run computed, as floats by node and edge index."""

    program: ScalarProgram
    seed: np.ndarray
    values: list[float]
    douts: list[float | None]
    """The gradient that reached each node (a fork's sum), None where none did."""
    sent: list[float | None]
    """Per edge: the gradient its target sent back along it, None if its target got none."""
    locals_: list[float | None]
    events: list[int]
    """The backward phase's steps in order: i for node i's backward, ~i for its accumulate."""
    grads: list[float | None]
    """d output / d node as the Trace reports it: None for data leaves and where none reached."""


def run_program(program: ScalarProgram, seed: np.ndarray) -> ScalarTape:
    """Forward then backward on floats. Run under np.errstate(all="ignore") (the NumPy ufuncs
    some rules call warn on overflow otherwise)."""
    count = len(program.init)
    values: list[Any] = list(program.init)
    for i, node in program.leaf_nodes:
        values[i] = float(node.value)
    for i, forward, _, params, x, y, _ in program.ops:
        if y >= 0:
            values[i] = forward(values[x], values[y])
        elif params is None:
            values[i] = forward(values[x])
        else:
            values[i] = forward(values[x], params)

    edge_count = len(program.sources)
    douts: list[Any] = [None] * count
    grads: list[Any] = [None] * count
    sent: list[Any] = [None] * edge_count
    locals_: list[Any] = [None] * edge_count
    events: list[int] = []
    append = events.append
    by_node, first, following = program.by_node, program.first, program.following
    requires_grad, output = program.requires_grad, program.output
    for i in range(count - 1, -1, -1):
        if i == output:
            d = float(seed)
        else:
            e = first[i]
            if e < 0:
                continue
            d = sent[e]
            e = following[e]
            if e >= 0:  # a fork: its parts summed in the consumers' order
                parts = d is not None
                while e >= 0:
                    g = sent[e]
                    if g is not None:
                        if d is None:
                            d = g
                        else:
                            d = d + g
                        parts += 1
                    e = following[e]
                if parts > 1:
                    append(~i)
            if d is None:
                continue
        douts[i] = d
        entry = by_node[i]
        if entry is None:  # a leaf
            if requires_grad[i]:
                grads[i] = d
            continue
        grads[i] = d
        append(i)
        _, _, backward, params, x, y, e0 = entry
        if y >= 0:
            sent[e0], locals_[e0], sent[e0 + 1], locals_[e0 + 1] = backward(
                d, values[x], values[y], values[i]
            )
        elif params is None:
            sent[e0], locals_[e0] = backward(d, values[x], values[i])
        else:
            sent[e0], locals_[e0] = backward(d, values[x], values[i], params)
    return ScalarTape(program, seed, values, douts, sent, locals_, events, grads)


# --- warnings: the NumPy path's, in its order, from the finished tape ---------------------------


def tape_warnings(tape: ScalarTape, forward_warning, gradient_warning, no_gradient_warning):
    """The warnings the TraceRecorder gives, in the order it gives them: forward ones in
    topological order, then gradient overflows in reverse order, then unreached nodes. The
    ``*_warning`` functions are the engine's, so the messages are the same text."""
    program = tape.program
    graph = program.graph
    order = graph.order
    values, grads, sent = tape.values, tape.grads, tape.sent
    warnings = []
    if not isfinite(sum(values)):  # any NaN or inf (or an overflowing sum: looked at closely)
        for i, _, _, _, x, y, _ in program.ops:
            out = values[i]
            if not isfinite(out) and isfinite(values[x]) and (y < 0 or isfinite(values[y])):
                warnings.append(
                    forward_warning(order[i], program.node_ops[i].name, math.isnan(out))
                )
    # filter(None, ...) drops None (and zeros, which are finite) at C speed
    if not isfinite(sum(filter(None, grads))):
        for i in range(len(order) - 1, -1, -1):
            grad = grads[i]
            if grad is None or i == program.output or isfinite(grad):
                continue
            for e in program.consumer_edges(i):
                target = program.edges.targets[e]
                upstream, part = grads[graph.position[target]], sent[e]
                if upstream is not None and part is not None and isfinite(upstream):
                    if not isfinite(part):
                        warnings.append(gradient_warning(target, order[i]))
    if None in grads:
        for i, node_id in enumerate(order):
            if grads[i] is None and program.requires_grad[i]:
                warnings.append(no_gradient_warning(graph, node_id))
    return warnings


# --- the public Trace's views of a tape: arrays and steps made when first read -----------------


def same_bits(array: np.ndarray | None, x: float) -> bool:
    """True if ``array`` is the 0-d array of the float ``x`` (NaN for NaN)."""
    if array is None or array.shape:
        return False
    y = float(array)
    return y == x and math.copysign(1.0, y) == math.copysign(1.0, x) or (y != y and x != x)


class TapeArrays:
    """Frozen 0-d arrays of one tape, made once each when first asked for."""

    def __init__(self, tape: ScalarTape):
        self.tape = tape
        count = len(tape.values)
        self._values: list[np.ndarray | None] = [None] * count
        self._douts: list[np.ndarray | None] = [None] * count
        self._sent: list[np.ndarray | None] = [None] * len(tape.sent)

    def value(self, i: int) -> np.ndarray:
        array = self._values[i]
        if array is None:
            program = self.tape.program
            if program.by_node[i] is None:  # a leaf: its node's own array, as on the NumPy path
                graph = program.graph
                array = graph.leaf_value(graph.order[i])
                if not same_bits(array, self.tape.values[i]):  # a node changed since the run
                    array = freeze(np.array(self.tape.values[i]))
            else:
                array = freeze(np.array(self.tape.values[i]))
            self._values[i] = array
        return array

    def dout(self, i: int) -> np.ndarray | None:
        """The gradient that reached node i (the output's is the seed itself)."""
        if self.tape.douts[i] is None:
            return None
        array = self._douts[i]
        if array is None:
            tape = self.tape
            array = tape.seed if i == tape.program.output else freeze(np.array(tape.douts[i]))
            self._douts[i] = array
        return array

    def grad(self, i: int) -> np.ndarray | None:
        return None if self.tape.grads[i] is None else self.dout(i)

    def sent(self, e: int) -> np.ndarray | None:
        if self.tape.sent[e] is None:
            return None
        array = self._sent[e]
        if array is None:
            array = self._sent[e] = freeze(np.array(self.tape.sent[e]))
        return array


class NodeMap(Mapping):
    """A read-only {node id: array} over a tape (``Trace.values`` and ``Trace.grads``)."""

    def __init__(self, order: list[str], position: dict[str, int], get: Callable[[int], Any]):
        self._order, self._position, self._get = order, position, get

    def __getitem__(self, node_id: str) -> Any:
        return self._get(self._position[node_id])

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def __repr__(self) -> str:
        return repr(dict(self))


class EdgeMap(Mapping):
    """A read-only {edge id: array} of the gradients sent along edges (``Trace.edge_grads``)."""

    def __init__(self, graph: Graph, tape: ScalarTape, arrays: TapeArrays):
        self._graph, self._tape, self._arrays = graph, tape, arrays
        self._edges: dict[str, int] | None = None

    @property
    def _index(self) -> dict[str, int]:
        if self._edges is None:
            # the order the NumPy path fills it: by backward step, then port
            ids, tape = self._tape.program.edges.ids, self._tape
            self._edges = {
                ids[e]: e
                for i in tape.events
                if i >= 0
                for e in edge_range(tape.program, i)
                if tape.sent[e] is not None
            }
        return self._edges

    def __getitem__(self, edge_id: str) -> np.ndarray:
        return self._arrays.sent(self._index[edge_id])

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


def edge_range(program: ScalarProgram, i: int) -> range:
    """The input edges of op node i."""
    entry = program.by_node[i]
    assert entry is not None
    return range(entry[6], entry[6] + (2 if entry[5] >= 0 else 1))


class TapeSteps(Sequence):
    """The typed steps of a tape (``Trace.steps``), made the first time any is read."""

    def __init__(self, tape: ScalarTape, arrays: TapeArrays):
        self.tape, self.arrays = tape, arrays
        self._steps: list[Step] | None = None

    def _all(self) -> list[Step]:
        if self._steps is None:
            self._steps = make_steps(self.tape, self.arrays)
        return self._steps

    def __getitem__(self, index):
        return self._all()[index]

    def __len__(self) -> int:
        program = self.tape.program
        return len(program.ops) + len(self.tape.events)

    def __iter__(self) -> Iterator[Step]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    def __repr__(self) -> str:
        return repr(self._all())


def make_steps(tape: ScalarTape, arrays: TapeArrays) -> list[Step]:
    """The steps the TraceRecorder would have made, with the same numbers."""
    program = tape.program
    order, edges = program.graph.order, program.edges
    ids, edge_sources, targets, ports = edges.ids, edges.sources, edges.targets, edges.ports
    steps: list[Step] = []
    for entry in program.ops:
        i, sources = entry[0], program.sources
        steps.append(
            ForwardStep(
                index=len(steps),
                node=order[i],
                inputs=[
                    StepInput(ids[e], edge_sources[e], arrays.value(sources[e]))
                    for e in edge_range(program, i)
                ],
                out=arrays.value(i),
            )
        )
    for event in tape.events:
        if event < 0:
            i = ~event
            steps.append(
                AccumulateStep(
                    index=len(steps),
                    node=order[i],
                    parts=[
                        GradientPart(ids[e], targets[e], arrays.sent(e))
                        for e in program.consumer_edges(i)
                        if tape.sent[e] is not None
                    ],
                    sum=arrays.dout(i),
                )
            )
            continue
        formulas = program.node_ops[event].backward
        steps.append(
            BackwardStep(
                len(steps),
                order[event],
                arrays.dout(event),
                [
                    EdgeGradient(
                        edge=ids[e],
                        source=edge_sources[e],
                        port=ports[e],
                        formula=formulas[ports[e]],
                        local=tape.locals_[e],
                        grad=arrays.sent(e),
                    )
                    for e in edge_range(program, event)
                ],
            )
        )
    return steps


@dataclass
class JsonNumbers:
    """A tape's floats as JSON writes them: the lists themselves if every number is finite (the
    usual case: no call per number), else with NaN and infinities as their strings."""

    values: list[Any]
    douts: list[Any]
    grads: list[Any]
    sent: list[Any]
    locals_: list[Any]


def json_numbers(tape: ScalarTape, number: Callable[[float | None], Any]) -> JsonNumbers:
    lists = (tape.values, tape.douts, tape.grads, tape.sent, tape.locals_)
    # filter(None, ...) drops None (and zeros, which are finite) at C speed
    if all(isfinite(sum(filter(None, numbers))) for numbers in lists):
        return JsonNumbers(*lists)
    return JsonNumbers(*([number(x) for x in numbers] for numbers in lists))


def steps_json(tape: ScalarTape, numbers: JsonNumbers) -> list[dict[str, Any]]:
    """The steps' JSON as ``Step.to_json`` writes it, from the floats (no step objects)."""
    program = tape.program
    order, sources, edges = program.graph.order, program.sources, program.edges
    ids, edge_sources, targets, ports = edges.ids, edges.sources, edges.targets, edges.ports
    values, douts, sent, locals_ = numbers.values, numbers.douts, numbers.sent, numbers.locals_
    out: list[dict[str, Any]] = []
    append = out.append
    for i, _, _, _, _, y, e0 in program.ops:
        inputs = [{"edge": ids[e0], "source": edge_sources[e0], "value": values[sources[e0]]}]
        if y >= 0:
            e1 = e0 + 1
            inputs.append({"edge": ids[e1], "source": edge_sources[e1], "value": values[y]})
        append(
            {
                "phase": "forward",
                "index": len(out),
                "node": order[i],
                "inputs": inputs,
                "out": values[i],
            }
        )
    for event in tape.events:
        if not len(out) % 1024:
            check_deadline()  # writing the JSON is the longest part of a large scalar trace
        if event < 0:
            i = ~event
            append(
                {
                    "phase": "accumulate",
                    "index": len(out),
                    "node": order[i],
                    "parts": [
                        {"edge": ids[e], "target": targets[e], "grad": sent[e]}
                        for e in program.consumer_edges(i)
                        if tape.sent[e] is not None
                    ],
                    "sum": douts[i],
                }
            )
            continue
        formulas = program.node_ops[event].backward
        append(
            {
                "phase": "backward",
                "index": len(out),
                "node": order[event],
                "dout": douts[event],
                "edges": [
                    {
                        "edge": ids[e],
                        "source": edge_sources[e],
                        "port": ports[e],
                        "formula": formulas[ports[e]],
                        "local": locals_[e],
                        "grad": sent[e],
                    }
                    for e in edge_range(program, event)
                ],
            }
        )
    return out


def node_views(tape: ScalarTape) -> tuple[TapeArrays, NodeMap, NodeMap, EdgeMap, TapeSteps]:
    """The lazy views a ScalarTrace exposes for ``values``, ``grads``, ``edge_grads``, ``steps``."""
    graph = tape.program.graph
    arrays = TapeArrays(tape)
    values = NodeMap(graph.order, graph.position, arrays.value)
    grads = NodeMap(graph.order, graph.position, arrays.grad)
    return arrays, values, grads, EdgeMap(graph, tape, arrays), TapeSteps(tape, arrays)
