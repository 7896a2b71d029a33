"""Grade a batch of submissions: sandboxed, in parallel, resumable; grades into nbgrader's gradebook.

Input: ``DIR/<student>/<NN_slug>/<NN_slug>.ipynb`` (nbgrader's submitted/ layout), or a flat folder or a
.zip of ``<student>_<NN_slug>.ipynb`` files as an LMS exports them. Each submission is graded by
:func:`autograde.runner.grade_submission` in a worker (local processes, or a Dask cluster); this process
alone writes the gradebook and OUT, so SQLite is never written by two processes at once. A failure of the
grading machine (a kernel that cannot start, a dead, stuck or lost worker) is retried once, then is a
``grader-error`` that says why, which is never a grade and never final: the next run grades it again. Only what this run graded is written to the
gradebook, keeping what the instructor entered by hand (see :func:`record`).

OUT/ holds grades.csv, flagged.md, feedback/<student>/<NN_slug>.html, autograded/ (for formgrader),
results/ (one JSON per submission: the resume record) and gradebook.db unless --db names another.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import html
import json
import logging
import os
import re
import shutil
import signal
import threading
import time
import unicodedata
import uuid
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import connection, get_context
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from cnnbook.i18n import LANGUAGES, N_, translation
from nbgrader.api import Gradebook, MissingEntry, Student, SubmittedAssignment
from sqlalchemy.exc import SQLAlchemyError

from .answers import MIN_SHARED, SameAnswers, same_answers
from . import late as late_work
from . import moodle
from .collect import (MOODLE_ZONE_FILE, Submission, canvas_identities, find_submissions, load_roster, load_zone,
                      read_roster, roster_names)
from .report import csv_safe, keep_canvas_gradebook, write_class_reports
from .text import CSV_ENCODING, replacing, terminal_safe, utc_now, valid_text
from .lessons import ROOT, SOLUTIONS, Lesson, UsageError, all_lessons, find_lesson, lesson_title
from .publish import publishable_text
from .runner import GRADER_TEST_MESSAGES, fingerprint, grade_submission, new_hidden_seed
from .worker import _error_result, _worker_faults, _worker_main
from .sandbox import sweep_stale
from .settings import grading_limits

# score is after any late penalty; raw_score before it (the tests' points); times in UTC.
CSV_HEADER = ["student", "lesson", "score", "max_score", "status", "flags", "raw_score", "late_penalty",
              "submitted", "due", "hours_late", "submitted_from"]
# Bump when grading changes in a way that must not reuse earlier results.
GRADER_VERSION = "3"

FLAG_MEANING = {
    "timeout": "a cell or a test ran past its time limit and was stopped (only that part lost points)",
    "kernel-died": "the learner's kernel died (os._exit, a crash, the memory or process limit); it was "
                   "restarted and the remaining tests still ran",
    "output-limit": "the notebook printed more than the output limit; the rest was dropped",
    "test-cell-edited": "a test cell was edited; the original was run instead",
    "test-cell-deleted": "a test cell was deleted; the original was run anyway",
    "test-cell-moved": "a test cell was moved away from its exercise; it ran in its original place",
    "test-cell-retyped": "a test cell was turned into markdown or raw text; the original was run",
    "other-assignment": "handed in to another lesson's LMS assignment (uploaded to the wrong one): graded as the "
                        "lesson it is, with no lateness from that assignment's LATE marker; the notebook from its own "
                        "lesson's export replaces it",
    "renamed-notebook": "the notebook had another name (another letter case, another file name); it was graded "
                        "as this lesson (intake.csv shows the file; a copy's name, as '01_history (1).ipynb', is no "
                        "rename)",
    "renamed-extension": "the file was not named .ipynb (a browser or LMS saved it as .ipynb.txt or .json) but its "
                         "content is a notebook (read by nbformat): graded as one (intake.csv names the file)",
    "zipped": "handed in inside a .zip (an LMS upload): the grader took the notebook out of it (intake.csv names "
              "the .zip)",
    "duplicate": "several copies were submitted; the newest was graded (with the same time: the lesson's own name "
                 "before a copy, then the highest copy number); intake.csv lists them all and says what decided",
    "as-released": "the notebook is the lesson's notebook as released: no answer written (nbgrader's checksums of "
                   "its answer cells hold) and no code of its own. The course's copy handed in instead of the one "
                   "the student worked in (same file name)? Ask them for that one; their page says so too",
    "same-file": "the notebook is the very file another student handed in (a hard link to it, not a copy): the one "
                 "notebook is graded in each one's place, though only one of them (or a group) wrote it; intake.csv "
                 "names the other hand-in",
    "ambiguous-lms-name": "the uploaded file's name holds another Canvas user id between underscores: filed under "
                          "Canvas's own id (the first), never the other; check whose work it is",
    "same-name": "another student has the same name in the LMS export: both are graded, as '<name> (<LMS id>)' "
                 "(give --roster to use your student ids)",
    "late": "submitted after the due date (and any extension), or marked late by the LMS; the late columns of "
            "grades.csv say by how much (hours_late; empty for a file the LMS marked late without a time) and what "
            "it cost",
    "tampering": "the code touches the grader's machinery (patched numpy/torch/checks, __eq__, excepthook, "
                 "AST transformers...): it cannot change a verdict here, but look at it",
    "measurement-unverified": "a 'write it yourself' check could not confirm that its measuring code was unchanged: "
                              "the kernel was out of memory when it looked (no sign of tampering, but no proof "
                              "either); read that answer if its points matter",
    "reads-grader-files": "the code looks for solutions, the gradebook or the grading mode",
    "process-tricks": "the code uses os._exit, fork, signals, subprocesses, sockets or ctypes",
    "grader-error": "a test could not run here (a fault of the test or of the grader, not of the learner); "
                    "the next run grades this submission again",
    "manual-grade-reset": "the notebook changed since you overrode an autograded test by hand: the override "
                          "was cleared (the old value is in results/); hand-graded answers and comments were kept",
    "disk-limit": "a cell wrote more than 64 MiB into the kernel's host folder; the kernel was replaced",
    "stale-worker": "the worker that got this submission has another version of the course: not graded; update "
                    "the worker and run the same command again",
}


@dataclass
class GradeRow:
    student: str
    lesson: str
    score: float
    max_score: float
    status: str
    flags: list[str] = field(default_factory=list)
    detail: str = ""
    raw_score: float | None = None          # before the late penalty (None: the same as score)
    late: dict = field(default_factory=dict)

    def csv_row(self) -> list[str]:
        late = self.late or {}
        seconds = float(late.get("seconds_late") or 0)
        # hours_late is a number or empty (a spreadsheet sums it): late by the LMS's marker alone has no time, and
        # submitted_from says so.
        marker_only = bool(seconds) and late.get("how") != "timestamp"
        hours = f"{seconds / 3600:.2f}" if seconds and not marker_only else ""      # 59 s late: 0.02, not 0.0
        source = "LMS late marker (no time)" if marker_only else late.get("source", "")
        # A submission the grader could not grade has no score yet (the next run grades it): blank, never 0, as in
        # grades-by-student.csv and the LMS files.
        pending = self.status == "grader-error"
        return [csv_safe(self.student), self.lesson, "" if pending else f"{self.score:g}", f"{self.max_score:g}",
                self.status, ";".join(self.flags),
                "" if pending else f"{self.score if self.raw_score is None else self.raw_score:g}",
                f"{float(late.get('penalty') or 0):g}", late_work.whole_seconds(late.get("submitted", "")),
                late_work.whole_seconds(late_work.due_for_student(late)), hours,
                source]


# --- the gradebook -------------------------------------------------------------------------------------

def register(lessons: list[Lesson], db_url: str, work: Path) -> dict[str, float]:
    """Record each lesson (its grade cells and points) in the gradebook; return max scores.

    The same nbgrader preprocessors as `nbgrader generate_assignment` (lock, clear, checksum, save),
    run in this process: a second per lesson instead of a new nbgrader process.
    """
    import copy

    import nbformat
    from nbgrader.preprocessors import ClearOutput, ClearSolutions, ComputeChecksums, LockCells, SaveCells
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    course_id = config.CourseDirectory.get("course_id", "")
    max_scores = {}
    for lesson in lessons:
        with Gradebook(db_url, course_id) as gb:
            gb.update_or_create_assignment(lesson.slug)
        nb = copy.deepcopy(nbformat.read(lesson.source, as_version=4))
        resources = {"nbgrader": {"notebook": lesson.slug, "assignment": lesson.slug, "db_url": db_url}}
        try:
            for step in (LockCells, ClearSolutions, ClearOutput, ComputeChecksums, SaveCells):
                nb, resources = step(config=Config(config)).preprocess(nb, resources)
        except Exception as err:  # noqa: BLE001 - a broken source must be reported, not crash the batch
            raise UsageError(f"could not register {lesson.slug} in the gradebook: {err}") from None
        with Gradebook(db_url, course_id) as gb:
            max_scores[lesson.slug] = float(gb.find_assignment(lesson.slug).max_score)
    return max_scores


def _fits(table, column: str, text: str) -> str:
    """``text`` cut to what the gradebook's column holds: a name is the LMS's (a Moodle profile takes 100 characters
    for each of first and last name, nbgrader's gradebook 128 for the whole), and PostgreSQL refuses a longer one
    (SQLite does not check), which stopped the whole batch."""
    length = getattr(table.__table__.columns[column].type, "length", None)
    return text[:length] if type(length) is int else text


def _no_tags(text: str) -> str:
    """A name as the LMS or roster gives it, without ``<`` and ``>``: formgrader's grading page writes the gradebook's
    last and first name into its HTML as they are (nbgrader's formgrade template, which nbconvert renders without
    escaping), in the Jupyter server's origin, so a Canvas name ``<img src=x onerror=...>, Kim`` was script run in
    the instructor's session. No person's name holds either."""
    return text.replace("<", "").replace(">", "")


def record(db_url: str, result: dict) -> None:
    """Write one result that was graded in this run into the gradebook, in one transaction.

    What an instructor entered in formgrader survives: comments always; manual scores of hand-graded cells
    always (if the notebook changed they are kept and marked for review again); a manual override of an
    autograded test is kept while the notebook is the one it was given for, and cleared with the flag
    ``manual-grade-reset`` when the notebook changed (``result["notebook_changed"]``, set by the batch).
    A grader-error never changes the gradebook. A missing or unreadable notebook removes the submission,
    unless it holds manual work: then its tests score 0 and the manual work stays; its student is in the
    gradebook all the same.
    """
    if result["status"] == "grader-error":
        return                              # an infrastructure failure is never a learner's grade
    changed = result.get("notebook_changed", True)
    tests = {t["grade_id"]: t for t in result.get("tests", [])}
    reset: list[str] = []
    earlier_comments: dict[str, str] = {}
    with Gradebook(db_url) as gb:
        # Whoever is in the class is in the gradebook, with a notebook or not (one that could not be read): formgrader
        # and nbgrader's export list them, with no submission for that lesson.
        student = gb.update_or_create_student(result["student"])
        person = result.get("person") or {}
        if person and not (student.first_name or student.last_name or student.email):
            # Names fill an empty entry only: what someone typed in formgrader is never overwritten.
            for key in ("first_name", "last_name", "email"):
                setattr(student, key, _fits(Student, key, _no_tags(str(person.get(key, "")))))
            gb.db.commit()
        if result["status"] != "graded":
            try:
                sub = gb.find_submission(result["lesson"], result["student"])
            except MissingEntry:
                return
            if not _has_manual_work(sub):
                gb.remove_submission(result["lesson"], result["student"])
                return
            tests = {g.name: {"points": 0.0, "status": "not-run"} for nb in sub.notebooks for g in nb.grades
                     if g.cell_type == "code"}
            changed = True
        else:
            try:
                sub = gb.find_submission(result["lesson"], result["student"])
            except MissingEntry:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")      # nbgrader's own add_submission warns about autoflush
                    sub = gb.add_submission(result["lesson"], result["student"])
        for notebook in sub.notebooks:
            if changed:
                # Comments stay (the instructor's words), but they were written about the notebook before: the
                # student's page says so while each reads as it did then (until the instructor edits it).
                earlier_comments.update({c.name: (c.manual_comment or "").strip() for c in notebook.comments
                                         if (c.manual_comment or "").strip()})
            for grade in notebook.grades:
                test = tests.get(grade.name)
                if test is None:                         # graded by hand (a written answer)
                    if changed and grade.manual_score is not None:
                        grade.needs_manual_grade = True  # score and comment kept; look at the new answer
                    continue
                # A test the grader could not run is left to the instructor, never scored 0 by us.
                broken = test["status"] == "grader-error"
                grade.auto_score = None if broken else test["points"]
                if changed and grade.manual_score is not None:
                    reset.append(f"{grade.name} (was {grade.manual_score:g})")
                    grade.manual_score = None
                grade.needs_manual_grade = broken and grade.manual_score is None
        gb.db.commit()
    if reset:
        result["flags"] = sorted(set(result.get("flags", [])) | {"manual-grade-reset"})
        result["manual_grade_reset"] = reset
    if earlier_comments:
        result["earlier_comments"] = {**result.get("earlier_comments", {}), **earlier_comments}


def _older_than_graded(out: Path, intake) -> set[tuple[str, str]]:
    """(student, lesson) of the notebooks in this input that are OLDER than the one their grade in OUT comes from,
    as far as it can be told: two Canvas files of one user (Canvas's attachment ids grow with each upload), or two
    known submission times. Grading an export again after a newer one (the same command run again, as the reports'
    refresh invites) once rolled the student back to the old notebook without a word. Those are not graded: their
    intake lines say "superseded" and why, and a warning names them. Without such facts the newest run decides."""
    from datetime import datetime

    older: set[tuple[str, str]] = set()
    for sub in intake.submissions:
        if sub.path is None:
            continue
        saved = out / "results" / sub.student / f"{sub.lesson.slug}.json"
        try:
            old = json.loads(saved.read_text(encoding="utf-8")) if saved.is_file() else None
        except (OSError, json.JSONDecodeError):
            old = None
        if not isinstance(old, dict) or old.get("stamp", {}).get("submission") == _sha(sub.path):
            continue
        mine, theirs, why = sub.lms or {}, old.get("lms") or {}, ""
        stray, was_stray = "other-assignment" in sub.flags, "other-assignment" in (old.get("flags") or [])
        if was_stray and not stray:
            continue            # handed in to its own lesson's assignment: that replaces one handed in elsewhere
        if stray and not was_stray and old.get("status") in ("graded", "invalid-notebook"):
            why = "other-assignment"
        elif mine.get("system") == theirs.get("system") == "canvas" and mine.get("id") == theirs.get("id") \
                and isinstance(mine.get("attachment"), int) and isinstance(theirs.get("attachment"), int) \
                and mine["attachment"] < theirs["attachment"]:
            why = f"Canvas attachment {mine['attachment']} is older than {theirs['attachment']}"
        elif sub.submitted_at is not None and isinstance(old.get("submitted_at"), str):
            try:
                then = datetime.fromisoformat(old["submitted_at"])
                if sub.submitted_at < then:
                    why = f"handed in {sub.submitted_at.isoformat(sep=' ')}, before {then.isoformat(sep=' ')}"
            except (ValueError, TypeError):
                pass
        if not why:
            continue
        older.add((sub.student, sub.lesson.slug))
        shown = str(old.get("origin") or "the notebook graded before")
        if why == "other-assignment":
            said = (f"handed in to another lesson's assignment: not graded, {shown} (handed in to {sub.lesson.slug}'s "
                    "own) keeps its grade")
        else:
            said = f"older than {shown} ({why}): not graded, the newer notebook's grade is kept"
        for line in intake.lines:
            if line.outcome == "taken" and line.student == sub.student and line.lesson == sub.lesson.slug:
                line.outcome = "superseded"
                line.note = "; ".join(filter(None, [said, line.note]))
        intake.warnings.append(f"{sub.student} {sub.lesson.slug}: {sub.origin or sub.path.name} "
                               f"{'was' if why == 'other-assignment' else 'is'} {said}")
    return older


def _absent_from(db_url: str, results: list[dict]) -> list[dict]:
    """The results that have no submission in the gradebook at all (nothing there to overwrite)."""
    if not results:
        return []
    with Gradebook(db_url) as gb:
        have = {(s.student_id, s.assignment.name) for s in gb.db.query(SubmittedAssignment)}
    return [r for r in results if (r["student"], r["lesson"]) not in have]


def _has_manual_work(sub) -> bool:
    return any(g.manual_score is not None for nb in sub.notebooks for g in nb.grades) or any(
        (c.manual_comment or "").strip() for nb in sub.notebooks for c in nb.comments)


# --- the batch -----------------------------------------------------------------------------------------

def _sha(path: Path | None) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path and path.is_file() else ""


def _lesson_sha(lesson: Lesson) -> str:
    return hashlib.sha256(lesson.source.read_bytes()).hexdigest()


def _atomic_write(path: Path, text: str) -> None:
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def few_submitted(subs: list[Submission], asked: list[str] | None = None) -> list[str]:
    """Warnings for the lessons of a batch that fewer than half of its students handed in a notebook for (one
    student's early upload of the next lesson makes everyone else "missing" it). With ``asked`` (the lessons of
    ``grade --lesson``), for those lessons only: a --lesson naming the stray lesson would record the class missing."""
    students = {sub.student for sub in subs}
    handed: dict[str, set[str]] = {}
    recorded: set[str] = set()          # the lessons someone is recorded missing: only those are warned of
    for sub in subs:
        handed.setdefault(sub.lesson.slug, set())
        if sub.path is None:
            recorded.add(sub.lesson.slug)
        elif "other-assignment" not in sub.flags:
            # a notebook handed in to another lesson's assignment makes nobody else missing its lesson, and is
            # not what the export is
            handed[sub.lesson.slug].add(sub.student)
    if len(handed) < 2 or len(students) < 2:
        return []
    most = max(handed, key=lambda slug: len(handed[slug]))
    if asked is not None:
        return [f"--lesson {slug}: notebooks from only {len(handed[slug])} of {len(students)} students, the others "
                "are recorded missing it" + (f" (most of this export is {most}: is --lesson right?)"
                                             if most != slug else "")
                for slug in asked if slug in recorded and 2 * len(handed[slug]) < len(students)]
    others = sorted(slug for slug, who in handed.items() if 2 * len(who) >= len(students))
    return [f"{slug}: notebooks from only {len(who)} of {len(students)} students, the others are reported "
            f"missing it" + (f"; to grade only {', '.join(others)}, give --lesson {' --lesson '.join(others)}"
                             if others else "")
            for slug, who in sorted(handed.items()) if slug in recorded and 2 * len(who) < len(students)]


def _missing_result(sub: Submission) -> dict:
    return {"student": sub.student, "lesson": sub.lesson.slug, "status": "missing", "flags": list(sub.flags),
            "tests": [], "detail": sub.note, "score": 0.0, "notebook": None,
            **({"handed_in": list(sub.handed_in)} if sub.handed_in else {})}


# Statuses only the learner's own notebook can cause. Any other status (grader-error, or one this version does
# not know) is never final: a resumed run grades that submission again.
LEARNER_STATUSES = {"graded", "missing", "invalid-notebook"}
# Tries per submission in one run when the grading machine fails (kernel did not start, worker died or got stuck,
# a Dask worker lost). A failure that is not the submission's (a neighbour's memory, a worker restarted) gets one
# more try; one that comes back every time (a notebook whose grading kills or wedges the worker) costs at most two
# workers in this run. Then the submission is a grader-error that names why, and the next run tries it again.
ATTEMPTS = 2
# The exit status of a run stopped because the gradebook could not be written (as EXIT_RERUN: run again).
GRADEBOOK_EXIT = 3


class GradingStopped(Exception):
    """The batch was stopped (Ctrl-C, SIGTERM, the gradebook or the Dask scheduler gone). Finished results are kept
    in OUT; the next run resumes. ``reports``: whether the class's reports can still be rebuilt (not without the
    gradebook)."""

    def __init__(self, how: str, exit_code: int, message: str, reports: bool = True):
        super().__init__(message)
        self.how = how
        self.exit_code = exit_code
        self.reports = reports


def _final(result: dict) -> bool:
    """A stored result that a resumed run may keep: a learner status and every test decided."""
    return (result.get("status") in LEARNER_STATUSES and "grader-error" not in result.get("flags", [])
            and all(t.get("status") != "grader-error" for t in result.get("tests", [])))


@dataclass
class _Job:
    task: dict
    sub: Submission
    stamp: dict
    attempt: int = 1              # tries of this submission started in this run, this one included
    causes: list[tuple[str, str]] = field(default_factory=list)   # (kind, first line) of each failed try
    bystander: int = 0            # Dask: times it was lost, never started, with a worker another task killed
    accounted: int = 0            # Dask: starts of it (on the scheduler's record) already taken into account


def _folded(text: str) -> str:
    """A name as typed and as an LMS wrote it compare equal: Unicode form, letter case, spaces around."""
    return unicodedata.normalize("NFC", text).casefold().strip()


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def _gave_up(causes: list[tuple[str, str]], detail: str) -> str:
    """A grader-error's detail after its last try in this run: first (what flagged.md shows) how many tries
    failed and why, in one line, then each try's reason, then the rest of the last try's detail."""
    tries = len(causes)
    times = "once" if tries == 1 else f"{tries} times"
    kinds = {kind for kind, _ in causes}
    last = causes[-1][1] if causes else _first_line(detail) or "grader-error"
    if kinds == {"died"}:
        how = last[last.find("(") + 1:last.rfind(")")] if "(" in last else ""
        head = f"the grading worker died {times} on this submission" + (f" ({how})" if how else "")
    elif kinds and kinds <= {"died", "lost"}:
        head = f"the grading worker died or left the Dask cluster {times} on this submission"
    elif kinds == {"hung"}:
        head = (f"the grading worker got stuck {times} on this submission and was stopped each time "
                "(in the grader's code: the learner's code has its own limits)")
    else:
        head = last
    lines = [f"{head}; not graded (tried {times} in this run; the next run grades it again)"]
    if tries > 1:
        lines += [f"try {number}: {text}" for number, text in enumerate((text for _, text in causes), 1)]
    return "\n".join(lines + detail.strip().splitlines()[1:])


def grade_batch(source: Path, out: Path, db_url: str | None = None, *, workers: int | None = None,
                cell_timeout: float | None = None, memory_gib: float | None = None, sandbox: bool = True,
                dask: str | None = None, solutions: Path = SOLUTIONS, roster: Path | None = None,
                students: list[str] | None = None, force: bool = False, faults: dict[str, str] | None = None,
                due: dict[str, str] | None = None, late_penalty: str | list[str] | None = None,
                extensions: list[list[str]] | None = None, hidden_seed: int | None = None,
                zip_times: str | None = None, warm_kernels: bool = True, moodle_worksheets: list[Path] | None = None,
                lessons_only: list[str] | None = None, progress=print, moodle_times: str | None = None
                ) -> list[GradeRow]:
    """Grade the submissions in ``source`` against the lessons in ``solutions``; write OUT; return OUT's rows.

    A submission graded before into OUT whose notebook, lesson and grader have not changed is not graded again,
    unless ``force`` or its student is in ``students`` (which also limits the batch to those students).
    The returned rows, grades.csv and flagged.md cover every result in OUT/results/, not only this batch.
    ``faults`` (student -> "kernel-start", "kernel-restart", "kill-worker", "hang-worker", "machine-oom", each also "...-once"; on Dask
    also "lose-result-twice") is a hook for the grader's own tests; the CLI never sets it. Raises GradingStopped on Ctrl-C or SIGTERM.
    Late work (:mod:`autograde.late`): ``due`` (lesson -> date and time), ``late_penalty`` (none, zero, N/hour,
    N/day for this run's lessons, or LESSON=POLICY; one or a list; kept per lesson) and ``extensions`` ([student, lesson, duration]) are kept in the gradebook and OUT for later runs.
    ``cell_timeout`` (seconds) and ``memory_gib``: this run's limits instead of nbgrader_config.py's
    (``GradingLimits``, :mod:`autograde.settings`), which set every other limit.
    ``zip_times``: a time zone (``Asia/Seoul``) to read a .zip's entry times as submission times in, or ``off``;
    kept in OUT (see :func:`autograde.collect.load_zone`). ``moodle_worksheets``: Moodle's grading worksheets
    as downloaded, one per assignment, kept in OUT/lms/moodle-worksheets/ (:mod:`autograde.moodle`): who each
    participant is, the assignment's maximum grade and the shape of lms/moodle-<lesson>.csv. ``moodle_times``: the
    time zone of the worksheets' "Last modified (submission)" (the downloading Moodle user's), to read them as
    submission times, or ``off``; kept in OUT.
    ``lessons_only`` ("4", "04" or "04_parameters"): grade the notebooks of these lessons only; the others in
    ``source`` are listed in intake.csv and left alone (without it, a lesson few students submitted is warned of:
    everyone else is "missing" it).
    ``hidden_seed``: the seed of the hidden tests' random inputs (``cnnbook.checks.hidden_rng``); by default a
    new one for every run, so hidden inputs cannot be learned from one run for the next. Each result records it.
    """
    known = all_lessons(solutions)
    asked = sorted({find_lesson(name, known).slug for name in lessons_only or []})    # before OUT is touched
    out.mkdir(parents=True, exist_ok=True)
    # Late-work settings are checked before anything is graded: a typo must not cost a run.
    due_given = {find_lesson(name, known).slug: late_work.parse_when(when) for name, when in (due or {}).items()}
    zone_hint = late_work.zone_hint(list((due or {}).values()))
    penalty_given, penalty_by_lesson = late_work.split_policies(late_penalty, lambda name: find_lesson(name, known).slug)
    late_work.add_extensions(out, extensions or [], lambda name: find_lesson(name, known).slug)
    extension_of = late_work.read_extensions(out, lambda name: find_lesson(name, known).slug)
    zip_zone = load_zone(out, zip_times)
    moodle_zone = load_zone(out, moodle_times, MOODLE_ZONE_FILE, "--moodle-times")
    sweep_stale()
    work = out / ".work"
    # Every way out of the run (a refusal, an error, Ctrl-C, SIGTERM) removes what it extracted: with --out . it
    # is inside the course root, and holds learners' files.
    with _stop_on_sigterm():
        try:
            roster = load_roster(out, roster)
            sheets = moodle.keep_worksheets(out, list(moodle_worksheets or []), [lesson.slug for lesson in known])
            mapping, before = read_roster(roster), canvas_identities(out)
            intake = find_submissions(source, work, known, mapping, zip_zone=zip_zone,
                                      moodle_people=moodle.participants(sheets), canvas_known=before,
                                      moodle_zone=moodle_zone, moodle_zone_given=moodle_times is not None,
                                      assignment=find_lesson(asked[0], known) if len(asked) == 1 else None)
            renamed = sorted(f"{who} -> {mapping[lms_id]}" for lms_id, (who, _) in before.items()
                             if mapping.get(lms_id) not in (None, who))
            if renamed:
                # A roster given after OUT graded the same Canvas users under other ids (their LMS names): both
                # ids stay in OUT's reports; the README says to grade every export again into a new OUT.
                intake.warnings.append(
                    f"{len(renamed)} Canvas user(s) graded into {out} before under another id than the roster's now "
                    f"({', '.join(renamed[:5])}{' ...' if len(renamed) > 5 else ''}): OUT's grades.csv and lms/ "
                    "files will list both ids; to have one per student, grade every export again with the roster "
                    "into a new OUT")
            # A Moodle assignment graded without its worksheet files its participants by their Moodle names; with
            # another assignment's worksheet kept, those are filed by ID number: one person, two students in OUT.
            unsheeted = sorted({sub.lesson.slug for sub in intake.submissions
                                if (sub.lms or {}).get("system") == "moodle"} - set(sheets))
            by_number = sorted(lesson for lesson, sheet in sheets.items()
                               if any(person.get("idnumber") for person in sheet.people.values()))
            if by_number and unsheeted:
                intake.warnings.append(
                    f"{', '.join(unsheeted)}: graded from Moodle's export without the assignment's grading worksheet, "
                    f"so its participants are filed under their Moodle names, while {', '.join(by_number)} "
                    "(with worksheets) filed theirs by ID number: one person becomes two students in OUT. Stop this run "
                    "(Ctrl-C) and give that assignment's worksheet too (--moodle-worksheet FILE)")
            people = roster_names(roster)
            if roster is not None:
                keep_canvas_gradebook(roster, out)        # lms/canvas.csv is then written in its shape
            if asked:
                intake.warnings.extend(few_submitted(intake.submissions, asked))
                intake = intake.only(set(asked), ", ".join(asked))
                if not intake.submissions:
                    intake.write(out / "intake.csv", str(source.resolve()))
                    raise UsageError(f"no notebook of {', '.join(asked)} in {source} (intake.csv lists what is there).")
            else:
                intake.warnings.extend(few_submitted(intake.submissions))
            older = _older_than_graded(out, intake)
            intake.write(out / "intake.csv", str(source.resolve()))
            # An extension for an id that is in neither this input nor OUT applies to nobody (an LMS login typed
            # instead of the roster's id: the waiver was lost without a word).
            graded_ids = {sub.student for sub in intake.submissions} | \
                {path.name for path in (out / "results").glob("*") if path.is_dir()}
            for name in sorted({str(given[0]) for given in extensions or []} - graded_ids):
                # the roster's id for the name, else the id this input grades the LMS's name as (an instructor's
                # trial: "--extension leeseo", as Canvas's file names write it, got no hint of 2026002)
                meant = mapping.get(name) or next(
                    (sub.student for sub in intake.submissions
                     if _folded((sub.lms or {}).get("name", "")) == _folded(name)), None)
                intake.warnings.append(f"--extension {name}: no student of that id in this input or in {out}, so it "
                                       "applies to nobody (kept in extensions.csv)"
                                       + (f"; the roster makes {name} student {meant}: give --extension {meant} ..."
                                          if meant else "; the ids are the course's, as in grades.csv"))
            for warning in intake.settled_warnings():
                progress(f"warning: {warning}")
            subs = intake.submissions
            if students:
                unknown = sorted(set(students) - {s.student for s in subs})
                if unknown:
                    # The id it goes by when the LMS gave one name to two people ("김민준 (51001)") or the roster or a
                    # Moodle worksheet made it a student id: by the name as the LMS wrote it.
                    hints = {name: sorted({s.student for s in subs
                                           if _folded(s.student).startswith(_folded(name) + " (")
                                           or _folded((s.lms or {}).get("name", "")) == _folded(name)})
                             for name in unknown}
                    said = "; ".join(f"{name} is graded as {', '.join(ids)}" for name, ids in hints.items() if ids)
                    raise UsageError(f"no submissions of {', '.join(unknown)} in {source}"
                                     + (f" ({said}: give --student with that id)." if said else "."))
                subs = [s for s in subs if s.student in students]
            db_url = db_url or f"sqlite:///{(out / 'gradebook.db').resolve()}"
            private_gradebook(db_url)
            stamp_new_gradebook(db_url)
            lessons = sorted({s.lesson for s in subs}, key=lambda lesson: lesson.slug)
            max_scores = register(lessons, db_url, work)
            # Late penalties are kept per lesson: a bare --late-penalty is for the lessons this run grades or gives a
            # due date of (--due 99=... --late-penalty 1/day with lesson 98's export: lesson 99's), LESSON=POLICY that
            # lesson's; every other lesson in OUT keeps its own (an instructor's trial: a policy given with the Canvas
            # section's lesson took points off a Moodle lesson graded the day before without one).
            policy_changes: list[str] = []
            policy = late_work.load_policy(out, penalty_given, sorted({lesson.slug for lesson in lessons} | set(due_given)),
                                           penalty_by_lesson, policy_changes)
            for line in policy_changes:
                progress(f"note: {line}")
            cores = os.cpu_count() or 1
            workers = max(1, workers or cores)
            # every limit as nbgrader_config.py configures it (autograde.settings), cell time and memory as given
            limits = grading_limits().limits(cell_timeout, memory_gib)
            seed = new_hidden_seed() if hidden_seed is None else int(hidden_seed)

            previous: dict[tuple[str, str], dict] = {}
            reused = 0
            resumed: list[dict] = []
            queue: deque[_Job] = deque()
            missing = []
            kept_over_missing: list[str] = []
            kept_older = 0                      # notebooks not graded: OUT's grade comes from a newer or own one
            for sub in subs:
                key = (sub.student, sub.lesson.slug)
                stamp = {"grader": GRADER_VERSION, "submission": _sha(sub.path), "lesson": _lesson_sha(sub.lesson),
                         "project": fingerprint(sub.lesson.source)}
                saved = out / "results" / sub.student / f"{sub.lesson.slug}.json"
                if saved.is_file():
                    try:
                        previous[key] = json.loads(saved.read_text(encoding="utf-8"))
                    except (OSError, json.JSONDecodeError):
                        pass
                old = previous.get(key)
                if old and key in older:
                    reused += 1                 # an older notebook than the one graded: that result stays
                    kept_older += 1
                    if old["status"] == "graded":
                        resumed.append(old)
                    continue
                if old and old.get("stamp") == stamp and _final(old) and not force and not students:
                    reused += 1                 # graded before, nothing changed since: results/ and the gradebook stay
                    if old["status"] == "graded":
                        resumed.append(old)
                    continue
                if sub.path is None:
                    if old and old.get("status") not in (None, "missing"):
                        # A grade from a notebook is never replaced by "missing": an older download, or an export
                        # where the notebook is not (it was handed in to another assignment), keeps it.
                        reused += 1
                        if old["status"] == "graded":
                            resumed.append(old)
                        kept_over_missing.append(f"{sub.student} {sub.lesson.slug}")
                        continue
                    missing.append((sub, stamp))
                    continue
                # Relative to the project when inside it: a worker on another machine reads its own copy of the lessons.
                solutions_dir = sub.lesson.solutions
                if solutions_dir.is_relative_to(ROOT):
                    solutions_dir = solutions_dir.relative_to(ROOT)
                task = {"student": sub.student, "lesson": sub.lesson.slug, "solutions": str(solutions_dir),
                        "path": str(sub.path.resolve()), "limits": limits, "sandbox": sandbox,
                        "threads": max(1, cores // workers), "attempt": 1, "fingerprint": stamp["project"],
                        "hidden_seed": seed, "warm": warm_kernels}
                if faults and sub.student in faults:
                    task["fault"] = faults[sub.student]
                queue.append(_Job(task, sub, stamp))
            # Lesson by lesson (each lesson's students in their order): a worker's next kernel is started while it
            # grades, from the lesson it grades then, and fits the next submission only if that is the same lesson.
            queue = deque(sorted(queue, key=lambda job: job.task["lesson"]))

            # Known before grading, so each progress line can give the grade as recorded (after any late penalty).
            # Due dates, extensions and the policy apply to every lesson in OUT, not only this input's: an extension
            # or a due date given with another assignment's export counts at once (and is kept for later runs).
            late_slugs = ({lesson.slug for lesson in lessons} | set(due_given)
                          | ({path.stem for path in (out / "results").glob("*/*.json")}
                             & {lesson.slug for lesson in known}))
            changed_dates: list[str] = []
            dates = late_work.due_dates(db_url, sorted(late_slugs), due_given, changed_dates)
            for line in changed_dates:
                progress(f"note: {line}")
            times = {(sub.student, sub.lesson.slug): (sub.submitted_at, sub.late, sub.time_source)
                     for sub in intake.submissions}
            total = len(subs)
            for result in _absent_from(db_url, resumed):
                record(db_url, {**result, "notebook_changed": False})   # a new gradebook (--db) gets what was graded
            if kept_over_missing:
                progress(f"warning: {len(kept_over_missing)} student(s) have no notebook of a lesson in this input, but "
                         f"OUT holds a grade from one they handed in (an older download, or another assignment's "
                         f"export): kept, not recorded missing ({', '.join(kept_over_missing[:5])}"
                         f"{' ...' if len(kept_over_missing) > 5 else ''}); delete OUT/results/<student>/<lesson>.json "
                         "to record one missing")
            unchanged = reused - kept_older - len(kept_over_missing)
            if unchanged:
                # not those whose grade OUT keeps from another notebook: they were not graded, the warnings say why
                progress(f"resuming: {unchanged} of {total} submissions were graded before and have not changed")
            started = time.monotonic()
            done = reused
            to_run = len(queue)             # what the ETA counts: submissions a worker grades, never missing ones
            ran = 0

            def finish(result: dict, sub: Submission, stamp: dict) -> None:
                nonlocal done
                valid_text(result)                  # the learner's text (messages, notebook) as valid Unicode, in place
                key = (sub.student, sub.lesson.slug)
                result["flags"] = sorted(set(result.get("flags", [])) | set(sub.flags))
                if result.get("status") == "grader-error" and not result.get("language") and sub.path is not None:
                    # A worker that died (or a batch that gave up on it) left no word of the notebook's edition: the
                    # learner's page "not graded yet" is still in their language (a Korean notebook's in Korean).
                    edition = _notebook_edition(sub.path)
                    if edition:
                        result["language"] = edition
                result["stamp"] = stamp
                result["lesson_max_score"] = max_scores[sub.lesson.slug]
                # the lesson's title in each language, from the lessons graded against (--solutions): the feedback
                # page's heading, also when it is written again later without them
                result["titles"] = {lang: lesson_title(sub.lesson.slug, lang, sub.lesson.solutions) for lang in LANGUAGES}
                if sub.submitted_at is not None:
                    result["submitted_at"] = sub.submitted_at.isoformat()   # which of two notebooks is newer
                if sub.origin:
                    result["origin"] = sub.origin   # the input file, as the instructor has it
                if sub.lms:
                    result["lms"] = sub.lms         # who this is in the LMS: the grade exports for Canvas and Moodle
                if sub.student in people:
                    result["person"] = people[sub.student]      # the gradebook's names (filled, never overwritten)
                elif (sub.lms or {}).get("system") == "moodle" and sub.lms.get("name"):
                    # Moodle's folder names carry the full name (as one), its worksheet the e-mail too
                    result["person"] = {key: value for key, value in (("last_name", sub.lms["name"]),
                                                                      ("email", sub.lms.get("email", ""))) if value}
                if sub.path is not None and sub.origin and result.get("detail"):
                    # Name the file as the instructor has it (inside their zip), not the extracted copy in OUT/.work,
                    # which is gone after the run.
                    shown = f"{source.name}: {sub.origin}" if source.is_file() else str(source / sub.origin)
                    # The detail may name it as given (OUT relative: --out .) or absolute: the longer form first.
                    for form in sorted({str(sub.path.resolve()), str(sub.path.absolute()), str(sub.path)}, key=len,
                                       reverse=True):
                        result["detail"] = result["detail"].replace(form, shown)
                # Which notebook the gradebook's entry belongs to: decides whether manual overrides still apply.
                old = previous.get(key) or {}
                old_recorded = old.get("gradebook_submission",
                                       old.get("stamp", {}).get("submission") if old.get("status") in LEARNER_STATUSES
                                       else None)
                result["notebook_changed"] = old_recorded != stamp["submission"]
                if not result["notebook_changed"] and old.get("earlier_comments"):
                    result["earlier_comments"] = old["earlier_comments"]     # still about the notebook before that
                result["gradebook_submission"] = old_recorded if result["status"] == "grader-error" else stamp["submission"]
                try:
                    _save(out, db_url, result, sub.lesson)
                except SQLAlchemyError as err:
                    # The system of record is gone (a database server down, a disk full, a lock held too long): the
                    # batch stops, never a grade is lost. This one has no result file, so the next run grades it.
                    reason = _first_line(str(err)) or type(err).__name__
                    raise GradingStopped(f"stopped: the gradebook could not be written ({type(err).__name__}: "
                                         f"{reason[:200]})", GRADEBOOK_EXIT, "gradebook", reports=False) from err
                except OSError as err:
                    # OUT itself cannot be written (a disk full, a quota): the same. The results/ file is written
                    # last, so this submission is graded again by the next run.
                    raise GradingStopped(f"stopped: {out} could not be written ({err.strerror or err}"
                                         f"{': ' + str(err.filename) if err.filename else ''})", GRADEBOOK_EXIT,
                                         "out", reports=False) from err
                done += 1
                if ran:
                    eta = (time.monotonic() - started) / ran * (to_run - ran)
                    where = f"[{done}/{total}, ~{eta:.0f}s left]"
                else:
                    where = f"[{done}/{total}]"
                score, why, flags = recorded(result, sub)
                note = (f" ({why})" if why else "") + (f" [{', '.join(flags)}]" if flags else "")
                progress(f"{where} {sub.student} {sub.lesson.slug}: {result['status']}"
                         f"{',' if result['status'] == 'grader-error' else ''} "
                         f"{_score_said(result['status'], score, max_scores[sub.lesson.slug])}{note}")

            def recorded(result: dict, sub: Submission) -> tuple[float, str, list[str]]:
                """The score as this run records it (grades.csv, the gradebook, the LMS files): the gradebook's, so grades
                entered in formgrader count, after the late penalty; what differs from the tests' points is said. The
                lateness is worked out as at the end of the run (on a copy: the end of the run stores it)."""
                tests = float(result.get("score", 0))
                if result["status"] != "graded":
                    return tests, "", list(result.get("flags", []))
                seen = dict(result)
                saved = out / "results" / sub.student / f"{sub.lesson.slug}.json"
                late_work.apply(out, db_url, [(saved, seen)], dates, extension_of, policy, times)
                try:
                    with Gradebook(db_url) as gb:
                        entry = gb.find_submission(sub.lesson.slug, sub.student)
                        raw, penalty = float(entry.score), float(entry.late_submission_penalty or 0)
                except MissingEntry:
                    return tests, "", list(seen.get("flags", []))
                final = max(0.0, raw - penalty)
                why = []
                if abs(raw - tests) > 1e-9:
                    why.append(f"the tests gave {tests:g}, the gradebook with grades entered by hand {raw:g}")
                if penalty:
                    why.append(f"{raw:g} before the late penalty of {penalty:g}")
                return final, "; ".join(why), list(seen.get("flags", []))

            def settle(job: _Job, result: dict) -> _Job | None:
                """A worker's answer: final, or (for a failure of the grading machine, up to ATTEMPTS tries in this
                run) the job to try again. ``job.attempt`` is the number of tries started; a result marked
                ``counted`` (by the Dask loop, which saw the tries its workers lost) has its causes in
                ``job.causes`` already."""
                nonlocal ran, to_run
                ran += 1
                kind, counted = result.pop("cause", "error"), result.pop("counted", False)
                if result.get("status") == "grader-error":
                    if not counted:
                        job.causes.append((kind, _first_line(result.get("detail")) or "grader-error"))
                    if job.attempt < ATTEMPTS:
                        to_run += 1
                        progress(f"retrying {job.sub.student} {job.sub.lesson.slug}: {job.causes[-1][1]}")
                        return _Job({**job.task, "attempt": job.attempt + 1}, job.sub, job.stamp, job.attempt + 1,
                                    job.causes, accounted=job.accounted)
                    result["detail"] = _gave_up(job.causes, result.get("detail") or "")
                finish(result, job.sub, job.stamp)
                return None

            stopped = None
            with _stop_on_sigterm():
                try:
                    for sub, stamp in missing:
                        finish(_missing_result(sub), sub, stamp)
                    if queue and dask:
                        _run_dask(dask, queue, settle)
                    elif queue:
                        _run_local(workers, queue, settle)
                except KeyboardInterrupt:
                    stopped = ("interrupted (Ctrl-C)", 130, True)
                except _Terminated:
                    stopped = ("stopped by SIGTERM", 128 + signal.SIGTERM, True)
                except GradingStopped as err:
                    stopped = (err.how, err.exit_code, err.reports)

            if stopped and not stopped[2]:
                # The reports need the gradebook too: they stay as the last run left them.
                raise GradingStopped(stopped[0], stopped[1], stopped_message(stopped[0], done - reused, total - reused,
                                                                             out, force, students)
                                     + " (once the gradebook can be written; reports not rebuilt)")
            with _interrupted_again(stopped, lambda how: stopped_message(how, done - reused, total - reused, out,
                                                                         force, students)):
                stored = _stored_results(out, late_slugs)
                for path, result in late_work.apply(out, db_url, stored, dates, extension_of, policy, times):
                    # Its grade may have changed now: Moodle's importer skips a row whose "Last modified (grade)" is
                    # older than its own grade's, so an earlier upload would keep the old grade without a word.
                    result["graded_at"] = utc_now()
                    _atomic_write(path, json.dumps(result, indent=1))
                    # The student's page says what lateness cost (or, after a waiver, no longer says it).
                    _atomic_write(out / "feedback" / path.parent.name / f"{path.stem}.html", feedback_html(result))
                run_slugs = {lesson.slug for lesson in lessons}
                for warning in lateness_unknown([result for _, result in stored if result.get("lesson") in run_slugs],
                                                dates, moodle_zone):
                    progress(f"warning: {warning}")
                if zone_hint:
                    progress(zone_hint)
                names = gradebook_names(db_url)
                marks = gradebook_marks(db_url)
                refresh_feedback(out, marks, names)
                rows = rebuild_reports(out, max_scores, gradebook_grades(db_url), names, marks)
            if stopped:
                graded_now = done - reused
                raise GradingStopped(stopped[0], stopped[1],
                                     stopped_message(stopped[0], graded_now, total - reused, out, force, students))
            return rows
        except SQLAlchemyError as err:
            # The gradebook could not be reached, read or written outside a submission's own transaction (a
            # PostgreSQL server down when the run starts, SQLite locked by formgrader past its timeout): as when it
            # fails while grading, one line and exit 3, never a traceback (an instructor's trial: exit 1). What was
            # recorded is kept; the next run grades the rest.
            reason = _first_line(str(err)) or type(err).__name__
            raise GradingStopped("gradebook", GRADEBOOK_EXIT,
                                 f"stopped: the gradebook could not be read or written ({type(err).__name__}: "
                                 f"{reason[:200]}); every result recorded before is kept: run the same command "
                                 "again once it can be", reports=False) from err
        finally:
            shutil.rmtree(work, ignore_errors=True)


def lateness_unknown(results: list[dict], dates: dict, moodle_zone: str | None = None) -> list[str]:
    """Warnings for lessons with a due date whose graded submissions' lateness could not be judged: no submission
    time (an LMS export without one) and no LMS marker; and for those whose lateness is only the LMS's marker,
    which counts as one penalty period however late they were. ``moodle_zone``: the --moodle-times kept in OUT
    (then the advice is the worksheet, not the option)."""
    unknown: dict[str, list[str]] = {}
    marked: dict[str, int] = {}
    for result in results:
        slug, late = str(result.get("lesson", "")), result.get("late") or {}
        if result.get("status") != "graded" or not dates.get(slug):
            continue
        if late.get("how") == "lms-marker":
            marked[slug] = marked.get(slug, 0) + 1
        elif not late.get("how") and not late.get("submitted"):
            unknown.setdefault(slug, []).append(str(result.get("student", "")))

    def whose(students: list[str], most: int = 5) -> str:       # an instructor's trial: the warning said not whose
        names = sorted(students)
        return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")

    said = [f"{slug} has a due date, but {len(who)} graded submission(s) have no submission time ({whose(who)}; "
            "Canvas's and Moodle's exports carry none; intake.csv says where each time came from): they were not "
            "judged late; for Moodle, "
            + (f"--moodle-times ({moodle_zone}) reads the grading worksheet's: give the assignment's worksheet "
               "(--moodle-worksheet)" if moodle_zone else "--moodle-times ZONE reads the grading worksheet's")
            + "; nbgrader's timestamp.txt and --zip-times give others"
            for slug, who in sorted(unknown.items())]
    said += [f"{slug}: {n} submission(s) are late by the LMS's LATE marker only, which counts as one penalty period "
             "however late they were (check the LMS's own late policy does not take it again)"
             for slug, n in sorted(marked.items())]
    return said


def stopped_message(how: str, finished: int, to_grade: int, out: Path, force: bool = False,
                    students: list[str] | None = None) -> str:
    """The one line a stopped run ends with. A plain run resumes where it stopped; a run with --force or --student
    grades every submission it names again, so the same command is no resume: say what each choice does."""
    head = f"{how}: {finished} of {to_grade} submissions to grade were finished and are kept in {out}"
    if not force and not students:
        return f"{head}; run the same command again to resume"
    flag = "--force" if force else "--student"
    return (f"{head}; the other {to_grade - finished} keep their earlier results, if any. The same command without {flag} "
            f"grades only what is new or changed (no resume of {flag}); with {flag} it grades all {to_grade} again")


def _stored_results(out: Path, slugs: set[str]) -> list[tuple[Path, dict]]:
    found = []
    for path in sorted((out / "results").glob("*/*.json")):
        if path.stem not in slugs:
            continue
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(result, dict):
            found.append((path, result))
    return found


def gradebook_grades(db_url: str) -> dict[tuple[str, str], float]:
    """(student, lesson) -> the gradebook's score after the late penalty, as ``nbgrader export`` computes it."""
    with Gradebook(db_url) as gb:
        return {(s.student_id, s.assignment.name): max(0.0, float(s.score) - float(s.late_submission_penalty or 0))
                for s in gb.db.query(SubmittedAssignment)}


def gradebook_names(db_url: str) -> dict[str, str]:
    """student id -> name, for every student whose gradebook entry has one (a roster, the LMS export or formgrader
    filled it); reports show it beside the id."""
    from .report import person_name

    with Gradebook(db_url) as gb:
        return {s.id: name for s in gb.students if (name := person_name(s.first_name or "", s.last_name or ""))}


def gradebook_marks(db_url: str) -> dict[tuple[str, str], dict]:
    """(student, lesson) -> what the instructor entered in formgrader: ``scores`` (cell -> (manual score, max)),
    ``comments`` (cell -> text) and the gradebook's ``final`` grade (after the late penalty); and ``pending``
    (cell -> max score): what still waits for the instructor's look (nbgrader's ``needs_manual_grade``: an answer
    graded by hand not graded yet, or changed since it was, a test the grader could not run). Only submissions
    with an entry; the student's feedback page and flagged.md show them."""
    from nbgrader.api import Comment, Grade

    marks: dict[tuple[str, str], dict] = {}

    def entry(item) -> dict:
        submitted = item.notebook.assignment
        key = (submitted.student_id, submitted.assignment.name)
        if key not in marks:
            marks[key] = {"scores": {}, "comments": {}, "pending": {}, "final": max(
                0.0, float(submitted.score) - float(submitted.late_submission_penalty or 0))}
        return marks[key]

    with Gradebook(db_url) as gb:
        for grade in gb.db.query(Grade).filter(Grade.manual_score.isnot(None)):
            entry(grade)["scores"][grade.name] = (float(grade.manual_score), float(grade.max_score or 0))
        for grade in gb.db.query(Grade).filter(Grade.needs_manual_grade.is_(True)):
            entry(grade)["pending"][grade.name] = float(grade.max_score or 0)
        for comment in gb.db.query(Comment).filter(Comment.manual_comment.isnot(None)):
            if (comment.manual_comment or "").strip():
                entry(comment)["comments"][comment.name] = comment.manual_comment.strip()
    return marks


def refresh_feedback(out: Path, marks: dict[tuple[str, str], dict], names: dict[str, str] | None = None) -> None:
    """Every student's page as the gradebook now has it: a grade or comment entered in formgrader since the
    page was written reaches the student (and one taken back leaves it), and the student's name as the gradebook
    has it (:func:`gradebook_names`) heads the page. Pages that did not change stay as they are."""
    for path, result in _stored_results(out, {p.stem for p in (out / "results").glob("*/*.json")}):
        page = out / "feedback" / path.parent.name / f"{path.stem}.html"
        student = str(result.get("student", path.parent.name))
        text = feedback_html(result, marks.get((student, path.stem)), (names or {}).get(student, ""))
        try:
            if page.read_text(encoding="utf-8") == text:
                continue
        except OSError:
            pass
        _atomic_write(page, text)


def rebuild_reports(out: Path, max_scores: dict[str, float] | None = None,
                    gradebook: dict[tuple[str, str], float] | None = None,
                    names: dict[str, str] | None = None,
                    marks: dict[tuple[str, str], dict] | None = None) -> list[GradeRow]:
    """grades.csv, flagged.md and the class reports from every result in OUT/results/ (every student ever graded into
    OUT); ``marks`` (:func:`gradebook_marks`): what waits for grading by hand, listed in flagged.md. A student the
    gradebook has no name for is named as their results say (the roster's or the LMS's): one whose only results are
    grader-errors is in no gradebook (an entry there would be a 0 of theirs in ``nbgrader export``)."""
    from .report import person_name

    rows = []
    digests = []                            # who handed in which answers (answers.same_answers)
    names = dict(names or {})
    for path in sorted((out / "results").glob("*/*.json")):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(result, dict):
            continue
        slug = path.stem
        digests.append({"student": path.parent.name, "lesson": slug, "status": result.get("status"),
                        "answer_digest": result.get("answer_digest"), "answers_given": result.get("answers_given"),
                        "answer_cells": result.get("answer_cells")})
        person = result.get("person")
        if path.parent.name not in names and isinstance(person, dict):
            named = person_name(str(person.get("first_name") or ""), str(person.get("last_name") or ""))
            if named:
                names[path.parent.name] = named
        max_score = (max_scores or {}).get(slug)
        if max_score is None:
            max_score = float(result.get("lesson_max_score", result.get("max_score", 0)) or 0)
        final, raw = late_work.final_score(result), float(result.get("score", 0))
        marked = (gradebook or {}).get((path.parent.name, slug))
        late = dict(result.get("late") or {})
        if result.get("status") == "graded" and late.get("gradebook"):
            # Grades entered in formgrader: the gradebook's score before the penalty and the penalty on it
            # (late_work.apply keeps them), as nbgrader export has them.
            raw, late["penalty"] = float(late["gradebook"].get("raw") or 0), float(late["gradebook"].get("penalty") or 0)
            final = marked if marked is not None else max(0.0, raw - late["penalty"])
        elif result.get("status") == "graded" and marked is not None and abs(marked - final) > 1e-9:
            # A grade entered in formgrader (a manual score, an override) is the grade, as in nbgrader export.
            raw = marked + float(late.get("penalty") or 0)
            final = marked
        rows.append(GradeRow(path.parent.name, slug, final, float(max_score),
                             str(result.get("status", "grader-error")), list(result.get("flags", [])),
                             result.get("detail", ""), raw, late))
    write_csv(rows, out / "grades.csv")
    write_flagged(rows, out / "flagged.md", names, _skipped_inputs(out / "intake.csv"), marks, same_answers(digests))
    write_class_reports(out, gradebook, names)
    return rows


class _Terminated(BaseException):
    """SIGTERM in the main thread. A BaseException, as KeyboardInterrupt is: no library's ``except Exception`` takes
    it for an error of its own (landing in a gradebook write, it came out of nbgrader as InvalidEntry, and the run
    ended in a traceback with exit status 1 instead of its one line and 143)."""


@contextlib.contextmanager
def _stop_on_sigterm():
    """SIGTERM raises _Terminated in the main thread (Ctrl-C raises KeyboardInterrupt as always)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise _Terminated

    before = signal.getsignal(signal.SIGINT), signal.signal(signal.SIGTERM, stop)
    try:
        yield
    except _Terminated:
        raise GradingStopped("stopped by SIGTERM", 128 + signal.SIGTERM, "stopped by SIGTERM") from None
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])


@contextlib.contextmanager
def _interrupted_again(stopped: tuple[str, int, bool] | None, message: Callable[[str], str]):
    """After a stop, the reports are rebuilt from what was kept; a second Ctrl-C there (an impatient instructor's
    double press) ends the run with the stop's own line, which says what was kept and how to resume, instead of a
    bare "interrupted" (an instructor's trial)."""
    try:
        yield
    except KeyboardInterrupt:
        if not stopped:
            raise
        raise GradingStopped(stopped[0], stopped[1], message(stopped[0]) + " (interrupted again: reports not rebuilt)") \
            from None


def _quiet_signals():
    """While stopping: a second Ctrl-C or SIGTERM must not cut the clean-up short."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


# --- workers -------------------------------------------------------------------------------------------

def _died(job: _Job, exitcode: int | None) -> dict:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"killed by signal {-exitcode}"
        if exitcode == -signal.SIGKILL:
            how += ": the out-of-memory killer, or a person"
    else:
        how = f"exit code {exitcode}"
    return {**_error_result(job.sub.student, job.sub.lesson.slug,
                            f"the grading worker process died while grading this submission ({how})"), "cause": "died"}


# How long a worker may take over one submission before the batch stops it: the submission's own time limit
# (cells and tests together, GradingLimits.submission_factor, and one more cell's time the hidden parts may have)
# plus room for starting its kernel (up to 3 minutes on a busy machine) and writing its notebook. Only a worker
# stuck in the grader's own code reaches it.
WORKER_MARGIN_SECONDS = 300.0


def _worker_budget(task: dict) -> float:
    return float(task["limits"]["submission_seconds"]) + float(task["limits"].get("cell_seconds", 0)) \
        + WORKER_MARGIN_SECONDS


def _hung(job: _Job, seconds: float) -> dict:
    return {**_error_result(job.sub.student, job.sub.lesson.slug,
                            f"the grading worker did not finish this submission within {seconds:.0f} s and was "
                            f"stopped (stuck in the grader, not in the learner's code, which has its own limits)"),
            "cause": "hung"}


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    job: _Job | None = None
    until: float = 0.0          # when the batch stops this worker if its job is not done (time.monotonic())


class _LocalWorkers:
    """Worker processes (spawned: they start clean), each grading one submission at a time.

    A worker that dies costs only the submission it was grading (retried once by the batch); a new worker
    takes its place. Unlike a ProcessPoolExecutor, one death never breaks the others' work.
    """

    def __init__(self, size: int):
        self.size = size
        self.ctx = get_context("spawn")
        self.workers: list[_Worker] = []

    def _spawn(self) -> _Worker:
        mine, theirs = self.ctx.Pipe()
        process = self.ctx.Process(target=_worker_main, args=(theirs, os.getpid()), name="autograde-worker",
                                   daemon=True)
        process.start()
        theirs.close()
        worker = _Worker(process, mine)
        self.workers.append(worker)
        return worker

    def run(self, queue: deque, settle) -> None:
        try:
            while queue or any(w.job for w in self.workers):
                for idle in [w for w in self.workers if w.job is None and not w.process.is_alive()]:
                    # A worker that died waiting (the out-of-memory killer takes any process) is replaced before
                    # it is given a submission: its death must not cost that submission a try.
                    idle.process.join(1)
                    idle.conn.close()
                    self.workers.remove(idle)
                while queue:
                    worker = next((w for w in self.workers if w.job is None), None)
                    if worker is None and len(self.workers) < self.size:
                        worker = self._spawn()
                    if worker is None:
                        break
                    worker.job = queue.popleft()
                    task = worker.job.task
                    if task.get("warm") and not queue:
                        task = {**task, "warm": False}   # nothing left to start a kernel for (retries start cold)
                    worker.until = time.monotonic() + _worker_budget(task)
                    try:
                        worker.conn.send(task)
                    except OSError:
                        pass                # a worker that died since the look above: seen below as a death
                busy = [w for w in self.workers if w.job is not None]
                wait = max(0.0, min(w.until for w in busy) - time.monotonic())
                ready = connection.wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=wait)
                for worker in busy:
                    assert worker.job is not None          # busy workers only
                    if worker.conn not in ready and worker.process.sentinel not in ready:
                        if time.monotonic() >= worker.until:
                            # Stuck: stopped, and its submission settled as a failure of the grading machine.
                            worker.process.kill()
                            worker.process.join(5)
                            worker.conn.close()
                            self.workers.remove(worker)
                            job, worker.job = worker.job, None
                            again = settle(job, _hung(job, _worker_budget(job.task)))
                            if again is not None:
                                queue.append(again)
                        continue
                    result = None
                    try:
                        if worker.conn.poll():
                            result = worker.conn.recv()
                    except (EOFError, OSError):
                        result = None
                    if result is None:
                        if worker.process.is_alive() and worker.process.sentinel not in ready:
                            continue
                        worker.process.join(5)
                        result = _died(worker.job, worker.process.exitcode)
                        worker.conn.close()
                        self.workers.remove(worker)
                    job, worker.job = worker.job, None
                    again = settle(job, result)
                    if again is not None:
                        queue.append(again)
        except BaseException:
            _quiet_signals()
            self.close(stop=True)
            raise
        self.close()

    def close(self, stop: bool = False) -> None:
        """Stop every worker: asked nicely (SIGTERM unwinds a grading, removing its kernel), then killed."""
        for worker in self.workers:
            try:
                if stop:
                    worker.process.terminate()
                else:
                    worker.conn.send(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 20
        for worker in self.workers:
            worker.process.join(max(0.1, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5)
            worker.conn.close()
        self.workers = []
        sweep_stale()


def _run_local(workers: int, queue: deque, settle) -> None:
    _LocalWorkers(workers).run(queue, settle)


# Dask: the topic each grading task logs its start under, how often the batch looks at its tasks, and how long it
# waits with submissions left and no worker in the cluster before those are grader-errors.
DASK_START_TOPIC = "autograde-start"
DASK_TICK_SECONDS = 1.0
DASK_NO_WORKER_SECONDS = WORKER_MARGIN_SECONDS
DASK_DONE_TOPIC = "autograde-done"
# A Dask worker holds more tasks than it has threads (the scheduler's worker-saturation), and a task waiting there
# is blamed when the worker dies (KilledWorker after allowed-failures deaths). A submission lost that way without
# ever starting did nothing: it is sent again without costing a try, this many times at most. So is one whose
# grading finished on a worker that died before the batch fetched the result (Dask computes it again): its starts
# in a run are at most ATTEMPTS + DASK_BYSTANDER_RESENDS.
DASK_BYSTANDER_RESENDS = 4
# How long a stuck task's restart waits for the scheduler to have taken its cancel.
DASK_CANCEL_SECONDS = 10.0


_ONE_SUBMISSION_PER_PROCESS = threading.Lock()


def _grade_on_dask(task: dict) -> dict:
    """Grade one submission on a Dask worker.

    Its starts in this run are counted on the scheduler (``task["tries"]`` names a Variable holding, for each
    start, the worker's address and how it ended: "running" until it returns, then "graded" or "error"), because
    Dask itself starts a task again elsewhere when the worker running it dies (up to the scheduler's
    ``allowed-failures``): a submission that kills its worker every time would go on killing workers. Past ATTEMPTS
    failed starts (lost with their worker, or a grader-error) it is not graded again in this run; a start that
    finished is no failure even when its result was lost with its worker before the batch fetched it (Dask then
    computes it again). Each start is logged (DASK_START_TOPIC): the batch's watchdog times the submission from
    there; each end too (DASK_DONE_TOPIC)."""
    from distributed import Variable, get_worker

    worker = get_worker()
    # One submission at a time in a worker process, whatever its --nthreads: the memory guard, the limits and the
    # captured output are the process's (a hostile trial: a classmate's flood, graded beside an honest notebook in
    # another thread of one worker, stopped the honest kernel as if it had flooded).
    with _ONE_SUBMISSION_PER_PROCESS:
        tries = Variable(task["tries"])
        starts = [list(start) for start in tries.get(timeout=60)]
        failed = sum(state != "graded" for _, state in starts)
        if failed >= ATTEMPTS or len(starts) >= ATTEMPTS + DASK_BYSTANDER_RESENDS:
            # a refusal is no try: it is not counted, and runs nothing
            return {**_error_result(task["student"], task["lesson"], f"not started again after {len(starts)} tries"),
                    "refused": True}
        starts.append([worker.address, "running"])
        tries.set(starts)
        # through the scheduler and back before anything runs: a start is on record even if the worker dies next
        event = {"job": task["job"], "key": str(worker.get_current_task()), "start": len(starts),
                 "worker": worker.address, "student": task["student"], "lesson": task["lesson"]}
        tries.client.log_event(DASK_START_TOPIC, event)
        task = {**task, "attempt": len(starts)}
        _worker_faults(task, first=len(starts) == 1)
        began = time.time()
        try:
            result = grade_submission(task)
        except Exception as err:  # noqa: BLE001 - reported as this submission's grader-error
            result = _error_result(task["student"], task["lesson"],
                                   f"the grading worker failed: {type(err).__name__}: {err}")
        result["dask_worker"] = {"address": worker.address, "pid": os.getpid(), "from": began, "to": time.time()}
        state = "error" if result.get("status") == "grader-error" else "graded"
        with contextlib.suppress(Exception):       # unmarked, the start counts as failed: as before it ended
            ended = [list(start) for start in tries.get(timeout=60)]
            ended[len(starts) - 1][1] = state
            tries.set(ended)
            tries.client.log_event(DASK_DONE_TOPIC, {**event, "state": state})
        if task.get("fault") == "lose-result-twice" and len(starts) <= 2:
            # Test hook (grade_batch(faults=...) only): the worker dies after the grading finished, before the batch
            # fetched the result.
            os.kill(os.getpid(), signal.SIGKILL)
        return result


def _run_dask(address: str, queue: deque, settle) -> None:
    """The batch on a Dask cluster, with the local pool's guarantees: a submission whose grading has run longer
    than its budget (``_worker_budget``, from its start on a worker) is given up and its worker restarted (when a
    nanny watches it); a start lost with its worker counts as a try; every submission has at most ATTEMPTS tries
    in this run; with no worker in the cluster for DASK_NO_WORKER_SECONDS, or no progress for a submission's budget,
    the rest are grader-errors."""
    from distributed import Client, Variable

    # The client's own INFO lines are not the instructor's: "Batched Comm Closed" came with a traceback when the
    # scheduler died before the batch's one line said so (a run of the suite). Warnings and errors still show.
    quiet = logging.getLogger("distributed")
    if quiet.getEffectiveLevel() < logging.WARNING:
        quiet.setLevel(logging.WARNING)
    with Client(address, timeout="30s") as client:
        # Dask key -> (when its latest start was seen, on which worker). By key, not by submission: Dask runs a
        # task again elsewhere when its worker leaves, and a submission sent again is a new task.
        seen: dict[str, tuple[float, str]] = {}

        def on_start(event) -> None:
            msg = event[1]
            if isinstance(msg, dict) and isinstance(msg.get("key"), str):
                seen[msg["key"]] = (time.monotonic(), str(msg.get("worker", "")))

        client.subscribe_topic(DASK_START_TOPIC, on_start)
        tries: dict[str, Variable] = {}
        running: dict = {}                             # future -> job

        def submit(job: _Job) -> None:
            name = job.task.setdefault("job", uuid.uuid4().hex)
            if name not in tries:
                tries[name] = Variable(f"autograde-tries-{name}", client)
                tries[name].set([])
            key = (f"grade-{job.sub.student}-{job.sub.lesson.slug}-{job.stamp['submission'][:12]}-{job.attempt}-"
                   f"{uuid.uuid4().hex[:6]}")
            running[client.submit(_grade_on_dask, {**job.task, "tries": tries[name].name}, pure=False,
                                  key=key)] = job

        def conclude(job: _Job, result: dict) -> None:
            """Count the starts this result does not tell of (lost with their workers), then settle it."""
            name = job.task["job"]
            try:
                starts = list(tries[name].get(timeout=30))
            except Exception:  # noqa: BLE001 - the count is then the batch's own
                starts = []
            # The latest start told its own outcome, unless this is a refusal (no start of its own) or Dask gave
            # up on the task (KilledWorker: its starts were lost with their workers).
            refused, lost_with_worker = result.pop("refused", False), result.pop("lost_with_worker", False)
            told = not (refused or lost_with_worker)
            new = starts[job.accounted:len(starts) - 1] if told else starts[job.accounted:]
            job.accounted = max(job.accounted, len(starts))
            # starts this result does not tell of that failed; one that finished (its result lost with its worker
            # before it was fetched) cost the submission nothing
            lost = [where for where, state in new if state != "graded"]
            failed = sum(state != "graded" for _, state in starts)
            if lost_with_worker and not lost and failed < ATTEMPTS and job.bystander < DASK_BYSTANDER_RESENDS:
                job.bystander += 1                     # never started, or finished: lost with a worker
                submit(job)
                return
            job.causes.extend(("lost", f"the Dask worker grading it ({where}) died or left the cluster")
                              for where in lost)
            if not told and lost:
                result["counted"] = True
            job.attempt = max(job.attempt, failed)
            again = settle(job, result)
            if again is not None:
                submit(again)
            else:
                with contextlib.suppress(Exception):
                    tries.pop(name).delete()

        for job in queue:
            submit(job)
        queue.clear()
        try:
            _dask_loop(client, running, seen, conclude, address)
        finally:
            for variable in tries.values():
                with contextlib.suppress(Exception):
                    variable.delete()


def _dask_loop(client, running: dict, seen: dict, conclude, address: str) -> None:
    """Until every submission is settled: take the results, give up stuck tasks, notice a cluster without workers
    or without progress. A lost connection to the scheduler (it died, or the network between) stops the batch: what
    finished is kept, what was in flight has no result and is graded by the next run."""
    from distributed import wait

    checked, empty_since = 0.0, None
    given_up: dict[str, tuple[float, str]] = {}       # Dask key -> the start of it that was stopped
    # The batch's last progress (a result, a start of one of its tasks, a stuck one stopped). Every start is given
    # up after its budget, so a cluster that works makes progress within the longest budget (or the time a cluster
    # may be without workers); one that does not (its threads held by other work, or by a task Dask no longer
    # reports) ends the batch instead of waiting for ever.
    progress = time.monotonic()

    def end_the_rest(detail: str, cause: str) -> None:
        """Every submission still running is a grader-error now, not tried again in this run."""
        for future, job in list(running.items()):
            del running[future]
            future.cancel()
            job.attempt = ATTEMPTS
            conclude(job, {**_error_result(job.sub.student, job.sub.lesson.slug, detail), "cause": cause})

    try:
        while running:
            try:
                done = wait(list(running), timeout=DASK_TICK_SECONDS, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                done = set()
            for future in done:
                job = running.pop(future)
                conclude(job, _result_of(future, job.sub))
            now = time.monotonic()
            progress = now if done else max([progress, *(when for when, _ in seen.values())])
            for key, started in list(seen.items()):
                if key in given_up and started != given_up[key]:
                    # a task given up that Dask started again (its worker left before the cancel reached the
                    # scheduler): its thread is held for ever, and what waits behind it on that worker with it
                    given_up[key] = started
                    _restart_dask_worker(client, started[1])
            for future, job in list(running.items()):
                started = seen.get(future.key)
                budget = _worker_budget(job.task)
                if started is None or now < started[0] + budget or future.done():
                    continue
                # Stuck: given up, and its worker restarted to free the thread (only a nanny can do that).
                del running[future]
                given_up[future.key] = started
                result = _hung(job, budget)
                result["detail"] += "\n" + _give_up_dask_task(client, future, started[1])
                progress = time.monotonic()
                conclude(job, result)
            stall = max([DASK_NO_WORKER_SECONDS, *(_worker_budget(job.task) for job in running.values())])
            if running and now - progress >= stall:
                end_the_rest(f"the Dask cluster ran none of this batch's remaining submissions for {stall:.0f} s "
                             "(its workers busy with other work, or stuck)", "stalled")
            if now - checked >= 5:
                checked = now
                try:
                    workers = len(client.scheduler_info(n_workers=1).get("workers", {}))
                except Exception:  # noqa: BLE001 - asked again at the next look
                    workers = 1
                empty_since = None if workers else (empty_since or now)
                if empty_since is not None and now - empty_since >= DASK_NO_WORKER_SECONDS:
                    end_the_rest(f"no Dask worker was connected to the scheduler for {DASK_NO_WORKER_SECONDS:.0f} s",
                                 "no-worker")
    except GradingStopped:
        raise
    except Exception as err:
        if client.status == "running" and "scheduler-connection-lost" not in str(err):
            raise
        # Closed now, its attempts to reconnect quiet: Dask logs each with a traceback, and the line below says it all.
        log = logging.getLogger("distributed.client")
        level = log.level
        log.setLevel(logging.CRITICAL)
        try:
            with contextlib.suppress(Exception):
                client.close(timeout=10)
        finally:
            log.setLevel(level)
        raise GradingStopped(f"stopped: the connection to the Dask scheduler at {address} was lost "
                             f"({type(err).__name__})", GRADEBOOK_EXIT, "dask") from err


def _give_up_dask_task(client, future, reported: str) -> str:
    """Cancel a stuck task and restart the worker running it (the one the scheduler has it on; else the one its start
    was logged from). A cancel is a message the scheduler takes when it comes: a restart before it would have Dask
    run the task again on another worker, so the restart waits (a few seconds at most) until the task is gone."""
    key = future.key

    def holding() -> list[str]:
        return [worker for worker, keys in client.processing().items() if key in keys]

    try:
        workers = holding() or [reported]
    except Exception:  # noqa: BLE001 - the scheduler is asked again below, or the batch stops on its connection
        workers = [reported]
    future.cancel()
    until = time.monotonic() + DASK_CANCEL_SECONDS
    with contextlib.suppress(Exception):
        while holding() and time.monotonic() < until:
            time.sleep(0.1)
    return "\n".join(_restart_dask_worker(client, worker) for worker in workers)


def _kill_nannys_worker(dask_worker=None) -> str:
    """Run on a Dask nanny (``client.run(..., nanny=True)``): kill its worker process; the nanny starts a new one, as
    after any death of its worker."""
    pid = getattr(dask_worker, "pid", None)
    if not pid:
        return "no worker process"
    os.kill(pid, signal.SIGKILL)
    return "OK"


def _restart_dask_worker(client, address: str) -> str:
    """Stop a worker's process so its nanny starts a new one. Not with the scheduler's restart_workers: the nanny then
    kills and starts the worker itself while its own watch of the process starts one too, and a worker was lost for
    good in 1 to 2 such restarts out of 3 trials (2 workers, distributed 2026.8; dask/distributed#7312); killed, the
    process is replaced by the nanny's watch alone (lost after 5 to 10 kills in the same trials, a Dask fault that
    the batch's no-worker watchdog turns into grader-errors, never 0s). Waiting for the new worker would hold up the
    batch, so "restarted" here means the stuck process was stopped."""
    try:
        answers = client.run(_kill_nannys_worker, workers=[address], nanny=True, on_error="return")
        status = next(iter(answers.values()), "no answer from its nanny")
    except Exception as err:  # noqa: BLE001 - said in the detail: the instructor restarts it
        status = f"{type(err).__name__}: {err}"
    if status == "OK":
        return f"its Dask worker ({address}) was restarted"
    return (f"its Dask worker ({address}) could not be restarted ({status}): one of its threads stays busy until "
            "it is restarted by hand (run workers under a nanny, the default of dask worker)")


def _result_of(future, sub: Submission) -> dict:
    try:
        return future.result()
    except Exception as err:  # noqa: BLE001 - a lost worker costs one submission a retry, never the batch
        if getattr(future.client, "status", "running") != "running":
            raise                                   # the scheduler is gone: the batch stops (_dask_loop)
        result = _error_result(sub.student, sub.lesson.slug, f"the grading worker failed: {type(err).__name__}: {err}")
        if type(err).__name__ == "KilledWorker":      # Dask gave up: the workers that ran it died
            result.update(cause="lost", lost_with_worker=True)
        return result


def _save(out: Path, db_url: str, result: dict, lesson: Lesson) -> None:
    """Gradebook first, then the files; the results/ JSON last: it is what makes a resume skip this one.

    The autograded notebook is the publishable one (autograde.publish): formgrader and nbgrader's
    generate_feedback render it in a browser, so it holds no active content and no hidden test source.
    """
    record(db_url, result)
    student, slug = result["student"], result["lesson"]
    autograded = out / "autograded" / student / slug / f"{slug}.ipynb"
    published = None
    if result.get("notebook"):
        try:
            published = publishable_text(result["notebook"], lesson.source)
        except Exception as err:  # noqa: BLE001 - a notebook we cannot clean is not written, the batch goes on
            result["detail"] = (result.get("detail", "") + f"\nthe autograded notebook was not written: it could not "
                                f"be made safe to publish ({type(err).__name__}: {err})").strip()
    if published is not None:
        _atomic_write(autograded, published)
    elif autograded.exists():
        autograded.unlink()
    _atomic_write(out / "feedback" / student / f"{slug}.html", feedback_html(result))
    stored = {k: v for k, v in result.items() if k != "notebook"}
    stored.setdefault("graded_at", utc_now())   # Moodle's worksheet
    _atomic_write(out / "results" / student / f"{slug}.json", json.dumps(stored, indent=1))


def stamp_new_gradebook(db_url: str) -> None:
    """Mark an empty gradebook with nbgrader's newest schema revision, as nbgrader's Gradebook does when it creates
    one; nbgrader asks a new ``alembic heads`` process for it (2.7 s of CPU on this machine, before a batch's
    workers start), this reads the same revision from nbgrader's own migration scripts in this process (0.1 s).
    A gradebook that has any table is left as it is (nbgrader then creates the tables it lacks, as always)."""
    import nbgrader
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(db_url)
    try:
        with engine.begin() as db:
            if inspect(db).get_table_names():
                return
            scripts = AlembicConfig()
            scripts.set_main_option("script_location", str(Path(nbgrader.__file__).parent / "alembic"))
            head = ScriptDirectory.from_config(scripts).get_current_head()
            db.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            db.execute(text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": head})
    finally:
        engine.dispose()


def private_gradebook(db_url: str) -> None:
    """An SQLite gradebook is readable and writable by its owner only (its journal takes the same mode).

    Created empty with mode 0600 before nbgrader opens it (SQLite takes an empty file as a new database),
    so there is no moment when it is readable by others; an existing one is set to 0600.
    """
    if not db_url.startswith("sqlite:///") or db_url.removeprefix("sqlite:///") in ("", ":memory:"):
        return
    path = Path(db_url.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)
    for extra in ("-journal", "-wal", "-shm"):
        if path.with_name(path.name + extra).exists():
            os.chmod(path.with_name(path.name + extra), 0o600)


def write_csv(rows: list[GradeRow], path: Path) -> None:
    with replacing(path) as tmp, tmp.open("w", newline="", encoding=CSV_ENCODING) as f:
        writer = csv.writer(f)
        writer.writerow(CSV_HEADER)
        for row in rows:
            writer.writerow(row.csv_row())


_MD_PUNCT = re.compile(r"[\\`*\[\]~$]")                 # code, emphasis, links, strike-through, math
_MD_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")          # '&amp;' would read as '&'
_MD_BLOCK = re.compile(r"^(\s*)(?:([#>+=-])|(\d{1,9})([.)]))")   # a heading, quote or list where a line starts


def _markdown_text(text: str) -> str:
    """Text of a learner's (a name as the LMS gives it, a file name, a message) for flagged.md: shown as text, never
    as Markdown or HTML (no tag, code span, link, emphasis or math: a Moodle profile name may read
    '[grade](https://...)'), and as written in a plain viewer: Markdown's backslash escapes, only where a character
    would do something ('File > Download' and 'kim_minsu_01_history.ipynb' stay as they are). '<' is '&lt;', so no
    tag can start even where escapes are not read; a bare URL's '//' and 'www.' are escaped, so that no viewer
    makes them links. Control and format characters (ANSI escapes, a right-to-left override) are shown escaped, as on
    the console (``terminal_safe``): flagged.md is often read with ``cat`` or ``less``."""
    text = " ".join(text.splitlines())
    text = _MD_PUNCT.sub(lambda m: "\\" + m.group(), text)
    text = _escape_emphasis_underscores(text)
    text = _MD_ENTITY.sub(r"\\&", text).replace("<", "&lt;").replace("://", r":\/\/")
    text = re.sub(r"(?i)\bwww\.", lambda m: m.group()[:3] + r"\.", text)
    return terminal_safe(_MD_BLOCK.sub(
        lambda m: m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\" + m.group(4)), text))


def _escape_emphasis_underscores(text: str) -> str:
    """Backslash-escape the underscores that could open or close emphasis with another (CommonMark's flanking rules,
    line ends as spaces); the rest stay as written ('kim_minsu', 'onlinetext_/onlinetext.html': no pair)."""
    def kind(ch: str) -> str:
        return "space" if ch.isspace() else "punct" if unicodedata.category(ch)[0] in "PS" else "word"

    marks = [i for i, ch in enumerate(text) if ch == "_"]
    can_open, can_close = {}, {}
    for i in marks:
        before, after = kind(text[i - 1]) if i else "space", kind(text[i + 1]) if i + 1 < len(text) else "space"
        left = after != "space" and (after != "punct" or before != "word")
        right = before != "space" and (before != "punct" or after != "word")
        can_open[i] = left and (not right or before == "punct")
        can_close[i] = right and (not left or after == "punct")
    first_opener = min((i for i in marks if can_open[i]), default=len(text))
    last_closer = max((i for i in marks if can_close[i]), default=-1)
    risky = {i for i in marks if (can_open[i] and i < last_closer) or (can_close[i] and i > first_opener)}
    return "".join("\\_" if i in risky else ch for i, ch in enumerate(text))


def _skipped_inputs(intake: Path) -> list[dict[str, str]]:
    """intake.csv's lines of files that were not graded (``skipped``): a folder with no notebook, a file that names no
    lesson, one too large, one that could not be extracted; and a notebook of a lesson that ``--lesson`` left out
    (``other-lesson``: the README says every notebook not graded is named in flagged.md)."""
    try:
        with intake.open(newline="", encoding=CSV_ENCODING) as f:
            return [row for row in csv.DictReader(f) if row.get("outcome") in ("skipped", "other-lesson")]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _score_said(status: str, score: float, max_score: float) -> str:
    """A submission's score for the instructor's progress lines and flagged.md: '7/12', and for one the grader could not
    grade 'not graded yet (of 12)', never 0/12 (it has no grade: the next run grades it)."""
    return f"not graded yet (of {max_score:g})" if status == "grader-error" else f"{score:g}/{max_score:g}"


EDITION_READ_BYTES = 8 * 2 ** 20   # a notebook read in the batch's own process for its edition only: at most this


def _notebook_edition(path: Path) -> str | None:
    """The edition a submitted notebook says it is (``metadata.cnnbook.language``), read as data, nothing run; None
    when it says none, cannot be read, or is larger than EDITION_READ_BYTES (its worker died: the batch's own
    process does not parse a file that large; its page stays English)."""
    from .judge import notebook_language
    from .lessons import read_notebook

    try:
        if path.stat().st_size > EDITION_READ_BYTES:
            return None
        return notebook_language(read_notebook(path))
    except Exception:  # noqa: BLE001 - an unreadable notebook's page stays in English
        return None


def write_flagged(rows: list[GradeRow], path: Path, names: dict[str, str] | None = None,
                  skipped: list[dict[str, str]] | None = None, marks: dict[tuple[str, str], dict] | None = None,
                  same: list[SameAnswers] | None = None) -> None:
    """flagged.md: every submission not graded or flagged, every graded one with something waiting for the
    instructor's grade in formgrader (``marks``' pending: an answer graded by hand, new or changed since graded),
    the hand-ins of a lesson whose answers are the same (``same``, :func:`autograde.answers.same_answers`), and
    every input file that was not graded (a student whose hand-in held no notebook has no result, so no other
    report names them)."""
    flagged = [r for r in rows if r.flags or r.status != "graded"]
    lines = ["# Submissions to look at", ""]
    if not flagged:
        lines.append("None: every submission was graded and nothing was flagged.")
    for row in flagged:
        facts = late_work.describe_late({"status": row.status, "score": row.raw_score, "late": row.late})
        cost = f" ({facts.summary()})" if facts else ""
        name = (names or {}).get(row.student, "")
        named = f" ({_markdown_text(name)})" if name and name != row.student else ""
        lines.append(f"- **{_markdown_text(row.student)}**{named} {row.lesson}: {row.status}, "
                     f"{_score_said(row.status, row.score, row.max_score)}{cost}")
        if row.detail:
            # Paths and messages may hold a learner's file names: shown as text, never as Markdown or HTML.
            lines.append(f"  - {_markdown_text(row.detail.strip().splitlines()[0][:300])}")
        for flag in row.flags:
            lines.append(f"  - `{flag}`: {FLAG_MEANING.get(flag, '')}")
    lines += ["", "Flags never cost points by themselves; the tests decide the score.", ""]
    waiting = []
    for row in rows:
        mark = (marks or {}).get((row.student, row.lesson)) or {}
        if row.status == "graded" and mark.get("pending"):
            cells = [f"`{cell}`" + (" (changed since you graded it)" if cell in mark.get("scores", {}) else "")
                     for cell in sorted(mark["pending"])]
            waiting.append(f"- **{_markdown_text(row.student)}** {row.lesson}: {', '.join(cells)}")
    if waiting:
        lines += [f"## Waiting for your grade in formgrader ({len(waiting)})", "",
                  "Answers graded by hand that have no grade yet, or changed since they were graded (the grade "
                  "given before is kept until you grade again); the score above counts what is graded.", "",
                  *waiting, ""]
    if same:
        def named_as(student: str) -> str:
            name = (names or {}).get(student, "")
            return _markdown_text(student) + (f" ({_markdown_text(name)})" if name and name != student else "")

        def alike(group: SameAnswers) -> str:
            rest = group.cells - group.given
            untouched = f" (the other {rest} as released or empty in each)" if rest > 0 else ""
            return (f"- {group.lesson}: {group.given} of {group.cells} answers the same{untouched}: "
                    f"{', '.join(named_as(s) for s in group.students)}")

        lines += [f"## Same answers ({len(same)})", "",
                  "Graded hand-ins of one lesson that answered the same answer cells the same way, comments and "
                  "spacing aside, and left every other answer cell as released: how many answers they share, of the "
                  "lesson's answer cells. Listed only when they share at least half of the lesson's answer cells and "
                  f"at least {MIN_SHARED} (all of them in a lesson with fewer): one or two short answers written alike "
                  "mean little. A fact to look at, not a finding (a short exercise can be written alike by two "
                  "people). No student's page says it.", "",
                  *(alike(group) for group in same), ""]
    if skipped:
        lines += [f"## Files not graded ({len(skipped)}, intake.csv)", ""]
        for line in skipped[:100]:
            who = ", ".join(filter(None, [line.get("student", ""), line.get("lesson", "")]))
            lines.append(f"- {_markdown_text(line.get('input') or line.get('source') or '(no file)')}"
                         + (f" ({_markdown_text(who)})" if who else "") + f": {_markdown_text(line.get('note', ''))}")
        if len(skipped) > 100:
            lines.append(f"- and {len(skipped) - 100} more: intake.csv lists them all")
        lines.append("")
    _atomic_write(path, "\n".join(lines))


STATUS_TEXT = {"pass": N_("passed"), "fail": N_("failed"), "timeout": N_("stopped: time limit"),
               "died": N_("kernel died"), "grader-error": N_("not graded (grader problem)"), "not-run": N_("not run")}


STATUS_FOR_LEARNER = {
    "missing": N_("No notebook was found for this lesson."),
    "invalid-notebook": N_("The file could not be read as a notebook. Download it again from JupyterLab "
                           "(File > Download) and hand that file in."),
    "grader-error": N_("The grader could not grade this notebook. This is not your mistake; your instructor "
                       "has been told."),
}

# What is wrong with a handed-in file that is no notebook (NotebookProblem.reason), for the learner: the page's
# words, in every language of the course, since nothing in such a file says which one its learner reads.
FILE_PROBLEM = {
    "empty": N_("The file you handed in is empty: the upload or the save did not complete. Open the notebook in "
                "JupyterLab, save it (File > Save), check that it opens, and hand it in again."),
    "too-large": N_("The file you handed in is larger than a notebook of this course may be: its outputs are too "
                    "large. Clear them (Edit > Clear Outputs of All Cells), save, and hand it in again."),
    "cut-off": N_("The file you handed in is not a whole notebook: its text stops or breaks part-way (an upload cut "
                  "short, or the file changed in another program). Download the notebook again from JupyterLab "
                  "(File > Download) and hand that file in."),
    "not-text": N_("The file you handed in is not a notebook's text (another kind of file, or saved by another "
                   "program). Download the notebook from JupyterLab (File > Download) and hand that file in."),
}

# A result's status as the learner's page names it (English: as recorded).
STATUS_NAME = {"graded": N_("graded"), "missing": N_("missing"), "invalid-notebook": N_("invalid-notebook"),
               "grader-error": N_("grader-error")}

def page_language(result: dict) -> str:
    """The language of a learner's feedback page: the result's (``result["language"]``, the notebook's edition),
    else English; never the grading process's own."""
    lang = result.get("language")
    return lang if lang in LANGUAGES else "en"


def _missing_why(result: dict, lang: str = "en") -> str:
    """A missing notebook's words for the learner who handed in something else to the assignment: what it was
    ('conv.py', another lesson's notebook), so the page does not read as if nothing came in."""
    handed = [str(item) for item in result.get("handed_in") or []] if result.get("status") == "missing" else []
    if not handed:
        return ""
    notebooks = [item.removesuffix(" notebook") for item in handed if item.endswith(" notebook")]
    files = [item for item in handed if not item.endswith(" notebook")]
    said = ([translation(N_("the notebook of lesson {lessons} (it belongs to that lesson, not this one)"), lang)
             .format(lessons=", ".join(notebooks))] if notebooks else []) + (
        [translation(N_("{files} (not a notebook of this lesson: hand in the .ipynb file)"), lang)
         .format(files=", ".join(files))] if files else [])
    what = said[0] if len(said) == 1 else translation(N_("{first} and {second}"), lang).format(
        first=said[0], second=said[1])
    return translation(N_("No notebook of this lesson was found. You handed in {what}."), lang).format(what=what)


def feedback_html(result: dict, marks: dict | None = None, name: str = "") -> str:
    """A page for the learner: score, each test's verdict and message. Never test source or hidden values.

    ``marks`` (:func:`gradebook_marks`): the instructor's scores and comments from formgrader, shown with the
    gradebook's grade. ``name``: the student's name as the gradebook has it, shown before the id (a page
    handed back through an LMS or by e-mail says whose it is in words). The page is in the learner's language
    (:func:`page_language`: a Korean notebook's page is in Korean), through the package catalog."""
    e = html.escape
    lang = page_language(result)

    def say(message: str) -> str:
        return translation(message, lang)

    def said(message: str) -> str:                                    # as page text (the page said "instructor's")
        return e(say(message), quote=False)

    who = f"{e(name)} ({e(result['student'])})" if name and name != result["student"] else e(result["student"])
    from .check import NOT_ANSWERED, not_started

    rows = []
    scores = dict((marks or {}).get("scores", {}))
    by_instructor = said(N_("graded by your instructor"))
    for test in result.get("tests", []):
        status = test["status"]
        found = test.get("message") or ""
        found = say(found) if found in GRADER_TEST_MESSAGES else found
        if status == "fail" and not_started(test):          # as the self-check says it: no stub's text, no test code
            found = say(NOT_ANSWERED)
        message = f"<pre>{e(found)}</pre>" if found else ""
        # A test the grader could not run has no points yet (it is run again), not 0 of them.
        got = "&ndash;" if result.get("status") == "grader-error" or status == "grader-error" else f"{test['points']:g}"
        points, verdict = f"{got} / {test['max_points']:g}", e(say(STATUS_TEXT[status]) if status in STATUS_TEXT
                                                             else status)
        if test["grade_id"] in scores:
            manual, _ = scores.pop(test["grade_id"])
            points, verdict = f"{manual:g} / {test['max_points']:g}", f"{verdict}; {by_instructor}"
        rows.append(f"<tr class='{e(status)}'><td><code>{e(test['grade_id'])}</code></td>"
                    f"<td>{points}</td><td>{verdict}</td><td>{message}</td></tr>")
    # What waits for the instructor's look (a new or changed answer graded by hand); a test the grader could not
    # run already says so in its own row.
    pending = dict((marks or {}).get("pending", {})) if result.get("status") == "graded" else {}
    for test in result.get("tests", []):
        pending.pop(test["grade_id"], None)
    for cell, (manual, most) in sorted(scores.items()):              # answers graded by hand
        verdict = say(N_("graded by your instructor on the notebook you handed in before; your new answer waits for "
                         "their look") if cell in pending else N_("graded by your instructor"))
        pending.pop(cell, None)
        rows.append(f"<tr class='manual'><td><code>{e(cell)}</code></td><td>{manual:g} / {most:g}</td>"
                    f"<td>{e(verdict, quote=False)}</td><td></td></tr>")
    waits = said(N_("waits for your instructor's grade"))
    for cell, most in sorted(pending.items()):
        rows.append(f"<tr class='manual'><td><code>{e(cell)}</code></td><td>&ndash; / {most:g}</td>"
                    f"<td>{waits}</td><td></td></tr>")
    earlier = result.get("earlier_comments") or {}
    before = said(N_("(written about the notebook you handed in before this one)"))
    comments = "".join(f"<dt><code>{e(cell)}</code></dt><dd>{e(text)}" + (
        f"<br><i>{before}</i>" if earlier.get(cell) == text else "")
        + "</dd>"
        for cell, text in sorted((marks or {}).get("comments", {}).items()))
    heading = said(N_("Your instructor's comments"))
    comments = f"<section class='comments'><h2>{heading}</h2><dl>{comments}</dl></section>" if comments else ""
    # Flags are notes for the instructor (flagged.md, the class report), never on the student's page (what the run
    # met that the self-check tells the learner too, below, is said in the learner's words).
    # The result's detail (a traceback, a path, a parser's message) is the instructor's: a learner reads why
    # in plain words.
    status_why = (FILE_PROBLEM.get(result.get("reason", "")) if result.get("status") == "invalid-notebook" else "") \
        or STATUS_FOR_LEARNER.get(result.get("status", ""), "")
    why = _missing_why(result, lang) or (say(status_why) if status_why else "") or (
        say(N_("The notebook you handed in is the lesson's notebook as the course released it, with no answer "
               "written. If you did the exercises, you handed in the course's copy instead of the notebook you "
               "worked in (in JupyterLab, the one in your my-work folder): hand that one in."))
        if "as-released" in result.get("flags", []) else "") or (
        say(N_("Grading stopped early in this notebook; the tests that did not run are marked below."))
        if result.get("detail") else "")
    detail = f"<p class='detail'>{e(why)}</p>" if why else ""
    if result.get("status") == "invalid-notebook" and not result.get("language") and status_why:
        detail += "".join(f"<p class='detail' lang='{other}'>{e(translation(status_why, other))}</p>"
                          for other in LANGUAGES if other != lang)
    # What went wrong while the notebook ran, as `autograde check` tells the learner (an instructor's trial: a notebook
    # that printed 50 MB was told nothing); not on a page the grading machine could not grade (its fault, not theirs).
    from .check import problem_sentences

    if result.get("status") != "grader-error":
        for said_here in problem_sentences(result, say):
            detail += f"<p class='detail'>{e(said_here[:1].upper() + said_here[1:])}</p>"
    max_score = sum(t["max_points"] for t in result.get("tests", [])) or result.get("max_score", 0)
    # Lateness, in the words the class report uses (autograde.late.LateFacts); nothing when on time.
    facts = late_work.describe_late(result)
    score = late_work.final_score(result) if result.get("status") == "graded" else float(result.get("score", 0))
    by_hand = sum(most for _, most in scores.values())               # answers graded in formgrader
    if marks and result.get("status") == "graded":
        score = marks["final"]                                         # the gradebook's, as the LMS gets it
        max_score += by_hand
    # The lesson's points, as the gradebook and the LMS count them: answers the instructor grades by hand and has
    # not graded yet count too (the page said 4 / 4 while the LMS had 4 of 5).
    waiting = float(result.get("lesson_max_score") or 0) - max_score
    if waiting > 1e-9:
        max_score += waiting
    if waiting > 1e-9 and result.get("status") == "graded":
        detail += "<p class='detail'>" + e(say(N_("{waiting} point(s) of this lesson are for answers graded by hand; "
                                                   "they are not graded yet.")).format(waiting=f"{waiting:g}")) + "</p>"
    late = ""
    if facts is not None:
        late = (f"<section class='late'><h2>{e(say(N_('Late submission')))}</h2><table>" + "".join(
            f"<tr><th>{e(label)}</th><td>{e(value)}</td></tr>" for label, value in facts.rows(lang))
            + "</table></section>")
    # The grading machine's failure is no score of the learner's: the gradebook keeps what it had, the next run grades.
    score_text = (f"<b>{e(say(N_('not graded yet')))}</b> {e(say(N_('(of {total})')).format(total=f'{max_score:g}'))}"
                  if result.get("status") == "grader-error" else f"<b>{score:g} / {max_score:g}</b>")
    penalty = (" (" + e(say(N_("late penalty {penalty} taken off {raw}")).format(
        penalty=f"{facts.penalty:g}", raw=f"{facts.raw:g}")) + ")") if facts and facts.penalty else ""
    # A page with no test to show (no notebook was found) has no table of tests: only its header was left.
    heads = "".join(f"<th>{e(say(head))}</th>" for head in (N_("test"), N_("points"), N_("verdict"),
                                                             N_("what the test found")))
    table = (f"<table><thead><tr>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table>") if rows else ""
    status = result["status"]
    shown_status = say(STATUS_NAME[status]) if status in STATUS_NAME else status
    if status == "graded" and waiting > 1e-9:       # "graded" read as done while hand-graded points wait (a trial)
        shown_status = say(N_("graded automatically; the answers graded by hand wait"))
    # The learner's own edition: without --lang, check reads my-work/<lesson>/ (the English copy) and speaks English.
    command = f"<code>python -m autograde check {e(result['lesson'][:2])}{'' if lang == 'en' else ' --lang ' + lang}</code>"
    # the hidden checks are spoken of only on a page that shows tests (a student who sent no notebook ran none)
    closing = ((e(say(N_("Hidden checks say what failed and give a hint, never their inputs or expected values.")))
                + "\n") if rows else "") + (e(say(N_("Run {command} on your notebook to see the visible checks in full.")))
               .replace("{command}", command))
    title = e(say(N_("{lesson}: feedback for {who}"))).replace("{lesson}", e(result["lesson"])).replace("{who}", who)
    # The lesson as the learner's notebook names it, in the page's language (the slug beside it: the file's name)
    titles = result.get("titles")
    kept = titles.get(lang) if isinstance(titles, dict) else None
    named = kept if isinstance(kept, str) and kept else lesson_title(str(result["lesson"]), lang)
    heading = e(named) + (f" <small>({e(result['lesson'])})</small>" if named != result["lesson"] else "")
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border-bottom: 1px solid #ddd; padding: .4rem;
vertical-align: top; text-align: left; }} pre {{ white-space: pre-wrap; margin: 0; }}
th, td:nth-child(2) {{ white-space: nowrap; }} :lang(ko) {{ word-break: keep-all; }}
tr.pass td:nth-child(3) {{ color: #1a7f37; }} tr.fail td:nth-child(3), tr.died td:nth-child(3),
tr.timeout td:nth-child(3) {{ color: #b42318; }}
section.late {{ border-left: 4px solid #d4a72c; padding: .2rem 1rem; margin: 1rem 0; }}
section.late th {{ width: 14rem; font-weight: normal; color: #555; }}
</style></head><body>
<h1>{heading}</h1>
<p>{e(say(N_("Student")))}: <b>{who}</b>. {e(say(N_("Status")))}: <b>{e(shown_status)}</b>.
{e(say(N_("Score")))}: {score_text}{penalty}.</p>
{detail}
{late}
{table}
{comments}
<p>{closing}</p>
</body></html>
"""


def needs_rerun(rows: list[GradeRow]) -> list[GradeRow]:
    """The rows with no final grade: the grading machine failed on them (the next run grades them again)."""
    return [r for r in rows if r.status not in LEARNER_STATUSES or "grader-error" in r.flags]


def main_summary(rows: list[GradeRow], out: Path) -> str:
    graded = sum(r.status == "graded" for r in rows)
    flagged = sum(bool(r.flags) or r.status != "graded" for r in rows)
    # rows: every submission OUT holds (a --student run adds to a class folder), not this run's alone
    return (f"{graded} of the {len(rows)} submissions in {out} are graded; grades in {out / 'grades.csv'}; "
            f"{flagged} to look at in {out / 'flagged.md'}; feedback in {out / 'feedback'}")

