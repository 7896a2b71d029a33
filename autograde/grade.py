"""Grade a batch of submissions: sandboxed, in parallel, resumable; grades into nbgrader's gradebook.

Input: ``DIR/<student>/<NN_slug>/<NN_slug>.ipynb`` (nbgrader's submitted/ layout), or a flat folder or a
.zip of ``<student>_<NN_slug>.ipynb`` files as an LMS exports them. Each submission is graded by
:func:`autograde.runner.grade_submission` in a worker (local processes, or a Dask cluster); this process
alone writes the gradebook and OUT, so SQLite is never written by two processes at once.

OUT/ holds grades.csv, flagged.md, feedback/<student>/<NN_slug>.html, autograded/ (for formgrader),
results/ (one JSON per submission: the resume record) and gradebook.db unless --db names another.
"""
from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import re
import shutil
import time
import warnings
import zipfile
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from .lessons import ROOT, SOLUTIONS, Lesson, UsageError, all_lessons
from .publish import publishable_text
from .runner import grade_submission
from .sandbox import sweep_stale_cgroups

CSV_HEADER = ["student", "lesson", "score", "max_score", "status", "flags"]
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
FLAT_NAME = re.compile(r"^(?P<student>.+?)_(?P<slug>\d\d_[a-z0-9_]+)\.ipynb$")
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
    "renamed-notebook": "the notebook had another name; the only notebook in the folder was graded",
    "tampering": "the code touches the grader's machinery (patched numpy/torch/checks, __eq__, excepthook, "
                 "AST transformers...): it cannot change a verdict here, but look at it",
    "reads-grader-files": "the code looks for solutions, the gradebook or the grading mode",
    "process-tricks": "the code uses os._exit, fork, signals, subprocesses, sockets or ctypes",
    "grader-error": "a test could not run here (a fault of the test or of the grader, not of the learner)",
}


@dataclass
class Submission:
    student: str
    lesson: Lesson
    path: Path | None            # None: no notebook for this lesson
    flags: list[str] = field(default_factory=list)
    note: str = ""


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


# --- finding submissions -------------------------------------------------------------------------------

def _unzip(archive: Path, into: Path) -> Path:
    """Extract an LMS export safely (no paths outside ``into``, no huge files)."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                name = Path(info.filename)
                if info.is_dir() or name.is_absolute() or ".." in name.parts or info.file_size > 200 * 2 ** 20:
                    continue
                target = into / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
    except zipfile.BadZipFile:
        raise UsageError(f"{archive} is not a readable .zip file.") from None
    # An LMS zip often wraps everything in one folder.
    entries = [p for p in into.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else into


def find_submissions(source: Path, work: Path, solutions: Path = SOLUTIONS) -> list[Submission]:
    """Every (student, lesson) pair in the batch, whatever shape the batch has."""
    known = {lesson.slug: lesson for lesson in all_lessons(solutions)}
    if source.is_file() and source.suffix == ".zip":
        source = _unzip(source, work / "unzipped")
    if not source.is_dir():
        raise UsageError(f"{source} is not a folder or a .zip. Expected {source}/<student>/<NN_slug>/<NN_slug>.ipynb, "
                         "or <student>_<NN_slug>.ipynb files.")
    found: dict[tuple[str, str], Submission] = {}
    for path in sorted(source.glob("*.ipynb")):           # flat: <student>_<NN_slug>.ipynb
        match = FLAT_NAME.match(path.name)
        if match and match["slug"] in known:
            found[(match["student"], match["slug"])] = Submission(match["student"], known[match["slug"]], path)
    students = sorted(p.name for p in source.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))
    nested = {}
    for student in students:
        for folder in sorted((source / student).iterdir()):
            if folder.is_dir() and folder.name in known:
                nested.setdefault(student, []).append(known[folder.name])
    for student, lessons in nested.items():
        for lesson in lessons:
            folder = source / student / lesson.slug
            path = folder / f"{lesson.slug}.ipynb"
            sub = Submission(student, lesson, path if path.is_file() else None)
            if sub.path is None:
                others = sorted(p for p in folder.glob("*.ipynb"))
                if len(others) == 1:
                    sub.path, sub.flags = others[0], ["renamed-notebook"]
                elif others:
                    sub.note = f"{path.name} not found; the folder has {', '.join(p.name for p in others)}"
                    sub.flags = ["renamed-notebook"]
                else:
                    sub.note = f"{path} does not exist"
            found[(student, lesson.slug)] = sub
    if not found:
        raise UsageError(
            f"no submissions found in {source}. Expected {source}/<student>/<NN_slug>/<NN_slug>.ipynb or "
            f"<student>_<NN_slug>.ipynb files, with NN_slug one of: {', '.join(known)}.")
    # A student with some lessons but not others: the missing ones are reported too.
    lessons_present = sorted({lesson for (_, lesson) in found})
    for student in sorted({s for (s, _) in found}):
        for slug in lessons_present:
            if (student, slug) not in found:
                found[(student, slug)] = Submission(student, known[slug], None, note="no notebook submitted")
    for sub in found.values():
        if not STUDENT_ID.match(sub.student):
            raise UsageError(f"{sub.student!r} cannot be a student id (letters, digits, . _ @ + - only).")
    return [found[key] for key in sorted(found)]


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


def record(db_url: str, result: dict) -> None:
    """Write one result into the gradebook in a single transaction; a failed grade removes any old one."""
    with Gradebook(db_url) as gb:
        if result["status"] != "graded":
            try:
                gb.remove_submission(result["lesson"], result["student"])
            except MissingEntry:
                pass
            return
        gb.update_or_create_student(result["student"])
        try:
            sub = gb.find_submission(result["lesson"], result["student"])
        except MissingEntry:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")      # nbgrader's own add_submission warns about autoflush
                sub = gb.add_submission(result["lesson"], result["student"])
        points = {t["grade_id"]: t["points"] for t in result["tests"]}
        for notebook in sub.notebooks:
            for grade in notebook.grades:
                if grade.name in points:
                    grade.auto_score = points[grade.name]
                    grade.manual_score = None
                    grade.needs_manual_grade = False
        gb.db.commit()


# --- the batch -----------------------------------------------------------------------------------------

def _secret_paths(source: Path, out: Path, db_url: str) -> list[Path]:
    """What a learner's kernel must not see: the batch, the output folder, the gradebook.

    A folder that holds the project itself (grading with --out . into the course root) cannot be hidden
    whole, or the kernel could not import the course's helpers: then its grading files are hidden one by one.
    """
    paths = []
    for given in (source.resolve(), out.resolve()):
        folder = given if given.is_dir() else given.parent
        if ROOT == folder or ROOT.is_relative_to(folder):
            paths += [folder / name for name in ("gradebook.db", "autograded", "results", "feedback", "submitted",
                                                 "grades.csv", "flagged.md", ".work")]
            if given.is_file():
                paths.append(given)          # a .zip of submissions beside the project
        else:
            paths.append(folder)
    if db_url.startswith("sqlite:///"):
        db = Path(db_url.removeprefix("sqlite:///")).resolve()
        paths += [db, db.with_name(db.name + "-journal")]
    return paths


def _sha(path: Path | None) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path and path.is_file() else ""


def _lesson_sha(lesson: Lesson) -> str:
    return hashlib.sha256(lesson.source.read_bytes()).hexdigest()


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _missing_result(sub: Submission) -> dict:
    return {"student": sub.student, "lesson": sub.lesson.slug, "status": "missing", "flags": list(sub.flags),
            "tests": [], "detail": sub.note, "score": 0.0, "notebook": None}


def grade_batch(source: Path, out: Path, db_url: str | None = None, *, workers: int | None = None,
                cell_timeout: float = 60, memory_gib: float = 2.0, sandbox: bool = True,
                dask: str | None = None, solutions: Path = SOLUTIONS, progress=print) -> list[GradeRow]:
    """Grade every submission in ``source`` against the lessons in ``solutions``; write OUT; return the rows."""
    out.mkdir(parents=True, exist_ok=True)
    sweep_stale_cgroups()
    work = out / ".work"
    subs = find_submissions(source, work, solutions)
    db_url = db_url or f"sqlite:///{(out / 'gradebook.db').resolve()}"
    private_gradebook(db_url)
    lessons = sorted({s.lesson for s in subs}, key=lambda lesson: lesson.slug)
    max_scores = register(lessons, db_url, work)
    cores = os.cpu_count() or 1
    workers = max(1, workers or cores)
    limits = {"memory_bytes": int(memory_gib * 2 ** 30), "cell_seconds": float(cell_timeout),
              "submission_seconds": float(max(120, cell_timeout * 20))}
    hide = _secret_paths(source, out, db_url)

    results: dict[tuple[str, str], dict] = {}
    todo, missing = [], []
    for sub in subs:
        key = (sub.student, sub.lesson.slug)
        stamp = {"grader": GRADER_VERSION, "submission": _sha(sub.path), "lesson": _lesson_sha(sub.lesson)}
        saved = out / "results" / sub.student / f"{sub.lesson.slug}.json"
        if saved.is_file():
            try:
                previous = json.loads(saved.read_text(encoding="utf-8"))
                if previous.get("stamp") == stamp:
                    results[key] = previous          # resumed: graded before, nothing changed since
                    continue
            except (OSError, json.JSONDecodeError):
                pass
        if sub.path is None:
            missing.append((sub, stamp))
            continue
        todo.append(({"student": sub.student, "lesson": sub.lesson.slug, "solutions": str(sub.lesson.solutions),
                      "path": str(sub.path.resolve()),
                      "limits": limits, "sandbox": sandbox, "threads": max(1, cores // workers),
                      "hide": [str(p) for p in hide]}, sub, stamp))

    total = len(subs)
    reused = len(results)
    for result in results.values():
        record(db_url, result)            # make sure the gradebook agrees with what was resumed
    if reused:
        progress(f"resuming: {reused} of {total} submissions were graded before and have not changed")
    started = time.monotonic()
    done = reused

    def finish(result: dict, sub: Submission, stamp: dict) -> None:
        nonlocal done
        result["flags"] = sorted(set(result.get("flags", [])) | set(sub.flags))
        result["stamp"] = stamp
        _save(out, db_url, result, sub.lesson)
        results[(sub.student, sub.lesson.slug)] = result
        done += 1
        eta = (time.monotonic() - started) / (done - reused) * (total - done)
        note = f" [{', '.join(result['flags'])}]" if result["flags"] else ""
        progress(f"[{done}/{total}, ~{eta:.0f}s left] {sub.student} {sub.lesson.slug}: {result['status']} "
                 f"{result['score']:g}/{max_scores[sub.lesson.slug]:g}{note}")

    for sub, stamp in missing:
        finish(_missing_result(sub), sub, stamp)
    if dask:
        _run_dask(dask, todo, finish)
    elif workers == 1 or len(todo) <= 1:
        for task, sub, stamp in todo:
            finish(grade_submission(task), sub, stamp)
    else:
        _run_local(workers, todo, finish)

    rows = []
    for sub in subs:
        result = results[(sub.student, sub.lesson.slug)]
        rows.append(GradeRow(sub.student, sub.lesson.slug, float(result.get("score", 0)),
                             max_scores[sub.lesson.slug], result["status"], list(result.get("flags", [])),
                             result.get("detail", "")))
    write_csv(rows, out / "grades.csv")
    write_flagged(rows, out / "flagged.md")
    shutil.rmtree(work, ignore_errors=True)
    return rows


def _run_local(workers: int, todo: list, finish) -> None:
    # spawn: workers start clean (no inherited threads or sockets of this process).
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        pending = {pool.submit(grade_submission, task): (sub, stamp) for task, sub, stamp in todo}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                sub, stamp = pending.pop(future)
                finish(_result_of(future, sub), sub, stamp)


def _run_dask(address: str, todo: list, finish) -> None:
    from distributed import Client, as_completed

    with Client(address, timeout="30s") as client:
        futures = {client.submit(grade_submission, task, pure=False, key=f"grade-{sub.student}-{sub.lesson.slug}-"
                                 f"{stamp['submission'][:12]}"): (sub, stamp) for task, sub, stamp in todo}
        for future in as_completed(list(futures)):
            sub, stamp = futures[future]
            finish(_result_of(future, sub), sub, stamp)


def _result_of(future, sub: Submission) -> dict:
    try:
        return future.result()
    except Exception as err:  # noqa: BLE001 - a lost worker costs one submission a retry, never the batch
        return {"student": sub.student, "lesson": sub.lesson.slug, "status": "grader-error", "flags": [],
                "tests": [], "score": 0.0, "notebook": None,
                "detail": f"the grading worker failed: {type(err).__name__}: {err}"}


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
    _atomic_write(out / "results" / student / f"{slug}.json", json.dumps(stored, indent=1))


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
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_HEADER)
        for row in rows:
            writer.writerow(row.csv_row())
    os.replace(tmp, path)


def write_flagged(rows: list[GradeRow], path: Path) -> None:
    flagged = [r for r in rows if r.flags or r.status != "graded"]
    lines = ["# Submissions to look at", ""]
    if not flagged:
        lines.append("None: every submission was graded and nothing was flagged.")
    for row in flagged:
        lines.append(f"- **{row.student}** {row.lesson}: {row.status}, {row.score:g}/{row.max_score:g}")
        if row.detail:
            # Paths and messages may hold a learner's file names: shown as text, never as Markdown or HTML.
            first = row.detail.strip().splitlines()[0][:300]
            lines.append(f"  - {html.escape(first).replace('`', '&#96;').replace('[', '&#91;')}")
        for flag in row.flags:
            lines.append(f"  - `{flag}`: {FLAG_MEANING.get(flag, '')}")
    lines += ["", "Flags never cost points by themselves; the tests decide the score.", ""]
    _atomic_write(path, "\n".join(lines))


STATUS_TEXT = {"pass": "passed", "fail": "failed", "timeout": "stopped: time limit", "died": "kernel died",
               "grader-error": "not graded (grader problem)", "not-run": "not run"}


STATUS_FOR_LEARNER = {
    "missing": "No notebook was found for this lesson.",
    "invalid-notebook": "The file could not be read as a notebook. Download it again from JupyterLab "
                        "(File > Download) and hand that file in.",
    "grader-error": "The grader could not grade this notebook. This is not your mistake; your instructor "
                    "has been told.",
}


def feedback_html(result: dict) -> str:
    """A page for the learner: score, each test's verdict and message. Never test source or hidden values."""
    e = html.escape
    rows = []
    for test in result.get("tests", []):
        status = test["status"]
        message = f"<pre>{e(test['message'])}</pre>" if test.get("message") else ""
        rows.append(f"<tr class='{e(status)}'><td><code>{e(test['grade_id'])}</code></td>"
                    f"<td>{test['points']:g} / {test['max_points']:g}</td><td>{e(STATUS_TEXT.get(status, status))}"
                    f"</td><td>{message}</td></tr>")
    flags = "".join(f"<li><code>{e(f)}</code>: {e(FLAG_MEANING.get(f, ''))}</li>" for f in result.get("flags", []))
    # The result's detail (a traceback, a path, a parser's message) is the instructor's: a learner reads why
    # in plain words.
    why = STATUS_FOR_LEARNER.get(result.get("status", ""), "") or (
        "Grading stopped early in this notebook; the tests that did not run are marked below."
        if result.get("detail") else "")
    detail = f"<p class='detail'>{e(why)}</p>" if why else ""
    max_score = sum(t["max_points"] for t in result.get("tests", [])) or result.get("max_score", 0)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{e(result['lesson'])}: feedback for {e(result['student'])}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border-bottom: 1px solid #ddd; padding: .4rem;
vertical-align: top; text-align: left; }} pre {{ white-space: pre-wrap; margin: 0; }}
tr.pass td:nth-child(3) {{ color: #1a7f37; }} tr.fail td:nth-child(3), tr.died td:nth-child(3),
tr.timeout td:nth-child(3) {{ color: #b42318; }}
</style></head><body>
<h1>{e(result['lesson'])}</h1>
<p>Student: <b>{e(result['student'])}</b>. Status: <b>{e(result['status'])}</b>.
Score: <b>{result.get('score', 0):g} / {max_score:g}</b>.</p>
{detail}
<table><thead><tr><th>test</th><th>points</th><th>verdict</th><th>what the test found</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
{'<h2>Notes for the instructor</h2><ul>' + flags + '</ul>' if flags else ''}
<p>Hidden checks say what failed and give a hint, never their inputs or expected values.
Run <code>python -m autograde check {e(result['lesson'][:2])}</code> on your notebook to see the visible checks in full.</p>
</body></html>
"""


def main_summary(rows: list[GradeRow], out: Path) -> str:
    graded = sum(r.status == "graded" for r in rows)
    flagged = sum(bool(r.flags) or r.status != "graded" for r in rows)
    return (f"{graded} of {len(rows)} submissions graded; grades in {out / 'grades.csv'}; "
            f"{flagged} to look at in {out / 'flagged.md'}; feedback in {out / 'feedback'}")

