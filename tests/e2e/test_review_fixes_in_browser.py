"""The reviewer's findings, fixed, in a real Chromium: quick successive edits both count, a value
only looked at on the graph is not rounded, a formula's constants get no editor, expand and
collapse keep the step's meaning, and a gradient check of another graph does not linger."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, Route, expect

pytestmark = pytest.mark.e2e


class HeldTraces:
    """Holds back every /api/trace request until release(), as a slow network would delay the
    answers (a sleeping route handler would block the test's own typing instead)."""

    def __init__(self, page: Page) -> None:
        self.routes: list[Route] = []
        self.released = False
        page.route("**/api/trace", self.hold)

    def hold(self, route: Route) -> None:
        if self.released:
            route.continue_()
        else:
            self.routes.append(route)

    def release(self) -> None:
        """Lets the held requests and every later one through."""
        self.released = True
        for route in self.routes:
            route.continue_()


def expect_edge(page: Page, edge_id: str, value: str | None = None, grad: str | None = None):
    edge = page.locator(f'#graph [data-edge="{edge_id}"]')
    if value is not None:
        expect(edge.locator(".edge-value")).to_have_text(value)
    if grad is not None:
        expect(edge.locator(".edge-grad")).to_have_text(grad)


def url_values(page: Page) -> dict:
    # The page writes the link once the browser is idle after painting (at most 150 ms later).
    page.evaluate("() => new Promise((done) => setTimeout(done, 300))")
    fragment = page.evaluate("() => new URLSearchParams(location.hash.slice(1)).get('values')")
    return json.loads(fragment) if fragment else {}


def test_quick_successive_edits_both_count(page: Page):
    page.goto("/#example=apple&step=4")
    expect_edge(page, "price->output", value="220")
    held = HeldTraces(page)
    apple = page.get_by_label("apple", exact=True)
    apple.fill("150")
    apple.press("Enter")
    tax = page.get_by_label("tax", exact=True)
    tax.fill("2")
    tax.press("Enter")
    expect_edge(page, "price->output", value="220")  # nothing answered yet
    held.release()
    expect_edge(page, "price->output", value="600")
    expect(apple).to_have_value("150")
    expect(page).to_have_url(re.compile(r"values="))
    assert url_values(page) == {"apple": 150, "tax": 2}


def test_quick_successive_grid_edits_both_count(page: Page):
    page.goto("/#example=affine&step=99")
    cell0 = page.get_by_label("B[0]", exact=True)
    expect(cell0).to_have_value("0.1")
    held = HeldTraces(page)
    cell0.fill("1")
    cell0.press("Tab")
    cell1 = page.get_by_label("B[1]", exact=True)
    cell1.fill("2")
    cell1.press("Tab")
    held.release()
    # Y = X·W + B = [0.2, 0.5, 0.8] + [1, 2, 0.3]
    expect_edge(page, "Y->output", value="[1.2, 2.5, 1.1]")
    assert url_values(page) == {"B": [1, 2, 0.3]}
    expect(cell0).to_have_value("1")
    expect(cell1).to_have_value("2")


def test_looking_at_a_value_on_the_graph_does_not_round_it(page: Page):
    values = quote(json.dumps({"apple": 100.123456789}))
    page.goto(f"/#example=apple&values={values}&step=4")
    label = page.locator('#graph [data-edge="apple->apple_price:0"] .edge-value')
    expect(label).to_have_text("100.123")
    label.click()
    editor = page.get_by_label("apple (on the graph)", exact=True)
    expect(editor).to_be_focused()
    page.locator("body").click(position={"x": 5, "y": 5})
    expect(editor).to_have_count(0)
    page.wait_for_timeout(300)
    assert url_values(page) == {"apple": 100.123456789}
    # Nor does Enter in the panel's field, left as the page wrote it.
    field = page.get_by_label("apple", exact=True)
    expect(field).to_have_value("100.123")
    field.press("Enter")
    page.wait_for_timeout(300)
    assert url_values(page) == {"apple": 100.123456789}
    page.get_by_label("Raw floats", exact=True).check()
    expect(label).to_have_text("100.123456789")


def test_formula_constants_get_no_editor(page: Page):
    page.goto("/#expression=" + quote("log(x - 1)") + "&values=" + quote('{"x":3}'))
    expect(page.locator("#graph")).to_have_attribute("data-expression", "log(x - 1)")
    panel = page.locator("#inputs-panel")
    expect(panel.locator(".input-row")).to_have_count(1)
    expect(page.get_by_label("x", exact=True)).to_have_value("3")
    expect(panel.locator('[data-leaf="_c1"]')).to_have_count(0)
    # Nor is the constant's value on the graph an editor.
    expect(page.locator('#graph [data-edge^="_c1->"] .edge-value.editable')).to_have_count(0)
    expect(page.locator('#graph [data-edge^="x->"] .edge-value.editable')).to_have_count(1)
    # A preset's constant input (the labels t of Softmax-with-Loss) stays editable.
    page.goto("/#example=softmax_with_loss")
    expect(page.locator("#graph")).to_have_attribute("data-example", "softmax_with_loss")
    expect(page.get_by_label("t[0]", exact=True)).to_be_visible()


def test_expand_and_collapse_keep_the_meaning_of_the_step(page: Page):
    page.goto("/#example=two_layer_net&step=5")
    counter = page.locator("#step-counter")
    caption = page.locator("#step-caption")
    expect(counter).to_have_text("Step 5 / 8")
    expect(caption).to_have_text(re.compile(r"^Backward through loss"))
    grad_w2 = page.locator('#graph [data-edge="W2->affine2:1"] .edge-grad')
    page.locator('#graph [data-node="affine1"]').click()
    page.get_by_role("button", name="Expand affine1", exact=True).click()
    expect(page.locator('#graph [data-node="affine1/dot"]')).to_be_visible()
    expect(counter).to_have_text(re.compile(r"^Step \d+ / 10$"))
    expect(caption).to_have_text(re.compile(r"^Backward through loss"))
    expect(grad_w2).to_have_text("?")
    # One step on: backward through affine2, whose gradients are now known.
    page.get_by_role("button", name="Step forward", exact=True).click()
    expect(caption).to_have_text(re.compile(r"^Backward through affine2"))
    expect(grad_w2).not_to_have_text("?")
    # Onwards into the expanded group, then collapse: the step lands on the composite.
    page.get_by_role("button", name="Step forward", exact=True).click()
    page.get_by_role("button", name="Step forward", exact=True).click()
    expect(caption).to_have_text(re.compile(r"^Backward through affine1"))
    page.locator('#graph [data-node="affine1"]').click()
    page.get_by_role("button", name="Collapse affine1", exact=True).click()
    expect(page.locator('#graph [data-node="affine1/dot"]')).to_have_count(0)
    expect(counter).to_have_text("Step 8 / 8")
    expect(caption).to_have_text(re.compile(r"^Backward through affine1"))


def test_gradcheck_is_cleared_when_the_graph_changes(page: Page):
    page.goto("/#example=apple")
    expect(page.locator("#graph")).to_have_attribute("data-example", "apple")
    page.get_by_role("button", name="Gradient check", exact=True).click()
    expect(page.locator(".gc-summary")).to_be_visible(timeout=15_000)
    # A value edit only marks it stale.
    field = page.get_by_label("apple", exact=True)
    field.fill("150")
    field.press("Enter")
    expect(page.locator("#gradcheck-result")).to_have_class(re.compile(r"stale"))
    expect(page.locator(".gc-summary")).to_be_visible()
    # Another example clears it.
    page.get_by_label("Example", exact=True).select_option("apple_orange")
    expect(page.locator("#graph")).to_have_attribute("data-example", "apple_orange")
    expect(page.locator(".gc-summary")).to_have_count(0)
    expect(page.locator("#gradcheck-status")).to_be_hidden()
    expect(page.locator("#gradcheck-result")).not_to_have_class(re.compile(r"stale"))
    # So does a formula.
    page.get_by_role("button", name="Gradient check", exact=True).click()
    expect(page.locator(".gc-summary")).to_be_visible(timeout=15_000)
    page.get_by_label("Expression", exact=True).fill("x * y")
    page.get_by_role("button", name="Trace", exact=True).click()
    expect(page.locator("#graph")).to_have_attribute("data-expression", "x * y")
    expect(page.locator(".gc-summary")).to_have_count(0)
