"""Every op of the catalogue on every one of its samples: backward against the numerical
gradient, the forward-mode rule (JVP) against a numerical directional derivative, and the sympy
form against backprop. A new op is tested here as soon as it has an entry in ``OPS``; an entry
without samples, a JVP, or (for a formula function) a sympy form fails ``catalogue_problems``.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import sympy

from backprop_viz.core.ops import (
    OPS,
    Op,
    catalogue_problems,
    check_params,
    composite_ops,
    formula_functions,
)
from backprop_viz.core.samples import Sample, signed
from backprop_viz.formulas.parser import parse_expression

COMPUTING = [op for op in OPS.values() if op.layer is not None]
WITH_SYMPY = [op for op in COMPUTING if op.sympy_form is not None]
H = 1e-5  # the central difference's step: its error, h**2 * f''', is below 1e-9 here


def samples_of(op: Op) -> tuple[Sample, ...]:
    assert op.samples, f"{op.name} has no sample inputs"
    return op.samples


def run(op: Op, inputs: list[np.ndarray], params: dict, dout: np.ndarray | None = None):
    """Forward (and backward, given dout) through a fresh layer, as the engine runs a node."""
    if op.check_values:
        op.check_values(inputs)
    layer = op.make_layer(params)
    out = np.asarray(op.run_forward(layer, inputs), dtype=np.float64)
    grads = None if dout is None else op.run_backward(layer, dout)
    return out, grads


def prepared(op: Op, sample: Sample, seed: int = 0):
    params = check_params(op, sample.params)
    return sample.values(seed), params


def weighted(op: Op, params: dict, dout: np.ndarray):
    """L(inputs) = sum(out * dout): its gradient w.r.t. an input is backward(dout) for it."""
    return lambda inputs: float(np.sum(run(op, inputs, params)[0] * dout))


def replaced(inputs: list[np.ndarray], port: int, value: np.ndarray) -> list[np.ndarray]:
    return [value if i == port else x for i, x in enumerate(inputs)]


@pytest.mark.parametrize("op", COMPUTING, ids=lambda op: op.name)
def test_backward_matches_the_numerical_gradient_on_every_sample(op, numgrad):
    for sample in samples_of(op):
        check_backward(op, sample, numgrad)


@pytest.mark.parametrize("op", COMPUTING, ids=lambda op: op.name)
def test_jvp_matches_the_numerical_directional_derivative_on_every_sample(op):
    for sample in samples_of(op):
        check_jvp(op, sample)


@pytest.mark.parametrize("op", WITH_SYMPY, ids=lambda op: op.name)
def test_sympy_form_agrees_with_forward_and_backprop_on_every_sample(op):
    for sample in samples_of(op):
        check_sympy_form(op, sample)


def check_backward(op: Op, sample: Sample, numgrad) -> None:
    inputs, params = prepared(op, sample)
    out, _ = run(op, inputs, params)
    assert out.shape == op.shape_rule([x.shape for x in inputs], params), sample.label
    dout = np.random.default_rng(1).normal(size=out.shape)
    _, grads = run(op, inputs, params, dout)
    assert len(grads) == op.arity
    loss = weighted(op, params, dout)
    for port, grad in enumerate(grads):
        if grad is None:  # data (t of Softmax-with-Loss) takes no gradient
            continue
        where = f"{op.name} [{sample.label}] d{op.inputs[port]}"
        assert np.shape(grad) == inputs[port].shape, where
        expected = numgrad(lambda v, p=port: loss(replaced(inputs, p, v)), inputs[port])
        np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-8, err_msg=where)


def check_jvp(op: Op, sample: Sample) -> None:
    rng = np.random.default_rng(2)
    where = f"{op.name} [{sample.label}]"
    inputs, params = prepared(op, sample)
    out, grads = run(op, inputs, params, np.ones(run(op, inputs, params)[0].shape))
    differentiable = [g is not None for g in grads]
    tangents = [
        rng.normal(size=x.shape) if d else np.zeros(x.shape)
        for x, d in zip(inputs, differentiable, strict=True)
    ]
    tangent = op.run_jvp(inputs, out, params, tangents)
    assert tangent.shape == out.shape, where

    def along(step: float) -> np.ndarray:
        moved = [x + step * t for x, t in zip(inputs, tangents, strict=True)]
        return run(op, moved, params)[0]

    expected = (along(H) - along(-H)) / (2 * H)
    np.testing.assert_allclose(tangent, expected, rtol=1e-6, atol=1e-8, err_msg=where)

    # Forward and reverse mode are adjoint: <dout, J v> = sum over inputs <J^T dout, v>.
    dout = rng.normal(size=out.shape)
    _, grads = run(op, inputs, params, dout)
    reverse = sum(
        float(np.sum(g * t)) for g, t in zip(grads, tangents, strict=True) if g is not None
    )
    np.testing.assert_allclose(
        np.sum(dout * tangent), reverse, rtol=1e-10, atol=1e-12, err_msg=where
    )

    # The tangent of data (t) is ignored, as backward sends data no gradient.
    if not all(differentiable):
        noisy = [
            t if d else rng.normal(size=t.shape)
            for t, d in zip(tangents, differentiable, strict=True)
        ]
        np.testing.assert_array_equal(op.run_jvp(inputs, out, params, noisy), tangent)


def check_sympy_form(op: Op, sample: Sample) -> None:
    """Element by element: sympy's value and partial derivatives against the layer's forward
    and its backward of ones (the inputs broadcast first, so no gradient is summed)."""
    symbols = [sympy.Symbol(name, real=True) for name in op.inputs]
    inputs, params = prepared(op, sample)
    expr = op.sympy_form(sympy, list(symbols), params)
    partials = [sympy.diff(expr, s) for s in symbols]
    inputs = [np.array(x) for x in np.broadcast_arrays(*inputs)]
    out, grads = run(op, inputs, params, np.ones(inputs[0].shape))
    for index in np.ndindex(out.shape):
        at = {s: sympy.Float(float(x[index]), 30) for s, x in zip(symbols, inputs, strict=True)}
        where = f"{op.name} [{sample.label}] at {index}"
        assert float(expr.xreplace(at)) == pytest.approx(out[index], rel=1e-12), where
        for port, partial in enumerate(partials):
            assert float(partial.xreplace(at)) == pytest.approx(
                grads[port][index], rel=1e-12, abs=1e-300
            ), f"{where} d{op.inputs[port]}"


def test_the_catalogue_is_complete():
    assert catalogue_problems(OPS) == []


def test_an_op_without_samples_is_rejected_by_the_completeness_check():
    fake = dataclasses.replace(OPS["exp"], name="fake_exp", function=None, samples=())
    problems = catalogue_problems({**OPS, "fake_exp": fake})
    assert problems == ["fake_exp: no sample inputs to test it on"]
    # and the parametrized tests above would fail on it too
    with pytest.raises(AssertionError, match="fake_exp has no sample inputs"):
        samples_of(fake)


def test_a_formula_function_without_a_sympy_form_is_rejected():
    fake = dataclasses.replace(OPS["exp"], name="fake_exp", function="fexp", sympy_form=None)
    assert catalogue_problems({**OPS, "fake_exp": fake}) == [
        "fake_exp: the function 'fexp' has no sympy form"
    ]


def test_an_op_without_a_jvp_two_claims_to_a_function_or_a_bad_sample_are_rejected():
    no_jvp = dataclasses.replace(OPS["tanh"], name="no_jvp", function=None, jvp=None)
    twice = dataclasses.replace(OPS["tanh"], name="tanh2")
    bad = dataclasses.replace(
        OPS["matmul"],
        name="bad",
        samples=(Sample((signed(2, 3), signed(4, 5))), Sample((signed(3),))),
    )
    problems = catalogue_problems({**OPS, "no_jvp": no_jvp, "tanh2": twice, "bad": bad})
    assert problems == [
        "no_jvp: no forward-mode rule (jvp)",
        "tanh2: the function 'tanh' is tanh's too",
        "bad [(2, 3), (4, 5)]: shapes [2, 3] and [4, 5] do not fit: x has 3 columns, W 4 rows",
        "bad [(3,)]: 1 inputs for an op that takes 2",
    ]


def test_every_op_a_formula_can_make_has_a_sympy_form():
    """Every operator and every function of the formula language, parsed: each op in the tree
    can be written in sympy, so the symbolic derivative never meets an op it cannot write."""
    calls = " + ".join(f"{name}(x)" for name in formula_functions())
    parsed = parse_expression(f"x + y - x * y / x ** 3 + -x + {calls}")
    made = {term[0] for term in parsed.terms.values()} - {"var", "const"}
    assert made >= {
        "add",
        "sub",
        "mul",
        "div",
        "pow",
        "neg",
        *(f[0] for f in formula_functions().values()),
    }
    assert [name for name in sorted(made) if OPS[name].sympy_form is None] == []


def test_formula_functions_and_composites_come_from_the_entries():
    assert formula_functions() == {
        "sqrt": ("pow", {"p": 0.5}),
        "exp": ("exp", {}),
        "log": ("log", {}),
        "relu": ("relu", {}),
        "sigmoid": ("sigmoid", {}),
        "tanh": ("tanh", {}),
    }
    assert composite_ops() == (
        "sigmoid",
        "affine",
        "softmax_with_loss",
        "softmax",
        "cross_entropy_error",
    )


def test_mul_backward_on_the_books_apples():
    # figure 5-16: 100 yen x 2 apples; dout 1.1 (the tax) gives 2.2 and 110
    (sample,) = [s for s in OPS["mul"].samples if s.note == "apples"]
    inputs, params = prepared(OPS["mul"], sample)
    out, (dx, dy) = run(OPS["mul"], inputs, params, np.array(1.1))
    assert float(out) == 200.0
    assert float(dx) == pytest.approx(2.2)
    assert float(dy) == pytest.approx(110.0)


def test_importing_the_catalogue_and_the_app_does_not_import_sympy():
    code = (
        "import sys, backprop_viz.core.ops, backprop_viz.formulas.parser, backprop_viz.web.app; "
        "print('sympy' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


class Softplus:
    """out = log(1 + exp(x)): a layer that is not in the catalogue, for the test below."""

    def __init__(self):
        self.x = None

    def forward(self, x):
        self.x = x
        return np.logaddexp(0.0, x)

    def backward(self, dout):
        return dout / (1.0 + np.exp(-self.x))


SOFTPLUS = Op(
    "softplus",
    Softplus,
    ("x",),
    "softplus",
    "out = log(1 + exp(x))",
    ("dx = dout * sigmoid(x)",),
    OPS["exp"].shape_rule,
    "The softplus, a smooth ReLU.",
    function="softplus",
    sympy_form=lambda sympy, args, params: sympy.log(1 + sympy.exp(args[0])),
    jvp=lambda inputs, out, params, tangents: tangents[0] / (1.0 + np.exp(-inputs[0])),
    samples=(Sample((signed(2, 3),)),),
)


def test_a_new_formula_op_is_one_entry_and_its_layer_class(monkeypatch, client, numgrad):
    """With only its entry added, an op is checked here, callable in formulas, derived by
    sympy and listed by /api/ops. (The parser's table is built when it is imported, so the
    test rebuilds it as an import after the new entry would.)"""
    from backprop_viz.formulas import parser, symbolic

    monkeypatch.setitem(OPS, "softplus", SOFTPLUS)
    # The symbolic step runs in worker processes that import the real catalogue; the patched
    # one exists only here, so the report is made in this process for this test.
    monkeypatch.setattr(symbolic._workers, "run", lambda function, args, budget: function(*args))
    symbolic._cached_report.cache_clear()
    monkeypatch.setattr(parser, "FUNCTIONS", formula_functions())
    monkeypatch.setattr(parser, "FUNCTION_LIST", parser.function_list(parser.FUNCTIONS))
    assert catalogue_problems(OPS) == []
    for sample in samples_of(SOFTPLUS):
        check_backward(SOFTPLUS, sample, numgrad)
        check_jvp(SOFTPLUS, sample)
        check_sympy_form(SOFTPLUS, sample)

    r = client.post("/api/trace", json={"expression": "softplus(x) * y", "values": {"x": 0.5}})
    assert r.status_code == 200, r.text
    body = r.json()
    sigmoid = 1 / (1 + np.exp(-0.5))
    assert body["grads"]["x"] == pytest.approx(sigmoid)  # y = 1
    assert body["symbolic"]["derivatives"]["x"]["value"] == pytest.approx(sigmoid, rel=1e-12)
    assert body["symbolic"]["derivatives"]["y"]["value"] == pytest.approx(np.log1p(np.exp(0.5)))
    info = {o["name"]: o for o in client.get("/api/ops").json()}["softplus"]
    assert (info["function"], info["sympy"], info["jvp"]) == ("softplus", True, True)
    r = client.post("/api/trace", json={"expression": "softmax(x)"})
    assert r.status_code == 422
    assert "the functions are exp, log, relu, sigmoid, softplus, sqrt, tanh" in r.json()["detail"]
    r = client.post("/api/trace", json={"expression": "math.exp(x)"})
    assert (
        "only the functions exp, log, relu, sigmoid, softplus, sqrt and tanh"
        in (r.json()["detail"])
    )
