"""Checked loading of the data shipped in ``data/``.

Every file in ``data/`` is listed with its sha256 in ``data/SHA256SUMS`` (the format ``sha256sum -c``
reads). Loading verifies the checksum first, so a missing, truncated or edited file fails with a message
that says which file, what was expected and how to restore it, instead of a confusing error later.
"""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .i18n import N_, _

__all__ = ["DataError", "data_dir", "verify", "load_npz", "load_photo", "PHOTOS",
           "load_digits", "load_fashion", "FASHION_CLASSES", "fashion_class_name", "load_fashion_cnn",
           "load_detection", "load_detector"]

#: The photos in data/photos.npz (from scikit-image's bundled sample images; see data/README.md).
PHOTOS = ("camera", "coins", "chelsea", "astronaut")


class DataError(RuntimeError):
    """A data file is missing or does not match its recorded checksum."""


#: Where an installed cnnbook (a wheel: Colab, a student bundle installed without -e) keeps its copy of data/.
PACKAGED = Path(__file__).resolve().parent / "_data"


def data_dir() -> Path:
    """The folder holding the shipped data.

    ``$CNNBOOK_DATA`` if set; else the copy inside the installed package (``cnnbook/_data``, made from
    ``data/`` when the package is built); else ``data/`` in the project checkout.
    """
    override = os.environ.get("CNNBOOK_DATA")
    if override:
        return Path(override)
    if (PACKAGED / "SHA256SUMS").is_file():
        return PACKAGED
    return Path(__file__).resolve().parent.parent / "data"


def _restore(folder: Path, name: str = "") -> str:
    """How to get a good copy back: git in a checkout, a reinstall for the installed package."""
    if folder.resolve() == PACKAGED:
        return "Reinstall the course package (pip install --force-reinstall --no-deps cnnbook) to restore it."
    return f"Restore it with `git checkout -- data/{name}`."


@lru_cache(maxsize=None)
def _recorded_sums(folder: Path) -> dict[str, str]:
    sums_file = folder / "SHA256SUMS"
    if not sums_file.is_file():
        raise DataError(f"{sums_file} is missing: it lists the checksum of every shipped data file. "
                        + _restore(folder))
    sums: dict[str, str] = {}
    for line in sums_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*")] = digest
    return sums


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(name: str) -> Path:
    """Return the path of data file ``name`` after checking it against ``data/SHA256SUMS``."""
    folder = data_dir()
    sums = _recorded_sums(folder)
    if name not in sums:
        raise DataError(f"{name!r} is not one of the shipped data files ({', '.join(sorted(sums))}).")
    path = folder / name
    if not path.is_file():
        raise DataError(f"{path} is missing. It is part of the course. {_restore(folder)} "
                        f"(or rebuild it with the script named in data/README.md).")
    actual = _sha256(path)
    if actual != sums[name]:
        raise DataError(f"{path} is damaged or was changed: its sha256 is {actual}, but data/SHA256SUMS "
                        f"records {sums[name]}. {_restore(folder, name)}")
    return path


def load_npz(name: str) -> dict[str, np.ndarray]:
    """Load every array of a checked ``.npz`` file into a dict (no pickle allowed)."""
    with np.load(verify(name), allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


@lru_cache(maxsize=None)
def _photos() -> dict[str, np.ndarray]:
    return load_npz("photos.npz")


def load_photo(name: str, gray: bool = False) -> np.ndarray:
    """A real photo as a uint8 array: (H, W) for grey images, (H, W, 3) for colour ones.

    ``gray=True`` converts colour photos to grey with the ITU-R BT.601 luma weights
    (0.299 R + 0.587 G + 0.114 B), returned as float64 in [0, 255].
    """
    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; choose one of {', '.join(PHOTOS)}")
    image = _photos()[name].copy()
    if gray and image.ndim == 3:
        return image.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return image.astype(np.float64) if gray else image


#: Fashion-MNIST's ten labels, in label order (label 0 is "T-shirt/top").
FASHION_CLASSES = (N_("T-shirt/top"), N_("Trouser"), N_("Pullover"), N_("Dress"), N_("Coat"), N_("Sandal"),
                   N_("Shirt"), N_("Sneaker"), N_("Bag"), N_("Ankle boot"))


def fashion_class_name(label: int) -> str:
    """The name of Fashion-MNIST's label ``label`` (0..9) in the learner's language, for what a lesson shows:
    ``"Trouser"``, in the Korean edition ``"바지"``. (``FASHION_CLASSES`` stays English: it is the data's own list.)"""
    return _(FASHION_CLASSES[int(label)])


@lru_cache(maxsize=None)
def _image_set(name: str) -> dict[str, np.ndarray]:
    arrays = load_npz(name)
    for array in arrays.values():
        array.setflags(write=False)      # cached: nobody may change the copy the next caller gets
    return arrays


def _split_copy(name: str) -> dict[str, np.ndarray]:
    return {key: array.copy() for key, array in _image_set(name).items()
            if key in ("x_train", "y_train", "x_test", "y_test")}


def load_digits() -> dict[str, np.ndarray]:
    """Real handwritten MNIST digits (data/mnist_digits.npz; see data/README.md), checksum-verified.

    Returns a dict of fresh arrays:
      ``x_train`` (8000, 28, 28) uint8, 0 = background .. 255 = ink;  ``y_train`` (8000,) uint8 labels 0-9;
      ``x_test``  (2000, 28, 28) uint8 (200 of each digit);            ``y_test``  (2000,) uint8.
    No image appears in both splits.
    """
    return _split_copy("mnist_digits.npz")


def load_fashion() -> dict[str, Any]:
    """A class-balanced subset of Fashion-MNIST (data/fashion_mnist.npz), checksum-verified.

    Returns a dict of fresh arrays:
      ``x_train`` (10000, 28, 28) uint8 (1,000 per class); ``y_train`` (10000,) uint8 labels 0-9;
      ``x_test``  (2000, 28, 28) uint8 (200 per class);    ``y_test``  (2000,) uint8;
      ``class_names``: the tuple FASHION_CLASSES, so that ``class_names[y]`` names label ``y``.
    """
    arrays = _split_copy("fashion_mnist.npz")
    stored = tuple(str(name) for name in _image_set("fashion_mnist.npz")["class_names"])
    if stored != FASHION_CLASSES:
        raise DataError(f"fashion_mnist.npz lists the classes {stored}, expected {FASHION_CLASSES}")
    return {**arrays, "class_names": FASHION_CLASSES}


def load_fashion_cnn() -> dict:
    """A small CNN pretrained on five Fashion-MNIST classes (data/fashion_cnn.npz), checksum-verified.

    The network (lesson 08's ``FashionCNN``; built by ``data/make_pretrained.py``) is three blocks of
    3x3 conv (padding 1) -> ReLU -> 2x2 max-pool with 16, 32 and 64 filters, a mean over the last 3x3
    positions, and a linear head 64 -> 5. It was trained on the 30,000 training images of the Fashion-MNIST
    classes T-shirt/top, Trouser, Coat, Sandal and Bag only. Returns a dict:
      ``weights``: {state dict name: float32 array}, e.g. ``block1.0.weight`` (16, 1, 3, 3),
                   ``block1.0.bias`` (16,), ... ``head.weight`` (5, 64), ``head.bias`` (5,);
                   turn each into a tensor and hand them to ``model.load_state_dict``;
      ``classes``: the Fashion-MNIST labels of its five outputs, in order: (0, 1, 4, 5, 8);
      ``test_accuracy``: its accuracy on the 5,000 official test images of those classes (float);
      ``epochs``: how many passes over its 30,000 training images it was trained for (int).
    """
    arrays = {key: array.copy() for key, array in _image_set("fashion_cnn.npz").items()}
    info = {key: arrays.pop(key) for key in ("test_accuracy", "epochs", "classes")}
    return {"weights": arrays, "classes": tuple(int(label) for label in info["classes"]),
            "test_accuracy": float(info["test_accuracy"].item()), "epochs": int(info["epochs"].item())}


def load_detection() -> dict[str, np.ndarray]:
    """Canvases with 1 to 4 real handwritten digits, their boxes and labels (data/digit_detection.npz).

    Made by ``data/make_detection.py`` from the shipped MNIST digits (training canvases from the training
    digits, test canvases from the test digits); checksum-verified. Returns a dict of fresh arrays:
      ``images_train`` (3000, 64, 64) uint8, 0 = background .. 255 = ink;  ``images_test`` (500, 64, 64);
      ``boxes_train``  (3000, 4, 4) int16: up to 4 boxes per canvas, corner format (x0, y0, x1, y1) in pixels,
                       x1 and y1 one past the last ink column and row;   ``boxes_test`` (500, 4, 4);
      ``labels_train`` (3000, 4) int8: the digit in each box, -1 where a slot holds no digit; ``labels_test``.
    """
    return {key: array.copy() for key, array in _image_set("digit_detection.npz").items()}


def load_detector() -> dict:
    """Lesson 10's tiny YOLO-style digit detector, trained by us (data/tiny_yolo.npz), checksum-verified.

    Built by ``data/make_detector.py`` with ``benchmarks/detection.py``'s network, loss and training loop on
    the 3,000 training canvases of ``load_detection()``. Returns a dict:
      ``weights``: {state dict name: array} of ``TinyYOLO`` (float32 weights and BatchNorm statistics, int64
                   ``...num_batches_tracked``); turn each into a tensor and hand them to ``model.load_state_dict``;
      ``test_map``: its mAP@0.5 on the 500 test canvases (float);
      ``epochs``, ``batch_size``, ``lr``, ``box_weight``: how it was trained (Adam, one-cycle schedule with peak
                   ``lr``, the lesson's loss with ``BOX_WEIGHT = box_weight``).
    """
    arrays = {key: array.copy() for key, array in _image_set("tiny_yolo.npz").items()}
    info = {key: arrays.pop(key).item() for key in ("test_map", "epochs", "batch_size", "lr", "box_weight")}
    for key in arrays:
        if key.endswith("num_batches_tracked"):          # a scalar in torch; the .npz writer stores it as (1,)
            arrays[key] = arrays[key].reshape(())
    return {"weights": arrays, "test_map": float(info["test_map"]), "epochs": int(info["epochs"]),
            "batch_size": int(info["batch_size"]), "lr": float(info["lr"]),
            "box_weight": float(info["box_weight"])}
