"""The lesson-10 explorer: a score threshold and non-maximum suppression on a trained detector's raw boxes.

A YOLO-style detector gives one box per grid cell, 64 on an 8x8 grid, each with a score (confidence x class
probability). What a learner sees as "the detections" is what is left after two choices: a **score
threshold** (drop the boxes the network is unsure of) and **NMS** at an **IoU threshold** (of boxes of one
class that overlap by more than it, keep only the best). ``NMSExplorer(detector, images, boxes, labels)``
puts both on sliders, with a slider for the test canvas and a choice of NMS per class or over all classes: the
left panel shows the boxes that pass the score threshold, the right one what NMS keeps (right or wrong, judged
against the true boxes at IoU 0.5), what it suppresses and which digits are missed; the texts give the counts
on this canvas and over every canvas given, and say in words what the settings do.

As in ``cnnbook.widgets`` the arithmetic lives in pure functions (``decode_outputs``, ``suppress``,
``judge``, ``summarise``) that the tests check against independent references; the figure is drawn with the
Agg canvas into an ``ipywidgets.Image``. The explorer never uses a learner's answers: its decoding and NMS are
the course's own, so it works before any exercise is done.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.collections import LineCollection

from .i18n import N_, _
from .widgets import _Explorer, _one_or_many

__all__ = ["decode_outputs", "pair_iou", "suppress", "judge", "summarise", "NMSExplorer", "MATCH_IOU"]

#: A detection is right when its class is right and its IoU with an unclaimed true box of that class is >= this.
MATCH_IOU = 0.5
MODES = (N_("per class"), N_("all classes"))

_RIGHT, _WRONG, _SUPPRESSED, _MISSED, _CANDIDATE = "#1a7f37", "#c62828", "#5f6368", "#b35900", "#1f4e8c"
_LABEL_BOX = dict(facecolor="white", alpha=0.85, edgecolor="none", pad=0.6)
_LABELLED = 10           # boxes labelled with class and score per panel (before NMS: only when no more pass)
_MAX_TEXTS = _LABELLED   # a pool of text artists per panel, reused on every move


def decode_outputs(outputs: np.ndarray, image_size: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw grid outputs (N, 5 + K, S, S) -> corner boxes (N, S*S, 4) in pixels, scores (N, S*S), labels (N, S*S).

    The lesson's decoding: centre (col + sigmoid(t_x), row + sigmoid(t_y)) * cell, size max(t_w, 0) * cell and
    max(t_h, 0) * cell, score sigmoid(t_c) * max softmax(class scores); cells in row-major order.
    """
    out = np.asarray(outputs, dtype=np.float64)
    if out.ndim == 3:
        out = out[None]
    n, channels, grid, _ = out.shape
    cell = image_size / grid
    rows, cols = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    sigmoid = lambda t: 0.5 * (1.0 + np.tanh(0.5 * t))                              # noqa: E731 (no overflow)
    cx = (cols + sigmoid(out[:, 1])) * cell
    cy = (rows + sigmoid(out[:, 2])) * cell
    w, h = np.maximum(out[:, 3], 0) * cell, np.maximum(out[:, 4], 0) * cell
    logits = out[:, 5:]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    scores = sigmoid(out[:, 0]) * p.max(axis=1)
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)
    return boxes.reshape(n, -1, 4), scores.reshape(n, -1), p.argmax(axis=1).reshape(n, -1)


def pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (..., N, 4) with every box of ``b`` (..., M, 4), corner format -> (..., N, M)
    (leading dimensions broadcast: a batch of canvases at once); 0 where the union is empty."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a, b = (a.reshape(-1, 4), b.reshape(-1, 4)) if a.ndim < 3 and b.ndim < 3 else (a, b)
    top_left = np.maximum(a[..., :, None, :2], b[..., None, :, :2])
    sides = np.maximum(np.minimum(a[..., :, None, 2:], b[..., None, :, 2:]) - top_left, 0.0)
    inter = sides[..., 0] * sides[..., 1]
    size_a, size_b = np.maximum(a[..., 2:] - a[..., :2], 0.0), np.maximum(b[..., 2:] - b[..., :2], 0.0)
    union = (size_a[..., 0] * size_a[..., 1])[..., :, None] + (size_b[..., 0] * size_b[..., 1])[..., None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def suppress(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_threshold: float,
             per_class: bool = True, ious: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy NMS that also says who suppressed whom.

    Highest score first (ties: lower index); a box is removed when its IoU with a box kept before it (of the same
    class when ``per_class``) is greater than ``iou_threshold``. Returns ``keep`` (int indices, highest score
    first), ``by`` (n,) int: for each box the index of the kept box that removed it, -1 for a kept box, and
    ``overlap`` (n,): the IoU with that box (0 for a kept box). ``ious``: ``pair_iou(boxes, boxes)`` when known.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    n = len(boxes)
    by = np.full(n, -1, dtype=int)
    overlap = np.zeros(n)
    if n == 0:
        return np.zeros(0, dtype=int), by, overlap
    order = np.argsort(-scores, kind="stable")
    ious = pair_iou(boxes, boxes) if ious is None else ious
    alive = np.ones(n, dtype=bool)
    keep = []
    for i in order:
        if not alive[i]:
            continue
        keep.append(i)
        alive[i] = False
        hit = alive & (ious[i] > iou_threshold)
        if per_class:
            hit &= labels == labels[i]
        by[hit] = i
        overlap[hit] = ious[i][hit]
        alive &= ~hit
    return np.array(keep, dtype=int), by, overlap


def judge(boxes: np.ndarray, labels: np.ndarray, truth: np.ndarray, truth_labels: np.ndarray,
          iou_threshold: float = MATCH_IOU, ious: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Detections (in the order given, best first) against the true boxes of one canvas.

    A detection is right when it has the class of a true box not yet claimed and IoU >= ``iou_threshold`` with
    it (it then claims it). A wrong one is a ``duplicate`` when it overlaps a true box of its class that another
    detection claimed, ``wrong_class`` when it overlaps (IoU >= threshold) a true box of another class, else a
    poor box or a box on the background. Returns bool arrays ``right``, ``duplicate``, ``wrong_class`` (one per
    detection) and ``claimed`` (one per true box). ``ious``: ``pair_iou(boxes, truth)`` when known.
    """
    labels = np.asarray(labels).reshape(-1)
    truth_labels = np.asarray(truth_labels).reshape(-1)
    n = len(labels)
    if ious is None:
        ious = pair_iou(boxes, truth) if len(truth) else np.zeros((n, 0))
    claimed = np.zeros(len(truth), dtype=bool)
    right, duplicate, wrong_class = (np.zeros(n, dtype=bool) for _ in range(3))
    for k in range(n):
        same = truth_labels == labels[k]
        open_ious = np.where(same & ~claimed, ious[k], -1.0)
        if len(truth) and open_ious.max() >= iou_threshold:
            right[k] = True
            claimed[int(np.argmax(open_ious))] = True
        elif len(truth):
            duplicate[k] = bool(np.any(same & claimed & (ious[k] >= iou_threshold)))
            wrong_class[k] = not duplicate[k] and bool(np.any(~same & (ious[k] >= iou_threshold)))
    return {"right": right, "duplicate": duplicate, "wrong_class": wrong_class, "claimed": claimed}


def _canvas(boxes, scores, labels, truth, truth_labels, score_threshold, iou_threshold, per_class,
            box_ious=None, truth_ious=None) -> dict:
    """One canvas: the candidates over the score threshold, NMS on them, and the verdicts (``box_ious``: the IoU
    of every cell's box with every other, ``truth_ious``: with every true box, when known)."""
    candidates = np.flatnonzero(scores >= score_threshold)
    keep, by, overlap = suppress(boxes[candidates], scores[candidates], labels[candidates], iou_threshold, per_class,
                                 None if box_ious is None else box_ious[np.ix_(candidates, candidates)])
    kept = candidates[keep]
    suppressed = candidates[by >= 0]
    verdict = judge(boxes[kept], labels[kept], truth, truth_labels,
                    ious=None if truth_ious is None else truth_ious[kept])
    return {"candidates": candidates, "kept": kept, "suppressed": suppressed,
            "suppressed_by": candidates[by[by >= 0]], "suppressed_iou": overlap[by >= 0], **verdict}


def summarise(decoded: tuple[np.ndarray, np.ndarray, np.ndarray], true_boxes: np.ndarray, true_labels: np.ndarray,
              score_threshold: float, iou_threshold: float, per_class: bool = True,
              ious: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, int]:
    """Counts over every canvas: ``cells``, ``candidates`` (score >= threshold), ``kept``, ``suppressed``,
    ``right``, ``duplicates``, ``wrong_class``, ``other_wrong`` (poor boxes and boxes on the background),
    ``digits`` (true boxes) and ``missed``. ``ious``: (IoU of the cells' boxes with each other (N, C, C), with
    the true boxes (N, C, B)), when known."""
    boxes, scores, labels = decoded
    totals = dict.fromkeys(["cells", "candidates", "kept", "suppressed", "right", "duplicates", "wrong_class",
                            "other_wrong", "digits", "missed"], 0)
    for n in range(len(boxes)):
        present = np.asarray(true_labels[n]) >= 0
        one = _canvas(boxes[n], scores[n], labels[n], np.asarray(true_boxes[n])[present],
                      np.asarray(true_labels[n])[present], score_threshold, iou_threshold, per_class,
                      *((None, None) if ious is None else (ious[0][n], ious[1][n][:, present])))
        wrong = ~one["right"]
        totals["cells"] += len(scores[n])
        totals["candidates"] += len(one["candidates"])
        totals["kept"] += len(one["kept"])
        totals["suppressed"] += len(one["suppressed"])
        totals["right"] += int(one["right"].sum())
        totals["duplicates"] += int(one["duplicate"].sum())
        totals["wrong_class"] += int(one["wrong_class"].sum())
        totals["other_wrong"] += int((wrong & ~one["duplicate"] & ~one["wrong_class"]).sum())
        totals["digits"] += int(present.sum())
        totals["missed"] += int((~one["claimed"]).sum())
    return totals


def _outlines(boxes: np.ndarray) -> list:
    """Corner boxes as closed outlines for a LineCollection, on the pixel grid imshow draws (centres at
    integers, so a box from x0 to x1 covers pixels x0 .. x1 - 1)."""
    return [[(x0 - 0.5, y0 - 0.5), (x1 - 0.5, y0 - 0.5), (x1 - 0.5, y1 - 0.5), (x0 - 0.5, y1 - 0.5),
             (x0 - 0.5, y0 - 0.5)] for x0, y0, x1, y1 in np.asarray(boxes, dtype=float).reshape(-1, 4)]


class NMSExplorer(_Explorer):
    """Sliders for the canvas, the score threshold and the IoU threshold of NMS -> the boxes before and after.

    ``detector`` is a trained ``torch.nn.Module`` (run once, in eval mode, on ``images``) or its raw outputs
    (N, 5 + K, S, S) as an array; ``images`` (N, H, W) the canvases (0 = background .. 255 = ink), ``boxes``
    (N, B, 4) and ``labels`` (N, B) the true boxes (label -1: an empty slot).

    Attributes: ``canvas_slider`` (IntSlider), ``score_slider``, ``iou_slider`` (FloatSlider), ``mode_buttons``
    (ToggleButtons: NMS per class or over all classes), ``formula_html`` (the counts on this canvas),
    ``explanation_html`` (the counts over all canvases and what the settings do), ``image``, ``figure``,
    ``decoded`` (boxes, scores, labels of every cell of every canvas), ``state`` (this canvas: ``candidates``,
    ``kept``, ``suppressed``, verdicts; and ``totals``, see ``summarise``), ``widget``.
    """

    def __init__(self, detector: Any, images: np.ndarray, boxes: np.ndarray, labels: np.ndarray, canvas: int = 0,
                 score_threshold: float = 0.05, iou_threshold: float = 0.5, mode: str = "per class", *,
                 dpi: int = 80):
        import ipywidgets as widgets

        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        self.images = np.asarray(images)
        self.true_boxes, self.true_labels = np.asarray(boxes), np.asarray(labels)
        self.image_size = self.images.shape[-1]
        self.decoded = decode_outputs(self._raw(detector), self.image_size)
        # every IoU a move can need, once: cell boxes with each other and with the true boxes
        self.ious = (pair_iou(self.decoded[0], self.decoded[0]), pair_iou(self.decoded[0], self.true_boxes))
        style = {"description_width": "initial"}
        self.canvas_slider = widgets.IntSlider(value=canvas, min=0, max=len(self.images) - 1, step=1,
                                               description=_("test canvas"), style=style)
        self.score_slider = widgets.FloatSlider(value=score_threshold, min=0.01, max=0.95, step=0.01,
                                                description=_("score threshold"), readout_format=".2f",
                                                style=style)
        self.iou_slider = widgets.FloatSlider(value=iou_threshold, min=0.0, max=0.95, step=0.05,
                                              description=_("NMS IoU threshold"), readout_format=".2f",
                                              style=style)
        self.mode_buttons = widgets.ToggleButtons(options=[(_(m), m) for m in MODES], value=mode, description="NMS",
                                                  style={"button_width": "90px"})
        self.state: dict = {}
        self._summary_key: tuple | None = None
        self._artists_ready = False
        self._start([self.canvas_slider, self.score_slider, self.iou_slider, self.mode_buttons],
                    figsize=(10.0, 5.0), dpi=dpi,
                    rows=[[self.canvas_slider, self.mode_buttons], [self.score_slider, self.iou_slider]])

    def _raw(self, detector: Any) -> np.ndarray:
        if hasattr(detector, "eval") and callable(detector):
            import torch

            detector.eval()
            with torch.no_grad():
                x = torch.tensor(self.images, dtype=torch.float32)[:, None] / 255
                # in chunks of 100 canvases: the same numbers as one batch, faster on a CPU (they fit its cache)
                return torch.cat([detector(x[start:start + 100]) for start in range(0, len(x), 100)]).numpy()
        return np.asarray(detector, dtype=np.float64)

    def set(self, canvas: int | None = None, score_threshold: float | None = None,
            iou_threshold: float | None = None, mode: str | None = None):
        """Set any of canvas, score_threshold, iou_threshold, mode at once and redraw once; returns self."""
        self._set_many({self.canvas_slider: canvas, self.score_slider: score_threshold,
                        self.iou_slider: iou_threshold, self.mode_buttons: mode})
        return self

    def _build(self) -> None:
        fig = self.figure
        self._before_ax, self._after_ax = fig.subplots(1, 2)
        blank = np.zeros((self.image_size, self.image_size))
        self._pictures = [ax.imshow(blank, cmap="gray_r", vmin=0, vmax=255, interpolation="nearest")
                          for ax in (self._before_ax, self._after_ax)]
        self._lines = {
            "candidate": LineCollection([], colors=_CANDIDATE, linewidths=1.6),
            "suppressed": LineCollection([], colors=_SUPPRESSED, linewidths=1.2, linestyles="--"),
            "missed": LineCollection([], colors=_MISSED, linewidths=1.6, linestyles=":"),
            "right": LineCollection([], colors=_RIGHT, linewidths=2.2),
            "wrong": LineCollection([], colors=_WRONG, linewidths=2.2),
        }
        self._before_ax.add_collection(self._lines["candidate"])
        for name in ("suppressed", "missed", "right", "wrong"):
            self._after_ax.add_collection(self._lines[name])
        self._texts = {ax: [ax.text(0, 0, "", fontsize=8, fontweight="bold", va="bottom", bbox=_LABEL_BOX,
                                    visible=False, clip_on=True) for _ in range(_MAX_TEXTS)]
                       for ax in (self._before_ax, self._after_ax)}
        for ax in (self._before_ax, self._after_ax):
            ax.set_xlim(-0.5, self.image_size - 0.5)
            ax.set_ylim(self.image_size - 0.5, -0.5)
            ax.set_xlabel(_("x (pixels)"))
            ax.tick_params(labelsize=7)
        self._before_ax.set_ylabel(_("y (pixels, down)"))
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], color=_RIGHT, lw=2.2, label=_("kept, right")),
                   Line2D([], [], color=_WRONG, lw=2.2, label=_("kept, wrong")),
                   Line2D([], [], color=_SUPPRESSED, lw=1.2, ls="--", label=_("suppressed by NMS")),
                   Line2D([], [], color=_MISSED, lw=1.6, ls=":", label=_("true digit missed"))]
        self._after_ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8,
                              frameon=False)
        self._before_ax.legend(handles=[Line2D([], [], color=_CANDIDATE, lw=1.6, label=_("box over the score threshold"))],
                               loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, frameon=False)
        self._suptitle = fig.suptitle("", fontsize=11)
        fig.subplots_adjust(left=0.07, right=0.98, top=0.86, bottom=0.2, wspace=0.2)
        # blitting: frames, ticks and legends are drawn once; a move redraws only what changes
        self._keep_background([*self._pictures, *self._lines.values(), *self._texts[self._before_ax],
                               *self._texts[self._after_ax], self._before_ax.title, self._after_ax.title,
                               self._suptitle])
        self._artists_ready = True

    def _label(self, ax, k: int, box, text: str, colour: str) -> None:
        if k >= _MAX_TEXTS:
            return
        label = self._texts[ax][k]
        x0, y0 = float(box[0]), float(box[1])
        label.set_position((min(max(x0 - 0.5, 0.0), self.image_size - 9.0), max(y0 - 0.8, 3.5)))
        label.set_text(text)
        label.set_color(colour)
        label.set_visible(True)

    def _draw(self) -> None:
        if not self._artists_ready:
            self._build()
        n = self.canvas_slider.value
        score_threshold, iou_threshold = self.score_slider.value, self.iou_slider.value
        per_class = self.mode_buttons.value == "per class"
        boxes, scores, labels = (part[n] for part in self.decoded)
        present = self.true_labels[n] >= 0
        truth, truth_labels = self.true_boxes[n][present], self.true_labels[n][present]
        one = _canvas(boxes, scores, labels, truth, truth_labels, score_threshold, iou_threshold, per_class,
                      self.ious[0][n], self.ious[1][n][:, present])
        key = (round(score_threshold, 4), round(iou_threshold, 4), per_class)
        if key != self._summary_key:
            self._totals = summarise(self.decoded, self.true_boxes, self.true_labels, score_threshold, iou_threshold,
                                     per_class, self.ious)
            self._summary_key = key
        self.state = {**one, "totals": self._totals}

        for picture in self._pictures:
            picture.set_data(self.images[n])
        for texts in self._texts.values():
            for text in texts:
                text.set_visible(False)
        candidates, kept = one["candidates"], one["kept"]
        self._lines["candidate"].set_segments(_outlines(boxes[candidates]))
        if len(candidates) <= _LABELLED:
            for k, c in enumerate(candidates[np.argsort(-scores[candidates], kind="stable")]):
                self._label(self._before_ax, k, boxes[c], f"{labels[c]} {scores[c]:.2f}", _CANDIDATE)
        self._lines["suppressed"].set_segments(_outlines(boxes[one["suppressed"]]))
        self._lines["right"].set_segments(_outlines(boxes[kept[one["right"]]]))
        self._lines["wrong"].set_segments(_outlines(boxes[kept[~one["right"]]]))
        self._lines["missed"].set_segments(_outlines(truth[~one["claimed"]]))
        for k, (c, right) in enumerate(zip(kept[:_LABELLED], one["right"])):
            self._label(self._after_ax, k, boxes[c], f"{labels[c]} {scores[c]:.2f}", _RIGHT if right else _WRONG)
        cells = len(scores)
        mode = _(self.mode_buttons.value)
        self._before_ax.set_title(_("before NMS: {candidates} of {cells} cells' boxes have score ≥ {score:.2f}").format(
            candidates=len(candidates), cells=cells, score=score_threshold), fontsize=9)
        self._after_ax.set_title(_("after NMS at IoU > {iou:.2f}: {kept} kept, {suppressed} suppressed").format(
            iou=iou_threshold, kept=len(kept), suppressed=len(one["suppressed"])), fontsize=9)
        self._suptitle.set_text(_("Test canvas {n}: true digits {digits} (NMS {mode})").format(
            n=n, digits=", ".join(str(t) for t in truth_labels), mode=mode))

        right = int(one["right"].sum())
        wrong = len(kept) - right
        missed = int((~one["claimed"]).sum())
        self.formula_html.value = (
            "<div style='font-size:1.05em'>"
            + _("canvas {n}: {cells} cells → <b>{candidates}</b> boxes with score ≥ {score:.2f} → NMS (IoU &gt; "
                "{iou:.2f}, {mode}) suppresses <b>{suppressed}</b>, keeps <b>{kept}</b>: <span "
                "style='color:{right_colour}'>{right} right</span>, <span style='color:{wrong_colour}'>{wrong} "
                "wrong</span>; <span style='color:{missed_colour}'>{missed_text}</span>").format(
                n=n, cells=cells, candidates=len(candidates), score=score_threshold, iou=iou_threshold, mode=mode,
                suppressed=len(one["suppressed"]), kept=len(kept), right_colour=_RIGHT, right=right,
                wrong_colour=_WRONG, wrong=wrong, missed_colour=_MISSED,
                missed_text=_one_or_many(len(truth), N_("{missed} of {digits} digit missed"),
                                         N_("{missed} of {digits} digits missed")).format(missed=missed,
                                                                                          digits=len(truth)))
            + "</div>")
        self.explanation_html.value = f"<div style='max-width:900px'>{self._explain(score_threshold, iou_threshold, per_class)}</div>"

    def _explain(self, score_threshold: float, iou_threshold: float, per_class: bool) -> str:
        t = self._totals
        kept = max(t["kept"], 1)
        wrong = t["kept"] - t["right"]
        lines = [_("On all {canvases} canvases: {candidates:,} boxes pass the score threshold, NMS suppresses "
                   "{suppressed:,} and keeps {kept:,}; {right:,} of the {digits:,} digits are found (recall "
                   "{recall:.1%}) and {wrong:,} kept boxes are wrong (precision {precision:.1%}): {duplicates:,} "
                   "duplicates of a found digit, {wrong_class:,} on a digit of another class, {other_wrong:,} poor "
                   "boxes or boxes on the background.").format(
            canvases=len(self.images), candidates=t["candidates"], suppressed=t["suppressed"], kept=t["kept"],
            right=t["right"], digits=t["digits"], recall=t["right"] / max(t["digits"], 1), wrong=wrong,
            precision=t["right"] / kept, duplicates=t["duplicates"], wrong_class=t["wrong_class"],
            other_wrong=t["other_wrong"])]
        if iou_threshold >= 0.7 and t["duplicates"]:
            lines.append(_("At IoU > {iou:.2f} NMS removes only near-identical boxes: two boxes on one digit that "
                           "overlap less stay, and the second one is a false positive (a duplicate).").format(
                iou=iou_threshold))
        elif iou_threshold <= 0.2:
            lines.append(_("At IoU > {iou:.2f} a kept box removes boxes that barely touch it: fine for duplicates, but "
                           "where two digits of one class touch, one of them is lost.").format(iou=iou_threshold))
        if not per_class:
            lines.append(_("Over all classes, a box of one digit can remove the box of another digit that overlaps "
                           "it; per class, a 1 next to a 7 never deletes the 7."))
        if t["other_wrong"] > t["duplicates"]:
            lines.append(_("NMS removes duplicates, not bad boxes: a box on the background overlaps no better box of "
                           "its class and survives NMS; only the score threshold removes it."))
        if score_threshold >= 0.5 and t["missed"]:
            lines.append(_("A score threshold of {score:.2f} drops real digits whose boxes the detector is less sure "
                           "of: {missed:,} missed. Lower it to find more, at the price of more false positives.").format(
                score=score_threshold, missed=t["missed"]))
        return " ".join(lines)
