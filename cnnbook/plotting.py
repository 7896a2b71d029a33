"""Small plotting helpers and the course's picture set-up.

- ``show_matrix`` (a matrix drawn with its numbers, each in black or white, whichever reads on its cell) and
  ``show_images`` (a grid of images with titles).
- ``sharp_figures()``: inline figures as retina PNGs (drawn at twice the figure's dpi, shown at its size),
  so labels are sharp on HiDPI screens. ``import cnnbook`` calls it in a notebook; it stays on when a lesson
  sets ``figure.dpi`` or the inline backend loads later. Not while grading: nobody looks, outputs stay small.
  Either way the PNG is written with zlib's fastest level (PNG_COMPRESS_LEVEL): the same pixels, files about
  10 % larger, and about 13 % less time per figure than PIL's default level 6 (measured 2026-12-03 by drawing
  each of the course's 57 figures again in its own kernel at both levels: 23.6 s against 20.6 s; figures are
  about a quarter of the course's run, `benchmarks/course_runtime.py`'s figure column). And either way it is
  drawn once, by ``png_figure`` (which ``sharp_figures()`` puts in IPython's ``print_figure``), where
  matplotlib's ``bbox_inches="tight"`` draws twice: the figure column went from 21.1 and 22.7 s to 16.8 and
  18.1 s (2026-12-05, runs alternated on a busy 2-core machine). Also a figure with text or labels past its
  edges (8 of the 57), since the tight box is found before the one draw, not cropped from it: lesson 03's
  column (3 such figures of 6) went from 2.7 and 2.5 s to 1.9 and 1.7 s (2026-12-05, alternated likewise).
- ``korean_fallback()``: Hangul in titles, labels and legends (the Korean edition) drawn with an installed Korean
  font, glyph by glyph, after the default font (Latin text looks as before); ``import cnnbook`` calls it.
- ``contrast_ratio``, ``text_contrasts``, ``contrast_problems``, ``html_contrast_problems``: the WCAG
  contrast of every text in a figure against what is drawn under it (or of the colours in an HTML
  snippet against the page), used by the tests on every explorer and lesson figure.
"""
from __future__ import annotations

import re
from binascii import b2a_base64
from functools import cache
from dataclasses import dataclass
from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors as mcolors

from .i18n import _

__all__ = ["show_matrix", "show_images", "sharp_figures", "png_figure", "korean_fallback", "KOREAN_FONTS", "contrast_ratio", "text_contrasts",
           "contrast_problems", "html_contrast_problems", "readable_text_colour", "MIN_CONTRAST"]

#: WCAG 2 level AA: normal text needs 4.5:1 against its background, large text (>= 18 pt, or >= 14 pt bold) 3:1.
MIN_CONTRAST, MIN_CONTRAST_LARGE = 4.5, 3.0


#: zlib level of inline PNGs (PIL's default is 6): lossless either way, 1 is the fastest to write.
PNG_COMPRESS_LEVEL = 1


def sharp_figures(shell: Any = None) -> bool:
    """Inline figures as retina PNGs from now on in this IPython, drawn once and written fast (returns whether
    they are retina)."""
    from . import grading_mode

    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
        from matplotlib_inline.config import InlineBackend
    except ImportError:
        return False
    from IPython.core import pylabtools

    global _ipython_print_figure
    if pylabtools.print_figure is not _print_figure:   # every PNG (and retina) formatter calls it, also later ones
        _ipython_print_figure, pylabtools.print_figure = pylabtools.print_figure, _print_figure
    # The backend's own settings: read again when it loads (on the first figure), so the choice holds.
    backend = InlineBackend.instance(parent=shell)
    kwargs: dict[str, Any] = {**backend.print_figure_kwargs, "bbox_inches": "tight",
                              "pil_kwargs": {"compress_level": PNG_COMPRESS_LEVEL}}
    backend.print_figure_kwargs = kwargs
    formats = {"png"} if grading_mode() else {"retina"}
    backend.figure_formats = formats
    set_matplotlib_formats(*formats)      # and for a backend that is already loaded
    return "retina" in formats


def png_figure(fig, retina: bool = False, **kwargs) -> bytes:
    """``fig`` as the PNG IPython's inline backend writes with ``bbox_inches="tight"`` (``retina``: at twice the
    figure's dpi), drawn once where matplotlib's own tight path draws twice (once, with drawing turned off, to find
    the box; once to paint it).

    The rest is matplotlib's tight path, at the output dpi: the figure is laid out (its layout engine run, as a draw
    runs it), its tight box found (padded by ``pad_inches``, :rc:`savefig.pad_inches` by default; ``get_tightbbox``
    brings ticks, titles and aspect up to date itself, as constrained layout relies on), the figure shifted onto
    the box (``matplotlib._tight_bbox.adjust_bbox``, the layout engine off) and drawn with Agg. So the pixels are
    matplotlib's, text placed outside the figure is in the picture, and a frame round the figure is drawn round the
    box. ``kwargs``: those of ``Figure.savefig`` that IPython passes: ``dpi``, ``facecolor``, ``edgecolor``,
    ``pad_inches``, ``bbox_extra_artists``, ``pil_kwargs``; with any other (or ``pad_inches="layout"``)
    matplotlib's tight path writes the PNG. The figure is left as it was (its dpi, colours, canvas and layout
    engine)."""
    import io
    from contextlib import suppress

    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    dpi = kwargs.pop("dpi", None) or fig.dpi * (2 if retina else 1)
    rc = {"facecolor": matplotlib.rcParams["savefig.facecolor"], "edgecolor": matplotlib.rcParams["savefig.edgecolor"]}
    colours = {prop: kwargs.pop(prop, getattr(fig, f"get_{prop}")()) for prop in rc}      # IPython's: the figure's
    colours = {prop: rc[prop] if colour is None else colour for prop, colour in colours.items()}
    pad = kwargs.get("pad_inches")
    pad = matplotlib.rcParams["savefig.pad_inches"] if pad is None else pad
    buffer = io.BytesIO()
    adjust = _adjust_bbox()
    if adjust is None or not set(kwargs) <= {"pad_inches", "bbox_extra_artists", "pil_kwargs"} or pad == "layout":
        fig.canvas.print_figure(buffer, format="png", dpi=dpi, bbox_inches="tight", **colours, **kwargs)
        return buffer.getvalue()
    canvas, manager, old_dpi, engine = fig.canvas, fig.canvas.manager, fig.dpi, fig.get_layout_engine()
    old_colours = fig.get_facecolor(), fig.get_edgecolor()
    agg = canvas if isinstance(canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    restore_bbox = None
    try:
        canvas.manager = None                   # as matplotlib does: no window resized
        for prop, colour in colours.items():
            if colour != "auto":
                getattr(fig, f"set_{prop}")(colour)
        fig.dpi = dpi
        renderer = agg.get_renderer()
        if engine is not None:
            if fig.axes:
                with suppress(ValueError):      # as Figure.draw runs it
                    engine.execute(fig)
            fig.set_layout_engine("none")       # laid out: off while the box is painted, as in matplotlib's
        box = fig.get_tightbbox(renderer, bbox_extra_artists=kwargs.get("bbox_extra_artists")).padded(pad)
        restore_bbox = adjust(fig, box, renderer, agg.fixed_dpi)
        agg.draw()
        Image.fromarray(np.asarray(agg.buffer_rgba()), "RGBA").save(buffer, format="png", dpi=(dpi, dpi),
                                                                      **kwargs.get("pil_kwargs", {}))
    finally:
        if restore_bbox is not None:
            restore_bbox()
        if engine is not None:
            fig.set_layout_engine(engine)
        fig.dpi = old_dpi
        fig.set_facecolor(old_colours[0])
        fig.set_edgecolor(old_colours[1])
        canvas.manager = manager
        if agg is not canvas:
            fig.set_canvas(canvas)
    return buffer.getvalue()


@cache
def _adjust_bbox() -> Any:
    """matplotlib's private ``_tight_bbox.adjust_bbox`` as ``(fig, box, renderer, fixed_dpi)``: matplotlib 3.11 takes
    the renderer, 3.6 to 3.10 (Colab's, a learner's own install) do not; None where it is not there at all (then
    matplotlib's own tight path writes every PNG, drawing twice)."""
    import inspect

    try:
        from matplotlib import _tight_bbox

        adjust = _tight_bbox.adjust_bbox
        takes_renderer = "renderer" in inspect.signature(adjust).parameters
    except (ImportError, AttributeError, TypeError, ValueError):
        return None
    return adjust if takes_renderer else (lambda fig, box, renderer, fixed_dpi: adjust(fig, box, fixed_dpi))


_ipython_print_figure: Any = None     # IPython's own print_figure, where sharp_figures() put _print_figure


def _print_figure(fig, fmt="png", bbox_inches="tight", base64=False, **kwargs):
    """IPython's ``print_figure`` with its tight PNGs (plain and retina) written by ``png_figure``, in one draw;
    anything else (other formats, no tight box, a figure without axes) by IPython's own."""
    if fmt not in ("png", "retina") or bbox_inches != "tight" or not fig.axes:
        return _ipython_print_figure(fig, fmt, bbox_inches, base64, **kwargs)
    data = png_figure(fig, retina=fmt == "retina", **kwargs)
    return b2a_base64(data, newline=False).decode("ascii") if base64 else data


# Korean fonts, in order of preference: Linux (fonts-noto-cjk), Google Fonts, Windows, macOS, Naver's Nanum.
KOREAN_FONTS = ("Noto Sans CJK KR", "Noto Sans KR", "Malgun Gothic", "Apple SD Gothic Neo", "AppleGothic",
                "NanumGothic")


def korean_fallback() -> str | None:
    """Add the first installed Korean font to matplotlib's font families (matplotlib falls back glyph by glyph
    along ``font.family``); return its name, or None when no Korean font is installed.

    In the Korean edition (``cnnbook.i18n.language()``) the Korean font comes first: a title with math in it
    (``"소벨 엣지 세기 $\\sqrt{G_x^2 + G_y^2}$"``) is drawn by mathtext, whose text outside the dollars takes the
    first family only, with no fallback. Elsewhere it comes last, so English figures keep matplotlib's font."""
    import matplotlib
    from matplotlib import font_manager

    from .i18n import language

    installed = {font.name for font in font_manager.fontManager.ttflist}
    found = next((name for name in KOREAN_FONTS if name in installed), None)
    families = list(matplotlib.rcParams["font.family"])
    if found is not None:
        others = [name for name in families if name != found]
        matplotlib.rcParams["font.family"] = [found, *others] if language() == "ko" else [*others, found]
    return found


def show_matrix(matrix, title: str = "", ax=None, cmap: str = "coolwarm", fmt: str = "{:g}",
                center_zero: bool = True):
    """Draw a 2-D array as coloured cells with each value written in its cell; return the axes.

    Meant for the small worked examples (6x6 images, 3x3 kernels) where the numbers matter.
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"show_matrix needs a 2-D array (height, width), got shape {m.shape}")
    if ax is None:
        ax = plt.subplots(figsize=(0.45 * m.shape[1] + 1, 0.45 * m.shape[0] + 0.8))[1]
    limit = np.abs(m).max() or 1.0
    kwargs = dict(vmin=-limit, vmax=limit) if center_zero else {}
    image = ax.imshow(m, cmap=cmap, **kwargs)
    for (i, j), value in np.ndenumerate(m):
        ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=9,
                color=readable_text_colour(image.cmap(image.norm(value))))
    ax.set_xticks(range(m.shape[1]))
    ax.set_yticks(range(m.shape[0]))
    ax.set_xlabel(_("column (width)"))           # the explorers' words, in the learner's language
    ax.set_ylabel(_("row (height)"))
    ax.set_title(f"{title}  {m.shape[0]}x{m.shape[1]}".strip())
    return ax


def show_images(images: Sequence, titles: Sequence[str] | None = None, cmap: str = "gray",
                ncols: int | None = None, size: float = 3.0, suptitle: str = ""):
    """Show several images side by side (grey ones with ``cmap``); return the figure."""
    n = len(images)
    if n == 0:
        raise ValueError("show_images needs at least one image")
    ncols = ncols or min(n, 4)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            img = np.asarray(images[k])
            ax.imshow(img, cmap=None if img.ndim == 3 else cmap)
            if titles is not None:
                ax.set_title(f"{titles[k]}\n{img.shape}", fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def _linear(channel: np.ndarray) -> np.ndarray:
    return np.where(channel <= 0.04045, channel / 12.92, ((channel + 0.055) / 1.055) ** 2.4)


def luminance(rgb) -> np.ndarray:
    """WCAG relative luminance of sRGB colour(s) in [0, 1] (last axis: r, g, b)."""
    rgb = np.asarray(rgb, dtype=float)[..., :3]
    lin = _linear(rgb)
    return lin[..., 0] * 0.2126 + lin[..., 1] * 0.7152 + lin[..., 2] * 0.0722


def contrast_ratio(foreground, background) -> float:
    """WCAG contrast ratio (1 to 21) of two colours (any matplotlib colour spec)."""
    a = float(luminance(mcolors.to_rgb(foreground)))
    b = float(luminance(mcolors.to_rgb(background)))
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def readable_text_colour(background) -> str:
    """'black' or 'white', whichever has the larger contrast on ``background``."""
    return "black" if contrast_ratio("black", background) >= contrast_ratio("white", background) else "white"


@dataclass
class TextContrast:
    text: str
    colour: tuple
    background: tuple       # the median colour drawn under the text
    ratio: float
    needed: float

    @property
    def ok(self) -> bool:
        return self.ratio >= self.needed

    def __str__(self) -> str:
        hexes = mcolors.to_hex(self.colour), mcolors.to_hex(self.background)
        return (f"{self.text[:40]!r}: {hexes[0]} on {hexes[1]}, contrast {self.ratio:.2f}:1 "
                f"(needs {self.needed:g}:1)")


def text_contrasts(figure, page: str = "white") -> list[TextContrast]:
    """The contrast of every visible, non-empty text of ``figure`` against the pixels drawn under it.

    The figure is drawn once with its texts transparent (every artist drawn, also those an explorer animates
    for blitting); for each text the median colour under its box is the background, over ``page`` where
    the figure is transparent. Leaves the figure as it was.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    original_canvas = figure.canvas
    canvas = FigureCanvasAgg(figure)
    animated = [a for a in figure.findobj() if a.get_animated()]
    drawn: list = []
    texts: list = []
    alphas: list = []
    text_draw = Text.draw

    def recording_draw(self, renderer):     # only the texts a draw really draws (not off-view tick labels)
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)
        return text_draw(self, renderer)

    try:
        for artist in animated:
            artist.set_animated(False)
        Text.draw = recording_draw  # type: ignore[method-assign]
        try:
            canvas.draw()
        finally:
            Text.draw = text_draw  # type: ignore[method-assign]
        renderer = canvas.get_renderer()
        texts = list(dict.fromkeys(drawn))
        boxes = [(t, t.get_window_extent(renderer)) for t in texts]
        alphas = [t.get_alpha() for t in texts]
        for t in texts:     # transparent, not hidden: a layout engine would give a hidden text's room away
            t.set_alpha(0.0)
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba()).astype(float) / 255.0
    finally:
        for t, alpha in zip(texts, alphas):
            t.set_alpha(alpha)
        for artist in animated:
            artist.set_animated(True)
        figure.set_canvas(original_canvas)
    page_rgb = np.array(mcolors.to_rgb(page))
    rgb = rgba[..., :3] * rgba[..., 3:] + page_rgb * (1 - rgba[..., 3:])
    height, width = rgb.shape[:2]
    results = []
    for text, box in boxes:
        x0, x1 = int(max(box.x0, 0)), int(min(np.ceil(box.x1), width))
        y0, y1 = int(max(height - np.ceil(box.y1), 0)), int(min(height - box.y0, height))
        if x1 <= x0 or y1 <= y0:
            continue                        # outside the picture: not shown
        patch = text.get_bbox_patch()
        if patch is not None and patch.get_visible() and patch.get_facecolor()[3] > 0:
            face = np.array(patch.get_facecolor())
            ground = np.broadcast_to(face[:3] * face[3] + np.median(rgb[y0:y1, x0:x1].reshape(-1, 3), axis=0)
                                     * (1 - face[3]), (1, 3))
        else:
            ground = rgb[y0:y1, x0:x1].reshape(-1, 3)
        background = np.median(ground, axis=0)
        r, g, b, a = mcolors.to_rgba(text.get_color(), text.get_alpha())
        colour = np.array([r, g, b]) * a + background * (1 - a)
        ratio = contrast_ratio(colour, background)
        size, bold = text.get_fontsize(), str(text.get_fontweight()) in ("bold", "heavy", "black", "700", "800",
                                                                        "900")
        needed = MIN_CONTRAST_LARGE if size >= 18 or (bold and size >= 14) else MIN_CONTRAST
        results.append(TextContrast(text.get_text(), tuple(colour), tuple(background), ratio, needed))
    return results


def contrast_problems(figure, page: str = "white") -> list[str]:
    """One line per text of ``figure`` whose contrast is below WCAG AA (empty: every text reads)."""
    return [str(c) for c in text_contrasts(figure, page) if not c.ok]


_HTML_COLOUR = re.compile(r"(?<![-\w])color\s*:\s*(#[0-9a-fA-F]{3,8}|[a-zA-Z]+)")
_HTML_BACKGROUND = re.compile(r"background(?:-color)?\s*:\s*(#[0-9a-fA-F]{3,8}|[a-zA-Z]+)")


def html_contrast_problems(html: str, page: str = "white") -> list[str]:
    """Every text colour set in ``html`` (``color:`` in a style) checked against ``page`` (or against a
    ``background`` set in the same HTML); one line per colour below 4.5:1."""
    backgrounds = [page] + _HTML_BACKGROUND.findall(html or "")
    problems = []
    for colour in sorted(set(_HTML_COLOUR.findall(html or ""))):
        for ground in backgrounds:
            ratio = contrast_ratio(colour, ground)
            if ratio < MIN_CONTRAST:
                problems.append(f"text colour {colour} on {ground}: contrast {ratio:.2f}:1 (needs 4.5:1)")
    return problems
