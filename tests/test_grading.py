"""The nbgrader round trip: release -> submissions -> `python -m autograde grade` -> grades.csv + gradebook.

Per lesson: the solutions get full marks, the untouched student notebook gets 0 without a crash, a
submission with one known bug loses exactly that exercise's points, and a submission that hard-codes the
visible answers loses the hidden-test points. Then a batch of broken submissions: each gets a clear status
and the rest of the batch is still graded.
"""
from __future__ import annotations

import csv
import html
import json
import os
import re
import subprocess
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook

from conftest import (LESSONS, alternative_student, answer_sources, known_alternatives, lesson_fixture,
                      one_bug_student, points_of_tests, solved, write)

pytestmark = pytest.mark.slow

# The round trip's students; "onebug" is read from the course batch's student holding the fixture's BUG.
STUDENTS = ("solved", "untouched", "onebug", "hardcoded")


def run_cli(*args, timeout=1800, env=None):
    return subprocess.run([sys.executable, "-m", "autograde", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def read_grades(out):
    with (out / "grades.csv").open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["student", "lesson", "score", "max_score", "status", "flags",
                       "raw_score", "late_penalty", "submitted", "due", "hours_late", "submitted_from"]
    return {(r[0], r[1]): dict(zip(rows[0], r)) for r in rows[1:]}


@pytest.fixture(scope="module")
def round_trip(course_batch):
    """The course batch (conftest.course_batch: solved, untouched, every known bug, hard-coded, alternative and
    Korean submissions of every lesson, graded once by `python -m autograde grade`)."""
    _, out, notebooks, proc = course_batch
    return out, read_grades(out), proc.stdout, notebooks


def student_of(lesson, student: str) -> str:
    return one_bug_student(lesson) if student == "onebug" else student


def cell_scores(out, lesson, student):
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(lesson.slug, lesson.slug, student)
        return {g.name: g.score for g in nb.grades if g.cell.name in points_of_tests(lesson)}


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.slug for lesson in LESSONS])
def test_round_trip_scores(round_trip, lesson):
    out, grades, _, _ = round_trip
    points = points_of_tests(lesson)
    total = sum(points.values())
    fx = lesson_fixture(lesson.slug)
    onebug = student_of(lesson, "onebug")
    for student in STUDENTS:
        row = grades[(student_of(lesson, student), lesson.slug)]
        assert row["status"] == "graded", row
        assert float(row["max_score"]) == total

    assert float(grades[("solved", lesson.slug)]["score"]) == total, cell_scores(out, lesson, "solved")
    assert float(grades[("untouched", lesson.slug)]["score"]) == 0

    bug = cell_scores(out, lesson, onebug)
    lost = {gid for gid, score in bug.items() if score < points[gid]}
    assert lost == set(fx.BUG["loses"]), f"the known bug in {fx.BUG['cell']} cost {lost}"
    assert all(bug[gid] == 0 for gid in lost)

    hard = cell_scores(out, lesson, "hardcoded")
    lost = {gid for gid, score in hard.items() if score < points[gid]}
    assert lost == set(fx.HARDCODED["loses"]), f"hard-coded answers cost {lost}"


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.slug for lesson in LESSONS])
def test_every_known_bug_costs_exactly_its_own_exercise(round_trip, lesson):
    """One submission per known bug of every lesson whose fixture lists BUGS (student "bug<k>")."""
    fx = lesson_fixture(lesson.slug)
    if not hasattr(fx, "BUGS"):
        pytest.skip(f"{lesson.slug}: the fixture lists only BUG (graded by the round trip)")
    out, grades, _, _ = round_trip
    points = points_of_tests(lesson)
    covered = {gid for bug in fx.BUGS for gid in bug["loses"]}
    assert covered == set(points), f"{lesson.slug}: test cells without a known bug: {set(points) - covered}"
    for k, bug in enumerate(fx.BUGS):
        assert grades[(f"bug{k}", lesson.slug)]["status"] == "graded", grades[(f"bug{k}", lesson.slug)]
        scores = cell_scores(out, lesson, f"bug{k}")
        lost = {gid for gid, score in scores.items() if score < points[gid]}
        assert lost == set(bug["loses"]), f"{lesson.slug}: the known bug in {bug['cell']} cost {lost}"
        assert all(scores[gid] == 0 for gid in lost)


WITH_ALTERNATIVES = [lesson for lesson in LESSONS if known_alternatives(lesson_fixture(lesson.slug))]


@pytest.mark.parametrize("lesson", WITH_ALTERNATIVES, ids=[lesson.slug for lesson in WITH_ALTERNATIVES])
def test_correct_answers_written_differently_get_full_marks(round_trip, lesson):
    """Tests check behaviour, not spelling: a correct network whose layers have other names, another nesting or
    another order of registration, a loss or an IoU written another right way, gets every point (fixture
    ALTERNATIVE or ALTERNATIVES, students "alternative", "alternative1", ...)."""
    out, grades, _, _ = round_trip
    for k, _ in enumerate(known_alternatives(lesson_fixture(lesson.slug))):
        student = alternative_student(k)
        row = grades[(student, lesson.slug)]
        assert row["status"] == "graded", row
        assert float(row["score"]) == sum(points_of_tests(lesson).values()), (student, cell_scores(out, lesson, student))


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.slug for lesson in LESSONS])
def test_hardcoded_answers_pass_the_visible_tests(round_trip, lesson):
    """The hard-coded fixtures really are hard-coded visible answers: in every test cell they lose, the visible
    part (what the learner's own notebook runs) passed and the hidden part failed, so only the hidden tests
    catch them. Read from the course batch's "hardcoded" student (the grader records where a test failed)."""
    out, _, _, _ = round_trip
    fx = lesson_fixture(lesson.slug)
    result = json.loads((out / "results" / "hardcoded" / f"{lesson.slug}.json").read_text(encoding="utf-8"))
    tests = {t["grade_id"]: t for t in result["tests"]}
    for gid in fx.HARDCODED["loses"]:
        assert tests[gid]["status"] == "fail" and tests[gid]["hidden"], \
            f"{lesson.slug}: the visible part of {gid} fails on the hard-coded answer: {tests[gid]}"


def test_grade_output_has_progress_and_a_gradebook(round_trip):
    out, grades, stdout, notebooks = round_trip
    # Every student of the class has a row for every lesson: the notebooks they handed in graded, the lessons
    # they did not hand in (the batch's bug<k> students exist only for lessons with that many known bugs) missing.
    assert set(notebooks) <= set(grades) and len(grades) >= len(STUDENTS) * len(LESSONS)
    assert not [key for key in notebooks if grades[key]["status"] == "missing"]
    assert not [key for key, row in grades.items() if key not in notebooks and row["status"] != "missing"]
    assert f"[{len(grades)}/{len(grades)}" in stdout          # progress counts every row, missing ones too
    assert (out / "gradebook.db").is_file()


# --- broken submissions -------------------------------------------------------------------------------

def _noisy(lesson, func: str) -> str:
    """The solution of answer cell ``func`` wrapped so that every call prints a warning on stderr."""
    return answer_sources(lesson)[func] + f"""

import functools as _functools, warnings as _warnings
_warnings.simplefilter("always")
def _warn_then(fn):
    @_functools.wraps(fn)
    def wrapper(*args, **kwargs):
        _warnings.warn("a harmless library warning", UserWarning)
        return fn(*args, **kwargs)
    return wrapper
{func} = _warn_then({func})
"""


@pytest.fixture(scope="module")
def faults(tmp_path_factory):
    lesson = LESSONS[0]
    fx = lesson_fixture(lesson.slug)
    subs = tmp_path_factory.mktemp("faulty")
    out = tmp_path_factory.mktemp("faulty-graded")
    name = f"{lesson.slug}.ipynb"
    folder = lambda student: subs / student / lesson.slug  # noqa: E731
    good = nbformat.writes(solved(lesson))

    write(solved(lesson), folder("honest") / name)
    (folder("truncated")).mkdir(parents=True)
    (folder("truncated") / name).write_text(good[: len(good) // 2], encoding="utf-8")
    (folder("latin1")).mkdir(parents=True)
    (folder("latin1") / name).write_bytes(good.encode("utf-8") + "\n# caf\u00e9".encode("latin-1"))
    old = json.loads(good)
    old["nbformat"] = 3
    (folder("nbformat3")).mkdir(parents=True)
    (folder("nbformat3") / name).write_text(json.dumps(old), encoding="utf-8")
    folder("empty").mkdir(parents=True)
    write(solved(lesson), folder("renamed") / "Untitled.ipynb")
    write(solved(lesson), folder("two_notebooks") / "Untitled.ipynb")
    write(solved(lesson), folder("two_notebooks") / "Untitled1.ipynb")
    first_answer = fx.BUG["cell"]
    write(solved(lesson, {first_answer: "while True:\n    pass"}), folder("looping") / name)
    write(solved(lesson, {first_answer: "import os\nos._exit(3)"}), folder("crashing") / name)
    # the same stops after a correct answer in the same cell: what the cell defined above them is kept
    answer = answer_sources(lesson)[first_answer]
    write(solved(lesson, {first_answer: f"{answer}\nwhile True:\n    pass"}), folder("defined_then_looping") / name)
    write(solved(lesson, {first_answer: f"{answer}\nimport os\nos._exit(3)"}), folder("defined_then_crashing") / name)
    write(solved(lesson, {first_answer: _noisy(lesson, first_answer)}), folder("warning") / name)

    proc = run_cli("grade", str(subs), "--out", str(out), "--timeout", "10")
    assert proc.returncode == 0, proc.stderr
    return lesson, read_grades(out), proc.stdout, out


@pytest.mark.parametrize("student, status, flag", [
    ("truncated", "invalid-notebook", ""),
    ("latin1", "invalid-notebook", ""),
    ("nbformat3", "invalid-notebook", ""),
    ("empty", "missing", ""),
])
def test_broken_submissions_get_a_clear_status_and_no_points(faults, student, status, flag):
    lesson, grades, stdout, _ = faults
    row = grades[(student, lesson.slug)]
    assert row["status"] == status
    assert float(row["score"]) == 0 and float(row["max_score"]) > 0
    assert flag in row["flags"]
    assert f"{student} {lesson.slug}: {status}" in stdout


def test_two_notebooks_in_a_folder_the_newest_is_graded_and_flagged(faults):
    lesson, grades, _, _ = faults
    row = grades[("two_notebooks", lesson.slug)]
    assert row["status"] == "graded" and {"duplicate", "renamed-notebook"} <= set(row["flags"].split(";"))
    assert float(row["score"]) == sum(points_of_tests(lesson).values())


def test_a_renamed_notebook_is_graded_and_flagged(faults):
    lesson, grades, _, _ = faults
    row = grades[("renamed", lesson.slug)]
    assert row["status"] == "graded" and "renamed-notebook" in row["flags"]
    assert float(row["score"]) == sum(points_of_tests(lesson).values())


def test_a_kernel_death_costs_only_that_exercise(faults):
    lesson, grades, _, _ = faults
    fx = lesson_fixture(lesson.slug)
    row = grades[("crashing", lesson.slug)]
    assert row["status"] == "graded" and "kernel-died" in row["flags"]
    full = sum(points_of_tests(lesson).values())
    assert float(row["score"]) == full - sum(points_of_tests(lesson)[gid] for gid in fx.BUG["loses"])
    _the_failed_test_says_why(faults, "crashing", "kernel died in a cell before this test")


def test_a_harmless_warning_costs_nothing_and_the_batch_goes_on(faults):
    lesson, grades, _, _ = faults
    full = sum(points_of_tests(lesson).values())
    assert float(grades[("honest", lesson.slug)]["score"]) == full
    assert float(grades[("warning", lesson.slug)]["score"]) == full


def test_an_endless_loop_costs_only_that_exercise(faults):
    lesson, grades, _, _ = faults
    fx = lesson_fixture(lesson.slug)
    row = grades[("looping", lesson.slug)]
    assert row["status"] == "graded" and "timeout" in row["flags"]
    full = sum(points_of_tests(lesson).values())
    lost = sum(points_of_tests(lesson)[gid] for gid in fx.BUG["loses"])
    assert float(row["score"]) == full - lost
    _the_failed_test_says_why(faults, "looping", "ran past its time limit and was stopped")


@pytest.mark.parametrize("student, flag", [("defined_then_looping", "timeout"), ("defined_then_crashing", "kernel-died")])
def test_what_a_stopped_cell_defined_above_the_stop_is_kept(faults, student, flag):
    """A correct answer with an endless loop (or an os._exit) below it in the same cell: the kernel is replaced, and the
    cell's definitions above the statement that stopped it run again in the new one, so its tests pass (a helper's
    lesson-04 class: a correct conv_macs above one endless loop cost 4 + 3 points). The graded notebook says so."""
    lesson, grades, _, out = faults
    fx = lesson_fixture(lesson.slug)
    row = grades[(student, lesson.slug)]
    assert row["status"] == "graded" and flag in row["flags"].split(";"), row
    assert float(row["score"]) == sum(points_of_tests(lesson).values()), row
    graded = nbformat.read(out / "autograded" / student / lesson.slug / f"{lesson.slug}.ipynb", as_version=4)
    notes = [o.get("text", "") for c in graded.cells if c.cell_type == "code" for o in c.outputs]
    assert any(f"({fx.BUG['cell']}" in note and "run again in the new kernel" in note for note in notes), notes
    # the page (and the self-check: one sentence for both, check.problem_sentences) names the cell and what was kept
    page = html.unescape((out / "feedback" / student / f"{lesson.slug}.html").read_text(encoding="utf-8"))
    first_line = answer_sources(lesson)[fx.BUG["cell"]].strip().splitlines()[0][:30]
    assert f"The cell that starts with «{first_line}" in page or f"in the cell that starts with «{first_line}" in page
    assert f"({fx.BUG['cell']}" in page.split("What that cell defines above the statement that stopped it", 1)[1][:80]


def _the_failed_test_says_why(faults, student, why):
    """The test after a stopped answer cell says so with its failure (self-check and the feedback page show it): a
    learner read only "name ... is not defined" (an instructor's trial); the tests that pass say nothing of it."""
    lesson, _, _, out = faults
    fx = lesson_fixture(lesson.slug)
    result = json.loads((out / "results" / student / f"{lesson.slug}.json").read_text(encoding="utf-8"))
    for test in result["tests"]:
        assert (why in test["message"]) == (test["grade_id"] in fx.BUG["loses"]), test
    page = (out / "feedback" / student / f"{lesson.slug}.html").read_text(encoding="utf-8")
    assert why in page


# --- the learner's self-check --------------------------------------------------------------------------

def hidden_lines(lesson):
    source = nbformat.read(lesson.source, as_version=4)
    lines = []
    for cell in source.cells:
        if "### BEGIN HIDDEN TESTS" in cell.source:
            hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
            lines += [ln.strip() for ln in hidden.splitlines() if len(ln.strip()) > 25]
    return lines


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.slug for lesson in LESSONS])
def test_self_check_reports_hidden_failures_without_showing_hidden_tests(tmp_path, lesson):
    fx = lesson_fixture(lesson.slug)
    path = write(solved(lesson, fx.HARDCODED["cells"]), tmp_path / f"{lesson.slug}.ipynb")
    proc = run_cli("check", lesson.number, str(path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    for gid in fx.HARDCODED["loses"]:
        assert re.search(rf"\[FAIL\] +{gid} ", proc.stdout), proc.stdout
    assert "hidden check found a problem" in proc.stdout
    for line in hidden_lines(lesson):
        assert line not in proc.stdout, f"the self-check printed hidden test source: {line}"



def test_self_check_says_when_everything_passes(tmp_path):
    # One lesson is enough here: test_notebooks runs every solution with its hidden tests in a kernel.
    lesson = LESSONS[0]
    good = write(solved(lesson), tmp_path / "good" / f"{lesson.slug}.ipynb")
    proc = run_cli("check", lesson.slug, str(good))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Every test passes" in proc.stdout and "[FAIL]" not in proc.stdout


def test_a_failed_regrade_leaves_no_stale_score(tmp_path):
    lesson = LESSONS[0]
    subs, out = tmp_path / "subs", tmp_path / "out"
    path = write(solved(lesson), subs / "alice" / lesson.slug / f"{lesson.slug}.ipynb")
    assert run_cli("grade", str(subs), "--out", str(out)).returncode == 0
    assert float(read_grades(out)[("alice", lesson.slug)]["score"]) == sum(points_of_tests(lesson).values())

    path.write_text(path.read_text(encoding="utf-8")[:500], encoding="utf-8")     # a broken re-submission
    assert run_cli("grade", str(subs), "--out", str(out)).returncode == 0
    row = read_grades(out)[("alice", lesson.slug)]
    assert row["status"] == "invalid-notebook" and float(row["score"]) == 0
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        assert [s.student_id for s in gb.assignment_submissions(lesson.slug)] == [], \
            "the old full score is still in the gradebook after the failed re-grade"


# --- the Korean edition (한국어판) is graded exactly like the English one ---------------------------------

def test_korean_edition_round_trip(round_trip, tmp_path):
    """Every lesson's Korean notebook, in the course batch: answered with the solutions it gets full marks,
    untouched it gets 0, with no flag; and the self-check explains a failure of lesson 01 in Korean."""
    from autograde.i18n import LANGS, catalog_path
    from autograde.lessons import grade_cells

    _, grades, _, notebooks = round_trip
    translated = [lesson for lesson in LESSONS if catalog_path(lesson, "ko").is_file()]
    assert "ko" in LANGS and len(translated) == len(LESSONS) == 10
    solved_of = {}
    for lesson in translated:
        korean, solved_ko = notebooks[("untouched_ko", lesson.slug)], notebooks[("solved_ko", lesson.slug)]
        assert korean.metadata["cnnbook"]["language"] == "ko"
        assert any("\uac00" <= ch <= "\ud7a3" for c in korean.cells if c.cell_type == "markdown" for ch in c.source)
        solved_of[lesson.slug] = solved_ko
    korean_rows = {key: row for key, row in grades.items() if key[0] in ("solved_ko", "untouched_ko")}
    assert len(korean_rows) == 2 * len(translated), sorted(korean_rows)
    wrong = []
    for lesson in translated:
        total = sum(points_of_tests(lesson).values())
        solved_row, blank_row = grades[("solved_ko", lesson.slug)], grades[("untouched_ko", lesson.slug)]
        if (solved_row["status"], float(solved_row["score"]), float(solved_row["max_score"]),
                solved_row["flags"]) != ("graded", total, total, ""):
            wrong.append(f"{lesson.slug} solved: {solved_row}")        # translated code cells are the course's
        if (blank_row["status"], float(blank_row["score"])) != ("graded", 0):
            wrong.append(f"{lesson.slug} untouched: {blank_row}")
    assert not wrong, "\n".join(wrong)

    lesson = next(lesson for lesson in LESSONS if lesson.slug == "01_history")
    nb_path = f"{lesson.slug}/{lesson.slug}.ipynb"
    total = sum(points_of_tests(lesson).values())
    solved_ko = solved_of[lesson.slug]
    wrong = nbformat.from_dict(json.loads(json.dumps(solved_ko)))
    grade_cells(wrong)["sort_events"].source = (
        "def sort_events(events):\n    return [e['name'] for e in sorted(events, key=lambda e: -e['year'])]\n")
    path = write(wrong, tmp_path / "mine" / nb_path)
    proc = run_cli("check", "01", str(path), "--lang", "ko")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"\[실패\] +test_sort_events ", proc.stdout), proc.stdout
    assert "흔한 실수로 보입니다: 최신 것이 먼저 옴" in proc.stdout, proc.stdout
    points = points_of_tests(lesson)
    assert f"점수: {total - points['test_sort_events']:g} / {total:g}" in proc.stdout, proc.stdout

    # Without --lang, saved anywhere (not in a folder named ko): the notebook's own metadata says Korean.
    flat = tmp_path / "downloads" / "my copy.ipynb"
    flat.parent.mkdir()
    flat.write_bytes(path.read_bytes())
    proc = run_cli("check", "01", str(flat), env={"CNNBOOK_LANG": "en"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"\[실패\] +test_sort_events ", proc.stdout) and "흔한 실수로 보입니다: 최신 것이 먼저 옴" in proc.stdout, \
        proc.stdout

    # Graded in a class, a Korean notebook's feedback is Korean too (the grader's own language is English here).
    out = round_trip[0]
    for student in ("untouched_ko", "solved_ko"):
        stored = json.loads((out / "results" / student / "01_history.json").read_text(encoding="utf-8"))
        assert stored.get("language") == "ko", (student, stored.get("language"))
    untouched = json.loads((out / "results" / "untouched_ko" / "01_history.json").read_text(encoding="utf-8"))
    assert any("\uac00" <= ch <= "\ud7a3" for t in untouched["tests"] for ch in t.get("message", "")), \
        [t.get("message") for t in untouched["tests"]]
