"""The page in a real Chromium: the book's numbers on screen, the player, live editing, the URL
state, Japanese, and labels rendered as text."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

HOSTILE = "<img src=x onerror=alert(1)>"


def open_example(page: Page, example: str) -> None:
    """Loads the page and picks an example in the "Example" select, as a user would."""
    page.goto("/")
    expect(page.locator("#graph svg")).to_be_visible()
    page.get_by_label("Example", exact=True).select_option(example)
    expect(page.locator("#example-select")).to_have_value(example)
    expect(page.locator("#graph")).to_have_attribute("data-example", example)
    expect(page.locator("#graph svg")).to_be_visible()


def edge(page: Page, edge_id: str):
    return page.locator(f'#graph [data-edge="{edge_id}"]')


def expect_edge(
    page: Page, edge_id: str, value: str | None = None, grad: str | None = None
) -> None:
    """The numbers written on an edge: the value above it, the gradient below it."""
    if value is not None:
        expect(edge(page, edge_id).locator(".edge-value")).to_have_text(value)
    if grad is not None:
        expect(edge(page, edge_id).locator(".edge-grad")).to_have_text(grad)


def test_page_apple_shows_book_numbers_at_last_step(page: Page):
    open_example(page, "apple")
    page.get_by_role("button", name="Last step", exact=True).click()
    expect(page.locator("#step-counter")).to_have_text("Step 4 / 4")
    expect_edge(page, "apple->apple_price:0", value="100", grad="2.2")
    expect_edge(page, "apple_num->apple_price:1", value="2", grad="110")
    expect_edge(page, "tax->price:1", value="1.1", grad="200")
    expect_edge(page, "apple_price->price:0", value="200", grad="1.1")
    expect_edge(page, "price->output", value="220", grad="1")


def test_page_before_backward_shows_not_computed_never_zero(page: Page):
    open_example(page, "apple")
    page.get_by_role("button", name="First step", exact=True).click()
    expect(page.locator("#step-counter")).to_have_text("Step 0 / 4")
    expect_edge(page, "price->output", value="?", grad="?")
    expect_edge(page, "apple->apple_price:0", value="100", grad="?")
    page.locator('#graph [data-node="price"]').click()
    expect(page.locator("#inspector")).to_contain_text("not computed yet")


def test_page_edit_apple_retraces_keeps_step_and_survives_reload(page: Page):
    open_example(page, "apple")
    page.get_by_role("button", name="Last step", exact=True).click()
    # Marks the drawn SVG: an edit must update it in place, not draw a new one.
    page.locator("#graph svg").evaluate("svg => svg.dataset.probe = 'first'")
    field = page.get_by_label("apple", exact=True)
    field.fill("150")
    expect_edge(page, "price->output", value="330")
    expect_edge(page, "apple_num->apple_price:1", grad="165")
    expect(page.locator("#step-counter")).to_have_text("Step 4 / 4")
    expect(page.locator('#graph svg[data-probe="first"]')).to_have_count(1)
    expect(page).to_have_url(re.compile(r"values="))
    page.reload()
    expect(page.get_by_label("apple", exact=True)).to_have_value("150")
    expect_edge(page, "price->output", value="330")
    expect_edge(page, "apple_num->apple_price:1", grad="165")
    expect(page.locator("#step-counter")).to_have_text("Step 4 / 4")


def test_page_edit_in_place_on_the_graph(page: Page):
    open_example(page, "apple")
    page.keyboard.press("End")
    edge(page, "apple->apple_price:0").locator(".edge-value").click()
    editor = page.get_by_label("apple (on the graph)", exact=True)
    editor.fill("150")
    editor.press("Enter")
    expect_edge(page, "price->output", value="330")
    expect(page.get_by_label("apple", exact=True)).to_have_value("150")


def test_page_bad_entry_shows_message_and_keeps_last_good_graph(page: Page):
    open_example(page, "apple")
    page.keyboard.press("End")
    field = page.get_by_label("apple", exact=True)
    field.fill("12x")
    field.press("Enter")
    expect(page.locator(".input-error").first).to_contain_text("Not a number")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect_edge(page, "price->output", value="220")
    field.fill("150")
    expect_edge(page, "price->output", value="330")
    expect(page.locator(".input-row.invalid")).to_have_count(0)


def test_page_keyboard_steps_back_and_forth(page: Page):
    open_example(page, "apple")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("End")
    expect(page.locator("#step-counter")).to_have_text("Step 4 / 4")
    expect(page.locator("#graph .node.current")).to_have_attribute("data-node", "apple_price")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#step-counter")).to_have_text("Step 3 / 4")
    expect(page.locator("#graph .node.current")).to_have_attribute("data-node", "price")
    expect_edge(page, "apple->apple_price:0", grad="?")
    page.keyboard.press("Home")
    expect(page.locator("#step-counter")).to_have_text("Step 0 / 4")
    expect(page.locator("#graph .node.current")).to_have_count(0)
    page.keyboard.press("ArrowRight")
    expect(page.locator("#step-counter")).to_have_text("Step 1 / 4")
    expect(page.locator("#graph .node.current")).to_have_attribute("data-node", "apple_price")
    expect_edge(page, "apple_price->price:0", value="200")
    expect_edge(page, "price->output", value="?")
    page.keyboard.press("ArrowRight")
    expect_edge(page, "price->output", value="220")


def test_page_play_runs_to_the_end_and_pauses(page: Page):
    open_example(page, "apple")
    page.get_by_label("Speed", exact=True).select_option("4")
    page.get_by_role("button", name="Play", exact=True).click()
    expect(page.get_by_role("button", name="Pause", exact=True)).to_be_visible()
    expect(page.locator("#step-counter")).to_have_text("Step 4 / 4", timeout=8000)
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()
    expect_edge(page, "apple->apple_price:0", grad="2.2")


def test_page_apple_orange_shows_book_numbers(page: Page):
    open_example(page, "apple_orange")
    page.get_by_role("button", name="Last step", exact=True).click()
    expect_edge(page, "price->output", value="715")
    expect_edge(page, "apple->apple_price:0", grad="2.2")
    expect_edge(page, "apple_num->apple_price:1", grad="110")
    expect_edge(page, "orange->orange_price:0", grad="3.3")
    expect_edge(page, "orange_num->orange_price:1", grad="165")
    expect_edge(page, "tax->price:1", grad="650")


def test_page_inspector_plugs_numbers_into_the_chain_rule(page: Page):
    open_example(page, "apple")
    page.get_by_role("button", name="Last step", exact=True).click()
    page.locator('#graph [data-node="apple_price"]').click()
    inspector = page.locator("#inspector")
    expect(inspector).to_contain_text("dx = dout × y = 1.1 × 2 = 2.2")
    expect(inspector).to_contain_text("dy = dout × x = 1.1 × 100 = 110")
    expect(inspector.locator(".source .hl-backward").first).to_be_visible()


def test_page_tensor_grid_edit_retraces(page: Page):
    """ReLU (5.5.1): x = [[1, -0.5], [-2, 3]]; making x[0,1] positive lets its gradient through."""
    page.goto("/#example=relu&step=9")
    expect_edge(page, "y->output", value="[[1, 0], [0, 3]]")
    # The preset's upstream gradient [[1.3, 0.8], [0.5, 2]], blocked where x <= 0.
    expect_edge(page, "x->y:0", grad="[[1.3, 0], [0, 2]]")
    page.get_by_label("x[0,1]", exact=True).fill("2")
    expect_edge(page, "y->output", value="[[1, 2], [0, 3]]")
    expect_edge(page, "x->y:0", grad="[[1.3, 0.8], [0, 2]]")


def test_page_raw_floats_toggle_shows_the_float64_repr(page: Page):
    open_example(page, "apple")
    page.keyboard.press("End")
    page.get_by_label("Raw floats", exact=True).check()
    expect_edge(page, "price->output", value="220.00000000000003")
    expect_edge(page, "apple_num->apple_price:1", grad="110.00000000000001")
    page.reload()
    expect_edge(page, "price->output", value="220.00000000000003")


def test_page_switches_to_japanese_and_keeps_it(page: Page):
    open_example(page, "apple")
    page.get_by_label("Language", exact=True).select_option("ja")
    expect(page.locator("#example-select option:checked")).to_contain_text("リンゴの買い物")
    expect(page.locator("h1")).to_have_text("誤差逆伝播法をステップごとに")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    page.reload()
    expect(page.locator("h1")).to_have_text("誤差逆伝播法をステップごとに")
    # The accessible names stay English, so the controls are found the same way.
    page.get_by_role("button", name="Last step", exact=True).click()
    expect(page.locator("#step-counter")).to_have_text("ステップ 4 / 4")
    expect_edge(page, "price->output", value="220")


def test_page_hostile_label_is_shown_as_text(page: Page):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    graph = {
        "nodes": [
            {"id": "a", "op": "input", "value": 3, "label": HOSTILE},
            {"id": "b", "op": "input", "value": 4, "label": "b"},
            {"id": "c", "op": "mul", "inputs": ["a", "b"], "label": HOSTILE},
        ],
        "output": "c",
    }
    page.goto("/#graph=" + quote(json.dumps(graph)) + "&step=9")
    expect(page.locator('#graph [data-node="a"]')).to_contain_text(HOSTILE)
    expect_edge(page, "c->output", value="12")
    expect(page.get_by_label(HOSTILE, exact=True)).to_have_value("3")
    page.locator('#graph [data-node="c"]').click()
    expect(page.locator("#inspector h3")).to_have_text(HOSTILE)
    expect(page.locator("img")).to_have_count(0)
    assert dialogs == []


def test_page_server_error_keeps_last_good_graph(page: Page, console_errors: list[str]):
    """A value the server refuses (here: a list for a scalar leaf's slot in the URL) shows the
    server's message; the graph stays."""
    open_example(page, "apple")
    page.keyboard.press("End")
    page.route(
        "**/api/trace",
        lambda route: route.fulfill(
            status=422,
            content_type="application/json",
            body=json.dumps({"detail": "values.apple: not a number"}),
        ),
    )
    page.get_by_label("apple", exact=True).fill("150")
    expect(page.locator("#message")).to_contain_text("values.apple: not a number")
    expect_edge(page, "price->output", value="220")
    console_errors[:] = [e for e in console_errors if "422" not in e]


def test_page_phone_width_has_no_sideways_scroll(page: Page):
    page.set_viewport_size({"width": 390, "height": 844})
    open_example(page, "apple_orange")
    page.get_by_role("button", name="Last step", exact=True).click()
    expect_edge(page, "price->output", value="715")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390
    expect(page.get_by_role("button", name="Step back", exact=True)).to_be_in_viewport()


def test_page_downloads_trace_json(page: Page):
    open_example(page, "apple")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download trace JSON", exact=True).click()
    trace = json.loads(open(info.value.path(), encoding="utf-8").read())
    assert trace["values"]["price"] == pytest.approx(220)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download SVG", exact=True).click()
    svg = open(info.value.path(), encoding="utf-8").read()
    assert svg.startswith("<svg") and 'data-node="price"' in svg


def example_ids(server_url: str) -> list[str]:
    return [e["id"] for e in httpx.get(f"{server_url}/api/examples", timeout=10).json()]


def test_page_every_preset_plays_to_the_end(page: Page, server_url: str):
    """Each preset loads, every step can be shown, and the last one has the output's gradient."""
    for example in example_ids(server_url):
        page.goto(f"/#example={example}")
        expect(page.locator("#graph")).to_have_attribute("data-example", example)
        counter = page.locator("#step-counter")
        expect(counter).to_have_text(re.compile(r"^Step 0 / \d+$"))
        total = int(counter.inner_text().split("/")[1])
        assert total > 0, example
        page.locator("body").click(position={"x": 5, "y": 5})
        for i in range(1, total + 1):
            page.keyboard.press("ArrowRight")
            expect(counter).to_have_text(f"Step {i} / {total}")
        expect(page.locator("#message")).to_be_hidden()
        output_edge = page.locator("#graph [data-edge$='->output'] .edge-grad")
        expect(output_edge).not_to_have_text("?")
        expect(page.locator("#graph .edge-grad", has_text=re.compile(r"^\?$"))).to_have_count(0)


def test_page_zoom_buttons_and_fit(page: Page):
    open_example(page, "apple")
    viewport = page.locator("#graph .viewport")
    fitted = viewport.get_attribute("transform")
    page.get_by_role("button", name="Zoom in", exact=True).click()
    expect(viewport).not_to_have_attribute("transform", fitted)
    page.get_by_role("button", name="Fit to window", exact=True).click()
    expect(viewport).to_have_attribute("transform", fitted)


def test_page_reduced_motion_stops_the_pulse(page: Page):
    page.emulate_media(reduced_motion="reduce")
    open_example(page, "apple")
    page.get_by_role("button", name="Step forward", exact=True).click()
    pulse = page.locator('#graph [data-edge="apple_price->price:0"] .pulse')
    expect(pulse).to_have_class(re.compile(r"pulse-fwd"))
    expect(pulse).to_have_css("animation-name", "none")
    page.emulate_media(reduced_motion="no-preference")
    page.get_by_role("button", name="Step forward", exact=True).click()
    pulse = page.locator('#graph [data-edge="price->output"] .pulse')
    expect(pulse).to_have_css("animation-name", "pulse-forward")
