"""Correct answers written the ways learners commonly write them (loops where the solution vectorises, a
velocity where it keeps a sum of gradients, a list built with append, nn.Module classes with their own layer names,
numpy where math would do, VOC's average precision with its sentinels, CS231n-style backward loops), from a trial
with code in the styles of public course work: each passes its WHOLE test cell, visible and hidden parts, run in this
process (no kernel: fast). A test that rejected one would be unfair: tests check behaviour, not spelling. (The
graded round trip proves the same for the fixtures' ALTERNATIVES.)"""
from __future__ import annotations

import pytest
from test_named_slips import (AVGPOOL_BACKWARD_DLAI, CONV_BACKWARD_DLAI, NMS_PY_CPU, POOL_FORWARD_DLAI,
                              whole_test)

HEAD = "import math\nimport numpy as np\nimport torch\nfrom torch import nn\nimport torch.nn.functional as F\n"

ANSWERS = {
    ('01_history', 'sort_events', 'sorted_lambda'): '''def sort_events(events):
    return [e["name"] for e in sorted(events, key=lambda e: e["year"])]
''',
    ('01_history', 'train_perceptron', 'classic'): '''def train_perceptron(inputs, labels, epochs=12, learning_rate=1.0):
    w = np.zeros(inputs.shape[1])
    b = 0.0
    mistakes = []
    for epoch in range(epochs):
        errors = 0
        for x, y in zip(inputs, labels):
            y_hat = 1 if np.dot(w, x) + b > 0 else 0
            if y_hat != y:
                errors += 1
            w += learning_rate * (y - y_hat) * x
            b += learning_rate * (y - y_hat)
        mistakes.append(errors)
    return mistakes, w, b
''',
    ('02_convolution', 'conv2d_single', 'loops_checked'): '''def conv2d_single(image, kernel):
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"need 2-D image and kernel, got {image.shape} and {kernel.shape}")
    H, W = image.shape
    f = kernel.shape[0]
    if f > H or f > W:
        raise ValueError(f"kernel {kernel.shape} does not fit in image {image.shape}")
    out = np.zeros((H - f + 1, W - f + 1))
    for i in range(H - f + 1):
        for j in range(W - f + 1):
            out[i, j] = np.sum(image[i:i + f, j:j + f] * kernel)
    return out
''',
    ('02_convolution', 'conv_volume', 'loops'): '''def conv_volume(volume, filters, bias):
    H, W, C = volume.shape
    n_filters, f, _, C2 = filters.shape
    if C != C2:
        raise ValueError("channel mismatch")
    out = np.zeros((H - f + 1, W - f + 1, n_filters))
    for k in range(n_filters):
        for i in range(H - f + 1):
            for j in range(W - f + 1):
                out[i, j, k] = np.sum(volume[i:i+f, j:j+f, :] * filters[k]) + bias[k]
    return np.maximum(out, 0)
''',
    ('03_padding_stride', 'conv2d', 'quad_loop'): '''def conv2d(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), 'constant')
    H_out = 1 + (H + 2 * padding - HH) // stride
    W_out = 1 + (W + 2 * padding - WW) // stride
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    out[n, f, i, j] = np.sum(x_pad[n, :, hs:hs + HH, ws:ws + WW] * w[f]) + b[f]
    return out
''',
    ('03_padding_stride', 'output_size', 'int_div'): '''def output_size(n, f, p=0, s=1):
    if s < 1 or p < 0 or f > n + 2 * p:
        raise ValueError("bad settings")
    return int((n + 2 * p - f) / s) + 1
''',
    ('04_parameters', 'conv_macs', 'float_div'): '''def conv_macs(h, w, c_in, f, c_out, p=0, s=1):
    if h < 1 or w < 1 or c_in < 1 or f < 1 or c_out < 1 or s < 1 or p < 0 or f > h + 2 * p or f > w + 2 * p:
        raise ValueError("bad sizes")
    n_h = int((h + 2 * p - f) / s + 1)
    n_w = int((w + 2 * p - f) / s + 1)
    return n_h * n_w * c_out * f * f * c_in
''',
    ('04_parameters', 'summary', 'hooks'): '''def summary(model, input_shape):
    rows = []
    x = torch.zeros(1, *input_shape)
    for layer in model:
        try:
            y = layer(x)
        except RuntimeError as e:
            raise ValueError(f"{type(layer).__name__} cannot take input {tuple(x.shape[1:])}: {e}")
        params = sum(p.numel() for p in layer.parameters())
        if isinstance(layer, nn.Conv2d):
            macs = y.shape[2] * y.shape[3] * layer.out_channels * (layer.in_channels // layer.groups) * layer.kernel_size[0] * layer.kernel_size[1]
        elif isinstance(layer, nn.Linear):
            macs = layer.in_features * layer.out_features
        else:
            macs = 0
        rows.append({"layer": type(layer).__name__, "output_shape": tuple(y.shape[1:]), "params": params, "macs": macs})
        x = y
    for r in rows:
        print(f"{r['layer']:12s} {str(r['output_shape']):18s} {r['params']:>10,} {r['macs']:>12,}")
    print(f"total {sum(r['params'] for r in rows):,} params, {sum(r['macs'] for r in rows):,} MACs")
    return rows
''',
    ('05_pooling', 'maxpool_backward', 'unravel'): '''def maxpool_backward(dout, x, f, s):
    N, C, H, W = x.shape
    H_out = (H - f) // s + 1
    W_out = (W - f) // s + 1
    if dout.shape != (N, C, H_out, W_out):
        raise ValueError(f"dout shape {dout.shape} does not match")
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i*s:i*s+f, j*s:j*s+f]
                    r, q = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i*s + r, j*s + q] += dout[n, c, i, j]
    return dx
''',
    ('06_lenet', 'confusion_matrix', 'zip_loop'): '''def confusion_matrix(labels, predictions, n_classes):
    cm = np.zeros((n_classes, n_classes), dtype=int)
    for t, p in zip(labels, predictions):
        cm[t][p] += 1
    return cm
''',
    ('06_lenet', 'prepare_images', 'from_numpy'): '''def prepare_images(images):
    return torch.from_numpy(images).float().unsqueeze(1) / 255
''',
    ('07_architectures', 'ResidualBlock', 'classic'): '''class ResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        out = F.relu(out)
        return out
''',
    ('07_architectures', 'vgg_stage', 'list_append'): '''def vgg_stage(in_channels, out_channels, n_convs):
    layers = []
    for _ in range(n_convs):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU(inplace=True))
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)
''',
    ('08_transfer', 'fine_tune_optimizer', 'groups'): '''def fine_tune_optimizer(model, blocks, head_lr, body_lr):
    for p in model.parameters():
        p.requires_grad = False
    body = []
    for name in blocks:
        for p in getattr(model, name).parameters():
            p.requires_grad = True
            body.append(p)
    for p in model.head.parameters():
        p.requires_grad = True
    return torch.optim.Adam([{"params": model.head.parameters(), "lr": head_lr},
                             {"params": body, "lr": body_lr}])
''',
    ('08_transfer', 'freeze_all_but_head', 'loop'): '''def freeze_all_but_head(model):
    for param in model.parameters():
        param.requires_grad = False
    for param in model.head.parameters():
        param.requires_grad = True
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
''',
    ('08_transfer', 'replace_head', 'plain'): '''def replace_head(model, n_classes):
    model.head = nn.Linear(model.head.in_features, n_classes)
    return model
''',
    ('09_losses_optimisers', 'adam_update', 'setdefault'): '''def adam_update(w, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    state.setdefault("t", 0)
    state.setdefault("m", torch.zeros_like(w))
    state.setdefault("v", torch.zeros_like(w))
    state["t"] += 1
    state["m"] = beta1 * state["m"] + (1 - beta1) * grad
    state["v"] = beta2 * state["v"] + (1 - beta2) * grad ** 2
    m_hat = state["m"] / (1 - beta1 ** state["t"])
    v_hat = state["v"] / (1 - beta2 ** state["t"])
    w = w - lr * m_hat / (torch.sqrt(v_hat) + eps)
    return w, state
''',
    ('09_losses_optimisers', 'cosine_lr', 'numpy'): '''import math

def cosine_lr(step, total_steps, lr_max, lr_min=0.0):
    return lr_min + 0.5 * (lr_max - lr_min) * (1 + np.cos(np.pi * step / total_steps))
''',
    ('09_losses_optimisers', 'dead_relu_fraction', 'any'): '''def dead_relu_fraction(outputs):
    outputs = np.asarray(outputs)
    alive = (outputs > 0).any(axis=0)
    return 1.0 - alive.mean()
''',
    ('09_losses_optimisers', 'momentum_update', 'cs231n_velocity'): '''def momentum_update(w, grad, state, lr, momentum=0.0):
    v = state.get("velocity", torch.zeros_like(w))
    v = momentum * v - lr * grad
    w = w + v
    state["velocity"] = v
    return w, state
''',
    ('09_losses_optimisers', 'momentum_update', 'torch_style'): '''def momentum_update(w, grad, state, lr, momentum=0.0):
    if "v" not in state:
        state["v"] = grad.clone()
    else:
        state["v"] = momentum * state["v"] + grad
    return w - lr * state["v"], state
''',
    ('09_losses_optimisers', 'rmsprop_update', 'cache'): '''def rmsprop_update(w, grad, state, lr, alpha=0.99, eps=1e-8):
    cache = state.get("cache", torch.zeros_like(w))
    cache = alpha * cache + (1 - alpha) * grad ** 2
    state["cache"] = cache
    return w - lr * grad / (torch.sqrt(cache) + eps), state
''',
    ('09_losses_optimisers', 'svm_loss', 'vectorised'): '''def svm_loss(scores, labels, margin=1.0):
    N = scores.shape[0]
    correct = scores[np.arange(N), labels]
    margins = np.maximum(0, scores - correct[:, np.newaxis] + margin)
    margins[np.arange(N), labels] = 0
    return np.sum(margins) / N
''',
    ('10_detection', 'box_iou', 'broadcast'): '''def box_iou(boxes_a, boxes_b):
    a = np.asarray(boxes_a, dtype=float)
    b = np.asarray(boxes_b, dtype=float)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
''',
    ('10_detection', 'smooth_l1', 'where'): '''def smooth_l1(diff, beta=1.0):
    absd = diff.abs()
    return torch.where(absd < beta, 0.5 * diff ** 2 / beta, absd - 0.5 * beta)
''',
    ('05_pooling', 'conv_backward', 'cs231n_loops'): '''def conv_backward(dout, x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F_, _, HH, WW = w.shape
    if w.shape[1] != C or b.shape != (F_,):
        raise ValueError("shapes do not fit")
    H_out = 1 + (H + 2 * padding - HH) // stride
    W_out = 1 + (W + 2 * padding - WW) // stride
    if dout.shape != (N, F_, H_out, W_out):
        raise ValueError("dout has the wrong shape")
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), mode="constant")
    dx_pad = np.zeros_like(x_pad, dtype=float)
    dw = np.zeros_like(w, dtype=float)
    db = np.sum(dout, axis=(0, 2, 3)).astype(float)
    for n in range(N):
        for f in range(F_):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    window = x_pad[n, :, hs:hs + HH, ws:ws + WW]
                    dw[f] += window * dout[n, f, i, j]
                    dx_pad[n, :, hs:hs + HH, ws:ws + WW] += w[f] * dout[n, f, i, j]
    dx = dx_pad[:, :, padding:padding + H, padding:padding + W]
    return dx, dw, db
''',
    ('07_architectures', 'InceptionModule', 'separate_layers'): '''class InceptionModule(nn.Module):
    def __init__(self, in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
        super().__init__()
        self.b1 = nn.Conv2d(in_channels, c1, kernel_size=1)
        self.b2_1 = nn.Conv2d(in_channels, c3_reduce, kernel_size=1)
        self.b2_2 = nn.Conv2d(c3_reduce, c3, kernel_size=3, padding=1)
        self.b3_1 = nn.Conv2d(in_channels, c5_reduce, kernel_size=1)
        self.b3_2 = nn.Conv2d(c5_reduce, c5, kernel_size=5, padding=2)
        self.b4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.b4_2 = nn.Conv2d(in_channels, pool_proj, kernel_size=1)

    def forward(self, x):
        p1 = F.relu(self.b1(x))
        p2 = F.relu(self.b2_2(F.relu(self.b2_1(x))))
        p3 = F.relu(self.b3_2(F.relu(self.b3_1(x))))
        p4 = F.relu(self.b4_2(self.b4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)
''',
    ('07_architectures', 'InvertedResidual', 'torchvision_like'): '''class InvertedResidual(nn.Module):
    def __init__(self, in_channels, out_channels, stride, expand_ratio):
        super().__init__()
        self.stride = stride
        hidden_dim = int(round(in_channels * expand_ratio))
        self.use_res_connect = self.stride == 1 and in_channels == out_channels
        layers = []
        if expand_ratio != 1:
            layers.append(nn.Conv2d(in_channels, hidden_dim, 1, 1, 0, bias=False))
            layers.append(nn.BatchNorm2d(hidden_dim))
            layers.append(nn.ReLU6(inplace=True))
        layers.extend([
            nn.Conv2d(hidden_dim, hidden_dim, 3, stride, 1, groups=hidden_dim, bias=False),
            nn.BatchNorm2d(hidden_dim),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden_dim, out_channels, 1, 1, 0, bias=False),
            nn.BatchNorm2d(out_channels),
        ])
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)
''',
    ('07_architectures', 'compound_scaling', 'math_pow'): '''def compound_scaling(phi, alpha=1.2, beta=1.1, gamma=1.15, base_resolution=224):
    d = math.pow(alpha, phi)
    w = math.pow(beta, phi)
    r = int(round(base_resolution * math.pow(gamma, phi)))
    flops = math.pow(alpha * beta ** 2 * gamma ** 2, phi)
    return d, w, r, flops
''',
    ('10_detection', 'average_precision', 'voc_style'): '''def precision_recall(scores, is_hit, n_true):
    scores = np.asarray(scores, dtype=float)
    is_hit = np.asarray(is_hit, dtype=bool)
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(is_hit[order]).astype(float)
    fp = np.cumsum(~is_hit[order]).astype(float)
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    recall = tp / max(n_true, 1)
    return precision, recall

def average_precision(scores, is_hit, n_true):
    if n_true == 0 or len(scores) == 0:
        return 0.0
    prec, rec = precision_recall(scores, is_hit, n_true)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))
''',
    ('10_detection', 'box_formats', 'columns'): '''def corners_to_centres(boxes):
    boxes = np.array(boxes, dtype=float).reshape(-1, 4)
    out = np.zeros_like(boxes)
    out[:, 0] = (boxes[:, 0] + boxes[:, 2]) / 2
    out[:, 1] = (boxes[:, 1] + boxes[:, 3]) / 2
    out[:, 2] = boxes[:, 2] - boxes[:, 0]
    out[:, 3] = boxes[:, 3] - boxes[:, 1]
    return out

def centres_to_corners(boxes):
    boxes = np.array(boxes, dtype=float).reshape(-1, 4)
    out = np.zeros_like(boxes)
    out[:, 0] = boxes[:, 0] - boxes[:, 2] / 2
    out[:, 1] = boxes[:, 1] - boxes[:, 3] / 2
    out[:, 2] = boxes[:, 0] + boxes[:, 2] / 2
    out[:, 3] = boxes[:, 1] + boxes[:, 3] / 2
    return out
''',
    ('10_detection', 'detection_loss', 'masks'): '''BOX_WEIGHT = 2.0

def detection_loss(output, target):
    pred = output.permute(0, 2, 3, 1)
    obj_mask = target[..., 0] == 1
    conf_loss = F.binary_cross_entropy_with_logits(pred[..., 0], target[..., 0], reduction="mean")
    n_obj = obj_mask.sum()
    if n_obj == 0:
        return conf_loss
    p = pred[obj_mask]
    t = target[obj_mask]
    xy = torch.sigmoid(p[:, 1:3])
    wh = p[:, 3:5]
    box_loss = F.smooth_l1_loss(torch.cat([xy, wh], dim=1), t[:, 1:5], reduction="sum") / n_obj
    cls_loss = F.cross_entropy(p[:, 5:], t[:, 5].long())
    return BOX_WEIGHT * box_loss + conf_loss + cls_loss
''',
}

# From a trial with learners' code of public course work (h60), each written anew in the style of its source (named
# in the comment above it) and adapted to the exercise's signature.
ANSWERS.update({
    # perceptron repos after "Python Machine Learning": w_[0] is the bias, errors counted by update != 0
    ('01_history', 'train_perceptron', 'w0_bias'): '''def train_perceptron(inputs, labels, epochs=12, learning_rate=1.0):
    w_ = np.zeros(1 + inputs.shape[1])
    errors_ = []
    for _ in range(epochs):
        errors = 0
        for xi, target in zip(inputs, labels):
            y_hat = 1 if np.dot(xi, w_[1:]) + w_[0] > 0 else 0
            update = learning_rate * (target - y_hat)
            w_[1:] += update * xi
            w_[0] += update
            errors += int(update != 0.0)
        errors_.append(errors)
    return errors_, w_[1:], w_[0]
''',
    ('01_history', 'complex_cell_layer', 'loop_max'): '''def complex_cell_layer(simple_responses, width):
    out = []
    for j in range(0, len(simple_responses), width):
        out.append(max(simple_responses[j:j + width]))
    return np.array(out, dtype=float)
''',
    # d2l's corr2d (molimi/learing-note, dae4/Dive_2_DL), with the size check the exercise asks for
    ('02_convolution', 'conv2d_single', 'd2l_corr2d'): '''def conv2d_single(image, kernel):
    X, K = np.asarray(image, dtype=float), np.asarray(kernel, dtype=float)
    if X.ndim != 2 or K.ndim != 2:
        raise ValueError(f"need a 2-D image and kernel, got {X.shape} and {K.shape}")
    h, w = K.shape
    if h > X.shape[0] or w > X.shape[1]:
        raise ValueError(f"kernel {K.shape} does not fit in image {X.shape}")
    Y = np.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
''',
    ('02_convolution', 'convolve2d_true', 'rot90'): '''def convolve2d_true(image, kernel, mode="valid"):
    if mode not in ("valid", "full"):
        raise ValueError(f"unknown mode {mode!r}")
    k = np.rot90(np.asarray(kernel, dtype=float), 2)
    img = np.asarray(image, dtype=float)
    f = k.shape[0]
    if mode == "full":
        img = np.pad(img, f - 1, mode="constant")
    H, W = img.shape
    out = np.zeros((H - f + 1, W - f + 1))
    for i in range(H - f + 1):
        for j in range(W - f + 1):
            out[i, j] = np.sum(img[i:i + f, j:j + f] * k)
    return out
''',
    # Sobel tutorials: the kernels written out with -1 on the left, np.multiply in two loops
    # The exercise says "your own conv2d_single works too" (an instructor's trial: its hidden check forbade it, 0/3).
    ('02_convolution', 'convolve2d_true', 'reuses_own_conv2d_single'): '''def conv2d_single(image, kernel):
    image, kernel = np.asarray(image), np.asarray(kernel)
    if image.ndim != 2 or kernel.ndim != 2 or kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:
        raise ValueError(f"shapes {image.shape} and {kernel.shape} do not fit")
    f = kernel.shape[0]
    out = np.zeros((image.shape[0] - f + 1, image.shape[1] - f + 1))
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[r, c] = np.sum(image[r:r + f, c:c + f] * kernel)
    return out
def convolve2d_true(image, kernel, mode="valid"):
    flipped = np.asarray(kernel)[::-1, ::-1]
    if mode == "full":
        f = flipped.shape[0]
        image = np.pad(np.asarray(image, dtype=float), f - 1)
    elif mode != "valid":
        raise ValueError("mode must be 'valid' or 'full'")
    return conv2d_single(image, flipped)
''',
    ('02_convolution', 'edge_magnitude', 'sobel_loops'): '''def edge_magnitude(image):
    img = np.asarray(image, dtype=float)
    Gx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    Gy = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]])
    rows, columns = img.shape
    out = np.zeros((rows - 2, columns - 2))
    for i in range(rows - 2):
        for j in range(columns - 2):
            gx = np.sum(np.multiply(Gx, img[i:i + 3, j:j + 3]))
            gy = np.sum(np.multiply(Gy, img[i:i + 3, j:j + 3]))
            out[i, j] = np.sqrt(gx ** 2 + gy ** 2)
    return out
''',
    # deeplearning.ai's conv_forward with conv_single_step (MacropinnaM/DeepLearningSpec), in (N, C, H, W)
    ('03_padding_stride', 'conv2d', 'dlai_conv_single_step'): '''def conv_single_step(a_slice_prev, W, b):
    s = a_slice_prev * W
    Z = np.sum(s)
    return Z + float(b)

def conv2d(x, w, b, stride=1, padding=0):
    (m, n_C_prev, n_H_prev, n_W_prev) = x.shape
    (n_C, _, f, f2) = w.shape
    n_H = int((n_H_prev - f + 2 * padding) / stride) + 1
    n_W = int((n_W_prev - f2 + 2 * padding) / stride) + 1
    Z = np.zeros((m, n_C, n_H, n_W))
    A_prev_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), 'constant', constant_values=0)
    for i in range(m):
        a_prev_pad = A_prev_pad[i]
        for h in range(n_H):
            vert_start = h * stride
            for w_ in range(n_W):
                horiz_start = w_ * stride
                for c in range(n_C):
                    a_slice_prev = a_prev_pad[:, vert_start:vert_start + f, horiz_start:horiz_start + f2]
                    Z[i, c, h, w_] = conv_single_step(a_slice_prev, w[c], b[c])
    return Z
''',
    ('03_padding_stride', 'same_padding', 'total_split'): '''def same_padding(f):
    if f < 1:
        raise ValueError("f must be at least 1")
    total = f - 1
    if total % 2 == 0:
        return total // 2
    return (total // 2, total - total // 2)
''',
    ('04_parameters', 'conv_params', 'int_bias'): '''def conv_params(f, c_in, c_out, bias=True):
    if f < 1 or c_in < 1 or c_out < 1:
        raise ValueError("sizes must be at least 1")
    return (f * f * c_in + int(bias)) * c_out
''',
    # deeplearning.ai's n_H = int((n_H_prev - f + 2 * pad) / stride) + 1
    ('04_parameters', 'layer_shapes', 'dlai_int'): '''def layer_shapes(h, w, c_in, f, c_out, p=0, s=1, m=1):
    if min(h, w, c_in, f, c_out, s, m) < 1 or p < 0 or f > h + 2 * p or f > w + 2 * p:
        raise ValueError("sizes that do not fit")
    n_H = int((h - f + 2 * p) / s) + 1
    n_W = int((w - f + 2 * p) / s) + 1
    return {"n_H": n_H, "n_W": n_W, "filter": (f, f, c_in), "W": (f, f, c_in, c_out),
            "b": (1, 1, 1, c_out), "A": (m, n_H, n_W, c_out)}
''',
    # the MobileNet paper's names: D_K, M, N, D_F
    ('04_parameters', 'depthwise_separable_cost', 'mobilenet_names'): '''def depthwise_separable_cost(h, w, c_in, f, c_out, p=0, s=1):
    if min(h, w, c_in, f, c_out, s) < 1 or p < 0 or f > h + 2 * p or f > w + 2 * p:
        raise ValueError("sizes that do not fit")
    D_F_h = (h + 2 * p - f) // s + 1
    D_F_w = (w + 2 * p - f) // s + 1
    D_K, M, N = f, c_in, c_out
    return D_K * D_K * M * N * D_F_h * D_F_w, D_K * D_K * M * D_F_h * D_F_w, M * N * D_F_h * D_F_w
''',
    # deeplearning.ai's pool_forward (MacropinnaM/DeepLearningSpec), four loops, in (N, C, H, W)
    ('05_pooling', 'pool2d_forward', 'dlai_loops'): POOL_FORWARD_DLAI,
    # deeplearning.ai's pool_backward with distribute_value
    ('05_pooling', 'avgpool_backward', 'dlai_distribute_value'): AVGPOOL_BACKWARD_DLAI,
    # CS231n's eval_numerical_gradient_array: np.nditer, oldval, put back
    ('05_pooling', 'numerical_gradient', 'cs231n_nditer'): '''def numerical_gradient(f, x, dout, h=1e-5):
    x = x.astype(float)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=['multi_index'], op_flags=['readwrite'])
    while not it.finished:
        ix = it.multi_index
        oldval = x[ix]
        x[ix] = oldval + h
        pos = f(x).copy()
        x[ix] = oldval - h
        neg = f(x).copy()
        x[ix] = oldval
        grad[ix] = np.sum((pos - neg) * dout) / (2 * h)
        it.iternext()
    return grad
''',
    # a strided view of the windows, as Stack Overflow answers build it
    ('05_pooling', 'conv2d_fast', 'as_strided'): '''def conv2d_fast(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, C2, kh, kw = w.shape
    if C != C2 or b.shape != (F,) or stride < 1 or padding < 0 or kh > H + 2 * padding or kw > W + 2 * padding:
        raise ValueError("shapes do not fit")
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding))).astype(float)
    H_out = (H + 2 * padding - kh) // stride + 1
    W_out = (W + 2 * padding - kw) // stride + 1
    sN, sC, sH, sW = xp.strides
    windows = np.lib.stride_tricks.as_strided(
        xp, shape=(N, C, H_out, W_out, kh, kw), strides=(sN, sC, sH * stride, sW * stride, sH, sW))
    return np.einsum("nchwij,fcij->nfhw", windows, w) + b[None, :, None, None]
''',
    # deeplearning.ai's conv_backward: da_prev_pad per image, the padding cut off at the end
    ('05_pooling', 'conv_backward', 'dlai_loops'): CONV_BACKWARD_DLAI,
    ('06_lenet', 'conv_block', 'ordered_dict'): '''from collections import OrderedDict

def conv_block(in_channels, out_channels, kernel_size, padding=0):
    return nn.Sequential(OrderedDict([
        ("conv", nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size, padding=padding)),
        ("relu", nn.ReLU(inplace=True)),
        ("pool", nn.MaxPool2d(kernel_size=2, stride=2)),
    ]))
''',
    # MNIST tutorials: torch.tensor, view(-1, 1, H, W), / 255.
    ('06_lenet', 'prepare_images', 'view'): '''def prepare_images(images):
    x = torch.tensor(images, dtype=torch.float32)
    x = x.view(-1, 1, images.shape[1], images.shape[2])
    return x / 255.
''',
    ('06_lenet', 'confusion_matrix', 'add_at'): '''def confusion_matrix(labels, predictions, n_classes):
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels), np.asarray(predictions)), 1)
    return cm
''',
    # d2l's AlexNet: Dropout after the ReLUs of fc6 and fc7
    ('07_architectures', 'AlexNet', 'd2l'): '''class AlexNet(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4, padding=0), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(p=0.5),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))
''',
    # torchvision's BasicBlock: conv3x3 helper, self.relu reused, downsample None or a Sequential
    ('07_architectures', 'ResidualBlock', 'basicblock_downsample'): '''def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)

class ResidualBlock(nn.Module):
    expansion = 1

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)
''',
    # transfer-learning tutorials: named_parameters and the name's prefix
    ('08_transfer', 'freeze_all_but_head', 'named_parameters'): '''def freeze_all_but_head(model):
    for name, param in model.named_parameters():
        param.requires_grad = name.startswith("head")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
''',
    # the head's group takes the optimizer's default lr
    ('08_transfer', 'fine_tune_optimizer', 'default_lr'): '''def fine_tune_optimizer(model, blocks, head_lr, body_lr):
    for param in model.parameters():
        param.requires_grad = False
    params_to_update = []
    for block in blocks:
        for param in getattr(model, block).parameters():
            param.requires_grad = True
            params_to_update.append(param)
    for param in model.head.parameters():
        param.requires_grad = True
    return torch.optim.Adam([{"params": model.head.parameters()}, {"params": params_to_update, "lr": body_lr}],
                            lr=head_lr)
''',
    # CS231n's svm_loss_naive: correct_class_score, continue on the true class
    ('09_losses_optimisers', 'svm_loss', 'cs231n_naive'): '''def svm_loss(scores, labels, margin=1.0):
    num_train, num_classes = scores.shape
    loss = 0.0
    for i in range(num_train):
        correct_class_score = scores[i, labels[i]]
        for j in range(num_classes):
            if j == labels[i]:
                continue
            m = scores[i, j] - correct_class_score + margin
            if m > 0:
                loss += m
    loss /= num_train
    return loss
''',
    # CS231n's optim.py: a cache grown in place
    ('09_losses_optimisers', 'adagrad_update', 'cs231n_cache'): '''def adagrad_update(w, grad, state, lr, eps=1e-10):
    if "cache" not in state:
        state["cache"] = torch.zeros_like(w)
    state["cache"] += grad ** 2
    next_w = w - lr * grad / (torch.sqrt(state["cache"]) + eps)
    return next_w, state
''',
    ('09_losses_optimisers', 'l2_penalty', 'comprehension'): '''def l2_penalty(weights, strength):
    penalty = float(strength * sum(np.sum(W * W) for W in weights))
    grads = [2 * strength * W for W in weights]
    return penalty, grads
''',
    # deeplearning.ai's YOLO iou (xi1, yi1, xi2, yi2, inter_area), called for every pair
    ('10_detection', 'box_iou', 'dlai_pairs'): '''def iou(box1, box2):
    (box1_x1, box1_y1, box1_x2, box1_y2) = box1
    (box2_x1, box2_y1, box2_x2, box2_y2) = box2
    xi1, yi1 = max(box1_x1, box2_x1), max(box1_y1, box2_y1)
    xi2, yi2 = min(box1_x2, box2_x2), min(box1_y2, box2_y2)
    inter_area = max(xi2 - xi1, 0) * max(yi2 - yi1, 0)
    box1_area = (box1_x2 - box1_x1) * (box1_y2 - box1_y1)
    box2_area = (box2_x2 - box2_x1) * (box2_y2 - box2_y1)
    union_area = box1_area + box2_area - inter_area
    return inter_area / union_area if union_area > 0 else 0.0

def box_iou(boxes_a, boxes_b):
    a = np.asarray(boxes_a, dtype=float).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=float).reshape(-1, 4)
    out = np.zeros((len(a), len(b)))
    for i in range(len(a)):
        for j in range(len(b)):
            out[i, j] = iou(a[i], b[j])
    return out
''',
    # py-faster-rcnn's py_cpu_nms (yecharlie/convnet3d), with a stable sort for equal scores
    ('10_detection', 'nms', 'py_cpu_nms'): NMS_PY_CPU,
    # reuses its own box_iou (the test stands the course's in for it): 4 of 12 such answers once lost every point
    ('10_detection', 'nms', 'calls_box_iou'): '''def box_iou(boxes_a, boxes_b):
    a = np.asarray(boxes_a, dtype=float).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=float).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)

def nms(boxes, scores, iou_threshold):
    boxes = np.asarray(boxes, dtype=float)
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep = []
    while len(order) > 0:
        i = order[0]
        keep.append(i)
        ious = box_iou(boxes[i][None, :], boxes[order[1:]])[0]
        order = order[1:][ious <= iou_threshold]
    return np.array(keep, dtype=int)
''',
    # YOLO v1 reimplementations' encoder: a loop over the boxes, the larger box kept per cell
    ('10_detection', 'encode_targets', 'box_loop'): '''GRID, IMAGE_SIZE = 8, 64

def encode_targets(boxes, labels, grid=GRID, image_size=IMAGE_SIZE):
    target = np.zeros((grid, grid, 6), dtype=np.float32)
    cell_size = image_size / grid
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    best_area = np.full((grid, grid), -1.0)
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        i = min(int(cy // cell_size), grid - 1)
        j = min(int(cx // cell_size), grid - 1)
        if areas[k] >= best_area[i, j]:
            best_area[i, j] = areas[k]
            target[i, j] = [1, cx / cell_size - j, cy / cell_size - i, (x1 - x0) / cell_size,
                            (y1 - y0) / cell_size, labels[k]]
    return target
''',
    # YOLO v1 reimplementations' decoder: a loop over the cells, lists turned into arrays
    ('10_detection', 'decode_predictions', 'cell_loop'): '''IMAGE_SIZE = 64

def decode_predictions(output, image_size=IMAGE_SIZE):
    output = np.asarray(output, dtype=float)
    S = output.shape[1]
    cell = image_size / S
    boxes, scores, labels = [], [], []
    for row in range(S):
        for col in range(S):
            t = output[:, row, col]
            conf = 1 / (1 + np.exp(-t[0]))
            cx = (col + 1 / (1 + np.exp(-t[1]))) * cell
            cy = (row + 1 / (1 + np.exp(-t[2]))) * cell
            w, h = max(t[3], 0) * cell, max(t[4], 0) * cell
            e = np.exp(t[5:] - t[5:].max())
            p = e / e.sum()
            boxes.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
            scores.append(conf * p.max())
            labels.append(int(p.argmax()))
    return np.array(boxes), np.array(scores), np.array(labels)
''',
})


# More from the same trial (h60): optimizers written as torch.optim's own loops, hooks, torchvision's crop.
ANSWERS.update({
    # torchvision's RandomCrop.get_params: one scalar randint per offset, image by image
    ('08_transfer', 'mirror_and_crop', 'torchvision_get_params'): '''def mirror(images):
    return torch.flip(images, dims=[3])

def random_crop(images, padding, seed):
    g = torch.Generator().manual_seed(seed)
    n, c, h, w = images.shape
    padded = F.pad(images, (padding, padding, padding, padding))
    out = torch.zeros_like(images)
    for k in range(n):
        i = torch.randint(0, 2 * padding + 1, size=(1,), generator=g).item()
        j = torch.randint(0, 2 * padding + 1, size=(1,), generator=g).item()
        out[k] = padded[k, :, i:i + h, j:j + w]
    return out
''',
    # torch.optim.RMSprop's loop: square_avg.mul_().addcmul_(), w.addcdiv
    ('09_losses_optimisers', 'rmsprop_update', 'torch_inplace'): '''def rmsprop_update(w, grad, state, lr, alpha=0.99, eps=1e-8):
    if len(state) == 0:
        state["square_avg"] = torch.zeros_like(w)
    square_avg = state["square_avg"]
    square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
    avg = square_avg.sqrt().add_(eps)
    return w.addcdiv(grad, avg, value=-lr), state
''',
    # torch.optim.Adam's loop: exp_avg and exp_avg_sq changed in place, bias_correction1 and 2
    ('09_losses_optimisers', 'adam_update', 'torch_inplace'): '''def adam_update(w, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    if len(state) == 0:
        state["step"] = 0
        state["exp_avg"] = torch.zeros_like(w)
        state["exp_avg_sq"] = torch.zeros_like(w)
    state["step"] += 1
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    bias_correction1 = 1 - beta1 ** state["step"]
    bias_correction2 = 1 - beta2 ** state["step"]
    step_size = lr / bias_correction1
    denom = (exp_avg_sq.sqrt() / math.sqrt(bias_correction2)).add_(eps)
    return w.addcdiv(exp_avg, denom, value=-step_size), state
''',
    # torchsummary: register_forward_hook on every layer, the failing layer is the first without a row
    ('04_parameters', 'summary', 'forward_hooks'): '''def summary(model, input_shape):
    rows = []
    hooks = []
    def hook(module, inp, out):
        params = sum(p.numel() for p in module.parameters())
        if isinstance(module, nn.Conv2d):
            macs = out.shape[2] * out.shape[3] * module.out_channels * (module.in_channels // module.groups) * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, nn.Linear):
            macs = module.in_features * module.out_features
        else:
            macs = 0
        rows.append({"layer": type(module).__name__, "output_shape": tuple(out.shape[1:]), "params": params, "macs": macs})
    for layer in model:
        hooks.append(layer.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    except RuntimeError as e:
        bad = model[len(rows)]
        raise ValueError(f"layer {len(rows)} ({type(bad).__name__}) cannot take the output of the layer before: {e}")
    finally:
        for h in hooks:
            h.remove()
    print(f"{'Layer':<12}{'Output shape':<20}{'Param #':>10}{'MACs':>12}")
    for r in rows:
        print(f"{r['layer']:<12}{str(r['output_shape']):<20}{r['params']:>10,}{r['macs']:>12,}")
    print(f"Total params: {sum(r['params'] for r in rows):,}  Total MACs: {sum(r['macs'] for r in rows):,}")
    return rows
''',
    # calls its own fc_input_size (the test stands the course's in for it)
    ('01_history', 'fc_weight_count', 'calls_fc_input_size'): '''def fc_input_size(height, width, channels):
    for v in (height, width, channels):
        if v <= 0:
            raise ValueError(f"sizes must be positive, got {v}")
    return height * width * channels

def fc_weight_count(height, width, channels, n_outputs, bias=True):
    if n_outputs <= 0:
        raise ValueError(f"n_outputs must be positive, got {n_outputs}")
    n_in = fc_input_size(height, width, channels)
    return n_in * n_outputs + (n_outputs if bias else 0)
''',
})


@pytest.mark.parametrize("slug, grade_id, style", sorted(ANSWERS), ids=["-".join(k[1:]) for k in sorted(ANSWERS)])
def test_a_correct_answer_in_a_common_style_passes_its_whole_test(slug, grade_id, style):
    space: dict = {}
    exec(compile(HEAD + ANSWERS[slug, grade_id, style], "<learner>", "exec"), space)
    exec(compile(whole_test(slug[:2], f"test_{grade_id}"), f"test_{grade_id}", "exec"), space)   # raises if it fails
