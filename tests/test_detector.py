"""The shipped digit detector (data/tiny_yolo.npz): checksum-verified, complete, and as good as recorded."""
import hashlib
import sys

import numpy as np
import pytest
import torch

from cnnbook import data


@pytest.fixture(scope="module")
def bench(project_root):
    """benchmarks/detection.py: the network, the evaluation and the recipe the weights were made with."""
    sys.path.insert(0, str(project_root / "benchmarks"))
    try:
        import detection
    finally:
        sys.path.remove(str(project_root / "benchmarks"))
    return detection


def test_the_weights_fit_the_benchmarks_network_and_recipe(bench):
    shipped = data.load_detector()
    assert set(shipped) == {"weights", "test_map", "epochs", "batch_size", "lr", "box_weight"}
    expected = bench.TinyYOLO().state_dict()
    assert {k: v.shape for k, v in shipped["weights"].items()} == {k: tuple(v.shape) for k, v in expected.items()}
    assert all(np.isfinite(a).all() for a in shipped["weights"].values())
    assert (shipped["epochs"], shipped["batch_size"], shipped["lr"], shipped["box_weight"]) == \
        (bench.EPOCHS, bench.BATCH_SIZE, bench.LR, bench.BOX_WEIGHT)
    assert 0.9 <= shipped["test_map"] < 1


def test_the_detector_finds_the_test_digits_as_well_as_recorded(bench):
    shipped = data.load_detector()
    model = bench.TinyYOLO()
    model.load_state_dict({name: torch.from_numpy(array) for name, array in shipped["weights"].items()})
    canvases = data.load_detection()
    x_test = torch.tensor(canvases["images_test"], dtype=torch.float32)[:, None] / 255
    test_map = bench.mean_ap(bench.detect(model, x_test), canvases["boxes_test"], canvases["labels_test"])
    assert abs(test_map - shipped["test_map"]) < 0.005, (test_map, shipped["test_map"])


def test_the_loader_hands_out_fresh_copies():
    first = data.load_detector()["weights"]
    first["head.bias"][:] = 1e6
    assert np.abs(data.load_detector()["weights"]["head.bias"]).max() < 1e3


def test_documented_checksummed_and_small(project_root):
    readme = (project_root / "data" / "README.md").read_text(encoding="utf-8")
    assert "tiny_yolo.npz" in readme and "make_detector.py" in readme
    sums = (project_root / "data" / "SHA256SUMS").read_text().split()
    digest = hashlib.sha256((project_root / "data" / "tiny_yolo.npz").read_bytes()).hexdigest()
    assert sums[sums.index("tiny_yolo.npz") - 1] == digest
    assert data.verify("tiny_yolo.npz").stat().st_size < 1_000_000
