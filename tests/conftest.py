"""Shared fixtures: the lessons, and submissions built from the released notebooks."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import nbformat
import pytest

from autograde.lessons import ROOT, all_lessons, grade_cells

LESSONS = all_lessons()
FIXTURES = Path(__file__).parent / "fixtures"
# The grader's own test lesson (tests/course/solutions/99_guard): attacks and faults are written against it,
# so editing a course lesson never breaks them.
GUARD_SOLUTIONS = Path(__file__).parent / "course" / "solutions"
GUARD = all_lessons(GUARD_SOLUTIONS)[0]

# Matplotlib must never try to open a window while tests run notebooks or widgets.
os.environ.setdefault("MPLBACKEND", "agg")


def lesson_ids():
    return [lesson.slug for lesson in LESSONS]


def lesson_fixture(slug: str):
    """tests/fixtures/<slug>.py: BUG and HARDCODED submissions for the grading round trip."""
    path = FIXTURES / f"{slug}.py"
    spec = importlib.util.spec_from_file_location(f"fixture_{slug}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def answer_sources(lesson) -> dict[str, str]:
    """The solution of every answer cell, with the nbgrader markers removed, as a learner would write it."""
    source = nbformat.read(lesson.source, as_version=4)
    answers = {}
    for gid, cell in grade_cells(source).items():
        if cell.metadata.nbgrader.get("solution"):
            lines = [ln for ln in cell.source.splitlines()
                     if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
            answers[gid] = "\n".join(lines)
    return answers


def submission(lesson, replace: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The released student notebook with the given answer cells (by grade_id) replaced."""
    nb = nbformat.read(lesson.student_version, as_version=4)
    cells = grade_cells(nb)
    for gid, text in (replace or {}).items():
        assert gid in cells, f"{lesson.slug}: no answer cell {gid!r}"
        cells[gid].source = text
    return nb


def solved(lesson, extra: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """A submission that answers every exercise with the solution, then applies ``extra`` replacements."""
    return submission(lesson, {**answer_sources(lesson), **(extra or {})})


def write(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def points_of_tests(lesson) -> dict[str, float]:
    """grade_id -> points of every test cell of a lesson."""
    source = nbformat.read(lesson.source, as_version=4)
    return {gid: float(c.metadata.nbgrader["points"]) for gid, c in grade_cells(source).items()
            if c.metadata.nbgrader.get("grade") and not c.metadata.nbgrader.get("solution")}


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


# The guard lesson's group_max, answered with right values in the wrong way (attacks and the one-engine test).
GUARD_MUTATES = '''def group_max(values, width):
    """Right values, but the caller's array is overwritten."""
    import numpy as np
    arr = np.asarray(values, dtype=float)
    result = arr.reshape(-1, width).max(axis=1).copy()
    arr[:] = 0
    return result
'''
GUARD_LOOPS = '''def group_max(values, width):
    """Right values, one Python loop step per group."""
    import numpy as np
    return np.array([max(values[i:i + width]) for i in range(0, len(values), width)], dtype=float)
'''
