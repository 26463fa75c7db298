"""Replay: any iteration of a run from its seed and settings, the same with or without the
checkpoint cache; its trace on the two_layer_net graph shows exactly the curve's loss, and its
gradients pass the gradient check."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from training_errors import error_field

from backprop_viz.examples import EXAMPLES
from backprop_viz.settings import Settings
from backprop_viz.training.checkpoints import Checkpoints
from backprop_viz.training.datasets import load_dataset
from backprop_viz.training.loop import TrainingRun, train
from backprop_viz.training.net import PARAM_NAMES, loss_and_grads
from backprop_viz.training.replay import CHECKPOINTS, replay, training_graph_spec
from backprop_viz.training.settings import TrainSettings
from backprop_viz.web.app import create_app

RUN = {"iters_num": 300, "seed": 4}


@pytest.fixture(scope="module")
def curve():
    return train(TrainSettings(**RUN), load_dataset("digits"))["loss"]


@pytest.fixture
def client():
    return TestClient(create_app(Settings()))


def test_replay_gives_the_weights_before_the_update_and_the_batch_of_that_iteration():
    settings, data = TrainSettings(**RUN), load_dataset("digits")
    run = TrainingRun(settings, data)
    run.advance(until=123)
    params, x_batch, t_batch = replay(settings, 123, cache=None)
    for name in PARAM_NAMES:
        assert np.array_equal(params[name], run.params[name])
    state = run.rng.get_state()
    x_next, t_next = run.next_batch()
    run.rng.set_state(state)
    assert np.array_equal(x_batch, x_next) and np.array_equal(t_batch, t_next)
    run.step()
    assert run.loss[123] == loss_and_grads(params, x_batch, t_batch)[0]


def test_replay_from_a_checkpoint_is_bit_identical_to_replay_from_the_start():
    settings, data = TrainSettings(iters_num=2000), load_dataset("digits")
    cache = Checkpoints(every=500)
    TrainingRun(settings, data).advance(until=1600, checkpoints=cache)
    assert cache.nearest(settings, data, 1234).iteration == 1000
    # Runs of any length share their iterations' checkpoints.
    assert cache.nearest(TrainSettings(iters_num=5000), data, 1600).iteration == 1500
    assert cache.nearest(TrainSettings(iters_num=2000, seed=1), data, 1600) is None
    cached = replay(settings, 1234, cache=cache)
    fresh = replay(settings, 1234, cache=None)
    for name in PARAM_NAMES:
        assert np.array_equal(cached[0][name], fresh[0][name])
    assert np.array_equal(cached[1], fresh[1]) and np.array_equal(cached[2], fresh[2])


def test_training_graph_spec_is_the_two_layer_net_preset_with_the_batchs_values():
    spec = training_graph_spec(TrainSettings(**RUN), 7)
    preset = EXAMPLES["two_layer_net"]
    assert [n["id"] for n in spec["nodes"]] == [n["id"] for n in preset.nodes]
    assert [n["op"] for n in spec["nodes"]] == [n["op"] for n in preset.nodes]
    assert spec["output"] == preset.output == "loss"
    nodes = {n["id"]: n for n in spec["nodes"]}
    params, x_batch, t_batch = replay(TrainSettings(**RUN), 7)
    assert np.array_equal(np.array(nodes["x"]["value"]), x_batch)
    assert np.array_equal(np.array(nodes["W1"]["value"]), params["W1"])
    assert np.array(nodes["t"]["value"]).shape == (100, 10)
    assert nodes["x"]["requires_grad"] is False and nodes["t"]["requires_grad"] is False


@pytest.mark.parametrize("k", [0, 1, 150, 299])
def test_trace_of_iteration_k_has_exactly_the_loss_of_the_curve_at_k(client, curve, k):
    r = client.post("/api/trace", json={"training": {**RUN, "iteration": k}})
    assert r.status_code == 200, r.text
    assert r.json()["values"]["loss"] == curve[k]


def test_trace_gradients_are_the_training_runs_gradients_bit_for_bit(client):
    r = client.post("/api/trace", json={"training": {**RUN, "iteration": 42}, "full": True})
    assert r.status_code == 200, r.text
    grads = r.json()["grads"]
    params, x_batch, t_batch = replay(TrainSettings(**RUN), 42)
    _, expected = loss_and_grads(params, x_batch, t_batch)
    for name in PARAM_NAMES:
        assert np.array_equal(np.array(grads[name]), expected[name]), name


@pytest.mark.parametrize("k", [0, 299])
def test_trace_of_iteration_k_passes_the_gradient_check(client, k):
    params, x_batch, _ = replay(TrainSettings(**RUN), k)
    # The central difference is meaningless across a ReLU kink: take h smaller than the
    # distance of the nearest ReLU input from 0 (each x is at most 1, so W1 moves it by <= h).
    kink_distance = np.abs(x_batch @ params["W1"] + params["b1"]).min()
    h = min(1e-5, kink_distance / 2)
    assert h >= 1e-7, "a ReLU input this close to 0 leaves no usable h"
    body = {"training": {**RUN, "iteration": k}, "h": h, "max_evaluations": 4000}
    r = client.post("/api/gradcheck", json=body)
    assert r.status_code == 200, r.text
    result = r.json()
    assert not result["timed_out"]
    assert {leaf["node"] for leaf in result["leaves"]} == {"W1", "b1", "W2", "b2"}
    assert result["ok"], [(leaf["node"], leaf["max_rel_error"]) for leaf in result["leaves"]]


def test_trace_of_an_iteration_outside_the_run_is_a_422_naming_iteration(client):
    r = client.post("/api/trace", json={"training": {**RUN, "iteration": 300}})
    assert r.status_code == 422
    assert error_field(r.json()) == "training.iteration"
    assert "counted from 0 to 299" in r.json()["detail"]


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"learning_rate": 0}, "learning_rate"),
        ({"batch_size": 5000}, "batch_size"),
        ({"dataset": "cifar"}, "dataset"),
        ({"iters_num": 10**6}, "iters_num"),
        ({"iteration": -1}, "iteration"),
    ],
)
def test_trace_with_bad_training_settings_is_a_422_naming_the_field(client, bad, field):
    r = client.post("/api/trace", json={"training": {**RUN, **bad}})
    assert r.status_code == 422, r.text
    assert error_field(r.json()) == f"training.{field}"
    assert r.json()["detail"].startswith(f"training.{field}")


def test_trace_takes_one_source_only(client):
    r = client.post("/api/trace", json={"training": RUN, "example": "apple"})
    assert r.status_code == 422
    assert "'training'" in r.text


def test_replays_fill_the_process_checkpoint_cache():
    settings = TrainSettings(iters_num=1200)
    replay(settings, 1100)
    assert CHECKPOINTS.nearest(settings, load_dataset("digits"), 1100).iteration == 1000
