"""Real responses of POST /api/trace against the schema /openapi.json publishes.

Every preset, every composite expansion and formulas are validated twice: with pydantic
(``TraceResponse``, steps discriminated on ``phase``, strict) and with ``jsonschema`` against
the ``TraceResponse`` component of /openapi.json itself, which is what a client generator reads.
The schema must also be exact: a step of one phase carrying another phase's fields fails.
"""

from __future__ import annotations

import copy

import jsonschema
import pytest
from pydantic import ValidationError

from backprop_viz.examples import EXAMPLES
from backprop_viz.web.schemas import TraceResponse

FORMULAS = [
    ({"expression": "(x + y) ** 2", "values": {"x": 1, "y": 2}}),
    ({"expression": "t = x * x + x\nz = exp(t) / sigmoid(y) - log(x)", "values": {"x": 3}}),
    ({"expression": "relu(x) * tanh(y)", "values": {"x": [[1, -2], [3, 4]], "y": 0.5}}),
    ({"expression": "exp(x)", "values": {"x": 1000}}),  # overflow: "Infinity" on the wire
]


@pytest.fixture(scope="module")
def trace_validator():
    """A jsonschema validator for the TraceResponse component of the app's /openapi.json."""
    from fastapi.testclient import TestClient

    from backprop_viz.settings import Settings
    from backprop_viz.web.app import create_app

    document = TestClient(create_app(Settings())).get("/openapi.json").json()
    schema = {
        "$ref": "#/components/schemas/TraceResponse",
        "components": document["components"],
    }
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def assert_matches_schema(data, validator) -> None:
    TraceResponse.model_validate(data, strict=True)
    validator.validate(data)


def composite_ids(data) -> list[str]:
    return [n["id"] for n in data["graph"]["nodes"] if n["composite"]]


@pytest.mark.parametrize("example_id", list(EXAMPLES))
def test_every_preset_trace_matches_the_published_schema(client, trace_validator, example_id):
    r = client.post("/api/trace", json={"example": example_id})
    assert r.status_code == 200
    data = r.json()
    assert {s["phase"] for s in data["steps"]} >= {"forward", "backward"}
    assert_matches_schema(data, trace_validator)


@pytest.mark.parametrize("example_id", list(EXAMPLES))
def test_every_preset_full_trace_matches_the_published_schema(client, trace_validator, example_id):
    r = client.post("/api/trace", json={"example": example_id, "full": True})
    assert r.status_code == 200
    assert_matches_schema(r.json(), trace_validator)


COMPOSITE_CASES = [
    (example_id, node_id)
    for example_id, example in EXAMPLES.items()
    for node_id in [n["id"] for n in example.nodes if n["op"] in ("sigmoid", "affine")]
]


def test_the_presets_have_composites_of_both_kinds_to_expand():
    ops = {n["op"] for example in EXAMPLES.values() for n in example.nodes if "inputs" in n} & {
        "sigmoid",
        "affine",
    }
    assert ops == {"sigmoid", "affine"}
    assert len(COMPOSITE_CASES) >= 4


@pytest.mark.parametrize("example_id,node_id", COMPOSITE_CASES)
def test_every_composite_expansion_matches_the_published_schema(
    client, trace_validator, example_id, node_id
):
    one = client.post("/api/trace", json={"example": example_id}).json()
    assert node_id in composite_ids(one)
    r = client.post("/api/trace", json={"example": example_id, "expand": [node_id]})
    assert r.status_code == 200
    data = r.json()
    assert any(n["group"] == node_id for n in data["graph"]["nodes"])
    assert_matches_schema(data, trace_validator)


@pytest.mark.parametrize("example_id", sorted({e for e, _ in COMPOSITE_CASES}))
def test_every_preset_with_all_composites_expanded_matches_the_published_schema(
    client, trace_validator, example_id
):
    ids = [n for e, n in COMPOSITE_CASES if e == example_id]
    r = client.post("/api/trace", json={"example": example_id, "expand": ids})
    assert r.status_code == 200
    assert_matches_schema(r.json(), trace_validator)


@pytest.mark.parametrize("body", FORMULAS, ids=lambda b: b["expression"][:20])
def test_formula_traces_match_the_published_schema_with_their_symbolic_report(
    client, trace_validator, body
):
    r = client.post("/api/trace", json=body)
    assert r.status_code == 200
    data = r.json()
    assert data["symbolic"] is not None
    assert_matches_schema(data, trace_validator)


def test_a_formula_with_a_fork_has_all_three_phases_and_matches(client, trace_validator):
    r = client.post("/api/trace", json={"expression": "z = x * x + x", "values": {"x": 3}})
    data = r.json()
    assert [s["phase"] for s in data["steps"]].count("accumulate") == 1
    assert_matches_schema(data, trace_validator)


def test_the_overflow_formula_sends_infinity_strings_that_the_schema_accepts(client):
    data = client.post("/api/trace", json={"expression": "exp(x)", "values": {"x": 1000}}).json()
    forward = next(s for s in data["steps"] if s["phase"] == "forward")
    assert forward["out"] == "Infinity"


# --- the schema is exact: each phase carries its own fields and no other's --------------------


def fork_trace(client):
    body = {"expression": "z = x * x + x", "values": {"x": 3}}
    data = client.post("/api/trace", json=body).json()
    assert {s["phase"] for s in data["steps"]} == {"forward", "backward", "accumulate"}
    return data


def first_step(data, phase):
    return next(s for s in data["steps"] if s["phase"] == phase)


@pytest.mark.parametrize(
    "phase,change",
    [
        ("forward", lambda s: s.pop("out")),
        ("forward", lambda s: s.update(edges=[])),  # a backward field on a forward step
        ("backward", lambda s: s.pop("edges")),
        ("backward", lambda s: s.update(out=1.0)),
        ("backward", lambda s: s.update(phase="forward")),  # the phase decides the shape
        ("accumulate", lambda s: s.pop("sum")),
        ("accumulate", lambda s: s.update(dout=1.0)),
        ("accumulate", lambda s: s.update(phase="sideways")),
        ("backward", lambda s: s["edges"][0].update(local="lots")),
        ("forward", lambda s: s["inputs"][0].update(value={"shape": [2]})),  # half a summary
    ],
    ids=[
        "forward-without-out",
        "forward-with-edges",
        "backward-without-edges",
        "backward-with-out",
        "backward-called-forward",
        "accumulate-without-sum",
        "accumulate-with-dout",
        "unknown-phase",
        "local-not-a-number",
        "value-half-a-summary",
    ],
)
def test_the_published_schema_rejects_a_step_of_the_wrong_shape(
    client, trace_validator, phase, change
):
    data = copy.deepcopy(fork_trace(client))
    assert_matches_schema(data, trace_validator)  # the real one passes
    change(first_step(data, phase))
    with pytest.raises(ValidationError):
        TraceResponse.model_validate(data, strict=True)
    with pytest.raises(jsonschema.ValidationError):
        trace_validator.validate(data)


def test_the_published_schema_lists_exactly_what_each_phase_carries(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    steps = schemas["TraceResponse"]["properties"]["steps"]["items"]
    assert steps["discriminator"]["propertyName"] == "phase"
    required = {
        name: set(schemas[name]["required"])
        for name in ("ForwardStep", "BackwardStep", "AccumulateStep")
    }
    assert required == {
        "ForwardStep": {"phase", "index", "node", "inputs", "out"},
        "BackwardStep": {"phase", "index", "node", "dout", "edges"},
        "AccumulateStep": {"phase", "index", "node", "parts", "sum"},
    }
    for name in required:
        assert schemas[name]["additionalProperties"] is False
        assert set(schemas[name]["properties"]) == required[name]


# --- forward mode: tangent steps and the tangents map, as published ---------------------------


def forward_mode_bodies():
    """A forward-mode request for the first input of every preset that takes a gradient (its
    first element for a tensor), and Olah's fork from b."""
    from backprop_viz.core.graph import build_graph
    from backprop_viz.settings import Settings

    bodies = []
    for example_id, example in EXAMPLES.items():
        graph = build_graph(example.nodes, example.output, Settings())
        leaf = next(
            n for n in graph.order if graph.nodes[n].is_leaf and graph.nodes[n].requires_grad
        )
        body = {"example": example_id, "mode": "forward", "wrt": leaf}
        if graph.nodes[leaf].shape:
            body["wrt_index"] = [0] * len(graph.nodes[leaf].shape)
        bodies.append(body)
    return bodies


@pytest.mark.parametrize("body", forward_mode_bodies(), ids=lambda b: b["example"])
def test_every_preset_forward_mode_trace_matches_the_published_schema(
    client, trace_validator, body
):
    r = client.post("/api/trace", json=body)
    assert r.status_code == 200, r.text[:300]
    data = r.json()
    assert data["mode"] == "forward"
    assert {s["phase"] for s in data["steps"]} == {"forward", "tangent"}
    assert set(data["tangents"]) == set(data["values"])
    assert data["wrt"]["node"] == body["wrt"]
    assert_matches_schema(data, trace_validator)


def test_the_published_schema_rejects_a_tangent_step_of_the_wrong_shape(client, trace_validator):
    body = {"example": "olah_fork", "mode": "forward", "wrt": "b"}
    data = client.post("/api/trace", json=body).json()
    assert_matches_schema(data, trace_validator)
    for change in (lambda s: s.pop("tangent"), lambda s: s.update(dout=1.0)):
        broken = copy.deepcopy(data)
        change(first_step(broken, "tangent"))
        with pytest.raises(ValidationError):
            TraceResponse.model_validate(broken, strict=True)
        with pytest.raises(jsonschema.ValidationError):
            trace_validator.validate(broken)


def test_the_published_tangent_step_lists_exactly_what_it_carries(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert set(schemas["TangentStep"]["required"]) == {"phase", "index", "node", "edges", "tangent"}
    assert schemas["TangentStep"]["additionalProperties"] is False
    assert schemas["TraceResponse"]["properties"]["mode"]["enum"] == ["reverse", "forward"]
