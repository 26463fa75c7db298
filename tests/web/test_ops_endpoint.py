"""GET /api/ops describes every op from its catalogue entry, as its schema says."""

from __future__ import annotations

from backprop_viz.core.ops import OPS, formula_functions


def test_get_ops_gives_each_ops_formula_function_expansion_sympy_and_jvp(client):
    r = client.get("/api/ops")
    assert r.status_code == 200
    ops = {o["name"]: o for o in r.json()}
    assert ops["exp"]["function"] == "exp"
    assert ops["pow"]["function"] == "sqrt"
    assert ops["pow"]["function_params"] == {"p": 0.5}
    assert ops["pow"]["symbol"] == "**2"
    assert ops["matmul"]["function"] is None
    # what a page can list as the formula language's functions
    assert sorted(o["function"] for o in ops.values() if o["function"]) == [
        "exp",
        "log",
        "relu",
        "sigmoid",
        "sqrt",
        "tanh",
    ]
    assert sorted(o["function"] for o in ops.values() if o["function"]) == list(formula_functions())
    assert ops["sigmoid"]["composite"] is True
    assert ops["sigmoid"]["expands_to"] == ["mul", "exp", "add", "reciprocal"]
    assert ops["affine"]["expands_to"] == ["matmul", "add"]
    assert ops["mul"]["composite"] is False
    assert ops["mul"]["expands_to"] == []
    assert ops["tanh"]["sympy"] is True
    assert ops["softmax_with_loss"]["sympy"] is False
    assert all(o["jvp"] for name, o in ops.items() if name != "input")
    assert ops["input"]["jvp"] is False


def test_the_ops_schema_lists_every_field_the_handler_sends(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]["OpInfo"]
    sent = client.get("/api/ops").json()[0]
    assert set(schema["properties"]) == set(sent)
    assert set(schema["required"]) == set(sent)
    assert len(client.get("/api/ops").json()) == len(OPS)
