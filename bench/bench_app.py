"""A small preset's whole request in process: ``POST /api/trace`` through the app as uvicorn
calls it (direct ASGI calls on uvloop: the guard, FastAPI's routing, the body, the trace, the
answer's bytes; no sockets), in µs of CPU per request, for this checkout and, with
``--baseline DIR``, another version of the package (a folder holding it as ``backprop_viz/``,
as for bench/bench_http.py), each in a fresh process, the two alternating in each of
``--rounds`` rounds; medians.

The requests: apple as it is, and apple with a leaf's new value (the page's edit). This is the
app's share of what bench/bench_http.py measures under load (the rest is uvicorn's and the
kernel's). A script, not a test.

Run: python bench/bench_app.py [--rounds 5] [--calls 3000] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BODIES = {
    "apple": '{"example":"apple"}',
    "apple edited": '{"example":"apple","values":{"apple":150}}',
}
ROOT = Path(__file__).resolve().parent.parent


def child(body: str, calls: int) -> None:
    """In a fresh process: µs of CPU per request, after a warm-up, printed."""
    import uvloop
    from asgi_call import asgi_request

    from backprop_viz.settings import Settings
    from backprop_viz.web.app import create_app

    app = create_app(Settings())

    async def run() -> float:
        for _ in range(300):
            assert await asgi_request(app, body.encode()) == 200
        start = time.process_time()
        for _ in range(calls):
            await asgi_request(app, body.encode())
        return (time.process_time() - start) / calls * 1e6

    print(uvloop.run(run()))


def measure(folder: Path, body: str, calls: int) -> float:
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, __file__, "--child", body, "--calls", str(calls)]
    out = subprocess.run(command, env=env, cwd=folder, capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=3000, help="requests per process")
    parser.add_argument("--baseline", type=Path, help="another version, as bench_http's")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.calls)
        return
    sides = {"this": ROOT / "app"}
    if args.baseline:
        sides["baseline"] = args.baseline
    print(
        f"µs of CPU per request in process, medians of {args.rounds} alternating rounds of "
        f"{args.calls} requests, load {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores, shared)"
    )
    header = f"  {'request':<14} {'this':>8}"
    print(header + (f" {'baseline':>9} {'this/baseline':>14}" if args.baseline else ""))
    for name, body in BODIES.items():
        times: dict[str, list[float]] = {side: [] for side in sides}
        for round_ in range(args.rounds):
            order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
            for side in order:
                folder = ROOT if side == "this" else sides[side]
                times[side].append(measure(folder, body, args.calls))
        this = statistics.median(times["this"])
        line = f"  {name:<14} {this:8.1f}"
        if args.baseline:
            base = statistics.median(times["baseline"])
            line += f" {base:9.1f} {this / base:14.2f}"
        print(line)


if __name__ == "__main__":
    main()
