"""Inline PNGs in one draw (cnnbook.plotting.png_figure): the same pictures as matplotlib's ``bbox_inches="tight"``
(which draws every figure twice), for every kind of figure the lessons make, and nothing clipped."""
from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
from IPython.core import pylabtools
from matplotlib.figure import Figure
from PIL import Image

from cnnbook import plotting
from cnnbook.plotting import PNG_COMPRESS_LEVEL, korean_fallback, png_figure

matplotlib.use("Agg")


def plain():
    fig = Figure(dpi=60, facecolor="lavender")          # matplotlib's default size, no layout engine
    ax = fig.subplots()
    ax.plot([1, 3, 2], label="loss")
    ax.set(title="10$^9$ MACs", xlabel="epoch", ylabel="loss")
    return fig


def tight():
    fig = Figure(figsize=(5, 3), dpi=72)
    axes = fig.subplots(1, 2)
    for ax in axes:
        ax.plot([0, 1], [1, 0], label="line")
        ax.set_title("tight_layout")
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1))     # a legend outside the axes
    fig.suptitle("a suptitle")
    fig.tight_layout()
    return fig


def constrained():
    fig = Figure(figsize=(5, 3), dpi=100, layout="constrained", facecolor="none")     # transparent
    axes = fig.subplots(1, 2)
    for ax in axes:
        image = ax.imshow(np.arange(36.0).reshape(6, 6), cmap="viridis")
        ax.set_title("feature map")
    fig.colorbar(image, ax=axes, label="activation")
    fig.suptitle("constrained, with a colorbar")
    fig.legend(["x"], loc="outside right upper")
    return fig


def colorbar():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=90)      # through pyplot: an Agg canvas and a manager
    fig.colorbar(ax.imshow(np.eye(5), cmap="gray"), ax=ax)
    ax.set_xticks(range(5))
    return fig


def hangul():
    from cnnbook.i18n import set_language

    set_language("ko")              # the Korean edition: its font first (mathtext takes the first family only)
    try:
        korean_fallback()
    finally:
        set_language(None)
    fig = Figure(figsize=(4, 3), dpi=80)
    ax = fig.subplots()
    ax.bar(["합성곱", "풀링"], [3, 1])
    ax.set_title("소벨 엣지 세기 $\\sqrt{G_x^2 + G_y^2}$")
    ax.set_ylabel("시간 (초)")
    fig.tight_layout()
    return fig


FIGURES = [plain, tight, constrained, colorbar, hangul]


@pytest.fixture(autouse=True)
def _fonts_kept_and_figures_closed():
    import matplotlib.pyplot as plt

    with matplotlib.rc_context():
        yield
    plt.close("all")


def matplotlibs(fig, dpi) -> Image.Image:
    """The PNG IPython wrote before: matplotlib's tight path (two draws)."""
    buffer = io.BytesIO()
    fig.canvas.print_figure(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor=fig.get_facecolor(),
                            edgecolor=fig.get_edgecolor())
    return Image.open(buffer)


def decoded(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def difference(a: Image.Image, b: Image.Image, shift: int = 0) -> float:
    """Mean absolute difference (0-255) of two pictures' RGBA values where they overlap; with ``shift``, of each
    pixel of ``a`` from the nearest in value of ``b``'s within ``shift`` pixels (blind to sub-pixel placing)."""
    width, height = min(a.width, b.width), min(a.height, b.height)
    ours, theirs = (np.asarray(p.convert("RGBA"), dtype=float)[:height, :width] for p in (a, b))
    theirs = np.pad(theirs, ((shift, shift), (shift, shift), (0, 0)), mode="edge")
    offsets = range(-shift, shift + 1)
    return float(np.min([np.abs(ours - theirs[shift + dy:shift + dy + height, shift + dx:shift + dx + width])
                         for dy in offsets for dx in offsets], axis=0).mean())


@pytest.mark.parametrize("retina", [False, True], ids=["png", "retina"])
@pytest.mark.parametrize("build", FIGURES, ids=lambda f: f.__name__)
def test_the_one_draw_png_is_matplotlibs_tight_png(build, retina):
    fig = build()
    dpi = fig.dpi * (2 if retina else 1)
    ours = decoded(png_figure(build(), retina=retina, pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL}))
    theirs = matplotlibs(fig, dpi)
    assert abs(ours.width - theirs.width) <= 1 and abs(ours.height - theirs.height) <= 1, (ours.size, theirs.size)
    # matplotlib paints the box where it falls, between pixels; the crop is on whole pixels: lines and letters land
    # up to half a pixel apart (measured: at most 4.0 in all, 0.7 within a pixel; 0 where the box's corner is whole)
    assert difference(ours, theirs) < 5 and difference(ours, theirs, shift=1) < 1.5


def test_the_figure_is_left_as_it_was():
    for build in FIGURES:
        fig = build()
        before = fig.dpi, fig.get_facecolor(), fig.get_edgecolor(), fig.canvas, fig.get_layout_engine()
        png_figure(fig, retina=True, facecolor="yellow")
        assert (fig.dpi, fig.get_facecolor(), fig.get_edgecolor(), fig.canvas, fig.get_layout_engine()) == before
        assert decoded(png_figure(fig)).size == matplotlibs(fig, fig.dpi).size       # and draws the same again


@pytest.mark.parametrize("build", [plain, constrained], ids=lambda f: f.__name__)
def test_text_beyond_the_figure_is_not_clipped_nor_a_frame_lost(build, counted_draws):
    fig = build()
    fig.set_size_inches(4, 3)       # plain: the default margins are too small for the tick labels and the y label
    fig.axes[0].text(1.1, 0.5, "far to the right", transform=fig.axes[0].transAxes)
    fig.text(0.5, 1.05, "above the figure")
    engine = fig.get_layout_engine()
    ours = decoded(png_figure(fig, retina=True))
    assert len(counted_draws) == 2       # the box found by the first draw, painted by matplotlib's (as before)
    assert fig.get_layout_engine() is engine
    theirs = matplotlibs(fig, 2 * fig.dpi)
    assert ours.size == theirs.size and ours.width > 2 * 4 * fig.dpi
    assert difference(ours, theirs) < 1.0
    fig = tight()
    fig.patch.set(linewidth=3, edgecolor="red")         # a frame: drawn round the tight box
    ours, theirs = decoded(png_figure(fig)), matplotlibs(fig, fig.dpi)
    assert ours.size == theirs.size and difference(ours, theirs) < 1.0


@pytest.fixture
def counted_draws(monkeypatch):
    """The number of times any figure is drawn."""
    draws = []
    draw = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda self, renderer: draws.append(self) or draw(self, renderer))
    return draws


@pytest.fixture
def one_draw_ipython(monkeypatch):
    """IPython's print_figure as sharp_figures() leaves it: tight PNGs by png_figure."""
    monkeypatch.setattr(plotting, "_ipython_print_figure", pylabtools.print_figure)
    monkeypatch.setattr(pylabtools, "print_figure", plotting._print_figure)


@pytest.mark.parametrize("build", FIGURES, ids=lambda f: f.__name__)
def test_ipythons_inline_png_draws_each_figure_once(build, one_draw_ipython, counted_draws):
    fig = build()
    kwargs = {"bbox_inches": "tight", "pil_kwargs": {"compress_level": PNG_COMPRESS_LEVEL}}
    data, metadata = pylabtools.retina_figure(fig, **kwargs)
    assert len(counted_draws) == 1
    picture = decoded(data)
    assert metadata == {"width": picture.width // 2, "height": picture.height // 2}
    assert abs(picture.width - matplotlibs(fig, 2 * fig.dpi).width) <= 1
    counted_draws.clear()
    assert isinstance(pylabtools.print_figure(fig, fmt="png", base64=True, **kwargs), str)
    assert len(counted_draws) == 1


def test_ipython_writes_the_rest_as_before(one_draw_ipython):
    assert pylabtools.print_figure(Figure(), fmt="png") is None              # a figure without axes: no picture
    assert pylabtools.print_figure(plain(), fmt="svg").startswith("<?xml")  # other formats: IPython's own
