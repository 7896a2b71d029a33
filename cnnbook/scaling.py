"""EfficientNet's compound scaling (lesson 07): how parameters and multiply-accumulates grow when a network
gets deeper, wider, or sees larger images, and an explorer that shows it.

EfficientNet-B0 is a stack of MBConv blocks (MobileNetV2's inverted residual plus a squeeze-and-excitation
step). Tan and Le (2019) scale it with one coefficient phi:

    depth x alpha**phi,  width x beta**phi,  resolution x gamma**phi,  alpha = 1.2, beta = 1.1, gamma = 1.15,

chosen so that alpha * beta**2 * gamma**2 is about 2: the multiply-accumulates (MACs) grow about 2**phi,
because they grow linearly with depth and with the square of width and of resolution.

- ``efficientnet_cost(width, depth, resolution)`` counts parameters and MACs of the scaled network by
  arithmetic alone (no torch), with the rounding torchvision uses (channels to multiples of 8, block counts
  rounded up), and the counting conventions of ``cnnbook.cost`` and ``cnnbook.summary``;
- ``efficientnet(width, depth)`` builds the same network in torch (build it on the meta device to count);
  at width = depth = 1 it has torchvision's 5,288,548 parameters;
- ``strategy_multipliers`` / ``explain_scaling`` compare compound scaling with scaling one dimension alone
  for the same growth of MACs; ``ScalingExplorer`` draws it. The explorer never uses a learner's answers.
"""
from __future__ import annotations

import math

from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .i18n import N_, _
from .widgets import _Explorer

__all__ = ["ALPHA", "BETA", "GAMMA", "B0_STAGES", "STRATEGIES", "make_divisible", "efficientnet_cost",
           "efficientnet", "strategy_multipliers", "explain_scaling", "ScalingExplorer"]

#: The compound-scaling constants of the EfficientNet paper: depth, width, resolution per step of phi.
ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15

#: EfficientNet-B0's stages: (expansion t, kernel k, stride of the first block, channels out, blocks).
B0_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
             (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
_STEM, _HEAD_FACTOR = 32, 4          # stem channels; the last 1x1 conv has 4 x (channels of the last stage)

#: What the explorer compares: all three together, or one dimension alone for the same growth of MACs.
STRATEGIES = (N_("compound"), N_("depth only"), N_("width only"), N_("resolution only"))

_COLOURS = {"compound": "#1a7f37", "depth only": "#4c72b0", "width only": "#dd8452",
            "resolution only": "#8172b3"}


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of ``divisor`` (at least ``divisor``), never more than 10 % down.

    Hardware likes channel counts in multiples of 8; torchvision's MobileNet and EfficientNet round so.
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def _out(n: int, k: int, s: int) -> int:
    return (n + 2 * ((k - 1) // 2) - k) // s + 1


def _check(width: float, depth: float, resolution: int) -> None:
    if not (width > 0 and depth > 0):
        raise ValueError(f"width and depth multipliers must be positive, got {width!r} and {depth!r}")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 32:
        raise ValueError(f"resolution must be a whole number of pixels, at least 32, got {resolution!r}")


def efficientnet_cost(width: float = 1.0, depth: float = 1.0, resolution: int = 224,
                      num_classes: int = 1000) -> dict:
    """Parameters and MACs of EfficientNet-B0 scaled by ``width`` and ``depth`` on a square image.

    Returns ``{"params", "macs", "blocks", "channels", "final_size"}``: totals for one image (batch-norm
    layers have 2 parameters per channel; biases only in the squeeze-and-excitation convs and the last
    Linear; MACs as in ``cnnbook.summary``), the number of MBConv blocks, the channels after each stage
    and the side of the last feature map.
    """
    _check(width, depth, resolution)
    params = macs = 0
    side = _out(resolution, 3, 2)
    c_in = make_divisible(_STEM * width)
    params += 27 * c_in + 2 * c_in                                 # stem: 3x3 conv, 3 -> c_in, + BN
    macs += side * side * c_in * 27
    blocks, channels = 0, []
    for t, k, stride, c, n in B0_STAGES:
        c_out = make_divisible(c * width)
        for i in range(math.ceil(n * depth)):
            s = stride if i == 0 else 1
            hidden = make_divisible(c_in * t)
            if hidden != c_in:                                     # expansion 1x1 + BN
                params += c_in * hidden + 2 * hidden
                macs += side * side * hidden * c_in
            new_side = _out(side, k, s)
            params += k * k * hidden + 2 * hidden                  # depthwise k x k + BN
            macs += new_side * new_side * hidden * k * k
            squeeze = max(1, c_in // 4)                            # squeeze-and-excitation: two 1x1 convs
            params += hidden * squeeze + squeeze + squeeze * hidden + hidden
            macs += 2 * hidden * squeeze
            params += hidden * c_out + 2 * c_out                   # projection 1x1 + BN
            macs += new_side * new_side * c_out * hidden
            side, c_in = new_side, c_out
            blocks += 1
        channels.append(c_out)
    head = _HEAD_FACTOR * c_in
    params += c_in * head + 2 * head + head * num_classes + num_classes
    macs += side * side * head * c_in + head * num_classes
    return {"params": params, "macs": macs, "blocks": blocks, "channels": channels, "final_size": side}


def efficientnet(width: float = 1.0, depth: float = 1.0, num_classes: int = 1000):
    """EfficientNet-B0 scaled by ``width`` and ``depth``, as an ``nn.Sequential`` (any input resolution).

    The same layers as torchvision's ``efficientnet_b0`` (stochastic depth left out: it has no
    parameters). Build it inside ``with torch.device("meta"):`` to count without memory.
    """
    from torch import nn

    class SqueezeExcitation(nn.Module):
        """Average each channel to one number, squeeze, expand, and rescale the channels by a sigmoid."""

        def __init__(self, channels: int, squeeze: int):
            super().__init__()
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc1 = nn.Conv2d(channels, squeeze, 1)
            self.act = nn.SiLU()
            self.fc2 = nn.Conv2d(squeeze, channels, 1)
            self.gate = nn.Sigmoid()

        def forward(self, x):
            return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))

    class MBConv(nn.Module):
        """Expansion 1x1 -> depthwise k x k -> squeeze-and-excitation -> projection 1x1 (+ input)."""

        def __init__(self, c_in: int, c_out: int, k: int, stride: int, t: int):
            super().__init__()
            hidden = make_divisible(c_in * t)
            layers: list = []
            if hidden != c_in:
                layers += [nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.SiLU()]
            layers += [nn.Conv2d(hidden, hidden, k, stride, (k - 1) // 2, groups=hidden, bias=False),
                       nn.BatchNorm2d(hidden), nn.SiLU(), SqueezeExcitation(hidden, max(1, c_in // 4)),
                       nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
            self.block = nn.Sequential(*layers)
            self.use_residual = stride == 1 and c_in == c_out

        def forward(self, x):
            out = self.block(x)
            return x + out if self.use_residual else out

    _check(width, depth, 224)
    c_in = make_divisible(_STEM * width)
    stages = [nn.Sequential(nn.Conv2d(3, c_in, 3, 2, 1, bias=False), nn.BatchNorm2d(c_in), nn.SiLU())]
    for t, k, stride, c, n in B0_STAGES:
        c_out = make_divisible(c * width)
        blocks = []
        for i in range(math.ceil(n * depth)):
            blocks.append(MBConv(c_in, c_out, k, stride if i == 0 else 1, t))
            c_in = c_out
        stages.append(nn.Sequential(*blocks))
    head = _HEAD_FACTOR * c_in
    stages.append(nn.Sequential(nn.Conv2d(c_in, head, 1, bias=False), nn.BatchNorm2d(head), nn.SiLU()))
    model = nn.Sequential(nn.Sequential(*stages), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
                          nn.Linear(head, num_classes))
    return model


def strategy_multipliers(phi: float, strategy: str = "compound") -> dict:
    """Depth, width and resolution multipliers for ``phi`` steps of one scaling strategy.

    'compound' uses alpha**phi, beta**phi, gamma**phi. The single-dimension strategies aim at the same
    growth of MACs, (alpha * beta**2 * gamma**2)**phi: depth alone by that factor, width or resolution alone
    by its square root (MACs grow with their square). Returns ``{"depth", "width", "resolution",
    "macs_factor"}``; resolution in pixels (224 x the multiplier, rounded).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if phi < 0:
        raise ValueError(f"phi must be at least 0, got {phi!r}")
    factor = (ALPHA * BETA ** 2 * GAMMA ** 2) ** phi
    d = w = r = 1.0
    if strategy == "compound":
        d, w, r = ALPHA ** phi, BETA ** phi, GAMMA ** phi
    elif strategy == "depth only":
        d = factor
    elif strategy == "width only":
        w = math.sqrt(factor)
    else:
        r = math.sqrt(factor)
    return {"depth": d, "width": w, "resolution": int(round(224 * r)), "macs_factor": factor}


def explain_scaling(phi: float, strategy: str = "compound") -> dict:
    """The numbers and words the explorer shows for ``phi`` and ``strategy``.

    Returns the multipliers of ``strategy_multipliers``, the ``cost`` (``efficientnet_cost``) of the scaled
    network, ``base`` (B0's cost), the growth ``param_ratio`` and ``mac_ratio`` against B0, and a
    ``message`` in words (in the learner's language).
    """
    scale = strategy_multipliers(phi, strategy)
    cost = efficientnet_cost(scale["width"], scale["depth"], scale["resolution"])
    base = efficientnet_cost()
    info = {**scale, "phi": phi, "strategy": strategy, "cost": cost, "base": base,
            "param_ratio": cost["params"] / base["params"], "mac_ratio": cost["macs"] / base["macs"]}
    lines = [_("{blocks} blocks, last stage {channels} channels, {resolution}×{resolution} images: {params:.2f} M "
               "parameters (×{param_ratio:.2f} of B0) and {macs:.2f} G MACs (×{mac_ratio:.2f}; the rule predicts "
               "×{macs_factor:.2f}).").format(
        blocks=cost["blocks"], channels=cost["channels"][-1], resolution=scale["resolution"],
        params=cost["params"] / 1e6, param_ratio=info["param_ratio"], macs=cost["macs"] / 1e9,
        mac_ratio=info["mac_ratio"], macs_factor=scale["macs_factor"])]
    if phi == 0:
        lines.append(_("φ = 0 is EfficientNet-B0 itself: move φ to scale it up."))
    elif strategy == "resolution only":
        lines.append(_("Larger images cost MACs but add no parameters: the same filters slide over more positions. "
                       "The network's depth (its receptive field) stays the same, though."))
    elif strategy == "width only":
        lines.append(_("Wider layers: a conv's parameters and its MACs both grow with c_in·c_out, about the square of "
                       "the width, so every extra MAC comes with extra parameters."))
    elif strategy == "depth only":
        lines.append(_("More blocks: parameters and MACs grow about in proportion to depth (block counts are rounded "
                       "up, so the growth comes in steps). Very deep, thin networks gain less and less accuracy per "
                       "block, and the receptive field outgrows the small image."))
    else:
        lines.append(_("Compound scaling spreads the same MAC budget: depth ×{depth:.2f}, width ×{width:.2f}, "
                       "resolution ×{resolution:.2f}. Each factor stays modest, so no single dimension saturates; "
                       "part of the budget goes to resolution, which costs no parameters, so the parameters grow "
                       "more slowly than the MACs.").format(depth=scale["depth"], width=scale["width"],
                                                            resolution=scale["resolution"] / 224))
    if scale["depth"] > 1 and info["mac_ratio"] > 1.1 * scale["macs_factor"]:
        lines.append(_("The MACs grow faster than the rule says because block counts are rounded up: a stage of 1 "
                       "block gets 2 as soon as the depth multiplier exceeds 1."))
    info["message"] = " ".join(lines)
    return info


class ScalingExplorer(_Explorer):
    """A slider for the compound coefficient phi and a choice of strategy; parameters and MACs of the scaled
    EfficientNet against phi, for all four strategies, with the current choice marked.

    Attributes: ``phi_slider`` (ipywidgets.FloatSlider), ``strategy_buttons`` (ToggleButtons of
    ``STRATEGIES``), ``formula_html`` (the multipliers and the numbers), ``explanation_html`` (what they
    mean), ``image`` (PNG), ``figure`` (axes[0] parameters, axes[1] MACs), ``state`` (the dict from
    ``explain_scaling``), ``widget``. ``marked_point()`` reads the marked values back from the figure.

    A redraw restores the unchanging pixels and draws only the chosen curve, the marks and the title
    (blitting), so those are animated artists: ``figure.savefig`` would leave them out; use ``.png``. The
    curves cover phi from 0 to 4; a larger phi (only through ``set``) lies outside the axes.
    """

    PHIS = tuple(i / 4 for i in range(0, 17))          # the curves: phi = 0, 0.25, ..., 4

    def __init__(self, phi: float = 1.0, strategy: str = "compound", *, dpi: int = 80):
        import ipywidgets as widgets

        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        self.phi_slider = widgets.FloatSlider(value=phi, min=0.0, max=max(4.0, phi), step=0.25,
                                              description=_("φ (compound coefficient)"), continuous_update=False,
                                              style={"description_width": "initial"},
                                              layout=widgets.Layout(width="330px"))
        self.strategy_buttons = widgets.ToggleButtons(options=[(_(k), k) for k in STRATEGIES], value=strategy,
                                                      description=_("scale"),
                                                      style={"button_width": "122px"})
        self.state: dict = {}
        self._artists_ready = False
        self._start([self.phi_slider, self.strategy_buttons], figsize=(9.0, 4.0), dpi=dpi)

    def set(self, phi: float | None = None, strategy: str | None = None):
        """Set phi and/or the strategy at once and redraw once; returns self."""
        self._set_many({self.phi_slider: phi, self.strategy_buttons: strategy})
        return self

    def _build(self) -> None:
        fig = self.figure
        self._axes = fig.subplots(1, 2)
        self._lines, self._marks, self._chosen, self._chosen_values = {}, {}, {}, {}
        curves = {s: [explain_scaling(phi, s)["cost"] for phi in self.PHIS] for s in STRATEGIES}
        for ax, key, unit, title in zip(self._axes, ("params", "macs"), (1e6, 1e9),
                                        (_("parameters (millions)"), _("multiply-accumulates (billions)"))):
            for s in STRATEGIES:
                self._lines[(key, s)] = ax.plot(self.PHIS, [c[key] / unit for c in curves[s]], "-",
                                                color=_COLOURS[s], lw=1.3, label=_(s))[0]
            if key == "macs":       # what the rule predicts: B0's MACs x 1.92**phi
                base = efficientnet_cost()["macs"] / unit
                factor = ALPHA * BETA ** 2 * GAMMA ** 2
                ax.plot(self.PHIS, [base * factor ** phi for phi in self.PHIS], ":", color="black", lw=1.2,
                        label=_("the rule: B0 × 1.92^φ"))
                ax.legend(fontsize=8, loc="upper left")
            # the chosen strategy's curve, drawn thick on top, and the chosen point: the only changing parts
            self._chosen[key] = ax.plot([], [], "-", lw=3.2, animated=True)[0]
            self._chosen_values[key] = {s: [c[key] / unit for c in curves[s]] for s in STRATEGIES}
            self._marks[key] = ax.plot([0], [0], "o", ms=9, mfc="none", mec="black", mew=2, animated=True)[0]
            ax.set_xlabel(_("compound coefficient φ"))
            ax.set_ylabel(title)
            ax.set_yscale("log")
            # plain numbers (0.5, 1, 2, 5, ...) read better than 5 x 10^-1 on a log axis
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.grid(True, which="both", alpha=0.3)
        self._axes[0].legend(fontsize=8, loc="upper left")
        self._suptitle = fig.suptitle("", fontsize=11, animated=True)
        fig.subplots_adjust(left=0.09, right=0.98, top=0.88, bottom=0.14, wspace=0.25)
        # The axes, the thin curves and the legends never change: only the chosen curve, the marks and the
        # title are redrawn (a full draw of two log axes takes most of a redraw).
        self._keep_background([*self._chosen.values(), *self._marks.values(), self._suptitle])
        self._artists_ready = True

    def _draw(self) -> None:
        if not self._artists_ready:
            self._build()
        phi, strategy = float(self.phi_slider.value), self.strategy_buttons.value
        info = explain_scaling(phi, strategy)
        self.state = info
        cost, base = info["cost"], info["base"]
        self.formula_html.value = (
            "<div style='font-size:1.05em'>"
            + _("depth × <b>{depth:.2f}</b> &nbsp; width × <b>{width:.2f}</b> &nbsp; resolution <b>{resolution}</b> px "
                "&nbsp;→&nbsp; <b>{params:,}</b> parameters (B0: {base_params:,}), <b>{macs:,}</b> MACs (B0: "
                "{base_macs:,})").format(depth=info["depth"], width=info["width"], resolution=info["resolution"],
                                         params=cost["params"], base_params=base["params"], macs=cost["macs"],
                                         base_macs=base["macs"])
            + "<br>"
            + _("compound rule: depth 1.2<sup>φ</sup>, width 1.1<sup>φ</sup>, resolution 1.15<sup>φ</sup>; MACs × "
                "(1.2·1.1²·1.15²)<sup>φ</sup> = 1.92<sup>φ</sup> = {factor:.2f}").format(factor=info["macs_factor"])
            + "</div>")
        self.explanation_html.value = f"<div style='max-width:880px'>{info['message']}</div>"
        for key, unit in (("params", 1e6), ("macs", 1e9)):
            self._marks[key].set_data([phi], [cost[key] / unit])
            self._marks[key].set_markeredgecolor(_COLOURS[strategy])
            self._chosen[key].set_data(self.PHIS, self._chosen_values[key][strategy])
            self._chosen[key].set_color(_COLOURS[strategy])
        self._suptitle.set_text(_("EfficientNet-B0 scaled with φ = {phi:g} ({strategy}): ×{param_ratio:.2f} parameters, "
                                  "×{mac_ratio:.2f} MACs").format(phi=phi, strategy=_(strategy),
                                                                  param_ratio=info["param_ratio"],
                                                                  mac_ratio=info["mac_ratio"]))

    def chosen_curve(self, key: str = "params") -> tuple[list, list]:
        """The highlighted curve as drawn: (phis, values) for ``key`` 'params' (millions) or 'macs' (billions)."""
        line = self._chosen[key]
        return [float(v) for v in line.get_xdata()], [float(v) for v in line.get_ydata()]

    def marked_point(self) -> dict:
        """The marked values as drawn: ``{"phi", "params", "macs"}`` (params and MACs in units, not M/G)."""
        phi = float(self._marks["params"].get_xdata()[0])
        return {"phi": phi, "params": float(self._marks["params"].get_ydata()[0]) * 1e6,
                "macs": float(self._marks["macs"].get_ydata()[0]) * 1e9}
