"""Heavy work (large traces, gradient checks, training) kept from starving light requests.

One ``HeavyWork`` limiter per app, so per worker process:

- at most ``BPV_HEAVY_IN_FLIGHT`` heavy requests run at once, in the limiter's own thread pool
  of that size (so they never take the threads of anyio's default pool that light requests use,
  and never run on the event loop);
- up to ``BPV_HEAVY_QUEUE`` more wait in line for a place, first come first served, each for at
  most ``BPV_HEAVY_QUEUE_WAIT`` seconds; one more than that, or one whose wait runs out, is
  answered with a 503 and ``Retry-After``. Waiting costs nothing (an awaited future on the event
  loop); refusing at once did: a client told to come back comes back at once (wrk does, 6,000
  times a second on one worker), and each refusal takes the GIL from the one thread doing the
  work (the book preset: 41 traces a second on one worker under 16 connections with refusals,
  see bench/bench_http.py, against ~400 a second of work);
- each has ``BPV_HEAVY_TIME_LIMIT`` seconds from its admission (the end of its wait). The work
  checks the deadline itself (``backprop_viz.deadline``: once per node of the engine, per
  evaluation of the gradient check) and stops; the answer is then a 503 naming the limit.
  Should the work not notice (a long call into NumPy), the request is answered anyway a second
  after the limit, and its place stays taken until its thread really ends, so the cap always
  counts the threads at work.

A route becomes heavy work with the ``heavy_work`` decorator, placed under the router's::

    @router.post("/trace", ...)
    @heavy_work(when=trace_is_heavy)
    def create_trace(body: TraceRequest, request: Request) -> Response: ...

Without ``when`` every request of the route is heavy. The request is admitted before its body is
read when it is known heavy from its size alone (a body over ``BPV_HEAVY_BODY_BYTES`` or of no
declared length, or a route heavy for every request), so refusing a flood of large bodies costs
no parsing; otherwise it is judged on its parsed body.

A light request runs in anyio's default thread pool, as a plain sync route does, unless
``inline`` says it is tiny: then it runs on the event loop itself. The hop to a thread and back
costs about as much CPU as a small preset's whole trace (about 50 of apple's 230 µs in the app,
and two thread wake-ups), while a tiny request holds the loop 40-150 µs (a small preset) to
1-2 ms (the costliest the bounds let in)
(``trace_is_tiny``: at most ``INLINE_MAX_NODES`` nodes, leaves whose sizes multiply to at most
``INLINE_MAX_ELEMENTS``, no formula, no training run); anything larger keeps its thread, so
health never waits behind it for long.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from backprop_viz.deadline import DeadlineExceeded, deadline_after
from backprop_viz.examples import EXAMPLES
from backprop_viz.settings import Settings

RETRY_AFTER_SECONDS = 1
# How long after the time limit a request whose work did not check its deadline is answered.
UNCOOPERATIVE_GRACE_SECONDS = 1.0
SLOT_KEY = "backprop_viz.heavy_slot"
CLIENT_GONE_KEY = "backprop_viz.client_gone"
"""In the scope: ``web.guard``'s check that the client has closed the connection."""

Predicate = Callable[[Request, dict[str, Any]], bool]


class HeavyWorkBusy(Exception):
    """No place for a heavy request: the line was full, or its wait ran out."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class Slot:
    """One admitted heavy request's place under the cap, released exactly once: by its thread
    when the work ends, or by the admission middleware if the route never ran."""

    def __init__(self, limiter: HeavyWork):
        self.start = time.monotonic()
        self.handed_off = False
        self._limiter = limiter
        self._lock = threading.Lock()
        self._released = False

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._limiter.give_back()


class Waiter:
    """A heavy request waiting in line: woken on its event loop when a place is given to it."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.woken = loop.create_future()
        self.granted = False  # set under the limiter's lock: the place is this request's


def wake(future: asyncio.Future) -> None:
    if not future.done():  # not cancelled by its wait's running out meanwhile
        future.set_result(None)


class HeavyWork:
    """The in-flight cap, the line waiting for it, the thread pool and the time limit of one
    app's heavy requests."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.max_in_flight = settings.heavy_in_flight
        self.max_waiting = settings.heavy_queue
        self.queue_wait = settings.heavy_queue_wait
        self.time_limit = settings.heavy_time_limit
        self.enabled = True  # False runs heavy routes as plain routes (for bench/bench_isolation)
        # Places are given back from the pool's threads: a lock, not the event loop, guards them.
        self._lock = threading.Lock()
        self._free = self.max_in_flight
        self._line: deque[Waiter] = deque()
        self._pool = ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="bpv-heavy")

    def try_admit(self) -> Slot | None:
        """A place under the cap if one is free and no request waits for it (never waits)."""
        with self._lock:
            if self._free == 0 or self._line:
                return None
            self._free -= 1
        return Slot(self)

    async def admit(self) -> Slot:
        """A place under the cap: at once if one is free, else after waiting in line (first
        come, first served) for at most ``BPV_HEAVY_QUEUE_WAIT`` seconds. Raises
        ``HeavyWorkBusy`` if the line is full (``BPV_HEAVY_QUEUE``) or the wait runs out."""
        with self._lock:
            if self._free > 0 and not self._line:
                self._free -= 1
                return Slot(self)
            if len(self._line) >= self.max_waiting:
                raise HeavyWorkBusy(self.full_message())
            waiter = Waiter(asyncio.get_running_loop())
            self._line.append(waiter)
        try:
            async with asyncio.timeout(self.queue_wait):
                await waiter.woken
        except TimeoutError:
            with self._lock:
                if not waiter.granted:
                    self._line.remove(waiter)
                    raise HeavyWorkBusy(self.waited_message()) from None
            # the place came as the wait ran out: it is this request's
        except BaseException:  # cancelled (the server stops): a place given meanwhile goes on
            with self._lock:
                granted = waiter.granted
                if not granted:
                    self._line.remove(waiter)
            if granted:
                self.give_back()
            raise
        return Slot(self)

    def give_back(self) -> None:
        """A place is free again: to the first request in line, else to the next one to come
        (any thread may call this)."""
        while True:
            with self._lock:
                if not self._line:
                    self._free += 1
                    return
                waiter = self._line.popleft()
                waiter.granted = True
            try:
                waiter.loop.call_soon_threadsafe(wake, waiter.woken)
                return
            except RuntimeError:  # its event loop is closed: it waits no more; try the next
                continue

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

    def full_message(self) -> str:
        return (
            f"the server is busy with heavy requests (at most {self.max_in_flight} at once per "
            f"worker, BPV_HEAVY_IN_FLIGHT, and {self.max_waiting} waiting, BPV_HEAVY_QUEUE); "
            f"retry after {RETRY_AFTER_SECONDS} s"
        )

    def waited_message(self) -> str:
        return (
            f"the server is busy with heavy requests (at most {self.max_in_flight} at once per "
            f"worker, BPV_HEAVY_IN_FLIGHT): no place came free within {self.queue_wait:g} s "
            f"(BPV_HEAVY_QUEUE_WAIT); retry after {RETRY_AFTER_SECONDS} s"
        )

    def busy_response(self, busy: HeavyWorkBusy) -> JSONResponse:
        """The 503 for a heavy request that found no place."""
        return error_503(busy.detail, {"Retry-After": str(RETRY_AFTER_SECONDS)})

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


def heavy_work(
    when: Predicate | None = None, inline: Predicate | None = None
) -> Callable[[Callable[..., Any]], Callable]:
    """Make a (sync) route heavy work: capped (with a bounded line waiting for a place), in the
    limiter's pool, under the time limit.

    ``when(request, arguments)`` says whether a request is heavy (the arguments are the route's
    by name); light ones run as a plain sync route does, in anyio's default pool, except those
    ``inline(request, arguments)`` finds tiny, which run on the event loop (see the module's
    docstring).
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
                if inline is not None and slot is None and inline(request, arguments):
                    return call()
                return await run_in_threadpool(call)
            if slot is None:
                try:
                    slot = await limiter.admit()
                except HeavyWorkBusy as busy:
                    return limiter.busy_response(busy)
            # A client that gave up while it waited in line: its place goes to the next one
            # instead of to work whose answer nobody reads.
            client_gone = request.scope.get(CLIENT_GONE_KEY)
            if client_gone is not None and await client_gone():
                slot.release()
                return error_503("the client closed the connection while it waited for a place")
            try:
                return await limiter.run(slot, call)
            except DeadlineExceeded as exc:
                return limiter.timed_out_response(exc)

        route.__signature__ = signature  # type: ignore[attr-defined]
        route.heavy_work_when = when  # type: ignore[attr-defined]
        return route

    return decorate


class HeavyWorkRefused(HTTPException):
    """Raised into the app when ``web.guard`` refuses its request at the body read (an
    HTTPException, which FastAPI's body parsing lets through unchanged)."""

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
    length = content_length(scope)
    return length is None or length > settings.heavy_body_bytes


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


# A trace this small runs on the event loop (heavy_work's ``inline``): every preset but the two
# nets (2-10 nodes, 1-13 numbers; 40-150 µs a trace), and the costliest such trace, 16 nodes over
# 1,024 elements, holds the loop 1-2 ms (tests/web/test_inline.py bounds it).
INLINE_MAX_NODES = 16
INLINE_MAX_ELEMENTS = 1024
INLINE_MAX_BODY_BYTES = 16 * 1024


def trace_is_tiny(request: Request, arguments: dict[str, Any]) -> bool:
    """A light trace cheap enough for the event loop: no formula (its symbolic report waits on
    a worker process) and no training run, a body of at most ``INLINE_MAX_BODY_BYTES``, at most
    ``INLINE_MAX_NODES`` nodes, and leaf values (the preset's, those in ``values``, and
    ``dout``) whose sizes multiply to at most ``INLINE_MAX_ELEMENTS``. That product bounds
    every value and gradient of the graph: a broadcast or a matmul makes at most the product
    of its inputs' sizes, and no op makes more than that."""
    length = content_length(request.scope)
    if length is None or length > INLINE_MAX_BODY_BYTES:
        return False
    body = next(value for value in arguments.values() if isinstance(value, BaseModel))
    if getattr(body, "expression", None) is not None or getattr(body, "training", None):
        return False
    overrides = getattr(body, "values", None) or {}
    graph, example = getattr(body, "graph", None), getattr(body, "example", None)
    dout = getattr(body, "dout", None)
    if example is not None and graph is None and not overrides and dout is None:
        return preset_leaf_sizes(example) is not None  # its leaves alone: counted once
    if graph is not None:
        if len(graph.nodes) > INLINE_MAX_NODES or not graph_is_cheap(body, graph):
            return False
        sizes = {node.id: count_numbers(node.value) for node in graph.nodes if node.op == "input"}
    elif example is not None:
        leaves = preset_leaf_sizes(example)
        if leaves is None:
            return False
        sizes = dict(leaves)
    else:
        return False
    for name, value in overrides.items():
        sizes[name] = count_numbers(value)
    sizes["dout"] = count_numbers(dout)
    product = 1
    for size in sizes.values():
        product *= max(size, 1)
        if product > INLINE_MAX_ELEMENTS:
            return False
    return True


# Ops whose cost on a 1,024-element array is far above tanh's (a softmax per row, a log-sum-exp):
# sixteen of them on the loop held it ~8 ms, against the 1-2 ms the bounds are for.
INLINE_COSTLY_OPS = frozenset({"softmax", "softmax_with_loss", "cross_entropy_error"})


def graph_is_cheap(body: BaseModel, graph: Any) -> bool:
    """A client's own graph stays off the loop when it asks for more than its nodes: composites
    drawn expanded (more nodes than it sends), whole arrays (``full``), forward mode (a second
    pass), or a costly op."""
    if getattr(body, "expand", None) or getattr(body, "full", False):
        return False
    if getattr(body, "mode", None) not in (None, "reverse"):
        return False
    return not any(node.op in INLINE_COSTLY_OPS for node in graph.nodes)


def count_numbers(value: Any) -> int:
    """The numbers in a value as sent (a number, or nested lists of them): its size, or more
    than its size for a ragged one, which the engine refuses anyway. Counted without recursion
    and only up to past ``INLINE_MAX_ELEMENTS`` (a value nested thousands deep is a 422 of the
    engine's, not a RecursionError here)."""
    count, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, list | tuple):
            pending.extend(item)
        else:
            count += 1
            if count > INLINE_MAX_ELEMENTS:
                break
    return count


def content_length(scope: Scope) -> int | None:
    """The request's declared body length, or None if it declares none (or nonsense)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def preset_leaf_sizes(example_id: str) -> tuple[tuple[str, int], ...] | None:
    """A preset's input nodes with the numbers in each, if it is small enough to run inline
    (None for the book net, or an unknown id)."""
    return _preset_leaf_sizes(example_id) if example_id in EXAMPLES else None


@functools.cache  # keyed by the presets' ids only
def _preset_leaf_sizes(example_id: str) -> tuple[tuple[str, int], ...] | None:
    nodes = EXAMPLES[example_id].nodes
    if len(nodes) > INLINE_MAX_NODES:
        return None
    sizes = tuple(
        (n["id"], int(np.size(np.asarray(n.get("value"), dtype=object))))
        for n in nodes
        if n.get("op") == "input"
    )
    return None if math.prod(max(size, 1) for _, size in sizes) > INLINE_MAX_ELEMENTS else sizes


# What a number takes in a JSON body, about ("0.0123456789, "): a preset's size as a body.
BYTES_PER_NUMBER = 8


def preset_size(example_id: str) -> tuple[int, int]:
    """A preset's nodes and the numbers in its leaves' values (0, 0 for an unknown id)."""
    return _preset_size(example_id) if example_id in EXAMPLES else (0, 0)


@functools.cache  # keyed by the presets' ids only; counted once, on the event loop, in ~10 ms
def _preset_size(example_id: str) -> tuple[int, int]:
    nodes = EXAMPLES[example_id].nodes
    numbers = sum(int(np.size(np.asarray(n["value"], dtype=object))) for n in nodes if "value" in n)
    return len(nodes), numbers
