"""The REST API: thin handlers over the examples, the op catalogue and the engine."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from app import __version__
from app.composites import expand_composites
from app.encoding import dumps, trace_to_json
from app.engine import run_graph
from app.examples import EXAMPLES
from app.expressions import parse_expression
from app.gradcheck import gradient_check
from app.graph import Graph, GraphError, build_graph
from app.ops import OPS
from app.schemas import (
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
from app.settings import Settings

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
            "symbol": op.symbol,
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
            detail=f"no example with id {example_id!r}; known: {', '.join(EXAMPLES)}",
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
        from app.symbolic import symbolic_report  # imports sympy on first use

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
    default_dout = None
    if body.example is not None:
        example = EXAMPLES.get(body.example)
        if example is None:
            raise GraphError(
                f"example: no preset {body.example!r}; known: {', '.join(EXAMPLES)}",
                field="example",
            )
        nodes, output, default_dout = example.nodes, example.output, example.dout
    elif body.expression is not None:
        parsed = parse_expression(body.expression)
        nodes, output = parsed.nodes, parsed.output
    else:
        assert body.graph is not None
        nodes = [node.model_dump(exclude_none=True) for node in body.graph.nodes]
        output = body.graph.output
    nodes = expand_composites(nodes, body.expand)
    graph = build_graph(nodes, output, settings, overrides=body.values)
    return graph, body.dout if body.dout is not None else default_dout
