"""The lesson-09 optimiser explorer: its paths are torch.optim's, its words follow the numbers, its picture
follows every slider."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from cnnbook.optim_explorer import (CURVATURE, METHODS, START, OptimiserExplorer, explain_paths, optimiser_path,
                                    valley_loss)


def torch_path(method: str, lr: float, momentum: float, steps: int) -> np.ndarray:
    """The same valley minimised by torch.optim, float64; the weights after every step, start included."""
    w = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    make = {"SGD": lambda: torch.optim.SGD([w], lr=lr),
            "momentum": lambda: torch.optim.SGD([w], lr=lr, momentum=momentum),
            "RMSProp": lambda: torch.optim.RMSprop([w], lr=lr),
            "Adam": lambda: torch.optim.Adam([w], lr=lr)}[method]
    optimizer = make()
    a, b = CURVATURE
    path = [w.detach().numpy().copy()]
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * (a * w[0] ** 2 + b * w[1] ** 2)).backward()
        optimizer.step()
        path.append(w.detach().numpy().copy())
    return np.array(path)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("lr, momentum", [(0.01, 0.9), (0.05, 0.5), (0.09, 0.0), (0.2, 0.99)])
def test_paths_are_torch_optims(method, lr, momentum):
    ours = optimiser_path(method, lr, momentum, steps=40)
    theirs = torch_path(method, lr, momentum, steps=40)
    assert ours.shape == (41, 2)
    finite = np.all(np.isfinite(ours), axis=1)
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-9, atol=1e-12)


def test_sgd_diverges_exactly_above_two_over_b():
    a, b = CURVATURE
    below = optimiser_path("SGD", 0.99 * 2 / b, steps=300)
    above = optimiser_path("SGD", 1.01 * 2 / b, steps=2000)
    assert np.all(np.isfinite(below)) and valley_loss(*below[-1]) < valley_loss(*START)
    assert np.isnan(above[-1]).all(), "a diverging path is cut (NaN after the cut)"
    info = explain_paths({m: optimiser_path(m, 0.15, 0.9, 60) for m in METHODS}, 0.15, 0.9)
    assert "SGD" in info["diverged"] and math.isinf(info["final_loss"]["SGD"])
    assert "above 2/b = 0.1" in info["message"] and "Diverged: SGD" in info["message"]


def test_adam_first_step_is_lr_per_coordinate():
    path = optimiser_path("Adam", 0.05, steps=1)
    np.testing.assert_allclose(path[1] - path[0], [0.05, -0.05], atol=1e-9)


def test_the_first_steps_the_explanation_names_are_the_paths():
    """h80's guide trial: the explorer said RMSProp and Adam both move 'by about lr per step'; RMSProp's first step
    is ten times lr (its running mean of squared gradients starts at 0)."""
    for lr in (0.001, 0.3):
        paths = {m: optimiser_path(m, lr, 0.9, 5) for m in METHODS}
        message = explain_paths(paths, lr, 0.9)["message"]
        rmsprop, adam = (np.abs(paths[m][1] - paths[m][0]) for m in ("RMSProp", "Adam"))
        np.testing.assert_allclose(adam, lr, rtol=1e-6)
        np.testing.assert_allclose(rmsprop, 10 * lr, rtol=1e-6)
        assert f"Adam's first step is lr = {lr:.3g} in each coordinate, RMSProp's {10 * lr:.3g}" in message, message


def test_momentum_beats_sgd_along_the_flat_valley_and_says_so():
    paths = {m: optimiser_path(m, 0.01, 0.9, 80) for m in METHODS}
    info = explain_paths(paths, 0.01, 0.9)
    assert info["final_loss"]["momentum"] < 0.01 * info["final_loss"]["SGD"]
    assert "Momentum μ = 0.90 keeps adding up" in info["message"]
    assert info["best"] == min(info["final_loss"], key=info["final_loss"].get)


@pytest.mark.parametrize("bad", [dict(method="Nesterov", lr=0.1), dict(method="SGD", lr=0.0),
                                 dict(method="SGD", lr=0.1, steps=-1)])
def test_path_rejects_impossible_settings(bad):
    with pytest.raises(ValueError):
        optimiser_path(**bad)


def test_explorer_follows_every_slider():
    ex = OptimiserExplorer(lr=0.01, momentum=0.9, steps=60)
    pictures = {ex.png}
    for control, value in [(ex.lr_slider, 0.05), (ex.momentum_slider, 0.5), (ex.steps_slider, 120),
                           (ex.lr_slider, 0.15), (ex.steps_slider, 10)]:
        control.value = value
        lr, mu, steps = ex.lr_slider.value, ex.momentum_slider.value, ex.steps_slider.value
        for method in METHODS:
            np.testing.assert_allclose(ex.paths[method], optimiser_path(method, lr, mu, steps), equal_nan=True)
        assert f"loss after {steps} steps" in ex.formula_html.value
        assert ex.state["message"] in ex.explanation_html.value
        pictures.add(ex.png)
    assert len(pictures) == 6, "every different setting should draw a different picture"


def test_set_redraws_once_and_makes_a_real_picture():
    ex = OptimiserExplorer()
    before = ex.renders
    ex.set(lr=0.09, momentum=0.0, steps=30)
    assert ex.renders == before + 1
    assert (round(ex.lr_slider.value, 6), ex.momentum_slider.value, ex.steps_slider.value) == (0.09, 0.0, 30)
    picture = PILImage.open(io.BytesIO(ex.png))
    assert picture.format == "PNG" and picture.size[0] > 600 and picture.size[1] > 250
    bundle = ex._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id
    assert "image/png" in bundle


def test_one_step_is_said_in_the_singular():
    """The steps slider goes down to 1: the explorer said "loss after 1 steps" and "After 1 steps the lowest loss"."""
    ex = OptimiserExplorer().set(steps=1)
    shown = ex.formula_html.value + ex.explanation_html.value + ex._suptitle.get_text()
    assert "1 steps" not in shown, shown
    assert "loss after 1 step (" in shown and "After 1 step the lowest loss" in shown, shown
    assert "1 step with learning rate" in ex._suptitle.get_text()
    ex.set(steps=2)
    assert "loss after 2 steps (" in ex.formula_html.value and "2 steps with" in ex._suptitle.get_text()
