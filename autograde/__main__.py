"""python -m autograde {release,check,progress,reset,grade,package-students,i18n}: the course's nbgrader pipeline
from one command."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .settings import grading_limits
from .lessons import NOTEBOOKS, SOLUTIONS, NotebookProblem, UsageError, all_lessons, find_lesson


# `grade` exits 0 when every submission has a grade (missing and unreadable notebooks are grades of 0 too),
# EXIT_RERUN when some ended in grader-error (run again), 2 for a usage error, 130/143 when stopped.
EXIT_RERUN = 3


def cmd_release(args) -> int:
    from .release import release

    lessons = [find_lesson(n) for n in args.lessons] if args.lessons else all_lessons()
    for path in release(lessons, out_dir=Path(args.out) if args.out else NOTEBOOKS, force=args.force):
        print(f"released {path}")
    return 0


def _set_language(args) -> str:
    """Messages in the language asked for (``--lang``), else as ``CNNBOOK_LANG`` says; the judge process and
    the self-check's kernel inherit the choice through the environment."""
    import os

    from cnnbook.i18n import language, set_language

    lang = getattr(args, "lang", None)
    if lang:
        os.environ["CNNBOOK_LANG"] = lang
        set_language(lang)
    return language()


def _learner_path(lesson, given: str | None, lang: str = "en") -> Path:
    """The notebook a learner means: the one given, else their copy in my-work/, else notebooks/'s
    (``my-work/ko/`` and ``notebooks/ko/`` for the Korean edition)."""
    from cnnbook.workspace import learner_notebook

    if given:
        path = Path(given)
        return path / f"{lesson.slug}.ipynb" if path.is_dir() else path
    return learner_notebook(lesson.slug, lang=lang)


def cmd_check(args) -> int:
    from .check import Watch, check_notebook, format_report

    from cnnbook.i18n import _

    lang = _set_language(args)
    lesson = find_lesson(args.lesson)
    path = _learner_path(lesson, args.path, lang)
    if not args.lang:
        # The notebook's own language (the Korean edition says so in its metadata, wherever it was saved).
        from cnnbook.i18n import set_language

        from .judge import notebook_language
        from .lessons import NotebookProblem, read_notebook

        try:
            # read as the grader reads it (a Colab-saved cell's source is a list of lines in the file's JSON)
            mine = notebook_language(read_notebook(path))
        except (NotebookProblem, OSError, ValueError, AttributeError):
            mine = None                    # check_notebook reports an unreadable notebook clearly
        if mine:
            set_language(mine)
    which = _("every test") if lesson.source.is_file() else _("the visible tests")
    print(_("Running {path} against {which} of lesson {lesson} ...").format(path=path, which=which,
                                                                            lesson=lesson.slug), flush=True)
    if not args.path:
        from cnnbook.workspace import edition

        course, work = edition(lang)
        if path.is_relative_to(course) and not path.is_relative_to(work):
            # No copy of the learner's yet: what ran is the course's own notebook, as released.
            print(_("(You have no copy of this lesson in {work} yet, so this checks the course's own notebook. "
                    "Open the lessons with: cnn-course lab{option})").format(
                work=work, option=f" --lang {lang}" if lang != "en" else ""), flush=True)
    with Watch() as watch:          # a line while one cell runs long, and at once when one is stopped
        report = check_notebook(lesson, path, cell_timeout=args.timeout, lang=args.lang or None, on_event=watch)
    print(format_report(report))
    return 0 if report.score == report.max_score and not report.problem else 1


def cmd_progress(args) -> int:
    from .progress import course_progress, format_progress

    lang = _set_language(args)
    lessons = [find_lesson(n) for n in args.lessons] if args.lessons else all_lessons()

    def started(i, lesson):
        print(f"[{i + 1}/{len(lessons)}] {lesson.slug} ...", flush=True)

    progress = course_progress(lessons, use_cache=not args.fresh, on_start=started, timeout=args.timeout, lang=lang)
    print(format_progress(progress))
    return 0


def cmd_reset(args) -> int:
    from .reset import reset_cell

    lesson = find_lesson(args.lesson)
    path = _learner_path(lesson, args.path, _set_language(args))
    if not path.is_file():
        raise UsageError(f"{path} does not exist: which notebook should be reset? Give its path.")
    _, message = reset_cell(lesson, path, args.exercise)
    print(message)
    return 0


def cmd_grade(args) -> int:
    from .text import terminal_safe

    from .grade import GradingStopped, grade_batch, main_summary, needs_rerun
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
                           warm_kernels=not args.no_warm_kernels, dask=args.dask, roster=Path(args.roster) if args.roster else None,
                           solutions=Path(args.solutions).resolve() if args.solutions else SOLUTIONS,
                           students=args.student, force=args.force, due=_due(args.due),
                           late_penalty=args.late_penalty, extensions=args.extension, hidden_seed=args.seed,
                           zip_times=args.zip_times, progress=lambda line: print(terminal_safe(line), flush=True),
                           moodle_times=args.moodle_times,
                           moodle_worksheets=[Path(p) for p in args.moodle_worksheet or []],
                           lessons_only=args.lesson)
    except GradingStopped as stop:
        print(terminal_safe(str(stop)), file=sys.stderr, flush=True)
        return stop.exit_code
    print(main_summary(rows, out))
    for row in rows:
        if row.status != "graded":
            print(terminal_safe(f"  {row.student} {row.lesson}: {row.status}: "
                                f"{row.detail.splitlines()[0] if row.detail else ''}"))
    rerun = needs_rerun(rows)
    if rerun:
        # A script that grades a class must notice: these have no grade yet (the grading machine failed).
        print(terminal_safe(f"{len(rerun)} of {len(rows)} submissions in {out} could not be graded (grader-error: "
              f"{', '.join(f'{r.student} {r.lesson}' for r in rerun[:5])}{' ...' if len(rerun) > 5 else ''}); "
              f"run the same command again to grade them"), file=sys.stderr)
        return EXIT_RERUN
    return 0


def cmd_i18n(args) -> int:
    from .i18n import LANGS, coverage, format_coverage, package_coverage, update_catalog, update_package_catalog

    lessons = [find_lesson(n) for n in args.lessons] if args.lessons else all_lessons()
    langs = [args.lang] if args.lang else list(LANGS)
    if args.action == "update":
        for lesson in lessons:
            for lang in langs:
                print(f"updated {update_catalog(lesson, lang)}")
        for lang in langs:
            print(f"updated {update_package_catalog(lang)}")
    print(format_coverage([coverage(lesson, lang) for lesson in lessons for lang in langs]))
    for lang in langs:
        total, left = package_coverage(lang)
        print(f"package messages (cnnbook, check, progress, feedback pages) {lang}: {total - len(left)} of {total} translated")
        for line in left:
            print(f"    missing: {line}")
    return 0


def _due(given: list[str] | None) -> dict[str, str]:
    due = {}
    for item in given or []:
        lesson, sep, when = item.partition("=")
        if not sep or not lesson.strip() or not when.strip():
            raise UsageError(f"--due {item!r}: write LESSON=WHEN, e.g. --due 01=2025-03-07T23:59+09:00")
        due[lesson.strip()] = when.strip()
    return due


def cmd_package_students(args) -> int:
    from .package import build

    print(f"wrote the student bundle {build(Path(args.out))} (no solutions, no hidden tests)")
    return 0


def build_parser(prog: str = "python -m autograde", lab: str | None = None) -> argparse.ArgumentParser:
    """The commands' parser; ``lab``: the help of ``cnn-course lab`` (which ``autograde.cli`` runs itself), listed
    first so that one usage line names every command."""
    parser = argparse.ArgumentParser(prog=prog, description=None if lab else __doc__)
    limits = grading_limits()           # the defaults as nbgrader_config.py configures them (autograde.settings)
    where = "nbgrader_config.py's GradingLimits"
    sub = parser.add_subparsers(dest="command", required=True)
    if lab:
        sub.add_parser("lab", help=lab)

    p = sub.add_parser("release", help="(instructors) regenerate the student notebooks (notebooks/) from solutions/")
    p.add_argument("lessons", nargs="*", help="lesson numbers or slugs (default: all)")
    p.add_argument("--out", help="write here instead of notebooks/")
    p.add_argument("--force", action="store_true", help="overwrite notebooks changed since the last release")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("check", help="check your notebook against every test, hidden ones included")
    p.add_argument("lesson", help="lesson number or slug, e.g. 3 or 03_padding_stride")
    p.add_argument("path", nargs="?", help="your notebook (default: my-work/<NN_slug>/<NN_slug>.ipynb when "
                                           "it exists, else notebooks/<NN_slug>/<NN_slug>.ipynb)")
    p.add_argument("--timeout", type=float, default=limits.cell_seconds,
                   help=f"seconds one cell or one test may run (default {limits.cell_seconds:g}: {where}, as in "
                        "grading)")
    p.add_argument("--lang", choices=("en", "ko"), help="the edition and the language of the messages (default: "
                                                         "$CNNBOOK_LANG, else en); ko: my-work/ko/, 한국어")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("progress", help="every lesson, every exercise: pass / fail / not started, with points")
    p.add_argument("lessons", nargs="*", help="lesson numbers or slugs (default: all)")
    p.add_argument("--fresh", action="store_true", help="run every lesson again, even unchanged ones")
    p.add_argument("--timeout", type=float, default=limits.cell_seconds,
                   help=f"seconds one cell or one test may run (default {limits.cell_seconds:g}: {where})")
    p.add_argument("--lang", choices=("en", "ko"), help="the edition and the language of the messages (default: "
                                                         "$CNNBOOK_LANG, else en)")
    p.set_defaults(func=cmd_progress)

    p = sub.add_parser("reset", help="put one exercise's answer cell of your notebook back as released")
    p.add_argument("lesson", help="lesson number or slug, e.g. 3")
    p.add_argument("exercise", help="the exercise (its answer cell's name), e.g. same_padding")
    p.add_argument("path", nargs="?", help="your notebook (default: as for check)")
    p.add_argument("--lang", choices=("en", "ko"), help="the edition whose copy is reset (default: $CNNBOOK_LANG, "
                                                         "else en); ko: my-work/ko/")
    p.set_defaults(func=cmd_reset)

    p = sub.add_parser("grade", help="(instructors) grade a batch of notebooks: sandboxed, in parallel, resumable")
    p.add_argument("submissions", help="DIR/<student>/<NN_slug>/<NN_slug>.ipynb (nbgrader layout), a folder "
                                       "or .zip of <student>_<NN_slug>.ipynb files, or an LMS export as downloaded "
                                       "(Canvas's \"Download submissions\" zip, Moodle's \"Download all "
                                       "submissions\"; one assignment each: grade each into the same --out)")
    p.add_argument("--out", required=True, help="output folder: grades.csv, flagged.md, feedback/, autograded/, "
                                                "results/, gradebook.db")
    p.add_argument("--db", help="gradebook SQLAlchemy URL, e.g. postgresql://user@host/course "
                                "(default: sqlite in OUT)")
    p.add_argument("--workers", type=int, help="submissions graded at once (default: the number of cores)")
    p.add_argument("--timeout", type=float, default=limits.cell_seconds,
                   help=f"seconds one cell or one test may run (default {limits.cell_seconds:g}: {where})")
    p.add_argument("--memory", type=float, default=limits.memory_gib,
                   help=f"GiB of memory per submission (default {limits.memory_gib:g}: {where}; its other limits "
                        "are set there too)")
    p.add_argument("--dask", metavar="ADDRESS", help="grade on a running Dask cluster, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--roster", metavar="CSV", help="map LMS ids to student ids: Canvas's gradebook export as "
                                                    "downloaded (ID -> SIS User ID), or a CSV with columns lms_id, "
                                                    "student_id (Canvas user ids, or names as the LMS wrote them); "
                                                    "kept in OUT for later runs. Moodle: see --moodle-worksheet")
    p.add_argument("--moodle-worksheet", action="append", metavar="CSV",
                   help="Moodle's grading worksheet of one assignment as downloaded (View all submissions > "
                        "Download grading worksheet; repeatable, one per assignment; its file name "
                        "Grades-<course>-<assignment>-<id>.csv names the lesson): who each participant is (ID "
                        "number, name, e-mail, for the gradebook), the assignment's Maximum Grade (grades are "
                        "rescaled to it) and the shape of lms/moodle-<NN_slug>.csv; kept in "
                        "OUT/lms/moodle-worksheets/ for later runs")
    p.add_argument("--solutions", metavar="DIR", help="the source notebooks to grade against (default: this "
                                                       "course's solutions/)")
    p.add_argument("--no-sandbox", action="store_true", help="run learner code without bubblewrap (trusted "
                                                             "submissions only)")
    p.add_argument("--no-warm-kernels", action="store_true",
                   help="start each kernel only when its submission's turn comes (default: each worker starts the "
                        "next submission's sandboxed kernel, libraries imported, while it grades the current one)")
    p.add_argument("--lesson", action="append", metavar="LESSON",
                   help="grade only this lesson's notebooks (repeatable; 4, 04 or 04_parameters): an LMS export of "
                        "one assignment where someone uploaded another lesson's notebook; intake.csv lists the rest")
    p.add_argument("--student", action="append", metavar="NAME",
                   help="grade only this student (repeatable), again even if nothing changed; grades.csv still "
                        "lists everyone graded into OUT")
    p.add_argument("--force", action="store_true", help="grade again even what was graded before and has not "
                                                        "changed (manual grades in the gradebook are kept)")
    p.add_argument("--due", action="append", metavar="LESSON=WHEN",
                   help="a lesson's due date, e.g. 01=2025-03-07T23:59+09:00 or '01=2025-03-07 23:59 Asia/Seoul' "
                        "(no zone: UTC); kept in the gradebook (nbgrader's duedate), so give it once")
    p.add_argument("--late-penalty", action="append", metavar="POLICY",
                   help="none, zero, N/hour or N/day (N points per started hour or day late) for the lessons this "
                        "run grades or gives --due for, or LESSON=POLICY for one lesson (repeatable); kept per lesson in OUT, so other "
                        "lessons keep theirs (default: nbgrader_config.py's LateSubmissionPlugin, i.e. none)")
    p.add_argument("--extension", action="append", nargs=3, metavar=("STUDENT", "LESSON", "DURATION"),
                   help="give STUDENT more time for LESSON: 48h, 2d, 90m, or waive (no lateness at all); "
                        "kept in OUT/extensions.csv for every later run")
    p.add_argument("--zip-times", metavar="ZONE",
                   help="take each notebook's entry time in a .zip as its submission time, read in ZONE (e.g. "
                        "Asia/Seoul: the zone of the machine that wrote the zip; a zip entry's time has none), or "
                        "'off'; kept in OUT. Default: not used, since Canvas and Moodle exports hold the download "
                        "time there (see README); nbgrader's timestamp.txt is always used")
    p.add_argument("--moodle-times", metavar="ZONE",
                   help="take Moodle's submission times from each grading worksheet's 'Last modified (submission)' "
                        "(--moodle-worksheet), read in ZONE: your own time zone in Moodle when you downloaded it "
                        "(e.g. Asia/Seoul; Moodle does not write it), or 'off'; kept in OUT. English and Korean "
                        "Moodle dates are read")
    p.add_argument("--seed", type=int, metavar="N", help="the seed of the hidden tests' random inputs (default: a "
                                                        "new one per run; each result records the one it used, so "
                                                        "`--seed N --student NAME --force` repeats a grading)")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("i18n", help="translations: refresh the catalogs (solutions/NN_slug/ko.po) from the English "
                                    "source, or show their coverage")
    p.add_argument("action", choices=("update", "coverage"), help="update: mark changed English as stale (fuzzy) "
                                                                 "and add new entries; coverage: only the table")
    p.add_argument("lessons", nargs="*", help="lesson numbers or slugs (default: all)")
    p.add_argument("--lang", choices=("ko",), help="one language (default: all)")
    p.set_defaults(func=cmd_i18n)

    p = sub.add_parser("package-students", help="write what learners get: notebooks, helpers, data, learner "
                                                "requirements, a README; no solutions or hidden tests")
    p.add_argument("out", help="a new folder, or a file ending in .zip")
    p.set_defaults(func=cmd_package_students)
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m autograde", lab: str | None = None) -> int:
    args = build_parser(prog, lab).parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, NotebookProblem) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    except ModuleNotFoundError as err:
        # an install that lacks a package: one line that says which profile to install, not a traceback (a learner
        # who tries an instructor's command has the learner profile, by design)
        if args.command in INSTRUCTOR_COMMANDS:
            need = f"it is an instructor's command: install the instructor profile ({INSTALL['instructor']})"
        else:
            need = f"the learner profile is incomplete: install it again ({INSTALL['learner']})"
        print(f"error: `{prog} {args.command}` needs the Python package {err.name!r}, which is not installed; "
              f"{need}", file=sys.stderr)
        return 2


# Commands that need the instructor profile (requirements/instructor.txt: nbgrader, Dask, ...); the others run with
# the learner profile (tests/test_packaging.py runs them in an environment without the instructor's packages).
INSTRUCTOR_COMMANDS = ("release", "grade")
INSTALL = {"instructor": "pip install -r requirements/instructor.txt -e .",
           "learner": "pip install -r requirements/learner.txt -e ."}


if __name__ == "__main__":
    sys.exit(main())
