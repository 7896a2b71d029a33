"""Open the course in JupyterLab: ``python -m cnnbook.lab`` (learners) or ``--instructor``.

Learners get JupyterLab without nbgrader's instructor tools (Create Assignment, Formgrader, Course List)
and without the news pop-up; nbgrader's Validate button stays. Instructors get the instructor tools, with
the project root as the course root so formgrader finds ``nbgrader_config.py``. The choice is made by
adding ``jupyter-config/student`` or ``jupyter-config/instructor`` to ``JUPYTER_CONFIG_PATH`` for this
JupyterLab only: nothing in your Jupyter settings changes.

Learners work on their own copies of the lessons in ``my-work/`` (ignored by git; ``CNNBOOK_WORK`` moves
it): each start copies the lessons that are new in the course and leaves every existing copy as it is, so
neither ``git pull`` nor a release ever touches a learner's work (see ``cnnbook.workspace``).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from .i18n import LANGUAGES, _, set_language
from .workspace import edition, sync_work, work_dir

ROOT = Path(__file__).resolve().parent.parent


def lab_environment(instructor: bool = False, base: dict[str, str] | None = None, lang: str | None = None) -> dict[str, str]:
    """The environment JupyterLab runs in for the learner's or the instructor's set-up (``lang``: the language
    of every kernel's messages, through ``CNNBOOK_LANG``)."""
    env = dict(os.environ if base is None else base)
    if lang:
        env["CNNBOOK_LANG"] = lang
    profile = ROOT / "jupyter-config" / ("instructor" if instructor else "student")
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(p for p in (str(profile), env.get("JUPYTER_CONFIG_PATH", "")) if p)
    return env


def lab_command(instructor: bool = False, extra: list[str] | None = None, work: Path | None = None) -> list[str]:
    """The JupyterLab command line: the project root as root folder, opening on the learner's copies."""
    start = "/lab"
    if not instructor:
        work = work or work_dir()
        try:
            start = f"/lab/tree/{work.resolve().relative_to(ROOT).as_posix()}"
        except ValueError:              # a work folder outside the project: open it as the root folder
            return [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={work}", "--LabApp.default_url=/lab",
                    *(extra or [])]
    return [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={ROOT}", f"--LabApp.default_url={start}",
            *(extra or [])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnbook.lab", description=__doc__.splitlines()[0])
    parser.add_argument("--instructor", action="store_true",
                        help="turn nbgrader's instructor tools (formgrader, create assignment) on")
    parser.add_argument("--lang", choices=LANGUAGES, default=None,
                        help="the edition to open: en (default) or ko, the Korean edition (한국어판: notebooks/ko, "
                             "your copies in my-work/ko, messages in Korean)")
    parser.add_argument("--setup-only", action="store_true",
                        help="copy new lessons to your work folder, then exit without starting JupyterLab")
    args, extra = parser.parse_known_args(argv)
    lang = args.lang or None
    if lang:
        set_language(lang)
    course, work = edition(lang or "en")
    if args.instructor and importlib.util.find_spec("nbgrader") is None:
        # the learner profile has no nbgrader: JupyterLab would open without the tools asked for, and say nothing
        print(_("error: --instructor needs nbgrader, which this environment lacks: install the instructor profile: "
                "pip install -r requirements/instructor.txt -e ."), file=sys.stderr, flush=True)
        return 2
    if not args.instructor:
        report = sync_work(course, work, lang=lang or "en")
        for line in report.lines():
            print(line, flush=True)
        if args.setup_only:
            print(_("Your lessons are in {work}").format(work=report.work), flush=True)
            return 0
    os.chdir(ROOT)  # nbgrader's formgrader reads nbgrader_config.py from the folder it starts in
    command = lab_command(args.instructor, extra, work=work)
    os.execve(sys.executable, command, lab_environment(args.instructor, lang=lang))
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
