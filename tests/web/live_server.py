"""`backprop-viz serve` in a subprocess on a free port, with some BPV_* settings, for the tests
that need a real server: raw sockets, concurrent clients, workers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def wait_for_health(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise RuntimeError(f"the server exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(f"{url}/api/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server at {url} did not answer /api/health within {timeout} s")


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
