"""Graph specs written short in tests: leaf("x", 1), op("y", "exp", "x"), the apple graph."""

from __future__ import annotations


def leaf(node_id, value, **extra):
    return {"id": node_id, "op": "input", "value": value, **extra}


def op(node_id, name, *inputs, **params):
    node = {"id": node_id, "op": name, "inputs": list(inputs)}
    if params:
        node["params"] = params
    return node


def graph(nodes, output) -> dict:
    """A POST /api/trace body for a graph spec."""
    return {"graph": {"nodes": nodes, "output": output}}


APPLE = [
    leaf("apple", 100),
    leaf("apple_num", 2),
    op("apple_price", "mul", "apple", "apple_num"),
    leaf("tax", 1.1),
    op("price", "mul", "apple_price", "tax"),
]
