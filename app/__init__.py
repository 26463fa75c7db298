"""backprop-viz: step-by-step forward and backward traces of chapter 5's computational graphs.

The Python API (``backprop_viz.api``, ``backprop_viz.learner``)::

    import backprop_viz as bv
    bv.trace("apple").grads["apple"]            # 2.2
    bv.gradient_check("apple").ok               # True
    bv.check_layer(MyMulLayer, op="mul")        # a verdict on a layer you wrote

Its names are imported on first use (module ``__getattr__``), so the server and the command
line, which import this package too, do not pay for them.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

LAZY = {
    "trace": "backprop_viz.api",
    "gradient_check": "backprop_viz.api",
    "Trace": "backprop_viz.api",
    "GradientCheck": "backprop_viz.api",
    "check_layer": "backprop_viz.learner",
    "LayerReport": "backprop_viz.learner",
}

__all__ = ["__version__", *LAZY]


def __getattr__(name: str) -> Any:
    module = LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'backprop_viz' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(LAZY))
