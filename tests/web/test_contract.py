"""/openapi.json is the contract served: every status an endpoint answers is declared there,
with the body it really has; the exactly-one-source rule and positive examples are in it."""

from __future__ import annotations

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from backprop_viz.core.layers import MulLayer
from backprop_viz.settings import Settings
from backprop_viz.web.app import create_app

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def openapi() -> dict:
    return TestClient(create_app(Settings())).get("/openapi.json").json()


def validator(openapi: dict, schema: dict) -> jsonschema_rs.Validator:
    """A validator of ``schema`` whose $refs resolve in the published document."""
    return jsonschema_rs.Draft202012Validator({**schema, "components": openapi["components"]})


def component(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def declared(openapi: dict, method: str, path: str, status: int) -> dict:
    """The body schema /openapi.json declares for this answer (fails if it declares none)."""
    responses = openapi["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} does not declare {status}"
    return responses[str(status)]["content"]["application/json"]["schema"]


def assert_as_declared(openapi: dict, method: str, path: str, r) -> None:
    """The answer's status is declared for the operation, and its body is valid by it."""
    schema = declared(openapi, method, path, r.status_code)
    errors = [e.message for e in validator(openapi, schema).iter_errors(r.json())]
    assert not errors, (r.status_code, errors[:3], r.text[:300])


# --- what is published -------------------------------------------------------------------------


def test_openapi_publishes_one_error_model_and_not_fastapis(openapi):
    schemas = openapi["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    error = schemas["ErrorResponse"]
    assert error["required"] == ["detail", "field", "node"]
    assert error["properties"]["detail"]["type"] == "string"
    assert set(error["properties"]) == {"detail", "field", "node", "line", "column"}


def test_every_operation_declares_its_error_statuses_with_the_error_model(openapi):
    expected = {
        ("get", "/api/health"): {"200", "408", "413", "500", "503"},
        ("get", "/api/ops"): {"200", "408", "413", "500", "503"},
        ("get", "/api/examples"): {"200", "408", "413", "500", "503"},
        ("get", "/api/examples/{example_id}"): {"200", "404", "408", "413", "422", "500", "503"},
        ("post", "/api/trace"): {"200", "408", "413", "422", "500", "503"},
        ("post", "/api/parse"): {"200", "408", "413", "422", "500", "503"},
        ("post", "/api/gradcheck"): {"200", "408", "413", "422", "500", "503"},
        ("post", "/api/paths"): {"200", "408", "413", "422", "500", "503"},
        ("get", "/api/datasets"): {"200", "408", "413", "500", "503"},
        ("post", "/api/train"): {"200", "408", "413", "422", "429", "500", "503"},
        ("get", "/api/train/stream"): {"200", "408", "413", "422", "429", "500", "503"},
    }
    found = {
        (method, path): set(operation["responses"])
        for path, operations in openapi["paths"].items()
        for method, operation in operations.items()
    }
    assert found == expected
    for (method, path), statuses in expected.items():
        for status in statuses - {"200"}:
            assert declared(openapi, method, path, int(status)) == component("ErrorResponse")
        if "503" in statuses:
            headers = openapi["paths"][path][method]["responses"]["503"]["headers"]
            assert headers["Retry-After"]["schema"]["type"] == "integer"


@pytest.mark.parametrize("name", ["TraceRequest", "GradcheckRequest"])
def test_exactly_one_source_is_in_the_request_schema(openapi, name):
    schema = validator(openapi, component(name))
    assert schema.is_valid({"example": "apple"})
    assert schema.is_valid({"expression": "x * y"})
    assert schema.is_valid({"graph": {"nodes": [], "output": "x"}})
    assert schema.is_valid({"graph": None, "example": "apple"})  # null is no source
    assert not schema.is_valid({})
    assert not schema.is_valid({"values": {"apple": 1}})
    assert not schema.is_valid({"example": "apple", "expression": "x"})
    assert not schema.is_valid({"example": "apple", "graph": {"nodes": [], "output": "x"}})
    assert not schema.is_valid({"example": None, "expression": None})


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"values": {"apple": 1}},
        {"example": "apple", "expression": "x"},
        {"example": None, "expression": None},
    ],
)
@pytest.mark.parametrize("path", ["/api/trace", "/api/gradcheck"])
def test_the_server_refuses_what_the_schema_refuses_as_declared(client, openapi, path, body):
    r = client.post(path, json=body)
    assert r.status_code == 422
    assert_as_declared(openapi, "post", path, r)
    assert r.json()["field"] == "body"


@pytest.mark.parametrize(
    "path, name",
    [
        ("/api/trace", "TraceRequest"),
        ("/api/gradcheck", "GradcheckRequest"),
        ("/api/paths", "PathsRequest"),
    ],
)
def test_request_schema_examples_are_valid_and_trace(client, openapi, path, name):
    examples = openapi["components"]["schemas"][name]["examples"]
    assert len(examples) >= 3
    assert {"example", "expression", "graph"} <= {key for e in examples for key in e}
    schema = validator(openapi, component(name))
    for example in examples:
        assert schema.is_valid(example), example
        r = client.post(path, json=example)
        assert r.status_code == 200, (example, r.text[:300])
        assert_as_declared(openapi, "post", path, r)


def test_apple_example_traces_to_the_books_numbers_with_the_edited_price(client, openapi):
    (apple,) = [
        e for e in openapi["components"]["schemas"]["TraceRequest"]["examples"] if "example" in e
    ][:1]
    data = client.post("/api/trace", json=apple).json()
    assert data["values"]["price"] == pytest.approx(150 * 2 * 1.1)
    assert data["grads"]["apple"] == pytest.approx(2.2)


# --- what is served is what is published ---------------------------------------------------


def test_every_answer_of_trace_is_as_declared(make_client, openapi, monkeypatch):
    client = make_client(max_body_bytes=2000)
    answers = [
        client.post("/api/trace", json={"example": "apple"}),
        client.post("/api/trace", json={"expression": "(x + y) ** 2"}),
        client.post("/api/trace", json={"example": "banana"}),
        client.post("/api/trace", json={"expression": "x +"}),
        client.post("/api/trace", content=b'{"example": "\xff"}', headers=JSON),
        client.post("/api/trace", json={"example": "apple", "values": {"apple": [1.0] * 1000}}),
    ]
    assert [r.status_code for r in answers] == [200, 200, 422, 422, 422, 413]
    monkeypatch.setattr(MulLayer, "forward", lambda self, x, y: (_ for _ in ()).throw(MemoryError))
    answers.append(client.post("/api/trace", json={"example": "apple"}))
    assert answers[-1].status_code == 503
    for r in answers:
        assert_as_declared(openapi, "post", "/api/trace", r)


def test_every_answer_of_gradcheck_and_parse_is_as_declared(client, openapi):
    for path, body, status in [
        ("/api/gradcheck", {"example": "apple"}, 200),
        ("/api/gradcheck", {"example": "apple", "h": 2}, 422),
        ("/api/gradcheck", {"graph": {"nodes": [{"id": "x", "op": "mul"}], "output": "x"}}, 422),
        ("/api/parse", {"expression": "t = x + y\nz = t ** 2"}, 200),
        ("/api/parse", {"expression": "t = \n"}, 422),
        ("/api/parse", {"expr": "x"}, 422),
    ]:
        r = client.post(path, json=body)
        assert r.status_code == status, (body, r.text[:300])
        assert_as_declared(openapi, "post", path, r)


def test_every_answer_of_the_get_routes_is_as_declared(make_client, openapi):
    client = make_client(max_body_bytes=100)
    for path, template, status in [
        ("/api/health", "/api/health", 200),
        ("/api/ops", "/api/ops", 200),
        ("/api/examples", "/api/examples", 200),
        ("/api/examples/apple", "/api/examples/{example_id}", 200),
        ("/api/examples/banana", "/api/examples/{example_id}", 404),
    ]:
        r = client.get(path)
        assert r.status_code == status
        assert_as_declared(openapi, "get", template, r)
    # a GET with a body over the limit is refused before routing, as any request is
    r = client.request("GET", "/api/health", content=b"x" * 101)
    assert r.status_code == 413
    assert_as_declared(openapi, "get", "/api/health", r)


def test_parse_example_in_the_schema_parses(client, openapi):
    (example,) = openapi["components"]["schemas"]["ParseRequest"]["properties"]["expression"][
        "examples"
    ]
    r = client.post("/api/parse", json={"expression": example})
    assert r.status_code == 200
    assert r.json()["variables"] == ["x", "y"]
