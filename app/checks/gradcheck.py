"""The gradient check of the book's 5.7.3: backprop's gradients against numerical ones.

The numerical gradient is the central difference (f(x + h) - f(x - h)) / 2h of
f = sum(dout * output), element by element, two forward passes each, as the book's
``numerical_gradient`` does. That is slow (about a minute for the book's 784-50-10 net), so
it is bounded: past ``max_evaluations`` forward passes, large leaves are checked on a seeded
random sample of their elements (at least ``MIN_PER_LEAF`` each); before each element, the
rest of the sample is cut to what ends by ``TIME_SHARE`` of the time limit at the cost seen so
far (small leaves keep the most, and every leaf at least one element); and the time limit
stops the loop for good. A check the time limit stopped is incomplete, and not ok.

Leaves that are data are never perturbed: the labels t of Softmax-with-Loss (class indices
or one-hot), and anything that flows into them. Backprop treats them as constants, so a
numerical derivative there would differ by design (and a class index moved by h = 1 would
leave the range of classes); they are listed as skipped, with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from backprop_viz.core.engine import Trace, forward_backward, forward_output, run_graph
from backprop_viz.core.graph import Graph
from backprop_viz.deadline import check_deadline
from backprop_viz.encoding import json_float, to_json_numbers

MAX_LISTED_SAMPLES = 50
MIN_PER_LEAF = 20
TIME_SHARE = 0.75
"""The sample is planned to end by this share of the time limit; the rest absorbs a machine
that gets busier."""
TIMING_ROUNDS = (3, 51)
"""Rounds of the speed-up's timing: at least the first, at most the second; past the first,
rounds stop once they have taken TIMING_SHARE of the time limit."""
TIMING_SHARE = 0.05
"""(With nine rounds, a burst of load on a shared machine still moved the book net's figure by
half now and then; fifty, about 40 ms there, hold it within a few per cent.)"""


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
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Any]:
    """Compare backprop and numerical gradients for every leaf that takes a gradient.

    ``clock`` measures the time limit and the reported seconds (a fake one in tests).
    """
    start = clock()
    trace = run_graph(graph, dout)
    backprop_seconds = clock() - start
    seed_grad = trace.dout
    skipped = skipped_leaves(graph, trace)
    leaves = [n for n in graph.order if graph.nodes[n].is_leaf and n not in skipped]
    sizes = {n: int(graph.nodes[n].value.size) for n in leaves}
    total = sum(sizes.values())
    pairs = max(1, max_evaluations // 2)

    def f(name: str, value: np.ndarray) -> float:
        check_deadline()  # isolation: the time limit of heavy requests (backprop_viz.deadline)
        return float(np.sum(seed_grad * forward_output(graph, {name: value})))

    # Small leaves first, and at least MIN_PER_LEAF elements of each, so that a budget or a
    # time limit spent on one large weight matrix still leaves every leaf checked. Each plan is
    # in random order, so that a plan cut short (below) is still a random sample.
    leaves.sort(key=lambda n: sizes[n])
    rng = np.random.default_rng(seed)
    plan = {}
    for n in leaves:
        k = sample_size(sizes[n], total, pairs)
        plan[n] = rng.permutation(sizes[n]) if k == sizes[n] else rng.choice(sizes[n], k, False)

    results = []
    evaluations = 0
    checked = 0
    numeric_start = clock()
    timed_out = False
    for position, n in enumerate(leaves):
        base = np.array(graph.nodes[n].value, dtype=np.float64)
        flat = base.reshape(-1)
        backprop = np.asarray(trace.grads[n], dtype=np.float64).reshape(-1)
        done: dict[int, float] = {}
        while len(done) < len(plan[n]):
            elapsed = clock() - start
            if elapsed > max_seconds:
                timed_out = True
                break
            cost = (clock() - numeric_start) / checked if checked else 0.0
            if cost > 0:
                counts = {m: len(plan[m]) for m in leaves[position:]}
                affordable = (TIME_SHARE * max_seconds - elapsed) / cost
                if len(done) >= time_share(counts, len(done), affordable)[n]:
                    break  # the rest of the plan would end past the planned time
            i = int(plan[n][len(done)])
            saved = flat[i]
            flat[i] = saved + h
            f_plus = f(n, base)
            flat[i] = saved - h
            f_minus = f(n, base)
            flat[i] = saved
            evaluations += 2
            checked += 1
            done[i] = (f_plus - f_minus) / (2 * h)
        indices = sorted(done)
        numerical = np.array([done[i] for i in indices])
        results.append(compare(n, graph, indices, numerical, backprop, rtol, atol))
    numerical_seconds = clock() - numeric_start
    complete = not timed_out
    # Every element costs two forward passes of the whole graph, whichever leaf it is in.
    numerical_seconds_all = numerical_seconds * total / checked if checked else 0.0
    estimate = speedup_estimate(
        graph,
        dout,
        total,
        rounds=1 if timed_out else None,
        budget=TIMING_SHARE * max_seconds,
        clock=clock,
    )
    return {
        "ok": complete and bool(results) and all(r["ok"] is True for r in results),
        "complete": complete,
        "h": h,
        "rtol": rtol,
        "atol": atol,
        "leaves": results,
        "skipped": [
            {"node": n, "label": graph.nodes[n].label, "reason": reason}
            for n, reason in skipped.items()
        ],
        "elements": total,
        "checked": checked,
        "evaluations": evaluations,
        "timed_out": timed_out,
        "backprop_seconds": backprop_seconds,
        "numerical_seconds": numerical_seconds,
        "numerical_seconds_all": numerical_seconds_all,
        "speedup": numerical_seconds_all / backprop_seconds if backprop_seconds > 0 else None,
        "estimate": estimate,
        "summary": summary_sentence(checked, total, estimate),
    }


def speedup_estimate(
    graph: Graph,
    dout: Any,
    elements: int,
    *,
    rounds: int | None,
    budget: float,
    clock: Callable[[], float],
) -> dict[str, Any]:
    """What a full numerical gradient would cost against one backprop, from timings that can be
    compared: in each round one forward and backward pass and one forward pass, both recording
    nothing (the numerical side's pass), one after the other, so a machine that gets busier slows
    both; medians of the rounds. The as-run figures (``speedup``) compare a first, recorded run
    with passes timed under whatever else ran meanwhile; these agree from run to run."""
    least, most = (rounds, rounds) if rounds else TIMING_ROUNDS
    backprop: list[float] = []
    forward: list[float] = []
    start = clock()
    while len(forward) < most and (len(forward) < least or clock() - start < budget):
        check_deadline()
        t0 = clock()
        forward_backward(graph, dout=dout)
        t1 = clock()
        forward_output(graph, {})  # as f does, but unperturbed
        t2 = clock()
        backprop.append(t1 - t0)
        forward.append(t2 - t1)
    forward_seconds = float(np.median(forward))
    backprop_seconds = float(np.median(backprop))
    numerical_all = 2 * elements * forward_seconds
    return {
        "rounds": len(forward),
        "forward_seconds": forward_seconds,
        "backprop_seconds": backprop_seconds,
        "numerical_seconds_all": numerical_all,
        "speedup": numerical_all / backprop_seconds if backprop_seconds > 0 else None,
    }


def summary_sentence(checked: int, elements: int, estimate: dict[str, Any]) -> str:
    """ "1,036 of 39,760 elements checked; a full numerical gradient would take ~14 s ..." """
    speedup = estimate["speedup"]
    faster = f", ~{significant(speedup)}x the time of one backprop" if speedup else ""
    return (
        f"{checked:,} of {elements:,} elements checked; a full numerical gradient would take "
        f"~{seconds_text(estimate['numerical_seconds_all'])} ({2 * elements:,} forward passes of "
        f"{seconds_text(estimate['forward_seconds'])}){faster}."
    )


def seconds_text(seconds: float) -> str:
    """A duration in two significant digits: 14 s, 0.52 s, 1.3 ms, 45 µs."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale or unit == "µs":
            return f"{significant(seconds / scale)} {unit}"
    raise AssertionError  # unreachable


def significant(x: float) -> str:
    """Two significant digits, thousands separated: 14, 0.52, 12,000."""
    if x == 0:
        return "0"
    rounded = float(f"{x:.2g}")
    return f"{rounded:,.0f}" if rounded >= 10 else f"{rounded:g}"


def sample_size(size: int, total: int, pairs: int) -> int:
    """How many of a leaf's elements the pass budget checks: all if the budget covers every
    leaf, else the leaf's share of it, but at least MIN_PER_LEAF (or all, if fewer)."""
    if total <= pairs:
        return size
    return min(size, max(MIN_PER_LEAF, round(pairs * size / total)))


def time_share(counts: dict[str, int], done: int, affordable: float) -> dict[str, int]:
    """The counts of the leaves still to check (the first one under way, ``done`` of it
    checked) cut to what the time left pays for: ``affordable`` more elements."""
    return share_out(counts, done + max(0, int(affordable)))


def share_out(counts: dict[str, int], budget: int) -> dict[str, int]:
    """Cut the leaves' counts to ``budget`` in all, smallest first: a leaf keeps its count if an
    equal share of what is left covers it, else it gets that share (but always one element).
    A budget that covers every count leaves them all as they are."""
    shared = {}
    left = budget
    ordered = sorted(counts, key=lambda n: counts[n])
    for i, n in enumerate(ordered):
        shared[n] = max(1, min(counts[n], left // (len(ordered) - i)))
        left -= shared[n]
    return {n: shared[n] for n in counts}


def skipped_leaves(graph: Graph, trace: Trace) -> dict[str, str]:
    """The leaves not to perturb, in graph order, each with the reason.

    Data is found where backward stops: an input edge that got no gradient although its
    target did (t of Softmax-with-Loss). Its source and everything upstream of it is data.
    """
    data_use: dict[str, str] = {}
    for node_id in graph.order:
        node = graph.nodes[node_id]
        if node.is_leaf or trace.grads[node_id] is None:
            continue
        for edge in graph.inputs[node_id]:
            if edge.id not in trace.edge_grads:
                use = (
                    f"input {node.op.inputs[edge.port]!r} of {node.op.name} node {node_id!r}, "
                    "which is data"
                )
                mark_upstream(graph, edge.source, use, data_use)
    skipped = {}
    for node_id in graph.order:
        node = graph.nodes[node_id]
        if not node.is_leaf:
            continue
        if not node.requires_grad:
            skipped[node_id] = "data: requires_grad is false"
        elif node_id in data_use:
            skipped[node_id] = f"data: it feeds {data_use[node_id]} (backprop sends it no gradient)"
        elif trace.grads[node_id] is None:
            skipped[node_id] = "no gradient: it does not lead to the output"
    return skipped


def mark_upstream(graph: Graph, node_id: str, use: str, marked: dict[str, str]) -> None:
    """Mark ``node_id`` and every node it depends on with ``use`` (the first use wins)."""
    stack = [node_id]
    while stack:
        current = stack.pop()
        if current in marked:
            continue
        marked[current] = use
        stack.extend(graph.nodes[current].inputs)


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
