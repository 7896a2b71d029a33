"""Every solution notebook runs top to bottom, cleanly, and leaves no progress bar red or unfinished (a red bar
reads as failure); notebooks/ is exactly what release produces. One file: the solutions run once, for both
(conftest.executed_solution; pytest-xdist runs a file in one process)."""
from __future__ import annotations

import json

import nbformat
import pytest

from autograde.i18n import LANGS
from autograde.lessons import NOTEBOOKS
from autograde.release import release
from conftest import GUARD, LESSONS, lesson_ids

pytestmark = pytest.mark.slow


def test_there_are_lessons():
    assert LESSONS, "no lessons found in solutions/"


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_solution_notebook_executes_cleanly(executed_solution, lesson):
    # executed once per session (conftest.executed_solution, 120 s per cell; the progress-bar test below reads the same
    # run): raises CellExecutionError, naming the cell, if any cell fails
    nb = executed_solution(lesson.slug)
    stderr = [(i, o.text[:200]) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"{lesson.slug} writes to stderr (nbgrader would zero a test cell): {stderr}"
    # A demonstration cell catches a learner's unfinished function and says so; with the solutions in place
    # it must never have to (a test that rebinds a name the next cell uses shows up here).
    not_ready = [(i, o.get("text", "")[:200]) for i, c in enumerate(nb.cells) if c.cell_type == "code"
                 for o in c.outputs if o.output_type == "stream" and ("not ready yet" in o.get("text", "")
                                                                      or "not written yet" in o.get("text", ""))]
    assert not not_ready, f"{lesson.slug}: a cell says an exercise is not ready in the solved run: {not_ready}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_every_lesson_keeps_the_conventions(lesson):
    nb = nbformat.read(lesson.source, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for needed in ("Discuss", "Glossary"):
        assert needed in text, f"{lesson.slug} has no '{needed}' section"
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
             and not c.metadata.nbgrader.get("solution")]
    assert tests, f"{lesson.slug} has no test cells"
    for cell in tests:
        gid = cell.metadata.nbgrader["grade_id"]
        assert cell.metadata.nbgrader.get("points", 0) > 0, f"{gid} has no points"
        assert "### BEGIN HIDDEN TESTS" in cell.source, f"{gid} has no hidden tests"
        visible = cell.source.split("### BEGIN HIDDEN TESTS")[0]
        assert "check_" in visible, f"{gid}: visible checks must use cnnbook.checks (messages that teach)"
        assert "passed(" in visible, f"{gid}: end the visible checks with passed(...) so learners see them pass"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        f"{lesson.slug}: clear the outputs of the source notebook"


def test_notebooks_folder_is_exactly_what_release_produces(tmp_path):
    fresh = release(LESSONS, out_dir=tmp_path)
    assert len(fresh) == len(LESSONS)
    committed = sorted(p.name for p in NOTEBOOKS.iterdir() if p.is_dir() and p.name not in LANGS)
    assert committed == sorted(lesson.slug for lesson in LESSONS), \
        "notebooks/ and solutions/ hold different lessons: run `python -m autograde release`"
    for lesson in LESSONS:
        ours = json.loads(lesson.student_version.read_text(encoding="utf-8"))
        theirs = json.loads((tmp_path / lesson.slug / f"{lesson.slug}.ipynb").read_text(encoding="utf-8"))
        assert ours == theirs, (f"notebooks/{lesson.slug} is out of date with solutions/: "
                                "run `python -m autograde release` and commit the result")
        released_files = sorted(p.name for p in (tmp_path / lesson.slug).iterdir())
        committed_files = sorted(p.name for p in lesson.student_version.parent.iterdir())
        assert released_files == committed_files
    for lang in LANGS:                  # the translated editions (notebooks/ko/...), built by the same release
        made = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / lang).rglob("*") if p.is_file())
        have = sorted(p.relative_to(NOTEBOOKS).as_posix() for p in (NOTEBOOKS / lang).rglob("*") if p.is_file())
        assert made == have, f"notebooks/{lang}/ holds other files than release makes: run release"
        for key in made:
            assert (tmp_path / key).read_bytes() == (NOTEBOOKS / key).read_bytes(), \
                f"notebooks/{key} is out of date: run `python -m autograde release` and commit the result"


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_student_version_hides_solutions_and_hidden_tests(lesson):
    text = lesson.student_version.read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text, f"notebooks/{lesson.slug} still contains {marker!r}"
    assert "raise NotImplementedError" in text


def test_the_graders_test_lesson_is_released_too(tmp_path):
    """tests/course/notebooks/99_guard is what release makes of tests/course/solutions/99_guard."""
    fresh = release([GUARD], out_dir=tmp_path)[0]
    assert json.loads(fresh.read_text(encoding="utf-8")) == json.loads(GUARD.student_version.read_text(encoding="utf-8")), \
        "run: python -c \"from autograde.release import release; from conftest import GUARD; ...\" (see DEVELOPERS.md)"


PROGRESS_MODELS = {"FloatProgressModel", "IntProgressModel"}


def progress_bars(nb) -> list[dict]:
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return [model["state"] for model in state.values() if model.get("model_name") in PROGRESS_MODELS]


WITH_BARS = [lesson for lesson in LESSONS if "tqdm(" in lesson.source.read_text(encoding="utf-8")]


@pytest.mark.parametrize("lesson", WITH_BARS, ids=lambda lesson: lesson.slug)
def test_a_solved_run_leaves_no_unfinished_or_red_bar(executed_solution, lesson):
    nb = executed_solution(lesson.slug)      # the solution's run checked above (widget state stored)
    bars = progress_bars(nb)
    assert len(bars) >= (8 if lesson.slug.startswith("08_") else 1), f"found {len(bars)} progress bars"
    unfinished = [(bar.get("description"), bar.get("value"), bar.get("max"), bar.get("bar_style")) for bar in bars
                  if bar.get("bar_style") == "danger" or bar.get("value") != bar.get("max")]
    assert not unfinished, f"bars left red or short of 100% (description, value, max, style): {unfinished}"
