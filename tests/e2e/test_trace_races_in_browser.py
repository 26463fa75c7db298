"""Races between the page's startup and a learner's first action, made exact with held
answers: a formula traced while the example list is still on its way stays on screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Route, expect

pytestmark = pytest.mark.e2e

FORMULA = "(x + y) ** 2"


def test_a_formula_traced_before_the_example_list_arrives_is_not_replaced(
    page: Page, console_errors: list[str]
):
    """A link's unknown example falls back to the first preset once /api/examples answers; a
    formula the learner traced meanwhile (its /api/trace on its way) is newer and must win.
    The old page sent the fallback behind it, which made the formula's answer stale."""
    held: dict[str, Route] = {}

    def hold_examples(route: Route) -> None:
        held["examples"] = route

    def hold_formula(route: Route) -> None:
        if FORMULA in (route.request.post_data or ""):
            held["formula"] = route
        else:
            route.continue_()

    page.route("**/api/examples", hold_examples)
    page.route("**/api/trace", hold_formula)
    page.goto("/#example=no_such_example")
    expect(page.locator("#message")).to_contain_text("no_such_example")  # the link's 422
    console_errors[:] = [e for e in console_errors if "status of 422" not in e]
    page.get_by_label("Expression", exact=True).fill(FORMULA)
    page.get_by_role("button", name="Trace", exact=True).click()
    for _ in range(200):  # the formula's /api/trace is sent (and held) within 10 s
        if "formula" in held and "examples" in held:
            break
        page.wait_for_timeout(50)
    assert "formula" in held, "the formula's /api/trace was never sent"
    held["examples"].continue_()  # the list arrives while the formula's trace is on its way
    expect(page.locator('#example-select option[value="apple"]')).to_be_attached()
    held["formula"].continue_()
    expect(page.locator("#graph")).to_have_attribute("data-expression", FORMULA)
    expect(page.locator("#example-select")).to_have_value("")
    page.get_by_role("button", name="Last step", exact=True).click()
    output = page.locator('#graph [data-edge$="->output"] .edge-value')
    expect(output).to_have_text("4")  # (1 + 1) ** 2: a formula's variables start at 1
    assert "expression=" in page.url
