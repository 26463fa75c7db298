"""An edit of a leaf's value, in a real Chromium, writes to the page only what shows its new
numbers: the texts on the graph, in the inspector and in the caption change in place, and no
other panel, no element and no attribute is written again with what it already holds (each such
write costs the edit's frame a style, layout and paint pass: bench/bench_page.py)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

# Runs in the page: edits the first leaf's field to `value` as the user commits it (change), and
# records every mutation of the document until the answer is drawn and two frames have passed.
# Returns one row per record: [type, the id of the nearest ancestor with one, attribute name,
# the value before, the value the record wrote (the next record's "before" or the final one),
# nodes added, nodes removed].
RECORDED_EDIT_JS = """
async (value) => {
  const graph = document.getElementById('graph');
  const before = Number(graph.dataset.renderCount);
  const records = [];
  const observer = new MutationObserver((list) => records.push(...list));
  observer.observe(document.documentElement, {
    subtree: true, childList: true, attributes: true, characterData: true,
    attributeOldValue: true, characterDataOldValue: true,
  });
  const field = document.querySelector('#inputs-panel input[type=text]');
  field.value = value;
  field.dispatchEvent(new Event('change', { bubbles: true }));
  while (Number(graph.dataset.renderCount) === before) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  for (let i = 0; i < 2; i++) {
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  }
  records.push(...observer.takeRecords());
  observer.disconnect();
  const area = (node) => {
    for (let n = node; n; n = n.parentNode) if (n.id) return n.id;
    return '(document)';
  };
  const current = (r) => r.type === 'attributes' ? r.target.getAttribute(r.attributeName)
    : r.type === 'characterData' ? r.target.data : null;
  return records.map((r, i) => {
    const later = records.slice(i + 1).find((s) => s.target === r.target && s.type === r.type
      && s.attributeName === r.attributeName);
    const written = later ? later.oldValue : current(r);
    return [r.type, area(r.target), r.attributeName, r.oldValue, written,
            r.addedNodes.length, r.removedNodes.length];
  });
}
"""


# The apple's value on the edge into "price of the apples".
APPLE_VALUE = '#graph [data-edge="apple->apple_price:0"] .edge-value'


def open_settled(page: Page, link: str) -> None:
    """Opens the link and waits until the page's start-up answers (the trace, the presets for
    the picker, the op catalogue for the inspector's source) are all on screen."""
    page.goto(link)
    expect(page.locator("#example-select")).to_have_value("apple")
    expect(page.locator("#inspector pre.source")).to_be_visible()
    expect(page.locator("#graph svg")).to_be_visible()


def recorded_edit(page: Page, value: str) -> list[list]:
    return page.evaluate(RECORDED_EDIT_JS, value)


def test_an_edit_changes_only_the_numbers_in_place(page: Page):
    open_settled(page, "/#example=apple&step=9999")
    expect(page.locator(APPLE_VALUE)).to_have_text("100")
    expect(page.locator("#step-caption")).to_contain_text("1.1 × 100 = 110")

    records = recorded_edit(page, "101")

    # The answer is on screen: the graph, the inspector and the caption show 101's numbers.
    expect(page.locator(APPLE_VALUE)).to_have_text("101")
    expect(page.locator("#inspector")).to_contain_text("101 × 2 = 202")
    expect(page.locator("#step-caption")).to_contain_text("1.1 × 101 = 111.1")
    texts = [r for r in records if r[0] == "characterData"]
    assert {r[4] for r in texts} >= {"101", "202", "222.2", "111.1"}, texts

    # Every text changed in place: no element or text node was added or removed anywhere.
    structural = [r for r in records if r[0] == "childList"]
    assert structural == [], structural
    # No write put back what was there.
    unchanged = [r for r in records if r[3] == r[4]]
    assert unchanged == [], unchanged
    # Only the graph, the inspector and the caption were touched; the panels that show nothing
    # new (inputs' errors, forward mode, paths, training, practice, messages) were left alone.
    assert {r[1] for r in records} == {"graph", "inspector", "step-caption"}, records


def test_an_edit_in_japanese_changes_only_the_numbers_in_place(page: Page):
    open_settled(page, "/#example=apple&step=9999&lang=ja")
    expect(page.locator("#step-caption")).to_contain_text("1.1 × 100 = 110")

    records = recorded_edit(page, "150")

    expect(page.locator("#step-caption")).to_contain_text("1.1 × 150 = 165")
    expect(page.locator(APPLE_VALUE)).to_have_text("150")
    assert [r for r in records if r[0] == "childList"] == []
    assert [r for r in records if r[3] == r[4]] == []
    assert {r[1] for r in records} == {"graph", "inspector", "step-caption"}, records


# Runs in the page: for each heatmap canvas in the inspector, [its key, how many of its pixels
# are painted (not transparent)].
HEATMAP_PIXELS_JS = """
() => [...document.querySelectorAll('#inspector figure.heatmap canvas')].map((canvas) => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
  return [canvas.dataset.key, painted, canvas.width * canvas.height];
})
"""


def test_an_edit_paints_the_heatmaps_it_changes_and_keeps_the_others(page: Page):
    page.goto("/#example=affine&step=9999")
    expect(page.locator("#inspector pre.source")).to_be_visible()
    before = page.evaluate(HEATMAP_PIXELS_JS)
    assert before and all(painted > 0 for _, painted, _ in before), before
    kept = page.evaluate(
        "() => { window.keptCanvases = [...document.querySelectorAll('#inspector canvas')]; }"
    )
    assert kept is None

    records = recorded_edit(page, "2")

    after = page.evaluate(HEATMAP_PIXELS_JS)
    assert len(after) == len(before)
    # Every canvas on the page is painted, the new ones too: a cell is drawn with a 1-px gap, so
    # about (cell - 1)^2 / cell^2 of the pixels (a blank canvas would have none).
    for key, painted, total in after:
        assert painted > total / 2, (key, painted, total)
    # A heatmap whose picture is the same is the very canvas that was there; one that changed
    # was replaced by a new one, painted.
    same = page.evaluate(
        "() => [...document.querySelectorAll('#inspector canvas')]"
        ".map((c, i) => c === window.keptCanvases[i])"
    )
    changed = [b[0] != a[0] for b, a in zip(before, after, strict=True)]
    assert same == [not c for c in changed], (same, changed)
    assert any(changed), "the edit should change at least one heatmap"
    assert records
