"""The training API: GET /api/datasets, POST /api/train, and GET /api/train/stream read by a
real client (ordered events, a result equal to POST /api/train; against a live server, a
disconnect stops the run and frees its slot); 429 past the cap; 422 for every bad setting."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from test_datasets import fake_mnist, write_idx
from training_errors import error_field

from backprop_viz.settings import Settings
from backprop_viz.training.datasets import load_dataset
from backprop_viz.training.loop import finite_json, train
from backprop_viz.training.settings import TrainingLimits, TrainSettings
from backprop_viz.web.app import create_app
from backprop_viz.web.training import RunSlots, TrainingState

SMALL = {"iters_num": 120, "seed": 2}
TIMING = ("seconds", "iterations_per_second")


def make_app(**limits):
    app = create_app(Settings())
    limits = TrainingLimits(**limits)
    app.state.training = TrainingState(limits, RunSlots(limits.max_streams))
    return app


@pytest.fixture
def client() -> TestClient:
    return TestClient(make_app())


def parse_events(text: str) -> list[tuple[str, dict]]:
    """Server-Sent Events as (event, data) pairs, as a browser's EventSource splits them."""
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def without_timing(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in TIMING}


def test_datasets_lists_digits_with_its_sizes_and_mnist_as_absent(client):
    r = client.get("/api/datasets")
    assert r.status_code == 200
    listed = {d["name"]: d for d in r.json()}
    digits = listed["digits"]
    assert digits["available"] is True
    assert (digits["train_size"], digits["test_size"], digits["input_size"]) == (1437, 360, 64)
    assert digits["image_shape"] == [8, 8] and digits["classes"] == 10
    assert listed["mnist"]["available"] is False
    assert "BPV_MNIST_DIR" in listed["mnist"]["note"]


def test_datasets_and_training_on_mnist_from_the_servers_folder(tmp_path):
    write_idx(tmp_path, fake_mnist(train=30, test=10), gz=True)
    client = TestClient(make_app(mnist_dir=str(tmp_path)))
    listed = {d["name"]: d for d in client.get("/api/datasets").json()}
    assert listed["mnist"]["available"] and listed["mnist"]["train_size"] == 30
    r = client.post("/api/train", json={"dataset": "mnist", "iters_num": 5, "batch_size": 10})
    assert r.status_code == 200, r.text
    assert r.json()["dataset"]["input_size"] == 784 and len(r.json()["loss"]) == 5
    assert np.array(r.json()["hidden_units"]).shape == (8, 28, 28)


def test_train_returns_the_whole_run(client):
    r = client.post("/api/train", json=SMALL)
    assert r.status_code == 200, r.text
    body = r.json()
    expected = train(TrainSettings(**SMALL), load_dataset("digits"))
    assert body["loss"] == expected["loss"]
    assert len(body["loss"]) == 120
    assert body["epochs"] == expected["epochs"]
    assert body["train_acc"] == [e["train_acc"] for e in body["epochs"]]
    assert body["final_test_acc"] == expected["final_test_acc"]
    assert body["seconds"] > 0 and body["iterations_per_second"] > 0
    assert body["weights"]["W1"]["shape"] == [64, 50]
    assert body["settings"]["learning_rate"] == 0.1  # the book's default


def test_stream_sends_ordered_events_ending_with_the_result_of_post_train(client):
    with client.stream("GET", "/api/train/stream", params=SMALL) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache"
        events = parse_events(r.read().decode())
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-1] == "result"
    assert names.count("result") == 1 and "progress" in names
    assert events[0][1]["iter_per_epoch"] == 14
    # Progress events cover the iterations in order, each starting where the last ended.
    losses, next_start, last_progress = [], 0, -1
    for name, data in events:
        if name == "progress":
            assert data["start"] == next_start
            assert data["iteration"] == data["start"] + len(data["loss"]) - 1
            losses += data["loss"]
            next_start, last_progress = data["iteration"] + 1, data["iteration"]
        elif name == "epoch":
            assert data["iteration"] <= last_progress  # reported after its iteration ran
    epochs = [data for name, data in events if name == "epoch"]
    assert [e["iteration"] for e in epochs] == list(range(0, 120, 14))
    result = events[-1][1]
    assert losses == result["loss"]
    assert result["epochs"] == epochs
    posted = client.post("/api/train", json=SMALL).json()
    assert without_timing(result) == without_timing(posted)


def test_stream_sends_pictures_of_the_hidden_units_and_test_digits(client):
    with client.stream("GET", "/api/train/stream", params={"iters_num": 30}) as r:
        events = parse_events(r.read().decode())
    snapshots = [d for n, d in events if n == "progress" and "hidden_units" in d]
    assert snapshots and np.array(snapshots[0]["hidden_units"]).shape == (8, 8, 8)
    # The last progress event shows the final weights, as the result does.
    last = [d for n, d in events if n == "progress"][-1]
    assert last["hidden_units"] == events[-1][1]["hidden_units"]
    assert last["test_samples"] == events[-1][1]["test_samples"]
    assert {"image", "label", "prediction"} <= set(last["test_samples"][0])


BAD_SETTINGS = [
    ({"learning_rate": 0}, "learning_rate"),
    ({"learning_rate": -0.1}, "learning_rate"),
    ({"learning_rate": "fast"}, "learning_rate"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 1438}, "batch_size"),  # digits has 1437 training images
    ({"iters_num": 0}, "iters_num"),
    ({"iters_num": 20_001}, "iters_num"),  # the limit is 20,000
    ({"hidden_size": 0}, "hidden_size"),
    ({"hidden_size": 1001}, "hidden_size"),
    ({"weight_init_std": 0}, "weight_init_std"),
    ({"seed": -1}, "seed"),
    ({"dataset": "cifar10"}, "dataset"),
    ({"dataset": "mnist"}, "dataset"),  # no BPV_MNIST_DIR on this server
    ({"gradient": "adam"}, "gradient"),
    ({"gradient": "numerical"}, "hidden_size"),  # 50 hidden units is too many for it
    ({"gradient": "numerical", "hidden_size": 5, "iters_num": 101}, "iters_num"),
    ({"iters_num": 20_000, "batch_size": 1000, "hidden_size": 1000}, "iters_num"),  # work
    ({"momentum": 0.9}, "momentum"),
]


@pytest.mark.parametrize("bad, field", BAD_SETTINGS, ids=[str(b) for b, _ in BAD_SETTINGS])
def test_bad_setting_is_a_422_naming_the_field_in_post_and_stream(client, bad, field):
    r = client.post("/api/train", json={**SMALL, **bad})
    assert r.status_code == 422, r.text
    assert error_field(r.json()) == field, r.text
    r = client.get("/api/train/stream", params={**SMALL, **bad})
    assert r.status_code == 422, r.text
    assert error_field(r.json()) == field, r.text


def test_messages_of_bad_settings_say_what_is_wrong(client):
    r = client.post("/api/train", json={"batch_size": 1438})
    assert r.json()["detail"] == (
        "batch_size: 1438 is larger than the 1437 training samples of 'digits'"
    )
    r = client.post("/api/train", json={"iters_num": 20_001})
    assert "more than the limit of 20000 (BPV_TRAIN_MAX_ITERS)" in r.json()["detail"]
    r = client.post("/api/train", json={"dataset": "mnist"})
    assert "set BPV_MNIST_DIR" in r.json()["detail"]


def test_just_under_the_limits_trains(client):
    app = make_app(max_iters=40, numerical_max_iters=2)
    client = TestClient(app)
    assert client.post("/api/train", json={"iters_num": 40}).status_code == 200
    assert client.post("/api/train", json={"iters_num": 41}).status_code == 422
    numerical = {"gradient": "numerical", "hidden_size": 10, "iters_num": 2, "batch_size": 5}
    r = client.post("/api/train", json=numerical)  # 10 hidden: 760 parameters, under 1000
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["gradient"] == "numerical"
    assert client.post("/api/train", json={**numerical, "hidden_size": 11}).status_code == 422


def test_a_run_past_the_cap_of_runs_per_worker_is_a_429(client):
    app = make_app(max_streams=1)
    client = TestClient(app)
    app.state.training.slots.acquire()  # a run in progress
    r = client.get("/api/train/stream", params=SMALL)
    assert r.status_code == 429
    assert "already running 1 training run (BPV_TRAIN_MAX_STREAMS)" in r.json()["detail"]
    assert client.post("/api/train", json=SMALL).status_code == 429
    app.state.training.slots.release()
    assert client.post("/api/train", json=SMALL).status_code == 200
    with client.stream("GET", "/api/train/stream", params=SMALL) as r:
        assert r.status_code == 200
        r.read()
    assert app.state.training.slots.in_use == 0


def test_finite_json_writes_non_finite_numbers_as_the_api_does():
    assert finite_json({"loss": [1.5, float("nan"), float("inf")], "n": 3}) == {
        "loss": [1.5, "NaN", "Infinity"],
        "n": 3,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server(app) -> Iterator[str]:
    """uvicorn serving ``app`` on 127.0.0.1 in a thread, so the test can see the app's state."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def wait_for(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_disconnecting_stops_the_run_and_frees_its_slot():
    app = make_app(max_streams=1)
    state = app.state.training
    long_run = {"iters_num": 20_000}  # many seconds of work
    with live_server(app) as url, httpx.Client(base_url=url, timeout=20) as http:
        with http.stream("GET", "/api/train/stream", params=long_run) as r:
            assert r.status_code == 200
            lines = r.iter_lines()
            assert next(lines) == "event: start"
            assert any(line == "event: progress" for line in lines)
            # While this run streams, the worker has no slot for another.
            busy = http.get("/api/train/stream", params=long_run)
            assert busy.status_code == 429
        # The client has gone: the run must stop within a slice, not train to the end.
        wait_for(lambda: len(state.streams) == 1)
        ended = state.streams[0]
        assert ended["completed"] is False
        assert 0 < ended["iterations"] < 20_000
        assert state.slots.in_use == 0
        with http.stream("GET", "/api/train/stream", params={"iters_num": 20}) as r:
            assert r.status_code == 200
            events = parse_events(r.read().decode())
        assert events[-1][0] == "result" and len(events[-1][1]["loss"]) == 20
        wait_for(lambda: len(state.streams) == 2)
        assert state.streams[1] == {"iterations": 20, "completed": True}
