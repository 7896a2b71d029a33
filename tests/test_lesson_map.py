"""What a lesson says about itself stays true: its points table, its time, and its row in README's lesson map.

The points table of a lesson's title cell must list its test cells in order with their points (from the
nbgrader metadata) and the right total; README's lesson map must give each lesson's total points and the
time the lesson states. For the lessons listed in ``HONEST_TIME`` the stated time must be the estimate
below, so it changes when the lesson grows.

The estimate (``estimate_minutes``), for a Korean learner of intermediate English:
- the text (markdown words) at 110 words a minute;
- the demonstration code (non-empty lines of code cells that are neither answers nor tests) at 15 lines a minute;
- the exercises at 4 minutes per point (points grow with the size of an exercise);
- 10 minutes for the Discuss questions.
Run this file with ``-s`` to print every lesson's estimate; a failure prints the table or row to paste.
"""
from __future__ import annotations

import re

import nbformat
import pytest

from autograde.lessons import ROOT, grade_cells
from conftest import LESSONS, lesson_ids

WORDS_PER_MINUTE = 110
CODE_LINES_PER_MINUTE = 15
MINUTES_PER_POINT = 4
DISCUSSION_MINUTES = 10
LONGEST_LESSON = 120
# Lessons whose stated time is the estimate (the others still state their authors' figure).
HONEST_TIME = {"01", "02", "03", "04"}
# Lessons whose estimate is above LONGEST_LESSON and that still wait for a split (see README).
TOO_LONG_FOR_NOW = {"02", "04"}


def _test_cells_of(nb) -> list[tuple[str, float]]:
    """(grade_id, points) of every test cell, in notebook order."""
    return [(gid, float(c.metadata.nbgrader["points"])) for gid, c in grade_cells(nb).items()
            if c.metadata.nbgrader.get("grade") and not c.metadata.nbgrader.get("solution")]


def estimate_minutes(nb) -> dict[str, float]:
    md = " ".join(c.source for c in nb.cells if c.cell_type == "markdown")
    words = len(re.findall(r"[A-Za-z][A-Za-z'’-]*", md))
    demo = sum(len([ln for ln in c.source.splitlines() if ln.strip()]) for c in nb.cells
               if c.cell_type == "code" and not c.metadata.get("nbgrader"))
    points = sum(p for _, p in _test_cells_of(nb))
    parts = {"reading": words / WORDS_PER_MINUTE, "demo code": demo / CODE_LINES_PER_MINUTE,
             "exercises": points * MINUTES_PER_POINT, "discussion": DISCUSSION_MINUTES}
    parts["total"] = sum(parts.values())
    return parts


def stated_minutes(nb) -> int:
    found = re.search(r"\*\*Time needed\.\*\* About (\d+) minutes", nb.cells[0].source)
    assert found, "the title cell has no '**Time needed.** About N minutes'"
    return int(found.group(1))


def points_table(nb) -> list[tuple[int, float]]:
    """(number, points) of the rows of the title cell's exercise table, and the total row as (0, total)."""
    rows = []
    for line in nb.cells[0].source.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].isdigit() and cells[-1].replace(".", "").isdigit():
            rows.append((int(cells[0]), float(cells[-1])))
        elif len(cells) >= 3 and "**total**" in line:
            rows.append((0, float(cells[-1].strip("*"))))
    return rows


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_points_table_matches_the_test_cells(lesson):
    nb = nbformat.read(lesson.source, as_version=4)
    tests = _test_cells_of(nb)
    expected = [(i + 1, points) for i, (_, points) in enumerate(tests)] + [(0, sum(p for _, p in tests))]
    assert points_table(nb) == expected, (
        f"{lesson.slug}: the title cell's exercise table says {points_table(nb)}, the test cells "
        f"{[(gid, p) for gid, p in tests]} (total {sum(p for _, p in tests):g})")


@pytest.mark.parametrize("lesson", [lesson for lesson in LESSONS if lesson.number in HONEST_TIME],
                         ids=[lesson.slug for lesson in LESSONS if lesson.number in HONEST_TIME])
def test_stated_time_is_the_estimate(lesson):
    nb = nbformat.read(lesson.source, as_version=4)
    parts = estimate_minutes(nb)
    print(lesson.slug, {k: round(v) for k, v in parts.items()})
    stated = stated_minutes(nb)
    assert abs(stated - parts["total"]) <= 5, (
        f"{lesson.slug} states {stated} minutes, the estimate is {parts['total']:.0f} "
        f"({', '.join(f'{k} {v:.0f}' for k, v in parts.items())}): write 'About "
        f"{5 * round(parts['total'] / 5)} minutes'")
    if lesson.number not in TOO_LONG_FOR_NOW:
        assert parts["total"] <= LONGEST_LESSON, f"{lesson.slug} takes {parts['total']:.0f} minutes: split or trim it"


@pytest.mark.parametrize("number", sorted(TOO_LONG_FOR_NOW))
def test_lessons_waiting_for_a_split_are_still_too_long(number):
    """When one of them fits again, take it off TOO_LONG_FOR_NOW so the limit guards it."""
    lesson = next(lesson for lesson in LESSONS if lesson.number == number)
    assert estimate_minutes(nbformat.read(lesson.source, as_version=4))["total"] > LONGEST_LESSON


def readme_rows() -> dict[str, list[str]]:
    rows = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"\d\d", cells[0]):
            rows[cells[0]] = cells
    return rows


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_readme_lesson_map_row(lesson):
    nb = nbformat.read(lesson.source, as_version=4)
    row = readme_rows().get(lesson.number)
    assert row, f"README's lesson map has no row for {lesson.slug}"
    assert f"notebooks/{lesson.slug}/{lesson.slug}.ipynb" in row[1], row
    total = sum(p for _, p in _test_cells_of(nb))
    assert row[3] == f"{stated_minutes(nb)} min" and float(row[4]) == total, (
        f"README's row for {lesson.slug} says {row[3]!r}, {row[4]!r} points; the lesson says "
        f"'{stated_minutes(nb)} min' and its test cells hold {total:g} points")
