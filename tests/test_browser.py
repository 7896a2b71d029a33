"""The course in a real browser: JupyterLab serves every lesson, Chromium runs it and we look at the page.

Each lesson is opened as a learner would have it once solved (the released student notebook with the
answers filled in), run with Run > Run All Cells, and checked for error or stderr output, widgets stuck at
"Loading widget", widgets shown as raw text, and widgets that did not render. Every lesson runs once in its
Korean edition (which also shows that Hangul has a font) and every explorer there is moved; the English
edition runs in the browser where an English page is read (the lesson-03 explorer, moved with the keyboard
and by dragging, must redraw as the formula says; lesson 08's bars; lesson 10's NMS counts). The two editions
share every line of code (autograde.i18n.same_code), and tests/test_notebooks.py runs every English lesson.
Screenshots land in test-artifacts/browser/.
"""
from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path

import pytest

from conftest import LESSONS, solved, write
from lab import (CHROMIUM, CHROMIUM_ARGS, run_all_cells, start_lab, start_run_all, wait_kernel_idle)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"
# docs/screenshots.py sets this to docs/screenshots: the README's pictures come from these tests
SCREENSHOTS = Path(os.environ["CNNBOOK_SCREENSHOTS"]) if os.environ.get("CNNBOOK_SCREENSHOTS") else ARTIFACTS
RAW_WIDGET_TEXT = re.compile(r"\b(VBox|HBox|IntSlider|FloatSlider|Dropdown|Tab|Image|HTML)\(")
# A course explorer made in a lesson's code: `ConvExplorer(n=7, ...)`, `explorer = ScalingExplorer(...)` (not its import)
EXPLORER_MADE = re.compile(r"^\s*(?:\w+\s*=\s*)?([A-Z]\w*Explorer)\(", re.M)
# Lessons whose student version exists (all of them once released; test_notebooks checks that).
RELEASED = [lesson for lesson in LESSONS if lesson.student_version.is_file()]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM:
        message = "Chromium is not installed (apt-get install chromium); the browser tests need it"
        if os.environ.get("CI"):
            pytest.fail(message + ": CI must install it (.ci/run does)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    server = start_lab(root, tmp_path_factory.mktemp("jupyter-home"))
    yield server
    server.stop()


def _run_whole(page) -> None:
    """Run > Run All Cells in this page, and wait until every cell has run and the kernel is idle. One lesson at a
    time, in front: lessons once overlapped in two tabs to save time, and under load the tab in the background
    sometimes never finished its Run All (JupyterLab draws a tab in the background only when it is shown)."""
    try:
        run_all_cells(page)
    except BaseException:
        page.close()
        raise


def _kept_pages(browser, url_of):
    """(browser context, slug -> page): each lesson's page opened at ``url_of(slug)`` on first use, run to the
    end, and kept open for later tests."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = {}

    def open_lesson(slug: str):
        if slug not in opened:
            page = context.new_page()
            page.goto(url_of(next(lesson for lesson in LESSONS if lesson.slug == slug)))
            _run_whole(page)
            opened[slug] = page
        return opened[slug]

    return context, open_lesson


@pytest.fixture(scope="module")
def pages(browser, lab):
    """Lesson slug -> its page, solved and run to the end (kept open for later tests)."""
    def url_of(lesson):
        write(solved(lesson), lab.root / lesson.slug / f"{lesson.slug}.ipynb")
        return lab.page_url(f"{lesson.slug}/{lesson.slug}.ipynb")

    context, open_lesson = _kept_pages(browser, url_of)
    yield open_lesson
    context.close()


@pytest.fixture(scope="module")
def korean_pages(browser, lab):
    """Lesson slug -> its page in the Korean edition (notebooks/ko, opened from a folder named ko as cnnbook.lab
    opens it), answered with the solutions and run to the end (kept open for later tests)."""
    import nbformat

    from autograde.i18n import translated_path
    from autograde.lessons import NOTEBOOKS, grade_cells
    from conftest import answer_sources

    def url_of(lesson):
        nb = nbformat.read(translated_path(NOTEBOOKS, "ko", lesson.slug), as_version=4)
        cells = grade_cells(nb)
        for gid, text in answer_sources(lesson).items():
            cells[gid].source = text
        write(nb, lab.root / "ko" / lesson.slug / f"{lesson.slug}.ipynb")
        return lab.page_url(f"ko/{lesson.slug}/{lesson.slug}.ipynb") + "&reset"

    context, open_lesson = _kept_pages(browser, url_of)
    yield open_lesson
    context.close()


# Every lesson runs in the Korean edition (where the explorers, lesson 08's bars and lesson 10's NMS counts are
# read too); lesson 03 also runs in the English edition, whose grid explorer a test reads number by number. (The
# English edition of every lesson runs cleanly in learner mode in tests/test_notebooks.py; a page here costs
# about 19 s of CPU, most of it the browser drawing the notebook.)
ENGLISH_PAGES = [lesson for lesson in LESSONS if lesson.slug[:2] == "03"]


@pytest.mark.parametrize("lesson", ENGLISH_PAGES, ids=[lesson.slug for lesson in ENGLISH_PAGES])
def test_lesson_runs_cleanly_in_jupyterlab(pages, lesson):
    _assert_ran_cleanly(pages(lesson.slug), lesson.slug, lesson)


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.slug for lesson in LESSONS])
def test_korean_lesson_runs_cleanly_in_jupyterlab(korean_pages, lesson):
    """The Korean edition (notebooks/ko, opened from a folder named ko as cnnbook.lab opens it), solved: it runs
    to the end with no error or stderr output (a figure whose Hangul had no font would warn there), and reads
    in Korean."""
    page = korean_pages(lesson.slug)
    _assert_ran_cleanly(page, f"ko-{lesson.slug}", lesson)
    text = page.locator(".jp-Notebook").first.inner_text()
    hangul = sum(1 for ch in text if "\uac00" <= ch <= "\ud7a3")
    assert hangul > 1000, f"ko-{lesson.slug}: {hangul} Hangul syllables on the page (code stays English)"


def _explorers_made(lesson) -> list[str]:
    """The course explorers the lesson's code makes, by class name, in order."""
    import nbformat

    nb = nbformat.read(lesson.source, as_version=4)
    return [name for cell in nb.cells if cell.cell_type == "code" for name in EXPLORER_MADE.findall(cell.source)]


def _assert_ran_cleanly(page, label: str, lesson) -> None:
    notebook = page.locator(".jp-Notebook").first
    errors = notebook.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    assert errors.count() == 0, f"{label}: error or stderr output:\n" + "\n---\n".join(
        text[:600] for text in errors.all_inner_texts())
    text = notebook.inner_text()
    assert "Loading widget" not in text and "Error displaying widget" not in text
    raw = RAW_WIDGET_TEXT.findall(text)
    assert not raw, f"{label}: widgets shown as raw text: {raw}"
    # Each explorer the lesson makes is drawn, and every widget output has a size. (A widget output carries no
    # data-mime-type in JupyterLab's page: it is the output whose child is the widget's own view.)
    made = _explorers_made(lesson)
    shown = [next(c for c in classes.split() if c.startswith("cnnbook-")).removeprefix("cnnbook-") for classes in
             notebook.locator('.jp-OutputArea-output > [class*="cnnbook-"]').evaluate_all(
                 "views => views.map(v => v.className)")]
    assert shown == made, f"{label}: the lesson makes the explorers {made}; the page shows {shown}"
    widget_outputs = notebook.locator(".jp-OutputArea-output:has(> .jupyter-widgets)")
    assert widget_outputs.count() >= len(made), (label, widget_outputs.count(), made)
    for k in range(widget_outputs.count()):
        output = widget_outputs.nth(k)
        assert output.bounding_box()["height"] > 20, f"{label}: widget output {k} is empty"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{label}.png"))


def _explorer_state(explorer) -> dict:
    """The numbers the explorer shows: its four slider readouts, the formula line and the picture."""
    readouts = [int(t) for t in explorer.locator(".widget-readout").all_inner_texts()[:4]]
    return {"n": readouts[0], "f": readouts[1], "p": readouts[2], "s": readouts[3],
            "formula": explorer.locator(".widget-html").first.inner_text(),
            "picture": explorer.locator("img").first.get_attribute("src")}


def _expected_formula(state: dict) -> str:
    n, f, p, s = state["n"], state["f"], state["p"], state["s"]
    out = math.floor((n + 2 * p - f) / s) + 1
    return f"floor(({n} + 2·{p} − {f})/{s}) + 1 = {out}"


def _drag(page, handle, dx: float, steps: int = 8) -> None:
    """Drag a slider handle by ``dx`` pixels with the mouse, as a learner does."""
    box = handle.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + dx, y, steps=steps)
    page.mouse.up()


def _wait_for_settled(page, explorer, before_picture: str, read, settled, timeout_ms: int) -> dict:
    """Wait for a new picture, then for the redraws to catch up with the sliders (a drag sends several values):
    return the state ``read(explorer)`` once ``settled(state)``, or the last one seen if it never settles."""
    page.wait_for_function(
        """([el, src]) => { const img = el.querySelector('img'); return img && img.src !== src; }""",
        arg=[explorer.element_handle(), before_picture], timeout=timeout_ms)
    return _settled(page, explorer, read, settled)


def _settled(page, explorer, read, settled) -> dict:
    """``read(explorer)`` once ``settled(state)`` (polled for up to 10 s), or the last state seen."""
    for _ in range(50):
        state = read(explorer)
        if settled(state):
            break
        page.wait_for_timeout(200)
    return state


def _wait_for_change(page, explorer, before: dict) -> dict:
    """The padding/stride explorer's state once its formula matches its sliders."""
    return _wait_for_settled(page, explorer, before["picture"], _explorer_state,
                             lambda state: _expected_formula(state) in state["formula"], 10_000)


def test_explorer_follows_keyboard_and_drag(pages):
    slug = next(lesson.slug for lesson in LESSONS if lesson.slug.startswith("03"))
    page = pages(slug)
    explorer = page.locator(".cnnbook-ConvExplorer").first
    explorer.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    explorer.screenshot(path=str(ARTIFACTS / "explorer-before.png"))
    before = _explorer_state(explorer)
    assert _expected_formula(before) in before["formula"]

    # Keyboard: focus the stride handle and press the right arrow once.
    stride_handle = explorer.locator(".widget-slider").nth(3).locator(".noUi-handle")
    stride_handle.focus()
    page.keyboard.press("ArrowRight")
    after_key = _wait_for_change(page, explorer, before)
    assert after_key["s"] == before["s"] + 1
    assert _expected_formula(after_key) in after_key["formula"], after_key

    # Mouse: drag the input-size handle to the right.
    n_handle = explorer.locator(".widget-slider").nth(0).locator(".noUi-handle")
    _drag(page, n_handle, 60)
    after_drag = _wait_for_change(page, explorer, after_key)
    assert after_drag["n"] > after_key["n"]
    assert _expected_formula(after_drag) in after_drag["formula"], after_drag
    explorer.screenshot(path=str(ARTIFACTS / "explorer-after.png"))


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.slug for lesson in LESSONS])
def test_every_explorer_redraws_on_keyboard_and_drag(korean_pages, lesson):
    """Every cnnbook explorer in a lesson (on the Korean edition's page, already run): one key press and one
    drag on its sliders each bring a new picture. (The lesson-03 grid explorer is also checked number by number
    above, in English.)"""
    page = korean_pages(lesson.slug)
    explorers = page.locator('.jp-Notebook [class*="cnnbook-"]')
    assert explorers.count() == len(_explorers_made(lesson)), (lesson.slug, explorers.count(), _explorers_made(lesson))
    for k in range(explorers.count()):
        explorer = explorers.nth(k)
        name = next(c for c in explorer.get_attribute("class").split() if c.startswith("cnnbook-"))
        explorer.scroll_into_view_if_needed()
        handles = explorer.locator(".widget-slider .noUi-handle")
        assert handles.count() > 0, f"{lesson.slug}: {name} has no slider"
        picture = explorer.locator("img").first
        for how, handle in (("keyboard", handles.first), ("drag", handles.nth(handles.count() - 1))):
            before = picture.get_attribute("src")
            if how == "keyboard":
                handle.focus()
                at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
                page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")
            else:
                at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
                _drag(page, handle, -40 if at_max else 40, steps=6)
            page.wait_for_function("([img, src]) => img.src !== src", arg=[picture.element_handle(), before],
                                   timeout=15_000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        explorer.screenshot(path=str(ARTIFACTS / f"{lesson.slug}-{name}.png"))


# The line above the NMS explorer's picture, in the Korean edition: "점수 ≥ 0.50인 상자 7개 → NMS (IoU > 0.45, 클래스별):
# 3개 억제, 4개 남김" (score threshold, boxes, IoU threshold, suppressed, kept).
_NMS_COUNTS = re.compile(r"점수 ≥ ([\d.]+)인 상자 (\d+)개 → NMS \(IoU > ([\d.]+), [^)]*\): (\d+)개 억제, (\d+)개 남김")


def _nms_state(explorer) -> dict:
    """What lesson 10's NMS explorer shows: its slider readouts (canvas, score and IoU threshold), the counts on
    the canvas as read from the line above the picture, and the picture."""
    readouts = explorer.locator(".widget-readout").all_inner_texts()
    counts = explorer.locator(".widget-html").first.inner_text()
    found = _NMS_COUNTS.search(counts)
    return {"canvas": int(readouts[0]), "score": float(readouts[1]), "iou": float(readouts[2]), "counts": counts,
            "shown": found and (float(found[1]), float(found[3])), "boxes": found and int(found[2]),
            "kept": found and int(found[5]), "suppressed": found and int(found[4]),
            "picture": explorer.locator("img").first.get_attribute("src")}


def _wait_for_nms_change(page, explorer, before: dict) -> dict:
    """The NMS explorer's state once the counts above its picture follow its readouts."""
    return _wait_for_settled(page, explorer, before["picture"], _nms_state,
                             lambda state: state["shown"] == (state["score"], state["iou"]), 15_000)


def test_nms_explorer_follows_its_thresholds(korean_pages):
    """Lesson 10's NMS explorer on the shipped detector (Korean edition): a key press on the IoU threshold and a drag
    of the score threshold each bring a new picture, and the counts above it follow the sliders: a higher score
    threshold lets fewer boxes through, and every box that passes is either kept or suppressed."""
    slug = next(lesson.slug for lesson in LESSONS if lesson.slug.startswith("10"))
    page = korean_pages(slug)
    explorer = page.locator(".cnnbook-NMSExplorer").first
    explorer.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # The page is shared: an earlier test on it may have dragged these sliders, and a drag's last redraws can
    # still be on their way.
    before = _settled(page, explorer, _nms_state, lambda state: state["shown"] == (state["score"], state["iou"]))
    assert before["shown"] == (before["score"], before["iou"]), before
    assert before["boxes"] == before["kept"] + before["suppressed"] and before["suppressed"] > 0, before

    # Keyboard: focus the IoU-threshold handle (the third slider) and press the left arrow: 0.05 lower.
    iou_handle = explorer.locator(".widget-slider").nth(2).locator(".noUi-handle")
    iou_handle.focus()
    page.keyboard.press("ArrowLeft")
    after_key = _wait_for_nms_change(page, explorer, before)
    assert after_key["iou"] == pytest.approx(before["iou"] - 0.05), after_key
    assert after_key["shown"] == (after_key["score"], after_key["iou"]), after_key
    assert after_key["boxes"] == before["boxes"] and after_key["suppressed"] >= before["suppressed"], after_key

    # Mouse: drag the score-threshold handle (the second slider) to the right.
    score_handle = explorer.locator(".widget-slider").nth(1).locator(".noUi-handle")
    _drag(page, score_handle, 60)
    after_drag = _wait_for_nms_change(page, explorer, after_key)
    assert after_drag["score"] > after_key["score"], after_drag
    assert after_drag["shown"] == (after_drag["score"], after_drag["iou"]), after_drag
    assert after_drag["boxes"] <= after_key["boxes"], (after_key, after_drag)
    assert after_drag["boxes"] == after_drag["kept"] + after_drag["suppressed"], after_drag
    explorer.screenshot(path=str(ARTIFACTS / "nms-explorer-after.png"))


# --- the learner's and the instructor's set-ups (python -m cnnbook.lab [--instructor]) -----------------

@pytest.fixture(scope="module")
def course_copy(tmp_path_factory):
    """A course root like the project's: nbgrader_config.py, solutions/ and the released notebooks."""
    import shutil

    from cnnbook.lab import ROOT

    course = tmp_path_factory.mktemp("course-root")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    for lesson in RELEASED:
        shutil.copytree(lesson.source.parent, course / "solutions" / lesson.slug)
        write(solved(lesson), course / "notebooks" / lesson.slug / f"{lesson.slug}.ipynb")
    return course


def _open_setup(browser, tmp_path_factory, course, instructor: bool, path: str):
    from cnnbook.lab import lab_environment

    # No test settings here: what the learner or instructor sees is the set-up's own doing.
    server = start_lab(course, tmp_path_factory.mktemp("home"), env=lab_environment(instructor),
                       settings={"@jupyterlab/notebook-extension/tracker.jupyterlab-settings":
                                 {"windowingMode": "none"}})
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server.url}/{path}?token={server.token}")
    page.locator("#jp-main-dock-panel").wait_for(timeout=60_000)
    return server, page


def test_learner_setup_has_no_instructor_tools_and_no_news(browser, tmp_path_factory, course_copy):
    slug = LESSONS[0].slug
    server, page = _open_setup(browser, tmp_path_factory, course_copy, False,
                               f"lab/tree/notebooks/{slug}/{slug}.ipynb")
    try:
        page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
        page.wait_for_timeout(4000)  # the news question and the sidebars appear within a few seconds
        body = page.inner_text("body")
        assert "notified about official Jupyter news" not in body
        menubar = page.locator(".lm-MenuBar").first.inner_text()
        assert "Nbgrader" not in menubar, "the learner sees nbgrader's instructor menu"
        assert page.locator("#nbgrader-create_assignemnt").count() == 0, "Create Assignment sidebar is there"
        assert page.get_by_role("tab", name="Create Assignment").count() == 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "learner-setup.png"))
        # nbgrader's Validate button stays, and on a solved notebook it reports success.
        page.get_by_role("button", name="Validate").first.click()
        dialog = page.locator(".jp-Dialog")
        dialog.get_by_text("Success!").first.wait_for(timeout=180_000)
        assert "passes all the tests" in dialog.inner_text()
        page.screenshot(path=str(ARTIFACTS / "learner-validate.png"))
    finally:
        page.close()
        server.stop()


def test_instructor_setup_opens_formgrader_with_the_lessons(browser, tmp_path_factory, course_copy):
    server, page = _open_setup(browser, tmp_path_factory, course_copy, True, "lab")
    try:
        page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
        page.get_by_role("menuitem", name="Formgrader", exact=True).click()
        frame = page.frame_locator("iframe").first
        for lesson in RELEASED:
            frame.get_by_text(lesson.slug, exact=True).first.wait_for(timeout=60_000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "instructor-formgrader.png"))
    finally:
        page.close()
        server.stop()


# ---------------------------------------------------------------------------------------------------------
# The learner's experience: failure boxes, Run All's view, copies that survive updates, progress, finished
# bars, explorers on narrow and HiDPI screens, reopened notebooks.

def _notebook(cells: list[str], markdown_after: int = 0):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.cells += [nbformat.v4.new_markdown_cell(f"## Section {k}\n\n" + "Some reading. " * 40)
                 for k in range(markdown_after)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


EXPLORERS = _notebook([
    "import cnnbook\nfrom cnnbook.widgets import ConvExplorer, PhotoConvExplorer\n"
    "from cnnbook.pool_explorer import PoolExplorer\nfrom cnnbook.cost import CostExplorer\n"
    "from cnnbook.scaling import ScalingExplorer",
    "ConvExplorer(n=7, f=3, p=0, s=2)", "PhotoConvExplorer()", "PoolExplorer()", "CostExplorer()",
    "ScalingExplorer()"])


def _in_view(page, locator) -> bool:
    """Whether the element's middle is inside the notebook's visible area."""
    return page.evaluate("""(el) => {
        const panel = el.closest('.jp-WindowedPanel-outer') || el.closest('.jp-Notebook');
        const box = el.getBoundingClientRect(), view = panel.getBoundingClientRect();
        const middle = box.top + Math.min(box.height, 200) / 2;
        return middle >= view.top && middle <= view.bottom;
    }""", locator.element_handle())


def test_a_failed_check_is_a_short_box_and_run_all_stops_with_it_in_view(browser, lab):
    nb = _notebook([
        "import cnnbook",
        "def output_size(n, f):\n    return n - f",
        "from cnnbook.checks import check_value\n"
        "check_value('output_size(7, 3)', output_size(7, 3), 5, mistakes={'forgot the + 1': 4},\n"
        "            hint='count the windows: the first one starts at 0')",
        "print('not reached')"], markdown_after=30)
    write(nb, lab.root / "failing" / "failing.ipynb")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(lab.page_url("failing/failing.ipynb") + "&reset")
        start_run_all(page)
        failed = page.locator(".jp-Notebook .jp-CodeCell").nth(2)
        failed.get_by_text("Check failed").wait_for(timeout=120_000)
        wait_kernel_idle(page, 60_000)
        page.wait_for_timeout(1500)
        box = failed.locator(".jp-OutputArea-output").first.inner_text()
        assert "Check failed: output_size(7, 3)" in box and "forgot the + 1" in box and "count the windows" in box
        assert "Traceback" not in box and "checks.py" not in box, box
        assert len(box.splitlines()) <= 12, box
        assert _in_view(page, failed), "Run All left the view away from the cell that failed"
        assert not _in_view(page, page.locator(".jp-Notebook .jp-Cell").last)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        failed.screenshot(path=str(SCREENSHOTS / "failure-box.png"))
    finally:
        page.close()


def test_a_failed_check_in_the_korean_edition_explains_in_korean(browser, lab):
    """Lesson 01's Korean notebook (notebooks/ko/..., opened from a folder named ko, as cnnbook.lab opens it),
    answered but with the channels forgotten in fc_input_size: Run All stops at that test cell, and its box
    explains the slip and gives the hint in Korean."""
    import nbformat

    from autograde.i18n import translated_path
    from autograde.lessons import NOTEBOOKS, grade_cells
    from conftest import answer_sources, lesson_fixture

    lesson = next(lesson for lesson in LESSONS if lesson.slug == "01_history")
    nb = nbformat.read(translated_path(NOTEBOOKS, "ko", lesson.slug), as_version=4)
    bug = lesson_fixture(lesson.slug).BUGS[1]
    assert bug["cell"] == "fc_input_size"
    cells = grade_cells(nb)
    for gid, text in {**answer_sources(lesson), bug["cell"]: bug["source"]}.items():
        cells[gid].source = text
    write(nb, lab.root / "ko" / lesson.slug / f"{lesson.slug}.ipynb")
    test_index = next(k for k, c in enumerate(c for c in nb.cells if c.cell_type == "code")
                      if c.metadata.get("nbgrader", {}).get("grade_id") == "test_fc_input_size")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(lab.page_url(f"ko/{lesson.slug}/{lesson.slug}.ipynb") + "&reset")
        start_run_all(page)
        failed = page.locator(".jp-Notebook .jp-CodeCell").nth(test_index)
        failed.get_by_text("검사 실패").wait_for(timeout=300_000)
        wait_kernel_idle(page, 60_000)
        box = failed.locator(".jp-OutputArea-output").first.inner_text()
        assert "검사 실패: fc_input_size(32, 32, 3)" in box, box
        assert "흔한 실수로 보입니다: 색 채널을 빠뜨림 (32 * 32)." in box, box
        assert "힌트: 평탄화는 이미지의 모든 수를 그대로 둡니다" in box, box
        assert "Check failed" not in box and "Flattening keeps" not in box and "Traceback" not in box, box
        page.wait_for_timeout(500)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        failed.screenshot(path=str(ARTIFACTS / "failure-box-ko.png"))
    finally:
        page.close()


def test_lesson_08_solved_leaves_no_red_or_unfinished_bar(korean_pages):
    slug = next(lesson.slug for lesson in LESSONS if lesson.slug.startswith("08"))
    page = korean_pages(slug)
    notebook = page.locator(".jp-Notebook").first
    assert notebook.locator('[class*="progress-bar-danger"]').count() == 0, "a red progress bar"
    widths = notebook.locator(".widget-progress .progress-bar").evaluate_all(
        "bars => bars.map(b => b.style.width)")
    assert all(w in ("100%", "") for w in widths), f"bars short of 100%: {widths}"


def _narrow_page(browser, lab, path: str, width: int = 600):
    """A page whose notebook is ``width`` px wide (the viewport is sized to make it so)."""
    viewport = 1000
    page = browser.new_page(viewport={"width": viewport, "height": 900})
    page.goto(lab.page_url(path) + "&reset")
    notebook = page.locator(".jp-Notebook").first
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for(timeout=60_000)
    for _ in range(5):                  # the side panels settle after the notebook shows: measure again
        page.wait_for_timeout(1000)
        shown = notebook.bounding_box()["width"]
        if abs(shown - width) <= 1:
            break
        viewport += int(width - shown)
        page.set_viewport_size({"width": viewport, "height": 900})
    return page


def test_explorers_at_600_px_keep_every_slider_at_least_120_px(browser, lab):
    write(EXPLORERS, lab.root / "explorers" / "narrow.ipynb")
    page = _narrow_page(browser, lab, "explorers/narrow.ipynb")
    try:
        run_all_cells(page)
        assert page.locator(".jp-Notebook").first.bounding_box()["width"] <= 601
        explorers = page.locator('.jp-Notebook [class*="cnnbook-"]')
        assert explorers.count() == 5
        short = []
        for k in range(5):
            explorer = explorers.nth(k)
            explorer.scroll_into_view_if_needed()
            tracks = explorer.locator(".widget-slider .noUi-target")
            assert tracks.count() > 0
            for t in range(tracks.count()):
                width = tracks.nth(t).bounding_box()["width"]
                if width < 120:
                    short.append((explorer.get_attribute("class"), t, width))
            # a toggle button cuts a label too long for it ("avera…" for the pooling explorer's "average")
            cut = explorer.locator(".widget-toggle-button").evaluate_all(
                "buttons => buttons.filter(b => b.scrollWidth > b.clientWidth + 1).map(b => b.textContent)")
            assert not cut, f"{explorer.get_attribute('class')}: button labels cut short: {cut}"
            picture = explorer.locator("img").first.bounding_box()
            output = explorer.locator("xpath=ancestor::div[contains(@class, 'jp-OutputArea-output')]").first
            area = output.bounding_box()
            assert picture["x"] + picture["width"] <= area["x"] + area["width"] + 1, "the picture overflows"
        assert not short, f"sliders under 120 px at a 600 px notebook: {short}"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        explorers.first.screenshot(path=str(ARTIFACTS / "explorer-600px.png"))
    finally:
        page.close()


def test_explorers_are_drawn_at_the_size_shown_on_a_hidpi_screen(browser, lab):
    write(EXPLORERS, lab.root / "explorers" / "hidpi.ipynb")
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=2)
    page = context.new_page()
    try:
        page.goto(lab.page_url("explorers/hidpi.ipynb") + "&reset")
        run_all_cells(page)
        sizes = page.locator('.jp-Notebook [class*="cnnbook-"] img').evaluate_all(
            "imgs => imgs.map(i => [i.naturalWidth, i.getBoundingClientRect().width])")
        assert len(sizes) == 5
        for natural, shown in sizes:
            assert abs(natural - 2 * shown) <= 2, f"drawn {natural} px, shown at {shown} CSS px: stretched"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        explorer = page.locator(".cnnbook-ConvExplorer").first
        explorer.scroll_into_view_if_needed()
        explorer.screenshot(path=str(SCREENSHOTS / "explorer-hidpi.png"))
    finally:
        context.close()


def test_a_reopened_notebook_shows_the_explorers_last_picture(browser, tmp_path_factory):
    """With the learner's JupyterLab set-up, a saved notebook keeps its explorers' pictures (widget state)."""
    import json
    import urllib.request

    from cnnbook.lab import lab_environment

    root = tmp_path_factory.mktemp("reopen")
    write(EXPLORERS, root / "explorers.ipynb")
    server = start_lab(root, tmp_path_factory.mktemp("home"), env=lab_environment(False))
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(server.page_url("explorers.ipynb") + "&reset")
        run_all_cells(page)
        page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
        page.keyboard.press("Control+s")
        saved = root / "explorers.ipynb"
        for _ in range(60):
            if "widget-state+json" in saved.read_text(encoding="utf-8"):
                break
            page.wait_for_timeout(500)
        assert "widget-state+json" in saved.read_text(encoding="utf-8"), "the widget state was not saved"
        page.close()
        for kernel in json.load(urllib.request.urlopen(f"{server.url}/api/kernels?token={server.token}")):
            urllib.request.urlopen(urllib.request.Request(
                f"{server.url}/api/kernels/{kernel['id']}?token={server.token}", method="DELETE"))
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server.page_url("explorers.ipynb") + "&reset")
        explorer = page.locator(".cnnbook-ConvExplorer").first
        explorer.wait_for(timeout=60_000)
        page.wait_for_timeout(2000)
        text = page.locator(".jp-Notebook").first.inner_text()
        assert "Error displaying widget" not in text and "model not found" not in text
        pictures = page.locator('.jp-Notebook [class*="cnnbook-"] img').evaluate_all(
            "imgs => imgs.map(i => i.naturalWidth)")
        assert len(pictures) == 5 and all(w > 600 for w in pictures), pictures
        assert explorer.get_by_text("Run this cell").count() == 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "reopened.png"))
    finally:
        page.close()
        server.stop()


def _course_clone(base: Path, lessons: list) -> Path:
    """A copy of the course as a learner's clone has it, with ``lessons`` released."""
    import shutil

    from cnnbook.lab import ROOT

    clone = base / "clone"
    for part in ("cnnbook", "autograde", "jupyter-config"):
        shutil.copytree(ROOT / part, clone / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "nbgrader_config.py", clone)
    (clone / "data").symlink_to(ROOT / "data")
    for lesson in lessons:
        shutil.copytree(lesson.source.parent, clone / "solutions" / lesson.slug)
        shutil.copytree(lesson.student_version.parent, clone / "notebooks" / lesson.slug)
    return clone


def test_cnnbook_lab_twice_across_a_course_update_keeps_the_learners_edits_and_progress_shows(browser,
                                                                                            tmp_path_factory):
    import nbformat

    base = tmp_path_factory.mktemp("learner")
    first, second, third = RELEASED[:3]
    clone = _course_clone(base, [first, second])
    env = {k: v for k, v in os.environ.items() if k != "CNNBOOK_WORK"}
    env["PYTHONPATH"] = str(clone)
    command = [sys.executable, "-m", "cnnbook.lab"]
    home = base / "home"

    def open_lab():
        return start_lab(clone, home, env=env, command=command, cwd=clone)

    server = open_lab()
    work = clone / "my-work"
    mine = work / second.slug / f"{second.slug}.ipynb"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        assert mine.is_file(), server.log.read_text()
        page.goto(server.page_url(f"my-work/{second.slug}/{second.slug}.ipynb") + "&reset")
        editor = page.locator(".jp-Notebook .jp-CodeCell .cm-content").first
        editor.wait_for(timeout=60_000)
        editor.click()
        page.keyboard.press("Control+Home")
        page.keyboard.type("# my own note, kept across updates\n")
        page.keyboard.press("Escape")
        page.keyboard.press("Control+s")
        for _ in range(40):
            if "my own note" in mine.read_text(encoding="utf-8"):
                break
            page.wait_for_timeout(500)
        assert "my own note" in mine.read_text(encoding="utf-8")
        write(solved(first), work / first.slug / f"{first.slug}.ipynb")   # the learner solved lesson one
    finally:
        page.close()
        server.stop()

    # A course update: lesson two changes, lesson three is new.
    update = nbformat.read(clone / "notebooks" / second.slug / f"{second.slug}.ipynb", as_version=4)
    update.cells.insert(0, nbformat.v4.new_markdown_cell("Updated by the course."))
    write(update, clone / "notebooks" / second.slug / f"{second.slug}.ipynb")
    import shutil

    shutil.copytree(third.student_version.parent, clone / "notebooks" / third.slug)
    shutil.copytree(third.source.parent, clone / "solutions" / third.slug)

    server = open_lab()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        log = server.log.read_text()
        assert (work / third.slug / f"{third.slug}.ipynb").is_file(), log
        kept = mine.read_text(encoding="utf-8")
        assert "my own note" in kept and "Updated by the course." not in kept
        page.goto(server.page_url(f"my-work/{second.slug}/{second.slug}.ipynb") + "&reset")
        page.get_by_text("my own note, kept across updates").first.wait_for(timeout=60_000)
        page.close()

        # progress, in a notebook of the learner's own
        write(_notebook(["from cnnbook.progress import show_progress\n"
                         f"show_progress(['{first.slug[:2]}', '{second.slug[:2]}'])"]),
              work / "progress.ipynb")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server.page_url("my-work/progress.ipynb") + "&reset")   # a fresh layout: this notebook only
        run_all_cells(page, timeout_ms=400_000)
        table = page.locator(".cnnbook-progress").first
        table.wait_for(timeout=60_000)
        text = table.inner_text()
        assert first.slug in text and second.slug in text
        assert "✔ pass" in text and "· not started" in text and "✘ fail" not in text, text
        assert page.locator(".jp-Notebook .jp-OutputArea-output[data-mime-type="
                            "'application/vnd.jupyter.stderr']").count() == 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        table.screenshot(path=str(SCREENSHOTS / "progress.png"))
    finally:
        page.close()
        server.stop()
