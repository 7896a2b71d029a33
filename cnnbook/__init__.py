"""cnnbook: the small helper package shared by the CNN course workbook's lessons.

- ``cnnbook.checks``   answer checks whose failure messages teach (expected vs got, shapes, named slips)
- ``cnnbook.feedback`` how failures show in a notebook: a short box, not a traceback (set up on import)
- ``cnnbook.progress`` ``show_progress()``: every lesson's exercises, pass / fail / not started
- ``cnnbook.bars``     the lessons' progress bars (tqdm.auto's), which say so when their loop stops early
- ``cnnbook.data``     checksum-verified loading of the real data shipped in ``data/``
- ``cnnbook.plotting`` matrices with their numbers, image grids
- ``cnnbook.widgets``  the interactive explorers (ipywidgets): convolution windows on a grid and on photos
- ``cnnbook.cost``, ``cnnbook.pool_explorer``, ``cnnbook.scaling``, ``cnnbook.optim_explorer``  the cost,
  pooling, scaling and optimiser explorers
- ``cnnbook.summary``  the reference per-layer table (shapes, parameters, MACs) of lessons 06-08
- ``cnnbook.lab``      ``python -m cnnbook.lab``: JupyterLab set up for learners (``--instructor``: nbgrader on)
"""
from __future__ import annotations

import os
import sys

__all__ = ["grading_mode", "device"]
__version__ = "0.1.0"

def grading_mode() -> bool:
    """True while nbgrader (or ``python -m autograde``) executes the notebook.

    Long cells (training) read this to do a short run: grading checks structure and shapes, never luck.
    """
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def device():
    """The torch device to use: the GPU when one is there, else the CPU."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


if "IPython" in sys.modules:  # in a notebook: failed checks show as short boxes (cnnbook.feedback) and
    from .feedback import install as _install_notebook_feedback  # figures are sharp on HiDPI screens
    from .plotting import korean_fallback as _korean_fallback  # and Hangul in figures is drawn (Korean edition)
    from .plotting import sharp_figures as _sharp_figures

    _install_notebook_feedback()
    _sharp_figures()
    _korean_fallback()
