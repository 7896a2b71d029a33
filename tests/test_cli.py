"""Bad input to the CLI gets a sentence saying what was expected, never a bare traceback."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import LESSONS


def cli(*args):
    return subprocess.run([sys.executable, "-m", "autograde", *args], capture_output=True, text=True, timeout=300)


def assert_clean_error(proc, *phrases):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    for phrase in phrases:
        assert phrase in proc.stderr, proc.stderr


@pytest.mark.slow  # starts the CLI in new processes (seconds each)
def test_unknown_lesson_lists_the_lessons():
    proc = cli("check", "42")
    assert_clean_error(proc, "no lesson called '42'", LESSONS[0].slug)
    assert_clean_error(cli("release", "nope"), "no lesson called 'nope'")


@pytest.mark.slow  # starts the CLI in new processes (seconds each)
def test_check_missing_and_corrupt_notebooks(tmp_path):
    lesson = LESSONS[0]
    assert_clean_error(cli("check", lesson.number, str(tmp_path / "nothing.ipynb")), "does not exist")
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [', encoding="utf-8")
    assert_clean_error(cli("check", lesson.number, str(broken)), "is not valid JSON", "line 1")
    binary = tmp_path / "binary.ipynb"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert_clean_error(cli("check", lesson.number, str(binary)), "is not UTF-8")
    other = tmp_path / "other.ipynb"
    other.write_text('{"hello": 1}', encoding="utf-8")
    assert_clean_error(cli("check", lesson.number, str(other)), "not a notebook")


@pytest.mark.slow  # starts the CLI in new processes (seconds each)
def test_grade_needs_a_folder_of_submissions(tmp_path):
    assert_clean_error(cli("grade", str(tmp_path / "none"), "--out", str(tmp_path / "o")), "is not a folder")
    (tmp_path / "subs" / "alice" / "homework").mkdir(parents=True)
    assert_clean_error(cli("grade", str(tmp_path / "subs"), "--out", str(tmp_path / "o")),
                       "no submissions found", "<student>/<NN_slug>/<NN_slug>.ipynb")


@pytest.mark.slow  # starts the CLI in new processes (seconds each)
def test_a_kernel_death_is_reported_by_the_self_check(tmp_path):
    from conftest import lesson_fixture, solved, write

    lesson = LESSONS[0]
    fx = lesson_fixture(lesson.slug)
    path = write(solved(lesson, {fx.BUG["cell"]: "import os\nos._exit(1)"}), tmp_path / "dies.ipynb")
    proc = cli("check", lesson.slug, str(path))
    assert proc.returncode == 1
    # the cell is named by its first line (check.problem_sentences), and what it defined above the stop was kept
    assert "The Python kernel died in the cell that starts with «import os»" in proc.stdout, proc.stdout
    assert "the tests after it still ran" in proc.stdout and "(os) was run again" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("bad", [[1, 2, 3], [[[1.0]]]])
def test_plotting_helpers_reject_wrong_shapes(bad):
    from cnnbook.plotting import show_matrix

    with pytest.raises(ValueError, match=r"needs a 2-D array \(height, width\)"):
        show_matrix(bad)


def test_check_names_a_notebook_of_another_lesson():
    other = next(lesson for lesson in LESSONS if lesson.slug.startswith("03_"))
    proc = cli("check", "2", str(other.student_version))
    assert_clean_error(proc, f"is the notebook of lesson {other.slug}", "not of lesson 02_",
                       f"python -m autograde check {other.number} ")


def test_the_watch_says_when_a_cell_runs_long_and_at_once_when_one_was_stopped():
    """What a learner reads while `cnn-course check` runs a cell with an endless loop: a line once it has run a while,
    and as soon as it is stopped the sentence the report gives, not a silent minute (autograde.check.Watch)."""
    import time

    from autograde.check import Watch

    lines: list[str] = []
    with Watch(after=0.3, poll=0.05, write=lines.append) as watch:
        watch("cell", {"cell": "while True:", "seconds": 60.0})
        time.sleep(0.8)
        assert len(lines) == 1 and lines[0].startswith("… still running the cell that starts with «while True:» ("), lines
        assert lines[0].endswith("s so far; a cell is stopped after 60 s)."), lines
        watch("stopped", {"how": "timeout", "cell": "while True:"})
        assert lines[-1].startswith("The cell that starts with «while True:» ran past its time limit and was stopped")
        assert lines[-1].endswith("The check goes on with the rest of the notebook."), lines[-1]
        watch("test", {"grade_id": "test_sort_events", "seconds": 60.0})
        watch("stopped", {"how": "died", "grade_id": "test_sort_events"})
        time.sleep(0.5)                 # a step that was stopped is not said to be still running
    assert len(lines) == 3 and "test_sort_events" in lines[-1] and "died" in lines[-1], lines


@pytest.mark.slow  # starts the CLI and a kernel that runs into its time limit
def test_the_self_check_says_early_that_a_cell_runs_long_and_that_it_was_stopped(tmp_path):
    from conftest import lesson_fixture, solved, write

    lesson = LESSONS[0]
    fx = lesson_fixture(lesson.slug)
    path = write(solved(lesson, {fx.BUG["cell"]: "while True:\n    pass"}), tmp_path / "loops.ipynb")
    proc = cli("check", lesson.slug, str(path), "--timeout", "12")
    out = proc.stdout
    still = out.find("… still running the cell that starts with «while True:»")
    stopped = out.find("The cell that starts with «while True:» ran past its time limit and was stopped")
    report = out.find(f"Lesson {lesson.slug}:")
    assert 0 < still < stopped < report, out
    assert "a cell is stopped after 12 s" in out and "The check goes on with the rest of the notebook." in out, out
