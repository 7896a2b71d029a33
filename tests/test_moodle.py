"""Moodle's grading worksheet in and out (autograde/moodle.py): worksheets as Moodle writes them
(mod/assign/gradingtable.php in download mode: Identifier, the identity fields the site shows, Status, Grade,
Maximum Grade, Grade can be changed, Last modified (submission), Last modified (grade), the feedback columns; file
name Grades-<course>-<assignment>-<cmid>.csv), Korean names, a 100-point assignment, a participant who did not
submit, blind marking, and participant ids that belong to one assignment only."""
from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import pytest

from autograde import moodle
from autograde.collect import find_submissions, read_roster
from autograde.lessons import UsageError
from autograde.report import write_lms_exports
from conftest import GUARD, LESSONS, autograde_cli, solved, submission, write

LESSONS_ALL = [*LESSONS, GUARD]
SLUGS = [lesson.slug for lesson in LESSONS_ALL]
NOTEBOOK = GUARD.student_version.read_bytes()
HEADER = ("Identifier,Full name,Email address,ID number,Status,Grade,Maximum Grade,Grade can be changed,"
          "Last modified (submission),Last modified (grade),Feedback comments\n")
# What Moodle writes for a 100-point assignment (format_float with the grade item's two decimals, userdate()).
GUARD_SHEET = (HEADER +
               'Participant 700201,김민준,minjun@uni.example,2026001,Submitted for grading,,100.00,Yes,'
               '"Monday, 30 November 2026, 11:20 PM",-,\n'
               'Participant 700202,Kim Minsu,minsu@uni.example,,Submitted for grading - Graded,55.00,100.00,Yes,'
               '"Monday, 30 November 2026, 9:02 PM","Tuesday, 1 December 2026, 8:15 AM",<p>Good start</p>\n'
               'Participant 700203,이지은,jieun@uni.example,2026003,No submission,,100.00,Yes,-,-,\n'
               'Participant 700204,Lee Seo,seo.a@uni.example,,Submitted for grading,,100.00,Yes,'
               '"Monday, 30 November 2026, 10:00 PM",-,\n'
               'Participant 700205,Lee Seo,seo.b@uni.example,,Submitted for grading,,100.00,No,'
               '"Monday, 30 November 2026, 10:05 PM",-,\n')
# Blind marking, seen by a teacher without "view blind details": no name, no e-mail (and a Moodle that writes
# "Maximum grade" in sentence case).
BLIND_SHEET = ("Identifier,Status,Grade,Maximum grade,Grade can be changed,Last modified (submission),"
               "Last modified (grade),Feedback comments\n"
               'Participant 700301,Submitted for grading,,10.00,Yes,"Monday, 30 November 2026, 11:20 PM",-,\n'
               'Participant 700302,Submitted for grading,,10.00,Yes,"Monday, 30 November 2026, 11:21 PM",-,\n')

# The same assignment downloaded from a Moodle whose language is Korean (Moodle 4.5's Korean strings, see the notes
# of autograde/moodle.py): "Grade can be changed" is not translated in that pack, so Moodle writes it in English;
# yes/no are 예/아니오; the identifier is 참가자 + id without a space; dates are the Korean locale's
# strftimedaydatetime; UTF-8 with a byte order mark.
KO_HEADER = ("식별자,전체 이름,이메일 주소,id 번호,상태,성적,최대 성적,Grade can be changed,마지막 수정됨(제출),"
             "마지막 수정됨(성적),피드백 코멘트\n")
KO_SHEET = (KO_HEADER +
            '참가자700201,김민준,minjun@uni.example,2026001,채점을 위해 제출되었습니다.,,100.00,예,'
            '"월요일, 30 11월 2026, 11:20 오후",-,\n'
            '참가자700202,박서연,seoyeon@uni.example,2026002,채점을 위해 제출되었습니다. - 채점됨,55.00,100.00,예,'
            '"월요일, 30 11월 2026, 09:02 오후","화요일, 01 12월 2026, 08:15 오전",<p>좋은 시작입니다</p>\n'
            '참가자700203,이지은,jieun@uni.example,2026003,제출물 없음,,100.00,예,-,-,\n'
            '참가자700204,최유나,yuna@uni.example,2026004,채점을 위해 제출되었습니다.,,100.00,아니오,'
            '"월요일, 30 11월 2026, 10:05 오후",-,\n')


def put(path: Path, data: bytes = NOTEBOOK) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def sheet(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\ufeff" + text, encoding="utf-8")
    return path


def result(student, lesson, score, pid, status="graded", maximum=5.0, name="x"):
    return {"student": student, "lesson": lesson, "score": score, "raw_score": score, "status": status,
            "max_score": maximum, "lesson_max_score": maximum, "graded_at": "2026-12-02 03:00:00 UTC",
            "lms": {"system": "moodle", "id": pid, "name": name}}



def intake_with_worksheet(export, tmp_path, slug: str, text: str):
    """find_submissions over ``export`` with one lesson's Moodle worksheet (``text``) kept for ``slug``."""
    sheets = {slug: moodle.read_worksheet(sheet(tmp_path, f"{slug}.csv", text))}
    sheets[slug].lesson = slug
    return find_submissions(export, tmp_path / "work", LESSONS_ALL, moodle_people=moodle.participants(sheets))

def test_a_worksheet_names_its_lesson_by_file_name_or_is_refused(tmp_path):
    assert moodle.lesson_of_file("Grades-CNN 101-Lesson 99 Guard-4211.csv", SLUGS) == ["99_guard"]
    assert moodle.lesson_of_file("Grades-CNN-2026-Lab 9 - losses & optimisers-4209 (1).csv", SLUGS) == [
        "09_losses_optimisers"]                                  # a browser's second copy
    assert moodle.lesson_of_file("01_history.csv", SLUGS) == ["01_history"]
    assert moodle.lesson_of_file("Grades-CNN101-Quiz 1-4300.csv", SLUGS) == []
    # The course's own Korean titles (notebooks/ko, the lessons' ko.po), whole or by the number and a word
    assert moodle.lesson_of_file("Grades-CNN101-레슨 03 패딩과 스트라이드-4303.csv", SLUGS) == ["03_padding_stride"]
    assert moodle.lesson_of_file("Grades-CNN101-3주차 패딩과 스트라이드-4303.csv", SLUGS) == ["03_padding_stride"]
    assert moodle.lesson_of_file("Grades-CNN101-레슨 01 CNN의 역사-4301.csv", SLUGS) == ["01_history"]
    assert moodle.lesson_of_file("Grades-CNN101-3주차 퀴즈-4300.csv", SLUGS) == []
    assert list(moodle.keep_worksheets(tmp_path / "ko", [sheet(tmp_path, "Grades-CNN101-레슨 03 패딩과 스트라이드-4303.csv",
                                                               KO_SHEET)], SLUGS)) == ["03_padding_stride"]
    out = tmp_path / "out"
    with pytest.raises(UsageError, match="names no lesson of this course"):
        moodle.keep_worksheets(out, [sheet(tmp_path, "Grades-CNN101-Quiz 1-4300.csv", GUARD_SHEET)], SLUGS)
    with pytest.raises(UsageError, match="names 2 lessons"):
        moodle.keep_worksheets(out, [sheet(tmp_path, "Grades-CNN101-01_history and 99_guard-12.csv", GUARD_SHEET)],
                               SLUGS)
    with pytest.raises(UsageError, match="not Moodle's grading worksheet"):      # no 마지막 수정됨(성적) column
        moodle.keep_worksheets(out, [sheet(tmp_path, "99_guard.csv", "식별자,전체 이름,성적\n참가자1,김민준,\n")], SLUGS)
    assert not (out / "lms").exists()                          # nothing is kept from a refused run


def test_worksheets_are_kept_per_lesson_and_a_dropped_one_is_found(tmp_path):
    out = tmp_path / "out"
    given = sheet(tmp_path, "Grades-CNN101-Lesson 99 Guard-4211.csv", GUARD_SHEET)
    kept = moodle.keep_worksheets(out, [given], SLUGS)
    assert list(kept) == ["99_guard"] and (out / "lms" / "moodle-worksheets" / "99_guard.csv").is_file()
    assert kept["99_guard"].maximum == "100.00"
    # A worksheet dropped in the folder by hand, under Moodle's name, is found and kept as its lesson's.
    sheet(out / "lms" / "moodle-worksheets", "Grades-CNN101-Lesson 01 History-4201.csv", BLIND_SHEET)
    kept = moodle.keep_worksheets(out, [], SLUGS)
    assert sorted(kept) == ["01_history", "99_guard"]
    assert sorted(p.name for p in (out / "lms" / "moodle-worksheets").iterdir()) == ["01_history.csv", "99_guard.csv"]
    # A second one for a lesson that has one: refused, not guessed.
    sheet(out / "lms" / "moodle-worksheets", "Grades-CNN101-Lesson 01 History-4201 (1).csv", BLIND_SHEET)
    with pytest.raises(UsageError, match="two Moodle worksheets for 01_history"):
        moodle.keep_worksheets(out, [], SLUGS)
    # Given again, a new download replaces the kept one.
    (out / "lms" / "moodle-worksheets" / "Grades-CNN101-Lesson 01 History-4201 (1).csv").unlink()
    newer = sheet(tmp_path, "Grades-CNN101-Lesson 01 History-4201.csv", BLIND_SHEET.replace("10.00", "20.00"))
    assert moodle.keep_worksheets(out, [newer], SLUGS)["01_history"].maximum == "20.00"
    # It is not a roster: its ids are one assignment's.
    with pytest.raises(UsageError, match="--moodle-worksheet"):
        read_roster(given)


def test_the_worksheet_says_who_each_participant_is(tmp_path):
    """Student ids from the worksheet: the ID number, else the full name (two 'Lee Seo': name and e-mail); names
    and e-mails reach the submission's LMS facts (for the gradebook); a blind-marking worksheet knows nobody."""
    export = tmp_path / "moodle"
    for pid, name in [("700201", "김민준"), ("700202", "Kim Minsu"), ("700204", "Lee Seo"), ("700205", "Lee Seo")]:
        put(export / f"{name}_{pid}_assignsubmission_file_" / "99_guard.ipynb")
    put(export / "Kim Minsu_700202_assignsubmission_file_" / "notes.txt", b"x")
    intake = intake_with_worksheet(export, tmp_path, "99_guard", GUARD_SHEET)
    subs = {s.student: s for s in intake.submissions}
    assert set(subs) == {"2026001", "Kim Minsu", "Lee Seo (seo.a@uni.example)", "Lee Seo (seo.b@uni.example)"}
    assert subs["2026001"].lms == {"system": "moodle", "id": "700201", "name": "김민준", "email": "minjun@uni.example"}
    assert "same-name" in subs["Lee Seo (seo.a@uni.example)"].flags
    # Blind marking: folders and worksheet say only "Participant".
    blind = tmp_path / "blind"
    put(blind / "Participant_700301_assignsubmission_file_" / "01_history.ipynb")
    put(blind / "Participant_700302_assignsubmission_file_" / "Untitled.ipynb", LESSONS[0].student_version.read_bytes())
    intake = intake_with_worksheet(blind, tmp_path, "01_history", BLIND_SHEET)
    assert {(s.student, s.lesson.slug) for s in intake.submissions} == {
        ("Participant (700301)", "01_history"), ("Participant (700302)", "01_history")}


def test_submission_times_come_from_the_worksheet_in_the_zone_given(tmp_path):
    """An instructor's trial: late Moodle work kept full marks, since the export carries no submission time. The
    worksheet's "Last modified (submission)" does (in the downloading user's zone, not written): with
    --moodle-times ZONE it is the submission time, in English and Korean Moodle's forms; without, none is taken
    and intake.csv says how to get it."""
    from datetime import datetime, timezone

    utc = timezone.utc
    assert moodle.submission_time("Monday, 30 November 2026, 11:20 PM", "Asia/Seoul") == \
        datetime(2026, 11, 30, 14, 20, tzinfo=utc)
    assert moodle.submission_time("Monday, 30 November 2026, 12:05 AM", "UTC") == \
        datetime(2026, 11, 30, 0, 5, tzinfo=utc)
    assert moodle.submission_time("월요일, 30 11월 2026, 11:20 오후", "Asia/Seoul") == \
        datetime(2026, 11, 30, 14, 20, tzinfo=utc)
    assert moodle.submission_time("2026년 12월 3일, 목요일, 오전 9:15", "Asia/Seoul") == \
        datetime(2026, 12, 3, 0, 15, tzinfo=utc)
    assert moodle.submission_time("2026-12-03 09:15", "Europe/Berlin") == datetime(2026, 12, 3, 8, 15, tzinfo=utc)
    assert moodle.submission_time("30 Februar 2026, 11:20", "UTC") is None
    assert moodle.submission_time("31 November 2026, 11:20 PM", "UTC") is None
    export = tmp_path / "moodle"
    for pid, name in [("700201", "김민준"), ("700202", "Kim Minsu")]:
        put(export / f"{name}_{pid}_assignsubmission_file_" / "99_guard.ipynb")
    sheets = {"99_guard": moodle.read_worksheet(sheet(tmp_path, "99_guard.csv", GUARD_SHEET))}
    sheets["99_guard"].lesson = "99_guard"
    people = moodle.participants(sheets)
    timed = {s.student: s for s in find_submissions(export, tmp_path / "work", LESSONS_ALL, moodle_people=people,
                                                    moodle_zone="Asia/Seoul").submissions}
    assert timed["2026001"].submitted_at == datetime(2026, 11, 30, 14, 20, tzinfo=utc)
    assert timed["Kim Minsu"].submitted_at == datetime(2026, 11, 30, 12, 2, tzinfo=utc)
    assert "Last modified (submission), read as Asia/Seoul" in timed["2026001"].time_source
    plain = find_submissions(export, tmp_path / "work2", LESSONS_ALL, moodle_people=people)
    assert all(s.submitted_at is None for s in plain.submissions)
    said = [line.time_source for line in plain.lines if line.outcome == "taken" and line.student == "2026001"]
    assert len(said) == 1 and "--moodle-times" in said[0], said
    # Korean Moodle's worksheet, read the same way.
    ko = {"99_guard": moodle.read_worksheet(sheet(tmp_path / "ko", "99_guard.csv", KO_SHEET))}
    ko["99_guard"].lesson = "99_guard"
    timed = {s.student: s for s in find_submissions(export, tmp_path / "work3", LESSONS_ALL,
                                                    moodle_people=moodle.participants(ko),
                                                    moodle_zone="Asia/Seoul").submissions}
    assert timed["2026001"].submitted_at == datetime(2026, 11, 30, 14, 20, tzinfo=utc)
    # A date in no known form: that submission counts as on time, and the warning names the student and the date.
    odd = {"99_guard": moodle.read_worksheet(sheet(tmp_path / "odd", "99_guard.csv", GUARD_SHEET.replace(
        '"Monday, 30 November 2026, 9:02 PM"', "30/11/2026 23:45")))}
    odd["99_guard"].lesson = "99_guard"
    intake = find_submissions(export, tmp_path / "work4", LESSONS_ALL, moodle_people=moodle.participants(odd),
                              moodle_zone="Asia/Seoul")
    assert {s.student: s.submitted_at is None for s in intake.submissions} == {"2026001": False, "Kim Minsu": True}
    assert any("Kim Minsu ('30/11/2026 23:45')" in warning for warning in intake.warnings), intake.warnings
    with pytest.raises(UsageError, match="--moodle-times"):
        from autograde.collect import MOODLE_ZONE_FILE, load_zone
        load_zone(tmp_path, "Seoul time", MOODLE_ZONE_FILE, "--moodle-times")


def test_participant_ids_belong_to_one_assignment(tmp_path):
    """One person has another participant id in every assignment (assign_user_mapping). Two assignments' exports
    in one folder are one student, not 'two students of one name'; a notebook submitted to another assignment
    than the one it names is graded as the lesson it names, without that assignment's id."""
    export = tmp_path / "moodle"
    put(export / "Kim Minjun_700101_assignsubmission_file_" / "01_history.ipynb")
    put(export / "Kim Minjun_800101_assignsubmission_file_" / "99_guard.ipynb")
    intake = find_submissions(export, tmp_path / "work", LESSONS_ALL)
    subs = {(s.student, s.lesson.slug): s for s in intake.submissions}
    assert set(subs) == {("Kim Minjun", "01_history"), ("Kim Minjun", "99_guard")} and not intake.warnings
    assert subs[("Kim Minjun", "01_history")].lms["id"] == "700101" and subs[("Kim Minjun", "99_guard")].lms["id"] == "800101"
    # Participant 700201 is of 99_guard's assignment (its worksheet says so), but uploaded 01_history.
    wrong = tmp_path / "wrong"
    put(wrong / "김민준_700201_assignsubmission_file_" / "01_history.ipynb")
    put(wrong / "Kim Minsu_700202_assignsubmission_file_" / "99_guard.ipynb")
    (wrong / "Lee Seo_700204_assignsubmission_file_").mkdir()
    (wrong / "Lee Seo_700204_assignsubmission_file_" / "pool.py").write_text("print(1)", encoding="utf-8")
    intake = intake_with_worksheet(wrong, tmp_path, "99_guard", GUARD_SHEET)
    # a participant of 99_guard's worksheet who handed in a .py only: missing 99_guard, with their id (an
    # instructor's trial: with a worksheet they had no row anywhere)
    lee = [s for s in intake.submissions if s.lms.get("id") == "700204"]
    assert [(s.lesson.slug, s.path, s.note) for s in lee] == [("99_guard", None, "no notebook: handed in pool.py")]
    # 김민준 (2026001) handed in 01_history to 99_guard's assignment: missing 99_guard, and the record says what instead
    assert [s.note for s in intake.submissions if s.student == "2026001" and s.path is None] == [
        "no notebook of 99_guard; handed in a 01_history notebook (김민준_700201_assignsubmission_file_/01_history.ipynb) "
        "to this assignment instead"]
    subs = {(s.student, s.lesson.slug): s for s in intake.submissions if s.path is not None}
    assert subs[("2026001", "01_history")].lms["id"] == "" and subs[("2026001", "01_history")].lms["not_for"] == "99_guard"
    assert any("submitted to the Moodle assignment of 99_guard" in w for w in intake.settled_warnings())
    # --lesson 1 with 99_guard's worksheet: the worksheet says whose participants these are; --lesson would record
    # them all missing 01_history (an instructor's trial: accepted with a warning, zeros under 99's ids). Refused.
    sheets = {"99_guard": moodle.read_worksheet(sheet(tmp_path, "99_guard.csv", GUARD_SHEET))}
    sheets["99_guard"].lesson = "99_guard"
    with pytest.raises(UsageError, match=r"--lesson 01_history, but this Moodle export's participants are those of "
                                         r"the grading worksheet of 99_guard .* Give --lesson 99"):
        find_submissions(wrong, tmp_path / "work-l1", LESSONS_ALL, moodle_people=moodle.participants(sheets),
                         assignment=LESSONS[0])
    assert find_submissions(wrong, tmp_path / "work-l99", LESSONS_ALL, moodle_people=moodle.participants(sheets),
                            assignment=GUARD).submissions
    results = [{**result("2026001", "01_history", 3.0, ""), "lms": subs[("2026001", "01_history")].lms},
               result("Kim Minsu", "99_guard", 4.0, "700202")]
    out = tmp_path / "out"
    sheet(out / "lms" / "moodle-worksheets", "99_guard.csv", GUARD_SHEET)
    write_lms_exports(results, out / "lms")
    assert not (out / "lms" / "moodle-01_history.csv").exists()
    assert "2026001's notebook names this lesson but was submitted to the Moodle assignment of 99_guard" in (
        out / "lms" / "moodle-notes.txt").read_text(encoding="utf-8")


def test_grades_go_back_in_the_worksheets_shape_rescaled_to_its_maximum_grade(tmp_path):
    out = tmp_path / "out"
    sheet(out / "lms" / "moodle-worksheets", "99_guard.csv", GUARD_SHEET)
    results = [result("2026001", "99_guard", 4.0, "700201", name="김민준"),
               result("Kim Minsu", "99_guard", 2.5, "700202"),
               result("Lee Seo (seo.a@uni.example)", "99_guard", 0.0, "700204", status="invalid-notebook"),
               result("Lee Seo (seo.b@uni.example)", "99_guard", 5.0, "700205"),
               result("박서준", "99_guard", 3.0, "700299"),                     # not in the worksheet
               result("Park", "99_guard", 0.0, "700298", status="grader-error")]
    (out / "lms" / "canvas.csv").write_text("from an earlier run\n", encoding="utf-8")
    write_lms_exports(results, out / "lms", {("Kim Minsu", "99_guard"): 3.0})   # a grade entered in formgrader
    assert not (out / "lms" / "canvas.csv").exists()        # a Moodle class gets Moodle's files, no Canvas import
    with (out / "lms" / "moodle-99_guard.csv").open(encoding="utf-8-sig") as f:
        table = list(csv.reader(f))
    # Moodle's columns as downloaded, without the feedback column (the old comments would overwrite newer ones).
    assert table[0] == HEADER.strip().split(",")[:-1]
    rows = {row[0]: row for row in table[1:]}
    assert len(rows) == 5                                   # every participant, as downloaded, in Moodle's order
    assert [row[0] for row in table[1:]] == [f"Participant 70020{i}" for i in (1, 2, 3, 4, 5)]
    assert rows["Participant 700201"][1:9] == ["김민준", "minjun@uni.example", "2026001", "Submitted for grading",
                                                "80", "100.00", "Yes", "Monday, 30 November 2026, 11:20 PM"]
    assert rows["Participant 700201"][9] == "2026-12-02 03:00:00 UTC"
    assert rows["Participant 700202"][5] == "60"            # the gradebook's 3 of 5 -> 60 of 100
    # Did not submit: left exactly as downloaded, so Moodle leaves it be.
    assert rows["Participant 700203"] == ["Participant 700203", "이지은", "jieun@uni.example", "2026003",
                                          "No submission", "", "100.00", "Yes", "-", "-"]
    assert rows["Participant 700204"][5] == "0" and rows["Participant 700205"][5] == "100"
    notes = (out / "lms" / "moodle-notes.txt").read_text(encoding="utf-8")
    assert "Maximum Grade is 100.00, the lesson's 5 points; grades are rescaled" in notes
    assert "no result for 1 participant(s)" in notes and "Participant 700203" in notes
    assert "not in the worksheet (by participant id): Park, 박서준" in notes
    assert "locked in Moodle (Grade can be changed: No), so Moodle skips them: Participant 700205" in notes


def test_a_blind_marking_worksheet_and_no_worksheet(tmp_path):
    out = tmp_path / "out"
    sheet(out / "lms" / "moodle-worksheets", "01_history.csv", BLIND_SHEET.replace("10.00", "\"12,00\""))
    results = [result("Participant (700301)", "01_history", 6.0, "700301", maximum=12.0, name="Participant"),
               result("Participant (700302)", "01_history", 7.5, "700302", maximum=12.0, name="Participant"),
               result("Kim Minsu", "99_guard", 4.0, "800202")]
    write_lms_exports(results, out / "lms")
    with (out / "lms" / "moodle-01_history.csv").open(encoding="utf-8-sig") as f:
        table = list(csv.reader(f))
    assert table[0] == ["Identifier", "Status", "Grade", "Maximum grade", "Grade can be changed",
                        "Last modified (submission)", "Last modified (grade)"]
    assert [row[2] for row in table[1:]] == ["6", "7,5"]     # same points, the worksheet's decimal comma
    # Without a worksheet: the lesson's points, and a note that Moodle reads them as its own assignment's points.
    with (out / "lms" / "moodle-99_guard.csv").open(encoding="utf-8-sig") as f:
        plain = list(csv.DictReader(f))
    assert [(r["Identifier"], r["Grade"], r["Maximum Grade"]) for r in plain] == [("Participant 800202", "4", "5")]
    notes = (out / "lms" / "moodle-notes.txt").read_text(encoding="utf-8")
    assert "99_guard: no Moodle worksheet given" in notes and "17 into an assignment worth 100 is 17 %" in notes
    assert "01_history" not in notes


def test_blind_marking_with_its_worksheet_is_said_as_such(tmp_path):
    """Moodle's blind marking with the assignment's worksheet given (an instructor's trial): the worksheet hides the
    identities too, so 'give --roster or each assignment's worksheet' was advice that could not help, and a
    same-name flag on every row filled flagged.md. The participants are told apart by their ids, said once."""
    export = tmp_path / "moodle"
    started = nbformat.writes(solved(GUARD)).encode()        # answers written: not flagged as-released
    for pid in ("700301", "700302"):
        put(export / f"Participant_{pid}_assignsubmission_file" / "99_guard.ipynb", started)
    intake = intake_with_worksheet(export, tmp_path, "99_guard", BLIND_SHEET)
    assert {(s.student, tuple(s.flags)) for s in intake.submissions} == {("Participant (700301)", ()),
                                                                          ("Participant (700302)", ())}
    said = [w for w in intake.settled_warnings() if "Participant" in w]
    assert said == ["2 participants are named 'Participant' in the Moodle export and its worksheet (blind marking "
                    "hides who they are): each is graded as 'Participant (<participant id>)', and "
                    "lms/moodle-<lesson>.csv gives each grade back under its participant id, so Moodle files it for "
                    "the right person"], said
    # without the worksheet: the advice to give one stands, and the flag
    plain = find_submissions(export, tmp_path / "work2", LESSONS_ALL)
    assert all("same-name" in s.flags for s in plain.submissions)
    assert any("--moodle-worksheet" in w for w in plain.warnings)


def moodle_reads(entry: str) -> tuple[str, str, str] | None:
    """(participant id, plugin, file name) as Moodle's "Upload multiple feedback files in a zip" reads a zip entry
    (mod/assign/feedback/file/importziplib.php: each path part split at "_" into five at most; the first with at
    least four pieces and a numeric second one names the participant and the plugin)."""
    parts = entry.split("/")
    if parts[-1].startswith((".", "~")):
        return None
    while parts:
        info = parts.pop(0).split("_", 4)
        if len(info) >= 4 and info[1].isdigit():
            return info[1], f"{info[2]}_{info[3]}", "/".join([info[4] if len(info) == 5 else "", *parts])
    return None


def test_feedback_pages_go_back_in_moodles_feedback_zip(tmp_path):
    """lms/moodle-feedback-<lesson>.zip: each participant's feedback page where Moodle's importer finds them (by
    participant id, in the feedback-file plugin), whatever their names hold; none for a submission awaiting a
    re-run; the zip goes when the lesson has no Moodle result any more."""
    import zipfile

    out = tmp_path / "out"
    results = [result("2026001", "99_guard", 4.0, "700201", name="김민준"),
               result("Kim Minsu", "99_guard", 2.5, "700202", name="..Kim_Min/su"),
               result("Park", "99_guard", 0.0, "700298", status="grader-error"),
               result("Kim Minsu", "01_history", 1.0, "800202", name="Kim Minsu")]
    for r in results:
        put(out / "feedback" / r["student"] / f"{r['lesson']}.html", f"page of {r['student']} {r['lesson']}".encode())
    write_lms_exports(results, out / "lms")
    with zipfile.ZipFile(out / "lms" / "moodle-feedback-99_guard.zip") as zf:
        read = {moodle_reads(name): zf.read(name).decode() for name in zf.namelist()}
    assert read == {("700201", "assignfeedback_file", "99_guard-feedback.html"): "page of 2026001 99_guard",
                    ("700202", "assignfeedback_file", "99_guard-feedback.html"): "page of Kim Minsu 99_guard"}
    with zipfile.ZipFile(out / "lms" / "moodle-feedback-01_history.zip") as zf:
        assert zf.namelist() == ["Kim Minsu_800202_assignfeedback_file_01_history-feedback.html"]
    write_lms_exports(results[:3], out / "lms")
    assert not (out / "lms" / "moodle-feedback-01_history.zip").exists()
    assert (out / "lms" / "moodle-feedback-99_guard.zip").is_file()


@pytest.mark.slow
def test_a_moodle_class_graded_with_its_worksheet(tmp_path):
    """Moodle's export and the assignment's worksheet, both as downloaded, through the CLI: students are their
    ID numbers, the gradebook knows their names and e-mails, and the upload file is worth the assignment's 100."""
    from nbgrader.api import Gradebook

    export = tmp_path / "moodle"
    write(solved(GUARD), export / "김민준_700201_assignsubmission_file_" / "99_guard.ipynb")
    write(submission(GUARD), export / "Kim Minsu_700202_assignsubmission_file_" / "my homework.ipynb")
    put(export / "Lee Seo_700204_assignsubmission_onlinetext_" / "onlinetext.html", b"<p>my answers</p>")
    worksheet = sheet(tmp_path, "Grades-CNN101-Lesson 99 Guard-4211.csv", GUARD_SHEET)
    out = tmp_path / "out"
    proc = autograde_cli(["grade", str(export), "--out", str(out), "--moodle-worksheet", str(worksheet),
                          "--solutions", str(GUARD.solutions), "--workers", "1"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        people = {s.id: (s.last_name, s.email) for s in gb.students}
    # Lee Seo handed in online text only: recorded missing 99_guard under the worksheet's name for her (an
    # instructor's trial: with a worksheet she had no row anywhere)
    assert people == {"2026001": ("김민준", "minjun@uni.example"), "Kim Minsu": ("Kim Minsu", "minsu@uni.example"),
                      "Lee Seo (seo.a@uni.example)": ("Lee Seo", "seo.a@uni.example")}
    with (out / "lms" / "moodle-99_guard.csv").open(encoding="utf-8-sig") as f:
        rows = {row["Identifier"]: row for row in csv.DictReader(f)}
    assert rows["Participant 700201"]["Grade"] == "80" and rows["Participant 700202"]["Grade"] == "0"
    assert rows["Participant 700203"]["Grade"] == "" and rows["Participant 700201"]["Maximum Grade"] == "100.00"
    assert (out / "lms" / "moodle-worksheets" / "99_guard.csv").is_file()
    # Lee Seo handed in online text only: no result, so flagged.md names the file that was not graded.
    flagged = (out / "flagged.md").read_text(encoding="utf-8")
    assert "## Files not graded" in flagged and "onlinetext.html" in flagged, flagged
    # The students' feedback pages, ready for the assignment's "Upload multiple feedback files in a zip".
    import zipfile
    with zipfile.ZipFile(out / "lms" / "moodle-feedback-99_guard.zip") as zf:
        pages = {moodle_reads(name)[0]: zf.read(name).decode() for name in zf.namelist()}
    assert set(pages) == {"700201", "700202", "700204"}                 # Lee Seo's says what she handed in
    assert rows["Participant 700204"]["Grade"] == "0" and \
        "No notebook of this lesson was found. You handed in onlinetext.html (not a notebook" in pages["700204"]
    # The lesson is worth 5: 4 points of tests and a 1-point answer graded by hand (not yet), as the LMS counts it.
    assert "Student: <b>김민준 (2026001)</b>" in pages["700201"] and "Score: <b>4 / 5</b>" in pages["700201"]
    assert "1 point(s) of this lesson are for answers graded by hand; they are not graded yet" in pages["700201"]
    assert "Student: <b>Kim Minsu</b>." in pages["700202"]                  # a name that is the id is said once


def test_a_korean_worksheet_is_read_by_its_korean_column_names(tmp_path):
    """A worksheet downloaded from Moodle in Korean: its columns are found by Moodle's Korean names, its people
    are who the Korean columns say, and Moodle's export in Korean (참가자 folders, Korean names) is matched to it."""
    given = sheet(tmp_path, "Grades-CNN101-Lesson 99 Guard-4211.csv", KO_SHEET)
    assert given.read_bytes().startswith(b"\xef\xbb\xbf")
    read = moodle.read_worksheet(given)
    assert read.language == "ko" and read.maximum == "100.00"
    assert read.people["700201"] == {"name": "김민준", "email": "minjun@uni.example", "idnumber": "2026001"}
    assert sorted(read.people) == ["700201", "700202", "700203", "700204"]
    kept = moodle.keep_worksheets(tmp_path / "out", [given], SLUGS)
    assert list(kept) == ["99_guard"]
    with pytest.raises(UsageError, match="--moodle-worksheet"):                  # not a roster either
        read_roster(given)
    export = tmp_path / "moodle"
    for pid, name in [("700201", "김민준"), ("700202", "박서연")]:
        put(export / f"{name}_{pid}_assignsubmission_file_" / "99_guard.ipynb")
    intake = intake_with_worksheet(export, tmp_path, "99_guard", KO_SHEET)
    subs = {s.student: s for s in intake.submissions}
    assert set(subs) == {"2026001", "2026002"}
    assert subs["2026002"].lms == {"system": "moodle", "id": "700202", "name": "박서연", "email": "seoyeon@uni.example"}


def test_a_korean_worksheet_goes_back_with_its_korean_header(tmp_path):
    """Moodle's importer finds the columns by their names in the uploader's language: the file keeps the Korean
    header as downloaded (without the feedback column), the locked row (아니오) is noted, and the notes say to
    upload it with Moodle in Korean."""
    out = tmp_path / "out"
    sheet(out / "lms" / "moodle-worksheets", "99_guard.csv", KO_SHEET)
    results = [result("2026001", "99_guard", 4.0, "700201", name="김민준"),
               result("2026002", "99_guard", 2.5, "700202", name="박서연"),
               result("2026004", "99_guard", 5.0, "700204", name="최유나")]
    write_lms_exports(results, out / "lms")
    with (out / "lms" / "moodle-99_guard.csv").open(encoding="utf-8-sig") as f:
        table = list(csv.reader(f))
    assert table[0] == KO_HEADER.strip().split(",")[:-1]
    rows = {row[0]: row for row in table[1:]}
    assert [row[0] for row in table[1:]] == ["참가자700201", "참가자700202", "참가자700203", "참가자700204"]
    assert rows["참가자700201"][5] == "80" and rows["참가자700201"][9] == "2026-12-02 03:00:00 UTC"
    assert rows["참가자700202"][5] == "50"
    assert rows["참가자700203"] == ["참가자700203", "이지은", "jieun@uni.example", "2026003", "제출물 없음", "",
                                   "100.00", "예", "-", "-"]
    notes = (out / "lms" / "moodle-notes.txt").read_text(encoding="utf-8")
    assert "so Moodle skips them: 참가자700204" in notes
    assert "named in Korean, so lms/moodle-99_guard.csv keeps those names: upload it with Moodle's language set " \
           "to Korean" in notes
    assert "no result for 1 participant(s)" in notes and "참가자700203" in notes


def test_other_languages_worksheets_and_the_names_table(tmp_path):
    """German (decimal comma, Nein), and a worksheet that mixes two languages' names (read, and said so). No
    name in the table stands for two columns, and every language names every column but one Moodle leaves in
    English."""
    seen: dict[str, str] = {}
    for role, names in moodle.COLUMNS.items():
        assert set(names) <= set(moodle.LANGUAGES) and "en" in names
        for name in names.values():
            assert seen.setdefault(name.casefold(), role) == role, name
    de = sheet(tmp_path, "99_guard.csv",
               "ID,Vollständiger Name,E-Mail-Adresse,Status,Bewertung,Bestwertung,Bewertung kann geändert werden,"
               "Zuletzt geändert (Abgabe),Zuletzt geändert (Bewertung),Feedback als Kommentar\n"
               'Teilnehmer/in700201,Kim Minjun,minjun@uni.example,Zur Bewertung abgegeben,,"20,00",Ja,-,-,\n'
               'Teilnehmer/in700202,Lee Seo,seo@uni.example,Zur Bewertung abgegeben,,"20,00",Nein,-,-,\n')
    read = moodle.read_worksheet(de)
    assert read.language == "de" and sorted(read.people) == ["700201", "700202"]
    out = tmp_path / "out"
    sheet(out / "lms" / "moodle-worksheets", "99_guard.csv", de.read_text(encoding="utf-8-sig"))
    write_lms_exports([result("Kim Minjun", "99_guard", 2.5, "700201"), result("Lee Seo", "99_guard", 5.0, "700202")],
                      out / "lms")
    with (out / "lms" / "moodle-99_guard.csv").open(encoding="utf-8-sig") as f:
        table = list(csv.reader(f))
    assert table[0][0] == "ID" and table[0][-1] == "Zuletzt geändert (Bewertung)"
    assert [row[4] for row in table[1:]] == ["10", "20"]
    notes = (out / "lms" / "moodle-notes.txt").read_text(encoding="utf-8")
    assert "so Moodle skips them: Teilnehmer/in700202" in notes and "language set to German" in notes
    mixed = moodle.read_worksheet(sheet(tmp_path, "mixed.csv", "Identifier,성적,Last modified (grade)\n"
                                                               "Participant 1,,-\n"))
    assert mixed.language == "" and mixed.column("grade") == 1
    with pytest.raises(UsageError, match="two columns for Grade"):
        moodle.read_worksheet(sheet(tmp_path, "twice.csv", "Identifier,Grade,성적,Last modified (grade)\n"))


def test_a_notebook_handed_in_to_another_assignment_carries_no_participant_id_of_this_one(tmp_path):
    """An instructor's trial: without a worksheet, lesson 01's notebook in lesson 99's Moodle export kept its
    participant id, which is 99's assignment's (ids are per assignment): moodle-01_history.csv then listed a
    participant of another assignment. It is graded as 01 without the id, flagged other-assignment."""
    export = tmp_path / "moodle"
    for i in range(3):
        put(export / f"Kim {i}_70030{i}_assignsubmission_file_" / "99_guard.ipynb")
    put(export / "Lee Jin_700399_assignsubmission_file_" / "01_history.ipynb", LESSONS[0].student_version.read_bytes())
    subs = {(s.student, s.lesson.slug): s for s in find_submissions(export, tmp_path / "work", LESSONS_ALL).submissions}
    stray = subs[("Lee Jin", "01_history")]
    assert "other-assignment" in stray.flags and stray.lms["id"] == "" and stray.lms["not_for"] == "99_guard"
    assert subs[("Kim 0", "99_guard")].lms["id"] == "700300"


def test_a_file_moodle_renamed_on_a_second_upload_is_the_one_graded(tmp_path):
    """An instructor's trial: a student uploaded 03_padding_stride.ipynb (a draft), then the finished notebook under
    the same name; Moodle's file picker stored it beside the first as '03_padding_stride (1).ipynb' (file_storage::
    get_unused_filename: file.txt > file (1).txt > file (2).txt). Every entry of Moodle's zip has one time, so the
    name decided, and the lesson's own name before a copy graded the draft (4 of 17 instead of 17). In a Moodle
    submission the highest copy number decides; intake.csv says why. A flat folder keeps the lesson's own name first
    (test_copies_with_one_time_are_chosen_by_name_and_intake_says_what_decided)."""
    import zipfile

    same = (2026, 12, 1, 10, 0, 0)
    archive = tmp_path / "CNN101-Lesson 99 Guard-4299.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ["Park Jiho_700303_assignsubmission_file_/99_guard.ipynb",
                     "Park Jiho_700303_assignsubmission_file_/99_guard (1).ipynb",
                     "Lee Seo_700302_assignsubmission_file_/99_guard (1).ipynb",
                     "Lee Seo_700302_assignsubmission_file_/99_guard (2).ipynb",
                     "Lee Seo_700302_assignsubmission_file_/99_guard.ipynb",
                     "Kim Minsu_700301_assignsubmission_file_/99_guard.ipynb"]:
            zf.writestr(zipfile.ZipInfo(name, same), NOTEBOOK)
    intake = find_submissions(archive, tmp_path / "work", LESSONS_ALL)
    graded = {s.student: s.path.name for s in intake.submissions}
    assert graded == {"Park Jiho": "99_guard (1).ipynb", "Lee Seo": "99_guard (2).ipynb", "Kim Minsu": "99_guard.ipynb"}
    notes = {line.input: (line.outcome, line.note) for line in intake.lines}
    taken = notes["Park Jiho_700303_assignsubmission_file_/99_guard (1).ipynb"]
    assert taken[0] == "taken" and taken[1].startswith(
        "2 files of one Moodle submission with the same time: chosen by name (the highest copy number: Moodle names "
        "a file uploaded again under a name already there '<name> (1)')")
    assert notes["Park Jiho_700303_assignsubmission_file_/99_guard.ipynb"] == (
        "superseded", "another copy was graded: Park Jiho_700303_assignsubmission_file_/99_guard (1).ipynb (same time: "
        "chosen by name (Moodle's copy number))")


def test_a_canvas_roster_neither_renames_nor_warns_of_a_moodle_section(tmp_path):
    """Two sections, one on Canvas and one on Moodle, graded into one OUT that keeps the Canvas section's roster
    (Canvas user ids -> student ids). A Moodle participant id is its assignment's only, so the roster never names
    a participant by it (participant 3001 is not the Canvas user 3001), and a roster of ids only is no roster of
    the Moodle section: no 'not in the roster' warning for it (an instructor's trial got one, telling them to add
    the Moodle section to the Canvas roster). A roster that names people by name still names Moodle's, and warns
    of the participants it lacks."""
    export = tmp_path / "moodle"
    put(export / "Kim Minsu_3001_assignsubmission_file_" / "99_guard.ipynb")
    put(export / "이지은_700202_assignsubmission_file_" / "99_guard.ipynb")
    intake = find_submissions(export, tmp_path / "work", LESSONS_ALL, {"3001": "2026101", "3003": "2026103"})
    assert {s.student for s in intake.submissions} == {"Kim Minsu", "이지은"}
    assert not [w for w in intake.warnings if "roster" in w], intake.warnings
    named = find_submissions(export, tmp_path / "work2", LESSONS_ALL, {"3001": "2026101", "Kim Minsu": "2026001"})
    assert {s.student for s in named.submissions} == {"2026001", "이지은"}
    strangers = [w for w in named.warnings if "not in the roster" in w]
    assert len(strangers) == 1 and "이지은 (LMS id 700202)" in strangers[0] and "Kim Minsu" not in strangers[0]


def test_a_moodle_assignment_graded_without_its_worksheet_beside_one_with_is_warned_of(tmp_path):
    """Lesson 01's Moodle assignment was graded with its worksheet (participants filed by ID number); lesson 03's
    export comes without one, so its participants would be filed by their Moodle names: one person, two students.
    The run says so before grading, and what to give. Unreadable notebooks stand in for graded ones (no kernel)."""
    from autograde.grade import grade_batch

    out = tmp_path / "out"
    sheet(out / "lms" / "moodle-worksheets", "01_history.csv", GUARD_SHEET)
    export = tmp_path / "CNN101-Lesson 03 Padding-4203"
    put(export / "김민준_700301_assignsubmission_file_" / "03_padding_stride.ipynb", b"{not json")
    lines: list[str] = []
    grade_batch(export, out, workers=1, progress=lines.append)
    said = [line for line in lines if "without the assignment's grading worksheet" in line]
    assert len(said) == 1 and said[0].startswith("warning: 03_padding_stride: graded from Moodle's export") and \
        "01_history (with worksheets) filed theirs by ID number" in said[0] and "--moodle-worksheet" in said[0], lines
    # With its own worksheet given, nothing to say.
    lines.clear()
    given = sheet(tmp_path, "Grades-CNN101-Lesson 03 Padding-4203.csv", GUARD_SHEET.replace("700201", "700301"))
    grade_batch(export, out, workers=1, progress=lines.append, moodle_worksheets=[given])
    assert not [line for line in lines if "without the assignment's grading worksheet" in line], lines
    # The participant is in OUT twice now (김민준, then 2026001): Moodle's files hold one row and one feedback page
    # of them, the newer, and the notes say so (a trial: two rows, and a zip with two files of one name).
    with (out / "lms" / "moodle-03_padding_stride.csv").open(encoding="utf-8-sig") as f:
        assert [row["Identifier"] for row in csv.DictReader(f)].count("Participant 700301") == 1
    import zipfile
    with zipfile.ZipFile(out / "lms" / "moodle-feedback-03_padding_stride.zip") as zf:
        assert len(zf.namelist()) == 1 and "<h1" in zf.read(zf.namelist()[0]).decode() and "2026001" in zf.read(
            zf.namelist()[0]).decode()
    notes = (out / "lms" / "moodle-notes.txt").read_text(encoding="utf-8")
    assert "Participant 700301 was graded in this OUT as 김민준 and as 2026001; the Moodle files hold 2026001's" in notes
