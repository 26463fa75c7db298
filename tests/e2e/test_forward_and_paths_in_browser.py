"""Forward mode and the sum over paths on the page, in a real Chromium: the "Forward mode"
toggle and its "With respect to" picker (the output's tangent is the reverse-mode gradient,
the pass counter says 3 for apple and 39,760 for the book's net), the state in the link, the
paths of Olah's e = (a + b)(b + 1) with their products and sum highlighted on the graph, the
server's refusal of a tensor graph and of too many paths, and all of it by keyboard alone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

OUTPUT_EDGE = '#graph [data-edge="{output}->output"]'


def open_example(page: Page, example_id: str, extra: str = "") -> None:
    page.goto(f"/#example={example_id}{extra}")
    expect(page.locator("#graph")).to_have_attribute("data-example", example_id)


def forward_toggle(page: Page):
    return page.get_by_role("button", name="Forward mode", exact=True)


def output_tangent(page: Page, output: str = "price"):
    return page.locator(OUTPUT_EDGE.format(output=output) + " .edge-grad")


def edge_gradient(page: Page, edge_prefix: str):
    return page.locator(f'#graph [data-edge^="{edge_prefix}->"] .edge-grad')


def highlighted_edges(page: Page) -> set[str]:
    edges = page.locator("#graph .edge.highlighted")
    return {edges.nth(i).get_attribute("data-edge") for i in range(edges.count())}


def test_forward_mode_on_apple_gives_each_reverse_gradient_in_its_own_pass(page: Page):
    open_example(page, "apple", "&step=99")
    # Reverse mode first: the book's gradients on the inputs' edges, after one backward pass.
    reverse = {"apple": "2.2", "apple_num": "110", "tax": "200"}
    for leaf, gradient in reverse.items():
        expect(edge_gradient(page, leaf)).to_have_text(gradient)
    counter = page.locator("#forward-count")
    expect(counter).to_have_text(
        "Reverse mode: 1 backward pass gives all 3 gradients. "
        "Forward mode: 3 passes, one per input."
    )

    toggle = forward_toggle(page)
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#graph svg")).to_have_class(re.compile(r"\bforward-mode\b"))
    picker = page.get_by_label("With respect to", exact=True)
    for number, leaf in enumerate(("apple", "apple_num", "tax"), start=1):
        picker.select_option(leaf)
        expect(page).to_have_url(re.compile(rf"mode=forward&wrt={leaf}(&|$)"))
        page.keyboard.press("End")
        # The output's tangent d price / d leaf is the gradient reverse mode gave that leaf.
        expect(output_tangent(page)).to_have_text(reverse[leaf])
        expect(page.locator(OUTPUT_EDGE.format(output="price"))).to_have_class(
            re.compile(r"\btangent-known\b")
        )
        expect(page.locator("#forward-pass")).to_contain_text(f"pass {number} of 3, ∂price/∂{leaf}")
    # The seed: 1 on the chosen input's edge, 0 on the others.
    expect(edge_gradient(page, "tax")).to_have_text("1")
    expect(edge_gradient(page, "apple")).to_have_text("0")

    # The player steps through the tangent steps, each caption saying what it did.
    picker.select_option("apple")
    expect(output_tangent(page)).to_have_text("2.2")
    page.keyboard.press("Home")
    expect(output_tangent(page)).to_have_text("?")
    for _ in range(3):  # two forward steps, then the first tangent step
        page.keyboard.press("ArrowRight")
    caption = page.locator("#step-caption")
    expect(caption).to_have_text(
        "Forward mode through apple_price: ∂apple_price/∂apple = 2 × 1 = 2"
    )
    expect(output_tangent(page)).to_have_text("?")
    page.keyboard.press("ArrowRight")
    expect(caption).to_have_text("Forward mode through price: ∂price/∂apple = 1.1 × 2 = 2.2")
    expect(output_tangent(page)).to_have_text("2.2")
    expect(page.locator("#step-counter")).to_have_text("Step 4 / 4")

    # Off again: the reverse-mode gradient where the tangent was, in the link too.
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(edge_gradient(page, "apple")).to_have_text("2.2")
    expect(page.locator("#graph svg")).not_to_have_class(re.compile(r"\bforward-mode\b"))
    expect(page).not_to_have_url(re.compile(r"mode=forward"))


def test_forward_mode_survives_a_reload_a_new_example_and_back(page: Page):
    open_example(page, "apple", "&step=99")
    forward_toggle(page).click()
    page.get_by_label("With respect to", exact=True).select_option("apple_num")
    expect(output_tangent(page)).to_have_text("110")
    page.reload()
    expect(forward_toggle(page)).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_label("With respect to", exact=True)).to_have_value("apple_num")
    expect(output_tangent(page)).to_have_text("110")
    # Another example keeps forward mode, and the input when it has one of that id.
    page.locator("#example-select").select_option("apple_orange")
    expect(page.locator("#graph")).to_have_attribute("data-example", "apple_orange")
    page.keyboard.press("End")
    expect(output_tangent(page)).to_have_text("110")  # apple × tax
    expect(page.locator("#forward-count")).to_contain_text("5 passes, one per input")
    page.locator("#example-select").select_option("olah_fork")
    expect(page.locator("#graph")).to_have_attribute("data-example", "olah_fork")
    # olah_fork has no apple_num: its first input, a, is picked; de/da = 2.
    expect(page.get_by_label("With respect to", exact=True)).to_have_value("a")
    page.keyboard.press("End")
    expect(output_tangent(page, "e")).to_have_text("2")
    page.go_back()
    expect(page.locator("#graph")).to_have_attribute("data-example", "apple_orange")
    expect(forward_toggle(page)).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_label("With respect to", exact=True)).to_have_value("apple_num")


def test_the_book_net_needs_39760_forward_passes_and_a_tensor_input_takes_an_element(page: Page):
    open_example(page, "two_layer_net_book")
    expect(page.locator("#forward-count")).to_have_text(
        "Reverse mode: 1 backward pass gives all 39,760 numbers of the gradient. "
        "Forward mode: 39,760 passes, one per weight (each element of W1, b1, W2, b2)."
    )
    page.locator("#lang-select").select_option("ja")
    expect(page.locator("#forward-count")).to_contain_text("計 39,760 回の順伝播が必要です")
    expect(page.locator("#forward-count")).to_contain_text("1 回の逆伝播で勾配の 39,760 個の要素")

    # A tensor input: the picker asks for the element, and that one pass is traced.
    open_example(page, "affine", "&step=99")
    forward_toggle(page).click()
    page.get_by_label("With respect to", exact=True).select_option("W")
    row, column = page.get_by_label("Element index 0"), page.get_by_label("Element index 1")
    expect(row).to_have_value("0")
    column.fill("2")
    column.press("Enter")
    expect(page).to_have_url(re.compile(r"wrt=W&wrt_index=%5B0%2C2%5D"))
    # d Y / d W[0, 2] = X[0] in column 2 only (X = [1, 0.5]); pass 2 + 2 + 1 of 2 + 6 + 3.
    expect(output_tangent(page, "Y")).to_have_text("[0, 0, 1]")
    expect(page.locator("#forward-pass")).to_contain_text("pass 5 of 11, ∂Y/∂W[0,2]")
    column.fill("9")  # beyond the 3 columns: kept inside them
    column.press("Enter")
    expect(column).to_have_value("2")
    # By keyboard: the arrow keys step the element, and each step is traced.
    row.focus()
    page.keyboard.press("ArrowUp")
    expect(row).to_have_value("1")
    expect(page).to_have_url(re.compile(r"wrt_index=%5B1%2C2%5D"))
    expect(output_tangent(page, "Y")).to_have_text("[0, 0, 0.5]")  # X[1] = 0.5
    expect(page.locator("#forward-pass")).to_contain_text("pass 8 of 11, ∂Y/∂W[1,2]")


def test_paths_of_olahs_fork_add_up_to_the_gradient_and_are_highlighted(page: Page):
    open_example(page, "olah_fork", "&step=99")
    expect(page.locator('#graph [data-node="b"] .node-grad')).to_have_text("Σ 5")  # reverse mode
    toggle = page.get_by_role("button", name="Sum over paths", exact=True)
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    page.get_by_label("Path from", exact=True).select_option("b")
    expect(page.get_by_label("Path to", exact=True)).to_have_value("e")
    rows = page.locator("#paths-result .path-row")
    expect(rows).to_have_count(2)
    expect(rows.locator(".path-product")).to_have_text(["1 × 2 = 2", "1 × 3 = 3"])
    expect(rows.locator(".path-nodes")).to_have_text(["b → c → e", "b → d → e"])
    expect(page.locator("#paths-result .paths-sum")).to_have_text("sum = 5 = ∂e/∂b")
    both = {"b->c:1", "c->e:0", "b->d:0", "d->e:1"}
    expect(page.locator("#graph .edge.highlighted")).to_have_count(4)
    assert highlighted_edges(page) == both
    expect(page.locator('#graph [data-node="b"]')).to_have_class(re.compile(r"\bhighlighted\b"))
    expect(page.locator('#graph [data-node="a"]')).not_to_have_class(re.compile(r"\bhighlighted\b"))
    # One row pointed at: its path alone.
    rows.nth(1).hover()
    expect(page.locator("#graph .edge.highlighted")).to_have_count(2)
    assert highlighted_edges(page) == {"b->d:0", "d->e:1"}
    page.mouse.move(0, 0)
    expect(page.locator("#graph .edge.highlighted")).to_have_count(4)
    expect(page).to_have_url(re.compile(r"paths=1&from=b"))

    # From a to c: one path of one edge.
    page.get_by_label("Path from", exact=True).select_option("a")
    page.get_by_label("Path to", exact=True).select_option("c")
    expect(rows).to_have_count(1)
    expect(page.locator("#paths-result .paths-sum")).to_have_text("sum = 1 = ∂c/∂a")
    assert highlighted_edges(page) == {"a->c:0"}
    # A new value of b changes the locals: c = a + b = 2 + 3 = 5 at b = 3, so de/db = 5 + 4.
    page.get_by_label("Path from", exact=True).select_option("b")
    page.get_by_label("Path to", exact=True).select_option("e")
    page.get_by_label("b", exact=True).fill("3")
    page.get_by_label("b", exact=True).press("Enter")
    expect(rows.locator(".path-product")).to_have_text(["1 × 4 = 4", "1 × 5 = 5"])
    expect(page.locator("#paths-result .paths-sum")).to_have_text("sum = 9 = ∂e/∂b")

    toggle.click()
    expect(page.locator("#graph .edge.highlighted")).to_have_count(0)
    expect(page.locator("#paths-result")).to_be_hidden()


def test_paths_refuse_a_tensor_graph_and_too_many_paths_in_both_languages(
    page: Page, console_errors
):
    open_example(page, "relu", "&paths=1")
    error = page.locator("#paths-result .paths-error")
    expect(error).to_contain_text(
        "graph: node 'x' has shape [2, 2]; the sum over paths is for scalar graphs only"
    )
    expect(page.locator("#paths-result .path-row")).to_have_count(0)
    expect(page.locator("#graph .edge.highlighted")).to_have_count(0)
    page.locator("#lang-select").select_option("ja")
    expect(error).to_contain_text("経路の和はスカラーだけの計算グラフで求めます")
    expect(error).not_to_contain_text("scalar graphs only")

    # Ten doublings: 2^10 = 1,024 paths from x, more than the 1,000 listed.
    formula = "\n".join(["a0 = x + x", *[f"a{i} = a{i - 1} + a{i - 1}" for i in range(1, 10)]])
    page.locator("#expression-input").fill(formula)
    page.locator("#expression-trace").click()
    expect(page.locator("#graph")).to_have_attribute("data-expression", formula)
    expect(error).to_contain_text(
        "'x' から 'a9' への経路は 1,024 本あり、一覧にできる 1,000 本を超えています"
    )
    page.locator("#lang-select").select_option("en")
    expect(error).to_contain_text("there are 1,024 paths from 'x' to 'a9', more than the 1,000")
    console_errors.clear()  # the 422s, provoked on purpose


def tab_to(page: Page, locator, limit: int = 80) -> None:
    """Presses Tab until the locator has the focus (it must be reachable by Tab alone)."""
    for _ in range(limit):
        if locator.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"not reached by Tab in {limit} presses: {locator}")


def test_forward_mode_and_paths_work_by_keyboard_alone(page: Page):
    open_example(page, "olah_fork", "&step=99")
    toggle = forward_toggle(page)
    tab_to(page, toggle)
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    picker = page.get_by_label("With respect to", exact=True)
    page.keyboard.press("Tab")
    expect(picker).to_be_focused()
    expect(picker).to_have_value("a")
    expect(output_tangent(page, "e")).to_have_text("2")
    page.keyboard.press("ArrowDown")  # a -> b
    expect(picker).to_have_value("b")
    expect(output_tangent(page, "e")).to_have_text("5")
    expect(picker).to_be_focused()

    paths_toggle = page.get_by_role("button", name="Sum over paths", exact=True)
    tab_to(page, paths_toggle)
    page.keyboard.press("Enter")
    expect(paths_toggle).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Path from", exact=True)).to_be_focused()
    page.keyboard.press("ArrowDown")  # a -> b
    expect(page.get_by_label("Path from", exact=True)).to_have_value("b")
    rows = page.locator("#paths-result .path-row")
    expect(rows).to_have_count(2)
    tab_to(page, rows.nth(0))
    # The focused row's path alone, then the next one with the arrow key.
    expect(page.locator("#graph .edge.highlighted")).to_have_count(2)
    assert highlighted_edges(page) == {"b->c:1", "c->e:0"}
    page.keyboard.press("ArrowDown")
    expect(rows.nth(1)).to_be_focused()
    assert highlighted_edges(page) == {"b->d:0", "d->e:1"}
    page.keyboard.press("Enter")  # pinned: it stays when the focus leaves
    expect(rows.nth(1)).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("ArrowUp")
    expect(rows.nth(0)).to_be_focused()
    assert highlighted_edges(page) == {"b->c:1", "c->e:0"}
    page.keyboard.press("Tab")
    expect(page.locator("#graph .edge.highlighted")).to_have_count(2)
    assert highlighted_edges(page) == {"b->d:0", "d->e:1"}
