"""A route whose JSON body goes straight to its endpoint: FastAPI's own validation, without the
generic request handler around it.

For every request FastAPI 0.165's handler parses the Content-Type with ``email.message``, reads
and decodes the body, then solves the route's dependencies (the body field and the ``Request``),
whatever the route needs: about 10 µs of a small trace's ~125 µs in process, as much as the
trace's own arithmetic. A route with nothing but a JSON body and the request needs none of that.

``DirectBodyRoute`` gives such a route (a single, not embedded body model, optionally the
``Request``, no other parameters or dependencies, an endpoint annotated to return a
``Response``) a handler that, for a body sent as ``Content-Type: application/json``:

- reads it and parses it as Starlette's ``Request.json()`` does, which FastAPI calls
  (``json.loads``), and keeps both where that keeps them,
- validates it with the route's own body field (``ModelField.validate``, the same call with the
  same ``loc`` that FastAPI's ``request_body_to_args`` makes for such a body),
- and calls the endpoint with it and the request.

So it accepts exactly what FastAPI accepts, with the same values. Anything else (another or no
Content-Type, an empty body, invalid JSON, a body that fails validation) goes to FastAPI's own
handler, which answers it exactly as it always has (the 422 and its error list; the parsed body
is cached on the request, so nothing is read twice). Every other route of the router gets
FastAPI's handler unchanged, and /openapi.json is the same: the route is declared as before.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import params
from fastapi.dependencies.utils import get_typed_return_annotation
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

JSON_CONTENT_TYPE = b"application/json"

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class DirectBodyRoute(APIRoute):
    """An APIRoute that calls its endpoint directly with its validated JSON body, where the
    route is simple enough (see the module's docstring); FastAPI's handler otherwise."""

    def get_route_handler(self) -> Handler:
        standard = super().get_route_handler()
        if not takes_only_a_json_body(self):
            return standard
        assert self.body_field is not None
        body_field = self.body_field
        body_name = self.dependant.body_params[0].name
        request_name = self.dependant.request_param_name
        call = self.dependant.call
        assert call is not None
        is_coroutine = inspect.iscoroutinefunction(call)

        async def handler(request: Request) -> Response:
            if not sent_as_json(request):
                return await standard(request)
            try:
                # Request.json() parses the body read_body keeps: json.loads, once
                payload = await request.json() if await read_body(request) else None
            except HTTPException:  # the guard's 413, 408, 503 at the read: FastAPI's too
                raise
            except Exception:  # invalid JSON or UTF-8, a disconnect: FastAPI says which
                return await standard(request)
            if payload is None:  # no body, or the body `null`: FastAPI's error
                return await standard(request)
            body, errors = body_field.validate(payload, {}, loc=("body",))
            if errors:
                return await standard(request)
            arguments = {body_name: body}
            if request_name is not None:
                arguments[request_name] = request
            if is_coroutine:
                response = await call(**arguments)
            else:
                response = await run_in_threadpool(call, **arguments)
            if not isinstance(response, Response):
                raise TypeError(f"{self.path}: the endpoint must return a Response")
            return response

        return handler


def takes_only_a_json_body(route: APIRoute) -> bool:
    """True for a route whose endpoint takes one JSON body model (not embedded, not a form)
    and at most the Request, has no dependencies, and is annotated to return a Response."""
    dependant = route.dependant
    if route.body_field is None or len(dependant.body_params) != 1 or route._embed_body_fields:
        return False
    if isinstance(route.body_field.field_info, params.Form | params.File):
        return False
    if dependant.path_params or dependant.query_params or dependant.header_params:
        return False
    if dependant.cookie_params or dependant.dependencies:
        return False
    others = (
        dependant.websocket_param_name,
        dependant.http_connection_param_name,
        dependant.response_param_name,
        dependant.background_tasks_param_name,
        dependant.security_scopes_param_name,
    )
    if any(name is not None for name in others) or dependant.call is None:
        return False
    returns = get_typed_return_annotation(dependant.call)
    return inspect.isclass(returns) and issubclass(returns, Response)


async def read_body(request: Request) -> bytes:
    """The whole body, read as Starlette's ``Request.body()`` reads it (and kept where it keeps
    it), without its async generator: a disconnect before the end raises ClientDisconnect."""
    if hasattr(request, "_body"):
        return request._body
    chunks: list[bytes] = []
    more = True
    while more:
        message = await request.receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        elif message["type"] == "http.disconnect":
            request._is_disconnected = True
            raise ClientDisconnect()
    request._stream_consumed = True
    request._body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return request._body


def sent_as_json(request: Request) -> bool:
    """The request's Content-Type is exactly ``application/json`` (any other spelling, a
    charset, ``+json``, goes through FastAPI's own parsing of the header)."""
    for name, value in request.scope["headers"]:
        if name == b"content-type":
            return value == JSON_CONTENT_TYPE
    return False
