"""The shipped MNIST digits and Fashion-MNIST subset: shapes, balance, disjoint splits, checked loading."""
import hashlib
import shutil

import numpy as np
import pytest

from cnnbook import data

SETS = {
    "digits": (data.load_digits, "mnist_digits.npz", 8000, 2000),
    "fashion": (data.load_fashion, "fashion_mnist.npz", 10000, 2000),
}


def _clear_caches():
    data._recorded_sums.cache_clear()
    data._image_set.cache_clear()


@pytest.mark.parametrize("which", SETS)
def test_shapes_dtypes_and_labels(which):
    load, _, n_train, n_test = SETS[which]
    d = load()
    for split, n in [("train", n_train), ("test", n_test)]:
        x, y = d[f"x_{split}"], d[f"y_{split}"]
        assert x.shape == (n, 28, 28) and x.dtype == np.uint8, (split, x.shape, x.dtype)
        assert y.shape == (n,) and y.dtype == np.uint8
        assert set(np.unique(y).tolist()) == set(range(10))
        assert x.min() == 0 and x.max() == 255
        # real images, not blanks: ink covers roughly a fifth (digits) to a half (clothes) of the pixels
        ink = (x > 0).mean(axis=(1, 2))
        assert ink.min() > 0.02 and 0.1 < ink.mean() < 0.7, ink.mean()


@pytest.mark.parametrize("which", SETS)
def test_class_balance(which):
    load, _, _, _ = SETS[which]
    d = load()
    assert np.bincount(d["y_test"], minlength=10).tolist() == [200] * 10
    train_counts = np.bincount(d["y_train"], minlength=10)
    if which == "fashion":
        assert train_counts.tolist() == [1000] * 10
    else:  # MNIST's own imbalance: the fewest fives, the most ones
        assert train_counts.tolist() == [801, 927, 791, 832, 780, 663, 814, 870, 744, 778]


@pytest.mark.parametrize("which", SETS)
def test_no_image_in_both_splits_and_no_duplicates(which):
    load, _, n_train, n_test = SETS[which]
    d = load()
    train = {img.tobytes() for img in d["x_train"]}
    test = {img.tobytes() for img in d["x_test"]}
    assert len(train) == n_train and len(test) == n_test, "an image appears twice within a split"
    assert not train & test, f"{len(train & test)} images are in both the training and the test split"


def test_the_classes_are_mixed_not_sorted():
    y = data.load_digits()["y_train"]
    assert len(set(y[:50].tolist())) == 10, "the first images should not all be zeros"


def test_fashion_class_names():
    d = data.load_fashion()
    assert d["class_names"] == data.FASHION_CLASSES
    assert d["class_names"][0] == "T-shirt/top" and d["class_names"][9] == "Ankle boot"


def test_loaders_return_fresh_copies():
    first = data.load_digits()
    first["x_train"][:] = 0
    first["y_test"][:] = 9
    again = data.load_digits()
    assert again["x_train"].max() == 255 and np.bincount(again["y_test"]).tolist() == [200] * 10


def test_documented_and_checksummed(project_root):
    readme = (project_root / "data" / "README.md").read_text(encoding="utf-8")
    sums = (project_root / "data" / "SHA256SUMS").read_text().split()
    for _, name, _, _ in SETS.values():
        assert name in readme and name in sums
        digest = hashlib.sha256((project_root / "data" / name).read_bytes()).hexdigest()
        assert sums[sums.index(name) - 1] == digest, f"data/{name} does not match data/SHA256SUMS"
    assert "CC BY-SA 3.0" in readme and "make_digits.py" in readme and "make_fashion.py" in readme


@pytest.fixture
def copied_data(tmp_path, monkeypatch, project_root):
    target = tmp_path / "data"
    shutil.copytree(project_root / "data", target)
    monkeypatch.setenv("CNNBOOK_DATA", str(target))
    _clear_caches()
    yield target
    _clear_caches()


@pytest.mark.parametrize("which", SETS)
def test_a_damaged_file_is_refused(copied_data, which):
    load, name, _, _ = SETS[which]
    blob = bytearray((copied_data / name).read_bytes())
    blob[len(blob) // 2] ^= 0x01                       # one flipped bit in the middle of the pixels
    (copied_data / name).write_bytes(bytes(blob))
    with pytest.raises(data.DataError, match=rf"damaged or was changed.*git checkout -- data/{name}"):
        load()


@pytest.mark.parametrize("which", SETS)
def test_a_missing_file_is_refused(copied_data, which):
    load, name, _, _ = SETS[which]
    (copied_data / name).unlink()
    with pytest.raises(data.DataError, match="is missing"):
        load()
