"""What a convolution layer costs: parameters and multiply-accumulates, and an explorer that compares a
normal convolution with a depthwise-separable one (lesson 04).

Counting conventions (the same everywhere in the course):

- **parameters** of a conv layer with ``c_in`` input channels, ``c_out`` filters of size f x f:
  ``(f*f*c_in + 1) * c_out`` with a bias, ``f*f*c_in*c_out`` without. They do not depend on the image size.
- **multiply-accumulates (MACs)**: one MAC is one product ``w * x`` added into a running sum. Each output
  value of a conv layer is a dot product of length ``(c_in/groups) * kh * kw``, so the layer costs
  ``out_h * out_w * c_out * (c_in/groups) * kh * kw`` MACs. Bias additions are not counted. Papers that count
  FLOPs often report 2 x MACs (a multiplication and an addition); check which one a table uses.
- A **depthwise-separable** convolution replaces one f x f conv by a depthwise conv (one f x f filter per
  input channel, ``groups = c_in``) followed by a pointwise 1 x 1 conv to ``c_out`` channels. Its MACs are
  ``out_h*out_w*c_in*f*f + out_h*out_w*c_in*c_out``, a fraction ``1/c_out + 1/f**2`` of the normal conv.

The arithmetic lives in pure functions (``conv_cost``, ``separable_cost``, ``compare_costs``) that the
explorer calls and the tests check. ``CostExplorer`` follows the pattern of the lesson-03 explorers: sliders,
the numbers in an HTML table, a bar chart drawn with Agg into an ``ipywidgets.Image``, ``set()`` for
several values at once. It never uses a learner's answers.
"""
from __future__ import annotations

from .i18n import N_, _
from .plotting import readable_text_colour
from .widgets import _Explorer

__all__ = ["PADDINGS", "conv_out_length", "conv_cost", "separable_cost", "compare_costs", "CostExplorer"]

#: The padding choices the explorer offers: 'valid' (no padding) and 'same' (the output keeps the size).
PADDINGS = ("valid", "same")

_NORMAL, _DEPTHWISE, _POINTWISE = "#4c72b0", "#dd8452", "#55a868"


def conv_out_length(n: int, f: int, padding: str = "valid") -> int | None:
    """Output length along one axis for stride 1: n - f + 1 ('valid') or n ('same'); None if nothing fits.

    'same' with an even f pads asymmetrically, as PyTorch's padding='same' does, and still gives n.
    """
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if n < 1 or f < 1:
        return None
    if padding == "same":
        return n
    return n - f + 1 if f <= n else None


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(_("{name} must be a whole number of at least 1, got {value}").format(name=name,
                                                                                                   value=repr(value)))


def conv_cost(n: int, f: int, c_in: int, c_out: int, padding: str = "valid", bias: bool = True) -> dict:
    """Parameters and MACs of a normal f x f convolution, c_in -> c_out channels, on an n x n input, stride 1.

    Returns ``{"out": output side, "params": int, "macs": int}``; raises ValueError when no window fits.
    """
    _check_sizes(n=n, f=f, c_in=c_in, c_out=c_out)
    out = conv_out_length(n, f, padding)
    if out is None:
        raise ValueError(_("a {f}x{f} filter does not fit in a {n}x{n} input without padding").format(f=f, n=n))
    params = (f * f * c_in + (1 if bias else 0)) * c_out
    macs = out * out * c_out * f * f * c_in
    return {"out": out, "params": params, "macs": macs}


def separable_cost(n: int, f: int, c_in: int, c_out: int, padding: str = "valid", bias: bool = True) -> dict:
    """Parameters and MACs of a depthwise-separable convolution with the same input and output shapes.

    depthwise: c_in filters of f x f x 1 (groups = c_in), one per input channel -> out x out x c_in;
    pointwise: c_out filters of 1 x 1 x c_in -> out x out x c_out. Each step has its own biases if ``bias``.
    Returns ``{"out", "depthwise_params", "depthwise_macs", "pointwise_params", "pointwise_macs",
    "params", "macs"}`` (the last two are the sums).
    """
    _check_sizes(n=n, f=f, c_in=c_in, c_out=c_out)
    out = conv_out_length(n, f, padding)
    if out is None:
        raise ValueError(_("a {f}x{f} filter does not fit in a {n}x{n} input without padding").format(f=f, n=n))
    depthwise_params = (f * f + (1 if bias else 0)) * c_in
    pointwise_params = (c_in + (1 if bias else 0)) * c_out
    depthwise_macs = out * out * c_in * f * f
    pointwise_macs = out * out * c_in * c_out
    return {"out": out,
            "depthwise_params": depthwise_params, "depthwise_macs": depthwise_macs,
            "pointwise_params": pointwise_params, "pointwise_macs": pointwise_macs,
            "params": depthwise_params + pointwise_params, "macs": depthwise_macs + pointwise_macs}


def compare_costs(n: int, f: int, c_in: int, c_out: int, padding: str = "valid", bias: bool = True) -> dict:
    """Normal vs depthwise-separable convolution, for the explorer. Never raises for sizes >= 1.

    Returns ``{"ok", "message", "normal", "separable", "mac_ratio", "param_ratio", "formula_ratio"}``:
    ``normal`` and ``separable`` are the dicts of ``conv_cost`` and ``separable_cost`` (None when not ok),
    ``mac_ratio`` = separable MACs / normal MACs, which always equals ``formula_ratio`` = 1/c_out + 1/f**2,
    and ``message`` says in words what the numbers mean (or why there are none).
    """
    info: dict = {"n": n, "f": f, "c_in": c_in, "c_out": c_out, "padding": padding, "bias": bias,
                  "ok": False, "normal": None, "separable": None, "mac_ratio": None, "param_ratio": None,
                  "formula_ratio": 1 / c_out + 1 / f ** 2 if c_out >= 1 and f >= 1 else None}
    try:
        info["normal"] = conv_cost(n, f, c_in, c_out, padding, bias)
        info["separable"] = separable_cost(n, f, c_in, c_out, padding, bias)
    except ValueError as err:
        info["normal"] = info["separable"] = None
        fix = (" " + _("Choose 'same' padding or a filter of at most {n}.").format(n=n)
               if conv_out_length(max(n, 1), f) is None else "")
        info["message"] = _("No output: {error}.").format(error=err) + fix
        return info
    normal, separable = info["normal"], info["separable"]
    info["ok"] = True
    info["mac_ratio"] = separable["macs"] / normal["macs"]
    info["param_ratio"] = separable["params"] / normal["params"]
    ratio = info["mac_ratio"]
    lines = []
    if ratio < 1:
        lines.append(_("The separable layer needs {ratio:.1%} of the multiplications of the normal one ({fewer:.1f}× "
                       "fewer). The fraction is 1/c_out + 1/f² = 1/{c_out} + 1/{ff}: it depends on neither the image "
                       "size nor the number of input channels.").format(ratio=ratio, fewer=1 / ratio, c_out=c_out,
                                                                       ff=f * f))
    else:
        lines.append(_("Here the separable layer costs more ({ratio:.2f}× the normal one): 1/c_out + 1/f² = 1/{c_out} + "
                       "1/{ff} is not below 1.").format(ratio=ratio, c_out=c_out, ff=f * f))
    if f == 1:
        lines.append(_("With a 1×1 filter there is nothing to separate: the depthwise step only scales each channel, "
                       "and the pointwise step alone is already the normal layer."))
    if f > 1 and c_out < f * f:
        # The depthwise step does the normal layer's work for one output channel (1/c_out of its MACs); the
        # pointwise step does all of it but the f×f window (1/f²).
        lines.append(_("Few output channels (c_out = {c_out} < f² = {ff}): the depthwise step, 1/{c_out} of the "
                       "normal cost, is the larger part.").format(c_out=c_out, ff=f * f))
    elif f > 1 and c_out > f * f:
        lines.append(_("Many output channels (c_out = {c_out} > f² = {ff}): the pointwise step, 1/{ff} of the normal "
                       "cost, is the larger part; with hundreds of channels the fraction approaches 1/f² = "
                       "1/{ff}.").format(c_out=c_out, ff=f * f))
    elif f > 1:
        lines.append(_("c_out = f² = {c_out}: the two steps cost the same.").format(c_out=c_out))
    lines.append(_("Output {out}×{out}×{c_out} in both cases.").format(out=normal["out"], c_out=c_out))
    info["message"] = " ".join(lines)
    return info


def _short(value: float) -> str:
    """2,160 / 12.4 k / 120.4 M / 1.2 G for the bar labels (the table shows exact numbers)."""
    for limit, unit, suffix in ((1e9, 1e9, " G"), (1e6, 1e6, " M"), (1e4, 1e3, " k")):
        if value >= limit:
            return f"{value / unit:.1f}{suffix}"
    return f"{int(value):,}"


class CostExplorer(_Explorer):
    """Sliders for the input size n, filter size f, channels in and out, padding and bias; the parameters
    and multiply-accumulates of a normal and a depthwise-separable convolution side by side.

    Attributes: ``n_slider``, ``f_slider``, ``c_in_slider``, ``c_out_slider`` (ipywidgets.IntSlider),
    ``padding_buttons`` (ToggleButtons 'valid'/'same'), ``bias_checkbox``; ``formula_html`` (the table of
    numbers), ``explanation_html`` (what they mean), ``image`` (the bar chart as PNG), ``figure``
    (axes[0] parameters, axes[1] MACs), ``state`` (the dict from ``compare_costs``), ``widget``.
    ``drawn_values()`` reads the bar heights back from the figure. Evaluating the object displays it.
    """

    def __init__(self, n: int = 6, f: int = 3, c_in: int = 3, c_out: int = 5, padding: str = "valid",
                 bias: bool = True, *, dpi: int = 80):
        import ipywidgets as widgets

        def slider(value, low, high, description, tooltip):
            return widgets.IntSlider(value=value, min=min(low, value), max=max(high, value), step=1,
                                     description=description, tooltip=tooltip, continuous_update=False,
                                     style={"description_width": "initial"},
                                     layout=widgets.Layout(width="250px"))

        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
        self.n_slider = slider(n, 1, 64, _("input n×n"), _("height and width of the input"))
        self.f_slider = slider(f, 1, 7, _("filter f×f"), _("height and width of the filter"))
        self.c_in_slider = slider(c_in, 1, 256, _("channels in"), _("channels of the input, n_c"))
        self.c_out_slider = slider(c_out, 1, 512, _("channels out"), _("number of filters, n_c'"))
        self.padding_buttons = widgets.ToggleButtons(options=PADDINGS, value=padding, description=_("padding"),
                                                     style={"button_width": "60px"})
        self.bias_checkbox = widgets.Checkbox(value=bias, description=_("biases"), indent=False,
                                              layout=widgets.Layout(width="90px"))
        self.state: dict = {}
        self._artists_ready = False
        controls = [self.n_slider, self.f_slider, self.c_in_slider, self.c_out_slider, self.padding_buttons,
                    self.bias_checkbox]
        # two rows of controls read better than one long row
        self._start(controls, figsize=(9.0, 3.8), dpi=dpi, rows=[controls[:3], controls[3:]])

    def set(self, n: int | None = None, f: int | None = None, c_in: int | None = None,
            c_out: int | None = None, padding: str | None = None, bias: bool | None = None):
        """Set any of the controls at once and redraw once; returns self."""
        self._set_many({self.n_slider: n, self.f_slider: f, self.c_in_slider: c_in, self.c_out_slider: c_out,
                        self.padding_buttons: padding, self.bias_checkbox: bias})
        return self

    def _build(self) -> None:
        """Create the axes and the bars once; a redraw only changes heights and labels."""
        fig = self.figure
        self._axes = fig.subplots(1, 2)
        self._bars: dict = {}
        self._labels: dict = {}
        self._part_labels: dict = {}
        for ax, key, title, ylabel in zip(self._axes, ("params", "macs"),
                                          (N_("parameters"), N_("multiply-accumulates (MACs)")),
                                          (N_("number of parameters"), N_("number of multiply-accumulates"))):
            normal = ax.bar([0], [0], width=0.6, color=_NORMAL, label=_("normal conv"))[0]
            depthwise = ax.bar([1], [0], width=0.6, color=_DEPTHWISE, label=_("depthwise f×f"))[0]
            pointwise = ax.bar([1], [0], width=0.6, color=_POINTWISE, label=_("pointwise 1×1"))[0]
            self._bars[key] = {"normal": normal, "depthwise": depthwise, "pointwise": pointwise}
            self._labels[key] = [ax.text(x, 0, "", ha="center", va="bottom", fontsize=9) for x in (0, 1)]
            # each part's number in black or white, whichever reads on the part's colour (WCAG contrast)
            self._part_labels[key] = [ax.text(1, 0, "", ha="center", va="center", fontsize=8,
                                              color=readable_text_colour(colour))
                                      for colour in (_DEPTHWISE, _POINTWISE)]
            ax.set_xticks([0, 1], [_("normal"), _("depthwise\nseparable")])
            ax.set_xlim(-0.6, 1.6)
            ax.set_xlabel(_("layer"))
            ax.set_ylabel(_(ylabel))
            ax.set_title(_(title), fontsize=10)
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
        fig.legend(list(self._bars["macs"].values()), [_("normal f×f conv"), _("depthwise f×f"), _("pointwise 1×1")],
                   loc="upper center", ncol=3, fontsize=8, bbox_to_anchor=(0.5, 0.935), frameon=False)
        self._no_output = self._axes[1].text(0.5, 0.5, _("no output:\nthe filter does not fit"), ha="center",
                                             va="center", color="#c62828", fontsize=11,
                                             transform=self._axes[1].transAxes, visible=False)
        self._suptitle = fig.suptitle("", fontsize=11)
        fig.subplots_adjust(left=0.08, right=0.98, top=0.76, bottom=0.2, wspace=0.32)
        self._artists_ready = True

    def _draw(self) -> None:
        if not self._artists_ready:
            self._build()
        n, f = self.n_slider.value, self.f_slider.value
        c_in, c_out = self.c_in_slider.value, self.c_out_slider.value
        padding, bias = self.padding_buttons.value, bool(self.bias_checkbox.value)
        info = compare_costs(n, f, c_in, c_out, padding, bias)
        self.state = info
        self._suptitle.set_text(_("{n}×{n}×{c_in} input, {f}×{f} filters, {c_out} output channels, '{padding}' "
                                  "padding").format(n=n, c_in=c_in, f=f, c_out=c_out, padding=padding))
        if not info["ok"]:
            self.formula_html.value = f"<div style='color:#c62828'><b>{_('no output')}</b></div>"
            self.explanation_html.value = f"<div style='max-width:880px'>{info['message']}</div>"
            for key in ("params", "macs"):
                for bar in self._bars[key].values():
                    bar.set_height(0)
                for label in self._labels[key] + self._part_labels[key]:
                    label.set_text("")
                self._axes[list(self._bars).index(key)].set_ylim(0, 1)
            self._axes[0].set_title(_("parameters: no layer"), fontsize=10)
            self._axes[1].set_title(_("multiply-accumulates: none"), fontsize=10)
            self._no_output.set_visible(True)
            return
        self._no_output.set_visible(False)

        normal, sep = info["normal"], info["separable"]
        out = normal["out"]
        b = " + 1" if bias else ""
        bias_dw = f" + {c_in}" if bias else ""
        bias_pw = f" + {c_out}" if bias else ""
        def product(*factors) -> str:
            # "58·58·512·2·2·251" may wrap after each "·": unbroken, it pushed the counts out of a narrow box
            return "·<wbr>".join(str(factor) for factor in factors)

        row = ("<tr><td style='text-align:left'>{}</td><td>{}</td><td><b>{:,}</b></td>"
               "<td>{}</td><td><b>{:,}</b></td></tr>")
        total = _("sum")
        self.formula_html.value = (
            # In a box narrower than the table (a small window with the file browser open) it scrolls sideways. The
            # width 0 / min-width 100% keeps the table's own width out of the box's: the flex box around the HTML
            # would otherwise grow to the table and push the counts past the output's edge.
            "<div style='overflow-x:auto; width:0; min-width:100%'><table style='font-size:0.95em'>"
            f"<tr><th style='text-align:left'>{_('layer')}</th><th>{_('parameters')}</th><th></th>"
            f"<th>{_('multiply-accumulates')}</th><th></th></tr>"
            + row.format(_("normal {f}×{f} conv").format(f=f), f"({product(f, f, c_in)}{b})·<wbr>{c_out}",
                         normal["params"], product(out, out, c_out, f, f, c_in), normal["macs"])
            + row.format(_("depthwise {f}×{f}").format(f=f), f"{product(f, f, c_in)}{bias_dw}", sep["depthwise_params"],
                         product(out, out, c_in, f, f), sep["depthwise_macs"])
            + row.format(_("pointwise 1×1"), f"{product(c_in, c_out)}{bias_pw}", sep["pointwise_params"],
                         product(out, out, c_in, c_out), sep["pointwise_macs"])
            + row.format(_("depthwise separable"), total, sep["params"], total, sep["macs"])
            + f"<tr><td style='text-align:left'>{_('separable / normal')}</td><td></td>"
              f"<td>{info['param_ratio']:.1%}</td>"
              f"<td>1/{c_out} + 1/{f * f} =</td><td><b>{info['mac_ratio']:.1%}</b></td></tr>"
            "</table></div>")
        self.explanation_html.value = f"<div style='max-width:880px'>{info['message']}</div>"

        for ax, key in zip(self._axes, ("params", "macs")):
            bars = self._bars[key]
            bars["normal"].set_height(normal[key])
            bars["depthwise"].set_height(sep[f"depthwise_{key}"])
            bars["pointwise"].set_y(sep[f"depthwise_{key}"])
            bars["pointwise"].set_height(sep[f"pointwise_{key}"])
            top = max(normal[key], sep[key])
            ax.set_ylim(0, top * 1.18)
            for label, x, value in zip(self._labels[key], (0, 1), (normal[key], sep[key])):
                label.set_position((x, value))
                label.set_text(_short(value))
            # the two parts of the separable bar, written inside them when there is room
            bottom = 0
            for label, part in zip(self._part_labels[key], ("depthwise", "pointwise")):
                height = sep[f"{part}_{key}"]
                label.set_position((1, bottom + height / 2))
                label.set_text(_short(height) if height > 0.07 * top else "")
                bottom += height
        self._axes[0].set_title(_("parameters (separable: {ratio:.1%})").format(ratio=info["param_ratio"]), fontsize=10)
        self._axes[1].set_title(_("multiply-accumulates (separable: {ratio:.1%})").format(ratio=info["mac_ratio"]),
                                fontsize=10)

    def drawn_values(self) -> dict:
        """The bar heights as drawn: ``{"params": {...}, "macs": {...}}``, each with the keys
        'normal', 'depthwise', 'pointwise' (the pointwise bar sits on top of the depthwise one)."""
        return {key: {part: bar.get_height() for part, bar in bars.items()}
                for key, bars in self._bars.items()}
