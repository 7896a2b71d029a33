"""Late work as students and instructors see it, and LMS zip times as submission times.

- The student's feedback page of a late submission says when it was submitted (and where that time came from),
  the due date with any extension, how late, the policy, and the score before and after the penalty; an on-time
  page says nothing about lateness; a file the LMS only marked late says so. The page stays inert.
- The class report shows the same facts in the same words (one function words them: autograde.late).
- Zip entry times (real zips written by Python's zipfile with chosen date_time values, in a Moodle folder layout
  and with Canvas names) become submission times only with --zip-times ZONE, read in that zone; without it
  intake.csv says why there is no time.
"""
from __future__ import annotations

import csv
import html
import zipfile
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

from autograde.collect import find_submissions, load_zone
from autograde.grade import feedback_html
from autograde.late import describe_late, lateness, parse_policy, parse_when
from autograde.lessons import UsageError
from conftest import GUARD, solved
from test_late import cli, rows
from test_publish import assert_inert

SLUG = GUARD.slug
NOTEBOOK = GUARD.student_version.read_bytes()
DUE = "2025-03-07 23:59 Asia/Seoul"            # = 2025-03-07 14:59 UTC
DUE_UTC = datetime(2025, 3, 7, 14, 59)


def make_zip(path: Path, members: dict[str, tuple[tuple[int, ...], bytes]], extra: dict[str, bytes] | None = None) -> Path:
    """A real zip: each member written with its own DOS date_time (as an LMS server's clock wrote it)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, (when, data) in members.items():
            info = zipfile.ZipInfo(name, date_time=when)
            info.compress_type = zipfile.ZIP_DEFLATED
            if extra and name in extra:
                info.extra = extra[name]
            zf.writestr(info, data)
    return path


def result(student: str = "ann", score: float = 4.0, **late) -> dict:
    return {"student": student, "lesson": SLUG, "status": "graded", "score": score, "max_score": 4.0,
            "tests": [{"grade_id": "test_group_max", "status": "pass", "points": score, "max_points": 4.0,
                       "message": ""}], "late": late}


# --- the wording and the student's page ------------------------------------------------------------------

def test_a_late_students_page_shows_every_fact_and_the_score_after_the_penalty():
    late = result(submitted="2025-03-08 16:00:00 UTC", source="zip entry time, read as Asia/Seoul",
                  due="2025-03-07 14:59:00 UTC", extension="24h", seconds_late=3660.0, how="timestamp",
                  lms_marker=False, penalty=1.0, policy="1 point(s) per started day late")
    page = feedback_html(late)
    for fact in ("Late submission", "2025-03-08 16:00:00 UTC (from zip entry time, read as Asia/Seoul)",
                 "2025-03-07 14:59:00 UTC, with an extension of 24h", "1 h 1 min", "1 point(s) per started day late",
                 "Score before the penalty", "<td>4</td>", "<td>-1</td>", "Score after the penalty", "<td>3</td>"):
        assert fact in page, fact
    assert "Score: <b>3 / 4</b> (late penalty 1 taken off 4)" in page
    assert_inert(page, Counter({"style": 1, "meta": 2}), "late page")


def test_an_on_time_page_says_nothing_about_lateness():
    for late in ({}, {"submitted": "2025-03-07 10:00:00 UTC", "due": "2025-03-07 14:59:00 UTC", "seconds_late": 0.0,
                      "how": "timestamp", "penalty": 0.0, "policy": "1 point(s) per started day late"},
                 {"submitted": "2025-03-09 10:00:00 UTC", "due": "2025-03-07 14:59:00 UTC", "extension": "waive",
                  "seconds_late": 0.0, "how": "waived", "penalty": 0.0}):
        page = feedback_html(result(**late))
        assert describe_late(result(**late)) is None
        assert "Late submission" not in page and "<section" not in page and "penalty" not in page, page
        assert "Score: <b>4 / 4</b>." in page


def test_a_file_the_lms_marked_late_says_so():
    marked = result(submitted="", due="", seconds_late=86400.0, how="lms-marker", lms_marker=True, penalty=1.0,
                    policy="1 point(s) per started day late")
    page = feedback_html(marked)
    assert "marked late by the LMS" in page and "no submission time is known" in page
    assert "Score: <b>3 / 4</b>" in page


def test_the_late_section_stays_inert_whatever_the_names_and_sources_hold():
    evil = "<script>alert('PWNED')</script><img src=x onerror=alert(1)>"
    page = feedback_html(result(student=evil, submitted=evil, source=evil, due=evil, extension=evil,
                                seconds_late=7200.0, how="timestamp", penalty=2.0, policy=evil), name=evil + "!")
    assert_inert(page, Counter({"style": 1, "meta": 2}), "evil late page")
    assert "<script>alert" not in page and html.escape(evil) in page
    assert f"Student: <b>{html.escape(evil + '!')} ({html.escape(evil)})</b>" in page   # the gradebook's name, then the id


# --- zip times -------------------------------------------------------------------------------------------

def test_moodle_zip_times_are_submission_times_only_when_a_zone_is_given(tmp_path):
    folder = "Kim Minsu_123456_assignsubmission_file_"
    archive = make_zip(tmp_path / "moodle.zip", {
        f"{folder}/99_guard.ipynb": ((2025, 3, 8, 1, 30, 0), NOTEBOOK),                       # 01:30 in Seoul
        "이지은_123457_assignsubmission_file_/99_guard.ipynb": ((2025, 3, 7, 22, 0, 0), NOTEBOOK)})

    plain = find_submissions(archive, tmp_path / "w1", [GUARD])
    assert all(sub.submitted_at is None for sub in plain.submissions)
    lines = {line.student: line for line in plain.lines}
    assert lines["Kim Minsu"].time_source.startswith("none: Moodle's export carries no submission time")

    seoul = find_submissions(archive, tmp_path / "w2", [GUARD], zip_zone="Asia/Seoul")
    subs = {sub.student: sub for sub in seoul.submissions}
    assert subs["Kim Minsu"].submitted_at == datetime(2025, 3, 7, 16, 30, tzinfo=timezone.utc)    # 01:30 KST
    assert subs["Kim Minsu"].time_source == "zip entry time, read as Asia/Seoul"
    assert not seoul.warnings                                                    # 3.5 hours apart: no doubt
    # ... and give the penalty nbgrader's rule gives: 1 h 31 min late -> one started day
    per_day = parse_policy("1/day")
    seconds, how = lateness(subs["Kim Minsu"].submitted_at.replace(tzinfo=None), False, parse_when(DUE), None, per_day)
    assert (seconds, how) == (91 * 60.0, "timestamp") and per_day.penalty("x", 4.0, seconds) == 1.0
    on_time, _ = lateness(subs["이지은"].submitted_at.replace(tzinfo=None), False, parse_when(DUE), None, per_day)
    assert on_time == 0.0
    seoul.write(tmp_path / "intake.csv")
    with (tmp_path / "intake.csv").open(encoding="utf-8-sig") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert rows["Kim Minsu"]["submitted"] == "2025-03-07 16:30:00 UTC"
    assert rows["Kim Minsu"]["submitted_from"] == "zip entry time, read as Asia/Seoul"

    # The same zip read as UTC is 9 hours later: the zone matters, and it is the instructor's to give.
    utc = {sub.student: sub for sub in find_submissions(archive, tmp_path / "w3", [GUARD], zip_zone="UTC").submissions}
    assert utc["Kim Minsu"].submitted_at - subs["Kim Minsu"].submitted_at == timedelta(hours=9)


def test_canvas_zip_times_and_its_late_marker(tmp_path):
    archive = make_zip(tmp_path / "canvas.zip", {
        "kimminsu_40001_900001_99_guard.ipynb": ((2025, 3, 7, 23, 30, 0), NOTEBOOK),
        "parkjisoo_LATE_40003_900003_99_guard.ipynb": ((2025, 3, 8, 0, 10, 0), NOTEBOOK)})
    plain = find_submissions(archive, tmp_path / "w1", [GUARD])
    subs = {sub.student: sub for sub in plain.submissions}
    assert subs["parkjisoo"].late and subs["parkjisoo"].submitted_at is None
    said = ("none: Canvas's export carries no submission time (its zip entry times are when the zip was made); "
            "only its LATE marker is used")
    assert {line.student: line.time_source for line in plain.lines} == {
        "kimminsu": said, "parkjisoo": said + "; this file carries it: late"}   # intake.csv names the late one
    timed = {sub.student: sub for sub in find_submissions(archive, tmp_path / "w2", [GUARD],
                                                          zip_zone="Asia/Seoul").submissions}
    assert timed["parkjisoo"].submitted_at == datetime(2025, 3, 7, 15, 10, tzinfo=timezone.utc)
    assert timed["kimminsu"].submitted_at == datetime(2025, 3, 7, 14, 30, tzinfo=timezone.utc)


def test_an_entry_with_a_utc_timestamp_field_needs_no_zone_and_a_just_made_zip_is_doubted(tmp_path):
    utc = datetime(2025, 3, 7, 15, 0, 5, tzinfo=timezone.utc)
    field = (0x5455).to_bytes(2, "little") + (5).to_bytes(2, "little") + b"\x01" + \
        int(utc.timestamp()).to_bytes(4, "little")
    archive = make_zip(tmp_path / "infozip.zip", {
        "ann_99_guard.ipynb": ((2025, 3, 8, 0, 0, 5), NOTEBOOK),          # its DOS time: local time in Seoul
        "ben_99_guard.ipynb": ((2025, 3, 8, 0, 3, 0), NOTEBOOK)}, extra={"ann_99_guard.ipynb": field})
    intake = find_submissions(archive, tmp_path / "w", [GUARD], zip_zone="Europe/Berlin")
    subs = {sub.student: sub for sub in intake.submissions}
    assert subs["ann"].submitted_at == utc and subs["ann"].time_source.startswith("zip entry time (UTC")
    assert subs["ben"].time_source == "zip entry time, read as Europe/Berlin"
    assert subs["ben"].submitted_at == datetime(2025, 3, 7, 23, 3, tzinfo=timezone.utc)
    assert not intake.warnings
    # A zip whose entries were all written within a minute or two (as current Canvas and Moodle write them, at
    # download time): the times are used as asked, with a warning.
    made = make_zip(tmp_path / "download.zip", {"ann_99_guard.ipynb": ((2025, 3, 9, 10, 0, 0), NOTEBOOK),
                                                 "ben_99_guard.ipynb": ((2025, 3, 9, 10, 0, 2), NOTEBOOK)})
    intake = find_submissions(made, tmp_path / "w2", [GUARD], zip_zone="Asia/Seoul")
    assert len(intake.warnings) == 1 and "look like the time the zip was made" in intake.warnings[0]


def test_the_zone_is_checked_kept_in_out_and_can_be_turned_off(tmp_path):
    with pytest.raises(UsageError, match="not a time zone"):
        load_zone(tmp_path, "Seoul time")
    assert load_zone(tmp_path, None) is None
    assert load_zone(tmp_path, "Asia/Seoul") == "Asia/Seoul"
    assert load_zone(tmp_path, None) == "Asia/Seoul"                   # a re-run reads the zip the same way
    assert load_zone(tmp_path, "off") is None and load_zone(tmp_path, None) is None


# --- end to end ------------------------------------------------------------------------------------------

@pytest.mark.slow  # grades three notebooks, then re-applies lateness without grading again
def test_a_canvas_zip_graded_with_and_without_its_zip_times(tmp_path):
    good = nbformat.writes(solved(GUARD)).encode()
    archive = make_zip(tmp_path / "canvas.zip", {
        "kimminsu_40001_900001_99_guard.ipynb": ((2025, 3, 7, 23, 30, 0), good),      # on time in Seoul
        "leejieun_40002_900002_99_guard.ipynb": ((2025, 3, 9, 1, 0, 0), good),        # 25 h 1 min late
        "parkjisoo_LATE_40003_900003_99_guard.ipynb": ((2025, 3, 8, 0, 10, 0), good)})  # 11 min late, LATE
    out = tmp_path / "out"
    page = lambda student: (out / "feedback" / student / f"{SLUG}.html").read_text(encoding="utf-8")  # noqa: E731

    first = cli(archive, out, "--due", f"99={DUE}", "--late-penalty", "1/day")
    assert first.returncode == 0, first.stdout + first.stderr
    graded = rows(out / "grades.csv")
    assert {s: (r["raw_score"], r["late_penalty"], r["score"]) for s, r in graded.items()} == {
        "kimminsu": ("4", "0", "4"), "leejieun": ("4", "0", "4"), "parkjisoo": ("4", "1", "3")}
    assert "marked late by the LMS" in page("parkjisoo") and "Score: <b>3 / 5</b>" in page("parkjisoo")
    for student in ("kimminsu", "leejieun"):
        assert "Late submission" not in page(student) and "Score: <b>4 / 5</b>." in page(student)
    intake = rows(out / "intake.csv")
    assert all(r["submitted_from"].startswith("none: Canvas's export") for r in intake.values())

    second = cli(archive, out, "--zip-times", "Asia/Seoul")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "resuming: 3 of 3" in second.stdout and "warning" not in second.stdout
    graded = rows(out / "grades.csv")
    assert {s: (r["raw_score"], r["late_penalty"], r["score"]) for s, r in graded.items()} == {
        "kimminsu": ("4", "0", "4"), "leejieun": ("4", "2", "2"), "parkjisoo": ("4", "1", "3")}
    assert graded["leejieun"]["submitted"].startswith("2025-03-08 16:00:00")
    assert graded["leejieun"]["submitted_from"] == "zip entry time, read as Asia/Seoul"
    lee = page("leejieun")
    for fact in ("2025-03-08 16:00:00 UTC (from zip entry time, read as Asia/Seoul)", "2025-03-07 14:59:00 UTC",
                 "1 day 1 h 1 min", "1 point(s) per started day late", "<td>-2</td>", "Score: <b>2 / 5</b>"):
        assert fact in lee, fact
    assert "marked late by the LMS" not in page("parkjisoo") and "11 min" in page("parkjisoo")
    assert "Late submission" not in page("kimminsu")
    for student in ("kimminsu", "leejieun", "parkjisoo"):
        assert_inert(page(student), Counter({"style": 1, "meta": 2}), student)
    # The class report and the instructor's notes say the same, in the same words.
    report = (out / "report" / f"{SLUG}.html").read_text(encoding="utf-8")
    with (out / "results" / "leejieun" / f"{SLUG}.json").open(encoding="utf-8") as f:
        facts = describe_late(__import__("json").load(f))
    assert facts is not None
    for label, value in facts.rows():
        assert f"<th>{html.escape(label)}</th>" in report and f"<td>{html.escape(value)}</td>" in report
        assert f"<th>{html.escape(label)}</th><td>{html.escape(value)}</td>" in lee
    assert facts.summary() in (out / "flagged.md").read_text(encoding="utf-8")
    assert facts.summary() in rows(out / "grades-by-student.csv")["leejieun"]["late penalties (raw -> graded)"]


def test_a_page_with_hand_graded_points_waiting_does_not_say_it_is_all_graded():
    """A trial read "Status: graded" (Korean "채점 완료", done) on a page whose lesson still had a point for the
    instructor to grade by hand: the status says the automatic part is graded and the rest waits; a lesson with
    nothing graded by hand keeps "graded"."""
    waiting = {**result(), "lesson_max_score": 5.0}
    page = feedback_html(waiting)
    assert "Status: <b>graded automatically; the answers graded by hand wait</b>" in page, page
    assert "Score: <b>4 / 5</b>" in page
    korean = feedback_html({**waiting, "language": "ko"})
    assert "채점 완료</b>" not in korean and "손으로 채점" in korean, korean
    assert "Status: <b>graded</b>" in feedback_html({**result(), "lesson_max_score": 4.0})
