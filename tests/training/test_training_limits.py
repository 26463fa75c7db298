"""The training limits come from BPV_TRAIN_* and BPV_MNIST_DIR, with sane defaults."""

from __future__ import annotations

import pytest

from backprop_viz.training.settings import TrainingLimits


def test_limits_default_to_the_books_run_fitting_with_room(monkeypatch):
    for name in ("BPV_TRAIN_MAX_ITERS", "BPV_TRAIN_MAX_HIDDEN", "BPV_MNIST_DIR"):
        monkeypatch.delenv(name, raising=False)
    limits = TrainingLimits.from_env()
    assert limits.max_iters == 20_000 and limits.max_hidden_size == 1000
    assert limits.max_streams == 2 and limits.mnist_dir is None
    # The book's MNIST run: 10,000 iterations of 100 on 784-50-10 (39,760 parameters).
    assert 10_000 * 100 * 39_760 <= limits.max_work


def test_limits_are_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BPV_TRAIN_MAX_ITERS", "500")
    monkeypatch.setenv("BPV_TRAIN_MAX_STREAMS", "7")
    monkeypatch.setenv("BPV_TRAIN_NUMERICAL_MAX_HIDDEN", "3")
    monkeypatch.setenv("BPV_MNIST_DIR", str(tmp_path))
    limits = TrainingLimits.from_env()
    assert (limits.max_iters, limits.max_streams) == (500, 7)
    assert limits.numerical_max_hidden_size == 3 and limits.mnist_dir == str(tmp_path)


@pytest.mark.parametrize("value", ["many", "0", "-5"])
def test_a_bad_limit_stops_the_server_with_its_name(monkeypatch, value):
    monkeypatch.setenv("BPV_TRAIN_MAX_ITERS", value)
    with pytest.raises(SystemExit, match="BPV_TRAIN_MAX_ITERS"):
        TrainingLimits.from_env()
