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
