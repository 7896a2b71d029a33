"""Build data/photos.npz from the sample photos bundled inside the scikit-image wheel.

Run from the project root:  python data/make_photos.py
It reads only files that ship with scikit-image (no download), stores them as uint8 arrays and rewrites
their line in data/SHA256SUMS. The result is byte-identical for the same scikit-image release.
"""
from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import skimage
import skimage.data

NAMES = ("camera", "coins", "chelsea", "astronaut")
HERE = Path(__file__).resolve().parent


def write_deterministic_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez_compressed stamps the current time into the zip; fix it so the bytes are reproducible."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.getvalue())
    path.write_bytes(buffer.getvalue())


def record_sha256(name: str) -> None:
    sums_file = HERE / "SHA256SUMS"
    lines = [ln for ln in sums_file.read_text().splitlines() if ln.strip()] if sums_file.exists() else []
    digest = hashlib.sha256((HERE / name).read_bytes()).hexdigest()
    lines = [ln for ln in lines if ln.split()[-1] != name] + [f"{digest}  {name}"]
    sums_file.write_text("\n".join(sorted(lines, key=lambda ln: ln.split()[-1])) + "\n")
    print(f"{name}: sha256 {digest}")


def main() -> None:
    photos = {name: getattr(skimage.data, name)() for name in NAMES}
    for name, image in photos.items():
        assert image.dtype == np.uint8, (name, image.dtype)
        print(f"{name}: {image.shape} {image.dtype}")
    write_deterministic_npz(HERE / "photos.npz", photos)
    print(f"scikit-image {skimage.__version__}")
    record_sha256("photos.npz")


if __name__ == "__main__":
    main()
