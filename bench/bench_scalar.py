"""Scalar graphs against micrograd: build + forward + backward + recording, per node; ratios.

The graph: 1,000 and 10,000 nodes, a tenth of them scalar inputs, the rest add, mul and tanh in
turn, each reading the node before it and a random earlier one (every op reaches the output).
Timed on the same spec, interleaved round by round, medians of the rounds:

* micrograd: Karpathy's ``Value`` (engine.py, add/mul/tanh), built from the spec, then
  ``backward()``: the anchor;
* ``build + run``: ``build_graph`` (validation) and ``run_graph`` (the scalar fast path, with
  its recording), what a request pays before its JSON;
* ``run``: ``run_graph`` alone on a graph built before (a preset's request);
* ``NumPy path``: ``run_graph(fast=False)`` on the same graph, the engine before the fast path;
* ``JSON``: ``trace_to_json`` of the trace; ``request: all + bytes``: build, run, JSON and its
  bytes, what a request pays server side;
* with ``--main DIR``, the ``build + run`` of another checkout (e.g. a ``git worktree`` of an
  earlier commit, read only) in a worker process, interleaved with the rest;
* with ``--gc``, the request in two worker processes that import what a served worker imports,
  one of them with ``gc.freeze()`` after, as backprop_viz.main does.

Run: python bench/bench_scalar.py [--main DIR] [--gc] [--rounds 7]
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = (1000, 10_000)


class Value:
    """micrograd's Value (github.com/karpathy/micrograd, engine.py), the ops this graph uses."""

    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op

    def __add__(self, other):
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t**2) * out.grad

        out._backward = _backward
        return out

    def backward(self):
        topo, visited = [], set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)

        build_topo(self)
        self.grad = 1
        for v in reversed(topo):
            v._backward()


def scalar_spec(size: int, seed: int = 0) -> tuple[list[dict], str]:
    """``size`` nodes: a tenth inputs in (-1, 1), then add, mul and tanh in turn."""
    rnd = random.Random(seed)
    leaves = max(2, size // 10)
    nodes = [{"id": f"x{i}", "op": "input", "value": rnd.uniform(-1, 1)} for i in range(leaves)]
    previous = nodes[-1]["id"]
    for j in range(size - leaves):
        op = ("add", "mul", "tanh")[j % 3]
        other = nodes[rnd.randrange(len(nodes))]["id"]
        nodes.append(
            {"id": f"n{j}", "op": op, "inputs": [previous] if op == "tanh" else [previous, other]}
        )
        previous = nodes[-1]["id"]
    return nodes, previous


def micrograd_run(nodes: list[dict], output: str) -> dict[str, Value]:
    values: dict[str, Value] = {}
    for node in nodes:
        op, inputs = node["op"], node.get("inputs", ())
        if op == "input":
            values[node["id"]] = Value(node["value"])
        elif op == "add":
            values[node["id"]] = values[inputs[0]] + values[inputs[1]]
        elif op == "mul":
            values[node["id"]] = values[inputs[0]] * values[inputs[1]]
        else:
            values[node["id"]] = values[inputs[0]].tanh()
    values[output].backward()
    return values


def engine_cases(size: int) -> dict:
    """The functions to time for one size, on this process's backprop_viz."""
    from backprop_viz.core.engine import run_graph
    from backprop_viz.core.graph import build_graph
    from backprop_viz.encoding import dumps, trace_to_json
    from backprop_viz.settings import Settings

    settings = Settings(max_nodes=20_000)
    nodes, output = scalar_spec(size)
    graph = build_graph(nodes, output, settings)
    trace = run_graph(graph)
    cases = {
        "build + run": lambda: run_graph(build_graph(nodes, output, settings)),
        "run": lambda: run_graph(graph),
        "JSON": lambda: trace_to_json(trace, settings.inline_elements),
        "request: all + bytes": lambda: dumps(
            trace_to_json(run_graph(build_graph(nodes, output, settings)), settings.inline_elements)
        ),
    }
    try:
        run_graph(graph, fast=False)
        cases["NumPy path"] = lambda: run_graph(graph, fast=False)
    except TypeError:  # a checkout without the fast path: its run_graph is the NumPy path
        pass
    return cases


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def worker(server_heap: bool = False, freeze: bool = False) -> None:
    """Answer "<size> <case>" lines on stdin with seconds, for the parent's interleaving.
    ``server_heap``: import what a served worker imports first (backprop_viz.web.app);
    ``freeze``: then gc.freeze(), as backprop_viz.main does."""
    sys.setrecursionlimit(100_000)
    if server_heap:
        import backprop_viz.web.app  # noqa: F401
    cases = {size: engine_cases(size) for size in SIZES}
    if freeze:
        gc.freeze()
    print("ready", flush=True)
    for line in sys.stdin:
        size, case = line.rstrip("\n").split(" ", 1)
        print(timed(cases[int(size)][case]), flush=True)


def start_worker(checkout: Path | None, *flags: str) -> subprocess.Popen:
    """This script in a worker process; with ``checkout``, one that imports that checkout's app
    as backprop_viz (a symlink in a temporary directory put first on the path; the checkout is
    only read)."""
    env = dict(os.environ)
    if checkout is not None:
        shim = Path(tempfile.mkdtemp(prefix="bench-scalar-"))
        (shim / "backprop_viz").symlink_to(checkout.resolve() / "app")
        env["PYTHONPATH"] = str(shim)
    proc = subprocess.Popen(
        [sys.executable, __file__, "--worker", *flags],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def ask(proc: subprocess.Popen, size: int, case: str) -> float:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(f"{size} {case}\n")
    proc.stdin.flush()
    return float(proc.stdout.readline())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--main", type=Path, help="another checkout to time build + run of")
    parser.add_argument(
        "--gc", action="store_true", help="a request in a served worker's heap, with gc.freeze"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--server-heap", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--freeze", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.server_heap, args.freeze)
        return
    sys.setrecursionlimit(100_000)  # micrograd's build_topo recurses once per node
    # each extra line: (its name, the worker that times it, the case it asks for)
    workers: list[tuple[str, subprocess.Popen, str]] = []
    if args.main:
        workers.append(("main: build + run", start_worker(args.main), "build + run"))
    if args.gc:
        case = "request: all + bytes"
        workers.append(("served heap: request", start_worker(None, "--server-heap"), case))
        frozen = start_worker(None, "--server-heap", "--freeze")
        workers.append(("served heap, gc.freeze: request", frozen, case))
    asked = {name: (proc, case) for name, proc, case in workers}
    print(f"load average {os.getloadavg()[0]:.1f} (2 cores shared); {args.rounds} rounds")
    try:
        for size in SIZES:
            nodes, output = scalar_spec(size)
            fns = {"micrograd": lambda n=nodes, o=output: micrograd_run(n, o)}
            fns.update(engine_cases(size))
            names = list(fns) + list(asked)
            times: dict[str, list[float]] = {name: [] for name in names}
            for r in range(args.rounds):
                order = names[r % len(names) :] + names[: r % len(names)]
                for name in order:
                    if name in asked:
                        times[name].append(ask(asked[name][0], size, asked[name][1]))
                    else:
                        times[name].append(timed(fns[name]))
            report(size, times)
    finally:
        for _, proc, _ in workers:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=30)


def report(size: int, times: dict[str, list[float]]) -> None:
    anchor = times["micrograd"]
    print(f"\n{size} nodes (add, mul, tanh)  us/node  / micrograd (median of per-round ratios)")
    for name, series in times.items():
        per_node = statistics.median(series) / size * 1e6
        ratio = statistics.median(t / a for t, a in zip(series, anchor, strict=True))
        print(f"  {name:32s} {per_node:8.2f}   {ratio:6.2f}x")


if __name__ == "__main__":
    main()
