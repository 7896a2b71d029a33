"""Late work: due dates, nbgrader's timestamp.txt and the LMS's late marker, extensions and a late penalty, in the
gradebook (as nbgrader keeps them) and in grades.csv, grades-by-student.csv and the class report."""
from __future__ import annotations

import csv
import json
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograde.late import WAIVE, Policy, lateness, parse_duration, parse_policy, parse_when
from autograde.lessons import UsageError
from conftest import GUARD, GUARD_SOLUTIONS, autograde_cli, solved, write

SLUG = GUARD.slug
FULL_AUTO = 4.0
DUE = "2025-03-07T23:59:00+09:00"                 # = 2025-03-07 14:59 UTC
DUE_UTC = datetime(2025, 3, 7, 14, 59)


def test_policies_follow_nbgrader_rules():
    hour, day = 3600.0, 86400.0
    assert parse_policy("0.5/hour") == Policy("subtract", 0.5, hour)
    assert parse_policy("1/day").penalty("x", 4.0, 1.0) == 1.0                  # a started day counts
    assert parse_policy("1/day").penalty("x", 4.0, 26.5 * hour) == 2.0
    assert parse_policy("0.5/h").penalty("x", 4.0, 3 * hour + 1) == 2.0          # 4 started hours
    assert parse_policy("1/hour").penalty("x", 4.0, 30 * hour) == 4.0            # never more than the score
    assert parse_policy("zero").penalty("x", 3.0, 1.0) == 3.0
    assert parse_policy("none").penalty("x", 3.0, 99 * day) == 0.0
    assert parse_policy("zero").penalty("x", 3.0, 0.0) == 0.0                    # on time: nothing
    for bad in ("half", "1/week", "-1/day"):
        with pytest.raises(UsageError):
            parse_policy(bad)


def test_lateness_from_times_extensions_and_the_lms_marker():
    per_day = parse_policy("1/day")
    assert parse_when("2025-03-07 23:59 Asia/Seoul") == DUE_UTC == parse_when(DUE)
    assert parse_when("2025-03-07 14:59:00.000000 UTC") == DUE_UTC               # nbgrader's timestamp.txt
    # Quotes a shell kept (one quoting inside another): the zone still counts; a zone in another form is refused,
    # never read as UTC without a word (nbgrader's parse_utc drops it).
    assert parse_when("'2025-03-07 23:59 Asia/Seoul'") == DUE_UTC
    with pytest.raises(UsageError):
        parse_when("7 March 2025 23:59 Asia/Seoul")
    late = DUE_UTC + timedelta(hours=5)
    assert lateness(late, False, DUE_UTC, None, per_day) == (5 * 3600.0, "timestamp")
    assert lateness(late, False, DUE_UTC, parse_duration("2d"), per_day) == (0.0, "timestamp")
    assert lateness(late, False, DUE_UTC, parse_duration("4h"), per_day) == (3600.0, "timestamp")
    assert lateness(late, True, DUE_UTC, WAIVE, per_day) == (0.0, "waived")
    assert lateness(DUE_UTC - timedelta(minutes=1), False, DUE_UTC, None, per_day) == (0.0, "timestamp")
    assert lateness(None, True, None, None, per_day) == (86400.0, "lms-marker")   # late by at least a period
    assert lateness(None, False, DUE_UTC, None, per_day) == (0.0, "")             # no time known: not late
    assert parse_duration("90m") == timedelta(minutes=90) and parse_duration("1.5d") == timedelta(hours=36)
    with pytest.raises(UsageError):
        parse_duration("soon")


def test_a_due_date_with_submissions_of_unknown_time_or_only_the_lms_marker_is_said():
    """An instructor's trial: a Moodle export (no submission time) graded with --due kept every late student's full
    marks without a word; Canvas's LATE marker counts one penalty period however late. Both are said now."""
    from autograde.grade import lateness_unknown

    results = [{"lesson": "03_padding_stride", "student": "ben", "status": "graded", "late": {"how": "", "submitted": ""}},
               {"lesson": "03_padding_stride", "student": "ann", "status": "graded", "late": {"how": "", "submitted": ""}},
               {"lesson": "03_padding_stride", "status": "missing", "late": {}},
               {"lesson": "01_history", "status": "graded", "late": {"how": "lms-marker", "submitted": ""}},
               {"lesson": "01_history", "status": "graded", "late": {"how": "timestamp", "submitted": "2025"}},
               {"lesson": "05_pooling", "status": "graded", "late": {}}]
    said = lateness_unknown(results, {"03_padding_stride": DUE_UTC, "01_history": DUE_UTC, "05_pooling": None})
    assert len(said) == 2 and "2 graded submission(s) have no submission time (ann, ben; " in said[0], said
    many = [{"lesson": "03_padding_stride", "student": f"s{k:02d}", "status": "graded", "late": {}} for k in range(12)]
    assert "12 graded submission(s) have no submission time (s00, s01, s02, s03, s04 and 7 more; " in \
        lateness_unknown(many, {"03_padding_stride": DUE_UTC})[0]            # whose, without a class list
    assert said[1].startswith("01_history: 1 submission(s) are late by the LMS's LATE marker only"), said
    assert lateness_unknown(results, {}) == []
    # --moodle-times was given: the advice is the worksheet it reads, not the option again (an instructor's trial)
    said = lateness_unknown(results, {"03_padding_stride": DUE_UTC}, "Asia/Seoul")
    assert "--moodle-times (Asia/Seoul) reads the grading worksheet's: give the assignment's worksheet " \
           "(--moodle-worksheet)" in said[0] and "--moodle-times ZONE" not in said[0], said


def test_a_due_date_given_again_with_another_date_is_said(tmp_path):
    """An instructor's trial: --due 01=... given again with another date silently changed everyone's lateness."""
    from autograde.late import due_dates

    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    first, later = datetime(2026, 3, 7, 14, 59), datetime(2026, 3, 9, 14, 59)
    said: list[str] = []
    due_dates(db, ["01_history"], {"01_history": first}, said)
    due_dates(db, ["01_history"], {"01_history": first}, said)                 # the same date again: nothing to say
    assert said == []
    dates = due_dates(db, ["01_history"], {"01_history": later}, said)
    assert dates == {"01_history": later}
    assert said == ["01_history's due date changed from 2026-03-07 14:59 UTC to 2026-03-09 14:59 UTC: every "
                    "01_history submission's lateness is judged again by it"]


def cli(subs: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m autograde grade`` in this process (what it does and says, not its process), with one worker: a
    worker's zygote costs seconds of CPU, and parallel grading is not what these tests are about."""
    return autograde_cli(["grade", str(subs), "--out", str(out), "--solutions", str(GUARD_SOLUTIONS), "--workers", "1",
                          *args])


def rows(path: Path) -> dict[str, dict]:
    with path.open(encoding="utf-8-sig") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def gradebook_state(out: Path) -> dict[str, tuple]:
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        return {s.student_id: (s.timestamp, s.extension, s.total_seconds_late, float(s.late_submission_penalty),
                               float(s.score)) for s in gb.assignment_submissions(SLUG)}


@pytest.mark.slow  # grades for real, three times
def test_late_work_is_penalised_kept_beside_the_raw_score_and_an_extension_survives_re_runs(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    stamps = {"alice": DUE_UTC - timedelta(hours=1), "bob": DUE_UTC + timedelta(hours=26, minutes=30),
              "carol": DUE_UTC + timedelta(hours=3), "dave": DUE_UTC + timedelta(hours=5)}
    for student, when in stamps.items():
        folder = subs / student / SLUG
        write(solved(GUARD), folder / f"{SLUG}.ipynb")
        (folder / "timestamp.txt").write_text(when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"), encoding="utf-8")
    write(solved(GUARD), subs / f"erin_late_40000_900001_{SLUG}.ipynb")    # Canvas: late, no time given

    first = cli(subs, out, "--due", f"99={DUE}", "--late-penalty", "1/day", "--extension", "carol", "99", "2d")
    assert first.returncode == 0, first.stdout + first.stderr
    graded = rows(out / "grades.csv")
    assert {s: (float(r["raw_score"]), float(r["late_penalty"]), float(r["score"])) for s, r in graded.items()} == {
        "alice": (4, 0, 4), "bob": (4, 2, 2), "carol": (4, 0, 4), "dave": (4, 1, 3), "erin": (4, 1, 3)}
    assert graded["bob"]["hours_late"] == "26.50" and graded["erin"]["hours_late"] == ""      # a number or nothing
    assert graded["erin"]["submitted_from"] == "LMS late marker (no time)" and graded["erin"]["submitted"] == ""
    assert graded["carol"]["due"] == "2025-03-09 14:59:00 UTC"       # her due date: the lesson's and her 2 days
    assert graded["bob"]["due"] == "2025-03-07 14:59:00 UTC" and graded["bob"]["submitted"].startswith(
        "2025-03-08 17:29:00")
    assert [s for s, r in graded.items() if "late" in r["flags"].split(";")] == ["bob", "dave", "erin"]
    # Each progress line gives the grade as recorded, after the penalty, and says what it was before.
    said = {line.split("] ", 1)[1].split()[0]: line.split(": ", 1)[1] for line in first.stdout.splitlines()
            if line.startswith("[")}
    assert said["bob"] == "graded 2/5 (4 before the late penalty of 2) [late]", said
    assert said["erin"] == "graded 3/5 (4 before the late penalty of 1) [late]" and said["alice"] == "graded 4/5"
    # The gradebook as nbgrader keeps it: due date, timestamps, the extension, the penalty (export subtracts it).
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        assert gb.find_assignment(SLUG).duedate == DUE_UTC
    state = gradebook_state(out)
    assert state["bob"][0] == stamps["bob"] and state["bob"][2] == 26.5 * 3600 and state["bob"][3] == 2.0
    assert state["carol"][1] == timedelta(days=2) and state["carol"][2] == 0 and state["carol"][3] == 0.0
    assert state["alice"][3] == 0.0 and state["dave"][3] == 1.0 and state["erin"][3] == 1.0
    wide = rows(out / "grades-by-student.csv")
    assert wide["bob"][SLUG] == "2" and "late by 1 day 2 h 30 min: 4 -> 2 (1 point(s) per started day late)" in \
        wide["bob"]["late penalties (raw -> graded)"]
    # bob's page says what lateness cost him; alice's (on time) and carol's (extension) say nothing of it
    page = (out / "feedback" / "bob" / f"{SLUG}.html").read_text(encoding="utf-8")
    assert "Late submission" in page and "Score: <b>2 / 5</b>" in page and "from timestamp.txt" in page
    assert "1 day 2 h 30 min" in page and "<td>-2</td>" in page
    for on_time in ("alice", "carol"):
        assert "Late submission" not in (out / "feedback" / on_time / f"{SLUG}.html").read_text(encoding="utf-8")
    assert "marked late by the LMS" in (out / "feedback" / "erin" / f"{SLUG}.html").read_text(encoding="utf-8")
    report = (out / "report" / f"{SLUG}.html").read_text(encoding="utf-8")
    assert "Late submissions" in report and "1 point(s) per started day late" in report

    # A waiver for dave, given later: nothing is graded again, his penalty goes, the others' stay.
    def graded_at(student):
        return json.loads((out / "results" / student / f"{SLUG}.json").read_text(encoding="utf-8"))["graded_at"]

    before = {student: graded_at(student) for student in ("alice", "dave")}
    time.sleep(1.1)
    second = cli(subs, out, "--extension", "dave", SLUG, "waive")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "resuming: 5 of 5" in second.stdout and not [ln for ln in second.stdout.splitlines() if ln.startswith("[")]
    graded = rows(out / "grades.csv")
    assert {s: float(r["score"]) for s, r in graded.items()} == {"alice": 4, "bob": 2, "carol": 4, "dave": 4,
                                                                 "erin": 3}
    assert "late" not in graded["dave"]["flags"] and gradebook_state(out)["dave"][3] == 0.0
    # dave's grade changed now: Moodle's worksheet must carry a newer "Last modified (grade)" or Moodle skips it
    assert graded_at("dave") > before["dave"] and graded_at("alice") == before["alice"]
    assert "Late submission" not in (out / "feedback" / "dave" / f"{SLUG}.html").read_text(encoding="utf-8")
    assert (out / "extensions.csv").read_text(encoding="utf-8-sig").splitlines() == [
        "student,lesson,extension", "carol,99_guard,2d", "dave,99_guard,waive"]

    # Another policy: applied to the raw scores again (never compounded); the due date and extensions stay.
    third = cli(subs, out, "--late-penalty", "zero")
    assert third.returncode == 0, third.stdout + third.stderr
    graded = rows(out / "grades.csv")
    assert {s: (float(r["raw_score"]), float(r["score"])) for s, r in graded.items()} == {
        "alice": (4, 4), "bob": (4, 0), "carol": (4, 4), "dave": (4, 4), "erin": (4, 0)}
    state = gradebook_state(out)
    assert {s: v[3] for s, v in state.items()} == {"alice": 0, "bob": 4, "carol": 0, "dave": 0, "erin": 4}
    assert all(v[4] == FULL_AUTO for v in state.values())      # the gradebook's score stays raw, as in nbgrader

    # bob's written answer graded by hand in formgrader (1 point): the gradebook's 5 is his score before the penalty
    # and the penalty is worked out on it, in grades.csv, on his page and in the class files alike (they once said
    # the tests' 4 and the penalty on it beside the gradebook's grade).
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        answer = gb.find_grade("why_pooling", SLUG, SLUG, "bob")
        answer.manual_score, answer.needs_manual_grade = 1.0, False
        gb.db.commit()
    fourth = cli(subs, out, "--late-penalty", "1/day")
    assert fourth.returncode == 0, fourth.stdout + fourth.stderr
    bob = rows(out / "grades.csv")["bob"]
    assert (bob["raw_score"], bob["late_penalty"], bob["score"]) == ("5", "2", "3"), bob
    assert gradebook_state(out)["bob"][3:] == (2.0, 5.0)
    page = (out / "feedback" / "bob" / f"{SLUG}.html").read_text(encoding="utf-8")
    assert "Score: <b>3 / 5</b> (late penalty 2 taken off 5)" in page, page
    assert "late by 1 day 2 h 30 min: 5 -> 3" in rows(out / "grades-by-student.csv")["bob"]["late penalties (raw -> graded)"]


def test_bad_late_settings_are_refused_before_grading(tmp_path):
    from autograde.__main__ import main

    subs = tmp_path / "subs"
    write(solved(GUARD), subs / "ann" / SLUG / f"{SLUG}.ipynb")
    base = ["grade", str(subs), "--out", str(tmp_path / "out"), "--solutions", str(GUARD_SOLUTIONS)]
    assert main(base + ["--due", "99=tomorrowish"]) == 2
    assert main(base + ["--due", "99"]) == 2
    assert main(base + ["--late-penalty", "a lot"]) == 2
    assert main(base + ["--late-penalty", "99=a lot"]) == 2
    assert main(base + ["--late-penalty", "42=1/day"]) == 2                   # no such lesson
    assert main(base + ["--late-penalty", "1/day", "--late-penalty", "zero"]) == 2   # which one?
    assert main(base + ["--extension", "ann", "99", "soon"]) == 2
    assert main(base + ["--due", "42=2025-03-07"]) == 2
    assert not (tmp_path / "out" / "results").exists()


def test_timestamps_with_an_offset_or_the_courses_zone_abbreviation_are_read_right(tmp_path, monkeypatch):
    """nbgrader's parse_utc reads '+0900' as 900 seconds and 'KST' (what nbgrader's collect writes with
    Exchange.timezone = "Asia/Seoul") as UTC: an on-time notebook 9 hours late. Offsets and zone names are read
    as written; an abbreviation counts only when the course's Exchange.timezone writes it; any other is not
    guessed: no submission time (never a penalty by a guess), intake.csv and a warning say why."""
    from zoneinfo import ZoneInfo

    import autograde.late
    from autograde.collect import find_submissions
    from autograde.late import read_time

    utc = datetime(2026, 3, 7, 14, 0)           # 23:00 in Seoul
    for text in ("2026-03-07 23:00:00 +0900", "2026-03-07 23:00:00.000000 +09:00", "2026-03-07T23:00+09:00",
                 "2026-03-07 23:00:00 Asia/Seoul", "2026-03-07 14:00:00.000000 UTC", "2026-03-07 14:00:00"):
        when, why = read_time(text)
        assert when is not None and when.replace(tzinfo=None) == utc and why == "", text
    assert parse_when("2026-03-07 23:00 +0900") == utc
    monkeypatch.setattr(autograde.late, "course_timezone", lambda: None)
    assert read_time("2026-03-07 23:00:00.000000 KST")[0] is None
    with pytest.raises(UsageError, match="KST"):
        parse_when("2026-03-07 23:00 KST")                  # a due date is never taken as UTC by a guess

    subs = tmp_path / "subs"
    for student, stamp in (("kim", "2026-03-07 23:00:00.000000 KST"), ("lee", "2026-03-07 23:00:00 +0900")):
        write(solved(GUARD), subs / student / GUARD.slug / f"{GUARD.slug}.ipynb")
        (subs / student / GUARD.slug / "timestamp.txt").write_text(stamp, encoding="utf-8")
    intake = find_submissions(subs, tmp_path / "work", [GUARD])
    times = {s.student: s.submitted_at for s in intake.submissions}
    assert times["kim"] is None and times["lee"].replace(tzinfo=None) == utc
    kim = next(line for line in intake.lines if line.student == "kim")
    assert "KST" in kim.time_source and "Exchange.timezone" in kim.time_source
    assert any("timestamp.txt" in w and "kim" in w for w in intake.warnings)

    monkeypatch.setattr(autograde.late, "course_timezone", lambda: ZoneInfo("Asia/Seoul"))
    intake = find_submissions(subs, tmp_path / "work2", [GUARD])
    assert {s.student: s.submitted_at.replace(tzinfo=None) for s in intake.submissions} == {"kim": utc, "lee": utc}
    assert not intake.warnings


def test_pages_show_times_in_the_course_zone_with_utc_beside_and_a_due_in_a_zone_says_how(monkeypatch):
    """Feedback pages and the class report read times in the course's zone (nbgrader's Exchange.timezone); CSV
    files keep UTC. Without a course zone, a due date given in a zone says how to show pages in it."""
    import autograde.late
    from zoneinfo import ZoneInfo

    from autograde.late import describe_late, shown_time, zone_hint

    seoul = ZoneInfo("Asia/Seoul")
    assert shown_time("2025-03-07 14:59:00 UTC", seoul) == "2025-03-07 23:59:00 KST (14:59:00 UTC)"
    assert shown_time("2025-03-07 17:29:00.250000 UTC", seoul) == "2025-03-08 02:29:00 KST (2025-03-07 17:29:00 UTC)"
    for zone in (None, ZoneInfo("UTC")):
        assert shown_time("2025-03-07 14:59:00 UTC", zone) == "2025-03-07 14:59:00 UTC"
    assert shown_time("not a time UTC", seoul) == "not a time UTC" and shown_time("", seoul) == ""

    result = {"status": "graded", "score": 4, "late": {"submitted": "2025-03-08 17:29:00 UTC", "source": "timestamp.txt",
                                                       "due": "2025-03-07 14:59:00 UTC", "seconds_late": 95400,
                                                       "how": "timestamp", "penalty": 2, "policy": "1/day"}}
    monkeypatch.setattr(autograde.late, "course_timezone", lambda: seoul)
    rows = dict(describe_late(result).rows())
    assert rows["Submitted"] == "2025-03-09 02:29:00 KST (2025-03-08 17:29:00 UTC) (from timestamp.txt)", rows
    assert rows["Due"] == "2025-03-07 23:59:00 KST (14:59:00 UTC)", rows
    assert zone_hint(["2025-03-07 23:59 Asia/Seoul"]) == ""                 # the course has a zone: nothing to say
    monkeypatch.setattr(autograde.late, "course_timezone", lambda: None)
    assert dict(describe_late(result).rows())["Due"] == "2025-03-07 14:59:00 UTC"
    hint = zone_hint(["2025-03-07 23:59 Asia/Seoul"])
    assert "UTC" in hint and "c.Exchange.timezone = 'Asia/Seoul'" in hint, hint
    offset = zone_hint(["'2025-03-07T23:59+09:00'"])
    assert "c.Exchange.timezone to your zone's name" in offset and "= 'Asia/Seoul'" not in offset, offset
    assert zone_hint(["2025-03-07 23:59", "2025-03-07T23:59Z", "2025-03-07 23:59 UTC"]) == ""


def test_an_extension_typed_by_hand_with_the_lessons_number_counts(tmp_path):
    """README: extensions.csv may be edited by hand. An instructor's trial typed ``carol,01,2d`` (as --extension
    takes it): the row was kept under '01', which no lesson is, so carol's extension applied to nobody without a
    word. The lesson is read as --extension reads it; a row naming no lesson is an error naming its line."""
    from autograde.late import read_extensions
    from autograde.lessons import find_lesson

    course = [GUARD]
    (tmp_path / "extensions.csv").write_text(
        f"student,lesson,extension\ncarol,{int(GUARD.number)},2d\nbob,{GUARD.slug},waive\n", encoding="utf-8")
    found = read_extensions(tmp_path, lambda name: find_lesson(name, course).slug)
    assert found == {("carol", GUARD.slug): timedelta(days=2), ("bob", GUARD.slug): WAIVE}
    (tmp_path / "extensions.csv").write_text("student,lesson,extension\ncarol,98,2d\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"extensions.csv, line 2: no lesson called '98'"):
        read_extensions(tmp_path, lambda name: find_lesson(name, course).slug)


def test_a_late_penalty_is_kept_per_lesson_and_never_reaches_a_lesson_graded_before(tmp_path):
    """An instructor's trial: lesson 01 (a Moodle section, no penalty) was graded, then the Canvas section's export
    with --late-penalty 1/day: the policy, kept in OUT for every lesson, took 2 points off a Moodle student's
    lesson 01 without a word. A bare policy is now the lessons of the run it is given with, LESSON=POLICY one
    lesson's, each kept per lesson; a change to a lesson's policy is said. An OUT from before (one policy for every
    lesson) keeps it for every lesson that has none of its own."""
    from autograde.late import POLICY_FILE, apply, load_policy, split_policies

    out = tmp_path / "out"
    out.mkdir()
    said: list[str] = []
    first = load_policy(out, None, ["01_history"], {}, said)                  # the Moodle run: nothing given
    assert first.of("01_history") == Policy() and said == [] and not (out / POLICY_FILE).exists()
    bare, by_lesson = split_policies(["1/day"], lambda name: name)
    second = load_policy(out, bare, ["02_convolution"], by_lesson, said)     # the Canvas run
    assert second.of("02_convolution") == Policy("subtract", 1.0, 86400.0) and second.of("01_history") == Policy()
    assert said == ["02_convolution: late penalty 1 point(s) per started day late (was no penalty), for every "
                    "02_convolution submission in OUT, those graded before included; kept in late-policy.json"]
    # Both lessons late by two days: only lesson 02 loses points (the gradebook has neither: results only here).
    due = {"01_history": DUE_UTC, "02_convolution": DUE_UTC}
    late = DUE_UTC + timedelta(days=1, hours=2)
    results = [(out / f"{lesson}.json", {"student": "s1", "lesson": lesson, "status": "graded", "score": 10.0})
               for lesson in due]
    times = {("s1", lesson): (late, False, "timestamp.txt") for lesson in due}
    apply(out, f"sqlite:///{out / 'gradebook.db'}", results, due, {}, load_policy(out), times)
    assert {r["lesson"]: r["late"]["penalty"] for _, r in results} == {"01_history": 0.0, "02_convolution": 2.0}
    # Later runs keep each lesson's; a policy for one lesson is given by its name and said.
    said.clear()
    bare, by_lesson = split_policies(["01=zero"], lambda name: {"01": "01_history"}[name])
    third = load_policy(out, bare, ["03_padding_stride"], by_lesson, said)
    assert (third.of("01_history"), third.of("02_convolution"), third.of("03_padding_stride")) == (
        Policy("zero"), Policy("subtract", 1.0, 86400.0), Policy())
    assert said == ["01_history: late penalty a late submission scores 0 (was no penalty), for every 01_history "
                    "submission in OUT, those graded before included; kept in late-policy.json"]
    assert load_policy(out) == third
    # An OUT written before policies were per lesson: its one policy still holds for every lesson without its own.
    old = tmp_path / "old"
    old.mkdir()
    (old / POLICY_FILE).write_text(json.dumps(Policy("subtract", 0.5, 3600.0).as_json()), encoding="utf-8")
    kept = load_policy(old, Policy("none"), ["05_pooling"], {}, [])
    assert kept.of("05_pooling") == Policy("none") and kept.of("01_history") == Policy("subtract", 0.5, 3600.0)
    assert load_policy(old).of("04_parameters") == Policy("subtract", 0.5, 3600.0)


@pytest.mark.slow  # grades for real: two one-notebook lessons
def test_a_policy_given_with_one_lessons_export_leaves_a_lesson_graded_before_as_it_was(tmp_path):
    """The instructor's trial, end to end: lesson 99 was graded with its due date and no policy; lesson 98's
    export came with --late-penalty 1/day. Lesson 99's late notebook keeps its score (the policy is 98's); a
    policy for 99 given later by its name (with 98's export) takes its points at once, and says so."""
    import shutil

    course = tmp_path / "course"
    for kind in ("solutions", "notebooks"):
        for slug in ("98_guard", "99_guard"):
            (course / kind / slug).mkdir(parents=True)
            shutil.copy(GUARD_SOLUTIONS.parent / kind / "99_guard" / "99_guard.ipynb",
                        course / kind / slug / f"{slug}.ipynb")
    out = tmp_path / "out"

    def export(slug: str) -> Path:
        folder = tmp_path / slug / "bob" / slug
        write(solved(GUARD), folder / f"{slug}.ipynb")
        (folder / "timestamp.txt").write_text((DUE_UTC + timedelta(hours=26)).strftime("%Y-%m-%d %H:%M:%S UTC"),
                                              encoding="utf-8")
        return tmp_path / slug

    def run(slug: str, *args: str) -> subprocess.CompletedProcess:
        proc = autograde_cli(["grade", str(export(slug)), "--out", str(out), "--solutions", str(course / "solutions"),
                              "--workers", "1", "--due", f"{slug[:2]}={DUE}", *args])
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    def scores() -> dict[str, tuple[str, str]]:
        with (out / "grades.csv").open(encoding="utf-8-sig") as f:
            return {row["lesson"]: (row["raw_score"], row["score"]) for row in csv.DictReader(f)}

    run("99_guard")
    assert scores() == {"99_guard": ("4", "4")}
    second = run("98_guard", "--late-penalty", "1/day")
    assert scores() == {"98_guard": ("4", "2"), "99_guard": ("4", "4")}, second.stdout
    assert "note: 98_guard: late penalty 1 point(s) per started day late (was no penalty)" in second.stdout
    assert "99_guard: late penalty" not in second.stdout
    third = run("98_guard", "--late-penalty", "99=zero")
    assert scores() == {"98_guard": ("4", "2"), "99_guard": ("4", "0")}, third.stdout
    assert "note: 99_guard: late penalty a late submission scores 0 (was no penalty)" in third.stdout
