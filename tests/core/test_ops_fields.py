"""``op_fields`` and ``Op.symbol_for``: what a trace and GET /api/ops say about a node's op, the
same for every call (worked out once per op for a node without params), each caller's own."""

from __future__ import annotations

import dataclasses

import pytest

from backprop_viz.core.ops import OPS, check_params, default_params, format_number, op_fields


def params_of(op) -> list[dict]:
    """No params, the op's defaults, and those of each of its samples."""
    return [{}, default_params(op), *(check_params(op, s.params) for s in op.samples)]


def described(layer, symbol, box=False, composite=False) -> dict:
    return {"layer": layer, "symbol": symbol, "box": box, "composite": composite}


@pytest.mark.parametrize(
    ("name", "params", "fields"),
    [
        ("mul", {}, described("MulLayer", "×")),
        ("add", {}, described("AddLayer", "+")),
        ("input", {}, described(None, "")),
        ("affine", {}, described("Affine", "Affine", box=True, composite=True)),
        ("pow", {"p": 2}, described("PowLayer", "**2")),
        ("pow", {"p": 0.5}, described("PowLayer", "**0.5")),
        ("pow", {"p": -1.0}, described("PowLayer", "**-1")),
        ("sum", {"axis": None, "keepdims": False}, described("Sum", "sum")),
    ],
)
def test_the_fields_are_the_books_names(name, params, fields):
    assert op_fields(OPS[name], params) == fields
    assert op_fields(OPS[name], params) == fields  # the second time too (from what was kept)


@pytest.mark.parametrize("op", list(OPS.values()), ids=list(OPS))
def test_every_op_gives_the_same_fields_every_time_each_callers_own(op):
    for params in params_of(op):
        if "{" in op.symbol and not params:
            continue  # pow without p: see below
        first = op_fields(op, params)
        assert first["symbol"] == op.symbol.format(
            **{k: format_number(v) for k, v in params.items() if v is not None}
        )
        assert op.symbol_for(params) == first["symbol"]
        kept = dict(first)
        first["symbol"] = "changed by a caller"
        first.clear()
        second = op_fields(op, params)
        assert second == kept
        assert second is not first


def test_a_symbol_that_needs_a_param_still_raises_without_it_every_time():
    for _ in range(2):
        with pytest.raises(KeyError):
            OPS["pow"].symbol_for({})


def test_what_is_kept_belongs_to_the_op_object_not_its_name():
    mul = OPS["mul"]
    op_fields(mul, {})
    dot = dataclasses.replace(mul, symbol="·", box=True)
    assert op_fields(dot, {})["symbol"] == dot.symbol_for({}) == "·"
    assert op_fields(dot, {})["box"] is True
    assert op_fields(mul, {})["symbol"] == mul.symbol_for({}) == "×"
