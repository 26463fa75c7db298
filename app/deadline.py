"""A cooperative time limit for CPU-bound work that a thread cannot be interrupted in.

Python cannot stop a thread from outside, so heavy work stops itself: the web layer sets a
deadline for the request (``deadline_after``), and the loops that do the work call
``check_deadline()`` once per step (a node of the engine, an evaluation of the gradient check),
which raises ``DeadlineExceeded`` once the deadline has passed. The deadline lives in a
``ContextVar``, so it follows the request into the worker thread that runs it (the caller copies
the context into the thread; see ``backprop_viz.web.limits``) and is unset everywhere else: the
command line and plain Python calls never time out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NamedTuple


class Deadline(NamedTuple):
    """When the work must stop (``time.monotonic()``) and the limit it came from, in seconds."""

    at: float
    seconds: float


_current: ContextVar[Deadline | None] = ContextVar("backprop_viz_deadline", default=None)


class DeadlineExceeded(Exception):
    """The work ran past its time limit; ``seconds`` is the limit."""

    def __init__(self, seconds: float):
        super().__init__(f"the work took longer than its time limit of {seconds:g} s")
        self.seconds = seconds


def check_deadline() -> None:
    """Raise ``DeadlineExceeded`` if the current deadline has passed (cheap when none is set)."""
    deadline = _current.get()
    if deadline is not None and time.monotonic() > deadline.at:
        raise DeadlineExceeded(deadline.seconds)


@contextmanager
def deadline_after(seconds: float, start: float | None = None) -> Iterator[Deadline]:
    """Within the block, ``check_deadline`` raises once ``seconds`` have passed since ``start``
    (``time.monotonic()``; now by default)."""
    start = time.monotonic() if start is None else start
    deadline = Deadline(start + seconds, seconds)
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)
