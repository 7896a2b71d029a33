"""Warm kernels: each worker starts the next submission's sandboxed kernel while it grades the current one.

A warm kernel is fresh (nothing of the submission graded before it), gives exactly the verdicts a cold one gives,
and nothing of it outlives the batch. Graded for real against the grader's test lesson (tests/course/99_guard).
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from autograde.grade import grade_batch
from autograde.lessons import find_lesson
from autograde.runner import _Spare, lesson_preload
from autograde import forked
from autograde.sandbox import WORK_ROOT_PREFIX, Limits
from conftest import GUARD, GUARD_LOOPS, GUARD_MUTATES, GUARD_SOLUTIONS, solved, submission, write

pytestmark = pytest.mark.slow

SLUG = GUARD.slug
LEAVE = '''import builtins, os, sys
builtins.TRACE_MARK = "left by the submission before"
os.environ["TRACE_MARK"] = "1"
open("/tmp/trace-mark", "w").write("x")
open(os.path.expanduser("~/trace-mark"), "w").write("x")
sys.modules["trace_mark"] = sys
secret_answer = 42
'''
LOOK = '''import builtins, os, sys
print("TRACES", hasattr(builtins, "TRACE_MARK"), "TRACE_MARK" in os.environ, os.path.exists("/tmp/trace-mark"),
      os.path.exists(os.path.expanduser("~/trace-mark")), "trace_mark" in sys.modules, "secret_answer" in globals())
'''


def _result(out: Path, student: str) -> dict:
    return json.loads((out / "results" / student / f"{SLUG}.json").read_text(encoding="utf-8"))


@pytest.fixture
def short_tmpdir(monkeypatch):
    """A TMPDIR of the workers shallow enough for the grader's kernel folders to go there (sandbox.work_base):
    pytest's tmp_path can be too deep (pytest-xdist's is)."""
    work = Path(tempfile.mkdtemp(prefix="w", dir="/tmp"))
    monkeypatch.setenv("TMPDIR", str(work))          # the workers' sandboxes' host folders go here
    yield work
    shutil.rmtree(work, ignore_errors=True)


def test_a_warm_kernel_holds_nothing_of_the_submission_before_and_nothing_is_left(tmp_path, short_tmpdir):
    work = short_tmpdir
    subs, out = tmp_path / "subs", tmp_path / "out"
    first = solved(GUARD)
    first.cells.append(nbformat.v4.new_code_cell(LEAVE))
    write(first, subs / "a_leaves" / SLUG / f"{SLUG}.ipynb")
    for student in ("b_looks", "c_looks"):
        nb = solved(GUARD)
        nb.cells.insert(0, nbformat.v4.new_code_cell(LOOK))
        write(nb, subs / student / SLUG / f"{SLUG}.ipynb")
    rows = grade_batch(subs, out, solutions=GUARD_SOLUTIONS, workers=1, progress=lambda *_: None)
    assert {r.student: r.score for r in rows} == {"a_leaves": 4.0, "b_looks": 4.0, "c_looks": 4.0}
    assert _result(out, "a_leaves")["kernel"]["warm"] is False       # the worker's first kernel
    for student in ("b_looks", "c_looks"):
        assert _result(out, student)["kernel"]["warm"] is True, student
        graded = nbformat.read(out / "autograded" / student / SLUG / f"{SLUG}.ipynb", as_version=4)
        printed = "".join(o.get("text", "") for o in graded.cells[0].outputs)
        assert printed.strip() == "TRACES False False False False False False", (student, printed)
    assert not list(work.glob("cnnbook-grade-*")), "a kernel's folder outlived the batch (the unused spare's too)"


def test_a_tmpdir_too_deep_for_a_kernels_sockets_still_grades(tmp_path, monkeypatch):
    """A kernel's sockets are files in its folder and a socket's path holds at most 107 bytes: under a deep TMPDIR
    (an instructor's, pytest-xdist's) every kernel failed to start, a grader-error for every submission. The
    grader's folders go in /tmp then, and nothing of them is left."""
    deep = tmp_path / ("d" * 80)
    deep.mkdir()
    monkeypatch.setenv("TMPDIR", str(deep))
    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in ("a", "b"):
        write(solved(GUARD), subs / student / SLUG / f"{SLUG}.ipynb")
    before = set(Path("/tmp").glob(f"{WORK_ROOT_PREFIX}*"))
    rows = grade_batch(subs, out, solutions=GUARD_SOLUTIONS, workers=1, progress=lambda *_: None)
    assert sorted((r.student, r.status, r.score) for r in rows) == [("a", "graded", 4.0), ("b", "graded", 4.0)]
    assert _result(out, "b")["kernel"]["forked"] == forked.available(True), _result(out, "b")["kernel"]
    assert not list(deep.glob(f"{WORK_ROOT_PREFIX}*"))
    # (a folder of a grader still running, another test's at the same time, is not this batch's: its workers ended)
    left = [p for p in set(Path("/tmp").glob(f"{WORK_ROOT_PREFIX}*")) - before
            if not Path(f"/proc/{p.name.split('-')[2]}").exists()]
    assert not left, f"a kernel folder of this batch was left in /tmp: {left}"


def test_every_kernel_has_its_own_lessons_libraries_imported_before_the_learners_code(tmp_path):
    """A batch of two lessons handed in student by student (a: 01, 03; b: 01, 03) is graded lesson by lesson, and
    a kernel started for the next submission while the worker grades lesson 01 (numpy, matplotlib) is never used
    for lesson 03, which needs torch too: it would import torch in the learner's first cell, about 1 s more per
    notebook. Before, every lesson-03 notebook after a lesson-01 one got such a kernel."""
    lessons = [find_lesson("01"), find_lesson("03")]
    preloads = {lesson.slug: lesson_preload(nbformat.read(lesson.source, as_version=4)) for lesson in lessons}
    assert preloads["01_history"] != preloads["03_padding_stride"]        # what this test is about
    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in ("a", "b"):
        for lesson in lessons:
            write(solved(lesson), subs / student / lesson.slug / f"{lesson.slug}.ipynb")
    rows = grade_batch(subs, out, workers=1, progress=lambda *_: None)
    assert {(r.student, r.lesson) for r in rows if r.status == "graded" and r.score == r.max_score} == {
        (s, lesson.slug) for s in ("a", "b") for lesson in lessons}
    kernels = {(s, lesson.slug): json.loads((out / "results" / s / f"{lesson.slug}.json").read_text("utf-8"))["kernel"]
               for s in ("a", "b") for lesson in lessons}
    for (student, slug), kernel in kernels.items():
        assert set(kernel["preload"]) >= set(preloads[slug]), (student, slug, kernel)
    # Lesson by lesson: the second notebook of each lesson gets the kernel started while the first was graded.
    assert kernels[("b", "01_history")]["warm"] and kernels[("b", "03_padding_stride")]["warm"], kernels


def test_warm_and_cold_kernels_give_the_same_verdicts(tmp_path):
    subs = tmp_path / "subs"
    batch = {"honest": solved(GUARD), "blank": submission(GUARD), "mutates": solved(GUARD, {"group_max": GUARD_MUTATES}),
             "loops": solved(GUARD, {"group_max": GUARD_LOOPS}),
             "wrong_pool": solved(GUARD, {"pool": "def pool(values, width, mode):\n    raise ValueError(mode)"})}
    for student, nb in batch.items():
        write(nb, subs / student / SLUG / f"{SLUG}.ipynb")
    verdicts = {}
    for warm in (True, False):
        out = tmp_path / f"out-{warm}"
        # one worker: every notebook after its first is graded in a warm kernel (two workers started twice the
        # processes, and gave warm kernels to three notebooks of the five)
        grade_batch(subs, out, solutions=GUARD_SOLUTIONS, workers=1, hidden_seed=11, warm_kernels=warm,
                    progress=lambda *_: None)
        verdicts[warm] = {s: [(t["grade_id"], t["status"], t["message"]) for t in _result(out, s)["tests"]]
                          for s in batch}
        assert all(_result(out, s)["kernel"]["warm"] is False for s in batch) or warm
    assert verdicts[True] == verdicts[False]
    assert sum(len(v) for v in verdicts[True].values()) == 5 * 3


def test_a_spare_nobody_takes_shuts_itself_down(tmp_path, monkeypatch):
    monkeypatch.setattr(_Spare, "IDLE_SECONDS", 0.5)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    spare = _Spare(("key",), Limits(), isolate=False, threads=1, preload=())
    assert spare.started.wait(120) and spare.error is None
    deadline = time.monotonic() + 30
    while spare.work_root.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not spare.work_root.exists() and spare.gone and not spare.kernel.alive()
    assert spare.take(("key",)) is None              # an expired spare is never handed out


REACH_THE_SPARE = '''import glob, os, signal, sys, time
import cnnbook
time.sleep(4)                                   # the worker starts the next submission's kernel meanwhile
own = os.path.dirname(os.environ["JUPYTER_RUNTIME_DIR"])
# what the sandbox binds on purpose, read-only, wherever it lives (a project cloned under /tmp, a venv there)
bound = [os.path.dirname(os.path.dirname(cnnbook.__file__)), sys.prefix, os.path.dirname(sys.executable)]
seen = [p for p in glob.glob("/tmp/*") + glob.glob("/tmp/*/kernel/*") + glob.glob("/dev/shm/*")
        if not p.startswith(own) and not own.startswith(p + "/") and "matplotlib" not in p   # nor the way to it
        and not any(b == p or b.startswith(p + "/") for b in bound)]
mine = {1} | {int(t) for t in os.listdir("/proc/self/task")}      # the sandbox's init, this kernel's threads
signalled = 0
for pid in sorted(set(range(2, 4000)) - mine):
    try:
        os.kill(pid, signal.SIGKILL)
        signalled += 1
    except OSError:
        pass
try:
    open(glob.glob("/tmp/cnnbook-grader-matplotlib-*")[0] + "/fontlist-v0.json", "w").write("{}")
    wrote = True
except (OSError, IndexError):
    wrote = False
print("SPARE", len(seen), signalled, wrote)
'''


def test_a_submission_cannot_reach_the_kernel_started_for_the_next_one(tmp_path):
    """While a submission runs, its worker starts the next one's kernel: the running one finds no folder, socket or
    process of it to read or signal, cannot leave anything in what the sandboxes share, and the next submission
    gets that warm kernel, untouched, and full marks."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    attacker = solved(GUARD)
    # before the first test: the outputs of cells that run after a hidden check are not published
    at = 1 + next(i for i, c in enumerate(attacker.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "guard_imports")
    attacker.cells.insert(at, nbformat.v4.new_code_cell(REACH_THE_SPARE))
    write(attacker, subs / "a_attacker" / SLUG / f"{SLUG}.ipynb")
    write(solved(GUARD), subs / "b_next" / SLUG / f"{SLUG}.ipynb")
    rows = grade_batch(subs, out, solutions=GUARD_SOLUTIONS, workers=1, progress=lambda *_: None)
    assert {r.student: r.score for r in rows} == {"a_attacker": 4.0, "b_next": 4.0}
    assert _result(out, "b_next")["kernel"]["warm"] is True and _result(out, "b_next")["flags"] == []
    graded = nbformat.read(out / "autograded" / "a_attacker" / SLUG / f"{SLUG}.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for o in graded.cells[at].outputs)
    assert printed.strip() == "SPARE 0 0 False", printed
