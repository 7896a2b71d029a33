"""The lesson-09 explorer: four optimisers on a 2-D ill-conditioned loss surface, with sliders.

The surface is the long, narrow valley

    L(x, y) = (a x² + b y²) / 2,   a = 1, b = 20   (condition number b / a = 20),

whose minimum is at (0, 0). Along x the floor is flat, across y the walls are steep: the learning rate that
plain gradient descent can afford is set by the steep direction (it diverges when lr > 2 / b = 0.1), and with
such a learning rate it crawls along the flat one. ``OptimiserExplorer(lr, momentum, steps)`` draws the paths
of SGD, SGD with momentum, RMSProp and Adam from the same start on the contour plot, and their losses step by
step, and says in words what happened.

As in ``cnnbook.widgets`` the arithmetic lives in pure functions (``valley_loss``, ``valley_gradient``,
``optimiser_path``, ``explain_paths``) that the tests check against ``torch.optim``; the figure is drawn with
the Agg canvas into an ``ipywidgets.Image``. The explorer never uses a learner's answers.
"""
from __future__ import annotations

import math

import numpy as np

from .i18n import N_, _
from .widgets import _Explorer, _one_or_many

__all__ = ["CURVATURE", "START", "METHODS", "valley_loss", "valley_gradient", "optimiser_path", "explain_paths",
           "OptimiserExplorer"]

#: The curvatures (a, b) of the valley L = (a x² + b y²) / 2.
CURVATURE = (1.0, 20.0)
#: Where every path starts.
START = (-4.0, 1.0)
#: The optimisers drawn, in the order of the legend.
METHODS = ("SGD", N_("momentum"), "RMSProp", "Adam")
#: The hyperparameters the explorer does not expose: torch.optim's defaults.
RMSPROP_ALPHA, ADAM_BETAS, EPS = 0.99, (0.9, 0.999), 1e-8

_COLOURS = {"SGD": "#d62728", "momentum": "#1f77b4", "RMSProp": "#2ca02c", "Adam": "#9467bd"}
_TOO_FAR = 1e6      # a path beyond this has diverged: it is cut there


def valley_loss(x, y):
    """L(x, y) = (a x² + b y²) / 2 with (a, b) = CURVATURE; works on numbers and arrays alike."""
    a, b = CURVATURE
    return 0.5 * (a * np.square(x) + b * np.square(y))


def valley_gradient(point: np.ndarray) -> np.ndarray:
    """The gradient (a x, b y) of the valley at ``point`` (x, y)."""
    a, b = CURVATURE
    return np.array([a * point[0], b * point[1]], dtype=float)


def optimiser_path(method: str, lr: float, momentum: float = 0.9, steps: int = 50,
                   start: tuple[float, float] = START) -> np.ndarray:
    """The points visited by ``method`` on the valley: float64 array (steps + 1, 2), row 0 = ``start``.

    The update rules are torch.optim's, with its defaults for what is not given: SGD; SGD with
    ``momentum`` (v = μ v + g, w -= lr v); RMSprop (α = 0.99, ε = 1e-8 outside the root); Adam (β = 0.9,
    0.999, ε = 1e-8, bias-corrected). A path that diverges (a coordinate beyond 1e6) stops there: the
    remaining rows are NaN.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if lr <= 0 or steps < 0:
        raise ValueError(f"lr must be positive and steps at least 0, got lr={lr}, steps={steps}")
    path = np.full((steps + 1, 2), np.nan)
    w = np.array(start, dtype=float)
    path[0] = w
    first = np.zeros(2)        # momentum buffer / Adam's first moment
    second = np.zeros(2)       # RMSProp's and Adam's running mean of squared gradients
    beta1, beta2 = ADAM_BETAS
    for t in range(1, steps + 1):
        g = valley_gradient(w)
        if method == "SGD":
            w = w - lr * g
        elif method == "momentum":
            first = momentum * first + g if t > 1 else g.copy()
            w = w - lr * first
        elif method == "RMSProp":
            second = RMSPROP_ALPHA * second + (1 - RMSPROP_ALPHA) * g * g
            w = w - lr * g / (np.sqrt(second) + EPS)
        else:
            first = beta1 * first + (1 - beta1) * g
            second = beta2 * second + (1 - beta2) * g * g
            m_hat, v_hat = first / (1 - beta1 ** t), second / (1 - beta2 ** t)
            w = w - lr * m_hat / (np.sqrt(v_hat) + EPS)
        if not np.all(np.isfinite(w)) or np.abs(w).max() > _TOO_FAR:
            break
        path[t] = w
    return path


def _final_loss(path: np.ndarray) -> float:
    last = path[-1]
    return float(valley_loss(last[0], last[1])) if np.all(np.isfinite(last)) else math.inf


def explain_paths(paths: dict[str, np.ndarray], lr: float, momentum: float) -> dict:
    """What the paths show, as plain data and a sentence or two.

    Returns ``final_loss`` {method: loss after the last step, inf when it diverged}, ``diverged`` (the
    methods that did), ``best`` (the method with the lowest final loss), ``sgd_limit`` (2 / b, the largest
    stable learning rate of plain SGD) and ``message`` (plain text, in the learner's language).
    """
    a, b = CURVATURE
    final = {method: _final_loss(path) for method, path in paths.items()}
    diverged = [method for method, loss in final.items() if math.isinf(loss)]
    steps = len(next(iter(paths.values()))) - 1
    best = min(final, key=lambda method: final[method])
    limit = 2.0 / b
    lines = []
    if lr > limit:
        lines.append(_("lr = {lr:.3g} is above 2/b = {limit:.3g}: every plain-SGD step across the steep walls "
                       "overshoots by more than it corrects, so SGD zig-zags outwards.").format(lr=lr, limit=limit))
    elif lr > 1.0 / b:
        lines.append(_("lr = {lr:.3g} lies between 1/b = {low:.3g} and 2/b = {limit:.3g}: SGD overshoots the valley "
                       "floor every step (zig-zag) but the zig-zag shrinks.").format(lr=lr, low=1 / b, limit=limit))
    else:
        lines.append(_("With lr = {lr:.3g} SGD needs about {steps} steps just to cover 63 % of the way along the flat "
                       "x direction (curvature a = {a:g}): the steep y direction (b = {b:g}) caps the learning rate, "
                       "and the flat one pays for it.").format(lr=lr, steps=math.ceil(1 / (lr * a)), a=a, b=b))
    if "momentum" in diverged and "SGD" not in diverged:
        lines.append(_("Momentum μ = {momentum:.2f} diverges here although SGD does not: it is stable up to lr = "
                       "2(1 + μ)/b = {limit:.3g}, but its steps add up.").format(
            momentum=momentum, limit=2 * (1 + momentum) / b))
    elif momentum > 0 and "momentum" not in diverged and final["momentum"] < final["SGD"]:
        lines.append(_("Momentum μ = {momentum:.2f} keeps adding up the small, consistent steps along x and gets "
                       "much further.").format(momentum=momentum))
    lines.append(_("RMSProp and Adam divide each coordinate's step by the size of its recent gradients, so both "
                   "directions move at one pace whatever the curvature: Adam's first step is lr = {lr:.3g} in each "
                   "coordinate, RMSProp's {first:.3g} (its mean of squared gradients starts at 0, so at first it "
                   "divides by a tenth of the gradient's size).").format(lr=lr, first=lr / math.sqrt(1 - RMSPROP_ALPHA)))
    if diverged:
        lines.append(_("Diverged: {methods}.").format(methods=", ".join(_(method) for method in diverged)))
    lines.append(_one_or_many(steps, N_("After {steps} step the lowest loss is {best}'s ({loss:.3g})."),
                              N_("After {steps} steps the lowest loss is {best}'s ({loss:.3g}).")).format(
        steps=steps, best=_(best), loss=final[best]))
    return {"final_loss": final, "diverged": diverged, "best": best, "sgd_limit": limit,
            "message": " ".join(lines)}


class OptimiserExplorer(_Explorer):
    """Sliders for the learning rate, SGD's momentum and the number of steps -> the four paths and losses.

    Attributes: ``lr_slider`` (ipywidgets.FloatLogSlider), ``momentum_slider`` (FloatSlider), ``steps_slider``
    (IntSlider), ``formula_html`` (the settings and each method's final loss), ``explanation_html``,
    ``image`` (ipywidgets.Image with the PNG), ``figure``, ``paths`` ({method: (steps + 1, 2) array}),
    ``state`` (``explain_paths``), ``widget``. Evaluating the object in a cell displays it.
    Only SGD-with-momentum uses the momentum slider; Adam keeps torch's β₁ = 0.9.
    """

    def __init__(self, lr: float = 0.05, momentum: float = 0.9, steps: int = 60, *, dpi: int = 72):
        import ipywidgets as widgets

        style = {"description_width": "initial"}
        self.lr_slider = widgets.FloatLogSlider(value=lr, base=10, min=-3, max=math.log10(0.3), step=0.05,
                                                description=_("learning rate"), readout_format=".3g", style=style,
                                                layout=widgets.Layout(width="300px"))
        self.momentum_slider = widgets.FloatSlider(value=momentum, min=0.0, max=0.99, step=0.01,
                                                   description=_("momentum μ"), style=style,
                                                   layout=widgets.Layout(width="260px"))
        self.steps_slider = widgets.IntSlider(value=steps, min=1, max=max(200, steps), step=1,
                                              description=_("steps"), style=style,
                                              layout=widgets.Layout(width="260px"))
        self.paths: dict[str, np.ndarray] = {}
        self.state: dict = {}
        self._artists_ready = False
        self._start([self.lr_slider, self.momentum_slider, self.steps_slider], figsize=(11.0, 4.4), dpi=dpi)

    def set(self, lr: float | None = None, momentum: float | None = None, steps: int | None = None):
        """Set any of lr, momentum, steps at once and redraw once; returns self."""
        self._set_many({self.lr_slider: lr, self.momentum_slider: momentum, self.steps_slider: steps})
        return self

    def _build(self) -> None:
        fig = self.figure
        self._map_ax, self._loss_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.5, 1]})
        xs, ys = np.linspace(-5, 5, 201), np.linspace(-2.5, 2.5, 101)
        grid_x, grid_y = np.meshgrid(xs, ys)
        levels = np.geomspace(0.01, 80, 14)
        self._map_ax.contour(grid_x, grid_y, valley_loss(grid_x, grid_y), levels=levels, colors="#9a9a9a",
                             linewidths=0.7)
        self._map_ax.plot(0, 0, marker="*", color="black", markersize=12, linestyle="none")
        self._map_ax.plot(*START, marker="o", color="black", markersize=5, linestyle="none")
        self._map_ax.set_xlim(-5, 5)
        self._map_ax.set_ylim(-2.5, 2.5)
        self._map_ax.set_aspect("equal")
        self._map_ax.set_xlabel(_("x (flat direction, curvature 1)"))
        self._map_ax.set_ylabel(_("y (steep, curvature 20)"))
        self._map_ax.set_title(_("L(x, y) = (x² + 20 y²)/2: paths from ● to the minimum ★"), fontsize=10)
        self._path_lines = {m: self._map_ax.plot([], [], marker=".", markersize=3, linewidth=1.2,
                                                 color=_COLOURS[m], label=_(m))[0] for m in METHODS}
        self._map_ax.legend(loc="upper right", fontsize=8)
        self._loss_lines = {m: self._loss_ax.plot([], [], linewidth=1.5, color=_COLOURS[m], label=_(m))[0]
                            for m in METHODS}
        self._loss_ax.set_yscale("log")
        self._loss_ax.set_ylim(1e-6, 1e4)
        self._loss_ax.set_xlabel(_("step"))
        self._loss_ax.set_ylabel(_("loss (log scale)"))
        self._loss_ax.set_title(_("loss after each step"), fontsize=10)
        self._loss_ax.grid(True, which="major", alpha=0.3)
        self._suptitle = fig.suptitle("", fontsize=11)
        fig.subplots_adjust(left=0.06, right=0.98, top=0.84, bottom=0.13, wspace=0.25)
        changing = [*self._path_lines.values(), *self._loss_lines.values(), self._suptitle]
        self._keep_background(changing)
        self._artists_ready = True

    def _draw(self) -> None:
        if not self._artists_ready:
            self._build()
        lr, momentum, steps = self.lr_slider.value, self.momentum_slider.value, self.steps_slider.value
        self._loss_ax.set_xlim(0, max(steps, 1))     # the axis changes with steps: redraw the background
        self.paths = {m: optimiser_path(m, lr, momentum, steps) for m in METHODS}
        self.state = explain_paths(self.paths, lr, momentum)
        for method, path in self.paths.items():
            self._path_lines[method].set_data(path[:, 0], path[:, 1])
            losses = valley_loss(path[:, 0], path[:, 1])
            self._loss_lines[method].set_data(np.arange(steps + 1), np.clip(losses, 1e-6, 1e4))
        self._suptitle.set_text(_one_or_many(
            steps, N_("{steps} step with learning rate {lr:.3g} (SGD's momentum μ = {momentum:.2f})"),
            N_("{steps} steps with learning rate {lr:.3g} (SGD's momentum μ = {momentum:.2f})")).format(
            steps=steps, lr=lr, momentum=momentum))
        finals = ", ".join(f"{_(m)} {_('diverged') if math.isinf(v) else f'{v:.3g}'}"
                           for m, v in self.state["final_loss"].items())
        self.formula_html.value = (
            "<div style='font-size:1.05em'>"
            + _one_or_many(steps, N_("loss after {steps} step (start {start:.3g}): {finals}"),
                           N_("loss after {steps} steps (start {start:.3g}): {finals}")).format(
                steps=steps, start=float(valley_loss(*START)), finals=finals)
            + "</div>")
        self.explanation_html.value = f"<div style='max-width:900px'>{self.state['message']}</div>"

    def _render(self) -> bytes:
        # The loss axis follows the number of steps, so the kept background is remade when it changes.
        limits = self._loss_ax.get_xlim()
        if getattr(self, "_background_xlim", None) != limits:
            self._keep_background(self._changing)
            self._background_xlim = limits
        return super()._render()
