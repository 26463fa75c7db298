"""What a request names (a preset, a graph spec or a formula) as a validated graph.

Shared by the REST API and the command line, so both accept the same sources with the same
errors: the overrides in ``values``, the composites to ``expand`` and the seed ``dout``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from backprop_viz.core.composites import expand_composites
from backprop_viz.core.graph import Graph, GraphError, build_graph, quote
from backprop_viz.examples import EXAMPLES
from backprop_viz.formulas.parser import parse_expression
from backprop_viz.settings import Settings


def build_source_graph(
    settings: Settings,
    *,
    example: str | None = None,
    nodes: Sequence[Mapping[str, Any]] | None = None,
    output: str | None = None,
    expression: str | None = None,
    values: Mapping[str, Any] | None = None,
    expand: Sequence[str] = (),
    dout: Any = None,
    training: Any = None,
) -> tuple[Graph, Any]:
    """The graph of exactly one source, with the seed gradient to use (the preset's unless
    ``dout`` is given)."""
    values = values or {}
    default_dout = None
    if example is not None:
        preset = EXAMPLES.get(example)
        if preset is None:
            raise GraphError(
                f"example: no preset {quote(example)}; known: {', '.join(EXAMPLES)}",
                field="example",
            )
        nodes, output, default_dout = preset.nodes, preset.output, preset.dout
    elif expression is not None:
        parsed = parse_expression(expression)
        for name in values:
            if name not in parsed.variables:
                raise GraphError(
                    f"values.{name[:60]}: {quote(name)} is not a variable of the expression (its "
                    f"variables: "
                    f"{', '.join(parsed.variables)})",
                    field="values",
                    node=name,
                )
        nodes, output = parsed.nodes, parsed.output
    elif training is not None:  # a TrainTraceSettings: one iteration of a training run
        from backprop_viz.training.replay import training_graph_spec

        spec = training_graph_spec(training.run_settings(), training.iteration)
        nodes, output = spec["nodes"], spec["output"]
    if nodes is None or output is None:
        raise GraphError("give exactly one of 'graph', 'example' or 'expression'", field="body")
    nodes = expand_composites(list(nodes), expand)
    graph = build_graph(nodes, output, settings, overrides=values)
    return graph, dout if dout is not None else default_dout
