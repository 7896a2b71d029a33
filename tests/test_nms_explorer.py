"""The lesson-10 explorer: its decoding, NMS and verdicts agree with independent references (the benchmark's
torch decoding and NMS, plain loops), its counts add up, and its picture and words follow every control."""
from __future__ import annotations

import io
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from cnnbook.data import load_detection, load_detector
from cnnbook.nms_explorer import NMSExplorer, decode_outputs, judge, pair_iou, summarise, suppress

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@lru_cache(maxsize=1)
def bench():
    """benchmarks/detection.py: the network the shipped weights fit, its decoding and its NMS."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import detection
    finally:
        sys.path.remove(str(BENCHMARKS))
    return detection


@lru_cache(maxsize=1)
def shipped_outputs(n: int = 100) -> tuple[np.ndarray, dict]:
    """The shipped detector's raw outputs (n, 15, 8, 8) on the first n test canvases, and the canvases."""
    model = bench().TinyYOLO()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in load_detector()["weights"].items()})
    model.eval()
    data = load_detection()
    data = {k: v[:n] for k, v in data.items() if k.endswith("_test")}
    with torch.no_grad():
        raw = model(torch.tensor(data["images_test"], dtype=torch.float32)[:, None] / 255).numpy()
    return raw, data


def shipped_explorer(**settings) -> NMSExplorer:
    """The explorer as lesson 10 shows it, on the first 100 test canvases (quick for the picture tests)."""
    raw, data = shipped_outputs()
    return NMSExplorer(raw, data["images_test"], data["boxes_test"], data["labels_test"], **settings)


def test_decoding_is_the_benchmarks():
    rng = np.random.default_rng(0)
    raw = rng.normal(0, 3, (6, 15, 8, 8))
    boxes, scores, labels = decode_outputs(raw)
    for k in range(len(raw)):
        want_boxes, want_scores, want_labels = bench().decode(torch.tensor(raw[k]))
        np.testing.assert_allclose(boxes[k], want_boxes, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(scores[k], want_scores, rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(labels[k], want_labels)


def reference_iou(a, b):
    out = np.zeros((len(a), len(b)))
    for i, (ax0, ay0, ax1, ay1) in enumerate(a):
        for j, (bx0, by0, bx1, by1) in enumerate(b):
            w, h = min(ax1, bx1) - max(ax0, bx0), min(ay1, by1) - max(ay0, by0)
            inter = w * h if w > 0 and h > 0 else 0.0
            union = max(ax1 - ax0, 0) * max(ay1 - ay0, 0) + max(bx1 - bx0, 0) * max(by1 - by0, 0) - inter
            out[i, j] = inter / union if union > 0 else 0.0
    return out


def random_clusters(rng, n):
    centres = rng.uniform(10, 54, (3, 2))[rng.integers(0, 3, n)] + rng.normal(0, 3, (n, 2))
    sizes = rng.uniform(6, 20, (n, 2))
    return np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1), rng.random(n), rng.integers(0, 3, n)


def test_pair_iou_one_canvas_and_a_batch_against_a_loop():
    rng = np.random.default_rng(1)
    a, b = random_clusters(rng, 30)[0], random_clusters(rng, 7)[0]
    np.testing.assert_allclose(pair_iou(a, b), reference_iou(a, b), atol=1e-12)
    batch_a, batch_b = np.stack([a, a[::-1]]), np.stack([b, b[::-1]])
    np.testing.assert_allclose(pair_iou(batch_a, batch_b)[1], reference_iou(a[::-1], b[::-1]), atol=1e-12)
    assert pair_iou([[1, 1, 1, 1]], [[1, 1, 1, 1]])[0, 0] == 0.0


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.9])
@pytest.mark.parametrize("per_class", [True, False])
def test_suppress_keeps_what_the_benchmarks_nms_keeps_and_names_who_suppressed(threshold, per_class):
    rng = np.random.default_rng(int(threshold * 10) + 7 * per_class)
    for _ in range(20):
        boxes, scores, labels = random_clusters(rng, int(rng.integers(0, 25)))
        keep, by, overlap = suppress(boxes, scores, labels, threshold, per_class)
        if per_class:
            want = [np.flatnonzero(labels == c)[bench().nms(boxes[labels == c], scores[labels == c], threshold)]
                    for c in range(3)]
            want = np.concatenate(want).astype(int) if len(boxes) else np.zeros(0, dtype=int)
        else:
            want = bench().nms(boxes, scores, threshold) if len(boxes) else np.zeros(0, dtype=int)
        assert sorted(keep.tolist()) == sorted(want.tolist())
        assert list(scores[keep]) == sorted(scores[keep], reverse=True)
        assert set(np.flatnonzero(by == -1)) == set(keep.tolist())
        ious = reference_iou(boxes, boxes)
        for j in np.flatnonzero(by >= 0):
            assert by[j] in keep and scores[by[j]] >= scores[j] and ious[by[j], j] > threshold
            assert overlap[j] == pytest.approx(ious[by[j], j])
            assert not per_class or labels[by[j]] == labels[j]


def test_judge_claims_each_true_box_once_and_names_the_wrong_ones():
    truth = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], dtype=float)
    truth_labels = np.array([7, 1])
    boxes = np.array([[0, 0, 10, 10],        # the 7: right
                      [1, 0, 10, 10],        # the 7 again: a duplicate
                      [20, 0, 30, 11],       # on the 1, read as a 7: another class
                      [40, 40, 50, 50],      # on the background
                      [20, 0, 30, 10]], dtype=float)   # the 1: right
    verdict = judge(boxes, np.array([7, 7, 7, 7, 1]), truth, truth_labels)
    assert verdict["right"].tolist() == [True, False, False, False, True]
    assert verdict["duplicate"].tolist() == [False, True, False, False, False]
    assert verdict["wrong_class"].tolist() == [False, False, True, False, False]
    assert verdict["claimed"].tolist() == [True, True]
    nothing = judge(np.zeros((0, 4)), np.zeros(0, dtype=int), truth, truth_labels)
    assert nothing["claimed"].tolist() == [False, False] and len(nothing["right"]) == 0


def reference_counts(raw, data, score_threshold, iou_threshold):
    """Right detections and misses by the benchmark's own evaluation path: its decode, score bar and per-class NMS,
    then greedy matching (highest score first) written as a loop."""
    found = []
    for output in raw:
        boxes, scores, labels = bench().decode(torch.tensor(output))
        chosen = scores >= score_threshold
        boxes, scores, labels = boxes[chosen], scores[chosen], labels[chosen]
        keep = [np.flatnonzero(labels == c)[bench().nms(boxes[labels == c], scores[labels == c], iou_threshold)]
                for c in range(10)]
        keep = np.concatenate(keep).astype(int)
        keep = keep[np.argsort(-scores[keep], kind="stable")]
        found.append((boxes[keep], labels[keep]))
    right = digits = 0
    for (boxes, labels), t_boxes, t_labels in zip(found, data["boxes_test"], data["labels_test"]):
        present = t_labels >= 0
        truth, truth_labels = t_boxes[present].astype(float), t_labels[present]
        digits += len(truth)
        claimed = [False] * len(truth)
        for box, label in zip(boxes, labels):
            best, where = -1.0, None
            for j, (t, tl) in enumerate(zip(truth, truth_labels)):
                iou = reference_iou(box[None], t[None])[0, 0]
                if tl == label and not claimed[j] and iou > best:
                    best, where = iou, j
            if where is not None and best >= 0.5:
                claimed[where] = True
                right += 1
    return right, digits


@pytest.mark.parametrize("score_threshold, iou_threshold", [(0.05, 0.5), (0.3, 0.3), (0.01, 0.9)])
def test_the_counts_over_all_canvases_match_the_benchmarks_evaluation_and_add_up(score_threshold, iou_threshold):
    raw, data = shipped_outputs()
    decoded = decode_outputs(raw)
    totals = summarise(decoded, data["boxes_test"], data["labels_test"], score_threshold, iou_threshold)
    right, digits = reference_counts(raw, data, score_threshold, iou_threshold)
    assert (totals["right"], totals["digits"]) == (right, digits)
    assert totals["cells"] == 64 * len(raw)
    assert totals["candidates"] == int((decoded[1] >= score_threshold).sum())
    assert totals["candidates"] == totals["kept"] + totals["suppressed"]
    assert totals["kept"] == totals["right"] + totals["duplicates"] + totals["wrong_class"] + totals["other_wrong"]
    assert totals["digits"] == totals["right"] + totals["missed"]
    ious = (pair_iou(decoded[0], decoded[0]), pair_iou(decoded[0], data["boxes_test"]))
    assert summarise(decoded, data["boxes_test"], data["labels_test"], score_threshold, iou_threshold,
                     ious=ious) == totals


def test_a_model_or_its_outputs_give_the_same_explorer():
    raw, data = shipped_outputs(20)
    model = bench().TinyYOLO()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in load_detector()["weights"].items()})
    from_model = NMSExplorer(model, data["images_test"], data["boxes_test"], data["labels_test"])
    from_raw = NMSExplorer(raw, data["images_test"], data["boxes_test"], data["labels_test"])
    for a, b in zip(from_model.decoded, from_raw.decoded):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert from_model.png == from_raw.png


def test_explorer_follows_every_control():
    ex = shipped_explorer(canvas=2, score_threshold=0.05, iou_threshold=0.5)
    raw, data = shipped_outputs()
    pictures = {ex.png}
    for control, value in [(ex.iou_slider, 0.9), (ex.score_slider, 0.3), (ex.canvas_slider, 8),
                           (ex.mode_buttons, "all classes"), (ex.iou_slider, 0.1), (ex.score_slider, 0.6)]:
        control.value = value
        n, t, iou = ex.canvas_slider.value, ex.score_slider.value, ex.iou_slider.value
        per_class = ex.mode_buttons.value == "per class"
        boxes, scores, labels = (part[n] for part in decode_outputs(raw))
        candidates = np.flatnonzero(scores >= t)
        keep, by, _ = suppress(boxes[candidates], scores[candidates], labels[candidates], iou, per_class)
        np.testing.assert_array_equal(ex.state["kept"], candidates[keep])
        assert len(ex.state["suppressed"]) == int((by >= 0).sum())
        assert ex.state["totals"] == summarise(decode_outputs(raw), data["boxes_test"], data["labels_test"], t, iou,
                                               per_class)
        assert (f"canvas {n}: 64 cells → <b>{len(candidates)}</b> boxes with score ≥ {t:.2f}" in ex.formula_html.value
                and f"IoU &gt; {iou:.2f}, {ex.mode_buttons.value}" in ex.formula_html.value)
        assert f"On all 100 canvases: {ex.state['totals']['candidates']:,} boxes" in ex.explanation_html.value
        pictures.add(ex.png)
    assert len(pictures) == 7, "every different setting should draw a different picture"


def test_the_words_follow_the_settings():
    ex = shipped_explorer(score_threshold=0.05, iou_threshold=0.9)
    assert ex.state["totals"]["duplicates"] > 0 and "removes only near-identical boxes" in ex.explanation_html.value
    ex.set(iou_threshold=0.1)
    assert "barely touch" in ex.explanation_html.value
    ex.set(mode="all classes")
    assert "Over all classes" in ex.explanation_html.value
    ex.set(score_threshold=0.8, mode="per class", iou_threshold=0.5)
    assert f"{ex.state['totals']['missed']:,} missed" in ex.explanation_html.value


def test_a_canvas_of_one_digit_says_digit_in_the_singular():
    """h78's trial: the canvas lesson 10 sends the learner to (a single 9) read "0 of 1 digits missed"."""
    raw, data = shipped_outputs()
    digits = (data["labels_test"] >= 0).sum(axis=1)                 # labels padded with -1
    one, several = int(np.flatnonzero(digits == 1)[0]), int(np.flatnonzero(digits > 1)[0])
    ex = shipped_explorer(canvas=one)
    assert " of 1 digit missed</span>" in ex.formula_html.value, ex.formula_html.value
    ex.set(canvas=several)
    assert f" of {digits[several]} digits missed</span>" in ex.formula_html.value


def test_set_redraws_once_and_makes_a_real_picture():
    ex = shipped_explorer()
    before = ex.renders
    ex.set(canvas=8, score_threshold=0.2, iou_threshold=0.35, mode="all classes")
    assert ex.renders == before + 1
    assert (ex.canvas_slider.value, ex.score_slider.value, ex.iou_slider.value, ex.mode_buttons.value) == \
        (8, 0.2, 0.35, "all classes")
    picture = PILImage.open(io.BytesIO(ex.png))
    assert picture.format == "PNG" and picture.size[0] > 600 and picture.size[1] > 300
    bundle = ex._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id
    assert "image/png" in bundle
    with pytest.raises(ValueError):
        shipped_explorer(mode="sometimes")


def test_the_canvas_the_lesson_names_for_all_class_nms_shows_what_it_says():
    """Lesson 10's 'Things to try' sends the learner to one canvas where a box reads a digit as another class and
    NMS over all classes removes it (an edition of the detector later, the canvas it named showed nothing of the
    kind): the explorer, at the settings the lesson starts it with, must show exactly that there."""
    import re

    import nbformat

    lesson = Path(__file__).resolve().parent.parent / "solutions" / "10_detection" / "10_detection.ipynb"
    cells = {cell.get("id"): cell.source for cell in nbformat.read(lesson, as_version=4).cells}
    said = re.search(r"On canvas (\d+) \([^)]*\), switch NMS to all classes: the box that reads (?:the|one) (\d) as "
                     r"a (\d) disappears", " ".join(cells["71d991e8"].split()))
    assert said, "the lesson's 'Things to try' no longer names a canvas for NMS over all classes: update this test"
    canvas, digit, read_as = (int(group) for group in said.groups())
    start = re.search(r"score_threshold=([\d.]+), iou_threshold=([\d.]+)", cells["bbe5d6f9"])
    score_threshold, iou_threshold = float(start[1]), float(start[2])
    assert canvas < 100, "the test's explorer holds the first 100 test canvases"
    _, data = shipped_outputs()
    truth = data["labels_test"][canvas]
    assert digit in truth and read_as not in truth, f"canvas {canvas} holds the digits {sorted(truth[truth >= 0])}"

    ex = shipped_explorer(canvas=canvas, score_threshold=score_threshold, iou_threshold=iou_threshold)
    labels = ex.decoded[2][canvas]

    def misread(state) -> list:
        return [int(k) for k, wrong in zip(state["kept"], state["wrong_class"]) if wrong and labels[k] == read_as]

    per_class = misread(ex.state)
    assert per_class, f"per class, canvas {canvas} keeps no box that reads a {digit} as a {read_as}"
    right = int(ex.state["right"].sum())
    ex.set(mode="all classes")
    assert misread(ex.state) == [] and set(per_class) <= set(ex.state["suppressed"].tolist())
    assert int(ex.state["right"].sum()) == right, "over all classes the digits found should stay found"
