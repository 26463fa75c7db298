"""The symbolic derivative of a parsed expression, with sympy, beside backprop's number.

The sympy expression is built from the parsed program's terms (app.expressions.Parsed), never
from the text: nothing is given to sympify or parse_expr. sympy is imported on first use, so
the server starts fast.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from backprop_viz.core.ops import OPS, exact
from backprop_viz.formulas.parser import Parsed, parse_expression

MAX_TERM_SIZE = 400  # larger trees (x = x * x repeated) are not differentiated symbolically


@lru_cache(maxsize=256)
def derivatives(text: str) -> dict[str, Any]:
    """The output's formula and its derivative for each variable, as sympy objects."""
    import sympy

    parsed = parse_expression(text)
    if parsed.size[parsed.output] > MAX_TERM_SIZE:
        return {
            "output": None,
            "derivatives": {},
            "skipped": (
                f"the formula has more than {MAX_TERM_SIZE} terms when written out; the symbolic "
                "derivative is skipped"
            ),
        }
    symbols = {name: sympy.Symbol(name, real=True) for name in parsed.variables}
    try:
        terms: dict[str, Any] = {}
        for node in parsed.nodes:
            terms[node["id"]] = to_sympy(parsed, node["id"], terms, symbols, sympy)
        out = terms[parsed.output]
        # diff's own result is kept: it is instant and already collected (2*x + 2*y), and it
        # reads like the book's derivations (sigmoid: exp(-x)/(1 + exp(-x))**2). simplify()
        # took 3 to 16 s on modest formulas and turns that into 1/(4*cosh(x/2)**2).
        result = {name: sympy.diff(out, symbol) for name, symbol in symbols.items()}
    except (RecursionError, ArithmeticError, ValueError, TypeError):
        # sympy recurses per level of nesting (sigmoid of sigmoid ... 40 deep).
        return {
            "output": None,
            "derivatives": {},
            "skipped": "sympy could not differentiate this formula (it is nested too deeply)",
        }
    return {"output": out, "derivatives": result, "symbols": symbols, "skipped": None}


def to_sympy(parsed: Parsed, node_id: str, terms: dict[str, Any], symbols, sympy) -> Any:
    """The node as a sympy expression: a variable's symbol, a number as an exact rational, an
    op by its ``sympy_form`` in the catalogue, on its inputs' expressions in ``terms``."""
    term = parsed.terms[node_id]
    kind = term[0]
    if kind == "var":
        return symbols[term[1]]
    if kind == "const":
        return exact(sympy, term[1])
    form = OPS[kind].sympy_form
    if form is None:  # pragma: no cover - tests/core/test_ops.py: every op a formula makes has one
        raise ValueError(f"no sympy form for op {kind!r}")
    return form(sympy, [terms[i] for i in term[1]], term[2])


def symbolic_report(text: str, values: dict[str, float]) -> dict[str, Any]:
    """For the response: the output's formula and each derivative as text and as a number."""
    found = derivatives(text)
    if found["skipped"]:
        return {"formula": None, "derivatives": {}, "note": found["skipped"]}
    symbols = found["symbols"]
    at = {symbols[name]: value for name, value in values.items() if name in symbols}
    report = {}
    for name, d in found["derivatives"].items():
        report[name] = {"text": str(d), "value": evaluate(d, at)}
    return {"formula": str(found["output"]), "derivatives": report, "note": None}


def evaluate(derivative: Any, at: dict[Any, float]) -> float | None:
    """The derivative's value at the point, or None where it is undefined, complex or not
    finite (log at 0, exp(1000)); JSON has no infinities.

    Each float is substituted as the exact rational it is, so a pole gives sympy's zoo, not
    the 1e135 that evalf(subs=...) makes of 1/(x - 1) at x = 1.
    """
    import sympy

    try:
        exact = {s: sympy.Rational(v) for s, v in at.items() if math.isfinite(v)}
        if len(exact) < len(at):
            return None
        value = derivative.xreplace(exact)
        if value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            return None
        number = complex(value.evalf())
    except (ArithmeticError, TypeError, ValueError, RecursionError):
        return None
    if abs(number.imag) > 1e-12 or not math.isfinite(number.real):
        return None
    return number.real
