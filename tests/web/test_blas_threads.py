"""The served app runs BLAS on one thread per worker process (README, Deployment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from backprop_viz import cli

# What uvicorn does in a worker: import the app module; then report BLAS's thread pools.
REPORT_BLAS = (
    "import json, backprop_viz.main, threadpoolctl;"
    "print(json.dumps([(p['internal_api'], p['num_threads'])"
    " for p in threadpoolctl.threadpool_info() if p['user_api'] == 'blas']))"
)


BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def blas_pools(**env_changes: str | None) -> list[tuple[str, int]]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env.update({k: v for k, v in env_changes.items() if v is not None})
    done = subprocess.run(
        [sys.executable, "-c", REPORT_BLAS], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [tuple(pool) for pool in json.loads(done.stdout)]


def test_the_served_app_runs_blas_on_one_thread():
    pools = blas_pools()
    assert pools, "NumPy's BLAS was not found"
    assert all(threads == 1 for _, threads in pools), pools


def test_an_operators_openblas_num_threads_is_kept():
    pools = blas_pools(OPENBLAS_NUM_THREADS="2")
    assert all(threads == 2 for api, threads in pools if api == "openblas"), pools


def test_serve_starts_its_workers_with_one_blas_thread(monkeypatch):
    seen = {}

    def fake_run(*args, **kwargs):
        seen.update({name: os.environ.get(name) for name in BLAS_VARIABLES})

    for name in BLAS_VARIABLES:
        monkeypatch.setenv(name, "")  # recorded, so serve's setdefault is undone afterwards
        monkeypatch.delenv(name)
    monkeypatch.setattr("uvicorn.run", fake_run)
    assert cli.main(["serve", "--workers", "2"]) == 0
    assert seen == dict.fromkeys(seen, "1") and len(seen) == 3
