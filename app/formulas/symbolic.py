"""The symbolic derivative of a parsed expression, with sympy, beside backprop's number.

The sympy expression is built from the parsed program's terms (backprop_viz.formulas.parser
.Parsed), never from the text: nothing is given to sympify or parse_expr. sympy's work is
bounded three ways, because a 27-byte formula (an exp tower) once made it run for ever:

- before sympy sees it, a formula is refused (with a ``note`` instead of a derivative) when it
  has more than MAX_TERM_SIZE terms written out, or nests more than MAX_GROWTH_NESTING of exp,
  sigmoid and powers (sqrt included) inside one another: exp(exp(exp(x))) passes,
  exp(exp(exp(exp(x)))) does not;
- the derivative is evaluated numerically, by sympy's lambdify to NumPy floats, never by exact
  evalf (which took minutes, gigabytes or for ever on towers of powers);
- the whole step runs in a worker process (app.formulas.workers) with a wall-clock budget,
  BUDGET_SECONDS; past it the worker is killed and replaced, and the report is a note while the
  trace is answered as usual. The worker receives the parsed terms, not text.

lambdify writes Python code, but from the sympy tree (whitelisted functions, numbers, and
arguments it names itself with ``dummify``), never from the client's text.
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from functools import lru_cache
from typing import Any

from backprop_viz.core.ops import OPS, exact
from backprop_viz.formulas.parser import Parsed, parse_expression
from backprop_viz.formulas.workers import KillableWorkers, Overtime, WorkerFailed

MAX_TERM_SIZE = 400  # larger trees (x = x * x repeated) are not differentiated symbolically
MAX_GROWTH_NESTING = 3
"""exp, sigmoid and powers nested deeper than this are not differentiated symbolically."""
GROWTH_OPS = frozenset({"exp", "sigmoid", "pow"})
BUDGET_SECONDS = 2.0
"""Wall-clock time for the whole symbolic step of one request."""
WORKERS = 2

SKIPPED = "the symbolic derivative is skipped"


def warm_up() -> None:
    """Differentiate and lambdify one small formula, so that sympy's and lambdify's first-use
    costs (half a second on a busy machine) are paid before a worker takes a job."""
    text = "(x + y) ** 2"
    report_in_worker(text, parse_expression(text), {"x": 1.0, "y": 2.0})


# The fork server imports warm_symbolic, which calls warm_up: every worker forks warm.
_workers = KillableWorkers(
    WORKERS, preload=("backprop_viz.formulas.warm_symbolic",), initializer=warm_up
)


def growth_nesting(parsed: Parsed) -> int:
    """The most exp, sigmoid and pow nodes on one path from the output down to a leaf."""
    depth: dict[str, int] = {}
    for node in parsed.nodes:  # in the order built, so inputs come first
        term = parsed.terms[node["id"]]
        if term[0] in ("var", "const"):
            depth[node["id"]] = 0
            continue
        below = max((depth[i] for i in term[1]), default=0)
        depth[node["id"]] = below + (term[0] in GROWTH_OPS)
    return depth[parsed.output]


def too_large(parsed: Parsed) -> str | None:
    """Why sympy must not see this formula, or None."""
    if parsed.size[parsed.output] > MAX_TERM_SIZE:
        return f"the formula has more than {MAX_TERM_SIZE} terms when written out; {SKIPPED}"
    nesting = growth_nesting(parsed)
    if nesting > MAX_GROWTH_NESTING:
        return (
            f"the formula nests exp, sigmoid and powers {nesting} deep (at most "
            f"{MAX_GROWTH_NESTING} are differentiated symbolically); {SKIPPED}"
        )
    return None


def derivatives(parsed: Parsed | str) -> dict[str, Any]:
    """The output's formula and its derivative for each variable, as sympy objects.

    Unbounded: the server calls it only in a worker process, for a formula that passed
    ``too_large``. A text is parsed first (for tests and the Python API).
    """
    import sympy

    if isinstance(parsed, str):
        parsed = parse_expression(parsed)

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


def compile_derivatives(parsed: Parsed) -> dict[str, Any]:
    """The formula and each derivative as text and as a NumPy function of the variables."""
    import sympy

    found = derivatives(parsed)
    if found["skipped"]:
        return {"note": found["skipped"]}
    symbols = found["symbols"]
    arguments = [symbols[name] for name in parsed.variables]
    compiled = {}
    for name, derivative in found["derivatives"].items():
        # dummify: the code lambdify writes names its arguments itself, so a variable called
        # numpy (or anything) cannot shadow what that code uses.
        function = sympy.lambdify(arguments, derivative, modules="numpy", dummify=True)
        needs = sorted(str(s) for s in derivative.free_symbols)
        compiled[name] = (str(derivative), function, needs)
    return {"note": None, "formula": str(found["output"]), "derivatives": compiled}


_compiled: OrderedDict[str, dict[str, Any]] = OrderedDict()
"""In a worker: the compiled derivatives of recent formulas, by cache key."""


def report_in_worker(key: str, parsed: Parsed, values: dict[str, float]) -> dict[str, Any]:
    """The report, computed in a worker process. ``key`` only names the formula in the cache
    (it is never parsed); ``values`` holds the scalar variables."""
    compiled = _compiled.get(key)
    if compiled is None:
        compiled = compile_derivatives(parsed)
        _compiled[key] = compiled
        if len(_compiled) > 128:
            _compiled.popitem(last=False)
    else:
        _compiled.move_to_end(key)
    if compiled["note"]:
        return {"formula": None, "derivatives": {}, "note": compiled["note"]}
    arguments = [values.get(name, math.nan) for name in parsed.variables]
    report = {}
    for name, (text, function, needs) in compiled["derivatives"].items():
        known = all(n in values for n in needs)  # array variables are not in values
        value = evaluate_compiled(function, arguments) if known else None
        report[name] = {"text": text, "value": value}
    return {"formula": compiled["formula"], "derivatives": report, "note": None}


def evaluate(derivative: Any, at: dict[Any, float]) -> float | None:
    """A sympy expression's value at the point ({symbol: float}), in float64, or None where it
    is undefined, complex or not finite, or depends on a symbol not given."""
    import sympy

    if not derivative.free_symbols <= set(at):
        return None
    symbols = list(at)
    function = sympy.lambdify(symbols, derivative, modules="numpy", dummify=True)
    return evaluate_compiled(function, [at[s] for s in symbols])


def evaluate_compiled(function: Any, arguments: list[float]) -> float | None:
    """A lambdified derivative's value at the point, in float64, or None where it is undefined,
    complex or not finite (log at 0, exp(1000), a pole: 1/(x - 1) at x = 1 divides by zero and
    gives inf); JSON has no infinities. Never exact evalf, which can run for ever.

    Each argument is a one-element array, so that NumPy's rules hold throughout (a division by
    zero is inf, not ZeroDivisionError; a huge power is inf, not OverflowError) and
    piecewise functions (numpy.select) get the arrays they need.
    """
    import numpy as np

    try:
        with np.errstate(all="ignore"):
            value = np.asarray(function(*[np.array([float(a)]) for a in arguments]))
            number = complex(value.ravel()[0]) if value.size == 1 else None
    except (ArithmeticError, TypeError, ValueError):
        return None
    if number is None or abs(number.imag) > 1e-12 or not math.isfinite(number.real):
        return None
    return number.real


def symbolic_report(
    text: str, values: dict[str, float], *, budget: float | None = None
) -> dict[str, Any]:
    """For the response: the output's formula and each derivative as text and as a number, or
    a note saying why not (too large, too deeply nested, or over the time budget).

    ``budget`` is the wall-clock limit in seconds (BUDGET_SECONDS unless given).
    """
    parsed = parse_expression(text)
    note = too_large(parsed)
    if note is not None:
        return {"formula": None, "derivatives": {}, "note": note}
    point = tuple((name, float(values[name])) for name in parsed.variables if name in values)
    seconds = BUDGET_SECONDS if budget is None else budget
    try:
        return copy.deepcopy(_cached_report(text, point, seconds))
    except Overtime as e:
        note = f"the symbolic derivative took too long ({e.reason}); {SKIPPED}"
    except WorkerFailed:
        note = f"sympy could not differentiate this formula; {SKIPPED}"
    return {"formula": None, "derivatives": {}, "note": note}


@lru_cache(maxsize=256)
def _cached_report(text: str, point: tuple[tuple[str, float], ...], budget: float) -> dict:
    # Only finished reports are cached: Overtime and WorkerFailed are raised through.
    parsed = parse_expression(text)
    return _workers.run(report_in_worker, (text, parsed, dict(point)), budget)
