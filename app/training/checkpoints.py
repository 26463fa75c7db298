"""Checkpoints of training runs, so that a replay of iteration k starts near k, not at 0.

A checkpoint is a run's whole state before an iteration: the weights and the random state.
Every ``CHECKPOINT_EVERY`` iterations a run that is given a ``Checkpoints`` (training through
the API, the stream, the CLI, and the replays themselves) hands it its state; it keeps them

* in memory, for the last few runs of this process, and
* on disk, in ``BPV_TRAIN_CACHE_DIR``, one ``.npz`` file each, shared by every worker process
  of the machine, at most ``BPV_TRAIN_CACHE_MAX_MB`` (least recently used evicted first).

Correctness never depends on them. A run from a checkpoint is the same computation as a run
from the start, so the answer is the same bit for bit. A file is keyed by a hash of everything
its numbers depend on (``run_key``: the settings, the data's content, the code that computes a
step, NumPy and its BLAS), is written whole or not at all (a temporary file, then
``os.replace``), and is read with ``allow_pickle=False`` and checked (its names, shapes, dtypes,
key, iteration and a SHA-256 of its arrays) before it is used: a file that is corrupt, truncated,
from another version or another run is ignored, and the replay computes the state instead.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import platform
import stat
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from backprop_viz.training.net import PARAM_NAMES, Params
from backprop_viz.training.settings import MIB, TrainSettings, limits_from_env

if TYPE_CHECKING:
    from backprop_viz.training.datasets import Dataset
    from backprop_viz.training.loop import TrainingRun

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 500
"""Iterations between checkpoints: a replay runs at most 499 iterations (about 0.1 s on
digits, 0.5 s on MNIST) and the book's run writes 20 files (0.7 MB on digits)."""
CACHED_RUNS = 4
"""Runs whose checkpoints each process also keeps in memory."""
FORMAT_VERSION = 1
"""Changes whenever the file layout does; a file of another version is never read."""
RNG_NAMES = ("rng_keys", "rng_pos", "rng_has_gauss", "rng_cached_gaussian")
ARRAY_NAMES = frozenset({*PARAM_NAMES, *RNG_NAMES, "format", "key", "iteration"})
Shapes = dict[str, tuple[int, ...]]
STALE_TEMP_SECONDS = 600
"""A temporary file older than this was left by a process that died while writing it."""
# Code whose change changes the numbers of a run: its source is part of every key.
COMPUTING_MODULES = (
    "backprop_viz.core.layers",
    "backprop_viz.training.net",
    "backprop_viz.training.loop",
    "backprop_viz.training.checkpoints",
)


@dataclass(frozen=True)
class Checkpoint:
    """A run's whole state before iteration ``iteration``."""

    iteration: int
    params: Params
    rng_state: tuple

    @classmethod
    def of(cls, run: TrainingRun) -> Checkpoint:
        """The state of ``run`` now (copied: the run goes on changing its own)."""
        return cls(run.iteration, {k: v.copy() for k, v in run.params.items()}, run.rng.get_state())

    def restore(self, run: TrainingRun) -> None:
        """Put ``run`` in this state (copies, so the checkpoint stays as it was)."""
        run.iteration = self.iteration
        run.params = {k: v.copy() for k, v in self.params.items()}
        run.rng.set_state(self.rng_state)


# --- keys ----------------------------------------------------------------------------------


@cache
def _numpy_blas() -> Any:
    """threadpoolctl's handle on the BLAS that NumPy calls (the one inside NumPy's folder; else
    the first loaded, which is NumPy's: SciPy, loaded later with scikit-learn, brings its own,
    which a run never calls)."""
    from threadpoolctl import ThreadpoolController

    numpy_dir = Path(np.__file__).resolve().parent
    roots = (numpy_dir, numpy_dir.parent / "numpy.libs")
    blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    ours = [
        lib for lib in blas if any(Path(lib.filepath).resolve().is_relative_to(r) for r in roots)
    ]
    return (ours or blas or [None])[0]


def blas_threads() -> int:
    """NumPy's BLAS threads now: a product computed on two threads may differ in its last
    bits from one on one (it does at 784-300-10, batch 500), so runs on different counts share
    no checkpoint."""
    lib = _numpy_blas()
    return lib.num_threads if lib is not None else 1


@cache
def code_fingerprint() -> str:
    """A hash of the source of the modules that compute a run, the checkpoint format, and the
    NumPy, BLAS and CPU they run on."""
    digest = hashlib.sha256(f"format {FORMAT_VERSION}".encode())
    for name in COMPUTING_MODULES:
        digest.update(Path(importlib.import_module(name).__file__).read_bytes())
    lib = _numpy_blas()
    blas = {
        k: v for k, v in (lib.info() if lib else {}).items() if k not in ("num_threads", "filepath")
    }
    digest.update(f"numpy {np.__version__} {platform.machine()} {sorted(blas.items())}".encode())
    return digest.hexdigest()


def run_key(settings: TrainSettings, dataset: Dataset) -> str:
    """What a run's state at any iteration depends on, hashed. ``iters_num`` is left out: it
    only says where the run stops, so runs of any length share their checkpoints."""
    identity = {
        "code": code_fingerprint(),
        "blas_threads": blas_threads(),
        "dataset": dataset.fingerprint,
        "settings": settings.model_dump(mode="json", exclude={"iters_num"}),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:40]


def param_shapes(settings: TrainSettings, dataset: Dataset) -> Shapes:
    """The shapes of the run's weights and biases (what a checkpoint of it must hold)."""
    hidden = settings.hidden_size
    return {
        "W1": (dataset.input_size, hidden),
        "b1": (hidden,),
        "W2": (hidden, dataset.classes),
        "b2": (dataset.classes,),
    }


# --- in memory -----------------------------------------------------------------------------


class MemoryCheckpoints:
    """Checkpoints of this process's last ``runs`` runs (least recently used dropped first)."""

    def __init__(self, runs: int = CACHED_RUNS):
        self.runs = runs
        self._lock = threading.Lock()
        self._by_run: OrderedDict[str, dict[int, Checkpoint]] = OrderedDict()

    def store(self, key: str, checkpoint: Checkpoint) -> None:
        with self._lock:
            saved = self._by_run.setdefault(key, {})
            self._by_run.move_to_end(key)
            saved[checkpoint.iteration] = checkpoint
            while len(self._by_run) > self.runs:
                self._by_run.popitem(last=False)

    def nearest(self, key: str, iteration: int) -> Checkpoint | None:
        """The latest checkpoint of run ``key`` at or before ``iteration``, if any."""
        with self._lock:
            saved = self._by_run.get(key)
            if not saved:
                return None
            self._by_run.move_to_end(key)
            at = [i for i in saved if i <= iteration]
            return saved[max(at)] if at else None

    def clear(self) -> None:
        with self._lock:
            self._by_run.clear()


# --- on disk -------------------------------------------------------------------------------


def _digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of the arrays (names, dtypes, shapes and bytes), the digest itself left out."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        if name != "digest":
            array = arrays[name]
            digest.update(f"{name} {array.dtype.str} {array.shape}".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()


class DiskCheckpoints:
    """Checkpoint files in ``directory`` (and the digits split, see datasets.py), at most
    about ``max_bytes`` of them.

    Eviction (least recently read or written first, by modification time) runs when this
    process's count of the folder's bytes passes ``max_bytes``, and at least every sixteenth
    of it written, and takes the folder down to three quarters of ``max_bytes``: one process
    keeps the bound exactly; several processes writing at once may each pass it by a sixteenth
    until one of them next evicts. A folder this process cannot use (not writable, or owned by
    another user or writable by others, where they could plant files) turns the disk cache
    off with one warning; a replay is then only slower.
    """

    def __init__(self, directory: str | Path, max_bytes: int):
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._usable: bool | None = None
        self._known_bytes: int | None = None
        self._since_eviction = 0

    def path(self, key: str, iteration: int) -> Path:
        return self.directory / f"{key}-{iteration:09d}.npz"

    def load(self, key: str, iteration: int, shapes: Shapes) -> Checkpoint | None:
        """The checkpoint of run ``key`` before ``iteration`` if its file is there and sound
        (``shapes``: those its weights must have), else None."""
        arrays = self.read_arrays(self.path(key, iteration).name, ARRAY_NAMES)
        return None if arrays is None else _checked(arrays, key, iteration, shapes)

    def store(self, key: str, checkpoint: Checkpoint) -> None:
        """Write the checkpoint's file, whole or not at all; any failure only loses it."""
        state = checkpoint.rng_state
        arrays = {
            **checkpoint.params,
            "rng_keys": np.asarray(state[1], dtype=np.uint32),
            "rng_pos": np.asarray(state[2], dtype=np.int64),
            "rng_has_gauss": np.asarray(state[3], dtype=np.int64),
            "rng_cached_gaussian": np.asarray(state[4], dtype=np.float64),
            "format": np.asarray(FORMAT_VERSION, dtype=np.int64),
            "key": np.asarray(key),
            "iteration": np.asarray(checkpoint.iteration, dtype=np.int64),
        }
        self.write_arrays(self.path(key, checkpoint.iteration).name, arrays)

    # Any file of arrays -------------------------------------------------------------------

    def read_arrays(self, name: str, names: frozenset[str]) -> dict[str, np.ndarray] | None:
        """The arrays of file ``name`` if it holds exactly ``names`` (and "digest") and its
        digest matches them; None if it is missing or anything about it is wrong, or if the
        folder is not ours alone (another user could have planted the file)."""
        if not self._ready():
            return None
        path = self.directory / name
        try:
            with np.load(path, allow_pickle=False) as npz:
                if set(npz.files) != names | {"digest"}:
                    return None
                arrays = {part: npz[part] for part in npz.files}
        except FileNotFoundError:
            return None
        except Exception:  # truncated, not a zip, a pickle, a bad header: not ours
            return None
        if arrays["digest"].shape != () or str(arrays["digest"]) != _digest(arrays):
            return None
        try:
            os.utime(path)  # read now: the last to be evicted
        except OSError:
            pass
        return arrays

    def write_arrays(self, name: str, arrays: dict[str, np.ndarray]) -> None:
        """Write ``arrays`` and their digest as file ``name``, whole or not at all (a
        temporary file, then a rename); any failure only loses the file."""
        if not self._ready():
            return
        arrays = {**arrays, "digest": np.asarray(_digest(arrays))}
        if sum(a.nbytes for a in arrays.values()) > self.max_bytes:
            return
        temporary = None
        try:
            fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".npz")
            with os.fdopen(fd, "wb") as file:
                np.savez(file, **arrays)
                size = file.tell()
            os.replace(temporary, self.directory / name)
            temporary = None
        except FileNotFoundError:  # the folder was removed (a temp cleaner): made again next time
            self._usable = None
            return
        except OSError as e:
            self._warn_once(f"cannot write to {self.directory}: {e}")
            return
        finally:
            if temporary is not None:
                _unlink(Path(temporary))
        self._account(size)

    def _account(self, written: int) -> None:
        with self._lock:
            if self._known_bytes is None:
                self._known_bytes = self._scan()[0]
            else:
                self._known_bytes += written
            self._since_eviction += written
            due = self._known_bytes > self.max_bytes
            due = due or self._since_eviction > self.max_bytes // 16
        if due:
            self.evict()

    def evict(self) -> None:
        """If the folder holds more than ``max_bytes``, delete the least recently used files
        until it holds three quarters of it (and, always, stale temporary files)."""
        total, entries = self._scan()
        if total > self.max_bytes:
            low_water = self.max_bytes * 3 // 4
            for _, size, path in sorted(entries):
                if total <= low_water:
                    break
                if _unlink(path):
                    total -= size
        with self._lock:
            self._known_bytes = total
            self._since_eviction = 0

    def _scan(self) -> tuple[int, list[tuple[float, int, Path]]]:
        """The folder's checkpoint bytes and files (mtime, size, path); stale temporary
        files are deleted on the way."""
        total, entries = 0, []
        now = time.time()
        try:
            with os.scandir(self.directory) as listing:
                for entry in listing:
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if entry.name.startswith(".tmp-"):
                        if now - info.st_mtime > STALE_TEMP_SECONDS:
                            _unlink(Path(entry.path))
                        else:
                            total += info.st_size
                    elif entry.name.endswith(".npz") and entry.is_file(follow_symlinks=False):
                        total += info.st_size
                        entries.append((info.st_mtime, info.st_size, Path(entry.path)))
        except OSError:
            pass
        return total, entries

    def _ready(self) -> bool:
        """Make the folder on first use and check that it is ours alone."""
        if self._usable is None:
            with self._lock:
                if self._usable is None:
                    self._usable = self._prepare()
        return self._usable

    def _prepare(self) -> bool:
        try:
            # The parent too (the default's backprop-viz-<uid>): mkdir's mode applies only to
            # the last folder, and a group-writable parent (umask 002) would be refused for good.
            self.directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.directory.mkdir(mode=0o700, exist_ok=True)
            folder, parent = self.directory.stat(), self.directory.parent.stat()
        except OSError as e:
            self._warn_once(f"cannot use {self.directory} for checkpoints: {e}")
            return False
        if hasattr(os, "getuid"):
            me = os.getuid()
            # The folder must be ours alone; its parent ours or root's, and if others may
            # write in it, sticky (as /tmp is), so that none can swap our folder for theirs.
            ours = folder.st_uid == me and not folder.st_mode & 0o022
            parent_safe = parent.st_uid in (me, 0) and (
                not parent.st_mode & 0o022 or parent.st_mode & stat.S_ISVTX
            )
            if not (ours and parent_safe):
                self._warn_once(
                    f"not using {self.directory} for checkpoints: it or its parent belongs to "
                    "another user or others may write in it (BPV_TRAIN_CACHE_DIR)"
                )
                return False
        return True

    def _warn_once(self, message: str) -> None:
        if self._usable is not False:
            log.warning("%s; replays start from the nearest checkpoint in memory instead", message)
        self._usable = False


def _checked(
    arrays: dict[str, np.ndarray], key: str, iteration: int, shapes: Shapes
) -> Checkpoint | None:
    """The checkpoint in ``arrays`` if every part of it is what it must be, else None."""
    scalars = ("format", "key", "iteration", *RNG_NAMES[1:])
    if any(arrays[name].shape != () for name in scalars):
        return None
    try:
        if int(arrays["format"]) != FORMAT_VERSION or str(arrays["key"]) != key:
            return None
        if int(arrays["iteration"]) != iteration:
            return None
        pos, has_gauss = int(arrays["rng_pos"]), int(arrays["rng_has_gauss"])
        cached_gaussian = float(arrays["rng_cached_gaussian"])
    except (TypeError, ValueError):
        return None
    for name in PARAM_NAMES:
        if arrays[name].dtype != np.float64 or arrays[name].shape != shapes[name]:
            return None
    keys = arrays["rng_keys"]
    if keys.dtype != np.uint32 or keys.shape != (624,) or not 0 <= pos <= 624:
        return None
    if has_gauss not in (0, 1):
        return None
    params = {name: arrays[name] for name in PARAM_NAMES}
    return Checkpoint(iteration, params, ("MT19937", keys, pos, has_gauss, cached_gaussian))


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except OSError:  # gone already: another process evicted it
        return False


# --- both ----------------------------------------------------------------------------------


class Checkpoints:
    """Where runs leave their checkpoints and replays look for the nearest one: in memory
    first, then on disk (``disk=None``: memory only)."""

    def __init__(
        self,
        disk: DiskCheckpoints | None = None,
        every: int = CHECKPOINT_EVERY,
        runs: int = CACHED_RUNS,
    ):
        self.disk = disk
        self.every = every
        self.memory = MemoryCheckpoints(runs)

    def save(self, run: TrainingRun) -> None:
        """Keep the run's state if it stands at a checkpoint iteration (called after every
        iteration; costs a remainder when it does not)."""
        if run.iteration % self.every or run.iteration == 0:
            return
        key = run_key(run.settings, run.dataset)
        checkpoint = Checkpoint.of(run)
        self.memory.store(key, checkpoint)
        if self.disk is not None:
            self.disk.store(key, checkpoint)

    def nearest(
        self, settings: TrainSettings, dataset: Dataset, iteration: int
    ) -> Checkpoint | None:
        """The latest checkpoint of the run of ``settings`` on ``dataset`` at or before
        ``iteration``, if any."""
        key = run_key(settings, dataset)
        found = self.memory.nearest(key, iteration)
        if self.disk is None:
            return found
        shapes = param_shapes(settings, dataset)
        floor = found.iteration if found is not None else 0
        for at in range(iteration - iteration % self.every, floor, -self.every):
            checkpoint = self.disk.load(key, at, shapes)
            if checkpoint is not None:
                self.memory.store(key, checkpoint)
                return checkpoint
        return found

    def clear(self) -> None:
        """Forget the checkpoints in memory (the files stay: other processes share them)."""
        self.memory.clear()


def checkpoints_from_env() -> Checkpoints:
    """The process's checkpoints, on disk where BPV_TRAIN_CACHE_DIR says."""
    limits = limits_from_env()
    if limits.cache_max_mb == 0:
        return Checkpoints()
    return Checkpoints(DiskCheckpoints(limits.cache_dir, limits.cache_max_mb * MIB))


CHECKPOINTS = checkpoints_from_env()
"""The checkpoints of this process: training through the API and replays use them."""
