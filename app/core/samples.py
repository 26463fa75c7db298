"""Sample inputs that each op of the catalogue is tested on (tests/core/test_ops.py).

An op's entry in ``OPS`` lists its samples: one ``Draw`` (random values of a shape) or literal
array per input, and the op's params. Draws are seeded, so a test sees the same numbers each run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Draw:
    """Random sample values of one shape: |x| in [low, high], of either sign unless positive.

    Half a unit from zero, no kink of relu and no pole of div or log is within the numerical
    gradient's step.
    """

    shape: Shape
    positive: bool = False
    low: float = 0.5
    high: float = 2.0

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        magnitude = rng.uniform(self.low, self.high, self.shape)
        if self.positive:
            return magnitude
        return magnitude * rng.choice([-1.0, 1.0], self.shape)


@dataclass(frozen=True)
class Sample:
    """Inputs an op is tested on: one Draw or literal array per input, and the op's params."""

    inputs: tuple[Any, ...]
    params: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def values(self, seed: int = 0) -> list[np.ndarray]:
        """The inputs as arrays; Draws are the same for the same seed."""
        rng = np.random.default_rng(seed)
        return [
            spec.draw(rng) if isinstance(spec, Draw) else np.asarray(spec, dtype=np.float64)
            for spec in self.inputs
        ]

    @property
    def label(self) -> str:
        """E.g. ``(2, 3), (3,)`` or ``(3,)>0 p=0.5`` (>0: positive), for test ids and messages."""
        shapes = [
            (f"{spec.shape}>0" if spec.positive else str(spec.shape))
            if isinstance(spec, Draw)
            else str(np.shape(spec))
            for spec in self.inputs
        ]
        words = [", ".join(shapes)] + [f"{k}={v}" for k, v in self.params.items()]
        return " ".join(words + ([self.note] if self.note else []))


def signed(*shape: int) -> Draw:
    """Random values of either sign, half a unit or more from zero."""
    return Draw(shape)


def positive(*shape: int) -> Draw:
    """Random positive values (for log and fractional powers)."""
    return Draw(shape, positive=True)


UNARY_SHAPES: tuple[Shape, ...] = ((), (3,), (2, 3))
BROADCAST_SHAPES: tuple[tuple[Shape, Shape], ...] = (
    ((2, 3), (2, 3)),
    ((2, 3), (3,)),
    ((2, 3), (1, 3)),
    ((2, 1), (1, 3)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((), ()),
)


def unary_samples(domain: Callable[..., Draw] = signed, **params: Any) -> tuple[Sample, ...]:
    """A scalar, a vector and a matrix, drawn from ``domain``, with these params."""
    return tuple(Sample((domain(*shape),), params) for shape in UNARY_SHAPES)


def broadcast_samples() -> tuple[Sample, ...]:
    """Pairs of shapes that broadcast every way NumPy does (a scalar, a row, a column...)."""
    return tuple(Sample((signed(*x), signed(*y))) for x, y in BROADCAST_SHAPES)
