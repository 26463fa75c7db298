"""Replay instead of sessions: any iteration of a run, reproduced from its seed and settings.

The server keeps no training session. The seed and the settings *are* the run: ``replay``
runs the loop up to iteration k (no accuracies, nothing recorded) and returns the weights
before update k and batch k, which ``training_graph_spec`` turns into the ``two_layer_net``
graph (the preset's node ids) with the batch's real values, for ``POST /api/trace``.

Checkpoints (``checkpoints.py``: the weights and the random state every 500 iterations, in
memory and in files every worker shares) let a replay start from the nearest one, and the
replay runs only what feeds the weights (``TrainingRun.fast_forward``). A run from a
checkpoint is the same computation as a run from the start, so the answer is the same bit for
bit; a worker that finds none just runs from iteration 0, and leaves the checkpoints it passes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backprop_viz.examples import leaf, op
from backprop_viz.training.checkpoints import CHECKPOINTS, Checkpoints
from backprop_viz.training.datasets import Dataset
from backprop_viz.training.loop import TrainingRun
from backprop_viz.training.net import Params
from backprop_viz.training.settings import (
    TrainingLimits,
    TrainSettings,
    check_settings,
    limits_from_env,
)

__all__ = ["CHECKPOINTS", "replay", "run_to", "training_graph_spec"]


def run_to(
    settings: TrainSettings,
    dataset: Dataset,
    iteration: int,
    cache: Checkpoints | None = CHECKPOINTS,
) -> TrainingRun:
    """A run standing before ``iteration`` (from the nearest checkpoint, else from the start)."""
    run = TrainingRun(settings, dataset)
    checkpoint = cache.nearest(settings, dataset, iteration) if cache is not None else None
    if checkpoint is not None:
        checkpoint.restore(run)
    run.fast_forward(iteration, checkpoints=cache)
    return run


def replay(
    settings: TrainSettings,
    iteration: int,
    dataset: Dataset | None = None,
    cache: Checkpoints | None = CHECKPOINTS,
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
