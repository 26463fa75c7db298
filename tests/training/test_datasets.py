"""The datasets: scikit-learn's digits split and scaled; MNIST read from files in each of its
three forms, written here small; and the errors when it is absent or broken."""

from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest

from backprop_viz.training.datasets import (
    DatasetError,
    available_datasets,
    load_dataset,
    load_digits_dataset,
    load_mnist,
)


def test_digits_is_1797_images_of_8x8_split_80_20_stratified_and_scaled_to_0_1():
    data = load_dataset("digits")
    assert (data.train_size, data.test_size) == (1437, 360)
    assert data.x_train.shape == (1437, 64) and data.x_test.shape == (360, 64)
    assert data.image_shape == (8, 8) and data.input_size == 64 and data.classes == 10
    both = np.concatenate([data.x_train, data.x_test])
    assert both.min() == 0.0 and both.max() == 1.0
    # Pixels were 0-16: scaled by 16, so every value is a multiple of 1/16.
    assert np.array_equal(both * 16, np.round(both * 16))
    # Stratified: each digit's share of the test set is its share of the whole, within 1 image.
    for digit in range(10):
        whole = np.sum(data.t_train == digit) + np.sum(data.t_test == digit)
        assert abs(np.sum(data.t_test == digit) - whole * 0.2) <= 1
    assert np.array_equal(data.t_train_one_hot.argmax(axis=1), data.t_train)


def test_digits_split_is_fixed_and_loaded_once_per_process():
    from sklearn.datasets import load_digits

    data = load_dataset("digits")
    assert load_dataset("digits") is data
    # Every sample of the split is one of scikit-learn's images, with its label.
    original = {
        tuple(row): label
        for row, label in zip(load_digits().data / 16, load_digits().target, strict=True)
    }
    assert all(original[tuple(row)] == t for row, t in zip(data.x_test, data.t_test, strict=True))
    load_digits_dataset.cache_clear()
    again = load_dataset("digits")
    assert again is not data
    assert np.array_equal(again.x_train, data.x_train) and np.array_equal(again.t_test, data.t_test)


def test_dataset_arrays_are_read_only():
    data = load_dataset("digits")
    with pytest.raises(ValueError):
        data.x_train[0, 0] = 5.0


def fake_mnist(train: int = 12, test: int = 5, seed: int = 0):
    """Small MNIST-shaped data: pixels 0-255 as bytes, labels 0-9."""
    rng = np.random.default_rng(seed)
    x_train = rng.integers(0, 256, (train, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, (test, 28, 28), dtype=np.uint8)
    t_train = rng.integers(0, 10, train, dtype=np.uint8)
    t_test = rng.integers(0, 10, test, dtype=np.uint8)
    return x_train, t_train, x_test, t_test


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX format: magic 0x0000080N (unsigned bytes, N dimensions), big-endian sizes."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.tobytes()


def write_idx(folder, arrays, gz: bool) -> None:
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
    names += ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    for name, array in zip(names, arrays, strict=True):
        data = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)


def assert_is(data, arrays) -> None:
    x_train, t_train, x_test, t_test = arrays
    assert data.name == "mnist" and data.image_shape == (28, 28)
    assert data.x_train.shape == (len(x_train), 784) and data.x_test.shape == (len(x_test), 784)
    assert np.array_equal(data.x_train, x_train.reshape(len(x_train), -1) / 255.0)
    assert np.array_equal(data.x_test, x_test.reshape(len(x_test), -1) / 255.0)
    assert np.array_equal(data.t_train, t_train) and np.array_equal(data.t_test, t_test)


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "plain"])
def test_mnist_from_idx_files(tmp_path, gz):
    arrays = fake_mnist()
    write_idx(tmp_path, arrays, gz)
    data = load_mnist(str(tmp_path))
    assert_is(data, arrays)
    assert "IDX" in data.source


def test_mnist_from_the_books_pickle(tmp_path):
    x_train, t_train, x_test, t_test = fake_mnist(seed=1)
    # As the book's dataset/mnist.py saves it: flat images, a dict, the highest protocol.
    dataset = {
        "train_img": x_train.reshape(len(x_train), -1),
        "train_label": t_train,
        "test_img": x_test.reshape(len(x_test), -1),
        "test_label": t_test,
    }
    with open(tmp_path / "mnist.pkl", "wb") as f:
        pickle.dump(dataset, f, -1)
    data = load_mnist(str(tmp_path))
    assert_is(data, (x_train, t_train, x_test, t_test))
    assert "pickle" in data.source


def test_mnist_pickle_that_names_anything_but_arrays_is_refused(tmp_path):
    class Sneaky:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned",))

    with open(tmp_path / "mnist.pkl", "wb") as f:
        pickle.dump({"train_img": Sneaky()}, f)
    with pytest.raises(DatasetError, match="only NumPy arrays"):
        load_mnist(str(tmp_path))


def test_mnist_from_keras_npz(tmp_path):
    x_train, t_train, x_test, t_test = fake_mnist(seed=2)
    np.savez_compressed(
        tmp_path / "mnist.npz", x_train=x_train, y_train=t_train, x_test=x_test, y_test=t_test
    )
    data = load_mnist(str(tmp_path))
    assert_is(data, (x_train, t_train, x_test, t_test))


def test_mnist_absent_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetError, match="BPV_MNIST_DIR") as e:
        load_dataset("mnist", None)
    assert e.value.field == "dataset"
    with pytest.raises(DatasetError, match="no MNIST in BPV_MNIST_DIR"):
        load_mnist(str(tmp_path))
    with pytest.raises(DatasetError, match="is not a folder"):
        load_mnist(str(tmp_path / "nowhere"))


def test_mnist_idx_file_with_a_wrong_size_or_magic_is_refused(tmp_path):
    arrays = fake_mnist()
    write_idx(tmp_path, arrays, gz=False)
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DatasetError, match="its header"):
        load_mnist(str(tmp_path))
    path.write_bytes(b"\x00\x00\x0d\x01" + path.read_bytes()[4:])
    with pytest.raises(DatasetError, match="not an IDX file of bytes"):
        load_mnist(str(tmp_path))


def test_mnist_with_more_images_than_labels_is_refused(tmp_path):
    x_train, t_train, x_test, t_test = fake_mnist()
    np.savez(
        tmp_path / "mnist.npz", x_train=x_train, y_train=t_train[:-1], x_test=x_test, y_test=t_test
    )
    with pytest.raises(DatasetError, match="12 train images but 11 train labels"):
        load_mnist(str(tmp_path))


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(DatasetError, match="no dataset 'cifar'; known: digits, mnist"):
        load_dataset("cifar")


def test_available_datasets_list_sizes_and_why_mnist_is_missing(tmp_path):
    listed = {d["name"]: d for d in available_datasets(None)}
    assert listed["digits"]["available"] and listed["digits"]["train_size"] == 1437
    assert listed["digits"]["image_shape"] == [8, 8]
    assert not listed["mnist"]["available"] and "BPV_MNIST_DIR" in listed["mnist"]["note"]
    write_idx(tmp_path, fake_mnist(train=7, test=3), gz=True)
    listed = {d["name"]: d for d in available_datasets(str(tmp_path))}
    assert listed["mnist"]["available"]
    assert (listed["mnist"]["train_size"], listed["mnist"]["test_size"]) == (7, 3)
    assert listed["mnist"]["input_size"] == 784
