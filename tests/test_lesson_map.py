"""What a lesson says about itself stays true: its points table, its time, its sittings, its row in README's
lesson map and its facilitator's guide.

The points table of a lesson's title cell must list its test cells in order with their points (from the
nbgrader metadata) and the right total. Every lesson states its time, and the stated time must be the estimate
below, so it changes when the lesson grows. A lesson (one nbgrader assignment, never renumbered) whose estimate
is over ``LONGEST_SITTING`` is split into sittings ("Part 1", "Part 2", at most ``MOST_SITTINGS``) along its own
seams: a markdown cell tagged ``sitting`` (cell metadata ``tags``) ends every sitting but the last, and reads
"> **End of Part N of M.** ... **Part N+1** (about X minutes) ...". Each sitting must fit ``LONGEST_SITTING``.
The title cell says "**Time needed.** About T minutes, in one sitting." or "... in two sittings (Part 1 about
A, Part 2 about B) ...". README's lesson map gives each lesson's total points and "T min" or "T min (A + B)";
the lesson's guide (docs/facilitators/NN_slug.md) says "Planned at T minutes, in two sittings (Part 1 about A,
Part 2 about B)" and has one "## Session N (Part N ...)" plan per sitting (a lesson of one sitting: none).

The estimate (``estimate_minutes``), for a Korean learner of intermediate English:
- the text (markdown words) at 110 words a minute;
- the demonstration code (non-empty lines of code cells that are neither answers nor tests) at 15 lines a minute;
- the exercises at 4 minutes per point (points grow with the size of an exercise);
- 10 minutes for the Discuss questions (counted in the last sitting).
A sitting's estimate counts the cells from the one after the previous ``sitting`` cell up to its own ``sitting``
cell. Stated figures are the estimates rounded to 5 minutes and may differ from them by at most 5.
Run this file with ``-s`` to print every lesson's estimate; a failure prints the sentence or row to paste.
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
LONGEST_SITTING = 120
MOST_SITTINGS = 3
SITTING_TAG = "sitting"
TOLERANCE = 5
NUMBER_WORDS = {1: "one sitting", 2: "two sittings", 3: "three sittings"}
GUIDES = ROOT / "docs" / "facilitators"


def _test_cells_of(nb) -> list[tuple[str, float]]:
    """(grade_id, points) of every test cell, in notebook order."""
    return [(gid, float(c.metadata.nbgrader["points"])) for gid, c in grade_cells(nb).items()
            if c.metadata.nbgrader.get("grade") and not c.metadata.nbgrader.get("solution")]


def _is_test_cell(cell) -> bool:
    nbg = cell.metadata.get("nbgrader") or {}
    return bool(nbg.get("grade")) and not nbg.get("solution")


def is_sitting_cell(cell) -> bool:
    return cell.cell_type == "markdown" and SITTING_TAG in cell.metadata.get("tags", [])


def sittings(nb) -> list[list]:
    """The lesson's cells cut after every ``sitting`` cell (that cell closes its sitting)."""
    parts: list[list] = [[]]
    for cell in nb.cells:
        parts[-1].append(cell)
        if is_sitting_cell(cell):
            parts.append([])
    return parts


def _estimate(cells, discussion: bool) -> dict[str, float]:
    md = " ".join(c.source for c in cells if c.cell_type == "markdown")
    words = len(re.findall(r"[A-Za-z][A-Za-z'’-]*", md))
    demo = sum(len([ln for ln in c.source.splitlines() if ln.strip()]) for c in cells
               if c.cell_type == "code" and not c.metadata.get("nbgrader"))
    points = sum(float(c.metadata.nbgrader["points"]) for c in cells if _is_test_cell(c))
    parts = {"reading": words / WORDS_PER_MINUTE, "demo code": demo / CODE_LINES_PER_MINUTE,
             "exercises": points * MINUTES_PER_POINT, "discussion": DISCUSSION_MINUTES if discussion else 0}
    parts["total"] = sum(parts.values())
    return parts


def estimate_minutes(nb) -> dict[str, float]:
    """The estimate of the whole lesson: reading, demo code, exercises, discussion and total."""
    return _estimate(nb.cells, discussion=True)


def estimate_sittings(nb) -> list[dict[str, float]]:
    """The estimate of each sitting; the discussion belongs to the last one. They add up to the lesson's."""
    parts = sittings(nb)
    return [_estimate(cells, discussion=i == len(parts) - 1) for i, cells in enumerate(parts)]


def rounded(minutes: float) -> int:
    return 5 * round(minutes / 5)


def stated_time(text: str, prefix: str = r"\*\*Time needed\.\*\* About") -> tuple[int, list[int]] | None:
    """(total, [minutes of each part]) stated by ``text`` ("About T minutes, in two sittings (Part 1 about A,
    Part 2 about B)"); a lesson of one sitting gives [T]. None when the sentence is missing or malformed."""
    found = re.search(prefix + r" (\d+) minutes, in (one sitting|two sittings|three sittings)"
                      r"(?: \(((?:Part \d about \d+(?:, )?)+)\))?", text)
    if not found:
        return None
    total, count = int(found.group(1)), {"one": 1, "two": 2, "three": 3}[found.group(2).split()[0]]
    if count == 1:
        return (total, [total]) if not found.group(3) else None
    listed = re.findall(r"Part (\d) about (\d+)", found.group(3) or "")
    if [int(n) for n, _ in listed] != list(range(1, count + 1)):
        return None
    return total, [int(m) for _, m in listed]


def stated_minutes(nb) -> int:
    stated = stated_time(nb.cells[0].source)
    assert stated, ("the title cell has no '**Time needed.** About N minutes, in one sitting.' (or 'in two "
                    "sittings (Part 1 about A, Part 2 about B)')")
    return stated[0]


def time_sentence(nb) -> str:
    """What the title cell (and, after 'Planned at', the guide) should say."""
    parts = estimate_sittings(nb)
    total = rounded(sum(p["total"] for p in parts))
    if len(parts) == 1:
        return f"About {total} minutes, in one sitting"
    listed = ", ".join(f"Part {i + 1} about {rounded(p['total'])}" for i, p in enumerate(parts))
    return f"About {total} minutes, in {NUMBER_WORDS[len(parts)]} ({listed})"


def readme_time(stated: tuple[int, list[int]]) -> str:
    """README's time column for a stated (total, parts): "185 min" or "185 min (85 + 100)"."""
    total, parts = stated
    return f"{total} min" if len(parts) == 1 else f"{total} min ({' + '.join(str(p) for p in parts)})"


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


def test_the_time_sentence_parser():
    assert stated_time("**Time needed.** About 110 minutes, in one sitting. How we") == (110, [110])
    assert stated_time("**Time needed.** About 185 minutes, in two sittings (Part 1 about 85, Part 2 about "
                       "100): sections") == (185, [85, 100])
    assert stated_time("**Time needed.** About 185 minutes, in three sittings (Part 1 about 85, Part 2 about "
                       "100)") is None
    assert stated_time("**Time needed.** About 185 minutes, in two sittings (Part 2 about 85, Part 1 about "
                       "100)") is None
    assert stated_time("**Time needed.** About 185 minutes.") is None
    assert readme_time((185, [85, 100])) == "185 min (85 + 100)" and readme_time((110, [110])) == "110 min"


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_stated_time_is_the_estimate_and_every_sitting_fits(lesson):
    nb = nbformat.read(lesson.source, as_version=4)
    parts = estimate_sittings(nb)
    total = sum(p["total"] for p in parts)
    print(lesson.slug, round(total), [{k: round(v) for k, v in p.items()} for p in parts])
    stated = stated_time(nb.cells[0].source)
    detail = "; ".join(f"Part {i + 1}: " + ", ".join(f"{k} {v:.0f}" for k, v in p.items())
                       for i, p in enumerate(parts))
    assert stated, (f"{lesson.slug}: the title cell has no time sentence; write '**Time needed.** "
                    f"{time_sentence(nb)}' ({detail})")
    assert len(stated[1]) == len(parts), (
        f"{lesson.slug} states {len(stated[1])} sitting(s), the notebook has {len(parts)} (cells tagged "
        f"'{SITTING_TAG}' end a sitting): write '**Time needed.** {time_sentence(nb)}'")
    assert abs(stated[0] - total) <= TOLERANCE and all(
        abs(s - p["total"]) <= TOLERANCE for s, p in zip(stated[1], parts)), (
        f"{lesson.slug} states {stated}, the estimate is {total:.0f} ({detail}): write "
        f"'**Time needed.** {time_sentence(nb)}'")
    assert len(parts) <= MOST_SITTINGS, f"{lesson.slug} has {len(parts)} sittings: trim it"
    for i, p in enumerate(parts):
        assert p["total"] <= LONGEST_SITTING, (
            f"{lesson.slug}: {'Part ' + str(i + 1) if len(parts) > 1 else 'the lesson'} takes {p['total']:.0f} "
            f"minutes ({detail}): split it along a seam (a markdown cell tagged '{SITTING_TAG}') or trim it")


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_every_sitting_ends_with_its_box(lesson):
    """The cell that ends Part N says so, says what comes next and how long it takes (as the title cell)."""
    nb = nbformat.read(lesson.source, as_version=4)
    stated = stated_time(nb.cells[0].source)
    if not stated:
        pytest.skip("no time sentence (the test above fails for it)")
    ends = [c for c in nb.cells if is_sitting_cell(c)]
    count = len(ends) + 1
    for n, cell in enumerate(ends, start=1):
        head = re.match(r"> \*\*End of Part (\d) of (\d)\.\*\*", cell.source)
        assert head and (int(head.group(1)), int(head.group(2))) == (n, count), (
            f"{lesson.slug}: the cell ending sitting {n} must start '> **End of Part {n} of {count}.**': "
            f"{cell.source[:80]!r}")
        flat = " ".join(cell.source.replace("\n>", "\n").split())   # the box's text without its line breaks
        assert "your work is kept" in flat, f"{lesson.slug}: Part {n}'s box does not say the work is kept"
        assert "Run > Run All Above Selected Cell" in flat, (
            f"{lesson.slug}: Part {n}'s box does not say how to come back (Run > Run All Above Selected Cell)")
        # Run All Above stops at the first failing test: a learner with an unfinished exercise must know what then.
        assert "If it stops at the test of an exercise you have not finished" in flat and "Shift+Enter" in flat, (
            f"{lesson.slug}: Part {n}'s box does not say what to do when Run All Above stops at an unfinished "
            "exercise's test (run the cells after it one by one, Shift+Enter)")
        assert "Runtime > Run before" in flat, f"{lesson.slug}: Part {n}'s box does not name Colab's menu"
        following = re.search(rf"\*\*Part {n + 1}\*\* \(about (\d+) minutes\)", flat)
        assert following and len(stated[1]) > n and int(following.group(1)) == stated[1][n], (
            f"{lesson.slug}: Part {n}'s box must announce '**Part {n + 1}** (about "
            f"{stated[1][n] if len(stated[1]) > n else '?'} minutes)' as the title cell does")
    for cell in nb.cells:
        if cell.cell_type == "markdown" and not is_sitting_cell(cell):
            assert not re.search(r"\*\*End of (Part|session) \d", cell.source), (
                f"{lesson.slug}: a cell that ends a sitting is not tagged '{SITTING_TAG}': {cell.source[:80]!r}")


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
    stated = stated_time(nb.cells[0].source)
    assert stated, f"{lesson.slug}: the title cell states no time"
    assert row[3] == readme_time(stated) and float(row[4]) == total, (
        f"README's row for {lesson.slug} says {row[3]!r}, {row[4]!r} points; the lesson says "
        f"'{readme_time(stated)}' and its test cells hold {total:g} points")


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_the_guide_plans_the_lessons_time_and_sittings(lesson):
    """docs/facilitators/NN_slug.md: 'Planned at T minutes, in ...' as the lesson states, one session plan
    ('## Session N (Part N ...') per sitting, none for a lesson of one sitting."""
    guide = GUIDES / f"{lesson.slug}.md"
    if not guide.is_file():
        pytest.skip("no guide (tests/test_facilitators.py fails for it)")
    nb = nbformat.read(lesson.source, as_version=4)
    lesson_says = stated_time(nb.cells[0].source)
    if not lesson_says:
        pytest.skip("no time sentence (the test above fails for it)")
    text = guide.read_text(encoding="utf-8")
    guide_says = stated_time(text, prefix="Planned at")
    assert guide_says == lesson_says, (
        f"{guide.name} plans {guide_says}, the lesson states {lesson_says}: write 'Planned at "
        f"{time_sentence(nb)[len('About '):]}'")
    total, parts = lesson_says
    note = f"({total} minutes)" if len(parts) == 1 else f"({total} minutes in {len(parts)} parts: {len(parts)} session plans)"
    row = next((line for line in (GUIDES / "README.md").read_text(encoding="utf-8").splitlines()
                if f"]({lesson.slug}.md)" in line), "")
    assert row.endswith(f" {note} |"), f"docs/facilitators/README.md: the row of {lesson.slug} should end '{note} |': {row}"
    sessions = re.findall(r"^## Session (\d+) \(Part (\d+)\b", text, re.M)
    expected = [] if len(lesson_says[1]) == 1 else [(str(n), str(n)) for n in range(1, len(lesson_says[1]) + 1)]
    assert sessions == expected, (
        f"{guide.name}: session plans {sessions}; the lesson has {len(lesson_says[1])} sitting(s), so "
        + ("one plan without '## Session' headings" if not expected else
           "one '## Session N (Part N, ...)' heading per sitting"))
