"""The symbolic step is bounded: static limits before sympy, float evaluation, and a wall-clock
budget in a worker process that is killed and replaced when over it."""

from __future__ import annotations

import functools
import sys
import threading
import time

import pytest

from backprop_viz.formulas import symbolic
from backprop_viz.formulas.parser import parse_expression
from backprop_viz.formulas.symbolic import (
    BUDGET_SECONDS,
    MAX_GROWTH_NESTING,
    growth_nesting,
    symbolic_report,
)
from backprop_viz.formulas.workers import KillableWorkers, Overtime, WorkerFailed

MARGIN = 3.0  # seconds on top of the budget, for a busy machine


def relu_tower(levels: int) -> str:
    """relu(relu(...(x - 1)...) - 1): sympy's lambdify of its derivative takes 7 s at 12
    levels and more than a minute at 20 (each Max becomes a Piecewise inside the next)."""
    text = "x"
    for _ in range(levels):
        text = f"relu({text} - 1)"
    return text


def timed_report(text: str, values: dict[str, float], **kwargs) -> tuple[dict, float]:
    start = time.monotonic()
    report = symbolic_report(text, values, **kwargs)
    return report, time.monotonic() - start


@pytest.mark.parametrize(
    "text, values, nesting",
    [
        ("exp(exp(exp(exp(exp(x)))))", {"x": 1.0}, 5),  # once a hang no signal stopped
        ("((((((x**64)**64)**64)**64)**64)**64)", {"x": 2.0}, 6),  # once 2.2 GB
        ("exp(exp(exp(exp(x))))", {"x": 0.5}, 4),
        ("sigmoid(sigmoid(sqrt(sigmoid(x))))", {"x": 0.5}, 4),
    ],
)
def test_symbolic_report_towers_are_a_note_at_once(text, values, nesting):
    assert growth_nesting(parse_expression(text)) == nesting
    report, seconds = timed_report(text, values)
    assert seconds < BUDGET_SECONDS + MARGIN
    assert report["derivatives"] == {} and report["formula"] is None
    assert f"nests exp, sigmoid and powers {nesting} deep" in report["note"]
    assert f"at most {MAX_GROWTH_NESTING}" in report["note"]
    assert "symbolic derivative is skipped" in report["note"]


def test_symbolic_report_just_at_the_nesting_limit_is_differentiated():
    text = "exp(exp(exp(x)))"
    assert growth_nesting(parse_expression(text)) == MAX_GROWTH_NESTING
    report = symbolic_report(text, {"x": 0.0})
    assert report["note"] is None
    assert report["derivatives"]["x"]["text"] == "exp(x)*exp(exp(x))*exp(exp(exp(x)))"
    # exp(0) * exp(1) * exp(e) = e ** (1 + e)
    assert report["derivatives"]["x"]["value"] == pytest.approx(41.193555674716116, rel=1e-12)


def test_symbolic_report_power_tower_is_evaluated_in_floats_fast():
    # Exact evalf held a thread 281 s here; in float64 the derivative overflows to inf: null.
    report, seconds = timed_report("((x**64)**64)**64", {"x": 1.1})
    assert seconds < BUDGET_SECONDS + MARGIN
    assert report["note"] is None
    assert report["formula"] == "x**262144"
    assert report["derivatives"]["x"] == {"text": "262144*x**262143", "value": None}


def test_symbolic_report_value_beyond_float64_is_null_and_below_is_a_float():
    report = symbolic_report("x ** 64", {"x": 1e10})  # 64 * 1e630
    assert report["derivatives"]["x"] == {"text": "64*x**63", "value": None}
    report = symbolic_report("x ** 64", {"x": 2.0})
    assert report["derivatives"]["x"]["value"] == 64 * 2.0**63


def test_symbolic_report_over_budget_is_a_note_and_the_next_formula_works():
    kills = symbolic._workers.kills
    report, seconds = timed_report(relu_tower(20), {"x": 30.0})
    assert seconds < BUDGET_SECONDS + MARGIN
    assert report["derivatives"] == {}
    assert report["note"] == (
        f"the symbolic derivative took too long (more than {BUDGET_SECONDS:g} s); "
        "the symbolic derivative is skipped"
    )
    assert symbolic._workers.kills == kills + 1
    # The killed worker was replaced: a formula after it is differentiated as before.
    after = symbolic_report("(x + y) ** 2", {"x": 1.0, "y": 2.0})
    assert after["derivatives"]["x"] == {"text": "2*x + 2*y", "value": 6.0}


def test_symbolic_report_budget_is_a_parameter():
    report, seconds = timed_report(relu_tower(16), {"x": 20.0}, budget=0.5)
    assert seconds < 0.5 + MARGIN
    assert "took too long (more than 0.5 s)" in report["note"]


def test_symbolic_report_normal_formula_meanwhile_is_answered():
    """While one request's tower runs out its budget, another's formula is differentiated by
    the other worker: two requests at once, both answered."""
    results: dict[str, dict] = {}

    def hostile():
        results["tower"] = symbolic_report(relu_tower(19), {"x": 25.0})

    thread = threading.Thread(target=hostile)
    thread.start()
    time.sleep(0.2)
    normal = symbolic_report("x * y + y", {"x": 2.0, "y": 5.0})
    thread.join(BUDGET_SECONDS + MARGIN)
    assert not thread.is_alive()
    assert normal["derivatives"]["x"] == {"text": "y", "value": 5.0}
    assert normal["derivatives"]["y"] == {"text": "x + 1", "value": 3.0}
    assert "took too long" in results["tower"]["note"]


def test_symbolic_report_from_many_threads_agrees():
    answers = []

    def ask(k: int):
        answers.append((k, symbolic_report("(x + y) ** 2", {"x": float(k), "y": 1.0})))

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(k for k, _ in answers) == list(range(8))
    for k, report in answers:
        assert report["derivatives"]["x"]["value"] == 2.0 * k + 2.0


@pytest.fixture
def pool():
    workers = KillableWorkers(1, memory_margin=256 * 1024 * 1024)
    yield workers
    workers.close()


def test_workers_kill_a_job_over_budget_and_replace_the_worker(pool):
    assert pool.run(len, ("abc",), 10) == 3
    start = time.monotonic()
    with pytest.raises(Overtime) as raised:
        pool.run(time.sleep, (60,), 0.5)
    assert time.monotonic() - start < 0.5 + MARGIN
    assert raised.value.killed and raised.value.reason == "more than 0.5 s"
    assert pool.kills == 1
    assert pool.run(len, ("abcd",), 10) == 4


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the limit reads /proc")
def test_workers_memory_beyond_the_margin_is_a_failure_not_a_dead_server(pool):
    with pytest.raises(WorkerFailed, match="MemoryError"):
        pool.run(bytearray, (2 * 1024**3,), 10)
    assert pool.run(len, ("ab",), 10) == 2


def test_workers_job_errors_come_back_as_text(pool):
    with pytest.raises(WorkerFailed, match="ValueError"):
        pool.run(int, ("not a number",), 10)


def test_evaluate_sympy_expression_in_floats():
    import sympy

    x = sympy.Symbol("x", real=True)
    assert symbolic.evaluate(1 / (x - 1), {x: 3.0}) == 0.5
    assert symbolic.evaluate(1 / (x - 1), {x: 1.0}) is None  # a pole
    assert symbolic.evaluate(sympy.log(x), {x: -1.0}) is None  # complex
    assert symbolic.evaluate(x * sympy.Symbol("y"), {x: 2.0}) is None  # y not given


def test_derivatives_of_a_text_are_sympy_objects():
    found = symbolic.derivatives("(x + y) ** 2")
    assert str(found["derivatives"]["x"]) == "2*x + 2*y"


def test_workers_start_of_a_fresh_worker_does_not_count_against_the_budget():
    slow_start = KillableWorkers(1, initializer=functools.partial(time.sleep, 1.5))
    try:
        start = time.monotonic()
        assert slow_start.run(len, ("ab",), 0.5) == 2
        assert time.monotonic() - start >= 1.5
        assert slow_start.kills == 0
    finally:
        slow_start.close()


def test_workers_all_busy_past_the_budget_is_overtime_without_a_kill(pool):
    assert pool.run(len, ("warm",), 10) == 4  # the one worker is started
    busy = threading.Thread(target=pool.run, args=(time.sleep, (2.0,), 10))
    busy.start()
    time.sleep(0.3)
    start = time.monotonic()
    with pytest.raises(Overtime) as raised:
        pool.run(len, ("ab",), 0.5)
    assert 0.5 <= time.monotonic() - start < 0.5 + MARGIN
    assert raised.value.reason == "every worker was busy" and not raised.value.killed
    busy.join(10)
    assert pool.kills == 0
    assert pool.run(len, ("abc",), 10) == 3
