"""Practice mode in a real Chromium: with the switch on, a gradient stays hidden until the
learner predicts it (no 2.2 anywhere on the apple page before the answer), a wrong answer gets
the book's rule as a hint, a right one is shown and counted, a tensor edge asks its shape and
then one element, an edit asks again only what it changed, the keyboard does everything, and
no request ever carries the score. Screenshots in English, Japanese and on a phone go to
tests/e2e/artifacts/practice-*.png."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# The number 2.2 as a token: not the 2.2 inside 5.2.2 or 12.25.
TWO_POINT_TWO = re.compile(r"(?<![\d.])2\.2(?![\d])")


def open_example(page: Page, example: str, extra: str = "") -> None:
    page.goto(f"/#example={example}{extra}")
    expect(page.locator("#graph")).to_have_attribute("data-example", example)
    expect(page.locator("#graph svg")).to_be_visible()


def practice_on(page: Page) -> None:
    page.get_by_role("checkbox", name="Practice").check()
    expect(page.locator("#practice-panel")).to_be_visible()


def edge_grad(page: Page, edge: str):
    return page.locator(f'#graph [data-edge="{edge}"] .edge-grad')


def answer(page: Page, text: str) -> None:
    field = page.get_by_label("Your gradient", exact=True)
    expect(field).to_be_focused()
    field.fill(text)
    field.press("Enter")


def expect_step(page: Page, step: int) -> None:
    expect(page.locator("#step-counter")).to_have_text(re.compile(rf"(Step|ステップ) {step} /"))


def visible_text(page: Page) -> str:
    return page.locator("body").inner_text()


def test_practice_hides_2_2_until_answered_then_shows_and_counts_it(page: Page):
    open_example(page, "apple")
    practice_on(page)
    page.locator("#graph-area").focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect_step(page, 3)
    prompt = page.locator("#practice-prompt")
    expect(prompt).to_contain_text("Backward through price (×)")
    expect(prompt).to_contain_text("∂L/∂apple_price = ?")
    # The two gradients of price's backward step stay "?" on the graph, in the inspector too.
    expect(edge_grad(page, "apple_price->price:0")).to_have_text("?")
    expect(edge_grad(page, "tax->price:1")).to_have_text("?")
    expect(page.locator("#inspector")).to_contain_text("dx = dout × y = ?")
    assert not TWO_POINT_TWO.search(visible_text(page))
    answer(page, "1.1")
    answer(page, "200")
    # Both right: practice moves on to apple_price's backward step, where 2.2 is asked.
    expect_step(page, 4)
    # The answered dout is printed in the caption, the unanswered gradient it sends is not.
    expect(page.locator("#step-caption")).to_contain_text("the upstream value 1.1")
    expect(page.locator("#step-caption")).to_contain_text("apple gets 1.1 × 2 = ?")
    expect(edge_grad(page, "apple->apple_price:0")).to_have_text("?")
    expect(page.locator("#practice-score")).to_have_text("2 of 2 right, first try")
    assert not TWO_POINT_TWO.search(visible_text(page))
    assert "2.2" not in page.locator("#graph").text_content()
    assert "2.2" not in page.locator("#inspector").text_content()

    answer(page, "1.1")
    feedback = page.locator("#practice-feedback")
    expect(feedback).to_have_text("Not quite: 1.1 is not ∂L/∂apple.")
    hints = page.locator("#practice-hints")
    expect(hints).to_contain_text("The multiply node sends dout times the other input")
    expect(hints).to_contain_text("∂L/∂apple = dout × apple_num")
    assert not TWO_POINT_TWO.search(visible_text(page))

    answer(page, "2.2")
    expect(feedback).to_have_text("Right: ∂L/∂apple = 2.2.")
    expect(edge_grad(page, "apple->apple_price:0")).to_have_text("2.2")
    expect(hints).to_be_hidden()
    expect(page.locator("#practice-score")).to_have_text("2 of 3 right, first try")
    answer(page, "110")
    summary = page.locator("#practice-summary")
    expect(summary).to_contain_text("Done: all 4 gradients of this graph")
    expect(summary).to_contain_text("3 of 4 answers right on the first try.")
    expect(summary.locator(".practice-result").nth(2)).to_contain_text("∂L/∂apple = 2.2")
    expect(summary.locator(".practice-result").nth(2)).to_contain_text("right after 1 wrong")
    expect(summary).to_be_focused()
    # Answered, the preset's description (which names the gradients) comes back.
    expect(page.locator("#example-description")).to_contain_text("d apple = 2.2")


def test_practice_by_keyboard_alone(page: Page):
    open_example(page, "apple")
    switch = page.get_by_role("checkbox", name="Practice")
    switch.focus()
    page.keyboard.press("Space")
    expect(switch).to_be_checked()
    # The checkbox leaves the arrows to the player.
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect_step(page, 3)
    field = page.get_by_label("Your gradient", exact=True)
    expect(field).to_be_focused()
    # While typing, the arrows move the caret, not the player.
    page.keyboard.type("12")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Home")
    page.keyboard.press("Space")
    expect_step(page, 3)
    page.keyboard.press("Enter")
    expect(page.locator("#practice-feedback")).to_contain_text("Not quite")
    expect(page.get_by_role("button", name="Reveal", exact=True)).to_be_hidden()
    field.fill("13")
    page.keyboard.press("Enter")
    expect(page.locator("#practice-feedback")).to_contain_text("is not ∂L/∂apple_price either")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Check", exact=True)).to_be_focused()
    page.keyboard.press("Tab")
    reveal = page.get_by_role("button", name="Reveal", exact=True)
    expect(reveal).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#practice-feedback")).to_have_text("Revealed: ∂L/∂apple_price = 1.1.")
    expect(edge_grad(page, "apple_price->price:0")).to_have_text("1.1")
    # The next question (tax) takes the focus; Escape gives the keys back to the player.
    expect(page.locator("#practice-prompt")).to_contain_text("∂L/∂tax = ?")
    expect(field).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#graph-area")).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect_step(page, 2)
    expect(page.locator("#practice-prompt")).to_contain_text("Step forward")
    expect(edge_grad(page, "apple_price->price:0")).to_have_text("?")  # not computed at step 2
    page.keyboard.press("ArrowRight")
    expect_step(page, 3)
    # The answer given survives the step back and forth; the one not given is asked.
    expect(edge_grad(page, "apple_price->price:0")).to_have_text("1.1")
    expect(edge_grad(page, "tax->price:1")).to_have_text("?")
    expect(field).to_be_focused()
    page.keyboard.type("200")
    page.keyboard.press("Enter")
    expect(page.locator("#practice-score")).to_have_text("1 of 2 right, first try")


def test_playing_stops_at_the_first_question(page: Page):
    open_example(page, "apple", "&speed=4")
    practice_on(page)
    expect(page.locator("#practice-prompt")).to_contain_text("from step 3")
    page.get_by_role("button", name="Play", exact=True).click()
    expect_step(page, 3)
    expect(page.get_by_label("Your gradient", exact=True)).to_be_focused()
    page.wait_for_timeout(800)  # three steps' time at 4x: still paused at the question
    expect_step(page, 3)
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()


def test_practice_in_japanese_with_full_width_digits(page: Page):
    open_example(page, "apple", "&lang=ja")
    switch = page.get_by_role("checkbox", name="Practice")
    expect(page.locator(".practice-switch")).to_contain_text("練習")
    switch.check()
    page.locator("#graph-area").focus()
    page.keyboard.press("End")
    # Past price's step: its gradients are still asked first.
    expect_step(page, 4)
    expect(page.locator("#practice-prompt")).to_contain_text(
        "price（×）の逆伝播：apple_price へ流れる勾配は？"
    )
    answer(page, "１．１")
    answer(page, "２００")
    answer(page, "110")
    expect(page.locator("#practice-feedback")).to_have_text(
        "違います：110 は ∂L/∂apple ではありません。"
    )
    expect(page.locator("#practice-hints")).to_contain_text(
        "乗算ノードの逆伝播は、上流の値（dout）に、順伝播のときの入力信号を「ひっくり返した」値を掛けます"
    )
    answer(page, "２．２")
    expect(page.locator("#practice-feedback")).to_have_text("正解：∂L/∂apple = 2.2")
    expect(edge_grad(page, "apple->apple_price:0")).to_have_text("2.2")
    expect(page.locator("#practice-score")).to_have_text("3 問中 2 問を一度で正解")


def test_a_tensor_edge_asks_its_shape_then_one_element(page: Page, server_url):
    trace = httpx.post(f"{server_url}/api/trace", json={"example": "affine"}).json()
    backward = [step for step in trace["steps"] if step["phase"] == "backward"]
    grads = {e["edge"]: e["grad"] for step in backward for e in step["edges"]}
    open_example(page, "affine", "&step=99")
    practice_on(page)
    expect_step(page, 3)  # back to the first question, Y's backward step
    prompt = page.locator("#practice-prompt")
    expect(prompt).to_contain_text("∂L/∂X_dot_W is a tensor. First, its shape?")
    answer(page, "(3, 1)")
    hints = page.locator("#practice-hints")
    expect(hints).to_contain_text("A gradient has the shape of the value it belongs to")
    answer(page, "(3,)")
    feedback = page.locator("#practice-feedback")
    expect(feedback).to_have_text("Right: ∂L/∂X_dot_W has the shape (3,).")
    expect(prompt).to_contain_text("∂L/∂X_dot_W has the shape (3,). Now its element")
    for edge in ["X_dot_W->Y:0", "B->Y:1"]:
        if edge == "B->Y:1":
            answer(page, "3")  # B's shape, typed without parentheses
        index = asked_index(prompt)
        answer(page, str(element(grads[edge], index)))
    # The dot node's backward: X's shape, then an element by dX = dY · Wᵀ.
    expect_step(page, 4)
    answer(page, "(2,)")
    index = asked_index(prompt)
    answer(page, "5")
    expect(hints).to_contain_text("Affine: dX = dY · Wᵀ")
    expect(hints).to_contain_text(f"Σₖ dout[k] · W[{index[0]}, k]")
    answer(page, str(element(grads["X->X_dot_W:0"], index)))
    expect(edge_grad(page, "X->X_dot_W:0")).to_have_text("[0.9, 1.2]")
    # W: the shape, then two wrong elements and Reveal shows the server's number.
    answer(page, "(2, 3)")
    index = asked_index(prompt)
    answer(page, "7")
    answer(page, "8")
    page.get_by_role("button", name="Reveal", exact=True).click()
    value = element(grads["W->X_dot_W:1"], index)
    expect(page.locator("#practice-feedback")).to_have_text(
        f"Revealed: ∂L/∂W[{index[0]}, {index[1]}] = {value:g}."
    )
    # Right first time: X_dot_W's element, B's shape and element, X's shape, W's shape.
    expect(page.locator("#practice-score")).to_have_text("5 of 8 right, first try")
    expect(page.locator("#practice-summary")).to_contain_text("Done: all 4 gradients of this graph")


def asked_index(prompt) -> list[int]:
    """The index of the element the prompt asks for: "element [0, 1]" -> [0, 1]."""
    expect(prompt).to_contain_text("Now its element")
    found = re.search(r"element \[([\d, ]+)\]", prompt.inner_text())
    return [int(i) for i in found.group(1).split(",")]


def element(value, index):
    for i in index:
        value = value[i]
    return value


def test_an_edit_asks_again_only_what_it_changed_and_no_request_carries_the_score(page: Page):
    sent: list[str] = []
    page.on("request", lambda request: sent.append(f"{request.url}\n{request.post_data or ''}"))
    open_example(page, "apple", "&step=4")
    practice_on(page)
    for text in ["1.1", "7.125", "200", "2.2", "110"]:
        answer(page, text)
    expect(page.locator("#practice-score")).to_have_text("3 of 4 right, first try")
    apple = page.get_by_label("apple", exact=True)
    apple.fill("150")
    apple.press("Enter")
    expect(page.locator("#practice-feedback")).to_have_text(
        "The values changed: 2 gradients are asked again with the new numbers."
    )
    # d apple is still 2.2 (shown); d tax and d apple_num changed (asked again, hidden).
    expect(edge_grad(page, "apple->apple_price:0")).to_have_text("2.2")
    expect(edge_grad(page, "tax->price:1")).to_have_text("?")
    expect(edge_grad(page, "apple_num->apple_price:1")).to_have_text("?")
    expect(page.locator("#practice-prompt")).to_contain_text("∂L/∂tax = ?")
    expect(apple).to_be_focused()  # the edit's field keeps the focus
    expect(page.locator("#practice-score")).to_have_text("3 of 4 right, first try")
    # While practising, the gradient check would show every gradient: it waits.
    page.get_by_role("button", name="Gradient check", exact=True).click()
    expect(page.locator("#gradcheck-status")).to_contain_text("Practice is on")
    expect(page.locator("#gradcheck-result")).to_be_empty()
    page.get_by_label("Your gradient", exact=True).fill("300")
    page.get_by_label("Your gradient", exact=True).press("Enter")
    expect(page.locator("#practice-score")).to_have_text("4 of 5 right, first try")
    # The score and the answers stayed in the page: in no request, and not in the link.
    assert any("/api/trace" in s and "150" in s for s in sent)
    for text in [s for s in sent if "/api/" in s]:
        assert "7.125" not in text
        assert "score" not in text.lower()
        assert "practice" not in text.lower()
        assert "of 4 right" not in text
    assert "7.125" not in page.url and "practice" not in page.url


def test_a_formula_hides_sympys_derivative_and_asks_the_sum_at_its_fork(page: Page):
    open_example(page, "apple")
    page.locator("#expression-input").fill("x * y + x")
    page.locator("#expression-trace").click()
    expect(page.locator("#graph")).to_have_attribute("data-expression", "x * y + x")
    practice_on(page)
    page.locator("#graph-area").focus()
    page.keyboard.press("End")
    # The inspector follows the last step: the sum at x's fork.
    table = page.locator("#inspector .symbolic-table")
    expect(table).to_be_visible()
    expect(table).not_to_contain_text("y + 1")  # sympy's ∂f/∂x would give the answer away
    expect(table.locator('tr[data-variable="x"] td').nth(2)).to_have_text("?")
    for text in ["1", "1", "1", "1"]:
        answer(page, text)
    prompt = page.locator("#practice-prompt")
    expect(prompt).to_contain_text("x feeds 2 nodes")
    expect(page.locator('#graph [data-node="x"] .node-grad')).to_have_text("Σ ?")
    answer(page, "1")
    fork_hint = "At a fork the gradients add up (the chain rule)"
    expect(page.locator("#practice-hints")).to_contain_text(fork_hint)
    answer(page, "2")
    expect(page.locator('#graph [data-node="x"] .node-grad')).to_have_text("Σ 2")
    expect(table).to_contain_text("y + 1")
    expect(table.locator('tr[data-variable="x"] td').nth(2)).to_have_text("2")


def test_every_preset_hides_its_gradients_and_asks_the_first(page: Page, server_url):
    examples = [e["id"] for e in httpx.get(f"{server_url}/api/examples").json()]
    assert "apple" in examples and "two_layer_net_book" in examples
    for example in examples:
        open_example(page, example, "&step=999")
        page.get_by_role("checkbox", name="Practice").check()
        expect(page.locator("#practice-prompt")).to_contain_text(re.compile(r"= \?|its shape\?"))
        expect(page.get_by_label("Your gradient", exact=True)).to_be_focused()
        page.locator("#graph-area").focus()
        page.keyboard.press("End")
        # At the end no gradient but the output's own dout is written out on an edge.
        shown = page.evaluate(
            """() => [...document.querySelectorAll('#graph .edge')]
                .filter((e) => !e.dataset.edge.endsWith('->output'))
                .map((e) => e.querySelector('.edge-grad').textContent)
                .filter((text) => !['', '?', '—'].includes(text))"""
        )
        assert shown == [], (example, shown)
        page.get_by_role("checkbox", name="Practice").uncheck()


SCREENSHOTS = [
    ("practice-en-1280.png", {"width": 1280, "height": 800}, ""),
    ("practice-ja-1280.png", {"width": 1280, "height": 800}, "&lang=ja"),
    ("practice-phone-390.png", {"width": 390, "height": 844}, "&lang=ja"),
]


@pytest.mark.parametrize(
    ("name", "viewport", "extra"), SCREENSHOTS, ids=[n for n, _, _ in SCREENSHOTS]
)
def test_practice_screenshots_fit_the_page(page: Page, name, viewport, extra):
    page.set_viewport_size(viewport)
    open_example(page, "apple", "&step=3" + extra)
    practice_on(page)
    answer(page, "1.1")
    answer(page, "5")
    expect(page.locator("#practice-hints")).to_be_visible()
    page.locator("#practice-panel").scroll_into_view_if_needed()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))
    assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
    field = page.get_by_label("Your gradient", exact=True)
    for locator in [field, page.get_by_role("button", name="Check", exact=True)]:
        box = locator.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]


def test_the_sum_over_paths_and_the_gradient_check_give_no_answer_away(page: Page):
    """The paths panel lists the gradients' products and their sum; a gradient check made
    while Forward mode paused practice lists every gradient: both wait while practice hides."""
    open_example(page, "olah_fork", "&paths=1&from=b")
    sum_line = page.locator("#paths-result .paths-sum")
    expect(sum_line).to_have_text("sum = 5 = ∂e/∂b")
    practice_on(page)
    expect(sum_line).to_be_hidden()
    # Forward mode pauses practice: the check runs and shows its table...
    page.get_by_role("button", name="Forward mode", exact=True).click()
    expect(page.locator("#practice-prompt")).to_contain_text("paused")
    page.get_by_role("button", name="Gradient check", exact=True).click()
    expect(page.locator("#gradcheck-result table")).to_be_visible()
    # ...which is hidden again as soon as practice hides gradients again.
    page.get_by_role("button", name="Forward mode", exact=True).click()
    expect(page.locator("#practice-prompt")).not_to_contain_text("paused")
    expect(page.locator("#gradcheck-result")).to_be_hidden()
    assert "sum = 5" not in page.locator(".paths-panel").inner_text()
    page.get_by_role("checkbox", name="Practice").uncheck()
    expect(sum_line).to_have_text("sum = 5 = ∂e/∂b")


def test_practice_keeps_its_question_in_presentation_mode(page: Page):
    page.set_viewport_size({"width": 1280, "height": 800})
    open_example(page, "apple")
    practice_on(page)
    page.get_by_role("button", name="Presentation", exact=True).click()
    expect(page.locator("body")).to_have_class(re.compile(r"\bpresenting\b"))
    page.keyboard.press("End")
    field = page.get_by_label("Your gradient", exact=True)
    expect(field).to_be_visible()
    field.fill("1.1")
    field.press("Enter")
    expect(page.locator("#practice-score")).to_have_text("1 of 1 right, first try")
