"""Presentation mode in a real Chromium, as a teacher runs it on a projector: the Presentation
button, the graph and the player full screen with the panels hidden, a clicker's PageDown and
PageUp through a whole preset, the font-size control, Escape, the link and Japanese; and the SVG
download for slides (white background, caption, legend, Japanese fonts), rendered as an image."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

SVG = "{http://www.w3.org/2000/svg}"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

# The smallest value label on the screen, in CSS pixels: its font size times the zoom.
SMALLEST_LABEL_PX = """() => Math.min(...[...document.querySelectorAll('#graph svg .edge-value')]
    .map((t) => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a))"""
LABEL_FONT_PX = """() => parseFloat(getComputedStyle(
    document.querySelector('#graph svg .edge-value')).fontSize)"""


def steps_of(page: Page) -> tuple[int, int]:
    """The step counter's position and length."""
    text = page.locator("#step-counter").text_content() or ""
    position, length = re.search(r"(\d+) / (\d+)", text).groups()
    return int(position), int(length)


def expect_step(page: Page, step: int) -> None:
    expect(page.locator("#step-counter")).to_have_text(re.compile(rf"(Step|ステップ) {step} /"))


def expect_presenting(page: Page) -> None:
    expect(page.locator("body")).to_have_class(re.compile(r"\bpresenting\b"))
    expect(page.locator("#graph-area")).to_be_visible()
    expect(page.locator("#btn-forward")).to_be_visible()
    # The panels and the header are hidden: only the graph and the player are on the screen.
    for hidden in [
        ".topbar",
        ".side",
        "#training-panel",
        ".gradcheck-panel",
        "#example-description",
    ]:
        expect(page.locator(hidden).first).to_be_hidden()


def expect_graph_fills_the_screen(page: Page, width: int, height: int) -> None:
    box = page.locator("#graph").bounding_box()
    assert box["width"] >= 0.95 * width, box
    # The caption under the player is a sentence, and at the last step the gradients' meaning
    # too (up to six lines at 18 px): the graph keeps more than half the screen's height.
    assert box["height"] >= 0.55 * height, box
    assert page.evaluate(SMALLEST_LABEL_PX) >= 16


def test_a_whole_preset_from_the_keyboard(page: Page):
    """Keyboard only, once through: Tab to Presentation, Enter, PageDown to the last step,
    PageUp back, the font-size control by Tab and Enter, Escape out."""
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/#example=apple_orange")
    expect(page.locator("#graph")).to_have_attribute("data-example", "apple_orange")
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "present-button":
            break
    expect(page.get_by_role("button", name="Presentation", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect_presenting(page)
    expect(page.locator("#graph-area")).to_be_focused()
    expect(page).to_have_url(re.compile(r"present=1"))
    expect_step(page, 0)
    expect_graph_fills_the_screen(page, 1280, 800)

    # A clicker's PageDown steps through the whole preset, a new caption at every step.
    _, length = steps_of(page)
    assert length == 8  # figure 5-17: four nodes forward, the same four backward
    captions = [page.locator("#step-caption").text_content()]
    for step in range(1, length + 1):
        page.keyboard.press("PageDown")
        expect_step(page, step)
        captions.append(page.locator("#step-caption").text_content())
        assert captions[-1] != captions[-2]
    page.keyboard.press("PageDown")  # past the end: stays at the last step
    expect_step(page, length)
    expect(page.locator('#graph [data-edge="price->output"] .edge-value')).to_have_text("715")
    expect(page.locator('#graph [data-edge="tax->price:1"] .edge-grad')).to_have_text("650")
    page.keyboard.press("PageUp")
    expect_step(page, length - 1)
    expect(page.locator("#step-caption")).to_have_text(captions[length - 1])

    # The font-size control: Tab reaches A+ (past the graph's nodes, its editable values, the
    # zoom and player buttons), Enter makes the labels larger (and remembers it).
    before = page.evaluate(LABEL_FONT_PX)
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "font-larger":
            break
    expect(page.get_by_role("button", name="Larger text", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    expect(page.locator("#font-size")).to_have_text("120 %")
    assert page.evaluate(LABEL_FONT_PX) == pytest.approx(before * 1.2, abs=0.05)
    caption_px = page.locator("#step-caption").evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)"
    )
    assert caption_px == pytest.approx(22 * 1.2, abs=0.05)
    assert page.evaluate(SMALLEST_LABEL_PX) >= 16
    # The clicker still steps with the focus on the control.
    page.keyboard.press("PageDown")
    expect_step(page, length)

    page.keyboard.press("Escape")
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bpresenting\b"))
    expect(page.locator(".side")).to_be_visible()
    expect(page.locator("#presentation-controls")).to_be_hidden()
    expect(page.get_by_role("button", name="Presentation", exact=True)).to_be_focused()
    expect(page).not_to_have_url(re.compile(r"present="))
    expect_step(page, length)


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1024, 768)])
@pytest.mark.parametrize("example", ["apple", "two_layer_net"])
def test_the_graph_fills_a_projector_with_labels_of_16_px(page: Page, width, height, example):
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"/#example={example}&step=99&present=1")
    expect(page.locator("#graph")).to_have_attribute("data-example", example)
    expect_presenting(page)
    expect_graph_fills_the_screen(page, width, height)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    # The player and its caption are on the screen, not below it.
    caption = page.locator("#step-caption").bounding_box()
    assert caption["y"] + caption["height"] <= height


def test_japanese_labels_and_the_link_keeps_the_mode(page: Page):
    page.goto("/#example=apple&lang=ja&step=2")
    expect(page.locator("#graph")).to_have_attribute("data-example", "apple")
    button = page.get_by_role("button", name="Presentation", exact=True)
    expect(button).to_have_text("プレゼンテーション")
    button.click()
    expect_presenting(page)
    expect(page.get_by_role("button", name="Exit presentation", exact=True)).to_have_text(
        "終了 (Esc)"
    )
    expect(page.get_by_role("group", name="Font size")).to_contain_text("文字の大きさ")
    expect(page.get_by_role("button", name="Larger text", exact=True)).to_have_attribute(
        "title", "文字を大きく"
    )
    expect(page.locator(".legend")).to_contain_text("勾配（逆伝播）")
    page.get_by_role("button", name="Smaller text", exact=True).click()
    expect(page.locator("#font-size")).to_have_text("90 %")
    # A reload keeps the mode (it is in the link) and the font size (remembered on this machine).
    expect(page).to_have_url(re.compile(r"present=1"))
    page.reload()
    expect_presenting(page)
    expect(page.locator("#font-size")).to_have_text("90 %")
    expect_step(page, 2)
    assert page.evaluate(LABEL_FONT_PX) == pytest.approx(13 * 0.9, abs=0.05)
    page.get_by_role("button", name="Exit presentation", exact=True).click()
    expect(page.locator(".side")).to_be_visible()
    expect(page).not_to_have_url(re.compile(r"present="))


def test_escape_in_the_value_editor_closes_the_editor_not_the_mode(page: Page):
    page.goto("/#example=apple&step=4&present=1")
    expect_presenting(page)
    page.locator('#graph [data-edge="apple->apple_price:0"] .edge-value').click()
    editor = page.locator(".inplace-editor input")
    expect(editor).to_be_focused()
    page.keyboard.press("Escape")
    expect(editor).to_have_count(0)
    expect_presenting(page)
    page.keyboard.press("Escape")
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bpresenting\b"))


def test_leaving_real_full_screen_leaves_the_mode(page: Page):
    """Where the browser grants full screen, its own exit (Escape, which the page never sees)
    leaves the mode too; where it refuses (headless), the mode is the full-window layout."""
    page.goto("/#example=apple")
    expect(page.locator("#graph")).to_have_attribute("data-example", "apple")
    page.get_by_role("button", name="Presentation", exact=True).click()
    expect_presenting(page)
    page.wait_for_timeout(300)  # the browser's answer to requestFullscreen
    if page.evaluate("() => document.fullscreenElement === null"):
        pytest.skip("this Chromium refused full screen: the full-window layout is tested above")
    page.evaluate("() => document.exitFullscreen()")
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bpresenting\b"))
    expect(page).not_to_have_url(re.compile(r"present="))


def test_the_svg_download_is_a_slide(page: Page):
    """The SVG download: a white background, the step's caption and the legend inside it, the
    presentation's text sizes and fonts that name Japanese ones; rendered as an image."""
    page.goto("/#example=apple&lang=ja&step=2")
    expect(page.locator("#graph")).to_have_attribute("data-example", "apple")
    # The presentation's font size (120 %) is the slide's.
    page.get_by_role("button", name="Presentation", exact=True).click()
    page.get_by_role("button", name="Larger text", exact=True).click()
    page.get_by_role("button", name="Larger text", exact=True).click()
    page.keyboard.press("Escape")
    expect(page.locator("#font-size")).to_have_text("120 %")
    caption = page.locator("#step-caption").text_content()
    with page.expect_download() as info:
        page.get_by_role("button", name="Download SVG", exact=True).click()
    download = info.value
    assert download.suggested_filename == "apple.svg"
    text = Path(download.path()).read_text(encoding="utf-8")
    root = ET.fromstring(text)
    width, height = float(root.get("width")), float(root.get("height"))
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"

    background = next(el for el in root if el.tag == f"{SVG}rect")
    assert background.get("class") == "slide-background"
    assert background.get("fill") == "#ffffff"
    assert (float(background.get("width")), float(background.get("height"))) == (width, height)

    caption_el = root.find(f".//{SVG}text[@class='slide-caption-text']")
    written = "".join(span.text or "" for span in caption_el)
    assert written.replace(" ", "") == f"ステップ 2 / 4  {caption}".replace(" ", "")
    assert "font-size: 21.6px" in caption_el.get("style")  # 18 px x 120 %
    legend = [el.text for el in root.iterfind(f".//{SVG}g[@class='slide-legend-entry']/{SVG}text")]
    assert legend == ["値（順伝播）", "勾配（逆伝播）", "? 未計算"]

    # The graph as it is at step 2: the forward pass done, the price 220, no gradient yet.
    labels = {
        edge.get("data-edge"): [t.text for t in edge.iterfind(f"{SVG}text")]
        for edge in root.iterfind(f".//{SVG}g[@class]")
        if edge.get("data-edge")
    }
    assert labels["price->output"][1:] == ["220", "?"]
    value_label = root.find(f".//{SVG}g[@data-edge='price->output']/{SVG}text[@class='edge-value']")
    assert "font-size: 15.6px" in value_label.get("style")  # 13 px x 120 %
    # A leaf's name grows from its end, where its edge starts, written as the file's own size.
    leaf = root.find(f".//{SVG}g[@data-node='apple']/{SVG}text[@class='leaf-label']")
    assert leaf.text  # the name (the book's words in Japanese, once the "words" branch is in)
    assert "font-size: 15.6px" in leaf.get("style")
    assert leaf.get("text-anchor") == "end"
    style = root.find(f"{SVG}style").text
    for font in ["Hiragino Sans", "Yu Gothic", "Meiryo", "Noto Sans CJK JP"]:
        assert font in style

    # Rendered by Chromium as an image, the file alone: its size, a white corner, and ink.
    picture = page.context.new_page()
    data = base64.b64encode(text.encode("utf-8")).decode("ascii")
    source = f"data:image/svg+xml;base64,{data}"
    picture.set_content(f'<body style="margin:0;background:#888"><img id="slide" src="{source}">')
    image = picture.locator("#slide")
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [
        int(width),
        int(height),
    ]
    pixels = image.evaluate(
        """img => {
          const canvas = document.createElement('canvas');
          canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
          const context = canvas.getContext('2d');
          context.drawImage(img, 0, 0);
          const corner = [...context.getImageData(2, 2, 1, 1).data];
          const all = context.getImageData(0, 0, canvas.width, canvas.height).data;
          let ink = 0;
          for (let i = 0; i < all.length; i += 4) if (all[i] < 128 && all[i + 2] < 128) ink++;
          return { corner, ink };
        }"""
    )
    assert pixels["corner"] == [255, 255, 255, 255]
    assert pixels["ink"] > 500  # the labels, the nodes and the caption are drawn
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    image.screenshot(path=str(ARTIFACTS / "presentation-slide-ja.png"))
    picture.close()


def test_a_graph_wider_than_the_screen_follows_the_step(page: Page):
    """two_layer_net at 1024 px with labels of 16 px is wider than the screen: stepping to
    Softmax-with-Loss brings it into view, and back to the first Affine brings that back."""
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto("/#example=two_layer_net&step=1&present=1")
    expect(page.locator("#graph")).to_have_attribute("data-example", "two_layer_net")
    expect_presenting(page)
    area = page.locator("#graph").bounding_box()
    loss = page.locator('#graph [data-node="loss"]')

    def on_screen(node) -> bool:
        box = node.bounding_box()
        return area["x"] <= box["x"] and box["x"] + box["width"] <= area["x"] + area["width"]

    assert page.evaluate(SMALLEST_LABEL_PX) >= 16
    assert not on_screen(loss)  # too wide at this size: the right end is off the screen
    for _ in range(3):
        page.keyboard.press("PageDown")
    expect_step(page, 4)  # the forward step of the loss
    assert on_screen(loss)
    page.keyboard.press("Home")
    expect_step(page, 0)
    page.keyboard.press("PageDown")
    assert on_screen(page.locator('#graph [data-node="affine1"]'))
