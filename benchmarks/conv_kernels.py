"""How fast is a convolution layer written three ways in numpy, next to PyTorch's own?

    python benchmarks/conv_kernels.py [--repeats 30] [--naive-repeats 2] [--torch-threads N]

The case of lesson 05: a batch of 8 RGB images of 32x32 (8x3x32x32) and sixteen 3x5x5 filters with a bias
each, stride 1, no padding -> 8x16x28x28. Timed, in one run and in float64 (numpy's default):

  naive      four Python loops (image, filter, row, column), one small window product per output number
  einsum     sliding_window_view + np.einsum(..., optimize=True)
  tensordot  sliding_window_view + np.tensordot
  im2col     sliding_window_view, copied into a (C*kh*kw, H_out*W_out) matrix per image, one matmul (BLAS)
  torch      torch.nn.functional.conv2d

Each time is the best of several repeats, taken in turns (every version once per round) so that load from
other programs hits them alike; the naive loop runs fewer rounds. The float32 section repeats the fastest
numpy versions and torch in single precision, which is what networks normally train in.
Goals printed beside the figures: the vectorised numpy version within 3x of torch, and the naive loop at
least 100x slower than the vectorised one. The implementations live here, independent of the notebooks.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view

GOAL_VS_TORCH = 3.0       # vectorised numpy at most this many times slower than torch
GOAL_NAIVE = 100.0        # the naive loop at least this many times slower than vectorised numpy


def _pad(x: np.ndarray, padding: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding))) if padding else x


def _windows(x: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """(N, C, H_out, W_out, kh, kw): every window of x, as a view (nothing is copied)."""
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]


def conv_naive(x, w, b, stride=1, padding=0):
    """One Python iteration per output number: x (N, C, H, W), w (F, C, kh, kw), b (F,)."""
    x = _pad(x, padding)
    n_images, _, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    out_h, out_w = (height - kh) // stride + 1, (width - kw) // stride + 1
    out = np.zeros((n_images, n_filters, out_h, out_w), dtype=np.result_type(x, w))
    for n in range(n_images):
        for k in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    window = x[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, k, i, j] = np.sum(window * w[k]) + b[k]
    return out


def conv_einsum(x, w, b, stride=1, padding=0):
    windows = _windows(_pad(x, padding), w.shape[2], w.shape[3], stride)
    return np.einsum("nchwuv,fcuv->nfhw", windows, w, optimize=True) + b[:, None, None]


def conv_tensordot(x, w, b, stride=1, padding=0):
    windows = _windows(_pad(x, padding), w.shape[2], w.shape[3], stride)
    out = np.tensordot(windows, w, axes=([1, 4, 5], [1, 2, 3]))          # (N, H_out, W_out, F)
    return out.transpose(0, 3, 1, 2) + b[:, None, None]


def conv_im2col(x, w, b, stride=1, padding=0):
    windows = _windows(_pad(x, padding), w.shape[2], w.shape[3], stride)
    n_images, channels, out_h, out_w, kh, kw = windows.shape
    # one column per output pixel, one row per (channel, row, column) of the filter: (N, C*kh*kw, H_out*W_out)
    columns = windows.transpose(0, 1, 4, 5, 2, 3).reshape(n_images, channels * kh * kw, out_h * out_w)
    out = w.reshape(w.shape[0], -1) @ columns                            # (N, F, H_out*W_out), one matmul
    out += b[:, None]
    return out.reshape(n_images, w.shape[0], out_h, out_w)


NUMPY_VERSIONS = {"einsum": conv_einsum, "tensordot": conv_tensordot, "im2col": conv_im2col}


def best_times(functions: dict, rounds: int, naive_rounds: int) -> dict[str, float]:
    """Best wall time of each function (no arguments); all run once per round, in turns."""
    for fn in functions.values():      # warm up: first calls allocate and load code
        if fn is not functions.get("naive"):
            fn()
    best = {name: float("inf") for name in functions}
    for r in range(rounds):
        for name, fn in functions.items():
            if name == "naive" and r >= naive_rounds:
                continue
            started = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="rounds for the fast versions (best is kept)")
    parser.add_argument("--naive-repeats", type=int, default=2, help="rounds for the naive loop")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="threads for torch (default: torch's choice); on a busy machine 1 is steadier")
    args = parser.parse_args()
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3, 32, 32))
    w = rng.normal(size=(16, 3, 5, 5))
    b = rng.normal(size=16)
    coretype = os.environ.get("OPENBLAS_CORETYPE", "")
    print(f"# {platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), OPENBLAS_CORETYPE={coretype!r}")
    print(f"# x {x.shape}, w {w.shape}, b {b.shape}, stride 1, padding 0 -> (8, 16, 28, 28); best of "
          f"{args.repeats} rounds ({args.naive_repeats} for the naive loop)")

    exit_code = 0
    for dtype in (np.float64, np.float32):
        xd, wd, bd = x.astype(dtype), w.astype(dtype), b.astype(dtype)
        xt, wt, bt = (torch.from_numpy(a) for a in (xd, wd, bd))
        reference = F.conv2d(xt, wt, bt).numpy()
        functions = {name: (lambda fn=fn: fn(xd, wd, bd)) for name, fn in NUMPY_VERSIONS.items()}
        functions["torch"] = lambda: F.conv2d(xt, wt, bt)
        if dtype is np.float64:
            functions = {"naive": lambda: conv_naive(xd, wd, bd), **functions}
        errors = {name: float(np.abs(fn() - reference).max()) if name != "torch" else 0.0
                  for name, fn in functions.items()}
        times = best_times(functions, args.repeats, args.naive_repeats)
        fastest = min(NUMPY_VERSIONS, key=times.get)

        print(f"\n{np.dtype(dtype).name}")
        print(f"  {'version':<11}{'ms':>10}{'x torch':>10}{'x ' + fastest:>14}{'max |err| vs torch':>21}")
        for name in functions:
            print(f"  {name:<11}{1e3 * times[name]:>10.3f}{times[name] / times['torch']:>10.1f}"
                  f"{times[name] / times[fastest]:>14.1f}{errors[name]:>21.2e}")
        vs_torch = times[fastest] / times["torch"]
        ok = vs_torch <= GOAL_VS_TORCH
        print(f"  goal: vectorised numpy ({fastest}) within {GOAL_VS_TORCH:g}x of torch: "
              f"{vs_torch:.1f}x  {'ok' if ok else 'MISSED'}")
        if dtype is np.float64:
            exit_code |= not ok
            naive_ratio = times["naive"] / times[fastest]
            ok = naive_ratio >= GOAL_NAIVE
            exit_code |= not ok
            print(f"  goal: naive loop at least {GOAL_NAIVE:g}x slower than vectorised: {naive_ratio:.0f}x  "
                  f"{'ok' if ok else 'MISSED'}")
        tolerance = 1e-9 if dtype is np.float64 else 1e-3
        worst = max(errors.values())
        print(f"  all versions agree with torch within {tolerance:g}: {'yes' if worst < tolerance else 'NO'}")
        exit_code |= worst >= tolerance
    return int(exit_code)


if __name__ == "__main__":
    raise SystemExit(main())
