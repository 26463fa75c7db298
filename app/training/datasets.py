"""The data of 5.7.4, offline: scikit-learn's digits always, MNIST when the user has it.

``digits`` is ``sklearn.datasets.load_digits`` (1797 images of 8x8 pixels, values 0-16, shipped
inside the scikit-learn wheel): split 80/20 into train and test with a fixed seed, stratified
by label, and scaled to [0, 1]. ``mnist`` is read from the folder ``BPV_MNIST_DIR`` in any of
the three forms people have it in: the four IDX files (gzipped or not), the book's
``mnist.pkl`` (dataset/mnist.py's pickle of a dict), or Keras' ``mnist.npz``; scaled to [0, 1]
as the book's ``load_mnist(normalize=True)`` does. Nothing is ever downloaded (the book's own
loader fails today: its server answers 403).

Each dataset is loaded once per process; its arrays are read-only, as they are shared.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from backprop_viz.core.graph import GraphError

DATASETS = ("digits", "mnist")
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0
CLASSES = 10

# The IDX files as published, and the spelling some mirrors use (train-images.idx3-ubyte).
IDX_FILES = {
    "x_train": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "t_train": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "x_test": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "t_test": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}
IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
MNIST_FORMS = (
    "the IDX files (train-images-idx3-ubyte[.gz] and the other three), mnist.pkl or mnist.npz"
)


class DatasetError(GraphError):
    """A dataset that cannot be had: unknown, absent, or a file that is not what it says."""

    def __init__(self, message: str):
        super().__init__(message, field="dataset")


@dataclass(frozen=True)
class Dataset:
    """Images as rows scaled to [0, 1], labels as class indices (and one-hot, for the loss)."""

    name: str
    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    image_shape: tuple[int, int]
    source: str
    t_train_one_hot: np.ndarray
    """The training labels one-hot: the loop takes its batches' t from here."""

    @property
    def train_size(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def test_size(self) -> int:
        return int(self.x_test.shape[0])

    @property
    def input_size(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def classes(self) -> int:
        return CLASSES

    @cached_property
    def fingerprint(self) -> str:
        """A hash of what a run reads (the training images and labels): the identity of the
        data behind a checkpoint, whatever file it was loaded from."""
        digest = hashlib.sha256(self.name.encode())
        for array in (self.x_train, self.t_train_one_hot):
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(memoryview(np.ascontiguousarray(array)).cast("B"))
        return digest.hexdigest()

    def info(self) -> dict[str, Any]:
        """What GET /api/datasets says about it."""
        return {
            "name": self.name,
            "available": True,
            "source": self.source,
            "train_size": self.train_size,
            "test_size": self.test_size,
            "input_size": self.input_size,
            "image_shape": list(self.image_shape),
            "classes": self.classes,
            "note": None,
        }


def load_dataset(name: str, mnist_dir: str | None = None) -> Dataset:
    """The dataset called ``name`` (loaded once per process); ``DatasetError`` if it cannot be
    had, which the API answers with a 422 naming the field ``dataset``."""
    if name == "digits":
        return load_digits_dataset()
    if name == "mnist":
        if not mnist_dir:
            raise DatasetError(
                "dataset: 'mnist' is not available on this server: set BPV_MNIST_DIR to a folder "
                f"holding {MNIST_FORMS} ('digits' is always available)"
            )
        return load_mnist(mnist_dir)
    raise DatasetError(f"dataset: no dataset {name[:40]!r}; known: {', '.join(DATASETS)}")


def available_datasets(mnist_dir: str | None) -> list[dict[str, Any]]:
    """Every dataset with its sizes and shapes, or why it is not available."""
    listed = [load_digits_dataset().info()]
    try:
        listed.append(load_dataset("mnist", mnist_dir).info())
    except DatasetError as e:
        listed.append(
            {
                "name": "mnist",
                "available": False,
                "source": "BPV_MNIST_DIR",
                "train_size": None,
                "test_size": None,
                "input_size": 784,
                "image_shape": [28, 28],
                "classes": CLASSES,
                "note": e.message.removeprefix("dataset: "),
            }
        )
    return listed


DIGITS_SOURCE = "scikit-learn load_digits (UCI optical digits), 80/20 stratified split, seed 0"
DIGITS_SHAPES = {"x_train": (1437, 64), "t_train": (1437,), "x_test": (360, 64), "t_test": (360,)}
DIGITS_FORMAT_VERSION = 1


@lru_cache(maxsize=1)
def load_digits_dataset() -> Dataset:
    """scikit-learn's digits: a stratified 80/20 split with a fixed seed, scaled to [0, 1].

    Importing scikit-learn takes most of a second (several on a busy machine), the larger
    part of a fresh worker's first replay; so the split is also kept as a file beside the
    checkpoints (``BPV_TRAIN_CACHE_DIR``) and read from there when it is sound (the same
    arrays to the bit; keyed by the versions of scikit-learn and NumPy and this code)."""
    arrays = _cached_digits()
    if arrays is None:
        arrays = _split_digits()
        _cache_digits(arrays)
    return _frozen("digits", *arrays, (8, 8), DIGITS_SOURCE)


def _split_digits() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = digits.data.astype(np.float64) / 16.0
    t = digits.target.astype(np.int64)
    x_train, x_test, t_train, t_test = train_test_split(
        x, t, test_size=DIGITS_TEST_FRACTION, random_state=DIGITS_SPLIT_SEED, stratify=t
    )
    return x_train, t_train, x_test, t_test


def _digits_file() -> tuple[Any, str, str] | None:
    """Where the split is kept (the checkpoints' folder), its file name and its key."""
    from importlib.metadata import PackageNotFoundError, version

    from backprop_viz.training.checkpoints import CHECKPOINTS

    if CHECKPOINTS.disk is None:
        return None
    try:
        sklearn_version = version("scikit-learn")
    except PackageNotFoundError:
        return None
    identity = f"{DIGITS_FORMAT_VERSION} {sklearn_version} {np.__version__} "
    identity += Path(__file__).read_text()  # how the split is made
    key = hashlib.sha256(identity.encode()).hexdigest()[:40]
    return CHECKPOINTS.disk, f"digits-{key}.npz", key


def _cached_digits() -> tuple[np.ndarray, ...] | None:
    found = _digits_file()
    if found is None:
        return None
    disk, name, key = found
    arrays = disk.read_arrays(name, frozenset({*DIGITS_SHAPES, "key"}))
    if arrays is None or arrays["key"].shape != () or str(arrays["key"]) != key:
        return None
    for part, shape in DIGITS_SHAPES.items():
        kind = np.float64 if part.startswith("x") else np.int64
        if arrays[part].shape != shape or arrays[part].dtype != kind:
            return None
    return tuple(arrays[part] for part in DIGITS_SHAPES)


def _cache_digits(arrays: tuple[np.ndarray, ...]) -> None:
    found = _digits_file()
    if found is not None:
        disk, name, key = found
        disk.write_arrays(
            name, {**dict(zip(DIGITS_SHAPES, arrays, strict=True)), "key": np.asarray(key)}
        )


@lru_cache(maxsize=4)
def load_mnist(folder: str) -> Dataset:
    """MNIST from ``folder``: the IDX files if there, else mnist.pkl, else mnist.npz."""
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"dataset: 'mnist': BPV_MNIST_DIR {folder!r} is not a folder")
    idx = {key: _find_idx(root, names) for key, names in IDX_FILES.items()}
    if all(idx.values()):
        arrays = {key: read_idx(path) for key, path in idx.items()}
        source = f"IDX files in {folder}"
    elif (root / "mnist.pkl").is_file():
        arrays = read_book_pickle(root / "mnist.pkl")
        source = f"{root / 'mnist.pkl'} (the book's pickle)"
    elif (root / "mnist.npz").is_file():
        arrays = read_npz(root / "mnist.npz")
        source = f"{root / 'mnist.npz'}"
    else:
        missing = [names[0] for key, names in IDX_FILES.items() if not idx[key]]
        raise DatasetError(
            f"dataset: 'mnist': no MNIST in BPV_MNIST_DIR {folder!r}: expected {MNIST_FORMS}"
            + (f" (missing: {', '.join(missing)})" if len(missing) < 4 else "")
        )
    x_train, x_test = (_images(arrays[k], k) for k in ("x_train", "x_test"))
    t_train, t_test = (_labels(arrays[k], k) for k in ("t_train", "t_test"))
    for x, t, part in ((x_train, t_train, "train"), (x_test, t_test, "test")):
        if len(x) != len(t):
            raise DatasetError(
                f"dataset: 'mnist': {len(x)} {part} images but {len(t)} {part} labels"
            )
    return _frozen("mnist", x_train, t_train, x_test, t_test, (28, 28), source)


def _find_idx(root: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        for candidate in (root / name, root / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":  # gzip, whatever the name says
        data = gzip.decompress(data)
    return data


def read_idx(path: Path) -> np.ndarray:
    """An IDX file of unsigned bytes (images N x rows x cols, or labels N), gzipped or not."""
    data = _read_bytes(path)
    if len(data) < 8:
        raise DatasetError(f"dataset: 'mnist': {path.name} is too short to be an IDX file")
    magic = int.from_bytes(data[0:4], "big")
    if magic not in (IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC):
        raise DatasetError(
            f"dataset: 'mnist': {path.name} is not an IDX file of bytes (magic {magic:#010x})"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise DatasetError(
            f"dataset: 'mnist': {path.name} holds {len(data)} bytes, its header {dims} says "
            f"{expected}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


class _ArraysOnly(pickle.Unpickler):
    """Unpickles NumPy arrays and nothing else: a pickle can name any callable, and this one
    comes from a folder, not from us."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise DatasetError(
                f"dataset: 'mnist': mnist.pkl refers to {module}.{name}; only NumPy arrays are "
                "read from a pickle"
            )
        module = module.replace("numpy.core.", "numpy._core.")  # pickles from NumPy 1.x
        return super().find_class(module, name)


def read_book_pickle(path: Path) -> dict[str, np.ndarray]:
    """The book's dataset/mnist.pkl: a dict of train_img, train_label, test_img, test_label."""
    try:
        loaded = _ArraysOnly(io.BytesIO(_read_bytes(path))).load()
    except DatasetError:
        raise
    except Exception as e:
        raise DatasetError(f"dataset: 'mnist': {path.name} could not be read: {e}") from None
    keys = {"x_train": "train_img", "t_train": "train_label"}
    keys |= {"x_test": "test_img", "t_test": "test_label"}
    if not isinstance(loaded, dict) or not all(k in loaded for k in keys.values()):
        raise DatasetError(
            f"dataset: 'mnist': {path.name} is not the book's pickle (a dict with "
            f"{', '.join(keys.values())})"
        )
    return {ours: np.asarray(loaded[theirs]) for ours, theirs in keys.items()}


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Keras' mnist.npz: x_train, y_train, x_test, y_test (no pickled objects allowed)."""
    keys = {"x_train": "x_train", "t_train": "y_train", "x_test": "x_test", "t_test": "y_test"}
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not all(k in npz.files for k in keys.values()):
                raise DatasetError(
                    f"dataset: 'mnist': {path.name} lacks some of {', '.join(keys.values())}"
                )
            return {ours: npz[theirs] for ours, theirs in keys.items()}
    except DatasetError:
        raise
    except Exception as e:
        raise DatasetError(f"dataset: 'mnist': {path.name} could not be read: {e}") from None


def _images(x: np.ndarray, what: str) -> np.ndarray:
    """N x 28 x 28 or N x 784 pixels of 0-255, as N x 784 in [0, 1]."""
    if x.ndim == 3:
        x = x.reshape(len(x), -1)
    if x.ndim != 2 or x.shape[1] != 784:
        raise DatasetError(
            f"dataset: 'mnist': {what} has shape {list(x.shape)}, not N x 28 x 28 or N x 784"
        )
    if x.size and (x.min() < 0 or x.max() > 255):
        raise DatasetError(f"dataset: 'mnist': {what} has pixels outside 0-255")
    return x.astype(np.float64) / 255.0


def _labels(t: np.ndarray, what: str) -> np.ndarray:
    """Class indices 0-9 (one-hot rows are accepted too)."""
    if t.ndim == 2 and t.shape[1] == CLASSES:
        t = t.argmax(axis=1)
    if t.ndim != 1 or (t.size and (t.min() < 0 or t.max() >= CLASSES)):
        raise DatasetError(f"dataset: 'mnist': {what} are not class indices from 0 to 9")
    return t.astype(np.int64)


def _frozen(name, x_train, t_train, x_test, t_test, image_shape, source) -> Dataset:
    arrays = [np.ascontiguousarray(a) for a in (x_train, t_train, x_test, t_test)]
    arrays.append(np.eye(CLASSES)[arrays[1]])
    for a in arrays:
        a.flags.writeable = False
    *data, one_hot = arrays
    return Dataset(name, *data, image_shape=image_shape, source=source, t_train_one_hot=one_hot)
