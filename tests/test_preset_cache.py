"""A preset's values are parsed once per process; an override is parsed on its own."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_viz import service
from backprop_viz.core import graph as graph_module
from backprop_viz.settings import Settings


@pytest.fixture
def parsed(monkeypatch):
    """The fields parse_value was called for, in order, from an empty preset cache."""
    calls: list[str] = []
    real = graph_module.parse_value

    def counting(raw, **kwargs):
        calls.append(kwargs["field"])
        return real(raw, **kwargs)

    monkeypatch.setattr(graph_module, "parse_value", counting)
    monkeypatch.setattr(service, "_PRESET_CACHE", {})
    monkeypatch.setattr(service, "_PRESET_GRAPHS", {})
    return calls


def test_a_second_request_for_a_preset_parses_nothing(parsed):
    settings = Settings()
    query = service.TraceQuery(example="two_layer_net_book")
    first = service.trace(query, settings)
    assert len(parsed) == 6  # x, W1, b1, W2, b2, t
    second = service.trace(query, settings)
    assert len(parsed) == 6
    assert float(second.trace.values["loss"]) == float(first.trace.values["loss"])


def test_an_override_parses_only_its_value_and_gives_the_books_numbers(parsed):
    settings = Settings()
    service.trace(service.TraceQuery(example="apple"), settings)
    parsed.clear()
    result = service.trace(service.TraceQuery(example="apple", values={"apple": 150}), settings)
    assert parsed == ["values.apple"]
    assert float(result.trace.values["price"]) == pytest.approx(330.0)
    assert float(result.trace.grads["apple"]) == pytest.approx(2.2)
    # the override did not leak into the cached preset
    again = service.trace(service.TraceQuery(example="apple"), settings)
    assert float(again.trace.values["price"]) == pytest.approx(220.0)
    assert parsed == ["values.apple"]


def test_an_override_of_the_wrong_shape_is_still_refused(parsed):
    settings = Settings()
    service.trace(service.TraceQuery(example="two_layer_net_book"), settings)
    with pytest.raises(graph_module.GraphError) as info:
        service.trace(
            service.TraceQuery(example="two_layer_net_book", values={"W1": [[1.0, 2.0]]}),
            settings,
        )
    assert info.value.node is not None


def test_cached_values_are_read_only_and_expansions_cached_apart(parsed):
    settings = Settings()
    plain = service.preset_nodes("two_layer_net_book", (), settings)
    expanded = service.preset_nodes("two_layer_net_book", ("affine1",), settings)
    assert len(expanded) > len(plain)  # affine1 drawn as its primitives
    assert not plain["W1"].value.flags.writeable
    count = len(parsed)
    assert service.preset_nodes("two_layer_net_book", ["affine1"], settings) is expanded
    assert len(parsed) == count
    np.testing.assert_array_equal(plain["W1"].value, expanded["W1"].value)


def test_without_overrides_the_graph_itself_is_reused_and_left_unchanged(parsed):
    settings = Settings()
    query = service.TraceQuery(example="apple")
    graph, _ = service.build(query, settings)
    assert service.build(query, settings)[0] is graph
    overridden, _ = service.build(service.TraceQuery(example="apple", values={"tax": 2}), settings)
    assert overridden is not graph
    assert float(overridden.nodes["tax"].value) == 2.0
    assert float(graph.nodes["tax"].value) == 1.1
    service.check_gradients(query, settings)  # the check only reads the graph
    assert float(service.trace(query, settings).trace.values["price"]) == pytest.approx(220.0)
