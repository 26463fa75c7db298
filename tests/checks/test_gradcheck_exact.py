"""The gradient check's reported figures, exactly: what it sampled, how many passes it ran, its
time limit (on a fake clock), its minimum per leaf, and the leaves it must never perturb."""

from __future__ import annotations

import numpy as np
import pytest
from specs import APPLE, graph, leaf, op

from backprop_viz.checks.gradcheck import MIN_PER_LEAF, TIME_SHARE, gradient_check, share_out
from backprop_viz.core import layers
from backprop_viz.core.graph import build_graph
from backprop_viz.settings import Settings


def check(nodes, output, **options):
    return gradient_check(build_graph(nodes, output, Settings()), **options)


def by_node(result) -> dict:
    return {leaf["node"]: leaf for leaf in result["leaves"]}


def squares(name: str, size: int) -> list:
    """sum(v * v) of a leaf of ``size`` elements: its gradient is 2v."""
    values = [0.5 + i / size for i in range(size)]
    return [
        leaf(name, values),
        op(f"{name}2", "mul", name, name),
        op(f"s{name}", "sum", f"{name}2"),
    ]


class FakeClock:
    """A clock that moves only when exp runs: each forward pass of exp takes the next of
    ``steps`` seconds (the last one repeats), as if the machine got busier or not."""

    def __init__(self, *steps: float):
        self.now = 0.0
        self.steps = list(steps)

    def __call__(self) -> float:
        return self.now

    def tick(self) -> None:
        self.now += self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]


@pytest.fixture
def exp_clock(monkeypatch):
    """A factory of fake clocks advanced by every ExpLayer.forward."""
    original = layers.ExpLayer.forward
    clocks = []

    def ticking_forward(self, x):
        clocks[-1].tick()
        return original(self, x)

    monkeypatch.setattr(layers.ExpLayer, "forward", ticking_forward)

    def make(*steps: float) -> FakeClock:
        clocks.append(FakeClock(*steps))
        return clocks[-1]

    return make


EXP_SUM = [leaf("x", [0.1 * i for i in range(10)]), op("e", "exp", "x"), op("s", "sum", "e")]


# --- what a complete check reports ----------------------------------------------------------


def test_gradcheck_of_the_apple_reports_every_element_and_two_passes_each():
    result = check(APPLE, "price")
    assert result["ok"] is True and result["complete"] is True
    assert result["timed_out"] is False
    assert result["elements"] == 3 and result["checked"] == 3
    assert result["evaluations"] == 6
    assert result["skipped"] == []
    for leaf_result in result["leaves"]:
        assert leaf_result["checked"] == 1 and leaf_result["elements"] == 1
        assert leaf_result["sampled"] is False
        assert leaf_result["max_rel_error"] < 1e-9


def test_gradcheck_max_errors_of_a_gradient_one_percent_too_large(monkeypatch):
    def wrong_backward(self, dout):
        return dout * self.y * 1.01, dout * self.x

    monkeypatch.setattr(layers.MulLayer, "backward", wrong_backward)
    result = check(APPLE, "price")
    apple = by_node(result)["apple"]
    # backprop says 2.2 * 1.01 * 1.01 (both mul nodes are wrong), the truth is 2.2
    backprop, truth = 2.2 * 1.01**2, 2.2
    assert apple["backprop"] == pytest.approx(backprop, rel=1e-12)
    assert apple["numerical"] == pytest.approx(truth, rel=1e-9)
    assert apple["max_abs_error"] == pytest.approx(backprop - truth, rel=1e-7)
    assert apple["max_rel_error"] == pytest.approx((backprop - truth) / backprop, rel=1e-7)
    assert apple["ok"] is False and result["ok"] is False and result["complete"] is True
    tax = by_node(result)["tax"]
    assert tax["ok"] is True and tax["max_rel_error"] < 1e-9


def test_gradcheck_relative_error_is_within_rtol_of_the_larger_value_only():
    # the central difference of x**3 is 3x**2 + h**2 exactly, so at x = 3 the error is 1e-8:
    # within rtol 1e-6 of 27, not within 1e-10
    result = check([leaf("x", 3.0), op("y", "pow", "x", p=3)], "y", rtol=1e-6, atol=0.0)
    x = by_node(result)["x"]
    assert x["max_abs_error"] == pytest.approx(1e-8, rel=1e-2)
    assert x["max_rel_error"] == pytest.approx(1e-8 / (27 + 1e-8), rel=1e-2)
    assert x["ok"] is True
    strict = check([leaf("x", 3.0), op("y", "pow", "x", p=3)], "y", rtol=1e-10, atol=0.0)
    assert strict["ok"] is False and by_node(strict)["x"]["ok"] is False


# --- the sample: the budget and the minimum per leaf -----------------------------------------


def test_gradcheck_checks_every_element_when_the_budget_covers_them_exactly():
    result = check(squares("w", 30), "sw", max_evaluations=60)
    w = by_node(result)["w"]
    assert w["checked"] == 30 and w["sampled"] is False
    assert result["evaluations"] == 60 and result["complete"] is True and result["ok"] is True


def test_gradcheck_samples_when_the_budget_is_one_pair_short():
    result = check(squares("w", 30), "sw", max_evaluations=59)
    w = by_node(result)["w"]
    assert w["checked"] == 29 and w["sampled"] is True and w["elements"] == 30
    assert result["evaluations"] == 58 and result["checked"] == 29
    assert result["complete"] is True and result["ok"] is True
    assert len(w["samples"]) == 29
    indices = [s["index"][0] for s in w["samples"]]
    assert indices == sorted(set(indices))


def test_gradcheck_checks_at_least_20_elements_of_each_leaf_even_past_the_budget():
    assert MIN_PER_LEAF == 20
    nodes = squares("a", 100) + squares("z", 5) + [op("out", "add", "sa", "sz")]
    result = check(nodes, "out", max_evaluations=20)
    # 10 pairs for 105 elements: a's share is 10, raised to 20; z's 5 are all checked
    assert [leaf["node"] for leaf in result["leaves"]] == ["z", "a"]  # small leaves first
    assert by_node(result)["z"]["checked"] == 5 and by_node(result)["z"]["sampled"] is False
    assert by_node(result)["a"]["checked"] == 20 and by_node(result)["a"]["sampled"] is True
    assert result["elements"] == 105 and result["checked"] == 25
    assert result["evaluations"] == 50
    assert result["ok"] is True and result["complete"] is True


def test_gradcheck_shares_the_budget_by_leaf_size():
    nodes = squares("w", 300) + squares("b", 100) + [op("out", "add", "sw", "sb")]
    result = check(nodes, "out", max_evaluations=200)
    # 100 pairs for 400 elements: w gets round(100 * 300 / 400) = 75, b 25
    assert by_node(result)["w"]["checked"] == 75
    assert by_node(result)["b"]["checked"] == 25
    assert result["evaluations"] == 200


def test_gradcheck_sample_follows_the_seed():
    def indices(seed):
        result = check(squares("w", 100), "sw", max_evaluations=40, seed=seed)
        return [s["index"][0] for s in by_node(result)["w"]["samples"]]

    assert indices(0) == indices(0)
    assert indices(0) != indices(1)
    assert len(indices(0)) == 20


# --- the time limit, on a fake clock ---------------------------------------------------------
# Every pass through exp takes fake seconds: the traced pass, then two passes an element.
# Before each element after the first, the rest of the sample is cut to what ends by 3/4 of
# max_seconds at the cost seen so far; the check stops for good at the first element started
# past max_seconds.


def run_check(nodes, output, clock, max_seconds):
    graph_ = build_graph(nodes, output, Settings())
    return gradient_check(graph_, max_seconds=max_seconds, clock=clock)


def test_gradcheck_plans_its_sample_to_end_by_three_quarters_of_the_time_limit(exp_clock):
    # traced 0.25 s; elements of 0.5 s from 0.25 s; by 3.0 s (3/4 of 4 s) 5 of them end
    assert TIME_SHARE == 0.75
    result = run_check(EXP_SUM, "s", exp_clock(0.25), max_seconds=4.0)
    x = by_node(result)["x"]
    assert x["checked"] == 5 and x["sampled"] is True and x["ok"] is True
    assert result["evaluations"] == 10
    assert result["timed_out"] is False and result["complete"] is True and result["ok"] is True
    assert result["backprop_seconds"] == 0.25
    assert result["numerical_seconds"] == 2.5
    assert result["numerical_seconds_all"] == 5.0  # 2.5 s for 5 elements, so 5.0 s for 10
    assert result["speedup"] == 20.0


def test_gradcheck_within_its_time_limit_checks_everything(exp_clock):
    # all 10 elements end at 5.25 s, before 6.0 s (3/4 of 8 s)
    result = run_check(EXP_SUM, "s", exp_clock(0.25), max_seconds=8.0)
    assert result["timed_out"] is False and result["complete"] is True and result["ok"] is True
    assert result["checked"] == 10 and result["evaluations"] == 20
    assert by_node(result)["x"]["sampled"] is False
    assert result["numerical_seconds"] == 5.0


def test_gradcheck_cuts_its_sample_when_the_machine_gets_slower(exp_clock):
    # the traced pass takes 0.25 s, every later pass 1 s: elements of 2 s from 0.25 s, and by
    # 10.5 s (3/4 of 14 s) 5 of them end
    result = run_check(EXP_SUM, "s", exp_clock(0.25, 1.0), max_seconds=14.0)
    x = by_node(result)["x"]
    assert x["checked"] == 5 and x["sampled"] is True and x["ok"] is True
    assert result["timed_out"] is False and result["complete"] is True and result["ok"] is True
    assert result["evaluations"] == 10
    assert result["numerical_seconds"] == 10.0
    assert result["numerical_seconds_all"] == 20.0
    assert result["speedup"] == 80.0


def test_gradcheck_time_limit_stops_the_check_and_makes_it_incomplete_and_not_ok(exp_clock):
    # the first element's second pass takes 100 s: at 100.5 s the limit of 10.5 s has passed
    # and the check stops with 1 of 10 checked
    result = run_check(EXP_SUM, "s", exp_clock(0.25, 0.25, 100.0), max_seconds=10.5)
    x = by_node(result)["x"]
    assert result["timed_out"] is True
    assert result["complete"] is False
    assert result["ok"] is False  # what was checked passed, but not what was promised
    assert x["ok"] is True and x["checked"] == 1 and x["sampled"] is True
    assert result["checked"] == 1 and result["evaluations"] == 2 and result["elements"] == 10
    assert result["numerical_seconds"] == 100.25
    assert result["numerical_seconds_all"] == 1002.5
    assert result["speedup"] == 4010.0


def test_gradcheck_time_limit_counts_from_the_start_and_is_inclusive(exp_clock):
    # x and y of one element each: x's starts at 0.25 s, y's at exactly 0.75 s. A cut never
    # takes a leaf's only element, so the limit alone decides: y is checked at 0.75 s, not past.
    nodes = [leaf("x", 0.5), leaf("y", 0.25), op("xy", "add", "x", "y"), op("e", "exp", "xy")]
    result = run_check(nodes, "e", exp_clock(0.25), max_seconds=0.75)
    assert result["checked"] == 2 and result["timed_out"] is False and result["ok"] is True
    result = run_check(nodes, "e", exp_clock(0.25), max_seconds=0.5)
    assert result["checked"] == 1 and result["timed_out"] is True and result["ok"] is False
    assert by_node(result)["y"]["ok"] is None


def test_gradcheck_leaf_the_time_limit_never_reached_is_unchecked(exp_clock):
    nodes = [
        leaf("x", [0.1 * i for i in range(10)]),
        leaf("y", [0.2 * i for i in range(10)]),
        op("xy", "add", "x", "y"),
        op("e", "exp", "xy"),
        op("s", "sum", "e"),
    ]
    # x's first element takes 100.25 s; y's would start past the limit
    result = run_check(nodes, "s", exp_clock(0.25, 0.25, 100.0), max_seconds=36.5)
    x, y = by_node(result)["x"], by_node(result)["y"]
    assert x["checked"] == 1 and x["ok"] is True
    assert y["checked"] == 0 and y["ok"] is None
    assert y["max_abs_error"] is None and y["max_rel_error"] is None
    assert result["timed_out"] is True and result["complete"] is False and result["ok"] is False


def test_gradcheck_time_cut_keeps_small_leaves_whole(exp_clock):
    nodes = [
        leaf("a", [0.01 * i for i in range(100)]),
        op("ea", "exp", "a"),
        op("sa", "sum", "ea"),
        leaf("z", [0.1 * i for i in range(5)]),
        op("ez", "exp", "z"),
        op("sz", "sum", "ez"),
        op("out", "add", "sa", "sz"),
    ]
    # two exp nodes: a pass is 0.5 s, an element 1 s from 0.5 s; by 27 s (3/4 of 36 s) 26 end:
    # all 5 of z (checked first), and 21 of a
    result = run_check(nodes, "out", exp_clock(0.25), max_seconds=36.0)
    assert [leaf["node"] for leaf in result["leaves"]] == ["z", "a"]
    assert by_node(result)["z"]["checked"] == 5 and by_node(result)["z"]["sampled"] is False
    assert by_node(result)["a"]["checked"] == 21 and by_node(result)["a"]["sampled"] is True
    assert result["complete"] is True and result["ok"] is True and result["evaluations"] == 52


def test_gradcheck_default_time_limit_is_3_seconds(exp_clock):
    # elements of 0.5 s from 0.25 s: by 2.25 s (3/4 of 3 s) 4 of them end
    result = gradient_check(build_graph(EXP_SUM, "s", Settings()), clock=exp_clock(0.25))
    assert result["checked"] == 4 and result["complete"] is True


def test_gradcheck_on_a_frozen_clock_checks_everything_and_has_no_speedup():
    result = check(APPLE, "price", clock=lambda: 0.0)
    assert result["checked"] == 3 and result["ok"] is True and result["timed_out"] is False
    assert result["backprop_seconds"] == 0.0 and result["numerical_seconds"] == 0.0
    assert result["numerical_seconds_all"] == 0.0
    assert result["speedup"] is None


def test_share_out_keeps_small_counts_and_gives_every_leaf_one():
    assert share_out({"a": 100, "z": 5}, 26) == {"a": 21, "z": 5}
    assert share_out({"a": 100, "z": 5, "m": 8}, 13) == {"a": 5, "z": 4, "m": 4}
    assert share_out({"a": 100, "z": 5}, 0) == {"a": 1, "z": 1}
    assert share_out({"a": 100, "z": 5}, 105) == {"a": 100, "z": 5}


# --- what is reported per leaf -----------------------------------------------------------------


def test_gradcheck_default_seed_is_0():
    def indices(**seed):
        result = check(squares("w", 100), "sw", max_evaluations=40, **seed)
        return [s["index"][0] for s in by_node(result)["w"]["samples"]]

    assert indices() == indices(seed=0) != indices(seed=1)


def test_gradcheck_samples_report_both_gradients_at_each_index():
    result = check(squares("w", 30), "sw", max_evaluations=40)
    w = by_node(result)["w"]
    assert w["checked"] == 20 and len(w["samples"]) == 20
    for sample in w["samples"]:
        (i,) = sample["index"]
        assert sample["backprop"] == 2 * (0.5 + i / 30)  # d sum(w * w) / dw = 2w
        assert sample["numerical"] == pytest.approx(sample["backprop"], rel=1e-9)


def test_gradcheck_lists_whole_gradients_up_to_50_elements_and_samples_beyond():
    small = by_node(check(squares("w", 50), "sw"))["w"]
    assert len(small["backprop"]) == 50 and len(small["numerical"]) == 50
    assert small.get("samples") is None
    large = by_node(check(squares("w", 51), "sw"))["w"]
    assert large["checked"] == 51 and large.get("backprop") is None
    assert len(large["samples"]) == 50  # the first 50 of 51, by index
    assert [s["index"][0] for s in large["samples"]] == list(range(50))


def test_gradcheck_exact_match_passes_with_zero_tolerances():
    # with h = 0.25 the central difference of x + y is exactly 1, as backprop says
    nodes = [leaf("x", 0.5), leaf("y", 0.25), op("s", "add", "x", "y")]
    result = check(nodes, "s", h=0.25, rtol=0.0, atol=0.0)
    assert by_node(result)["x"]["max_abs_error"] == 0.0 and result["ok"] is True


def test_gradcheck_uses_the_upstream_gradient_it_is_given():
    # the book's mul node (5.3.2) with dout = 1.3: dx = 1.3 * y = 6.5, dy = 1.3 * x = 13
    nodes = [leaf("x", 10.0), leaf("y", 5.0), op("z", "mul", "x", "y")]
    result = gradient_check(build_graph(nodes, "z", Settings()), 1.3)
    assert by_node(result)["x"]["backprop"] == pytest.approx(6.5, rel=1e-12)
    assert by_node(result)["x"]["numerical"] == pytest.approx(6.5, rel=1e-9)
    assert by_node(result)["y"]["backprop"] == pytest.approx(13.0, rel=1e-12)
    assert result["ok"] is True


def test_gradcheck_with_nothing_to_check_is_not_ok():
    result = check([leaf("x", 1.0, requires_grad=False), op("y", "exp", "x")], "y")
    assert result["leaves"] == [] and result["checked"] == 0 and result["evaluations"] == 0
    assert result["ok"] is False and result["numerical_seconds_all"] == 0.0
    assert result["skipped"] == [
        {"node": "x", "label": "x", "reason": "data: requires_grad is false"}
    ]


# --- data is never perturbed -----------------------------------------------------------------

# t is a class index (2 of 3 classes) that also reaches the output through a sum, so backprop
# sends it a gradient: perturbing it by h = 1 made it 3, out of range (IndexError, a 500), and by
# h = 1e-4 moved the class (int(1.9999) = 1), a spurious failure.
CLASS_INDEX_WITH_GRADIENT = [
    leaf("x", [[0.3, 2.9, 4.0]]),
    leaf("t", [2]),
    op("loss", "softmax_with_loss", "x", "t"),
    op("st", "sum", "t"),
    op("out", "add", "loss", "st"),
]


def test_gradcheck_never_perturbs_a_class_index_that_receives_a_gradient(client):
    body = {**graph(CLASS_INDEX_WITH_GRADIENT, "out")}
    r = client.post("/api/gradcheck", json=body)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["ok"] is True and result["complete"] is True
    assert [leaf["node"] for leaf in result["leaves"]] == ["x"]
    (skipped,) = result["skipped"]
    assert skipped["node"] == "t"
    assert "input 't' of softmax_with_loss node 'loss'" in skipped["reason"]
    assert result["elements"] == 3 and result["evaluations"] == 6


def test_gradcheck_with_a_step_of_1_on_a_class_index_leaf_is_not_a_500(client):
    body = {**graph(CLASS_INDEX_WITH_GRADIENT, "out"), "h": 1}
    r = client.post("/api/gradcheck", json=body)
    assert r.status_code == 200, r.text
    result = r.json()
    assert [s["node"] for s in result["skipped"]] == ["t"]
    assert by_node(result)["x"]["checked"] == 3


def test_gradcheck_skips_what_flows_into_a_class_index():
    # t = k + 0: k is data too, through the add node
    nodes = [
        leaf("x", [[0.3, 2.9, 4.0]]),
        leaf("k", [1]),
        leaf("zero", [0]),
        op("t", "add", "k", "zero"),
        op("loss", "softmax_with_loss", "x", "t"),
        op("sk", "sum", "k"),
        op("out", "add", "loss", "sk"),
    ]
    result = check(nodes, "out")
    skipped = {s["node"]: s["reason"] for s in result["skipped"]}
    assert set(skipped) == {"k", "zero"}
    assert "input 't' of softmax_with_loss node 'loss'" in skipped["k"]
    assert result["ok"] is True and [leaf["node"] for leaf in result["leaves"]] == ["x"]


def test_gradcheck_skips_every_leaf_upstream_of_a_class_index_however_it_is_reached():
    # t = m + (k + k): the walk upstream from t meets k twice and must still reach m
    nodes = [
        leaf("x", [[0.3, 2.9, 4.0]]),
        leaf("k", [1]),
        leaf("m", [0]),
        op("kk", "add", "k", "k"),
        op("t", "add", "m", "kk"),
        op("loss", "softmax_with_loss", "x", "t"),
        op("sm", "sum", "m"),
        op("sk", "sum", "k"),
        op("o1", "add", "loss", "sm"),
        op("out", "add", "o1", "sk"),
    ]
    result = check(nodes, "out")
    assert {s["node"] for s in result["skipped"]} == {"k", "m"}
    assert result["ok"] is True and [leaf["node"] for leaf in result["leaves"]] == ["x"]


def test_gradcheck_lists_data_and_unreached_leaves_as_skipped_with_their_reason():
    nodes = [
        leaf("x", [[0.3, 2.9, 4.0]]),
        leaf("t", [[0.0, 0.0, 1.0]]),  # one-hot
        leaf("c", 2.0, requires_grad=False),
        leaf("unused", 5.0),
        op("loss", "softmax_with_loss", "x", "t"),
        op("out", "mul", "loss", "c"),
    ]
    result = check(nodes, "out")
    skipped = {s["node"]: s["reason"] for s in result["skipped"]}
    assert skipped == {
        "t": "data: it feeds input 't' of softmax_with_loss node 'loss', which is data "
        "(backprop sends it no gradient)",
        "c": "data: requires_grad is false",
        "unused": "no gradient: it does not lead to the output",
    }
    assert result["ok"] is True and result["checked"] == 3
    x = by_node(result)["x"]
    np.testing.assert_allclose(x["backprop"], x["numerical"], rtol=1e-6)
