"""A formula's names and numbers: NFKC, one script, no look-alikes, plain text only, and
numbers beyond float64 called too large (backprop_viz.core.identifiers has the rules)."""

from __future__ import annotations

import pytest

from backprop_viz.formulas.parser import ExpressionError, parse_expression


def refused(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as raised:
        parse_expression(text)
    return raised.value


def test_parse_expression_fullwidth_name_is_folded_into_ascii_by_nfkc():
    parsed = parse_expression("ｘ * x + ｙ")
    assert parsed.variables == ["x", "y"]
    assert [n["id"] for n in parsed.nodes if n["op"] == "input"] == ["x", "y"]


def test_parse_expression_cyrillic_beside_latin_is_refused_at_its_column():
    error = refused("z = x * 2 + х")  # the last is Cyrillic х
    assert (error.line, error.column) == (1, 13)
    assert "'х' looks like 'x', another name here" in error.message
    assert "cyrillic small letter ha beside latin small letter x" in error.message


def test_parse_expression_latin_after_cyrillic_is_refused_too():
    error = refused("t = х + 1\nz = t * x")
    assert (error.line, error.column) == (2, 9)
    assert "'x' looks like 'х'" in error.message


def test_parse_expression_mixed_script_name_is_refused():
    error = refused("xх + 1")
    assert (error.line, error.column) == (1, 1)
    assert "the name 'xх' mixes Cyrillic and Latin letters" in error.message


def test_parse_expression_japanese_names_are_one_script_and_pass():
    parsed = parse_expression("値段 = りんご * 個数 * tax")
    assert parsed.variables == ["りんご", "個数", "tax"]
    assert parsed.output == "値段"


def test_parse_expression_cyrillic_only_names_pass():
    parsed = parse_expression("у = х * х")  # Cyrillic у and х, no Latin name beside them
    assert parsed.variables == ["х"]


@pytest.mark.parametrize(
    "text, line, column, described",
    [
        ("x + \ud800", 1, 5, "U+D800 (a lone surrogate, which is not a character)"),
        ("x + 1\ny \ud800 2", 2, 3, "U+D800 (a lone surrogate"),
        ("x + y\u202e", 1, 6, "U+202E RIGHT-TO-LEFT OVERRIDE (a bidirectional-override"),
        ("x\u2066 + 1", 1, 2, "U+2066 LEFT-TO-RIGHT ISOLATE"),
        ("x + \x00", 1, 5, "U+0000 (a control character)"),
        ("x +\x1b 1", 1, 4, "U+001B (a control character)"),
        ("x\u200b + 1", 1, 2, "U+200B ZERO WIDTH SPACE (an invisible formatting character)"),
    ],
)
def test_parse_expression_character_not_plain_text_is_named_at_line_and_column(
    text, line, column, described
):
    error = refused(text)
    assert (error.line, error.column) == (line, column)
    assert f"invalid character {described}" in error.message
    assert "nested too deeply" not in error.message
    error.message.encode("utf-8")  # the message names the character, never contains it


def test_parse_expression_tabs_and_windows_newlines_are_layout():
    parsed = parse_expression("t = x +\ty\r\nz = t * 2")
    assert parsed.output == "z"


@pytest.mark.parametrize(
    "text, column, shown",
    [
        ("x * 1e400", 5, "1e400"),
        ("x * -1e400", 6, "1e400"),
        ("x ** 1e400", 6, "1e400"),
        ("x + " + "7" * 1500, 5, "777777777777… (1500 characters)"),
        ("x + 0x" + "f" * 300, 5, "0xffffffffff… (302 characters)"),
    ],
)
def test_parse_expression_number_beyond_float64_is_too_large(text, column, shown):
    error = refused(text)
    assert (error.line, error.column) == (1, column)
    assert error.message.endswith(
        f"the number {shown} is too large for a 64-bit float (at most about 1.8e308)"
    )


def test_parse_expression_largest_integer_below_float64_max_is_a_number():
    big = 2**1023  # 308 digits, within float64 (it was refused past 1000 bits before)
    parsed = parse_expression(f"x + {big}")
    assert [n["value"] for n in parsed.nodes if n["id"].startswith("_c")] == [float(big)]
