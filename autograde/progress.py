"""``python -m autograde progress``: every lesson, every exercise: pass, fail or not started, with points.

Each lesson is run by the self-check's engine (:func:`autograde.check.check_notebook`: the grader's own
runner, hidden tests included where ``solutions/`` is there), on the notebook the learner works in (their
copy in ``my-work/``, else ``notebooks/``). An exercise whose answer cell is still exactly as released is
"not started"; a lesson with no answer touched is not run at all. Results are kept in the work folder,
keyed by the notebook's and the tests' sha256, so an unchanged lesson is not run again.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from cnnbook.i18n import N_, _
from cnnbook.workspace import learner_notebook, work_dir

from .check import check_notebook, source_lesson
from .text import shortened
from .lessons import Lesson, NotebookProblem, grade_cells, is_test_cell, read_notebook
from .runner import fingerprint

PASS, FAIL, NOT_STARTED = "pass", "fail", "not started"
CACHE = ".progress-cache.json"


@dataclass
class Exercise:
    name: str            # the answer cell's grade_id (the function's name), or the test's when it has none
    test: str            # the test cell's grade_id
    points: float
    status: str = NOT_STARTED
    score: float = 0.0
    message: str = ""    # the first line of what failed


@dataclass
class LessonProgress:
    slug: str
    path: str
    exercises: list[Exercise] = field(default_factory=list)
    hidden_included: bool = True
    note: str = ""
    cached: bool = False

    @property
    def score(self) -> float:
        return sum(e.score for e in self.exercises)

    @property
    def max_score(self) -> float:
        return sum(e.points for e in self.exercises)

    def count(self, status: str) -> int:
        return sum(e.status == status for e in self.exercises)


def exercises_of(source: nbformat.NotebookNode) -> list[Exercise]:
    """The lesson's tests in order, each named after the answer cell just before it."""
    out, last_answer = [], None
    for cell in source.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and cell.get("cell_type") == "code":
            last_answer = meta.get("grade_id")
        elif is_test_cell(cell):
            gid = meta["grade_id"]
            out.append(Exercise(last_answer or gid, gid, float(meta.get("points", 0))))
    return out


def untouched_answers(learner: nbformat.NotebookNode, released: nbformat.NotebookNode) -> set[str]:
    """Answer cells of ``learner`` whose text is still exactly the released stub."""
    mine = grade_cells(learner)
    return {gid for gid, cell in grade_cells(released).items()
            if cell.metadata.nbgrader.get("solution") and gid in mine
            and mine[gid].source.strip() == cell.source.strip()}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def cache_key(path: Path, tests: Path, hidden: bool, lang: str) -> str:
    """What a cached line of the table stands for: the notebook, the tests and the grading code (runner.fingerprint),
    this module (which reads the cache back: grading's fingerprint leaves it out), and the language of the messages."""
    return f"{_digest(path)}:{fingerprint(tests)}:{_digest(Path(__file__))}:{hidden}:{lang}"


def lesson_progress(lesson: Lesson, path: Path | None = None, cache: dict | None = None,
                    timeout: float | None = None, lang: str = "en") -> LessonProgress:
    path = path or learner_notebook(lesson.slug, lang=lang)
    tests_from, hidden = source_lesson(lesson)
    source = nbformat.read(tests_from.source, as_version=4)
    progress = LessonProgress(lesson.slug, str(path), exercises_of(source), hidden_included=hidden)
    from cnnbook.i18n import language

    key = cache_key(path, tests_from.source, hidden, language())
    if cache is not None and cache.get(lesson.slug, {}).get("key") == key:
        stored = cache[lesson.slug]
        progress.exercises = [Exercise(**e) for e in stored["exercises"]]
        progress.note, progress.cached = stored.get("note", ""), True
        return progress
    try:
        learner = read_notebook(path)
    except NotebookProblem as problem:
        progress.note = str(problem) if path.exists() else _("not opened yet")
        return progress
    student_version = lesson.student_version
    if lang != "en" and path.parent.parent.name == lang:     # the translated edition: its own stubs
        translated = student_version.parent.parent / lang / lesson.slug / student_version.name
        student_version = translated if translated.is_file() else student_version
    released = nbformat.read(student_version, as_version=4) if student_version.is_file() else source
    untouched = untouched_answers(learner, released)
    answers = {gid for gid, c in grade_cells(released).items() if c.metadata.nbgrader.get("solution")}
    if not answers or not answers <= untouched:
        report = check_notebook(lesson, path, cell_timeout=timeout)
        results = {r.grade_id: r for r in report.results}
        progress.note = report.problem
        for exercise in progress.exercises:
            result = results.get(exercise.test)
            if exercise.name in untouched or result is None:
                continue
            exercise.status = PASS if result.passed else FAIL
            exercise.score = result.score
            if not result.passed:
                first = " ".join(ln.strip() for ln in result.message.splitlines() if ln.strip())
                exercise.message = (_("a hidden check failed: ") if result.visible_passed else "") + first
    if cache is not None:
        cache[lesson.slug] = {"key": key, "note": progress.note,
                              "exercises": [asdict(e) for e in progress.exercises]}
    return progress


def load_cache(work: Path | None = None) -> dict:
    try:
        data = json.loads(((work or work_dir()) / CACHE).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def save_cache(cache: dict, work: Path | None = None) -> None:
    folder = work or work_dir()
    if folder.is_dir():
        (folder / CACHE).write_text(json.dumps(cache, indent=1, sort_keys=True), encoding="utf-8")


def course_progress(lessons: list[Lesson], use_cache: bool = True, on_start: Callable[[int, Lesson], None] | None = None,
                    timeout: float | None = None, lang: str = "en") -> list[LessonProgress]:
    """Every lesson's progress, in order; ``on_start(i, lesson)`` is called before each lesson. ``lang``: the
    edition (``"ko"``: the learner's copies in ``my-work/ko/``)."""
    cache = load_cache() if use_cache else {}
    out = []
    for i, lesson in enumerate(lessons):
        if on_start:
            on_start(i, lesson)
        out.append(lesson_progress(lesson, cache=cache, timeout=timeout, lang=lang))
        if use_cache:
            save_cache(cache)
    return out


MARKS = {PASS: N_("✔ pass"), FAIL: N_("✘ fail"), NOT_STARTED: N_("· not started")}


def format_progress(progress: list[LessonProgress]) -> str:
    lines = []
    width = max([len(e.name) for p in progress for e in p.exercises] + [10])
    for p in progress:
        lines.append(f"{p.slug}  " + _("{score}/{points} points").format(score=f"{p.score:g}",
                                                                          points=f"{p.max_score:g}") + f"   ({p.path})")
        for e in p.exercises:
            lines.append(f"  {_(MARKS[e.status]):<14} {e.name:<{width}} {e.score:g}/{e.points:g}"
                         + (f"   {shortened(e.message, 110)}" if e.message else ""))
        if p.note:
            lines.append("  " + _("Note: {note}").format(note=p.note))
    total = sum(p.score for p in progress)
    possible = sum(p.max_score for p in progress)
    done = sum(p.count(PASS) for p in progress)
    count = sum(len(p.exercises) for p in progress)
    lines.append(_("Total: {total}/{possible} points; {done} of {count} exercises pass.").format(
        total=f"{total:g}", possible=f"{possible:g}", done=done, count=count))
    if progress and not all(p.hidden_included for p in progress):
        lines.append(_("Visible tests only: the hidden tests run when your instructor grades the notebooks."))
    return "\n".join(lines)
