"""Checkpoint files: a replay from one is bit for bit a replay from the start; a file that is
corrupt, truncated, foreign or of another version is ignored and rewritten; the folder stays
within its size; processes share it (training in one, replaying over HTTP in another)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backprop_viz.settings import Settings
from backprop_viz.training.checkpoints import (
    ARRAY_NAMES,
    CHECKPOINTS,
    FORMAT_VERSION,
    Checkpoints,
    DiskCheckpoints,
    _digest,
    run_key,
)
from backprop_viz.training.datasets import load_dataset
from backprop_viz.training.loop import TrainingRun
from backprop_viz.training.net import PARAM_NAMES
from backprop_viz.training.replay import replay
from backprop_viz.training.settings import MIB, TrainSettings
from backprop_viz.web.app import create_app

# A small net, so that these tests are quick; checkpoints every 500 iterations all the same.
SMALL = {"hidden_size": 8, "batch_size": 10}
SETTINGS = TrainSettings(iters_num=1200, seed=2, **SMALL)


def digits():
    return load_dataset("digits")


def train_into(folder: Path, settings: TrainSettings = SETTINGS) -> DiskCheckpoints:
    """A folder that a whole training run has left its checkpoints in."""
    disk = DiskCheckpoints(folder, 64 * MIB)
    TrainingRun(settings, digits()).advance(checkpoints=Checkpoints(disk))
    return disk


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory) -> Path:
    return train_into(tmp_path_factory.mktemp("trained")).directory


def trained_folder(folder: Path, trained_once: Path) -> DiskCheckpoints:
    """A copy of the folder of SETTINGS' run (each test spoils its own)."""
    shutil.copytree(trained_once, folder)
    return DiskCheckpoints(folder, 64 * MIB)


@pytest.fixture(scope="module")
def file_size(trained_once) -> int:
    """Bytes of one checkpoint file of the small net (they are all the same size)."""
    sizes = {p.stat().st_size for p in trained_once.glob("*.npz")}
    assert len(sizes) == 1
    return sizes.pop()


def as_bytes(replayed) -> tuple:
    params, x_batch, t_batch = replayed
    return tuple(params[n].tobytes() for n in PARAM_NAMES), x_batch.tobytes(), t_batch.tobytes()


def test_a_run_leaves_a_file_every_500_iterations_and_a_replay_reads_the_nearest(trained_once):
    disk = DiskCheckpoints(trained_once, 64 * MIB)
    names = sorted(p.name for p in trained_once.glob("*.npz"))
    key = run_key(SETTINGS, digits())
    assert names == [f"{key}-{i:09d}.npz" for i in (500, 1000)]
    fresh = Checkpoints(disk)  # another process: nothing in memory
    assert fresh.nearest(SETTINGS, digits(), 1100).iteration == 1000
    assert fresh.nearest(SETTINGS, digits(), 999).iteration == 500
    assert fresh.nearest(SETTINGS, digits(), 499) is None
    assert fresh.nearest(TrainSettings(iters_num=1200, seed=3, **SMALL), digits(), 1100) is None
    assert fresh.nearest(TrainSettings(iters_num=9000, seed=2, **SMALL), digits(), 1100)


@pytest.mark.parametrize("iteration", [0, 1, 500, 501, 999, 1000, 1199])
def test_replay_from_files_is_bit_identical_to_replay_without_any_cache(trained_once, iteration):
    disk = trained_folder(trained_once.parent / f"copy{iteration}", trained_once)
    from_files = replay(SETTINGS, iteration, digits(), cache=Checkpoints(disk))
    assert as_bytes(from_files) == as_bytes(replay(SETTINGS, iteration, digits(), cache=None))


def test_replay_from_a_checkpoint_is_the_training_runs_state(trained_once):
    disk = DiskCheckpoints(trained_once, 64 * MIB)
    checkpoint = Checkpoints(disk).nearest(SETTINGS, digits(), 1000)
    run = TrainingRun(SETTINGS, digits())
    run.advance(until=1000)
    assert checkpoint.iteration == 1000
    for name in PARAM_NAMES:
        assert checkpoint.params[name].tobytes() == run.params[name].tobytes()
    assert checkpoint.rng_state[1].tobytes() == run.rng.get_state()[1].tobytes()
    assert checkpoint.rng_state[2:] == run.rng.get_state()[2:]


# --- files that must not be trusted ----------------------------------------------------------


def rewrite(path: Path, **changes) -> None:
    """The file again with some arrays changed and its digest made to match (a well-formed
    file that is still wrong)."""
    with np.load(path) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays.update(changes)
    arrays["digest"] = np.asarray(_digest(arrays))
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def flip_a_weight_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x40  # inside the first arrays' data, past the headers
    path.write_bytes(bytes(data))


def another_runs_file(path: Path) -> None:
    other = TrainSettings(iters_num=600, seed=7, **SMALL)
    disk = train_into(path.parent / "other", other)
    path.write_bytes(disk.path(run_key(other, digits()), 500).read_bytes())


def a_pickle(path: Path) -> None:
    with open(path, "wb") as file:
        np.savez(file, W1=np.array([{"not": "an array"}], dtype=object))


SPOILERS = {
    "truncated": truncate,
    "a flipped byte": flip_a_weight_byte,
    "not a zip": lambda path: path.write_bytes(b"not an npz file at all"),
    "empty": lambda path: path.write_bytes(b""),
    "a pickle": a_pickle,
    "another run's": another_runs_file,
    "another format version": lambda path: rewrite(
        path, format=np.asarray(FORMAT_VERSION + 1, dtype=np.int64)
    ),
    "another iteration": lambda path: rewrite(path, iteration=np.asarray(500, dtype=np.int64)),
    "wrong shapes": lambda path: rewrite(path, W1=np.zeros((64, 7)), b1=np.zeros(7)),
    "a bad random state": lambda path: rewrite(path, rng_pos=np.asarray(625, dtype=np.int64)),
    "a wrong digest": lambda path: rewrite(path) or _set_digest(path, "0" * 64),
    "an extra array": lambda path: rewrite(path, extra=np.zeros(3)),
}


def _set_digest(path: Path, digest: str) -> None:
    with np.load(path) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays["digest"] = np.asarray(digest)
    with open(path, "wb") as file:
        np.savez(file, **arrays)


@pytest.mark.parametrize("spoil", SPOILERS.values(), ids=SPOILERS.keys())
def test_a_spoiled_file_is_ignored_recomputed_and_rewritten(tmp_path, trained_once, spoil):
    disk = trained_folder(tmp_path / "folder", trained_once)
    path = disk.path(run_key(SETTINGS, digits()), 1000)
    spoil(path)
    cache = Checkpoints(disk)
    found = cache.nearest(SETTINGS, digits(), 1100)
    assert found.iteration == 500  # the spoiled one skipped, the one before it used
    replayed = replay(SETTINGS, 1100, digits(), cache=cache)
    assert as_bytes(replayed) == as_bytes(replay(SETTINGS, 1100, digits(), cache=None))
    # The replay passed iteration 1000 and wrote it again, sound this time.
    assert Checkpoints(disk).nearest(SETTINGS, digits(), 1100).iteration == 1000


# --- the folder's size -----------------------------------------------------------------------


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())


def test_the_folder_never_holds_more_than_its_bound_the_oldest_files_going_first(
    tmp_path, file_size
):
    bound = 5 * file_size
    disk = DiskCheckpoints(tmp_path, bound)
    cache = Checkpoints(disk)
    run = TrainingRun(TrainSettings(iters_num=6000, **SMALL), digits())
    sizes = []
    while not run.done:
        run.advance(until=run.iteration + 500, checkpoints=cache)
        sizes.append(folder_bytes(tmp_path))
    assert max(sizes) <= bound
    kept = sorted(int(p.stem.rsplit("-", 1)[1]) for p in tmp_path.glob("*.npz"))
    assert 2 <= len(kept) <= 5 and kept[-1] == 6000
    assert kept == list(range(6000 - 500 * (len(kept) - 1), 6001, 500))  # the newest ones


def test_eviction_spares_the_file_a_replay_just_read(tmp_path, file_size):
    disk = DiskCheckpoints(tmp_path, 5 * file_size)
    settings = TrainSettings(iters_num=3000, **SMALL)
    TrainingRun(settings, digits()).advance(until=2000, checkpoints=Checkpoints(disk))
    for path in tmp_path.glob("*.npz"):  # 500, 1000, 1500, 2000, written long ago
        os.utime(path, (1_000_000, 1_000_000))
    assert Checkpoints(disk).nearest(settings, digits(), 999).iteration == 500  # read now
    # Two more files make six, over the bound: eviction takes the folder down to 3.75 files'
    # worth, the least recently used first, which 500 no longer is.
    other = TrainingRun(TrainSettings(iters_num=3000, seed=1, **SMALL), digits())
    other.advance(until=1000, checkpoints=Checkpoints(disk))
    key = run_key(settings, digits())
    assert [disk.path(key, i).exists() for i in (500, 1000, 1500, 2000)] == [True] + [False] * 3
    assert len(list(tmp_path.glob("*.npz"))) == 3


def test_a_checkpoint_larger_than_the_bound_is_not_written(tmp_path, file_size):
    disk = DiskCheckpoints(tmp_path, file_size // 2)
    run = TrainingRun(TrainSettings(iters_num=500, **SMALL), digits())
    run.advance(checkpoints=Checkpoints(disk))
    assert list(tmp_path.iterdir()) == []


def test_stale_temporary_files_are_removed_and_fresh_ones_kept(tmp_path):
    stale, fresh = tmp_path / ".tmp-stale.npz", tmp_path / ".tmp-fresh.npz"
    stale.write_bytes(b"x" * 100)
    fresh.write_bytes(b"x" * 100)
    os.utime(stale, (1_000_000, 1_000_000))
    DiskCheckpoints(tmp_path, 64 * MIB).evict()
    assert not stale.exists() and fresh.exists()


def test_a_folder_others_may_write_in_is_not_used(tmp_path, caplog):
    tmp_path.chmod(0o777)
    disk = DiskCheckpoints(tmp_path, 64 * MIB)
    run = TrainingRun(TrainSettings(iters_num=500, **SMALL), digits())
    run.advance(checkpoints=Checkpoints(disk))
    assert list(tmp_path.iterdir()) == []
    assert "others may write in it" in caplog.text


def test_a_folder_inside_one_others_may_write_in_is_not_used(tmp_path, caplog):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared").chmod(0o777)  # not sticky: another user could swap our folder
    disk = DiskCheckpoints(tmp_path / "shared" / "checkpoints", 64 * MIB)
    run = TrainingRun(TrainSettings(iters_num=500, **SMALL), digits())
    run.advance(checkpoints=Checkpoints(disk))
    assert list((tmp_path / "shared" / "checkpoints").iterdir()) == []
    assert "its parent" in caplog.text
    (tmp_path / "shared").chmod(0o1777)  # sticky, as /tmp is: fine
    disk = DiskCheckpoints(tmp_path / "shared" / "checkpoints", 64 * MIB)
    run = TrainingRun(TrainSettings(iters_num=500, **SMALL), digits())
    run.advance(checkpoints=Checkpoints(disk))
    assert len(list((tmp_path / "shared" / "checkpoints").iterdir())) == 1


def test_a_file_planted_in_a_folder_others_may_write_in_is_never_read(tmp_path, caplog):
    """Another user could plant a file with the right name and digest (neither is secret):
    a folder that is not ours alone is not read either, only not written."""
    folder = tmp_path / "checkpoints"
    run = TrainingRun(TrainSettings(iters_num=500, **SMALL), digits())
    run.advance(checkpoints=Checkpoints(DiskCheckpoints(folder, 64 * MIB)))
    (planted,) = folder.iterdir()
    assert DiskCheckpoints(folder, 64 * MIB).read_arrays(planted.name, ARRAY_NAMES) is not None
    folder.chmod(0o777)
    assert DiskCheckpoints(folder, 64 * MIB).read_arrays(planted.name, ARRAY_NAMES) is None
    assert "others may write in it" in caplog.text


def test_the_default_folders_parent_is_made_ours_alone_under_a_group_umask(tmp_path):
    """mkdir's mode applies to the last folder only: under umask 002 the parent
    (backprop-viz-<uid>) was group-writable, and the folder refused for good."""
    old = os.umask(0o002)
    try:
        disk = DiskCheckpoints(tmp_path / "backprop-viz-1" / "checkpoints", 64 * MIB)
        run = TrainingRun(TrainSettings(iters_num=500, **SMALL), digits())
        run.advance(checkpoints=Checkpoints(disk))
    finally:
        os.umask(old)
    assert (tmp_path / "backprop-viz-1").stat().st_mode & 0o777 == 0o700
    assert len(list((tmp_path / "backprop-viz-1" / "checkpoints").iterdir())) == 1


def test_a_folder_removed_while_in_use_is_made_again(tmp_path):
    disk = DiskCheckpoints(tmp_path / "checkpoints", 64 * MIB)
    run = TrainingRun(TrainSettings(iters_num=1500, **SMALL), digits())
    run.advance(until=500, checkpoints=Checkpoints(disk))
    shutil.rmtree(tmp_path / "checkpoints")
    run.advance(until=1000, checkpoints=Checkpoints(disk))  # lost, noticed
    run.advance(checkpoints=Checkpoints(disk))
    names = [p.name.rsplit("-", 1)[1] for p in (tmp_path / "checkpoints").iterdir()]
    assert names == ["000001500.npz"]


# --- processes sharing one folder ------------------------------------------------------------

REPLAY_OVER_HTTP = textwrap.dedent(
    """
    import json, sys
    from fastapi.testclient import TestClient
    from backprop_viz.settings import Settings
    from backprop_viz.training.checkpoints import CHECKPOINTS
    from backprop_viz.training.datasets import load_dataset
    from backprop_viz.training.settings import TrainSettings
    from backprop_viz.web.app import create_app

    run = {"iters_num": 1000, "seed": 6, "hidden_size": 8, "batch_size": 10}
    k = int(sys.argv[1])
    found = CHECKPOINTS.nearest(TrainSettings(**run), load_dataset("digits"), k)
    CHECKPOINTS.clear()  # the replay below must find the file by itself
    body = {"training": {**run, "iteration": k}}
    r = TestClient(create_app(Settings())).post("/api/trace", json=body)
    print(json.dumps({"status": r.status_code, "loss": repr(r.json()["values"]["loss"]),
                      "from": found.iteration if found else None}))
    """
)


def checkpoint_files(folder: Path) -> list[Path]:
    return [p for p in folder.glob("*.npz") if not p.name.startswith("digits-")]


def in_a_process(args: list[str], folder: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "BPV_TRAIN_CACHE_DIR": str(folder)}
    env.pop("BPV_TRAIN_CACHE_MAX_MB", None)
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=300, check=True
    )


def test_a_replay_over_http_in_one_process_reads_the_files_another_process_trained(tmp_path):
    folder = tmp_path / "shared"
    argv = ["-m", "backprop_viz.cli", "train", "--iters", "1000", "--seed", "6", "--json"]
    trained = in_a_process([*argv, "--hidden-size", "8", "--batch-size", "10"], folder)
    loss = json.loads(trained.stdout)["loss"]
    assert len(checkpoint_files(folder)) == 2  # 500 and 1000 (and the digits split)
    for k, start in ((999, 500), (510, 500), (200, None)):
        replayed = json.loads(in_a_process(["-c", REPLAY_OVER_HTTP, str(k)], folder).stdout)
        assert replayed == {"status": 200, "loss": repr(loss[k]), "from": start}


def test_a_replay_over_http_in_a_fresh_app_uses_the_file_another_app_left(tmp_path, monkeypatch):
    body = {"iters_num": 1200, "seed": 2, **SMALL}
    trained = TestClient(create_app(Settings())).post("/api/train", json=body)
    assert trained.status_code == 200
    assert len(checkpoint_files(CHECKPOINTS.disk.directory)) == 2
    CHECKPOINTS.clear()  # as in another worker: nothing in memory
    loaded = []
    load = CHECKPOINTS.disk.load
    monkeypatch.setattr(CHECKPOINTS.disk, "load", lambda *a: loaded.append(a[1]) or load(*a))
    fresh = TestClient(create_app(Settings()))
    r = fresh.post("/api/trace", json={"training": {**body, "iteration": 1100}})
    assert r.status_code == 200, r.text
    assert repr(r.json()["values"]["loss"]) == repr(trained.json()["loss"][1100])
    assert loaded == [1000]  # the nearest file, read once; nothing replayed from 0
