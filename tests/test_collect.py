"""Submissions as instructors have them: every input file is accounted for, a bad one costs only itself.

Real files in the shapes LMSs and nbgrader produce: a Canvas "Download submissions" zip with Korean names,
re-submissions and a late one; Moodle's folder per student; a flat folder with Jupyter and browser copies;
nbgrader's layout with timestamps; a zip with a corrupt member.
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import time
import io
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograde.collect import find_submissions, safe_id
from autograde.lessons import UsageError
from conftest import GUARD, LESSONS, autograde_cli as cli, solved, submission, write

LESSONS_ALL = [*LESSONS, GUARD]
NOTEBOOK = GUARD.student_version.read_bytes()
STARTED = nbformat.writes(solved(GUARD)).encode()       # answers written: not flagged as-released


def put(path: Path, data: bytes = NOTEBOOK, age: float = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    moment = time.time() - age
    os.utime(path, (moment, moment))
    return path


def by_key(intake):
    return {(s.student, s.lesson.slug): s for s in intake.submissions}


def test_flat_folder_copies_cases_and_ids_ending_in_digits(tmp_path):
    put(tmp_path / "alice_99_guard.ipynb", age=300)
    put(tmp_path / "alice_99_guard-Copy1.ipynb", age=10)               # the newer one
    put(tmp_path / "bob_99_Guard.ipynb")                               # another letter case
    put(tmp_path / "student_03_99_guard.ipynb")                        # an id that ends in digits
    put(tmp_path / "carol_99_guard (1).ipynb", age=5)
    put(tmp_path / "carol_99_guard.ipynb", age=50)
    put(tmp_path / "dave=x y_99_guard.ipynb")                         # = and a space in the name
    put(tmp_path / "notes.txt", b"not a notebook")
    intake = find_submissions(tmp_path, tmp_path / "work", LESSONS_ALL)
    subs = by_key(intake)
    assert set(subs) == {("alice", "99_guard"), ("bob", "99_guard"), ("student_03", "99_guard"),
                         ("carol", "99_guard"), ("dave=x y", "99_guard")}
    assert subs[("alice", "99_guard")].path.name == "alice_99_guard-Copy1.ipynb"
    assert "duplicate" in subs[("alice", "99_guard")].flags
    assert subs[("carol", "99_guard")].path.name == "carol_99_guard (1).ipynb"
    assert "renamed-notebook" in subs[("bob", "99_guard")].flags
    outcomes = {line.input: line.outcome for line in intake.lines}
    assert outcomes["alice_99_guard.ipynb"] == "superseded" and outcomes["notes.txt"] == "skipped"
    assert len(intake.lines) == 8                                     # every input file has its line


def test_a_notebook_saved_under_another_extension_is_taken_by_its_content(tmp_path):
    """A trial: Safari and some LMSes save an upload as '<name>.ipynb.txt', others as '<name>.json'; it was listed
    'not a notebook (.ipynb)' and its student lost the grade for a file name. Its content, read by nbformat,
    decides: a notebook is taken (flagged renamed-extension) in every layout; a file that is not one stays skipped,
    its line saying why. An nbformat 3 notebook (old Jupyter) is a notebook too."""
    old = nbformat.writes(nbformat.convert(nbformat.reads(NOTEBOOK.decode(), as_version=4), 3), version=3)
    put(tmp_path / "in" / "alice_99_guard.ipynb.txt")                                   # Safari
    put(tmp_path / "in" / "bob_99_guard.json")
    put(tmp_path / "in" / "carol_99_guard.ipynb.txt", b"{not json")
    put(tmp_path / "in" / "dave_99_guard.json", b'{"cells": "no list", "nbformat": 4}')
    put(tmp_path / "in" / "erin_99_guard.ipynb.txt", old.encode())                     # nbformat 3 as well
    put(tmp_path / "in" / "fay" / "99_guard" / "99_guard.ipynb.txt")                   # nbgrader's layout
    put(tmp_path / "in" / "Gil Kim_51001_assignsubmission_file_" / "99_guard.json")    # Moodle's
    put(tmp_path / "in" / "hana_40001_900001_99_guard.ipynb.txt")                      # Canvas's
    intake = find_submissions(tmp_path / "in", tmp_path / "work", LESSONS_ALL)
    subs = by_key(intake)
    taken = {student for student, _ in subs}
    assert taken == {"alice", "bob", "erin", "fay", "Gil Kim", "hana"}, taken
    for student in taken:
        assert "renamed-extension" in subs[(student, "99_guard")].flags, student
    assert subs[("hana", "99_guard")].lms["id"] == "40001" and subs[("Gil Kim", "99_guard")].lms["id"] == "51001"
    notes = {line.input: (line.outcome, line.note) for line in intake.lines}
    assert notes["alice_99_guard.ipynb.txt"] == ("taken", "not named .ipynb, but its content is a notebook "
                                                 "(renamed-extension)")
    assert notes["carol_99_guard.ipynb.txt"][0] == "skipped" and "not valid JSON" in notes["carol_99_guard.ipynb.txt"][1]
    assert notes["dave_99_guard.json"] == ("skipped", "not a notebook (.ipynb): it is JSON but not a notebook (no "
                                                       "list of cells).")


def test_canvas_zip_with_korean_names_resubmissions_and_late_work(tmp_path):
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, text in [("kimminsu_40001_900001_99_guard.ipynb", NOTEBOOK),
                           ("kimminsu_40001_900007_99_guard-1.ipynb", NOTEBOOK),       # re-submission: newest
                           ("leejieun_late_40002_900003_99_guard.ipynb", NOTEBOOK),
                           ("김민지_40003_900004_99_guard.ipynb", NOTEBOOK),
                           ("parkjisoo_40004_900005_01_history.ipynb", NOTEBOOK)]:
            zf.writestr(name, text)
    roster = tmp_path / "roster.csv"
    roster.write_text("lms_id,student_id\n40001,s2026001\n40002,s2026002\n", encoding="utf-8")
    from autograde.collect import read_roster

    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL, read_roster(roster))
    subs = by_key(intake)
    assert subs[("s2026001", "99_guard")].path.name == "kimminsu_40001_900007_99_guard-1.ipynb"
    assert "duplicate" in subs[("s2026001", "99_guard")].flags
    assert subs[("s2026002", "99_guard")].late and "late" in subs[("s2026002", "99_guard")].flags
    assert ("김민지", "99_guard") in subs                               # no roster entry: the name as given
    assert ("parkjisoo", "01_history") in subs
    students = {s.student for s in intake.submissions}
    assert len(students) == 4 and not any(s.isdigit() for s in students)
    # Those two are not in the roster: a warning names them, so they are not filed under another id unnoticed.
    strangers = [w for w in intake.warnings if "not in the roster" in w]
    assert len(strangers) == 1 and "김민지 (LMS id 40003)" in strangers[0] and "parkjisoo (LMS id 40004)" in strangers[0]
    assert "kimminsu" not in strangers[0] and "leejieun" not in strangers[0]
    assert "grade the exports again into a new OUT" in strangers[0]            # said before, not after, the harm
    assert not [w for w in find_submissions(archive, tmp_path / "work2", LESSONS_ALL).warnings
                if "not in the roster" in w]                            # no roster: nothing to warn about



def test_a_student_the_roster_lacks_who_sent_no_notebook_is_warned_of_too(tmp_path):
    """An instructor's trial: a student outside the roster who handed in only a .py was recorded missing under the
    LMS's name with no roster warning (README: a student the roster lacks is graded under the LMS's name, and a
    warning names them), so their later notebooks' grades would sit under another id unnoticed."""
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("kimminsu_40001_900001_99_guard.ipynb", NOTEBOOK)
        zf.writestr("hanbit_40007_900007_conv.py", "print(1)\n")
        zf.writestr("leejieun_40002_900002_conv.py", "print(1)\n")
    roster = tmp_path / "roster.csv"
    roster.write_text("lms_id,student_id\n40001,s2026001\n40002,s2026002\n", encoding="utf-8")
    from autograde.collect import read_roster

    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL, read_roster(roster))
    assert {(s.student, s.path is None) for s in intake.submissions} == {
        ("s2026001", False), ("s2026002", True), ("hanbit", True)}
    strangers = [w for w in intake.warnings if "not in the roster" in w]
    assert len(strangers) == 1 and "hanbit (LMS id 40007)" in strangers[0] and "leejieun" not in strangers[0]

def test_moodle_folders_and_a_corrupt_zip_member(tmp_path):
    export = tmp_path / "moodle"
    put(export / "Kim Minsu_123456_assignsubmission_file_" / "99_guard.ipynb")
    put(export / "이지은_123457_assignsubmission_file_" / "my homework 99_guard.ipynb")
    intake = find_submissions(export, tmp_path / "work", LESSONS_ALL)
    assert {s.student for s in intake.submissions} == {"Kim Minsu", "이지은"}

    archive = tmp_path / "broken.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("alice_99_guard.ipynb", NOTEBOOK)
        zf.writestr("bob_99_guard.ipynb", NOTEBOOK)
    raw = bytearray(archive.read_bytes())
    at = raw.find(b"bob_99_guard.ipynb") + len("bob_99_guard.ipynb") + 10        # inside bob's data
    raw[at] ^= 0xFF
    archive.write_bytes(bytes(raw))
    intake = find_submissions(archive, tmp_path / "work2", LESSONS_ALL)
    assert [s.student for s in intake.submissions] == ["alice"]
    bob = [line for line in intake.lines if line.input.startswith("bob")]
    assert bob and bob[0].outcome == "skipped" and "could not be extracted" in bob[0].note


def damage(archive: Path, member: str) -> None:
    """Flip bytes inside ``member``'s compressed data, as a broken download does (its CRC no longer matches)."""
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(member)
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 20
    raw = bytearray(archive.read_bytes())
    for at in range(start, start + 40):
        raw[at] ^= 0x55
    archive.write_bytes(bytes(raw))


def test_a_newest_copy_that_cannot_be_extracted_is_not_replaced_by_an_older_one(tmp_path):
    """An instructor's trial: Canvas's export with a student's re-submission (the larger attachment id) damaged in
    the download. The older draft was graded in its place, without a flag (0 of 12 uploaded to Canvas for a
    complete notebook). The damaged copy still takes part in choosing the newest: no copy of that student's lesson
    is graded in this run (their grade in OUT and the LMS stays as it was), the intake line of the damaged file says
    whose it is and why nothing was graded, the draft is superseded by it, and nobody is recorded missing."""
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("kimminjun_1001_5001_99_guard.ipynb", NOTEBOOK)
        zf.writestr("leeseo_1003_4990_99_guard.ipynb", NOTEBOOK)                 # the draft
        zf.writestr("leeseo_LATE_1003_5003_99_guard-1.ipynb", NOTEBOOK)         # the re-submission, damaged below
        zf.writestr("ohsehun_1011_5011_99_guard.ipynb", NOTEBOOK)               # damaged, the only copy
        zf.writestr("parkjiho_1004_4000_99_guard.ipynb", NOTEBOOK)              # damaged, an older copy
        zf.writestr("parkjiho_1004_5004_99_guard-1.ipynb", NOTEBOOK)
    for member in ("leeseo_LATE_1003_5003_99_guard-1.ipynb", "ohsehun_1011_5011_99_guard.ipynb",
                   "parkjiho_1004_4000_99_guard.ipynb"):
        damage(archive, member)
    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL)
    subs = by_key(intake)
    assert sorted(subs) == [("kimminjun", "99_guard"), ("parkjiho", "99_guard")], subs
    assert subs[("parkjiho", "99_guard")].path.name == "parkjiho_1004_5004_99_guard-1.ipynb"
    lines = {line.input: line for line in intake.lines}
    assert len(intake.lines) == 6, intake.lines                               # one line per member
    damaged = lines["leeseo_LATE_1003_5003_99_guard-1.ipynb"]
    assert (damaged.outcome, damaged.student, damaged.lesson) == ("skipped", "leeseo", "99_guard")
    assert damaged.note.startswith("could not be extracted") and "not graded in its place" in damaged.note
    draft = lines["leeseo_1003_4990_99_guard.ipynb"]
    assert (draft.outcome, draft.student) == ("superseded", "leeseo")
    assert "could not be extracted" in draft.note
    alone = lines["ohsehun_1011_5011_99_guard.ipynb"]
    assert (alone.outcome, alone.student, alone.lesson) == ("skipped", "ohsehun", "99_guard")
    older = lines["parkjiho_1004_4000_99_guard.ipynb"]                         # superseded anyway: one line
    assert (older.outcome, older.student) == ("skipped", "parkjiho") and "could not be extracted" in older.note
    said = " ".join(intake.warnings)
    assert "leeseo_1003_4990_99_guard.ipynb" in said and "download the export again" in said, said


def test_a_newest_copy_too_large_to_extract_is_not_replaced_by_an_older_one(tmp_path, monkeypatch):
    """The same for a member over the size an export's member may have (200 MiB: a notebook full of images): it is
    the student's newest copy all the same, so the older draft is not graded in its place, and its line says what
    to ask the student for. (The limit is lowered here: the test does not write 200 MiB.)"""
    from autograde import collect

    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("leeseo_1003_4990_99_guard.ipynb", NOTEBOOK)                 # the draft
        zf.writestr("leeseo_1003_5003_99_guard-1.ipynb", NOTEBOOK + b" " * 4096)  # the re-submission, too large
        zf.writestr("kimminjun_1001_5001_99_guard.ipynb", NOTEBOOK)
    monkeypatch.setattr(collect, "MAX_MEMBER_BYTES", len(NOTEBOOK) + 1024)
    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL)
    assert sorted(by_key(intake)) == [("kimminjun", "99_guard")]
    lines = {line.input: line for line in intake.lines}
    large = lines["leeseo_1003_5003_99_guard-1.ipynb"]
    assert (large.outcome, large.student, large.lesson) == ("skipped", "leeseo", "99_guard"), large
    assert large.note.startswith("larger than") and "outputs cleared" in large.note, large.note
    draft = lines["leeseo_1003_4990_99_guard.ipynb"]
    assert (draft.outcome, draft.student) == ("superseded", "leeseo") and "too large" in draft.note, draft


def test_a_newest_copy_damaged_inside_a_students_own_zip_is_not_replaced_by_an_older_one(tmp_path):
    """The same inside a .zip the student uploaded (Canvas keeps it as it is): its damaged notebook, uploaded after
    the draft, is still their newest copy."""
    inner = tmp_path / "work.zip"
    with zipfile.ZipFile(inner, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("99_guard.ipynb", NOTEBOOK)
    damage(inner, "99_guard.ipynb")
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("leeseo_1003_4990_99_guard.ipynb", NOTEBOOK)                 # the draft
        zf.writestr("leeseo_1003_5003_work.zip", inner.read_bytes())             # uploaded later, damaged inside
        zf.writestr("kimminjun_1001_5001_99_guard.ipynb", NOTEBOOK)
    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL)
    assert sorted(by_key(intake)) == [("kimminjun", "99_guard")], by_key(intake)
    lines = {line.input: line for line in intake.lines}
    inside = lines["leeseo_1003_5003_work.zip/99_guard.ipynb"]
    assert (inside.outcome, inside.student, inside.lesson) == ("skipped", "leeseo", "99_guard"), inside
    assert "not graded in its place" in inside.note, inside.note
    assert lines["leeseo_1003_4990_99_guard.ipynb"].outcome == "superseded"


def test_a_notebook_that_shows_no_lesson_never_replaces_the_lessons_notebook(tmp_path):
    """An instructor's trial: Canvas and Moodle take several files in one submission, and a student uploaded a
    scratch notebook (or an empty Untitled.ipynb) after the lesson's notebook. Neither its name nor its cells show
    a lesson, so it is the export's lesson by guess only, and Canvas's later attachment id made it the copy
    graded: 0 points, the real notebook superseded. A notebook known to be the lesson's (by its name or its
    exercise cells) comes first; one that shows no lesson is graded only when the student has nothing else."""
    scratch = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    renamed = solved(GUARD)
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("kimminjun_1001_5001_99_guard.ipynb", NOTEBOOK)
        zf.writestr("kimminjun_1001_5002_scratch.ipynb", scratch)              # uploaded after the notebook
        zf.writestr("leeseo_1003_5003_Untitled.ipynb", scratch)
        zf.writestr("leeseo_1003_5004_homework.ipynb", nbformat.writes(renamed))   # the lesson's cells: identified
        zf.writestr("parkjiho_1004_5005_Untitled.ipynb", scratch)               # nothing else: graded as the guess
        zf.writestr("choiyuna_1005_5006_99_guard.ipynb", NOTEBOOK)
    moodle = tmp_path / "moodle"
    put(moodle / "Kim Minsu_700202_assignsubmission_file_" / "99_guard.ipynb", age=60)
    put(moodle / "Kim Minsu_700202_assignsubmission_file_" / "test.ipynb", scratch)   # newer by time
    for source in (archive, moodle):
        intake = find_submissions(source, tmp_path / "work", LESSONS_ALL)
        chosen = {s.student: s.path.name for s in intake.submissions}
        taken = {line.input: line for line in intake.lines}
        if source == archive:
            assert chosen == {"kimminjun": "kimminjun_1001_5001_99_guard.ipynb",
                              "leeseo": "leeseo_1003_5004_homework.ipynb",
                              "parkjiho": "parkjiho_1004_5005_Untitled.ipynb",
                              "choiyuna": "choiyuna_1005_5006_99_guard.ipynb"}, chosen
            scratch_line = taken["kimminjun_1001_5002_scratch.ipynb"]
            assert scratch_line.outcome == "superseded" and "shows no lesson" in scratch_line.note, scratch_line
            kept = taken["kimminjun_1001_5001_99_guard.ipynb"]
            assert kept.outcome == "taken" and "shows no lesson" in kept.note, kept
        else:
            assert chosen == {"Kim Minsu": "99_guard.ipynb"}, chosen


def test_colabs_copy_of_is_a_copys_name_not_a_rename(tmp_path):
    """Colab's "File > Save a copy in Drive" (what the README tells learners) names the notebook "Copy of
    01_history.ipynb", and "Copy of Copy of ..." once more: every Colab learner's hand-in was flagged
    renamed-notebook, filling flagged.md. It is a copy's name, as "01_history (1).ipynb" is; words that are not
    Colab's ("Lab 1 - 01_history.ipynb") are still a rename. With the same time, the lesson's own name comes first
    and "Copy of Copy of" is the later copy."""
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("kimminjun_1001_5001_Copy of 99_guard.ipynb", STARTED)
        zf.writestr("leeseo_1003_5003_Lab 1 - 99_guard.ipynb", STARTED)
        zf.writestr("parkjiho_1004_5004_copy_of_99_guard.ipynb", STARTED)
    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL)
    flags = {s.student: s.flags for s in intake.submissions}
    assert flags == {"kimminjun": [], "leeseo": ["renamed-notebook"], "parkjiho": []}, flags
    notes = {line.student: line.note for line in intake.lines}
    assert notes["kimminjun"] == "named as a copy of 99_guard.ipynb", notes
    moodle = tmp_path / "moodle"
    for name in ("Copy of 99_guard.ipynb", "99_guard.ipynb", "Copy of Copy of 99_guard.ipynb"):
        put(moodle / "Kim Minsu_700202_assignsubmission_file_" / name)
        put(moodle / "Lee Jieun_700203_assignsubmission_file_" / name)
    os.remove(moodle / "Lee Jieun_700203_assignsubmission_file_" / "99_guard.ipynb")
    same = time.time() - 60
    for path in moodle.rglob("*.ipynb"):
        os.utime(path, (same, same))
    chosen = {s.student: s.path.name for s in find_submissions(moodle, tmp_path / "work2", LESSONS_ALL).submissions}
    assert chosen == {"Kim Minsu": "99_guard.ipynb", "Lee Jieun": "Copy of Copy of 99_guard.ipynb"}, chosen


def nest(folder: Path, depth: int, leaf: str) -> None:
    """``depth`` folders one in another below ``folder``, a notebook ``leaf`` in the last: made through directory
    descriptors, as the whole path is longer than the file system takes in one call."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        out = os.open(leaf, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(out, NOTEBOOK)
        os.close(out)
    finally:
        os.close(fd)


def test_folders_nested_2000_deep_cost_only_their_own_files(tmp_path):
    """A submissions folder or zip with 2000 nested folders (in a Moodle student's folder, at the top, under a
    student of nbgrader's layout) once raised RecursionError and lost the whole batch. Every other submission is
    found; the deep part is one skipped line of the intake report; and the work folder it leaves can be removed."""
    from autograde.collect import MAX_DEPTH

    folders = tmp_path / "folders"
    put(folders / "Kim Minsu_123456_assignsubmission_file_" / "99_guard.ipynb")
    deep_moodle = folders / "Lee Jieun_123457_assignsubmission_file_"
    deep_moodle.mkdir()
    nest(deep_moodle, 2000, "99_guard.ipynb")
    put(folders / "Park Jisoo_123458_assignsubmission_file_" / "a" / "b" / "99_guard.ipynb")   # nested, not deep
    try:
        intake = find_submissions(folders, tmp_path / "work", LESSONS_ALL)
    finally:
        subprocess.run(["rm", "-rf", str(deep_moodle)], check=True)     # shutil.rmtree recurses too (Python 3.11)
    assert {s.student for s in intake.submissions} == {"Kim Minsu", "Park Jisoo"}
    deep = [line for line in intake.lines if line.input.startswith("Lee Jieun")]
    assert [(line.outcome, line.note) for line in deep] == [
        ("skipped", f"a folder nested more than {MAX_DEPTH} deep: not searched")], deep

    archive = tmp_path / "deep.zip"
    deep_path = "/".join(["d"] * 2000)
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice/99_guard/99_guard.ipynb", NOTEBOOK)                   # nbgrader's layout, zipped
        zf.writestr(f"bob/{deep_path}/bob_99_guard.ipynb", NOTEBOOK)
        zf.writestr(f"{deep_path}/carol_99_guard.ipynb", NOTEBOOK)                # no student folder at all
        zf.writestr("dave", b"a file")                                           # then a member inside "dave"
        zf.writestr("dave/99_guard/99_guard.ipynb", NOTEBOOK)
        zf.writestr("erin/99_guard/99_guard.ipynb", NOTEBOOK)
    work = tmp_path / "work2"
    intake = find_submissions(archive, work, LESSONS_ALL)
    assert {s.student for s in intake.submissions} == {"alice", "erin"}
    skipped = {line.input[:4]: line.note for line in intake.lines if line.outcome == "skipped"}
    assert skipped["bob/"] == skipped["d/d/"] == f"inside folders nested more than {MAX_DEPTH} deep: not extracted"
    notes = {line.input: line.note for line in intake.lines}
    assert notes["dave/99_guard/99_guard.ipynb"].startswith("could not be extracted"), notes
    assert notes["dave"] == "not a notebook (.ipynb)"
    assert len(intake.lines) == 6                                                 # every member has its line
    shutil.rmtree(work)                                                           # nothing deep was written


def test_nbgrader_layout_with_a_renamed_notebook_and_timestamps(tmp_path):
    put(tmp_path / "alice" / "99_guard" / "99_guard.ipynb")
    (tmp_path / "alice" / "99_guard" / "timestamp.txt").write_text("2026-11-30 23:59:01.000000 UTC")
    put(tmp_path / "bob" / "99_guard" / "Untitled.ipynb")
    intake = find_submissions(tmp_path, tmp_path / "work", LESSONS_ALL)
    subs = by_key(intake)
    assert subs[("alice", "99_guard")].submitted_at.isoformat().startswith("2026-11-30T23:59:01")
    assert "renamed-notebook" in subs[("bob", "99_guard")].flags


def test_unsafe_names_become_safe_folder_names():
    assert safe_id("김민수") == "김민수" and safe_id("Kim Minsu") == "Kim Minsu"
    for bad in ("../etc", "a/b", ".hidden", "x\x00y", "-rf"):
        safe = safe_id(bad)
        assert "/" not in safe and not safe.startswith((".", "-")) and "\x00" not in safe and safe != bad
    assert safe_id("a/b") != safe_id("a\\b")
    # Invisible characters: a right-to-left override shows "\u202etsenoh" as "honest", a zero-width space makes a
    # second "honest" (a hostile trial): both get the safe form, which shows they are not "honest".
    for bad in ("\u202etsenoh", "hon\u200best", "hon\u2028est", "\ufeffhonest", "hon\x85est"):
        safe = safe_id(bad)
        assert safe != bad and safe != "honest" and safe.endswith(safe_id(bad)[-9:]), safe
        assert not any(ch in safe for ch in "\u202e\u200b\u2028\ufeff\x85"), safe
    assert safe_id("\u202etsenoh") != safe_id("\u202etsenoh\u200b")
    assert safe_id("이 서연") == "이 서연" and safe_id("José Núñez") == "José Núñez"



@pytest.mark.parametrize("layout", ["nbgrader", "flat"])
def test_a_name_given_as_another_students_safe_form_is_not_graded_as_them(tmp_path, layout):
    """A hostile trial: a name that cannot be a folder name gets a readable form and a hash ('a|b' ->
    'a_b-0eab8a0a'), and a folder or file can be named that very form: the two were one student, the newer notebook
    graded for both and the other 'superseded'. The student whose name needed the hash is graded under it; the
    other notebook is skipped, with a line and a warning that say why."""
    honest, copycat = "kim|lee", safe_id("kim|lee")
    for name, age in ((honest, 300), (copycat, 10)):         # the copycat's is the newer
        put(tmp_path / (f"{name}/99_guard/99_guard.ipynb" if layout == "nbgrader" else f"{name}_99_guard.ipynb"),
            age=age)
    intake = find_submissions(tmp_path, tmp_path / "work", LESSONS_ALL)
    subs = by_key(intake)
    assert set(subs) == {(copycat, "99_guard")}
    assert honest in str(subs[(copycat, "99_guard")].path)
    skipped = [line for line in intake.lines if line.outcome == "skipped"]
    assert len(skipped) == 1 and honest not in skipped[0].input and repr(honest) in skipped[0].note, intake.lines
    assert any(repr(honest) in warning and "rename it" in warning for warning in intake.warnings), intake.warnings
    assert not [line for line in intake.lines if line.outcome == "superseded"], intake.lines


def test_a_notebook_in_a_folder_that_is_no_lesson_is_named_not_dropped(tmp_path):
    """An instructor's trial: nbgrader's layout with a mistyped lesson folder (dave/99_gaurd/99_guard.ipynb) gave
    intake.csv one line for the folder and the console nothing: dave's notebook was not graded without a word.
    Each file in it has its own line, and a notebook is named in the run's warnings."""
    put(tmp_path / "in" / "alice" / "99_guard" / "99_guard.ipynb")
    put(tmp_path / "in" / "dave" / "99_gaurd" / "99_guard.ipynb")
    put(tmp_path / "in" / "dave" / "99_gaurd" / "notes.txt", b"x")
    (tmp_path / "in" / "erin" / "scratch").mkdir(parents=True)
    intake = find_submissions(tmp_path / "in", tmp_path / "work", LESSONS_ALL)
    assert {(s.student, s.lesson.slug) for s in intake.submissions} == {("alice", "99_guard")}
    lines = {line.input: line for line in intake.lines}
    assert lines["dave/99_gaurd/99_guard.ipynb"].outcome == "skipped"
    assert "dave/99_gaurd, which is no lesson" in lines["dave/99_gaurd/99_guard.ipynb"].note
    assert lines["dave/99_gaurd/notes.txt"].outcome == "skipped"
    assert lines["erin/scratch"].note == "a folder that is no lesson of this course"     # an empty one: one line
    said = [w for w in intake.warnings if "not graded" in w]
    assert len(said) == 1 and "dave/99_gaurd/99_guard.ipynb" in said[0]


def test_out_inside_the_folder_graded_is_not_an_input(tmp_path):
    """An instructor's trial: `grade subs --out subs/grading` run twice listed every file of OUT (its autograded
    notebooks, reports, results) as skipped inputs, and warned of OUT's notebooks as not graded. OUT is the grader's
    own, as the system's files are: no line, wherever it is under the input."""
    subs = tmp_path / "subs"
    put(subs / "alice" / "99_guard" / "99_guard.ipynb")
    for out in (subs / "grading", subs / "term1" / "out"):
        put(out / "autograded" / "alice" / "99_guard" / "99_guard.ipynb")
        put(out / "grades.csv", b"student\n")
        intake = find_submissions(subs, out / ".work", LESSONS_ALL)
        assert [s.student for s in intake.submissions] == ["alice"]
        assert not [line.input for line in intake.lines if str(out.relative_to(subs)) in line.input], intake.lines
        assert not [w for w in intake.warnings if "not graded" in w]
        shutil.rmtree(out)


def test_intake_csv_stopped_while_written_leaves_no_temporary_file(tmp_path, monkeypatch):
    """An instructor's trial: Ctrl-C as the run began left OUT/.intake.csv.tmp (students' names and files)."""
    import autograde.collect

    put(tmp_path / "in" / "alice" / "99_guard" / "99_guard.ipynb")
    intake = find_submissions(tmp_path / "in", tmp_path / "out" / ".work", LESSONS_ALL)

    def stopped(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(autograde.collect.os, "replace", stopped)
    with pytest.raises(KeyboardInterrupt):
        intake.write(tmp_path / "out" / "intake.csv", str(tmp_path / "in"))
    assert list((tmp_path / "out").iterdir()) == []

def test_nothing_recognisable_is_a_clear_error(tmp_path):
    put(tmp_path / "homework.ipynb")
    with pytest.raises(UsageError, match="no submissions found"):
        find_submissions(tmp_path, tmp_path / "work", LESSONS_ALL)



def test_a_zip_with_nothing_to_grade_is_named_as_given(tmp_path):
    """An instructor's trial: an empty or notebook-less zip was reported as 'no submissions found in
    OUT/.work/unzipped', a folder of the grader's own that is gone when the message is read; it names the zip as
    given, and what it held."""
    empty, junk = tmp_path / "empty.zip", tmp_path / "junk.zip"
    zipfile.ZipFile(empty, "w").close()
    with zipfile.ZipFile(junk, "w") as zf:
        zf.writestr("notes.txt", "x")
    with pytest.raises(UsageError) as err:
        find_submissions(empty, tmp_path / "work", LESSONS_ALL)
    assert f"no submissions found in {empty} (it is empty)" in str(err.value) and "unzipped" not in str(err.value)
    with pytest.raises(UsageError) as err:
        find_submissions(junk, tmp_path / "work2", LESSONS_ALL)
    assert f"in {junk} (1 other file(s): notes.txt)" in str(err.value) and "unzipped" not in str(err.value)

@pytest.mark.slow
def test_a_notebook_named_ipynb_txt_and_an_nbformat_3_notebook_are_graded(tmp_path):
    """A trial: both were listed as 'not a notebook' and their students got no grade. Graded in full, flagged."""
    good = solved(GUARD)
    put(tmp_path / "in" / "alice_99_guard.ipynb.txt", nbformat.writes(good).encode())
    old = nbformat.convert(nbformat.reads(nbformat.writes(good), as_version=4), 3)
    put(tmp_path / "in" / "bob_99_guard.ipynb", nbformat.writes(old, version=3).encode())
    out = tmp_path / "out"
    proc = cli(["grade", str(tmp_path / "in"), "--out", str(out), "--solutions", str(GUARD.solutions),
                "--workers", "1"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with (out / "grades.csv").open(encoding="utf-8-sig") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert {student: (row["status"], float(row["score"])) for student, row in rows.items()} == {
        "alice": ("graded", 4.0), "bob": ("graded", 4.0)}, rows
    assert "renamed-extension" in rows["alice"]["flags"]
    assert "renamed-extension" in (out / "flagged.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_canvas_export_is_graded_end_to_end(tmp_path):
    """The zip straight from Canvas, Korean names and copies included, graded; intake.csv accounts for all."""
    archive = tmp_path / "canvas.zip"
    good = solved(GUARD)
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("김민지_40003_900004_99_guard.ipynb", __import__("nbformat").writes(good))
        zf.writestr("kimminsu_40001_900001_99_guard.ipynb", __import__("nbformat").writes(submission(GUARD)))
        zf.writestr("kimminsu_40001_900009_99_guard-2.ipynb", __import__("nbformat").writes(good))
        zf.writestr("readme.txt", "hello")
    out = tmp_path / "out"
    proc = cli(["grade", str(archive), "--out", str(out),
                "--solutions", str(GUARD.solutions), "--workers", "1"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with (out / "grades.csv").open(encoding="utf-8-sig") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert set(rows) == {"김민지", "kimminsu"}
    assert float(rows["김민지"]["score"]) == float(rows["kimminsu"]["score"]) == 4       # the newest copy
    assert "duplicate" in rows["kimminsu"]["flags"]
    assert (out / "feedback" / "김민지" / "99_guard.html").is_file()
    with (out / "intake.csv").open(encoding="utf-8-sig") as f:
        intake = list(csv.DictReader(f))
    assert len(intake) == 4 and {line["outcome"] for line in intake} == {"taken", "superseded", "skipped"}
    # Grades back to Canvas: its import file, keyed by the Canvas user ids its export's file names carried.
    with (out / "lms" / "canvas.csv").open(encoding="utf-8-sig") as f:
        table = list(csv.reader(f))
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "99_guard"]
    assert table[1] == ["Points Possible", "", "", "", "", "5"]          # why_pooling (1) is graded by hand
    assert sorted(table[2:]) == [["kimminsu", "40001", "kimminsu", "", "", "4"], ["김민지", "40003", "김민지", "", "", "4"]]


@pytest.mark.slow
def test_a_moodle_export_round_trips_to_its_grading_worksheet(tmp_path):
    """Moodle's folders in, Moodle's grading worksheet out (Identifier 'Participant <id>' as in the folder names),
    with a hand-graded answer entered in the gradebook (formgrader's way) in the uploaded grade."""
    from nbgrader.api import Gradebook

    export = tmp_path / "moodle"
    write(solved(GUARD), export / "Kim Minsu_123456_assignsubmission_file_" / "99_guard.ipynb")
    write(submission(GUARD), export / "이지은_123457_assignsubmission_file_" / "my homework 99_guard.ipynb")
    out = tmp_path / "out"
    args = ["grade", str(export), "--out", str(out), "--solutions", str(GUARD.solutions), "--workers", "1"]
    proc = cli(args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        grade = gb.find_grade("why_pooling", "99_guard", "99_guard", "Kim Minsu")
        grade.manual_score = 1.0
        gb.db.commit()
    again = cli(args)     # nothing to grade
    assert again.returncode == 0 and "resuming: 2 of 2" in again.stdout, again.stdout + again.stderr
    with (out / "lms" / "moodle-99_guard.csv").open(encoding="utf-8-sig") as f:
        sheet = list(csv.DictReader(f))
    assert [(r["Identifier"], r["Full name"], r["Grade"], r["Maximum Grade"]) for r in sheet] == [
        ("Participant 123456", "Kim Minsu", "5", "5"), ("Participant 123457", "이지은", "0", "5")]
    assert {"Identifier", "Full name", "Grade", "Maximum Grade"} <= set(sheet[0])
    # Moodle refuses a worksheet without "Last modified (grade)" (importgradeslib.php), and an empty "Feedback
    # comments" column would replace the comments written in Moodle.
    assert all(row["Last modified (grade)"].endswith(" UTC") for row in sheet) and "Feedback comments" not in sheet[0]


def test_a_canvas_class_with_two_students_of_one_name_anonymous_work_and_free_file_names(tmp_path):
    """Names as canvas-lms's content_zipper.rb writes them: '<sortable name, lower case, word characters only>
    [_LATE]_<user id>_<attachment id>_<the file as uploaded>', 'anon_<id>' under anonymous grading. Two students
    called 김민준 are two students; a student's own file name ('99_guard (final version)', 'Untitled') in a
    one-assignment export is still that assignment; nothing is dropped."""
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ["김민준_51001_9000001_99_guard.ipynb",
                     "김민준_51012_9000002_99_guard.ipynb",                        # another 김민준
                     "강하은_51008_9000003_99_guard (final version).ipynb",
                     "obrienbob_LATE_51007_9000004_Untitled.ipynb",
                     "lee_seo_51013_9000005_99_guard.ipynb",                       # an underscore in a name
                     "anon_x7Kq2_9000006_99_guard.ipynb",
                     "LATE_anon_Pz3m9_9000007_99_guard.ipynb"]:
            zf.writestr(name, NOTEBOOK)
        zf.writestr("martinalice_51006_9000008_notes.txt", b"notes")
    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL)
    subs = by_key(intake)
    assert set(subs) == {(s, "99_guard") for s in ("김민준 (51001)", "김민준 (51012)", "강하은", "obrienbob",
                                                    "lee_seo", "anon_x7Kq2", "anon_Pz3m9", "martinalice")}
    # handed in notes.txt only: missing the export's lesson, and why, not left out of the grades
    assert subs[("martinalice", "99_guard")].path is None
    assert subs[("martinalice", "99_guard")].note == "no notebook: handed in notes.txt"
    assert "same-name" in subs[("김민준 (51001)", "99_guard")].flags and any("김민준" in w for w in intake.warnings)
    assert subs[("obrienbob", "99_guard")].late and "renamed-notebook" in subs[("obrienbob", "99_guard")].flags
    assert subs[("anon_Pz3m9", "99_guard")].late and not subs[("anon_x7Kq2", "99_guard")].late
    assert "renamed-notebook" in subs[("강하은", "99_guard")].flags
    outcomes = sorted((line.outcome, line.input) for line in intake.lines)
    assert len(outcomes) == 8 and [o for o in outcomes if o[0] != "taken"] == [
        ("skipped", "martinalice_51006_9000008_notes.txt")]
    # One upload of another lesson's notebook to this assignment (a newcomer's trial: it once made the export
    # "several lessons", so every renamed notebook was dropped without a word, and the class "missing" 01): the
    # export is still 99_guard's; the stray is graded as 01_history, flagged, and makes nobody missing 01_history.
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("parkjiho_LATE_51003_9000009_01_history.ipynb", NOTEBOOK)
    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL)
    subs = by_key(intake)
    assert subs[("obrienbob", "99_guard")].path.name.endswith("Untitled.ipynb")
    stray = subs[("parkjiho", "01_history")]
    assert "other-assignment" in stray.flags and not stray.late          # the LATE marker is 99_guard's
    assert subs[("parkjiho", "99_guard")].path is None                      # they handed in no 99_guard
    assert subs[("parkjiho", "99_guard")].note == ("no notebook of 99_guard; handed in a 01_history notebook "
                                                   "(parkjiho_LATE_51003_9000009_01_history.ipynb) to this assignment "
                                                   "instead")
    assert subs[("parkjiho", "99_guard")].handed_in == ["01_history notebook"]
    # --lesson 1 --lesson 99: nobody is recorded missing 01_history, so no warning says the others are (a trial)
    from autograde.grade import few_submitted
    assert not any(s.lesson.slug == "01_history" and s.path is None for s in intake.submissions)
    assert few_submitted(intake.submissions, ["01_history", "99_guard"]) == []
    # --lesson naming the stray's lesson would make the export's own notebooks strays: refused, nothing graded
    with pytest.raises(UsageError, match=r"--lesson 01_history, but this LMS export is 99_guard's: 6 student\(s\) "
                                         r"handed in 99_guard, 1 01_history\. Give --lesson 99"):
        find_submissions(archive, tmp_path / "work", LESSONS_ALL, assignment=LESSONS[0])
    assert [key for key in subs if key[1] == "01_history"] == [("parkjiho", "01_history")]
    assert any(w.startswith("parkjiho_LATE_51003_9000009_01_history.ipynb: handed in to the assignment of 99_guard")
               for w in intake.settled_warnings()), intake.settled_warnings()
    # --lesson names the export's lesson: the same
    again = find_submissions(archive, tmp_path / "work", LESSONS_ALL, assignment=GUARD)
    assert by_key(again).keys() == subs.keys()

    # Two assignments' exports put together: no lesson of its own. A renamed notebook is the lesson whose exercise
    # cells it holds (obrienbob's Untitled holds 99_guard's); one that holds none cannot be placed: it says so, on
    # the console too, and what to give.
    with zipfile.ZipFile(archive, "a") as zf:
        for i in range(5):
            zf.writestr(f"student{i}_5200{i}_910000{i}_01_history.ipynb", NOTEBOOK)
        zf.writestr("kangmin_51020_9000020_my notebook.ipynb", __import__("nbformat").writes(
            __import__("nbformat").v4.new_notebook()))
    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL)
    assert by_key(intake)[("obrienbob", "99_guard")].path.name.endswith("Untitled.ipynb")
    blank = next(line for line in intake.lines if "my notebook" in line.input)
    assert blank.outcome == "skipped" and "several lessons (01_history, 99_guard): give --lesson" in blank.note
    assert not any("other-assignment" in sub.flags for sub in intake.submissions)
    # ... and nobody is recorded missing a lesson: which one they owe is a guess (it put zeros in canvas.csv)
    assert all(sub.path is not None for sub in intake.submissions if sub.student != "martinalice")
    assert any(w.startswith("this LMS export holds notebooks of 01_history, 99_guard and no lesson of its own")
               for w in intake.warnings), intake.warnings
    assert any(w.startswith("1 notebook(s) not graded: kangmin_51020_9000020_my notebook.ipynb of kangmin (no "
                            "lesson of this course in the file name") for w in intake.warnings), intake.warnings
    # with --lesson, the renamed notebook is that lesson's
    placed = by_key(find_submissions(archive, tmp_path / "work", LESSONS_ALL, assignment=GUARD))
    assert placed[("kangmin", "99_guard")].path.name.endswith("my notebook.ipynb")


def test_moodle_times_with_no_worksheet_time_to_read_is_said_to_set_none(tmp_path):
    """An instructor's trial: --moodle-times Asia/Seoul with a Canvas export, or a Moodle export without its
    worksheet, did nothing and said nothing."""
    canvas = tmp_path / "canvas"
    put(canvas / "annlee_1001_5001_99_guard.ipynb")
    moodle = tmp_path / "moodle"
    put(moodle / "Ann Lee_700201_assignsubmission_file_" / "99_guard.ipynb")
    for source, why in ((canvas, "not a Moodle export"), (moodle, "no worksheet of its assignment given")):
        intake = find_submissions(source, tmp_path / "work", LESSONS_ALL, moodle_zone="Asia/Seoul")
        assert f"--moodle-times Asia/Seoul reads the submission times of Moodle's grading worksheet " \
               f"(--moodle-worksheet), and no notebook of this input has one ({why}): it sets no submission time " \
               "here" in intake.warnings, intake.warnings
        assert not any("--moodle-times" in w for w in find_submissions(source, tmp_path / "w2", LESSONS_ALL).warnings)
    # Kept in OUT from an earlier Moodle run, not given now: a Canvas export is no reason to warn (an instructor's
    # trial graded a Moodle assignment with it, then every Canvas zip into that OUT warned); Moodle's still is.
    kept = {source: find_submissions(source, tmp_path / "w3", LESSONS_ALL, moodle_zone="Asia/Seoul",
                                     moodle_zone_given=False).warnings for source in (canvas, moodle)}
    assert not any("--moodle-times" in w for w in kept[canvas]), kept[canvas]
    assert any("(no worksheet of its assignment given)" in w for w in kept[moodle]), kept[moodle]


def test_moodle_blind_marking_and_files_not_in_folders(tmp_path):
    """Moodle (mod/assign/classes/downloader.php) names every folder 'Participant_<id>_...' under blind marking,
    and with "Download submissions in folders" off writes '<name>_<id>_assignsubmission_file_<file>' files."""
    export = tmp_path / "moodle"
    put(export / "Participant_700101_assignsubmission_file" / "99_guard.ipynb")
    put(export / "Participant_700102_assignsubmission_file" / "99_guard.ipynb")
    put(export / "Kim Minjun_700103_assignsubmission_file_99_guard.ipynb")
    put(export / "이서연_700104_assignsubmission_file_Untitled.ipynb")
    intake = find_submissions(export, tmp_path / "work", LESSONS_ALL)
    subs = by_key(intake)
    assert set(subs) == {("Participant (700101)", "99_guard"), ("Participant (700102)", "99_guard"),
                         ("Kim Minjun", "99_guard"), ("이서연", "99_guard")}
    assert subs[("Kim Minjun", "99_guard")].lms == {"system": "moodle", "id": "700103", "name": "Kim Minjun"}
    assert all(line.outcome == "taken" for line in intake.lines) and len(intake.lines) == 4


def test_canvas_gradebook_export_is_a_roster(tmp_path):
    """The CSV Canvas's Grades > Export writes (lib/gradebook_exporter.rb: Student, ID, SIS User ID, SIS Login ID,
    Section, 'Title (id)' columns, a '    Points Possible' row) maps Canvas user ids to SIS ids as it is."""
    from autograde.collect import read_roster

    export = tmp_path / "2026-12-01T1010_Grades-CNN.csv"
    export.write_text('\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Lesson 99: Guard (3099),Current Score\n'
                      '    Points Possible,,,,,5.00,(read only)\n'
                      '김민준,51001,2026001,s2026001@uni.example,Section A,,\n'
                      '"Martin, Alice",51006,,alice@uni.example,Section B,,\n'
                      '"Student, Test",51999,,,Section A,,\n', encoding="utf-8")
    assert read_roster(export) == {"51001": "2026001", "51006": "alice@uni.example"}
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("김민준_51001_9000001_99_guard.ipynb", NOTEBOOK)
        zf.writestr("martinalice_51006_9000002_99_guard.ipynb", NOTEBOOK)
    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL, read_roster(export))
    assert {s.student for s in intake.submissions} == {"2026001", "alice@uni.example"}


def test_the_roster_gives_the_gradebook_names_and_e_mails(tmp_path):
    from autograde.collect import roster_names

    export = tmp_path / "Grades.csv"
    export.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Lesson 99: Guard (3099)\n"
                      "    Points Possible,,,,,5.00\n"
                      "\"Smith, Emma\",51011,2026011,s11@uni.example,Section B,\n"
                      "김민준,51001,,kim01,Section A,\n"
                      "\"Student, Test\",51999,,,Section A,\n", encoding="utf-8")
    assert roster_names(export) == {"2026011": {"last_name": "Smith", "first_name": "Emma", "email": "s11@uni.example"},
                                    "kim01": {"last_name": "김민준"}}        # a login that is no address is no e-mail
    ours = tmp_path / "roster.csv"
    ours.write_text("lms_id,student_id,first_name,last_name\n40001,s1,Minjun,Kim\n40002,s2,,\n", encoding="utf-8")
    assert roster_names(ours) == {"s1": {"first_name": "Minjun", "last_name": "Kim"}}
    assert roster_names(None) == {}



@pytest.mark.slow                 # nbgrader's gradebook
def test_names_reach_the_gradebook_without_markup(tmp_path):
    """Formgrader's grading page writes the gradebook's last and first name into its HTML unescaped (nbgrader's
    formgrade template, rendered by nbconvert), in the Jupyter server's origin: a Canvas user who named themself
    `<img src=x onerror=...>` ran script in the instructor's session once the roster filled the gradebook."""
    from nbgrader.api import Gradebook

    from autograde.collect import roster_names
    from autograde.grade import record

    export = tmp_path / "Grades.csv"
    export.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Lesson 99: Guard (3099)\n"
                      "    Points Possible,,,,,5.00\n"
                      '"<img src=x onerror=alert(1)>, <script>alert(2)</script>",51011,2026011,s11@uni.example,A,\n'
                      '"O\'Brien-Kim, Ha & Eun",51012,2026012,s12@uni.example,A,\n', encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    for student, person in roster_names(export).items():
        record(db, {"student": student, "lesson": GUARD.slug, "status": "missing", "person": person})
    with Gradebook(db) as gb:
        names = {s.id: (s.last_name, s.first_name) for s in gb.students}
    assert names == {"2026011": ("img src=x onerror=alert(1)", "scriptalert(2)/script"),
                     "2026012": ("O'Brien-Kim", "Ha & Eun")}, names

@pytest.mark.slow
def test_a_canvas_class_graded_with_its_gradebook_export_as_roster(tmp_path):
    """Canvas's zip and Canvas's gradebook export, both as downloaded: students become their SIS ids (the two
    김민준s stay two), a student's own file name is graded, a corrupt notebook is named as it is in the zip, and
    lms/canvas.csv is the export's own rows and assignment column, ready for Grades > Import."""
    import nbformat

    archive = tmp_path / "cnn-99-guard-submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("김민준_51001_9000001_99_guard.ipynb", nbformat.writes(solved(GUARD)))
        zf.writestr("김민준_51012_9000002_99_guard.ipynb", nbformat.writes(submission(GUARD)))
        zf.writestr("강하은_51008_9000003_99_guard (final version).ipynb", nbformat.writes(solved(GUARD)))
        zf.writestr("smithemma_51011_9000004_99_guard.ipynb", nbformat.writes(solved(GUARD))[:500])
    export = tmp_path / "2026-12-01T1010_Grades-CNN_101.csv"
    export.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Lesson 99: Guard (3099),Current Score\n"
                      "    Points Possible,,,,,5.00,(read only)\n"
                      "김민준,51001,2026001,s1@uni.example,Section A,,\n"
                      "김민준,51012,2026012,s12@uni.example,Section B,,\n"
                      "강하은,51008,2026008,s8@uni.example,Section B,,\n"
                      "\"Smith, Emma\",51011,2026011,s11@uni.example,Section B,,\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = cli(["grade", str(archive), "--out", str(out),
                "--roster", str(export), "--solutions", str(GUARD.solutions), "--workers", "1"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{archive.name}: smithemma_51011_9000004_99_guard.ipynb is not valid JSON" in proc.stdout
    assert ".work" not in proc.stdout
    with (out / "grades.csv").open(encoding="utf-8-sig") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert {s: (rows[s]["score"], rows[s]["status"]) for s in rows} == {
        "2026001": ("4", "graded"), "2026012": ("0", "graded"), "2026008": ("4", "graded"),
        "2026011": ("0", "invalid-notebook")}
    with (out / "lms" / "canvas.csv").open(encoding="utf-8-sig") as f:
        table = list(csv.reader(f))
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Lesson 99: Guard (3099)"]
    assert table[1] == ["    Points Possible", "", "", "", "", "5.00"]
    assert table[2:] == [["김민준", "51001", "2026001", "s1@uni.example", "Section A", "4"],
                         ["김민준", "51012", "2026012", "s12@uni.example", "Section B", "0"],
                         ["강하은", "51008", "2026008", "s8@uni.example", "Section B", "4"],
                         ["Smith, Emma", "51011", "2026011", "s11@uni.example", "Section B", "0"]]
    assert not (out / "lms" / "canvas-notes.txt").exists()

    # nbgrader's gradebook knows them by name (formgrader lists "Last, First" and the e-mail), filled from the
    # export; a name the instructor corrected in formgrader stays through the next run.
    from nbgrader.api import Gradebook

    def people() -> dict:
        with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
            return {s.id: (s.last_name, s.first_name, s.email) for s in gb.students}

    # Emma's notebook could not be read: she is in the gradebook all the same (formgrader and nbgrader's export list
    # her, with no submission), as the class list has her.
    assert people() == {"2026001": ("김민준", "", "s1@uni.example"), "2026012": ("김민준", "", "s12@uni.example"),
                        "2026008": ("강하은", "", "s8@uni.example"), "2026011": ("Smith", "Emma", "s11@uni.example")}
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        gb.update_or_create_student("2026008", last_name="강", first_name="하은")
    again = cli(["grade", str(archive), "--out", str(out),
                 "--solutions", str(GUARD.solutions), "--student", "2026008"])
    assert again.returncode == 0, again.stdout + again.stderr
    assert people()["2026008"] == ("강", "하은", "s8@uni.example")
    # The instructor's reports name each student as the gradebook does, beside the id (they showed ids only).
    with (out / "grades-by-student.csv").open(encoding="utf-8-sig") as f:
        named = {row["student"]: row["name"] for row in csv.DictReader(f)}
    assert named == {"2026001": "김민준", "2026012": "김민준", "2026008": "강하은", "2026011": "Emma Smith"}, named
    assert "**2026011** (Emma Smith) 99_guard: invalid-notebook" in (out / "flagged.md").read_text(encoding="utf-8")
    assert "<b>2026011 (Emma Smith)</b>" in (out / "report" / "99_guard.html").read_text(encoding="utf-8")
    # and so does each student's own page (handed back through the LMS or by e-mail, it says whose it is).
    page = (out / "feedback" / "2026008" / "99_guard.html").read_text(encoding="utf-8")
    assert "Student: <b>강하은 (2026008)</b>" in page and "feedback for 강하은 (2026008)</title>" in page


def test_intake_keeps_every_exports_lines_when_each_assignment_comes_in_its_own_zip(tmp_path):
    """Canvas and Moodle export one assignment per zip, each graded into the same OUT: intake.csv keeps every
    zip's lines (grading a zip again replaces only its own), and a student's file name is never a formula."""
    out = tmp_path / "out"
    zips = {}
    for lesson in ("01_history", "99_guard"):
        zips[lesson] = tmp_path / f"canvas-{lesson}.zip"
        with zipfile.ZipFile(zips[lesson], "w") as zf:
            zf.writestr(f"kimminsu_40001_9001_{lesson}.ipynb", NOTEBOOK)
            zf.writestr(f"=cmd_40002_9002_{lesson}.ipynb", NOTEBOOK)
            zf.writestr("notes.txt", b"hi")
    for lesson, archive in zips.items():
        find_submissions(archive, tmp_path / "work", LESSONS_ALL).write(out / "intake.csv", str(archive))
    again = find_submissions(zips["01_history"], tmp_path / "work", LESSONS_ALL)
    again.lines = [line for line in again.lines if line.outcome == "taken"]
    again.write(out / "intake.csv", str(zips["01_history"]))
    with (out / "intake.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert sorted((Path(r["source"]).name, r["input"], r["outcome"]) for r in rows) == [
        ("canvas-01_history.zip", "'=cmd_40002_9002_01_history.ipynb", "taken"),
        ("canvas-01_history.zip", "kimminsu_40001_9001_01_history.ipynb", "taken"),
        ("canvas-99_guard.zip", "'=cmd_40002_9002_99_guard.ipynb", "taken"),
        ("canvas-99_guard.zip", "kimminsu_40001_9001_99_guard.ipynb", "taken"),
        ("canvas-99_guard.zip", "notes.txt", "skipped")]
    # The 99_guard export downloaded again (under the browser's new name, with one more student since): its lines
    # replace the first download's, never doubling every student's "taken" line.
    redownload = tmp_path / "canvas-99_guard (1).zip"
    with zipfile.ZipFile(zips["99_guard"]) as old, zipfile.ZipFile(redownload, "w") as zf:
        for info in old.infolist():
            zf.writestr(info, old.read(info))
        zf.writestr("leejieun_40003_9003_99_guard.ipynb", NOTEBOOK)
    find_submissions(redownload, tmp_path / "work", LESSONS_ALL).write(out / "intake.csv", str(redownload))
    with (out / "intake.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert sorted({Path(r["source"]).name for r in rows}) == ["canvas-01_history.zip", "canvas-99_guard (1).zip"]
    assert len([r for r in rows if r["outcome"] == "taken"]) == 5, rows
    # A zip whose members carry those names but could not be extracted (nor taken) erases no one's record.
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as zf:
        zf.writestr("newcomer_40009_9009_99_guard.ipynb", NOTEBOOK)
        for r in rows:
            if r["outcome"] == "taken" and not r["input"].startswith("'"):
                zf.writestr(f"{r['input']}/x.txt", b"x")
                zf.writestr(r["input"], b"junk")
    find_submissions(broken, tmp_path / "work", LESSONS_ALL).write(out / "intake.csv", str(broken))
    with (out / "intake.csv").open(encoding="utf-8-sig") as f:
        after = list(csv.DictReader(f))
    assert [r for r in rows if r in after] == rows, after
    # A member name with control characters (an escape sequence that would clear the instructor's terminal, a line
    # break that would print a line of its own) is written escaped, and grading that zip again finds its own lines.
    odd = tmp_path / "odd.zip"
    with zipfile.ZipFile(odd, "w") as zf:
        zf.writestr("park_40004_9004_99_guard.ipynb", NOTEBOOK)
        zf.writestr("\x1b[2J\x1b[Hall good\r\nnotes\u202e.txt", b"x")
    for _ in range(2):
        find_submissions(odd, tmp_path / "work", LESSONS_ALL).write(out / "intake.csv", str(odd))
    text = (out / "intake.csv").read_text(encoding="utf-8-sig")
    assert not {"\x1b", "\u202e"} & set(text) and "\\x1b[2J" in text and "\\u202e" in text, text
    with (out / "intake.csv").open(encoding="utf-8-sig") as f:
        mine = [r for r in csv.DictReader(f) if Path(r["source"]).name == "odd.zip"]
    assert sorted(r["outcome"] for r in mine) == ["skipped", "taken"], mine


def test_the_roster_is_kept_for_the_next_assignments_zip(tmp_path):
    """Given once (with the first assignment's zip), the roster maps the next zips too; a bad one is refused
    before anything is kept."""
    from autograde.collect import load_roster, read_roster

    out = tmp_path / "out"
    roster = tmp_path / "roster.csv"
    roster.write_text("lms_id,student_id\n51001,2026001\n", encoding="utf-8")
    assert load_roster(out, None) is None
    kept = load_roster(out, roster)
    roster.unlink()                                            # the instructor's file may move; OUT keeps its copy
    assert load_roster(out, None) == kept and read_roster(kept) == {"51001": "2026001"}
    bad = tmp_path / "bad.csv"
    bad.write_text("name,number\nx,1\n", encoding="utf-8")
    with pytest.raises(UsageError, match="lms_id and student_id"):
        load_roster(out, bad)
    assert read_roster(load_roster(out, None)) == {"51001": "2026001"}


@pytest.mark.slow
def test_a_corrupt_notebook_is_named_as_in_its_zip_when_out_is_a_relative_path(tmp_path):
    """``--out .`` in the course root (or any relative OUT): the message names the zip and its member, not a path
    made of OUT and the zip's name, which does not exist."""
    archive = tmp_path / "cnn-99-guard-submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("smithemma_51011_9000004_99_guard.ipynb", "{not json")
    course = tmp_path / "course"
    course.mkdir()
    proc = cli(["grade", str(archive), "--out", ".",
                "--solutions", str(GUARD.solutions), "--workers", "1"], cwd=course)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"invalid-notebook: {archive.name}: smithemma_51011_9000004_99_guard.ipynb is not valid JSON" in proc.stdout
    assert str(course) not in proc.stdout


def test_student_by_a_name_the_lms_gave_two_ids_says_which_ids(tmp_path):
    """``--student 김민준`` when Canvas's export has two 김민준s (graded as ``김민준 (51001)`` and ``김민준 (51012)``):
    the refusal names those ids instead of saying there is no submission of 김민준."""
    from autograde.grade import grade_batch

    archive = tmp_path / "cnn-99-guard-submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("김민준_51001_9000001_99_guard.ipynb", "{}")
        zf.writestr("김민준_51012_9000002_99_guard.ipynb", "{}")
        zf.writestr("강하은_51008_9000003_99_guard.ipynb", "{}")
    with pytest.raises(UsageError) as refused:
        grade_batch(archive, tmp_path / "out", solutions=GUARD.solutions, students=["김민준"], progress=lambda _: None)
    assert "김민준 (51001)" in str(refused.value) and "김민준 (51012)" in str(refused.value)
    assert "강하은" not in str(refused.value)
    with pytest.raises(UsageError, match="no submissions of nobody in"):
        grade_batch(archive, tmp_path / "out", solutions=GUARD.solutions, students=["nobody"], progress=lambda _: None)


def test_a_refused_run_leaves_no_extracted_notebooks_behind(tmp_path):
    """A run refused after the zip was extracted (``--student`` naming nobody, a zip without any notebook of the
    course) removes OUT/.work at once: with ``--out .`` it is inside the course root, holding learners' files."""
    from autograde.grade import grade_batch

    archive = tmp_path / "cnn-99-guard-submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("강하은_51008_9000003_99_guard.ipynb", "{}")
    out = tmp_path / "out"
    with pytest.raises(UsageError, match="no submissions of nobody"):
        grade_batch(archive, out, solutions=GUARD.solutions, students=["nobody"], progress=lambda _: None)
    assert (out / "intake.csv").is_file() and not (out / ".work").exists()

    empty = tmp_path / "nothing.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("강하은_51008_9000003_essay.docx", "not a notebook")
    with pytest.raises(UsageError, match="no submissions found"):
        grade_batch(empty, out, solutions=GUARD.solutions, progress=lambda _: None)
    assert not (out / ".work").exists()


@pytest.mark.parametrize("order", ["as listed", "reversed"])
def test_copies_with_one_time_are_chosen_by_name_and_intake_says_what_decided(tmp_path, order):
    """In a zip every entry may carry one time (Moodle's and Canvas's zips are stamped when made): then the time
    decides nothing, and the copy graded is chosen by name, the same whatever the order of the zip's entries: the
    lesson's own name before a copy, then the highest copy number. intake.csv says which rule decided."""
    same, older = (2026, 3, 7, 12, 0, 0), (2026, 3, 6, 9, 0, 0)
    members = [("alice_99_guard-Copy1.ipynb", same), ("alice_99_guard.ipynb", same),
               ("bob_99_guard (1).ipynb", same), ("bob_99_guard (2).ipynb", same),
               ("carol_99_guard.ipynb", older), ("carol_99_guard-Copy1.ipynb", same)]
    archive = tmp_path / "flat.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, when in members if order == "as listed" else members[::-1]:
            zf.writestr(zipfile.ZipInfo(name, when), NOTEBOOK)
    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL)
    subs = by_key(intake)
    assert subs[("alice", "99_guard")].path.name == "alice_99_guard.ipynb"
    assert subs[("bob", "99_guard")].path.name == "bob_99_guard (2).ipynb"
    assert subs[("carol", "99_guard")].path.name == "carol_99_guard-Copy1.ipynb"
    notes = {line.input: (line.outcome, line.note) for line in intake.lines}
    assert notes["alice_99_guard.ipynb"] == ("taken", "2 copies with the same time: chosen by name (the lesson's own "
                                             "name before a copy); also submitted: alice_99_guard-Copy1.ipynb")
    assert notes["alice_99_guard-Copy1.ipynb"] == ("superseded", "another copy was graded: alice_99_guard.ipynb "
                                                   "(same time: chosen by name)")
    assert notes["bob_99_guard (2).ipynb"][1].startswith("2 copies with the same time: chosen by name (the highest "
                                                         "copy number)")
    assert notes["carol_99_guard-Copy1.ipynb"][1].startswith("the newest of 2 copies (by time); also submitted")
    assert notes["carol_99_guard.ipynb"] == ("superseded", "another copy was graded: carol_99_guard-Copy1.ipynb "
                                             "(newer)")


def test_one_file_named_as_a_copy_is_no_rename(tmp_path):
    """A lone ``01_history (1).ipynb`` (a second browser download) or ``-Copy1`` (Jupyter's duplicate) is the
    lesson's notebook under a copy's name: graded without the renamed-notebook flag (it filled flagged.md with
    noise); intake.csv still says so. Another letter case or another file name stays a rename."""
    put(tmp_path / "flat" / "alice_99_guard (1).ipynb", STARTED)
    put(tmp_path / "flat" / "bob_99_guard-Copy1.ipynb", STARTED)
    put(tmp_path / "flat" / "carol_99_Guard.ipynb", STARTED)
    put(tmp_path / "flat" / "erin_40001_900001_99_guard-1.ipynb", STARTED)           # Canvas's re-submission name
    put(tmp_path / "nbgrader" / "dave" / "99_guard" / "99_guard (1).ipynb", STARTED)
    put(tmp_path / "nbgrader" / "fay" / "99_guard" / "my 99_guard notes.ipynb", STARTED)
    flat = find_submissions(tmp_path / "flat", tmp_path / "work", LESSONS_ALL)
    nbgrader = find_submissions(tmp_path / "nbgrader", tmp_path / "work", LESSONS_ALL)
    subs = {**by_key(flat), **by_key(nbgrader)}
    assert {student: subs[(student, "99_guard")].flags for student in ("alice", "bob", "carol", "erin", "dave", "fay")} \
        == {"alice": [], "bob": [], "carol": ["renamed-notebook"], "erin": [], "dave": [], "fay": ["renamed-notebook"]}
    notes = {line.input: (line.outcome, line.note) for line in [*flat.lines, *nbgrader.lines]}
    assert notes["alice_99_guard (1).ipynb"] == ("taken", "named as a copy of 99_guard.ipynb")
    assert notes["bob_99_guard-Copy1.ipynb"] == ("taken", "named as a copy of 99_guard.ipynb")
    assert notes[os.path.join("dave", "99_guard", "99_guard (1).ipynb")] == ("taken", "named as a copy of 99_guard.ipynb")
    assert notes["carol_99_Guard.ipynb"] == ("taken", "renamed: graded as 99_guard")       # intake.csv says so too
    assert notes[os.path.join("fay", "99_guard", "my 99_guard notes.ipynb")] == ("taken", "renamed: graded as 99_guard")


def test_one_early_upload_of_the_next_lesson_is_warned_of_and_lesson_keeps_it_out(tmp_path):
    """A flat folder of lesson 01 where one student also uploaded lesson 02, and another uploaded only 02 (the
    wrong file): without --lesson, everyone else is "missing" 02 and a warning says so and what to give; with
    --lesson 1 the 02 notebooks are intake lines "other-lesson", the student who sent only 02 is missing 01."""
    from autograde.grade import few_submitted, grade_batch

    history = LESSONS[0].student_version.read_bytes()
    for student in ("ann", "ben", "cid", "dan"):
        put(tmp_path / "in" / f"{student}_01_history.ipynb", history)
    put(tmp_path / "in" / "ann_02_convolution.ipynb", LESSONS[1].student_version.read_bytes())
    put(tmp_path / "in" / "eve_02_convolution.ipynb", LESSONS[1].student_version.read_bytes())
    intake = find_submissions(tmp_path / "in", tmp_path / "work", LESSONS_ALL)
    assert len(intake.submissions) == 10                     # 5 students x 2 lessons, 6 of them missing
    assert few_submitted(intake.submissions) == [
        "02_convolution: notebooks from only 2 of 5 students, the others are reported missing it; to grade only "
        "01_history, give --lesson 01_history"]

    only = intake.only({"01_history"}, "01_history")
    assert {(s.student, s.lesson.slug, s.path is None) for s in only.submissions} == {
        ("ann", "01_history", False), ("ben", "01_history", False), ("cid", "01_history", False),
        ("dan", "01_history", False), ("eve", "01_history", True)}
    outcomes = {line.input: (line.outcome, line.note) for line in only.lines}
    assert outcomes["ann_02_convolution.ipynb"] == ("other-lesson", "not graded by this run: it grades 01_history only")
    assert outcomes["eve_02_convolution.ipynb"][0] == "other-lesson"
    assert outcomes["ann_01_history.ipynb"][0] == "taken"
    assert only.warnings[-1] == ("2 notebooks of 02_convolution not graded by this run: it grades 01_history only "
                                 "(from ann, eve; intake.csv lists them)")
    # eve is missing 01, and her record says what she handed in instead (not "no notebook submitted")
    assert {s.student: s.note for s in only.submissions}["eve"] == (
        "no notebook of 01_history; handed in 02_convolution instead (not graded in this run: intake.csv)")
    assert few_submitted(only.submissions) == []             # one lesson: nothing to warn of
    # flagged.md's "Files not graded" names them too (the README says every notebook not graded is there)
    from autograde.grade import _skipped_inputs, write_flagged
    only.write(tmp_path / "intake.csv", str(tmp_path / "in"))
    write_flagged([], tmp_path / "flagged.md", {}, _skipped_inputs(tmp_path / "intake.csv"))
    flagged = (tmp_path / "flagged.md").read_text(encoding="utf-8")
    assert "- ann_02_convolution.ipynb (ann, 02_convolution): not graded by this run: it grades 01_history only" \
        in flagged, flagged
    # --lesson naming the stray lesson (the wrong number typed) would record the class missing it: said at once
    assert few_submitted(intake.submissions, ["02_convolution"]) == [
        "--lesson 02_convolution: notebooks from only 2 of 5 students, the others are recorded missing it (most of "
        "this export is 01_history: is --lesson right?)"]
    assert few_submitted(intake.submissions, ["01_history"]) == []

    with pytest.raises(UsageError, match=r"no lesson called '7'\. The lessons are: 99 \(99_guard\)"):
        grade_batch(tmp_path / "in", tmp_path / "out", solutions=GUARD.solutions, lessons_only=["7"],
                    progress=lambda _: None)
    with pytest.raises(UsageError, match=r"no notebook of 03_padding_stride in .*in \(intake\.csv lists"):
        grade_batch(tmp_path / "in", tmp_path / "out", lessons_only=["3"], progress=lambda _: None)
    with (tmp_path / "out" / "intake.csv").open(encoding="utf-8-sig") as f:
        assert {row["outcome"] for row in csv.DictReader(f)} == {"other-lesson"}
    assert not (tmp_path / "out" / ".work").exists()


def test_a_file_name_holding_another_students_canvas_id_never_takes_their_grade(tmp_path):
    """Canvas's own ids come first: "<name>[_LATE]_<user id>_<attachment id>_<the file as uploaded>", and Canvas
    keeps "_<digits>_" out of names. The uploaded file's name is the student's words: mallory (2002) uploading
    "x_02_convolution_1001_99999_01_history.ipynb" once had her notebook filed under alice (1001), replacing alice's
    grade (a hostile trial; the roster chose the later reading too). A later reading only flags the file, naming the
    other id; it never decides whose it is."""
    from autograde.collect import canvas_name, read_roster

    stem = "mallory_2002_5556_x_02_convolution_1001_99999_01_history"
    for roster in ({}, {"1001": "s-alice"}, {"1001": "s-alice", "2002": "s-mallory"}):
        parts = canvas_name(stem, roster, LESSONS_ALL)
        assert (parts["name"], parts["uid"], parts["sid"], parts["others"]) == ("mallory", "2002", "5556", "1001")
    assert canvas_name("lee_late_40002_900003_99_guard", {})["late"] == "_late"
    assert canvas_name("anon_x7k2_900003_99_guard", {})["uid"] == "x7k2"
    assert "others" not in canvas_name("parkjisoo_40004_900005_01_history", {}, LESSONS_ALL)
    assert "others" not in canvas_name("kimminsu_40001_900001_99_guard", {}, LESSONS_ALL)

    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice_1001_500_01_history.ipynb", NOTEBOOK)
        zf.writestr(f"{stem}.ipynb", NOTEBOOK)
    roster = tmp_path / "roster.csv"
    roster.write_text("lms_id,student_id\n1001,s-alice\n2002,s-mallory\n", encoding="utf-8")
    for mapping in ({}, read_roster(roster)):
        shutil.rmtree(tmp_path / "work", ignore_errors=True)
        intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL, mapping)
        whose = {s.path.name: (s.student, s.flags) for s in intake.submissions}
        alice, mallory = ("s-alice", "s-mallory") if mapping else ("alice", "mallory")
        assert whose["alice_1001_500_01_history.ipynb"][0] == alice, whose
        assert whose[f"{stem}.ipynb"][0] == mallory and "ambiguous-lms-name" in whose[f"{stem}.ipynb"][1], whose
        assert any(w.startswith(f"{stem}.ipynb: Canvas's user id could be 2002") and "or 1001" in w
                   for w in intake.warnings), intake.warnings


def test_a_canvas_user_keeps_the_student_it_was_graded_as_in_every_later_export(tmp_path):
    """Without a roster, Canvas users are graded under the names the LMS writes, and two 김민준 in one export are
    '김민준 (<id>)'. A later assignment's export, holding only one of them, once filed that one as plain '김민준'
    (and so the first one's row of lms/canvas.csv took the other's grade). Canvas user ids are the same in every
    assignment: OUT's results say which student each was graded as, and a user new to OUT whose name another user
    already has is told apart, never filed under that user's name."""
    import json

    from autograde.collect import canvas_identities

    def export(name: str, *members: str) -> Path:
        archive = tmp_path / f"{name}.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for member in members:
                zf.writestr(member, NOTEBOOK)
        return archive

    def graded_into(out: Path, intake) -> None:
        """What a run keeps of each submission in OUT/results (the fields canvas_identities reads)."""
        for sub in intake.submissions:
            folder = out / "results" / safe_id(sub.student)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{sub.lesson.slug}.json").write_text(
                json.dumps({"student": sub.student, "lesson": sub.lesson.slug, "lms": sub.lms}), encoding="utf-8")

    out = tmp_path / "out"
    first = find_submissions(export("a1", "김민준_1002_5002_99_guard.ipynb", "김민준_1008_5008_99_guard.ipynb"),
                             tmp_path / "w1", LESSONS_ALL, canvas_known=canvas_identities(out))
    assert sorted(s.student for s in first.submissions) == ["김민준 (1002)", "김민준 (1008)"]
    graded_into(out, first)
    for uid in ("1002", "1008"):
        later = find_submissions(export(f"a2-{uid}", f"김민준_{uid}_6{uid}_99_guard.ipynb"), tmp_path / f"w{uid}",
                                 LESSONS_ALL, canvas_known=canvas_identities(out))
        assert [s.student for s in later.submissions] == [f"김민준 ({uid})"], uid

    # One 김민준 graded alone (plain name), then another alone in the next export: the newcomer is told apart.
    out2 = tmp_path / "out2"
    graded_into(out2, find_submissions(export("b1", "김민준_1002_5002_99_guard.ipynb"), tmp_path / "w3",
                                       LESSONS_ALL, canvas_known=canvas_identities(out2)))
    newcomer = find_submissions(export("b2", "김민준_1008_7008_99_guard.ipynb", "김민준_1002_7002_99_guard.ipynb"),
                                tmp_path / "w4", LESSONS_ALL, canvas_known=canvas_identities(out2))
    students = {s.lms["id"]: s for s in newcomer.submissions}
    assert (students["1002"].student, students["1008"].student) == ("김민준", "김민준 (1008)")
    assert "same-name" in students["1008"].flags
    assert any("those graded before keep their names" in w for w in newcomer.warnings), newcomer.warnings
    alone = find_submissions(export("b3", "김민준_1008_8008_99_guard.ipynb"), tmp_path / "w5", LESSONS_ALL,
                             canvas_known=canvas_identities(out2))
    assert [s.student for s in alone.submissions] == ["김민준 (1008)"]


def test_a_student_who_handed_in_no_notebook_only_a_zip_is_named_in_a_warning(tmp_path):
    """A Canvas or Moodle student who uploaded a .zip (or a .py) instead of the notebook has a line in intake.csv,
    but once appeared nowhere else: no grade row, no flag, not a word on the console. The run names them."""
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("leejieun_1002_5002_99_guard.ipynb", NOTEBOOK)
        zf.writestr("leejieun_1002_5003_notes.txt", b"notes")                 # has a notebook too: no warning
        zf.writestr("kimminjun_1001_5001_homework1.zip", b"PK\x05\x06" + bytes(18))
        zf.writestr("박서준_1003_5004_99_guard.py", b"print(1)")
        zf.writestr("choiyuna_LATE_1004_text.html", b"<p>my answers</p>")     # Canvas's online text entry
        zf.writestr("hanseo_1005_link.html", b"<a href='https://colab.example/x'>x</a>")   # a website URL
    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL)
    # a one-lesson export: they are missing its lesson in the grades, and why (they were in no grade row once)
    assert [(s.student, s.path is not None, s.note) for s in intake.submissions] == [
        ("choiyuna", False, "no notebook: handed in text.html"), ("hanseo", False, "no notebook: handed in link.html"),
        ("kimminjun", False, "no notebook: handed in homework1.zip (no notebook inside)"), ("leejieun", True, ""),
        ("박서준", False, "no notebook: handed in 99_guard.py")]
    # online text and URL hand-ins (no attachment id) are attributed too (an instructor's trial: nobody's, silently)
    assert {s.student: s.lms.get("id") for s in intake.submissions}["choiyuna"] == "1004"
    stray = [w for w in intake.warnings if "handed in no notebook" in w]
    assert sorted(stray) == sorted([
        "kimminjun handed in no notebook, only homework1.zip (no notebook inside): nothing of theirs is graded "
        "(recorded missing 99_guard) (intake.csv)",
        "박서준 handed in no notebook, only 99_guard.py: nothing of theirs is graded (recorded missing 99_guard) "
        "(intake.csv)",
        "choiyuna handed in no notebook, only text.html: nothing of theirs is graded (recorded missing 99_guard) "
        "(intake.csv)",
        "hanseo handed in no notebook, only link.html: nothing of theirs is graded (recorded missing 99_guard) "
        "(intake.csv)"]), intake.warnings
    # intake.csv says whose each file is
    assert {line.input: line.student for line in intake.lines if line.outcome == "skipped"} == {
        "박서준_1003_5004_99_guard.py": "박서준", "leejieun_1002_5003_notes.txt": "leejieun",
        "choiyuna_LATE_1004_text.html": "choiyuna", "hanseo_1005_link.html": "hanseo"}, intake.lines

    moodle = tmp_path / "moodle"
    folder = moodle / "Kim Minsu_700302_assignsubmission_file_"
    folder.mkdir(parents=True)
    (folder / "과제1.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    other = moodle / "Lee Jieun_700303_assignsubmission_file_"
    other.mkdir()
    (other / "99_guard.ipynb").write_bytes(NOTEBOOK)
    intake = find_submissions(moodle, tmp_path / "work2", LESSONS_ALL)
    assert [w for w in intake.warnings if "handed in no notebook" in w] == [
        "Kim Minsu handed in no notebook, only 과제1.zip (no notebook inside): nothing of theirs is graded "
        "(recorded missing 99_guard) (intake.csv)"], intake.warnings


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_a_student_handed_in_through_the_lms_is_opened_for_its_notebooks(tmp_path):
    """Canvas and Moodle keep an uploaded .zip as it is, and students zip their work: its notebooks are graded as
    that student's (flag ``zipped``), one level deep and notebooks only; what else it holds, a .zip inside it and
    a .zip that cannot be read each have their line. It was only a warning ("extract its notebook ..."). A file the
    LMS names as a student's with words before the lesson's name ("Lab 1 - 01_history") is flagged as renamed."""
    archive = tmp_path / "canvas.zip"
    inner = _zip_bytes({"lab1/01_history.ipynb": NOTEBOOK, "lab1/__MACOSX/._01_history.ipynb": b"x",
                        "__MACOSX/lab1/._01_history.ipynb": b"x", "lab1/notes.py": b"print(1)",
                        "lab1/.ipynb_checkpoints/": b"", "lab1/data/big.npy": b"0" * 100})
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("kimminjun_late_1001_5001_homework1.zip", inner)
        zf.writestr("leejieun_1002_5002_lab.zip", _zip_bytes({"inner.zip": _zip_bytes({"01_history.ipynb": NOTEBOOK})}))
        zf.writestr("parkseojun_1003_5003_bad.zip", b"PK\x03\x04 not a zip")
        zf.writestr("choi_1004_5004_01_history.ipynb", NOTEBOOK)
        zf.writestr("jung_1005_5005_Lab 1 - 01_history.ipynb", NOTEBOOK)     # the LMS says whose: a rename
        zf.writestr("han_1006_5006_all.zip", _zip_bytes({f"01_history ({i}).ipynb": NOTEBOOK for i in range(45)}))
    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL)
    graded = {s.student: s for s in intake.submissions if s.path is not None}
    assert sorted(graded) == ["choi", "han", "jung", "kimminjun"], intake.submissions
    assert sum("beyond 40 notebooks" in line.note for line in intake.lines) == 5
    assert "renamed-notebook" in graded["jung"].flags and "renamed-notebook" not in graded["choi"].flags
    kim = graded["kimminjun"]
    assert kim.lesson.slug == "01_history" and kim.lms["id"] == "1001" and kim.late and "zipped" in kim.flags
    assert kim.origin == "kimminjun_late_1001_5001_homework1.zip/lab1/01_history.ipynb"
    assert kim.path.read_bytes() == NOTEBOOK and "zipped" not in graded["choi"].flags
    lines = {(line.input, line.outcome) for line in intake.lines}
    assert ("kimminjun_late_1001_5001_homework1.zip", "opened") in lines
    assert ("kimminjun_late_1001_5001_homework1.zip/lab1/01_history.ipynb", "taken") in lines
    assert any(line.input == "kimminjun_late_1001_5001_homework1.zip" and line.outcome == "skipped"
               and line.note == "2 file(s) that are no notebook (.ipynb): not extracted (lab1/notes.py, lab1/data/big.npy)"
               for line in intake.lines), intake.lines
    assert ("leejieun_1002_5002_lab.zip", "opened") in lines                 # a .zip in it is not opened
    assert ("parkseojun_1003_5003_bad.zip", "skipped") in lines
    warned = [w for w in intake.warnings if "handed in no notebook" in w]
    assert sorted(warned) == ["leejieun handed in no notebook, only lab.zip (no notebook inside): nothing of theirs "
                              "is graded (recorded missing 01_history) (intake.csv)", "parkseojun handed in no "
                              "notebook, only bad.zip: nothing of theirs is graded (recorded missing 01_history) "
                              "(intake.csv)"], intake.warnings

    # Moodle: a student's folder holds the .zip; an export of one lesson places a notebook named otherwise.
    moodle = tmp_path / "moodle"
    folder = moodle / "김민수_700302_assignsubmission_file_"
    folder.mkdir(parents=True)
    (folder / "과제.zip").write_bytes(_zip_bytes({"과제/my work.ipynb": LESSONS[0].student_version.read_bytes()}))
    other = moodle / "Lee Jieun_700303_assignsubmission_file_"
    other.mkdir()
    (other / "01_history.ipynb").write_bytes(NOTEBOOK)
    intake = find_submissions(moodle, tmp_path / "work2", LESSONS_ALL)
    graded = {s.student: s for s in intake.submissions if s.path is not None}
    assert sorted(graded) == ["Lee Jieun", "김민수"], intake.submissions
    assert graded["김민수"].lesson.slug == "01_history"
    assert {"zipped", "renamed-notebook"} <= set(graded["김민수"].flags)
    assert graded["김민수"].origin == "김민수_700302_assignsubmission_file_/과제.zip/과제/my work.ipynb"


def test_a_notebook_saved_as_ipynb_txt_inside_a_students_zip_is_graded_by_its_content(tmp_path):
    """A hostile trial of the renamed-extension intake: a student's own .zip holding 'lab/01_history.ipynb.txt' (as
    Safari saves it) was opened but its notebook not extracted (a .zip's notebooks were found by name). Now its
    content decides there too; a .json in it that is no notebook has its own line."""
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("kimminjun_1001_5001_homework.zip", _zip_bytes({"lab/01_history.ipynb.txt": NOTEBOOK,
                                                                     "lab/data.json": b'{"x": 1}'}))
    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL)
    kim = next(s for s in intake.submissions if s.student == "kimminjun")
    assert kim.path is not None and {"zipped", "renamed-extension"} <= set(kim.flags), intake.lines
    notes = {line.input: (line.outcome, line.note) for line in intake.lines}
    assert notes["kimminjun_1001_5001_homework.zip/lab/data.json"] == (
        "skipped", "not a notebook (.ipynb): it is JSON but not a notebook (no list of cells)."), notes


def test_a_roster_saved_by_excel_in_another_locale_is_read_or_refused_with_what_to_do(tmp_path):
    """Excel writes ';' between fields where ',' is the decimal comma, and plain 'CSV' in the computer's own
    encoding (CP949 on Korean Windows): the first is read as it is, the second refused saying how to save it
    (it was "'utf-8' codec can't decode byte 0xb1" and, for ';', "needs the columns lms_id and student_id")."""
    from autograde.collect import read_roster, roster_names
    from autograde.lessons import find_lesson

    semi = tmp_path / "semi.csv"
    semi.write_text("\ufefflms_id;student_id;first_name;last_name\n1001;2026001;민준;김\n", encoding="utf-8")
    assert read_roster(semi) == {"1001": "2026001"}
    assert roster_names(semi) == {"2026001": {"first_name": "민준", "last_name": "김"}}
    korean = tmp_path / "cp949.csv"
    korean.write_bytes("lms_id,student_id,last_name\n1001,2026001,김\n".encode("cp949"))
    with pytest.raises(UsageError, match=r"is not UTF-8 text .*save it as 'CSV UTF-8 \(comma delimited\)'"):
        read_roster(korean)
    assert find_lesson("01_History", LESSONS_ALL).slug == "01_history"


def test_a_roster_saved_with_decomposed_hangul_matches_the_export(tmp_path):
    """A roster written on a Mac may spell Korean names and ids in decomposed jamo (NFD): they look the same as the
    export's (read as NFC) but did not match, so the student was filed under their LMS name (an instructor's
    trial). Every roster value is read as NFC."""
    import unicodedata

    from autograde.collect import read_roster, roster_names

    nfd = lambda text: unicodedata.normalize("NFD", text)  # noqa: E731
    roster = tmp_path / "roster.csv"
    roster.write_text(f"lms_id,student_id,last_name\n{nfd('김민지')},{nfd('학생-김민지')},{nfd('김')}\n40004,s4,\n",
                      encoding="utf-8")
    assert read_roster(roster) == {"김민지": "학생-김민지", "40004": "s4"}
    assert roster_names(roster) == {"학생-김민지": {"last_name": "김"}}
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("김민지_40003_900004_99_guard.ipynb", NOTEBOOK)
    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL, read_roster(roster))
    assert sorted(by_key(intake)) == [("학생-김민지", "99_guard")], by_key(intake)


def test_a_roster_given_after_out_graded_its_students_by_name_is_warned_of(tmp_path):
    """OUT graded a Canvas zip without a roster (students filed by the names Canvas wrote); the next zip comes
    with a roster: the same people now get the roster's ids and OUT lists both. The run says so, and what to do
    (it said nothing). An unreadable notebook stands in for a graded one: no kernel needed."""
    from autograde.grade import grade_batch

    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("kimminjun_1001_5001_99_guard.ipynb", "{not json")
    lines: list[str] = []
    grade_batch(archive, tmp_path / "out", solutions=GUARD.solutions, workers=1, progress=lines.append)
    assert not any("roster" in line for line in lines), lines
    roster = tmp_path / "roster.csv"
    roster.write_text("lms_id,student_id\n1001,2026001\n", encoding="utf-8")
    grade_batch(archive, tmp_path / "out", solutions=GUARD.solutions, workers=1, roster=roster,
                progress=lines.append)
    assert ("warning: 1 Canvas user(s) graded into " + str(tmp_path / "out") + " before under another id than the "
            "roster's now (kimminjun -> 2026001): OUT's grades.csv and lms/ files will list both ids; to have one per "
            "student, grade every export again with the roster into a new OUT") in lines, lines


def test_a_name_cannot_print_lines_of_its_own_or_escape_codes_on_the_console():
    """A file name (a student's words) reaches the console in warnings and progress lines: a newline in it once
    printed a fake "warning: ..." line, and ANSI escapes reached the terminal. Shown escaped; Korean stays as is."""
    from autograde.text import terminal_safe

    assert terminal_safe("eve\nwarning: all verified") == "eve\\nwarning: all verified"
    assert terminal_safe("\x1b[2K\x9b\u202eeve\u2028") == "\\x1b[2K\\x9b\\u202eeve\\u2028"
    assert terminal_safe("김민준 (51001) 01_history: graded 4/5") == "김민준 (51001) 01_history: graded 4/5"


def test_a_lesson_number_in_other_digits_is_refused_clearly():
    """'¹' is a digit to str.isdigit() but not to int(): it was a ValueError traceback, as a 5000-digit number."""
    from autograde.lessons import find_lesson

    for name in ("¹", "1" * 5000, "٠١"):
        with pytest.raises(UsageError, match="no lesson called"):
            find_lesson(name, LESSONS_ALL)


def _patched(data: bytes, member: str, flag: int | None = None, method: int | None = None) -> bytes:
    """A zip's bytes with one member's general-purpose flags or compression method changed in both its headers."""
    import struct

    out = bytearray(data)
    encoded = member.encode()
    for signature, flag_at, method_at, name_at in ((b"PK\x03\x04", 6, 8, 30), (b"PK\x01\x02", 8, 10, 46)):
        at = out.find(signature)
        while at >= 0:
            length = struct.unpack_from("<H", out, at + (26 if signature == b"PK\x03\x04" else 28))[0]
            if bytes(out[at + name_at:at + name_at + length]) == encoded:
                if flag is not None:
                    struct.pack_into("<H", out, at + flag_at, flag)
                if method is not None:
                    struct.pack_into("<H", out, at + method_at, method)
            at = out.find(signature, at + 4)
    return bytes(out)


def test_a_students_zip_that_cannot_be_read_costs_that_member_only(tmp_path):
    """From a hostile trial: a password-protected member, an unknown compression, a member named '.', a notebook
    with a DOS date of 0 and a zip of thousands of names each stopped the whole intake with a traceback (or took
    seconds and hundreds of MiB). Each costs its own member now, with a line in intake.csv."""
    inner = _zip_bytes({"secret.ipynb": NOTEBOOK, "imploded.ipynb": NOTEBOOK, "01_history.ipynb": NOTEBOOK})
    inner = _patched(_patched(inner, "secret.ipynb", flag=1), "imploded.ipynb", method=6)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(zipfile.ZipInfo("00_dos_zero.ipynb", date_time=(1980, 0, 0, 0, 0, 0)), NOTEBOOK)
        zf.writestr(".", b"x")
        zf.writestr("01_history.ipynb", NOTEBOOK)
    crowd = io.BytesIO()
    with zipfile.ZipFile(crowd, "w") as zf:
        for i in range(2500):
            zf.writestr(f"n{i}.ipynb", b"")
    # Far more names than a hand-in holds: refused from its end record, before zipfile reads them all into memory.
    throng = io.BytesIO()
    with zipfile.ZipFile(throng, "w") as zf:
        for i in range(20_001):
            zf.writestr(f"{i}", b"")
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("kim_1001_5001_locked.zip", inner)
        zf.writestr("lee_1002_5002_odd.zip", buffer.getvalue())
        zf.writestr("park_1003_5003_crowd.zip", crowd.getvalue())
        zf.writestr("choi_1004_5004_throng.zip", throng.getvalue())
        zf.writestr("jung_1005_5005_01_history.ipynb", NOTEBOOK)
    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL)
    graded = {s.student: s for s in intake.submissions if s.path is not None}
    assert {"kim", "lee"} <= set(graded) and graded["kim"].lesson.slug == "01_history", intake.submissions
    notes = {line.input: line.note for line in intake.lines if line.outcome == "skipped"}
    assert "encrypted" in notes["kim_1001_5001_locked.zip/secret.ipynb"], notes
    assert "could not be extracted" in notes["kim_1001_5001_locked.zip/imploded.ipynb"], notes
    assert any("more member(s) after the first 2000" in note for note in notes.values()), notes
    assert "20,001 members" in notes["choi_1004_5004_throng.zip"] and "jung" in graded, notes


def test_a_resubmission_in_a_later_export_supersedes_the_earlier_exports_taken_line(tmp_path):
    """Canvas's second export holds only each student's newest file ("-1" for a re-submission): graded into the
    same OUT, intake.csv says the first export's file of that student is superseded, not taken twice."""
    out = tmp_path / "out"
    first, second = tmp_path / "canvas-monday.zip", tmp_path / "canvas-friday.zip"
    with zipfile.ZipFile(first, "w") as zf:
        zf.writestr("kimminsu_40001_9001_99_guard.ipynb", NOTEBOOK)
        zf.writestr("leejieun_40003_9003_99_guard.ipynb", NOTEBOOK)
    with zipfile.ZipFile(second, "w") as zf:
        zf.writestr("kimminsu_40001_9001_99_guard-1.ipynb", NOTEBOOK)
    for archive in (first, second):
        find_submissions(archive, tmp_path / "work", LESSONS_ALL).write(out / "intake.csv", str(archive))
    with (out / "intake.csv").open(encoding="utf-8-sig") as f:
        rows = {(Path(r["source"]).name, r["input"]): r for r in csv.DictReader(f)}
    assert {key: r["outcome"] for key, r in rows.items()} == {
        ("canvas-monday.zip", "kimminsu_40001_9001_99_guard.ipynb"): "superseded",
        ("canvas-monday.zip", "leejieun_40003_9003_99_guard.ipynb"): "taken",
        ("canvas-friday.zip", "kimminsu_40001_9001_99_guard-1.ipynb"): "taken"}, rows
    note = rows["canvas-monday.zip", "kimminsu_40001_9001_99_guard.ipynb"]["note"]
    assert note.startswith("a later run graded kimminsu_40001_9001_99_guard-1.ipynb from ") and "friday" in note, note


@pytest.mark.slow  # grades for real, four small runs
def test_grading_an_older_export_again_never_rolls_a_student_back(tmp_path):
    """A re-submission graded from a later export is kept when the earlier export is graded again (the same command
    run again, as refreshing the reports invites): the older notebook is not graded, intake.csv and a warning say
    why. Canvas's attachment ids tell which upload is newer; nbgrader's timestamp.txt does the same for its layout."""
    import nbformat

    blank, full = nbformat.writes(submission(GUARD)), nbformat.writes(solved(GUARD))
    monday, friday, out = tmp_path / "monday.zip", tmp_path / "friday.zip", tmp_path / "out"
    with zipfile.ZipFile(monday, "w") as zf:
        zf.writestr("kimminsu_40001_9001_99_guard.ipynb", blank)
        zf.writestr("leejieun_40002_9002_99_guard.ipynb", full)
    with zipfile.ZipFile(friday, "w") as zf:
        zf.writestr("kimminsu_40001_9003_99_guard-1.ipynb", full)        # Canvas: only the newest upload

    def grade(source: Path, folder: Path = out) -> subprocess.CompletedProcess:
        proc = cli(["grade", str(source), "--out", str(folder),
                    "--solutions", str(GUARD.solutions), "--workers", "1"])
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    def scores(folder: Path = out) -> dict[str, str]:
        with (folder / "grades.csv").open(encoding="utf-8-sig") as f:
            return {row["student"]: row["score"] for row in csv.DictReader(f)}

    grade(monday)
    grade(friday)
    assert scores() == {"kimminsu": "4", "leejieun": "4"}
    again = grade(monday)
    assert scores() == {"kimminsu": "4", "leejieun": "4"}, again.stdout       # not the Monday notebook's 0
    assert "kimminsu 99_guard: kimminsu_40001_9001_99_guard.ipynb is older than kimminsu_40001_9003_99_guard-1.ipynb " \
           "(Canvas attachment 9001 is older than 9003)" in again.stdout, again.stdout
    with (out / "intake.csv").open(encoding="utf-8-sig") as f:
        lines = {row["input"]: (row["outcome"], row["note"]) for row in csv.DictReader(f)}
    assert lines["kimminsu_40001_9003_99_guard-1.ipynb"][0] == "taken", lines
    assert lines["kimminsu_40001_9001_99_guard.ipynb"][0] == "superseded", lines
    assert lines["kimminsu_40001_9001_99_guard.ipynb"][1].startswith("older than kimminsu_40001_9003"), lines
    assert lines["leejieun_40002_9002_99_guard.ipynb"][0] == "taken", lines

    # nbgrader's layout: the submission times decide.
    for name, text, stamp in (("old", blank, "2026-03-02 10:00:00 UTC"), ("new", full, "2026-03-05 10:00:00 UTC")):
        folder = tmp_path / name / "park" / GUARD.slug
        folder.mkdir(parents=True)
        (folder / f"{GUARD.slug}.ipynb").write_text(text, encoding="utf-8")
        (folder / "timestamp.txt").write_text(stamp, encoding="utf-8")
    nb_out = tmp_path / "nb-out"
    grade(tmp_path / "new", nb_out)
    again = grade(tmp_path / "old", nb_out)
    assert scores(nb_out) == {"park": "4"} and "is older than" in again.stdout, again.stdout


@pytest.mark.slow  # grades for real: three small runs of a two-lesson course
def test_a_notebook_handed_in_to_another_lessons_assignment_costs_nobody_a_grade(tmp_path):
    """A newcomer's Canvas trial: one student uploaded lesson 98's notebook to lesson 99's assignment. That made the
    export "several lessons": every renamed notebook of 99 was dropped without a word, the class was recorded
    missing 98 (zeros in lms/canvas.csv over their real Canvas grades), and the stray later beat the student's real
    98 upload by its newer attachment id. Now: the export is 99's; the stray is graded as 98, flagged; nobody else
    is missing 98; the notebook from 98's own export replaces it and is never replaced by it. A due date given with
    another lesson's export is kept and applied at once."""
    import nbformat

    course = tmp_path / "course"
    for kind in ("solutions", "notebooks"):
        for slug in ("98_guard", "99_guard"):
            (course / kind / slug).mkdir(parents=True)
            shutil.copy(GUARD.solutions.parent / kind / "99_guard" / "99_guard.ipynb",
                        course / kind / slug / f"{slug}.ipynb")
    solutions = course / "solutions"
    full, blank = nbformat.writes(solved(GUARD)), nbformat.writes(submission(GUARD))
    lab99, lab98, out = tmp_path / "lab99.zip", tmp_path / "lab98.zip", tmp_path / "out"
    with zipfile.ZipFile(lab99, "w") as zf:
        zf.writestr("annlee_LATE_1001_5001_99_guard.ipynb", full)
        zf.writestr("fayyoon_1006_5006_99_guard.ipynb", blank)
        zf.writestr("gilbae_1007_5007_99_guard-1.ipynb", blank)
        zf.writestr("benkim_1002_5002_homework.ipynb", full)                     # renamed
        zf.writestr("박서준_1003_5003_과제 (2).ipynb", full)                         # renamed, Korean
        zf.writestr("danhan_LATE_1004_5009_98_guard.ipynb", full)                # lesson 98, to 99's assignment
        zf.writestr("evecho_1005_5005_lab.py", b"print(1)")                       # no notebook at all
    with zipfile.ZipFile(lab98, "w") as zf:
        zf.writestr("annlee_1001_4001_98_guard.ipynb", full)
        zf.writestr("danhan_1004_4004_98_guard.ipynb", blank)                    # uploaded before the stray

    def grade(source: Path, *extra: str) -> subprocess.CompletedProcess:
        proc = cli(["grade", str(source), "--out", str(out),
                    "--solutions", str(solutions), "--workers", "1", *extra])
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    def grades() -> dict[tuple[str, str], dict[str, str]]:
        with (out / "grades.csv").open(encoding="utf-8-sig") as f:
            return {(row["student"], row["lesson"]): row for row in csv.DictReader(f)}

    first = grade(lab99)
    rows = grades()
    assert {key: row["status"] for key, row in rows.items()} == {
        ("annlee", "99_guard"): "graded", ("benkim", "99_guard"): "graded", ("박서준", "99_guard"): "graded",
        ("danhan", "98_guard"): "graded", ("danhan", "99_guard"): "missing", ("evecho", "99_guard"): "missing",
        ("fayyoon", "99_guard"): "graded", ("gilbae", "99_guard"): "graded"}
    assert rows["benkim", "99_guard"]["score"] == rows["박서준", "99_guard"]["score"] == "4"
    assert "other-assignment" in rows["danhan", "98_guard"]["flags"] and "late" not in rows["danhan", "98_guard"]["flags"]
    assert "danhan_LATE_1004_5009_98_guard.ipynb: handed in to the assignment of 99_guard" in first.stdout
    # The stray's owner and the .py student: their pages and the class report say what they handed in (an
    # instructor's trial: "No notebook was found for this lesson.", and a report line "missing," with nothing after)
    def page(student: str) -> str:
        return (out / "feedback" / student / "99_guard.html").read_text(encoding="utf-8")

    assert "You handed in the notebook of lesson 98_guard (it belongs to that lesson, not this one)." in page("danhan")
    assert "You handed in lab.py (not a notebook of this lesson" in page("evecho")
    assert "No notebook was found" not in page("danhan") + page("evecho")
    report = (out / "report" / "99_guard.html").read_text(encoding="utf-8")
    assert "missing: no notebook: handed in lab.py" in report and "missing, <" not in report
    assert "handed in a 98_guard notebook (danhan_LATE_1004_5009_98_guard.ipynb) to this assignment instead" in report
    with (out / "lms" / "canvas.csv").open(encoding="utf-8-sig") as f:
        table = {row[1]: row for row in csv.reader(f)}
    assert table["ID"][5:] == ["98_guard", "99_guard"]
    assert [table[uid][5] for uid in ("1001", "1002", "1003", "1005", "1006", "1007")] == [""] * 6  # no 0 for 98

    second = grade(lab98, "--due", "99=2026-01-01 00:00 UTC", "--late-penalty", "1/day")
    rows = grades()
    # the due date of 99, given with 98's export, counts at once for 99's LATE-marked upload
    assert (rows["annlee", "99_guard"]["score"], rows["annlee", "99_guard"]["late_penalty"]) == ("3", "1"), rows
    # danhan's 98 is the one handed in to 98's assignment, though the stray's attachment id is newer
    assert rows["danhan", "98_guard"]["score"] == "0" and "other-assignment" not in rows["danhan", "98_guard"]["flags"]
    assert "is older than" not in second.stdout, second.stdout
    assert rows["annlee", "98_guard"]["score"] == "4"
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        assert gb.find_assignment("99_guard").duedate is not None       # given with another lesson's export

    grade(lab98, "--extension", "annlee", "99", "waive")                 # nothing graded again: applied at once
    assert (grades()["annlee", "99_guard"]["score"], grades()["annlee", "99_guard"]["late_penalty"]) == ("4", "0")

    third = grade(lab99)                                                  # the same command again
    rows = grades()
    assert rows["danhan", "98_guard"]["score"] == "0", third.stdout
    assert "danhan 98_guard: danhan_LATE_1004_5009_98_guard.ipynb was handed in to another lesson's assignment: " \
           "not graded" in third.stdout, third.stdout
    # ... and nothing before it says it is "graded as 98_guard" (an instructor's trial read both), nor counts it
    # among the submissions "graded before" that "have not changed"
    assert "graded as 98_guard" not in third.stdout, third.stdout
    assert "resuming: 7 of 8 submissions were graded before and have not changed" in third.stdout, third.stdout

    # An older download of 99's export, where benkim had handed in only a .py: "missing" never replaces the grade of
    # the notebook graded since (an instructor's trial: 13 -> 0 by grading the old zip again)
    early = tmp_path / "lab99-early.zip"
    with zipfile.ZipFile(early, "w") as zf:
        zf.writestr("annlee_LATE_1001_5001_99_guard.ipynb", full)
        zf.writestr("benkim_1002_4999_lab.py", b"print(1)")
    fourth = grade(early)
    assert (grades()["benkim", "99_guard"]["status"], grades()["benkim", "99_guard"]["score"]) == ("graded", "4")
    assert "kept, not recorded missing (benkim 99_guard)" in fourth.stdout, fourth.stdout


def test_a_renamed_notebook_is_the_lesson_whose_exercise_cells_it_holds(tmp_path):
    """An instructor's trial: 'final.ipynb' that is lesson 01's notebook, in lesson 99's export, was graded as 99
    (0 points, flagged only test-cell-deleted). Its nbgrader cells say which lesson it is: 01, handed in to 99's
    assignment (other-assignment); a notebook with no lesson's cells is still the export's lesson."""
    import nbformat

    archive = tmp_path / "lab99.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(3):
            zf.writestr(f"student{i}_6100{i}_810000{i}_99_guard.ipynb", NOTEBOOK)
        zf.writestr("songmin_61010_8100010_final.ipynb", LESSONS[0].student_version.read_bytes())
        zf.writestr("yunah_61011_8100011_과제.ipynb", NOTEBOOK)
        zf.writestr("jooho_61012_8100012_empty.ipynb", nbformat.writes(nbformat.v4.new_notebook()))
    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL)
    subs = by_key(intake)
    assert {"renamed-notebook", "other-assignment"} <= set(subs[("songmin", "01_history")].flags)
    # intake.csv's line of each says how it was placed (an instructor's trial: its note was empty)
    notes = {line.input: line.note for line in intake.lines if line.outcome == "taken"}
    assert notes["songmin_61010_8100010_final.ipynb"] == (
        "a 01_history notebook handed in to the assignment of 99_guard (other-assignment); renamed: its exercise "
        "cells are 01_history's")
    assert notes["jooho_61012_8100012_empty.ipynb"] == ("renamed: no lesson in its file name or cells; the export's "
                                                        "lesson, 99_guard")
    assert subs[("songmin", "99_guard")].path is None                       # handed in no 99_guard
    assert "renamed-notebook" in subs[("yunah", "99_guard")].flags and "other-assignment" not in subs[("yunah", "99_guard")].flags
    assert subs[("jooho", "99_guard")].path.name.endswith("empty.ipynb")    # holds no lesson's cells: the export's


def test_an_extension_for_an_id_nobody_has_is_said_to_apply_to_nobody(tmp_path):
    """An instructor's trial: `--extension yoonha 03 waive` (Canvas's login, the roster's id is 2026008) was kept and
    applied to nobody, without a word; the student was still penalised."""
    from autograde.grade import grade_batch

    put(tmp_path / "in" / "2026008_99_guard.ipynb", b"{not a notebook")           # invalid: graded without a kernel
    roster = tmp_path / "roster.csv"
    roster.write_text("lms_id,student_id\nyoonha,2026008\n", encoding="utf-8")
    said: list[str] = []
    grade_batch(tmp_path / "in", tmp_path / "out", solutions=GUARD.solutions, roster=roster, progress=said.append,
                extensions=[["yoonha", "99", "waive"], ["2026008", "99", "1d"], ["nobody", "99", "2d"]])
    warned = [line for line in said if line.startswith("warning: --extension")]
    assert warned == [
        f"warning: --extension nobody: no student of that id in this input or in {tmp_path / 'out'}, so it applies to "
        "nobody (kept in extensions.csv); the ids are the course's, as in grades.csv",
        f"warning: --extension yoonha: no student of that id in this input or in {tmp_path / 'out'}, so it applies "
        "to nobody (kept in extensions.csv); the roster makes yoonha student 2026008: give --extension 2026008 ..."], said


def test_an_extension_given_by_the_name_canvas_wrote_is_told_the_students_id(tmp_path):
    """An instructor's trial: `--extension leeseo 03 1h`, the name in Canvas's file names, with a Canvas gradebook
    roster (which maps Canvas's user id, 40002, to 2026002, and knows no 'leeseo'): the warning said only that the
    ids are the course's. It names the id that student is graded as."""
    from autograde.grade import grade_batch

    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("leeseo_late_40002_900002_99_guard.ipynb", "{not a notebook")   # graded without a kernel
    roster = tmp_path / "roster.csv"
    roster.write_text("lms_id,student_id\n40002,2026002\n", encoding="utf-8")
    said: list[str] = []
    grade_batch(archive, tmp_path / "out", solutions=GUARD.solutions, roster=roster, progress=said.append,
                extensions=[["leeseo", "99", "1h"]])
    warned = [line for line in said if line.startswith("warning: --extension")]
    assert len(warned) == 1 and warned[0].endswith("give --extension 2026002 ..."), said


def test_two_assignments_exports_in_one_folder_are_refused_and_an_export_named_for_its_assignment_is_that_lesson(
        tmp_path):
    """An instructor's trial unzipped two Canvas assignments' downloads into one folder: a student's blank lesson-01
    notebook uploaded to assignment 99 (the later attachment id) beat their real one from assignment 01, with no
    word. Which file came from which assignment is lost there: refused before anything is graded, saying to grade
    each zip on its own (with --lesson: graded, with a warning). A download's own name (Moodle's
    '<course>-<assignment>-<cmid>.zip', a Canvas zip the instructor renamed) says its lesson by the rule of every
    LMS name; a name that contradicts the notebooks is refused."""
    from autograde.grade import grade_batch

    history = LESSONS[0].student_version.read_bytes()
    both = tmp_path / "both"
    for i, student in enumerate(("ann", "ben", "cid")):
        put(both / f"{student}_5100{i}_600000{i}_01_history.ipynb", history)       # assignment 01's export
        put(both / f"{student}_5100{i}_700000{i}_99_guard.ipynb")                  # assignment 99's export
    put(both / "dan_51009_7000009_01_history.ipynb", history)                    # a stray in 99's export
    put(both / "dan_51009_6000009_01_history.ipynb", history)
    with pytest.raises(UsageError, match=r"both looks like several LMS assignments' exports put together: ann handed "
                                         r"in 01_history and 99_guard, ben .*grade each downloaded zip on its own"):
        find_submissions(both, tmp_path / "work", LESSONS_ALL)
    intake = find_submissions(both, tmp_path / "work", LESSONS_ALL, assignment=GUARD)
    assert any("looks like several LMS assignments' exports put together" in w for w in intake.settled_warnings())
    course = tmp_path / "course"                                  # a course of lessons 98 and 99, for grade_batch
    for kind in ("solutions", "notebooks"):
        for slug in ("98_guard", "99_guard"):
            (course / kind / slug).mkdir(parents=True)
            shutil.copy(GUARD.solutions.parent / kind / "99_guard" / "99_guard.ipynb",
                        course / kind / slug / f"{slug}.ipynb")
    for path in both.glob("*01_history.ipynb"):
        path.rename(path.with_name(path.name.replace("01_history", "98_guard")))
    out = tmp_path / "out"
    with pytest.raises(UsageError, match="several LMS assignments' exports"):
        grade_batch(both, out, solutions=course / "solutions", progress=lambda _: None)
    assert not (out / "results").exists() and not (out / ".work").exists()    # nothing graded, nothing left

    # Moodle names the download after the assignment: a small export with no majority (one 99, one 01, one
    # renamed) is 99's by its name, so the renamed notebook is 99's and the 01 notebook a stray.
    moodle = tmp_path / "CNN101-Lesson 99 Guard-4211.zip"
    with zipfile.ZipFile(moodle, "w") as zf:
        zf.writestr("Ann Lee_700201_assignsubmission_file_/99_guard.ipynb", NOTEBOOK)
        zf.writestr("Ben Kim_700202_assignsubmission_file_/01_history.ipynb", history)
        zf.writestr("Cid Park_700203_assignsubmission_file_/my work.ipynb", b"{}")
    subs = by_key(find_submissions(moodle, tmp_path / "work2", LESSONS_ALL))
    assert "renamed-notebook" in subs[("Cid Park", "99_guard")].flags
    assert "other-assignment" in subs[("Ben Kim", "01_history")].flags
    assert subs[("Ben Kim", "01_history")].lms["id"] == ""                 # 700202 is 99's participant id
    assert subs[("Ben Kim", "99_guard")].path is None                         # missing 99, as the export says
    # ... under his participant id of 99's assignment: a 0 in moodle-99_guard.csv, and no lms/canvas.csv for a
    # class whose every submission came from Moodle (an instructor's trial: the missing row had no LMS at all)
    assert subs[("Ben Kim", "99_guard")].lms == {"system": "moodle", "id": "700202", "name": "Ben Kim"}
    from autograde.report import write_lms_exports
    results = [{"student": s.student, "lesson": s.lesson.slug, "score": 0.0, "raw_score": 0.0, "max_score": 5.0,
                "status": "missing" if s.path is None else "graded", "lms": s.lms} for s in subs.values()]
    write_lms_exports(results, tmp_path / "lms")
    assert not (tmp_path / "lms" / "canvas.csv").exists()
    with (tmp_path / "lms" / "moodle-99_guard.csv").open(encoding="utf-8-sig") as f:
        assert {row["Identifier"]: row["Grade"] for row in csv.DictReader(f)}["Participant 700202"] == "0"
    wrong = moodle.with_name("CNN101-Lesson 01 History-4201.zip")
    with zipfile.ZipFile(wrong, "w") as zf:
        for i in range(3):
            zf.writestr(f"S{i}_70030{i}_assignsubmission_file_/99_guard.ipynb", NOTEBOOK)
    with pytest.raises(UsageError, match=r"CNN101-Lesson 01 History-4201\.zip: its name says the export is "
                                         r"01_history's .* 3 student\(s\) handed in 99_guard, 0 01_history"):
        find_submissions(wrong, tmp_path / "work3", LESSONS_ALL)


def test_every_file_the_grader_replaces_is_whole_or_as_it_was_and_leaves_no_temporary(tmp_path):
    """One way to write OUT's files (autograde.text.replacing): stopped mid-write (Ctrl-C, an error), the old file
    stays as it was and no hidden temporary copy is left beside it (an instructor's trial found one holding
    students' names); finished, the new content replaces the old."""
    from autograde.text import replacing

    path = tmp_path / "out" / "grades.csv"
    with replacing(path) as tmp:
        tmp.write_text("old", encoding="utf-8")
    for stop in (KeyboardInterrupt, OSError):
        with pytest.raises(stop), replacing(path) as tmp:
            tmp.write_text("half of the new", encoding="utf-8")
            raise stop()
        assert path.read_text(encoding="utf-8") == "old"
        assert sorted(p.name for p in path.parent.iterdir()) == ["grades.csv"]
    with replacing(path) as tmp:
        tmp.write_text("new", encoding="utf-8")
    assert path.read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in path.parent.iterdir()) == ["grades.csv"]


def test_the_lesson_notebook_as_released_never_replaces_a_copy_with_answers(tmp_path):
    """An instructor's trial (a Moodle class of 25): a student uploaded ``Untitled.ipynb`` holding their work beside
    ``99_guard.ipynb`` as the course released it (no answer written: the wrong file, from the course folder instead of
    my-work/). The lesson's own name won: 0 points, flag ``duplicate`` only. A copy whose answer cells are as released
    (nbgrader's checksums hold) and that adds no code of its own is chosen only when no copy has an answer; the
    LMS's order, the time and the name decide among the rest, as before. An answer written in a new cell below the
    untouched stub is an answer."""
    blank = NOTEBOOK
    work = nbformat.writes(solved(GUARD)).encode()
    below = submission(GUARD)
    below.cells.append(nbformat.v4.new_code_cell(
        next(src for gid, src in __import__("conftest").answer_sources(GUARD).items() if gid == "group_max")))
    below = nbformat.writes(below).encode()
    archive = tmp_path / "moodle.zip"
    same = (2026, 12, 1, 9, 0, 0)
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in [("Kim Minsu_700201_assignsubmission_file_/Untitled.ipynb", work),
                           ("Kim Minsu_700201_assignsubmission_file_/99_guard.ipynb", blank),
                           ("이지은_700202_assignsubmission_file_/99_guard.ipynb", blank),
                           ("이지은_700202_assignsubmission_file_/99_guard (1).ipynb", below),
                           ("Lee Seo_700203_assignsubmission_file_/99_guard.ipynb", work),
                           ("Lee Seo_700203_assignsubmission_file_/99_guard (1).ipynb", work)]:
            zf.writestr(zipfile.ZipInfo(name, same), data)
    subs = by_key(find_submissions(archive, tmp_path / "work", LESSONS_ALL))
    assert subs[("Kim Minsu", "99_guard")].path.name == "Untitled.ipynb"
    assert subs[("Kim Minsu", "99_guard")].note.startswith("the one of 2 copies with an answer written (the other "), \
        subs[("Kim Minsu", "99_guard")].note
    assert subs[("이지은", "99_guard")].path.name == "99_guard (1).ipynb"
    assert subs[("Lee Seo", "99_guard")].path.name == "99_guard (1).ipynb"      # Moodle's later upload, as before
    # Canvas: a later attachment that is the notebook as released does not replace the work handed in before it.
    canvas = tmp_path / "canvas.zip"
    with zipfile.ZipFile(canvas, "w") as zf:
        zf.writestr("parkjiho_1004_5001_99_guard.ipynb", work)
        zf.writestr("parkjiho_1004_5009_99_guard-1.ipynb", blank)
        zf.writestr("choi_1005_5002_99_guard.ipynb", blank)                  # only the blank: graded (0 points)
    subs = by_key(find_submissions(canvas, tmp_path / "work2", LESSONS_ALL))
    assert subs[("parkjiho", "99_guard")].path.name == "parkjiho_1004_5001_99_guard.ipynb"
    assert subs[("choi", "99_guard")].path.name == "choi_1005_5002_99_guard.ipynb"


def test_a_lone_notebook_as_released_is_flagged_and_its_page_says_so(tmp_path):
    """An instructor's trial: a student whose only upload was the lesson's notebook as released (the course's copy,
    not the one they worked in: same file name) got 0 and a NotImplementedError on every test, and nothing told the
    instructor (no flag) or the student that it was the wrong file. It is graded (0 points) and flagged
    ``as-released``; the page says so in the notebook's language. A started notebook is no such thing."""
    from autograde.grade import FLAG_MEANING, feedback_html
    put(tmp_path / "flat" / "ann_99_guard.ipynb")
    put(tmp_path / "flat" / "bob_99_guard.ipynb", nbformat.writes(solved(GUARD)).encode())
    # The copy of an earlier release, whose test cells the course has changed since (the trial's class: lesson 04
    # released again during grading), is still the notebook as released: its test cells are not the learner's code.
    earlier = submission(GUARD)
    test = next(cell for cell in earlier.cells if (cell.metadata.get("nbgrader") or {}).get("grade"))
    test.source += "\n# a check the course has changed since"
    put(tmp_path / "flat" / "cho_99_guard.ipynb", nbformat.writes(earlier).encode())
    subs = by_key(find_submissions(tmp_path / "flat", tmp_path / "work", LESSONS_ALL))
    assert "as-released" in subs[("ann", "99_guard")].flags and "as-released" not in subs[("bob", "99_guard")].flags
    assert "as-released" in subs[("cho", "99_guard")].flags
    assert "as-released" in FLAG_MEANING
    page = feedback_html({"student": "ann", "lesson": "99_guard", "status": "graded", "score": 0, "max_score": 4,
                          "flags": ["as-released"], "tests": []})
    assert "the lesson's notebook as the course released it" in __import__("html").unescape(page)
    page = feedback_html({"student": "ann", "lesson": "99_guard", "status": "graded", "score": 0, "max_score": 4,
                          "flags": ["as-released"], "tests": [], "language": "ko"})
    assert "배포한 그대로" in page, page


def test_jupyters_checkpoint_copies_are_no_hand_in(tmp_path):
    """An instructor's trial: a student zipped their folder with Jupyter's ``.ipynb_checkpoints/`` in it (an older
    save of the same notebook, named ``<name>-checkpoint.ipynb``). It was extracted and weighed as a second copy:
    the right one won, but with a ``duplicate`` flag, and an older checkpoint could win by its time. A file in a
    hidden folder is never a hand-in, in a student's .zip, a Moodle folder or nbgrader's layout; intake.csv says it
    was left out."""
    work = nbformat.writes(solved(GUARD)).encode()
    older = NOTEBOOK
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Kim Minsu_700201_assignsubmission_file_/lab.zip", _zip_bytes(
            {"lab/99_guard.ipynb": work, "lab/.ipynb_checkpoints/99_guard-checkpoint.ipynb": older}))
        zf.writestr("Lee Seo_700203_assignsubmission_file_/99_guard.ipynb", work)
        zf.writestr("Lee Seo_700203_assignsubmission_file_/.ipynb_checkpoints/99_guard-checkpoint.ipynb", older)
    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL)
    subs = by_key(intake)
    for student in ("Kim Minsu", "Lee Seo"):
        assert subs[(student, "99_guard")].path.read_bytes() == work, subs[(student, "99_guard")]
        assert "duplicate" not in subs[(student, "99_guard")].flags, subs[(student, "99_guard")]
    said = [line for line in intake.lines if "checkpoint" in line.input + line.note]
    assert said and all(line.outcome == "skipped" and "hidden folder" in line.note for line in said), intake.lines

    nbgrader = tmp_path / "submitted"
    put(nbgrader / "ann" / "99_guard" / "99_guard.ipynb", work)
    put(nbgrader / "ann" / "99_guard" / ".ipynb_checkpoints" / "99_guard-checkpoint.ipynb", older)
    subs = by_key(find_submissions(nbgrader, tmp_path / "work2", LESSONS_ALL))
    assert subs[("ann", "99_guard")].path.read_bytes() == work and "duplicate" not in subs[("ann", "99_guard")].flags


def test_a_notebook_with_text_of_its_own_in_any_cell_is_not_as_released(tmp_path):
    """The lesson's cells untouched, but the learner wrote in a cell of another kind: their code pasted into a
    Markdown cell, or a raw cell (the cell's type changed by a slip of the keyboard, Esc M). Not the course's copy
    handed in by mistake: their page must not say so (no ``as-released``). A Markdown cell of the lesson's, worded as an
    earlier release had it, is no text of theirs."""
    code = next(src for gid, src in __import__("conftest").answer_sources(GUARD).items() if gid == "group_max")
    for n, cell in enumerate([nbformat.v4.new_markdown_cell(code), nbformat.v4.new_raw_cell(code)]):
        nb = submission(GUARD)
        nb.cells.append(cell)
        put(tmp_path / "flat" / f"s{n}_99_guard.ipynb", nbformat.writes(nb).encode())
    nb = submission(GUARD)                  # an earlier release's copy, whose lesson text the course has worded anew
    next(c for c in nb.cells if c.cell_type == "markdown").source += "\n\nAn earlier release's wording."
    put(tmp_path / "flat" / "s2_99_guard.ipynb", nbformat.writes(nb).encode())
    subs = by_key(find_submissions(tmp_path / "flat", tmp_path / "work", LESSONS_ALL))
    assert "as-released" not in subs[("s0", "99_guard")].flags and "as-released" not in subs[("s1", "99_guard")].flags
    assert "as-released" in subs[("s2", "99_guard")].flags


def test_work_whose_notebook_lost_its_nbgrader_metadata_is_not_passed_over_for_the_blank_copy(tmp_path):
    """A student's work in a notebook without nbgrader's metadata (saved by another tool, or its cells pasted into a
    new notebook: no answer cell says it is one) handed in beside the lesson's notebook as released: the work is
    graded (the grader runs a notebook without the metadata, its tests at the end), never the blank copy by its name.
    An empty Untitled.ipynb is no work: the lesson's copy is graded, as before."""
    work = solved(GUARD)
    for cell in work.cells:
        cell.metadata.pop("nbgrader", None)
    empty = nbformat.v4.new_notebook()
    archive = tmp_path / "moodle.zip"
    same = (2026, 12, 1, 9, 0, 0)
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in [("Kim Minsu_700201_assignsubmission_file_/Untitled.ipynb", nbformat.writes(work).encode()),
                           ("Kim Minsu_700201_assignsubmission_file_/99_guard.ipynb", NOTEBOOK),
                           ("Lee Seo_700203_assignsubmission_file_/Untitled.ipynb", nbformat.writes(empty).encode()),
                           ("Lee Seo_700203_assignsubmission_file_/99_guard.ipynb", NOTEBOOK)]:
            zf.writestr(zipfile.ZipInfo(name, same), data)
    subs = by_key(find_submissions(archive, tmp_path / "work", LESSONS_ALL))
    assert subs[("Kim Minsu", "99_guard")].path.name == "Untitled.ipynb", subs[("Kim Minsu", "99_guard")]
    assert subs[("Lee Seo", "99_guard")].path.name == "99_guard.ipynb", subs[("Lee Seo", "99_guard")]


@pytest.mark.parametrize("damage", ["nbgrader-string", "nbgrader-list", "metadata-list", "checksum-number",
                                    "source-number", "cell-string"])
def test_a_notebook_with_malformed_metadata_costs_only_itself_at_intake(tmp_path, damage):
    """The whole suite's hostile class (malformed_grading_metadata): the as-released rule read a cell's nbgrader
    metadata as a dict, and a notebook whose metadata is a string stopped the whole batch at intake with an
    AttributeError, every classmate ungraded. Whatever a notebook holds, intake decides for it and goes on."""
    import json

    nb = json.loads(NOTEBOOK)
    cell = next(c for c in nb["cells"] if (c.get("metadata", {}).get("nbgrader") or {}).get("solution"))
    if damage == "nbgrader-string":
        cell["metadata"]["nbgrader"] = "solution"
    elif damage == "nbgrader-list":
        cell["metadata"]["nbgrader"] = ["solution", True]
    elif damage == "metadata-list":
        cell["metadata"] = ["nbgrader"]
    elif damage == "checksum-number":
        cell["metadata"]["nbgrader"]["checksum"] = 7
    elif damage == "source-number":
        cell["source"] = 12
    else:
        nb["cells"].append("a cell that is a string")
    put(tmp_path / "subs" / "ann_99_guard.ipynb", json.dumps(nb).encode())
    put(tmp_path / "subs" / "ann_99_guard (1).ipynb", NOTEBOOK)
    put(tmp_path / "subs" / "bob_99_guard.ipynb", nbformat.writes(solved(GUARD)).encode())
    subs = by_key(find_submissions(tmp_path / "subs", tmp_path / "work", LESSONS_ALL))
    assert ("ann", "99_guard") in subs and subs[("bob", "99_guard")].path.name == "bob_99_guard.ipynb"


def test_a_notebook_handed_in_as_a_link_is_not_graded_as_the_students_work(tmp_path):
    """A hostile class's trial: a submissions folder copied with its links (rsync -a from the learners' folders on a
    shared server, an archive unpacked by a tool that makes links) held, in one learner's place, a link to a
    classmate's notebook (graded: the classmate's score, no flag) or to the course's solution notebook (full marks).
    Where a link points is not what its learner handed in: a notebook reached through a link (the file, its lesson's
    folder or its student's folder) is skipped with a line that says so; the file it points to is graded as its own
    student's only."""
    subs = tmp_path / "subs"
    honest = put(subs / "honest" / "99_guard" / "99_guard.ipynb", STARTED)
    (subs / "linker" / "99_guard").mkdir(parents=True)
    (subs / "linker" / "99_guard" / "99_guard.ipynb").symlink_to(Path("../../honest/99_guard/99_guard.ipynb"))
    (subs / "solver" / "99_guard").mkdir(parents=True)
    (subs / "solver" / "99_guard" / "99_guard.ipynb").symlink_to(GUARD.source.resolve())
    (subs / "folder").symlink_to(subs / "honest", target_is_directory=True)
    (subs / "lessonlink").mkdir()
    (subs / "lessonlink" / "99_guard").symlink_to(subs / "honest" / "99_guard", target_is_directory=True)
    (subs / "flat_99_guard.ipynb").symlink_to(honest)
    intake = find_submissions(subs, tmp_path / "work", LESSONS_ALL)
    assert set(by_key(intake)) == {("honest", "99_guard")}, by_key(intake)
    for who in ("linker", "solver", "folder", "lessonlink", "flat_99_guard.ipynb"):
        line = next(line for line in intake.lines if line.input.startswith(who))
        assert line.outcome == "skipped" and "a link" in line.note, line



def test_a_hard_link_to_a_classmates_hand_in_is_graded_and_flagged_as_the_same_file(tmp_path):
    """A hostile review: a notebook in one student's folder that is a hard link to a classmate's (one inode, two
    names; on a shared server `ln ../honest/99_guard/99_guard.ipynb`) was graded as that student's notebook with no
    word. Neither name is the original, so both hand-ins are graded and flagged same-file, and each one's intake.csv
    line names the other; a file with a second link outside the hand-ins (a backup made with cp -al) says nothing.
    flagged.md explains the flag."""
    from autograde.grade import FLAG_MEANING

    subs = tmp_path / "subs"
    honest = put(subs / "honest" / "99_guard" / "99_guard.ipynb", STARTED)
    (subs / "linker" / "99_guard").mkdir(parents=True)
    os.link(honest, subs / "linker" / "99_guard" / "99_guard.ipynb")
    alone = put(subs / "alone" / "99_guard" / "99_guard.ipynb", STARTED)
    os.link(alone, tmp_path / "backup-of-alone.ipynb")             # linked from outside the hand-ins only
    intake = find_submissions(subs, tmp_path / "work", LESSONS_ALL)
    found = by_key(intake)
    assert set(found) == {("honest", "99_guard"), ("linker", "99_guard"), ("alone", "99_guard")}
    assert "same-file" in found[("honest", "99_guard")].flags and "same-file" in found[("linker", "99_guard")].flags
    assert "same-file" not in found[("alone", "99_guard")].flags
    notes = {line.student: line.note for line in intake.lines if line.outcome == "taken"}
    assert "hard link" in notes["linker"] and "honest/99_guard/99_guard.ipynb (honest)" in notes["linker"], notes
    assert "linker/99_guard/99_guard.ipynb (linker)" in notes["honest"], notes
    assert "hard link" not in notes["alone"]
    assert "hard link" in FLAG_MEANING["same-file"]

def test_a_released_edition_that_could_not_be_read_once_is_read_again(tmp_path, monkeypatch):
    """The as-released rule reads the lesson's released editions once per version of the files, for the whole batch.
    One that could not be read that once (a file being written by a release, too many open files) was remembered as
    having no cells: every classmate's blank copy of the batch counted as written in (and could be graded before the
    notebook they worked in). What could not be read is read again the next time."""
    import autograde.collect
    import autograde.lessons
    from autograde.collect import _released_cells

    real = autograde.lessons.read_notebook
    failing = [GUARD.student_version]

    def flaky(path):
        if path in failing:
            failing.remove(path)
            raise OSError(24, "Too many open files")
        return real(path)

    monkeypatch.setattr(autograde.lessons, "read_notebook", flaky)
    monkeypatch.setattr(autograde.collect, "_released", {})          # as a new batch's process starts
    first, _ = _released_cells(GUARD)
    again, _ = _released_cells(GUARD)
    group_max_stub = next(c.source.strip() for c in submission(GUARD).cells
                          if (c.metadata.get("nbgrader") or {}).get("grade_id") == "group_max")
    assert group_max_stub in again and len(again) >= len(first), (len(first), len(again))
