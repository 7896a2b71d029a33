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

# From a learner's trial: boxes visited in index order. The coin boxes keep the same three by chance, and the
# shuffled check's "sorted by index" slip used to fire, sending the learner to sort the output instead.
SLIPS.append(("10", "test_nms", NMS_SUPPRESSED_ALSO_SUPPRESS.replace(
    'order = list(np.argsort(-scores, kind="stable"))', "order = list(range(len(scores)))").replace(
    "removed.add(j)", "removed.add(j) if i not in removed else None"), "the boxes were visited in index order"))
SLIPS.append(("10", "test_smooth_l1", '''import torch
def smooth_l1(diff, beta=1.0):
    absolute = diff.abs()
    return torch.where(absolute < 1, 0.5 * diff ** 2, absolute - 0.5)
''', "beta was left out"))

# From a learner's trial: two slips that failed with only expected and got values.
SLIPS.append(("09", "test_cosine_lr", '''import math
def cosine_lr(step, total_steps, lr_max, lr_min=0.0):
    return float(lr_min + (lr_max - lr_min) * (1 + math.cos(math.pi * (step + 1) / total_steps)) / 2)
''', "the steps were counted from 1"))
SLIPS.append(("09", "test_softmax_cross_entropy", '''import numpy as np
def softmax_cross_entropy(scores, labels):
    shifted = scores - scores.max(axis=0, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=0, keepdims=True)
    return float(-np.log(probs[np.arange(len(labels)), labels]).mean())
''', "normalised over the images (axis 0)"))

# From a learner's trial: the box loss divided by the batch size failed only a hidden check (the visible batch had
# one canvas with one object, where the two agree).
SLIPS.append(("10", "test_detection_loss", '''import torch
import torch.nn.functional as F
BOX_WEIGHT = 2.0
def detection_loss(output, target):
    out = output.permute(0, 2, 3, 1)
    objects = target[..., 0] > 0
    confidence = F.binary_cross_entropy_with_logits(out[..., 0], target[..., 0])
    predicted, wanted = out[objects], target[objects]
    guess = torch.cat([torch.sigmoid(predicted[:, 1:3]), predicted[:, 3:5]], dim=1)
    box = F.smooth_l1_loss(guess, wanted[:, 1:5], reduction="sum") / output.shape[0]
    classes = F.cross_entropy(predicted[:, 5:], wanted[:, 5].long(), reduction="sum") / objects.sum()
    return BOX_WEIGHT * box + confidence + classes
''', "the box loss was divided by the number of canvases"))

# From a learner's trial: t counted from 2. The first-step check used to fail with only its numbers and a hint
# about bias correction, which the answer had; the slip's name sat in the next check, never reached.
SLIPS.append(("09", "test_adam_update", '''import torch
def adam_update(w, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state.get("t", 0) + 2
    m = beta1 * state.get("m", torch.zeros_like(w)) + (1 - beta1) * grad
    v = beta2 * state.get("v", torch.zeros_like(w)) + (1 - beta2) * grad * grad
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return w - lr * m_hat / (v_hat.sqrt() + eps), {"m": m, "v": v, "t": t - 1}
''', "the step count starts at 2"))


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


MOMENTUM_KEEPS_THE_GRADIENT = '''def momentum_update(w, grad, state, lr, momentum=0.0):
    if "buf" not in state:
        state["buf"] = grad                      # the gradient itself, changed in place at the next step
    else:
        state["buf"].mul_(momentum).add_(grad)
    return w - lr * state["buf"], state
'''


def test_an_update_that_changes_the_gradient_it_was_given_fails_and_says_so():
    """Lesson 09 says "do not change grad": a momentum update whose state keeps the gradient tensor itself (and
    changes it in place at the next step) computed the right weights and got full marks in a learner's trial.
    The visible check now fails it, saying what happened and what to keep instead."""
    from cnnbook.checks import CheckFailed

    space: dict = {}
    exec(compile(MOMENTUM_KEEPS_THE_GRADIENT, "<learner>", "exec"), space)
    with pytest.raises(CheckFailed) as failure:
        exec(compile(visible_test("09", "test_momentum_update"), "test_momentum_update", "exec"), space)
    assert "a gradient passed to your update changed after it returned" in str(failure.value), str(failure.value)
    assert "grad.clone()" in str(failure.value)
