"""Each training test starts with no checkpoint, in memory or on disk."""

from __future__ import annotations

import pytest

from backprop_viz.training.checkpoints import DiskCheckpoints
from backprop_viz.training.replay import CHECKPOINTS


@pytest.fixture(autouse=True)
def no_checkpoints_between_tests(tmp_path, monkeypatch):
    """Each test starts with no checkpoint in memory and its own empty checkpoint folder, so
    none depends on another's runs (or on the files of the machine's cache)."""
    CHECKPOINTS.clear()
    monkeypatch.setattr(CHECKPOINTS, "disk", DiskCheckpoints(tmp_path / "checkpoints", 2**30))
    yield
    CHECKPOINTS.clear()
