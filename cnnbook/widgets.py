"""Interactive explorers for the lessons (ipywidgets sliders, a matplotlib figure rendered to PNG).

Lesson 03 (padding and stride) uses two of them:

- ``ConvExplorer(n, f, p, s)``: sliders for the input size n, filter size f, padding p and stride s draw
  the padded grid (padding in grey, input cells never visited in red), the first window and the next one
  along the row, the top-left corner of every window, the output grid, and the output-size formula with
  the numbers filled in. Impossible or wasteful settings are explained in words, never raised.
- ``PhotoConvExplorer(kernel, f, p, s)``: applies a blur or edge filter of size f with padding p and
  stride s to a real 256x256 photo and shows the feature map with its shape.

The explorers never use a learner's answers, so they work in the student notebook before any exercise
is done. The arithmetic lives in pure functions (``explain_settings``, ``make_kernel``,
``correlate2d``) that the widgets call and the tests check. Figures are kept on the object
(``.figure``) and drawn with the Agg canvas into an ``ipywidgets.Image``: no pyplot state, fast, and the
same headless (nbclient, nbgrader) as in JupyterLab.
"""
from __future__ import annotations

import base64
import html
import io
import math
import time
from functools import lru_cache
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from .i18n import N_, _

__all__ = [
    "explain_settings",
    "make_kernel",
    "correlate2d",
    "photo_input",
    "KERNELS",
    "ConvExplorer",
    "PhotoConvExplorer",
]

#: The filters the photo explorer offers (each can be built at any size f >= 1 by ``make_kernel``).
KERNELS = (N_("vertical edges"), N_("horizontal edges"), N_("box blur"), N_("gaussian blur"))
#: The names of the photos (``cnnbook.data.PHOTOS``) as the explorers' titles show them.
PHOTO_NAMES = (N_("camera"), N_("coins"), N_("chelsea"), N_("astronaut"))


def _rows(indices: list[int]) -> str:
    """'6', '5 and 6', '1, 3 and 5' for a list of indices (in the learner's language)."""
    if len(indices) == 1:
        return str(indices[0])
    return _("{items} and {last}").format(items=", ".join(str(i) for i in indices[:-1]), last=indices[-1])


def _one_or_many(count: int, one: str, many: str) -> str:
    """``_(one)`` when ``count`` is 1, else ``_(many)``: the two English forms of a sentence (Korean has one)."""
    return _(one) if count == 1 else _(many)


def explain_settings(n: int, f: int, p: int = 0, s: int = 1) -> dict:
    """What a convolution (filter size f, padding p, stride s) does along one axis of length n.

    The same numbers hold for height and width separately (call it once per axis for non-square inputs).
    Never raises: impossible settings come back with ``ok=False`` and a ``message`` that says why.

    Returns a dict with
      ``n, f, p, s``  the settings;
      ``padded``      n + 2p, the length after padding;
      ``ok``          True when at least one window fits;
      ``out``         the output length floor((n + 2p - f)/s) + 1, or None when not ok;
      ``steps``       (n + 2p - f)/s as a float (None when not ok): a whole number when the stride fits;
      ``fits``        True when the last window ends exactly on the last padded row (stride fits);
      ``starts``      the first index of every window, in padded coordinates;
      ``unvisited``   padded indices no window covers; ``unvisited_input`` the same in input coordinates,
                      only those that are real input (not padding);
      ``formula``     e.g. 'floor((7 + 2·1 − 3)/2) + 1 = 4';
      ``message``     the explanation in words (plain text, in the learner's language).
    """
    info: dict = dict(n=n, f=f, p=p, s=s, padded=n + 2 * p, ok=False, out=None, steps=None, fits=False,
                      starts=[], unvisited=[], unvisited_input=[])
    filled = f"floor(({n} + 2·{p} − {f})/{s}) + 1"
    problems = []
    if n < 1:
        problems.append(_("the input size must be at least 1 (got n = {n})").format(n=n))
    if f < 1:
        problems.append(_("the filter size must be at least 1 (got f = {f})").format(f=f))
    if p < 0:
        problems.append(_("the padding cannot be negative (got p = {p})").format(p=p))
    if s < 1:
        problems.append(_("the stride must be at least 1: a window has to move forward (got s = {s})").format(s=s))
    if problems:
        info["formula"] = _("{formula}: not defined").format(formula=filled)
        info["message"] = _("Impossible settings: {problems}.").format(problems="; ".join(problems))
        return info
    padded = n + 2 * p
    if f > padded:
        info["formula"] = _("{formula} = floor({rest}/{s}) + 1: no window fits").format(
            formula=filled, rest=padded - f, s=s)
        info["message"] = _(
            "The {f}×{f} filter does not fit: the padded input is only {n} + 2·{p} = {padded} cells wide, "
            "so there is no position for even one window and there is no output. "
            "Use a filter of at most {padded} or pad by at least p = {need}.").format(
            f=f, n=n, p=p, padded=padded, need=math.ceil((f - n) / 2))
        return info

    steps = (padded - f) / s
    out = (padded - f) // s + 1
    starts = list(range(0, padded - f + 1, s))
    covered = np.zeros(padded, dtype=bool)
    for start in starts:
        covered[start:start + f] = True
    unvisited = [int(i) for i in np.flatnonzero(~covered)]
    unvisited_input = [i - p for i in unvisited if p <= i < p + n]
    fits = (padded - f) % s == 0
    info.update(ok=True, out=out, steps=steps, fits=fits, starts=starts, unvisited=unvisited,
                unvisited_input=unvisited_input)
    info["formula"] = f"{filled} = {out}"

    lines = []
    if fits:
        lines.append(_("The stride fits: n + 2p − f = {rest} is a multiple of s = {s}, so the last window ends "
                       "exactly on the last row (and column) of the padded input.").format(rest=padded - f, s=s))
    else:
        left = (padded - f) % s
        lines.append(_("The stride does not fit: ({n} + 2·{p} − {f})/{s} = {steps:.2f} is not a whole "
                       "number.").format(n=n, p=p, f=f, s=s, steps=steps))
        lines.append(_one_or_many(out - 1, N_("The floor keeps {count} whole step, so windows start at {starts} "
                                              "and the last one ends at {end};"),
                                  N_("The floor keeps {count} whole steps, so windows start at {starts} and the "
                                     "last one ends at {end};")).format(
            count=out - 1, starts=_rows(starts), end=starts[-1] + f - 1))
        lines.append(_one_or_many(left, N_("the last {left} row (and column) of the padded input is never "
                                           "visited. Allowed, but wasteful."),
                                  N_("the last {left} rows (and columns) of the padded input are never visited. "
                                     "Allowed, but wasteful.")).format(left=left))
    if s > f:
        lines.append(_("The stride s = {s} is larger than the filter f = {f}: windows jump over the cells "
                       "between them, which are never visited either.").format(s=s, f=f))
    if unvisited:
        if unvisited_input:
            lines.append(_one_or_many(len(unvisited_input),
                                      N_("Never seen by any window: input row {rows} (and the same columns). "
                                         "What the image holds there is lost to this layer."),
                                      N_("Never seen by any window: input rows {rows} (and the same columns). "
                                         "What the image holds there is lost to this layer.")).format(
                rows=_rows(unvisited_input)))
        else:
            lines.append(_("The cells never visited are padding zeros only, so nothing of the image is lost."))
    lines += _why_the_size(n, f, p, s, out)
    if f % 2 == 0:
        lines.append(_one_or_many(f - 1, N_("f = {f} is even: the window has no centre pixel, and keeping the size "
                                            "would need f − 1 = {zeros} zero in total, {one} on one side and "
                                            "{other} on the other."),
                                  N_("f = {f} is even: the window has no centre pixel, and keeping the size would "
                                     "need f − 1 = {zeros} zeros in total, {one} on one side and {other} on the "
                                     "other.")).format(f=f, zeros=f - 1, one=(f - 1) // 2, other=f // 2))
    if p >= f:
        lines.append(_("p = {p} ≥ f = {f}: the corner windows see nothing but padding zeros.").format(p=p, f=f))
    info["message"] = " ".join(lines)
    return info


def _why_the_size(n: int, f: int, p: int, s: int, out: int) -> list[str]:
    """Where the output's size comes from, each cause with its own share: the filter's edges (f − 1, less
    what the padding gives back) and the stride (it keeps one window position in s). Never blames the
    stride's shrinking on the padding."""
    if out == n and s == 1:
        return [_("Output {out}×{out} = input size: a 'same' convolution.").format(out=out)]
    stride_one = n + 2 * p - f + 1          # window positions at stride 1
    lines = []
    if p == 0 and s > 1:
        lines.append(_one_or_many(f - 1, N_("No padding: a 'valid' convolution; the filter's edges cost f − 1 = "
                                            "{lost} row (and column), so at stride 1 the output would be "
                                            "{stride_one}."),
                                  N_("No padding: a 'valid' convolution; the filter's edges cost f − 1 = {lost} "
                                     "rows (and columns), so at stride 1 the output would be {stride_one}.")).format(
            lost=f - 1, stride_one=stride_one))
    elif p == 0:
        lines.append(_("No padding: a 'valid' convolution; the output is f − 1 = {lost} smaller than the "
                       "input.").format(lost=f - 1))
    elif s == 1 and 2 * p < f - 1:
        lines.append(_("The padding gives back 2p = {given} of the f − 1 = {lost} rows the filter's edges cost: "
                       "the output is {stride_one}.").format(given=2 * p, lost=f - 1, stride_one=stride_one))
    elif s == 1:
        lines.append(_("The padding adds more than the filter's edges cost (2p = {given} > f − 1 = {lost}): "
                       "the output, {stride_one}, is larger than the input.").format(
            given=2 * p, lost=f - 1, stride_one=stride_one))
    if s > 1 and stride_one == 1:
        lines.append(_("Only one window position fits, so the stride s = {s} changes nothing: the output is "
                       "1.").format(s=s))
    elif s > 1:
        # out = floor((positions - 1)/s) + 1 = ceil(positions/s): exact, where "about n/s" was not (a large f).
        lines.append((_("The stride shrinks it further: of the {positions} window positions at stride 1, stride {s} "
                        "keeps one in {s}, so the output is {out} ({positions}/{s} rounded up).") if lines else
                      _("The stride shrinks it: of the {positions} window positions at stride 1, stride {s} keeps "
                        "one in {s}, so the output is {out} ({positions}/{s} rounded up).")).format(
            positions=stride_one, s=s, out=out))
        if out == n:        # h78's trial: n=2, f=1, p=1, s=2 said only "a 'same' convolution"
            lines.append(_("The output, {out}×{out}, is the input's size again: the padding added as many window "
                           "positions as the stride takes away (a 'same' convolution keeps the size at stride "
                           "1).").format(out=out))
    return lines


def _binomial(f: int) -> np.ndarray:
    row = np.array([math.comb(f - 1, k) for k in range(f)], dtype=float)
    return row / row.sum()


def make_kernel(kind: str, f: int) -> np.ndarray:
    """An f x f filter of one of the ``KERNELS`` kinds, as float64 of shape (f, f).

    The edge filters are Sobel's idea at any size: a smoothing (binomial) column times a centred
    difference row; at f = 3 'vertical edges' is the Sobel filter [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    divided by 4. At f = 1 an edge filter has no neighbours to compare and is all zero.
    """
    if f < 1:
        raise ValueError(f"the filter size must be at least 1, got {f}")
    if kind == "box blur":
        return np.full((f, f), 1.0 / (f * f))
    if kind == "gaussian blur":
        return np.outer(_binomial(f), _binomial(f))
    difference = np.arange(f) - (f - 1) / 2
    if kind == "vertical edges":
        return np.outer(_binomial(f), difference)
    if kind == "horizontal edges":
        return np.outer(difference, _binomial(f))
    raise ValueError(f"unknown kernel {kind!r}; choose one of {', '.join(KERNELS)}")


def correlate2d(image: np.ndarray, kernel: np.ndarray, p: int = 0, s: int = 1) -> np.ndarray:
    """Zero-padded, strided cross-correlation of a grey image, as a conv layer computes it (no flip).

    image (H, W), kernel (kh, kw) -> (floor((H + 2p - kh)/s) + 1, floor((W + 2p - kw)/s) + 1).
    Vectorised by looping over the kh*kw kernel offsets: each adds one strided slice of the padded image.
    """
    image = np.asarray(image, dtype=float)
    kh, kw = kernel.shape
    padded = np.pad(image, p) if p else image
    height, width = padded.shape
    if kh > height or kw > width:
        raise ValueError(f"a {kh}x{kw} filter does not fit in the {height}x{width} padded image")
    out_h = (height - kh) // s + 1
    out_w = (width - kw) // s + 1
    out = np.zeros((out_h, out_w))
    for u in range(kh):
        for v in range(kw):
            out += kernel[u, v] * padded[u:u + s * (out_h - 1) + 1:s, v:v + s * (out_w - 1) + 1:s]
    return out


@lru_cache(maxsize=None)
def _photo(name: str, size: int) -> np.ndarray:
    from .data import load_photo

    image = load_photo(name, gray=True) / 255.0
    side = min(image.shape)
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    image = image[top:top + side, left:left + side]  # the central square
    factor = side // size
    if factor > 1:  # average factor x factor blocks: a clean downsample without aliasing stripes
        side = (side // factor) * factor
        image = image[:side, :side].reshape(side // factor, factor, side // factor, factor).mean(axis=(1, 3))
    image.setflags(write=False)
    return image


def photo_input(name: str = "camera", size: int = 256) -> np.ndarray:
    """The grey photo the photo explorer uses: its central square, block-averaged down to about
    ``size`` x ``size`` (camera: 512x512 -> 256x256), float64 in [0, 1], read-only.

    ``size`` must be at least 256 (the lesson's point is a real image, not a thumbnail).
    """
    if size < 256:
        raise ValueError(f"the photo explorer works on photos of at least 256x256, got size={size}")
    return _photo(name, size)


def _encode_png(rgba: np.ndarray) -> bytes:
    from PIL import Image as PILImage  # matplotlib depends on Pillow, so it is always there

    buffer = io.BytesIO()
    # light compression: level 1 encodes several times faster than the default and these are small
    PILImage.fromarray(rgba).save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


#: Pixels drawn per CSS pixel of an explorer's picture: 2 is sharp on HiDPI (retina) screens and scales
#: down cleanly on others. While grading (``cnnbook.grading_mode()``) nobody looks: 1 keeps outputs small.
PIXEL_RATIO = 2
#: The shortest slider track (CSS px) an explorer's slider keeps, however narrow the notebook is.
SLIDER_TRACK_PX = 140
#: The one line under every explorer: a reopened notebook shows the last picture, and the sliders need a run.
RERUN_NOTE = N_("Sliders not changing the picture? Run this cell (Shift+Enter): a saved notebook keeps only the last "
                "picture.")


def rerun_note() -> str:
    """The note under every explorer, in the learner's language (HTML)."""
    return (f"<div class='cnnbook_rerun_note' style='color:#57606a;font-size:0.9em'>{html.escape(_(RERUN_NOTE))}"
            "</div>")


def pixel_ratio() -> int:
    """``PIXEL_RATIO``, or 1 while the notebook is being graded."""
    from . import grading_mode

    return 1 if grading_mode() else PIXEL_RATIO


def _label_px(text: str) -> int:
    """A generous estimate of a slider description's width in CSS px (13 px font): 8 px a column, a Hangul
    syllable or another wide character taking two (as ``cnnbook.i18n.padded`` counts them)."""
    import unicodedata

    return 8 * sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text) + 16


def button_width(labels) -> str:
    """A ToggleButtons' ``button_width`` that shows its longest label whole: a button cuts a longer one short
    ("avera…" for "average" at 70 px). The label's estimate (``_label_px``) and the button's padding."""
    return f"{max(_label_px(str(label)) for label in labels) + 16}px"


def control_rows(rows: list[list]) -> list:
    """HBoxes that wrap onto more lines in a narrow notebook, with every slider at a fixed width whose track
    keeps at least ``SLIDER_TRACK_PX`` (a flex row would otherwise squeeze the tracks to nothing)."""
    import ipywidgets as widgets

    boxes = []
    for row in rows:
        for control in row:
            if isinstance(control, (widgets.IntSlider, widgets.FloatSlider)):
                width = f"{_label_px(control.description) + SLIDER_TRACK_PX + 70}px"   # label, track, readout
                control.layout.width = width
                control.layout.min_width = width
                control.layout.flex = "0 0 auto"
            elif control.layout.width:
                control.layout.flex = "0 0 auto"
        boxes.append(widgets.HBox(row, layout=widgets.Layout(flex_flow="row wrap", max_width="100%")))
    return boxes


class _Explorer:
    """What every explorer shares: sliders that redraw on change, a kept figure drawn at ``PIXEL_RATIO``
    pixels per CSS pixel, PNG output, a one-line note for reopened notebooks, display."""

    figure: Figure
    canvas: FigureCanvasAgg
    widget: Any

    def _start(self, controls: list, figsize: tuple[float, float], dpi: int, rows: list[list] | None = None) -> None:
        """Build the widget: ``controls`` (laid out in ``rows`` when given), the two texts, the picture and the
        note. ``dpi`` is the picture's size on screen (CSS pixels per inch of ``figsize``); it is drawn with
        ``PIXEL_RATIO`` times as many pixels, so it is sharp on HiDPI screens and never stretched."""
        import ipywidgets as widgets

        ratio = pixel_ratio()
        self.css_width = round(figsize[0] * dpi)
        self.figure = Figure(figsize=figsize, dpi=dpi * ratio)
        self.canvas = FigureCanvasAgg(self.figure)
        self.image = widgets.Image(format="png", layout=widgets.Layout(
            width=f"{self.css_width}px", max_width="calc(100% - 4px)", height="auto", object_fit="contain"))
        self.formula_html = widgets.HTML()
        self.explanation_html = widgets.HTML()
        self.note_html = widgets.HTML(rerun_note())
        self.renders = 0
        self.last_render_seconds = 0.0
        self._holding = False
        for control in controls:
            control.observe(self._on_change, names="value")
        self.widget = widgets.VBox([*control_rows(rows or [controls]), self.formula_html,
                                    self.explanation_html, self.image, self.note_html],
                                   layout=widgets.Layout(max_width="100%"))
        self.widget.add_class(f"cnnbook-{type(self).__name__}")  # a stable handle for the browser tests
        self.update()

    def _on_change(self, change) -> None:
        if not self._holding:
            self.update()

    def _set_many(self, values: dict) -> None:
        """Set several controls and redraw once (``values`` maps a control to its new value)."""
        self._holding = True
        try:
            for control, value in values.items():
                if value is not None:
                    if hasattr(control, "max") and value > control.max:
                        control.max = value
                    if hasattr(control, "min") and value < control.min:
                        control.min = value
                    control.value = value
        finally:
            self._holding = False
        self.update()

    def update(self) -> None:
        """Recompute and redraw from the controls' values (called on every change)."""
        started = time.perf_counter()
        # The texts reach the browser after the picture, so whoever reads the new numbers (a learner, or
        # the browser test) is never looking at the previous picture.
        with self.formula_html.hold_sync(), self.explanation_html.hold_sync():
            self._draw()
            self.image.value = self._render()
        self.renders += 1
        self.last_render_seconds = time.perf_counter() - started

    def _draw(self) -> None:  # pragma: no cover - every explorer draws its own
        raise NotImplementedError

    _changing: list = []   # artists redrawn on every move; empty: the whole figure is drawn each time

    def _keep_background(self, changing: list) -> None:
        """Blitting: draw the parts that never change (frames, axis labels, legends) once and keep their
        pixels; a redraw then restores them and draws only ``changing``. Text is the slow part of a full
        draw, so this roughly halves the time from a slider move to the new picture."""
        self._changing = list(changing)
        for artist in self._changing:
            artist.set_animated(True)
        self.canvas.draw()
        self._background = self.canvas.copy_from_bbox(self.figure.bbox)

    def _render(self) -> bytes:
        """The figure as PNG bytes."""
        canvas = self.canvas
        if not self._changing:
            canvas.draw()
        else:
            canvas.restore_region(self._background)
            for artist in self._changing:
                if artist.get_visible():
                    self.figure.draw_artist(artist)
        return _encode_png(np.asarray(canvas.buffer_rgba()))

    @property
    def png(self) -> bytes:
        """The PNG bytes shown right now."""
        return bytes(self.image.value)

    def _repr_mimebundle_(self, **kwargs):
        """The live widget, plus a picture of the current state for renderers without a kernel.

        JupyterLab shows the widget; nbconvert's HTML, GitHub and other static viewers cannot, and fall
        back to the PNG (instead of a line of text such as ``VBox(children=...)``).
        """
        bundle = self.widget._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["image/png"] = base64.b64encode(self.png).decode("ascii")
        data["text/plain"] = _("{name}: an interactive explorer; open the notebook in JupyterLab and run the cell "
                               "to move its sliders.").format(name=type(self).__name__)
        return bundle


# cell kinds of the grid explorer's padded input
_INPUT, _PADDING, _INPUT_UNSEEN, _PADDING_UNSEEN = 0, 1, 2, 3
_GRID_COLOURS = ListedColormap(["#bcd7f2", "#e4e4e4", "#f08a8a", "#f6caca"])
_OUT_COLOURS = ListedColormap(["#fde2b8", "#d7263d"])
_WINDOW = "#d7263d"


class ConvExplorer(_Explorer):
    """Sliders n, f, p, s -> the padded grid, the windows, the output grid and the filled-in formula.

    Attributes: ``n_slider``, ``f_slider``, ``p_slider``, ``s_slider`` (ipywidgets.IntSlider),
    ``formula_html`` and ``explanation_html`` (ipywidgets.HTML), ``image`` (ipywidgets.Image with the PNG),
    ``figure`` (the matplotlib Figure; axes[0] is the padded input, axes[1] the output), ``state`` (the
    dict from ``explain_settings``), ``widget`` (the box to display), ``renders`` and
    ``last_render_seconds``. Evaluating the object in a cell displays it.
    """

    def __init__(self, n: int = 7, f: int = 3, p: int = 0, s: int = 1, *, dpi: int = 80):
        import ipywidgets as widgets

        def slider(value, low, high, description, tooltip):
            return widgets.IntSlider(value=value, min=min(low, value), max=max(high, value), step=1,
                                     description=_(description), tooltip=_(tooltip),
                                     style={"description_width": "initial"},
                                     layout=widgets.Layout(width="230px"))

        self.n_slider = slider(n, 1, 12, N_("input n"), N_("height and width of the input"))
        self.f_slider = slider(f, 1, 7, N_("filter f"), N_("height and width of the filter"))
        self.p_slider = slider(p, 0, 3, N_("padding p"), N_("zeros added on each side"))
        self.s_slider = slider(s, 1, 4, N_("stride s"), N_("cells the window moves per step"))
        self.state: dict = {}
        self._start([self.n_slider, self.f_slider, self.p_slider, self.s_slider], figsize=(9.0, 4.6), dpi=dpi)

    def set(self, n: int | None = None, f: int | None = None, p: int | None = None, s: int | None = None):
        """Set any of n, f, p, s at once and redraw once; returns self."""
        self._set_many({self.n_slider: n, self.f_slider: f, self.p_slider: p, self.s_slider: s})
        return self

    @property
    def output_shape(self) -> tuple[int, int] | None:
        """(out, out) as the formula gives it, or None when no window fits."""
        out = self.state.get("out")
        return None if out is None else (out, out)

    def _build(self) -> None:
        """Create the axes and artists once; a redraw only updates their data (that keeps it fast)."""
        fig = self.figure
        self._grid_ax, self._out_ax = fig.subplots(1, 2)
        self._suptitle = fig.suptitle("", fontsize=11)
        ax = self._grid_ax
        self._grid_img = ax.imshow(np.zeros((1, 1)), cmap=_GRID_COLOURS, vmin=-0.5, vmax=3.5,
                                   interpolation="nearest")
        self._grid_lines = LineCollection([], colors="white", linewidths=1)
        ax.add_collection(self._grid_lines)
        self._input_border = Rectangle((0, 0), 1, 1, fill=False, ec="#1f4e8c", lw=2, zorder=3)
        self._first_window = Rectangle((0, 0), 1, 1, fill=False, ec=_WINDOW, lw=3, zorder=5)
        self._second_window = Rectangle((0, 0), 1, 1, fill=False, ec=_WINDOW, lw=2, ls="--", zorder=5)
        for patch in (self._input_border, self._first_window, self._second_window):
            patch.set_clip_on(False)  # a window edge lies on the axes edge: draw all of its line
            ax.add_patch(patch)
        self._corners = ax.scatter([], [], s=14, c="black", zorder=4, label=_("window top-left"))
        ax.legend(handles=[
            Patch(color="#bcd7f2", label=_("input")), Patch(color="#e4e4e4", label=_("zero padding")),
            Patch(color="#f08a8a", label=_("never visited")),
            Patch(fill=False, ec=_WINDOW, lw=2, label=_("1st window (dashed: 2nd)")), self._corners],
            loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize=8, frameon=False)

        ax = self._out_ax
        self._out_img = ax.imshow(np.zeros((1, 1)), cmap=_OUT_COLOURS, vmin=0, vmax=1,
                                  interpolation="nearest")
        self._out_lines = LineCollection([], colors="white", linewidths=1)
        ax.add_collection(self._out_lines)
        self._no_output = ax.text(0, 0, _("no output:\nthe filter does not fit"), ha="center", va="center",
                                  color="#c62828", fontsize=11)
        for ax in (self._grid_ax, self._out_ax):
            ax.set_xlabel(_("column (width)"))
            ax.set_ylabel(_("row (height)"))
            ax.tick_params(labelsize=7)
        fig.subplots_adjust(left=0.06, right=0.98, top=0.86, bottom=0.2, wspace=0.25)
        self._artists_ready = True

    def _draw(self) -> None:
        if not getattr(self, "_artists_ready", False):
            self._build()
        n, f, p, s = (self.n_slider.value, self.f_slider.value, self.p_slider.value, self.s_slider.value)
        info = explain_settings(n, f, p, s)
        self.state = info
        colour = "#1a7f37" if info["ok"] and info["fits"] else ("#b35900" if info["ok"] else "#c62828")
        self.formula_html.value = (
            f"<div style='font-size:1.1em'><b>{_('output size')}</b> = floor((n + 2p − f)/s) + 1 &nbsp;=&nbsp; "
            f"<span style='color:{colour}'><b>{info['formula']}</b></span>"
            + (f" &nbsp;→&nbsp; {_('output')} <b>{info['out']} × {info['out']}</b>" if info["ok"] else "")
            + "</div>")
        self.explanation_html.value = f"<div style='max-width:880px'>{info['message']}</div>"
        self._suptitle.set_text(_("A {n}×{n} input, a {f}×{f} filter, padding {p}, stride {s}").format(n=n, f=f, p=p,
                                                                                                      s=s))

        m = info["padded"]
        kind = np.full((m, m), _PADDING)
        kind[p:p + n, p:p + n] = _INPUT
        unseen = np.zeros(m, dtype=bool)
        unseen[info["unvisited"]] = True
        kind[unseen[:, None] | unseen[None, :]] += 2
        # when the filter does not fit, widen the view so the overhanging window shows
        _show_cells(self._grid_ax, self._grid_img, self._grid_lines, kind, max(m, f))
        self._input_border.set_bounds(p - 0.5, p - 0.5, n, n)
        self._grid_ax.set_title(_one_or_many(p, N_("padded input {m}×{m} (input {n}×{n} + {p} zero per side)"),
                                             N_("padded input {m}×{m} (input {n}×{n} + {p} zeros per side)")).format(
            m=m, n=n, p=p), fontsize=10)
        starts = info["starts"]
        rows, cols = np.meshgrid(starts, starts, indexing="ij")
        self._corners.set_offsets(np.column_stack([cols.ravel(), rows.ravel()]) if starts
                                  else np.zeros((0, 2)))
        self._first_window.set_bounds(-0.5, -0.5, f, f)
        self._first_window.set_linestyle("-" if info["ok"] else ":")
        self._second_window.set_visible(len(starts) > 1)
        if len(starts) > 1:
            self._second_window.set_bounds(starts[1] - 0.5, -0.5, f, f)

        if info["ok"]:
            out = info["out"]
            cells = np.zeros((out, out), dtype=int)
            cells[0, 0] = 1
            _show_cells(self._out_ax, self._out_img, self._out_lines, cells, max(m, out))
            self._out_img.set_visible(True)
            self._out_ax.set_title(_("output {out}×{out} (red: from the 1st window)").format(out=out), fontsize=10)
        else:
            _show_cells(self._out_ax, self._out_img, self._out_lines, np.zeros((0, 0)), max(m, f))
            self._out_img.set_visible(False)
            self._out_ax.set_title(_("output: none"), fontsize=10)
        self._no_output.set_visible(not info["ok"])
        self._no_output.set_position(((max(m, f) - 1) / 2, (max(m, f) - 1) / 2))

    @property
    def drawn_output_shape(self) -> tuple[int, int] | None:
        """The shape of the output grid as drawn in the figure (None when no output is drawn)."""
        if not self._out_img.get_visible():
            return None
        return tuple(np.asarray(self._out_img.get_array()).shape)


def _show_cells(ax, image, lines: LineCollection, cells: np.ndarray, extent: int) -> None:
    """Draw ``cells`` (rows, cols) as a grid of squares; the axes show ``extent`` cells each way.

    The same ``extent`` on both panels gives both the same cell size, so shrinking is visible.
    """
    rows, cols = cells.shape
    image.set_data(cells if cells.size else np.zeros((1, 1)))
    image.set_extent((-0.5, max(cols, 1) - 0.5, max(rows, 1) - 0.5, -0.5))
    edges_r = np.arange(rows + 1) - 0.5
    edges_c = np.arange(cols + 1) - 0.5
    lines.set_segments([[(-0.5, y), (cols - 0.5, y)] for y in edges_r]
                       + [[(x, -0.5), (x, rows - 0.5)] for x in edges_c])
    ax.set_xlim(-0.5, extent - 0.5)
    ax.set_ylim(extent - 0.5, -0.5)
    size = max(rows, cols)
    step = 1 if size <= 8 else (2 if size <= 14 else 3)  # few tick labels: text is the slow part
    ax.set_xticks(np.arange(0, cols, step))
    ax.set_yticks(np.arange(0, rows, step))


class PhotoConvExplorer(_Explorer):
    """A blur or edge filter of size f with padding p and stride s on a real photo; shows the feature map.

    Attributes: ``kernel_dropdown`` (ipywidgets.Dropdown of ``KERNELS``), ``f_slider``, ``p_slider``,
    ``s_slider``, ``formula_html`` (the shapes and the filled-in formula), ``explanation_html``,
    ``image`` (PNG), ``figure``, ``input`` (the photo, float in [0, 1]), ``output`` (the feature map),
    ``output_shape``, ``widget``. The photo is ``photo_input(photo, size)``: 256x256 by default.

    A redraw restores the unchanging pixels and draws only the changing artists (blitting), so those
    are marked animated: ``figure.savefig`` would leave them out; use ``.png`` for the picture.
    """

    def __init__(self, kernel: str = "vertical edges", f: int = 3, p: int = 1, s: int = 1, *,
                 photo: str = "camera", size: int = 256, dpi: int = 80):
        import ipywidgets as widgets

        self.input = photo_input(photo, size)
        self.photo_name = photo

        def slider(value, low, high, description):
            return widgets.IntSlider(value=value, min=min(low, value), max=max(high, value), step=1,
                                     description=_(description), style={"description_width": "initial"},
                                     layout=widgets.Layout(width="210px"))

        self.kernel_dropdown = widgets.Dropdown(options=[(_(k), k) for k in KERNELS], value=kernel,
                                                description=_("filter"),
                                                layout=widgets.Layout(width="220px"))
        self.f_slider = slider(f, 1, 9, N_("size f"))
        self.p_slider = slider(p, 0, 8, N_("padding p"))
        self.s_slider = slider(s, 1, 4, N_("stride s"))
        self.output = np.zeros((0, 0))
        self.kernel = np.zeros((0, 0))
        self._artists_ready = False
        self._start([self.kernel_dropdown, self.f_slider, self.p_slider, self.s_slider],
                    figsize=(9.0, 4.4), dpi=dpi)

    def set(self, kernel: str | None = None, f: int | None = None, p: int | None = None,
            s: int | None = None):
        """Set any of kernel, f, p, s at once and redraw once; returns self."""
        self._set_many({self.kernel_dropdown: kernel, self.f_slider: f, self.p_slider: p,
                        self.s_slider: s})
        return self

    @property
    def output_shape(self) -> tuple[int, int]:
        rows, cols = self.output.shape
        return rows, cols

    def _build(self) -> None:
        """Create the artists once; later redraws only update their data (that keeps a redraw fast)."""
        fig = self.figure
        self._in_ax, self._out_ax = fig.subplots(1, 2)
        self._in_img = self._in_ax.imshow(self.input, cmap="gray", vmin=0, vmax=1)
        self._out_img = self._out_ax.imshow(self.input, cmap="gray")
        self._border = Rectangle((0, 0), 1, 1, fill=False, ec="#2f80ed", lw=1.2)
        self._window = Rectangle((0, 0), 1, 1, fill=False, ec=_WINDOW, lw=1.5)
        self._in_ax.add_patch(self._border)
        self._in_ax.add_patch(self._window)
        for ax in (self._in_ax, self._out_ax):
            ax.set_xlabel(_("column (width, pixels)"))
            ax.set_ylabel(_("row (height, pixels)"))
            ax.set_xticks([])  # no tick labels: they would change with every size (the titles give it)
            ax.set_yticks([])
        self._suptitle = fig.suptitle("", fontsize=11)
        fig.subplots_adjust(left=0.05, right=0.98, top=0.86, bottom=0.08, wspace=0.12)
        self._keep_background([self._in_img, self._out_img, self._border, self._window, self._in_ax.title,
                               self._out_ax.title, self._suptitle])
        self._artists_ready = True

    def _draw(self) -> None:
        if not self._artists_ready:
            self._build()
        kind, f, p, s = (self.kernel_dropdown.value, self.f_slider.value, self.p_slider.value,
                         self.s_slider.value)
        height, width = self.input.shape
        along_h = explain_settings(height, f, p, s)
        along_w = explain_settings(width, f, p, s)
        if not (along_h["ok"] and along_w["ok"]):  # only reachable through set(): say why, keep the picture
            self.formula_html.value = f"<div style='color:#c62828'>{along_h['formula']}</div>"
            self.explanation_html.value = f"<div style='max-width:880px'>{along_h['message']}</div>"
            self.output = np.zeros((0, 0))
            return
        self.kernel = make_kernel(kind, f)
        self.output = correlate2d(self.input, self.kernel, p, s)
        out_h, out_w = self.output.shape
        padded = np.pad(self.input, p) if p else self.input

        self.formula_html.value = (
            "<div style='font-size:1.05em'>"
            + _("input <b>{height} × {width}</b> → padded <b>{padded_height} × {padded_width}</b> → feature map "
                "<b>{out_h} × {out_w}</b> &nbsp;(height: {along_height}; width: {along_width})").format(
                height=height, width=width, padded_height=height + 2 * p, padded_width=width + 2 * p, out_h=out_h,
                out_w=out_w, along_height=along_h["formula"], along_width=along_w["formula"])
            + "</div>")
        notes = []
        if f == 1 and "edges" in kind:
            notes.append(_("A 1×1 edge filter has no neighbours to compare, so the map is all zero."))
        rows_lost, cols_lost = len(along_h["unvisited_input"]), len(along_w["unvisited_input"])
        if rows_lost or cols_lost:
            notes.append((_("{rows} row(s) and {cols} column(s) of the photo are never visited by any window.")
                          if along_h["fits"] else
                          _("{rows} row(s) and {cols} column(s) of the photo are never visited by any window (the "
                            "stride does not fit).")).format(rows=rows_lost, cols=cols_lost))
        if p > 0 and "edges" in kind:
            notes.append(_("The zeros around the photo make its border look like an edge: see the frame around the "
                           "map."))
        elif p > 0:
            notes.append(_("The zeros around the photo darken its border: a window there averages zeros in with the "
                           "photo (see the dark frame around the map)."))
        if out_h == height and out_w == width:
            notes.append(_("p = {p} keeps the size: a 'same' convolution.").format(p=p))
        else:
            if p > 0 and s == 1 and 2 * p > f - 1:
                notes.append(_("The padding adds more than the filter's edges cost (2p = {given} > f − 1 = {lost}): "
                               "the map, {out_h}×{out_w}, is larger than the photo.").format(
                    given=2 * p, lost=f - 1, out_h=out_h, out_w=out_w))
            elif p > 0 and s == 1:
                notes.append(_("The padding gives back 2p = {given} of the f − 1 = {lost} rows and columns the "
                               "filter's edges cost: the map is {out_h}×{out_w}.").format(
                    given=2 * p, lost=f - 1, out_h=out_h, out_w=out_w))
            if p == 0 and s > 1:
                notes.append(_("No padding ('valid'): the filter's edges cost f − 1 = {lost} rows and columns (at "
                               "stride 1 the map would be {height}×{width}).").format(
                    lost=f - 1, height=height - f + 1, width=width - f + 1))
            elif p == 0:
                notes.append(_("No padding ('valid'): the filter's edges cost f − 1 = {lost} rows and "
                               "columns.").format(lost=f - 1))
            if s > 1:
                notes.append(_("The stride shrinks the map: stride {s} keeps one window in {s} along each axis, so "
                               "the map is {out_h}×{out_w}, about 1/{share} of the stride-1 values.").format(
                    s=s, out_h=out_h, out_w=out_w, share=s * s))
        self.explanation_html.value = "<div style='max-width:880px'>" + " ".join(notes) + "</div>"

        m_h, m_w = padded.shape
        self._in_img.set_data(padded)
        self._in_img.set_extent((-0.5, m_w - 0.5, m_h - 0.5, -0.5))
        self._in_ax.set_xlim(-0.5, m_w - 0.5)
        self._in_ax.set_ylim(m_h - 0.5, -0.5)
        self._border.set_bounds(p - 0.5, p - 0.5, width, height)
        self._window.set_bounds(-0.5, -0.5, f, f)
        self._in_ax.set_title(_("padded input {height}×{width} (blue: the photo, red: 1st window)").format(
            height=m_h, width=m_w), fontsize=9)

        self._out_img.set_data(self.output)
        self._out_img.set_extent((-0.5, out_w - 0.5, out_h - 0.5, -0.5))
        self._out_ax.set_xlim(-0.5, out_w - 0.5)
        self._out_ax.set_ylim(out_h - 0.5, -0.5)
        if "edges" in kind:
            limit = float(np.abs(self.output).max()) or 1.0
            self._out_img.set_clim(-limit, limit)
        else:
            self._out_img.set_clim(0.0, 1.0)
        self._out_ax.set_title(_("feature map {height}×{width}").format(height=out_h, width=out_w), fontsize=9)
        self._suptitle.set_text(_("'{kind}' {f}×{f} filter on the {photo} photo, padding {p}, stride {s}").format(
            kind=_(kind), f=f, photo=_(self.photo_name), p=p, s=s))
