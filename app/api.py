"""The Python API: the REST API's requests as function calls, through the same service.

::

    import backprop_viz as bv

    t = bv.trace("apple")                      # a preset, as POST /api/trace {"example": ...}
    t.values["price"], t.grads["apple"]        # 220.00000000000003, 2.2
    print(t.table())                           # the steps, as `backprop-viz trace apple` prints
    t.to_json()                                # exactly the body of POST /api/trace
    bv.trace(expression="(x + y) ** 2", values={"x": 1, "y": 2}).grads["x"]   # 6.0
    bv.gradient_check("apple").ok              # True

Nothing here talks to a server: the service runs in this process, with the default limits
(``Settings()``) unless ``settings`` is given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from backprop_viz import service
from backprop_viz.core.engine import Trace as RecordedTrace
from backprop_viz.core.steps import Step
from backprop_viz.encoding import dumps
from backprop_viz.settings import Settings
from backprop_viz.table import trace_table


def plain(value: np.ndarray | None) -> float | np.ndarray | None:
    """A 0-d array as a float; other arrays as they are (read-only, as the trace keeps them)."""
    if value is None:
        return None
    return float(value) if np.ndim(value) == 0 else value


class Trace:
    """One traced forward and backward pass: values, gradients, typed steps and warnings."""

    def __init__(
        self,
        result: service.TraceResult,
        title: str,
        query: service.TraceQuery | None = None,
        settings: Settings | None = None,
    ):
        self.result = result
        self.title = title
        self.query = query
        """The request it answers (None for a trace that cannot be re-run, like check_layer's)."""
        self.settings = settings

    @property
    def recorded(self) -> RecordedTrace:
        """The engine's trace (graph, values and gradients as arrays, edge gradients)."""
        return self.result.trace

    @property
    def values(self) -> dict[str, float | np.ndarray]:
        """Every node's forward value, by id: a float for a scalar, else an array."""
        return {n: plain(v) for n, v in self.recorded.values.items()}

    @property
    def grads(self) -> dict[str, float | np.ndarray | None]:
        """d output / d node, by id; None where the gradient does not reach (and for data)."""
        return {n: plain(g) for n, g in self.recorded.grads.items()}

    @property
    def output(self) -> float | np.ndarray:
        """The output node's value."""
        return plain(self.recorded.output)

    @property
    def steps(self) -> list[Step]:
        """The typed steps (``backprop_viz.core.steps``): ForwardStep, BackwardStep,
        AccumulateStep, in the order the page plays them. A list of its own (a scalar graph's
        trace makes its steps lazily, read-only): the caller may change it."""
        return list(self.recorded.steps)

    @property
    def warnings(self) -> list[dict[str, str]]:
        """Where a value or gradient first stops being finite, or a gradient does not reach."""
        return self.recorded.warnings

    def to_json(self) -> dict[str, Any]:
        """Exactly the JSON that ``POST /api/trace`` returns for the same request."""
        return json.loads(dumps(self.result.to_json()))

    def table(self) -> str:
        """The readable table of ``backprop-viz trace``: steps, then the leaves' gradients."""
        return trace_table(self.recorded, self.title)

    def to_html(self, path: Any = None, *, lang: str = "en") -> str:
        """One self-contained HTML file that plays this trace offline; written to ``path`` if
        given. Returns the HTML."""
        from backprop_viz.export import trace_html

        html = trace_html(self.to_json(), title=self.title, lang=lang)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(html)
        return html

    def with_value(self, node: str, value: Any) -> Trace:
        """The same request with one more leaf value (as the page re-traces an edit)."""
        from backprop_viz.core.graph import GraphError

        if self.query is None:
            raise GraphError("this trace cannot be re-run with new values", field="values")
        values = {**self.query.values, str(node): listed(value)}
        query = replace(self.query, values=values)
        settings = self.settings or Settings()
        return Trace(service.trace(query, settings), self.title, query, self.settings)

    def show(self, lang: str = "en"):
        """The interactive viewer inline in a notebook (an ``anywidget.AnyWidget``); editing a
        leaf on the graph re-traces in this kernel."""
        try:
            from backprop_viz.notebook import TraceWidget
        except ImportError as e:
            raise ImportError(
                "trace.show() needs anywidget: pip install 'backprop-viz[notebook]'"
            ) from e
        return TraceWidget(self, lang=lang)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Jupyter shows the widget (with this repr as its text); without anywidget, the repr."""
        try:
            bundle = self.show()._repr_mimebundle_(**kwargs)
        except ImportError:
            return {"text/plain": repr(self)}
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        graph = self.recorded.graph
        output = self.recorded.output
        shown = f"{float(output):.10g}" if output.ndim == 0 else f"array{list(output.shape)}"
        return (
            f"<Trace {self.title!r}: {len(graph.order)} nodes, {len(self.steps)} steps, "
            f"{graph.output} = {shown}>"
        )


def query_of(
    example: str | None,
    graph: Mapping[str, Any] | None,
    expression: str | None,
    training: Mapping[str, Any] | None,
    values: Mapping[str, Any] | None,
    dout: Any,
    expand: Sequence[str],
    full: bool = False,
) -> service.TraceQuery:
    """The service's query; the values may be NumPy arrays (sent as nested lists)."""
    return service.TraceQuery(
        example=example,
        graph=graph,
        expression=expression,
        training=training,
        values={k: listed(v) for k, v in (values or {}).items()},
        dout=listed(dout),
        expand=list(expand),
        full=full,
    )


def listed(value: Any) -> Any:
    """A NumPy array or number as the JSON-like value a request carries."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    return value


def title_of(query: service.TraceQuery) -> str:
    """The table's first line: the preset's title, the formula, or what the graph is."""
    if query.example is not None:
        example = service.find_example(query.example)
        return f"{example.title['en']} ({example.section})"
    if query.expression is not None:
        return query.expression
    if query.training is not None:
        return f"training iteration {query.training.get('iteration', 0)}"
    return f"graph (output {query.graph.get('output')})" if query.graph else "graph"


def trace(
    example: str | None = None,
    *,
    graph: Mapping[str, Any] | None = None,
    expression: str | None = None,
    training: Mapping[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
    dout: Any = None,
    expand: Sequence[str] = (),
    full: bool = False,
    settings: Settings | None = None,
) -> Trace:
    """Trace exactly one of a preset ``example``, a ``graph`` spec, an ``expression`` or an
    iteration of a ``training`` run, as ``POST /api/trace`` does; a ``GraphError`` (a
    ValueError) names the field and node of a bad request."""
    query = query_of(example, graph, expression, training, values, dout, expand, full)
    result = service.trace(query, settings or Settings())
    return Trace(result, title_of(query), query, settings)


class GradientCheck:
    """The result of ``POST /api/gradcheck``: ``ok``, per leaf the errors, what was skipped.

    Every key of the API's JSON is an attribute (``check.leaves``, ``check.complete``...);
    ``result`` is the JSON itself.
    """

    def __init__(self, result: dict[str, Any]):
        self.result = result

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["result"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        r = self.result
        verdict = "ok" if r["ok"] else "FAILED"
        lines = [
            f"gradient check: {verdict} (h={r['h']:g}, rtol={r['rtol']:g}, atol={r['atol']:g}; "
            f"{r['checked']} of {r['elements']} elements, {r['evaluations']} forward passes"
            + (", stopped by the time limit" if r["timed_out"] else "")
            + ")"
        ]
        for leaf in r["leaves"]:
            mark = {True: "ok", False: "FAIL", None: "unchecked"}[leaf["ok"]]
            sampled = f", {leaf['checked']} sampled" if leaf["sampled"] else ""
            lines.append(
                f"  {leaf['node']:<12} {mark:<9} max abs error {number(leaf['max_abs_error'])}, "
                f"max rel error {number(leaf['max_rel_error'])} (shape {leaf['shape']}{sampled})"
            )
        for skipped in r["skipped"]:
            lines.append(f"  {skipped['node']:<12} skipped   {skipped['reason']}")
        return "\n".join(lines)


def gradient_check(
    example: str | None = None,
    *,
    graph: Mapping[str, Any] | None = None,
    expression: str | None = None,
    training: Mapping[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
    dout: Any = None,
    expand: Sequence[str] = (),
    h: float = 1e-4,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    max_evaluations: int = 2000,
    seed: int = 0,
    settings: Settings | None = None,
) -> GradientCheck:
    """The book's gradient check (5.7.3) of the same requests as ``trace``, with the options
    of ``POST /api/gradcheck``; the result is the API's JSON."""
    query = query_of(example, graph, expression, training, values, dout, expand)
    result = service.check_gradients(
        query,
        settings or Settings(),
        h=h,
        rtol=rtol,
        atol=atol,
        max_evaluations=max_evaluations,
        seed=seed,
    )
    # Through the route's response model, so the fields the route fills in (null samples of a
    # leaf listed whole) are here too: the same JSON as POST /api/gradcheck.
    from backprop_viz.web.schemas import GradcheckResponse

    return GradientCheck(GradcheckResponse.model_validate(result).model_dump(mode="json"))


def number(x: Any) -> str:
    """An error as 3 significant digits; None (unchecked) as "-", "NaN" as it is."""
    return f"{x:.3g}" if isinstance(x, int | float) else ("-" if x is None else str(x))
