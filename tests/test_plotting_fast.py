"""Inline PNGs in one draw (cnnbook.plotting.png_figure): the same pictures as matplotlib's ``bbox_inches="tight"``
(which draws every figure twice), pixel for pixel, for every kind of figure the lessons make, also those that reach
past the figure's edge, and nothing clipped."""
from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
from IPython.core import pylabtools
from matplotlib.figure import Figure
from PIL import Image

from cnnbook import plotting
from cnnbook.plotting import PNG_COMPRESS_LEVEL, korean_fallback, png_figure, show_matrix

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


def below():
    """Lesson 03's kind (12 x 4.2 in, three annotated matrices), without a layout engine: its x labels and tick
    labels below the figure's bottom edge."""
    fig = Figure(figsize=(12, 4.2), dpi=40)
    fig.subplots_adjust(bottom=-0.04, top=0.88)
    for p, ax in enumerate(fig.subplots(1, 3)):
        show_matrix(np.arange(49).reshape(7, 7) % (p + 3), title=f"p={p}:", ax=ax, cmap="viridis", center_zero=False)
    fig.suptitle("How many 3x3 windows see each pixel of a 7x7 image")
    return fig


def wide_title():
    """Constrained layout with a suptitle wider than the figure: past its left and right edges."""
    fig = Figure(figsize=(4, 2.5), dpi=60, layout="constrained")
    for ax in fig.subplots(1, 2):
        show_matrix(np.eye(3), ax=ax)
    fig.suptitle("One step of cross-correlation: the orange window times the kernel, summed, gives Z[0, 0]")
    return fig


FIGURES = [plain, tight, constrained, colorbar, hangul, below, wide_title]


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


def same(a: Image.Image, b: Image.Image) -> bool:
    """The same size and the same RGBA values in every pixel."""
    return a.size == b.size and np.array_equal(np.asarray(a.convert("RGBA")), np.asarray(b.convert("RGBA")))


@pytest.mark.parametrize("retina", [False, True], ids=["png", "retina"])
@pytest.mark.parametrize("build", FIGURES, ids=lambda f: f.__name__)
def test_the_one_draw_png_is_matplotlibs_tight_png(build, retina):
    fig = build()
    dpi = fig.dpi * (2 if retina else 1)
    ours = decoded(png_figure(build(), retina=retina, pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL}))
    theirs = matplotlibs(fig, dpi)
    # the same box, painted as matplotlib paints it (its corner between pixels where it falls there)
    assert same(ours, theirs), (ours.size, theirs.size)


def test_the_figure_is_left_as_it_was():
    def state(fig):         # adjust_bbox's changes, too: the figure's box, its patch, the axes' locators
        return (fig.dpi, fig.bbox.bounds, fig.patch.get_bbox().bounds, fig.get_facecolor(), fig.get_edgecolor(),
                fig.canvas, fig.get_layout_engine(), [(ax.get_axes_locator(), "apply_aspect" in vars(ax))
                                                       for ax in fig.axes])

    for build in FIGURES:
        fig = build()
        before = state(fig)
        png_figure(fig, retina=True, facecolor="yellow")
        assert state(fig) == before
        assert decoded(png_figure(fig)).size == matplotlibs(fig, fig.dpi).size       # and draws the same again


def test_the_figures_reaching_past_their_edges_do():
    fig = below()
    fig.draw_without_rendering()
    assert fig.get_tightbbox().y0 < 0
    fig = wide_title()
    fig.draw_without_rendering()
    box = fig.get_tightbbox()
    assert box.x0 < 0 and box.x1 > fig.get_figwidth()


@pytest.mark.parametrize("build", [plain, constrained], ids=lambda f: f.__name__)
def test_text_beyond_the_figure_is_not_clipped_nor_a_frame_lost(build, counted_draws):
    def with_text_outside():
        fig = build()
        fig.set_size_inches(4, 3)       # plain: the default margins are too small for the tick labels and y label
        fig.axes[0].text(1.1, 0.5, "far to the right", transform=fig.axes[0].transAxes)
        fig.text(0.5, 1.05, "above the figure")
        return fig

    fig = with_text_outside()
    engine = fig.get_layout_engine()
    ours = decoded(png_figure(fig, retina=True))
    assert len(counted_draws) == 1 and fig.get_layout_engine() is engine
    # a fresh figure: constrained layout run again from where it left off may move things by a pixel
    theirs = matplotlibs(with_text_outside(), 2 * fig.dpi)
    assert same(ours, theirs) and ours.width > 2 * 4 * fig.dpi
    fig = tight()
    fig.patch.set(linewidth=3, edgecolor="red")         # a frame: drawn round the tight box
    assert same(decoded(png_figure(fig)), matplotlibs(fig, fig.dpi))


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



def test_a_matplotlib_without_the_renderer_argument_or_without_the_helper_still_gets_its_picture(monkeypatch,
                                                                                                 counted_draws):
    """matplotlib 3.6-3.10 (Colab's, a learner's own install) has ``_tight_bbox.adjust_bbox(fig, bbox_inches,
    fixed_dpi)``, without 3.11's renderer: called with four arguments it would raise TypeError on every figure.
    That signature still draws once; where the helper is not found, matplotlib's own tight path (two draws)."""
    from matplotlib import _tight_bbox

    real = _tight_bbox.adjust_bbox
    calls = []

    def older(fig, bbox_inches, fixed_dpi=None):          # 3.10's signature, 3.11's work (the renderer it finds)
        calls.append(fixed_dpi)
        return real(fig, bbox_inches, fig.canvas.get_renderer(), fixed_dpi)

    plotting._adjust_bbox.cache_clear()
    monkeypatch.setattr(_tight_bbox, "adjust_bbox", older)
    fig = below()
    ours = decoded(png_figure(fig, retina=True))
    assert len(counted_draws) == 1 and len(calls) == 1
    monkeypatch.setattr(_tight_bbox, "adjust_bbox", real)
    plotting._adjust_bbox.cache_clear()
    assert same(ours, matplotlibs(below(), fig.dpi * 2))

    monkeypatch.setattr(plotting, "_adjust_bbox", lambda: None)        # not found
    counted_draws.clear()
    ours = decoded(png_figure(below(), retina=True))
    assert len(counted_draws) == 2 and same(ours, matplotlibs(below(), fig.dpi * 2))


def test_show_matrix_names_its_axes_in_the_learners_language():
    """From a Korean learner's trial: every worked matrix of the Korean edition (lessons 02-05) said "row (height)"
    and "column (width)" in English, where the explorers beside them say 행 (높이) and 열 (너비)."""
    from cnnbook.i18n import set_language

    set_language("ko")
    try:
        ax = show_matrix(np.eye(3), ax=Figure().subplots())
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("열 (너비)", "행 (높이)")
    finally:
        set_language(None)
    ax = show_matrix(np.eye(3), ax=Figure().subplots())
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("column (width)", "row (height)")
