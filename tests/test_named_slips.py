"""Slips found in learners' code that a visible check names, run in-process (no kernel, fast): the learner's
function with the slip, then the visible part of its test cell, whose failure must quote the slip's name. The
graded round trip (tests/test_grading.py, fixtures BUGS) proves the cost; this proves the words, cheaply."""
from __future__ import annotations

import nbformat
import pytest

from autograde.lessons import all_lessons

LESSONS = {lesson.slug[:2]: lesson for lesson in all_lessons()}

# (lesson, test cell, the learner's function, words the failure must hold)
SLIPS = [
    ("09", "test_cosine_lr", '''import math
def cosine_lr(step, total_steps, lr_max, lr_min=0.0):
    return float(lr_min + (lr_max - lr_min) * (1 + math.cos(math.pi * (step // total_steps))) / 2)
''', "step // total_steps is 0 until the last step (integer division)"),
    ("09", "test_cosine_lr", '''import math
def cosine_lr(step, total_steps, lr_max, lr_min=0.0):
    return float(lr_min + (lr_max - lr_min) * (1 + math.cos(math.pi * step // total_steps)) / 2)
''', "rounds pi * t / T down to a whole number"),
    ("09", "test_cosine_lr", '''import math
def cosine_lr(step, total_steps, lr_max, lr_min=0.0):
    return float(lr_min + (lr_max - lr_min) * math.cos(math.pi * step / total_steps))
''', "cos without (1 + cos)/2"),
]


NMS_SUPPRESSED_ALSO_SUPPRESS = '''import numpy as np
def nms(boxes, scores, iou_threshold):
    boxes, scores = np.asarray(boxes, dtype=float), np.asarray(scores, dtype=float)
    order = list(np.argsort(-scores, kind="stable"))
    removed = set()
    for position, i in enumerate(order):                  # every box removes its overlaps, even a removed one
        for j in order[position + 1:]:
            w = min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0])
            h = min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1])
            inter = max(w, 0) * max(h, 0)
            union = ((boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
                     + (boxes[j, 2] - boxes[j, 0]) * (boxes[j, 3] - boxes[j, 1]) - inter)
            if inter / union > iou_threshold:
                removed.add(j)
    return np.array([i for i in order if i not in removed], dtype=int)
'''
SLIPS.append(("10", "test_nms", NMS_SUPPRESSED_ALSO_SUPPRESS, "a removed box went on removing others"))


def visible_test(slug2: str, grade_id: str) -> str:
    nb = nbformat.read(LESSONS[slug2].source, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return cell.source.split("### BEGIN HIDDEN TESTS")[0]


@pytest.mark.parametrize("lesson,grade_id,answer,words", SLIPS, ids=[f"{s[0]}-{s[3][:30]}" for s in SLIPS])
def test_a_visible_check_names_the_slip(lesson, grade_id, answer, words):
    from cnnbook.checks import CheckFailed

    space: dict = {}
    exec(compile(answer, "<learner>", "exec"), space)
    with pytest.raises(CheckFailed) as failure:
        exec(compile(visible_test(lesson, grade_id), grade_id, "exec"), space)
    assert "typical slip" in str(failure.value) and words in str(failure.value), str(failure.value)
