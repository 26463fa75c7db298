"""Engine benchmarks for the book's TwoLayerNet (784-50-10, batch 100); prints ratios.

(a) backprop versus the numerical gradient (central difference, the book's 5.7.3),
(b) the engine's traced forward+backward versus a plain NumPy version of the same network,
(c) the size and encoding time of the JSON trace of the book-size preset.

Both sides of each ratio are measured in this one run, interleaved, and the median is taken,
because this machine is shared and noisy. Run: python bench/bench_engine.py [--full-numerical]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from backprop_viz.core.engine import run_graph
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
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    settings = Settings()
    example = EXAMPLES["two_layer_net_book"]
    graph = build_graph(example.nodes, example.output, settings)
    leaves = {n: graph.nodes[n].value for n in ("x", "t", "W1", "b1", "W2", "b2")}
    params = {n: np.array(leaves[n]) for n in ("W1", "b1", "W2", "b2")}
    x, t = leaves["x"], leaves["t"]

    def engine():
        return run_graph(graph)

    def plain():
        return plain_numpy_gradient(x, t, **params)

    trace = engine()
    loss, _, dW1, db1, dW2, db2 = plain()
    assert np.isclose(float(trace.values["loss"]), loss, rtol=1e-12)
    for name, grad in (("W1", dW1), ("b1", db1), ("W2", dW2), ("b2", db2)):
        np.testing.assert_allclose(trace.grads[name], grad, rtol=1e-10, atol=1e-14)

    # (b) engine versus plain NumPy, interleaved in rounds so both see the same machine load;
    # the ratio is taken per round, then its median over the rounds.
    engine_times, plain_times, ratios = [], [], []
    for _ in range(args.repeat):
        t_e = median_time(engine, 5)
        t_p = median_time(plain, 5)
        engine_times.append(t_e)
        plain_times.append(t_p)
        ratios.append(t_e / t_p)
    t_engine, t_plain = statistics.median(engine_times), statistics.median(plain_times)
    ratio = statistics.median(ratios)

    # (a) numerical gradient: two forward passes per weight.
    def loss_only():
        return plain_numpy_gradient(x, t, **params)[0]

    sizes = {n: p.size for n, p in params.items()}
    total = sum(sizes.values())
    rng = np.random.default_rng(0)
    count = total if args.full_numerical else min(args.sample, total)
    flat_choices = rng.choice(total, size=count, replace=False)
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
        f_plus = loss_only()
        p[index] = saved - h
        f_minus = loss_only()
        p[index] = saved
        numeric = (f_plus - f_minus) / (2 * h)
        max_error = max(max_error, abs(numeric - np.asarray(trace.grads[name]).reshape(-1)[index]))
    t_numerical_sample = time.perf_counter() - start
    t_numerical = t_numerical_sample * total / count

    # (c) the JSON response of the book-size preset.
    t_encode = median_time(lambda: dumps(trace_to_json(trace, settings.inline_elements)), 10)
    size = len(dumps(trace_to_json(trace, settings.inline_elements)))
    size_full = len(dumps(trace_to_json(trace, settings.inline_elements, full=True)))
    t_build = median_time(lambda: build_graph(example.nodes, example.output, settings), 5)

    print("TwoLayerNet 784-50-10, batch 100")
    print(
        f"(b) traced engine forward+backward   {t_engine * 1e3:8.2f} ms (median of {args.repeat})"
    )
    print(f"    plain NumPy forward+backward      {t_plain * 1e3:8.2f} ms")
    print(
        f"    ratio engine / plain              {ratio:8.2f}x   (target <= 1.3x, median of "
        f"per-round ratios)"
    )
    how = "all" if count == total else f"{count} sampled, extrapolated to all"
    print(f"(a) numerical gradient, {total} weights ({how})")
    print(
        f"                                      {t_numerical:8.2f} s    (max abs error vs "
        f"backprop {max_error:.1e})"
    )
    print(f"    backprop (traced engine)          {t_engine * 1e3:8.2f} ms")
    print(
        f"    speed-up of backprop              {t_numerical / t_engine:8.0f}x   (target >= 10000x)"
    )
    print(f"(c) JSON trace, summarised            {size / 1024:8.1f} KB  (target < 300 KB)")
    print(f"    JSON trace, full data             {size_full / 1024:8.1f} KB")
    print(f"    encoding time                     {t_encode * 1e3:8.2f} ms")
    print(f"    graph build + validation          {t_build * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
