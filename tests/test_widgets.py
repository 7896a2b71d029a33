"""The lesson-03 explorers: the numbers they show follow the output-size formula, the figure follows the
sliders, impossible settings are explained instead of raised, and the photo view agrees with torch."""
from __future__ import annotations

import io
import itertools
import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image as PILImage

from cnnbook.widgets import (KERNELS, ConvExplorer, PhotoConvExplorer, correlate2d, explain_settings,
                             make_kernel, photo_input)


def window_count(n: int, f: int, p: int, s: int) -> int:
    """An independent count: the window starts 0, s, 2s, ... that leave room for the whole filter."""
    return len(range(0, n + 2 * p - f + 1, s))


def torch_shape(h: int, w: int, f: int, p: int, s: int) -> tuple[int, int]:
    out = F.conv2d(torch.zeros(1, 1, h, w), torch.zeros(1, 1, f, f), stride=s, padding=p)
    return tuple(out.shape[2:])


# --- explain_settings -------------------------------------------------------------------------------

@pytest.mark.parametrize("n, f, p, s, out, fits", [
    (7, 3, 0, 1, 5, True),      # the lecture's 7x7 examples
    (7, 3, 0, 2, 3, True),
    (7, 3, 0, 3, 2, False),     # (7 - 3)/3 + 1 = 2.33: does not fit
    (32, 5, 2, 1, 32, True),    # 32x32x3 with 5x5 filters, p=2 keeps 32
    (7, 3, 1, 1, 7, True),      # 'same' padding for f=3 is p=1
    (7, 3, 2, 1, 9, True),      # the notes' p=2 grows the output instead
    (9, 4, 3, 2, 6, False),
])
def test_explain_settings_known_values(n, f, p, s, out, fits):
    info = explain_settings(n, f, p, s)
    assert info["ok"] is True
    assert info["out"] == out
    assert info["fits"] is fits
    assert info["padded"] == n + 2 * p
    assert info["formula"] == f"floor(({n} + 2·{p} − {f})/{s}) + 1 = {out}"
    assert len(info["starts"]) == out


def test_explain_settings_matches_torch_and_a_window_count():
    for n, f, p, s in itertools.product(range(1, 10), range(1, 6), range(0, 3), range(1, 4)):
        info = explain_settings(n, f, p, s)
        if f > n + 2 * p:
            assert info["ok"] is False and info["out"] is None
            continue
        assert info["out"] == window_count(n, f, p, s) == torch_shape(n, n, f, p, s)[0], (n, f, p, s)
        assert info["fits"] == ((n + 2 * p - f) % s == 0)


def test_what_the_stride_does_to_the_size_is_said_as_torch_computes_it():
    """The sentence on the stride: it names the window positions at stride 1 and the output as torch computes
    them, says the stride shrinks the output only when it does, and a fraction it gives for the output rounds up
    to it (it once said "the stride shrinks it further ... so the output is 1 (about 7/3)" for a 7×7 filter on a
    7×7 input, where one window fits and the stride changes nothing), also where the output is the input's size."""
    for n, f, p, s in itertools.product(range(1, 13), range(1, 8), range(0, 4), range(2, 5)):
        if f > n + 2 * p:
            continue
        message = explain_settings(n, f, p, s)["message"]
        at_one, at_s = torch_shape(n, n, f, p, 1)[0], torch_shape(n, n, f, p, s)[0]
        said = re.search(r"of the (\d+) window positions at stride 1, stride \d+ keeps one in \d+, so the output is "
                         r"(\d+)([^.]*)\.", message)
        assert ("stride shrinks" in message) == (at_s < at_one), (n, f, p, s, message)
        if at_s < at_one:
            assert said and (int(said[1]), int(said[2])) == (at_one, at_s), (n, f, p, s, message)
            for top, bottom in re.findall(r"(\d+)/(\d+)", said[3]):
                assert math.ceil(int(top) / int(bottom)) == at_s, (n, f, p, s, said[0])
        else:
            assert f"stride s = {s} changes nothing" in message, (n, f, p, s, message)
        # the input's size again at a stride: said as what it is, never only "a 'same' convolution" (h78: n=2, f=1,
        # p=1, s=2 said nothing of the stride that cut 4 window positions to 2)
        assert ("is the input's size again" in message) == (at_s == n < at_one), (n, f, p, s, message)


def test_stride_that_does_not_fit_names_the_rows_never_visited():
    info = explain_settings(7, 3, 0, 3)
    assert info["starts"] == [0, 3]
    assert info["unvisited"] == [6] and info["unvisited_input"] == [6]
    assert "does not fit" in info["message"] and "1.33" in info["message"]
    assert "input row 6" in info["message"]
    # the same leftover can fall on padding only: then nothing of the image is lost
    padded_only = explain_settings(9, 4, 3, 2)
    assert padded_only["unvisited"] == [14] and padded_only["unvisited_input"] == []
    assert "padding zeros only" in padded_only["message"]


def test_stride_larger_than_filter_leaves_gaps():
    info = explain_settings(7, 1, 0, 2)
    assert info["out"] == 4 and info["fits"] is True
    assert info["unvisited_input"] == [1, 3, 5]
    assert "jump over" in info["message"]


@pytest.mark.parametrize("n, f, p, s, words", [
    (3, 5, 0, 1, "does not fit"),
    (4, 7, 1, 1, "pad by at least p = 2"),
    (7, 3, 0, 0, "stride must be at least 1"),
    (7, 3, -1, 1, "padding cannot be negative"),
    (7, 0, 0, 1, "filter size must be at least 1"),
])
def test_impossible_settings_are_explained_not_raised(n, f, p, s, words):
    info = explain_settings(n, f, p, s)
    assert info["ok"] is False and info["out"] is None
    assert words in info["message"]


def test_same_and_valid_and_even_filters_are_named():
    assert "'same'" in explain_settings(7, 5, 2, 1)["message"]
    assert "'valid'" in explain_settings(7, 3, 0, 1)["message"]
    even = explain_settings(7, 4, 0, 1)["message"]
    assert "even" in even and "1 on one side and 2 on the other" in even


# --- the grid explorer -----------------------------------------------------------------------------

def test_grid_explorer_follows_every_slider():
    ex = ConvExplorer(n=7, f=3, p=0, s=1)
    assert "floor((7 + 2·0 − 3)/1) + 1 = 5" in ex.formula_html.value
    assert ex.drawn_output_shape == (5, 5)
    seen_png = {ex.png}
    for slider, values in [(ex.s_slider, [2, 3, 1]), (ex.p_slider, [1, 2, 3, 0]), (ex.f_slider, [1, 5, 2, 3]),
                           (ex.n_slider, [4, 12, 9, 7])]:
        for value in values:
            slider.value = value
            n, f, p, s = ex.n_slider.value, ex.f_slider.value, ex.p_slider.value, ex.s_slider.value
            out = window_count(n, f, p, s)
            assert f"floor(({n} + 2·{p} − {f})/{s}) + 1 = {out}" in ex.formula_html.value
            assert f"output <b>{out} × {out}</b>" in ex.formula_html.value
            assert ex.output_shape == (out, out)
            assert ex.drawn_output_shape == (out, out)
            # the padded grid drawn has n + 2p cells per side, with the input in the middle
            grid = np.asarray(ex.figure.axes[0].images[0].get_array())
            assert grid.shape == (n + 2 * p, n + 2 * p)
            assert (grid[p:p + n, p:p + n] % 2 == 0).all()   # input cells (0, or 2 when never visited)
            if p:
                assert (grid[0] % 2 == 1).all()                # the first row is padding (1, or 3)
            seen_png.add(ex.png)
    assert len(seen_png) == 12, "every one of the 12 different settings should draw a different figure"


def test_grid_explorer_window_markers_match_the_formula():
    ex = ConvExplorer(n=7, f=3, p=1, s=2)
    corners = ex.figure.axes[0].collections[-1].get_offsets()
    assert len(corners) == 4 * 4
    assert sorted({float(c) for c in np.asarray(corners)[:, 0]}) == [0, 2, 4, 6]
    assert "floor((7 + 2·1 − 3)/2) + 1 = 4" in ex.formula_html.value


def test_grid_explorer_png_is_a_real_picture_and_set_redraws_once():
    ex = ConvExplorer()
    before = ex.renders
    ex.set(n=9, f=4, p=2, s=3)
    assert ex.renders == before + 1
    assert (ex.n_slider.value, ex.f_slider.value, ex.p_slider.value, ex.s_slider.value) == (9, 4, 2, 3)
    picture = PILImage.open(io.BytesIO(ex.png))
    assert picture.format == "PNG" and picture.size[0] > 400 and picture.size[1] > 200


def test_grid_explorer_explains_impossible_settings_without_raising():
    ex = ConvExplorer(n=7, f=3)
    good_png = ex.png
    ex.set(n=3, f=5, p=0, s=1)
    assert ex.output_shape is None and ex.drawn_output_shape is None
    assert "no window fits" in ex.formula_html.value
    assert "does not fit" in ex.explanation_html.value
    assert ex.png != good_png
    ex.p_slider.value = 1          # 3 + 2 = 5: now exactly one window fits
    assert ex.output_shape == (1, 1) and ex.drawn_output_shape == (1, 1)
    assert "floor((3 + 2·1 − 5)/1) + 1 = 1" in ex.formula_html.value


def test_grid_explorer_explains_a_stride_that_does_not_fit():
    ex = ConvExplorer(n=7, f=3, p=0, s=3)
    assert ex.output_shape == (2, 2)
    assert "does not fit" in ex.explanation_html.value and "input row 6" in ex.explanation_html.value
    grid = np.asarray(ex.figure.axes[0].images[0].get_array())
    assert (grid[6] == 2).all() and (grid[:, 6] == 2).all()   # drawn as never visited
    assert (grid[:6, :6] == 0).all()


def test_explorer_displays_as_a_widget():
    ex = ConvExplorer()
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id


# --- the photo explorer ----------------------------------------------------------------------------

def test_photo_input_is_a_real_photo_of_at_least_256():
    image = photo_input("camera")
    assert image.shape == (256, 256) and image.dtype == np.float64
    assert 0 <= image.min() < 0.1 and 0.9 < image.max() <= 1.0 and image.std() > 0.1
    with pytest.raises(ValueError):
        photo_input("camera", size=64)


def test_correlate2d_matches_torch():
    rng = np.random.default_rng(3)
    for (h, w, kh, kw, p, s) in [(9, 7, 3, 3, 0, 1), (10, 13, 3, 2, 1, 2), (8, 8, 5, 5, 2, 3),
                                 (7, 7, 3, 3, 0, 3), (6, 11, 1, 1, 0, 2)]:
        image, kernel = rng.normal(size=(h, w)), rng.normal(size=(kh, kw))
        expected = F.conv2d(torch.from_numpy(image)[None, None], torch.from_numpy(kernel)[None, None],
                            stride=s, padding=p)[0, 0].numpy()
        np.testing.assert_allclose(correlate2d(image, kernel, p, s), expected, atol=1e-10)


def test_make_kernel():
    np.testing.assert_allclose(make_kernel("vertical edges", 3) * 4, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_allclose(make_kernel("horizontal edges", 3), make_kernel("vertical edges", 3).T)
    for kind, f in itertools.product(KERNELS, range(1, 10)):
        kernel = make_kernel(kind, f)
        assert kernel.shape == (f, f)
        assert np.isclose(kernel.sum(), 1.0 if "blur" in kind else 0.0)
    with pytest.raises(ValueError):
        make_kernel("emboss", 3)


@pytest.mark.parametrize("kernel, f, p, s", [
    ("vertical edges", 3, 1, 1), ("box blur", 5, 0, 1), ("gaussian blur", 7, 3, 2),
    ("horizontal edges", 4, 1, 3),
    ("vertical edges", 3, 0, 3), ("box blur", 9, 8, 4), ("gaussian blur", 2, 0, 2),
])
def test_photo_explorer_shape_and_values_match_torch(kernel, f, p, s):
    ex = PhotoConvExplorer(kernel=kernel, f=f, p=p, s=s)
    h, w = ex.input.shape
    assert (h, w) == (256, 256)
    expected = F.conv2d(torch.from_numpy(np.array(ex.input))[None, None],
                        torch.from_numpy(make_kernel(kernel, f))[None, None],
                        stride=s, padding=p)[0, 0].numpy()
    assert ex.output_shape == expected.shape == torch_shape(h, w, f, p, s)
    np.testing.assert_allclose(ex.output, expected, atol=1e-9)
    out_h, out_w = expected.shape
    assert f"feature map <b>{out_h} × {out_w}</b>" in ex.formula_html.value
    assert f"padded <b>{h + 2 * p} × {w + 2 * p}</b>" in ex.formula_html.value
    assert f"floor(({h} + 2·{p} − {f})/{s}) + 1 = {out_h}" in ex.formula_html.value


def test_photo_explorer_follows_its_controls():
    ex = PhotoConvExplorer(kernel="vertical edges", f=3, p=1, s=1)
    assert ex.output_shape == (256, 256)
    pictures = {ex.png}
    ex.s_slider.value = 2
    assert ex.output_shape == (128, 128)
    pictures.add(ex.png)
    ex.p_slider.value = 0
    assert ex.output_shape == (127, 127)
    pictures.add(ex.png)
    before = ex.output.copy()
    ex.kernel_dropdown.value = "box blur"
    assert ex.output_shape == (127, 127) and not np.allclose(ex.output, before)
    pictures.add(ex.png)
    ex.f_slider.value = 5
    assert ex.output_shape == (126, 126)
    pictures.add(ex.png)
    assert len(pictures) == 5
    # the image drawn on the right is the feature map itself
    assert np.asarray(ex._out_img.get_array()).shape == (126, 126)


def test_photo_explorer_explains_instead_of_raising():
    ex = PhotoConvExplorer()
    ex.set(s=0)
    assert "stride must be at least 1" in ex.explanation_html.value
    ex.set(s=1)
    assert ex.output_shape == (256, 256)


@pytest.mark.slow  # executes a notebook
def test_explorers_show_a_static_picture_without_a_kernel(tmp_path):
    """Rendered to HTML by nbconvert (as GitHub and other static viewers do), an executed explorer cell shows
    a picture of its default state, not nothing and not a raw ``VBox(...)`` line."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from cnnbook.widgets import ConvExplorer, PhotoConvExplorer\n"
                                          "ConvExplorer(n=7, f=3, p=1, s=2)"),
                nbformat.v4.new_code_cell("PhotoConvExplorer()")]
    # JupyterLab saves notebooks without the widget state unless asked to: the same here.
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=False).execute()
    html, _ = HTMLExporter().from_notebook_node(nb)
    for cell in nb.cells:
        data = cell.outputs[0]["data"]
        assert "application/vnd.jupyter.widget-view+json" in data
        assert f"data:image/png;base64,{data['image/png']}" in html, "the explorer's picture is not in the HTML"
    assert "VBox(children" not in html


def test_the_photo_explorer_says_what_every_padding_does_to_the_map():
    """With a blur filter and padding the explanation under the photo explorer was empty, though the map had a dark
    frame and (2p > f − 1) was larger than the photo: each setting now says what the padding did, sizes as torch's."""
    ex = PhotoConvExplorer()
    for kind, f, p in itertools.product(KERNELS, (1, 3, 4, 9), (1, 3, 8)):
        ex.set(kernel=kind, f=f, p=p, s=1)
        said = ex.explanation_html.value
        out = torch_shape(256, 256, f, p, 1)
        assert ex.output_shape == out, (kind, f, p)
        if "blur" in kind:
            assert "darken its border" in said, (kind, f, p, said)
        if out[0] > 256:
            assert f"the map, {out[0]}×{out[1]}, is larger than the photo" in said, (kind, f, p, said)
        elif out[0] < 256:
            assert f"the map is {out[0]}×{out[1]}" in said, (kind, f, p, said)
        else:
            assert "keeps the size" in said, (kind, f, p, said)
