"""The training limits come from BPV_TRAIN_* and BPV_MNIST_DIR, with sane defaults; a bad one
stops the server naming it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from backprop_viz.settings import SettingsError
from backprop_viz.training.settings import TrainingLimits


def test_limits_default_to_the_books_run_fitting_with_room(monkeypatch):
    for name in ("BPV_TRAIN_MAX_ITERS", "BPV_TRAIN_MAX_HIDDEN", "BPV_MNIST_DIR"):
        monkeypatch.delenv(name, raising=False)
    limits = TrainingLimits.from_env()
    assert limits.max_iters == 20_000 and limits.max_hidden_size == 1000
    assert limits.max_streams == 2 and limits.mnist_dir is None
    # The book's MNIST run: 10,000 iterations of 100 on 784-50-10 (39,760 parameters).
    assert 10_000 * 100 * 39_760 <= limits.max_work


def test_limits_are_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BPV_TRAIN_MAX_ITERS", "500")
    monkeypatch.setenv("BPV_TRAIN_MAX_STREAMS", "7")
    monkeypatch.setenv("BPV_TRAIN_NUMERICAL_MAX_HIDDEN", "3")
    monkeypatch.setenv("BPV_MNIST_DIR", str(tmp_path))
    limits = TrainingLimits.from_env()
    assert (limits.max_iters, limits.max_streams) == (500, 7)
    assert limits.numerical_max_hidden_size == 3 and limits.mnist_dir == str(tmp_path)


@pytest.mark.parametrize("value", ["many", "0", "-5"])
def test_a_bad_limit_stops_the_server_with_its_name(monkeypatch, value):
    monkeypatch.setenv("BPV_TRAIN_MAX_ITERS", value)
    with pytest.raises(SystemExit, match="BPV_TRAIN_MAX_ITERS"):
        TrainingLimits.from_env()


# --- the checkpoint folder: BPV_TRAIN_CACHE_DIR, BPV_TRAIN_CACHE_MAX_MB ------------------------


def test_the_checkpoint_folder_defaults_to_one_per_user_under_the_temp_dir(monkeypatch):
    import tempfile

    for name in ("BPV_TRAIN_CACHE_DIR", "BPV_TRAIN_CACHE_MAX_MB"):
        monkeypatch.delenv(name, raising=False)
    limits = TrainingLimits.from_env()
    folder = Path(limits.cache_dir)
    assert folder.parent.parent == Path(tempfile.gettempdir())
    assert folder.parent.name.startswith("backprop-viz-") and folder.name == "checkpoints"
    assert limits.cache_max_mb == 256


def test_the_checkpoint_settings_are_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BPV_TRAIN_CACHE_DIR", str(tmp_path / "not" / "yet" / "made"))
    monkeypatch.setenv("BPV_TRAIN_CACHE_MAX_MB", " 1048576 ")  # the upper bound: 1 TiB
    limits = TrainingLimits.from_env()
    assert limits.cache_dir == str(tmp_path / "not" / "yet" / "made")
    assert limits.cache_max_mb == 1024 * 1024
    monkeypatch.setenv("BPV_TRAIN_CACHE_DIR", "~/checkpoints")
    assert TrainingLimits.from_env().cache_dir == str(Path.home() / "checkpoints")


def test_a_cache_of_0_mb_turns_the_files_off(monkeypatch, tmp_path):
    from backprop_viz.training import checkpoints

    monkeypatch.setenv("BPV_TRAIN_CACHE_MAX_MB", "0")
    monkeypatch.setattr(checkpoints, "limits_from_env", TrainingLimits.from_env)
    assert checkpoints.checkpoints_from_env().disk is None
    monkeypatch.setenv("BPV_TRAIN_CACHE_MAX_MB", "3")
    monkeypatch.setenv("BPV_TRAIN_CACHE_DIR", str(tmp_path))
    disk = checkpoints.checkpoints_from_env().disk
    assert disk.directory == tmp_path and disk.max_bytes == 3 * 1024 * 1024


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", "BPV_TRAIN_CACHE_MAX_MB is set but empty"),
        ("  ", "BPV_TRAIN_CACHE_MAX_MB is set but empty"),
        ("lots", "BPV_TRAIN_CACHE_MAX_MB must be an integer, got 'lots'"),
        ("1.5", "BPV_TRAIN_CACHE_MAX_MB must be an integer"),
        ("-1", "BPV_TRAIN_CACHE_MAX_MB must be between 0 and 1048576, got -1"),
        ("1048577", "BPV_TRAIN_CACHE_MAX_MB must be between 0 and 1048576, got 1048577"),
    ],
)
def test_a_bad_cache_size_stops_the_server_naming_it(monkeypatch, raw, words):
    monkeypatch.setenv("BPV_TRAIN_CACHE_MAX_MB", raw)
    with pytest.raises(SettingsError, match=re.escape(words)):
        TrainingLimits.from_env()


def bad_folders(tmp_path: Path) -> list[tuple[str, str]]:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    return [
        ("", "BPV_TRAIN_CACHE_DIR is set but empty"),
        ("checkpoints", "BPV_TRAIN_CACHE_DIR must be an absolute path, got 'checkpoints'"),
        (str(a_file), "exists and is not a folder"),
        (str(a_file / "inside"), f"cannot be made: '{a_file}' is not writable"),
    ]


@pytest.mark.parametrize("case", range(4))
def test_a_bad_cache_folder_stops_the_server_naming_it(monkeypatch, tmp_path, case):
    raw, words = bad_folders(tmp_path)[case]
    monkeypatch.setenv("BPV_TRAIN_CACHE_DIR", raw)
    with pytest.raises(SettingsError, match=re.escape(words)):
        TrainingLimits.from_env()


def test_a_bad_cache_setting_stops_the_app_at_import_with_one_line(tmp_path):
    env = {**os.environ, "BPV_TRAIN_CACHE_MAX_MB": "-5"}
    done = subprocess.run(
        [sys.executable, "-c", "import backprop_viz.main"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith("BPV_TRAIN_CACHE_MAX_MB must be between 0 and 1048576, got -5")
    )
