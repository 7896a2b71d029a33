"""A learner's self-check: the grader's own engine, run on the learner's notebook.

`check` and `grade` share one code path (:func:`autograde.runner.grade_submission`): the same plan (the
lesson's test cells put back after their answers, whatever the notebook did to its copies), the same
tests run outside the learner's kernel, the same messages. So the self-check never disagrees with the
instructor's grade. On the learner's own machine the kernel runs without the sandbox (their code, their
machine). The test source, and so the hidden tests, is never printed.

Where the course's ``solutions/`` is not there (a learner who was handed only ``notebooks/``), the visible
tests of the student version run, and the report says that the hidden ones run when the instructor grades.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cnnbook.i18n import N_, _, columns, padded

from .lessons import Lesson, UsageError, all_lessons, grade_cells, lesson_ids, read_notebook
from .runner import grade_submission
from .settings import grading_limits


@dataclass
class TestResult:
    grade_id: str
    points: float
    passed: bool
    message: str = ""
    visible_passed: bool = False      # the visible checks passed and a hidden one failed
    not_started: bool = False         # the answer cell still raises the stub's NotImplementedError

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0


@dataclass
class CheckReport:
    lesson: Lesson
    path: Path
    results: list[TestResult] = field(default_factory=list)
    problem: str = ""            # set when something stopped part of the run (a kernel death, a time limit)
    hidden_included: bool = True

    @property
    def score(self) -> float:
        return sum(r.score for r in self.results)

    @property
    def max_score(self) -> float:
        return sum(r.points for r in self.results)


PROBLEMS = {
    "kernel-died": N_("the Python kernel died while running your notebook (it ran out of memory, or the code called "
                   "os._exit or crashed the interpreter). It was restarted and the tests after that point still ran."),
    "timeout": N_("a cell or a test ran past its time limit and was stopped: is there an endless loop?"),
    "test-cell-edited": N_("a test cell was edited in your notebook; the original test ran instead."),
    "test-cell-deleted": N_("a test cell was deleted from your notebook; the original test ran anyway."),
    "test-cell-moved": N_("a test cell was moved; it ran in its original place, after its exercise."),
    "output-limit": N_("a cell printed more than the output limit; the rest was dropped."),
}


# A learner's cell that was stopped (runner: result["stopped"]), named by its first line; what it defined above its
# first other statement was run again in the new kernel (runner.leading_statements).
STOPPED_CELL = {
    "timeout": N_("The cell that starts with «{cell}» ran past its time limit and was stopped: is there an endless "
                  "loop, or a loop that does far more work than it needs?"),
    "died": N_("The Python kernel died in the cell that starts with «{cell}» (it ran out of memory, or the code "
               "called os._exit or crashed the interpreter); it was restarted and the tests after it still ran."),
}
KEPT_DEFINITIONS = N_("What that cell defines above the statement that stopped it ({names}) was run again, so the "
                      "tests after it could use it.")


def problem_sentences(result: dict, say: Callable[[str], str]) -> list[str]:
    """What went wrong while the notebook ran, as the self-check and the feedback page tell the learner (``say``:
    a message in their language): each stopped cell by its first line, with what was kept of it; then PROBLEMS' sentence
    of each other flag (a stopped test's own message says it was stopped: the general sentence stays only when no
    cell of that kind was named)."""
    said, named = [], set()
    for stop in result.get("stopped") or []:
        if not (isinstance(stop, dict) and stop.get("how") in STOPPED_CELL):
            continue
        named.add("timeout" if stop["how"] == "timeout" else "kernel-died")
        text = say(STOPPED_CELL[stop["how"]]).format(cell=str(stop.get("cell", "")))
        kept = [str(name) for name in stop.get("kept") or []]
        said.append(f"{text} {say(KEPT_DEFINITIONS).format(names=', '.join(kept))}" if kept else text)
    said += [say(PROBLEMS[flag]) for flag in result.get("flags", []) if flag in PROBLEMS and flag not in named]
    return said


def source_lesson(lesson: Lesson) -> tuple[Lesson, bool]:
    """The notebook the tests come from: the source with hidden tests, or else the student version."""
    if lesson.source.is_file():
        return lesson, True
    return Lesson(lesson.slug, lesson.student_version.parent.parent), False


def check_notebook(lesson: Lesson, path: Path, cell_timeout: float | None = None,
                   sandbox: bool = False, lang: str | None = None,
                   on_event: Callable[[str, dict], None] | None = None) -> CheckReport:
    """Run the learner's notebook at ``path`` against every test of ``lesson`` (hidden ones where available).

    The limits are grading's (nbgrader_config.py's ``GradingLimits``, see :mod:`autograde.settings`);
    ``cell_timeout`` replaces the time one cell or test may take. ``lang``: the tests' messages in this
    language; by default the notebook's own (the Korean edition's metadata), else ``CNNBOOK_LANG``'s.
    ``on_event`` hears of the run as it goes (``grade_submission``'s; :class:`Watch` tells the learner)."""
    notebook = read_notebook(path)           # a missing or broken file is the CLI's clear error, not a result
    tests_from, hidden = source_lesson(lesson)
    note = _which_lesson(notebook, lesson, path)
    limits = grading_limits().limits(cell_timeout)
    result = grade_submission({"student": "you", "lesson": lesson.slug, "solutions": str(tests_from.solutions),
                               "path": str(path.resolve()), "limits": limits, "sandbox": sandbox,
                               "threads": os.cpu_count() or 1, **({"lang": lang} if lang else {})},
                              on_event=on_event)
    return report_of(lesson, path, result, hidden, note)


STILL_RUNNING_CELL = N_("… still running the cell that starts with «{cell}» ({seconds:.0f} s so far; a cell is stopped "
                        "after {limit:.0f} s).")
STILL_RUNNING_TEST = N_("… still running the test {grade_id} ({seconds:.0f} s so far; a test is stopped after "
                        "{limit:.0f} s).")
STOPPED_TEST = {
    "timeout": N_("The test {grade_id} ran past its time limit and was stopped."),
    "died": N_("The Python kernel died in the test {grade_id}; it was restarted."),
}
GOES_ON = N_("The check goes on with the rest of the notebook.")


class Watch:
    """What a learner waiting on ``cnn-course check`` reads while it runs (``check_notebook``'s ``on_event``): a line
    when one cell or test has been running ``after`` seconds (a cell with an endless loop once left the screen silent
    until its time limit, a minute and more), and at once when one was stopped, the sentence the report will give.
    Use as a context manager; ``write`` prints a line (default: to stdout, flushed)."""

    def __init__(self, after: float = 10.0, write: Callable[[str], None] | None = None, poll: float = 0.5):
        self.after, self.poll = after, poll
        self.write = write or (lambda line: print(line, file=sys.stdout, flush=True))
        self._lock = threading.Lock()
        self._step: dict | None = None        # the cell or test running: kind, details, when it began, said yet
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="check-watch", daemon=True)

    def __enter__(self) -> "Watch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def __call__(self, kind: str, details: dict) -> None:
        if kind in ("cell", "test"):
            with self._lock:
                self._step = {"kind": kind, "details": details, "began": time.monotonic(), "said": False}
        elif kind == "stopped":
            with self._lock:
                self._step = None
            how = details.get("how")
            if "cell" in details and how in STOPPED_CELL:
                line = _(STOPPED_CELL[how]).format(cell=details["cell"])
            elif how in STOPPED_TEST:
                line = _(STOPPED_TEST[how]).format(grade_id=details.get("grade_id", "?"))
            else:
                return
            self.write(f"{line} {_(GOES_ON)}")

    def _watch(self) -> None:
        while not self._done.wait(self.poll):
            with self._lock:
                step = self._step
                if step is None or step["said"] or time.monotonic() - step["began"] < self.after:
                    continue
                step["said"] = True
            details, seconds = step["details"], time.monotonic() - step["began"]
            if step["kind"] == "cell":
                self.write(_(STILL_RUNNING_CELL).format(cell=details.get("cell", ""), seconds=seconds,
                                                         limit=details.get("seconds", 0)))
            else:
                self.write(_(STILL_RUNNING_TEST).format(grade_id=details.get("grade_id", ""), seconds=seconds,
                                                         limit=details.get("seconds", 0)))


def report_of(lesson: Lesson, path: Path, result: dict, hidden: bool = True, note: str = "") -> CheckReport:
    """What the self-check tells the learner of one graded submission (``grade_submission``'s result, or a batch's
    ``OUT/results/<student>/<lesson>.json``: the same dict), in the current language (:mod:`cnnbook.i18n`)."""
    report = CheckReport(lesson, path, hidden_included=hidden)
    broken = result["status"] == "grader-error"          # this computer's or the checker's fault, not the notebook's
    for test in result["tests"]:
        passed = test["status"] == "pass"
        report.results.append(TestResult(test["grade_id"], float(test["max_points"]), passed,
                                         "" if passed else _("not run: the check could not run here (see the note "
                                                             "below)") if broken else _learner_message(test),
                                         visible_passed=bool(test.get("hidden")) and not passed,
                                         not_started=not passed and not_started(test)))
    problems = problem_sentences(result, _)
    if broken:
        # Written for the grading machine's instructor ("fewer --workers", a traceback): the learner reads its last
        # line, said to be no mistake of theirs, and what to do here.
        why = (result.get("detail") or "").strip().splitlines() or [result["status"]]
        problems.insert(0, _("The check could not run on this computer (not a mistake in your notebook): {why}. "
                             "Close programs you do not need and run the check again; if it fails again, restart "
                             "the computer.").format(why=why[-1].strip().rstrip(".")))
    elif result["status"] != "graded":
        problems.insert(0, result.get("detail", "") or result["status"])
    if note:
        problems.insert(0, note)
    report.problem = " ".join(problems)
    return report


def _which_lesson(notebook, lesson: Lesson, path: Path) -> str:
    """Refuse another lesson's notebook by name; return a note when the notebook has none of the cells."""
    ids = set(grade_cells(notebook))
    if ids & lesson_ids(lesson):
        return ""
    if ids:
        others = [(len(ids & lesson_ids(other)), other) for other in all_lessons(lesson.solutions)
                  if other.slug != lesson.slug]
        overlap, best = max(others, key=lambda pair: pair[0], default=(0, None))
        if best is not None and overlap:
            exercises = sorted(ids & lesson_ids(best))
            shown = ", ".join(e for e in exercises if not e.startswith("test_"))[:200] or ", ".join(exercises)
            raise UsageError(_("{path} is the notebook of lesson {other} (its exercises: {shown}), not of lesson "
                               "{lesson}. Check it with: python -m autograde check {number} {path}").format(
                path=path, other=best.slug, shown=shown, lesson=lesson.slug, number=best.number))
    return _("{path} has none of lesson {lesson}'s exercise cells (nbgrader cells): is it the right notebook? "
             "Each test ran after the last cell.").format(path=path, lesson=lesson.slug)


def not_started(test: dict) -> bool:
    """The exercise's answer cell still raises the stub's NotImplementedError (its name may be defined above the
    raise, so the test fails on its own terms: still "not answered yet"). Not when the NotImplementedError came from
    an earlier exercise the answer uses (the runner says which: ``uses_failed``): a learner's nms that calls their
    unanswered box_iou was "not answered yet" too, and nothing named box_iou (a learner's trial)."""
    if test.get("unanswered"):
        return True
    return "NotImplementedError" in test.get("message", "") and not test.get("uses_failed")


NOT_ANSWERED = N_("not answered yet: the answer cell still raises NotImplementedError.")


def _learner_message(test: dict) -> str:
    message = test.get("message", "")
    if not_started(test):
        return _(NOT_ANSWERED)
    return message or _("this test did not pass.")


def format_report(report: CheckReport) -> str:
    from .text import terminal_safe

    lines = [terminal_safe(_("Lesson {lesson}: {path}").format(lesson=report.lesson.slug, path=report.path))]
    marks = {"pass": _("PASS"), "todo": _("TO DO"), "fail": _("FAIL")}
    width = max(columns(mark) for mark in marks.values()) + 2       # the test names line up, in Korean too
    for r in report.results:
        mark = marks["pass" if r.passed else "todo" if r.not_started else "fail"]
        lines.append(f"  {padded(f'[{mark}]', width)} {r.grade_id:<28} "
                     + _("{score}/{points} points").format(score=f"{r.score:g}", points=f"{r.points:g}"))
        if not r.passed:
            if r.visible_passed:
                lines.append("         " + _("The visible checks passed, but a hidden check found a problem:"))
            for text in r.message.split("\n"):         # a learner's text can never act on the terminal
                lines.append(f"         {terminal_safe(text)}")
    if report.problem:
        lines.append("  " + terminal_safe(_("Note: {note}").format(note=report.problem)))
    lines.append(_("Score: {score} / {max_score}").format(score=f"{report.score:g}", max_score=f"{report.max_score:g}"))
    if not report.hidden_included:
        lines.append(_("These were the visible tests only: the hidden tests run when your instructor grades the "
                       "notebook."))
    elif report.results and report.score == report.max_score and not report.problem:
        lines.append(_("Every test passes, hidden ones included. Well done."))
    return "\n".join(lines)
