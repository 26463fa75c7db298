"""The Training panel (5.7.4) in a real Chromium: a run streamed live, its curves drawn, the
final accuracy in words, and a click on the loss curve that puts that iteration on the graph,
with the loss the curve has at that index."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

# A short run for the clicks: 300 iterations take well under 2 s and already reach 0.85 on
# digits (the default 10,000 take 3 to 30 s on this shared machine, see the last test).
SHORT_RUN = {
    "dataset": "digits",
    "hidden_size": 50,
    "learning_rate": 0.1,
    "batch_size": 100,
    "iters_num": 300,
    "seed": 0,
}
FINAL = re.compile(r"train accuracy (0\.\d{3}|1\.000), test accuracy (0\.\d{3}|1\.000)")


def run_of(server_url: str, settings: dict) -> dict:
    """The whole run as POST /api/train returns it for the same settings."""
    response = httpx.post(f"{server_url}/api/train", json=settings, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def train_in_page(page: Page, iterations: int) -> None:
    """Loads the page, keeps the book's other settings, trains and waits for the result."""
    page.goto("/")
    expect(page.locator("#graph svg")).to_be_visible()
    page.get_by_label("Iterations", exact=True).fill(str(iterations))
    # With the keyboard: Enter in a field of the form trains, as the Train button does.
    page.get_by_label("Iterations", exact=True).press("Enter")
    expect(page.locator("#training-final")).to_have_text(FINAL, timeout=60_000)


def loss_edge(page: Page):
    """The number written on the edge out of the loss node (the trace's loss)."""
    return page.locator('#graph [data-edge="loss->output"] .edge-value')


def inked_pixels(page: Page, selector: str) -> int:
    """How many pixels of the chart's canvas are drawn on (not transparent)."""
    return page.locator(selector).evaluate(
        """canvas => {
            const context = canvas.getContext('2d');
            const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
            let inked = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) inked++;
            return inked;
        }"""
    )


def test_training_draws_the_run_and_opens_a_clicked_iteration(page: Page, server_url: str):
    page.goto("/")
    # The book's settings (ch05/train_neuralnet.py) are filled in.
    for label, value in [
        ("Hidden size", "50"),
        ("Learning rate", "0.1"),
        ("Batch size", "100"),
        ("Iterations", "10000"),
        ("Seed", "0"),
    ]:
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
    expect(page.get_by_label("Dataset", exact=True)).to_have_value("digits")

    train_in_page(page, SHORT_RUN["iters_num"])
    run = run_of(server_url, SHORT_RUN)
    final = page.locator("#training-final").text_content()
    train_acc, test_acc = (float(x) for x in FINAL.search(final).groups())
    # The page shows the run the API gives for the same settings (same seed, same run).
    assert (train_acc, test_acc) == (
        round(run["final_train_acc"], 3),
        round(run["final_test_acc"], 3),
    )
    assert test_acc >= 0.8

    # The curves are drawn: every iteration on the loss curve, every epoch on the other.
    loss_curve = page.get_by_role("figure", name="Loss curve")
    expect(loss_curve.locator("canvas")).to_have_count(1)
    expect(page.locator("#training-loss")).to_have_attribute("data-points", "300")
    expect(page.locator("#training-accuracy")).to_have_attribute(
        "data-points", str(len(run["epochs"]))
    )
    assert inked_pixels(page, "#training-loss canvas") > 500
    # The test digits with the prediction and the label, as the result names them.
    captions = page.get_by_role("figure", name="Test digits").locator("figcaption")
    expected = [f"{s['prediction']} ({s['label']})" for s in run["test_samples"]]
    expect(captions.filter(has_text=re.compile(r"^\d \(\d\)$"))).to_have_text(expected)
    expect(page.get_by_role("figure", name="Hidden units").locator("canvas")).to_have_count(
        len(run["hidden_units"])
    )

    # A click in the middle of the loss curve: that iteration's trace is on the graph.
    over = page.locator("#training-loss .u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    shown = page.locator("#training-shown")
    expect(shown).to_have_text(re.compile(r"^On the graph: iteration \d+$"))
    k = int(shown.text_content().rsplit(" ", 1)[1])
    assert 100 < k < 299  # the middle of the curve, not an end
    expect(page.locator("#example-description")).to_contain_text(
        f"Iteration {k} of the training run"
    )
    # The loss node's value is the curve's loss at index k, to the last digit.
    page.get_by_label("Raw floats", exact=True).check()
    page.get_by_role("button", name="Last step", exact=True).click()
    expect(loss_edge(page)).to_have_text(repr(run["loss"][k]))
    expect(page.locator("#step-counter")).to_have_text(re.compile(r"^Step (\d+) / \1$"))

    # With the keyboard: an iteration typed and Enter; the player stays where it was.
    page.get_by_label("Iteration", exact=True).fill("7")
    page.get_by_label("Iteration", exact=True).press("Enter")
    expect(shown).to_have_text("On the graph: iteration 7")
    expect(loss_edge(page)).to_have_text(repr(run["loss"][7]))

    # Japanese labels.
    page.get_by_label("Language", exact=True).select_option("ja")
    expect(page.locator("#training-heading")).to_have_text("学習（5.7.4）")
    expect(page.get_by_role("button", name="Train", exact=True)).to_have_text("学習")
    expect(page.locator("#training-final")).to_have_text(
        f"訓練精度 {train_acc:.3f}、テスト精度 {test_acc:.3f}"
    )
    expect(shown).to_have_text("グラフに表示中：7 回目の学習")

    # The link remembers the iteration: a reload shows it again.
    expect(page).to_have_url(re.compile(r"training="))  # the link is written once idle
    page.reload()
    expect(page.locator("#example-description")).to_contain_text("学習の 7 回目")
    expect(loss_edge(page)).to_have_text(repr(run["loss"][7]))
    expect(page.get_by_label("Iterations", exact=True)).to_have_value("300")


def test_training_pause_resume_and_stop(page: Page, server_url: str):
    settings = {**SHORT_RUN, "iters_num": 1500}
    page.goto("/")
    page.get_by_label("Iterations", exact=True).fill("1500")
    page.get_by_role("button", name="Train", exact=True).click()
    status = page.locator("#training-status")
    expect(status).to_have_text(re.compile(r"^Training: iteration [1-9]\d* of 1500$"))
    page.get_by_role("button", name="Pause training", exact=True).click()
    expect(status).to_have_text(re.compile(r"^Paused at iteration \d+ of 1500$"))
    paused_at = int(status.text_content().split()[3])
    page.wait_for_timeout(300)  # nothing comes in while paused
    expect(page.locator("#training-loss")).to_have_attribute("data-points", str(paused_at))
    # Resume: the server trains again from the seed; the curve goes on to the same result.
    page.get_by_role("button", name="Resume training", exact=True).click()
    expect(page.locator("#training-final")).to_have_text(FINAL, timeout=60_000)
    expect(page.locator("#training-loss")).to_have_attribute("data-points", "1500")
    run = run_of(server_url, settings)
    expect(page.locator("#training-final")).to_contain_text(
        f"test accuracy {run['final_test_acc']:.3f}"
    )
    expect(page.get_by_role("button", name="Pause training", exact=True)).to_be_disabled()

    # Stop: a new run ends where it is, no result; its curve stays.
    page.get_by_label("Iterations", exact=True).fill("20000")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(status).to_have_text(re.compile(r"^Training: iteration [1-9]\d* of 20000$"))
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(status).to_have_text(re.compile(r"^Stopped at iteration \d+ of 20000$"))
    expect(page.locator("#training-final")).to_be_hidden()
    expect(page.get_by_role("button", name="Stop", exact=True)).to_be_disabled()


def test_training_bad_setting_gets_the_servers_message(page: Page, console_errors: list[str]):
    page.goto("/")
    # Larger than the 1437 training images: the browser's checks let it pass, the server names it.
    page.get_by_label("Batch size", exact=True).fill("5000")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.locator("#training-status")).to_contain_text("The server refused")
    expect(page.locator("#training-status")).to_contain_text("batch_size")
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
    # The refused stream (422) is the browser's console error this test provokes on purpose.
    console_errors[:] = [e for e in console_errors if "422" not in e and "EventSource" not in e]


def test_training_the_books_run_reaches_095(page: Page):
    """The default run (the book's settings, 10,000 iterations) reaches test accuracy 0.961 on
    digits: 3 to 9 s on this shared machine with one BLAS thread per worker (the served app's
    setting once the `speed` branch is in), about 30 s with OpenBLAS's default two."""
    page.goto("/")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.locator("#training-final")).to_have_text(FINAL, timeout=90_000)
    test_acc = float(FINAL.search(page.locator("#training-final").text_content()).group(2))
    assert test_acc >= 0.95
    expect(page.locator("#training-loss")).to_have_attribute("data-points", "10000")
