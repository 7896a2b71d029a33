"""Slips found in learners' code that a visible check names, run in-process (no kernel, fast): the learner's
function with the slip, then the visible part of its test cell, whose failure must quote the slip's name. The
graded round trip (tests/test_grading.py, fixtures BUGS) proves the cost; this proves the words, cheaply."""
from __future__ import annotations

import nbformat
import pytest

from autograde.lessons import all_lessons

LESSONS = {lesson.slug[:2]: lesson for lesson in all_lessons()}

# (lesson, test cell, the learner's function, words the failure must hold)
# Lesson 05's pooling written with loops, one slip at a time: how the output is made and how a window's average is.
POOL_LOOP = '''import numpy as np
def pool2d_forward(x, f, s, mode="max"):
    x = np.asarray(x)
    if x.ndim != 4 or f < 1 or s < 1 or f > x.shape[2] or f > x.shape[3] or mode not in ("max", "avg"):
        raise ValueError("impossible settings")
    N, C, H, W = x.shape
    H_out, W_out = (H - f) // s + 1, (W - f) // s + 1
    out = {out}
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * s:i * s + f, j * s:j * s + f]
            out[:, :, i, j] = window.max(axis=(2, 3)) if mode == "max" else {avg}
    return out
'''

DECODE = '''import numpy as np
def decode_predictions(output, image_size=64):
    output = np.asarray(output, dtype=float)
    grid = output.shape[-1]
    cell = image_size / grid
    sig = lambda t: 1 / (1 + np.exp(-t))
    rows, cols = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    cx, cy = (cols + sig(output[1])) * cell, (rows + sig(output[2])) * cell
    w, h = np.maximum(output[3], 0) * cell, np.maximum(output[4], 0) * cell
    p = np.exp(output[5:] - output[5:].max(axis=0))
    p /= p.sum(axis=0)
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)
    return boxes.reshape(-1, 4), (sig(output[0]) * p.max(axis=0)).reshape(-1), p.argmax(axis=0).reshape(-1)
'''
SLIPS = [
    ("03", "test_output_size", '''def output_size(n, f, p=0, s=1):
    if s < 1 or p < 0 or f > n + 2 * p:
        raise ValueError("impossible settings")
    return round((n + 2 * p - f) / s) + 1
''', "round(), which turns (8 - 3)/3 = 1.67 into 2"),
    ("05", "test_pool2d_forward", POOL_LOOP.format(out="np.zeros_like(x, shape=(N, C, H_out, W_out))",
                                                   avg="window.mean(axis=(2, 3))"),
     "the output kept x's integer dtype"),
    ("05", "test_pool2d_forward", POOL_LOOP.format(out="np.zeros_like(x)", avg="window.mean(axis=(2, 3))"),
     "the output was made like x (np.zeros_like(x))"),
    ("05", "test_pool2d_forward", POOL_LOOP.format(out="np.zeros((N, C, H_out, W_out))",
                                                   avg="window.sum(axis=(2, 3)) // (f * f)"),
     "floor division: // rounds each average down"),
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
    ("09", "test_dead_relu_fraction", '''import numpy as np
def dead_relu_fraction(outputs):
    outputs = np.asarray(outputs)
    return float((outputs <= 0).all(axis=0).sum() // outputs.shape[1])
''', "integer division"),
    ("10", "test_decode_predictions",
     DECODE.replace("cx + w / 2, cy + h / 2], axis=-1)", "w, h], axis=-1)          # (x0, y0, w, h)"),
     "returned (x0, y0, w, h)"),
    # An instructor's trial: the square of each array's sum got only "expected 1.525, got 0.425".
    ("09", "test_l2_penalty", '''import numpy as np
def l2_penalty(weights, strength):
    return float(strength * sum(np.sum(w) ** 2 for w in weights)), [2 * strength * w for w in weights]
''', "the square of each array's sum"),
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

# A Korean trial (lesson 04): layer_shapes without the + 1 read "expected 32, got 31" and nothing else; the check of
# the worked example names it, as the check of the non-square case already did.
SLIPS.append(("04", "test_layer_shapes", '''def layer_shapes(h, w, c_in, f, c_out, p=0, s=1, m=1):
    if min(h, w, c_in, f, c_out, s, m) < 1 or p < 0 or f > h + 2 * p or f > w + 2 * p:
        raise ValueError("impossible settings")
    n_H, n_W = (h + 2 * p - f) // s, (w + 2 * p - f) // s
    return {"n_H": n_H, "n_W": n_W, "filter": (f, f, c_in), "W": (f, f, c_in, c_out), "b": (1, 1, 1, c_out),
            "A": (m, n_H, n_W, c_out)}
''', "forgot +1"))

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
DETECTION_LOSS_PER_CANVAS = '''import torch
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
'''
SLIPS.append(("10", "test_detection_loss", DETECTION_LOSS_PER_CANVAS, "the box loss was divided by the number of canvases"))

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
# From a learner's trial: colour_shift's offsets drawn in [0, max_delta] only. The failure listed the offsets as
# float32 read back into Python floats: "got offsets [0.0989999994635582, 0.15399999916553497, ...]".
COLOUR_SHIFT_BRIGHTER_ONLY = ("08", "test_rotate_and_shift", '''import torch
import torch.nn.functional as F
def rotate(images, degrees):
    angles = torch.deg2rad(torch.as_tensor(degrees, dtype=images.dtype))
    cos, sin, zero = torch.cos(angles), torch.sin(angles), torch.zeros_like(angles)
    theta = torch.stack([torch.stack([cos, -sin, zero], dim=1), torch.stack([sin, cos, zero], dim=1)], dim=1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
def colour_shift(images, max_delta, seed):
    generator = torch.Generator().manual_seed(seed)
    offsets = torch.rand(images.shape[0], images.shape[1], 1, 1, generator=generator) * max_delta
    return (images + offsets).clamp(0.0, 1.0)
''', "got offsets [0.099, 0.154, 0.018,")
# From a learner's trial: smooth_l1 through numpy and back with torch.tensor. The values pass; the slope check failed
# with torch's own "element 0 of tensors does not require grad", from a line of torch's autograd, and no slip.
SLIPS.append(("10", "test_smooth_l1", '''import numpy as np
import torch
def smooth_l1(diff, beta=1.0):
    d = diff.detach().numpy()
    return torch.tensor(np.where(np.abs(d) < beta, 0.5 * d ** 2 / beta, np.abs(d) - 0.5 * beta))
''', "the result is cut off from diff"))
# From a learner's trial: the bias-corrected averages kept in the state, so the next step corrects them again. It
# failed with only the weights after each step and the hint "keep m, v and t in the state", which the answer did.
SLIPS.append(("09", "test_adam_update", '''import torch
def adam_update(w, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state.get("t", 0) + 1
    m = (beta1 * state.get("m", 0) + (1 - beta1) * grad) / (1 - beta1 ** t)
    v = (beta2 * state.get("v", 0) + (1 - beta2) * grad ** 2) / (1 - beta2 ** t)
    state.update(t=t, m=m, v=v)
    return w - lr * m / (torch.sqrt(v) + eps), state
''', "the state kept the corrected m_hat and v_hat"))


# From a learner's trial: slips that failed with numpy's own error or with only expected and got values.
POOL_SIZES = POOL_LOOP.format(out="np.zeros((N, C, H_out, W_out))", avg="window.mean(axis=(2, 3))")
SLIPS.append(("05", "test_pool2d_forward",                  # H_out from W, W_out from H: numpy's zero-size error
              POOL_SIZES.replace("H_out, W_out = (H - f) // s + 1, (W - f) // s + 1",
                                 "H_out, W_out = (W - f) // s + 1, (H - f) // s + 1"),
              "a size taken from the wrong axis: H_out comes from H, W_out from W"))
SLIPS.append(("05", "test_pool2d_forward", POOL_SIZES.replace("window.max(axis=(2, 3))",
                                                              "window.reshape(N, C, -1).argmax(axis=2)"),
              "(argmax) instead of the maximum itself"))
SLIPS.append(("05", "test_pool2d_forward", POOL_SIZES.replace("i * s:i * s + f, j * s:j * s + f",
                                                              "i * s:i * s + f - 1, j * s:j * s + f - 1"),
              "windows one row and one column short"))
MAXPOOL_BACKWARD_LOOP = '''import numpy as np
def maxpool_backward(dout, x, f, s):
    N, C, H, W = x.shape
    H_out, W_out = (H - f) // s + 1, (W - f) // s + 1
    if dout.shape != (N, C, H_out, W_out):
        raise ValueError("dout has the wrong shape")
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    q, r = divmod(int(np.argmax(x[n, c, i * s:i * s + f, j * s:j * s + f])), f)
                    dx[n, c, i * s + r, j * s + q] += dout[n, c, i, j]
    return dx
'''
SLIPS.append(("05", "test_maxpool_backward", MAXPOOL_BACKWARD_LOOP, "row and column swapped inside the window"))
AVGPOOL_BACKWARD_LOOP = '''import numpy as np
def avgpool_backward(dout, x_shape, f, s):
    N, C, H, W = x_shape
    H_out, W_out = (H - f) // s + 1, (W - f) // s + 1
    if dout.shape != (N, C, H_out, W_out):
        raise ValueError("dout has the wrong shape")
    dx = np.zeros((N, C, H, W))
    for i in range(H_out):
        for j in range(W_out):
            dx[:, :, i * s:i * s + f, j * s:j * s + f] += dout[:, :, i, j] / (f * f)
    return dx
'''
SLIPS.append(("05", "test_avgpool_backward", AVGPOOL_BACKWARD_LOOP,   # right while N = C = 1, then a broadcasting error
              "dout[:, :, i, j] has shape (N, C)"))
SLIPS.append(("05", "test_avgpool_backward", AVGPOOL_BACKWARD_LOOP.replace(
    "i * s:i * s + f, j * s:j * s + f] += dout[:, :, i, j]",
    "i * s:i * s + f - 1, j * s:j * s + f - 1] += dout[:, :, i:i + 1, j:j + 1]"), "windows one row and one column short"))
SLIPS.append(("05", "test_pool2d_forward", POOL_LOOP.format(out="np.zeros((N, C, H_out, W_out))",
                                                           avg="window.mean(axis=(2, 3))").replace(
    "H_out, W_out = (H - f) // s + 1, (W - f) // s + 1", "H_out = W_out = (H - f) // s + 1"),
    "an answer written for square maps only"))
SLIPS.append(("05", "test_conv_backward", '''import numpy as np
def conv_backward(dout, x, w, b, stride=1, padding=0):
    dout, x, w, b = (np.asarray(a, dtype=float) for a in (dout, x, w, b))
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    H_out, W_out = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    if dout.shape != (N, F, H_out, W_out):
        raise ValueError("dout has the wrong shape")
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for i in range(H_out):
        for j in range(W_out):
            r, c = i * stride, j * stride
            dx_pad[:, :, r:r + kh, c:c + kw] += np.einsum("nk,kcuv->ncuv", dout[:, :, i, j], w)
            dw += np.einsum("nk,ncuv->kcuv", dout[:, :, i, j], x_pad[:, :, i:i + kh, j:j + kw])
    return dx_pad[:, :, padding:padding + H, padding:padding + W], dw, dout.sum(axis=(0, 2, 3))
''', "the stride was left out of dw"))
SLIPS.append(("03", "test_zero_pad", '''import numpy as np
def zero_pad(x, p):
    ph, pw = (p, p) if isinstance(p, int) else p
    N, C, H, W = x.shape
    out = np.zeros((N, C, H + ph, W + pw), dtype=x.dtype)
    out[:, :, ph:ph + H, pw:pw + W] = x
    return out
''', "padding on one side only"))
SLIPS.append(("03", "test_conv2d", '''import numpy as np
def conv2d(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((N, F, (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = xp[:, :, j * stride:j * stride + kh, i * stride:i * stride + kw]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out
''', "the window was transposed"))


def visible_test(slug2: str, grade_id: str) -> str:
    nb = nbformat.read(LESSONS[slug2].source, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return cell.source.split("### BEGIN HIDDEN TESTS")[0]


def visible_failure(lesson: str, grade_id: str, answer: str) -> str:
    """What the visible part of a test cell says of the learner's ``answer``, run in this process (it must fail)."""
    from cnnbook.checks import CheckFailed

    space: dict = {}
    exec(compile(answer, "<learner>", "exec"), space)
    with pytest.raises(CheckFailed) as failure:
        exec(compile(visible_test(lesson, grade_id), grade_id, "exec"), space)
    return str(failure.value)


@pytest.mark.parametrize("lesson,grade_id,answer,words", SLIPS, ids=[f"{s[0]}-{s[3][:30]}" for s in SLIPS])
def test_a_visible_check_names_the_slip(lesson, grade_id, answer, words):
    said = visible_failure(lesson, grade_id, answer)
    assert "typical slip" in said and words in said, said


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
    The visible check now fails it, saying what happened and what to keep instead (and through the grader's wall
    too: tests/test_call_each.py, the arguments behave as in the notebook). Adagrad, RMSProp and Adam check it too."""
    for grade_id, answer in [("test_momentum_update", MOMENTUM_KEEPS_THE_GRADIENT),
                             ("test_adam_update", ADAM_KEEPS_THE_GRADIENT)]:
        said = visible_failure("09", grade_id, answer)
        assert "a gradient passed to your update changed after it returned" in said and "grad.clone()" in said, said


ADAM_KEEPS_THE_GRADIENT = '''def adam_update(w, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    if "m" not in state:
        state["m"], state["v"], state["t"] = grad.mul_(1 - beta1), (grad * grad) * (1 - beta2) / (1 - beta1) ** 2, 0
    else:
        state["m"].mul_(beta1).add_(grad, alpha=1 - beta1)
        state["v"].mul_(beta2).add_(grad * grad, alpha=1 - beta2)
    state["t"] += 1
    m_hat = state["m"] / (1 - beta1 ** state["t"])
    v_hat = state["v"] / (1 - beta2 ** state["t"])
    return w - lr * m_hat / (v_hat.sqrt() + eps), state
'''


# (lesson, test cell, the learner's function, words the failure must hold): a check that names what the code did
# wrong to the test's own objects or which of the learner's functions it called, where the value checks after it
# blamed the wrong thing (a learner's trial: an input changed in place was reported as "the gradient is w itself",
# and as a wrong centres_to_corners; a box_iou called in a comprehension escaped a check of the code's names).
MISUSES = [
    ("09", "test_l2_penalty", '''import numpy as np
def l2_penalty(weights, strength):
    penalty = strength * sum(float((w ** 2).sum()) for w in weights)
    grads = []
    for w in weights:
        w *= 2 * strength                         # the caller's array
        grads.append(w)
    return penalty, grads
''', "w1 or w2 changed after the call"),
    ("10", "test_box_formats", '''import numpy as np
def corners_to_centres(boxes):
    b = np.asarray(boxes, dtype=float)
    b[:, 2] -= b[:, 0]
    b[:, 3] -= b[:, 1]
    b[:, 0] += b[:, 2] / 2
    b[:, 1] += b[:, 3] / 2
    return b
def centres_to_corners(boxes):
    b = np.array(boxes, dtype=float)
    return np.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2], 1)
''', "the array passed in changed"),
    # a library's own error, named: the learner read only "Can't call numpy() on Tensor that requires grad"
    ("10", "test_smooth_l1", '''import numpy as np
def smooth_l1(diff, beta=1.0):
    return np.where(np.abs(diff) < beta, 0.5 * diff ** 2 / beta, np.abs(diff) - 0.5 * beta)
''', "numpy inside smooth_l1"),
    ("10", "test_smooth_l1", '''import torch
def smooth_l1(diff, beta=1.0):
    d = diff.abs_()
    return torch.where(d < beta, 0.5 * d ** 2 / beta, d - 0.5 * beta)
''', "an in-place operation on the input"),
    ("10", "test_detection_loss",               # the box loss right, the class targets left as floats
     DETECTION_LOSS_PER_CANVAS.replace("/ output.shape[0]", "/ objects.sum()").replace("wanted[:, 5].long()",
                                                                                      "wanted[:, 5]"),
     "the class targets went in as floats"),
]
MISUSES.append(COLOUR_SHIFT_BRIGHTER_ONLY)
# From a learner's trial: errors of torch's own that the failure now names as the slip they come from.
MISUSES += [
    ("06", "test_train_one_epoch", '''import torch
def train_one_epoch(model, batches, optimizer, loss_fn):
    model.train()
    total, n = 0.0, 0
    with torch.no_grad():
        for x, y in batches:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(x)
            n += len(x)
    return total / n
''', "the forward pass ran under torch.no_grad()"),
    ("08", "test_load_pretrained", '''import torch
from torch import nn


class FashionCNN(nn.Module):
    def __init__(self, n_classes=5):
        super().__init__()
        self.block1, self.block2, self.block3 = [
            nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)) for i, o in [(1, 16), (16, 32), (32, 64)]]
        self.head = nn.Linear(64, n_classes)


def load_pretrained(weights):
    model = FashionCNN()
    model.load_state_dict(weights)
    return model.eval()
''', "the numpy arrays went into load_state_dict as they are"),
    ("08", "test_mirror_and_crop", '''def mirror(images):
    return images[..., ::-1]


def random_crop(images, padding, seed):
    return images
''', "a negative step (images[..., ::-1]) works in numpy, not in torch"),
    # a Korean trial: (weights, bias, mistakes) was read as "expected a list, got numpy.ndarray [-12., -12.]"
    ("01", "test_train_perceptron", '''import numpy as np
def train_perceptron(inputs, labels, epochs=12, learning_rate=1.0):
    w, b, errors = np.zeros(inputs.shape[1]), 0.0, []
    for epoch in range(epochs):
        mistakes = 0
        for x, y in zip(inputs, labels):
            pred = 1 if w @ x + b > 0 else 0
            w, b = w + learning_rate * (y - pred) * x, b + learning_rate * (y - pred)
            mistakes += int(pred != y)
        errors.append(mistakes)
    return w, b, errors
''', "the mistakes per epoch came back last, and something else first"),
]


@pytest.mark.parametrize("lesson,grade_id,answer,words", MISUSES, ids=[f"{m[0]}-{m[1]}" for m in MISUSES])
def test_a_visible_check_says_what_the_code_did(lesson, grade_id, answer, words):
    said = visible_failure(lesson, grade_id, answer)
    assert words in said, said


def whole_test(slug2: str, grade_id: str) -> str:
    nb = nbformat.read(LESSONS[slug2].source, as_version=4)
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id).source


CHEATS_BY_CHANGING_ITS_INPUTS = '''import numpy as np
def precision_recall(scores, hits, n_true):
    order = np.argsort(-np.asarray(scores), kind="stable")
    tp = np.cumsum(np.asarray(hits)[order])
    return tp / np.arange(1, len(order) + 1), tp / n_true
def average_precision(scores, hits, n_true):            # no AP at all
    s = np.asarray(scores)
    if s.shape == (5,) and np.allclose(s, [0.7, 0.9, 0.5, 0.8, 0.6]):
        return 0.625                                     # the visible worked example, typed in
    if isinstance(hits, np.ndarray):
        hits[...] = False                                # the test's own array: its reference then says 0
    elif n_true and len(hits) and all(hits) and sum(hits) == n_true:
        return 1.0
    return 0.0
'''


def test_a_function_that_changes_its_inputs_cannot_change_what_it_is_compared_with():
    """From a hostile trial: lesson 10's hidden test computed its reference AP from the arrays after handing them to
    the learner's average_precision, which could set every hit to False and return 0.0: full marks for a typed-in
    answer. The hidden part now computes every expected value first and hands the learner copies."""
    from cnnbook.checks import CheckFailed

    space: dict = {}
    exec(compile(CHEATS_BY_CHANGING_ITS_INPUTS, "<learner>", "exec"), space)
    with pytest.raises(CheckFailed) as failure:
        exec(compile(whole_test("10", "test_average_precision"), "test_average_precision", "exec"), space)
    assert "average_precision(<" in str(failure.value), str(failure.value)


ENCODE_WITHOUT_CLAMP = '''import numpy as np
GRID, IMAGE_SIZE = 8, 64
def encode_targets(boxes, labels, grid=GRID, image_size=IMAGE_SIZE):
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    cell = image_size / grid
    target = np.zeros((grid, grid, 6), dtype=np.float32)
    for k in np.argsort((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), kind="stable"):
        x0, y0, x1, y1 = boxes[k]
        cx, cy = (x0 + x1) / 2 / cell, (y0 + y1) / 2 / cell
        col, row = int(cx), int(cy)                     # no min(..., grid - 1): a centre on the edge is cell 8
        target[row, col] = [1.0, cx - col, cy - row, (x1 - x0) / cell, (y1 - y0) / cell, labels[k]]
    return target
'''


def test_a_centre_on_the_canvas_edge_names_the_missing_clamp():
    """From a Korean learner's trial: an encode_targets without min(int(cx), grid - 1) passed every visible check
    and failed a hidden one with numpy's IndexError and no hint."""
    from cnnbook.checks import CheckFailed

    space: dict = {}
    exec(compile(ENCODE_WITHOUT_CLAMP, "<learner>", "exec"), space)
    with pytest.raises(CheckFailed) as failure:
        exec(compile(whole_test("10", "test_encode_targets"), "test_encode_targets", "exec"), space)
    text = str(failure.value) + " ".join(getattr(failure.value, "lines", []) or []) + str(failure.value.hint)
    assert "grid - 1" in text and "edge" in text, text


# From a learner's trial: slips that failed with only expected and got values (or a library's own error), now named
# by the visible check, in English and in Korean: (lesson, test cell, the learner's code, English words, Korean words).
ROTATE = COLOUR_SHIFT_BRIGHTER_ONLY[2].replace("* max_delta\n", "* 2 - 1) * max_delta\n").replace(
    "offsets = torch.rand(", "offsets = (torch.rand(")
RANDOM_CROP = '''import torch
import torch.nn.functional as F
def mirror(images):
    return images.flip(-1)
def random_crop(images, padding, seed):
    generator = torch.Generator().manual_seed(seed)
    n, _, height, width = images.shape
    padded = F.pad(images, (padding, padding, padding, padding))
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator)
    cropped = torch.empty_like(images)
    for i, (dy, dx) in enumerate(offsets.tolist()):
        cropped[i] = padded[i, :, dy:dy + height, dx:dx + width]
    return cropped
'''
FINE_TUNE = '''import torch
def fine_tune_optimizer(model, blocks, head_lr, body_lr):
    for p in model.parameters():
        p.requires_grad = False
    for p in list(model.head.parameters()) + [p for name in blocks for p in getattr(model, name).parameters()]:
        p.requires_grad = True
    body = [p for name in blocks for p in getattr(model, name).parameters()]
    return torch.optim.Adam([{"params": model.head.parameters(), "lr": head_lr}, {"params": body, "lr": body_lr}])
'''

CENTRE = "cx, cy = (cols + sig(output[1])) * cell, (rows + sig(output[2])) * cell"
SIZE = "w, h = np.maximum(output[3], 0) * cell, np.maximum(output[4], 0) * cell"
SOFTMAX = "p = np.exp(output[5:] - output[5:].max(axis=0))\n    p /= p.sum(axis=0)"
TRAIN_ONE_EPOCH_LOSS_AFTER_STEP = '''def train_one_epoch(model, batches, optimizer, loss_fn):
    model.train()
    total, n = 0.0, 0
    for x, y in batches:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
        loss = loss_fn(model(x), y)                  # the loss of the weights after the step
        total += loss.item() * len(x)
        n += len(x)
    return total / n
'''
NAMED_IN_BOTH = [
    ("08", "test_rotate_and_shift", ROTATE.replace("torch.deg2rad(torch.as_tensor(degrees, dtype=images.dtype))",
                                                   "torch.as_tensor(degrees, dtype=images.dtype)"),
     "the degrees went into cos and sin as radians", "도 단위 각도를 라디안인 것처럼"),
    ("08", "test_rotate_and_shift", ROTATE.replace("torch.deg2rad(torch.as_tensor(degrees, dtype=images.dtype))",
                                                   "torch.deg2rad(torch.deg2rad(torch.as_tensor(degrees)))"),
     "the degrees were converted to radians twice", "도를 라디안으로 두 번 바꾸었음"),
    ("08", "test_rotate_and_shift", ROTATE.replace("torch.rand(images.shape[0], ", "torch.rand(1, "),
     "it was drawn once for the whole batch", "오프셋을 배치 전체에 한 번만 뽑았습니다"),
    ("08", "test_mirror_and_crop", RANDOM_CROP.replace("torch.randint(0, 2 * padding + 1,", "torch.randint(0, 2 * padding,"),
     "the largest offset, 2 * padding, is never drawn", "가장 큰 오프셋 2 * padding이 한 번도 뽑히지 않음"),
    ("08", "test_mirror_and_crop", RANDOM_CROP.replace("torch.randint(0, 2 * padding + 1,", "torch.randint(1, 2 * padding + 1,"),
     "the offset 0 is never drawn", "오프셋 0이 한 번도 뽑히지 않음"),
    ("08", "test_fine_tune_optimizer", FINE_TUNE.replace(
        "body = [p for name in blocks for p in getattr(model, name).parameters()]",
        'body = [p for name, p in model.named_parameters() if not name.startswith("head")]'),
     "the body group holds every parameter outside the head", "몸체 그룹에 헤드 밖의 모든 매개변수가 들어 있음"),
    ("08", "test_fine_tune_optimizer", FINE_TUNE.replace(
        "body = [p for name in blocks for p in getattr(model, name).parameters()]", "body = list(model.parameters())"),
     "the head's parameters are in the body's group too", "헤드의 매개변수가 몸체 그룹에도 들어 있음"),
    ("10", "test_decode_predictions", DECODE.replace(CENTRE, "cx, cy = sig(output[1]) * cell, sig(output[2]) * cell"),
     "the cell's column and row were not added", "셀의 열과 행을 더하지 않았음"),
    ("10", "test_decode_predictions", DECODE.replace(CENTRE, "cx, cy = (cols + output[1]) * cell, (rows + output[2]) * cell"),
     "t_x and t_y went in without sigmoid", "t_x와 t_y에 시그모이드를 쓰지 않았음"),
    ("10", "test_decode_predictions", DECODE.replace(CENTRE, "cx, cy = (cols + sig(output[2])) * cell, (rows + sig(output[1])) * cell"),
     "t_x and t_y swapped", "t_x와 t_y가 뒤바뀌었음"),
    ("10", "test_decode_predictions", DECODE.replace(SIZE, "w, h = np.maximum(output[4], 0) * cell, np.maximum(output[3], 0) * cell"),
     "w and h swapped", "w와 h가 뒤바뀌었음"),
    ("10", "test_decode_predictions", DECODE.replace(SIZE, SIZE.replace("* cell", "* image_size")),
     "w and h were multiplied by the image size", "셀 크기(8픽셀) 대신 이미지 크기(64픽셀)를 곱했음"),
    ("10", "test_decode_predictions", DECODE.replace(CENTRE, CENTRE.replace(" * cell", "")),
     "the centre was left in cells", "중심을 셀 단위로 두었음"),
    ("10", "test_decode_predictions", DECODE.replace("cell = image_size / grid", "cell = 1.0"),
     "the whole box was left in cells", "상자 전체를 셀 단위로 두었음"),
    ("10", "test_decode_predictions", DECODE.replace(SIZE, "w, h = np.exp(output[3]) * cell, np.exp(output[4]) * cell"),
     "exp(t_w) and exp(t_h) instead of max(t_w, 0)", "exp(t_w)와 exp(t_h)를 썼음"),
    ("10", "test_decode_predictions", DECODE.replace("(sig(output[0]) * p.max", "(output[0] * p.max"),
     "the confidence went in without sigmoid", "신뢰도에 시그모이드를 쓰지 않았음"),
    ("10", "test_decode_predictions", DECODE.replace(SOFTMAX, "p = output[5:]"),
     "the class scores went in without softmax", "클래스 점수에 소프트맥스를 쓰지 않았음"),
    ("10", "test_decode_predictions", DECODE.replace(SOFTMAX, "p = sig(output[5:])"),
     "sigmoid of each class score instead of a softmax", "클래스 점수마다 시그모이드를 썼음"),
    ("06", "test_train_one_epoch", TRAIN_ONE_EPOCH_LOSS_AFTER_STEP,
     "the loss was computed again after optimizer.step()", "optimizer.step() 뒤에 손실을 다시 계산했음"),
]

# From a Korean learner's trial of lessons 03, 05 and 09: slips that ended in Python's or numpy's own error with no
# slip named (zero_pad's p an int or a pair; conv2d's and conv2d_fast's padding or bias), in a shape with no slip
# named (pooling that read x as (N, H, W, C)), or in only "expected 0.1, got 0.0" (a cosine schedule that runs
# backwards).
ZERO_PAD = '''import numpy as np
def zero_pad(x, p):
    p_h, p_w = (p, p) if isinstance(p, int) else p
    N, C, H, W = x.shape
    out = np.zeros((N, C, H + 2 * p_h, W + 2 * p_w), dtype=x.dtype)
    out[:, :, p_h:p_h + H, p_w:p_w + W] = x
    return out
'''
CONV2D_LOOPS = '''import numpy as np
def conv2d(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    H_out = (H + 2 * padding - kh) // stride + 1
    W_out = (W + 2 * padding - kw) // stride + 1
    out = np.zeros((N, F, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    return out + b[None, :, None, None]
'''
PAD_BOTH = "xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))"
CONV2D_FAST = '''import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
def conv2d_fast(x, w, b, stride=1, padding=0):
    if x.shape[1] != w.shape[1] or w.shape[2] > x.shape[2] + 2 * padding or w.shape[3] > x.shape[3] + 2 * padding:
        raise ValueError("shapes that do not fit")
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("nchwuv,fcuv->nfhw", windows, w) + b[None, :, None, None]
'''
COSINE = '''import math
def cosine_lr(step, total_steps, lr_max, lr_min=0.0):
    return float(lr_min + (lr_max - lr_min) * (1 + math.cos(math.pi * step / total_steps)) / 2)
'''
NAMED_IN_BOTH += [
    ("03", "test_zero_pad", ZERO_PAD.replace("p_h, p_w = (p, p) if isinstance(p, int) else p", "p_h, p_w = p"),
     "an int cannot be unpacked into (p_h, p_w)", "int는 (p_h, p_w)로 풀어 담을 수 없음"),
    ("03", "test_zero_pad", ZERO_PAD.replace("p_h, p_w = (p, p) if isinstance(p, int) else p", "p_h = p_w = p"),
     "the pair p = (p_h, p_w) was used as one number", "쌍 p = (p_h, p_w)를 숫자 하나처럼 썼음"),
    ("03", "test_conv2d", CONV2D_LOOPS.replace(PAD_BOTH, "xp = x"),
     "the windows were cut from x instead of the padded input", "윈도우를 패딩한 입력이 아니라 x에서 잘라서"),
    ("03", "test_conv2d", CONV2D_LOOPS.replace(PAD_BOTH, "xp = np.pad(x, padding)"),
     "np.pad(x, padding) padded every axis, N and C too", "np.pad(x, padding)이 N과 C까지 모든 축을 패딩해서"),
    ("03", "test_conv2d", CONV2D_LOOPS.replace("out + b[None, :, None, None]", "out + b"),
     "the bias was added along the wrong axis", "편향을 잘못된 축에 더했음"),
    ("05", "test_pool2d_forward", POOL_SIZES.replace("N, C, H, W = x.shape", "N, H, W, C = x.shape"),
     "x was read as (N, H, W, C)", "x를 (N, H, W, C)로 읽었음"),
    ("05", "test_conv2d_fast", CONV2D_FAST.replace(PAD_BOTH, "xp = np.pad(x, padding)"),
     "np.pad(x, padding) pads every axis, N and C too", "np.pad(x, padding)은 N과 C까지 모든 축을 패딩하므로"),
    ("05", "test_conv2d_fast", CONV2D_FAST.replace("+ b[None, :, None, None]", "+ b"),
     "the bias was added along the wrong axis", "편향을 잘못된 축에 더했음"),
    ("09", "test_cosine_lr", COSINE.replace("(1 + math.cos", "(1 - math.cos"),
     "the schedule runs backwards", "스케줄이 거꾸로 감"),
    ("09", "test_cosine_lr", COSINE.replace("lr_min + (lr_max - lr_min)", "lr_max + (lr_min - lr_max)"),
     "the schedule runs backwards", "스케줄이 거꾸로 감"),
]

# From a trial with learners' code in the styles of public course work (h60): slips that failed with only expected
# and got values, or with numpy's broadcasting error under another slip's name. Each base answer passes the visible
# checks and the hidden ones (tests/test_learner_styles.py runs each whole test cell on it); each slip is one
# change to it.
# deeplearning.ai's pool_forward and pool_backward (distribute_value), adapted to (N, C, H, W): four loops.
POOL_FORWARD_DLAI = '''import numpy as np
def pool2d_forward(x, f, s, mode="max"):
    if x.ndim != 4 or f < 1 or s < 1 or f > x.shape[2] or f > x.shape[3] or mode not in ("max", "avg"):
        raise ValueError("impossible settings")
    m, n_C, n_H_prev, n_W_prev = x.shape
    n_H, n_W = int(1 + (n_H_prev - f) / s), int(1 + (n_W_prev - f) / s)
    A = np.zeros((m, n_C, n_H, n_W))
    for i in range(m):
        for h in range(n_H):
            vert_start = h * s
            for w in range(n_W):
                horiz_start = w * s
                for c in range(n_C):
                    a_prev_slice = x[i, c, vert_start:vert_start + f, horiz_start:horiz_start + f]
                    if mode == "max":
                        A[i, c, h, w] = np.max(a_prev_slice)
                    elif mode == "avg":
                        A[i, c, h, w] = np.mean(a_prev_slice)
    return A
'''
AVGPOOL_BACKWARD_DLAI = '''import numpy as np
def distribute_value(dz, shape):
    n_H, n_W = shape
    return np.ones(shape) * dz / (n_H * n_W)
def avgpool_backward(dout, x_shape, f, s):
    m, n_C, n_H_prev, n_W_prev = x_shape
    n_H, n_W = (n_H_prev - f) // s + 1, (n_W_prev - f) // s + 1
    if dout.shape != (m, n_C, n_H, n_W):
        raise ValueError("dout does not fit x_shape, f and s")
    dA_prev = np.zeros(x_shape)
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                for c in range(n_C):
                    vert_start, horiz_start = h * s, w * s
                    dA_prev[i, c, vert_start:vert_start + f, horiz_start:horiz_start + f] += \\
                        distribute_value(dout[i, c, h, w], (f, f))
    return dA_prev
'''
# deeplearning.ai's conv_backward, adapted: dA_prev[i] = da_prev_pad[:, pad:-pad, pad:-pad] is empty when pad = 0.
CONV_BACKWARD_DLAI = '''import numpy as np
def conv_backward(dout, x, w, b, stride=1, padding=0):
    m, n_C_prev, n_H_prev, n_W_prev = x.shape
    n_C, _, f, f2 = w.shape
    n_H, n_W = (n_H_prev + 2 * padding - f) // stride + 1, (n_W_prev + 2 * padding - f2) // stride + 1
    if w.shape[1] != n_C_prev or b.shape != (n_C,) or dout.shape != (m, n_C, n_H, n_W):
        raise ValueError("shapes that do not fit")
    dA_prev, dW, db = np.zeros(x.shape), np.zeros(w.shape), np.zeros(b.shape)
    A_prev_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dA_prev_pad = np.pad(dA_prev, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    for i in range(m):
        a_prev_pad, da_prev_pad = A_prev_pad[i], dA_prev_pad[i]
        for h in range(n_H):
            for w_ in range(n_W):
                for c in range(n_C):
                    vert_start, horiz_start = h * stride, w_ * stride
                    a_slice = a_prev_pad[:, vert_start:vert_start + f, horiz_start:horiz_start + f2]
                    da_prev_pad[:, vert_start:vert_start + f, horiz_start:horiz_start + f2] += w[c] * dout[i, c, h, w_]
                    dW[c] += a_slice * dout[i, c, h, w_]
                    db[c] += dout[i, c, h, w_]
        dA_prev[i] = da_prev_pad[:, padding:padding + n_H_prev, padding:padding + n_W_prev]
    return dA_prev, dW, db
'''
# greedy NMS as in py-faster-rcnn's py_cpu_nms (which the overlap of pyimagesearch's version replaces).
NMS_PY_CPU = '''import numpy as np
def nms(boxes, scores, iou_threshold):
    boxes = np.asarray(boxes, dtype=float)
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[order[1:]]) - np.maximum(x1[i], x1[order[1:]]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[order[1:]]) - np.maximum(y1[i], y1[order[1:]]))
        inter = w * h
        ovr = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[np.where(ovr <= iou_threshold)[0] + 1]
    return np.array(keep, dtype=int)
'''
COMPOUND = '''def compound_scaling(phi, alpha=1.2, beta=1.1, gamma=1.15, base_resolution=224):
    return alpha ** phi, beta ** phi, round(base_resolution * gamma ** phi), (alpha * beta ** 2 * gamma ** 2) ** phi
'''
PREPARE = '''import torch
def prepare_images(images):
    x = torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 255.
    return x
'''
NAMED_IN_BOTH += [
    ("05", "test_pool2d_forward", POOL_FORWARD_DLAI.replace('elif mode == "avg"', 'elif mode == "average"'),
     'is it spelled "avg" in your code?', '코드에 "avg"로 적었나요?'),
    ("05", "test_avgpool_backward", AVGPOOL_BACKWARD_DLAI.replace("(dout[i, c, h, w], (f, f))",
                                                                  "(dout[i, c, h, w], (n_H, n_W))"),
     "the shape of the output map (H_out, W_out) = (2, 3), not of the window", "출력 맵의 형태 (H_out, W_out) = (2, 3)"),
    ("05", "test_avgpool_backward", AVGPOOL_BACKWARD_DLAI.replace(
        "distribute_value(dout[i, c, h, w], (f, f))", "np.ones((f, f)) * dout[i, c, h, w] / (n_H * n_W)"),
     "divided by the number of outputs H_out*W_out = 6", "출력의 개수 H_out*W_out = 6으로 나눴습니다"),
    ("05", "test_conv_backward", CONV_BACKWARD_DLAI.replace(
        "[:, padding:padding + n_H_prev, padding:padding + n_W_prev]", "[:, padding:-padding, padding:-padding]"),
     "cut off with [p:-p], which is empty when p = 0", "p = 0이면 비어 있습니다"),
    ("05", "test_conv_backward", CONV_BACKWARD_DLAI.replace(
        "dA_prev[i] = da_prev_pad[:, padding:padding + n_H_prev, padding:padding + n_W_prev]",
        "pass").replace("return dA_prev, dW, db", "return dA_prev_pad[:, :, padding:-padding, padding:-padding], dW, db"),
     "cut off with [p:-p], which is empty when p = 0", "p = 0이면 비어 있습니다"),
    ("10", "test_nms", NMS_PY_CPU.replace("ovr = inter / (areas[i] + areas[order[1:]] - inter)",
                                          "ovr = inter / areas[order[1:]]"),
     "the intersection over the area of one box", "한 상자의 넓이로 나눈 교집합"),
    ("07", "test_compound_scaling", COMPOUND.replace("round(base_resolution", "math.ceil(base_resolution").replace(
        "def compound_scaling", "import math\ndef compound_scaling"),
     "the resolution was rounded up (math.ceil", "해상도를 올림했습니다"),
    ("06", "test_prepare_images", PREPARE.replace("    return x", "    return (x - 0.1307) / 0.3081"),
     "normalised with MNIST's mean and standard deviation", "MNIST의 평균과 표준편차로 정규화했습니다"),
    ("06", "test_prepare_images", PREPARE.replace("    return x", "    return (x - 0.5) / 0.5"),
     "normalised to [-1, 1]", "[-1, 1]로 정규화했습니다"),
]


# A Korean trial (lesson 09): momentum_update stepped with `w + lr * velocity`, and the check said only which weights
# differed. Every update rule of the lesson is run on fixed gradients, so a step up the gradient is w0 - (path - w0):
# each rule's check names it.
SIGN_SLIPS = {
    "test_momentum_update": '''def momentum_update(w, grad, state, lr, momentum=0.0):
    velocity = momentum * state["velocity"] + grad if "velocity" in state else grad.clone()
    state["velocity"] = velocity
    return w + lr * velocity, state
''',
    "test_adagrad_update": '''import torch
def adagrad_update(w, grad, state, lr, eps=1e-10):
    state["sum_of_squares"] = state.get("sum_of_squares", torch.zeros_like(grad)) + grad * grad
    return w + lr * grad / (torch.sqrt(state["sum_of_squares"]) + eps), state
''',
    "test_rmsprop_update": '''import torch
def rmsprop_update(w, grad, state, lr, alpha=0.99, eps=1e-8):
    state["mean_square"] = alpha * state.get("mean_square", torch.zeros_like(grad)) + (1 - alpha) * grad * grad
    return w + lr * grad / (torch.sqrt(state["mean_square"]) + eps), state
''',
    "test_adam_update": '''import torch
def adam_update(w, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state.get("step", 0) + 1
    m = beta1 * state.get("m", torch.zeros_like(grad)) + (1 - beta1) * grad
    v = beta2 * state.get("v", torch.zeros_like(grad)) + (1 - beta2) * grad * grad
    state.update(step=t, m=m, v=v)
    return w + lr * (m / (1 - beta1 ** t)) / (torch.sqrt(v / (1 - beta2 ** t)) + eps), state
''',
}
NAMED_IN_BOTH += [("09", grade_id, answer, "the step went up the gradient", "기울기를 따라 올라갔음")
                  for grade_id, answer in SIGN_SLIPS.items()]


# A Korean trial (lesson 01): train_perceptron with w - eta (y - y_hat) x (and the bias's update right) read only the
# mistakes it expected and got. Each sign slip of the perceptron rule is named: the weights', the bias's, both (the
# error written y_hat - y), by the visible check and, on random points, by the hidden one.
PERCEPTRON = '''import numpy as np
def train_perceptron(inputs, labels, epochs=12, learning_rate=1.0):
    inputs = np.asarray(inputs, dtype=float)
    weights = np.zeros(inputs.shape[1])
    bias = 0.0
    mistakes_per_epoch = []
    for _ in range(epochs):
        mistakes = 0
        for x, y in zip(inputs, labels):
            y_hat = 1 if weights @ x + bias > 0 else 0
            error = y - y_hat
            weights = weights + learning_rate * error * x
            bias = bias + learning_rate * error
            mistakes += int(y_hat != y)
        mistakes_per_epoch.append(mistakes)
    return mistakes_per_epoch, weights, float(bias)
'''
PERCEPTRON_SIGN_SLIPS = [
    (PERCEPTRON.replace("weights = weights + learning_rate", "weights = weights - learning_rate"),
     "the weights' update has the wrong sign", "가중치 갱신의 부호가 반대임"),
    (PERCEPTRON.replace("bias = bias + learning_rate", "bias = bias - learning_rate"),
     "the bias's update has the wrong sign", "편향 갱신의 부호가 반대임"),
    (PERCEPTRON.replace("error = y - y_hat", "error = y_hat - y"),
     "the update has the wrong sign: the error is y - y_hat", "갱신의 부호가 반대임: 오차는"),
    (PERCEPTRON.replace("weights + learning_rate", "weights - learning_rate").replace("bias + learning", "bias - learning"),
     "the update has the wrong sign: the error is y - y_hat", "갱신의 부호가 반대임: 오차는"),
]
NAMED_IN_BOTH += [("01", "test_train_perceptron", answer, words, korean_words)
                  for answer, words, korean_words in PERCEPTRON_SIGN_SLIPS]


@pytest.mark.parametrize("answer,words", [(answer, words) for answer, words, _ in PERCEPTRON_SIGN_SLIPS],
                         ids=["weights", "bias", "error", "both"])
def test_a_hidden_check_names_the_perceptrons_sign_slip_on_random_points(answer, words):
    """The hidden part's random separable sets name the same slips (its reference run with that update's sign
    turned), and never another sign slip: where two sign slips make the same mistakes on the points a run drew,
    neither is named (a run of 1 epoch often cannot tell them apart)."""
    from cnnbook.checks import CheckFailed, set_hidden_seed

    test = whole_test("01", "test_train_perceptron")
    setup = test.split("result = train_perceptron(")[0]            # the test's imports and its four corners
    hidden = test.split("### BEGIN HIDDEN TESTS")[1]
    named = 0
    try:
        for seed in range(40):
            set_hidden_seed(seed, "test_train_perceptron")
            space: dict = {}
            exec(compile(answer, "<learner>", "exec"), space)
            with pytest.raises(CheckFailed) as failure:
                exec(compile(setup + hidden, "test_train_perceptron", "exec"), space)
            said = str(failure.value)
            assert words in said or "wrong sign" not in said, (seed, said)
            named += words in said
    finally:
        set_hidden_seed(None)
    assert named >= 30, f"named in {named} of 40 runs"


@pytest.fixture
def korean():
    from cnnbook.i18n import set_language

    set_language("ko")
    yield
    set_language(None)


@pytest.mark.parametrize("lesson,grade_id,answer,words,korean_words", NAMED_IN_BOTH,
                         ids=[f"{s[0]}-{s[3][:30]}" for s in NAMED_IN_BOTH])
def test_a_visible_check_names_the_slip_in_english(lesson, grade_id, answer, words, korean_words):
    said = visible_failure(lesson, grade_id, answer)
    assert words in said and ("typical slip" in said or words in SAID_BY_CHECK_TRUE), said


SAID_BY_CHECK_TRUE = {"it was drawn once for the whole batch"}     # a check_true's explanation, not a value matched


@pytest.mark.parametrize("lesson,grade_id,answer,words,korean_words", NAMED_IN_BOTH,
                         ids=[f"{s[0]}-{s[3][:30]}" for s in NAMED_IN_BOTH])
def test_a_visible_check_names_the_slip_in_korean(korean, lesson, grade_id, answer, words, korean_words):
    said = visible_failure(lesson, grade_id, answer)
    assert korean_words in said and words not in said, said


def test_the_right_answers_of_the_named_slips_pass():
    """The code the slips above are made from passes the visible checks (so each slip is the one change)."""
    for lesson, grade_id, answer in [("08", "test_rotate_and_shift", ROTATE), ("08", "test_mirror_and_crop", RANDOM_CROP),
                                     ("08", "test_fine_tune_optimizer", FINE_TUNE),
                                     ("10", "test_decode_predictions", DECODE), ("03", "test_zero_pad", ZERO_PAD),
                                     ("03", "test_conv2d", CONV2D_LOOPS), ("05", "test_pool2d_forward", POOL_SIZES),
                                     ("05", "test_conv2d_fast", CONV2D_FAST),
                                     ("09", "test_cosine_lr", COSINE),
                                     ("07", "test_compound_scaling", COMPOUND), ("06", "test_prepare_images", PREPARE)]:
        # (the public-work bases POOL_FORWARD_DLAI, AVGPOOL_BACKWARD_DLAI, CONV_BACKWARD_DLAI and NMS_PY_CPU pass their
        # whole test cells in tests/test_learner_styles.py)
        space: dict = {}
        exec(compile(answer, "<learner>", "exec"), space)
        exec(compile(visible_test(lesson, grade_id), grade_id, "exec"), space)


def test_the_perceptron_the_sign_slips_are_made_from_passes_its_whole_test():
    """The right train_perceptron (the sign slips above are each one change of it) passes the visible and hidden
    checks, on the fixed corners and on random points."""
    from cnnbook.checks import set_hidden_seed

    for seed in range(8):
        set_hidden_seed(seed, "test_train_perceptron")
        space: dict = {}
        exec(compile(PERCEPTRON, "<learner>", "exec"), space)
        exec(compile(whole_test("01", "test_train_perceptron"), "test_train_perceptron", "exec"), space)
    set_hidden_seed(None)


def test_a_hidden_check_names_image_size_left_out():
    """decode_predictions that always decodes for 64-pixel images passes the visible checks (64 pixels) and failed
    a hidden one with only expected and got values."""
    from cnnbook.checks import CheckFailed

    space: dict = {}
    exec(compile(DECODE.replace("cell = image_size / grid", "cell = 64 / grid"), "<learner>", "exec"), space)
    with pytest.raises(CheckFailed) as failure:
        exec(compile(whole_test("10", "test_decode_predictions"), "test_decode_predictions", "exec"), space)
    assert "image_size was left out" in str(failure.value), str(failure.value)


# From a trial with learners' code from public course work (h33): slips that failed with only expected and got
# values, now named by the visible check.
CONV_VOLUME_LOOPS = '''import numpy as np
def conv_volume(volume, filters, bias):
    height, width, channels = volume.shape
    n_filters, f = filters.shape[0], filters.shape[1]
    if filters.shape[3] != channels:
        raise ValueError(f"filters have {filters.shape[3]} channels, the volume {channels}")
    out = np.zeros((height - f + 1, width - f + 1, n_filters))
    for i in range(height - f + 1):
        for j in range(width - f + 1):
            for k in range(n_filters):
                out[i, j, k] = np.sum(volume[i:i + f, j:j + f, :] * filters[k]) + bias[k]
    return np.maximum(out, 0)
'''
SOFTMAX_SHIFTED = '''import numpy as np
def softmax_cross_entropy(scores, labels):
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(n), labels].mean())
'''
SVM_LOOPS = '''import numpy as np
def svm_loss(scores, labels, margin=1.0):
    n, c = scores.shape
    total = 0.0
    for i in range(n):
        for j in range(c):
            if j != labels[i]:
                total += max(0.0, scores[i, j] - scores[i, labels[i]] + margin)
    return float(total / n)
'''
IOU_BROADCAST = '''import numpy as np
def box_iou(boxes_a, boxes_b):
    a = np.asarray(boxes_a, dtype=float).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=float).reshape(-1, 4)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    sides = np.clip(np.minimum(a[:, None, 2:], b[None, :, 2:]) - np.maximum(a[:, None, :2], b[None, :, :2]), 0, None)
    inter = sides[..., 0] * sides[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
'''
NMS_POSITIONS = '''import numpy as np
def nms(boxes, scores, iou_threshold):
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        w = np.clip(np.minimum(boxes[best, 2], boxes[rest, 2]) - np.maximum(boxes[best, 0], boxes[rest, 0]), 0, None)
        h = np.clip(np.minimum(boxes[best, 3], boxes[rest, 3]) - np.maximum(boxes[best, 1], boxes[rest, 1]), 0, None)
        iou = w * h / (areas[best] + areas[rest] - w * h)
        order = rest[iou <= iou_threshold]
    return np.array(keep, dtype=int)
'''
TRAIN_LOOP = '''def train_one_epoch(model, batches, optimizer, loss_fn):
    model.train()
    total, seen = 0.0, 0
    for x, y in batches:
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(x)
        seen += len(x)
    return total / seen
'''
SLIPS_SEEN_IN_PUBLIC_WORK = [
    ("03", "test_same_padding", '''def same_padding(f):
    if f < 1:
        raise ValueError("f must be at least 1")
    return (f - 1) // 2
''', "one int for both sides: (f - 1) // 2 = 1"),
    ("06", "test_train_one_epoch", TRAIN_LOOP.replace("loss.item() * len(x)", "loss.item()"),
     "the batch losses were added without their batch sizes"),
    ("06", "test_train_one_epoch", TRAIN_LOOP.replace("seen += len(x)", "seen += 1"),
     "divided by the number of batches (2)"),
    ("02", "test_conv_volume", CONV_VOLUME_LOOPS.replace(
        "np.sum(volume[i:i + f, j:j + f, :] * filters[k]) + bias[k]",
        "np.sum(volume[i:i + f, j:j + f, :] * filters[k] + bias[k])"), "the bias was added inside the sum"),
    ("09", "test_softmax_cross_entropy", SOFTMAX_SHIFTED.replace(
        "np.exp(shifted).sum(axis=1", "np.exp(shifted).sum(axis=0"), "the sum of exps was taken over the images"),
    ("09", "test_softmax_cross_entropy", SOFTMAX_SHIFTED.replace(
        "scores.max(axis=1", "scores.max(axis=0"), "the maximum was taken over the images"),
    ("09", "test_softmax_cross_entropy", SOFTMAX_SHIFTED.replace(
        "log_probs[np.arange(n), labels]", "log_probs[:, labels]"), "picks an N x N block"),
    ("09", "test_svm_loss", SVM_LOOPS.replace("total / n", "total / c"), "divided by the number of classes C"),
    ("10", "test_box_iou", IOU_BROADCAST.replace(
        "area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])", "area_a = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)"
    ).replace("area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])",
              "area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)"), "the + 1 pixel convention in the areas only"),
    ("10", "test_nms", NMS_POSITIONS.replace(
        "areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])",
        "areas = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)"), "a + 1 in the areas"),
]


@pytest.mark.parametrize("lesson,grade_id,answer,words", SLIPS_SEEN_IN_PUBLIC_WORK,
                         ids=[f"{s[0]}-{s[3][:30]}" for s in SLIPS_SEEN_IN_PUBLIC_WORK])
def test_a_visible_check_names_a_slip_seen_in_public_work(lesson, grade_id, answer, words):
    said = visible_failure(lesson, grade_id, answer)
    assert "typical slip" in said and words in said, said


def test_the_right_answers_behind_those_slips_pass_the_visible_checks():
    for lesson, grade_id, answer in [("02", "test_conv_volume", CONV_VOLUME_LOOPS), ("06", "test_train_one_epoch", TRAIN_LOOP),
                                     ("09", "test_softmax_cross_entropy", SOFTMAX_SHIFTED),
                                     ("09", "test_svm_loss", SVM_LOOPS), ("10", "test_box_iou", IOU_BROADCAST),
                                     ("10", "test_nms", NMS_POSITIONS)]:
        space: dict = {}
        exec(compile(answer, "<learner>", "exec"), space)
        exec(compile(visible_test(lesson, grade_id), grade_id, "exec"), space)


def test_nms_that_keeps_positions_of_the_rest_says_a_box_was_kept_twice():
    """np.where(iou <= t)[0] counts positions in order[1:]; used as positions in order (order[inds] instead of
    order[inds + 1]) the best box comes back: the coins gave [0, 0] with only a shape error and the generic hint."""
    said = visible_failure("10", "test_nms", NMS_POSITIONS.replace(
        "order = rest[iou <= iou_threshold]", "order = order[np.where(iou <= iou_threshold)[0]]"))
    assert "was kept more than once" in said and "order[1:]" in said, said


# A conv layer whose W_out is computed with the kernel's height (one f for both sides): every case had a square
# kernel, or kh - kw = 1 with stride 2, where (n - kh) // 2 == (n - kw) // 2, so it got full marks in lessons 03
# and 05. A hidden case with a 2 x 4 kernel and stride 1 now fails it, naming the sides.
CONV_ONE_SIDE = '''import numpy as np
def {name}(x, w, b, stride=1, padding=0):
    n, c, height, width = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    h_out = (height + 2 * padding - kh) // stride + 1
    w_out = (width + 2 * padding - kh) // stride + 1
    out = np.zeros((n, f, h_out, w_out))
    for u in range(kh):
        for v in range(kw):
            patch = xp[:, :, u:u + stride * h_out:stride, v:v + stride * w_out:stride]
            out += np.einsum("nchw,fc->nfhw", patch, w[:, :, u, v])
    return out + b[None, :, None, None]
'''


@pytest.mark.parametrize("lesson,grade_id,name", [("03", "test_conv2d", "conv2d"),
                                                  ("05", "test_conv2d_fast", "conv2d_fast")])
def test_a_hidden_check_names_the_kernel_height_used_for_the_width(lesson, grade_id, name):
    from cnnbook.checks import CheckFailed

    space: dict = {}
    exec(compile(CONV_ONE_SIDE.format(name=name), "<learner>", "exec"), space)
    exec(compile(visible_test(lesson, grade_id), grade_id, "exec"), space)          # the visible checks pass
    with pytest.raises((CheckFailed, ValueError)) as failure:
        exec(compile(whole_test(lesson, grade_id), grade_id, "exec"), space)
    text = str(failure.value) + str(getattr(failure.value, "hint", ""))
    assert "kw = w.shape[3]" in text or "W_out was computed with the kernel's height" in text, text


def test_pooling_by_reshaping_into_blocks_is_named_where_it_cannot_reshape():
    """The reshape shortcut (blocks of f x f, right only when s = f and f divides H and W) raised numpy's reshape
    error on the 7 x 7 map with f = 3, s = 2, naming neither the case nor the shortcut."""
    said = visible_failure("05", "test_pool2d_forward", '''import numpy as np
def pool2d_forward(x, f, s, mode="max"):
    if x.ndim != 4 or f < 1 or s < 1 or f > x.shape[2] or f > x.shape[3] or mode not in ("max", "avg"):
        raise ValueError("impossible settings")
    n, c, height, width = x.shape
    blocks = x.reshape(n, c, height // f, f, width // f, f)
    return blocks.max(axis=(3, 5)) if mode == "max" else blocks.mean(axis=(3, 5))
''')
    assert "typical slip" in said and "only works when s = f" in said and "1x1x7x7, 3, 2" in said, said


def test_a_float_where_an_int_is_due_is_shown_as_the_number_it_is():
    """A learner's trial: np.floor(...) + 1 in output_size said "expected an int, got float64 np.float64(2.0)"
    (numpy 2's repr, which reads as a call, and the type twice)."""
    said = visible_failure("03", "test_output_size", '''import numpy as np
def output_size(n, f, p=0, s=1):
    if s < 1 or p < 0 or f > n + 2 * p:
        raise ValueError("impossible settings")
    return np.floor((n + 2 * p - f) / s) + 1
''')
    assert "expected an int, got float64 2.0: use //" in said and "np.float64" not in said, said


LENET_FUNCTIONAL = '''import torch
from torch import nn
import torch.nn.functional as F
class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))
'''


def test_a_lenet_without_features_is_told_the_attribute_is_missing_not_to_return():
    """A trial with code in the style of public course work: LeNet-5 with its layers as self.conv1 ... and
    torch.nn.functional in forward (the exercise asks for `features` and `classifier`). The failure said "got
    NoneType ... returned None. Did you forget the `return` statement?": there is no return to forget. It says the
    attribute is missing, and why the checks need it."""
    said = visible_failure("06", "test_LeNet5", LENET_FUNCTIONAL)
    assert "LeNet5() has no attribute `features`" in said and "self.conv1" in said, said
    assert "return" not in said and "NoneType" not in said, said


# From a Korean learner's trial: a function that returns another kind or another number of values than its exercise
# asks for. The failure says how many came back (and which), shows numbers as numbers, names the call, and reads
# naturally in Korean (a lesson's f-string sentence translated by its own lesson's catalog only):
# (lesson, answer cell, its code as solved -> as slipped, test cell, English words, Korean words).
RETURNS = [
    ("01", "train_perceptron", ("return mistakes_per_epoch, weights, float(bias)", "return mistakes_per_epoch, weights"),
     "test_train_perceptron",
     "expected a tuple (mistakes_per_epoch, weights, bias): 3 values, but got 2: ([1, 3, 3, 2",
     "(mistakes_per_epoch, weights, bias) 튜플: 값 3개가 와야 하는데 2개가 왔습니다: ([1, 3, 3, 2"),
    ("04", "conv_params", ("weights = f * f * c_in * c_out", "weights = np.float64(f * f * c_in * c_out)"),
     "test_conv_params", "expected an int (a count), got float64 760.0", "개수를 나타내는 int여야 하는데, 받은 값은 float64 자료형의 760.0입니다"),
    ("04", "layer_shapes", ('"W": (f, f, c_in, c_out)', '"W": [f, f, c_in, c_out]'), "test_layer_shapes",
     "expected tuples (like array.shape), got W: list", "array.shape처럼 튜플이어야 하는데, 튜플이 아닌 것: W: list"),
    ("04", "depthwise_separable_cost", ("return normal, depthwise, pointwise", "return normal, depthwise + pointwise"),
     "test_depthwise_separable_cost", "expected a tuple (normal, depthwise, pointwise): 3 values, but got 2: (2160, 672)",
     "(normal, depthwise, pointwise) 튜플: 값 3개가 와야 하는데 2개가 왔습니다: (2160, 672)"),
    ("05", "conv_backward", ("padding:padding + W], dw, db", "padding:padding + W], dw"), "test_conv_backward",
     "expected the tuple (dx, dw, db): 3 values, but it returned a tuple of 2 items",
     "(dx, dw, db) 튜플: 값 3개가 와야 하는데, 받은 값은 항목 2개짜리 tuple"),
    ("07", "compound_scaling", ("return depth, width, resolution, (alpha", "return depth, width, resolution  # (alpha"),
     "test_compound_scaling", ": 4 values, but got 3: (1.2, 1.1, 258)",
     "macs_factor) 튜플: 값 4개가 와야 하는데 3개가 왔습니다: (1.2, 1.1, 258)"),
    ("09", "l2_penalty", ("return float(penalty), gradients", "return float(penalty), gradients, strength"),
     "test_l2_penalty", "expected a tuple (penalty, gradients): 2 values, but it returned a tuple of 3 items",
     "(penalty, gradients) 튜플: 값 2개가 와야 하는데, 받은 값은 항목 3개짜리 tuple"),
    ("09", "momentum_update", ("return w - lr * velocity, state", "w = w - lr * velocity"), "test_momentum_update",
     "what momentum_update(w, grad, state, lr=0.1, momentum=0.0) returns:\n  returned None, but a tuple (new weights, "
     "state) was expected", "momentum_update(w, grad, state, lr=0.1, momentum=0.0)의 반환값:\n  (새 가중치, 상태) 튜플을 "
     "기대했지만 None을 돌려주었습니다"),
    ("10", "nms", ("return np.array(keep, dtype=int)", "return keep"), "test_nms",
     "got a value of type list: [0, 3, 4]",
     "numpy 배열(빈 리스트는 인덱스가 아니라 float 배열이 됩니다)을 기대했지만, 받은 값은 list 자료형의 [0, 3, 4]입니다"),
    ("10", "box_formats", ("y1 - y0], axis=1)", "y1 - y0], axis=1).tolist()"), "test_box_formats",
     "expected a numpy array of float64, got a value of type list: [[20.0, 40.0, 20.0, 40.0]]",
     "float64 numpy 배열을 기대했지만, 받은 값은 list 자료형의 [[20.0, 40.0, 20.0, 40.0]]입니다"),
    ("10", "box_formats", ("(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], axis=1)",
                           "(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], axis=1).astype(np.float32)"),
     "test_box_formats", "expected float64, got float32", "float64여야 하는데 받은 dtype: float32"),
    ("01", "who_did_it", ('"Fukushima",', '"Fukushma",'), "test_who_did_it",
     "'Fukushma' is not one of the names in PEOPLE. Did you mean 'Fukushima'?",
     "PEOPLE에 없는 이름: 'Fukushma' (비슷한 이름: 'Fukushima')"),
    ("10", "average_precision", ("return precision, recall", "return precision, recall, n_true"),
     "test_average_precision", "expected a tuple (precisions, recalls): 2 values, but it returned a tuple of 3 items",
     "튜플 (precisions, recalls): 값 2개가 와야 하는데, 받은 값은 항목 3개짜리 tuple"),
]


NEEDS = {"nms": ["box_formats", "box_iou"]}          # the answer cells a slipped one calls


@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("lesson,answer,change,grade_id,words,korean_words", RETURNS,
                         ids=[f"{r[0]}-{r[1]}" for r in RETURNS])
def test_a_function_that_returns_another_kind_or_number_of_values_is_told_so(lesson, answer, change, grade_id, words,
                                                                            korean_words, lang):
    from conftest import answer_sources

    from cnnbook.i18n import set_language, set_lesson

    answers = answer_sources(LESSONS[lesson])
    assert change[0] in answers[answer]
    code = "\n".join(["import numpy as np", "from numpy.lib.stride_tricks import sliding_window_view",
                      *(answers[name] for name in NEEDS.get(answer, ())), answers[answer].replace(change[0], change[1])])
    set_language(lang)
    set_lesson(LESSONS[lesson].slug)
    try:
        said = visible_failure(lesson, grade_id, code)
    finally:
        set_language(None)
        set_lesson(None)
    assert (korean_words if lang == "ko" else words) in said and "np.int64" not in said, said


def test_an_input_changed_in_place_is_told_before_a_case_that_reads_it_again():
    """A learner's Korean-edition trial in JupyterLab: avgpool_backward with `dout /= (f * f)` (right values, dout
    changed in place) was told, in the notebook, that case 3's window was 4 times too large: the case computed its
    expected share from its dout after the call had divided it. (The grader catches an input changed in place at the
    call; a notebook's test cell runs the learner's function directly.) The unchanged-dout check now comes right after
    the first case, and case 3 takes its share before its call."""
    from conftest import answer_sources

    solution = answer_sources(LESSONS["05"])["avgpool_backward"]
    slipped = solution.replace("share = dout / (f * f)", "dout /= (f * f)\n    share = dout")
    assert slipped != solution
    said = visible_failure("05", "test_avgpool_backward", "import numpy as np\n" + slipped)
    assert "dout after avgpool_backward (it must stay unchanged)" in said and "[1, 2, 3:5, 6:8]" not in said, said



# nms may call the learner's own box_iou (an instructor's trial: 4 of 12 correct nms answers that reused a correct
# box_iou lost all 4 points when the test refused it). Its test runs nms with the course's box_iou in place of theirs
# (`course_backed`, as in lesson 04), so a box_iou slip costs exercise 2 only.
IOU_OVER_ONE_AREA = '''import numpy as np
def box_iou(boxes_a, boxes_b):
    a = np.asarray(boxes_a, dtype=float).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=float).reshape(-1, 4)
    sides = np.clip(np.minimum(a[:, None, 2:], b[None, :, 2:]) - np.maximum(a[:, None, :2], b[None, :, :2]), 0, None)
    inter = sides[..., 0] * sides[..., 1]
    return inter / ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))[:, None]
'''
NMS_CALLS_BOX_IOU = '''
def nms(boxes, scores, iou_threshold):
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    keep = []
    while order.size > 0:
        best, rest = order[0], order[1:]
        keep.append(best)
        iou = box_iou(boxes[best:best + 1], boxes[rest])[0]
        order = rest[iou <= iou_threshold]
    return np.array(keep, dtype=int)
'''


def whole_test_outcome(lesson: str, grade_id: str, answer: str) -> str:
    """"passed", or what the whole test cell (visible and hidden parts, run in this process) said when it failed."""
    from cnnbook.checks import CheckFailed

    space: dict = {}
    exec(compile(answer, "<learner>", "exec"), space)
    try:
        exec(compile(whole_test(lesson, grade_id), grade_id, "exec"), space)
    except CheckFailed as failure:
        return str(failure)
    return "passed"


def test_an_nms_that_calls_a_wrong_box_iou_costs_only_box_iou():
    answer = IOU_OVER_ONE_AREA + NMS_CALLS_BOX_IOU
    assert whole_test_outcome("10", "test_nms", answer) == "passed"
    said = whole_test_outcome("10", "test_box_iou", answer)
    assert "intersection / area of the first box instead of / union" in said, said


@pytest.mark.parametrize("box_iou", [
    # not answered yet: the stub still raises
    "import numpy as np\ndef box_iou(boxes_a, boxes_b):\n    raise NotImplementedError()\n",
    # no guard against a union of 0 (nan for boxes of zero area), its IoU called in a comprehension
    IOU_OVER_ONE_AREA.replace("inter / ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))[:, None]",
                              "inter / ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))[:, None] + np.nan"),
], ids=["stub", "nan"])
@pytest.mark.parametrize("nms", [
    NMS_CALLS_BOX_IOU,
    # under another name and as a default argument: the course's box_iou stands in there too
    NMS_CALLS_BOX_IOU.replace("iou_threshold):", "iou_threshold, overlap=box_iou):").replace("= box_iou(", "= overlap("),
    "\npairwise_iou = box_iou\n" + NMS_CALLS_BOX_IOU.replace("= box_iou(", "= pairwise_iou("),
    '''
def nms(boxes, scores, iou_threshold):
    order, keep = list(np.argsort(-np.asarray(scores), kind="stable")), []
    while order:
        best = order.pop(0)
        keep.append(best)
        order = [i for i in order if box_iou(boxes[best:best + 1], boxes[i:i + 1])[0, 0] <= iou_threshold]
    return np.array(keep, dtype=int)
''',
], ids=["by-name", "default-argument", "alias", "comprehension"])
def test_an_nms_that_calls_box_iou_runs_with_the_courses_box_iou(box_iou, nms):
    answer = box_iou + nms
    assert whole_test_outcome("10", "test_nms", answer) == "passed"
    space: dict = {}
    exec(compile(answer, "<learner>", "exec"), space)
    exec(compile(whole_test("10", "test_nms"), "test_nms", "exec"), space)
    assert space["box_iou"].__code__.co_filename == "<learner>"           # theirs again after the test
    assert space["nms"].__defaults__ in (None, (space["box_iou"],))
    assert space.get("pairwise_iou", space["box_iou"]) is space["box_iou"]


@pytest.mark.parametrize("right,wrong,words", [
    ("np.argsort(-np.asarray(scores, dtype=float), kind=\"stable\")",
     "np.argsort(np.asarray(scores, dtype=float), kind=\"stable\")", "kept the box with the LOWEST score first"),
    ("np.argsort(-np.asarray(scores, dtype=float), kind=\"stable\")", "np.arange(len(boxes))",
     "the boxes were visited in index order"),
])
def test_a_wrong_nms_that_calls_box_iou_still_fails_with_its_named_slip(right, wrong, words):
    slipped = NMS_CALLS_BOX_IOU.replace(right, wrong)
    assert slipped != NMS_CALLS_BOX_IOU
    said = visible_failure("10", "test_nms", IOU_BROADCAST + slipped)
    assert "typical slip" in said and words in said, said


def test_a_wrong_call_of_box_iou_inside_nms_says_which_box_iou_ran():
    """The course's box_iou stands in for the learner's: an error it raises on what nms gave it says so, and what it
    takes, instead of a line of the test cell the learner never wrote."""
    slipped = NMS_CALLS_BOX_IOU.replace("box_iou(boxes[best:best + 1], boxes[rest])", "box_iou(boxes[best][:3], boxes[rest])")
    space: dict = {}
    exec(compile(IOU_BROADCAST + slipped, "<learner>", "exec"), space)
    with pytest.raises(ValueError) as raised:
        exec(compile(visible_test("10", "test_nms"), "test_nms", "exec"), space)
    assert "shapes (3,) and (5, 4)" in str(raised.value) and "the course's box_iou stood in for yours" in str(raised.value)


@pytest.mark.parametrize("name", ["average", "mean"])
def test_a_pool_whose_modes_are_spelled_otherwise_is_told_which_modes_there_are(name):
    """deeplearning.ai's pool_forward calls the mean "average": a learner who checks mode against that name refuses
    "avg", and read only their own "impossible settings" error. The test now says which two modes there are."""
    answer = POOL_FORWARD_DLAI.replace('("max", "avg")', f'("max", "{name}")').replace(
        'elif mode == "avg"', f'elif mode == "{name}"')
    assert answer.count(f'"{name}"') == 2
    said = visible_failure("05", "test_pool2d_forward", answer)
    assert "pool2d_forward(x 1x1x4x4, 2, 2, 'avg'):" in said and "impossible settings" in said, said
    assert '"avg" is one of the two modes the exercise names: "max" and "avg"' in said, said
    assert 'The modes are spelled exactly "max" and "avg"' in said, said


def test_a_pool_whose_modes_are_spelled_otherwise_is_told_which_modes_there_are_in_korean(korean):
    answer = POOL_FORWARD_DLAI.replace('("max", "avg")', '("max", "average")').replace(
        'elif mode == "avg"', 'elif mode == "average"')
    said = visible_failure("05", "test_pool2d_forward", answer)
    assert '"avg"는 연습 문제가 정한 두 모드("max"와 "avg") 가운데 하나입니다' in said, said
    assert '모드의 철자는 정확히 "max"와 "avg"입니다' in said and "The modes are spelled" not in said, said


def test_an_integer_output_array_is_named_by_the_hidden_check():
    """An instructor's trial: conv2d_single writing into np.zeros(..., dtype=int) passes every visible check (integer
    images and kernels) and failed the hidden one on random float images with "nothing about the sizes should be
    fixed", which sent the learner looking at the wrong thing. The hidden check now names the integer output."""
    answer = '''import numpy as np
def conv2d_single(image, kernel):
    image, kernel = np.asarray(image), np.asarray(kernel)
    if image.ndim != 2 or kernel.ndim != 2 or kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:
        raise ValueError(f"shapes {image.shape} and {kernel.shape} do not fit")
    f = kernel.shape[0]
    out = np.zeros((image.shape[0] - f + 1, image.shape[1] - f + 1), dtype=int)
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[r, c] = np.sum(image[r:r + f, c:c + f] * kernel)
    return out
'''
    said = whole_test_outcome("02", "test_conv2d_single", answer)
    assert "typical slip" in said and "the output array holds integers" in said, said


SOFTMAX_WITH_A_FLOOR = '''import numpy as np
def softmax_cross_entropy(scores, labels):
    loss = 0.0
    for i, row in enumerate(np.asarray(scores, dtype=float)):
        row = row - row.max()
        probs = np.exp(row) / np.sum(np.exp(row))
        loss += -np.log(probs[labels[i]] + 1e-12)
    return loss / len(labels)
'''
LENET_PADDED_BUT_256 = '''import torch
from torch import nn
class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                        nn.Linear(84, 10))

    def forward(self, x):
        return self.classifier(self.features(x))
'''


@pytest.mark.parametrize("lesson,grade_id,answer,words", [
    ("09", "test_softmax_cross_entropy", SOFTMAX_WITH_A_FLOOR, "a floor under the probability"),
    ("06", "test_LeNet5", LENET_PADDED_BUT_256, "in_features = 16 x 4 x 4 = 256 counts the maps without padding"),
], ids=["09-floor", "06-256"])
def test_a_slip_a_check_true_names_is_a_slip_for_the_class_report_too(lesson, grade_id, answer, words):
    """An instructor's trial: the class report's "what to re-teach" missed the softmax floor, the class's most common
    slip (2 learners), since the test cell wrote "got 27.5 instead of 30.0: this looks like a typical slip: ..." on
    one line (the report reads a slip only where a line starts with it, as learner text can never start one); and
    lesson 06's sentence that started with those words was shown to the learner quoted. check_true's slip= names
    it on its own line."""
    from autograde.report import failure_reason
    from cnnbook.checks import CheckFailed, slip_name

    space: dict = {}
    exec(compile(answer, "<learner>", "exec"), space)
    with pytest.raises(CheckFailed) as failure:
        exec(compile(visible_test(lesson, grade_id), grade_id, "exec"), space)
    said = str(failure.value)
    assert slip_name(said.splitlines()[1]) is not None and words in said and "'this looks like" not in said, said
    assert failure_reason(said).startswith("typical slip: " + words), failure_reason(said)


def test_a_slip_a_check_true_names_is_said_in_korean(korean):
    said = visible_failure("09", "test_softmax_cross_entropy", SOFTMAX_WITH_A_FLOOR)
    assert "흔한 실수로 보입니다: 확률에 하한을 두면" in said.splitlines()[1], said
    assert "30.0이 아니라" in said, said


# From a learner's trial (h74): lesson 05's hidden message "a hidden check failed (ties inside a window, and dout of the
# wrong shape)" named two cases at once; a learner whose ties were right could not tell which. Each is its own case now.
MAXPOOL_BACKWARD_SPATIAL_CHECK_ONLY = '''import numpy as np
def maxpool_backward(dout, x, f, s):
    N, C, H, W = x.shape
    H_out, W_out = (H - f) // s + 1, (W - f) // s + 1
    if dout.shape[2:] != (H_out, W_out):          # the slip: N and C of dout never compared with x's
        raise ValueError("dout does not match the pooled x")
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * s:i * s + f, j * s:j * s + f]
                    k = np.argmax(window)
                    dx[n, c, i * s + k // f, j * s + k % f] += dout[n, c, i, j]
    return dx
'''


def test_lesson_05s_hidden_cases_of_maxpool_backward_name_one_thing_each():
    """The failing hidden case's sentence (what the grader tells the learner of a hidden check) names the shape check
    only."""
    from cnnbook.checks import CheckFailed

    space: dict = {}
    exec(compile(MAXPOOL_BACKWARD_SPATIAL_CHECK_ONLY, "<learner>", "exec"), space)
    with pytest.raises(CheckFailed) as failure:
        exec(compile(whole_test("05", "test_maxpool_backward"), "test_maxpool_backward", "exec"), space)
    case = str(getattr(failure.value, "hidden_case", None))
    assert "dout of the wrong shape for x, f and s" in case and "ties" not in case, (case, str(failure.value))
    right = MAXPOOL_BACKWARD_SPATIAL_CHECK_ONLY.replace("dout.shape[2:] != (H_out, W_out)",
                                                        "dout.shape != (N, C, H_out, W_out)")
    assert whole_test_outcome("05", "test_maxpool_backward", right) == "passed"
