"""python -m autograde {release,check,grade}: the course's nbgrader pipeline from one command."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .lessons import NOTEBOOKS, NotebookProblem, UsageError, all_lessons, find_lesson


def cmd_release(args) -> int:
    from .release import release

    lessons = [find_lesson(n) for n in args.lessons] if args.lessons else all_lessons()
    for path in release(lessons, out_dir=Path(args.out) if args.out else NOTEBOOKS):
        print(f"released {path}")
    return 0


def cmd_check(args) -> int:
    from .check import check_notebook, format_report

    lesson = find_lesson(args.lesson)
    path = Path(args.path) if args.path else lesson.student_version
    if path.is_dir():
        path = path / f"{lesson.slug}.ipynb"
    print(f"Running {path} against every test of lesson {lesson.slug}, hidden ones included ...", flush=True)
    report = check_notebook(lesson, path, cell_timeout=args.timeout)
    print(format_report(report))
    return 0 if report.score == report.max_score and not report.problem else 1


def cmd_grade(args) -> int:
    from .grade import grade_batch

    out = Path(args.out)
    rows = grade_batch(Path(args.submissions), out, db_url=args.db, timeout=args.timeout)
    graded = sum(r.status == "graded" for r in rows)
    print(f"{graded} of {len(rows)} submissions graded; grades in {out / 'grades.csv'}")
    for row in rows:
        if row.status != "graded":
            print(f"  {row.student} {row.lesson}: {row.status}: {row.detail.splitlines()[0] if row.detail else ''}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograde", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="regenerate the student notebooks (notebooks/) from solutions/")
    p.add_argument("lessons", nargs="*", help="lesson numbers or slugs (default: all)")
    p.add_argument("--out", help="write here instead of notebooks/")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("check", help="check your notebook against every test, hidden ones included")
    p.add_argument("lesson", help="lesson number or slug, e.g. 3 or 03_padding_stride")
    p.add_argument("path", nargs="?", help="your notebook (default: notebooks/<NN_slug>/<NN_slug>.ipynb)")
    p.add_argument("--timeout", type=int, default=120, help="seconds one cell may run (default 120)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("grade", help="grade DIR/<student>/<NN_slug>/<NN_slug>.ipynb with nbgrader")
    p.add_argument("submissions", help="folder of submissions, nbgrader layout")
    p.add_argument("--out", required=True, help="output folder: grades.csv, autograded/, gradebook.db")
    p.add_argument("--db", help="gradebook SQLAlchemy URL (default: sqlite in OUT)")
    p.add_argument("--timeout", type=int, default=60, help="seconds one cell may run (default 60)")
    p.set_defaults(func=cmd_grade)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, NotebookProblem) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
