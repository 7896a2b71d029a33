"""Build data/digit_detection.npz: canvases with 1 to 4 real handwritten digits, their boxes and labels.

Run from the project root:  python data/make_detection.py
Nothing is downloaded: every digit comes from data/mnist_digits.npz (checked against SHA256SUMS first).
Training canvases use only the digits of its training split, test canvases only those of its test split.

Each digit is cut to the box of its ink (pixels > 0), scaled with bilinear interpolation (written here in
numpy, float64, so the bytes do not depend on an image library) to a random ink height, and pasted at a
random place; where two digits meet, the darker pixel wins. A digit is only placed where its box overlaps
every box already on the canvas by an IoU of at most MAX_IOU. The box of a digit is the box of its ink after
scaling: (x0, y0, x1, y1) in pixels, x1 and y1 one past the last ink column and row. Seeded: two runs give
the same bytes. The script rewrites the file's line in data/SHA256SUMS.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from make_photos import record_sha256, write_deterministic_npz

HERE = Path(__file__).resolve().parent
OUTPUT = "digit_detection.npz"
SIZE = 64                    # canvas height and width, pixels
MAX_DIGITS = 4
HEIGHTS = (14, 30)           # the ink height of a digit after scaling, pixels, both ends included
MAX_IOU = 0.1
COUNTS = {"train": 3000, "test": 500}
SEED = 2024_10


def source_digits() -> dict[str, np.ndarray]:
    sums = dict(line.split()[::-1] for line in (HERE / "SHA256SUMS").read_text().splitlines() if line.strip())
    blob = (HERE / "mnist_digits.npz").read_bytes()
    if hashlib.sha256(blob).hexdigest() != sums["mnist_digits.npz"]:
        raise SystemExit("data/mnist_digits.npz does not match data/SHA256SUMS: restore it first")
    with np.load(HERE / "mnist_digits.npz", allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def crop_to_ink(image: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    return image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resampling with pixel centres aligned (the convention of most image libraries), uint8 out."""
    src = image.astype(np.float64)
    in_h, in_w = src.shape

    def sample_points(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        low = np.floor(pos).astype(int)
        high = np.minimum(low + 1, n_in - 1)
        return low, high, pos - low

    r0, r1, fr = sample_points(height, in_h)
    c0, c1, fc = sample_points(width, in_w)
    top = src[r0][:, c0] * (1 - fc) + src[r0][:, c1] * fc
    bottom = src[r1][:, c0] * (1 - fc) + src[r1][:, c1] * fc
    out = top * (1 - fr[:, None]) + bottom * fr[:, None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def make_canvas(rng: np.random.Generator, images: np.ndarray, labels: np.ndarray):
    canvas = np.zeros((SIZE, SIZE), dtype=np.uint8)
    boxes, classes = [], []
    wanted = int(rng.integers(1, MAX_DIGITS + 1))
    attempts = 0
    while len(boxes) < wanted and attempts < 200:
        attempts += 1
        index = int(rng.integers(len(images)))
        digit = crop_to_ink(images[index])
        height = int(rng.integers(HEIGHTS[0], HEIGHTS[1] + 1))
        width = max(2, int(round(digit.shape[1] * height / digit.shape[0])))
        patch = resize_bilinear(digit, height, width)
        patch = crop_to_ink(patch)                   # the box is the ink of the scaled digit
        ph, pw = patch.shape
        y0 = int(rng.integers(0, SIZE - ph + 1))
        x0 = int(rng.integers(0, SIZE - pw + 1))
        box = np.array([x0, y0, x0 + pw, y0 + ph], dtype=np.float64)
        if any(iou(box, other) > MAX_IOU for other in boxes):
            continue
        np.maximum(canvas[y0:y0 + ph, x0:x0 + pw], patch, out=canvas[y0:y0 + ph, x0:x0 + pw])
        boxes.append(box)
        classes.append(int(labels[index]))
    return canvas, boxes, classes


def make_split(rng: np.random.Generator, images: np.ndarray, labels: np.ndarray, count: int) -> dict[str, np.ndarray]:
    canvases = np.zeros((count, SIZE, SIZE), dtype=np.uint8)
    boxes = np.zeros((count, MAX_DIGITS, 4), dtype=np.int16)
    classes = np.full((count, MAX_DIGITS), -1, dtype=np.int8)       # -1: no digit in this slot
    for n in range(count):
        canvas, these_boxes, these_classes = make_canvas(rng, images, labels)
        canvases[n] = canvas
        for k, (box, label) in enumerate(zip(these_boxes, these_classes)):
            boxes[n, k] = box
            classes[n, k] = label
    return {"images": canvases, "boxes": boxes, "labels": classes}


def main() -> None:
    digits = source_digits()
    rng = np.random.default_rng(SEED)
    arrays: dict[str, np.ndarray] = {}
    for split, count in COUNTS.items():
        made = make_split(rng, digits[f"x_{split}"], digits[f"y_{split}"], count)
        for key, array in made.items():
            arrays[f"{key}_{split}"] = array
        per_canvas = (made["labels"] >= 0).sum(axis=1)
        print(f"{split}: {count} canvases {SIZE}x{SIZE}, {per_canvas.sum()} digits "
              f"({np.bincount(per_canvas, minlength=MAX_DIGITS + 1)[1:].tolist()} canvases with 1-4)")
    write_deterministic_npz(HERE / OUTPUT, arrays)
    print(f"{OUTPUT}: {(HERE / OUTPUT).stat().st_size / 1e6:.2f} MB")
    record_sha256(OUTPUT)


if __name__ == "__main__":
    main()
