"""Make docs/class-report.png: a class of twelve grades of lesson 01, its report page, a screenshot.

    python docs/class_report_demo.py      (needs bubblewrap and Debian's chromium)

The class is built from the test fixtures: correct answers, the known bug, hard-coded answers, a blank
notebook, and two typical slips in complex_cell_layer (the mean, or a running maximum that starts at 0).
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from conftest import LESSONS, lesson_fixture, solved, submission, write  # noqa: E402

MEAN = '''def complex_cell_layer(simple_responses, width):
    return np.asarray(simple_responses, dtype=float).reshape(-1, width).mean(axis=1)
'''
FROM_ZERO = '''def complex_cell_layer(simple_responses, width):
    values = np.asarray(simple_responses, dtype=float).reshape(-1, width)
    out = np.zeros(len(values))
    for i, group in enumerate(values):
        for v in group:
            out[i] = max(out[i], v)
    return out
'''


def main() -> None:
    lesson = LESSONS[0]
    fx = lesson_fixture(lesson.slug)
    class_ = {**{f"student{i:02d}": solved(lesson) for i in range(1, 6)},
              **{f"student{i:02d}": solved(lesson, {fx.BUG["cell"]: fx.BUG["source"]}) for i in range(6, 8)},
              "student08": solved(lesson, fx.HARDCODED["cells"]), "student09": submission(lesson),
              **{f"student{i:02d}": solved(lesson, {"complex_cell_layer": MEAN}) for i in range(10, 12)},
              "student12": solved(lesson, {"complex_cell_layer": FROM_ZERO})}
    with tempfile.TemporaryDirectory() as tmp:
        subs, out = Path(tmp) / "subs", Path(tmp) / "out"
        for student, nb in class_.items():
            write(nb, subs / student / lesson.slug / f"{lesson.slug}.ipynb")
        subprocess.run([sys.executable, "-m", "autograde", "grade", str(subs), "--out", str(out)], check=True,
                       cwd=HERE.parent)
        page = out / "report" / f"{lesson.slug}.html"
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--hide-scrollbars", "--window-size=1100,1500",
                        f"--screenshot={HERE / 'class-report.png'}", page.as_uri()], check=True,
                       capture_output=True)
    print(HERE / "class-report.png")


if __name__ == "__main__":
    main()
