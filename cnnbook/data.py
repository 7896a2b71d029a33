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

import numpy as np

__all__ = ["DataError", "data_dir", "verify", "load_npz", "load_photo", "PHOTOS"]

#: The photos in data/photos.npz (from scikit-image's bundled sample images; see data/README.md).
PHOTOS = ("camera", "coins", "chelsea", "astronaut")


class DataError(RuntimeError):
    """A data file is missing or does not match its recorded checksum."""


def data_dir() -> Path:
    """The folder holding the shipped data: ``$CNNBOOK_DATA`` if set, else ``data/`` in the project."""
    override = os.environ.get("CNNBOOK_DATA")
    return Path(override) if override else Path(__file__).resolve().parent.parent / "data"


@lru_cache(maxsize=None)
def _recorded_sums(folder: Path) -> dict[str, str]:
    sums_file = folder / "SHA256SUMS"
    if not sums_file.is_file():
        raise DataError(f"{sums_file} is missing: it lists the checksum of every shipped data file. "
                        "Restore it with `git checkout -- data/`.")
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
        raise DataError(f"{path} is missing. It is part of the course; restore it with `git checkout -- data/` "
                        f"or rebuild it with the script named in data/README.md.")
    actual = _sha256(path)
    if actual != sums[name]:
        raise DataError(f"{path} is damaged or was changed: its sha256 is {actual}, but data/SHA256SUMS "
                        f"records {sums[name]}. Restore it with `git checkout -- data/{name}`.")
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
