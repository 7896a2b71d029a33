"""Shared fixtures: the lessons, and submissions built from the released notebooks."""
from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import autograde  # noqa: F401 - before nbformat: it keeps jsonschema's slow IRI checker out (autograde/__init__.py)
import nbformat
import pytest

from autograde.lessons import ROOT, all_lessons, grade_cells


@pytest.fixture(autouse=True)
def _no_zygote_outlives_its_test():
    """A test that graded in its own process (grade_submission) may have started this process's zygotes
    (autograde.forked): they end with the test, as a batch's end with its workers; tests that count the processes
    a run leaves behind see only that run's."""
    yield
    from autograde import forked

    if forked._zygotes:
        forked.close_zygotes()


# With pytest-xdist (README: `python -m pytest -n 2`) each process takes whole files (pyproject.toml: --dist loadfile),
# handed out in the order of the collection (--no-loadscope-reorder). The longest files go first, so that no process
# starts a long one when the other is nearly done; the rest keep pytest's order. Seconds per file, the whole suite
# run serially on 1c2d17e (2026-12-05): reliability 479, grading 472, browser 452, attacks 266, notebooks 133,
# collect 99, learner_answers 92, grader_infra 74, warm 66, one_engine 62, workspace 57, wall 53.
LONGEST_FIRST = ("test_reliability.py", "test_grading.py", "test_browser.py", "test_attacks.py", "test_notebooks.py",
                 "test_collect.py", "test_learner_answers.py", "test_grader_infra.py", "test_warm.py",
                 "test_one_engine.py", "test_workspace.py", "test_wall.py")


def pytest_collection_modifyitems(items):
    rank = {name: k for k, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))        # stable: a file's tests keep their order


LESSONS = all_lessons()
FIXTURES = Path(__file__).parent / "fixtures"
# The grader's own test lesson (tests/course/solutions/99_guard): attacks and faults are written against it,
# so editing a course lesson never breaks them.
GUARD_SOLUTIONS = Path(__file__).parent / "course" / "solutions"
GUARD = all_lessons(GUARD_SOLUTIONS)[0]

# Matplotlib must never try to open a window while tests run notebooks or widgets.
os.environ.setdefault("MPLBACKEND", "agg")


def lesson_ids():
    return [lesson.slug for lesson in LESSONS]


def lesson_fixture(slug: str):
    """tests/fixtures/<slug>.py: BUG and HARDCODED submissions for the grading round trip."""
    path = FIXTURES / f"{slug}.py"
    spec = importlib.util.spec_from_file_location(f"fixture_{slug}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def answer_sources(lesson) -> dict[str, str]:
    """The solution of every answer cell, with the nbgrader markers removed, as a learner would write it."""
    source = nbformat.read(lesson.source, as_version=4)
    answers = {}
    for gid, cell in grade_cells(source).items():
        if cell.metadata.nbgrader.get("solution"):
            lines = [ln for ln in cell.source.splitlines()
                     if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
            answers[gid] = "\n".join(lines)
    return answers


def submission(lesson, replace: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The released student notebook with the given answer cells (by grade_id) replaced."""
    nb = nbformat.read(lesson.student_version, as_version=4)
    cells = grade_cells(nb)
    for gid, text in (replace or {}).items():
        assert gid in cells, f"{lesson.slug}: no answer cell {gid!r}"
        cells[gid].source = text
    return nb


def solved(lesson, extra: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """A submission that answers every exercise with the solution, then applies ``extra`` replacements."""
    return submission(lesson, {**answer_sources(lesson), **(extra or {})})


def korean_submission(lesson) -> nbformat.NotebookNode:
    """The lesson's released Korean notebook (notebooks/ko/), untouched: its metadata says it is the Korean edition, so
    the grader's messages are Korean."""
    from autograde.i18n import translated_path
    from autograde.lessons import NOTEBOOKS

    return nbformat.read(translated_path(NOTEBOOKS, "ko", lesson.slug), as_version=4)


def solved_korean(lesson, extra: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The Korean notebook with every exercise answered by the solution, then ``extra`` replacements (by grade_id)."""
    nb = korean_submission(lesson)
    cells = grade_cells(nb)
    for gid, text in {**answer_sources(lesson), **(extra or {})}.items():
        assert gid in cells, f"{lesson.slug} (Korean): no answer cell {gid!r}"
        cells[gid].source = text
    return nb


def autograde_cli(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m autograde ARGS`` run in this process, from ``cwd`` (the project root by default): ``main()``, as the
    command line calls it, with its exit status and what it printed, as ``subprocess.run(..., capture_output=True,
    text=True)`` gives them. For tests about what a command does and says, not about its process (exit codes under
    signals, Ctrl-C, killed workers start the real process): a new Python per run imports the grader again (seconds
    of CPU) for nothing. What the grader's own workers print goes to this process's file descriptors, not here."""
    import contextlib
    import io
    import signal

    from autograde.__main__ import main
    import cnnbook.i18n

    out, err = io.StringIO(), io.StringIO()
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    environ, chosen = dict(os.environ), cnnbook.i18n._chosen       # the process's choice (None: the environment's)
    with contextlib.chdir(cwd or ROOT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as stop:            # argparse's refusals, as the process would exit with them
            code = stop.code if isinstance(stop.code, int) else 1
        finally:                              # a run stopped by an error ignores Ctrl-C from then on: not pytest
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            # --lang sets CNNBOOK_LANG and the messages' language for the process: not for the tests after it
            os.environ.clear()
            os.environ.update(environ)
            cnnbook.i18n.set_language(chosen)
    return subprocess.CompletedProcess(["autograde", *args], code, out.getvalue(), err.getvalue())


def write(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def points_of_tests(lesson) -> dict[str, float]:
    """grade_id -> points of every test cell of a lesson."""
    source = nbformat.read(lesson.source, as_version=4)
    return {gid: float(c.metadata.nbgrader["points"]) for gid, c in grade_cells(source).items()
            if c.metadata.nbgrader.get("grade") and not c.metadata.nbgrader.get("solution")}


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


# The guard lesson's group_max, answered with right values in the wrong way (attacks and the one-engine test).
GUARD_MUTATES = '''def group_max(values, width):
    """Right values, but the caller's array is overwritten."""
    import numpy as np
    arr = np.asarray(values, dtype=float)
    result = arr.reshape(-1, width).max(axis=1).copy()
    arr[:] = 0
    return result
'''
GUARD_LOOPS = '''def group_max(values, width):
    """Right values, one Python loop step per group."""
    import numpy as np
    return np.array([max(values[i:i + width]) for i in range(0, len(values), width)], dtype=float)
'''


# --- shared expensive work: each lesson is executed, and each course submission graded, ONCE per session -------
# Several test files read the same executions and the same graded batch instead of running the lessons again
# (the whole suite's time goal, issue #15).

SOLUTION_CELL_TIMEOUT = 120       # seconds per cell when a solution notebook is executed in a plain kernel


@pytest.fixture(scope="session")
def executed_solution():
    """slug -> the lesson's solution notebook (solutions/, hidden tests included) executed top to bottom in a
    plain Jupyter kernel with its widget state stored; executed on first use, then shared (test_notebooks: the
    runs and their progress bars). A failed run fails every test that asks for it, with the same error."""
    from nbclient import NotebookClient

    runs: dict[str, tuple] = {}

    def run(slug: str) -> nbformat.NotebookNode:
        if slug not in runs:
            lesson = next(lesson for lesson in LESSONS if lesson.slug == slug)
            nb = nbformat.read(lesson.source, as_version=4)
            try:
                NotebookClient(nb, timeout=SOLUTION_CELL_TIMEOUT, kernel_name="python3", store_widget_state=True,
                               resources={"metadata": {"path": str(lesson.source.parent)}}).execute()
                runs[slug] = (nb, None)
            except Exception as error:  # noqa: BLE001 - re-raised to every test that reads this run
                runs[slug] = (None, error)
        nb, error = runs[slug]
        if error is not None:
            raise error
        return nb

    return run


def known_bugs(fx) -> list[dict]:
    """A lesson's known bugs: BUGS (one or more per test cell) when its fixture lists them, else its BUG."""
    return list(getattr(fx, "BUGS", [fx.BUG]))


def known_alternatives(fx) -> list[dict]:
    """A lesson's correct answers written differently: ALTERNATIVES (several submissions, when one cell has more
    than one way to be right) when its fixture lists them, else its ALTERNATIVE, else none."""
    if hasattr(fx, "ALTERNATIVES"):
        return list(fx.ALTERNATIVES)
    return [fx.ALTERNATIVE] if hasattr(fx, "ALTERNATIVE") else []


def alternative_student(k: int) -> str:
    """The course batch's student who hands in a lesson's k-th alternative: alternative, alternative1, ..."""
    return "alternative" if k == 0 else f"alternative{k}"


def one_bug_student(lesson) -> str:
    """The student of the course batch whose submission holds the lesson's fixture BUG (one of its BUGS)."""
    fx = lesson_fixture(lesson.slug)
    return f"bug{known_bugs(fx).index(fx.BUG)}" if fx.BUG in known_bugs(fx) else "onebug"


def course_batch_submissions() -> dict[tuple[str, str], nbformat.NotebookNode]:
    """(student, lesson slug) -> notebook: every course submission the grading tests need, in one batch.

    solved, untouched and hardcoded (every lesson); bug<k> (every known bug of every lesson, with the right answers
    of its "with" cells that call the buggy one; a fixture BUG
    that is not among its BUGS is student onebug); alternative, alternative1, ... (lessons whose fixture has
    ALTERNATIVE or ALTERNATIVES);
    solved_ko and untouched_ko (every lesson's Korean notebook, answered with the solutions or untouched).
    """
    from autograde.i18n import catalog_path

    subs = {}
    for lesson in LESSONS:
        fx = lesson_fixture(lesson.slug)
        subs["solved", lesson.slug] = solved(lesson)
        subs["untouched", lesson.slug] = submission(lesson)
        subs["hardcoded", lesson.slug] = solved(lesson, fx.HARDCODED["cells"])
        for k, bug in enumerate(known_bugs(fx)):
            subs[f"bug{k}", lesson.slug] = solved(lesson, {bug["cell"]: bug["source"], **bug.get("with", {})})
        if fx.BUG not in known_bugs(fx):
            subs["onebug", lesson.slug] = solved(lesson, {fx.BUG["cell"]: fx.BUG["source"]})
        for k, alternative in enumerate(known_alternatives(fx)):
            subs[alternative_student(k), lesson.slug] = solved(lesson, alternative["cells"])
        if catalog_path(lesson, "ko").is_file():
            subs["solved_ko", lesson.slug] = solved_korean(lesson)
            subs["untouched_ko", lesson.slug] = korean_submission(lesson)
    return subs


@pytest.fixture(scope="session")
def course_batch(tmp_path_factory):
    """Every submission of ``course_batch_submissions`` graded ONCE by ``python -m autograde grade`` (nbgrader's
    layout, the course's solutions, default limits and workers): (submitted folder, OUT folder, the notebooks
    by (student, slug), the CLI's finished process). test_grading (round trip, known bugs, alternatives,
    Korean edition) reads it."""
    import subprocess
    import sys

    subs_dir = tmp_path_factory.mktemp("course-submitted")
    out = tmp_path_factory.mktemp("course-graded")
    notebooks = course_batch_submissions()
    for (student, slug), nb in notebooks.items():
        write(nb, subs_dir / student / slug / f"{slug}.ipynb")
    proc = subprocess.run([sys.executable, "-m", "autograde", "grade", str(subs_dir), "--out", str(out)],
                          capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return subs_dir, out, notebooks, proc
