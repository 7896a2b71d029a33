"""Build data/fashion_cnn.npz: the weights of a small CNN pretrained on five of Fashion-MNIST's ten classes.

Lesson 08 (transfer learning) needs a pretrained network, and none can be downloaded here, so the course
trains its own. Run from the project root, after installing the Debian package with the full data set (MIT):

    apt-get update && apt-get install -y dataset-fashion-mnist   # into /usr/share/datasets/fashion-mnist
    python data/make_pretrained.py                                # about 5 minutes on a 2-core CPU

The network (`FashionCNN`, 23,621 parameters) is three blocks of 3x3 convolution -> ReLU -> 2x2 max-pool
(16, 32 and 64 filters), a global average pool and one linear layer (the "head", 64 -> 5):

    (N, 1, 28, 28) -> block1 (N, 16, 14, 14) -> block2 (N, 32, 7, 7) -> block3 (N, 64, 3, 3)
                   -> average over the 3x3 positions (N, 64) -> head (N, 5) logits

It is trained only on the classes PRETRAIN_CLASSES (T-shirt/top, Trouser, Coat, Sandal, Bag): all 30,000 of
their images in Fashion-MNIST's official training file (pixels / 255, no centring, random shifts of up to 2
pixels and horizontal mirroring), with Adam and a one-cycle learning-rate schedule, seeded, on one CPU thread
so that the arithmetic happens in the same order in every run. The other five classes are kept away from it:
lesson 08 transfers the network to them. The accuracy on the 5,000 official test images of its classes is
printed and stored in the file (`test_accuracy`).

The .npz holds one float32 array per entry of the model's state_dict (`block1.0.weight`, ...), plus
`classes`, `test_accuracy` and `epochs`, written with a fixed zip timestamp; the script rewrites the file's
line in data/SHA256SUMS. The lesson and benchmarks/transfer.py write the same architecture out again.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from make_fashion import SOURCE, read_idx
from make_photos import record_sha256, write_deterministic_npz

HERE = Path(__file__).resolve().parent
OUT_NAME = "fashion_cnn.npz"
#: The Fashion-MNIST labels the network is trained on (0 T-shirt/top, 1 Trouser, 4 Coat, 5 Sandal, 8 Bag), in
#: the order of its five outputs. The other five (2 Pullover, 3 Dress, 6 Shirt, 7 Sneaker, 9 Ankle boot) are
#: never shown to it: lesson 08 transfers it to them.
PRETRAIN_CLASSES = (0, 1, 4, 5, 8)


def conv_relu_pool(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 convolution (padding 1, so H and W stay) -> ReLU -> 2x2 max-pool (H and W halve, rounding down)."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))


class FashionCNN(nn.Module):
    """Three conv-ReLU-pool blocks (16, 32, 64 filters), global average pooling, a linear head."""

    def __init__(self, n_classes: int = 5):
        super().__init__()
        self.block1 = conv_relu_pool(1, 16)
        self.block2 = conv_relu_pool(16, 32)
        self.block3 = conv_relu_pool(32, 64)
        self.head = nn.Linear(64, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 28, 28) -> (N, 64): the three blocks, then the mean over the remaining 3x3 positions."""
        return self.block3(self.block2(self.block1(x))).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def augment(x: torch.Tensor, generator: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random shifts of up to max_shift pixels (zero padding) and a mirror for half of the images."""
    n, _, height, width = x.shape
    padded = nn.functional.pad(x, (max_shift,) * 4)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)
    rows = dy[:, None] + torch.arange(height)
    cols = dx[:, None] + torch.arange(width)
    shifted = padded[torch.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]][:, None]
    mirror = torch.rand(n, generator=generator) < 0.5
    return torch.where(mirror[:, None, None, None], shifted.flip(-1), shifted)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    return (predicted == y).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help=f"folder of the .gz files (default {SOURCE})")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(args.seed)
    prep = lambda images: (torch.from_numpy(images.astype(np.float32)) / 255)[:, None]  # noqa: E731
    splits = {}
    for split, prefix in [("train", "train"), ("test", "t10k")]:
        images = read_idx(args.source / f"{prefix}-images-idx3-ubyte.gz", 2051)
        labels = read_idx(args.source / f"{prefix}-labels-idx1-ubyte.gz", 2049)
        keep = np.isin(labels, PRETRAIN_CLASSES)                        # file order, no random numbers
        new_label = np.full(10, -1)
        new_label[list(PRETRAIN_CLASSES)] = np.arange(len(PRETRAIN_CLASSES))
        splits[split] = prep(images[keep]), torch.from_numpy(new_label[labels[keep]].astype(np.int64))
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
    print(f"training images {tuple(x_train.shape)}, test images {tuple(x_test.shape)}")

    model = FashionCNN()
    print(f"FashionCNN: {sum(p.numel() for p in model.parameters()):,} parameters")
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                                                   steps_per_epoch=steps_per_epoch, pct_start=0.2)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(args.seed)
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        total = 0.0
        for i in range(0, len(x_train), args.batch_size):
            idx = order[i:i + args.batch_size]
            loss = loss_fn(model(augment(x_train[idx], generator)), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(idx)
        test_accuracy = accuracy(model, x_test, y_test)
        print(f"epoch {epoch}: training loss {total / len(x_train):.4f}, test accuracy {test_accuracy:.2%}, "
              f"{time.perf_counter() - started:.0f} s", flush=True)

    arrays = {name: tensor.detach().numpy().astype(np.float32) for name, tensor in model.state_dict().items()}
    arrays["test_accuracy"] = np.array(test_accuracy, dtype=np.float64)
    arrays["epochs"] = np.array(args.epochs, dtype=np.int64)
    arrays["classes"] = np.array(PRETRAIN_CLASSES, dtype=np.int64)
    write_deterministic_npz(HERE / OUT_NAME, arrays)
    print(f"test accuracy on the {len(x_test):,} official test images of its classes: {test_accuracy:.4f}")
    print(f"{OUT_NAME}: {(HERE / OUT_NAME).stat().st_size:,} bytes")
    record_sha256(OUT_NAME)


if __name__ == "__main__":
    main()
