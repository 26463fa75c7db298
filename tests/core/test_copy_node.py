"""``core.graph.copy_node`` makes what ``dataclasses.replace`` made: an equal, separate node."""

from __future__ import annotations

import dataclasses

from backprop_viz import service
from backprop_viz.core.graph import Node, copy_node
from backprop_viz.examples import EXAMPLES
from backprop_viz.settings import Settings


def test_a_copy_equals_dataclasses_replace_for_every_node_of_every_preset():
    assert not hasattr(Node, "__post_init__")  # replace would run it; copy_node does not
    for example_id in EXAMPLES:
        for node in service.preset_nodes(example_id, (), Settings()).values():
            shape, value = node.shape, node.value
            copied = copy_node(node)
            assert copied == dataclasses.replace(node) and copied is not node
            assert type(copied) is Node
            copied.shape = (99,)  # assembling a graph sets shapes on its copies
            copied.value = None
            assert node.shape == shape and node.value is value


def test_an_override_leaves_the_presets_nodes_as_they_were():
    settings = Settings()
    before = {
        n: dataclasses.replace(v) for n, v in service.preset_nodes("apple", (), settings).items()
    }
    result = service.trace(service.TraceQuery(example="apple", values={"apple": 150}), settings)
    assert float(result.trace.values["price"]) == 330.0
    after = service.preset_nodes("apple", (), settings)
    assert all(after[n] == before[n] for n in before)
    assert float(after["apple"].value) == 100.0  # the book's 100 yen apple
