"""Make the README's screenshots from the real browser: ``python docs/screenshots.py``.

Runs the browser tests that take them (a real JupyterLab, Debian's Chromium via Playwright) with
``CNNBOOK_SCREENSHOTS=docs/screenshots``: the failure box (a failed check after Run All), the progress view
(``show_progress()`` after a course update, lesson one solved) and an explorer on a HiDPI screen
(device pixel ratio 2). The tests' own checks run too, so a screenshot is never of a broken page.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ["short_box", "hidpi", "twice"]

if __name__ == "__main__":
    env = {**os.environ, "CNNBOOK_SCREENSHOTS": str(ROOT / "docs" / "screenshots"), "PYTHONPATH": str(ROOT)}
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "tests/test_browser.py", "-q", "-k",
                              " or ".join(TESTS)], cwd=ROOT, env=env))
