"""Formulas become graphs: a small Python-like language parsed with ``ast`` and a whitelist.

    t = x + y
    z = t ** 2

Numbers, names, ``+ - * / **``, unary minus, parentheses, the functions of the op catalogue
(``FUNCTIONS``: exp, log, relu, sigmoid, sqrt, tanh), and assignments, one per line or
separated by ``;``; the last line is the output. A name never assigned is a variable: an input
node whose id is its name. An assigned name is the id of the node it names (a name assigned
again gets a new node, ``t'``).

The text is only ever given to ``ast.parse``; every node of the tree is checked against a
whitelist and turned into graph nodes by hand. Nothing is passed to eval, exec, compile or
sympify, and the limits on length, depth, size and exponents are checked before any work.

Names follow backprop_viz.core.identifiers: NFKC-normalised (``ｘ`` is ``x``, as Python reads
it), one script per name, no look-alikes of another name (Cyrillic ``х`` beside ``x``). A
character that is not plain text (a lone surrogate, a control or bidirectional-override
character) is refused at its line and column before parsing. A number beyond float64 (``1e400``,
a 400-digit integer) is refused as too large for a 64-bit float.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field
from typing import Any

from backprop_viz.core.graph import GraphError
from backprop_viz.core.identifiers import (
    Lookalikes,
    describe_character,
    is_unsafe,
    lookalike_message,
    script_problem,
)
from backprop_viz.core.ops import MAX_EXPONENT, formula_functions

MAX_LENGTH = 2000
MAX_DEPTH = 40
MAX_NODES = 300
DEFAULT_VALUE = 1.0
FLOAT64_MAX = 1.7976931348623157e308
LAYOUT_CHARACTERS = frozenset("\n\r\t")

# name -> (op, the params a call fixes), from the op catalogue: sqrt(x) is pow with p = 0.5.
FUNCTIONS = formula_functions()


def function_list(functions: dict[str, Any]) -> str:
    """The function names for a message: "exp, log, ... and tanh"."""
    names = list(functions)
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


FUNCTION_LIST = function_list(FUNCTIONS)
BINARY_OPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div"}
OPERATOR_NAMES = {
    ast.Mod: "%",
    ast.FloorDiv: "//",
    ast.MatMult: "@",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.Invert: "~",
    ast.Not: "not",
}
WHAT = {
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing",
    ast.Lambda: "lambda",
    ast.ListComp: "a list comprehension",
    ast.SetComp: "a set comprehension",
    ast.DictComp: "a dict comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.List: "a list",
    ast.Tuple: "a tuple",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.Compare: "a comparison",
    ast.BoolOp: "and/or",
    ast.IfExp: "if/else",
    ast.Import: "import",
    ast.ImportFrom: "import",
    ast.FunctionDef: "def",
    ast.ClassDef: "class",
    ast.JoinedStr: "an f-string",
    ast.Starred: "*args",
    ast.NamedExpr: ":=",
    ast.AugAssign: "augmented assignment (+= ...)",
    ast.AnnAssign: "an annotation",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.For: "a loop",
    ast.While: "a loop",
    ast.If: "if",
    ast.With: "with",
    ast.Try: "try",
    ast.Delete: "del",
    ast.Global: "global",
    ast.Return: "return",
    ast.Raise: "raise",
    ast.Assert: "assert",
    ast.Pass: "pass",
}


class ExpressionError(GraphError):
    """A program that is not in the language; line and column are 1-based."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(f"expression: {where}{message}", field="expression")
        self.line = line
        self.column = column


@dataclass
class Parsed:
    """The graph spec of a program, its variables, and a tree for the symbolic derivative.

    ``terms`` maps each node id to ("var", name) | ("const", number) | (op, [input ids],
    params), which app.symbolic turns into sympy without looking at the text again.
    """

    nodes: list[dict[str, Any]] = field(default_factory=list)
    output: str = ""
    variables: list[str] = field(default_factory=list)
    terms: dict[str, tuple] = field(default_factory=dict)
    size: dict[str, int] = field(default_factory=dict)


def parse_expression(text: str) -> Parsed:
    """The graph of a program; every variable starts at 1 (a trace's ``values`` override it)."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("the program is empty; write a formula such as (x + y) ** 2")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"the program is {len(text)} characters long; at most {MAX_LENGTH} are allowed"
        )
    check_characters(text)
    check_bracket_depth(text)
    try:
        tree = ast.parse(text, mode="exec")
    except SyntaxError as e:
        raise ExpressionError(f"syntax error: {e.msg}", e.lineno, e.offset) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("the program is nested too deeply") from None
    try:
        return Builder(text).build(tree)
    except RecursionError:
        raise ExpressionError(
            "the formula is too long a chain for one line; split it over several lines"
        ) from None


def check_characters(text: str) -> None:
    """Refuse what is not plain text at its line and column, before ast.parse sees it: a lone
    surrogate, a control or format character (newlines and tabs are layout, not controls)."""
    if text.isascii() and all(ch.isprintable() or ch in LAYOUT_CHARACTERS for ch in text):
        return
    line, column = 1, 0
    for ch in text:
        column += 1
        if ch == "\n":
            line, column = line + 1, 0
        elif ch not in LAYOUT_CHARACTERS and is_unsafe(ch):
            raise ExpressionError(
                f"invalid character {describe_character(ch)}; a formula is plain text",
                line,
                column,
            )


def check_bracket_depth(text: str) -> None:
    """Reject deep nesting before ast.parse sees it (the parser's own limit is a crash risk)."""
    depth = 0
    line, column = 1, 0
    for ch in text:
        column += 1
        if ch == "\n":
            line, column = line + 1, 0
        elif ch in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ExpressionError(f"brackets nested more than {MAX_DEPTH} deep", line, column)
        elif ch in ")]}":
            depth -= 1


class Builder:
    """Walks the tree, checking each node against the whitelist and emitting graph nodes."""

    def __init__(self, text: str):
        self.text = text
        self.parsed = Parsed()
        self.bound: dict[str, str] = {}  # name -> id of the node it names now
        self.ids: set[str] = set()
        self.counter = 0
        self.names = Lookalikes()
        self.seen_names: set[str] = set()

    def build(self, tree: ast.Module) -> Parsed:
        if not tree.body:
            raise ExpressionError("the program is empty; write a formula such as (x + y) ** 2")
        output = ""
        for statement in tree.body:
            output = self.statement(statement)
        kind, what = self.parsed.terms[output][:2]
        if kind in ("var", "const"):
            shown = f"the variable {what}" if kind == "var" else f"the number {what:g}"
            raise ExpressionError(
                f"the output is {shown}, which no operation computes; end with a formula, "
                "e.g. z = (x + y) ** 2",
                tree.body[-1].lineno,
                tree.body[-1].col_offset + 1,
            )
        self.parsed.output = output
        return self.parsed

    def statement(self, node: ast.stmt) -> str:
        if isinstance(node, ast.Expr):
            return self.expr(node.value, depth=0)
        if isinstance(node, ast.Assign):
            if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
                raise self.error(node, "assign to one name at a time, e.g. t = x + y")
            name = node.targets[0].id
            self.check_name(name, node.targets[0])
            if name in FUNCTIONS:
                raise self.error(node.targets[0], f"{name} is a function and cannot be assigned")
            node_id = self.expr(node.value, depth=0, name=name)
            self.bound[name] = node_id
            return node_id
        raise self.error(node, f"{WHAT.get(type(node), type(node).__name__)} is not allowed")

    def expr(self, node: ast.expr, depth: int, name: str | None = None) -> str:
        if depth > MAX_DEPTH:
            raise self.error(node, f"the formula is nested more than {MAX_DEPTH} deep")
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)  # `y = x` makes y another name of x's node
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.UAdd):
                return self.expr(node.operand, depth + 1, name)
            if isinstance(node.op, ast.USub):
                if isinstance(node.operand, ast.Constant):
                    return self.constant(node.operand, negate=True)
                return self.emit("neg", [self.expr(node.operand, depth + 1)], name, node)
            raise self.error(node, f"the operator {OPERATOR_NAMES[type(node.op)]} is not allowed")
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Pow):
                return self.power(node, depth, name)
            op = BINARY_OPS.get(type(node.op))
            if op is None:
                symbol = OPERATOR_NAMES.get(type(node.op), type(node.op).__name__)
                raise self.error(node, f"the operator {symbol} is not allowed; use + - * / **")
            # A flat chain a + b + c + ... nests to the left; only the right counts as depth.
            inputs = [self.expr(node.left, depth), self.expr(node.right, depth + 1)]
            return self.emit(op, inputs, name, node)
        if isinstance(node, ast.Call):
            return self.call(node, depth, name)
        raise self.error(node, f"{WHAT.get(type(node), type(node).__name__)} is not allowed")

    def power(self, node: ast.BinOp, depth: int, name: str | None) -> str:
        self.check_not_too_large(node.right)
        exponent = literal_number(node.right)
        if exponent is None:
            raise self.error(
                node.right, "the exponent must be a number, as in x ** 2 (a power by a constant)"
            )
        if abs(exponent) > MAX_EXPONENT:
            raise self.error(
                node.right,
                f"the exponent {exponent:g} is too large; at most {MAX_EXPONENT} in size",
            )
        base = self.expr(node.left, depth + 1)
        return self.emit("pow", [base], name, node, params={"p": exponent})

    def call(self, node: ast.Call, depth: int, name: str | None) -> str:
        if not isinstance(node.func, ast.Name):
            raise self.error(node, f"only the functions {FUNCTION_LIST} can be called")
        function = node.func.id
        if function not in FUNCTIONS:
            raise self.error(
                node,
                f"unknown function {function!r}; the functions are {', '.join(FUNCTIONS)}",
            )
        if node.keywords:
            raise self.error(node, f"{function}() takes no keyword arguments")
        if len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise self.error(node, f"{function}() takes exactly one argument")
        argument = self.expr(node.args[0], depth + 1)
        op, params = FUNCTIONS[function]
        return self.emit(op, [argument], name, node, params=dict(params) or None)

    def name(self, node: ast.Name) -> str:
        self.check_name(node.id, node)
        if node.id in self.bound:
            return self.bound[node.id]
        if node.id in FUNCTIONS:
            raise self.error(node, f"{node.id} is a function; call it, as in {node.id}(x)")
        # A variable: an input node named after it.
        self.add_node(
            {"id": node.id, "op": "input", "value": DEFAULT_VALUE, "label": node.id},
            ("var", node.id),
            node,
        )
        self.parsed.variables.append(node.id)
        self.bound[node.id] = node.id
        return node.id

    def constant(self, node: ast.Constant, negate: bool = False) -> str:
        self.check_not_too_large(node)
        value = literal_number(node)
        if value is None:
            raise self.error(
                node, f"{describe_constant(node.value)} is not allowed; only numbers are"
            )
        value = -value if negate else value
        return self.constant_id(value, node)

    def constant_id(self, value: float, where: ast.AST) -> str:
        self.counter += 1
        node_id = f"_c{self.counter}"
        label = str(int(value)) if float(value).is_integer() else repr(float(value))
        self.add_node(
            {"id": node_id, "op": "input", "value": value, "label": label, "requires_grad": False},
            ("const", value),
            where,
        )
        return node_id

    def emit(
        self,
        op: str,
        inputs: list[str],
        name: str | None,
        where: ast.AST,
        params: dict[str, Any] | None = None,
    ) -> str:
        if name is None:
            # An unnamed step is labelled with its own text, e.g. "x + y" in (x + y) ** 2.
            self.counter += 1
            node_id, label = f"_n{self.counter}", self.source_text(where)
        else:
            node_id, label = self.fresh_id(name), name
        spec: dict[str, Any] = {"id": node_id, "op": op, "inputs": inputs}
        if label:
            spec["label"] = label
        if params:
            spec["params"] = params
        self.add_node(spec, (op, inputs, params or {}), where)
        return node_id

    def source_text(self, node: ast.AST) -> str | None:
        text = ast.get_source_segment(self.text, node)
        if text is None:
            return None
        text = " ".join(text.split())
        return text if len(text) <= 30 else text[:29] + "…"

    def fresh_id(self, name: str) -> str:
        """The name itself, or marked when it already names a node: t, t', t'', t'3, t'4..."""
        k = 0
        node_id = name
        while node_id in self.ids:
            k += 1
            node_id = name + ("'" * k if k <= 2 else f"'{k}")
        return node_id

    def add_node(self, spec: dict[str, Any], term: tuple, where: ast.AST) -> None:
        if len(self.parsed.nodes) >= MAX_NODES:
            raise self.error(where, f"the program makes more than {MAX_NODES} nodes")
        self.ids.add(spec["id"])
        self.parsed.nodes.append(spec)
        self.parsed.terms[spec["id"]] = term
        if term[0] in ("var", "const"):
            size = 1
        else:
            size = 1 + sum(self.parsed.size[i] for i in term[1])
        self.parsed.size[spec["id"]] = size

    def check_not_too_large(self, node: ast.AST) -> None:
        """A number literal beyond float64 says so (ast reads 1e400 as inf)."""
        while isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            node = node.operand
        if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
            return
        value = node.value
        if (isinstance(value, float) and math.isinf(value)) or (
            isinstance(value, int) and abs(value) > FLOAT64_MAX
        ):
            text = ast.get_source_segment(self.text, node) or ""
            shown = text if len(text) <= 20 else f"{text[:12]}… ({len(text)} characters)"
            raise self.error(
                node,
                f"the number {shown} is too large for a 64-bit float (at most about 1.8e308)",
            )

    def check_name(self, name: str, where: ast.AST) -> None:
        """A name as Python read it (NFKC-normalised), checked by the identifier rules."""
        if name in self.seen_names:
            return
        if name.startswith("_"):
            raise self.error(where, f"names starting with _ are reserved: {name!r}")
        if len(name) > 40:
            raise self.error(where, "names are at most 40 characters")
        problem = script_problem(name)
        if problem:
            raise self.error(where, f"the name {name!r} {problem}")
        earlier = self.names.add(name)
        if earlier is not None:
            raise self.error(where, lookalike_message(name, earlier))
        self.seen_names.add(name)

    @staticmethod
    def error(node: ast.AST, message: str) -> ExpressionError:
        return ExpressionError(
            message, getattr(node, "lineno", None), getattr(node, "col_offset", -1) + 1
        )


def literal_number(node: ast.AST) -> float | None:
    """The value of a number literal (or a negated one), else None; bools are not numbers."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = literal_number(node.operand)
        if inner is None:
            return None
        return -inner if isinstance(node.op, ast.USub) else inner
    if not isinstance(node, ast.Constant):
        return None
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int) and abs(value) > FLOAT64_MAX:
        return None  # Builder.check_not_too_large says why
    value = float(value)
    return value if math.isfinite(value) else None


def describe_constant(value: Any) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bytes):
        return "bytes"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, complex):
        return "a complex number"
    if value is None:
        return "None"
    if value is Ellipsis:
        return "..."
    return f"the number {str(value)[:20]}"
