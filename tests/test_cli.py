"""The command line: `backprop-viz examples` and `backprop-viz trace EXAMPLE [--set] [--json]`."""

from __future__ import annotations

import json
import os

import pytest

from backprop_viz.cli import main
from backprop_viz.examples import EXAMPLES


def test_cli_trace_apple_prints_220_and_the_gradient_2_2(capsys):
    assert main(["trace", "apple"]) == 0
    out = capsys.readouterr().out
    assert "price = mul(apple_price=200, tax=1.1) = 220" in out
    assert "220.00000000000003" not in out  # rounded like the book
    assert "dprice/dapple = 2.2" in out
    assert "dprice/dapple_num = 110" in out
    assert "dprice/dtax = 200" in out
    assert "forward" in out and "backward" in out


def test_cli_trace_set_overrides_an_input(capsys):
    assert main(["trace", "apple", "--set", "apple=150"]) == 0
    out = capsys.readouterr().out
    assert "= 330" in out
    assert "dprice/dapple_num = 165" in out


def test_cli_trace_set_is_repeatable_and_takes_json_lists(capsys):
    assert main(["trace", "relu", "--set", "x=[[2, -1], [3, -4]]"]) == 0
    out = capsys.readouterr().out
    # The preset's dout [[1.3, 0.8], [0.5, 2]] passes where x > 0 (the mask x <= 0 blocks the rest)
    assert "dy/dx = [[1.3, 0. ], [0.5, 0. ]]" in out
    assert main(["trace", "chain_rule", "--set", "x=3", "--set", "y=-1.5"]) == 0
    out = capsys.readouterr().out
    assert "dz/dx = 3" in out


def test_cli_trace_json_is_valid_json_with_the_books_numbers(capsys):
    assert main(["trace", "apple", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["values"]["price"] == pytest.approx(220.0)
    assert data["grads"]["apple"] == pytest.approx(2.2)
    assert [s["phase"] for s in data["steps"]] == ["forward", "forward", "backward", "backward"]


def test_cli_trace_json_with_set_and_dout(capsys):
    assert main(["trace", "mul_node", "--set", "x=4", "--dout", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["grads"]["x"] == pytest.approx(10.0)
    assert data["grads"]["y"] == pytest.approx(8.0)


def test_cli_trace_fork_prints_the_accumulate_step(capsys):
    assert main(["trace", "apple_orange"]) == 0
    out = capsys.readouterr().out
    assert "dprice/dorange = 3.3" in out
    assert "dprice/dtax = 650" in out


@pytest.mark.parametrize(
    "item,words",
    [
        ("apple", ["NODE=VALUE"]),
        ("banana=3", ["'banana'"]),
        ("price=3", ["'price'", "only inputs"]),
        ('apple="many"', ["the string 'many'"]),
        ("apple=[1, [2]]", ["rows of different lengths"]),
    ],
    ids=["no-equals", "unknown-node", "op-node", "string", "ragged"],
)
def test_cli_trace_bad_set_exits_2_with_a_message(capsys, item, words):
    assert main(["trace", "apple", "--set", item]) == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err


def test_cli_trace_set_that_is_not_json_exits_2_with_a_message(capsys):
    assert main(["trace", "apple", "--set", "apple=lots"]) == 2
    assert "--set apple" in capsys.readouterr().err


def test_cli_trace_unknown_example_exits_2(capsys):
    assert main(["trace", "banana"]) == 2
    assert "'banana'" in capsys.readouterr().err


def test_cli_trace_wrong_dout_shape_exits_2(capsys):
    assert main(["trace", "relu", "--dout", "[1, 2, 3]"]) == 2
    assert "dout" in capsys.readouterr().err


def test_cli_examples_lists_every_preset(capsys):
    assert main(["examples"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert len(lines) == len(EXAMPLES)
    for example_id, line in zip(EXAMPLES, lines, strict=True):
        assert line.startswith(example_id)
        assert EXAMPLES[example_id].title["en"] in line


def test_cli_without_a_command_is_a_usage_error_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage" in capsys.readouterr().err


@pytest.fixture(autouse=True)
def keep_blas_environment(monkeypatch):
    """serve sets OPENBLAS_NUM_THREADS etc. for its workers; undo that after each test."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
        if not os.environ[name]:
            monkeypatch.delenv(name)


def test_cli_serve_passes_host_port_and_workers_to_uvicorn(monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append((a, kw)))
    assert main(["serve", "--host", "0.0.0.0", "--port", "9001", "--workers", "2"]) == 0
    ((args, kwargs),) = calls
    assert args == ("backprop_viz.main:app",)
    assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("0.0.0.0", 9001, 2)


def test_cli_serve_defaults_to_localhost_8000(monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append(kw))
    main(["serve"])
    assert (calls[0]["host"], calls[0]["port"]) == ("127.0.0.1", 8000)
