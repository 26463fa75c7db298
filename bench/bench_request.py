"""The book preset's ``POST /api/trace`` in its stages, server side, as a request runs them:
building the graph, running it recorded, encoding the trace to JSON values, and writing the
bytes. Two pipelines, interleaved in each of ``--rounds`` rounds (medians):

- "now": the preset parsed once per process (cached), orjson for the bytes;
- "as before issue 12": the preset parsed on every request, json.dumps for the bytes.

Each round runs its own trace (its layer outputs and gradients are new arrays, as a request's
are; the preset's leaves are the same arrays every time, as they are in the server), so what
the encoder keeps from one request to the next counts only where it would in the server. The
encoder of another checkout is measured by running this script with that checkout first on
PYTHONPATH (``PYTHONPATH=DIR python bench/bench_request.py``, DIR holding it as backprop_viz/).
A script, not a test.

Run: python bench/bench_request.py [--rounds 15] [--example two_layer_net_book]
"""

from __future__ import annotations

import argparse
import statistics
import time

from threadpoolctl import threadpool_limits

import backprop_viz
from backprop_viz import service
from backprop_viz.core.engine import run_graph
from backprop_viz.encoding import _json_dumps, dumps, trace_to_json
from backprop_viz.settings import Settings


def pipeline(build, write, query, settings, times: dict[str, list[float]]) -> None:
    """One request's stages, each timed into ``times``."""
    start = time.perf_counter()
    graph, dout = build(query, settings)
    built = time.perf_counter()
    recorded = run_graph(graph, dout)
    ran = time.perf_counter()
    payload = trace_to_json(recorded, settings.inline_elements)
    encoded = time.perf_counter()
    write(payload)
    written = time.perf_counter()
    for name, seconds in (
        ("build", built - start),
        ("run (recorded)", ran - built),
        ("trace_to_json", encoded - ran),
        ("bytes", written - encoded),
        ("total", written - start),
    ):
        times.setdefault(name, []).append(seconds)


def uncached_build(query, settings):
    service._PRESET_CACHE.clear()
    return service.build(query, settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--example", default="two_layer_net_book")
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="blas")  # as the served app (backprop_viz.main)
    settings = Settings()
    query = service.TraceQuery(example=args.example)
    now: dict[str, list[float]] = {}
    before: dict[str, list[float]] = {}
    pipeline(service.build, dumps, query, settings, {})  # warm up: the preset parsed once
    for _ in range(args.rounds):  # interleaved: each round runs both pipelines
        pipeline(uncached_build, _json_dumps, query, settings, before)
        pipeline(service.build, dumps, query, settings, now)
    med_now = {name: statistics.median(t) * 1e3 for name, t in now.items()}
    med_before = {name: statistics.median(t) * 1e3 for name, t in before.items()}
    print(
        f"{args.example} ({backprop_viz.__file__.rsplit('/', 2)[-2]}/): medians of "
        f"{args.rounds} interleaved rounds (ms)"
    )
    print(f"  {'stage':<16} {'now':>8} {'as before issue 12':>20}")
    for name in med_now:
        print(f"  {name:<16} {med_now[name]:8.2f} {med_before[name]:20.2f}")
    run, total = med_now["run (recorded)"], med_now["total"]
    print(
        f"  request, server side: {med_before['total']:.2f} -> {total:.2f} ms "
        f"({med_before['total'] / total:.1f}x); the arithmetic (run) is {run / total:.0%} of "
        f"it (was {med_before['run (recorded)'] / med_before['total']:.0%}); "
        f"encoding (trace_to_json and bytes) {1 - (run + med_now['build']) / total:.0%}"
    )


if __name__ == "__main__":
    main()
