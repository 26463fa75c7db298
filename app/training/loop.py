"""The training loop of the book's ch05/train_neuralnet.py: seeded, steppable, replayable.

Per iteration, as the book does: draw a mini-batch with ``choice(train_size, batch_size)``,
compute the gradient, take a plain SGD step ``params[key] -= learning_rate * grad[key]``;
every ``iter_per_epoch`` iterations (from iteration 0) measure train and test accuracy.

Two deliberate details:

* one ``np.random.RandomState(seed)`` draws the weights and then every batch, the same calls in
  the same order as the book's script after ``np.random.seed(seed)``: same seed and settings,
  the same curve bit for bit, and any iteration can be reproduced by running up to it;
* ``loss[i]`` is the loss of batch i at the weights *before* update i, the one its gradient
  comes from (the book's script evaluates the batch again after the update). So the trace of
  iteration i shows exactly ``loss[i]``, and a forward pass per iteration is saved.

``iter_per_epoch`` is ``max(train_size // batch_size, 1)``: the book's ``train_size /
batch_size`` is 600.0 on MNIST, but on digits 1437 / 100 = 14.37 would make ``i % 14.37 == 0``
true only at 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from backprop_viz.encoding import json_float
from backprop_viz.training.datasets import Dataset
from backprop_viz.training.net import (
    GRADIENTS,
    PARAM_NAMES,
    Params,
    accuracy,
    init_params,
    predict,
    sgd_update,
)
from backprop_viz.training.settings import TrainSettings

SHOWN_HIDDEN_UNITS = 8
SHOWN_TEST_SAMPLES = 8


@dataclass(frozen=True)
class Epoch:
    """The accuracies measured after the update of ``iteration`` (a multiple of an epoch)."""

    epoch: int
    iteration: int
    train_acc: float
    test_acc: float


class TrainingRun:
    """One run, advanced an iteration at a time; its state is all in ``params`` and ``rng``."""

    def __init__(self, settings: TrainSettings, dataset: Dataset):
        self.settings = settings
        self.dataset = dataset
        self.rng = np.random.RandomState(settings.seed)
        self.params: Params = init_params(
            dataset.input_size,
            settings.hidden_size,
            dataset.classes,
            settings.weight_init_std,
            self.rng,
        )
        self.iter_per_epoch = max(dataset.train_size // settings.batch_size, 1)
        self.iteration = 0
        """The next iteration to run (how many have run)."""
        self.loss: list[float] = []
        self.epochs: list[Epoch] = []
        self.seconds = 0.0
        self._loss_and_grads = GRADIENTS[settings.gradient]

    @property
    def done(self) -> bool:
        return self.iteration >= self.settings.iters_num

    def next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        """The batch of the next iteration, drawn as the book draws it (this advances rng)."""
        batch_mask = self.rng.choice(self.dataset.train_size, self.settings.batch_size)
        return self.dataset.x_train[batch_mask], self.dataset.t_train_one_hot[batch_mask]

    def step(self, *, evaluate: bool = True) -> Epoch | None:
        """One iteration: batch, gradient, SGD update; the epoch's accuracies if one is due."""
        x_batch, t_batch = self.next_batch()
        loss, grads = self._loss_and_grads(self.params, x_batch, t_batch)
        learning_rate = self.settings.learning_rate
        for key in PARAM_NAMES:
            self.params[key] -= learning_rate * grads[key]
        self.loss.append(loss)
        i = self.iteration
        self.iteration += 1
        if evaluate and i % self.iter_per_epoch == 0:
            epoch = self.evaluate(i)
            self.epochs.append(epoch)
            return epoch
        return None

    def evaluate(self, iteration: int) -> Epoch:
        """Train and test accuracy now (after the update of ``iteration``)."""
        data = self.dataset
        with np.errstate(all="ignore"):  # scores of a diverged run are inf: any argmax does
            train_acc = accuracy(self.params, data.x_train, data.t_train)
            test_acc = accuracy(self.params, data.x_test, data.t_test)
        return Epoch(iteration // self.iter_per_epoch, iteration, train_acc, test_acc)

    def advance(
        self,
        *,
        until: int | None = None,
        seconds: float | None = None,
        evaluate: bool = True,
        should_stop: Callable[[], bool] | None = None,
        checkpoints: Any = None,
    ) -> list[Epoch]:
        """Run iterations up to ``until`` (default: the end) or for about ``seconds``; the
        epochs measured on the way. ``checkpoints`` (a checkpoints.Checkpoints) keeps the
        run's state every so often, so that replays of this run start near their iteration."""
        end = self.settings.iters_num if until is None else min(until, self.settings.iters_num)
        start = time.perf_counter()
        deadline = None if seconds is None else start + seconds
        # A learning rate too large diverges: its overflows become inf and NaN in the curve
        # (sent as "Infinity" and "NaN"), not warnings.
        with np.errstate(all="ignore"):
            epochs = self._advance(end, deadline, evaluate, should_stop, checkpoints)
        self.seconds += time.perf_counter() - start
        return epochs

    def _advance(self, end, deadline, evaluate, should_stop, checkpoints) -> list[Epoch]:
        epochs = []
        while self.iteration < end:
            epoch = self.step(evaluate=evaluate)
            if epoch is not None:
                epochs.append(epoch)
            if checkpoints is not None:
                checkpoints.save(self)
            if deadline is not None and time.perf_counter() >= deadline:
                break
            if should_stop is not None and should_stop():
                break
        return epochs

    def fast_forward(self, until: int, checkpoints: Any = None) -> None:
        """Run up to iteration ``until`` computing only what the weights and the random state
        need (``net.sgd_update``: no loss, no accuracies), for replays. The weights come out bit
        for bit as ``advance`` leaves them; ``loss`` is not extended. ``checkpoints`` as in
        ``advance``."""
        if self.settings.gradient != "backprop":  # tiny runs; their step is the whole cost
            self.advance(until=until, evaluate=False, checkpoints=checkpoints)
            return
        start = time.perf_counter()
        learning_rate = self.settings.learning_rate
        with np.errstate(all="ignore"):  # as in advance: a diverged run's inf and NaN
            while self.iteration < until:
                x_batch, t_batch = self.next_batch()
                sgd_update(self.params, x_batch, t_batch, learning_rate)
                self.iteration += 1
                if checkpoints is not None:
                    checkpoints.save(self)
        self.seconds += time.perf_counter() - start

    def result(self) -> dict[str, Any]:
        """The run as POST /api/train returns it (the final accuracies after the last update)."""
        with np.errstate(all="ignore"):  # the statistics of a diverged run's weights
            return self._result()

    def _result(self) -> dict[str, Any]:
        last = self.iteration - 1
        if self.epochs and self.epochs[-1].iteration == last:
            final = self.epochs[-1]
        else:
            final = self.evaluate(last)
        data = self.dataset
        return {
            "settings": self.settings.model_dump(),
            "dataset": {
                "name": data.name,
                "train_size": data.train_size,
                "test_size": data.test_size,
                "input_size": data.input_size,
                "image_shape": list(data.image_shape),
                "classes": data.classes,
            },
            "iterations": self.iteration,
            "iter_per_epoch": self.iter_per_epoch,
            "loss": list(self.loss),
            "epochs": [asdict(e) for e in self.epochs],
            "train_acc": [e.train_acc for e in self.epochs],
            "test_acc": [e.test_acc for e in self.epochs],
            "final_train_acc": final.train_acc,
            "final_test_acc": final.test_acc,
            "seconds": self.seconds,
            "iterations_per_second": self.iteration / self.seconds if self.seconds else None,
            "weights": weights_summary(self.params),
            "hidden_units": hidden_units(self.params, data),
            "test_samples": test_samples(self.params, data),
        }


def train(settings: TrainSettings, dataset: Dataset, checkpoints: Any = None) -> dict[str, Any]:
    """The whole run, start to end, as ``TrainingRun.result``."""
    run = TrainingRun(settings, dataset)
    run.advance(checkpoints=checkpoints)
    return run.result()


def finite_json(data: Any) -> Any:
    """Plain JSON data with non-finite floats as "NaN", "Infinity", "-Infinity", as everywhere
    in the API (a run whose learning rate is too large diverges)."""
    if isinstance(data, float):
        return json_float(data)
    if isinstance(data, dict):
        return {key: finite_json(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [finite_json(value) for value in data]
    return data


def weights_summary(params: Params) -> dict[str, dict[str, Any]]:
    """Shape and statistics of each parameter."""
    return {
        name: {
            "shape": list(value.shape),
            "min": float(value.min()),
            "max": float(value.max()),
            "mean": float(value.mean()),
            "std": float(value.std()),
            "norm": float(np.linalg.norm(value)),
        }
        for name, value in params.items()
    }


def hidden_units(params: Params, dataset: Dataset, count: int = SHOWN_HIDDEN_UNITS) -> list:
    """The incoming weights of the first few hidden units as images (rows of pixels), the
    pictures of what each unit looks for; rounded, as they are drawn, not computed with."""
    W1 = params["W1"]
    rows, cols = dataset.image_shape
    return [W1[:, j].reshape(rows, cols).round(4).tolist() for j in range(min(count, W1.shape[1]))]


def test_samples(params: Params, dataset: Dataset, count: int = SHOWN_TEST_SAMPLES) -> list:
    """The first few test images with their label and the net's prediction."""
    x = dataset.x_test[:count]
    predictions = np.argmax(predict(params, x), axis=1)
    rows, cols = dataset.image_shape
    return [
        {
            "image": x[i].reshape(rows, cols).round(4).tolist(),
            "label": int(dataset.t_test[i]),
            "prediction": int(predictions[i]),
        }
        for i in range(len(x))
    ]
