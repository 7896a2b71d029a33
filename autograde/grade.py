"""Grade a folder of submissions with nbgrader and write grades.csv.

Layout: ``DIR/<student>/<NN_slug>/<NN_slug>.ipynb`` (nbgrader's ``submitted/`` layout). Each submission
is autograded by nbgrader in its own process, so one broken submission never stops the batch; problems
become a status in grades.csv instead of a traceback. The gradebook (nbgrader's database, SQLite in OUT
by default, or any SQLAlchemy URL) is the system of record, so formgrader keeps working on it.
"""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from .lessons import Lesson, NotebookProblem, UsageError, all_lessons, grade_cells, is_test_cell, read_notebook
from .release import _tail, nbgrader

CSV_HEADER = ["student", "lesson", "score", "max_score", "status", "flags"]


@dataclass
class GradeRow:
    student: str
    lesson: str
    score: float
    max_score: float
    status: str
    flags: list[str] = field(default_factory=list)
    detail: str = ""

    def csv_row(self) -> list[str]:
        return [self.student, self.lesson, f"{self.score:g}", f"{self.max_score:g}", self.status,
                ";".join(self.flags)]


def find_submissions(submissions: Path) -> tuple[list[str], list[Lesson]]:
    """Students (sub-folders) and the lessons that appear anywhere in the batch."""
    if not submissions.is_dir():
        raise UsageError(f"{submissions} is not a folder. Expected {submissions}/<student>/<NN_slug>/<NN_slug>.ipynb")
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    known = {lesson.slug: lesson for lesson in all_lessons()}
    present = sorted({d.name for s in students for d in (submissions / s).iterdir()
                      if d.is_dir() and d.name in known})
    if not students or not present:
        raise UsageError(
            f"no submissions found in {submissions}. Expected {submissions}/<student>/<NN_slug>/<NN_slug>.ipynb "
            f"with a lesson folder named one of: {', '.join(known)}.")
    return students, [known[slug] for slug in present]


def _register(lessons: list[Lesson], db_url: str, work: Path) -> dict[str, float]:
    """Record each lesson (its grade cells and points) in the gradebook; return max scores."""
    max_scores = {}
    for lesson in lessons:
        proc = nbgrader("generate_assignment", lesson.slug, "--force",
                        f"--CourseDirectory.release_directory={work / 'release'}",
                        f"--CourseDirectory.db_url={db_url}")
        if proc.returncode != 0:
            raise UsageError(f"nbgrader could not register {lesson.slug}:\n{_tail(proc.stderr)}")
        with Gradebook(db_url) as gb:
            max_scores[lesson.slug] = float(gb.find_assignment(lesson.slug).max_score)
    return max_scores


def _forget(db_url: str, lesson: str, student: str) -> None:
    """Remove a submission's grades so that a failed (re-)grade never leaves a stale score behind."""
    with Gradebook(db_url) as gb:
        try:
            gb.remove_submission(lesson, student)
        except MissingEntry:
            pass


def _flags(submitted, lesson: Lesson, autograded: Path) -> list[str]:
    """Things an instructor should look at, found in the submission and its autograded version."""
    flags = []
    released = {g: c for g, c in grade_cells(read_notebook(lesson.student_version)).items() if is_test_cell(c)}
    student_cells = grade_cells(submitted)
    if any(g not in student_cells for g in released):
        flags.append("test-cell-deleted")
    elif any(student_cells[g].source != c.source for g, c in released.items()):
        flags.append("test-cell-edited")
    if autograded.is_file():
        nb = json.loads(autograded.read_text(encoding="utf-8"))
        enames = {o.get("ename") for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"}
        if enames & {"CellTimeoutError", "KeyboardInterrupt"}:
            flags.append("timeout")
    return flags


def grade_one(student: str, lesson: Lesson, submissions: Path, out: Path, db_url: str,
              max_score: float, timeout: int) -> GradeRow:
    path = submissions / student / lesson.slug / f"{lesson.slug}.ipynb"
    try:
        submitted = read_notebook(path)
    except NotebookProblem as problem:
        _forget(db_url, lesson.slug, student)
        flags = []
        others = sorted(p.name for p in path.parent.glob("*.ipynb")) if path.parent.is_dir() else []
        if problem.status == "missing" and others:
            flags.append("renamed-notebook")
            problem = NotebookProblem("missing", f"{path.name} not found; the folder has {', '.join(others)}")
        return GradeRow(student, lesson.slug, 0, max_score, problem.status, flags, str(problem))

    try:
        proc = nbgrader("autograde", lesson.slug, f"--student={student}", "--force",
                        f"--CourseDirectory.submitted_directory={submissions.resolve()}",
                        f"--CourseDirectory.autograded_directory={(out / 'autograded').resolve()}",
                        f"--CourseDirectory.db_url={db_url}",
                        f"--Execute.timeout={timeout}",
                        timeout=timeout * 20 + 120)
        log = proc.stdout + proc.stderr
        failed = proc.returncode != 0
    except subprocess.TimeoutExpired:
        failed, log = True, "the whole submission ran past its time limit"

    autograded = out / "autograded" / student / lesson.slug / f"{lesson.slug}.ipynb"
    if failed:
        _forget(db_url, lesson.slug, student)
        if "ran past its time limit" in log:
            status, detail = "timeout", f"the whole submission ran past its time limit ({timeout * 20 + 120} s)"
        elif "DeadKernelError" in log or "Kernel died" in log:
            status, detail = "kernel-died", ("the Python kernel died while running the notebook (os._exit, a "
                                             "crash of the interpreter, or out of memory); nothing was graded")
        else:
            status, detail = "grader-error", "nbgrader failed on this submission:\n" + _tail(log, 8)
        return GradeRow(student, lesson.slug, 0, max_score, status, _flags(submitted, lesson, Path("/nonexistent")),
                        detail)
    with Gradebook(db_url) as gb:
        sub = gb.find_submission(lesson.slug, student)
        score, maximum = float(sub.score), float(sub.max_score)
    return GradeRow(student, lesson.slug, score, maximum, "graded", _flags(submitted, lesson, autograded))


def grade_batch(submissions: Path, out: Path, db_url: str | None = None, timeout: int = 60,
                progress=print) -> list[GradeRow]:
    students, lessons = find_submissions(submissions)
    out.mkdir(parents=True, exist_ok=True)
    db_url = db_url or f"sqlite:///{(out / 'gradebook.db').resolve()}"
    work = out / ".work"
    max_scores = _register(lessons, db_url, work)
    rows = []
    total = len(students) * len(lessons)
    started = time.monotonic()
    for student in students:
        for lesson in lessons:
            row = grade_one(student, lesson, submissions, out, db_url, max_scores[lesson.slug], timeout)
            rows.append(row)
            done = len(rows)
            eta = (time.monotonic() - started) / done * (total - done)
            note = f" [{', '.join(row.flags)}]" if row.flags else ""
            progress(f"[{done}/{total}, ~{eta:.0f}s left] {student} {lesson.slug}: {row.status} "
                     f"{row.score:g}/{row.max_score:g}{note}")
    write_csv(rows, out / "grades.csv")
    shutil.rmtree(work, ignore_errors=True)
    return rows


def write_csv(rows: list[GradeRow], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_HEADER)
        for row in rows:
            writer.writerow(row.csv_row())
