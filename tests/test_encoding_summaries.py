"""A large array's summary: the same numbers, to the last bit, as the encoder wrote before its
statistics skipped the mask and the copy of an all-finite array; and a read-only array's
statistics (a preset's leaf) computed once while it lives."""

from __future__ import annotations

import gc
import math

import numpy as np
import pytest

from backprop_viz import encoding, service
from backprop_viz.core.engine import run_graph
from backprop_viz.encoding import json_float, summarise, trace_to_json
from backprop_viz.settings import Settings


def summary_as_before(value: np.ndarray) -> dict:
    """The encoder's statistics as they were written before (a mask, a copy, then numpy)."""
    finite = value[np.isfinite(value)]
    with np.errstate(all="ignore"):
        stats = (
            {
                "min": float(finite.min()),
                "max": float(finite.max()),
                "mean": json_float(float(finite.mean())),
                "std": json_float(float(finite.std())),
                "norm": json_float(float(np.linalg.norm(finite))),
            }
            if finite.size
            else dict.fromkeys(("min", "max", "mean", "std", "norm"))
        )
    stats["non_finite"] = int(value.size - finite.size)
    return stats


def same_bits(a: dict, b: dict) -> bool:
    """Equal, with floats compared by their bits (so -0.0 is not 0.0, and NaN is NaN)."""
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, float) and isinstance(y, float):
            if math.copysign(1, x) != math.copysign(1, y) or (x != y and not (x != x and y != y)):
                return False
        elif x != y or type(x) is not type(y):
            return False
    return True


def arrays():
    rng = np.random.default_rng(12)
    yield rng.normal(size=(100, 784))  # the book's x
    yield rng.normal(scale=0.01, size=(784, 50))
    yield rng.uniform(-1e300, 1e300, size=(40, 50))  # std and norm overflow
    yield rng.normal(size=(3, 4, 5, 6))
    yield rng.normal(size=(60, 70)).T  # not contiguous
    yield rng.normal(size=(50, 80))[::2, 1::3]  # a strided view
    yield np.full((40, 40), -0.0)
    yield np.arange(2000.0) * 1e-320  # subnormals
    with_nan = rng.normal(size=(50, 50))
    with_nan[3, 4] = np.nan
    yield with_nan
    with_inf = rng.normal(size=(2000,))
    with_inf[[0, 7, 1999]] = [np.inf, -np.inf, np.inf]
    yield with_inf
    yield np.full((30, 40), np.nan)
    yield np.array([np.inf, -np.inf] * 600)
    yield np.zeros((0, 5))
    yield np.array(2.5)


@pytest.mark.parametrize("value", list(arrays()), ids=lambda v: f"{v.shape}")
def test_statistics_are_the_same_bits_as_before(value):
    assert same_bits(summarise(value)["summary"], summary_as_before(value))
    value.flags.writeable = False  # kept while it lives: the same bits again, from the cache
    first, second = summarise(value)["summary"], summarise(value)["summary"]
    assert same_bits(first, summary_as_before(value)) and same_bits(second, first)


def test_a_presets_leaf_statistics_are_computed_once_per_process(monkeypatch):
    settings = Settings()
    query = service.TraceQuery(example="two_layer_net_book")
    graph, dout = service.build(query, settings)
    computed = []
    statistics = encoding._statistics

    def counting(value):
        computed.append(value)
        return statistics(value)

    monkeypatch.setattr(encoding, "_statistics", counting)
    trace_to_json(run_graph(graph, dout), settings.inline_elements)
    computed.clear()
    again = trace_to_json(run_graph(graph, dout), settings.inline_elements)
    leaves = [graph.nodes["x"].value, graph.nodes["W1"].value]
    # the second request reads neither x (78,400 numbers) nor W1 (39,200) again; the arrays
    # its layers made are new, and summarised afresh
    assert not any(value is leaf for value in computed for leaf in leaves)
    assert {value.shape for value in computed} >= {(784, 50), (100, 50)}
    assert again["values"]["x"]["summary"] == summary_as_before(graph.nodes["x"].value)
    assert again["grads"]["W1"]["summary"] == summary_as_before(run_graph(graph, dout).grads["W1"])


def test_a_callers_change_to_a_summary_is_not_kept():
    value = np.random.default_rng(3).normal(size=(50, 50))
    value.flags.writeable = False
    summarise(value)["summary"]["mean"] = "changed"
    assert summarise(value)["summary"] == summary_as_before(value)


def test_statistics_go_with_their_array():
    value = np.random.default_rng(4).normal(size=(50, 50))
    value.flags.writeable = False
    summarise(value)
    key = id(value)
    assert key in encoding._STATISTICS
    del value
    gc.collect()
    assert key not in encoding._STATISTICS


def test_a_writeable_array_is_summarised_afresh():
    value = np.random.default_rng(5).normal(size=(50, 50))
    first = summarise(value)["summary"]
    value *= 2  # a writeable array may change between two summaries
    assert summarise(value)["summary"]["max"] == 2 * first["max"]
