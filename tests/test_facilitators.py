"""The facilitators' guides (docs/facilitators/NN_slug.md) keep up with the lessons.

Every lesson has a guide; every numbered question of the lesson's Discuss section has a "### N." entry in
the guide's Discuss part (no more, no fewer); the README's table links every guide; every session plan ends
within 90 minutes.
"""
from __future__ import annotations

import re

import nbformat
import pytest

from autograde.lessons import ROOT
from conftest import LESSONS, lesson_ids

GUIDES = ROOT / "docs" / "facilitators"
HEADING = re.compile(r"^#{1,6}\s")
QUESTION = re.compile(r"^(\d+)\.\s")                  # "1. **Title.** ..." at the start of a line
ENTRY = re.compile(r"^###\s+(\d+)\.\s", re.M)          # "### 1. Title" in a guide


def discuss_questions(markdown: str) -> list[int] | None:
    """The numbers of the questions under the first "Discuss" heading of ``markdown`` (up to the next
    heading), or None when the text has no such heading."""
    lines = markdown.splitlines()
    start = next((i for i, line in enumerate(lines) if HEADING.match(line) and "discuss" in line.lower()), None)
    if start is None:
        return None
    numbers = []
    for line in lines[start + 1:]:
        if HEADING.match(line):
            break
        found = QUESTION.match(line)
        if found:
            numbers.append(int(found.group(1)))
    return numbers


def lesson_questions(lesson) -> list[int]:
    nb = nbformat.read(lesson.source, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            numbers = discuss_questions(cell.source)
            if numbers is not None:
                return numbers
    return []


def guide_entries(text: str) -> list[int]:
    """The "### N." entries after the guide's "## Discuss" heading."""
    part = re.split(r"^##\s+Discuss.*$", text, maxsplit=1, flags=re.M)
    return [int(n) for n in ENTRY.findall(part[1])] if len(part) == 2 else []


def test_the_parser_reads_the_lessons_formats():
    # bold titles, plain questions, and a glossary heading in the same cell
    assert discuss_questions("## 7. Discuss (study groups)\n\n1. **A.** x\n   2. not a question\n2. **B.** y\n"
                             "\n## 8. Glossary\n\n1. not a question") == [1, 2]
    assert discuss_questions("Some text.\n\n## Discuss\n\n1. The pretrained network ...\n2. Fine-tuning ...") == [1, 2]
    assert discuss_questions("## 2. Data\n\n1. a list, not questions") is None
    assert guide_entries("## A plan\n### 9. no\n## Discuss: what a good answer contains\n### 1. A\n### 2. B\n") == [1, 2]


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_every_lesson_has_a_guide_with_an_entry_per_discuss_question(lesson):
    guide = GUIDES / f"{lesson.slug}.md"
    assert guide.is_file(), f"lesson {lesson.slug} has no facilitator's guide: write {guide.relative_to(ROOT)}"
    questions = lesson_questions(lesson)
    assert questions, f"found no numbered questions under a 'Discuss' heading in {lesson.source.relative_to(ROOT)}"
    assert questions == list(range(1, len(questions) + 1)), f"the lesson's questions are numbered {questions}"
    entries = guide_entries(guide.read_text(encoding="utf-8"))
    missing = sorted(set(questions) - set(entries))
    extra = sorted(set(entries) - set(questions))
    assert not missing and not extra and len(entries) == len(set(entries)), (
        f"{guide.name}: the lesson has Discuss questions {questions}, the guide has '### N.' entries {entries} "
        f"(missing {missing}, not in the lesson {extra})")


def test_the_readme_links_every_guide():
    readme = (GUIDES / "README.md").read_text(encoding="utf-8")
    for lesson in LESSONS:
        assert f"]({lesson.slug}.md)" in readme, f"docs/facilitators/README.md does not link {lesson.slug}.md"


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_ids())
def test_every_session_plan_fits_90_minutes(lesson):
    guide = GUIDES / f"{lesson.slug}.md"
    if not guide.is_file():
        pytest.skip("no guide (the test above fails for it)")
    rows = re.findall(r"^\|\s*(\d+)\s*[–-]\s*(\d+)\s*\|", guide.read_text(encoding="utf-8"), re.M)
    assert rows, f"{guide.name} has no session plan (a table with rows like '| 0–10 | together | ... |')"
    assert max(int(end) for _, end in rows) <= 90, f"{guide.name}: a session plan runs past 90 minutes"
