"""The steps of a trace, one class per phase: what a forward, backward, accumulate or (forward
mode) tangent step holds.

The engine's ``TraceRecorder`` builds them; the JSON encoder, the command line and the tests
read them by attribute. Each knows its own wire format (``to_json``), so nothing branches on
``phase`` to find out which fields a step has. The wire models that /openapi.json publishes
are ``backprop_viz.web.schemas.ForwardStep`` and its siblings, discriminated on ``phase``.

``encode`` is the response's value encoder (``backprop_viz.encoding.ValueEncoder``): called on an
array it gives a JSON number, a nested list or a summary; ``encode.number`` writes a plain float.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import numpy as np


class Encoder(Protocol):
    """How a step writes its numbers (one encoder per response, so arrays are shared)."""

    def __call__(self, value: np.ndarray | None) -> Any: ...

    def number(self, x: float | None) -> Any: ...


@dataclass(slots=True)
class StepInput:
    """The value arriving at a node along one input edge."""

    edge: str
    source: str
    value: np.ndarray


@dataclass(slots=True)
class EdgeGradient:
    """The gradient a node sends back along one input edge, with the formula that made it."""

    edge: str
    source: str
    port: int
    formula: str
    local: float | None
    """d out / d input for a scalar op (the number the chain rule multiplies); None for tensors."""
    grad: np.ndarray | None
    """None where the input takes no gradient (the labels t of Softmax-with-Loss)."""


@dataclass(slots=True)
class GradientPart:
    """One consumer's share of the gradient of a node that feeds several (a fork)."""

    edge: str
    target: str
    grad: np.ndarray


@dataclass(slots=True)
class ForwardStep:
    """A node's layer ran ``forward``: its input values, edge by edge, and its output."""

    phase: ClassVar[Literal["forward"]] = "forward"
    index: int
    node: str
    inputs: list[StepInput]
    out: np.ndarray

    def to_json(self, encode: Encoder) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "index": self.index,
            "node": self.node,
            "inputs": [
                {"edge": i.edge, "source": i.source, "value": encode(i.value)} for i in self.inputs
            ],
            "out": encode(self.out),
        }


@dataclass(slots=True)
class BackwardStep:
    """A node's layer ran ``backward(dout)``: the gradient sent along each input edge."""

    phase: ClassVar[Literal["backward"]] = "backward"
    index: int
    node: str
    dout: np.ndarray
    edges: list[EdgeGradient]

    def to_json(self, encode: Encoder) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "index": self.index,
            "node": self.node,
            "dout": encode(self.dout),
            "edges": [
                {
                    "edge": e.edge,
                    "source": e.source,
                    "port": e.port,
                    "formula": e.formula,
                    "local": encode.number(e.local),
                    "grad": encode(e.grad),
                }
                for e in self.edges
            ],
        }


@dataclass(slots=True)
class AccumulateStep:
    """The gradients arriving at a fork from each consumer, and their sum (the node's gradient)."""

    phase: ClassVar[Literal["accumulate"]] = "accumulate"
    index: int
    node: str
    parts: list[GradientPart]
    sum: np.ndarray

    def to_json(self, encode: Encoder) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "index": self.index,
            "node": self.node,
            "parts": [
                {"edge": p.edge, "target": p.target, "grad": encode(p.grad)} for p in self.parts
            ],
            "sum": encode(self.sum),
        }


@dataclass(slots=True)
class EdgeTangent:
    """Forward mode: the tangent arriving along one input edge (d source / d wrt)."""

    edge: str
    source: str
    port: int
    local: float | None
    """d out / d input for a scalar op (what the tangent is multiplied by); None for tensors."""
    tangent: np.ndarray | None
    """None where the source does not depend on wrt (a zero tangent)."""


@dataclass(slots=True)
class TangentStep:
    """Forward mode: a node's JVP ran on the tangents of its inputs and gave its own."""

    phase: ClassVar[Literal["tangent"]] = "tangent"
    index: int
    node: str
    edges: list[EdgeTangent]
    tangent: np.ndarray

    def to_json(self, encode: Encoder) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "index": self.index,
            "node": self.node,
            "edges": [
                {
                    "edge": e.edge,
                    "source": e.source,
                    "port": e.port,
                    "local": encode.number(e.local),
                    "tangent": encode(e.tangent),
                }
                for e in self.edges
            ],
            "tangent": encode(self.tangent),
        }


Step = ForwardStep | BackwardStep | AccumulateStep | TangentStep
