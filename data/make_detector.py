"""Build data/tiny_yolo.npz: the weights of lesson 10's tiny YOLO-style digit detector, trained by us.

Lesson 10 (object detection) shows the detections, the mAP@0.5 and a precision-recall curve of a well-trained
detector, but the notebook may train for only a few seconds, so the course ships one. Run from the project root:

    python data/make_detector.py          # about a minute of CPU time on a 2-core CPU (longer when loaded)

The network, the target encoding, the loss and the training loop are benchmarks/detection.py's (the same
functions, imported from there), so the shipped weights are exactly what `python benchmarks/detection.py
--threads 1` trains with its defaults: `TinyYOLO` (a 3x3 stride-2 convolution, three 3x3 convolutions, two 2x2
max-pools, batch normalisation and ReLU after every convolution, a 1x1 head: 15 numbers per cell of the 8x8
grid), trained on the 3,000 training canvases of data/digit_detection.npz for 11 epochs of Adam (batches of 32,
one-cycle learning rate with peak 0.01, box weight 2, channels-last memory format), seeded, on one CPU thread with deterministic algorithms so that the
arithmetic happens in the same order in every run. The mAP@0.5 on the 500 test canvases (score bar 0.001,
per-class NMS at IoU 0.5, all-point interpolated AP) is printed and stored in the file (`test_map`).

The .npz holds one array per entry of the model's state_dict (float32 weights and BatchNorm statistics, int64
`...num_batches_tracked`), plus `test_map`, `epochs`, `batch_size`, `lr` and `box_weight`, written with a fixed zip
timestamp; the script rewrites the file's line in data/SHA256SUMS. The lesson writes the same architecture out
again.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from make_photos import record_sha256, write_deterministic_npz

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))
sys.path.insert(0, str(HERE.parent))

import detection  # noqa: E402  (benchmarks/detection.py)

from cnnbook.data import load_detection  # noqa: E402

OUT_NAME = "tiny_yolo.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=detection.EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    data = load_detection()
    model, losses, seconds, cpu_seconds = detection.train(data, epochs=args.epochs, seed=args.seed,
                                                          log=lambda line: print(line, flush=True))
    x_test = torch.tensor(data["images_test"], dtype=torch.float32)[:, None] / 255
    test_map = detection.mean_ap(detection.detect(model, x_test), data["boxes_test"], data["labels_test"])
    print(f"trained in {seconds:.1f} s ({cpu_seconds:.1f} s CPU); mAP@0.5 on the 500 test canvases: {test_map:.4f}")

    arrays = {name: tensor.detach().contiguous().numpy().copy() for name, tensor in model.state_dict().items()}
    arrays["test_map"] = np.array(test_map, dtype=np.float64)
    arrays["epochs"] = np.array(args.epochs, dtype=np.int64)
    arrays["batch_size"] = np.array(detection.BATCH_SIZE, dtype=np.int64)
    arrays["lr"] = np.array(detection.LR, dtype=np.float64)
    arrays["box_weight"] = np.array(detection.BOX_WEIGHT, dtype=np.float64)
    write_deterministic_npz(HERE / OUT_NAME, arrays)
    print(f"{OUT_NAME}: {(HERE / OUT_NAME).stat().st_size:,} bytes")
    record_sha256(OUT_NAME)


if __name__ == "__main__":
    main()
