"""The one service behind the API, the command line and Python: same request, same JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from specs import APPLE

from backprop_viz import service
from backprop_viz.cli import main
from backprop_viz.core.graph import GraphError
from backprop_viz.examples import EXAMPLES
from backprop_viz.settings import Settings

SETTINGS = Settings()


def cli_json(capsys, *args: str) -> dict:
    assert main(["trace", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_json_of_a_formula_equals_the_apis_json_symbolic_report_included(client, capsys):
    from_cli = cli_json(capsys, "-e", "(x + y) ** 2", "--set", "x=1", "--set", "y=2")
    r = client.post("/api/trace", json={"expression": "(x + y) ** 2", "values": {"x": 1, "y": 2}})
    assert r.status_code == 200
    assert from_cli == r.json()
    assert from_cli["values"][from_cli["graph"]["output"]] == 9.0
    assert from_cli["symbolic"]["derivatives"]["x"] == {"text": "2*x + 2*y", "value": 6.0}


def test_cli_json_of_apple_equals_the_apis_json(client, capsys):
    from_cli = cli_json(capsys, "apple")
    r = client.post("/api/trace", json={"example": "apple"})
    assert from_cli == r.json()
    assert from_cli["grads"]["apple"] == pytest.approx(2.2)
    assert "symbolic" not in from_cli


def test_cli_json_with_overrides_dout_and_expand_equals_the_apis_json(client, capsys):
    from_cli = cli_json(capsys, "sigmoid", "--set", "x=0.5", "--dout", "2", "--expand", "y")
    body = {"example": "sigmoid", "values": {"x": 0.5}, "dout": 2, "expand": ["y"]}
    assert from_cli == client.post("/api/trace", json=body).json()
    assert any(n["group"] == "y" for n in from_cli["graph"]["nodes"])


def test_the_installed_console_script_prints_the_apis_json(client):
    """The real command in a subprocess, as a user types it."""
    script = os.path.join(os.path.dirname(sys.executable), "backprop-viz")
    args = ["trace", "-e", "(x + y) ** 2", "--set", "x=1", "--set", "y=2", "--json"]
    done = subprocess.run(
        [script, *args], capture_output=True, text=True, timeout=60, check=True, env=os.environ
    )
    r = client.post("/api/trace", json={"expression": "(x + y) ** 2", "values": {"x": 1, "y": 2}})
    assert json.loads(done.stdout) == r.json()


def test_the_unknown_example_message_is_the_same_in_the_api_the_404_and_the_cli(client, capsys):
    expected = f"example: no example 'banana'; known: {', '.join(EXAMPLES)}"
    r = client.post("/api/trace", json={"example": "banana"})
    assert r.status_code == 422
    assert r.json()["detail"] == expected
    assert r.json()["field"] == "example"
    r = client.get("/api/examples/banana")  # the same words, its field the path's example_id
    assert r.status_code == 404
    assert "example_id: " + r.json()["detail"] == "example_id: " + expected.removeprefix(
        "example: "
    )
    assert r.json()["field"] == "example_id"
    assert main(["trace", "banana"]) == 2
    assert capsys.readouterr().err.strip() == expected


def test_service_trace_of_a_graph_spec_gives_the_books_apple_numbers():
    result = service.trace(service.TraceQuery(graph={"nodes": APPLE, "output": "price"}), SETTINGS)
    assert float(result.trace.values["price"]) == pytest.approx(220.0)
    assert float(result.trace.grads["apple"]) == pytest.approx(2.2)
    payload = result.to_json()
    assert payload["grads"]["tax"] == pytest.approx(200.0)
    assert "symbolic" not in payload


def test_service_trace_uses_the_presets_dout_unless_the_query_gives_one():
    preset = service.trace(service.TraceQuery(example="mul_node"), SETTINGS).trace
    assert float(preset.dout) == 1.3  # the book's figure 5-13
    given = service.trace(service.TraceQuery(example="mul_node", dout=2), SETTINGS).trace
    assert float(given.dout) == 2.0


def test_service_trace_of_an_expression_has_the_symbolic_report_at_the_variables():
    query = service.TraceQuery(expression="x * y", values={"x": 3, "y": 4})
    result = service.trace(query, SETTINGS)
    assert result.symbolic["derivatives"]["x"] == {"text": "y", "value": 4.0}
    assert result.to_json()["symbolic"] == result.symbolic


@pytest.mark.parametrize(
    "query,found",
    [
        (service.TraceQuery(), "none"),
        (service.TraceQuery(example="apple", expression="x"), "example, expression"),
    ],
)
def test_service_needs_exactly_one_source(query, found):
    with pytest.raises(GraphError) as info:
        service.trace(query, SETTINGS)
    assert info.value.field == "body"
    assert f"(found: {found})" in info.value.message


def test_service_rejects_a_value_for_a_name_the_expression_does_not_have():
    with pytest.raises(GraphError) as info:
        service.trace(service.TraceQuery(expression="x + 1", values={"y": 2}), SETTINGS)
    assert (info.value.field, info.value.node) == ("values", "y")
    assert "'y' is not a variable of the expression (its variables: x)" in info.value.message


def test_service_full_sends_large_arrays_whole():
    query = service.TraceQuery(example="two_layer_net_book")
    summarised = service.trace(query, SETTINGS).to_json()
    assert summarised["values"]["W1"]["shape"] == [784, 50]
    full = service.trace(service.TraceQuery(example="two_layer_net_book", full=True), SETTINGS)
    assert len(full.to_json()["values"]["W1"]) == 784
