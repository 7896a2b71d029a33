"""Pictures a learner can read: explorers drawn at the size shown (twice the pixels, for HiDPI), sliders that
keep their length, text with enough contrast, sharp inline figures, and words that put the blame right."""
from __future__ import annotations

import ast
import io
import itertools
import json

import ipywidgets as widgets
import matplotlib
import nbformat
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image as PILImage

from cnnbook.cost import CostExplorer
from cnnbook.nms_explorer import NMSExplorer
from cnnbook.plotting import (contrast_problems, contrast_ratio, html_contrast_problems, readable_text_colour,
                              show_matrix)
from cnnbook.pool_explorer import PoolExplorer
from cnnbook.scaling import ScalingExplorer
from cnnbook.widgets import (PIXEL_RATIO, SLIDER_TRACK_PX, ConvExplorer, PhotoConvExplorer, explain_settings,
                             pixel_ratio)

matplotlib.use("Agg")

# every explorer, in its default state and in a few others (set(...) arguments)
EXPLORERS = {
    ConvExplorer: [{}, dict(n=3, f=5), dict(n=12, f=2, p=3, s=4)],
    PhotoConvExplorer: [{}, dict(kernel="box blur", f=9, p=0, s=3), dict(kernel="horizontal edges", f=1)],
    PoolExplorer: [{}, dict(f=16, s=1, mode="average"), dict(source="edge map", f=3, s=2)],
    CostExplorer: [{}, dict(n=64, f=7, c_in=256, c_out=512, padding="same"), dict(f=1, c_out=1)],
    ScalingExplorer: [{}, dict(phi=4.0, strategy="width only"), dict(phi=0.0)],
    NMSExplorer: [{}, dict(canvas=34, score_threshold=0.01, iou_threshold=0.9),
                  dict(canvas=8, score_threshold=0.6, iou_threshold=0.0, mode="all classes")],
}


def make(cls):
    """An explorer in its default state; lesson 10's needs a detector and canvases: the shipped ones."""
    if cls is NMSExplorer:
        from test_nms_explorer import shipped_explorer

        return shipped_explorer()
    return cls()


def states():
    for cls, settings in EXPLORERS.items():
        explorer = make(cls)
        for values in settings:
            explorer.set(**values)
            yield f"{cls.__name__}{values}", explorer


def test_every_explorer_text_passes_the_contrast_check():
    problems = []
    for name, explorer in states():
        problems += [f"{name}: {p}" for p in contrast_problems(explorer.figure)]
        for html in (explorer.formula_html.value, explorer.explanation_html.value, explorer.note_html.value):
            problems += [f"{name}: {p}" for p in html_contrast_problems(html)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("cls", list(EXPLORERS), ids=lambda c: c.__name__)
def test_explorers_are_drawn_at_twice_the_size_they_are_shown(cls):
    explorer = make(cls)
    picture = PILImage.open(io.BytesIO(explorer.png))
    layout = explorer.image.layout
    assert layout.width == f"{explorer.css_width}px" and layout.max_width == "calc(100% - 4px)" and layout.height == "auto"
    assert picture.size[0] == PIXEL_RATIO * explorer.css_width, (picture.size, explorer.css_width)
    inches = explorer.figure.get_size_inches()
    assert picture.size[1] == round(PIXEL_RATIO * explorer.css_width * inches[1] / inches[0])
    assert explorer.css_width >= 640, "too small to read at 1:1"


def test_while_grading_explorers_draw_one_pixel_per_css_pixel(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert pixel_ratio() == 1
    explorer = ConvExplorer()
    assert PILImage.open(io.BytesIO(explorer.png)).size[0] == explorer.css_width


def sliders_of(widget):
    if isinstance(widget, (widgets.IntSlider, widgets.FloatSlider)):
        yield widget
    for child in getattr(widget, "children", ()):
        yield from sliders_of(child)


@pytest.mark.parametrize("cls", list(EXPLORERS), ids=lambda c: c.__name__)
def test_sliders_keep_their_length_and_rows_wrap(cls):
    explorer = make(cls)
    sliders = list(sliders_of(explorer.widget))
    assert sliders
    for slider in sliders:
        width = int(slider.layout.width.removesuffix("px"))
        assert slider.layout.min_width == slider.layout.width and slider.layout.flex == "0 0 auto"
        assert width >= SLIDER_TRACK_PX + 8 * len(slider.description), slider.description
        assert width <= 560, f"{slider.description}: wider than a 600 px notebook"
    rows = [box for box in explorer.widget.children if isinstance(box, widgets.HBox)]
    assert rows and all(box.layout.flex_flow == "row wrap" for box in rows)
    assert "Run this cell" in explorer.note_html.value


def test_the_explanations_never_blame_the_stride_on_padding():
    for n, f, p, s in itertools.product(range(1, 13), range(1, 8), range(0, 4), range(1, 5)):
        info = explain_settings(n, f, p, s)
        if not info["ok"]:
            continue
        message = info["message"]
        if p == 0 and info["out"] != n:
            assert f"f − 1 = {f - 1}" in message, (n, f, p, s, message)
        if s > 1 and info["out"] != n and n + 2 * p - f + 1 == 1:
            # one window position: the stride keeps it and changes nothing (tests/test_widgets.py has the numbers)
            assert f"the stride s = {s} changes nothing" in message, (n, f, p, s, message)
        elif s > 1 and info["out"] != n:
            assert f"stride {s} keeps one in {s}" in message, (n, f, p, s, message)
        assert "smaller than the input" not in message or s == 1, (n, f, p, s, message)
    photo = PhotoConvExplorer(f=3, p=0, s=2)
    text = photo.explanation_html.value
    assert "loses" not in text and "f − 1 = 2" in text and "stride 2 keeps one window in 2" in text


def test_the_contrast_check_finds_dark_on_dark_and_passes_show_matrix():
    assert contrast_ratio("black", "white") == pytest.approx(21.0)
    assert readable_text_colour("#440154") == "white" and readable_text_colour("#fde725") == "black"
    figure = Figure()
    ax = figure.subplots()
    ax.imshow(np.zeros((3, 3)), cmap="viridis")
    ax.text(1, 1, "5", color="black")
    problems = contrast_problems(figure)
    assert len(problems) == 1 and "'5'" in problems[0] and "#440154" in problems[0]
    for cmap in ("coolwarm", "viridis", "gray", "magma"):
        ax = show_matrix(np.arange(-12, 13).reshape(5, 5), cmap=cmap)
        assert not contrast_problems(ax.figure), cmap
    assert html_contrast_problems("<span style='color:#aaaaaa'>x</span>")
    assert not html_contrast_problems("<span style='color:#57606a'>x</span>")


INLINE = {"MPLBACKEND": "module://matplotlib_inline.backend_inline"}   # as in JupyterLab (conftest sets agg)


def _run(cells: list[str], env: dict | None = None):
    """Run ``cells`` in a real kernel whose environment has ``env`` on top of the inline backend."""
    import os

    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    env = {**INLINE, **(env or {})}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


FIGURE = ["import cnnbook\nimport matplotlib.pyplot as plt\nplt.rcParams['figure.dpi'] = 80",
          "plt.plot([1, 2, 3]); plt.title('10$^9$ MACs')"]


def _png(nb):
    outputs = [o for o in nb.cells[1].outputs if "image/png" in o.get("data", {})]
    assert len(outputs) == 1, nb.cells[1].outputs
    import base64

    return PILImage.open(io.BytesIO(base64.b64decode(outputs[0]["data"]["image/png"]))), outputs[0]


@pytest.mark.slow
def test_inline_figures_are_retina_in_a_notebook_and_plain_while_grading():
    picture, output = _png(_run(FIGURE))
    shown = output["metadata"]["image/png"]["width"]
    assert picture.size[0] in (2 * shown, 2 * shown + 1)      # drawn at twice the pixels it is shown with
    assert picture.size[0] > 6.4 * 80                         # more than a 6.4-inch figure at 80 dpi can have
    picture, output = _png(_run(FIGURE, env={"NBGRADER_EXECUTION": "autograde"}))
    assert picture.size[0] <= 6.4 * 80 and "width" not in output.get("metadata", {}).get("image/png", {})


@pytest.mark.slow
def test_a_notebook_figure_is_drawn_once_at_twice_its_dpi_into_matplotlibs_picture():
    """IPython's print_figure with bbox_inches="tight" drew every figure twice at the retina dpi (once to find the
    box); after ``import cnnbook`` it is drawn once (cnnbook.plotting.png_figure), into a PNG of the same size."""
    nb = _run([FIGURE[0],
               "import io\nfrom matplotlib.figure import Figure\nfrom PIL import Image\n"
               "fig, ax = plt.subplots(layout='constrained')\nfig.colorbar(ax.imshow([[0, 1], [2, 3]]))\n"
               "ax.set_title('합성곱 (convolution)')\nfig.suptitle('suptitle')\n"
               "buffer = io.BytesIO()\nfig.savefig(buffer, dpi=2 * fig.dpi, bbox_inches='tight')\n"
               "size = Image.open(buffer).size\ndpis = []\n_draw = Figure.draw\n"
               "Figure.draw = lambda self, renderer: dpis.append(renderer.dpi) or _draw(self, renderer)",
               "Figure.draw = _draw\nprint(size, [dpi for dpi in dpis if dpi == 160])"])
    picture, output = _png(nb)
    text = nb.cells[2].outputs[0]["text"]
    (width, height), retina_draws = ast.literal_eval(text.replace(") [", "), ["))
    assert retina_draws == [160], text                                 # once, at twice the 80 dpi
    assert abs(picture.size[0] - width) <= 1 and abs(picture.size[1] - height) <= 1, (picture.size, text)
    assert output["metadata"]["image/png"] == {"width": picture.size[0] // 2, "height": picture.size[1] // 2}


@pytest.mark.slow
def test_a_cell_that_stops_scrolls_itself_into_view_once():
    nb = _run(["import cnnbook", "x = 1", "1 / 0"])
    assert not any("cnnbook_scroll_here" in json.dumps(o) for o in nb.cells[1].outputs)
    html = [o["data"]["text/html"] for o in nb.cells[2].outputs if "text/html" in o.get("data", {})]
    assert len(html) == 1 and "scrollIntoView" in html[0] and "Date.now()" in html[0]
    graded = _run(["import cnnbook", "1 / 0"], env={"NBGRADER_EXECUTION": "autograde"})
    assert not any("text/html" in o.get("data", {}) for o in graded.cells[1].outputs)


def _titles_that_touch(figure) -> list[str]:
    """Pairs of titles (the figure's suptitle, each axes' title) whose boxes overlap or are less than 3 px apart (at
    the dpi the figure was last drawn)."""
    renderer = figure.canvas.get_renderer()
    titles = [t for t in [figure._suptitle, *(ax.title for ax in figure.axes)] if t is not None and t.get_text()]
    boxes = [(t.get_text(), t.get_window_extent(renderer).expanded(1.0, 1.0).padded(1.5)) for t in titles]
    return [f"{a!r} and {b!r}" for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2) if box_a.overlaps(box_b)]


# (lesson, words that pick its figure cells, how many, whether the cells before them must run first): figure cells
# that draw from the lesson's imports alone, or after every code cell before them, answers filled in. Slow (2 to 7 s
# each: torch, training): the fast tier stays under its 2 minutes.
WORKED_FIGURES = [pytest.param("03", ("fig.suptitle(", "receptive_field("), 5, False, id="03"),
                  pytest.param("09", ("template = weight[3]",), 1, False, id="09"),
                  pytest.param("02", ("show_matrix(SOBEL_X, ",), 1, True, id="02")]


@pytest.mark.slow
@pytest.mark.parametrize("edition", ["en", "ko"])
@pytest.mark.parametrize("slug2,words,count,after_the_cells_before", WORKED_FIGURES)
def test_worked_figures_read_in_both_editions(slug2, words, count, after_the_cells_before, edition):
    """From a Korean learner's trial in JupyterLab: in lesson 03 the labels 3x3, 5x5, 7x7 of the receptive-field
    figure were crimson on blue (1.04:1 on the darkest), and the suptitle of lesson 03's coverage and padding-mode
    figures, of lesson 09's templates and of lesson 02's learned filters ran into a panel's title (in the Korean
    edition most: Hangul is taller). Each of those figure cells runs here as the lesson runs it, in both editions."""
    import matplotlib.pyplot as plt

    from autograde.i18n import translated_path
    from autograde.lessons import NOTEBOOKS, all_lessons, grade_cells
    from cnnbook import i18n
    from cnnbook.plotting import korean_fallback

    lesson = next(lesson for lesson in all_lessons() if lesson.slug.startswith(slug2))
    path = translated_path(NOTEBOOKS, "ko", lesson.slug) if edition == "ko" else lesson.student_version
    notebook = nbformat.read(path, as_version=4)
    if after_the_cells_before:
        from conftest import answer_sources

        answered = grade_cells(notebook)
        for grade_id, text in answer_sources(lesson).items():
            answered[grade_id].source = text
    cells = [c for c in notebook.cells if c.cell_type == "code" and "google.colab" not in c.source
             and not c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("test_")]
    imports = next(c.source for c in cells if "import matplotlib.pyplot as plt" in c.source)
    drawn = [c for c in cells if any(word in c.source for word in words) and "plt.show()" in c.source]
    assert len(drawn) == count, f"{len(drawn)} figure cells found in lesson {slug2}, expected {count}"
    problems = []
    i18n.set_language(edition)
    try:
        with matplotlib.rc_context():
            korean_fallback()
            for cell in drawn:
                figures = []
                space: dict = {}
                exec(compile(imports, "imports", "exec"), space)
                space["plt"].show = lambda *args, **kwargs: plt.close("all")      # the figures before it
                for before in cells[:cells.index(cell)] if after_the_cells_before else []:
                    if before.source != imports:
                        exec(compile(before.source, "a cell before", "exec"), space)
                space["plt"].show = lambda *args, **kwargs: figures.append(plt.gcf())
                exec(compile(cell.source, "figure cell", "exec"), space)
                for figure in figures:
                    figure.dpi *= 2                 # laid out once at the inline PNG's dpi, as png_figure does
                    figure.canvas.draw()            # (a second layout, as contrast_problems draws, moves titles)
                    problems += [f"titles touch: {p}" for p in _titles_that_touch(figure)]
                    figure.dpi /= 2
                    problems += [f"{figure.get_suptitle() or figure.axes[0].get_title()}: {p}"
                                 for p in contrast_problems(figure)]
                plt.close("all")
    finally:
        i18n.set_language(None)
    assert not problems, "\n".join(problems)
