"""The shipped pretrained network (data/fashion_cnn.npz): checksum-verified, complete, and as good as recorded."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnbook import data

SHAPES = {
    "block1.0.weight": (16, 1, 3, 3), "block1.0.bias": (16,),
    "block2.0.weight": (32, 16, 3, 3), "block2.0.bias": (32,),
    "block3.0.weight": (64, 32, 3, 3), "block3.0.bias": (64,),
    "head.weight": (5, 64), "head.bias": (5,),
}


def forward(weights, x):
    """FashionCNN written with torch.nn.functional (the lesson's class is not importable)."""
    w = {name: torch.from_numpy(array) for name, array in weights.items()}
    for block in ("block1", "block2", "block3"):
        x = F.max_pool2d(F.relu(F.conv2d(x, w[f"{block}.0.weight"], w[f"{block}.0.bias"], padding=1)), 2)
    return F.linear(x.mean(dim=(2, 3)), w["head.weight"], w["head.bias"])


def test_the_weights_have_the_documented_names_shapes_and_dtype():
    shipped = data.load_fashion_cnn()
    assert set(shipped) == {"weights", "classes", "test_accuracy", "epochs"}
    assert shipped["classes"] == (0, 1, 4, 5, 8)
    weights = shipped["weights"]
    assert {name: array.shape for name, array in weights.items()} == SHAPES
    assert all(array.dtype == np.float32 and np.isfinite(array).all() for array in weights.values())
    assert sum(array.size for array in weights.values()) == 23_621
    assert 0.95 < shipped["test_accuracy"] < 1 and shipped["epochs"] > 0


def test_the_loader_hands_out_fresh_copies():
    first = data.load_fashion_cnn()["weights"]
    first["head.bias"][:] = 1e6
    assert np.abs(data.load_fashion_cnn()["weights"]["head.bias"]).max() < 1e3


def test_the_network_sorts_the_shipped_test_clothes_as_well_as_recorded():
    shipped = data.load_fashion_cnn()
    clothes = data.load_fashion()
    keep = np.isin(clothes["y_test"], shipped["classes"])
    x = torch.from_numpy(clothes["x_test"][keep]).float()[:, None] / 255
    with torch.no_grad():
        predicted = forward(shipped["weights"], x).argmax(dim=1).numpy()
    accuracy = float(np.mean(predicted == np.searchsorted(shipped["classes"], clothes["y_test"][keep])))
    # The 1,000 shipped test clothes of its classes are among the 5,000 official ones the accuracy was measured on.
    assert abs(accuracy - shipped["test_accuracy"]) < 0.03, (accuracy, shipped["test_accuracy"])


def test_the_file_is_small():
    assert data.verify("fashion_cnn.npz").stat().st_size < 2_000_000


@pytest.fixture
def copied_data(tmp_path, monkeypatch, project_root):
    import shutil

    target = tmp_path / "data"
    shutil.copytree(project_root / "data", target)
    monkeypatch.setenv("CNNBOOK_DATA", str(target))
    data._recorded_sums.cache_clear()
    data._image_set.cache_clear()
    yield target
    data._recorded_sums.cache_clear()
    data._image_set.cache_clear()


def test_changed_weights_are_refused(copied_data):
    blob = bytearray((copied_data / "fashion_cnn.npz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (copied_data / "fashion_cnn.npz").write_bytes(bytes(blob))
    with pytest.raises(data.DataError, match=r"damaged or was changed.*git checkout -- data/fashion_cnn.npz"):
        data.load_fashion_cnn()
