"""Forward mode: the output's tangent is the reverse-mode gradient of the input it starts at,
for every preset (every input that takes a gradient; a few elements of each tensor) and for
random formulas, where a numerical directional derivative agrees as well."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_viz import service
from backprop_viz.core.engine import run_graph
from backprop_viz.core.forward import check_wrt, forward_mode, gradient_leaves, passes
from backprop_viz.core.graph import GraphError, build_graph
from backprop_viz.examples import EXAMPLES
from backprop_viz.formulas.parser import parse_expression
from backprop_viz.settings import Settings

SETTINGS = Settings()


def elements_to_check(shape: tuple[int, ...], rng: np.random.Generator) -> list[tuple[int, ...]]:
    """Every element of a small leaf; the first, the last and two seeded others of a large."""
    size = int(np.prod(shape))
    if size <= 12:
        return list(np.ndindex(shape)) if shape else [()]
    flat = [0, size - 1, *rng.integers(0, size, 2).tolist()]
    return [tuple(int(i) for i in np.unravel_index(f, shape)) for f in flat]


@pytest.mark.parametrize("example_id", list(EXAMPLES))
def test_every_presets_output_tangent_is_the_reverse_gradient_of_every_input(example_id):
    trace = service.trace(service.TraceQuery(example=example_id), SETTINGS).trace
    graph, rng = trace.graph, np.random.default_rng(0)
    leaves = gradient_leaves(graph)
    assert leaves
    checked = 0
    for leaf in leaves:
        grad = trace.grads[leaf]
        for index in elements_to_check(graph.nodes[leaf].shape, rng):
            pass_ = forward_mode(graph, trace.values, leaf, list(index) if index else None)
            tangent = pass_.output_tangent
            if grad is None:  # the gradient does not reach it: nor does the tangent
                assert tangent is None
                continue
            # the seed dout of a preset (1.3, or an array) weighs the output's gradient
            expected = grad[index]
            got = np.sum(np.asarray(tangent) * trace.dout)
            assert got == pytest.approx(expected, rel=1e-9, abs=1e-15), (leaf, index)
            checked += 1
    assert checked >= len(leaves)


def test_forward_mode_through_the_service_gives_apples_gradients_and_three_passes():
    for leaf, gradient in [("apple", 2.2), ("apple_num", 110.0), ("tax", 200.0)]:
        query = service.TraceQuery(example="apple", mode="forward", wrt=leaf)
        result = service.trace(query, SETTINGS)
        assert float(result.forward_mode.output_tangent) == pytest.approx(gradient)
        data = result.to_json()
        assert data["mode"] == "forward"
        assert data["passes"] == {"reverse": 1, "forward": 3}
        assert data["tangents"][leaf] == 1.0
        assert data["tangents"]["price"] == pytest.approx(gradient)
        # the forward pass, then the tangent pass where reverse mode has its backward pass
        phases = [s["phase"] for s in data["steps"]]
        assert phases == ["forward", "forward"] + ["tangent"] * (2 if leaf != "tax" else 1)
        assert [s["index"] for s in data["steps"]] == list(range(len(phases)))


def test_the_book_size_net_needs_39760_forward_passes_and_one_reverse():
    graph = build_graph(
        EXAMPLES["two_layer_net_book"].nodes, EXAMPLES["two_layer_net_book"].output, SETTINGS
    )
    assert passes(graph) == {"reverse": 1, "forward": 784 * 50 + 50 + 50 * 10 + 10}
    assert passes(graph)["forward"] == 39_760


def test_olah_forward_mode_from_b_reaches_e_along_both_paths():
    query = service.TraceQuery(example="olah_fork", mode="forward", wrt="b")
    data = service.trace(query, SETTINGS).to_json()
    assert data["tangents"] == {"a": None, "b": 1.0, "c": 1.0, "one": None, "d": 1.0, "e": 5.0}
    (last,) = [s for s in data["steps"] if s["phase"] == "tangent" and s["node"] == "e"]
    # e = c * d: dc/db * d + dd/db * c = 1 * 2 + 1 * 3
    assert [(e["local"], e["tangent"]) for e in last["edges"]] == [(2.0, 1.0), (3.0, 1.0)]
    assert last["tangent"] == 5.0


def test_tensor_forward_mode_is_one_element_and_matches_that_element_of_the_gradient():
    query = service.TraceQuery(example="affine", mode="forward", wrt="W", wrt_index=[1, 2])
    result = service.trace(query, SETTINGS)
    tangent = result.to_json()["tangents"]["W"]
    assert tangent == [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    # Y = X . W + B: dY/dW[1, 2] is X[1] = 0.5 in column 2, and 0 elsewhere
    assert result.to_json()["tangents"]["Y"] == [0.0, 0.0, 0.5]


@pytest.mark.parametrize(
    "wrt, index, field, fragment",
    [
        ("banana", None, "wrt", "no node 'banana'"),
        ("price", None, "wrt", "is a mul node, not an input"),
        ("W", None, "wrt_index", "has shape [2, 3]"),
        ("W", [2, 0], "wrt_index", "is not an element"),
        ("W", [0], "wrt_index", "is not an element"),
        ("X", [0, 0], "wrt_index", "is not an element"),
    ],
)
def test_a_bad_wrt_is_a_graph_error_naming_the_field_and_the_node(wrt, index, field, fragment):
    example = "apple" if wrt in ("banana", "price") else "affine"
    graph = build_graph(EXAMPLES[example].nodes, EXAMPLES[example].output, SETTINGS)
    with pytest.raises(GraphError) as caught:
        check_wrt(graph, wrt, index)
    assert caught.value.field == field
    assert caught.value.node == wrt
    assert fragment in caught.value.message


def test_data_takes_no_tangent():
    graph = build_graph(
        EXAMPLES["softmax_with_loss"].nodes, EXAMPLES["softmax_with_loss"].output, SETTINGS
    )
    with pytest.raises(GraphError, match="is data"):
        check_wrt(graph, "t", [1])


# --- random formulas ---------------------------------------------------------------------------

VARIABLES = ["x", "y", "z"]


@st.composite
def formulas(draw, depth: int = 3, top: bool = True) -> str:
    """A random formula over x, y, z that stays finite for inputs in [-2, 2]: + - *, tanh,
    sigmoid, exp of something bounded, a division by 1 + something squared, x ** 2 and x ** 3."""
    if not top and (depth == 0 or draw(st.integers(0, 3)) == 0):
        return draw(st.sampled_from(VARIABLES + ["0.5", "2"]))
    a = draw(formulas(depth - 1, top=False))
    kind = draw(st.sampled_from(["+", "-", "*", "/", "tanh", "sigmoid", "exp", "**2", "**3"]))
    if kind in ("+", "-", "*"):
        return f"({a} {kind} {draw(formulas(depth - 1, top=False))})"
    if kind == "/":
        return f"({a} / (1 + {draw(formulas(depth - 1, top=False))} ** 2))"
    if kind == "exp":
        return f"exp(tanh({a}))"
    if kind.startswith("**"):
        return f"(tanh({a}){kind.replace('**', ' ** ')})"
    return f"{kind}({a})"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    formulas(),
    st.lists(st.floats(-2, 2, allow_nan=False), min_size=3, max_size=3),
)
def test_random_formulas_output_tangent_is_the_reverse_gradient_and_the_numerical_one(
    formula, values
):
    parsed = parse_expression(formula)
    overrides = dict(zip(VARIABLES, values, strict=True))
    overrides = {k: v for k, v in overrides.items() if k in parsed.variables}
    graph = build_graph(parsed.nodes, parsed.output, SETTINGS, overrides=overrides)
    trace = run_graph(graph)
    for leaf in gradient_leaves(graph):
        pass_ = forward_mode(graph, trace.values, leaf)
        grad = trace.grads[leaf]
        if grad is None:
            assert pass_.output_tangent is None
            continue
        tangent = float(pass_.output_tangent)
        assert tangent == pytest.approx(float(grad), rel=1e-9, abs=1e-12), formula

        def at(v: float, leaf=leaf) -> float:
            moved = build_graph(
                parsed.nodes, parsed.output, SETTINGS, overrides={**overrides, leaf: v}
            )
            return float(run_graph(moved).output)

        h = 1e-5
        x = float(trace.values[leaf])
        numerical = (at(x + h) - at(x - h)) / (2 * h)
        assert tangent == pytest.approx(numerical, rel=1e-4, abs=1e-6), formula
