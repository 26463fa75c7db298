"""The gradient check of the book's 5.7.3: backprop's gradients against numerical ones.

The numerical gradient is the central difference (f(x + h) - f(x - h)) / 2h of
f = sum(dout * output), element by element, two forward passes each, as the book's
``numerical_gradient`` does. That is slow (about a minute for the book's 784-50-10 net), so
it is bounded: past ``max_evaluations`` forward passes, large leaves are checked on a seeded
random sample of their elements, and a time limit stops the loop; the result says how many
elements were checked.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from backprop_viz.core.engine import forward_output, run_graph
from backprop_viz.core.graph import Graph
from backprop_viz.deadline import check_deadline
from backprop_viz.encoding import json_float, to_json_numbers

MAX_LISTED_SAMPLES = 50
MIN_PER_LEAF = 20


def gradient_check(
    graph: Graph,
    dout: Any = None,
    *,
    h: float = 1e-4,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    max_evaluations: int = 2000,
    max_seconds: float = 3.0,
    seed: int = 0,
) -> dict[str, Any]:
    """Compare backprop and numerical gradients for every leaf that takes a gradient."""
    start = time.perf_counter()
    trace = run_graph(graph, dout)
    backprop_seconds = time.perf_counter() - start
    seed_grad = trace.dout
    leaves = [
        n
        for n in graph.order
        if graph.nodes[n].is_leaf and graph.nodes[n].requires_grad and trace.grads[n] is not None
    ]
    sizes = {n: int(graph.nodes[n].value.size) for n in leaves}
    total = sum(sizes.values())
    pairs = max(1, max_evaluations // 2)
    rng = np.random.default_rng(seed)
    chosen = {}
    # Small leaves first, and at least MIN_PER_LEAF elements of each, so that a budget or a
    # time limit spent on one large weight matrix still leaves every leaf checked.
    leaves.sort(key=lambda n: sizes[n])
    for n in leaves:
        if total <= pairs:
            chosen[n] = np.arange(sizes[n])
        else:
            k = min(sizes[n], max(MIN_PER_LEAF, round(pairs * sizes[n] / total)))
            chosen[n] = np.sort(rng.choice(sizes[n], size=k, replace=False))

    def f(name: str, value: np.ndarray) -> float:
        check_deadline()  # isolation: the time limit of heavy requests (backprop_viz.deadline)
        return float(np.sum(seed_grad * forward_output(graph, {name: value})))

    results = []
    evaluations = 0
    numeric_start = time.perf_counter()
    timed_out = False
    for n in leaves:
        base = np.array(graph.nodes[n].value, dtype=np.float64)
        flat = base.reshape(-1)
        backprop = np.asarray(trace.grads[n], dtype=np.float64).reshape(-1)
        indices, numerical = [], []
        for i in chosen[n]:
            if time.perf_counter() - start > max_seconds:
                timed_out = True
                break
            saved = flat[i]
            flat[i] = saved + h
            f_plus = f(n, base)
            flat[i] = saved - h
            f_minus = f(n, base)
            flat[i] = saved
            evaluations += 2
            indices.append(int(i))
            numerical.append((f_plus - f_minus) / (2 * h))
        results.append(compare(n, graph, indices, np.array(numerical), backprop, rtol, atol))
    numerical_seconds = time.perf_counter() - numeric_start
    checked = sum(r["checked"] for r in results)
    # Every element costs two forward passes of the whole graph, whichever leaf it is in.
    numerical_seconds_all = numerical_seconds * total / checked if checked else 0.0
    return {
        "ok": bool(results) and all(r["ok"] is True for r in results),
        "h": h,
        "rtol": rtol,
        "atol": atol,
        "leaves": results,
        "elements": total,
        "checked": checked,
        "evaluations": evaluations,
        "timed_out": timed_out,
        "backprop_seconds": backprop_seconds,
        "numerical_seconds": numerical_seconds,
        "numerical_seconds_all": numerical_seconds_all,
        "speedup": numerical_seconds_all / backprop_seconds if backprop_seconds > 0 else None,
    }


def compare(name, graph, indices, numerical, backprop, rtol, atol) -> dict[str, Any]:
    """One leaf's errors: |numerical - backprop|, absolute and relative to the larger one.

    ``ok`` is None for a leaf the time limit left unchecked; NaN errors are "NaN", not 0.
    """
    node = graph.nodes[name]
    size = int(node.value.size)
    picked = backprop[indices] if indices else np.array([])
    abs_error = np.abs(numerical - picked)
    scale = np.maximum(np.abs(numerical), np.abs(picked))
    with np.errstate(all="ignore"):
        rel_error = np.where(abs_error == 0, 0.0, abs_error / scale)
    shape = list(node.shape)
    result: dict[str, Any] = {
        "node": name,
        "label": node.label,
        "shape": shape,
        "elements": size,
        "checked": len(indices),
        "sampled": len(indices) < size,
        "max_abs_error": json_float(float(np.max(abs_error))) if indices else None,
        "max_rel_error": json_float(float(np.max(rel_error))) if indices else None,
        "ok": bool(np.all(abs_error <= atol + rtol * scale)) if indices else None,
    }
    if len(indices) == size and size <= MAX_LISTED_SAMPLES:
        result["backprop"] = to_json_numbers(backprop.reshape(node.shape))
        result["numerical"] = to_json_numbers(numerical.reshape(node.shape))
    else:
        result["samples"] = [
            {
                "index": [int(k) for k in np.unravel_index(i, node.shape)],
                "backprop": json_float(float(backprop[i])),
                "numerical": json_float(float(v)),
            }
            for i, v in list(zip(indices, numerical, strict=True))[:MAX_LISTED_SAMPLES]
        ]
    return result
