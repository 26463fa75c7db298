"""The REST API: thin handlers over the examples, the op catalogue and the engine."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from backprop_viz import __version__
from backprop_viz.checks.gradcheck import gradient_check
from backprop_viz.core.engine import run_graph
from backprop_viz.core.graph import Graph, quote
from backprop_viz.core.ops import OPS
from backprop_viz.encoding import dumps, trace_to_json
from backprop_viz.examples import EXAMPLES
from backprop_viz.formulas.parser import parse_expression
from backprop_viz.formulas.symbolic import symbolic_report
from backprop_viz.settings import Settings
from backprop_viz.sources import build_source_graph
from backprop_viz.web.schemas import (
    ExampleDetail,
    ExampleSummary,
    GradcheckRequest,
    GradcheckResponse,
    Health,
    OpInfo,
    ParseRequest,
    ParseResponse,
    TraceRequest,
    TraceResponse,
)

router = APIRouter(prefix="/api")


@router.get("/health", response_model=Health)
def get_health() -> dict[str, str]:
    """Liveness: the server answers."""
    return {"status": "ok", "version": __version__}


@router.get("/ops", response_model=list[OpInfo])
def list_ops() -> list[dict[str, Any]]:
    """Every op: arity, symbol, formulas and the source of its layer class."""
    return [
        {
            "name": op.name,
            "arity": op.arity,
            "inputs": list(op.inputs),
            "symbol": op.symbol_for(op.check({}) if op.check else {}),  # pow: **2
            "box": op.box,
            "layer": op.layer.__name__ if op.layer else None,
            "forward": op.forward,
            "backward": list(op.backward),
            "params": op.params,
            "description": op.description,
            "source": op.source,
        }
        for op in OPS.values()
    ]


@router.get("/examples", response_model=list[ExampleSummary])
def list_examples() -> list[dict[str, Any]]:
    """The chapter 5 presets, in the book's order."""
    return [example.summary() for example in EXAMPLES.values()]


@router.get("/examples/{example_id}", response_model=ExampleDetail)
def get_example(example_id: str) -> dict[str, Any]:
    """One preset with its graph spec and the book's values."""
    example = EXAMPLES.get(example_id)
    if example is None:
        raise HTTPException(
            status_code=404,
            detail=f"no example with id {quote(example_id)}; known: {', '.join(EXAMPLES)}",
        )
    return example.detail()


@router.post(
    "/trace",
    response_model=TraceResponse,
    responses={422: {"description": "The request names a bad field or node; see 'detail'."}},
)
def create_trace(body: TraceRequest, request: Request) -> Response:
    """Run forward and backward and return every step, value and gradient."""
    settings: Settings = request.app.state.settings
    graph, dout = build_request_graph(body, settings)
    trace = run_graph(graph, dout)
    payload = trace_to_json(trace, settings.inline_elements, full=body.full)
    if body.expression is not None:
        scalars = {
            n: float(trace.values[n])
            for n in graph.order
            if graph.nodes[n].is_leaf and trace.values[n].ndim == 0
        }
        payload["symbolic"] = symbolic_report(body.expression, scalars)
    return Response(dumps(payload), media_type="application/json")


@router.post("/parse", response_model=ParseResponse, response_model_exclude_none=True)
def parse_formula(body: ParseRequest) -> dict[str, Any]:
    """The graph spec of an expression, without running it."""
    parsed = parse_expression(body.expression)
    return {
        "graph": {"nodes": parsed.nodes, "output": parsed.output},
        "variables": parsed.variables,
    }


@router.post("/gradcheck", response_model=GradcheckResponse)
def check_gradients(body: GradcheckRequest, request: Request) -> dict[str, Any]:
    """The book's gradient check: backprop against the numerical gradient, leaf by leaf."""
    settings: Settings = request.app.state.settings
    graph, dout = build_request_graph(body, settings)
    return gradient_check(
        graph,
        dout,
        h=body.h,
        rtol=body.rtol,
        atol=body.atol,
        max_evaluations=body.max_evaluations,
        seed=body.seed,
    )


def build_request_graph(body: TraceRequest, settings: Settings) -> tuple[Graph, Any]:
    """The validated graph of whichever source the request gave, and the seed gradient."""
    graph_nodes = output = None
    if body.graph is not None:
        graph_nodes = [node.model_dump(exclude_none=True) for node in body.graph.nodes]
        output = body.graph.output
    return build_source_graph(
        settings,
        example=body.example,
        nodes=graph_nodes,
        output=output,
        expression=body.expression,
        values=body.values,
        expand=body.expand,
        dout=body.dout,
        training=body.training,
    )
