"""One rule for names (backprop_viz.core.identifiers), applied to a graph's ids, labels and
values keys: NFKC, nothing invisible or reordering, one script, no look-alikes."""

from __future__ import annotations

import json

import pytest
from specs import leaf, op

from backprop_viz.core.graph import GraphError, build_graph, json_float, parse_value
from backprop_viz.core.identifiers import (
    Lookalikes,
    character_problem,
    script_problem,
    skeleton,
)
from backprop_viz.settings import Settings


def build(nodes, output, **overrides):
    return build_graph(nodes, output, Settings(), overrides=overrides or None)


def refused(nodes, output, overrides=None) -> GraphError:
    with pytest.raises(GraphError) as raised:
        build_graph(nodes, output, Settings(), overrides=overrides)
    error = raised.value
    for text in (error.message, error.field or "", error.node or ""):
        text.encode("utf-8")  # never a lone surrogate: the error is always valid text
    return error


# --- rule 2: no control, invisible or bidirectional-override character -----------------------


@pytest.mark.parametrize(
    "bad, described, escaped",
    [
        ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE (a bidirectional-override character)", "\\u202e"),
        ("\u2066", "U+2066 LEFT-TO-RIGHT ISOLATE (a bidirectional-override character)", "\\u2066"),
        ("\u200f", "U+200F RIGHT-TO-LEFT MARK (a bidirectional-override character)", "\\u200f"),
        ("\x07", "U+0007 (a control character)", "\\x07"),
        ("\x85", "U+0085 (a control character)", "\\x85"),  # C1
        ("\x7f", "U+007F (a control character)", "\\x7f"),
        ("\u200b", "U+200B ZERO WIDTH SPACE (an invisible formatting character)", "\\u200b"),
        ("\ud800", "U+D800 (a lone surrogate, which is not a character)", "\\ud800"),
    ],
)
def test_build_graph_id_with_unsafe_character_is_refused_naming_it(bad, described, escaped):
    node_id = f"ab{bad}c"
    error = refused([leaf(node_id, 1.0), op("y", "neg", node_id)], "y")
    assert error.field == "graph.nodes[0].id"
    assert f"contains {described} at position 3" in error.message
    assert "ids may not contain control, invisible or bidirectional-override" in error.message
    assert error.node == f"ab{escaped}c"


def test_build_graph_label_with_bidi_override_is_refused_naming_node():
    error = refused([leaf("x", 1.0, label="price\u202egnp.exe")], "x")
    assert error.field == "graph.nodes[0].label"
    assert error.node == "x"
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in error.message


def test_build_graph_label_in_japanese_and_joiners_pass():
    graph = build([leaf("x", 1.0, label="りんごの値段"), leaf("w", 2.0, label="क्\u200dष")], "x")
    assert graph.nodes["x"].label == "りんごの値段"


def test_build_graph_values_key_with_lone_surrogate_is_refused():
    error = refused([leaf("x", 1.0), op("y", "neg", "x")], "y", {"x\ud800": 2.0})
    assert error.field == "values"
    assert error.node == "x\\ud800"
    assert "U+D800 (a lone surrogate" in error.message


def test_graph_error_escapes_what_a_client_sent_wherever_it_comes_from():
    error = GraphError("values.\ud800: no", field="values.\ud800", node="\u202ex")
    assert error.message == "values.\\ud800: no"
    assert error.field == "values.\\ud800"
    assert error.node == "\\u202ex"


# --- rule 1: NFKC ---------------------------------------------------------------------------


@pytest.mark.parametrize("node_id, normal", [("ｘ", "x"), ("x²", "x2"), ("ﾘﾝｺﾞ", "リンゴ")])
def test_build_graph_id_not_in_nfkc_form_is_refused_with_its_normal_form(node_id, normal):
    error = refused([leaf(node_id, 1.0), op("y", "neg", node_id)], "y")
    assert error.field == "graph.nodes[0].id" and error.node == node_id
    assert "not in NFKC normal form" in error.message
    assert f"(it would be {normal!r})" in error.message


def test_build_graph_japanese_ids_pass():
    graph = build(
        [leaf("りんご", 100.0), leaf("個数", 2.0), op("値段", "mul", "りんご", "個数")], "値段"
    )
    assert graph.order == ["りんご", "個数", "値段"]


# --- rule 3: one script ---------------------------------------------------------------------


def test_build_graph_id_mixing_latin_and_cyrillic_is_refused():
    error = refused([leaf("xх", 1.0), op("y", "neg", "xх")], "y")  # Latin x, Cyrillic х
    assert error.field == "graph.nodes[0].id" and error.node == "xх"
    assert "mixes Cyrillic and Latin letters" in error.message


@pytest.mark.parametrize(
    "name", ["重みw1", "りんごのprice", "x", "가격w", "値段ー", "αβ_2", "价格ㄅw"]
)
def test_script_problem_allows_one_script_and_latin_with_cjk(name):
    assert script_problem(name) is None


@pytest.mark.parametrize(
    "name, scripts", [("w_α", "Greek and Latin"), ("りんごα", "Greek and Hiragana")]
)
def test_script_problem_refuses_other_mixes(name, scripts):
    assert f"mixes {scripts} letters" in script_problem(name)


# --- rule 4: no look-alikes -----------------------------------------------------------------


def test_build_graph_cyrillic_id_beside_latin_is_refused():
    nodes = [leaf("x", 1.0), leaf("х", 2.0), op("y", "add", "x", "х")]  # Latin, then Cyrillic
    error = refused(nodes, "y")
    assert error.field == "graph.nodes[1].id" and error.node == "х"
    assert "'х' looks like 'x', another name here" in error.message
    assert "cyrillic small letter ha beside latin small letter x" in error.message


def test_build_graph_latin_id_after_cyrillic_is_refused_too():
    nodes = [leaf("х", 1.0), leaf("x", 2.0), op("y", "add", "х", "x")]  # Cyrillic, then Latin
    error = refused(nodes, "y")
    assert error.field == "graph.nodes[1].id" and error.node == "x"
    assert "'x' looks like 'х', another name here" in error.message


def test_build_graph_id_half_cyrillic_is_refused_as_mixed():
    nodes = [leaf("аpple", 1.0), op("y", "neg", "аpple")]  # its first a is Cyrillic
    error = refused(nodes, "y")
    assert error.field == "graph.nodes[0].id"
    assert "mixes Cyrillic and Latin letters" in error.message


def test_build_graph_ascii_ids_that_look_alike_pass():
    graph = build([leaf("l1", 1.0), leaf("ll", 2.0), op("y", "add", "l1", "ll")], "y")
    assert set(graph.nodes) == {"l1", "ll", "y"}


def test_lookalikes_compares_ascii_names_seen_before_the_first_non_ascii_one():
    names = Lookalikes()
    assert names.add("p") is None and names.add("y") is None
    assert names.add("ρ") == "p"  # Greek rho reads as p
    assert names.add("y") is None  # the same name again is not a look-alike of itself
    assert skeleton("х") == "x" and skeleton("ｘ") == "x" and skeleton("重み") == "重み"


def test_character_problem_none_for_plain_text():
    assert character_problem("apple_price") is None
    assert character_problem("重み w") is None


# --- numbers beyond float64 -----------------------------------------------------------------


def test_parse_value_1500_digit_integer_is_too_large_for_a_64_bit_float():
    with pytest.raises(GraphError) as raised:
        parse_value(int("1" * 1500), field="values.x", node="x")
    assert raised.value.message == (
        "values.x (node 'x'): a number is too large for a 64-bit float (at most about 1.8e308)"
    )


@pytest.mark.parametrize("body", ["1e400", "[1, -1e400]", "[[2, 3], [1e999, 4]]"])
def test_parse_value_overflowing_json_literal_kept_by_json_float_is_too_large(body):
    raw = json.loads(body, parse_float=json_float)
    with pytest.raises(GraphError) as raised:
        parse_value(raw, field="graph.nodes[0].value", node="x")
    assert "is too large for a 64-bit float" in raised.value.message
    assert raised.value.field == "graph.nodes[0].value" and raised.value.node == "x"


def test_json_float_keeps_ordinary_floats_exact():
    assert json.loads("[1.5, 1e308, -2.5e-300]", parse_float=json_float) == [
        1.5,
        1e308,
        -2.5e-300,
    ]
