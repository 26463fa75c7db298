"""The digits split kept as a file beside the checkpoints: the same arrays as scikit-learn's to
the bit, read without importing scikit-learn, and recomputed when the file is not sound."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from backprop_viz.training import datasets
from backprop_viz.training.checkpoints import CHECKPOINTS

PARTS = ("x_train", "t_train", "x_test", "t_test")


def fresh_load():
    return datasets.load_digits_dataset.__wrapped__()  # past the process's lru_cache


def arrays_of(data) -> list[bytes]:
    return [getattr(data, part).tobytes() for part in (*PARTS, "t_train_one_hot")]


def digits_files():
    return sorted(CHECKPOINTS.disk.directory.glob("digits-*.npz"))


def test_the_first_load_writes_the_file_and_the_next_reads_it_to_the_bit(monkeypatch):
    split = datasets._split_digits()
    written = fresh_load()
    assert len(digits_files()) == 1
    assert [getattr(written, p).tobytes() for p in PARTS] == [a.tobytes() for a in split]

    def no_scikit_learn():
        raise AssertionError("the split was made again instead of read from its file")

    monkeypatch.setattr(datasets, "_split_digits", no_scikit_learn)
    read = fresh_load()
    assert arrays_of(read) == arrays_of(written)
    assert read.fingerprint == written.fingerprint
    assert not read.x_train.flags.writeable  # shared, as the split made here is


def shorten(path):
    path.write_bytes(path.read_bytes()[:1000])


def other_key(path):
    with np.load(path) as npz:
        arrays = {name: npz[name] for name in npz.files if name != "digest"}
    arrays["key"] = np.asarray("0" * 40)
    CHECKPOINTS.disk.write_arrays(path.name, arrays)


def fewer_rows(path):
    with np.load(path) as npz:
        arrays = {name: npz[name] for name in npz.files if name != "digest"}
    arrays["x_train"], arrays["t_train"] = arrays["x_train"][:-1], arrays["t_train"][:-1]
    CHECKPOINTS.disk.write_arrays(path.name, arrays)


@pytest.mark.parametrize("spoil", [shorten, other_key, fewer_rows])
def test_a_spoiled_digits_file_is_ignored_and_the_split_made_again(monkeypatch, spoil):
    expected = arrays_of(fresh_load())
    spoil(digits_files()[0])
    calls = []
    split = datasets._split_digits
    monkeypatch.setattr(datasets, "_split_digits", lambda: calls.append(1) or split())
    assert arrays_of(fresh_load()) == expected
    assert calls == [1]


def test_with_no_files_the_split_is_made_each_time(monkeypatch):
    monkeypatch.setattr(CHECKPOINTS, "disk", None)
    calls = []
    split = datasets._split_digits
    monkeypatch.setattr(datasets, "_split_digits", lambda: calls.append(1) or split())
    fresh_load()
    fresh_load()
    assert calls == [1, 1]


def test_another_process_reads_the_file_without_importing_scikit_learn():
    written = fresh_load()
    code = (
        "import json, sys\n"
        "from backprop_viz.training.datasets import load_dataset\n"
        "data = load_dataset('digits')\n"
        "print(json.dumps([data.fingerprint, 'sklearn' in sys.modules]))\n"
    )
    env = {**os.environ, "BPV_TRAIN_CACHE_DIR": str(CHECKPOINTS.disk.directory)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [written.fingerprint, False]
