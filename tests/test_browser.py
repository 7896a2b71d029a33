"""The course in a real browser: JupyterLab serves every lesson, Chromium runs it and we look at the page.

Each lesson is opened as a learner would have it once solved (the released student notebook with the
answers filled in), run with Run > Run All Cells, and checked for error or stderr output, widgets stuck at
"Loading widget", widgets shown as raw text, and widgets that did not render. The lesson-03 explorer is
then moved with the keyboard and by dragging, and must redraw as the formula says. Screenshots land in
test-artifacts/browser/.
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest

from conftest import LESSONS, solved, write
from lab import CHROMIUM, CHROMIUM_ARGS, run_all_cells, start_lab

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"
RAW_WIDGET_TEXT = re.compile(r"\b(VBox|HBox|IntSlider|FloatSlider|Dropdown|Tab|Image|HTML)\(")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
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


@pytest.fixture(scope="module")
def pages(browser, lab):
    """Lesson slug -> its page, run to the end (opened on first use, kept open for later tests)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = {}

    def open_lesson(slug: str):
        if slug not in opened:
            lesson = next(lesson for lesson in LESSONS if lesson.slug == slug)
            write(solved(lesson), lab.root / slug / f"{slug}.ipynb")
            page = context.new_page()
            page.goto(lab.page_url(f"{slug}/{slug}.ipynb"))
            run_all_cells(page)
            opened[slug] = page
        return opened[slug]

    yield open_lesson
    context.close()


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.slug for lesson in LESSONS])
def test_lesson_runs_cleanly_in_jupyterlab(pages, lesson):
    page = pages(lesson.slug)
    notebook = page.locator(".jp-Notebook").first
    errors = notebook.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    assert errors.count() == 0, f"{lesson.slug}: error or stderr output:\n" + "\n---\n".join(
        text[:600] for text in errors.all_inner_texts())
    text = notebook.inner_text()
    assert "Loading widget" not in text
    raw = RAW_WIDGET_TEXT.findall(text)
    assert not raw, f"{lesson.slug}: widgets shown as raw text: {raw}"
    widget_outputs = notebook.locator(f'.jp-OutputArea-output[data-mime-type="{WIDGET_MIME}"]')
    for k in range(widget_outputs.count()):
        output = widget_outputs.nth(k)
        assert output.locator(".jupyter-widgets").count() > 0, f"{lesson.slug}: widget output {k} did not render"
        assert output.bounding_box()["height"] > 20, f"{lesson.slug}: widget output {k} is empty"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{lesson.slug}.png"))


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


def _wait_for_change(page, explorer, before: dict) -> dict:
    """Wait for a new picture, then for the redraws to catch up with the sliders (a drag sends several
    values); return the settled state, or the last one seen if it never settles."""
    page.wait_for_function(
        """([el, src]) => { const img = el.querySelector('img'); return img && img.src !== src; }""",
        arg=[explorer.element_handle(), before["picture"]], timeout=10_000)
    for _ in range(50):
        state = _explorer_state(explorer)
        if _expected_formula(state) in state["formula"]:
            break
        page.wait_for_timeout(200)
    return state


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
    box = n_handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 60, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    after_drag = _wait_for_change(page, explorer, after_key)
    assert after_drag["n"] > after_key["n"]
    assert _expected_formula(after_drag) in after_drag["formula"], after_drag
    explorer.screenshot(path=str(ARTIFACTS / "explorer-after.png"))


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.slug for lesson in LESSONS])
def test_every_explorer_redraws_on_keyboard_and_drag(pages, lesson):
    """Every cnnbook explorer in a lesson: one key press and one drag on its sliders each bring a new
    picture. (The lesson-03 grid explorer is also checked number by number above.)"""
    page = pages(lesson.slug)
    explorers = page.locator('.jp-Notebook [class*="cnnbook-"]')
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
                box = handle.bounding_box()
                at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
                y = box["y"] + box["height"] / 2
                page.mouse.move(box["x"] + box["width"] / 2, y)
                page.mouse.down()
                page.mouse.move(box["x"] + (-40 if at_max else 40), y, steps=6)
                page.mouse.up()
            page.wait_for_function("([img, src]) => img.src !== src", arg=[picture.element_handle(), before],
                                   timeout=15_000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        explorer.screenshot(path=str(ARTIFACTS / f"{lesson.slug}-{name}.png"))


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
