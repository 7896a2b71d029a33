"""Lesson 07, Discuss 3: the lesson's tiny plain/residual experiment (section 4: TinyBlock, tiny_net,
train_steps, copied from the lesson), with and without nn.BatchNorm2d after each block's conv.

    PYTHONPATH=. python docs/facilitators/scripts/07_identity_batchnorm.py
"""
import math
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from cnnbook.data import load_digits

torch.set_num_threads(1)
digits = load_digits()
small_images = F.avg_pool2d(torch.tensor(digits["x_train"][:4000], dtype=torch.float32)[:, None] / 255, 4)
small_labels = torch.tensor(digits["y_train"][:4000], dtype=torch.long)

def he_init(conv, scale=1.0):
    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    with torch.no_grad():
        conv.weight.mul_(scale)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv

class TinyBlock(nn.Module):
    def __init__(self, channels, residual, n_blocks=20, bn=False):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=not bn)
        he_init(self.conv, 1 / math.sqrt(n_blocks) if residual else 1.0)
        self.bn = nn.BatchNorm2d(channels) if bn else nn.Identity()
        self.residual = residual
    def forward(self, x):
        z = self.bn(self.conv(x))
        return F.relu(z + x) if self.residual else F.relu(z)

def tiny_net(n_blocks, residual, bn=False, channels=8):
    first = he_init(nn.Conv2d(1, channels, 3, padding=1))
    return nn.Sequential(first, nn.ReLU(), *[TinyBlock(channels, residual, n_blocks, bn) for _ in range(n_blocks)],
                         nn.Flatten(), nn.Linear(channels * 7 * 7, 10))

def train_steps(model, steps, batch_size=64, lr=3e-3):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    batches = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, len(small_images), (batch_size,), generator=batches)
        loss = F.cross_entropy(model(small_images[idx]), small_labels[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses

for bn in (False, True):
    for n, res in [(2, False), (20, False), (20, True), (40, False), (40, True)]:
        torch.manual_seed(1)
        losses = train_steps(tiny_net(n, res, bn), 80)
        print(f"bn={bn!s:<5} {'residual' if res else 'plain':<8} {n:>2} blocks: loss of the last 10 steps {np.mean(losses[-10:]):.2f}", flush=True)
