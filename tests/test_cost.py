"""Lesson 04's cost helpers: the counting functions agree with the worked numbers and with PyTorch, the
explorer shows exactly those numbers and redraws when a control moves, and the reference summary
(cnnbook.summary) counts parameters and multiply-accumulates of real models correctly."""
from __future__ import annotations

import io
import itertools
import math
import random
import re
import warnings

import pytest
import torch
from PIL import Image as PILImage
from torch import nn

from cnnbook.cost import PADDINGS, CostExplorer, compare_costs, conv_cost, conv_out_length, separable_cost
from cnnbook.summary import format_summary, layer_macs, print_summary, summarize


def torch_counts(n: int, f: int, c_in: int, c_out: int, padding: str, bias: bool) -> dict:
    """An independent count: build the layers on the meta device (no memory, no arithmetic), read the
    output shapes and the parameters from PyTorch, and count MACs as output values x dot-product length."""
    x = torch.empty(1, c_in, n, n, device="meta")
    normal = nn.Conv2d(c_in, c_out, f, padding=padding, bias=bias, device="meta")
    depthwise = nn.Conv2d(c_in, c_in, f, padding=padding, groups=c_in, bias=bias, device="meta")
    pointwise = nn.Conv2d(c_in, c_out, 1, bias=bias, device="meta")
    with warnings.catch_warnings():   # PyTorch's remark on even 'same' filters: true and harmless here
        warnings.filterwarnings("ignore", message="Using padding='same'", category=UserWarning)
        y_normal = normal(x)
        y_depthwise = depthwise(x)
    y_pointwise = pointwise(y_depthwise)
    assert y_normal.shape == y_pointwise.shape

    def params(layer):
        return sum(p.numel() for p in layer.parameters())

    return {"out": y_normal.shape[-1],
            "normal_params": params(normal), "normal_macs": y_normal.numel() * c_in * f * f,
            "depthwise_params": params(depthwise), "depthwise_macs": y_depthwise.numel() * 1 * f * f,
            "pointwise_params": params(pointwise), "pointwise_macs": y_pointwise.numel() * c_in}


# --- the pure counting functions ----------------------------------------------------------------------

def test_worked_numbers_of_the_lesson():
    assert conv_cost(32, 5, 3, 10, "same")["params"] == 760          # CS231n: ten 5x5 filters on 32x32x3
    assert conv_cost(6, 3, 3, 10)["params"] == 280                    # ten 3x3x3 filters
    assert conv_cost(32, 5, 1, 6)["params"] == 156                    # LeNet-5's first layer
    assert conv_cost(32, 5, 3, 6)["params"] == 456                    # the 'why convolutions' layer
    assert conv_cost(28, 5, 192, 32, "same")["macs"] == 120_422_400   # the 5x5 'same' conv
    bottleneck = conv_cost(28, 1, 192, 16)["macs"] + conv_cost(28, 5, 16, 32, "same")["macs"]
    assert (conv_cost(28, 1, 192, 16)["macs"], bottleneck) == (2_408_448, 12_443_648)
    normal, separable = conv_cost(6, 3, 3, 5), separable_cost(6, 3, 3, 5)
    assert normal == {"out": 4, "params": 140, "macs": 2160}
    assert (separable["depthwise_macs"], separable["pointwise_macs"], separable["macs"]) == (432, 240, 672)
    assert math.isclose(separable["macs"] / normal["macs"], 1 / 5 + 1 / 9)
    assert 32 * 32 * 3 * 28 * 28 * 6 == 14_450_688                    # the fully connected alternative


@pytest.mark.parametrize("n, f, c_in, c_out, padding, bias", [
    (6, 3, 3, 5, "valid", True), (28, 5, 192, 32, "same", False), (9, 4, 7, 2, "same", True),
    (5, 5, 1, 1, "valid", False), (17, 1, 12, 40, "valid", True), (12, 7, 3, 64, "same", True),
])
def test_counts_match_torch(n, f, c_in, c_out, padding, bias):
    expected = torch_counts(n, f, c_in, c_out, padding, bias)
    normal = conv_cost(n, f, c_in, c_out, padding, bias)
    separable = separable_cost(n, f, c_in, c_out, padding, bias)
    assert normal["out"] == separable["out"] == expected["out"]
    assert normal["params"] == expected["normal_params"]
    assert normal["macs"] == expected["normal_macs"]
    for part in ("depthwise", "pointwise"):
        assert separable[f"{part}_params"] == expected[f"{part}_params"]
        assert separable[f"{part}_macs"] == expected[f"{part}_macs"]
    assert separable["params"] == expected["depthwise_params"] + expected["pointwise_params"]


def test_mac_ratio_is_one_over_c_out_plus_one_over_f_squared():
    settings = itertools.product((7, 16), (1, 2, 3, 5), (1, 3, 64), (1, 5, 512), PADDINGS)
    for n, f, c_in, c_out, padding in settings:
        info = compare_costs(n, f, c_in, c_out, padding)
        assert info["ok"]
        assert math.isclose(info["mac_ratio"], 1 / c_out + 1 / f ** 2)
        assert math.isclose(info["formula_ratio"], 1 / c_out + 1 / f ** 2)


def test_the_step_named_the_larger_part_is_the_larger_part_as_torch_counts_it():
    """The explanation says which step costs more and which share of the normal layer's MACs it is: the
    depthwise step is 1/c_out of it, the pointwise step 1/f² (counted here by PyTorch's layers, not by formula).
    It once had the two the wrong way round, on the lesson's own worked example (depthwise 432 > pointwise 240)."""
    named = re.compile(r"the (depthwise|pointwise) step, 1/(\d+) of the normal cost, is the larger part")
    for n, f, c_in, c_out in itertools.product((6, 16), (2, 3, 5), (3, 64), (1, 5, 16, 512)):
        if c_out == f * f:
            continue
        found = named.search(compare_costs(n, f, c_in, c_out, "valid")["message"])
        assert found, (n, f, c_in, c_out)
        counts = torch_counts(n, f, c_in, c_out, "valid", True)
        larger = max(("depthwise", "pointwise"), key=lambda step: counts[f"{step}_macs"])
        assert found[1] == larger, (n, f, c_in, c_out, found[0], counts)
        assert math.isclose(counts[f"{larger}_macs"] / counts["normal_macs"], 1 / int(found[2])), (found[0], counts)


def test_impossible_settings_are_explained_not_raised():
    assert conv_out_length(3, 5) is None and conv_out_length(3, 5, "same") == 3
    info = compare_costs(3, 5, 3, 5, "valid")
    assert info["ok"] is False and info["normal"] is None
    assert "does not fit" in info["message"] and "'same'" in info["message"]
    with pytest.raises(ValueError):
        conv_cost(3, 5, 3, 5)
    for bad in [dict(n=0), dict(f=0), dict(c_in=0), dict(c_out=-1)]:
        args = {"n": 6, "f": 3, "c_in": 3, "c_out": 5, **bad}
        with pytest.raises(ValueError):
            separable_cost(**args)
    with pytest.raises(ValueError):
        conv_out_length(6, 3, "full")


# --- the explorer ----------------------------------------------------------------------------------------

def shown_numbers(ex: CostExplorer) -> list[int]:
    """The bold numbers of the HTML table, in order: normal, depthwise, pointwise, separable (each params,
    then MACs)."""
    return [int(s.replace(",", "")) for s in re.findall(r"<b>([\d,]+)</b>", ex.formula_html.value)]


def expected_numbers(n, f, c_in, c_out, padding="valid", bias=True) -> list[int]:
    """The same eight numbers from the formulas of the lesson, written out independently."""
    out = n if padding == "same" else n - f + 1
    b = 1 if bias else 0
    normal = ((f * f * c_in + b) * c_out, out * out * c_out * f * f * c_in)
    depthwise = ((f * f + b) * c_in, out * out * c_in * f * f)
    pointwise = ((c_in + b) * c_out, out * out * c_in * c_out)
    total = (depthwise[0] + pointwise[0], depthwise[1] + pointwise[1])
    return [*normal, *depthwise, *pointwise, *total]


def test_explorer_opens_on_the_worked_example():
    ex = CostExplorer()
    assert shown_numbers(ex) == expected_numbers(6, 3, 3, 5) == [140, 2160, 30, 432, 20, 240, 50, 672]
    assert "1/5 + 1/9" in ex.formula_html.value and "31.1%" in ex.formula_html.value
    assert ex.drawn_values()["macs"] == {"normal": 2160, "depthwise": 432, "pointwise": 240}
    assert "31.1%" in ex.explanation_html.value


def test_explorer_follows_every_control():
    ex = CostExplorer()
    pictures, seen = {ex.png}, {(6, 3, 3, 5, "valid", True)}
    moves = [(ex.n_slider, [28, 9]), (ex.f_slider, [5, 1, 4]), (ex.c_in_slider, [192, 16]),
             (ex.c_out_slider, [32, 512, 7]), (ex.padding_buttons, ["same", "valid"]),
             (ex.bias_checkbox, [False, True])]
    for control, values in moves:
        for value in values:
            control.value = value
            settings = (ex.n_slider.value, ex.f_slider.value, ex.c_in_slider.value, ex.c_out_slider.value,
                        ex.padding_buttons.value, ex.bias_checkbox.value)
            expected = expected_numbers(*settings)
            assert shown_numbers(ex) == expected, settings
            drawn = ex.drawn_values()
            assert [drawn["params"]["normal"], drawn["macs"]["normal"]] == expected[:2]
            assert [drawn["params"]["depthwise"], drawn["macs"]["depthwise"]] == expected[2:4]
            assert [drawn["params"]["pointwise"], drawn["macs"]["pointwise"]] == expected[4:6]
            n, f, c_in, c_out = settings[:4]
            assert f"1/{c_out} + 1/{f * f}" in ex.formula_html.value
            assert math.isclose(ex.state["mac_ratio"], 1 / c_out + 1 / f ** 2)
            pictures.add(ex.png)
            seen.add(settings)
    assert len(pictures) == len(seen) == 13, "every setting draws its own picture"


def test_explorer_shows_the_bottleneck_layer_numbers():
    ex = CostExplorer().set(n=28, f=5, c_in=192, c_out=32, padding="same")
    numbers = shown_numbers(ex)
    assert numbers[1] == 120_422_400 and numbers[0] == 153_632
    assert "120,422,400" in ex.formula_html.value
    assert "28·28·32·5·5·192" in ex.formula_html.value.replace("<wbr>", "")     # as the learner reads it
    ex.set(f=1, c_out=16, padding="valid")
    assert shown_numbers(ex)[1] == 2_408_448


def test_the_table_fits_a_narrow_box():
    """In a 780 px window with JupyterLab's file browser open the output is about 350 px wide: the products
    ("58·58·512·2·2·251") did not wrap and pushed the column of counts out of sight. Each product may now wrap after
    a "·", so no cell but a count is longer than a short word, and a table still too wide scrolls sideways."""
    ex = CostExplorer().set(n=64, f=7, c_in=256, c_out=512)
    html = ex.formula_html.value
    assert re.match(r"<div style='overflow-x:\s*auto; width:\s*0; min-width:\s*100%'>", html), html[:80]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", html)
    unbroken = [piece for cell in cells if not cell.startswith("<b>")
                for piece in re.split(r"<wbr>|\s", re.sub(r"</?(?!wbr)\w+[^>]*>", "", cell)) if len(piece) > 10]
    assert not unbroken, unbroken


def test_explorer_set_redraws_once_and_png_is_a_picture():
    ex = CostExplorer()
    before = ex.renders
    ex.set(n=20, f=5, c_in=8, c_out=40, padding="same", bias=False)
    assert ex.renders == before + 1
    assert (ex.n_slider.value, ex.f_slider.value, ex.c_in_slider.value, ex.c_out_slider.value,
            ex.padding_buttons.value, ex.bias_checkbox.value) == (20, 5, 8, 40, "same", False)
    picture = PILImage.open(io.BytesIO(ex.png))
    assert picture.format == "PNG" and picture.size[0] > 400 and picture.size[1] > 200


def test_explorer_explains_a_filter_that_does_not_fit():
    ex = CostExplorer()
    good = ex.png
    ex.set(n=3, f=5, padding="valid")
    assert ex.state["ok"] is False
    assert "does not fit" in ex.explanation_html.value and "no output" in ex.formula_html.value
    assert ex.drawn_values()["macs"] == {"normal": 0, "depthwise": 0, "pointwise": 0}
    assert ex.png != good
    ex.padding_buttons.value = "same"
    assert shown_numbers(ex) == expected_numbers(3, 5, 3, 5, "same")


def test_explorer_displays_as_a_widget():
    ex = CostExplorer()
    bundle = ex._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id


# --- the reference summary --------------------------------------------------------------------------------

def lenet() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                         nn.ReLU(), nn.Linear(84, 10))


def test_summary_of_lenet_by_hand():
    rows = summarize(lenet(), (1, 32, 32))
    assert [(r["layer"], r["output_shape"], r["params"], r["macs"]) for r in rows] == [
        ("Conv2d", (6, 28, 28), 156, 28 * 28 * 6 * 25), ("ReLU", (6, 28, 28), 0, 0),
        ("MaxPool2d", (6, 14, 14), 0, 0), ("Conv2d", (16, 10, 10), 2416, 10 * 10 * 16 * 150),
        ("ReLU", (16, 10, 10), 0, 0), ("MaxPool2d", (16, 5, 5), 0, 0), ("Flatten", (400,), 0, 0),
        ("Linear", (120,), 48_120, 48_000), ("ReLU", (120,), 0, 0), ("Linear", (84,), 10_164, 10_080),
        ("ReLU", (84,), 0, 0), ("Linear", (10,), 850, 840)]
    assert sum(r["params"] for r in rows) == 61_706 == sum(p.numel() for p in lenet().parameters())
    table = format_summary(rows)
    assert "61,706" in table and "416,520" in table


def test_summary_of_random_stacks_matches_shape_arithmetic():
    rng = random.Random(4)
    for _ in range(25):
        c, h, w = rng.randint(1, 4), rng.randint(8, 20), rng.randint(8, 20)
        state = random.Random(rng.random())
        model, expected = stack_for(state, c, h, w)
        rows = summarize(model, (c, h, w))
        assert [(r["layer"], r["output_shape"], r["params"], r["macs"]) for r in rows] == expected
        assert sum(r["params"] for r in rows) == sum(p.numel() for p in model.parameters())


def stack_for(rng: random.Random, c: int, h: int, w: int):
    """A random nn.Sequential on a (c, h, w) input and its rows (layer, shape, params, macs), computed by
    shape arithmetic alone."""
    layers, expected = [], []
    for _ in range(rng.randint(1, 3)):
        kh, kw = rng.randint(1, min(4, h + 2)), rng.randint(1, min(4, w + 2))
        s, p, bias = rng.randint(1, 2), rng.randint(0, 1), rng.random() < 0.5
        if kh > h + 2 * p or kw > w + 2 * p:
            p = 1
        groups = c if rng.random() < 0.3 else 1
        out_c = c * rng.randint(1, 2) if groups > 1 else rng.randint(1, 6)
        layers.append(nn.Conv2d(c, out_c, (kh, kw), stride=s, padding=p, bias=bias, groups=groups))
        h, w = (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1
        expected.append(("Conv2d", (out_c, h, w), out_c * (c // groups) * kh * kw + (out_c if bias else 0),
                         h * w * out_c * (c // groups) * kh * kw))
        c = out_c
        layers.append(nn.ReLU())
        expected.append(("ReLU", (c, h, w), 0, 0))
        if min(h, w) >= 2 and rng.random() < 0.6:
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
            expected.append(("MaxPool2d", (c, h, w), 0, 0))
    layers.append(nn.Flatten())
    expected.append(("Flatten", (c * h * w,), 0, 0))
    n_in, n_out, bias = c * h * w, rng.randint(2, 12), rng.random() < 0.5
    layers.append(nn.Linear(n_in, n_out, bias=bias))
    expected.append(("Linear", (n_out,), n_in * n_out + (n_out if bias else 0), n_in * n_out))
    return nn.Sequential(*layers), expected


def test_summary_of_nested_blocks_and_transposed_convs():
    model = nn.Sequential(
        nn.Sequential(nn.Conv2d(3, 3, 3, stride=2, padding=1, groups=3, bias=False), nn.BatchNorm2d(3)),
        nn.Conv2d(3, 5, 1), nn.ConvTranspose2d(5, 2, 2, stride=2))
    rows = summarize(model, (3, 7, 10))
    assert [r["name"] for r in rows] == ["0.0", "0.1", "1", "2"]
    assert [r["output_shape"] for r in rows] == [(3, 4, 5), (3, 4, 5), (5, 4, 5), (2, 8, 10)]
    assert [r["params"] for r in rows] == [27, 6, 20, 42]
    assert [r["macs"] for r in rows] == [4 * 5 * 3 * 9, 0, 4 * 5 * 5 * 3, 4 * 5 * 5 * 2 * 4]
    assert model.training, "summarize puts the model back into training mode"


def test_summary_names_the_layer_and_the_size_a_linear_layer_is_given():
    """The commonest slip of a first CNN: fc6 built for another feature-map size. The message names the layer, what
    it takes and what it is given (it once stopped at torch's 'mat1 and mat2 shapes cannot be multiplied')."""
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 5 * 5, 10))
    with pytest.raises(ValueError) as err:
        summarize(model, (1, 8, 8))
    text = str(err.value)
    assert text == ("layer '2' (Linear) takes 100 numbers per sample and is given 144 (input shape (1, 144)): make "
                    "its in_features 144, or check the layers before it"), text
    assert model.training


def test_summary_names_a_missing_flatten_before_a_linear_layer():
    """A Linear layer given the feature maps themselves (no Flatten): torch multiplies the last axis only and
    complains about 'mat1 and mat2'; the message names the missing flatten and the flattened size."""
    model = nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Linear(6 * 12 * 12, 10))
    with pytest.raises(ValueError) as err:
        summarize(model, (1, 26, 26))
    text = str(err.value)
    assert text.startswith("layer '3' (Linear) is given a 4-D input (1, 6, 12, 12): a flatten is missing"), text
    assert "each sample is 864 numbers" in text and "mat1" not in text, text


def test_summary_counts_a_shared_layer_once_and_calls_twice():
    shared = nn.Conv2d(4, 4, 3, padding=1)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    rows = summarize(model, (4, 6, 6))
    assert [r["params"] for r in rows] == [148, 0, 0]
    assert [r["macs"] for r in rows] == [6 * 6 * 4 * 36, 0, 6 * 6 * 4 * 36]


def test_summary_names_the_layer_that_does_not_fit(capsys):
    with pytest.raises(ValueError, match="Linear"):
        summarize(lenet(), (1, 28, 28))
    rows = print_summary(lenet(), (1, 32, 32))
    assert len(rows) == 12 and "416,520" in capsys.readouterr().out
    with pytest.raises(ValueError):
        summarize(lenet(), (1, 0, 32))


def test_layer_macs_of_other_layers_is_zero():
    x = torch.zeros(1, 3, 8, 8)
    for layer in (nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(2), nn.BatchNorm2d(3), nn.Flatten(), nn.Dropout()):
        assert layer_macs(layer, (x,), layer.eval()(x)) == 0


def test_a_long_layer_name_keeps_the_table_in_columns():
    """A Korean trial (lesson 07): the Inception table printed `branch_pool.0 (MaxPool2d)192x28x28`, a name longer
    than its column running into the output shape. The columns are as wide as their longest entry."""
    from cnnbook.i18n import _

    model = nn.Sequential()
    model.add_module("branch_pool_projection", nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1)))
    model.add_module("a_rather_long_name_for_a_layer", nn.Conv2d(3, 4, 1))
    text = format_summary(summarize(model, (3, 8, 8)), model)
    lines = text.splitlines()
    starts = {line.index("3x8x8") if "3x8x8" in line else line.index("4x8x8") for line in lines[2:4]}
    assert len(starts) == 1 and all(line[next(iter(starts)) - 1] == " " for line in lines[2:4]), text
    header = lines[0]
    assert header.index(_("output shape")) == next(iter(starts)), text
