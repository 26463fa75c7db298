"""The page in a lecture, in a real Chromium: switching between nets of another size, the
keyboard (skip link, player keys after the picker), the back button, the gradient check's
numbers, the inspector's lines, a figure's constants, edits while a graph is replaced, typed
numbers from a Japanese input method, Japanese error messages and the chapter's order."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Route, expect

pytestmark = pytest.mark.e2e


def pick_example(page: Page, example_id: str) -> None:
    page.locator("#example-select").select_option(example_id)
    expect(page.locator("#graph")).to_have_attribute("data-example", example_id)


def expect_step(page: Page, step: int) -> None:
    expect(page.locator("#step-counter")).to_have_text(re.compile(rf"(Step|ステップ) {step} /"))


def test_switching_to_the_book_size_net_rebuilds_the_inputs(page: Page):
    page.goto("/#example=two_layer_net")
    expect(page.get_by_label("x[0,0]", exact=True)).to_be_visible()
    pick_example(page, "two_layer_net_book")
    row = page.locator('#inputs-panel [data-leaf="x"]')
    expect(row).to_contain_text("784")
    expect(page.get_by_label("x[0,0]", exact=True)).to_have_count(0)
    # And back: the small net's grid of fields again, b2 with no NaN cells.
    pick_example(page, "two_layer_net")
    expect(page.get_by_label("x[0,0]", exact=True)).to_be_visible()
    expect(page.get_by_label("b2[0]", exact=True)).to_have_value("0")
    expect(page.locator("#inputs-panel")).not_to_contain_text("NaN")


def test_skip_link_keeps_the_state(page: Page):
    page.goto("/#example=apple_orange&lang=ja&step=3")
    expect_step(page, 3)
    page.keyboard.press("Tab")
    expect(page.locator("#skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#graph-area")).to_be_focused()
    page.wait_for_timeout(300)  # a reload would have started by now
    expect(page.locator("#graph")).to_have_attribute("data-example", "apple_orange")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect_step(page, 3)
    expect(page).to_have_url(re.compile(r"example=apple_orange"))


def test_player_keys_work_after_the_picker_and_the_raw_box(page: Page):
    page.goto("/#example=apple")
    expect(page.locator("#graph")).to_have_attribute("data-example", "apple")
    select = page.locator("#example-select")
    select.focus()
    select.select_option("apple_orange")
    expect(page.locator("#graph")).to_have_attribute("data-example", "apple_orange")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect_step(page, 2)
    expect(page.locator("#graph")).to_have_attribute("data-example", "apple_orange")
    page.keyboard.press("Space")  # plays
    expect(page.locator("#step-counter")).not_to_have_text(re.compile(r"\b2 /"), timeout=5000)
    page.keyboard.press("Space")  # pauses
    raw = page.locator("#raw-toggle")
    raw.click()
    expect(raw).to_be_focused()
    page.keyboard.press("Home")
    expect_step(page, 0)
    page.keyboard.press("ArrowRight")
    expect_step(page, 1)


def test_back_button_returns_to_the_example_before(page: Page):
    page.goto("/#example=apple&step=2")
    expect(page.locator("#graph")).to_have_attribute("data-example", "apple")
    pick_example(page, "relu")
    page.go_back()
    expect(page.locator("#graph")).to_have_attribute("data-example", "apple")
    expect(page.locator("#example-select")).to_have_value("apple")
    expect_step(page, 2)
    assert page.url.endswith("#example=apple&step=2")
    page.go_forward()
    expect(page.locator("#graph")).to_have_attribute("data-example", "relu")


def test_typing_into_the_old_example_while_a_new_one_loads_is_dropped(page: Page):
    page.goto("/#example=apple")
    apple = page.get_by_label("apple", exact=True)
    expect(apple).to_have_value("100")
    held: list[Route] = []
    page.route("**/api/trace", lambda route: held.append(route))
    page.locator("#example-select").select_option("relu")
    page.wait_for_timeout(100)
    apple.fill("150")
    apple.press("Enter")
    page.wait_for_timeout(200)
    page.route("**/api/trace", lambda route: route.continue_())
    for route in held:
        route.continue_()
    expect(page.locator("#graph")).to_have_attribute("data-example", "relu")
    page.wait_for_timeout(400)
    expect(page.locator("#message")).to_be_hidden()
    expect(page.locator("#inputs-panel")).not_to_contain_text("no node")


def test_gradient_check_rounds_its_numbers_unless_raw(page: Page):
    page.goto("/#example=apple")
    expect(page.locator("#graph")).to_have_attribute("data-example", "apple")
    page.get_by_role("button", name="Gradient check", exact=True).click()
    apple_num = page.locator('.gc-table tr[data-leaf="apple_num"]')
    # backprop's 110.00000000000001 is the book's 110 with rounding on; the full repr in its tooltip
    expect(apple_num.locator("td").nth(1)).to_have_text("110", timeout=15_000)
    expect(apple_num.locator("td").nth(1)).to_have_attribute("title", "110.00000000000001")
    expect(apple_num.locator("td").nth(2)).to_have_text("110")
    expect(page.locator(".gc-timing")).not_to_contain_text("0000000")
    page.locator("#raw-toggle").check()
    expect(apple_num.locator("td").nth(1)).to_have_text("110.00000000000001")


def test_a_figures_constants_are_not_editable(page: Page):
    page.goto("/#example=sigmoid_steps")
    expect(page.locator("#graph")).to_have_attribute("data-example", "sigmoid_steps")
    expect(page.locator('#inputs-panel [data-leaf="x"]')).to_be_visible()
    # The −1 and the 1 of figure 5-19 are labelled by their values: no field changes them.
    expect(page.locator('#inputs-panel [data-leaf="minus_one"]')).to_have_count(0)
    expect(page.locator('#inputs-panel [data-leaf="one"]')).to_have_count(0)
    expect(page.locator('#graph [data-edge^="minus_one->"] .editable')).to_have_count(0)
    expect(page.locator('#graph [data-edge^="x->"] .editable')).to_have_count(1)


def test_full_width_digits_are_numbers_and_reset_brings_back_the_book(page: Page):
    page.goto("/#example=apple&step=99")
    output = page.locator('#graph [data-edge="price->output"] .edge-value')
    expect(output).to_have_text("220")
    apple = page.get_by_label("apple", exact=True)
    apple.fill("１２０")  # a Japanese input method's full-width digits
    apple.press("Enter")
    expect(output).to_have_text("264")
    apple.fill("1e999")
    apple.press("Enter")
    expect(page.locator('#inputs-panel [data-leaf="apple"] .input-error')).to_have_text(
        "Too large for a float64 number: 1e999"
    )
    page.get_by_role("button", name="Reset", exact=True).click()
    expect(output).to_have_text("220")
    expect(apple).to_have_value("100")
    expect(page.locator('#inputs-panel [data-leaf="apple"] .input-error')).to_be_hidden()
    expect(page).not_to_have_url(re.compile(r"values="))


def test_formula_and_server_errors_in_japanese(page: Page, console_errors):
    page.goto("/#example=apple&lang=ja")
    expect(page.locator("#graph")).to_have_attribute("data-example", "apple")
    page.locator("#expression-input").fill("(x + y")
    page.locator("#expression-trace").click()
    error = page.locator("#expression-error")
    expect(error).to_contain_text("構文エラー：「(」が閉じられていません")
    expect(error).not_to_contain_text("was never closed")
    console_errors.clear()  # the 422 of the broken formula, provoked on purpose


def test_the_picker_follows_the_chapters_order(page: Page):
    page.goto("/#example=apple")
    expect(page.locator("#graph")).to_have_attribute("data-example", "apple")
    groups = page.locator("#example-select optgroup")
    labels = [groups.nth(i).get_attribute("label") for i in range(groups.count())]
    assert labels[:5] == [
        "5.2 The chain rule",
        "5.3 Backward propagation",
        "5.4 Simple layers",
        "5.5 Activation function layers",
        "5.6 Affine and Softmax layers",
    ]
    sections = page.locator("#example-select option").all_text_contents()
    numbers = [tuple(int(p) for p in text.split(" ")[0].split(".")) for text in sections]
    assert numbers == sorted(numbers)


SMALLEST_LABEL_PX = """() => Math.min(...[...document.querySelectorAll('#graph svg .edge-value')]
    .map((t) => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a))"""

CLIPPED_FIELDS = """() => [...document.querySelectorAll('#inputs-panel input[type=text]')]
    .filter((i) => i.scrollWidth > i.clientWidth + 1).map((i) => i.getAttribute('aria-label'))"""


@pytest.mark.parametrize("example", ["affine", "two_layer_net"])
def test_on_a_1024_projector_labels_are_readable_and_fields_show_their_numbers(page: Page, example):
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"/#example={example}&step=99")
    expect(page.locator("#graph")).to_have_attribute("data-example", example)
    expect(page.locator("#graph svg")).to_be_visible()
    page.wait_for_timeout(300)  # the fit after the layout settles
    assert page.evaluate(SMALLEST_LABEL_PX) >= 12
    # Numbers as the book's, with four decimals: no field cuts them.
    page.get_by_label("W[0,0]" if example == "affine" else "W1[0,0]", exact=True).fill("-1.2039")
    page.get_by_label("B[0]" if example == "affine" else "b1[0]", exact=True).fill("0.00500")
    assert page.evaluate(CLIPPED_FIELDS) == []
    # No panel wider than the page (the b2 grid, the gradient check's table).
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1024


def test_the_upstream_gradient_is_editable_and_reset(page: Page):
    page.goto("/#example=apple&step=99")
    upstream = page.get_by_label("Upstream gradient", exact=True)
    expect(upstream).to_have_value("1")
    upstream.fill("1.3")  # as in the book's figures
    upstream.press("Enter")
    expect(page.locator('#graph [data-edge="price->output"] .edge-grad')).to_have_text("1.3")
    apple_grad = page.locator('#graph [data-edge="apple->apple_price:0"] .edge-grad')
    expect(apple_grad).to_have_text("2.86")
    expect(page).to_have_url(re.compile(r"dout=1\.3"))
    page.get_by_role("button", name="Reset", exact=True).click()
    expect(page.locator('#graph [data-edge="apple->apple_price:0"] .edge-grad')).to_have_text("2.2")
    expect(upstream).to_have_value("1")


def test_the_relu_inspector_shows_the_books_mask(page: Page):
    page.goto("/#example=relu&step=1")
    expect(page.locator("#graph")).to_have_attribute("data-example", "relu")
    expect(page.locator("#inspector .relu-mask")).to_have_text(
        "mask = (x <= 0) = [[False, True], [True, False]]: "
        "where it is True, backward sets dout to 0"
    )
