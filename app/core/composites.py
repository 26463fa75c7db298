"""Composite nodes drawn either way the book draws them: one layer, or its primitive nodes.

A sigmoid node becomes x * -1, exp, + 1 and / (figure 5-19); an Affine node becomes dot and +
(figure 5-25). The last primitive keeps the composite's id, so every edge around it, and the
numbers on those edges, stay the same; the inner nodes carry ``group``, the composite's id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from backprop_viz.core.graph import GraphError, quote

COMPOSITES = ("sigmoid", "affine")


def expand_composites(nodes: list[dict[str, Any]], ids: Iterable[str]) -> list[dict[str, Any]]:
    """The spec with each listed sigmoid or affine node replaced by its primitive nodes."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return nodes
    by_id = {node.get("id"): node for node in nodes}
    for node_id in wanted:
        node = by_id.get(node_id)
        if node is None:
            raise GraphError(
                f"expand: no node with id {quote(node_id)}", field="expand", node=node_id
            )
        if node.get("op") not in COMPOSITES:
            raise GraphError(
                f"expand: node {node_id!r} is a {node.get('op')} node; only sigmoid and affine "
                "nodes can be expanded",
                field="expand",
                node=node_id,
            )
    taken = set(by_id)
    out: list[dict[str, Any]] = []
    for node in nodes:
        if node.get("id") not in wanted:
            out.append(node)
            continue
        inner = expand_sigmoid(node) if node["op"] == "sigmoid" else expand_affine(node)
        for part in inner:
            if part["id"] != node["id"] and part["id"] in taken:
                raise GraphError(
                    f"expand: node {node['id']!r} cannot be expanded: the id {part['id']!r} "
                    "is already taken",
                    field="expand",
                    node=node["id"],
                )
            taken.add(part["id"])
        out.extend(inner)
    return out


def expand_sigmoid(node: dict[str, Any]) -> list[dict[str, Any]]:
    s, (x,) = node["id"], node["inputs"]
    label = node.get("label") or s
    return [
        {
            "id": f"{s}/-1",
            "op": "input",
            "value": -1,
            "label": "-1",
            "requires_grad": False,
            "group": s,
        },
        {"id": f"{s}/neg", "op": "mul", "inputs": [x, f"{s}/-1"], "group": s},
        {"id": f"{s}/exp", "op": "exp", "inputs": [f"{s}/neg"], "group": s},
        {
            "id": f"{s}/1",
            "op": "input",
            "value": 1,
            "label": "1",
            "requires_grad": False,
            "group": s,
        },
        {"id": f"{s}/add", "op": "add", "inputs": [f"{s}/exp", f"{s}/1"], "group": s},
        {"id": s, "op": "reciprocal", "inputs": [f"{s}/add"], "label": label, "group": s},
    ]


def expand_affine(node: dict[str, Any]) -> list[dict[str, Any]]:
    a, (x, W, b) = node["id"], node["inputs"]
    label = node.get("label") or a
    return [
        {"id": f"{a}/dot", "op": "matmul", "inputs": [x, W], "group": a},
        {"id": a, "op": "add", "inputs": [f"{a}/dot", b], "label": label, "group": a},
    ]
