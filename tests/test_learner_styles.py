"""Correct answers written the ways learners commonly write them (loops where the solution vectorises, a
velocity where it keeps a sum of gradients, a list built with append, nn.Module classes with their own layer names,
numpy where math would do, VOC's average precision with its sentinels, CS231n-style backward loops), from a trial
with code in the styles of public course work: each passes its WHOLE test cell, visible and hidden parts, run in this
process (no kernel: fast). A test that rejected one would be unfair: tests check behaviour, not spelling. (The
graded round trip proves the same for the fixtures' ALTERNATIVES.)"""
from __future__ import annotations

import pytest
from test_named_slips import whole_test

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


@pytest.mark.parametrize("slug, grade_id, style", sorted(ANSWERS), ids=["-".join(k[1:]) for k in sorted(ANSWERS)])
def test_a_correct_answer_in_a_common_style_passes_its_whole_test(slug, grade_id, style):
    space: dict = {}
    exec(compile(HEAD + ANSWERS[slug, grade_id, style], "<learner>", "exec"), space)
    exec(compile(whole_test(slug[:2], f"test_{grade_id}"), f"test_{grade_id}", "exec"), space)   # raises if it fails
