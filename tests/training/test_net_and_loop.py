"""The book's TwoLayerNet and training loop: its initialisation and batches, its gradients
against the numerical gradient, SGD, epochs, determinism, and the accuracy it reaches."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backprop_viz.training.datasets import load_dataset
from backprop_viz.training.loop import TrainingRun, train
from backprop_viz.training.net import (
    PARAM_NAMES,
    accuracy,
    init_params,
    loss,
    loss_and_grads,
    numerical_loss_and_grads,
)
from backprop_viz.training.settings import TrainSettings


@pytest.fixture
def digits():
    return load_dataset("digits")


def tiny_batch(seed: int = 0):
    """A 5-4-3 net and a batch of 6, its ReLU inputs far from the kink at 0."""
    rng = np.random.RandomState(seed)
    params = init_params(5, 4, 3, 0.5, rng)
    params["b1"] = rng.randn(4) * 0.1
    x = rng.rand(6, 5)
    t = np.eye(3)[rng.randint(0, 3, 6)]
    return params, x, t


def test_weights_and_batches_are_the_books_after_np_random_seed(digits):
    saved = np.random.get_state()
    try:
        np.random.seed(3)  # the book's script, with a seed
        W1 = 0.01 * np.random.randn(64, 50)
        W2 = 0.01 * np.random.randn(50, 10)
        masks = [np.random.choice(1437, 100) for _ in range(3)]
    finally:
        np.random.set_state(saved)
    run = TrainingRun(TrainSettings(seed=3), digits)
    assert np.array_equal(run.params["W1"], W1) and np.array_equal(run.params["W2"], W2)
    assert not run.params["b1"].any() and not run.params["b2"].any()
    for mask in masks:
        x_batch, t_batch = run.next_batch()
        assert np.array_equal(x_batch, digits.x_train[mask])
        assert np.array_equal(t_batch.argmax(axis=1), digits.t_train[mask])


def test_backprop_gradients_match_the_numerical_gradient(numgrad):
    params, x, t = tiny_batch()
    value, grads = loss_and_grads(params, x, t)
    assert value == loss(params, x, t)
    for name in PARAM_NAMES:

        def f(w, name=name):
            return loss({**params, name: w}, x, t)

        expected = numgrad(f, params[name])
        np.testing.assert_allclose(grads[name], expected, rtol=1e-6, atol=1e-9)


def test_numerical_loss_and_grads_is_the_books_numerical_gradient(numgrad):
    params, x, t = tiny_batch(1)
    before = {k: v.copy() for k, v in params.items()}
    value, grads = numerical_loss_and_grads(params, x, t)
    assert value == loss(params, x, t)
    for name in PARAM_NAMES:
        expected = numgrad(lambda w, name=name: loss({**params, name: w}, x, t), params[name])
        assert np.array_equal(grads[name], expected)  # the same central differences, in order
        assert np.array_equal(params[name], before[name])  # the weights were put back


def test_a_step_is_plain_sgd_on_the_loss_of_the_weights_before_it(digits):
    run = TrainingRun(TrainSettings(learning_rate=0.5, iters_num=3), digits)
    run.step()
    before = {k: v.copy() for k, v in run.params.items()}
    state = run.rng.get_state()
    x_batch, t_batch = run.next_batch()
    expected_loss, grads = loss_and_grads(before, x_batch, t_batch)
    run.rng.set_state(state)
    run.step()
    assert run.loss[1] == expected_loss
    for name in PARAM_NAMES:
        assert np.array_equal(run.params[name], before[name] - 0.5 * grads[name])


def test_accuracy_is_measured_every_epoch_from_iteration_0(digits):
    result = train(TrainSettings(iters_num=60), digits)
    assert result["iter_per_epoch"] == 1437 // 100
    assert [e["iteration"] for e in result["epochs"]] == [0, 14, 28, 42, 56]
    assert [e["epoch"] for e in result["epochs"]] == [0, 1, 2, 3, 4]
    assert result["train_acc"] == [e["train_acc"] for e in result["epochs"]]
    assert len(result["loss"]) == 60 and result["iterations"] == 60
    # The last iteration (59) is not an epoch's: the final accuracies are measured after it.
    run = TrainingRun(TrainSettings(iters_num=60), digits)
    run.advance()
    assert result["final_test_acc"] == accuracy(run.params, digits.x_test, digits.t_test)
    assert result["final_train_acc"] == accuracy(run.params, digits.x_train, digits.t_train)
    whole = train(TrainSettings(iters_num=60, batch_size=1437), digits)
    assert whole["iter_per_epoch"] == 1 and len(whole["epochs"]) == 60


def test_same_seed_gives_the_same_curve_bit_for_bit_and_another_seed_another(digits):
    settings = TrainSettings(iters_num=200)
    first, second = train(settings, digits), train(settings, digits)
    assert first["loss"] == second["loss"]
    assert first["epochs"] == second["epochs"]
    assert first["weights"] == second["weights"]
    other = train(TrainSettings(iters_num=200, seed=1), digits)
    assert other["loss"] != first["loss"]
    assert other["loss"][0] != first["loss"][0]


def test_training_in_slices_is_the_same_run_as_in_one_go(digits):
    settings = TrainSettings(iters_num=150)
    sliced = TrainingRun(settings, digits)
    epochs = []
    while not sliced.done:
        epochs += sliced.advance(until=sliced.iteration + 17)
    whole = TrainingRun(settings, digits)
    assert whole.advance() == epochs
    assert whole.loss == sliced.loss


def test_the_books_settings_reach_over_95_percent_on_digits(digits):
    result = train(TrainSettings(), digits)  # 10,000 iterations, batch 100, lr 0.1, 50 hidden
    assert result["iterations"] == 10_000 and len(result["loss"]) == 10_000
    assert result["final_test_acc"] >= 0.95
    assert result["final_train_acc"] >= 0.98
    assert result["loss"][0] == pytest.approx(math.log(10), abs=1e-3)  # 10 classes, tiny weights
    assert np.mean(result["loss"][-100:]) < 0.1


def test_numerical_gradient_training_follows_the_backprop_curve(digits):
    base = dict(hidden_size=3, iters_num=5, batch_size=10)
    numerical = train(TrainSettings(**base, gradient="numerical"), digits)
    backprop = train(TrainSettings(**base), digits)
    np.testing.assert_allclose(numerical["loss"], backprop["loss"], rtol=1e-7)
    assert numerical["loss"] != backprop["loss"]  # close, not the same computation


def test_result_summarises_the_weights_and_shows_units_and_test_digits(digits):
    result = train(TrainSettings(iters_num=20), digits)
    assert result["weights"]["W1"]["shape"] == [64, 50]
    assert result["weights"]["b2"]["shape"] == [10]
    assert len(result["hidden_units"]) == 8
    assert np.array(result["hidden_units"]).shape == (8, 8, 8)
    sample = result["test_samples"][0]
    assert np.array(sample["image"]).shape == (8, 8)
    assert sample["label"] == int(digits.t_test[0]) and 0 <= sample["prediction"] <= 9
