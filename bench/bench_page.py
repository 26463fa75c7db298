"""Benchmark of the page in Chromium: how long from an edit to the redrawn graph, and how long a
300-node graph takes to appear. A script, not a test: it prints numbers and their ratio to the
targets (50 ms median per edit for the book's presets, 1 s first render for 300 nodes).

    python bench/bench_page.py [--edits 15] [--chromium /usr/bin/chromium]

An edit is timed inside the page: from setting a leaf's field and firing its "change" event,
through the POST /api/trace round trip and the update of the SVG, to the next painted frame.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path
from urllib.parse import quote

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from harness import CHROMIUM, CHROMIUM_ARGS, running_server  # noqa: E402

EDIT_TARGET_MS = 50.0
FIRST_RENDER_TARGET_MS = 1000.0


# Runs in the page: edit one field, wait for the graph's render counter to move, then for the
# frame that shows it. Returns milliseconds.
TIMED_EDIT_JS = """
async ({ index, value }) => {
  const graph = document.getElementById('graph');
  const fields = document.querySelectorAll('#inputs-panel input[type=text]');
  const field = fields[index];
  const before = Number(graph.dataset.renderCount);
  const t0 = performance.now();
  const rendered = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (Number(graph.dataset.renderCount) > before) { observer.disconnect(); resolve(); }
    });
    observer.observe(graph, { attributes: true, attributeFilter: ['data-render-count'] });
  });
  field.value = String(value);
  field.dispatchEvent(new Event('change', { bubbles: true }));
  await rendered;
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  return performance.now() - t0;
}
"""

FIRST_RENDER_JS = """
async () => {
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const mark = performance.getEntriesByName('graph-drawn')[0];
  return { drawnAt: mark ? mark.startTime : null, paintedAt: performance.now(),
           drawMs: Number(document.getElementById('graph').dataset.drawMs) };
}
"""


def generated_graph(n_leaves: int = 150, seed: int = 0) -> dict:
    """A 300-node graph: 150 leaves reduced pairwise by alternating + and x nodes (149 of
    them), then one sigmoid at the end. Values stay near 1 so nothing overflows."""
    rng = random.Random(seed)
    nodes = [
        {"id": f"x{i}", "op": "input", "value": round(rng.uniform(0.5, 1.5), 3)}
        for i in range(n_leaves)
    ]
    level = [n["id"] for n in nodes]
    count = 0
    while len(level) > 1:
        next_level = []
        for i in range(0, len(level) - 1, 2):
            op = "add" if count % 2 else "mul"
            node_id = f"{op}{count}"
            nodes.append({"id": node_id, "op": op, "inputs": [level[i], level[i + 1]]})
            next_level.append(node_id)
            count += 1
        if len(level) % 2:
            next_level.append(level[-1])
        level = next_level
    nodes.append({"id": "out", "op": "sigmoid", "inputs": [level[0]]})
    return {"nodes": nodes, "output": "out"}


def time_edits(page, edits: int) -> list[float]:
    """Alternates the first leaf between two values; two warm-up edits are not counted."""
    field = page.locator("#inputs-panel input[type=text]").first
    base = float(field.input_value() or 1)
    times = []
    for i in range(edits + 2):
        value = base * (1.01 if i % 2 == 0 else 1.0) + (0.5 if base == 0 else 0)
        ms = page.evaluate(TIMED_EDIT_JS, {"index": 0, "value": value})
        if i >= 2:
            times.append(ms)
    return times


def wait_for_graph(page) -> None:
    page.locator("#graph svg").wait_for()
    page.locator("#inputs-panel input[type=text]").first.wait_for()


def bench_presets(page, url: str, examples: list[str], edits: int) -> None:
    """Edit -> redrawn graph for each preset, at its last step."""
    print(f"edit -> redrawn graph, median of {edits} edits (target {EDIT_TARGET_MS:.0f} ms)")
    print(f"{'graph':<22}{'median ms':>10}{'p90 ms':>9}{'ratio':>8}")
    medians = []
    for example in examples:
        page.goto(f"{url}/#example={example}&step=9999")
        wait_for_graph(page)
        times = time_edits(page, edits)
        median = statistics.median(times)
        medians.append(median)
        p90 = sorted(times)[int(0.9 * (len(times) - 1))]
        print(f"{example:<22}{median:>10.1f}{p90:>9.1f}{median / EDIT_TARGET_MS:>8.2f}")
    overall = statistics.median(medians)
    print(f"{'all presets':<22}{overall:>10.1f}{'':>9}{overall / EDIT_TARGET_MS:>8.2f}")


def bench_generated(page, url: str, edits: int) -> None:
    """First render of a 300-node graph (three fresh loads), then edits on it."""
    graph = generated_graph()
    assert len(graph["nodes"]) == 300
    link = f"{url}/#graph={quote(json.dumps(graph, separators=(',', ':')))}&step=9999"
    loads = []
    for _ in range(3):
        page.goto("about:blank")
        page.goto(link)
        wait_for_graph(page)
        loads.append(page.evaluate(FIRST_RENDER_JS))
    drawn = statistics.median(load["drawnAt"] for load in loads)
    painted = statistics.median(load["paintedAt"] for load in loads)
    draw_ms = statistics.median(load["drawMs"] for load in loads)
    edit_ms = statistics.median(time_edits(page, edits))
    target = FIRST_RENDER_TARGET_MS
    print()
    print(f"300-node graph, median of 3 loads (target {target:.0f} ms for the first render)")
    print(f"  navigation -> graph drawn    {drawn:8.1f} ms   ratio {drawn / target:.2f}")
    print(f"  navigation -> frame painted  {painted:8.1f} ms   ratio {painted / target:.2f}")
    print(f"  of which layout + SVG build  {draw_ms:8.1f} ms")
    print(f"  edit -> redrawn, median      {edit_ms:8.1f} ms   (no target; presets aim at 50)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=21, help="timed edits per graph")
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args()

    with running_server() as url:
        examples = [e["id"] for e in httpx.get(f"{url}/api/examples").json()]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            bench_presets(page, url, examples, args.edits)
            bench_generated(page, url, args.edits)
            if errors:
                print("\nbrowser console errors:\n  " + "\n  ".join(errors))
            browser.close()


if __name__ == "__main__":
    main()
