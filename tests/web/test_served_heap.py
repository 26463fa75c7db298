"""A served worker takes what it loaded at start out of the garbage collector's sight
(gc.freeze in backprop_viz.main), and still collects what requests make."""

from __future__ import annotations

import json
import subprocess
import sys

# What uvicorn does in a worker: import the app module; then a request's garbage, a cycle.
REPORT_HEAP = (
    "import gc, json, backprop_viz.main;"
    "frozen = gc.get_freeze_count();"
    "a = []; a.append(a); del a;"
    "print(json.dumps([frozen, gc.isenabled(), gc.collect()]))"
)


def test_a_served_worker_freezes_what_it_loaded_and_collects_what_requests_make():
    done = subprocess.run(
        [sys.executable, "-c", REPORT_HEAP], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    frozen, enabled, collected = json.loads(done.stdout)
    assert frozen > 10_000  # NumPy, FastAPI, pydantic and the presets: ~70,000 objects here
    assert enabled and collected >= 1  # the cycle made after the freeze is collected
