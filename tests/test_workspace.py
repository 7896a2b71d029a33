"""A learner's work is never lost: personal copies, a release that refuses to overwrite, a one-cell reset;
and progress over every lesson."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest
from conftest import GUARD, LESSONS, answer_sources, solved, submission, write

from autograde.i18n import LANGS
from autograde.lessons import NOTEBOOKS, UsageError, grade_cells
from autograde.release import MANIFEST, release
from autograde.reset import reset_cell
from cnnbook.workspace import RECORD, learner_notebook, sync_work


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


# --- release never overwrites changed notebooks silently ----------------------------------------------------
def test_the_committed_manifest_is_what_the_last_release_wrote():
    manifest = json.loads((NOTEBOOKS / MANIFEST).read_text(encoding="utf-8"))
    files = {p.relative_to(NOTEBOOKS).as_posix(): sha(p) for lesson in LESSONS
             for p in lesson.student_version.parent.rglob("*") if p.is_file()}
    for lang in LANGS:                  # the translated editions are released (and covered) too
        files.update({p.relative_to(NOTEBOOKS).as_posix(): sha(p) for p in (NOTEBOOKS / lang).rglob("*")
                      if p.is_file()})
    assert manifest == files, "run `python -m autograde release` and commit notebooks/ with its manifest"


@pytest.mark.slow  # runs nbgrader in new processes (four releases)
def test_release_refuses_to_overwrite_an_edited_notebook_unless_forced(tmp_path):
    target = release([GUARD], out_dir=tmp_path)[0]
    assert json.loads((tmp_path / MANIFEST).read_text())[f"{GUARD.slug}/{GUARD.slug}.ipynb"] == sha(target)
    assert release([GUARD], out_dir=tmp_path) == [target]        # unchanged since the release: fine
    released = target.read_bytes()

    nb = nbformat.read(target, as_version=4)
    grade_cells(nb)["group_max"].source = "def group_max(values, width):\n    return 'my work'\n"
    nbformat.write(nb, target)
    edited = target.read_bytes()
    with pytest.raises(UsageError) as err:
        release([GUARD], out_dir=tmp_path)
    assert "changed since the last release" in str(err.value) and str(target) in str(err.value)
    assert "--force" in str(err.value)
    assert target.read_bytes() == edited                           # nothing was written

    release([GUARD], out_dir=tmp_path, force=True)
    assert target.read_bytes() == released


@pytest.mark.slow  # the CLI and nbgrader in new processes (three releases)
def test_release_cli_refuses_with_a_clear_message(tmp_path):
    lesson = LESSONS[0]
    assert cli("autograde", "release", lesson.number, "--out", str(tmp_path)).returncode == 0
    mine = tmp_path / lesson.slug / f"{lesson.slug}.ipynb"
    mine.write_text(mine.read_text(encoding="utf-8").replace("YOUR CODE HERE", "my answer", 1), encoding="utf-8")
    proc = cli("autograde", "release", lesson.number, "--out", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "nothing was released" in proc.stderr and "my-work/" in proc.stderr
    assert "my answer" in mine.read_text(encoding="utf-8")
    assert cli("autograde", "release", lesson.number, "--out", str(tmp_path), "--force").returncode == 0
    assert "my answer" not in mine.read_text(encoding="utf-8")


# --- personal copies survive course updates -----------------------------------------------------------------
def test_course_updates_bring_new_lessons_and_never_touch_the_learners_copies(tmp_path):
    course, work = tmp_path / "notebooks", tmp_path / "my-work"
    for lesson in LESSONS[:2]:
        shutil.copytree(lesson.student_version.parent, course / lesson.slug)
    first = sync_work(course, work)
    assert first.new == [lesson.slug for lesson in LESSONS[:2]] and not first.updated
    mine = work / LESSONS[0].slug / f"{LESSONS[0].slug}.ipynb"
    mine.write_text(mine.read_text(encoding="utf-8").replace("YOUR CODE HERE", "my answer"), encoding="utf-8")
    edited = mine.read_bytes()

    # A course update: lesson 1 changes in the course, lesson 3 is new.
    theirs = course / LESSONS[0].slug / f"{LESSONS[0].slug}.ipynb"
    theirs.write_text(theirs.read_text(encoding="utf-8").replace("Goals", "Aims"), encoding="utf-8")
    shutil.copytree(LESSONS[2].student_version.parent, course / LESSONS[2].slug)
    second = sync_work(course, work)
    assert second.new == [LESSONS[2].slug]
    assert second.updated == [LESSONS[0].slug] and any("reset" in line for line in second.lines())
    assert mine.read_bytes() == edited
    assert (work / LESSONS[2].slug / f"{LESSONS[2].slug}.ipynb").is_file()
    assert sync_work(course, work).updated == []                  # said once
    assert learner_notebook(LESSONS[0].slug, work, course) == mine
    assert learner_notebook("09_none", work, course) == course / "09_none" / "09_none.ipynb"


def test_lab_makes_the_copies_and_keeps_them_across_starts(tmp_path):
    env = {"CNNBOOK_WORK": str(tmp_path / "work")}
    proc = cli("cnnbook.lab", "--setup-only", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Copied to your work folder" in proc.stdout
    mine = tmp_path / "work" / LESSONS[1].slug / f"{LESSONS[1].slug}.ipynb"
    mine.write_text(mine.read_text(encoding="utf-8").replace("YOUR CODE HERE", "kept"), encoding="utf-8")
    proc = cli("cnnbook.lab", "--setup-only", env=env)
    assert proc.returncode == 0 and "Copied" not in proc.stdout
    assert "kept" in mine.read_text(encoding="utf-8")
    assert json.loads((tmp_path / "work" / RECORD).read_text())[LESSONS[1].slug] == sha(LESSONS[1].student_version)


def test_the_work_folder_is_ignored_by_git():
    from cnnbook.workspace import ROOT

    proc = subprocess.run(["git", "check-ignore", "-q", "my-work/01_x/01_x.ipynb"], cwd=ROOT)
    assert proc.returncode == 0


# --- reset one exercise ---------------------------------------------------------------------------------
def test_reset_restores_one_answer_cell_and_keeps_everything_else(tmp_path):
    path = write(solved(GUARD, {"pool": "def pool(values, width, mode):\n    return 'mine'\n"}), tmp_path / "g.ipynb")
    before = grade_cells(nbformat.read(path, as_version=4))
    backup, message = reset_cell(GUARD, path, "pool")
    after = grade_cells(nbformat.read(path, as_version=4))
    released = grade_cells(nbformat.read(GUARD.student_version, as_version=4))
    assert after["pool"].source == released["pool"].source and "NotImplementedError" in after["pool"].source
    assert all(after[g].source == before[g].source for g in before if g != "pool")
    assert backup.read_text(encoding="utf-8").strip() == before["pool"].source.strip()
    assert "back as released" in message
    assert reset_cell(GUARD, path, "pool")[0] is None                 # already as released
    with pytest.raises(UsageError, match="has no exercise 'nope'. Its exercises: group_max, pool"):
        reset_cell(GUARD, path, "nope")


def test_reset_cli_on_a_lesson_notebook(tmp_path):
    lesson = next(lesson for lesson in LESSONS if lesson.slug.startswith("03_"))
    path = write(solved(lesson), tmp_path / "mine.ipynb")
    proc = cli("autograde", "reset", "3", "same_padding", str(path))
    assert proc.returncode == 0, proc.stderr
    cells = grade_cells(nbformat.read(path, as_version=4))
    assert "NotImplementedError" in cells["same_padding"].source
    assert cells["output_size"].source == answer_sources(lesson)["output_size"]


def test_reset_of_a_korean_notebook_restores_the_korean_cell(tmp_path):
    from autograde.i18n import translated_path
    from autograde.reset import notebook_language

    lesson = next(lesson for lesson in LESSONS if lesson.slug.startswith("03_"))
    korean = nbformat.read(translated_path(lesson.student_version.parent.parent, "ko", lesson.slug), as_version=4)
    nb = solved(lesson)
    nb.metadata["cnnbook"] = {"language": "ko"}
    path = write(nb, tmp_path / "mine.ipynb")
    assert notebook_language(path) == "ko"
    proc = cli("autograde", "reset", "3", "same_padding", str(path))
    assert proc.returncode == 0, proc.stderr
    cells = grade_cells(nbformat.read(path, as_version=4))
    released = grade_cells(korean)["same_padding"]
    assert cells["same_padding"].source == released.source
    assert cells["same_padding"].metadata["nbgrader"] == released.metadata["nbgrader"]
    assert any("\uac00" <= ch <= "\ud7a3" for ch in released.source)           # Hangul: the Korean stub and statement
    assert cells["output_size"].source == answer_sources(lesson)["output_size"]


def test_a_korean_learner_told_of_a_course_update_resets_their_korean_copy(tmp_path, monkeypatch):
    """A Korean trial: after a course update, `cnn-course lab --lang ko` said "python -m autograde reset 01 <연습 문제
    이름>", and that command, run as written, took the English copy (my-work/01_history, or "does not exist" when
    there was none), never my-work/ko/. The Korean edition's line says --lang ko and the course folder of its new
    version (notebooks/ko/...), and `reset --lang ko` resets the copy in my-work/ko/."""
    from conftest import autograde_cli

    from cnnbook.i18n import set_language
    from cnnbook.workspace import edition

    lesson = next(lesson for lesson in LESSONS if lesson.slug.startswith("03_"))
    course_root, work_root = tmp_path / "notebooks", tmp_path / "my-work"
    course, work = edition("ko", course_root, work_root)
    shutil.copytree(lesson.student_version.parent.parent / "ko" / lesson.slug, course / lesson.slug)
    sync_work(course, work, lang="ko")
    theirs = course / lesson.slug / f"{lesson.slug}.ipynb"
    theirs.write_text(theirs.read_text(encoding="utf-8").replace("목표", "목적"), encoding="utf-8")
    set_language("ko")
    try:
        said = "\n".join(sync_work(course, work, lang="ko").lines())
    finally:
        set_language("en")
    assert "python -m autograde reset 03 <연습 문제 이름> --lang ko" in said, said
    assert str(course / lesson.slug) in said, said

    mine = work / lesson.slug / f"{lesson.slug}.ipynb"
    nb = nbformat.read(mine, as_version=4)
    grade_cells(nb)["same_padding"].source = "def same_padding(f):\n    return f // 2   # 내 답\n"
    nbformat.write(nb, mine)
    monkeypatch.setenv("CNNBOOK_WORK", str(work_root))
    monkeypatch.delenv("CNNBOOK_LANG", raising=False)
    proc = autograde_cli(["reset", "3", "same_padding", "--lang", "ko"])
    assert proc.returncode == 0, proc.stderr
    assert "NotImplementedError" in grade_cells(nbformat.read(mine, as_version=4))["same_padding"].source


# --- progress ---------------------------------------------------------------------------------------------
def test_progress_of_a_lesson_pass_fail_not_started(tmp_path):
    from autograde.progress import FAIL, NOT_STARTED, PASS, format_progress, lesson_progress

    answers = answer_sources(GUARD)
    nb = submission(GUARD, {"group_max": answers["group_max"],
                            "pool": "def pool(values, width, mode):\n    return values[::width]\n"})
    progress = lesson_progress(GUARD, write(nb, tmp_path / "g.ipynb"), cache={})
    status = {e.name: (e.status, e.score, e.points) for e in progress.exercises}
    assert status == {"group_max": (PASS, 2.0, 2.0), "pool": (FAIL, 0.0, 1.0), "make_layer": (NOT_STARTED, 0.0, 1.0)}
    assert "pool(values, 2, 'max')" in progress.exercises[1].message
    text = format_progress([progress])
    assert "✔ pass" in text and "✘ fail" in text and "· not started" in text and "2/4 points" in text

    blank = lesson_progress(GUARD, write(submission(GUARD), tmp_path / "blank.ipynb"), cache={})
    assert {e.status for e in blank.exercises} == {NOT_STARTED}
    missing = lesson_progress(GUARD, tmp_path / "none.ipynb", cache={})
    assert missing.note == "not opened yet"


@pytest.mark.slow
def test_progress_cli_over_the_course(tmp_path):
    work = tmp_path / "work"
    lesson = next(lesson for lesson in LESSONS if lesson.slug.startswith("03_"))
    answers = answer_sources(lesson)
    write(submission(lesson, {"output_size": answers["output_size"],
                              "same_padding": "def same_padding(f):\n    return f - 1\n"}),
          work / lesson.slug / f"{lesson.slug}.ipynb")
    proc = cli("autograde", "progress", env={"CNNBOOK_WORK": str(work)})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"[1/{len(LESSONS)}] {LESSONS[0].slug} ..." in out
    for other in LESSONS:
        assert other.slug in out
    assert "✔ pass         output_size" in out and "✘ fail         same_padding" in out
    assert "typical slip" in out and "· not started  conv2d" in out
    assert "Total:" in out and "Traceback" not in out + proc.stderr


def test_show_progress_in_a_notebook(tmp_path):
    from nbclient import NotebookClient

    from autograde.progress import Exercise, LessonProgress
    from cnnbook.progress import progress_html

    html = progress_html([LessonProgress("99_x", "p", [Exercise("<b>f</b>", "test_f", 2, "fail", 0, "expected 1 <i>")])])
    assert "&lt;b&gt;f&lt;/b&gt;" in html and "<i>" not in html and "✘ fail" in html     # text is escaped

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"from cnnbook.progress import show_progress\n"
                                          f"show_progress(['{LESSONS[0].number}']);")]
    os.environ["CNNBOOK_WORK"] = str(tmp_path / "work")
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    finally:
        del os.environ["CNNBOOK_WORK"]
    shown = [o.data["text/html"] for o in nb.cells[0].outputs if "text/html" in o.get("data", {})]
    assert len(shown) == 1 and 'class="cnnbook-progress"' in shown[0]
    assert LESSONS[0].slug in shown[0] and "· not started" in shown[0] and "Total: 0/" in shown[0]
