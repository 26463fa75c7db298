"""The book preset's ``POST /api/trace`` in its stages, server side, before and after this
issue's changes measured in one run: building the graph with the preset parsed every time (as
before) or once (cached), running it recorded, encoding to JSON, and writing the bytes with
json.dumps (as before) or orjson. Interleaved rounds, medians. A script, not a test.

Run: python bench/bench_request.py [--rounds 15] [--example two_layer_net_book]
"""

from __future__ import annotations

import argparse
import statistics
import time

from threadpoolctl import threadpool_limits

from backprop_viz import service
from backprop_viz.core.engine import run_graph
from backprop_viz.encoding import _json_dumps, dumps, trace_to_json
from backprop_viz.settings import Settings


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--example", default="two_layer_net_book")
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="blas")  # as the served app (backprop_viz.main)
    settings = Settings()
    query = service.TraceQuery(example=args.example)
    graph, dout = service.build(query, settings)
    recorded = run_graph(graph, dout)
    payload = trace_to_json(recorded, settings.inline_elements)

    def uncached_build():
        service._PRESET_CACHE.clear()
        service.build(query, settings)

    stages = {
        "build, parsed per request": uncached_build,
        "build, parsed once": lambda: service.build(query, settings),
        "run (recorded)": lambda: run_graph(graph, dout),
        "trace_to_json": lambda: trace_to_json(recorded, settings.inline_elements),
        "json.dumps": lambda: _json_dumps(payload),
        "orjson (dumps)": lambda: dumps(payload),
    }
    times: dict[str, list[float]] = {name: [] for name in stages}
    service.build(query, settings)
    for _ in range(args.rounds):
        for name, fn in stages.items():  # interleaved: each round times every stage
            times[name].append(timed(fn))
    med = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    print(f"{args.example}: medians of {args.rounds} interleaved rounds (ms)")
    for name, ms in med.items():
        print(f"  {name:<28} {ms:8.2f}")
    before = (
        med["build, parsed per request"]
        + med["run (recorded)"]
        + med["trace_to_json"]
        + med["json.dumps"]
    )
    after = (
        med["build, parsed once"]
        + med["run (recorded)"]
        + med["trace_to_json"]
        + med["orjson (dumps)"]
    )
    print(f"  build: {med['build, parsed per request'] / med['build, parsed once']:.1f}x faster")
    print(f"  bytes: {med['json.dumps'] / med['orjson (dumps)']:.1f}x faster")
    print(f"  request, server side: {before:.2f} -> {after:.2f} ms ({before / after:.1f}x);")
    run = med["run (recorded)"]
    print(f"  the arithmetic (run) is {run / after:.0%} of it (was {run / before:.0%})")


if __name__ == "__main__":
    main()
