"""Isolation benchmark: does a light request stay fast while heavy ones run, and what does the
isolation cost a small trace? A script, not a test: it prints figures and their ratios.

(a) ``GET /api/health`` latency (p50, p99) on an idle server, then while eight clients send
    2,000-node traces without pause (a 503 makes a client wait 50 ms and send again), against a
    real one-worker server on 127.0.0.1 (the limits are per worker).
(b) The latency of the ``apple`` trace in-process (httpx on the ASGI app, no network), with the
    heavy-work limiter on, off, and with every trace forced onto the heavy path (threshold of
    one node), in interleaved rounds; medians of the rounds.

Both sides of each ratio are measured in this one run. Run: python bench/bench_isolation.py
[--seconds 6] [--rounds 7]. The load is bounded: eight clients for ``--seconds`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from harness import free_port, wait_for_health  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HEAVY_CLIENTS = 8
OVERHEAD_TARGET = 1.10


def heavy_trace_body(nodes: int = 2000) -> dict:
    """A chain of ``nodes`` tanh nodes over a 1000-element leaf, as in the issue's load test."""
    spec = [{"id": "x", "op": "input", "value": 0.5}]
    for i in range(nodes - 1):
        spec.append({"id": f"n{i}", "op": "tanh", "inputs": [spec[-1]["id"]]})
    return {"graph": {"nodes": spec, "output": spec[-1]["id"]}}


def start_server(port: int, env: dict[str, str]) -> subprocess.Popen:
    """``backprop-viz serve`` with one worker (the limits are per worker), quiet."""
    return subprocess.Popen(
        [sys.executable, "-m", "backprop_viz.cli", "serve", "--port", str(port), "--workers", "1"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def health_latencies(url: str, seconds: float) -> list[float]:
    """Sequential health requests on one keep-alive connection for ``seconds``; seconds each."""
    times = []
    with httpx.Client(base_url=url, timeout=30.0) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            start = time.perf_counter()
            assert client.get("/api/health").status_code == 200
            times.append(time.perf_counter() - start)
            time.sleep(0.01)
    return times


def heavy_client(url: str, body: bytes, stop: threading.Event, counts: dict[int, int]) -> None:
    with httpx.Client(base_url=url, timeout=60.0) as client:
        while not stop.is_set():
            r = client.post(
                "/api/trace", content=body, headers={"content-type": "application/json"}
            )
            counts[r.status_code] = counts.get(r.status_code, 0) + 1
            if r.status_code == 503:
                time.sleep(0.05)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure_health(seconds: float) -> None:
    import json

    body = json.dumps(heavy_trace_body()).encode()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_server(port, {})
    try:
        wait_for_health(url, process)
        health_latencies(url, 0.5)  # warm up
        idle = health_latencies(url, seconds)
        stop = threading.Event()
        counts: dict[int, int] = {}
        clients = [
            threading.Thread(target=heavy_client, args=(url, body, stop, counts))
            for _ in range(HEAVY_CLIENTS)
        ]
        for thread in clients:
            thread.start()
        time.sleep(1.0)  # let the heavy requests pile up
        loaded = health_latencies(url, seconds)
        stop.set()
        for thread in clients:
            thread.join(timeout=120)
    finally:
        process.terminate()
        process.wait(timeout=30)
    idle_p50, idle_p99 = percentile(idle, 0.5), percentile(idle, 0.99)
    load_p50, load_p99 = percentile(loaded, 0.5), percentile(loaded, 0.99)
    print(f"health idle:        p50 {idle_p50 * 1000:7.1f} ms  p99 {idle_p99 * 1000:7.1f} ms")
    print(
        f"health 8 heavy:     p50 {load_p50 * 1000:7.1f} ms  p99 {load_p99 * 1000:7.1f} ms"
        f"  ({len(loaded)} requests)"
    )
    print(f"  ratio loaded/idle: p50 x{load_p50 / idle_p50:.1f}  p99 x{load_p99 / idle_p99:.1f}")
    print(f"  heavy answers by status: {dict(sorted(counts.items()))}")


def measure_overhead(rounds: int, per_round: int) -> None:
    """apple's latency in-process: limiter on, off, and every trace on the heavy path."""
    try:
        from backprop_viz.settings import Settings
        from backprop_viz.web.app import create_app
    except ImportError as e:  # pragma: no cover
        print(f"overhead: skipped ({e})")
        return
    on = create_app(Settings())
    limits = getattr(on.state, "heavy_work", None)
    if limits is None:
        print("overhead: this version has no heavy-work limiter")
        return
    off = create_app(Settings())
    off.state.heavy_work.enabled = False
    forced = create_app(Settings(heavy_nodes=1))
    apps = {"on": on, "off": off, "forced heavy": forced}

    async def run() -> dict[str, list[float]]:
        medians: dict[str, list[float]] = {name: [] for name in apps}
        clients = {
            name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
            for name, app in apps.items()
        }
        for client in clients.values():  # warm up
            for _ in range(20):
                assert (await client.post("/api/trace", json={"example": "apple"})).is_success
        names = list(clients)
        for r in range(rounds):
            # Each round in another order, so that no side is always first after the other.
            for name in names[r % len(names) :] + names[: r % len(names)]:
                client = clients[name]
                times = []
                for _ in range(per_round):
                    start = time.perf_counter()
                    r = await client.post("/api/trace", json={"example": "apple"})
                    times.append(time.perf_counter() - start)
                    assert r.status_code == 200
                medians[name].append(statistics.median(times))
        for client in clients.values():
            await client.aclose()
        return medians

    medians = asyncio.run(run())
    result = {name: statistics.median(values) for name, values in medians.items()}
    for name, value in result.items():
        print(f"apple, limiter {name:<13} {value * 1000:7.3f} ms (median of {rounds} rounds)")
    ratio = result["on"] / result["off"]
    forced_ratio = result["forced heavy"] / result["off"]
    verdict = "ok" if ratio <= OVERHEAD_TARGET else "over the target"
    print(f"  ratio on/off x{ratio:.3f} (target <= x{OVERHEAD_TARGET:.2f}: {verdict})")
    print(f"  ratio forced heavy/off x{forced_ratio:.3f} (the dedicated pool and the deadline)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="health sampling per phase")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=60)
    parser.add_argument("--overhead-only", action="store_true")
    args = parser.parse_args()
    if not args.overhead_only:
        measure_health(args.seconds)
    measure_overhead(args.rounds, args.per_round)


if __name__ == "__main__":
    main()
