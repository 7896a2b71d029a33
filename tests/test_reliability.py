"""Never lose a grade: the grader's own failures, a dead worker, manual grades, partial runs and clean stops.

Every test grades the grader's test lesson (tests/course/99_guard) for real: sandboxed kernels, worker processes,
nbgrader's gradebook. Faults of the grading machine are forced through grade_batch(faults=...), a hook the CLI
never sets and a submission cannot reach; a worker is also killed from outside, by its pid, as the OOM killer would.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import deque
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograde.grade import grade_batch
from autograde.lessons import ROOT, grade_cells
from autograde.sandbox import cgroup_version
from conftest import GUARD, GUARD_SOLUTIONS, answer_sources, solved, submission, write

pytestmark = pytest.mark.slow

SLUG = GUARD.slug
FULL_AUTO = 4.0                     # group_max 2 + pool 1 + make_layer 1; why_pooling (1) is graded by hand
WRONG_POOL = answer_sources(GUARD)["pool"].replace('"max"', '"nope"')


def put(subs: Path, student: str, nb) -> None:
    write(nb, subs / student / SLUG / f"{SLUG}.ipynb")


def grades(out: Path) -> dict[str, dict]:
    with (out / "grades.csv").open(encoding="utf-8-sig") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def gradebook_scores(out: Path) -> dict[str, float]:
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        return {s.student_id: s.score for s in gb.assignment_submissions(SLUG)}


def run(subs: Path, out: Path, workers: int = 1, **kwargs) -> tuple[list, list[str]]:
    """One worker unless a test needs two grading at once: each worker started costs about 5 s of CPU (its own
    imports, its zygote's and its judge's), more than grading a notebook of the test lesson."""
    lines: list[str] = []
    rows = grade_batch(subs, out, solutions=GUARD_SOLUTIONS, workers=workers, progress=lines.append, **kwargs)
    return rows, lines


def graded_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("[")]


def graded_students(text: str) -> list[str]:
    """The students of the progress lines ("[3/6, ~9s left] carol 99_guard: graded 4/5"), in order."""
    return [line.split("] ", 1)[1].split()[0] for line in graded_lines(text)]


# --- processes, read from /proc --------------------------------------------------------------------------

def _stat(pid: int) -> tuple[int, str, str] | None:
    """(ppid, state, start time) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), fields[0], fields[19]


def descendants(root: int) -> dict[int, tuple[str, str]]:
    """pid -> (start time, command line) of every process below ``root``."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))):
            parents[int(entry.name)] = stat
    found, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _state, start) in parents.items():
            if ppid == parent and pid not in found:
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    cmd = ""
                found[pid] = (start, cmd)
                frontier.append(pid)
    return found


def still_running(snapshot: dict[int, tuple[str, str]]) -> list[str]:
    alive = []
    for pid, (start, cmd) in snapshot.items():
        stat = _stat(pid)
        if stat and stat[2] == start and stat[1] != "Z":
            alive.append(f"{pid}: {cmd[:120]}")
    return alive


# A kernel's process as jupyter_client started it: the sandbox's wrapper and the kernel inside both name
# autograde.kernel_app; a forked kernel's is the stand-in (autograde.forked), the kernel itself is the zygote's child.
KERNEL = ("autograde.kernel_app", "autograde.forked standin")
OURS = ("spawn_main", "autograde.kernel_app", "bwrap", "autograde.forked")     # every process the grader starts


def is_kernel(cmd: str) -> bool:
    return any(word in cmd for word in KERNEL)


def busy_worker(root: int) -> int | None:
    """A worker of ``root`` that is grading right now (not one between submissions).

    A worker between submissions still has a kernel under it: the warm one it started for its next
    submission. A grading worker, while submissions are left in the queue, has two: the one it grades with
    and the next one warming. Kernels are counted at their outermost process (the sandbox's wrapper and the
    kernel inside both name autograde.kernel_app on their command lines)."""
    below = descendants(root)
    for pid, (_start, cmd) in below.items():
        if "spawn_main" in cmd and _stat(pid) and _stat(pid)[0] == root:
            kernel_pids = {p for p, (_s, c) in descendants(pid).items() if is_kernel(c)}
            outermost = [p for p in kernel_pids if (_stat(p) or (0,))[0] not in kernel_pids]
            if len(outermost) >= 2:
                return pid
    return None


# --- tests -----------------------------------------------------------------------------------------------

def test_a_korean_notebook_whose_worker_died_gets_its_page_in_korean_and_no_zero(tmp_path):
    """A Korean learner's trial: a Korean notebook whose grading worker died (twice: grader-error) got its feedback page
    in English ("not graded yet"), since the worker that would have read the notebook's edition never answered; the
    progress line said "grader-error 0/5". The batch reads the edition from the notebook's metadata (nothing run),
    and the line says it is not graded yet."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    nb = solved(GUARD)
    nb.metadata["cnnbook"] = {"language": "ko"}
    put(subs, "수아", nb)
    rows, lines = run(subs, out, faults={"수아": "kill-worker"})
    assert [(r.student, r.status) for r in rows] == [("수아", "grader-error")]
    page = (out / "feedback" / "수아" / f"{SLUG}.html").read_text(encoding="utf-8")
    assert '<html lang="ko">' in page and "아직 채점되지 않음" in page and "not graded" not in page, page
    line = next(line for line in graded_lines("\n".join(lines)) if "수아" in line)
    assert line.endswith(f"수아 {SLUG}: grader-error, not graded yet (of 5)"), line


def test_failures_of_the_grading_machine_are_retried_and_never_a_grade(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    put(subs, "alice", solved(GUARD))
    put(subs, "bob", submission(GUARD))
    for student in ("carol", "dave", "erin", "frank"):
        put(subs, student, solved(GUARD))
    faults = {"carol": "kernel-start", "dave": "kill-worker",              # fail on both tries
              "erin": "kernel-start-once", "frank": "kill-worker-once"}    # fail once, then grade
    rows, lines = run(subs, out, faults=faults)
    by = {r.student: r for r in rows}
    assert {s: (r.status, r.score) for s, r in by.items()} == {
        "alice": ("graded", FULL_AUTO), "bob": ("graded", 0.0), "carol": ("grader-error", 0.0),
        "dave": ("grader-error", 0.0), "erin": ("graded", FULL_AUTO), "frank": ("graded", FULL_AUTO)}
    assert "kernel could not be started" in by["carol"].detail and "tried 2 times" in by["carol"].detail
    assert "worker process died" in by["dave"].detail and "SIGKILL" in by["dave"].detail
    assert "tried 2 times" in by["dave"].detail
    # What flagged.md shows (a row's first line) names the cause and how often, not only the last try's words.
    assert by["dave"].detail.splitlines()[0].startswith("the grading worker died 2 times on this submission "
                                                        "(killed by SIGKILL"), by["dave"].detail
    flagged = (out / "flagged.md").read_text(encoding="utf-8")
    assert "the grading worker died 2 times on this submission" in flagged, flagged
    assert not by["erin"].flags and not by["frank"].flags          # a retried submission carries no trace of it
    for student in ("carol", "dave", "erin", "frank"):
        assert any(line.startswith(f"retrying {student} ") for line in lines), lines
    # The record: no grade at all for what the machine could not grade (never a 0 in the gradebook).
    assert gradebook_scores(out) == {"alice": FULL_AUTO, "bob": 0.0, "erin": FULL_AUTO, "frank": FULL_AUTO}
    assert "grader-error" in (out / "flagged.md").read_text(encoding="utf-8")

    # The next run (the machine healthy again) grades exactly the two grader-errors, to their real scores.
    rows, lines = run(subs, out)
    assert "resuming: 4 of 6 submissions" in lines[0]
    assert sorted(graded_students("\n".join(lines))) == ["carol", "dave"]
    assert {r.student: (r.status, r.score) for r in rows if r.student in ("carol", "dave")} == {
        "carol": ("graded", FULL_AUTO), "dave": ("graded", FULL_AUTO)}
    assert gradebook_scores(out)["carol"] == FULL_AUTO == gradebook_scores(out)["dave"]


def test_a_replacement_kernel_that_fails_to_start_is_the_machines_fault_never_the_learners(tmp_path):
    """A learner's cell ends its kernel (os._exit): the grader starts a replacement and replays the cells that
    had run. When the replacement cannot start (the fault "kernel-restart": its command exits at once, as a
    broken sandbox would), the rest of the tests cannot run: the machine's fault, retried, a grader-error after
    the last try and graded by the next run. Before, the tests left were "not run" and cost the learner their
    points."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    dying = solved(GUARD)
    dying.cells.insert(1, nbformat.v4.new_code_cell("import os\nos._exit(1)   # trying what ends a kernel"))
    for student in ("kim", "lee", "max"):
        put(subs, student, dying)
    rows, lines = run(subs, out, faults={"kim": "kernel-restart", "lee": "kernel-restart-once"})
    by = {r.student: r for r in rows}
    assert {s: (r.status, r.score) for s, r in by.items()} == {
        "kim": ("grader-error", 0.0), "lee": ("graded", FULL_AUTO), "max": ("graded", FULL_AUTO)}, by
    assert "replacement for the learner's kernel could not be started" in by["kim"].detail, by["kim"].detail
    assert "tried 2 times" in by["kim"].detail
    assert "kernel-died" in by["max"].flags          # the learner's own os._exit is still said
    assert gradebook_scores(out) == {"lee": FULL_AUTO, "max": FULL_AUTO}     # no 0 recorded for kim

    rows, lines = run(subs, out)
    assert sorted(graded_students("\n".join(lines))) == ["kim"]
    assert {r.student: (r.status, r.score) for r in rows} == {
        "kim": ("graded", FULL_AUTO), "lee": ("graded", FULL_AUTO), "max": ("graded", FULL_AUTO)}


@pytest.mark.skipif(cgroup_version() is None, reason="no writable memory cgroup here (README: isolation table)")
def test_a_kernel_the_machine_ran_out_of_memory_for_is_retried_never_graded(tmp_path):
    """Each notebook fills 700 MiB, well within its own 2 GiB. Under a group of 640 MiB above the sandbox (the
    fault "machine-oom": the kernel's real out-of-memory killer, as when the machine or the grader's container
    runs out) the kernel dies: the machine's fault, retried, a grader-error after the last try, graded next run.
    Before, it was the learner's "kernel died" and a 0."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    hoarding = solved(GUARD)
    cell = grade_cells(hoarding)["make_layer"]
    cell.source += "\n\n_hoard = b'x' * (700 * 2 ** 20)\ndel _hoard\n"
    for student in ("gil", "hal", "ivy"):
        put(subs, student, hoarding)
    rows, lines = run(subs, out, faults={"gil": "machine-oom", "hal": "machine-oom-once"})
    by = {r.student: r for r in rows}
    assert {s: (r.status, r.score) for s, r in by.items()} == {
        "gil": ("grader-error", 0.0), "hal": ("graded", FULL_AUTO), "ivy": ("graded", FULL_AUTO)}, by
    assert by["gil"].detail.startswith("the grading machine ran out of memory"), by["gil"].detail
    assert "tried 2 times" in by["gil"].detail and "kernel-died" not in by["gil"].flags
    assert not by["hal"].flags and not by["ivy"].flags
    assert any(line.startswith("retrying hal ") and "ran out of memory" in line for line in lines), lines
    assert gradebook_scores(out) == {"hal": FULL_AUTO, "ivy": FULL_AUTO}
    rows, lines = run(subs, out)
    assert sorted(graded_students("\n".join(lines))) == ["gil"]
    assert {r.student: (r.status, r.score) for r in rows}["gil"] == ("graded", FULL_AUTO)


def test_a_worker_killed_from_outside_costs_nothing(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    expected = {"ann": FULL_AUTO, "ben": 0.0, "cid": FULL_AUTO, "dan": 0.0, "eve": FULL_AUTO}
    for student, score in expected.items():
        put(subs, student, solved(GUARD) if score else submission(GUARD))
    killed: list[int] = []
    first_result = threading.Event()

    def killer() -> None:
        # From another thread: the progress callback runs in the batch's own loop, and a callback that waited there
        # for a busy worker kept the loop from sending work (both workers idle, 60 s lost per result; the test took
        # 75 s and killed a worker only when timing let it).
        first_result.wait(120)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            pid = busy_worker(os.getpid())
            if pid:
                os.kill(pid, signal.SIGKILL)             # as the out-of-memory killer would, mid-grading
                killed.append(pid)
            time.sleep(0.05)

    def progress(line: str) -> None:
        lines.append(line)
        if line.startswith("["):
            first_result.set()

    lines: list[str] = []
    watcher = threading.Thread(target=killer, daemon=True)
    watcher.start()
    rows = grade_batch(subs, out, solutions=GUARD_SOLUTIONS, workers=1, progress=progress)
    first_result.set()
    watcher.join(5)
    assert killed, "no worker was grading after the first result came in"
    assert any(line.startswith("retrying ") and "SIGKILL" in line for line in lines), lines
    assert {r.student: (r.status, r.score) for r in rows} == {s: ("graded", v) for s, v in expected.items()}
    assert gradebook_scores(out) == expected
    ours = [cmd for _, cmd in descendants(os.getpid()).values()
            if any(word in cmd for word in OURS)]
    assert not ours, ours


def _worker_of(pid: int, root: int) -> int | None:
    """The child of ``root`` that ``pid`` descends from (the grading worker of a kernel), if any."""
    while pid > 1:
        stat = _stat(pid)
        if stat is None:
            return None
        if stat[0] == root:
            return pid
        pid = stat[0]
    return None


def test_a_notebook_whose_worker_is_killed_every_time_costs_two_workers_then_is_a_grader_error(tmp_path):
    """A notebook whose grading gets its worker killed on every try (as the out-of-memory killer would when that
    notebook runs: here SIGKILL by pid, from outside, whenever its code is running) is tried twice in the run and
    then is a grader-error that says so, never a grade; the rest of the batch is graded; the next run grades it."""
    marker = "poison-marker"                     # the kernel names itself so while the notebook's code runs
    poison = answer_sources(GUARD)["group_max"] + (f'\nopen("/proc/self/comm", "w").write("{marker}")\n'
                                                   'import time\ntime.sleep(3)\n')
    subs, out = tmp_path / "subs", tmp_path / "out"
    put(subs, "ann", solved(GUARD))
    put(subs, "pat", solved(GUARD, {"group_max": poison}))
    put(subs, "zed", submission(GUARD))
    stop, killed = threading.Event(), []

    def killer() -> None:
        me = os.getpid()
        while not stop.is_set():
            for entry in Path("/proc").iterdir():
                try:
                    named = entry.name.isdigit() and (entry / "comm").read_text().strip() == marker
                except OSError:
                    continue
                worker = _worker_of(int(entry.name), me) if named else None
                if worker and worker not in killed:
                    os.kill(worker, signal.SIGKILL)
                    killed.append(worker)
            time.sleep(0.2)                      # a scan of /proc costs a few ms; the marker stays 3 s

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        rows, lines = run(subs, out)
    finally:
        stop.set()
        thread.join()
    assert len(killed) == 2, killed                  # two tries, two workers: not one more
    by = {r.student: r for r in rows}
    assert {s: (r.status, r.score) for s, r in by.items()} == {
        "ann": ("graded", FULL_AUTO), "pat": ("grader-error", 0.0), "zed": ("graded", 0.0)}
    first = by["pat"].detail.splitlines()[0]
    assert first.startswith("the grading worker died 2 times on this submission (killed by SIGKILL"), first
    assert "tried 2 times in this run; the next run grades it again" in first
    assert "the grading worker died 2 times on this submission" in (out / "flagged.md").read_text(encoding="utf-8")
    assert [line.split(":")[0] for line in lines if line.startswith("retrying ")] == ["retrying pat 99_guard"]
    assert gradebook_scores(out) == {"ann": FULL_AUTO, "zed": 0.0}        # no score at all for pat
    ours = [cmd for _, cmd in descendants(os.getpid()).values()
            if any(word in cmd for word in OURS)]
    assert not ours, ours

    rows, lines = run(subs, out)                     # nobody kills it now: graded, and only it
    assert graded_students("\n".join(lines)) == ["pat"]
    assert {r.student: (r.status, r.score) for r in rows}["pat"] == ("graded", FULL_AUTO)
    assert gradebook_scores(out) == {"ann": FULL_AUTO, "pat": FULL_AUTO, "zed": 0.0}


def _hang_budget(monkeypatch, seconds: float = 8.0) -> None:
    """The watchdog's budget, shortened for the tries a hang fault stops (the others keep theirs). Only wall time: a
    try with a hang fault never ends by itself, whatever its budget."""
    import autograde.grade

    real = autograde.grade._worker_budget

    def budget(task: dict) -> float:
        fault = task.get("fault")
        hangs = fault == "hang-worker" or (fault == "hang-worker-once" and task.get("attempt", 1) == 1)
        return seconds if hangs else real(task)

    monkeypatch.setattr(autograde.grade, "_worker_budget", budget)


def test_a_worker_stuck_in_the_grader_is_stopped_and_its_submission_graded_again(tmp_path, monkeypatch):
    """A worker that never answers (a deadlock in the grader's own code: one hung in zmq once) costs neither the
    batch nor the grade: the batch stops it after its time budget, starts a new worker and grades the submission
    again; one that hangs on every try is a grader-error, never a score. The budget is shortened for the test."""
    _hang_budget(monkeypatch, 4.0)
    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in ("ann", "ben", "cid"):
        put(subs, student, solved(GUARD))
    rows, lines = run(subs, out, faults={"ann": "hang-worker-once", "ben": "hang-worker"})
    assert {r.student: (r.status, r.score) for r in rows} == {
        "ann": ("graded", FULL_AUTO), "ben": ("grader-error", 0.0), "cid": ("graded", FULL_AUTO)}
    by = {r.student: r for r in rows}
    assert "did not finish this submission within 4 s" in by["ben"].detail and "tried 2 times" in by["ben"].detail
    assert any(line.startswith("retrying ann ") and "did not finish" in line for line in lines), lines
    assert gradebook_scores(out) == {"ann": FULL_AUTO, "cid": FULL_AUTO}
    ours = [cmd for _, cmd in descendants(os.getpid()).values()
            if any(word in cmd for word in OURS)]
    assert not ours, ours


def test_manual_grades_and_comments_survive_re_grading(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    put(subs, "alice", solved(GUARD))
    put(subs, "bob", submission(GUARD))
    run(subs, out)
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        for grade_id, score in (("why_pooling", 1.0), ("test_pool", 0.5)):      # test_pool: an override
            grade = gb.find_grade(grade_id, SLUG, SLUG, "alice")
            grade.manual_score = score                      # what formgrader's grade handler does
            grade.needs_manual_grade = grade.manual_score is None and grade.auto_score is None
        gb.find_comment("why_pooling", SLUG, SLUG, "alice").manual_comment = "Clear, with an example."
        gb.find_comment("pool", SLUG, SLUG, "alice").manual_comment = "Watch the mean case."
        gb.db.commit()

    def state() -> dict:
        with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
            why = gb.find_grade("why_pooling", SLUG, SLUG, "alice")
            test = gb.find_grade("test_pool", SLUG, SLUG, "alice")
            return {"why": why.manual_score, "why_needs_look": why.needs_manual_grade,
                    "override": test.manual_score, "auto": test.auto_score,
                    "comments": (gb.find_comment("why_pooling", SLUG, SLUG, "alice").manual_comment,
                                 gb.find_comment("pool", SLUG, SLUG, "alice").manual_comment),
                    "score": gb.find_submission(SLUG, "alice").score}

    kept = {"why": 1.0, "why_needs_look": False, "override": 0.5, "auto": 1.0,
            "comments": ("Clear, with an example.", "Watch the mean case."), "score": 2 + 0.5 + 1 + 1}
    assert state() == kept

    _, lines = run(subs, out)                       # nothing changed: nothing graded, nothing written
    assert lines == ["resuming: 2 of 2 submissions were graded before and have not changed"]
    assert state() == kept
    # grades.csv and grades-by-student.csv give the gradebook's grade, as the LMS files and nbgrader export do
    # (they once gave the tests' 4 while lms/canvas.csv gave 4.5).
    assert float(grades(out)["alice"]["score"]) == float(grades(out)["alice"]["raw_score"]) == kept["score"]
    with (out / "grades-by-student.csv").open(encoding="utf-8-sig") as f:
        assert {row["student"]: row[SLUG] for row in csv.DictReader(f)}["alice"] == f"{kept['score']:g}"
    # The student's page says what the instructor entered: the grade, the override, the comments (escaped).
    page = (out / "feedback" / "alice" / f"{SLUG}.html").read_text(encoding="utf-8")
    assert "Score: <b>4.5 / 5</b>" in page and "Clear, with an example." in page and "Watch the mean case." in page
    assert "<td>0.5 / 1</td><td>passed; graded by your instructor</td>" in page
    assert "Your instructor" not in (out / "feedback" / "bob" / f"{SLUG}.html").read_text(encoding="utf-8")

    _, lines = run(subs, out, force=True)           # graded again, same notebooks: every manual entry stays
    assert len(graded_lines("\n".join(lines))) == 2
    # The progress line gives the grade the run records (grades.csv, the LMS files), not the tests' 4 (it once did).
    alice = [line for line in lines if " alice " in line]
    assert len(alice) == 1 and alice[0].endswith(
        f"alice {SLUG}: graded 4.5/5 (the tests gave 4, the gradebook with grades entered by hand 4.5)"), alice
    assert state() == kept
    assert "manual-grade-reset" not in grades(out)["alice"]["flags"]

    put(subs, "alice", solved(GUARD, {"pool": WRONG_POOL}))   # a new notebook: the test override no longer applies
    _, lines = run(subs, out)
    assert graded_students("\n".join(lines)) == ["alice"]
    after = state()
    assert after["override"] is None and after["auto"] == 0.0
    assert after["why"] == 1.0 and after["why_needs_look"] is True       # kept, and shown again for a look
    assert after["comments"] == kept["comments"]
    assert after["score"] == 2 + 0 + 1 + 1
    assert "manual-grade-reset" in grades(out)["alice"]["flags"]
    stored = json.loads((out / "results" / "alice" / f"{SLUG}.json").read_text(encoding="utf-8"))
    assert stored["manual_grade_reset"] == ["test_pool (was 0.5)"]
    # The comments stay, and the student's page says they were written about the notebook before (a comment beside
    # a test that now passes once read as if it were about the new one), also after a forced re-grade, until the
    # instructor rewrites one.
    earlier = "(written about the notebook you handed in before this one)"

    def page_says() -> dict[str, bool]:
        page = (out / "feedback" / "alice" / f"{SLUG}.html").read_text(encoding="utf-8")
        return {text: f"{text}<br><i>{earlier}</i>" in page for text in kept["comments"]}

    assert page_says() == {"Clear, with an example.": True, "Watch the mean case.": True}
    run(subs, out, force=True)
    assert page_says() == {"Clear, with an example.": True, "Watch the mean case.": True}
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        gb.find_comment("pool", SLUG, SLUG, "alice").manual_comment = "Now the mean case is wrong."
        gb.db.commit()
    run(subs, out)
    page = (out / "feedback" / "alice" / f"{SLUG}.html").read_text(encoding="utf-8")
    assert "Now the mean case is wrong.</dd>" in page and f"Clear, with an example.<br><i>{earlier}</i>" in page


def test_one_student_is_regraded_and_the_class_reports_keep_everyone(tmp_path, capsys):
    """The command line's --student, run in this process (main(), as an instructor's command calls it: its exit
    status, what it prints)."""
    from autograde.__main__ import main

    def grade(source: Path, *args: str) -> tuple[int, str, str]:
        code = main(["grade", str(source), "--out", str(out), "--solutions", str(GUARD_SOLUTIONS), "--workers", "1",
                     *args])
        printed = capsys.readouterr()
        return code, printed.out, printed.err

    subs, out = tmp_path / "subs", tmp_path / "out"
    put(subs, "alice", solved(GUARD))
    put(subs, "bob", submission(GUARD))
    code, stdout, stderr = grade(subs)
    assert code == 0, stdout + stderr
    bob_before = (out / "results" / "bob" / f"{SLUG}.json").stat().st_mtime_ns

    code, stdout, stderr = grade(subs, "--student", "alice")      # unchanged, graded again because it was asked for
    assert code == 0, stdout + stderr
    assert graded_students(stdout) == ["alice"]
    assert (out / "results" / "bob" / f"{SLUG}.json").stat().st_mtime_ns == bob_before
    assert {s: (r["status"], float(r["score"])) for s, r in grades(out).items()} == {
        "alice": ("graded", FULL_AUTO), "bob": ("graded", 0.0)}

    # Another folder with one late student, graded into the same OUT: the class's files keep alice and bob.
    late = tmp_path / "late"
    put(late, "carol", solved(GUARD))
    code, stdout, stderr = grade(late)
    assert code == 0, stdout + stderr
    assert sorted(grades(out)) == ["alice", "bob", "carol"]
    assert "alice" in (out / "grades-by-student.csv").read_text(encoding="utf-8-sig")

    code, stdout, stderr = grade(subs, "--student", "nobody")
    assert code == 2 and "nobody" in stderr and "Traceback" not in stderr, (code, stdout, stderr)


def test_hand_ins_with_the_same_answers_are_listed_for_the_instructor_across_runs(tmp_path):
    """An instructor's trial: a copy of a classmate's notebook got no note anywhere. The worker keeps a digest of each
    hand-in's answers in its result; flagged.md lists those of a lesson that are the same (a comment aside), across
    runs into one OUT, never notebooks as released, and no student's page says it."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    put(subs, "ann", solved(GUARD))
    put(subs, "bob", solved(GUARD, {"pool": answer_sources(GUARD)["pool"] + "\n# max or mean"}))
    put(subs, "cy", submission(GUARD))
    put(subs, "dee", submission(GUARD))
    run(subs, out)
    assert json.loads((out / "results" / "ann" / f"{SLUG}.json").read_text(encoding="utf-8"))["answer_digest"]
    # (the guard's fourth answer cell, its imports, is answered as released)
    said = f"- {SLUG}: 3 of 4 answers the same (the other 1 as released or empty in each): "
    flagged = (out / "flagged.md").read_text(encoding="utf-8")
    assert [line for line in flagged.splitlines() if line.startswith(said)] == [said + "ann, bob"], flagged
    assert not any("same answers" in page.read_text(encoding="utf-8").lower()
                   for page in (out / "feedback").rglob("*.html"))
    later = tmp_path / "later"
    put(later, "eun", solved(GUARD))
    run(later, out)
    flagged = (out / "flagged.md").read_text(encoding="utf-8")
    assert [line for line in flagged.splitlines() if line.startswith(said)] == [said + "ann, bob, eun"], flagged


def test_sigterm_during_a_gradebook_write_stops_the_run_with_its_own_line(tmp_path, monkeypatch):
    """SIGTERM landing while nbgrader's gradebook runs a statement (the full suite's stop test, once): SQLAlchemy took
    the stop for an error of the statement and nbgrader raised InvalidEntry, so the run ended in a traceback with
    exit status 1. The stop goes through any library now: GradingStopped, exit status 143, results kept."""
    from sqlalchemy.engine.default import DefaultExecutionContext

    from autograde.grade import GradingStopped

    subs, out = tmp_path / "subs", tmp_path / "out"
    put(subs, "ann", solved(GUARD))
    sent = []

    inside = []
    real = Gradebook.add_submission

    def add_submission(self, *args, **kwargs):
        inside.append(True)
        try:
            return real(self, *args, **kwargs)
        finally:
            inside.pop()

    monkeypatch.setattr(Gradebook, "add_submission", add_submission)

    compile_statement = DefaultExecutionContext._init_compiled.__func__

    def terminate_once(cls, *args, **kwargs):
        # while a statement of nbgrader's add_submission (a graded submission's first write) is being prepared: an
        # error there is the statement's (StatementError), which nbgrader turns into InvalidEntry
        if inside and not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGTERM)         # its handler runs here
        return compile_statement(cls, *args, **kwargs)

    monkeypatch.setattr(DefaultExecutionContext, "_init_compiled", classmethod(terminate_once))
    with pytest.raises(GradingStopped) as stopped:
        run(subs, out)
    assert sent and stopped.value.exit_code == 143 and stopped.value.how == "stopped by SIGTERM", stopped.value


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_a_stopped_run_keeps_its_results_leaves_no_process_and_resumes(tmp_path, how):
    subs, out = tmp_path / "subs", tmp_path / "out"
    # enough submissions, each a little slow, that the run is still grading when the signal lands (forked
    # kernels graded 4 plain ones in about 5 s): after the first result, 4 s of their sleeps at least are left
    expected = {"ann": FULL_AUTO, "ben": 0.0, "cid": FULL_AUTO, "dan": FULL_AUTO, "eli": FULL_AUTO, "fay": 0.0}
    for student, score in expected.items():
        nb = solved(GUARD) if score else submission(GUARD)
        nb.cells.append(nbformat.v4.new_code_cell("import time\ntime.sleep(2)"))     # still grading when it lands
        put(subs, student, nb)
    proc = subprocess.Popen([sys.executable, "-m", "autograde", "grade", str(subs), "--out", str(out),
                             "--solutions", str(GUARD_SOLUTIONS), "--workers", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True,
                            # as a terminal starts it: Ctrl-C not ignored, even where this test runs with SIGINT
                            # ignored (pytest started in the background by a shell without job control)
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("["):
            break
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(is_kernel(c) for _, c in descendants(proc.pid).values()):
        time.sleep(0.1)
    snapshot = descendants(proc.pid)
    assert any(is_kernel(cmd) for _, cmd in snapshot.values()), "no kernel was running"
    if how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGINT)          # what a terminal does: the whole foreground group
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == (143 if how == "SIGTERM" else 130), (rest, err)
    assert "Traceback" not in err and "Traceback" not in rest
    assert len(err.strip().splitlines()) == 1 and "run the same command again to resume" in err, err
    time.sleep(1)
    assert not still_running(snapshot), still_running(snapshot)
    kept = len(list((out / "results").glob(f"*/{SLUG}.json")))
    assert kept >= 1

    rows, lines = run(subs, out)              # the resume is grade_batch's: in this process (a CLI run costs ~7 s of CPU)
    assert {r.student: r.status for r in rows} == dict.fromkeys(expected, "graded"), lines
    assert f"resuming: {kept} of {len(expected)}" in lines[0], lines
    assert len(graded_lines("\n".join(lines))) == len(expected) - kept
    assert {s: float(r["score"]) for s, r in grades(out).items()} == expected
    assert gradebook_scores(out) == expected


def test_a_second_ctrl_c_while_the_reports_are_rebuilt_still_says_what_was_kept(tmp_path, monkeypatch, capsys):
    """An instructor's trial: Ctrl-C pressed twice. The first stops the workers (their finished results are kept)
    and the reports are then rebuilt from OUT; the second, landing there, ended the run with a bare "interrupted
    (Ctrl-C)". It ends with the stop's own line: what was kept, how to resume, and that the reports were not
    rebuilt. Both presses are real KeyboardInterrupts, raised where a terminal's would land."""
    import autograde.grade
    from autograde.__main__ import main

    subs, out = tmp_path / "subs", tmp_path / "out"
    put(subs, "alice", solved(GUARD))
    put(subs, "bob", solved(GUARD))

    def first_press(workers, queue, settle):
        raise KeyboardInterrupt

    def second_press(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(autograde.grade, "_run_local", first_press)
    monkeypatch.setattr(autograde.grade, "refresh_feedback", second_press)
    args = ["grade", str(subs), "--out", str(out), "--solutions", str(GUARD_SOLUTIONS), "--workers", "1"]
    assert main(args) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("interrupted (Ctrl-C): 0 of 2 submissions") and "run the same command again" in err[0]
    assert "reports not rebuilt" in err[0], err


def test_the_cli_exits_non_zero_while_a_submission_needs_a_re_run(tmp_path, monkeypatch, capsys):
    """An instructor's script notices a grader-error: exit 3 and one line saying how many; 0 once all are graded.
    The fault is real (the kernel command fails to start), injected through grade_batch's hook."""
    import functools

    import autograde.grade
    from autograde.__main__ import EXIT_RERUN, main

    subs, out = tmp_path / "subs", tmp_path / "out"
    put(subs, "alice", solved(GUARD))
    put(subs, "bob", solved(GUARD))
    put(subs, "carl", submission(GUARD))     # unanswered: a grade (0), not an error
    real = autograde.grade.grade_batch
    monkeypatch.setattr(autograde.grade, "grade_batch", functools.partial(real, faults={"bob": "kernel-start"}))
    args = ["grade", str(subs), "--out", str(out), "--solutions", str(GUARD_SOLUTIONS), "--workers", "1"]
    assert main(args) == EXIT_RERUN == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("1 of 3 submissions") and "bob 99_guard" in err[0], err
    assert "run the same command again" in err[0]

    monkeypatch.setattr(autograde.grade, "grade_batch", real)       # the machine healthy again
    assert main(args) == 0
    assert capsys.readouterr().err == ""
    assert grades(out)["bob"]["status"] == "graded"


def test_a_dask_worker_with_two_threads_keeps_concurrent_submissions_apart(tmp_path):
    """Two threads of one Dask worker: each thread has its own judge process (a shared one would mix the two
    tests' exchanges and printed output), the process grades one submission at a time, and every verdict is
    right."""
    from distributed import Client, LocalCluster

    subs, out = tmp_path / "subs", tmp_path / "out"
    # each call waits in the kernel, so the two threads' tests overlap
    slow = answer_sources(GUARD)["group_max"].replace("def group_max(values, width):\n",
                                                      "def group_max(values, width):\n    import time\n"
                                                      "    time.sleep(1.5)\n")
    expected = {}
    for i in range(4):
        wrong = i % 2 == 1
        cells = {"group_max": slow}
        if wrong:
            cells["pool"] = WRONG_POOL
        put(subs, f"s{i}", solved(GUARD, cells))
        expected[f"s{i}"] = FULL_AUTO - (1.0 if wrong else 0.0)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        rows, lines = run(subs, out, dask=cluster.scheduler_address)
        with Client(cluster.scheduler_address) as client:
            judges = client.run(lambda: __import__("autograde.judge_process").judge_process._all_judges.__len__())
    assert all(r.status == "graded" for r in rows), lines
    assert list(judges.values()) == [2], judges              # one judge per thread, both threads graded
    # ... one submission at a time in the process (a hostile trial: a classmate's flood in the other thread tripped
    # the process-wide memory guard of an honest kernel): their grading never overlaps
    spans = sorted((r["dask_worker"]["from"], r["dask_worker"]["to"]) for r in
                   (json.loads((out / "results" / f"s{i}" / f"{SLUG}.json").read_text(encoding="utf-8"))
                    for i in range(4)))
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:])), spans
    assert {s: (r["status"], float(r["score"])) for s, r in grades(out).items()} == \
        {s: ("graded", v) for s, v in expected.items()}
    for student, score in expected.items():
        stored = json.loads((out / "results" / student / f"{SLUG}.json").read_text(encoding="utf-8"))
        verdicts = {t["grade_id"]: t["status"] for t in stored["tests"]}
        assert verdicts == {"test_group_max": "pass", "test_make_layer": "pass",
                            "test_pool": "fail" if score < FULL_AUTO else "pass"}, (student, stored["tests"])
        nb = nbformat.read(out / "autograded" / student / SLUG / f"{SLUG}.ipynb", as_version=4)
        printed = {c["metadata"]["nbgrader"]["grade_id"]: "".join(o.get("text", "") for o in c.get("outputs", [])
                                                                  if o.get("output_type") == "stream")
                   for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade", False)
                   and c["cell_type"] == "code"}
        # What each test printed is this submission's own output, never another thread's.
        assert printed == {"test_group_max": "✔ group_max: all visible checks passed.\n",
                           "test_pool": "" if score < FULL_AUTO else "✔ pool: all visible checks passed.\n",
                           "test_make_layer": "✔ make_layer: all visible checks passed.\n"}, (student, printed)


def test_on_a_dask_cluster_a_dead_or_stuck_worker_costs_at_most_two_tries(tmp_path, monkeypatch):
    """The Dask path has the local pool's guarantees. A submission whose task kills its worker every time is
    started twice in the run, not again by Dask (which by itself starts a task lost with its worker up to
    allowed-failures times, then once more for the batch's retry: 8 dead workers); a submission that waited on a
    worker another one killed (Dask blames it too) is sent again without costing a try; so is one whose grading
    finished on a worker that died before the result was fetched (Dask computes it again: it once made ola, killed
    once, a grader-error "not started again after 2 tries" when kim killed the worker holding ola's finished
    result); one whose grading hangs is given up after its budget (it once hung the batch for ever) and its worker
    restarted; both are grader-errors that say why, the others are graded, and the next run grades them. Real
    cluster, real SIGKILLs."""
    from distributed import LocalCluster

    from autograde.grade import DASK_DONE_TOPIC, DASK_START_TOPIC

    _hang_budget(monkeypatch)
    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in ("ann", "hal", "kim", "lia", "ola"):
        put(subs, student, solved(GUARD))
    faults = {"kim": "kill-worker", "hal": "hang-worker", "ola": "kill-worker-once", "lia": "lose-result-twice"}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        rows, lines = run(subs, out, dask=cluster.scheduler_address, faults=faults)
        # every start of a grading task, as the scheduler has it (the task logs it before it does anything)
        starts = [msg["student"] for _, msg in cluster.scheduler.get_events(DASK_START_TOPIC)]
        ended = [msg["student"] for _, msg in cluster.scheduler.get_events(DASK_DONE_TOPIC)]
    by = {r.student: r for r in rows}
    assert {s: (r.status, r.score) for s, r in by.items()} == {
        "ann": ("graded", FULL_AUTO), "hal": ("grader-error", 0.0), "kim": ("grader-error", 0.0),
        "lia": ("graded", FULL_AUTO), "ola": ("graded", FULL_AUTO)}, {s: r.detail for s, r in by.items()}
    # kim killed two workers and was not started a third time; ola was killed once, then graded (started again
    # if a worker died holding its finished result); lia's results were lost twice with their workers, then kept.
    unfinished = {s: starts.count(s) - ended.count(s) for s in ("hal", "kim", "lia", "ola")}
    # ola's second start may be cut too on a loaded machine (a classmate's kill: 2 unfinished in one run of five
    # here); a cut costs no try, and ola is graded all the same (above): one unfinished start of its own at least
    assert {**unfinished, "ola": min(unfinished["ola"], 1)} == {"hal": 2, "kim": 2, "lia": 0, "ola": 1}, \
        (starts, ended)
    assert unfinished["ola"] <= 2, (starts, ended)
    # lia: two starts whose results were lost, then the one kept; on a loaded machine a start of lia's may also be
    # cut by kim's kills (a 4th start in one run here), which costs no try: at least 3, none unfinished (above).
    assert starts.count("kim") == 2 and starts.count("lia") >= 3 and starts.count("ola") >= 2, starts
    kim = by["kim"].detail.splitlines()
    assert kim[0].startswith("the grading worker died or left the Dask cluster 2 times on this submission"), kim
    assert "tried 2 times in this run" in kim[0] and kim[1].startswith("try 1: the Dask worker grading it"), kim
    hal = by["hal"].detail.splitlines()
    # Both of hal's tries are stopped by the watchdog, and its worker restarted each time: the restart does not wait
    # for the whole cluster to be back (it once timed out while kim's workers were down, and said "could not be
    # restarted" though the stuck process was gone).
    assert hal[0].startswith("the grading worker got stuck 2 times on this submission"), hal
    assert "tried 2 times in this run" in hal[0], hal
    assert all(hal[n].startswith(f"try {n}: the grading worker did not finish this submission within 8 s")
               for n in (1, 2)), hal
    assert hal[-1].startswith("its Dask worker (") and hal[-1].endswith(") was restarted"), hal
    flagged = (out / "flagged.md").read_text(encoding="utf-8")
    assert "died or left the Dask cluster 2 times" in flagged and "hal" in flagged, flagged
    # hal's second try is the batch's; kim's and ola's are Dask's own, or (when Dask gave up on the task because
    # workers died under it, KilledWorker) the batch's, once.
    retried = [line.split(":")[0] for line in lines if line.startswith("retrying ")]
    assert retried.count("retrying hal 99_guard") == 1, lines
    assert retried.count("retrying kim 99_guard") <= 1 and retried.count("retrying ola 99_guard") <= 1, lines
    assert gradebook_scores(out) == {"ann": FULL_AUTO, "lia": FULL_AUTO, "ola": FULL_AUTO}

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        rows, lines = run(subs, out, dask=cluster.scheduler_address)
    assert sorted(graded_students("\n".join(lines))) == ["hal", "kim"], lines
    assert gradebook_scores(out) == dict.fromkeys(("ann", "hal", "kim", "lia", "ola"), FULL_AUTO), \
        {r.student: (r.status, r.detail) for r in rows}


def _hold_the_thread(seconds: float) -> None:
    """Another user's task on a shared cluster, holding a worker's only thread (module-level: Dask pickles it)."""
    time.sleep(seconds)


def test_a_dask_cluster_that_runs_none_of_the_batch_ends_it_with_grader_errors_and_the_next_run_grades(
        tmp_path, monkeypatch):
    """A cluster whose threads are held by other work (or by a task Dask no longer reports: a stuck one it started
    again on another worker before the cancel reached the scheduler, which once hung a CI run for 25 minutes) starts
    none of the batch: after the longest budget with no progress the batch ends, the waiting submissions are
    grader-errors that say why (not a learner's 0), and a run on a free cluster grades them. Real cluster."""
    from distributed import Client, LocalCluster

    import autograde.grade

    monkeypatch.setattr(autograde.grade, "DASK_NO_WORKER_SECONDS", 5.0)
    monkeypatch.setattr(autograde.grade, "_worker_budget", lambda task: 2.0)
    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in ("ann", "bob"):
        put(subs, student, solved(GUARD))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster.scheduler_address) as other:
        held = other.submit(_hold_the_thread, 600, pure=False)
        while not other.processing().get(next(iter(other.scheduler_info()["workers"])), ()):
            time.sleep(0.1)
        began = time.monotonic()
        rows, lines = run(subs, out, dask=cluster.scheduler_address)
        took = time.monotonic() - began
        assert {r.student: r.status for r in rows} == {"ann": "grader-error", "bob": "grader-error"}, lines
        assert all(r.detail.startswith("the Dask cluster ran none of this batch's remaining submissions for 5 s")
                   for r in rows), [r.detail for r in rows]
        assert took < 60, took
        held.cancel()
        other.restart_workers(list(other.scheduler_info()["workers"]))
        monkeypatch.undo()
        rows, lines = run(subs, out, dask=cluster.scheduler_address)
    assert {r.student: (r.status, r.score) for r in rows} == {"ann": ("graded", FULL_AUTO),
                                                               "bob": ("graded", FULL_AUTO)}, lines


def test_when_the_dask_scheduler_dies_the_batch_stops_with_one_line_and_the_next_run_grades_the_rest(tmp_path):
    """The scheduler killed while a batch runs on its cluster: the grader stops within seconds (it once ended in a
    raw FuturesCancelledError traceback, exit 1), keeps what was finished, says so in one line and exits 3 (run
    again); the next run, here without Dask, grades only the rest. Real scheduler and worker processes."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    subs, out = tmp_path / "subs", tmp_path / "out"
    students = ["ann", "bob", "cat", "dan"]
    for student in students:
        put(subs, student, solved(GUARD))
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", str(port), "--dashboard-address", ":0"], **quiet)
    processes = [scheduler]
    try:
        processes.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                           "--nthreads", "1", "--no-dashboard"], **quiet))
        grader = subprocess.Popen([sys.executable, "-m", "autograde", "grade", str(subs), "--out", str(out),
                                   "--solutions", str(GUARD_SOLUTIONS), "--dask", address], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        processes.append(grader)
        assert grader.stdout is not None
        for line in grader.stdout:
            if line.startswith("["):                        # the first result is in: the scheduler dies
                scheduler.kill()
                killed = time.monotonic()
                break
        else:
            pytest.fail(f"no submission was graded: {grader.communicate(timeout=60)}")
        rest, errors = grader.communicate(timeout=120)
        took = time.monotonic() - killed
    finally:
        for process in processes:
            process.kill()
            process.wait()
    assert grader.returncode == 3, (rest, errors)
    assert "Traceback" not in errors and "Traceback" not in rest, errors
    last = errors.strip().splitlines()[-1]
    assert last.startswith(f"stopped: the connection to the Dask scheduler at {address} was lost"), errors
    finished = len(list((out / "results").glob(f"*/{SLUG}.json")))
    assert 1 <= finished < len(students) and f"{finished} of 4 submissions to grade were finished" in last, last
    assert took < 60, took
    rows, lines = run(subs, out)
    assert len(graded_students("\n".join(lines))) == len(students) - finished, lines
    assert gradebook_scores(out) == dict.fromkeys(students, FULL_AUTO)


def test_on_a_dask_cluster_without_workers_the_batch_ends(tmp_path, monkeypatch):
    """Work left and no worker in the cluster (the only one gone, none started): grader-errors after
    DASK_NO_WORKER_SECONDS (shortened here), never a batch waiting for ever."""
    import autograde.grade
    from distributed import LocalCluster

    monkeypatch.setattr(autograde.grade, "DASK_NO_WORKER_SECONDS", 3.0)
    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in ("ann", "bob"):
        put(subs, student, solved(GUARD))
    began = time.monotonic()
    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as cluster:
        rows, lines = run(subs, out, dask=cluster.scheduler_address)
    assert time.monotonic() - began < 60
    assert {r.student: r.status for r in rows} == {"ann": "grader-error", "bob": "grader-error"}
    assert all(r.detail.startswith("no Dask worker was connected to the scheduler for 3 s") for r in rows), rows
    assert not any(line.startswith("retrying ") for line in lines), lines


def test_grading_into_the_course_root_with_two_workers_gives_every_honest_notebook_its_score(tmp_path):
    """README's nbgrader mode: `--out .` in the course root, where SQLite's gradebook.db-journal comes and goes
    while the sandboxes are built. A copy of the course (its code, data, config and the grader's test lesson)."""
    course = tmp_path / "course"
    for part in ("autograde", "cnnbook", "data"):
        shutil.copytree(ROOT / part, course / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(GUARD_SOLUTIONS.parent, course / "tests" / "course")
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    students = [f"s{i}" for i in range(6)]
    for student in students:
        write(solved(GUARD), course / "submitted" / student / SLUG / f"{SLUG}.ipynb")
    proc = subprocess.run([sys.executable, "-m", "autograde", "grade", "submitted", "--out", ".", "--solutions",
                           "tests/course/solutions", "--workers", "2"], capture_output=True, text=True, timeout=900,
                          cwd=course, env={**os.environ, "PYTHONPATH": str(course)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {s: (r["status"], float(r["score"]), r["flags"]) for s, r in grades(course).items()} == {
        s: ("graded", FULL_AUTO, "") for s in students}
    assert gradebook_scores(course) == dict.fromkeys(students, FULL_AUTO)
    # Nothing the grader wrote there (names, e-mails, grades, students' files) is offered to git by the
    # project's .gitignore: `git add -A` in a course root commits no student data.
    shutil.copy(ROOT / ".gitignore", course / ".gitignore")
    subprocess.run(["git", "init", "-q"], cwd=course, check=True)
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=normal"], cwd=course,
                            capture_output=True, text=True, check=True).stdout.split("\n")
    offered = sorted(line[3:] for line in status if line)
    assert offered == [".gitignore", "autograde/", "cnnbook/", "data/", "nbgrader_config.py", "tests/"], offered
    assert (course / "grades-by-student.csv").is_file() and (course / "report").is_dir() and (course / "lms").is_dir()


def test_a_kernel_that_fails_to_start_leaves_no_zmq_socket_open(tmp_path):
    """A worker once hung for ever in the garbage collector after a kernel that exited at once: the client's
    unclosed sockets and its own zmq context were collected together, and zmq waited for sockets nobody would
    close. Every socket and context of a failed start is closed by the grader, not left to the collector."""
    script = textwrap.dedent(f"""
        import gc, sys, zmq
        from pathlib import Path
        from autograde.kernel import KernelDied, LearnerKernel
        from autograde.sandbox import Limits, Sandbox
        sandbox = Sandbox(Path({str(tmp_path)!r}), Limits())
        sandbox.kernel_argv = lambda: sandbox.wrap([sys.executable, "-c", "raise SystemExit(3)"])
        kernel = LearnerKernel(sandbox, sandbox.env(1))
        try:
            kernel.start()
        except KernelDied:
            pass
        else:
            raise SystemExit("the kernel started")
        gc.collect()
        objects = gc.get_objects()
        print(sum(isinstance(o, zmq.Socket) and not o.closed for o in objects),
              sum(isinstance(o, zmq.Context) and not o.closed for o in objects))
    """)
    try:
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail("the process hung after a kernel failed to start (in the garbage collector, on zmq's term)")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split() == ["0", "0"], ("open zmq sockets and contexts after a failed start", proc.stdout)


class _KillsTheJudge:
    """A stand-in for the learner's kernel whose first answer comes only after the judge process asking for it was
    killed from outside (SIGKILL, as the out-of-memory killer of a busy grading machine would)."""

    def __init__(self, how: int):
        from autograde.sandbox import Limits

        self.limits = Limits(memory_bytes=int(1.5 * 2 ** 30))
        self.how = how

    def request_text(self, request: dict, timeout: float) -> str:
        from autograde import judge_process

        if request["op"] == "lookup":
            for judge in list(judge_process._all_judges):
                os.kill(judge.proc.pid, self.how)
                judge.proc.wait(10)
        return json.dumps({"value": 1})


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_judge_process_killed_from_outside_is_the_graders_failure_never_the_learners(how):
    """The judge's memory limit ends it with MemoryError (exit 3) or a library's abort: that is the learner's
    answer at work (a fail). A signal from outside is the machine's: a grader-error, graded again by the next run,
    never a failed test."""
    from autograde.judge_process import run_in_judge, stop_judge

    source = "from cnnbook.checks import check_value\ncheck_value('f', f, 1)\n"
    try:
        outcome = run_in_judge(source, _KillsTheJudge(how), 30, ["f"], exercise="f")
    finally:
        stop_judge()
    assert outcome.status == "grader-error", outcome
    assert "out of memory" not in outcome.message, outcome


def test_a_stopped_force_or_student_run_says_the_same_command_is_no_resume(tmp_path):
    """--force and --student grade every submission they name again: after Ctrl-C, 'run the same command again to
    resume' would grade the finished ones a second time. The line says what each choice does instead."""
    from autograde.grade import stopped_message

    plain = stopped_message("interrupted (Ctrl-C)", 1, 5, tmp_path)
    assert plain.endswith("run the same command again to resume") and "1 of 5" in plain
    for flags, flag in (({"force": True}, "--force"), ({"students": ["ann"]}, "--student")):
        line = stopped_message("interrupted (Ctrl-C)", 1, 5, tmp_path, **flags)
        assert "to resume" not in line and "\n" not in line, line
        assert "the other 4 keep their earlier results" in line and f"without {flag} grades only what is new" in line
        assert line.endswith(f"with {flag} it grades all 5 again"), line


def test_a_worker_stops_even_when_sigterm_lands_in_a_garbage_collection_callback():
    """The batch stops a worker with SIGTERM; Python runs the handler wherever the main thread is. In a weakref
    callback (a garbage collection) its SystemExit cannot get out ("Exception ignored in ..."): the worker must
    still stop, soon, and print no such traceback (seen once in a Ctrl-C of a real run: 20 s, then SIGKILL)."""
    program = textwrap.dedent("""
        import os, signal, sys, time, weakref
        from autograde.worker import _stop_on_sigterm

        _stop_on_sigterm()

        class Thing:
            pass

        def callback(ref):
            os.kill(os.getpid(), signal.SIGTERM)     # the signal lands while the callback runs
            total = 0
            for i in range(100000):
                total += i

        thing = Thing()
        ref = weakref.ref(thing, callback)
        try:
            del thing
            print("still here", flush=True)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            print("unwound", flush=True)
    """)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 128 + signal.SIGTERM, (proc.returncode, proc.stdout, proc.stderr)
    assert time.monotonic() - started < 8, "the worker went on after SIGTERM"
    assert "unwound" in proc.stdout                       # finally blocks ran: a kernel would be removed
    assert "Exception ignored" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_a_gradebook_that_cannot_be_written_stops_the_batch_and_loses_nothing(tmp_path, monkeypatch):
    """The gradebook is the system of record: when it cannot be written (a database server gone, a disk full, a lock
    held too long) the batch stops with one line and its own exit status, the submissions recorded before are kept,
    the one being written has no result (never a grade of 0, never a traceback), and the next run grades only what is
    left."""
    import autograde.grade
    from sqlalchemy.exc import OperationalError

    from autograde.grade import GRADEBOOK_EXIT, GradingStopped

    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in ("ann", "bob", "cai"):
        put(subs, student, solved(GUARD))
    real, calls = autograde.grade.record, []

    def record(db_url, result):
        calls.append(result["student"])
        if len(calls) == 2:
            raise OperationalError("INSERT INTO grade ...", {}, Exception("database is locked"))
        real(db_url, result)

    monkeypatch.setattr(autograde.grade, "record", record)
    with pytest.raises(GradingStopped) as stop:
        run(subs, out)
    assert stop.value.exit_code == GRADEBOOK_EXIT
    assert str(stop.value).startswith("stopped: the gradebook could not be written (OperationalError: "), stop.value
    assert "database is locked" in str(stop.value) and "1 of 3 submissions to grade were finished" in str(stop.value)
    assert sorted(p.parent.name for p in (out / "results").glob("*/*.json")) == [calls[0]]
    assert gradebook_scores(out) == {calls[0]: FULL_AUTO}
    monkeypatch.setattr(autograde.grade, "record", real)
    rows, lines = run(subs, out)
    assert sorted(graded_students("\n".join(lines))) == sorted({"ann", "bob", "cai"} - {calls[0]})
    assert gradebook_scores(out) == dict.fromkeys(("ann", "bob", "cai"), FULL_AUTO)



def test_a_gradebook_locked_when_the_run_starts_stops_it_with_one_line(tmp_path):
    """An instructor's trial: formgrader (or another run) holding the SQLite gradebook past its lock timeout as the
    run began, or a PostgreSQL server down then, ended in SQLAlchemy's traceback and exit status 1; it is the same
    one line and exit status 3 as a gradebook lost while grading, and the next run grades."""
    import sqlite3

    from autograde.grade import GRADEBOOK_EXIT, GradingStopped, private_gradebook

    subs, out = tmp_path / "subs", tmp_path / "out"
    put(subs, "ann", solved(GUARD))
    private_gradebook(f"sqlite:///{out / 'gradebook.db'}")
    holder = sqlite3.connect(out / "gradebook.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(GradingStopped) as stop:
            run(subs, out)
    finally:
        holder.execute("COMMIT")
        holder.close()
    assert stop.value.exit_code == GRADEBOOK_EXIT
    said = str(stop.value)
    assert said.startswith("stopped: the gradebook could not be read or written (OperationalError: "), said
    assert "database is locked" in said and "\n" not in said
    assert not list((out / "results").glob("*/*.json"))
    rows, _ = run(subs, out)
    assert [(row.student, row.status) for row in rows] == [("ann", "graded")]

def test_an_out_folder_that_cannot_be_written_stops_the_batch_and_loses_nothing(tmp_path, monkeypatch):
    """OUT itself full (a disk full, a quota): the batch stops with one line naming the file and the reason, exit
    status as for the gradebook (it was a raw OSError traceback), and the next run grades what has no result file."""
    import errno

    import autograde.grade
    from autograde.grade import GRADEBOOK_EXIT, GradingStopped

    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in ("ann", "bob", "cai"):
        put(subs, student, solved(GUARD))
    real, results = autograde.grade._atomic_write, []

    def atomic_write(path: Path, text: str) -> None:
        if path.parent.parent.name == "results" and path.parent.name in ("ann", "bob", "cai"):
            results.append(path.parent.name)
            if len(results) == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, text)

    monkeypatch.setattr(autograde.grade, "_atomic_write", atomic_write)
    with pytest.raises(GradingStopped) as stop:
        run(subs, out)
    assert stop.value.exit_code == GRADEBOOK_EXIT
    assert str(stop.value).startswith(f"stopped: {out} could not be written (No space left on device: "), stop.value
    assert "1 of 3 submissions to grade were finished" in str(stop.value), stop.value
    assert sorted(p.parent.name for p in (out / "results").glob("*/*.json")) == [results[0]]
    monkeypatch.setattr(autograde.grade, "_atomic_write", real)
    rows, lines = run(subs, out)
    assert sorted(graded_students("\n".join(lines))) == sorted({"ann", "bob", "cai"} - {results[0]})
    assert gradebook_scores(out) == dict.fromkeys(("ann", "bob", "cai"), FULL_AUTO)


def test_a_worker_that_died_waiting_costs_no_submission_a_try():
    """The out-of-memory killer may take a worker that is waiting for work: the pool replaces it before giving it
    a submission, which is then answered by a live worker (here the bare task's own error), never as 'died'."""
    from autograde.grade import _Job, _LocalWorkers

    pool = _LocalWorkers(1)
    idle = pool._spawn()
    os.kill(idle.process.pid, signal.SIGKILL)
    idle.process.join(10)
    settled = []
    from types import SimpleNamespace

    sub = SimpleNamespace(student="ann", lesson=SimpleNamespace(slug="99_guard"))
    job = _Job({"student": "ann", "lesson": "99_guard", "limits": {"submission_seconds": 60}}, sub, {})
    pool.run(deque([job]), lambda job, result: settled.append(result))
    assert len(settled) == 1 and "died" not in settled[0]["detail"], settled
    assert settled[0]["detail"].startswith("the grading worker failed: KeyError"), settled


def test_a_stuck_dask_worker_is_stopped_through_its_nanny_and_said_when_it_cannot_be(monkeypatch):
    """The stuck worker's process is killed by its nanny, which then starts a new one as after any death (the
    scheduler's restart_workers raced the nanny's own restart and lost workers for good); a worker without a nanny,
    or a cluster that does not answer, is said in the detail, never raised."""
    import signal

    import autograde.grade as grade

    class Client:
        def __init__(self, answers=None, error=None):
            self.answers, self.error, self.calls = answers, error, []

        def run(self, function, **kwargs):
            self.calls.append((function, kwargs))
            if self.error:
                raise self.error
            return self.answers

    client = Client({"tcp://127.0.0.1:9": "OK"})
    assert grade._restart_dask_worker(client, "tcp://127.0.0.1:8") == "its Dask worker (tcp://127.0.0.1:8) was restarted"
    assert client.calls[0][1] == {"workers": ["tcp://127.0.0.1:8"], "nanny": True, "on_error": "return"}
    for answers, error, said in (({}, None, "no answer from its nanny"), (None, KeyError("tcp://x"), "KeyError"),
                                 ({"n": OSError("gone")}, None, "gone")):
        detail = grade._restart_dask_worker(Client(answers, error), "tcp://x")
        assert detail.startswith("its Dask worker (tcp://x) could not be restarted (") and said in detail, detail
        assert "run workers under a nanny" in detail
    # on the nanny: its worker process gets SIGKILL; a nanny without one says so
    killed = []
    monkeypatch.setattr(grade.os, "kill", lambda pid, sig: killed.append((pid, sig)))
    assert grade._kill_nannys_worker(type("Nanny", (), {"pid": 4321})()) == "OK"
    assert killed == [(4321, signal.SIGKILL)]
    assert grade._kill_nannys_worker(type("Nanny", (), {"pid": None})()) == "no worker process"
