"""One error model for every answer that is not a 200, and the handlers that produce it.

Every 4xx and 5xx body is ``{"detail": str, "field": str | null, "node": str | null}``, plus
``line`` and ``column`` for a formula: a graph the engine refuses (``GraphError``), a body
pydantic refuses (FastAPI's ``RequestValidationError``, mapped onto the same model), a body that
does not parse, an unknown example, a body too large, a server out of memory (503 with
``Retry-After``) and an unexpected exception (500, with no internals). The routes declare these
in /openapi.json with ``error_responses``, so the published contract is the one served.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from backprop_viz.core.graph import MAX_ID_LENGTH, GraphError, quote
from backprop_viz.encoding import dumps

logger = logging.getLogger("backprop_viz")

RETRY_AFTER_SECONDS = 10
MAX_LISTED_ERRORS = 3  # of a body with many validation errors, the first few are described


class ErrorResponse(BaseModel):
    """What every 4xx and 5xx answer carries."""

    detail: str = Field(
        description="What is wrong, in a sentence that starts with the field it is about.",
        examples=["graph.nodes[1].op: unknown op 'sqrt' in node 'y'"],
    )
    field: str | None = Field(
        description="Where in the request: a dotted path such as 'values.apple' or "
        "'graph.nodes[2].op', 'body' for the body as a whole; null if it is no one place.",
        examples=["graph.nodes[1].op"],
    )
    node: str | None = Field(
        description="The id of the node the error is about, if it is about one.", examples=["y"]
    )
    line: int | None = Field(
        default=None, description="For a formula: the 1-based line of the error."
    )
    column: int | None = Field(
        default=None, description="For a formula: the 1-based column of the error."
    )


class SafeJSONResponse(JSONResponse):
    """JSON that any string encodes into: FastAPI's default fails on a lone surrogate such as
    "\\ud800", which a client can send in an id or a key; ``dumps`` escapes it."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


def error_body(
    detail: str, field: str | None = None, node: str | None = None, **where: int | None
) -> dict[str, Any]:
    """The error model as a dict; ``where`` is line/column, left out when not known."""
    body: dict[str, Any] = {"detail": detail, "field": field, "node": node}
    body.update({key: value for key, value in where.items() if value is not None})
    return body


def error_response(
    status: int,
    detail: str,
    field: str | None = None,
    node: str | None = None,
    headers: dict[str, str] | None = None,
    **where: int | None,
) -> SafeJSONResponse:
    """An error answer in the one model."""
    return SafeJSONResponse(
        status_code=status, content=error_body(detail, field, node, **where), headers=headers
    )


# --- what /openapi.json declares -------------------------------------------------------------

ERROR_DESCRIPTIONS = {
    404: "No example with that id; 'detail' names it and lists the known ones, 'field' is "
    "'example_id'.",
    408: "The body did not arrive within BPV_BODY_TIMEOUT seconds of the headers; 'field' is "
    "'body', and the connection is closed.",
    413: "The body is larger than BPV_MAX_BODY_BYTES; 'field' is 'body'.",
    422: "The request cannot be traced as sent: 'field' says where ('graph.nodes[2].op', "
    "'values.apple', 'expression', or 'body' for a body that is not JSON, not UTF-8, nested "
    "too deeply or with a number of more than 4300 digits) and 'node' which node; an error in "
    "a formula adds 'line' and 'column'.",
    429: "This worker already runs BPV_TRAIN_MAX_STREAMS training runs; try again when one ends.",
    500: "A bug in the server. The body says 'internal error' and nothing else.",
    503: "The server ran out of memory for this request, or is too busy: retry after the "
    "seconds in Retry-After. A heavy request (a large trace, a gradient check) first waits "
    "in line for a place, up to BPV_HEAVY_QUEUE_WAIT seconds and at most BPV_HEAVY_QUEUE "
    "requests per worker; this answer comes when the line is full or the wait runs out. A "
    "heavy request past its time limit is a 503 without Retry-After.",
}

RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}

# Any route can answer these: a body too slow or over the limit is refused before routing, and
# memory can run out (or a bug show) anywhere. (Headers too large are answered 431 with no body
# by the HTTP protocol itself, before any route: see app/web/connections.py.)
ALWAYS_POSSIBLE = (408, 413, 500, 503)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: its own error statuses and those any route can answer,
    each with the error model as its body."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*statuses, *ALWAYS_POSSIBLE}):
        responses[status] = {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[status]}
        if status == 503:
            responses[status]["headers"] = RETRY_AFTER_HEADER
    return responses


# --- handlers ----------------------------------------------------------------------------------


async def graph_error_handler(request: Request, exc: Exception) -> SafeJSONResponse:
    """A graph, value or formula the engine refuses: 422 naming the field and the node."""
    assert isinstance(exc, GraphError)
    return error_response(
        422,
        exc.message,
        exc.field,
        exc.node,
        line=getattr(exc, "line", None),
        column=getattr(exc, "column", None),
    )


async def validation_error_handler(request: Request, exc: Exception) -> SafeJSONResponse:
    """Pydantic's list of errors as one readable sentence in the one model. Never the input
    itself: a rejected body of megabytes must not come back as a response of megabytes."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if not errors:  # not seen, but the model needs a sentence
        return error_response(422, "body: the request is not valid", "body")
    body = getattr(exc, "body", None)
    described = [describe_validation_error(e, body) for e in errors[:MAX_LISTED_ERRORS]]
    detail = "; ".join(text for text, _, _ in described)
    if len(errors) > MAX_LISTED_ERRORS:
        detail += f"; and {len(errors) - MAX_LISTED_ERRORS} more"
    _, field, node = described[0]
    return error_response(422, detail, field, node)


async def http_error_handler(request: Request, exc: Exception) -> SafeJSONResponse:
    """Starlette's and FastAPI's HTTP errors in the one model. A body that FastAPI cannot parse
    (not UTF-8, too deep, a number too long) is a 400 there; here it is a 422 like every other
    body that cannot be used, so a client handles one status and one shape for them all."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.__cause__ is not None:
        if is_out_of_memory(exc.__cause__):  # parsing a body can run out of memory too
            return out_of_memory_response()
        return error_response(422, unparsable_body_message(exc.__cause__), "body")
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    field = None
    if exc.status_code == 413:
        field = "body"
    elif exc.status_code == 404 and len(request.path_params) == 1:
        # a route that matched but has nothing under its one path parameter: it names that
        (field,) = request.path_params
    return error_response(exc.status_code, detail, field, headers=getattr(exc, "headers", None))


def out_of_memory_response() -> SafeJSONResponse:
    """503 with Retry-After: the request may well succeed when the server is less loaded."""
    return error_response(
        503,
        "the server ran out of memory for this request; retry later, or send a smaller one",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def internal_error_response() -> SafeJSONResponse:
    """500 that says nothing of the code: the traceback goes to the log, not to the client."""
    return error_response(500, "internal error")


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` in the one model (the catch-all is in the app's middleware,
    see ``unexpected_error_response``, so that it sits inside the security headers), and
    publish that model where FastAPI would declare its own validation error."""
    app.add_exception_handler(GraphError, graph_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    fastapi_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_error_model_for_validation(fastapi_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_error_model_for_validation(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI adds a 422 with its ``HTTPValidationError`` (``detail`` an array) to a route
    that declares none, such as one with only a path parameter; the handler above answers those
    in ``ErrorResponse``, so that is what the schema says."""
    ref = "#/components/schemas/ErrorResponse"
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            response = operation.get("responses", {}).get("422")
            content = (response or {}).get("content", {}).get("application/json", {})
            if content.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                response["description"] = ERROR_DESCRIPTIONS[422]
                content["schema"] = {"$ref": ref}
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema


def unexpected_error_response(exc: Exception, scope: Scope) -> SafeJSONResponse:
    """The catch-all's answer to an exception no handler took: a JSON 500 that says nothing of
    the code (the traceback goes to the log), or for a MemoryError a 503 with Retry-After.

    Starlette's own catch-all (``ServerErrorMiddleware``) is outside every middleware the app
    adds, so its plain-text 500 had no security headers; ``web.guard.RequestGuard`` calls this
    inside the security headers, so every answer gets them.
    """
    if is_out_of_memory(exc):
        logger.error("out of memory on %s %s", scope.get("method"), scope.get("path"))
        return out_of_memory_response()
    logger.exception("internal error on %s %s", scope.get("method"), scope.get("path"))
    return internal_error_response()


def is_out_of_memory(exc: BaseException) -> bool:
    """A MemoryError, also when a task group wrapped it."""
    if isinstance(exc, MemoryError):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(MemoryError) is not None
    return False


# --- words -----------------------------------------------------------------------------------

PYDANTIC_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this request",
}


def describe_validation_error(error: dict[str, Any], body: Any) -> tuple[str, str, str | None]:
    """One pydantic error as (sentence, field, node)."""
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "json_invalid":
        reason = (error.get("ctx") or {}).get("error") or "not JSON"
        position = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
        at = f" at character {position}" if position is not None else ""
        return f"body: JSON decode error: {reason}{at}", "body", None
    field = location(loc)
    node = node_at(loc, body)
    message = PYDANTIC_MESSAGES.get(error.get("type", ""), str(error.get("msg", "is not valid")))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    where = f"{field} (node {quote(node)})" if node is not None else field
    return f"{where}: {message}"[:500], field, node


def location(loc: tuple[Any, ...]) -> str:
    """('body', 'graph', 'nodes', 2, 'op') -> 'graph.nodes[2].op'; the body itself -> 'body'."""
    parts = list(loc[1:] if loc and loc[0] in ("body", "path", "query", "header") else loc)
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = str(part)
            name = name if len(name) <= 60 else name[:57] + "..."
            text += f".{name}" if text else name
    return text or "body"


def node_at(loc: tuple[Any, ...], body: Any) -> str | None:
    """The node an error is about: graph.nodes[i] names the id of node i, values.<id> its key."""
    if len(loc) >= 3 and loc[0] == "body" and loc[1] == "values" and isinstance(loc[2], str):
        return loc[2][:MAX_ID_LENGTH]
    if len(loc) >= 4 and loc[:3] == ("body", "graph", "nodes") and isinstance(loc[3], int):
        try:
            node_id = body["graph"]["nodes"][loc[3]]["id"]
        except (KeyError, IndexError, TypeError):
            return None
        return node_id[:MAX_ID_LENGTH] if isinstance(node_id, str) else None
    return None


def unparsable_body_message(cause: BaseException) -> str:
    """Why FastAPI could not parse a body, without echoing it."""
    if isinstance(cause, RecursionError):
        return "body: the JSON is nested too deeply to parse"
    if isinstance(cause, UnicodeDecodeError):
        return (
            f"body: the request body is not valid UTF-8 (byte 0x{cause.object[cause.start]:02x} "
            f"at position {cause.start})"
        )
    if isinstance(cause, ValueError) and "integer string conversion" in str(cause):
        return f"body: a number has more than {sys.get_int_max_str_digits()} digits"
    return "body: the request body could not be parsed as JSON"
