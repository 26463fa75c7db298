"""Replay instead of sessions: any iteration of a run, reproduced from its seed and settings.

The server keeps no training session. The seed and the settings *are* the run: ``replay``
runs the loop up to iteration k (no accuracies, nothing recorded) and returns the weights
before update k and batch k, which ``training_graph_spec`` turns into the ``two_layer_net``
graph (the preset's node ids) with the batch's real values, for ``POST /api/trace``.

A small cache of checkpoints (the weights and the random state every ``CHECKPOINT_EVERY``
iterations, for the last few runs of this process) lets a replay start from the nearest one;
a run from a checkpoint is the same computation as a run from the start, so the answer is the
same bit for bit, and a worker that has none just runs from iteration 0.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from backprop_viz.examples import leaf, op
from backprop_viz.training.datasets import Dataset
from backprop_viz.training.loop import TrainingRun
from backprop_viz.training.net import Params
from backprop_viz.training.settings import (
    TrainingLimits,
    TrainSettings,
    check_settings,
    limits_from_env,
)

CHECKPOINT_EVERY = 500
CACHED_RUNS = 4


@dataclass(frozen=True)
class Checkpoint:
    """A run's whole state before iteration ``iteration``."""

    iteration: int
    params: Params
    rng_state: tuple


class CheckpointCache:
    """Checkpoints of the last ``runs`` runs (least recently used dropped first)."""

    def __init__(self, runs: int = CACHED_RUNS, every: int = CHECKPOINT_EVERY):
        self.runs = runs
        self.every = every
        self._lock = threading.Lock()
        self._by_run: OrderedDict[str, dict[int, Checkpoint]] = OrderedDict()

    @staticmethod
    def key(settings: TrainSettings) -> str:
        # iters_num does not change what iteration k is, so runs of any length share them.
        return settings.model_dump_json(exclude={"iters_num"})

    def save(self, run: TrainingRun) -> None:
        """Remember the run's state if it stands at a checkpoint iteration."""
        if run.iteration % self.every or run.iteration == 0:
            return
        key = self.key(run.settings)
        checkpoint = Checkpoint(
            run.iteration, {k: v.copy() for k, v in run.params.items()}, run.rng.get_state()
        )
        with self._lock:
            saved = self._by_run.setdefault(key, {})
            self._by_run.move_to_end(key)
            saved[run.iteration] = checkpoint
            while len(self._by_run) > self.runs:
                self._by_run.popitem(last=False)

    def nearest(self, settings: TrainSettings, iteration: int) -> Checkpoint | None:
        """The latest checkpoint at or before ``iteration``, if any."""
        with self._lock:
            saved = self._by_run.get(self.key(settings))
            if not saved:
                return None
            self._by_run.move_to_end(self.key(settings))
            at = [i for i in saved if i <= iteration]
            return saved[max(at)] if at else None

    def clear(self) -> None:
        with self._lock:
            self._by_run.clear()


CHECKPOINTS = CheckpointCache()


def run_to(
    settings: TrainSettings,
    dataset: Dataset,
    iteration: int,
    cache: CheckpointCache | None = CHECKPOINTS,
) -> TrainingRun:
    """A run standing before ``iteration`` (from the nearest checkpoint, else from the start)."""
    run = TrainingRun(settings, dataset)
    checkpoint = cache.nearest(settings, iteration) if cache is not None else None
    if checkpoint is not None:
        run.iteration = checkpoint.iteration
        run.params = {k: v.copy() for k, v in checkpoint.params.items()}
        run.rng.set_state(checkpoint.rng_state)
    run.advance(until=iteration, evaluate=False, checkpoints=cache)
    return run


def replay(
    settings: TrainSettings,
    iteration: int,
    dataset: Dataset | None = None,
    cache: CheckpointCache | None = CHECKPOINTS,
) -> tuple[Params, np.ndarray, np.ndarray]:
    """Iteration ``iteration`` of the run: the weights before its update, its x and t batch."""
    if dataset is None:
        dataset = check_settings(settings, limits_from_env(), iteration)
    run = run_to(settings, dataset, iteration, cache)
    x_batch, t_batch = run.next_batch()
    return {k: v.copy() for k, v in run.params.items()}, x_batch, t_batch


def training_graph_spec(
    settings: TrainSettings, iteration: int, limits: TrainingLimits | None = None
) -> dict[str, Any]:
    """The ``two_layer_net`` graph (the preset's node ids) of iteration ``iteration``: its
    batch and the weights before its update, as a graph spec for POST /api/trace."""
    dataset = check_settings(settings, limits or limits_from_env(), iteration)
    params, x_batch, t_batch = replay(settings, iteration, dataset)
    nodes = [
        leaf("x", x_batch.tolist(), f"x (batch {iteration})", requires_grad=False),
        leaf("W1", params["W1"].tolist()),
        leaf("b1", params["b1"].tolist()),
        op("affine1", "affine", "x", "W1", "b1"),
        op("relu1", "relu", "affine1"),
        leaf("W2", params["W2"].tolist()),
        leaf("b2", params["b2"].tolist()),
        op("affine2", "affine", "relu1", "W2", "b2"),
        leaf("t", t_batch.tolist(), requires_grad=False),
        op("loss", "softmax_with_loss", "affine2", "t"),
    ]
    return {"nodes": nodes, "output": "loss"}
