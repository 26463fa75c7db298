"""A trace as the readable table the terminal prints: the steps, then the leaves' gradients.

Shared by ``backprop-viz trace`` and ``Trace.table()`` of the Python API, so both read alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from backprop_viz.core.steps import AccumulateStep, BackwardStep, ForwardStep, Step

if TYPE_CHECKING:
    from backprop_viz.core.engine import Trace


def trace_table(trace: Trace, title: str) -> str:
    """The title, one line (or a few) per step, the gradient of each leaf, the warnings."""
    graph = trace.graph
    lines = [title]
    lines += [describe_step(step, graph.nodes[step.node].op.name) for step in trace.steps]
    lines.append("gradients:")
    out = graph.nodes[graph.output].label
    out = out if out.isidentifier() else f"({out})"  # dprice/dapple, d((x+y)**2)/dx
    for node_id, grad in trace.grads.items():
        if graph.nodes[node_id].is_leaf:
            lines.append(f"  d{out}/d{node_id} = {show(grad)}")
    lines += [f"warning: {warning['message']}" for warning in trace.warnings]
    return "\n".join(lines)


def describe_step(step: Step, op_name: str) -> str:
    """One step as the lines the terminal shows: forward as a call, backward edge by edge."""
    match step:
        case ForwardStep():
            args = ", ".join(f"{i.source}={show(i.value)}" for i in step.inputs)
            call = f"{step.node} = {op_name}({args})"
            return f"{step.index:>3}  forward     {call} = {show(step.out)}"
        case BackwardStep():
            lines = [f"{step.index:>3}  backward    {step.node}: dout = {show(step.dout)}"]
            for e in step.edges:
                local = f" (local {show(e.local)})" if e.local is not None else ""
                lines.append(f"{'':>17}-> {e.source}: {e.formula}{local} = {show(e.grad)}")
            return "\n".join(lines)
        case AccumulateStep():
            parts = " + ".join(show(p.grad) for p in step.parts)
            return f"{step.index:>3}  accumulate  {step.node}: {parts} = {show(step.sum)}"


def show(value: Any) -> str:
    """A number rounded to 10 significant digits (220, not 220.00000000000003); arrays too."""
    if value is None:
        return "-"
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return f"{float(array):.10g}"
    if array.size > 12:
        return f"array{list(array.shape)}"
    return np.array2string(array, precision=6, suppress_small=True, separator=", ").replace(
        "\n", ""
    )
