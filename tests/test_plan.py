"""What the grader runs and flags for a submission's cells (autograde.runner.plan), without running anything."""
from __future__ import annotations

import nbformat

from autograde.lessons import grade_cells, is_test_cell
from autograde.runner import plan
from conftest import GUARD


def _source_and_release():
    source = nbformat.read(GUARD.source, as_version=4)
    released = nbformat.read(GUARD.student_version, as_version=4)
    return source, released


def _first_visible_test(nb):
    return next(cell for cell in grade_cells(nb).values() if is_test_cell(cell))


def test_a_notebook_as_released_is_not_flagged():
    source, released = _source_and_release()
    steps, flags = plan(released, source)
    assert not flags
    assert sum(kind == "test" for kind, _ in steps) == sum(is_test_cell(c) for c in source.cells)


def test_a_course_update_to_a_visible_test_does_not_flag_earlier_copies():
    source, released = _source_and_release()
    fixed = _first_visible_test(source)
    fixed.source = fixed.source.replace("check_", "# the instructor fixed a typo in a hint\ncheck_", 1)
    assert fixed.source != _first_visible_test(released).source
    _, flags = plan(released, source)
    assert "test-cell-edited" not in flags


def test_a_learners_edit_of_a_test_cell_is_flagged_even_after_a_course_update():
    source, released = _source_and_release()
    _first_visible_test(released).source = "pass"
    _, flags = plan(released, source)
    assert "test-cell-edited" in flags
    fixed = _first_visible_test(source)
    fixed.source = "# a course update\n" + fixed.source
    _, flags = plan(released, source)
    assert "test-cell-edited" in flags
