"""Settings fail fast: bounds on each, no silent default for an empty value, and `serve` exits
at once with one clear line on a bad one, whatever the number of workers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import pytest

from backprop_viz import cli
from backprop_viz.settings import Settings, SettingsError, default_workers
from backprop_viz.web.connections import HeaderTimeoutProtocol

ROOT = Path(__file__).resolve().parents[1]
FIELDS = {f.metadata["env"]: f for f in fields(Settings)}


def only(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


def test_every_setting_has_a_bpv_name_bounds_and_a_docstring():
    source = (ROOT / "app" / "settings.py").read_text()
    for name, f in FIELDS.items():
        assert name == "BPV_" + f.name.upper()
        assert f.metadata["low"] <= f.default <= f.metadata["high"]
        assert f'"""{name}: ' in source, f"{name} has no docstring"


@pytest.mark.parametrize("name", FIELDS)
def test_setting_at_its_upper_bound_is_accepted_and_just_over_it_refused(name):
    f = FIELDS[name]
    high = f.metadata["high"]
    assert getattr(only({name: str(high)}), f.name) == high
    over = high + 1 if f.type == "int" else high * 1.001
    with pytest.raises(SettingsError, match=rf"{name} must be between .* and {high}, got"):
        only({name: str(over)})


@pytest.mark.parametrize("name", FIELDS)
def test_setting_below_its_lower_bound_is_refused(name):
    f = FIELDS[name]
    low = f.metadata["low"]
    assert getattr(only({name: str(low)}), f.name) == low
    with pytest.raises(SettingsError, match=name):
        only({name: str(low - 1 if f.type == "int" else low / 2)})


@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("raw", ["", "  "])
def test_empty_setting_is_an_error_not_the_default(name, raw):
    with pytest.raises(SettingsError, match=f"{name} is set but empty"):
        only({name: raw})


@pytest.mark.parametrize(
    ("name", "raw", "words"),
    [
        ("BPV_MAX_NODES", "abc", "BPV_MAX_NODES must be an integer, got 'abc'"),
        ("BPV_MAX_NODES", "1.5", "must be an integer"),
        ("BPV_HEAVY_TIME_LIMIT", "soon", "BPV_HEAVY_TIME_LIMIT must be a number"),
        ("BPV_HEAVY_TIME_LIMIT", "nan", "must be between"),
        ("BPV_BODY_TIMEOUT", "inf", "must be between"),
        ("BPV_HEADER_TIMEOUT", "1e400", "must be between"),
    ],
)
def test_setting_that_is_not_a_number_is_refused_naming_it(name, raw, words):
    with pytest.raises(SettingsError, match=words):
        only({name: raw})


def test_float_settings_take_fractions_and_unset_ones_their_defaults():
    settings = only({"BPV_HEAVY_TIME_LIMIT": "0.25", "BPV_HEADER_TIMEOUT": " 2 "})
    assert settings.heavy_time_limit == 0.25
    assert settings.header_timeout == 2.0
    assert settings.body_timeout == Settings().body_timeout == 30.0


def test_settings_made_in_code_are_checked_too():
    with pytest.raises(SettingsError, match="BPV_HEAVY_IN_FLIGHT must be between 1 and 64"):
        Settings(heavy_in_flight=0)
    with pytest.raises(SettingsError, match="BPV_MAX_NODES must be an integer"):
        Settings(max_nodes=True)


def test_settings_error_ends_the_process_with_its_message():
    # A SystemExit: raised while a server imports the app, it is one line, not a traceback.
    assert issubclass(SettingsError, SystemExit)


# --- `backprop-viz serve` ---------------------------------------------------------------------


def serve(env: dict[str, str], *args: str, timeout: float = 30) -> tuple[int, str, float]:
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "backprop_viz.cli", "serve", "--port", "1", *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.returncode, done.stderr, time.monotonic() - start


@pytest.mark.parametrize("workers", ["1", "2", "4"])
def test_serve_with_a_bad_setting_exits_at_once_with_one_line(workers):
    code, stderr, seconds = serve({"BPV_MAX_NODES": "abc"}, "--workers", workers)
    assert code == 2
    assert stderr == "backprop-viz serve: BPV_MAX_NODES must be an integer, got 'abc'\n"
    assert seconds < 20


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BPV_TRAIN_CACHE_MAX_MB", "abc", "BPV_TRAIN_CACHE_MAX_MB must be an integer, got 'abc'"),
        ("BPV_TRAIN_MAX_ITERS", "0", "BPV_TRAIN_MAX_ITERS must be positive, got 0"),
        ("BPV_TRAIN_CACHE_DIR", "relative/dir", "BPV_TRAIN_CACHE_DIR"),
    ],
)
def test_serve_with_a_bad_training_setting_exits_before_uvicorn_starts(name, value, message):
    code, stderr, seconds = serve({name: value}, "--workers", "2")
    assert code == 2
    assert stderr.startswith(f"backprop-viz serve: {message}"), stderr
    assert stderr.count("\n") == 1
    assert seconds < 20


def test_serve_with_an_empty_setting_exits_at_once():
    code, stderr, _ = serve({"BPV_HEAVY_IN_FLIGHT": ""}, "--workers", "2")
    assert code == 2
    assert stderr.strip() == (
        "backprop-viz serve: BPV_HEAVY_IN_FLIGHT is set but empty; unset it for the default "
        "or give a number"
    )


@pytest.mark.parametrize("workers", ["0", "65"])
def test_serve_with_workers_out_of_bounds_exits(workers):
    code, stderr, _ = serve({}, "--workers", workers)
    assert code == 2
    assert stderr.strip() == "backprop-viz serve: --workers must be between 1 and 64"


def test_uvicorn_itself_with_two_workers_stops_on_a_bad_setting():
    # Without serve's check: the worker exits with uvicorn's startup-failure code, so the
    # supervisor stops instead of restarting it every few seconds for ever.
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "uvicorn", "backprop_viz.main:app", "--workers", "2"]
        + ["--port", "1"],
        env={"PATH": "/usr/bin:/bin", "BPV_MAX_NODES": "abc"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - start < 50
    assert "BPV_MAX_NODES must be an integer, got 'abc'" in done.stderr
    assert "failed to start, stopping the parent process" in done.stderr


def test_serve_runs_uvicorn_with_a_worker_per_core_and_the_timeouts_by_default(monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    for name in FIELDS:
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["serve"]) == 0
    monkeypatch.setenv("BPV_WORKERS", "3")
    monkeypatch.setenv("BPV_KEEP_ALIVE_SECONDS", "7")
    assert cli.main(["serve", "--port", "9000"]) == 0
    assert cli.main(["serve", "--workers", "1"]) == 0
    (app, default), (_, from_env), (_, from_flag) = calls
    assert app == "backprop_viz.main:app"
    assert default["workers"] == default_workers()  # 2 on two cores (the test below)
    assert default["http"] is HeaderTimeoutProtocol
    assert default["timeout_keep_alive"] == 5
    assert default["timeout_graceful_shutdown"] == 10
    assert (from_env["workers"], from_env["port"], from_env["timeout_keep_alive"]) == (3, 9000, 7)
    assert from_flag["workers"] == 1


@pytest.mark.parametrize(("cores", "workers"), [(1, 2), (2, 2), (3, 3), (8, 8), (64, 64), (96, 64)])
def test_default_workers_are_one_per_core_at_least_two_at_most_64(cores, workers):
    assert default_workers(cores) == workers
    assert (
        FIELDS["BPV_WORKERS"].metadata["low"] <= workers <= FIELDS["BPV_WORKERS"].metadata["high"]
    )


def test_default_workers_follow_the_cores_this_process_may_use():
    import os

    if hasattr(os, "sched_getaffinity"):
        assert default_workers() == min(max(len(os.sched_getaffinity(0)), 2), 64)
    assert Settings().workers == default_workers()


def test_dockerfile_serves_with_at_least_two_workers():
    text = (ROOT / "Dockerfile").read_text()
    command = json.loads(next(ln for ln in text.splitlines() if ln.startswith("CMD "))[4:])
    assert command[:2] == ["backprop-viz", "serve"]
    assert "--workers" not in command  # BPV_WORKERS decides, so `docker run -e` can change it
    workers = re.search(r"BPV_WORKERS=(\d+)", text)
    assert workers is not None and int(workers.group(1)) >= 2
    assert Settings().workers >= 2  # and the default outside Docker
