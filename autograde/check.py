"""A learner's self-check: run their notebook against the visible AND hidden tests.

The learner's test cells are replaced by the lesson's full test cells (so an edited or weakened test
cannot pass), the notebook runs top to bottom, and each test is reported as passed or failed with the
message the test raised. The test source, and so the hidden tests, is never printed.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from traitlets.config import Config
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from .lessons import Lesson, grade_cells, is_test_cell, read_notebook

VISIBLE_PASSED_MARK = "all visible checks passed"


@dataclass
class TestResult:
    grade_id: str
    points: float
    passed: bool
    message: str = ""
    visible_passed: bool = False

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0


@dataclass
class CheckReport:
    lesson: Lesson
    path: Path
    results: list[TestResult] = field(default_factory=list)
    problem: str = ""  # set when the notebook could not be run to the end (e.g. the kernel died)

    @property
    def score(self) -> float:
        return sum(r.score for r in self.results)

    @property
    def max_score(self) -> float:
        return sum(r.points for r in self.results)


def merge_tests(student: nbformat.NotebookNode, source: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[str]]:
    """Return the student's notebook with every test cell restored from the source, and the ids of
    test cells that were missing from the student's notebook (they are appended at the end)."""
    source_tests = {gid: c for gid, c in grade_cells(source).items() if is_test_cell(c)}
    merged = nbformat.from_dict(student)
    seen = set()
    for cell in merged.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in source_tests:
            original = source_tests[gid]
            cell.cell_type = "code"
            cell.source = original.source
            cell.metadata = nbformat.from_dict(dict(original.metadata))
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
            seen.add(gid)
        elif cell.get("cell_type") == "code":
            # A cell claiming to be a test that the source does not have gets no points.
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                meta["grade"] = False
    missing = [gid for gid in source_tests if gid not in seen]
    for gid in missing:
        merged.cells.append(nbformat.from_dict(dict(source_tests[gid])))
    return merged, missing


@contextmanager
def _env(**values: str):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def execute(nb: nbformat.NotebookNode, cwd: Path, cell_timeout: int = 120) -> str:
    """Run ``nb`` in place (outputs filled in); return "" or a sentence saying why it stopped early."""
    with tempfile.TemporaryDirectory(prefix="cnn-kernel-") as sockets, \
            _env(NBGRADER_EXECUTION="check", PYTHONWARNINGS="ignore", MPLBACKEND="agg"):
        # Unix sockets instead of TCP: nothing listens on the network while a learner's code runs.
        ipc = Config({"KernelManager": {"transport": "ipc", "ip": str(Path(sockets) / "kernel")}})
        client = NotebookClient(nb, config=ipc, kernel_name="python3", timeout=cell_timeout, allow_errors=True,
                                interrupt_on_timeout=True, resources={"metadata": {"path": str(cwd)}})
        try:
            client.execute()
        except DeadKernelError:
            return ("the Python kernel died while running your notebook (it ran out of memory, or the code "
                    "called os._exit or crashed the interpreter). Tests after that point could not run.")
    return ""


def _explain(cell) -> tuple[bool, str, bool]:
    """(passed, message, visible_passed) from a test cell's outputs."""
    visible = any(o.get("output_type") == "stream" and VISIBLE_PASSED_MARK in o.get("text", "")
                  for o in cell.get("outputs", []))
    for out in cell.get("outputs", []):
        if out.get("output_type") != "error":
            continue
        ename, evalue = out.get("ename", "Error"), out.get("evalue", "")
        if ename == "NotImplementedError":
            return False, "not answered yet: the answer cell still raises NotImplementedError.", visible
        if ename == "NameError":
            return False, (f"{evalue}. Run the answer cell above this test first (and check that it runs "
                           "without an error and defines that name)."), visible
        if ename in ("CheckFailed", "AssertionError"):
            return False, evalue or "a check failed (no message).", visible
        if ename in ("KeyboardInterrupt", "CellTimeoutError"):
            return False, "the test took too long and was stopped: is there an endless loop?", visible
        return False, (f"your code raised {ename}: {evalue}" if evalue else f"your code raised {ename}"), visible
    if cell.get("execution_count") is None:
        return False, "this test did not run.", visible
    return True, "", visible


def check_notebook(lesson: Lesson, path: Path, cell_timeout: int = 120) -> CheckReport:
    """Run the learner's notebook at ``path`` against all tests of ``lesson``."""
    report = CheckReport(lesson, path)
    student = read_notebook(path)
    source = read_notebook(lesson.source)
    merged, missing = merge_tests(student, source)
    report.problem = execute(merged, path.parent.resolve(), cell_timeout)
    ran = grade_cells(merged)
    for gid, src_cell in grade_cells(source).items():
        if not is_test_cell(src_cell):
            continue
        points = float(src_cell.metadata.nbgrader.get("points", 0))
        passed, message, visible = _explain(ran[gid])
        if gid in missing:
            message = "this test cell was deleted from your notebook; it was put back at the end. " + message
        report.results.append(TestResult(gid, points, passed, message, visible))
    return report


def format_report(report: CheckReport) -> str:
    lines = [f"Lesson {report.lesson.slug}: {report.path}"]
    for r in report.results:
        mark = "PASS" if r.passed else "FAIL"
        lines.append(f"  [{mark}] {r.grade_id:<28} {r.score:g}/{r.points:g} points")
        if not r.passed:
            if r.visible_passed:
                lines.append("         The visible checks passed, but a hidden check found a problem:")
            for text in r.message.splitlines():
                lines.append(f"         {text}")
    if report.problem:
        lines.append(f"  Stopped early: {report.problem}")
    lines.append(f"Score: {report.score:g} / {report.max_score:g}")
    if report.results and report.score == report.max_score and not report.problem:
        lines.append("Every test passes, hidden ones included. Well done.")
    return "\n".join(lines)
