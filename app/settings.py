"""Limits on what one request may ask for, and how the server runs, read from the environment.

Every setting has a ``BPV_*`` variable, a default and bounds. A value that is empty, not a
number, or out of bounds is an error that names the variable (``SettingsError``), never a silent
default: ``backprop-viz serve`` checks them all before the server starts and exits with that one
line, however many workers were asked for.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from typing import Any


class SettingsError(SystemExit):
    """A bad ``BPV_*`` value. A ``SystemExit``, so that raised anywhere (even while a server
    imports the app) it ends the process with its one-line message instead of a traceback."""


def setting(default: int | float, env: str, low: int | float, high: int | float) -> Any:
    """A settings field: its default, its environment variable and its inclusive bounds."""
    return field(default=default, metadata={"env": env, "low": low, "high": high})


def default_workers(cores: int | None = None) -> int:
    """One server process per core (each runs Python and one BLAS thread, so one keeps one core
    busy), at least two (so one that dies is replaced while the other serves) and at most 64.
    ``cores`` defaults to the cores this process may run on."""
    if cores is None:
        affinity = getattr(os, "sched_getaffinity", None)
        cores = len(affinity(0)) if affinity else (os.cpu_count() or 1)
    return min(max(cores, 2), 64)


@dataclass(frozen=True)
class Settings:
    """Every limit has a sane default, bounds, and an environment variable that overrides it."""

    max_nodes: int = setting(10_000, "BPV_MAX_NODES", 1, 20_000)
    """BPV_MAX_NODES: nodes in one graph (20,000 is also the ceiling checked while parsing)."""
    max_elements: int = setting(1_000_000, "BPV_MAX_ELEMENTS", 1, 100_000_000)
    """BPV_MAX_ELEMENTS: elements in any one value (a leaf, an intermediate, a gradient)."""
    max_total_elements: int = setting(4_000_000, "BPV_MAX_TOTAL_ELEMENTS", 1, 400_000_000)
    """BPV_MAX_TOTAL_ELEMENTS: elements of all node values of one graph added up."""
    max_body_bytes: int = setting(8 * 1024 * 1024, "BPV_MAX_BODY_BYTES", 1, 512 * 1024 * 1024)
    """BPV_MAX_BODY_BYTES: size of a request body; larger ones get 413."""
    inline_elements: int = setting(1000, "BPV_INLINE_ELEMENTS", 1, 1_000_000)
    """BPV_INLINE_ELEMENTS: arrays larger than this are summarised unless the request asks
    for full data."""

    heavy_nodes: int = setting(200, "BPV_HEAVY_NODES", 1, 20_000)
    """BPV_HEAVY_NODES: a trace of more nodes than this is heavy work (see heavy_in_flight)."""
    heavy_body_bytes: int = setting(64 * 1024, "BPV_HEAVY_BODY_BYTES", 1, 512 * 1024 * 1024)
    """BPV_HEAVY_BODY_BYTES: a trace whose body is larger than this is heavy work, admitted or
    refused before its body is read; so is a preset as large sent as a graph (8 bytes a number)."""
    heavy_in_flight: int = setting(1, "BPV_HEAVY_IN_FLIGHT", 1, 64)
    """BPV_HEAVY_IN_FLIGHT: heavy requests one worker runs at once (in its own thread pool);
    more wait in line (heavy_queue). One per worker: two threads of NumPy and Python in one
    process fight over its GIL and slow its event loop (health's median under load: 25 ms with
    one, 140 ms with two); run more workers for more at once."""
    heavy_queue: int = setting(64, "BPV_HEAVY_QUEUE", 0, 10_000)
    """BPV_HEAVY_QUEUE: heavy requests one worker keeps waiting for a place, first come first
    served; one more is answered 503 with Retry-After at once (0: every one over the cap)."""
    heavy_queue_wait: float = setting(5.0, "BPV_HEAVY_QUEUE_WAIT", 0.01, 600.0)
    """BPV_HEAVY_QUEUE_WAIT: seconds a heavy request waits in line for a place; past it the
    answer is a 503 with Retry-After. Its time limit starts when it has a place."""
    heavy_time_limit: float = setting(10.0, "BPV_HEAVY_TIME_LIMIT", 0.01, 600.0)
    """BPV_HEAVY_TIME_LIMIT: seconds a heavy request may take from its admission (the end of its
    wait in line); past it the answer is a 503 naming the limit."""

    workers: int = setting(default_workers(), "BPV_WORKERS", 1, 64)
    """BPV_WORKERS: server processes of ``backprop-viz serve`` unless --workers says; by default
    one per core this process may run on, and at least two: with two or more, uvicorn's
    supervisor replaces a worker that dies or stops answering (``default_workers``)."""
    keep_alive_seconds: int = setting(5, "BPV_KEEP_ALIVE_SECONDS", 1, 300)
    """BPV_KEEP_ALIVE_SECONDS: an idle keep-alive connection is closed after this (uvicorn's
    timeout_keep_alive)."""
    header_timeout: float = setting(10.0, "BPV_HEADER_TIMEOUT", 0.01, 300.0)
    """BPV_HEADER_TIMEOUT: seconds from a connection's opening (or its previous response) to
    the end of a request's headers; a connection that has not sent them by then is closed."""
    max_header_bytes: int = setting(
        1024 * 1024, "BPV_MAX_HEADER_BYTES", 16 * 1024, 16 * 1024 * 1024
    )
    """BPV_MAX_HEADER_BYTES: bytes of a request line and headers; past it, a 431 and the
    connection is closed."""
    body_timeout: float = setting(30.0, "BPV_BODY_TIMEOUT", 0.01, 600.0)
    """BPV_BODY_TIMEOUT: seconds to receive a request's whole body once its headers are in;
    past it the answer is a 408 and the connection is closed."""
    shutdown_timeout: int = setting(10, "BPV_SHUTDOWN_TIMEOUT", 1, 600)
    """BPV_SHUTDOWN_TIMEOUT: seconds a stopping worker waits for requests in flight
    (uvicorn's timeout_graceful_shutdown)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            check_bounds(f.metadata["env"], getattr(self, f.name), f.type, f.metadata)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """The settings from ``BPV_*`` variables (``os.environ`` unless given); an unset one
        takes its default. Raises ``SettingsError`` naming the first bad one."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is not None:
                values[f.name] = parse_setting(f.metadata["env"], raw, f.type)
        return cls(**values)


def parse_setting(name: str, raw: str, kind: str) -> int | float:
    """``raw`` as the field's type (``"int"`` or ``"float"``), or a ``SettingsError``."""
    text = raw.strip()
    if text == "":
        raise SettingsError(f"{name} is set but empty; unset it for the default or give a number")
    try:
        return int(text) if kind == "int" else float(text)
    except ValueError:
        what = "an integer" if kind == "int" else "a number"
        raise SettingsError(f"{name} must be {what}, got {raw[:40]!r}") from None


def check_bounds(name: str, value: Any, kind: str, bounds: Any) -> None:
    low, high = bounds["low"], bounds["high"]
    expected = int if kind == "int" else (int, float)
    if isinstance(value, bool) or not isinstance(value, expected):
        raise SettingsError(f"{name} must be {'an integer' if kind == 'int' else 'a number'}")
    if not math.isfinite(value) or not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
