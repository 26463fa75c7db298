"""A trace as JSON: values as numbers or nested lists, large arrays summarised, never NaN.

JSON has no NaN or infinity, so non-finite numbers become the strings "NaN", "Infinity" and
"-Infinity" and every response is valid JSON. Arrays over the inline limit become
``{shape, summary, preview}`` unless the request asks for full data. Each distinct array is
encoded once and shared wherever it appears (a value shows up in its node, in its consumers'
forward steps and in the values map).
"""

from __future__ import annotations

import json
import math
import weakref
from typing import Any

import numpy as np
import orjson

from backprop_viz.core.engine import Trace
from backprop_viz.core.graph import Graph
from backprop_viz.core.ops import op_fields

PREVIEW_ITEMS = 6
ALWAYS_INLINE = PREVIEW_ITEMS * PREVIEW_ITEMS  # a summary of this few is no smaller
# Each time an array is written out whole it is charged to a budget of this many times
# ``inline_elements`` per response (FULL_BUDGET with "full": true); past it, arrays are
# summarised. An array appears once per use (its node, each consumer's forward step, the maps),
# so without a budget per use one 1000-element leaf feeding 2000 nodes would answer a 100 KB
# request with 40 MB. The book-size network's full trace uses about 400,000.
INLINE_BUDGET_FACTOR = 20
FULL_BUDGET = 1_000_000


class ValueEncoder:
    """Encodes arrays for one response; each array is converted once, whole or summarised."""

    def __init__(self, inline_elements: int, full: bool = False):
        self.inline_elements = inline_elements
        self.full = full
        self.inline_left = FULL_BUDGET if full else INLINE_BUDGET_FACTOR * inline_elements
        self.scalars_inline = full or inline_elements >= 1  # and charged to no budget
        # id(array) -> (array, whole, summary); the array is kept so its id is not reused.
        self._seen: dict[int, list[Any]] = {}

    def __call__(self, value: np.ndarray | None) -> Any:
        if value is None:
            return None
        if not value.ndim and self.scalars_inline:  # a seed of 1, a loss: nothing to share
            number = value.tolist()
            return number if type(number) is not float else json_float(number)
        entry = self._seen.setdefault(id(value), [value, None, None])
        small = value.size <= ALWAYS_INLINE
        allowed = self.full or value.size <= self.inline_elements
        if allowed and (small or value.size <= self.inline_left):
            if not small:
                self.inline_left -= value.size
            if entry[1] is None:
                entry[1] = to_json_numbers(value)
            return entry[1]
        if entry[2] is None:
            entry[2] = summarise(value)
        return entry[2]

    def number(self, x: float | None) -> float | str | None:
        """A plain float (a local derivative) as JSON allows it."""
        return json_float(x)


def to_json_numbers(value: np.ndarray) -> Any:
    """A number or nested list, with non-finite numbers as strings."""
    if np.isfinite(value).all():
        return value.tolist()
    out = value.astype(object)
    out[np.isnan(value)] = "NaN"
    out[np.isposinf(value)] = "Infinity"
    out[np.isneginf(value)] = "-Infinity"
    return out.tolist()


def json_float(x: float | None) -> float | str | None:
    """A plain float as JSON allows it: non-finite ones as "NaN", "Infinity", "-Infinity"."""
    if x is None or math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def summarise(value: np.ndarray) -> dict[str, Any]:
    """Shape, statistics and the top-left corner of a large array."""
    # the top-left corner of the last two axes (at most 6 x 6), at index 0 of any others
    corner = value[
        tuple(
            slice(0, PREVIEW_ITEMS if axis >= value.ndim - 2 else 1) for axis in range(value.ndim)
        )
    ]
    return {
        "shape": list(value.shape),
        "summary": array_statistics(value),
        "preview": to_json_numbers(corner),
    }


def array_statistics(value: np.ndarray) -> dict[str, Any]:
    """min, max, mean, std and norm of an array's finite numbers, and how many are not finite.

    A read-only array that owns its data (a preset's leaf, parsed once per process and the same
    object on every request; a frozen layer output) has them computed once while it lives: the
    book net's x and W1 are 118,000 of the 167,000 numbers its summaries read per request.
    The caller gets its own dict.
    """
    constant = not value.flags.writeable and value.base is None
    if constant:
        kept = _STATISTICS.get(id(value))
        if kept is not None and kept[0]() is value:
            return dict(kept[1])
    stats = _statistics(value)
    if constant:
        key = id(value)
        # The entry goes with the array (an id is reused once its object is gone).
        forget = lambda _, key=key: _STATISTICS.pop(key, None)  # noqa: E731
        _STATISTICS[key] = (weakref.ref(value, forget), stats)
        return dict(stats)
    return stats


# id(array) -> (a weak reference to it, its statistics)
_STATISTICS: dict[int, tuple[weakref.ref, dict[str, Any]]] = {}


def _statistics(value: np.ndarray) -> dict[str, Any]:
    # The numbers are those of the finite elements in C order, as a 1-D array: when every one
    # is finite (min and max are, as NaN and infinities carry into them), that is the array
    # itself flattened (a view), with no mask and no copy; the reductions, in the same order
    # over the same numbers, give the same floats to the last bit (tests/test_encoding_*.py).
    with np.errstate(all="ignore"):  # mean, std and norm of huge finite numbers overflow
        flat = value.reshape(-1)
        low, high = (float(flat.min()), float(flat.max())) if flat.size else (math.nan, math.nan)
        if math.isfinite(low) and math.isfinite(high):
            finite = flat
        else:
            finite = flat[np.isfinite(flat)]
            if finite.size:
                low, high = float(finite.min()), float(finite.max())
        stats = (
            {
                "min": low,
                "max": high,
                "mean": json_float(float(finite.mean())),
                "std": json_float(float(finite.std())),
                "norm": json_float(float(np.linalg.norm(finite))),
            }
            if finite.size
            else dict.fromkeys(("min", "max", "mean", "std", "norm"))
        )
    stats["non_finite"] = int(value.size - finite.size)
    return stats


def trace_to_json(
    trace: Trace, inline_elements: int, full: bool = False, *, graph_part: Any = None
) -> dict[str, Any]:
    """The trace in the wire format of ``app.schemas.TraceResponse``; its ``graph`` is
    ``graph_part`` if given (``encoded_graph_json``'s, for ``dumps``), else ``graph_json``'s."""
    encode = ValueEncoder(inline_elements, full)
    graph = trace.graph
    # The maps first: when the budget runs out, it is the repeats in the steps that are
    # summarised, not the values a client reads first.
    if hasattr(trace, "json_parts"):  # the scalar fast path's trace writes its own floats
        values, grads, steps = trace.json_parts(encode)
    else:
        values = {node_id: encode(trace.values[node_id]) for node_id in graph.order}
        grads = {node_id: encode(trace.grads[node_id]) for node_id in graph.order}
        steps = [step.to_json(encode) for step in trace.steps]
    return {
        "graph": graph_json(graph) if graph_part is None else graph_part,
        "steps": steps,
        "values": values,
        "grads": grads,
        "warnings": trace.warnings,
        "dout": encode(trace.dout),
    }


def graph_json(graph: Graph) -> dict[str, Any]:
    """The trace's ``graph``: its nodes, edges, output and order.

    The caller's own lists and dicts: none is the graph's (a preset's Graph serves every
    request, so a caller changing what it got must not change the graph)."""
    compact = getattr(graph, "graph_json", None)  # a scalar graph whose nodes are not made yet
    written = compact() if compact is not None else None
    if written is not None:
        return written
    return {
        "nodes": [
            {
                "id": node.id,
                "op": node.op.name,
                "label": node.label,
                "labels": None if node.labels is None else dict(node.labels),
                "inputs": list(node.inputs),
                "shape": list(node.shape),
                **op_fields(node.op, node.params),  # layer, symbol, box, composite
                "requires_grad": node.requires_grad,
                "params": dict(node.params),  # flat: numbers, booleans and None
                "group": node.group,
            }
            for node in graph.nodes.values()
        ],
        "edges": [
            {"id": e.id, "source": e.source, "target": e.target, "port": e.port}
            for e in graph.edges
        ],
        "output": graph.output,
        "order": list(graph.order),
    }


class EncodedJSON:
    """A part of a payload written as JSON once; ``dumps`` writes its bytes as they are.

    Immutable bytes, so a cached one is never changed by a caller (a dict could be)."""

    __slots__ = ("encoded", "fragment")

    def __init__(self, encoded: bytes):
        self.encoded = encoded
        self.fragment = orjson.Fragment(encoded)

    def decoded(self) -> Any:
        """The part as Python values again (for the standard library's encoder)."""
        return json.loads(self.encoded)


def encoded_graph_json(graph: Graph) -> EncodedJSON | dict[str, Any]:
    """``graph_json(graph)`` for ``dumps``: the same bytes, written once per preset graph.

    A graph assembled from reused validated nodes (``core.graph.assemble_graph``: a preset's,
    with or without overrides) has JSON that depends on those nodes, its output and its
    shapes only (an override changes a leaf's value, which the graph part does not write,
    and maybe its shape, which it does): that is the key, and the entry keeps the nodes alive so
    their id is never another's. Any other graph, or one orjson refuses (whose bytes would be
    json.dumps's, which ``dumps`` writes differently), gets ``graph_json``'s dict.
    """
    source = graph.__dict__.get("assembled_from")
    if source is None:
        return graph_json(graph)
    key = (id(source), graph.output, tuple([node.shape for node in graph.nodes.values()]))
    entry = _GRAPH_JSON.get(key)
    if entry is not None and entry[0] is source:
        return entry[1]
    written = graph_json(graph)
    try:
        encoded = EncodedJSON(orjson.dumps(written))
    except orjson.JSONEncodeError:
        return written
    if len(_GRAPH_JSON) >= GRAPH_JSON_CACHE_SIZE:
        _GRAPH_JSON.clear()
    _GRAPH_JSON[key] = (source, encoded)
    return encoded


GRAPH_JSON_CACHE_SIZE = 64
# (id(validated nodes), output, shapes) -> (the validated nodes, their graph's JSON)
_GRAPH_JSON: dict[tuple[int, str, tuple[tuple[int, ...], ...]], tuple[Any, EncodedJSON]] = {}


def dumps(payload: Any) -> bytes:
    """Compact UTF-8 JSON of any payload a client's strings can end up in; never fails on one.

    orjson writes it (12-22 times faster than json.dumps on the book net's trace). What orjson
    refuses goes to ``json.dumps``, exactly as before it: a lone surrogate ("\\ud800", which
    JSON lets a client send) has no UTF-8 form, and ``backslashreplace`` writes it as the JSON
    escape ``\\ud800`` (json.dumps only puts text inside string literals, where that escape
    means the same code point); also an integer past 64 bits, a key that is not a string, a
    NumPy scalar. Non-finite numbers never reach here: the encoders above write them as strings
    (orjson would write a stray one as null, json.dumps raise).

    An ``EncodedJSON`` in the payload is written as its bytes (orjson's, so the same as its
    values'), or by json.dumps as its values: the bytes are those of the payload with the part
    decoded in its place.
    """
    try:
        return orjson.dumps(payload, default=_fragment)
    except orjson.JSONEncodeError:
        return _json_dumps(payload)


def _fragment(value: Any) -> Any:
    """orjson's ``default``: an EncodedJSON's bytes as they are; anything else it refuses."""
    if type(value) is EncodedJSON:
        return value.fragment
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def _decoded(value: Any) -> Any:
    """json.dumps's ``default``: an EncodedJSON's values; anything else it refuses."""
    if type(value) is EncodedJSON:
        return value.decoded()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _json_dumps(payload: Any) -> bytes:
    """The standard library's encoding, for what orjson refuses."""
    text = json.dumps(
        payload, allow_nan=False, separators=(",", ":"), ensure_ascii=False, default=_decoded
    )
    return text.encode("utf-8", "backslashreplace")
