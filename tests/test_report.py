"""The class report an instructor reads after grading: plots, pass rates, what to re-teach, LMS-shaped grades."""
from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from autograde.lessons import ROOT
from autograde.report import csv_safe, failure_reason
from conftest import GUARD, solved, submission, write

MEAN = '''def group_max(values, width):
    return np.asarray(values, dtype=float).reshape(-1, width).mean(axis=1)
'''


def test_failure_reasons_group_what_learners_share():
    slip = "f(x):\n  this looks like a typical slip: the kernel was flipped.\n  expected 3, got 4"
    assert failure_reason(slip) == "typical slip: the kernel was flipped."
    assert failure_reason("f(x):\n  expected 4, got 5") == failure_reason("f(x):\n  expected 6, got 8")
    assert "not answered" in failure_reason("your code raised NotImplementedError: Replace this line")


def test_spreadsheet_formulas_in_names_stay_text():
    assert csv_safe("=HYPERLINK(\"http://x\")").startswith("'=") and csv_safe("김민수") == "김민수"


@pytest.mark.slow
def test_the_class_report_after_grading_a_class(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    class_ = {**{f"good{i}": solved(GUARD) for i in range(3)},
              **{f"mean{i}": solved(GUARD, {"group_max": MEAN}) for i in range(3)},
              "blank": submission(GUARD), "=HYPERLINK(1+1)": solved(GUARD)}
    for student, nb in class_.items():
        write(nb, subs / f"{student}_{GUARD.slug}.ipynb")
    proc = subprocess.run([sys.executable, "-m", "autograde", "grade", str(subs), "--out", str(out),
                           "--solutions", str(GUARD.solutions)], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = (out / "report" / f"{GUARD.slug}.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 2                        # histogram and pass rates
    teach = page.split("What to re-teach")[1].split("</ol>")[0]
    assert "<b>3</b> submissions, <code>test_group_max</code>: typical slip: the mean of each group" in teach
    assert "<script" not in page.lower()
    with (out / "grades-by-student.csv").open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["student", GUARD.slug, "total", "late penalties (raw -> graded)"]
    assert len(rows) == 1 + len(class_)
    table = {row[0]: row for row in rows[1:]}
    assert table["good0"][1] == "4" and table["mean0"][1] == "2" and table["blank"][1] == "0"
    assert all(row[3] == "" for row in rows[1:])                       # no due date: nobody is late
    assert "'=HYPERLINK(1+1)" in table                                 # a formula as a name stays text
    with (out / "lms" / "canvas.csv").open(encoding="utf-8") as f:
        canvas = {row[0]: row for row in csv.reader(f)}
    assert "'=HYPERLINK(1+1)" in canvas and canvas["mean0"][5] == "2" and canvas["Points Possible"][5] == "5"
    with (out / "grades.csv").open(encoding="utf-8") as f:
        assert all(not row[0].startswith("=") for row in csv.reader(f))
