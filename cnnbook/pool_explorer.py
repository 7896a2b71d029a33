"""The lesson-05 explorer: max or average pooling of a real photo, with sliders.

``PoolExplorer(f, s, mode, source)`` pools the 256x256 camera photo (or its edge map) with an f x f
window moved s pixels at a time, and shows the input with its first two windows, the output at its true
size (same pixel scale as the input, so the shrinking shows), the output enlarged to the input's size
(so the loss of detail shows), the output shape with the filled-in formula, and what the settings mean
in words. Impossible settings (a window larger than the photo, a stride of 0) are explained, never raised.

As in ``cnnbook.widgets`` the arithmetic lives in pure functions (``explain_pooling``, ``pool2d``,
``pool_input``) that the widget calls and the tests check against torch; the figure is drawn with the
Agg canvas into an ``ipywidgets.Image``, so it works the same headless (nbclient, nbgrader) and in
JupyterLab. The explorer never uses a learner's answers: it works before any exercise is done.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from matplotlib.patches import Rectangle
from numpy.lib.stride_tricks import sliding_window_view

from .i18n import N_, _
from .widgets import _Explorer, _one_or_many, button_width, correlate2d, explain_settings, make_kernel, photo_input

__all__ = ["MODES", "SOURCES", "explain_pooling", "pool2d", "pool_input", "PoolExplorer"]

#: The two kinds of pooling the explorer offers.
MODES = (N_("max"), N_("average"))
#: What the explorer pools: the grey photo itself, or the strength of its edges (a feature map).
SOURCES = (N_("photo"), N_("edge map"))

_WINDOW = "#d7263d"


def explain_pooling(n: int, f: int, s: int) -> dict:
    """What pooling with an f-long window and stride s does along one axis of length n (no padding).

    Call it once for the height and once for the width. Never raises: impossible settings come back with
    ``ok=False`` and a ``message`` saying why.

    Returns a dict with
      ``n, f, s``     the settings;
      ``ok``          True when at least one window fits;
      ``out``         floor((n - f)/s) + 1, or None when not ok;
      ``fits``        True when (n - f) is a multiple of s (the last window ends on the last pixel);
      ``starts``      the first index of every window;
      ``unvisited``   indices that no window covers (lost to the layer);
      ``overlap``     f - s when the windows overlap (s < f), else 0;
      ``formula``     e.g. 'floor((256 − 2)/2) + 1 = 128';
      ``message``     the explanation in words (plain text, in the learner's language).
    """
    info: dict = dict(n=n, f=f, s=s, ok=False, out=None, fits=False, starts=[], unvisited=[], overlap=0)
    filled = f"floor(({n} − {f})/{s}) + 1"
    problems = []
    if n < 1:
        problems.append(_("the input must have at least 1 pixel (got n = {n})").format(n=n))
    if f < 1:
        problems.append(_("the window must be at least 1 pixel wide (got f = {f})").format(f=f))
    if s < 1:
        problems.append(_("the stride must be at least 1: the window has to move forward (got s = {s})").format(s=s))
    if problems:
        info["formula"] = _("{formula}: not defined").format(formula=filled)
        info["message"] = _("Impossible settings: {problems}.").format(problems="; ".join(problems))
        return info
    if f > n:
        info["formula"] = _("{formula} = floor({rest}/{s}) + 1: no window fits").format(formula=filled, rest=n - f,
                                                                                        s=s)
        info["message"] = _("The {f}×{f} window does not fit: the input is only {n} pixels wide, so there is no "
                            "position for even one window and no output. Use a window of at most {n} (f = {n} is "
                            "'global' pooling: one number per channel).").format(f=f, n=n)
        return info

    # The window arithmetic is a convolution's with no padding: reuse it, keep pooling's own words.
    windows = explain_settings(n, f, 0, s)
    out, fits, unvisited = windows["out"], windows["fits"], windows["unvisited"]
    info.update(ok=True, out=out, fits=fits, starts=windows["starts"], unvisited=unvisited,
                overlap=max(f - s, 0) if out > 1 else 0)
    info["formula"] = f"{filled} = {out}"

    lines = []
    if f == 1 and s == 1:
        lines.append(_("A 1×1 window with stride 1 changes nothing: the output is the input."))
    elif f == 1:
        lines.append(_("A 1×1 window only keeps every {s}th pixel (plain subsampling): max and average agree, and "
                       "everything in between is dropped.").format(s=s))
    elif out == 1:
        lines.append(_("Only one {f}×{f} window fits along each axis, so the stride is never used.").format(f=f))
    elif s == f:
        lines.append((_("Stride = window: the {f}×{f} windows sit side by side without overlapping, so every pixel "
                        "is in exactly one window. This is the usual choice (f = s = 2 halves height and width).")
                      if fits else
                      _("Stride = window: the {f}×{f} windows sit side by side without overlapping. This is the "
                        "usual choice (f = s = 2 halves height and width).")).format(f=f))
    elif s < f:
        lines.append(_one_or_many(f - s, N_("Stride {s} < window {f}: neighbouring windows overlap by {overlap} "
                                            "pixel, so one pixel can be the maximum of several windows (AlexNet "
                                            "pooled 3×3 windows with stride 2)."),
                                  N_("Stride {s} < window {f}: neighbouring windows overlap by {overlap} pixels, so "
                                     "one pixel can be the maximum of several windows (AlexNet pooled 3×3 windows "
                                     "with stride 2).")).format(s=s, f=f, overlap=f - s))
    else:
        lines.append(_one_or_many(s - f, N_("Stride {s} > window {f}: the windows jump over {gap} pixel between "
                                            "them, which no window ever sees."),
                                  N_("Stride {s} > window {f}: the windows jump over {gap} pixels between them, "
                                     "which no window ever sees.")).format(s=s, f=f, gap=s - f))
    if not fits:
        left = (n - f) % s
        lost = (_("the last {left} rows (and columns) are").format(left=left) if left > 1
                else _("the last row (and column) is"))
        counted = _one_or_many(out, N_("{count} window"), N_("{count} windows")).format(count=out)
        lines.append(_("The stride does not fit: ({n} − {f})/{s} = {ratio:.2f} is not a whole number, so the floor "
                       "keeps {windows} per axis and {lost} not in any window. (PyTorch's ceil_mode=True would add "
                       "one more, partial window instead.)").format(n=n, f=f, s=s, ratio=(n - f) / s,
                                                                    windows=counted, lost=lost))
    if f == n:
        lines.append(_("The window covers the whole axis: 'global' pooling, one number per channel."))
    if unvisited and s > f:
        lines.append(_("{count} of {n} rows (and as many columns) are never seen.").format(count=len(unvisited), n=n))
    lines.append(_("Output {out} for {n} input pixels per axis: {kept:.1%} of the values are kept.").format(
        out=out, n=n, kept=out * out / (n * n)))
    info["message"] = " ".join(lines)
    return info


def pool2d(image: np.ndarray, f: int, s: int, mode: str = "max") -> np.ndarray:
    """Max or average pooling of one grey image (no padding), as torch's F.max_pool2d / F.avg_pool2d.

    image (H, W), window f x f, stride s -> (floor((H - f)/s) + 1, floor((W - f)/s) + 1).
    mode is 'max' or 'average' ('avg' is accepted too). ValueError for impossible settings.
    """
    image = np.asarray(image, dtype=float)
    if image.ndim != 2:
        raise ValueError(f"pool2d needs one 2-D image (H, W), got shape {image.shape}")
    if f < 1 or s < 1:
        raise ValueError(f"the window and the stride must be at least 1, got f={f}, s={s}")
    if f > image.shape[0] or f > image.shape[1]:
        raise ValueError(f"a {f}x{f} window does not fit in a {image.shape[0]}x{image.shape[1]} image")
    windows = sliding_window_view(image, (f, f))[::s, ::s]      # (H_out, W_out, f, f), a view: no copy
    if mode == "max":
        return windows.max(axis=(2, 3))
    if mode in ("average", "avg"):
        return windows.mean(axis=(2, 3))
    raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")


@lru_cache(maxsize=None)
def _edge_map(photo: str, size: int) -> np.ndarray:
    image = photo_input(photo, size)
    gx = correlate2d(image, make_kernel("vertical edges", 3))
    gy = correlate2d(image, make_kernel("horizontal edges", 3))
    # valid filtering, then repeat the border pixels: zero padding would draw a bright frame of fake edges
    edges = np.pad(np.hypot(gx, gy), 1, mode="edge")
    edges /= edges.max()
    edges.setflags(write=False)
    return edges


def pool_input(source: str = "photo", photo: str = "camera", size: int = 256) -> np.ndarray:
    """What the explorer pools, float64 in [0, 1], read-only, ``size`` x ``size`` (at least 256):

    'photo'    the grey photo (``cnnbook.widgets.photo_input``);
    'edge map' its Sobel edge strength sqrt(gx² + gy²) scaled to [0, 1] (valid filtering, the border
               pixels repeated to keep the size): a feature map like those a conv layer hands to pooling.
    """
    if source == "photo":
        return photo_input(photo, size)
    if source == "edge map":
        return _edge_map(photo, size)
    raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")


class PoolExplorer(_Explorer):
    """Sliders for the window f and the stride s, max or average, photo or edge map -> the pooled image.

    Attributes: ``f_slider``, ``s_slider`` (ipywidgets.IntSlider), ``mode_buttons`` (ToggleButtons of
    ``MODES``), ``source_dropdown`` (Dropdown of ``SOURCES``), ``formula_html`` (the shapes and the
    filled-in formula), ``explanation_html``, ``image`` (ipywidgets.Image with the PNG), ``figure``,
    ``input`` (the array pooled), ``output`` (the pooled array; empty when the settings are impossible),
    ``output_shape`` ((H_out, W_out) or None), ``state`` (``explain_pooling`` for height and width),
    ``widget``. Evaluating the object in a cell displays it.

    A redraw restores the unchanging pixels and draws only the changing artists (blitting), so those are
    marked animated: ``figure.savefig`` would leave them out; use ``.png`` for the picture.
    """

    def __init__(self, f: int = 2, s: int = 2, mode: str = "max", source: str = "photo", *,
                 photo: str = "camera", size: int = 256, dpi: int = 80):
        import ipywidgets as widgets

        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
        self.photo_name = photo
        self.size = size
        self.input = pool_input(source, photo, size)

        def slider(value, low, high, description, tooltip):
            return widgets.IntSlider(value=value, min=min(low, value), max=max(high, value), step=1,
                                     description=description, tooltip=tooltip,
                                     style={"description_width": "initial"},
                                     layout=widgets.Layout(width="220px"))

        self.f_slider = slider(f, 1, 16, _("window f"), _("height and width of the pooling window"))
        self.s_slider = slider(s, 1, 16, _("stride s"), _("pixels the window moves per step"))
        self.mode_buttons = widgets.ToggleButtons(options=[(_(m), m) for m in MODES], value=mode,
                                                  description=_("pooling"),
                                                  style={"button_width": button_width(_(m) for m in MODES)})
        self.source_dropdown = widgets.Dropdown(options=[(_(k), k) for k in SOURCES], value=source,
                                                description=_("input"), layout=widgets.Layout(width="190px"))
        self.output = np.zeros((0, 0))
        self.state: dict = {}
        self._artists_ready = False
        self._start([self.source_dropdown, self.mode_buttons, self.f_slider, self.s_slider],
                    figsize=(11.0, 4.3), dpi=dpi)

    def set(self, f: int | None = None, s: int | None = None, mode: str | None = None,
            source: str | None = None):
        """Set any of f, s, mode, source at once and redraw once; returns self."""
        self._set_many({self.f_slider: f, self.s_slider: s, self.mode_buttons: mode,
                        self.source_dropdown: source})
        return self

    @property
    def output_shape(self) -> tuple[int, int] | None:
        """(H_out, W_out) of the pooled image, or None when the settings give no output."""
        rows, cols = self.output.shape
        return (rows, cols) if self.output.size else None

    def _build(self) -> None:
        """Create the axes and artists once; a redraw only updates their data (that keeps it fast)."""
        fig = self.figure
        self._in_ax, self._true_ax, self._big_ax = fig.subplots(1, 3)
        height, width = self.input.shape
        full = (-0.5, width - 0.5, height - 0.5, -0.5)
        self._in_img = self._in_ax.imshow(self.input, cmap="gray", vmin=0, vmax=1, extent=full)
        self._true_img = self._true_ax.imshow(self.input, cmap="gray", vmin=0, vmax=1,
                                              interpolation="nearest")
        self._big_img = self._big_ax.imshow(self.input, cmap="gray", vmin=0, vmax=1, extent=full,
                                            interpolation="nearest")
        self._first = Rectangle((0, 0), 1, 1, fill=False, ec=_WINDOW, lw=1.8)
        self._second = Rectangle((0, 0), 1, 1, fill=False, ec="#f5a623", lw=1.5, ls="--")
        self._in_ax.add_patch(self._first)
        self._in_ax.add_patch(self._second)
        self._no_output = self._true_ax.text(width / 2, height / 2, _("no output:\nthe window does not fit"),
                                             ha="center", va="center", color="#c62828", fontsize=11)
        for ax in (self._in_ax, self._true_ax, self._big_ax):
            ax.set_xlim(-0.5, width - 0.5)       # every panel shows the input's extent: the same pixel scale
            ax.set_ylim(height - 0.5, -0.5)
            ax.set_xlabel(_("column (input pixels)"))
            ax.set_ylabel(_("row (input pixels)"))
            ax.set_xticks([0, width // 2, width - 1])
            ax.set_yticks([0, height // 2, height - 1])
            ax.tick_params(labelsize=7)
        self._big_ax.set_xlabel(_("column (input pixels; output enlarged)"))
        self._suptitle = fig.suptitle("", fontsize=11)
        fig.subplots_adjust(left=0.05, right=0.99, top=0.84, bottom=0.12, wspace=0.28)
        self._keep_background([self._in_img, self._true_img, self._big_img, self._first, self._second,
                               self._no_output, self._in_ax.title, self._true_ax.title, self._big_ax.title,
                               self._suptitle])
        self._artists_ready = True

    def _draw(self) -> None:
        source, mode = self.source_dropdown.value, self.mode_buttons.value
        f, s = self.f_slider.value, self.s_slider.value
        self.input = pool_input(source, self.photo_name, self.size)
        if not self._artists_ready:
            self._build()
        height, width = self.input.shape
        along_h, along_w = explain_pooling(height, f, s), explain_pooling(width, f, s)
        self.state = {"height": along_h, "width": along_w}
        self._in_img.set_data(self.input)
        self._suptitle.set_text(_("{mode} pooling of the {photo} {source}: {f}×{f} window, stride {s}").format(
            mode=_(mode), photo=_(self.photo_name), source=_(source), f=f, s=s))
        self._in_ax.set_title(_("input {height}×{width} (red: 1st window, dashed: 2nd)").format(height=height,
                                                                                                width=width), fontsize=9)
        self._first.set_bounds(-0.5, -0.5, f, f)

        if not (along_h["ok"] and along_w["ok"]):
            self.output = np.zeros((0, 0))
            self.formula_html.value = (
                "<div style='color:#c62828; font-size:1.05em'>"
                + _("input <b>{height} × {width}</b> → no output: {formula}").format(
                    height=height, width=width, formula=along_h["formula"])
                + "</div>")
            self.explanation_html.value = f"<div style='max-width:900px'>{along_h['message']}</div>"
            for artist in (self._true_img, self._big_img, self._second):
                artist.set_visible(False)
            self._first.set_linestyle(":")
            self._no_output.set_visible(True)
            self._true_ax.set_title(_("output: none"), fontsize=9)
            self._big_ax.set_title(_("output: none"), fontsize=9)
            return

        self.output = pool2d(self.input, f, s, mode)
        out_h, out_w = self.output.shape
        self.formula_html.value = (
            "<div style='font-size:1.05em'>"
            + _("input <b>{height} × {width}</b> → output <b>{out_h} × {out_w}</b> &nbsp;(height: {along_height}; "
                "width: {along_width}; each output pixel is the <b>{mode}</b> of one {f}×{f} window)").format(
                height=height, width=width, out_h=out_h, out_w=out_w, along_height=along_h["formula"],
                along_width=along_w["formula"], mode=_(mode), f=f)
            + "</div>")
        notes = [along_h["message"]]
        if source == "edge map" and mode == "average" and f > 1:
            notes.append(_("Averaging mixes each thin edge with the dark pixels around it, so edges fade; max "
                           "pooling keeps their full strength (switch the mode to compare)."))
        elif source == "edge map" and f > 1:
            notes.append(_("Max pooling keeps an edge at full strength as long as it lies anywhere in the window: "
                           "where exactly is forgotten."))
        self.explanation_html.value = "<div style='max-width:900px'>" + " ".join(notes) + "</div>"

        self._first.set_linestyle("-")
        self._second.set_visible(len(along_w["starts"]) > 1)
        if len(along_w["starts"]) > 1:
            self._second.set_bounds(along_w["starts"][1] - 0.5, -0.5, f, f)
        self._no_output.set_visible(False)
        for artist in (self._true_img, self._big_img):
            artist.set_visible(True)
            artist.set_data(self.output)
        self._true_img.set_extent((-0.5, out_w - 0.5, out_h - 0.5, -0.5))
        self._true_ax.set_title(_("output {height}×{width}, true size").format(height=out_h, width=out_w),
                                fontsize=9)
        self._big_ax.set_title(_("output {height}×{width}, enlarged").format(height=out_h, width=out_w), fontsize=9)
