"""Composite nodes drawn either way the book draws them: one layer, or its primitive nodes.

Which ops are composites, and what they expand into, is each op's ``expand`` in the catalogue
(core/ops.py): a sigmoid node becomes x * -1, exp, + 1 and / (figure 5-19); an Affine node
becomes dot and + (figure 5-25); Softmax-with-Loss becomes the Softmax and Cross Entropy Error
layers (figure 5-29), each of which expands again into Appendix A's primitives. Here the
expansions are checked and spliced into the spec. The last primitive keeps the composite's id,
so every edge around it, and the numbers on those edges, stay the same; the inner nodes carry
``group``, the id the composite was expanded by.

Nested expansion: an id in the list may name a node that an expansion of another listed id
makes (``["loss", "loss/softmax"]``), in any order. The node that keeps a composite's id may
itself be a composite (the Cross Entropy Error node of an expanded Softmax-with-Loss ``loss``
is ``loss`` too), so it is expanded by ``<id>/<op>``: ``loss/cross_entropy_error``, which is
also the group of its primitives. Collapsing a group (leaving its id out) collapses the groups
nested in it too, as their ids then name nothing: the page leaves out every ``<group>/...``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from backprop_viz.core.graph import GraphError, not_an_object, quote
from backprop_viz.core.ops import OPS, composite_ops

COMPOSITES = composite_ops()


def expand_composites(nodes: list[dict[str, Any]], ids: Iterable[str]) -> list[dict[str, Any]]:
    """The spec with each listed composite node (sigmoid, affine, softmax_with_loss, and the
    softmax and cross_entropy_error nodes it expands into) replaced by its primitives."""
    pending = list(dict.fromkeys(ids))
    if pending:
        for i, node in enumerate(nodes):
            if not isinstance(node, Mapping):
                raise not_an_object(i, node)
    while pending:
        by_id = {node_key(node): node for node in nodes}
        ready: dict[str, str] = {}  # node id -> the group its primitives get (the listed id)
        for wanted in pending:
            node = find_composite(wanted, by_id)
            if node is not None:
                ready[node["id"]] = wanted
        if not ready:
            wanted = pending[0]
            raise GraphError(
                f"expand: no node with id {quote(wanted)}", field="expand", node=wanted
            )
        pending = [wanted for wanted in pending if wanted not in ready.values()]
        nodes = splice(nodes, ready)
    return nodes


def find_composite(wanted: Any, by_id: dict[Any, dict[str, Any]]) -> dict[str, Any] | None:
    """The node the listed id names (None if none does yet), or an error if it is no
    composite. ``<id>/<op>`` names the node that kept its composite's id ``<id>``."""
    node = by_id.get(wanted)
    if node is None and isinstance(wanted, str) and "/" in wanted:
        kept_id, _, op = wanted.rpartition("/")
        kept = by_id.get(kept_id)
        if kept is not None and kept.get("op") == op and kept.get("group") == kept_id:
            node = kept
    if node is None:
        return None
    if node.get("op") not in COMPOSITES:
        raise GraphError(
            f"expand: node {wanted!r} is a {node.get('op')} node; only sigmoid and affine "
            "nodes (figures 5-19 and 5-25) and softmax_with_loss with its softmax and "
            "cross_entropy_error nodes (figure 5-29, Appendix A) can be expanded",
            field="expand",
            node=wanted,
        )
    return node


def node_key(node: Mapping[str, Any]) -> str | None:
    """A node's id if it is a string (the full build reports any other), else None."""
    node_id = node.get("id")
    return node_id if isinstance(node_id, str) else None


def splice(nodes: list[dict[str, Any]], groups: dict[str, str]) -> list[dict[str, Any]]:
    """The spec with the nodes of ``groups`` (node id -> group) replaced by their primitives."""
    taken = {node_key(node) for node in nodes}
    out: list[dict[str, Any]] = []
    for node in nodes:
        group = groups.get(node_key(node))
        if group is None:
            out.append(node)
            continue
        inner = [{**part, "group": group} for part in OPS[node["op"]].expand(node)]
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
