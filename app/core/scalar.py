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

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backprop_viz.core.graph import Graph, Node, freeze
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
class ScalarProgram:
    """A scalar graph compiled to indices: node i is ``graph.order[i]``, edge e is
    ``graph.edges[e]`` (in the order link_edges made them: by node, then port)."""

    graph: Graph
    rules: list[ScalarRule]
    """The distinct rules used, checked again before each run (a layer may have changed)."""
    forward: list[tuple]
    """Per op node: (i, forward, params or None, input indices...)."""
    backward: list[tuple | None]
    """Per node: None for a leaf, else (backward, params or None, inputs, input edges)."""
    leaves: list[int]
    consumers: list[list[int]]
    """Per node: its consumers' edges, in the order the NumPy path sums a fork's parts."""
    sources: list[int]
    """Per edge: the index of its source."""
    output: int
    requires_grad: list[bool]
    is_leaf: list[bool]

    def current(self) -> bool:
        return all(r.still_mirrors(r.op) and r.op is OPS.get(r.op.name) for r in self.rules)


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


def compile_program(graph: Graph) -> ScalarProgram | None:
    nodes, order = graph.nodes, graph.order
    position = graph.position
    used: dict[str, ScalarRule] = {}
    forward: list[tuple] = []
    backward: list[tuple | None] = []
    leaves: list[int] = []
    consumers: list[list[int]] = [[] for _ in order]
    sources: list[int] = []
    for i, node_id in enumerate(order):
        node = nodes[node_id]
        if node.shape:
            return None
        if node.is_leaf:
            leaves.append(i)
            backward.append(None)
            continue
        op = node.op
        found = SCALAR_RULES.get(op.name)
        if found is None or not found.still_mirrors(op):
            return None
        if found.accepts is not None and not found.accepts(node.params):
            return None
        used[op.name] = found
        params = node.params if found.uses_params else None
        inputs = tuple(position[s] for s in node.inputs)
        edges = []
        for source in inputs:
            edge_index = len(sources)
            sources.append(source)
            consumers[source].append(edge_index)
            edges.append(edge_index)
        forward.append((i, found.forward, params, *inputs))
        backward.append((found.backward, params, inputs, tuple(edges)))
    # link_edges appends graph.edges in this same order; consumers must match graph.consumers
    assert len(sources) == len(graph.edges)
    return ScalarProgram(
        graph=graph,
        rules=list(used.values()),
        forward=forward,
        backward=backward,
        leaves=leaves,
        consumers=consumers,
        sources=sources,
        output=position[graph.output],
        requires_grad=[nodes[n].requires_grad for n in order],
        is_leaf=[nodes[n].is_leaf for n in order],
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
    graph = program.graph
    nodes, order = graph.nodes, graph.order
    count = len(order)
    values: list[Any] = [None] * count
    for i in program.leaves:
        values[i] = float(nodes[order[i]].value)
    for step in program.forward:
        if len(step) == 4:
            i, forward, params, a = step
            values[i] = forward(values[a]) if params is None else forward(values[a], params)
        else:
            i, forward, _, a, b = step
            values[i] = forward(values[a], values[b])

    douts: list[Any] = [None] * count
    grads: list[Any] = [None] * count
    sent: list[Any] = [None] * len(program.sources)
    locals_: list[Any] = [None] * len(program.sources)
    events: list[int] = []
    backward, consumers, is_leaf = program.backward, program.consumers, program.is_leaf
    requires_grad, output = program.requires_grad, program.output
    append = events.append
    for i in range(count - 1, -1, -1):
        if i == output:
            d = float(seed)
        else:
            edges = consumers[i]
            if not edges:
                continue
            if len(edges) == 1:
                d = sent[edges[0]]
                if d is None:
                    continue
            else:
                d, parts = None, 0
                for e in edges:
                    g = sent[e]
                    if g is not None:
                        d = g if d is None else d + g
                        parts += 1
                if d is None:
                    continue
                if parts > 1:
                    append(~i)
        douts[i] = d
        if is_leaf[i]:
            if requires_grad[i]:
                grads[i] = d
            continue
        grads[i] = d
        append(i)
        rule_backward, params, inputs, edges = backward[i]
        if len(inputs) == 1:
            x = inputs[0]
            if params is None:
                g, local = rule_backward(d, values[x], values[i])
            else:
                g, local = rule_backward(d, values[x], values[i], params)
            e = edges[0]
            sent[e] = g
            locals_[e] = local
        else:
            gx, lx, gy, ly = rule_backward(d, values[inputs[0]], values[inputs[1]], values[i])
            ex, ey = edges
            sent[ex], locals_[ex], sent[ey], locals_[ey] = gx, lx, gy, ly
    return ScalarTape(program, seed, values, douts, sent, locals_, events, grads)


# --- warnings: the NumPy path's, in its order, from the finished tape ---------------------------


def tape_warnings(tape: ScalarTape, forward_warning, gradient_warning, no_gradient_warning):
    """The warnings the TraceRecorder gives, in the order it gives them: forward ones in
    topological order, then gradient overflows in reverse order, then unreached nodes. The
    ``*_warning`` functions are the engine's, so the messages are the same text."""
    program = tape.program
    graph = program.graph
    nodes, order = graph.nodes, graph.order
    values, grads, sent, sources = tape.values, tape.grads, tape.sent, program.sources
    warnings = []
    if not isfinite(sum(values)):  # any NaN or inf (or an overflowing sum: looked at closely)
        for step in program.forward:
            i, inputs = step[0], step[3:]
            out = values[i]
            if not isfinite(out) and all(isfinite(values[a]) for a in inputs):
                warnings.append(forward_warning(nodes[order[i]], math.isnan(out)))
    reached = [g for g in grads if g is not None]
    if not isfinite(sum(reached)):
        for i in range(len(order) - 1, -1, -1):
            grad = grads[i]
            if grad is None or i == program.output or isfinite(grad):
                continue
            for e in program.consumers[i]:
                target = graph.edges[e].target
                upstream, part = grads[graph.position[target]], sent[e]
                if upstream is not None and part is not None and isfinite(upstream):
                    if not isfinite(part):
                        warnings.append(gradient_warning(target, order[i]))
    if len(reached) < len(order):
        for i, node_id in enumerate(order):
            if grads[i] is None and program.requires_grad[i]:
                warnings.append(no_gradient_warning(graph, node_id))
    del sources
    return warnings


# --- the public Trace's views of a tape: arrays and steps made when first read -----------------


class TapeArrays:
    """Frozen 0-d arrays of one tape, made once each when first asked for."""

    def __init__(self, tape: ScalarTape):
        self.tape = tape
        graph = tape.program.graph
        self.nodes = [graph.nodes[n] for n in graph.order]
        self._values: list[np.ndarray | None] = [None] * len(self.nodes)
        self._douts: list[np.ndarray | None] = [None] * len(self.nodes)
        self._sent: list[np.ndarray | None] = [None] * len(tape.sent)

    def value(self, i: int) -> np.ndarray:
        array = self._values[i]
        if array is None:
            node = self.nodes[i]
            array = node.value if node.is_leaf else freeze(np.array(self.tape.values[i]))
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
        self._arrays = arrays
        # the order the NumPy path fills it: by backward step, then port
        self._index = {
            graph.edges[e].id: e
            for i in tape.events
            if i >= 0
            for e in tape.program.backward[i][3]
            if tape.sent[e] is not None
        }

    def __getitem__(self, edge_id: str) -> np.ndarray:
        return self._arrays.sent(self._index[edge_id])

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


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
        return len(program.forward) + len(self.tape.events)

    def __iter__(self) -> Iterator[Step]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    def __repr__(self) -> str:
        return repr(self._all())


def make_steps(tape: ScalarTape, arrays: TapeArrays) -> list[Step]:
    """The steps the TraceRecorder would have made, with the same numbers."""
    program = tape.program
    graph = program.graph
    order, inputs_of = graph.order, graph.inputs
    steps: list[Step] = []
    for step in program.forward:
        i = step[0]
        node_id = order[i]
        steps.append(
            ForwardStep(
                index=len(steps),
                node=node_id,
                inputs=[
                    StepInput(edge.id, edge.source, arrays.value(a))
                    for edge, a in zip(inputs_of[node_id], step[3:], strict=True)
                ],
                out=arrays.value(i),
            )
        )
    edges = graph.edges
    for event in tape.events:
        if event < 0:
            i = ~event
            steps.append(
                AccumulateStep(
                    index=len(steps),
                    node=order[i],
                    parts=[
                        GradientPart(edges[e].id, edges[e].target, arrays.sent(e))
                        for e in program.consumers[i]
                        if tape.sent[e] is not None
                    ],
                    sum=arrays.dout(i),
                )
            )
            continue
        node = graph.nodes[order[event]]
        edge_indices = program.backward[event][3]
        steps.append(
            BackwardStep(
                len(steps),
                node.id,
                arrays.dout(event),
                [
                    EdgeGradient(
                        edge=edges[e].id,
                        source=edges[e].source,
                        port=edges[e].port,
                        formula=node.op.backward[edges[e].port],
                        local=tape.locals_[e],
                        grad=arrays.sent(e),
                    )
                    for e in edge_indices
                ],
            )
        )
    return steps


def steps_json(tape: ScalarTape, number: Callable[[float | None], Any]) -> list[dict[str, Any]]:
    """The steps' JSON as ``Step.to_json`` writes it, from the floats (no step objects)."""
    program = tape.program
    graph = program.graph
    order, edges, nodes = graph.order, graph.edges, graph.nodes
    values, douts, sent, locals_ = tape.values, tape.douts, tape.sent, tape.locals_
    out: list[dict[str, Any]] = []
    append = out.append
    edge_of = {}
    for step in program.forward:
        i = step[0]
        node_id = order[i]
        node_edges = program.backward[i][3]
        edge_of[i] = node_edges
        append(
            {
                "phase": "forward",
                "index": len(out),
                "node": node_id,
                "inputs": [
                    {
                        "edge": edges[e].id,
                        "source": edges[e].source,
                        "value": number(values[program.sources[e]]),
                    }
                    for e in node_edges
                ],
                "out": number(values[i]),
            }
        )
    for event in tape.events:
        if event < 0:
            i = ~event
            append(
                {
                    "phase": "accumulate",
                    "index": len(out),
                    "node": order[i],
                    "parts": [
                        {"edge": edges[e].id, "target": edges[e].target, "grad": number(sent[e])}
                        for e in program.consumers[i]
                        if sent[e] is not None
                    ],
                    "sum": number(douts[i]),
                }
            )
            continue
        formulas = nodes[order[event]].op.backward
        append(
            {
                "phase": "backward",
                "index": len(out),
                "node": order[event],
                "dout": number(douts[event]),
                "edges": [
                    {
                        "edge": edges[e].id,
                        "source": edges[e].source,
                        "port": edges[e].port,
                        "formula": formulas[edges[e].port],
                        "local": number(locals_[e]),
                        "grad": number(sent[e]),
                    }
                    for e in edge_of[event]
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


def is_scalar_node(node: Node) -> bool:
    return not node.shape
