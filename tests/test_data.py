"""The shipped data: checksums verified, damage and absence explained."""
import hashlib
import shutil

import numpy as np
import pytest

from cnnbook import data


def test_every_shipped_file_matches_its_recorded_checksum(project_root):
    sums = (project_root / "data" / "SHA256SUMS").read_text().split("\n")
    entries = [line.split() for line in sums if line.strip()]
    assert entries, "data/SHA256SUMS lists no files"
    for digest, name in entries:
        actual = hashlib.sha256((project_root / "data" / name).read_bytes()).hexdigest()
        assert actual == digest, f"data/{name}: sha256 {actual}, recorded {digest}"
        assert name in (project_root / "data" / "README.md").read_text(), f"data/README.md does not describe {name}"


def test_photos_are_real_uint8_images():
    shapes = {"camera": (512, 512), "coins": (303, 384), "chelsea": (300, 451, 3), "astronaut": (512, 512, 3)}
    for name, shape in shapes.items():
        img = data.load_photo(name)
        assert img.shape == shape and img.dtype == np.uint8
        assert img.std() > 20, f"{name} looks blank"
    gray = data.load_photo("chelsea", gray=True)
    assert gray.shape == (300, 451) and 0 <= gray.min() and gray.max() <= 255


def test_unknown_photo_is_explained():
    with pytest.raises(ValueError, match="choose one of camera, coins"):
        data.load_photo("cat")


@pytest.fixture
def copied_data(tmp_path, monkeypatch, project_root):
    target = tmp_path / "data"
    shutil.copytree(project_root / "data", target)
    monkeypatch.setenv("CNNBOOK_DATA", str(target))
    data._recorded_sums.cache_clear()
    data._photos.cache_clear()
    yield target
    data._recorded_sums.cache_clear()
    data._photos.cache_clear()


def test_a_damaged_file_is_refused_with_the_way_to_restore_it(copied_data):
    blob = bytearray((copied_data / "photos.npz").read_bytes())
    blob[-100] ^= 0xFF
    (copied_data / "photos.npz").write_bytes(bytes(blob))
    with pytest.raises(data.DataError, match=r"damaged or was changed.*git checkout -- data/photos.npz"):
        data.load_photo("camera")


def test_a_missing_file_is_refused_with_the_way_to_restore_it(copied_data):
    (copied_data / "photos.npz").unlink()
    with pytest.raises(data.DataError, match="is missing"):
        data.load_photo("camera")
