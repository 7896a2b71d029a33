"""The grader as an instructor runs it: resume after a kill, LMS exports, PostgreSQL, a Dask cluster.

Each test grades a few lesson-01 submissions for real (sandboxed kernels, nbgrader's gradebook).
"""
from __future__ import annotations

import csv
import glob
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograde.lessons import ROOT
from conftest import LESSONS, lesson_fixture, points_of_tests, solved, submission, write

pytestmark = pytest.mark.slow

LESSON = LESSONS[0]
FULL = sum(points_of_tests(LESSON).values())


def cli(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "autograde", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def grades(out: Path) -> dict[str, dict]:
    with (out / "grades.csv").open(encoding="utf-8-sig") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def batch(folder: Path, n_honest: int = 2) -> dict[str, float]:
    """Honest, blank and buggy submissions in nbgrader's layout; returns the score each must get."""
    fx = lesson_fixture(LESSON.slug)
    expected = {}
    for i in range(n_honest):
        write(solved(LESSON), folder / f"honest{i}" / LESSON.slug / f"{LESSON.slug}.ipynb")
        expected[f"honest{i}"] = FULL
    write(submission(LESSON), folder / "blank" / LESSON.slug / f"{LESSON.slug}.ipynb")
    expected["blank"] = 0.0
    write(solved(LESSON, {fx.BUG["cell"]: fx.BUG["source"]}), folder / "buggy" / LESSON.slug / f"{LESSON.slug}.ipynb")
    expected["buggy"] = FULL - sum(points_of_tests(LESSON)[g] for g in fx.BUG["loses"])
    return expected


def test_killed_mid_batch_the_grader_resumes_and_grades_nothing_twice(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    expected = batch(subs, n_honest=2)
    proc = subprocess.Popen([sys.executable, "-m", "autograde", "grade", str(subs), "--out", str(out),
                             "--workers", "1"], stdout=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True)
    graded_before = []
    for line in proc.stdout:
        if line.startswith("["):
            graded_before.append(line)
        if len(graded_before) == 2:
            break
    os.killpg(proc.pid, signal.SIGKILL)          # the grader, its workers and their kernels: all at once
    proc.wait()
    assert len(list((out / "results").rglob("*.json"))) == 2

    again = cli("grade", str(subs), "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert f"resuming: 2 of {len(expected)} submissions" in again.stdout
    assert sum(line.startswith("[") for line in again.stdout.splitlines()) == len(expected) - 2
    rows = grades(out)
    assert {s: float(r["score"]) for s, r in rows.items()} == expected
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        assert {s.student_id: s.score for s in gb.assignment_submissions(LESSON.slug)} == expected

    third = cli("grade", str(subs), "--out", str(out))
    assert f"resuming: {len(expected)} of {len(expected)}" in third.stdout
    assert not any(line.startswith("[") for line in third.stdout.splitlines())


def test_a_zip_of_flat_files_from_an_lms(tmp_path):
    nested = tmp_path / "nested"
    expected = batch(nested, n_honest=1)
    flat = tmp_path / "flat"
    flat.mkdir()
    for student in expected:
        shutil.copy(nested / student / LESSON.slug / f"{LESSON.slug}.ipynb", flat / f"{student}_{LESSON.slug}.ipynb")
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in flat.iterdir():
            zf.write(path, f"course-export/{path.name}")
    # The zip unpacks to a flat folder of <student>_<NN_slug>.ipynb: both input forms take this path.
    out = tmp_path / "out"
    proc = cli("grade", str(archive), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert {s: float(r["score"]) for s, r in grades(out).items()} == expected
    page = (out / "feedback" / "buggy" / f"{LESSON.slug}.html").read_text(encoding="utf-8")
    assert "failed" in page and "passed" in page


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_DATABASES = itertools.count()


@pytest.fixture(scope="module")
def postgres_server():
    """A real PostgreSQL server on loopback (Debian's postgresql package), started once for this file's tests:
    (createdb, URL of a database) with the database's name left out."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        pytest.fail("PostgreSQL is not installed (apt-get install postgresql): .ci/run installs it")
    bin_dir = Path(bins[-1])
    home = Path(tempfile.mkdtemp(prefix="cnnbook-pg-"))     # not under pytest's private tmp: postgres reads it
    data = home / "data"
    data.mkdir()
    as_user = []
    if os.geteuid() == 0:                      # PostgreSQL refuses to run as root
        home.chmod(0o755)
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_user + [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
                   check=True, capture_output=True)
    # PostgreSQL cannot bind port 0 and say which it got: a free port is picked first, and another process can take
    # it before the server binds it (a browser test failed so once). Another port then, a few times.
    for attempt in range(5):
        port = _free_port()
        started = subprocess.run(as_user + [str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "log"),
                                            "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start"],
                                 capture_output=True, text=True)
        if started.returncode == 0:
            break
    else:
        raise AssertionError(f"PostgreSQL did not start: {started.stdout}{started.stderr}\n"
                             + (data / "log").read_text(errors="replace")[-2000:])
    try:
        yield (as_user + [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"],
               f"postgresql+psycopg2://postgres@127.0.0.1:{port}")
    finally:
        subprocess.run(as_user + [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def postgres(postgres_server, request):
    """A new, empty database of its own for this test on the file's PostgreSQL server: its URL."""
    createdb, server = postgres_server
    name = f"{request.node.name.removeprefix('test_')[:40]}_{os.getpid()}_{next(_DATABASES)}"
    subprocess.run(createdb + [name], check=True, capture_output=True)
    return f"{server}/{name}"


def test_grades_go_into_a_postgresql_gradebook(tmp_path, postgres):
    subs, out = tmp_path / "subs", tmp_path / "out"
    expected = batch(subs, n_honest=1)
    proc = cli("grade", str(subs), "--out", str(out), "--db", postgres)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (out / "gradebook.db").exists()
    with Gradebook(postgres) as gb:
        assert {s.student_id: s.score for s in gb.assignment_submissions(LESSON.slug)} == expected
        assert gb.find_assignment(LESSON.slug).max_score == FULL
    # a re-grade replaces the grades in place: still one submission per student
    write(submission(LESSON), subs / "honest0" / LESSON.slug / f"{LESSON.slug}.ipynb")
    assert cli("grade", str(subs), "--out", str(out), "--db", postgres).returncode == 0
    with Gradebook(postgres) as gb:
        scores = {s.student_id: s.score for s in gb.assignment_submissions(LESSON.slug)}
    assert scores == {**expected, "honest0": 0.0}


def test_a_name_longer_than_the_gradebook_holds_fits_in_postgresql(tmp_path, postgres):
    """A Moodle folder carries the full name a student gave their profile (Moodle takes 100 characters for each of
    first and last name); nbgrader's gradebook holds 128 per name, and PostgreSQL refuses a longer one: that
    stopped the whole batch, at every run. The name is cut to fit; the grade goes in."""
    subs, out = tmp_path / "moodle", tmp_path / "out"
    name = "Seo-yeon " + "A" * 100 + " " + "B" * 90
    write(solved(LESSON), subs / f"{name}_700301_assignsubmission_file_" / f"{LESSON.slug}.ipynb")
    write(solved(LESSON), subs / "Kim Minjun_700302_assignsubmission_file_" / f"{LESSON.slug}.ipynb")
    proc = cli("grade", str(subs), "--out", str(out), "--db", postgres)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = grades(out)
    assert len(rows) == 2 and all(float(r["score"]) == FULL for r in rows.values()), rows
    with Gradebook(postgres) as gb:
        names = {s.id: s.last_name for s in gb.students}
    long_id = next(sid for sid in names if sid.startswith("Seo-yeon"))
    assert names[long_id] == name[:128] and names["Kim Minjun"] == "Kim Minjun", names


def test_grading_on_a_dask_cluster_gives_the_same_grades(tmp_path):
    from distributed import LocalCluster

    subs = tmp_path / "subs"
    expected = batch(subs, n_honest=1)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        proc = cli("grade", str(subs), "--out", str(tmp_path / "out"), "--dask", cluster.scheduler_address)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {s: float(r["score"]) for s, r in grades(tmp_path / "out").items()} == expected


def test_without_bubblewrap_the_grader_refuses_unless_told(tmp_path):
    subs = tmp_path / "subs"
    write(solved(LESSON), subs / "ann" / LESSON.slug / f"{LESSON.slug}.ipynb")
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}     # no bwrap on this PATH
    proc = subprocess.run([sys.executable, "-m", "autograde", "grade", str(subs), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 2 and "bubblewrap" in proc.stderr and "Traceback" not in proc.stderr


def test_a_dask_worker_with_another_copy_of_the_course_refuses(tmp_path):
    """A worker whose lesson tests (or grader code) differ from the coordinator's grades nothing."""
    from distributed import LocalCluster

    stale = tmp_path / "stale-copy"
    for part in ("autograde", "cnnbook", "data", "solutions", "notebooks"):
        shutil.copytree(ROOT / part, stale / part, ignore=shutil.ignore_patterns("__pycache__"))
    source = stale / "solutions" / LESSON.slug / f"{LESSON.slug}.ipynb"
    source.write_text(source.read_text(encoding="utf-8").replace("### BEGIN HIDDEN TESTS", "### BEGIN HIDDEN TESTS\\n# old", 1),
                      encoding="utf-8")
    subs = tmp_path / "subs"
    write(solved(LESSON), subs / "ann" / LESSON.slug / f"{LESSON.slug}.ipynb")
    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as cluster:
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address,
                                   "--nthreads", "1", "--no-dashboard"], cwd=stale,
                                  env={**os.environ, "PYTHONPATH": str(stale)},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc = cli("grade", str(subs), "--out", str(tmp_path / "out"), "--dask", cluster.scheduler_address)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    assert proc.returncode == 3, proc.stdout + proc.stderr          # not graded: a script must notice
    assert "1 of 1 submissions" in proc.stderr and "run the same command again" in proc.stderr
    row = grades(tmp_path / "out")["ann"]
    assert row["status"] == "grader-error" and "stale-worker" in row["flags"], row


@pytest.mark.slow
def test_a_new_gradebook_carries_nbgraders_own_schema_revision(tmp_path):
    """grade marks a new gradebook with nbgrader's newest schema revision read in-process (stamp_new_gradebook),
    where nbgrader would ask a new `alembic heads` process (2.7 s of CPU): the revision is nbgrader's own, the
    gradebook then opens in nbgrader as one it made, and a gradebook that has tables is left alone."""
    from nbgrader.api import get_alembic_version
    from sqlalchemy import create_engine, text

    from autograde.grade import stamp_new_gradebook

    def revisions(url: str) -> list[str]:
        engine = create_engine(url)
        try:
            with engine.connect() as db:
                return [row[0] for row in db.execute(text("SELECT version_num FROM alembic_version"))]
        finally:
            engine.dispose()

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    stamp_new_gradebook(url)
    assert revisions(url) == [get_alembic_version()]
    with Gradebook(url) as gb:
        gb.add_student("ann")
    stamp_new_gradebook(url)                       # tables there: untouched, still one revision
    assert revisions(url) == [get_alembic_version()]
    with Gradebook(url) as gb:
        assert [s.id for s in gb.students] == ["ann"]
