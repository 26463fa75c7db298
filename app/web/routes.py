"""The REST API: thin handlers over the examples, the op catalogue and the engine."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel

from backprop_viz import __version__, paths, service
from backprop_viz.core.ops import OPS, op_summary
from backprop_viz.encoding import dumps
from backprop_viz.examples import EXAMPLES
from backprop_viz.formulas.parser import parse_expression
from backprop_viz.settings import Settings
from backprop_viz.web.direct_body import DirectBodyRoute
from backprop_viz.web.errors import SafeJSONResponse, error_responses
from backprop_viz.web.limits import heavy_work, trace_is_heavy, trace_is_tiny
from backprop_viz.web.schemas import (
    ExampleDetail,
    ExampleSummary,
    GradcheckRequest,
    GradcheckResponse,
    Health,
    OpInfo,
    ParseRequest,
    ParseResponse,
    PathsRequest,
    PathsResponse,
    TraceRequest,
    TraceResponse,
    TraceSource,
)

router = APIRouter(
    prefix="/api", default_response_class=SafeJSONResponse, route_class=DirectBodyRoute
)


@router.get("/health", response_model=Health, responses=error_responses())
def get_health() -> dict[str, str]:
    """Liveness: the server answers."""
    return {"status": "ok", "version": __version__}


@router.get("/ops", response_model=list[OpInfo], responses=error_responses())
def list_ops() -> list[dict[str, Any]]:
    """Every op: arity, symbol, formulas, the source of its layer class, its formula function,
    whether it expands (and into which ops), and whether it has a sympy form and a JVP."""
    return [op_summary(op) for op in OPS.values()]


@router.get("/examples", response_model=list[ExampleSummary], responses=error_responses())
def list_examples() -> list[dict[str, Any]]:
    """The chapter 5 presets, in the book's order."""
    return [example.summary() for example in EXAMPLES.values()]


@router.get("/examples/{example_id}", response_model=ExampleDetail, responses=error_responses(404))
def get_example(
    example_id: Annotated[
        str,
        Path(
            description="A preset id from GET /api/examples.",
            examples=["apple"],
            json_schema_extra={"enum": list(EXAMPLES)},
        ),
    ],
) -> dict[str, Any]:
    """One preset with its graph spec and the book's values."""
    try:
        example = service.find_example(example_id)
    except service.UnknownExample as e:
        raise HTTPException(status_code=404, detail=e.reason) from None
    return example.detail()


@router.post(
    "/trace",
    response_model=TraceResponse,
    responses=error_responses(422),
)
@heavy_work(when=trace_is_heavy, inline=trace_is_tiny)
def create_trace(body: TraceRequest, request: Request) -> Response:
    """Run forward and backward and return every step, value and gradient."""
    result = service.trace(query_of(body), settings_of(request))
    return Response(result.to_json_bytes(), media_type="application/json")


@router.post(
    "/parse",
    response_model=ParseResponse,
    response_model_exclude_none=True,
    responses=error_responses(422),
)
def parse_formula(body: ParseRequest) -> dict[str, Any]:
    """The graph spec of an expression, without running it."""
    parsed = parse_expression(body.expression)
    return {
        "graph": {"nodes": parsed.nodes, "output": parsed.output},
        "variables": parsed.variables,
    }


@router.post("/gradcheck", response_model=GradcheckResponse, responses=error_responses(422))
@heavy_work()
def check_gradients(body: GradcheckRequest, request: Request) -> dict[str, Any]:
    """The book's gradient check: backprop against the numerical gradient, leaf by leaf."""
    return service.check_gradients(
        query_of(body),
        settings_of(request),
        h=body.h,
        rtol=body.rtol,
        atol=body.atol,
        max_evaluations=body.max_evaluations,
        seed=body.seed,
    )


@router.post(
    "/paths",
    response_model=PathsResponse,
    response_model_by_alias=True,
    responses=error_responses(422),
)
@heavy_work(when=trace_is_heavy)
def sum_over_paths(body: PathsRequest, request: Request) -> Response:
    """Every path from an input to a node (default the output) of a scalar graph, the product
    of the local derivatives along each, and their sum, which is the derivative (Olah's
    de/db = 1·2 + 1·3 = 5). Paths are counted first; more than 1,000 is a 422, not a hang."""
    result = paths.paths(query_of(body), body.from_, body.to, settings_of(request))
    return Response(dumps(result), media_type="application/json")


def query_of(body: TraceSource) -> service.TraceQuery:
    """The service's query for a request body: the fields it sets (not null), a nested model
    (the graph spec, a training run's settings) as plain dicts with the fields it left unset
    (null) left out, as a spec written by hand would (``model_dump(exclude_none=True)`` of the
    query's fields, without walking the body's plain values: ~2 µs of a small trace)."""
    fields: dict[str, Any] = {}
    for name in query_fields(type(body)):
        value = getattr(body, name)
        if value is not None:
            fields[name] = (
                value.model_dump(exclude_none=True) if isinstance(value, BaseModel) else value
            )
    return service.TraceQuery(**fields)


@functools.cache
def query_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of a request model that are the service's query's."""
    return tuple(name for name in model.model_fields if name in service.QUERY_FIELDS)


def settings_of(request: Request) -> Settings:
    """The limits the app was created with."""
    return request.app.state.settings
