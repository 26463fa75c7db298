"""Composite nodes drawn either way the book draws them: one layer, or its primitive nodes.

Which ops are composites, and what they expand into, is each op's ``expand`` in the catalogue
(core/ops.py): a sigmoid node becomes x * -1, exp, + 1 and / (figure 5-19); an Affine node
becomes dot and + (figure 5-25). Here the expansions are checked and spliced into the spec. The
last primitive keeps the composite's id, so every edge around it, and the numbers on those
edges, stay the same; the inner nodes carry ``group``, the composite's id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from backprop_viz.core.graph import GraphError, quote
from backprop_viz.core.ops import OPS, composite_ops

COMPOSITES = composite_ops()


def expand_composites(nodes: list[dict[str, Any]], ids: Iterable[str]) -> list[dict[str, Any]]:
    """The spec with each listed composite node (sigmoid, affine) replaced by its primitives."""
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
                f"expand: node {node_id!r} is a {node.get('op')} node; only "
                f"{' and '.join(COMPOSITES)} nodes can be expanded",
                field="expand",
                node=node_id,
            )
    taken = set(by_id)
    out: list[dict[str, Any]] = []
    for node in nodes:
        if node.get("id") not in wanted:
            out.append(node)
            continue
        inner = OPS[node["op"]].expand(node)
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
