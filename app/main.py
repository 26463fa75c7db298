"""The ASGI app at module level, as FastAPI deployments expect: ``uvicorn backprop_viz.main:app``.

Its limits come from the environment (``BPV_*``) when this module is imported. Code that wants
its own limits calls ``backprop_viz.web.app.create_app(Settings(...))`` instead.
"""

from __future__ import annotations

import gc
import os
import sys

from threadpoolctl import threadpool_limits

from backprop_viz.settings import Settings, SettingsError
from backprop_viz.web.app import create_app

# uvicorn's code for "the worker failed before it started serving" (uvicorn.config
# STARTUP_FAILURE): its supervisor then stops instead of restarting the worker for ever, so even
# `uvicorn backprop_viz.main:app --workers 2` with a bad BPV_* value exits at once.
STARTUP_FAILURE = 3

try:
    settings = Settings.from_env()
except SettingsError as e:
    print(e, file=sys.stderr)
    raise SystemExit(STARTUP_FAILURE) from None
# A thread that wants the GIL waits up to this long for the one holding it: 5 ms by default,
# paid several times per request (the event loop, anyio's thread, back) while a heavy request
# computes in its own thread. 1 ms cut health's median under eight heavy clients from ~40 ms to
# ~10 ms (bench/bench_isolation.py) without slowing the heavy ones measurably.
sys.setswitchinterval(0.001)


# One BLAS thread per worker process: the server scales with its workers, and OpenBLAS's own
# second thread spinning against the event loop's and the heavy pool's threads made the book
# preset several times slower under 16 connections (README, Deployment). Applied here, after
# NumPy is loaded, because `serve` with one worker runs the app in its own process; an operator
# who sets OPENBLAS_NUM_THREADS keeps that number.
def blas_threads() -> int:
    """OPENBLAS_NUM_THREADS if it is a positive integer, else 1."""
    text = os.environ.get("OPENBLAS_NUM_THREADS", "")
    return int(text) if text.isdigit() and int(text) > 0 else 1


threadpool_limits(limits=blas_threads(), user_api="blas")
app = create_app(settings)

# What is loaded by now (NumPy, FastAPI, pydantic, sympy's worker pool, the presets: ~70,000
# objects the garbage collector tracks) lives as long as the worker. gc.freeze() takes it out
# of the collector's sight, so that the full collections a large request sets off scan only
# what requests made: a 10,000-node scalar trace's request took 14.0 µs a node, 7.6 with it
# (bench/bench_scalar.py --gc, same run).
gc.freeze()
