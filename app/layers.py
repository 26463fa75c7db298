"""The book's layers under the book's names: ``from backprop_viz.layers import MulLayer, ...``.

A thin re-export of ``backprop_viz.core.layers`` (the classes the engine runs), so a learner's
notebook imports them as the book's ``layer_naive.py`` and ``layers.py`` name them.
"""

from backprop_viz.core.layers import (
    AddLayer,
    Affine,
    DivLayer,
    ExpLayer,
    LogLayer,
    MatMul,
    MulLayer,
    NegLayer,
    PowLayer,
    ReciprocalLayer,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
    SubLayer,
    Sum,
    Tanh,
)

__all__ = [
    "Affine",
    "AddLayer",
    "DivLayer",
    "ExpLayer",
    "LogLayer",
    "MatMul",
    "MulLayer",
    "NegLayer",
    "PowLayer",
    "ReciprocalLayer",
    "Relu",
    "Sigmoid",
    "SoftmaxWithLoss",
    "SubLayer",
    "Sum",
    "Tanh",
]
