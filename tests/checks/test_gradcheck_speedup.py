"""The gradient check's speed-up comes from comparable, interleaved timings and agrees across
runs; the extrapolation is stated as fields and in a sentence."""

from __future__ import annotations

import re

from threadpoolctl import threadpool_limits

from backprop_viz import service
from backprop_viz.checks.gradcheck import seconds_text, significant
from backprop_viz.settings import Settings


def book_check() -> dict:
    """The check as the served app runs it: with one BLAS thread (backprop_viz.main; with two,
    OpenBLAS's spinning thread makes single runs up to 15 times slower at random)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return service.check_gradients(service.TraceQuery(example="two_layer_net_book"), Settings())


def test_three_runs_on_the_book_net_agree_within_30_percent():
    estimates = [book_check()["estimate"] for _ in range(3)]
    speedups = [e["speedup"] for e in estimates]
    assert min(speedups) > 1000  # backprop is orders of magnitude faster
    assert max(speedups) / min(speedups) <= 1.3, speedups
    full = [e["numerical_seconds_all"] for e in estimates]
    assert max(full) / min(full) <= 1.3, full


def test_the_extrapolation_is_two_forward_passes_per_element():
    result = book_check()
    estimate = result["estimate"]
    assert result["elements"] == 784 * 50 + 50 + 50 * 10 + 10 == 39_760
    assert estimate["rounds"] >= 3
    assert estimate["numerical_seconds_all"] == 2 * 39_760 * estimate["forward_seconds"]
    assert estimate["speedup"] == estimate["numerical_seconds_all"] / estimate["backprop_seconds"]
    # a forward pass costs less than forward and backward
    assert estimate["forward_seconds"] < estimate["backprop_seconds"]


def test_the_summary_states_the_checked_elements_and_the_full_time():
    result = book_check()
    match = re.fullmatch(
        r"([\d,]+) of 39,760 elements checked; a full numerical gradient would take ~(\S+) (s|ms)"
        r" \(79,520 forward passes of \S+ (s|ms|µs)\), ~[\d,.]+x the time of one backprop\.",
        result["summary"],
    )
    assert match, result["summary"]
    assert int(match[1].replace(",", "")) == result["checked"]
    assert match[2] == significant(
        result["estimate"]["numerical_seconds_all"] / (1.0 if match[3] == "s" else 1e-3)
    )


def test_durations_read_in_two_significant_digits():
    assert seconds_text(14.2) == "14 s"
    assert seconds_text(0.523) == "520 ms"
    assert seconds_text(0.00131) == "1.3 ms"
    assert seconds_text(0.0000451) == "45 µs"
    assert significant(12_345) == "12,000"
