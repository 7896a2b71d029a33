"""python -m autograde {release,check,progress,reset,grade,package-students}: the course's nbgrader pipeline from one
command."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .sandbox import Limits
from .lessons import NOTEBOOKS, SOLUTIONS, NotebookProblem, UsageError, all_lessons, find_lesson


def cmd_release(args) -> int:
    from .release import release

    lessons = [find_lesson(n) for n in args.lessons] if args.lessons else all_lessons()
    for path in release(lessons, out_dir=Path(args.out) if args.out else NOTEBOOKS, force=args.force):
        print(f"released {path}")
    return 0


def _learner_path(lesson, given: str | None) -> Path:
    """The notebook a learner means: the one given, else their copy in my-work/, else notebooks/'s."""
    from cnnbook.workspace import learner_notebook

    if given:
        path = Path(given)
        return path / f"{lesson.slug}.ipynb" if path.is_dir() else path
    return learner_notebook(lesson.slug)


def cmd_check(args) -> int:
    from .check import check_notebook, format_report

    lesson = find_lesson(args.lesson)
    path = _learner_path(lesson, args.path)
    which = "every test" if lesson.source.is_file() else "the visible tests"
    print(f"Running {path} against {which} of lesson {lesson.slug} ...", flush=True)
    report = check_notebook(lesson, path, cell_timeout=args.timeout)
    print(format_report(report))
    return 0 if report.score == report.max_score and not report.problem else 1


def cmd_progress(args) -> int:
    from .progress import course_progress, format_progress

    lessons = [find_lesson(n) for n in args.lessons] if args.lessons else all_lessons()

    def started(i, lesson):
        print(f"[{i + 1}/{len(lessons)}] {lesson.slug} ...", flush=True)

    progress = course_progress(lessons, use_cache=not args.fresh, on_start=started, timeout=args.timeout)
    print(format_progress(progress))
    return 0


def cmd_reset(args) -> int:
    from .reset import reset_cell

    lesson = find_lesson(args.lesson)
    path = _learner_path(lesson, args.path)
    if not path.is_file():
        raise UsageError(f"{path} does not exist: which notebook should be reset? Give its path.")
    _, message = reset_cell(lesson, path, args.exercise)
    print(message)
    return 0


def cmd_grade(args) -> int:
    from .grade import GradingStopped, grade_batch, main_summary
    from .sandbox import bubblewrap_works

    if not args.no_sandbox and not bubblewrap_works():
        raise UsageError("the sandbox needs bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap), and it "
                         "could not start here. Install it, or pass --no-sandbox to grade without isolation "
                         "(only for submissions you trust: see README, 'What the sandbox isolates').")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    out = Path(args.out)
    try:
        rows = grade_batch(Path(args.submissions), out, db_url=args.db, workers=args.workers,
                           cell_timeout=args.timeout, memory_gib=args.memory, sandbox=not args.no_sandbox,
                           dask=args.dask, roster=Path(args.roster) if args.roster else None,
                           solutions=Path(args.solutions).resolve() if args.solutions else SOLUTIONS,
                           students=args.student, force=args.force, hidden_seed=args.seed,
                           progress=lambda line: print(line, flush=True))
    except GradingStopped as stop:
        print(stop, file=sys.stderr, flush=True)
        return stop.exit_code
    print(main_summary(rows, out))
    for row in rows:
        if row.status != "graded":
            print(f"  {row.student} {row.lesson}: {row.status}: {row.detail.splitlines()[0] if row.detail else ''}")
    return 0


def cmd_package_students(args) -> int:
    from .package import build

    print(f"wrote the student bundle {build(Path(args.out))} (no solutions, no hidden tests)")
    return 0


def build_parser(prog: str = "python -m autograde") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="regenerate the student notebooks (notebooks/) from solutions/")
    p.add_argument("lessons", nargs="*", help="lesson numbers or slugs (default: all)")
    p.add_argument("--out", help="write here instead of notebooks/")
    p.add_argument("--force", action="store_true", help="overwrite notebooks changed since the last release")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("check", help="check your notebook against every test, hidden ones included")
    p.add_argument("lesson", help="lesson number or slug, e.g. 3 or 03_padding_stride")
    p.add_argument("path", nargs="?", help="your notebook (default: my-work/<NN_slug>/<NN_slug>.ipynb when "
                                           "it exists, else notebooks/<NN_slug>/<NN_slug>.ipynb)")
    p.add_argument("--timeout", type=float, default=Limits.cell_seconds,
                   help=f"seconds one cell or one test may run (default {Limits.cell_seconds:g}, as in grading)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("progress", help="every lesson, every exercise: pass / fail / not started, with points")
    p.add_argument("lessons", nargs="*", help="lesson numbers or slugs (default: all)")
    p.add_argument("--fresh", action="store_true", help="run every lesson again, even unchanged ones")
    p.add_argument("--timeout", type=float, default=Limits.cell_seconds,
                   help=f"seconds one cell or one test may run (default {Limits.cell_seconds:g})")
    p.set_defaults(func=cmd_progress)

    p = sub.add_parser("reset", help="put one exercise's answer cell of your notebook back as released")
    p.add_argument("lesson", help="lesson number or slug, e.g. 3")
    p.add_argument("exercise", help="the exercise (its answer cell's name), e.g. same_padding")
    p.add_argument("path", nargs="?", help="your notebook (default: as for check)")
    p.set_defaults(func=cmd_reset)

    p = sub.add_parser("grade", help="grade a batch of notebooks: sandboxed, in parallel, resumable")
    p.add_argument("submissions", help="DIR/<student>/<NN_slug>/<NN_slug>.ipynb (nbgrader layout), or a folder "
                                       "or .zip of <student>_<NN_slug>.ipynb files")
    p.add_argument("--out", required=True, help="output folder: grades.csv, flagged.md, feedback/, autograded/, "
                                                "results/, gradebook.db")
    p.add_argument("--db", help="gradebook SQLAlchemy URL, e.g. postgresql://user@host/course "
                                "(default: sqlite in OUT)")
    p.add_argument("--workers", type=int, help="submissions graded at once (default: the number of cores)")
    p.add_argument("--timeout", type=float, default=Limits.cell_seconds,
                   help=f"seconds one cell or one test may run (default {Limits.cell_seconds:g})")
    p.add_argument("--memory", type=float, default=Limits.memory_bytes / 2 ** 30,
                   help=f"GiB of memory per submission (default {Limits.memory_bytes / 2 ** 30:g})")
    p.add_argument("--dask", metavar="ADDRESS", help="grade on a running Dask cluster, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--roster", metavar="CSV", help="map LMS ids to student ids: a CSV with columns lms_id, "
                                                    "student_id (Canvas user ids, Moodle participant ids)")
    p.add_argument("--solutions", metavar="DIR", help="the source notebooks to grade against (default: this "
                                                       "course's solutions/)")
    p.add_argument("--no-sandbox", action="store_true", help="run learner code without bubblewrap (trusted "
                                                             "submissions only)")
    p.add_argument("--student", action="append", metavar="NAME",
                   help="grade only this student (repeatable), again even if nothing changed; grades.csv still "
                        "lists everyone graded into OUT")
    p.add_argument("--force", action="store_true", help="grade again even what was graded before and has not "
                                                        "changed (manual grades in the gradebook are kept)")
    p.add_argument("--seed", type=int, metavar="N", help="the seed of the hidden tests' random inputs (default: a "
                                                        "new one per run; each result records the one it used, so "
                                                        "`--seed N --student NAME --force` repeats a grading)")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("package-students", help="write what learners get: notebooks, helpers, data, learner "
                                                "requirements, a README; no solutions or hidden tests")
    p.add_argument("out", help="a new folder, or a file ending in .zip")
    p.set_defaults(func=cmd_package_students)
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m autograde") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, NotebookProblem) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted (Ctrl-C)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
