"""Heavy work (large traces, gradient checks, training) kept from starving light requests.

One ``HeavyWork`` limiter per app, so per worker process:

- at most ``BPV_HEAVY_IN_FLIGHT`` heavy requests run at once, in the limiter's own thread pool
  of that size (so they never take the threads of anyio's default pool that light requests use,
  and never run on the event loop); one more is answered at once with a 503 and ``Retry-After``
  (no queue: a queue would only make every client wait longer, and tell no one to come back);
- each has ``BPV_HEAVY_TIME_LIMIT`` seconds from its admission. The work checks the deadline
  itself (``backprop_viz.deadline``: once per node of the engine, per evaluation of the gradient
  check) and stops; the answer is then a 503 naming the limit. Should the work not notice (a
  long call into NumPy), the request is answered anyway a second after the limit, and its place
  stays taken until its thread really ends, so the cap always counts the threads at work.

A route becomes heavy work with the ``heavy_work`` decorator, placed under the router's::

    @router.post("/trace", ...)
    @heavy_work(when=trace_is_heavy)
    def create_trace(body: TraceRequest, request: Request) -> Response: ...

Without ``when`` every request of the route is heavy. The request is admitted before its body is
read when it is known heavy from its size alone (a body over ``BPV_HEAVY_BODY_BYTES`` or of no
declared length, or a route heavy for every request), so refusing a flood of large bodies costs
no parsing; otherwise it is judged on its parsed body.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backprop_viz.deadline import DeadlineExceeded, deadline_after
from backprop_viz.settings import Settings

RETRY_AFTER_SECONDS = 1
# How long after the time limit a request whose work did not check its deadline is answered.
UNCOOPERATIVE_GRACE_SECONDS = 1.0
SLOT_KEY = "backprop_viz.heavy_slot"

Predicate = Callable[[Request, dict[str, Any]], bool]

# What a heavy route adds to its documented responses (for ``responses=`` on the route).
HEAVY_WORK_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "Too many heavy requests at once (with Retry-After), or the request ran "
        "past the time limit for heavy work; 'detail' says which.",
    }
}


class Slot:
    """One admitted heavy request's place under the cap, released exactly once: by its thread
    when the work ends, or by the admission middleware if the route never ran."""

    def __init__(self, semaphore: threading.BoundedSemaphore):
        self.start = time.monotonic()
        self.handed_off = False
        self._semaphore = semaphore
        self._lock = threading.Lock()
        self._released = False

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._semaphore.release()


class HeavyWork:
    """The in-flight cap, the thread pool and the time limit of one app's heavy requests."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.max_in_flight = settings.heavy_in_flight
        self.time_limit = settings.heavy_time_limit
        self.enabled = True  # False runs heavy routes as plain routes (for bench/bench_isolation)
        self._semaphore = threading.BoundedSemaphore(self.max_in_flight)
        self._pool = ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="bpv-heavy")

    def try_admit(self) -> Slot | None:
        """A place under the cap, or None if every one is taken (never waits)."""
        if not self._semaphore.acquire(blocking=False):
            return None
        return Slot(self._semaphore)

    async def run(self, slot: Slot, work: Callable[[], Any]) -> Any:
        """``work()`` in the pool under the request's deadline; the slot is released when the
        thread ends. Raises ``DeadlineExceeded`` past the time limit."""
        with deadline_after(self.time_limit, start=slot.start):
            # A worker thread does not inherit the caller's contextvars: pass them (the deadline
            # among them) explicitly, as anyio's to_thread does for its own pool.
            context = contextvars.copy_context()
        slot.handed_off = True
        try:
            future = self._pool.submit(context.run, work)
        except BaseException:
            slot.release()
            raise
        future.add_done_callback(lambda _: slot.release())
        remaining = slot.start + self.time_limit + UNCOOPERATIVE_GRACE_SECONDS - time.monotonic()
        try:
            return await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(future)), max(remaining, 0.0)
            )
        except TimeoutError:
            raise DeadlineExceeded(self.time_limit) from None

    def busy_response(self) -> JSONResponse:
        """The 503 for a heavy request over the cap."""
        return error_503(
            f"the server is busy with heavy requests (at most {self.max_in_flight} at once per "
            f"worker, BPV_HEAVY_IN_FLIGHT); retry after {RETRY_AFTER_SECONDS} s",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    def timed_out_response(self, exc: DeadlineExceeded) -> JSONResponse:
        """The 503 for a heavy request past the time limit."""
        return error_503(
            f"the request took longer than the time limit of {exc.seconds:g} s for heavy work "
            "(BPV_HEAVY_TIME_LIMIT); send a smaller graph or fewer evaluations"
        )


def error_503(detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        status_code=503,
        content={"detail": detail, "field": None, "node": None},
        headers=headers,
    )


def heavy_work(when: Predicate | None = None) -> Callable[[Callable[..., Any]], Callable]:
    """Make a (sync) route heavy work: capped, in the limiter's pool, under the time limit.

    ``when(request, arguments)`` says whether a request is heavy (the arguments are the route's
    by name); light ones run as a plain sync route does, in anyio's default pool.
    """

    def decorate(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(endpoint):  # it would run on the event loop, unbounded
            raise TypeError(f"heavy_work needs a sync route; {endpoint.__name__} is async")
        signature = inspect.signature(endpoint)
        request_name = next(
            (p.name for p in signature.parameters.values() if p.annotation in (Request, "Request")),
            None,
        )
        hidden_request = request_name is None
        if hidden_request:  # the route does not take the request: ask FastAPI for it anyway
            request_name = "heavy_work_request"
            parameter = inspect.Parameter(
                request_name, inspect.Parameter.KEYWORD_ONLY, annotation=Request
            )
            signature = signature.replace(parameters=[*signature.parameters.values(), parameter])

        @functools.wraps(endpoint)
        async def route(**arguments: Any) -> Any:
            request: Request = arguments[request_name]
            if hidden_request:
                del arguments[request_name]
            limiter: HeavyWork = request.app.state.heavy_work
            call = functools.partial(endpoint, **arguments)
            slot: Slot | None = request.scope.get(SLOT_KEY)
            if not limiter.enabled or (slot is None and when and not when(request, arguments)):
                return await run_in_threadpool(call)
            if slot is None:
                slot = limiter.try_admit()
                if slot is None:
                    return limiter.busy_response()
            try:
                return await limiter.run(slot, call)
            except DeadlineExceeded as exc:
                return limiter.timed_out_response(exc)

        route.__signature__ = signature  # type: ignore[attr-defined]
        route.heavy_work_when = when  # type: ignore[attr-defined]
        return route

    return decorate


class HeavyWorkAdmission:
    """Admits a request to a heavy route before its body is read when its size alone makes it
    heavy, so a flood of large bodies over the cap is refused without parsing one.

    The check runs at the route's first ``receive``, the moment the router has matched the
    route (``scope["endpoint"]``) and the body is about to be read; a refusal is sent from
    there, and what the route then answers to its interrupted read is dropped."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limiter: HeavyWork = scope["app"].state.heavy_work
        checked = refused = False
        slot: Slot | None = None

        async def admitting_receive() -> Message:
            nonlocal checked, refused, slot
            if not checked:
                checked = True
                if limiter.enabled and heavy_by_size(scope, limiter.settings):
                    slot = limiter.try_admit()
                    if slot is None:
                        refused = True
                        await limiter.busy_response()(scope, receive, send)
                        raise HeavyWorkRefused()
                    scope[SLOT_KEY] = slot
            return await receive()

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, admitting_receive, guarded_send)
        except Exception:
            if not refused:
                raise
        finally:
            if slot is not None and not slot.handed_off:  # the route never ran (a 413, a 422)
                slot.release()


class HeavyWorkRefused(HTTPException):
    """Raised into the app when its request is refused at the body read (an HTTPException,
    which FastAPI's body parsing lets through unchanged)."""

    def __init__(self) -> None:
        super().__init__(status_code=503, detail="busy")


def heavy_by_size(scope: Scope, settings: Settings) -> bool:
    """True for a heavy route's request that is heavy whatever its body says: every request
    of a route without ``when``, and a body over BPV_HEAVY_BODY_BYTES or of unknown length."""
    endpoint = scope.get("endpoint")
    if not hasattr(endpoint, "heavy_work_when"):
        return False
    if endpoint.heavy_work_when is None:
        return True
    length = dict(scope["headers"]).get(b"content-length")
    return length is None or not length.isdigit() or int(length) > settings.heavy_body_bytes


def trace_is_heavy(request: Request, arguments: dict[str, Any]) -> bool:
    """A trace is heavy if its graph has more than ``BPV_HEAVY_NODES`` nodes, or if it names a
    preset that would be heavy sent as a graph (a larger body is admitted before parsing)."""
    settings: Settings = request.app.state.settings
    body = next(value for value in arguments.values() if isinstance(value, BaseModel))
    graph = getattr(body, "graph", None)
    if graph is not None and len(graph.nodes) > settings.heavy_nodes:
        return True
    example = getattr(body, "example", None)
    if example is not None:
        nodes, numbers = preset_size(example)
        body_bytes = numbers * BYTES_PER_NUMBER
        return nodes > settings.heavy_nodes or body_bytes > settings.heavy_body_bytes
    return False


# What a number takes in a JSON body, about ("0.0123456789, "): a preset's size as a body.
BYTES_PER_NUMBER = 8


def preset_size(example_id: str) -> tuple[int, int]:
    """A preset's nodes and the numbers in its leaves' values (0, 0 for an unknown id)."""
    from backprop_viz.examples import EXAMPLES

    return _preset_size(example_id) if example_id in EXAMPLES else (0, 0)


@functools.cache  # keyed by the presets' ids only; counted once, on the event loop, in ~10 ms
def _preset_size(example_id: str) -> tuple[int, int]:
    from backprop_viz.examples import EXAMPLES

    nodes = EXAMPLES[example_id].nodes
    numbers = sum(int(np.size(np.asarray(n["value"], dtype=object))) for n in nodes if "value" in n)
    return len(nodes), numbers
