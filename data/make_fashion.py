"""Build data/fashion_mnist.npz: a class-balanced subset of Fashion-MNIST (10,000 train + 2,000 test images).

Run from the project root, after installing the Debian package that ships the full data set (MIT):

    apt-get update && apt-get install -y dataset-fashion-mnist   # into /usr/share/datasets/fashion-mnist
    python data/make_fashion.py

The subset keeps the official split: the first 1,000 images of each class in the official training file
(60,000 images, 6,000 per class) form x_train, and the first 200 of each class in the official test file
(10,000, 1,000 per class) form x_test. "First" means in file order, so no random numbers are involved.
Each split is then stored in file order (the classes come mixed, as in the original files).

The .npz is written with a fixed zip timestamp, so the same package gives the same bytes; the script
rewrites the file's line in data/SHA256SUMS.
"""
from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np

from make_photos import record_sha256, write_deterministic_npz

HERE = Path(__file__).resolve().parent
OUT_NAME = "fashion_mnist.npz"
SOURCE = Path("/usr/share/datasets/fashion-mnist")
TRAIN_PER_CLASS, TEST_PER_CLASS = 1000, 200
#: The label names, in label order, as the Fashion-MNIST README lists them.
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot")


def read_idx(path: Path, magic: int) -> np.ndarray:
    """An IDX file (the MNIST format): big-endian int32 magic, int32 sizes, then uint8 data."""
    raw = gzip.decompress(path.read_bytes())
    header = np.frombuffer(raw, dtype=">i4", count=1 + (magic & 0xFF))
    if header[0] != magic:
        raise SystemExit(f"{path}: magic number {header[0]}, expected {magic}")
    shape = tuple(int(n) for n in header[1:])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 * len(header))
    if data.size != int(np.prod(shape)):
        raise SystemExit(f"{path}: {data.size} bytes of data for shape {shape}")
    return data.reshape(shape)


def first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices (in file order) of the first ``per_class`` items of every class."""
    keep = np.zeros(len(labels), dtype=bool)
    for label in range(10):
        keep[np.flatnonzero(labels == label)[:per_class]] = True
    return np.flatnonzero(keep)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE,
                        help=f"folder of the .gz files (default {SOURCE})")
    args = parser.parse_args()

    arrays = {}
    for split, prefix, per_class in [("train", "train", TRAIN_PER_CLASS), ("test", "t10k", TEST_PER_CLASS)]:
        images = read_idx(args.source / f"{prefix}-images-idx3-ubyte.gz", 2051)
        labels = read_idx(args.source / f"{prefix}-labels-idx1-ubyte.gz", 2049)
        print(f"{prefix}: {images.shape} images, per class {np.bincount(labels, minlength=10).tolist()}")
        keep = first_per_class(labels, per_class)
        arrays[f"x_{split}"] = images[keep]
        arrays[f"y_{split}"] = labels[keep].astype(np.uint8)
    arrays["class_names"] = np.array(CLASSES)        # a unicode array: loads without pickle

    train_set = {arr.tobytes() for arr in arrays["x_train"]}
    overlap = sum(arr.tobytes() in train_set for arr in arrays["x_test"])
    print(f"test images whose pixels also appear in the training subset: {overlap}")
    for name, array in arrays.items():
        print(f"{name}: {array.shape} {array.dtype}")
    write_deterministic_npz(HERE / OUT_NAME, arrays)
    print(f"{OUT_NAME}: {(HERE / OUT_NAME).stat().st_size:,} bytes")
    record_sha256(OUT_NAME)


if __name__ == "__main__":
    main()
