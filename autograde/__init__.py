"""Grading for the CNN course workbook: release, self-check and sandboxed batch grading over nbgrader."""
import os
import sys
from pathlib import Path

# nbgrader's gradebook runs the `alembic` command beside the Python it uses: make it findable even when
# the virtual environment was not activated (e.g. `.venv/bin/python -m autograde ...`).
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")
