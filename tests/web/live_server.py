"""`backprop-viz serve` in a subprocess on a free port, with some BPV_* settings, for the tests
that need a real server: raw sockets, concurrent clients, workers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from harness import free_port, wait_for_health  # noqa: E402  (one copy of the server helpers)

ROOT = Path(__file__).resolve().parents[2]


def serve_command(port: int, *args: str) -> list[str]:
    return [sys.executable, "-m", "backprop_viz.cli", "serve", "--port", str(port), *args]


def start(port: int, env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        serve_command(port, *args),
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@contextmanager
def live_server(env: dict[str, str] | None = None, workers: int = 1) -> Iterator[str]:
    """A server for the block; yields its base URL. One worker unless asked (the limits are
    per worker, and a test on them wants to know which worker it talks to)."""
    port = free_port()
    process = start(port, env or {}, "--workers", str(workers))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
