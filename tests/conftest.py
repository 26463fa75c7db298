"""Shared fixtures: an HTTP client on a fresh app, and the book's numerical gradient."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient

# backprop_viz is the installed name of the source folder app/: scripts/test.sh installs it
# (editable) before pytest runs.
from backprop_viz.settings import Settings
from backprop_viz.web.app import create_app


def numerical_gradient(f: Callable[[np.ndarray], float], x, h: float = 1e-4) -> np.ndarray:
    """The book's central difference (f(x+h) - f(x-h)) / 2h, element by element.

    Unlike the book it works on a copy, so the caller's ``x`` is never touched.
    """
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        original = x[i]
        x[i] = original + h
        f_plus = f(x.copy())
        x[i] = original - h
        f_minus = f(x.copy())
        x[i] = original
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


@pytest.fixture(scope="session")
def numgrad():
    """``numerical_gradient`` as a fixture (session-scoped, so hypothesis tests can use it)."""
    return numerical_gradient


@pytest.fixture
def client() -> TestClient:
    """A client on an app with the default limits, passed explicitly (not read from env)."""
    return TestClient(create_app(Settings()))


@pytest.fixture
def make_client() -> Callable[..., TestClient]:
    """A client on an app with some limits changed: ``make_client(max_body_bytes=1000)``."""

    def make(**limits) -> TestClient:
        return TestClient(create_app(Settings(**limits)))

    return make
