"""Lesson 07's compound-scaling helpers: the arithmetic count of a scaled EfficientNet agrees with the torch
model (built on the meta device) and with torchvision's published parameter counts of B0 to B7, the
strategies spend the same MAC budget, and the explorer shows exactly those numbers and redraws on a change."""
from __future__ import annotations

import io
import math

import pytest
import torch
from PIL import Image as PILImage

from cnnbook.scaling import (ALPHA, BETA, GAMMA, STRATEGIES, ScalingExplorer, efficientnet, efficientnet_cost,
                             explain_scaling, make_divisible, strategy_multipliers)
from cnnbook.summary import summarize

# torchvision's efficientnet_b0 ... b7: (width, depth) multipliers and their published parameter counts
PUBLISHED = {"B0": (1.0, 1.0, 5_288_548), "B1": (1.0, 1.1, 7_794_184), "B2": (1.1, 1.2, 9_109_994),
             "B3": (1.2, 1.4, 12_233_232), "B4": (1.4, 1.8, 19_341_616), "B5": (1.6, 2.2, 30_389_784),
             "B6": (1.8, 2.6, 43_040_704), "B7": (2.0, 3.1, 66_347_960)}


def on_meta(width: float, depth: float, resolution: int) -> dict:
    """The independent count: the torch model's own parameters, and the summary tool's MACs."""
    with torch.device("meta"):
        model = efficientnet(width, depth)
    rows = summarize(model, (3, resolution, resolution))
    return {"params": sum(p.numel() for p in model.parameters()), "macs": sum(r["macs"] for r in rows),
            "final_size": rows[-6]["output_shape"][-1]}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_parameter_counts(name):
    width, depth, params = PUBLISHED[name]
    assert efficientnet_cost(width, depth)["params"] == params
    assert on_meta(width, depth, 224)["params"] == params


@pytest.mark.parametrize("width, depth, resolution", [(1.0, 1.0, 224), (1.0, 1.0, 97), (1.3, 0.5, 160),
                                                      (0.25, 2.0, 64), (2.0, 3.1, 600)])
def test_arithmetic_matches_the_torch_model(width, depth, resolution):
    cost = efficientnet_cost(width, depth, resolution)
    measured = on_meta(width, depth, resolution)
    assert (cost["params"], cost["macs"], cost["final_size"]) == \
        (measured["params"], measured["macs"], measured["final_size"])


def test_b0_facts():
    cost = efficientnet_cost()
    assert cost["blocks"] == 16 and cost["channels"] == [16, 24, 40, 80, 112, 192, 320]
    assert cost["final_size"] == 7 and cost["macs"] == 385_814_752
    with torch.device("meta"):
        out = efficientnet()(torch.empty(2, 3, 224, 224))
    assert out.shape == (2, 1000)


def test_make_divisible():
    assert [make_divisible(v) for v in (32, 35.2, 3, 12, 16 * 1.1, 320 * 1.4)] == [32, 32, 8, 16, 16, 448]
    for v in range(1, 400):
        r = make_divisible(v * 1.37)
        assert r % 8 == 0 and r >= 0.9 * v * 1.37


def test_compound_rule():
    assert math.isclose(ALPHA * BETA ** 2 * GAMMA ** 2, 1.920_27, rel_tol=1e-6)
    for phi in (0, 0.5, 1, 2.25, 4):
        budgets = []
        for strategy in STRATEGIES:
            m = strategy_multipliers(phi, strategy)
            budgets.append(m["depth"] * m["width"] ** 2 * (m["resolution"] / 224) ** 2)
        assert all(math.isclose(b, budgets[0], rel_tol=0.02) for b in budgets)
        assert math.isclose(budgets[0], (ALPHA * BETA ** 2 * GAMMA ** 2) ** phi, rel_tol=0.02)
    assert strategy_multipliers(1)["resolution"] == 258
    with pytest.raises(ValueError):
        strategy_multipliers(1, "sideways")
    with pytest.raises(ValueError):
        efficientnet_cost(1.0, 1.0, 16)


def test_what_each_strategy_does_to_parameters():
    resolution_only = explain_scaling(2, "resolution only")
    assert resolution_only["cost"]["params"] == resolution_only["base"]["params"]
    assert "no parameters" in resolution_only["message"]
    width, depth = explain_scaling(2, "width only"), explain_scaling(2, "depth only")
    compound = explain_scaling(2, "compound")
    # parameters grow about as d * w**2 and MACs as d * w**2 * r**2: for one MAC budget, width alone and depth
    # alone add about as many parameters; compound scaling fewer, because part of it goes to resolution
    assert min(width["param_ratio"], depth["param_ratio"]) > 1.3 * compound["param_ratio"] > 1.3
    for info in (width, depth, compound, resolution_only):       # the rule predicts the MACs within 30 %
        assert 0.85 < info["mac_ratio"] / info["macs_factor"] < 1.3   # (block counts are rounded up)
    assert "rounded up" in compound["message"] and "rounded up" not in resolution_only["message"]
    assert "B0" in explain_scaling(0)["message"]


def shown_numbers(ex: ScalingExplorer) -> tuple[int, int]:
    text = ex.formula_html.value.replace(",", "")
    params = int(text.split("<b>")[4].split("</b>")[0])
    macs = int(text.split("<b>")[5].split("</b>")[0])
    return params, macs


def test_explorer_shows_and_draws_the_numbers():
    ex = ScalingExplorer()
    for phi, strategy in ((0, "compound"), (1.5, "width only"), (3, "resolution only"), (2.25, "depth only")):
        ex.set(phi=phi, strategy=strategy)
        m = strategy_multipliers(phi, strategy)
        cost = efficientnet_cost(m["width"], m["depth"], m["resolution"])
        assert shown_numbers(ex) == (cost["params"], cost["macs"])
        mark = ex.marked_point()
        assert mark["phi"] == phi
        assert math.isclose(mark["params"], cost["params"], rel_tol=1e-9)
        assert math.isclose(mark["macs"], cost["macs"], rel_tol=1e-9)
        assert ex.state["strategy"] == strategy
        phis, millions = ex.chosen_curve("params")
        assert phis == list(ScalingExplorer.PHIS)
        for phi_k, drawn in zip(phis, millions):
            m_k = strategy_multipliers(phi_k, strategy)
            assert math.isclose(drawn * 1e6, efficientnet_cost(m_k["width"], m_k["depth"], m_k["resolution"])
                                ["params"], rel_tol=1e-9)


def test_explorer_redraws_once_per_set_and_on_a_slider_move():
    ex = ScalingExplorer()
    before, png = ex.renders, ex.png
    ex.set(phi=2, strategy="width only")
    assert ex.renders == before + 1 and ex.png != png
    ex.phi_slider.value = 3
    assert ex.renders == before + 2 and ex.state["phi"] == 3
    assert ex.last_render_seconds < 2.0      # a blitted redraw: tens of milliseconds on a laptop
    picture = PILImage.open(io.BytesIO(ex.png))
    assert picture.format == "PNG" and picture.size[0] > 400 and picture.size[1] > 200
    bundle = ex._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id
    assert "cnnbook-ScalingExplorer" in ex.widget._dom_classes
    with pytest.raises(ValueError):
        ScalingExplorer(strategy="sideways")
