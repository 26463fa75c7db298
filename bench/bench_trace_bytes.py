"""A small preset's ``POST /api/trace`` answer written two ways, interleaved in each of
``--rounds`` rounds (medians, microseconds per request):

- "before": ``dumps(result.to_json())``, the graph part rebuilt and encoded on every request;
- "after": ``result.to_json_bytes()``, the graph part's bytes kept per graph and embedded.

Two levels: the service (``service.trace`` and the bytes) and the whole app in process (direct
ASGI calls to ``create_app()``, routing, body parsing and middleware included), the route's
``to_json_bytes`` swapped for the "before" one. Both sides share this checkout's ``op_fields``,
which keeps a node's fields per op (its own gain is in the graph part's first request, a
client graph's every one): compare a checkout before it by running this script with that
checkout first on PYTHONPATH, as for bench/bench_request.py. A script, not a test.

Run: python bench/bench_trace_bytes.py [--rounds 15] [--example apple] [--override]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from asgi_call import asgi_request

import backprop_viz
from backprop_viz import service
from backprop_viz.encoding import dumps
from backprop_viz.settings import Settings
from backprop_viz.web.app import create_app


def old_bytes(result: service.TraceResult) -> bytes:
    return dumps(result.to_json())


NEW_BYTES = service.TraceResult.to_json_bytes


def service_side(query: service.TraceQuery, settings: Settings, write, calls: int) -> float:
    """Seconds per call of trace + bytes."""
    start = time.perf_counter()
    for _ in range(calls):
        write(service.trace(query, settings))
    return (time.perf_counter() - start) / calls


async def app_side(app, body: bytes, write, calls: int) -> float:
    """Seconds per request through the whole app, the route writing its bytes with ``write``."""
    service.TraceResult.to_json_bytes = write
    try:
        start = time.perf_counter()
        for _ in range(calls):
            assert await asgi_request(app, body) == 200
        return (time.perf_counter() - start) / calls
    finally:
        service.TraceResult.to_json_bytes = NEW_BYTES


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=500, help="requests per side per round")
    parser.add_argument("--example", default="apple")
    parser.add_argument("--override", action="store_true", help="send a value for a leaf")
    args = parser.parse_args()
    settings = Settings()
    leaf = next(n for n in service.find_example(args.example).nodes if n["op"] == "input")
    values = {leaf["id"]: leaf["value"]} if args.override else {}
    query = service.TraceQuery(example=args.example, values=values)
    app = create_app(settings)
    body = json.dumps({"example": args.example, **({"values": values} if values else {})})
    sides = {"before": old_bytes, "after": NEW_BYTES}
    assert old_bytes(service.trace(query, settings)) == NEW_BYTES(service.trace(query, settings))
    times: dict[tuple[str, str], list[float]] = {}
    for write in sides.values():  # warm up both
        service_side(query, settings, write, args.calls)
        await app_side(app, body.encode(), write, args.calls)
    for round_ in range(args.rounds):  # interleaved, the order alternating
        order = list(sides.items()) if round_ % 2 == 0 else list(reversed(sides.items()))
        for side, write in order:
            seconds = service_side(query, settings, write, args.calls)
            times.setdefault(("service", side), []).append(seconds)
            seconds = await app_side(app, body.encode(), write, args.calls)
            times.setdefault(("app", side), []).append(seconds)
    median = {key: statistics.median(t) * 1e6 for key, t in times.items()}
    print(
        f"{args.example}{' with an override' if values else ''} "
        f"({backprop_viz.__file__.rsplit('/', 2)[-2]}/): medians of {args.rounds} interleaved "
        f"rounds of {args.calls} requests (µs per request)"
    )
    print(f"  {'':<34} {'before':>8} {'after':>8} {'saved':>7} {'after/before':>13}")
    for level, name in (
        ("service", "service.trace + bytes"),
        ("app", "whole app in process (ASGI)"),
    ):
        before, after = median[(level, "before")], median[(level, "after")]
        print(
            f"  {name:<34} {before:8.1f} {after:8.1f} {before - after:7.1f} {after / before:13.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
