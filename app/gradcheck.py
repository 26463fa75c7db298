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

from app.engine import forward_output, run_graph
from app.graph import Graph

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
        return float(np.sum(seed_grad * forward_output(graph, {name: value})))

    results = []
    evaluations = 0
    numeric_start = time.perf_counter()
    per_element = []
    timed_out = False
    for n in leaves:
        base = np.array(graph.nodes[n].value, dtype=np.float64)
        flat = base.reshape(-1)
        backprop = np.asarray(trace.grads[n], dtype=np.float64).reshape(-1)
        indices, numerical = [], []
        leaf_start = time.perf_counter()
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
        if indices:
            per_element.append((time.perf_counter() - leaf_start) / len(indices))
        results.append(compare(n, graph, indices, np.array(numerical), backprop, rtol, atol))
    numerical_seconds = time.perf_counter() - numeric_start
    mean_cost = float(np.mean(per_element)) if per_element else 0.0
    numerical_seconds_all = mean_cost * total
    checked = sum(r["checked"] for r in results)
    return {
        "ok": all(r["ok"] for r in results) and bool(results),
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
    """One leaf's errors: |numerical - backprop|, absolute and relative to the larger one."""
    node = graph.nodes[name]
    size = int(node.value.size)
    picked = backprop[indices] if indices else np.array([])
    abs_error = np.abs(numerical - picked)
    scale = np.maximum(np.abs(numerical), np.abs(picked))
    rel_error = np.divide(abs_error, scale, out=np.zeros_like(abs_error), where=scale > 0)
    ok = bool(np.all(abs_error <= atol + rtol * scale)) if indices else False
    shape = list(node.shape)
    result: dict[str, Any] = {
        "node": name,
        "label": node.label,
        "shape": shape,
        "elements": size,
        "checked": len(indices),
        "sampled": len(indices) < size,
        "max_abs_error": float(abs_error.max()) if indices else None,
        "max_rel_error": float(rel_error.max()) if indices else None,
        "ok": ok,
    }
    if len(indices) == size and size <= MAX_LISTED_SAMPLES:
        result["backprop"] = backprop.reshape(node.shape).tolist()
        result["numerical"] = numerical.reshape(node.shape).tolist()
    else:
        result["samples"] = [
            {
                "index": [int(k) for k in np.unravel_index(i, node.shape)],
                "backprop": float(backprop[i]),
                "numerical": float(v),
            }
            for i, v in list(zip(indices, numerical, strict=True))[:MAX_LISTED_SAMPLES]
        ]
    return result
