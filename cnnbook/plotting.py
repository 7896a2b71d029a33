"""Small plotting helpers: a matrix drawn with its numbers, and a grid of images with titles."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["show_matrix", "show_images"]


def show_matrix(matrix, title: str = "", ax=None, cmap: str = "coolwarm", fmt: str = "{:g}",
                center_zero: bool = True):
    """Draw a 2-D array as coloured cells with each value written in its cell; return the axes.

    Meant for the small worked examples (6x6 images, 3x3 kernels) where the numbers matter.
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"show_matrix needs a 2-D array (height, width), got shape {m.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.45 * m.shape[1] + 1, 0.45 * m.shape[0] + 0.8))
    limit = np.abs(m).max() or 1.0
    kwargs = dict(vmin=-limit, vmax=limit) if center_zero else {}
    ax.imshow(m, cmap=cmap, **kwargs)
    for (i, j), value in np.ndenumerate(m):
        ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=9)
    ax.set_xticks(range(m.shape[1]))
    ax.set_yticks(range(m.shape[0]))
    ax.set_xlabel("column (width)")
    ax.set_ylabel("row (height)")
    ax.set_title(f"{title}  {m.shape[0]}x{m.shape[1]}".strip())
    return ax


def show_images(images: Sequence, titles: Sequence[str] | None = None, cmap: str = "gray",
                ncols: int | None = None, size: float = 3.0, suptitle: str = ""):
    """Show several images side by side (grey ones with ``cmap``); return the figure."""
    n = len(images)
    if n == 0:
        raise ValueError("show_images needs at least one image")
    ncols = ncols or min(n, 4)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            img = np.asarray(images[k])
            ax.imshow(img, cmap=None if img.ndim == 3 else cmap)
            if titles is not None:
                ax.set_title(f"{titles[k]}\n{img.shape}", fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
