"""The facilitators' guides (docs/facilitators/NN_slug.md) keep up with the lessons.

Every lesson has a guide; every numbered question of the lesson's Discuss section has a "### N." entry in
the guide's Discuss part (no more, no fewer); the README's table links every guide; every session plan ends
within 90 minutes; the numbers guides quote from a course helper (guide 10: the NMS explorer's counts,
guide 07: the scaling table) are what the helper computes.
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


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def test_the_nms_explorer_counts_in_guide_10_are_the_explorers():
    """Guide 10's "explorer on one screen" quotes the counts NMSExplorer prints over the 500 test canvases; a new
    detector or a change to the explorer's verdicts leaves them stale (they were, for one edition)."""
    import numpy as np
    import torch

    from cnnbook.data import load_detection, load_detector
    from cnnbook.nms_explorer import decode_outputs, summarise
    from test_nms_explorer import bench

    text = " ".join((GUIDES / "10_detection.md").read_text(encoding="utf-8").split())
    said = re.search(r"over all 500 test canvases ([\d,]+) boxes pass, NMS suppresses ([\d,]+) and keeps ([\d,]+), "
                     r"which find ([\d,]+) of the ([\d,]+) digits \(recall ([\d.]+) %\) with ([\d,]+) wrong boxes "
                     r"\(precision ([\d.]+) %: ([\d,]+) duplicates, ([\d,]+) on a digit of another class, ([\d,]+) poor "
                     r"boxes or background\)\. Then IoU 0\.9: NMS suppresses ([\d,]+) boxes?, the duplicates jump to "
                     r"([\d,]+) and the precision falls to ([\d.]+) %\. Back at 0\.5, switch to all classes: the "
                     r"wrong-class boxes drop from ([\d,]+) to ([\d,]+), but the digits found drop from ([\d,]+) to "
                     r"([\d,]+)", text)
    assert said, "guide 10's explorer paragraph changed its wording: update this test with it"
    quoted = [_number(group) for group in said.groups()]

    model = bench().TinyYOLO()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in load_detector()["weights"].items()})
    model.eval()
    data = load_detection()
    with torch.no_grad():
        x = torch.tensor(data["images_test"], dtype=torch.float32)[:, None] / 255
        raw = torch.cat([model(x[start:start + 100]) for start in range(0, len(x), 100)]).numpy()
    decoded = decode_outputs(raw)
    assert len(raw) == 500
    t = summarise(decoded, data["boxes_test"], data["labels_test"], 0.05, 0.5)
    wide = summarise(decoded, data["boxes_test"], data["labels_test"], 0.05, 0.9)
    agnostic = summarise(decoded, data["boxes_test"], data["labels_test"], 0.05, 0.5, per_class=False)
    wrong = t["kept"] - t["right"]
    measured = [t["candidates"], t["suppressed"], t["kept"], t["right"], t["digits"],
                round(100 * t["right"] / t["digits"], 1), wrong, round(100 * t["right"] / t["kept"], 1),
                t["duplicates"], t["wrong_class"], t["other_wrong"], wide["suppressed"], wide["duplicates"],
                round(100 * wide["right"] / wide["kept"], 1), t["wrong_class"], agnostic["wrong_class"], t["right"],
                agnostic["right"]]
    assert quoted == measured, f"guide 10 quotes {quoted}, the explorer counts {measured}"
    assert np.isclose(quoted[6], quoted[8] + quoted[9] + quoted[10])


def test_the_scaling_table_in_guide_07_is_the_explorers():
    """Guide 07's Discuss 7 table (the explorer at phi = 1) against cnnbook.scaling, which the explorer draws from."""
    from cnnbook.scaling import explain_scaling

    text = (GUIDES / "07_architectures.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (compound|depth only|width only|resolution only) \| ([\d.]+), ([\d.]+), (\d+) \| "
                      r"([\d,]+) \| ([\d.]+) \|$", text, re.M)
    assert [row[0] for row in rows] == ["compound", "depth only", "width only", "resolution only"], \
        "guide 07's scaling table changed its form: update this test with it"
    for strategy, depth, width, resolution, params, macs in rows:
        got = explain_scaling(1.0, strategy)
        assert (float(depth), float(width), int(resolution)) == (round(got["depth"], 3), round(got["width"], 3),
                                                                 got["resolution"]), strategy
        assert (_number(params), float(macs)) == (got["cost"]["params"], round(got["cost"]["macs"] / 1e9, 2)), strategy
