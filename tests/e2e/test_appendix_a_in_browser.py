"""The book's Appendix A in a real Chromium: Softmax-with-Loss expanded on the page into the
Softmax and Cross Entropy Error layers (figure 5-29), each of those into the appendix's
primitives (a nested expansion), with the same numbers on the edges around it, and collapsed
back in two clicks."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def node(page: Page, node_id: str):
    return page.locator(f'#graph [data-node="{node_id}"]')


def expand(page: Page, node_id: str, label: str) -> None:
    """Selects the node and presses its "Expand <label>" button in the inspector."""
    node(page, node_id).click()
    page.get_by_role("button", name=f"Expand {label}", exact=True).click()


def test_softmax_with_loss_expands_twice_with_the_same_numbers_and_collapses(page: Page):
    page.goto("/#example=softmax_with_loss&step=99")
    expect(page.locator("#graph")).to_have_attribute("data-example", "softmax_with_loss")
    scores = page.locator('#graph [data-edge^="a->"]')
    loss = page.locator('#graph [data-edge$="->output"]')
    expect(scores.locator(".edge-grad")).not_to_have_text("?")
    before = (
        scores.locator(".edge-grad").text_content(),
        loss.locator(".edge-value").text_content(),
    )
    # y - t = (0.3, -0.8, 0.5) on the edge of the scores, the loss -log 0.2 = 1.60944 (rounded)
    assert re.search(r"0\.3.*[-−]0\.8.*0\.5", before[0]), before
    assert before[1] == "1.60944", before

    expand(page, "L", "L")  # figure 5-29
    expect(node(page, "L/softmax")).to_be_visible()
    expect(node(page, "L/softmax").locator(".symbol")).to_have_text("Softmax")
    expect(node(page, "L").locator(".symbol")).to_have_text("Cross Entropy Error")
    expect(page.locator('#graph [data-group="L"] .group-label')).to_have_text("Softmax-with-Loss")

    expand(page, "L/softmax", "y")  # nested: the Softmax node made by the first expansion
    expect(node(page, "L/softmax/exp")).to_be_visible()
    expect(page.locator('#graph [data-group="L/softmax"] .group-label')).to_have_text("Softmax")
    expand(page, "L", "L")  # the Cross Entropy Error node, which kept the id L
    expect(node(page, "L/log")).to_be_visible()
    expect(node(page, "L").locator(".symbol")).to_have_text("÷N")
    expect(page.locator('#graph [data-group="L/cross_entropy_error"] .group-label')).to_have_text(
        "Cross Entropy Error"
    )
    expect(page).to_have_url(re.compile(r"expand=.*L%2Fcross_entropy_error|expand=.*L/cross"))
    expect(page.locator("#step-counter")).to_have_text(re.compile(r"^Step (\d+) / \1$"))

    # the same numbers around it: the gradient of the scores and the loss
    expect(scores.locator(".edge-grad")).to_have_text(before[0])
    expect(loss.locator(".edge-value")).to_have_text(before[1])
    # the exp output forks: the sum of its two gradients is written under it
    expect(node(page, "L/softmax/exp").locator(".node-grad")).to_contain_text("Σ")

    node(page, "L/softmax/exp").click()
    page.get_by_role("button", name="Collapse y", exact=True).click()
    expect(node(page, "L/softmax/exp")).to_have_count(0)
    expect(node(page, "L/log")).to_be_visible()
    # the Softmax node is a composite inside a group: it offers both, and collapsing L also
    # collapses the Cross Entropy Error expanded inside it
    node(page, "L/softmax").click()
    expect(page.get_by_role("button", name="Expand y", exact=True)).to_be_visible()
    page.get_by_role("button", name="Collapse L", exact=True).click()
    expect(page.locator("#graph .group")).to_have_count(0)
    expect(page.locator('#graph [data-edge="a->L:0"]')).to_have_count(1)
    expect(node(page, "L").locator(".symbol")).to_have_text("Softmax-with-Loss")
    expect(scores.locator(".edge-grad")).to_have_text(before[0])
    expect(loss.locator(".edge-value")).to_have_text(before[1])
