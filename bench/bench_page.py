"""Benchmark of the page in Chromium: how long from an edit to the redrawn graph, and how long a
300-node graph takes to appear. A script, not a test: it prints numbers and their ratio to the
targets (16 ms, one frame, median per edit over the book's presets; 1 s first render for 300
nodes), and presentation mode's first render beside the normal page's.

    python bench/bench_page.py [--edits 21] [--baseline REF] [--examples apple,relu]
                               [--chromium PATH] [--transport]

An edit is timed inside the page: from setting a leaf's field and firing its "change" event,
through the POST /api/trace round trip and the update of the SVG and the inspector, to the next
painted frame.

--baseline REF (a git commit, branch or tag) measures that version of the page too, on a second
server started from `git archive REF`, in a second page of the same browser, interleaved edit
by edit with this one (the order swapped on every edit). The machine is shared, so only figures
from the same run are compared; the ratio is this version's median over the baseline's.

--transport measures only where an edit's round trip goes in Chromium: each preset's trace (its
JSON bytes, taken once from the app) answered by one small Starlette app in this process, over
fetch (a POST, as the page sends it) and over a WebSocket message, interleaved, beside a Python
client's POST to the same app: the server's part and Chromium's part of the trip, apart.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from io import BytesIO
from pathlib import Path
from urllib.parse import quote

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from harness import CHROMIUM, CHROMIUM_ARGS, running_server  # noqa: E402

EDIT_TARGET_MS = 16.0
FIRST_RENDER_TARGET_MS = 1000.0


# Runs in the page: edit one field, wait for the graph's render counter to move, then for the
# frame that shows it (a requestAnimationFrame callback runs before the frame's style, layout and
# paint; a task queued from it runs after them). Returns [milliseconds in all, of which: from the
# edit to the POST /api/trace's start, the POST from its start to the end of its response
# (resource timing), from that end to
# the render (the page's JS: the answer read, the SVG and the panels updated), from the render to
# the painted frame (the wait for the next frame and its style, layout and paint)].
TIMED_EDIT_JS = """
async ({ index, value }) => {
  if (performance.getEntriesByType('resource').length > 200) performance.clearResourceTimings();
  const graph = document.getElementById('graph');
  const fields = document.querySelectorAll('#inputs-panel input[type=text]');
  const field = fields[index];
  const before = Number(graph.dataset.renderCount);
  const t0 = performance.now();
  let renderedAt = NaN;
  const rendered = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (Number(graph.dataset.renderCount) > before) {
        renderedAt = performance.now();
        observer.disconnect();
        resolve();
      }
    });
    observer.observe(graph, { attributes: true, attributeFilter: ['data-render-count'] });
  });
  field.value = String(value);
  field.dispatchEvent(new Event('change', { bubbles: true }));
  await rendered;
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const painted = performance.now();
  const request = performance.getEntriesByType('resource')
    .filter((e) => e.name.endsWith('/api/trace') && e.startTime >= t0).pop();
  return [painted - t0, request ? request.startTime - t0 : NaN,
          request ? request.responseEnd - request.startTime : NaN,
          request ? renderedAt - request.responseEnd : NaN, painted - renderedAt];
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


def edit_value(base: float, i: int) -> float:
    """The i-th value of the first leaf: alternately 1 % above its value and its value."""
    return base * (1.01 if i % 2 == 0 else 1.0) + (0.5 if base == 0 else 0)


def time_edits(page, edits: int) -> list[float]:
    """Alternates the first leaf between two values; two warm-up edits are not counted."""
    field = page.locator("#inputs-panel input[type=text]").first
    base = float(field.input_value() or 1)
    times = []
    for i in range(edits + 2):
        ms = page.evaluate(TIMED_EDIT_JS, {"index": 0, "value": edit_value(base, i)})[0]
        if i >= 2:
            times.append(ms)
    return times


def wait_for_graph(page) -> None:
    page.locator("#graph svg").wait_for()
    page.locator("#inputs-panel input[type=text]").first.wait_for()


def interleaved_edits(pages: dict, sides: dict[str, str], example: str, edits: int) -> dict:
    """Opens the preset at its last step on each side's page, then times edits edit by edit,
    one side after the other, the order swapped on every edit so neither always goes first."""
    base = None
    for side, page in pages.items():
        page.goto(f"{sides[side]}/#example={example}&step=9999")
        wait_for_graph(page)
        base = float(page.locator("#inputs-panel input[type=text]").first.input_value() or 1)
    times = {side: [] for side in pages}
    order = list(pages)
    for i in range(edits + 2):
        for side in order if i % 2 == 0 else order[::-1]:
            timing = pages[side].evaluate(TIMED_EDIT_JS, {"index": 0, "value": edit_value(base, i)})
            if i >= 2:  # two warm-up edits
                times[side].append(timing)
    return times


PART_WIDTHS = [("send", 6), ("trip", 6), ("js", 6), ("frame", 7)]


def median_of_known(values) -> float:
    """The median of the values that are numbers; NaN when none is (an edit that sent no
    POST /api/trace, e.g. one a baseline version answered another way, has none to split at)."""
    known = [v for v in values if not math.isnan(v)]
    return statistics.median(known) if known else math.nan


def bench_presets(pages: dict, sides: dict[str, str], examples: list[str], edits: int) -> None:
    """Edit -> redrawn graph for each preset at its last step, the sides interleaved. Beside
    each median, the medians of its parts: the POST /api/trace round trip (the network and the
    server), the page's JS after the answer, and the frame (its wait and its paint), so what the
    page itself spends shows apart from what it waits for."""
    names = list(sides)
    print(f"edit -> redrawn graph, median of {edits} edits (target {EDIT_TARGET_MS:.0f} ms)")
    print("  (ms; 'send': from the edit to the POST /api/trace's start; 'trip': from there to its")
    print("  response's end; 'js': from there to the graph's render; 'frame': from the render to")
    print("  the painted frame)")
    part_header = "".join(f"{part:>{w}}" for part, w in PART_WIDTHS)
    header = "".join(f"{name:>12}{'p90':>7}{part_header}" for name in names)
    print(f"{'graph':<20}{header}{'ratio to target':>17}")
    medians = {side: [] for side in names}
    parts = {side: {part: [] for part, _ in PART_WIDTHS} for side in names}
    for example in examples:
        times = interleaved_edits(pages, sides, example, edits)
        cells = ""
        for side in names:
            totals = sorted(timing[0] for timing in times[side])
            medians[side].append(statistics.median(totals))
            for i, (part, _) in enumerate(PART_WIDTHS, start=1):
                parts[side][part].append(median_of_known(timing[i] for timing in times[side]))
            p90 = totals[int(0.9 * (len(totals) - 1))]
            cells += f"{medians[side][-1]:>12.1f}{p90:>7.1f}" + "".join(
                f"{parts[side][part][-1]:>{w}.1f}" for part, w in PART_WIDTHS
            )
        print(f"{example:<20}{cells}{medians[names[0]][-1] / EDIT_TARGET_MS:>17.2f}", flush=True)
    overall = {side: statistics.median(medians[side]) for side in names}
    cells = "".join(
        f"{overall[side]:>12.1f}{'':>7}"
        + "".join(f"{median_of_known(parts[side][part]):>{w}.1f}" for part, w in PART_WIDTHS)
        for side in names
    )
    print(f"{'median of presets':<20}{cells}{overall[names[0]] / EDIT_TARGET_MS:>17.2f}")
    if len(names) == 2:
        print(f"this version / {names[1]}: {overall[names[0]] / overall[names[1]]:.2f}")


# Runs in the page: the Presentation button pressed, to the painted frame of the full-screen
# layout (the graph fitted anew); then the mode left again.
ENTER_PRESENTATION_JS = """
async () => {
  const t0 = performance.now();
  document.getElementById('present-button').click();
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const entered = performance.now() - t0;
  document.getElementById('present-exit').click();
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  return entered;
}
"""


def bench_presentation(page, url: str, examples: list[str], loads: int = 3) -> None:
    """Presentation mode's first render: each preset opened with present=1 and without it,
    alternately, `loads` times each (navigation -> frame painted, medians); then the button
    pressed on the normal page -> the full-screen layout painted."""
    print()
    print(f"presentation mode, first render at 1280x800, median of {loads} loads per preset")
    print("  (ms: navigation -> frame painted; 'enter': the Presentation button -> painted)")
    print(f"{'graph':<20}{'normal':>9}{'present':>9}{'ratio':>7}{'enter':>8}")
    normals, presents, enters = [], [], []
    for example in examples:
        painted = {"normal": [], "present": []}
        for i in range(loads):
            for mode in ("normal", "present") if i % 2 == 0 else ("present", "normal"):
                page.goto("about:blank")
                suffix = "&present=1" if mode == "present" else ""
                page.goto(f"{url}/#example={example}&step=9999{suffix}")
                # The inputs panel is hidden in the mode: the graph of that example is the sign.
                page.locator(f'#graph[data-example="{example}"] svg').wait_for()
                painted[mode].append(page.evaluate(FIRST_RENDER_JS)["paintedAt"])
        enter = statistics.median(page.evaluate(ENTER_PRESENTATION_JS) for _ in range(loads))
        normal = statistics.median(painted["normal"])
        present = statistics.median(painted["present"])
        normals.append(normal)
        presents.append(present)
        enters.append(enter)
        cells = f"{normal:>9.1f}{present:>9.1f}{present / normal:>7.2f}{enter:>8.1f}"
        print(f"{example:<20}{cells}", flush=True)
    normal, present = statistics.median(normals), statistics.median(presents)
    print(
        f"{'median of presets':<20}{normal:>9.1f}{present:>9.1f}{present / normal:>7.2f}"
        f"{statistics.median(enters):>8.1f}   (target {FIRST_RENDER_TARGET_MS:.0f} ms: ratio "
        f"{present / FIRST_RENDER_TARGET_MS:.2f})"
    )


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
    print(f"  edit -> redrawn, median      {edit_ms:8.1f} ms   (no target; presets aim at 16)")


@contextmanager
def baseline_package(ref: str) -> Iterator[Path]:
    """A folder from which `import backprop_viz` imports the page and the server as they were at
    the git ref: the ref's tree unpacked, and a link named backprop_viz to its app/ folder."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        tree = Path(tmp) / "tree"
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tree, filter="data")
        package_dir = Path(tmp) / "path"
        package_dir.mkdir()
        (package_dir / "backprop_viz").symlink_to(tree / "app", target_is_directory=True)
        yield package_dir


# The page of the transport bench: the same bytes over a POST and over a WebSocket message.
TRANSPORT_PAGE = """<!doctype html><meta charset="utf-8"><title>transport</title><script>
const socket = new WebSocket('ws://' + location.host + '/socket');
window.socketOpen = new Promise((resolve) => { socket.onopen = resolve; });
let answer = null;
socket.onmessage = (event) => answer(JSON.parse(event.data));
window.viaSocket = (example) => new Promise((resolve) => {
  answer = resolve;
  socket.send(JSON.stringify({ example }));
});
window.viaFetch = async (example) => {
  const response = await fetch('/trace', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ example }),
  });
  return response.json();
};
</script>"""

# Runs in that page: one round trip, from the send to the parsed answer, in ms.
TRANSPORT_TRIP_JS = """
async ({ how, example }) => {
  await window.socketOpen;
  const t0 = performance.now();
  await (how === 'socket' ? window.viaSocket(example) : window.viaFetch(example));
  return performance.now() - t0;
}
"""


@contextmanager
def transport_server(bodies: dict[str, bytes]) -> Iterator[str]:
    """A Starlette app on uvicorn in a thread of this process: GET / the page above, POST /trace
    and WebSocket /socket answering {"example": id} with that preset's trace bytes. No
    per-message compression (the app's answers are sent as they are over HTTP too)."""
    import threading
    import time

    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, Response
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocketDisconnect

    texts = {example: body.decode() for example, body in bodies.items()}

    async def page(request):
        return HTMLResponse(TRANSPORT_PAGE)

    async def trace(request):
        return Response(bodies[(await request.json())["example"]], media_type="application/json")

    async def socket(websocket):
        await websocket.accept()
        try:
            while True:
                example = json.loads(await websocket.receive_text())["example"]
                await websocket.send_text(texts[example])
        except WebSocketDisconnect:
            pass

    routes = [Route("/", page), Route("/trace", trace, methods=["POST"])]
    app = Starlette(routes=[*routes, WebSocketRoute("/socket", socket)])
    from harness import free_port

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws_per_message_deflate=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def bench_transport(browser, url: str, examples: list[str], trips: int) -> None:
    """Each preset's answer over fetch, over a WebSocket and from Python's httpx, interleaved
    (the order turned on every round), with a pause of 5-20 ms between trips as between edits."""
    bodies = {}
    for example in examples:
        bodies[example] = httpx.post(f"{url}/api/trace", json={"example": example}).content
    hows = ["fetch", "socket", "httpx"]
    print(f"round trip of each preset's answer, median of {trips} (ms; same bytes, same server)")
    print(f"{'graph':<20}{'KB':>8}{'fetch':>8}{'socket':>8}{'httpx':>8}{'fetch - socket':>16}")
    gaps = []
    with transport_server(bodies) as bare, httpx.Client() as client:
        page = browser.new_page()
        page.goto(bare)
        rng = random.Random(0)
        for example in examples:
            times = {how: [] for how in hows}
            for i in range(trips + 2):
                for how in hows if i % 2 == 0 else hows[::-1]:
                    if how == "httpx":
                        started = time.perf_counter()
                        client.post(f"{bare}/trace", json={"example": example}).raise_for_status()
                        ms = (time.perf_counter() - started) * 1000
                    else:
                        ms = page.evaluate(TRANSPORT_TRIP_JS, {"how": how, "example": example})
                    if i >= 2:
                        times[how].append(ms)
                    time.sleep(rng.uniform(0.005, 0.02))
            m = {how: statistics.median(times[how]) for how in hows}
            gaps.append(m["fetch"] - m["socket"])
            print(
                f"{example:<20}{len(bodies[example]) / 1000:>8.1f}"
                + "".join(f"{m[how]:>8.2f}" for how in hows)
                + f"{m['fetch'] - m['socket']:>16.2f}",
                flush=True,
            )
        page.close()
    print(f"{'median of presets':<20}{'':>32}{statistics.median(gaps):>16.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=21, help="timed edits per graph and side")
    parser.add_argument("--baseline", help="a git ref to measure too, interleaved (e.g. main)")
    parser.add_argument("--chromium", default=CHROMIUM)
    parser.add_argument("--examples", help="comma-separated preset ids (default: all)")
    parser.add_argument(
        "--transport",
        action="store_true",
        help="only the round trip of each preset's answer over fetch and over a WebSocket",
    )
    args = parser.parse_args()

    with ExitStack() as stack:
        sides = {"this": stack.enter_context(running_server())}
        if args.baseline:
            path = stack.enter_context(baseline_package(args.baseline))
            sides[args.baseline] = stack.enter_context(running_server(path))
        url = sides["this"]
        examples = [e["id"] for e in httpx.get(f"{url}/api/examples").json()]
        if args.examples:
            examples = [e for e in examples if e in args.examples.split(",")]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            errors: list[str] = []
            if args.transport:
                bench_transport(browser, url, examples, args.edits)
                browser.close()
                return
            pages = {}
            for side in sides:
                pages[side] = browser.new_page(viewport={"width": 1280, "height": 800})
                pages[side].on(
                    "console", lambda m: errors.append(m.text) if m.type == "error" else None
                )
            bench_presets(pages, sides, examples, args.edits)
            bench_generated(pages["this"], url, args.edits)
            bench_presentation(pages["this"], url, examples)
            if errors:
                print("\nbrowser console errors:\n  " + "\n  ".join(errors))
            browser.close()


if __name__ == "__main__":
    main()
