"""One path from a request to a trace, shared by the REST API, the command line and Python.

A ``TraceQuery`` names exactly one source (a preset ``example``, a ``graph`` spec or an
``expression``), the leaf overrides in ``values``, the composites to ``expand``, the seed
``dout`` and whether large arrays go out ``full``. ``trace`` turns it into a ``TraceResult``
whose ``to_json()`` is the body of ``POST /api/trace``, the symbolic report of an expression
included, so ``backprop-viz trace -e '(x + y) ** 2' --json`` prints the same JSON::

    from backprop_viz import service
    from backprop_viz.settings import Settings

    result = service.trace(service.TraceQuery(example="apple", values={"apple": 150}), Settings())
    result.trace.grads["apple"]        # 2.2, as an array
    result.to_json()["values"]["price"]  # 330.0

Forward mode (``mode="forward"``, ``wrt`` a leaf, ``wrt_index`` an element of a tensor leaf)
replaces the backward steps with tangent steps and adds ``tangents``: d node / d wrt::

    query = service.TraceQuery(example="apple", mode="forward", wrt="tax")
    service.trace(query, Settings()).forward_mode.output_tangent   # 200.0 = grads["tax"]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from backprop_viz.checks.gradcheck import gradient_check
from backprop_viz.core.composites import expand_composites
from backprop_viz.core.engine import Trace, run_graph
from backprop_viz.core.forward import ForwardMode, forward_mode, passes
from backprop_viz.core.graph import (
    Graph,
    GraphError,
    Node,
    assemble_graph,
    build_graph,
    quote,
    validate_nodes,
    with_leaf_values,
)
from backprop_viz.core.scalar import share_program
from backprop_viz.encoding import ValueEncoder, dumps, encoded_graph_json, trace_to_json
from backprop_viz.examples import EXAMPLES, Example
from backprop_viz.formulas.parser import parse_expression
from backprop_viz.formulas.symbolic import symbolic_report
from backprop_viz.settings import Settings


@dataclass(frozen=True)
class TraceQuery:
    """What to trace; the fields of ``POST /api/trace`` (see ``web.schemas.TraceRequest``)."""

    example: str | None = None
    graph: Mapping[str, Any] | None = None
    """A graph spec: ``{"nodes": [{"id": ..., "op": ...}, ...], "output": id}``."""
    expression: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    """New values for input nodes (for an expression: its variables), by id."""
    dout: Any = None
    """The gradient fed into the output; None for the preset's, or ones."""
    expand: Sequence[str] = ()
    """Ids of composite nodes (sigmoid, affine) to draw as their primitive nodes."""
    full: bool = False
    """Send large arrays whole instead of summarised."""
    training: Mapping[str, Any] | None = None
    """One iteration of a training run: the settings of ``POST /api/train`` and ``iteration``
    (``training.settings.TrainTraceSettings``)."""
    mode: str = "reverse"
    """"reverse" (backward steps, every gradient) or "forward" (tangent steps from ``wrt``)."""
    wrt: str | None = None
    """Forward mode: the input the tangents are taken with respect to."""
    wrt_index: Sequence[int] | None = None
    """Forward mode, a tensor ``wrt``: the one element, one index per axis."""


QUERY_FIELDS = frozenset(f.name for f in fields(TraceQuery))


@dataclass
class TraceResult:
    """A trace with what its JSON needs: the symbolic report (expressions) and the encoding."""

    trace: Trace
    symbolic: dict[str, Any] | None
    inline_elements: int
    full: bool = False
    forward_mode: ForwardMode | None = None
    """Forward mode's tangents; then ``trace.steps`` holds tangent steps, not backward ones."""

    def to_json(self) -> dict[str, Any]:
        """The body of ``POST /api/trace`` (``web.schemas.TraceResponse``), as the caller's own
        dicts and lists."""
        return self._payload(None)

    def to_json_bytes(self) -> bytes:
        """``encoding.dumps(self.to_json())``, byte for byte, without building and writing the
        graph part again where it is a preset's (``encoding.encoded_graph_json``)."""
        return dumps(self._payload(encoded_graph_json(self.trace.graph)))

    def _payload(self, graph_part: Any) -> dict[str, Any]:
        payload = trace_to_json(
            self.trace, self.inline_elements, full=self.full, graph_part=graph_part
        )
        if self.symbolic is not None:
            payload["symbolic"] = self.symbolic
        payload["mode"] = "reverse" if self.forward_mode is None else "forward"
        payload["passes"] = graph_passes(self.trace.graph)
        if self.forward_mode is not None:
            encode = ValueEncoder(self.inline_elements, self.full)
            tangents = self.forward_mode.tangents
            payload["wrt"] = {"node": self.forward_mode.wrt, "index": list(self.forward_mode.index)}
            payload["tangents"] = {n: encode(tangents[n]) for n in self.trace.graph.order}
        return payload


def graph_passes(graph: Graph) -> dict[str, int]:
    """``core.forward.passes(graph)``, the caller's own dict; worked out once for a graph
    assembled from a preset's nodes (without overrides, the same Graph on every request)."""
    state = graph.__dict__
    if state.get("assembled_from") is None:
        return passes(graph)
    known = state.get("_passes")
    if known is None:
        known = state["_passes"] = passes(graph)
    return dict(known)


class UnknownExample(GraphError):
    """An example id that names no preset."""

    def __init__(self, example_id: str):
        self.reason = f"no example {quote(example_id)}; known: {', '.join(EXAMPLES)}"
        super().__init__(f"example: {self.reason}", field="example")


def find_example(example_id: str) -> Example:
    """The preset with this id, or ``UnknownExample`` listing the known ones."""
    example = EXAMPLES.get(example_id)
    if example is None:
        raise UnknownExample(example_id)
    return example


def trace(query: TraceQuery, settings: Settings) -> TraceResult:
    """Build, validate and run the query's graph, recorded; a GraphError names what is wrong."""
    check_mode(query)
    graph, dout = build(query, settings)
    recorded = run_graph(graph, dout)
    tangents = None
    if query.mode == "forward":
        assert query.wrt is not None
        forward_steps = [s for s in recorded.steps if s.phase == "forward"]
        tangents = forward_mode(
            graph, recorded.values, query.wrt, query.wrt_index, first_step=len(forward_steps)
        )
        # the forward pass, then the tangent pass in place of the backward pass
        recorded = replace(recorded, steps=[*forward_steps, *tangents.steps])
    symbolic = None
    if query.expression is not None:
        symbolic = symbolic_report(query.expression, scalar_leaves(recorded))
    return TraceResult(
        recorded, symbolic, settings.inline_elements, full=query.full, forward_mode=tangents
    )


def check_mode(query: TraceQuery) -> None:
    """``wrt`` and ``wrt_index`` go with forward mode, and forward mode needs ``wrt``."""
    if query.mode not in ("reverse", "forward"):
        raise GraphError(
            f"mode: {quote(query.mode)} is not a mode; give 'reverse' or 'forward'", field="mode"
        )
    if query.mode == "forward" and query.wrt is None:
        raise GraphError(
            "wrt: forward mode needs 'wrt', the input to differentiate with respect to",
            field="wrt",
        )
    if query.mode == "reverse":
        for name in ("wrt", "wrt_index"):
            if getattr(query, name) is not None:
                raise GraphError(
                    f'{name}: only forward mode takes {name!r}; add "mode": "forward"',
                    field=name,
                )


def check_gradients(query: TraceQuery, settings: Settings, **options: Any) -> dict[str, Any]:
    """The book's gradient check (5.7.3) of the query's graph; ``options`` are those of
    ``checks.gradcheck.gradient_check`` (h, rtol, atol, max_evaluations, seed)."""
    graph, dout = build(query, settings)
    return gradient_check(graph, dout, **options)


def build(query: TraceQuery, settings: Settings) -> tuple[Graph, Any]:
    """The validated graph of the query's one source, and the seed gradient to use (the
    preset's unless the query gives ``dout``)."""
    values = query.values or {}
    nodes = output = default_dout = None
    sources = ("graph", "example", "expression", "training")
    given = [k for k in sources if getattr(query, k) is not None]
    if len(given) != 1:
        found = ", ".join(given) if given else "none"
        raise GraphError(
            "give exactly one of 'graph', 'example' or 'expression', or 'training' for an "
            f"iteration of a training run (found: {found})",
            field="body",
        )
    if query.example is not None:
        preset = find_example(query.example)
        graph = preset_graph(preset.id, query.expand, settings, values)
        return graph, query.dout if query.dout is not None else preset.dout
    if query.expression is not None:
        parsed = parse_expression(query.expression)
        check_variables(values, parsed.variables)
        nodes, output = parsed.nodes, parsed.output
    elif query.training is not None:
        nodes, output = training_source(query.training)
    else:
        assert query.graph is not None
        nodes, output = query.graph.get("nodes"), query.graph.get("output")
    nodes = expand_composites(list(nodes or []), query.expand)
    graph = build_graph(nodes, output, settings, overrides=values)
    return graph, query.dout if query.dout is not None else default_dout


def preset_nodes(example_id: str, expand: Sequence[str], settings: Settings) -> dict[str, Node]:
    """A preset's nodes validated, its values parsed into read-only arrays, once per process for
    each set of expanded composites and settings (parsing the book net's 119,000 numbers from
    nested lists took ~40 % of its request). The caller assembles copies (``assemble_graph``);
    an override is parsed and validated on its own, per request."""
    try:
        key = (example_id, frozenset(expand), settings)
    except TypeError:  # an unhashable id from a Python caller: expand_composites names it
        key = None
    validated = _PRESET_CACHE.get(key) if key is not None else None
    if validated is None:
        preset = find_example(example_id)
        validated = validate_nodes(expand_composites(list(preset.nodes), expand), settings)
        if key is not None:
            if len(_PRESET_CACHE) >= PRESET_CACHE_SIZE:  # expansions are few; settings rarely vary
                _PRESET_CACHE.clear()
            _PRESET_CACHE[key] = validated
    return validated


def preset_graph(
    example_id: str, expand: Sequence[str], settings: Settings, values: Mapping[str, Any]
) -> Graph:
    """The preset's graph with the overrides in ``values``. Without any, the same Graph object
    each time (nothing downstream writes to a Graph: the engine and the gradient check only
    read it), which saves a small preset's request most of its build; with overrides of the
    leaves' own shapes (an edit on the page), that graph with copies of those leaves, sharing
    the rest and its compiled scalar program (``core.graph.with_leaf_values``)."""
    validated = preset_nodes(example_id, expand, settings)
    output = find_example(example_id).output
    entry = _PRESET_GRAPHS.get(id(validated))
    if entry is None or entry[0] is not validated:
        try:
            template: Graph | None = assemble_graph(validated, output, settings)
        except GraphError:  # the preset does not fit the limits; an edit of it may
            if not values:
                raise
            template = None
        if len(_PRESET_GRAPHS) >= PRESET_CACHE_SIZE:
            _PRESET_GRAPHS.clear()
        entry = _PRESET_GRAPHS[id(validated)] = (validated, template)
    template = entry[1]
    if template is None:  # assembled as it is, or with the edit: the limits say why not
        return assemble_graph(validated, output, settings, overrides=values)
    if not values:
        return template
    edited = with_leaf_values(template, values, settings)
    if edited.order is template.order:  # the template's structure and shapes
        share_program(template, edited)
    return edited


PRESET_CACHE_SIZE = 64
_PRESET_GRAPHS: dict[int, tuple[dict[str, Node], Graph | None]] = {}
"""By the id of the validated nodes (kept in the entry, so the id is not reused); None for a
preset that does not fit the limits it was validated with."""
_PRESET_CACHE: dict[tuple[str, frozenset[str], Settings], dict[str, Node]] = {}


def check_variables(values: Mapping[str, Any], variables: Sequence[str]) -> None:
    """Every override of an expression names one of its variables."""
    for name in values:
        if name not in variables:
            raise GraphError(
                f"values.{name[:60]}: {quote(name)} is not a variable of the expression (its "
                f"variables: {', '.join(variables)})",
                field="values",
                node=name,
            )


def scalar_leaves(recorded: Trace) -> dict[str, float]:
    """The scalar inputs' values, where the symbolic derivatives are evaluated."""
    graph = recorded.graph
    return {n: float(recorded.values[n]) for n in graph.leaves() if recorded.values[n].ndim == 0}


def training_source(training: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The two-layer net of one iteration of a training run, replayed from its seed."""
    from pydantic import ValidationError

    from backprop_viz.training.replay import training_graph_spec
    from backprop_viz.training.settings import TrainTraceSettings

    try:
        settings = TrainTraceSettings.model_validate(training)
    except ValidationError as e:
        error = e.errors()[0]
        where = ".".join(str(part) for part in ("training", *error["loc"]))
        raise GraphError(f"{where}: {error['msg']}", field=where) from None
    try:
        spec = training_graph_spec(settings.run_settings(), settings.iteration)
    except GraphError as e:  # the run's own checks name its fields; here they sit in training
        field = f"training.{e.field}" if e.field else "training"
        message = e.message if e.message.startswith("training.") else f"training.{e.message}"
        raise GraphError(message, field=field, node=e.node) from None
    return spec["nodes"], spec["output"]
