"""The replay's lean loop (``TrainingRun.fast_forward``, ``net.sgd_update``) leaves the weights
and the random state bit for bit where the training loop leaves them."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_viz.training.datasets import load_dataset
from backprop_viz.training.loop import TrainingRun
from backprop_viz.training.net import PARAM_NAMES, loss_and_grads, sgd_update
from backprop_viz.training.settings import TrainSettings


def state_bytes(run: TrainingRun) -> tuple:
    """Everything a later iteration reads, as bytes (so NaN payloads and signed zeros count)."""
    _, keys, pos, has_gauss, cached = run.rng.get_state()
    weights = tuple(run.params[name].tobytes() for name in PARAM_NAMES)
    return run.iteration, weights, keys.tobytes(), pos, has_gauss, cached


def states_at(settings: TrainSettings, stops: list[int], lean: bool) -> list[tuple]:
    """The run's state before each iteration in ``stops``, by one of the two loops."""
    run, states = TrainingRun(settings, load_dataset("digits")), []
    for stop in stops:
        if lean:
            run.fast_forward(stop)
        else:
            run.advance(until=stop)  # with the accuracies, as POST /api/train runs it
        states.append(state_bytes(run))
    return states


def test_fast_forward_is_bit_identical_to_the_training_loop_at_0_1_an_epoch_and_the_end():
    settings = TrainSettings(iters_num=1000, seed=3)
    iter_per_epoch = load_dataset("digits").train_size // settings.batch_size
    assert iter_per_epoch == 14
    # 0 (nothing run), 1, each side of the evaluation after update 14, and the last two:
    # before the last update (what replaying iteration 999 needs) and after it.
    stops = [0, 1, 14, 15, 28, 500, 999, 1000]
    assert states_at(settings, stops, lean=True) == states_at(settings, stops, lean=False)


@pytest.mark.parametrize(
    "changes",
    [
        {"hidden_size": 7, "batch_size": 1},  # one sample: every reduction over 1 row
        {"hidden_size": 120, "batch_size": 333, "learning_rate": 0.5, "seed": 9},
        {"learning_rate": 100.0, "weight_init_std": 10.0},  # too large a step: weights blow up
    ],
)
def test_fast_forward_is_bit_identical_for_other_settings(changes):
    settings = TrainSettings(iters_num=200, **changes)
    stops = [1, 50, 199]
    lean, full = states_at(settings, stops, lean=True), states_at(settings, stops, lean=False)
    assert lean == full
    if changes.get("learning_rate") == 100.0:  # the case is really far from a sane run
        run = TrainingRun(settings, load_dataset("digits"))
        run.fast_forward(199)
        assert np.abs(run.params["W1"]).max() > 1e4


def test_fast_forward_with_the_numerical_gradient_is_the_training_loop():
    settings = TrainSettings(iters_num=3, hidden_size=2, batch_size=5, gradient="numerical")
    assert states_at(settings, [2], lean=True) == states_at(settings, [2], lean=False)


def test_sgd_update_is_the_update_by_loss_and_grads_to_the_bit():
    data = load_dataset("digits")
    run = TrainingRun(TrainSettings(hidden_size=30), data)
    x, t = run.next_batch()
    lean = {k: v.copy() for k, v in run.params.items()}
    sgd_update(lean, x, t, 0.1)
    _, grads = loss_and_grads(run.params, x, t)
    for name in PARAM_NAMES:
        expected = run.params[name] - 0.1 * grads[name]
        assert lean[name].tobytes() == expected.tobytes(), name
        assert not np.array_equal(lean[name], run.params[name]), name  # it did move


def test_fast_forward_does_not_record_the_loss_and_only_moves_forward():
    run = TrainingRun(TrainSettings(iters_num=100), load_dataset("digits"))
    run.fast_forward(40)
    assert run.iteration == 40 and run.loss == [] and run.epochs == []
    run.fast_forward(10)  # already past it: nothing happens
    assert run.iteration == 40
