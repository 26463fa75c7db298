"""Expressions: the language, its graphs, and hostile input that must never run."""

from __future__ import annotations

import time

import numpy as np
import pytest

from backprop_viz.core.engine import run_graph
from backprop_viz.core.graph import build_graph
from backprop_viz.formulas.parser import ExpressionError, parse_expression
from backprop_viz.settings import Settings


def trace_expression(text: str, **values):
    parsed = parse_expression(text)
    graph = build_graph(parsed.nodes, parsed.output, Settings(), overrides=values)
    return parsed, run_graph(graph)


def test_parse_expression_chain_rule_graph():
    parsed = parse_expression("t = x + y\nz = t ** 2")
    assert [(n["id"], n["op"]) for n in parsed.nodes] == [
        ("x", "input"),
        ("y", "input"),
        ("t", "add"),
        ("z", "pow"),
    ]
    assert parsed.output == "z"
    assert parsed.variables == ["x", "y"]


def test_parse_expression_semicolons_equal_lines():
    assert (
        parse_expression("t = x + y; z = t ** 2").nodes
        == parse_expression("t = x + y\nz = t ** 2").nodes
    )


def test_trace_expression_book_chain_rule_numbers():
    parsed, trace = trace_expression("(x + y)**2", x=1, y=2)
    assert float(trace.values[parsed.output]) == 9.0
    assert float(trace.grads["x"]) == 6.0
    assert float(trace.grads["y"]) == 6.0


def test_trace_expression_name_used_twice_forks_and_sums():
    parsed, trace = trace_expression("z = x * x + x", x=3)
    # dz/dx = 2x + 1 = 7, as the sum of three parts arriving at x
    assert float(trace.grads["x"]) == 7.0
    accumulate = [s for s in trace.steps if s.phase == "accumulate" and s.node == "x"]
    assert len(accumulate) == 1
    parts = [float(p.grad) for p in accumulate[0].parts]
    assert sorted(parts) == [1.0, 3.0, 3.0]
    assert float(accumulate[0].sum) == 7.0


def test_parse_expression_reassignment_makes_new_nodes():
    parsed, trace = trace_expression("t = x + 1\nt = t * t\nz = t * 2", x=2)
    ids = [n["id"] for n in parsed.nodes if n["op"] != "input"]
    assert ids == ["t", "t'", "z"]
    assert float(trace.values["z"]) == 18.0  # ((2 + 1)^2) * 2
    assert float(trace.grads["x"]) == 12.0  # 2 * 2 (x + 1) * 2


@pytest.mark.parametrize(
    "text, point",
    [
        ("exp(x) * log(y)", {"x": 0.3, "y": 2.5}),
        ("sigmoid(x * y) - tanh(x / y)", {"x": 0.7, "y": -1.3}),
        ("sqrt(x) + relu(y) ** 3", {"x": 2.0, "y": 0.4}),
        ("-x ** 2 / (1 + y * y)", {"x": 1.5, "y": 0.5}),
        ("a = x * y; b = a - exp(-x); c = b * a + 1 / y", {"x": 0.2, "y": 1.7}),
        ("x ** -1.5 + x ** 0.5", {"x": 1.3}),
    ],
)
def test_trace_expression_gradients_match_numerical(text, point, numgrad):
    parsed = parse_expression(text)
    graph = build_graph(parsed.nodes, parsed.output, Settings(), overrides=point)
    trace = run_graph(graph)
    for name in parsed.variables:

        def f(v, name=name):
            values = {**point, name: float(v)}
            g = build_graph(parsed.nodes, parsed.output, Settings(), overrides=values)
            return float(run_graph(g).values[parsed.output])

        numerical = numgrad(f, np.array(point[name]), h=1e-6)
        np.testing.assert_allclose(float(trace.grads[name]), numerical, rtol=1e-6, atol=1e-9)


def test_parse_expression_output_is_last_line():
    parsed = parse_expression("a = x + 1\nb = a * 3")
    assert parsed.output == "b"


@pytest.mark.parametrize(
    "text, message",
    [
        ("__import__('os').system('id')", "only the functions"),
        ("x.real", "attribute access is not allowed"),
        ("(lambda: 1)()", "only the functions"),
        ("lambda: 1", "lambda is not allowed"),
        ("[a for a in x]", "list comprehension is not allowed"),
        ("'hello'", "a string is not allowed"),
        ("open(x)", "unknown function 'open'"),
        ("exp(x=1)", "takes no keyword arguments"),
        ("exp(x, y)", "takes exactly one argument"),
        ("9**9**9", "the exponent must be a number"),
        ("x ** 1000", "too large"),
        ("x ** y", "the exponent must be a number"),
        ("import os", "import is not allowed"),
        ("x % 2", "the operator % is not allowed"),
        ("x if y else 1", "if/else is not allowed"),
        ("x[0]", "indexing is not allowed"),
        ("True + x", "True is not allowed"),
        ("x +* 2", "syntax error"),
        ("", "the program is empty"),
        ("   \n  ", "the program is empty"),
        ("z = x + 1\nw", "the output is the variable w"),
        ("y = 3", "the output is the number 3"),
        ("_secret = x + 1", "reserved"),
        ("exp = x + 1", "is a function"),
        ("x += 1", "augmented assignment"),
        ("a = b = x + 1", "assign to one name at a time"),
    ],
)
def test_parse_expression_rejects(text, message):
    with pytest.raises(ExpressionError) as raised:
        parse_expression(text)
    assert message in raised.value.message


def test_parse_expression_error_has_line_and_column():
    with pytest.raises(ExpressionError) as raised:
        parse_expression("t = x + y\nz = t % 2")
    assert (raised.value.line, raised.value.column) == (2, 5)
    assert raised.value.message.startswith("expression: line 2, column 5:")


@pytest.mark.parametrize(
    "text",
    [
        "(" * 10000 + "x" + ")" * 10000,
        "x" * 1_000_000,
        "-" * 1500 + "x",
        "+".join(["x"] * 900),
    ],
)
def test_parse_expression_hostile_sizes_fail_fast(text):
    start = time.perf_counter()
    with pytest.raises(ExpressionError):
        parse_expression(text)
    assert time.perf_counter() - start < 1.0


def test_parse_expression_never_evaluates(monkeypatch):
    import ast
    import builtins

    real_compile = builtins.compile
    calls = []

    def only_ast(source, filename, mode, flags=0, *args, **kwargs):
        # ast.parse is compile(..., PyCF_ONLY_AST): a parse, not code. Anything else would be.
        calls.append(flags)
        if not flags & ast.PyCF_ONLY_AST:
            raise AssertionError("compile to code must not be called")
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec must not be called")

    monkeypatch.setattr(builtins, "compile", only_ast)
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    with pytest.raises(ExpressionError):
        parse_expression("__import__('os').system('touch /tmp/pwned')")
    parsed = parse_expression("z = exp(x) * 2")
    monkeypatch.undo()
    assert parsed.output == "z"
    assert calls and all(flags & ast.PyCF_ONLY_AST for flags in calls)


def test_parse_expression_many_reassignments_keep_short_ids():
    parsed = parse_expression("t = x + 1\n" + "t = t + t\n" * 150)
    ids = [n["id"] for n in parsed.nodes if n["op"] != "input"]
    assert ids[:4] == ["t", "t'", "t''", "t'3"]
    assert max(len(i) for i in ids) <= 5
    graph = build_graph(parsed.nodes, parsed.output, Settings())
    assert float(run_graph(graph).values[parsed.output]) == 2.0**151  # x = 1: (x + 1) * 2**150


def test_parse_expression_a_flat_sum_is_not_deep():
    parsed, trace = trace_expression("z = " + " + ".join(f"x{i}" for i in range(60)))
    assert float(trace.values["z"]) == 60.0
    assert all(float(trace.grads[f"x{i}"]) == 1.0 for i in range(60))
