"""The book's words on the page, in a real Chromium: the presets' names in Japanese and English
(リンゴ, 消費税; number of apples), each step's caption as a sentence in the book's terms with its
numbers, the summary of what the gradients mean at the last step, ReLU's mask drawn on its node
with the elements it blocks, and no edge drawn across another edge's or node's label."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def open_at(page: Page, example: str, step: int, lang: str = "en") -> None:
    page.goto(f"/#example={example}&lang={lang}&step={step}")
    expect(page.locator("#graph")).to_have_attribute("data-example", example)
    counter = r"(\d+) / \1$" if step >= 99 else rf"{step} /"
    expect(page.locator("#step-counter")).to_have_text(re.compile(rf"(?:Step|ステップ) {counter}"))


def leaf_label(page: Page, node: str):
    return page.locator(f'#graph [data-node="{node}"] .leaf-label')


def test_japanese_apple_shows_the_books_names_and_english_its_own(page: Page):
    open_at(page, "apple", 0, "ja")
    expect(leaf_label(page, "apple")).to_have_text("リンゴ")
    expect(leaf_label(page, "apple_num")).to_have_text("リンゴの個数")
    expect(leaf_label(page, "tax")).to_have_text("消費税")
    # The language switch redraws the names; ids, the API and the accessible names stay.
    page.get_by_label("Language", exact=True).select_option("en")
    expect(leaf_label(page, "apple_num")).to_have_text("number of apples")
    expect(leaf_label(page, "tax")).to_have_text("tax")
    expect(page.get_by_label("apple", exact=True)).to_have_value("100")
    page.locator('#graph [data-node="price"]').click()
    expect(page.locator("#inspector .inspector-title")).to_have_text("price to pay")
    expect(page.locator("#inspector .meta")).to_contain_text("multiply layer (MulLayer)")


def test_japanese_apple_orange_names_the_oranges_and_the_layers(page: Page):
    open_at(page, "apple_orange", 0, "ja")
    expect(leaf_label(page, "orange")).to_have_text("みかん")
    expect(leaf_label(page, "orange_num")).to_have_text("みかんの個数")
    page.locator('#graph [data-node="all_price"]').click()
    expect(page.locator("#inspector .inspector-title")).to_have_text("合計金額")
    expect(page.locator("#inspector .meta")).to_contain_text("加算レイヤ (AddLayer)")
    page.locator('#graph [data-node="price"]').click()
    expect(page.locator("#inspector .meta")).to_contain_text("乗算レイヤ (MulLayer)")


def test_japanese_captions_tell_each_step_in_the_books_terms(page: Page):
    caption = page.locator("#step-caption")
    open_at(page, "apple", 1, "ja")
    expect(caption).to_have_text(
        "順伝播：乗算ノードで リンゴ × リンゴの個数 = 100 × 2 = 200 を計算し、"
        "リンゴの金額として次のノードへ流します。"
    )
    page.keyboard.press("ArrowRight")
    expect(caption).to_contain_text("支払金額として出力します")
    page.keyboard.press("ArrowRight")
    expect(caption).to_have_text(
        "逆伝播（支払金額）：乗算ノードの逆伝播は、上流の値 1 に入力を「ひっくり返した」値を掛けて"
        "下流へ流します：リンゴの金額へ 1 × 1.1 = 1.1、消費税へ 1 × 200 = 200。"
    )
    # The last step: its sentence, then what the gradients mean, with the book's 2.2 yen.
    page.keyboard.press("ArrowRight")
    expect(caption).to_contain_text("リンゴへ 1.1 × 2 = 2.2、リンゴの個数へ 1.1 × 100 = 110")
    summary = caption.locator(".caption-summary")
    expect(summary).to_have_text(
        "まとめ：リンゴの値段が1円上がると、支払金額は2.2円増えます。"
        "リンゴの個数が1個増えると、支払金額は110円増えます。"
        "消費税が0.01（1%）上がると、支払金額は2円増えます。"
    )
    # One step back, no summary.
    page.keyboard.press("ArrowLeft")
    expect(summary).to_have_count(0)


def test_japanese_captions_of_the_add_node_the_fork_and_a_formula(page: Page):
    caption = page.locator("#step-caption")
    open_at(page, "apple_orange", 6, "ja")
    expect(caption).to_have_text(
        "逆伝播（合計金額）：加算ノードは、上流の値 1.1 をそのまま下流へ流します"
        "（局所的な微分は1）：リンゴの金額へ 1.1、みかんの金額へ 1.1。"
    )
    open_at(page, "olah_fork", 7, "ja")
    expect(caption).to_contain_text("各経路から戻ってきた勾配を足し合わせます：2 + 3 = 5。")
    expect(caption.locator(".caption-summary")).to_have_text(
        "まとめ：aが少し増えると、eはその約2倍だけ増えます。bが少し増えると、eはその約5倍だけ増えます。"
    )
    open_at(page, "sigmoid", 2, "ja")
    expect(caption).to_contain_text(
        "Sigmoidレイヤの局所的な微分は y(1 − y) = 0.196612。連鎖律により"
    )


def test_english_captions_and_the_summary_in_yen(page: Page):
    caption = page.locator("#step-caption")
    open_at(page, "apple", 1)
    expect(caption).to_have_text(
        "Forward: the multiply node computes price of the apples = apple × number of apples "
        "= 100 × 2 = 200 and passes it on to the next node."
    )
    open_at(page, "apple", 4)
    expect(caption).to_contain_text(
        "Backward through price of the apples: a multiply node multiplies the upstream value "
        "1.1 by the inputs swapped"
    )
    expect(caption.locator(".caption-summary")).to_contain_text(
        "If the price of an apple goes up by 1 yen, the price to pay goes up by 2.2 yen."
    )
    # The upstream gradient 1.3 of the book's figures: the gradients now measure 1.3 × the
    # price to pay, so the summary says that instead of yen (2.86 = 1.3 × 2.2).
    upstream = page.get_by_label("Upstream gradient", exact=True)
    upstream.fill("1.3")
    upstream.press("Enter")
    expect(caption).to_contain_text("apple gets 1.43 × 2 = 2.86")
    expect(caption.locator(".caption-summary")).to_contain_text(
        "If apple grows a little, 1.3 × price to pay grows by about 2.86 times as much."
    )
    expect(caption.locator(".caption-summary")).not_to_contain_text("yen")
    # 5.6.2: the batch Affine sends dB, dout summed over the batch, [1 + 4, 2 + 5, 3 + 6].
    open_at(page, "affine_batch", 2)
    expect(caption).to_contain_text("the sum of ∂L/∂Y over the batch")
    expect(caption).to_contain_text("B gets [5, 7, 9]")
    open_at(page, "softmax_with_loss", 2)
    expect(caption).to_contain_text("(y − t) / N")
    expect(caption).to_contain_text("[0.3, -0.8, 0.5], flows to a")


def test_relu_draws_its_mask_and_blocks_the_upstream_gradient_there(page: Page):
    open_at(page, "relu", 0)
    grid = page.locator('#graph [data-node="y"] .relu-mask-grid')
    expect(grid).to_be_hidden()  # the mask is made by the forward pass
    # The upstream gradient is an array here: no scalar field that would claim it is 1.
    expect(page.get_by_label("Upstream gradient", exact=True)).to_be_hidden()
    page.keyboard.press("ArrowRight")
    expect(grid).to_be_visible()
    cells = grid.locator(".mask-cell")
    expect(cells).to_have_count(4)
    # x = [[1.0, -0.5], [-2.0, 3.0]]: the book's mask [[False, True], [True, False]].
    expect(grid.locator(".mask-cell.masked")).to_have_count(2)
    expect(grid.locator('.mask-cell[data-index="0,1"]')).to_have_class(re.compile(r"\bmasked\b"))
    expect(grid.locator('.mask-cell[data-index="1,0"]')).to_have_class(re.compile(r"\bmasked\b"))
    expect(grid.locator('[data-blocked="true"]')).to_have_count(0)
    expect(grid.locator(".mask-cross").first).to_be_hidden()
    # Backward: the preset's dout [[1.3, 0.8], [0.5, 2]] is blocked where the mask is True.
    page.keyboard.press("ArrowRight")
    expect(grid.locator('[data-blocked="true"]')).to_have_count(2)
    expect(grid.locator('.mask-cell[data-index="0,1"] .mask-cross')).to_be_visible()
    expect(grid.locator('.mask-cell[data-index="0,0"] .mask-cross')).to_be_hidden()
    expect(page.locator('#graph [data-edge="y->output"] .edge-grad')).to_have_text(
        "[[1.3, 0.8], [0.5, 2]]"
    )
    expect(page.locator('#graph [data-edge="x->y:0"] .edge-grad')).to_have_text(
        "[[1.3, 0], [0, 2]]"
    )
    expect(page.locator("#step-caption")).to_contain_text(
        "[[1.3, 0.8], [0.5, 2]] becomes [[1.3, 0], [0, 2]] for x"
    )
    # An edit of x moves the mask with it, no re-layout.
    page.get_by_label("x[0,1]", exact=True).fill("2")
    page.get_by_label("x[0,1]", exact=True).press("Enter")
    expect(grid.locator('[data-blocked="true"]')).to_have_count(1)
    expect(page.locator('#graph [data-edge="x->y:0"] .edge-grad')).to_have_text(
        "[[1.3, 0.8], [0, 2]]"
    )


# Every edge's drawn segments (screen coordinates) and every label's box; a segment that enters
# a label is a crossing: another edge's numbers, a node's name or a fork's sum, and its own
# numbers too (the line runs between its value above and its gradient below, never through).
CROSSINGS = """() => {
  const svg = document.querySelector('#graph svg');
  const labels = [];
  const selector = '.edge-value, .edge-grad, .edge-shape, .leaf-label, .node-grad, '
    + '.relu-mask-grid.shown';
  for (const el of svg.querySelectorAll(selector)) {
    if (el.matches('text') && !el.textContent.trim()) continue;
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    const owner = el.closest('[data-edge]');
    labels.push({ text: el.textContent || 'mask', edge: owner ? owner.dataset.edge : null,
      node: el.closest('[data-node]')?.dataset.node ?? null, r });
  }
  const hits = (a, b, r) => {
    // Liang-Barsky: does the segment a-b enter the rectangle (shrunk by 1 px: touching is fine)?
    const x0 = r.left + 1, x1 = r.right - 1, y0 = r.top + 1, y1 = r.bottom - 1;
    let t0 = 0, t1 = 1;
    const dx = b.x - a.x, dy = b.y - a.y;
    for (const [p, q] of [[-dx, a.x - x0], [dx, x1 - a.x], [-dy, a.y - y0], [dy, y1 - a.y]]) {
      if (p === 0) { if (q < 0) return false; continue; }
      const t = q / p;
      if (p < 0) { if (t > t1) return false; if (t > t0) t0 = t; }
      else { if (t < t0) return false; if (t < t1) t1 = t; }
    }
    return t0 <= t1;
  };
  const found = [];
  for (const group of svg.querySelectorAll('.edge')) {
    const line = group.querySelector('.line');
    const m = line.getScreenCTM();
    const points = line.getAttribute('d').slice(1).split(' L').map((pair) => {
      const [x, y] = pair.split(',').map(Number);
      return new DOMPoint(x, y).matrixTransform(m);
    });
    const id = group.dataset.edge;
    const [source, rest] = id.split('->');
    const target = rest.split(':')[0];
    for (const label of labels) {
      // The edge leaves its source's name and enters its target: those ends belong to it.
      if (label.node === source || label.node === target) continue;
      for (let i = 1; i < points.length; i++) {
        if (hits(points[i - 1], points[i], label.r)) {
          found.push(`${id} crosses "${label.text}" (${label.edge || label.node})`);
          break;
        }
      }
    }
  }
  return found;
}"""


@pytest.mark.parametrize("example", ["apple", "apple_orange", "affine", "two_layer_net", "relu"])
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_no_edge_crosses_a_label(page: Page, example, lang):
    page.set_viewport_size({"width": 1280, "height": 800})
    open_at(page, example, 99 if example != "relu" else 2, lang)
    expect(page.locator("#graph svg")).to_be_visible()
    page.wait_for_timeout(200)  # the fit after the layout settles
    assert page.evaluate(CROSSINGS) == []
