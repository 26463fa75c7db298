"""Each training test starts with an empty checkpoint cache."""

from __future__ import annotations

import pytest

from backprop_viz.training.replay import CHECKPOINTS


@pytest.fixture(autouse=True)
def no_checkpoints_between_tests():
    """Each test starts with an empty checkpoint cache, so none depends on another's runs."""
    CHECKPOINTS.clear()
    yield
    CHECKPOINTS.clear()
