"""The lesson-05 pooling explorer: the numbers it shows follow the formula, its output equals torch's
pooling, the picture follows the controls, and impossible settings are explained instead of raised."""
from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image as PILImage

from cnnbook.pool_explorer import MODES, SOURCES, PoolExplorer, explain_pooling, pool2d, pool_input


def torch_pool(image: np.ndarray, f: int, s: int, mode: str) -> np.ndarray:
    """The independent reference: torch's own pooling of one grey image."""
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    return pool(torch.from_numpy(np.array(image, dtype=np.float64))[None, None], f, s)[0, 0].numpy()


def window_count(n: int, f: int, s: int) -> int:
    """Count the window starts 0, s, 2s, ... that leave room for the whole window."""
    return len(range(0, n - f + 1, s))


# --- explain_pooling ---------------------------------------------------------------------------------

@pytest.mark.parametrize("n, f, s, out, fits, overlap", [
    (4, 2, 2, 2, True, 0),        # the lesson's 4x4 worked example
    (256, 2, 2, 128, True, 0),
    (55, 3, 2, 27, True, 1),      # AlexNet's overlapping pooling: 55 -> 27
    (224, 2, 2, 112, True, 0),    # VGG
    (7, 3, 3, 2, False, 0),
    (256, 4, 8, 32, False, 0),
    (9, 9, 1, 1, True, 0),        # global pooling
])
def test_explain_pooling_known_values(n, f, s, out, fits, overlap):
    info = explain_pooling(n, f, s)
    assert info["ok"] is True and info["out"] == out and info["fits"] is fits
    assert info["overlap"] == overlap
    assert info["formula"] == f"floor(({n} − {f})/{s}) + 1 = {out}"
    assert len(info["starts"]) == out


def test_explain_pooling_matches_torch_and_a_window_count():
    for n, f, s in itertools.product(range(1, 14), range(1, 7), range(1, 6)):
        info = explain_pooling(n, f, s)
        if f > n:
            assert info["ok"] is False and info["out"] is None
            continue
        shape = F.max_pool2d(torch.zeros(1, 1, n, n), f, s).shape[2]
        assert info["out"] == window_count(n, f, s) == shape, (n, f, s)
        assert info["fits"] == ((n - f) % s == 0)


def test_explain_pooling_names_what_the_settings_mean():
    assert "without overlapping" in explain_pooling(256, 2, 2)["message"]
    assert "overlap by 1 pixel" in explain_pooling(55, 3, 2)["message"]
    gaps = explain_pooling(8, 2, 3)
    assert gaps["unvisited"] == [2, 5] and "jump over 1 pixel" in gaps["message"]
    leftover = explain_pooling(7, 3, 3)["message"]
    assert "does not fit" in leftover and "1.33" in leftover
    assert "changes nothing" in explain_pooling(10, 1, 1)["message"]
    assert "global" in explain_pooling(10, 10, 1)["message"]


@pytest.mark.parametrize("n, f, s, words", [
    (3, 5, 1, "does not fit"),
    (7, 3, 0, "stride must be at least 1"),
    (7, 0, 1, "window must be at least 1"),
    (0, 1, 1, "at least 1 pixel"),
])
def test_impossible_settings_are_explained_not_raised(n, f, s, words):
    info = explain_pooling(n, f, s)
    assert info["ok"] is False and info["out"] is None
    assert words in info["message"]


# --- pool2d and the input -------------------------------------------------------------------------------

def test_pool2d_matches_torch_on_random_non_square_images():
    rng = np.random.default_rng(5)
    for (h, w, f, s) in [(9, 7, 2, 2), (10, 13, 3, 2), (8, 8, 5, 3), (7, 7, 3, 3), (6, 11, 1, 2),
                         (5, 9, 2, 4), (6, 6, 6, 1)]:
        image = rng.normal(size=(h, w))
        for mode in MODES:
            np.testing.assert_allclose(pool2d(image, f, s, mode), torch_pool(image, f, s, mode), atol=1e-12)


def test_pool2d_the_worked_example():
    x = np.array([[1, 3, 2, 1], [2, 9, 1, 1], [1, 3, 2, 3], [5, 6, 1, 2]])
    np.testing.assert_array_equal(pool2d(x, 2, 2, "max"), [[9, 2], [6, 3]])
    np.testing.assert_allclose(pool2d(x, 2, 2, "average"), [[3.75, 1.25], [3.75, 2.0]])


@pytest.mark.parametrize("args", [(np.zeros((4, 4)), 5, 1, "max"), (np.zeros((4, 4)), 2, 0, "max"),
                                  (np.zeros((4, 4)), 2, 2, "median"), (np.zeros((1, 4, 4)), 2, 2, "max")])
def test_pool2d_rejects_impossible_settings(args):
    with pytest.raises(ValueError):
        pool2d(*args)


def test_pool_inputs_are_real_images_of_at_least_256():
    for source in SOURCES:
        image = pool_input(source)
        assert image.shape == (256, 256) and image.dtype == np.float64
        assert 0 <= image.min() and image.max() <= 1.0 and image.std() > 0.05
    edges = pool_input("edge map")
    assert edges.max() == 1.0 and np.median(edges) < 0.2          # thin bright edges on a dark ground
    assert edges[0].mean() < 0.5 and edges[:, 0].mean() < 0.5     # no bright frame of fake edges
    with pytest.raises(ValueError):
        pool_input("noise")


# --- the explorer ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("f, s, mode, source", [
    (2, 2, "max", "photo"), (2, 2, "average", "photo"), (3, 2, "max", "edge map"),
    (4, 8, "average", "edge map"), (5, 1, "max", "photo"), (16, 16, "average", "photo"),
    (1, 3, "max", "edge map"),
])
def test_explorer_shape_text_and_output_match_torch(f, s, mode, source):
    ex = PoolExplorer()
    # move the controls one by one from Python, as a learner would with the mouse
    ex.source_dropdown.value = source
    ex.mode_buttons.value = mode
    ex.f_slider.value = f
    ex.s_slider.value = s
    assert ex.input.shape == (256, 256)
    expected = torch_pool(pool_input(source), f, s, mode)
    out = (256 - f) // s + 1
    assert expected.shape == (out, out) == ex.output_shape
    np.testing.assert_allclose(ex.output, expected, atol=1e-12)
    assert f"output <b>{out} × {out}</b>" in ex.formula_html.value
    assert "input <b>256 × 256</b>" in ex.formula_html.value
    assert f"floor((256 − {f})/{s}) + 1 = {out}" in ex.formula_html.value
    assert f"<b>{mode}</b>" in ex.formula_html.value
    # the picture shows that output: the enlarged panel holds it, and the true-size panel is out x out
    assert np.array_equal(np.asarray(ex._big_img.get_array()), ex.output)
    left, right, bottom, top = ex._true_img.get_extent()
    assert (right - left, bottom - top) == (out, out)


def test_explorer_picture_follows_every_control():
    ex = PoolExplorer(f=2, s=2)
    pictures = {ex.png}
    for control, value in [(ex.f_slider, 4), (ex.s_slider, 4), (ex.mode_buttons, "average"),
                           (ex.source_dropdown, "edge map"), (ex.mode_buttons, "max"), (ex.s_slider, 1),
                           (ex.f_slider, 7)]:
        before = ex.output.copy()
        control.value = value
        assert ex.output.shape != before.shape or not np.allclose(ex.output, before), control.description
        pictures.add(ex.png)
    assert len(pictures) == 8, "every different setting should draw a different picture"


def test_max_keeps_edges_that_average_fades():
    ex = PoolExplorer(f=4, s=4, source="edge map")
    strongest_max = ex.output.max()
    ex.mode_buttons.value = "average"
    assert ex.output.max() < 0.8 * strongest_max
    assert "edges fade" in ex.explanation_html.value


def test_set_redraws_once_and_makes_a_real_picture():
    ex = PoolExplorer()
    before = ex.renders
    ex.set(f=3, s=2, mode="average", source="edge map")
    assert ex.renders == before + 1
    assert (ex.f_slider.value, ex.s_slider.value, ex.mode_buttons.value, ex.source_dropdown.value) == \
        (3, 2, "average", "edge map")
    assert ex.output_shape == (127, 127)
    picture = PILImage.open(io.BytesIO(ex.png))
    assert picture.format == "PNG" and picture.size[0] > 600 and picture.size[1] > 250


def test_explorer_explains_impossible_settings_without_raising():
    ex = PoolExplorer()
    good = ex.png
    ex.set(f=300)
    assert ex.output_shape is None
    assert "no output" in ex.formula_html.value and "does not fit" in ex.explanation_html.value
    assert ex.png != good
    ex.set(f=2, s=0)
    assert ex.output_shape is None and "stride must be at least 1" in ex.explanation_html.value
    ex.set(s=2)                       # back to a possible setting: the picture comes back
    assert ex.output_shape == (128, 128)
    assert ex._big_img.get_visible() and not ex._no_output.get_visible()


def test_explorer_rejects_unknown_choices_and_displays_as_a_widget():
    with pytest.raises(ValueError):
        PoolExplorer(mode="median")
    with pytest.raises(ValueError):
        PoolExplorer(source="noise")
    ex = PoolExplorer()
    bundle = ex._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id
