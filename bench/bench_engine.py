"""Engine benchmarks for the book's TwoLayerNet (784-50-10, batch 100); prints ratios.

(a) backprop versus the numerical gradient (central difference, the book's 5.7.3),
(b) the engine's forward+backward, traced (TraceRecorder) and not (NullRecorder), versus a
    plain NumPy version of the same network, at batch 1, 100 and 1000 (the batch-1 run is
    where a fixed cost per run shows: the arithmetic is a few microseconds),
(c) the size and encoding time of the JSON trace of the book-size preset.

Scalar graphs against micrograd are in bench/bench_scalar.py.

Both sides of each ratio are measured in this one run, interleaved, and the median is taken,
because this machine is shared and noisy. Run: python bench/bench_engine.py [--full-numerical]
"""

from __future__ import annotations

import os

# One BLAS thread unless told otherwise: on a shared machine, threads that wait for a core
# turn a 0.5 ms matrix product into 5 ms at random, for both sides, and drown the ratio.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import statistics
import time

import numpy as np

from backprop_viz.core.engine import forward_backward, run_graph
from backprop_viz.core.graph import build_graph
from backprop_viz.core.layers import log_softmax
from backprop_viz.encoding import dumps, trace_to_json
from backprop_viz.examples import EXAMPLES
from backprop_viz.settings import Settings


def plain_numpy_gradient(x, t, W1, b1, W2, b2):
    """The book's TwoLayerNet.gradient written out in NumPy: loss and every gradient."""
    a1 = x @ W1 + b1
    h = np.maximum(a1, 0)
    a2 = h @ W2 + b2
    log_y = log_softmax(a2)
    loss = -np.sum(t * log_y) / x.shape[0]
    dy = (np.exp(log_y) - t) / x.shape[0]
    dW2 = h.T @ dy
    db2 = dy.sum(axis=0)
    dh = dy @ W2.T
    da1 = np.where(a1 > 0, dh, 0.0)
    dW1 = x.T @ da1
    db1 = da1.sum(axis=0)
    dx = da1 @ W1.T  # the book's Affine.backward computes dx too
    return loss, dx, dW1, db1, dW2, db2


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(fns: dict, rounds: int, per_round: int = 9) -> dict[str, list[float]]:
    """Each function's median time per round. Within a round the functions take turns call by
    call (in an order that rotates from round to round), so all see the same machine load."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        calls: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(per_round):
            for name in order:
                start = time.perf_counter()
                fns[name]()
                calls[name].append(time.perf_counter() - start)
        for name in names:
            times[name].append(statistics.median(calls[name]))
    return times


def ratio_to(times: dict[str, list[float]], name: str, base: str) -> float:
    """The median over the rounds of the per-round ratio name / base."""
    return statistics.median(a / b for a, b in zip(times[name], times[base], strict=True))


def check_engine_against_plain(graph, x, t, params) -> None:
    """Both recorders give plain NumPy's loss and gradients, before anything is timed."""
    loss, _, dW1, db1, dW2, db2 = plain_numpy_gradient(x, t, **params)
    trace = run_graph(graph)
    null_loss, null_grads = forward_backward(graph)
    assert np.isclose(float(trace.values["loss"]), loss, rtol=1e-12)
    assert float(null_loss) == float(trace.values["loss"])
    for name, grad in (("W1", dW1), ("b1", db1), ("W2", dW2), ("b2", db2)):
        np.testing.assert_allclose(trace.grads[name], grad, rtol=1e-10, atol=1e-14)
        np.testing.assert_array_equal(null_grads[name], trace.grads[name])


def numerical_gradient_seconds(x, t, params, trace, sample: int | None) -> tuple[float, float]:
    """The numerical gradient's time extrapolated to every weight (two forward passes each,
    the book's 5.7.3), from ``sample`` weights (None: all), and its largest error."""
    params = {n: p.copy() for n, p in params.items()}
    sizes = {n: p.size for n, p in params.items()}
    total = sum(sizes.values())
    count = total if sample is None else min(sample, total)
    flat_choices = np.random.default_rng(0).choice(total, size=count, replace=False)
    names = list(params)
    offsets = np.cumsum([0] + [sizes[n] for n in names])
    h = 1e-4
    max_error = 0.0
    start = time.perf_counter()
    for k in flat_choices:
        i = int(np.searchsorted(offsets, k, side="right") - 1)
        name, index = names[i], int(k - offsets[i])
        p = params[name].reshape(-1)
        saved = p[index]
        p[index] = saved + h
        f_plus = plain_numpy_gradient(x, t, **params)[0]
        p[index] = saved - h
        f_minus = plain_numpy_gradient(x, t, **params)[0]
        p[index] = saved
        numeric = (f_plus - f_minus) / (2 * h)
        max_error = max(max_error, abs(numeric - np.asarray(trace.grads[name]).reshape(-1)[index]))
    return (time.perf_counter() - start) * total / count, max_error


def batch_nodes(nodes: list[dict], batch: int) -> list[dict]:
    """The book preset's spec with ``batch`` rows of x and t (its 100 repeated, or the first)."""
    out = []
    for node in nodes:
        if node["id"] in ("x", "t"):
            rows = node["value"]
            node = {**node, "value": (rows * (batch // len(rows) + 1))[:batch]}
        out.append(node)
    return out


def report_engines(graph, batch: int, repeat: int) -> dict[str, list[float]]:
    """Plain NumPy, the traced and the null engine on ``graph``, interleaved; prints ratios."""
    leaves = {n: graph.nodes[n].value for n in ("x", "t", "W1", "b1", "W2", "b2")}
    params = {n: np.array(leaves[n]) for n in ("W1", "b1", "W2", "b2")}
    x, t = leaves["x"], leaves["t"]
    check_engine_against_plain(graph, x, t, params)
    times = interleaved(
        {
            "plain": lambda: plain_numpy_gradient(x, t, **params),
            "traced": lambda: run_graph(graph),
            "null": lambda: forward_backward(graph),
        },
        repeat,
    )
    t_plain, t_traced, t_null = (statistics.median(times[k]) for k in ("plain", "traced", "null"))
    targets = {1: (1.5, 1.5), 100: (1.1, 1.03), 1000: (1.1, 1.03)}[batch]
    print(f"TwoLayerNet 784-50-10, batch {batch} (median of {repeat} interleaved rounds)")
    print(f"(b) plain NumPy forward+backward      {t_plain * 1e3:8.3f} ms")
    print(f"    traced engine (TraceRecorder)     {t_traced * 1e3:8.3f} ms")
    print(f"    null engine (NullRecorder)        {t_null * 1e3:8.3f} ms")
    print(
        f"    ratio traced / plain              {ratio_to(times, 'traced', 'plain'):8.3f}x  "
        f"(target <= {targets[0]}x, median of per-round ratios)"
    )
    print(
        f"    ratio null / plain                {ratio_to(times, 'null', 'plain'):8.3f}x  "
        f"(target <= {targets[1]}x)"
    )
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--full-numerical",
        action="store_true",
        help="differentiate every weight numerically (about a minute or more)",
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=2000,
        help="weights differentiated numerically when not --full-numerical",
    )
    parser.add_argument("--repeat", type=int, default=30, help="rounds of the interleaved timing")
    args = parser.parse_args()

    settings = Settings()
    example = EXAMPLES["two_layer_net_book"]
    print(f"load average {os.getloadavg()[0]:.1f} (2 cores shared)")
    # (b) at batch 1 and 1000 first: the engines versus plain NumPy, interleaved in rounds.
    for batch in (1, 1000):
        batch_graph = build_graph(batch_nodes(example.nodes, batch), example.output, settings)
        report_engines(batch_graph, batch, args.repeat)

    graph = build_graph(example.nodes, example.output, settings)
    leaves = {n: graph.nodes[n].value for n in ("x", "t", "W1", "b1", "W2", "b2")}
    params = {n: np.array(leaves[n]) for n in ("W1", "b1", "W2", "b2")}
    x, t = leaves["x"], leaves["t"]
    times = report_engines(graph, 100, args.repeat)
    t_traced = statistics.median(times["traced"])

    # (a) numerical gradient: two forward passes per weight.
    trace = run_graph(graph)
    total = sum(p.size for p in params.values())
    sample = None if args.full_numerical else args.sample
    t_numerical, max_error = numerical_gradient_seconds(x, t, params, trace, sample)

    # (c) the JSON response of the book-size preset.
    t_encode = median_time(lambda: dumps(trace_to_json(trace, settings.inline_elements)), 10)
    size = len(dumps(trace_to_json(trace, settings.inline_elements)))
    size_full = len(dumps(trace_to_json(trace, settings.inline_elements, full=True)))
    t_build = median_time(lambda: build_graph(example.nodes, example.output, settings), 5)

    how = "all" if sample is None or sample >= total else f"{sample} sampled, extrapolated"
    print(f"(a) numerical gradient, {total} weights ({how})")
    print(
        f"                                      {t_numerical:8.2f} s    (max abs error vs "
        f"backprop {max_error:.1e})"
    )
    print(
        f"    speed-up of backprop (traced)     {t_numerical / t_traced:8.0f}x   (target >= 10000x)"
    )
    print(f"(c) JSON trace, summarised            {size / 1024:8.1f} KB  (target < 300 KB)")
    print(f"    JSON trace, full data             {size_full / 1024:8.1f} KB")
    print(f"    encoding time                     {t_encode * 1e3:8.2f} ms")
    print(f"    graph build + validation          {t_build * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
