"""The shipped digit-detection canvases (lesson 10): shapes, boxes that hold the ink, disjoint sources."""
import hashlib

import numpy as np

from cnnbook import data


def test_shapes_dtypes_and_counts():
    d = data.load_detection()
    for split, n in [("train", 3000), ("test", 500)]:
        images, boxes, labels = d[f"images_{split}"], d[f"boxes_{split}"], d[f"labels_{split}"]
        assert images.shape == (n, 64, 64) and images.dtype == np.uint8
        assert boxes.shape == (n, 4, 4) and boxes.dtype == np.int16
        assert labels.shape == (n, 4) and labels.dtype == np.int8
        per_canvas = (labels >= 0).sum(axis=1)
        assert per_canvas.min() == 1 and per_canvas.max() == 4
        # the filled slots come first, then the empty ones (-1), whose boxes are all zero
        assert all(np.all(row[:k] >= 0) and np.all(row[k:] == -1) for row, k in zip(labels, per_canvas))
        assert not boxes[labels < 0].any()
        assert set(np.unique(labels[labels >= 0]).tolist()) == set(range(10))


def test_every_box_is_the_box_of_ink():
    d = data.load_detection()
    for split in ("train", "test"):
        images, boxes, labels = d[f"images_{split}"], d[f"boxes_{split}"], d[f"labels_{split}"]
        real = boxes[labels >= 0].astype(int)
        x0, y0, x1, y1 = real.T
        assert (x0 >= 0).all() and (y0 >= 0).all() and (x1 <= 64).all() and (y1 <= 64).all()
        heights = y1 - y0
        assert heights.min() >= 13 and heights.max() <= 30, (heights.min(), heights.max())
        assert ((x1 - x0) >= 1).all()
        for n in range(0, len(images), 25):
            for x_0, y_0, x_1, y_1 in boxes[n][labels[n] >= 0].astype(int):
                patch = images[n, y_0:y_1, x_0:x_1]
                # ink touches all four sides of its box (the box is tight)
                assert patch[0].any() and patch[-1].any() and patch[:, 0].any() and patch[:, -1].any()
            ink = images[n] > 0
            covered = np.zeros_like(ink)
            for x_0, y_0, x_1, y_1 in boxes[n][labels[n] >= 0].astype(int):
                covered[y_0:y_1, x_0:x_1] = True
            assert not (ink & ~covered).any(), f"{split} canvas {n} has ink outside every box"


def test_boxes_overlap_little():
    d = data.load_detection()
    for boxes, labels in zip(d["boxes_test"], d["labels_test"]):
        b = boxes[labels >= 0].astype(float)
        for i in range(len(b)):
            for j in range(i + 1, len(b)):
                w = max(0.0, min(b[i, 2], b[j, 2]) - max(b[i, 0], b[j, 0]))
                h = max(0.0, min(b[i, 3], b[j, 3]) - max(b[i, 1], b[j, 1]))
                union = np.prod(b[i, 2:] - b[i, :2]) + np.prod(b[j, 2:] - b[j, :2]) - w * h
                assert w * h / union <= 0.1 + 1e-9


def test_documented_and_checksummed(project_root):
    readme = (project_root / "data" / "README.md").read_text(encoding="utf-8")
    sums = (project_root / "data" / "SHA256SUMS").read_text().split()
    name = "digit_detection.npz"
    assert name in readme and "make_detection.py" in readme
    digest = hashlib.sha256((project_root / "data" / name).read_bytes()).hexdigest()
    assert sums[sums.index(name) - 1] == digest


def test_loader_returns_fresh_copies():
    first = data.load_detection()
    first["images_train"][:] = 0
    first["labels_test"][:] = -1
    again = data.load_detection()
    assert again["images_train"].max() == 255 and (again["labels_test"] >= 0).any()
